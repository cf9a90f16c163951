//! Criterion benchmark of schema validation as the editor's diagnostics run it: a ClusterPolicy against the
//! Kyverno CRD schema and a Deployment against the Kubernetes OpenAPI schema, on documents written here.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use policy_lsp::base::Severity;
use policy_lsp::schema::{self, Reader, SchemaError, UnknownFields, ValidationOptions};
use policy_lsp::syntax::parse_file;
use serde_json::Value;

const CLUSTER_POLICY: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: restrict-capabilities
  annotations:
    policies.kyverno.io/title: Restrict Capabilities
    policies.kyverno.io/severity: medium
spec:
  background: true
  rules:
    - name: no-latest
      match:
        any:
          - resources:
              kinds: [Pod]
              namespaceSelector:
                matchExpressions:
                  - key: tier
                    operator: In
                    values: [frontend, backend]
      exclude:
        any:
          - resources:
              namespaces: [kube-system]
          - subjects:
              - kind: ServiceAccount
                name: deployer
                namespace: ci
      validate:
        failureAction: Enforce
        message: "Images must be pinned."
        pattern:
          spec:
            containers:
              - image: "!*:latest"
    - name: capabilities
      match:
        any:
          - resources:
              kinds: [Pod]
              operations: [CREATE, UPDATE]
      preconditions:
        all:
          - key: "{{ request.operation || 'BACKGROUND' }}"
            operator: NotEquals
            value: DELETE
      context:
        - name: allowed
          variable:
            value: [AUDIT_WRITE, CHOWN, KILL]
      validate:
        failureAction: Enforce
        message: Capabilities beyond the allowed list are disallowed.
        deny:
          conditions:
            all:
              - key: "{{ request.object.spec.containers[].securityContext.capabilities.add[] }}"
                operator: AnyNotIn
                value: "{{ allowed }}"
    - name: host-ports
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        failureAction: Enforce
        message: Host ports are disallowed.
        foreach:
          - list: request.object.spec.containers
            preconditions:
              any:
                - key: "{{ element.ports || `[]` | length(@) }}"
                  operator: GreaterThan
                  value: 0
            deny:
              conditions:
                any:
                  - key: "{{ element.ports[].hostPort }}"
                    operator: AnyNotIn
                    value: [0]
    - name: pull-policy
      match:
        any:
          - resources:
              kinds: [Pod]
      mutate:
        patchStrategicMerge:
          spec:
            containers:
              - (image): "*:latest"
                imagePullPolicy: Always
    - name: default-quota
      match:
        any:
          - resources:
              kinds: [Namespace]
      generate:
        apiVersion: v1
        kind: ResourceQuota
        name: default-quota
        namespace: "{{ request.object.metadata.name }}"
        synchronize: true
        data:
          spec:
            hard:
              requests.cpu: "4"
              requests.memory: 16Gi
"#;

fn container(index: usize) -> String {
    format!(
        r#"        - name: app-{index}
          image: registry.example/shop/app-{index}:1.{index}.0
          imagePullPolicy: IfNotPresent
          args: [--port=8080, --log-level=info]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          env:
            - name: MODE
              value: production
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: PASSWORD
              valueFrom:
                secretKeyRef:
                  name: shop-secrets
                  key: password
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: "1"
              memory: 512Mi
          readinessProbe:
            httpGet:
              path: /ready
              port: http
            periodSeconds: 5
          livenessProbe:
            tcpSocket:
              port: 8080
            initialDelaySeconds: 10
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
          volumeMounts:
            - name: config
              mountPath: /etc/app
              readOnly: true
            - name: cache
              mountPath: /cache
"#
    )
}

fn deployment(containers: usize) -> String {
    let containers: String = (0..containers).map(container).collect();
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: shop
  labels:
    app.kubernetes.io/name: shop
    app.kubernetes.io/part-of: store
  annotations:
    deployment.kubernetes.io/revision: "3"
spec:
  replicas: 3
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app.kubernetes.io/name: shop
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: shop
    spec:
      serviceAccountName: shop
      securityContext:
        runAsUser: 1000
        fsGroup: 2000
        seccompProfile:
          type: RuntimeDefault
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    app.kubernetes.io/name: shop
      tolerations:
        - key: dedicated
          operator: Equal
          value: shop
          effect: NoSchedule
      containers:
{containers}      volumes:
        - name: config
          configMap:
            name: shop-config
        - name: cache
          emptyDir:
            sizeLimit: 1Gi
"#
    )
}

/// One document parsed as the editor parses it, and validation options as its diagnostics choose them.
struct Subject {
    value: Value,
    yaml11_booleans: Vec<String>,
    api_version: &'static str,
    kind: &'static str,
    violation_severity: Severity,
}

impl Subject {
    fn new(text: &str, api_version: &'static str, kind: &'static str, violation_severity: Severity) -> Subject {
        let document = parse_file(text).into_iter().next().expect("one document");
        assert!(document.errors.is_empty(), "the benchmark document parses cleanly: {:?}", document.errors);
        Subject {
            value: document.value.clone(),
            yaml11_booleans: document.yaml11_booleans.clone(),
            api_version,
            kind,
            violation_severity,
        }
    }

    fn validate(&self) -> Vec<SchemaError> {
        let registry = schema::registry();
        let entry = registry.lookup(self.api_version, self.kind).expect("a bundled schema");
        let root = registry.root(entry).expect("the schema's root");
        let options = ValidationOptions {
            unknown_field_severity: match entry.unknown_fields {
                UnknownFields::Error => Severity::Error,
                UnknownFields::Warning => Severity::Warning,
            },
            violation_severity: self.violation_severity,
            reader: Reader::ApiServer,
            yaml11_booleans: &self.yaml11_booleans,
        };
        schema::validate(registry, root, &self.value, &options)
    }
}

fn bench(criterion: &mut Criterion) {
    let policy = Subject::new(CLUSTER_POLICY, "kyverno.io/v1", "ClusterPolicy", Severity::Error);
    // Plain resources are test fixtures: their violations are warnings, as in the editor.
    let deployment_text = deployment(3);
    let deployment = Subject::new(&deployment_text, "apps/v1", "Deployment", Severity::Warning);
    assert_eq!(policy.validate(), Vec::new(), "the ClusterPolicy is valid");
    assert_eq!(deployment.validate(), Vec::new(), "the Deployment is valid");

    let policy_lines = CLUSTER_POLICY.lines().count();
    criterion.bench_function(&format!("schema: ClusterPolicy, 5 rules ({policy_lines} lines)"), |bencher| {
        bencher.iter(|| policy.validate())
    });
    let deployment_lines = deployment_text.lines().count();
    criterion.bench_function(&format!("schema: Deployment, 3 containers ({deployment_lines} lines)"), |bencher| {
        bencher.iter(|| deployment.validate())
    });
}

fn config() -> Criterion {
    // Microseconds to milliseconds per iteration: a second of warm-up and three of measurement are plenty.
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group!(name = benches; config = config(); targets = bench);
criterion_main!(benches);
