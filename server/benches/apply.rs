//! Criterion benchmark of `apply` at the size issue #16 names: one 2,000-line manifest file (50
//! Deployments) judged by 50 policies (40 Kyverno ClusterPolicies of every rule style, 10 Gatekeeper
//! constraints). Two paths: a manifest edit (parse the file, judge it with policies prepared once) and a
//! policy edit (prepare the policies again, then judge).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use policy_lsp::apply::{self, Options, PolicyDocument, PreparedPolicies, load::Loader};
use policy_lsp::testrun::{FileError, FileSource, SourceRef};
use serde_json::{Value, json};

const MANIFEST_PATH: &str = "/bench/manifests.yaml";

/// The manifest file, held in memory so that the benchmark measures parsing and judging, not the disk.
struct OneFile(Arc<str>);

impl FileSource for OneFile {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        if path == Path::new(MANIFEST_PATH) {
            Ok(self.0.clone())
        } else {
            Err(FileError::NotFound { path: path.to_path_buf() })
        }
    }

    fn list_dir(&self, _path: &Path) -> Option<Vec<PathBuf>> {
        None
    }
}

/// 50 Deployments of 40 lines each.
fn manifest_text() -> String {
    let mut text = String::new();
    for index in 0..50_usize {
        let team = if index.is_multiple_of(5) { String::new() } else { format!("\n    team: team{index}") };
        let image_tag = if index.is_multiple_of(7) { "latest".to_string() } else { format!("1.{index}") };
        text.push_str(&format!(
            "---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app{index}
  namespace: ns{namespace}
  labels:
    app: app{index}{team}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: app{index}
  template:
    metadata:
      labels:
        app: app{index}
    spec:
      serviceAccountName: app{index}
      containers:
        - name: main
          image: registry.example/app{index}:{image_tag}
          ports:
            - containerPort: 8080
          resources:
            limits:
              memory: 256Mi
              cpu: 500m
            requests:
              memory: 128Mi
              cpu: 100m
          securityContext:
            privileged: false
            runAsNonRoot: true
            allowPrivilegeEscalation: false
        - name: sidecar
          image: registry.example/proxy:2.{index}
          securityContext:
            privileged: {privileged}
            runAsNonRoot: true
",
            namespace = index % 4,
            replicas = 1 + index % 6,
            privileged = index.is_multiple_of(9),
        ));
    }
    text
}

fn kyverno_policy(index: usize) -> Value {
    let matched = json!({"any": [{"resources": {"kinds": ["Deployment"]}}]});
    let rule = match index % 4 {
        0 => json!({"name": "label", "match": matched, "validate": {"message": "team label",
            "pattern": {"metadata": {"labels": {"team": "?*"}}}}}),
        1 => json!({"name": "latest", "match": matched, "validate": {"message": "no latest tag",
            "pattern": {"spec": {"template": {"spec": {"containers": [{"image": "!*:latest"}]}}}}}}),
        2 => json!({"name": "privileged", "match": matched, "validate": {"message": "not privileged",
            "foreach": [{"list": "request.object.spec.template.spec.containers",
                "deny": {"conditions": {"any": [{"key": "{{ element.securityContext.privileged || `false` }}",
                    "operator": "Equals", "value": true}]}}}]}}),
        _ => json!({"name": "pull-policy", "match": matched, "mutate": {"patchStrategicMerge": {"spec": {
            "template": {"spec": {"containers": [{"(image)": "*", "+(imagePullPolicy)": "IfNotPresent"}]}}}}}}),
    };
    json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": format!("policy{index}")},
           "spec": {"validationFailureAction": if index.is_multiple_of(2) { "Enforce" } else { "Audit" }, "rules": [rule]}})
}

const REPLICA_REGO: &str = r#"package k8sreplicas

violation[{"msg": msg}] {
  input.review.object.spec.replicas > input.parameters.max
  msg := sprintf("%v replicas, at most %v", [input.review.object.spec.replicas, input.parameters.max])
}
"#;

fn gatekeeper_documents() -> Vec<Value> {
    let template = json!({"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
        "metadata": {"name": "k8sreplicas"},
        "spec": {"crd": {"spec": {"names": {"kind": "K8sReplicas"}}},
                 "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": REPLICA_REGO}]}});
    let constraints = (0..10).map(|index| {
        json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sReplicas",
               "metadata": {"name": format!("replicas{index}")},
               "spec": {"match": {"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]}]},
                        "parameters": {"max": 1 + index % 5}}})
    });
    std::iter::once(template).chain(constraints).collect()
}

fn policy_documents() -> Vec<PolicyDocument> {
    (0..40)
        .map(kyverno_policy)
        .chain(gatekeeper_documents())
        .enumerate()
        .map(|(document, value)| PolicyDocument {
            value,
            at: SourceRef::yaml(PathBuf::from("/bench/policies.yaml"), document, String::new()),
        })
        .collect()
}

/// Parses the manifest file and judges every object: what an edit of the manifest costs.
fn judge_manifest_file(files: &OneFile, policies: &PreparedPolicies) -> apply::ApplyReport {
    let excluded = |_: &Path| false;
    let mut loader = Loader { files, excluded: &excluded, problems: Vec::new() };
    let manifests = loader.manifests(&[PathBuf::from(MANIFEST_PATH)]);
    assert_eq!(manifests.len(), 50, "the manifest file holds 50 Deployments");
    apply::apply(policies, manifests)
}

fn bench(criterion: &mut Criterion) {
    let text = manifest_text();
    assert!(text.lines().count() >= 2_000, "the manifest file has {} lines", text.lines().count());
    let files = OneFile(Arc::from(text));
    let documents = policy_documents();
    let options = Options::default();
    let policies = PreparedPolicies::new(&documents, &[], &options);
    assert_eq!(policies.policy_count(), 50);
    assert!(policies.problems.is_empty(), "{:?}", policies.problems);
    let report = judge_manifest_file(&files, &policies);
    assert!(report.results.iter().any(|result| result.status == apply::Status::Fail));

    let mut group = criterion.benchmark_group("apply");
    group.sample_size(20);
    group.bench_function("2,000-line manifest, 50 policies: manifest edited", |bencher| {
        bencher.iter(|| judge_manifest_file(&files, &policies))
    });
    group.bench_function("2,000-line manifest, 50 policies: policy edited", |bencher| {
        bencher.iter(|| judge_manifest_file(&files, &PreparedPolicies::new(&documents, &[], &options)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
