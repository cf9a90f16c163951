//! The CEL policy kinds through the Kyverno Test runner, on fixtures written here: audit annotations,
//! validationActions, JSON-mode ValidatingPolicies with JSON payloads, CEL PolicyExceptions, Kubernetes
//! admission policies with bindings and params, and ImageValidatingPolicy reported as unsupported.

mod support;

use std::path::Path;

use policy_lsp::testrun::{Subject, kyverno::run_test_file};
use support::{MemoryFiles, parse_fixture};

/// Runs `/t/kyverno-test.yaml` of the fixture. Renders one line per result (`policy/resource: expected
/// -> actual (reason): message`), its related places indented below it, then the problems.
fn check(fixture: &str, expect: expect_test::Expect) {
    let mut files = MemoryFiles::default();
    for file in parse_fixture(fixture) {
        files.files.insert(file.path, file.text);
    }
    let report = run_test_file(&files, Path::new("/t/kyverno-test.yaml"));
    let mut lines = Vec::new();
    for result in &report.results {
        let Subject::Kyverno { policy, resource, .. } = &result.subject else {
            continue;
        };
        lines.push(format!(
            "{policy}/{resource}: expected {} actual {} -> {:?} ({}): {}",
            result.expected, result.actual, result.outcome, result.reason, result.message
        ));
        for related in &result.related {
            let file = related.at.file.file_name().map(|name| name.to_string_lossy().to_string()).unwrap_or_default();
            lines.push(format!("    {file}#{}{}: {}", related.at.document, related.at.pointer, related.message));
        }
    }
    for problem in &report.problems {
        lines.push(format!("problem {} at {}: {}", problem.code, problem.at.pointer, problem.message));
    }
    expect.assert_eq(&(lines.join("\n") + "\n"));
}

const DEPLOYMENTS: &str = r#"
#- /t/deployments.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: small
  labels: {tier: web}
spec:
  replicas: 1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: large
  labels: {tier: web}
spec:
  replicas: 6
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: batch
  labels: {tier: batch}
spec:
  replicas: 9
"#;

#[test]
fn admission_policy_bindings_select_resources_and_params() {
    let fixture = format!(
        r#"{DEPLOYMENTS}
#- /t/policy.yaml
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replica-limit
spec:
  paramKind: {{apiVersion: v1, kind: ConfigMap}}
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: "object.spec.replicas <= int(params.data.max)"
    messageExpression: "'at most ' + params.data.max + ' replicas'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: replica-limit-web
spec:
  policyName: replica-limit
  validationActions: [Deny]
  paramRef: {{name: web-limits}}
  matchResources:
    objectSelector:
      matchLabels: {{tier: web}}
#- /t/params.yaml
apiVersion: v1
kind: ConfigMap
metadata: {{name: web-limits}}
data: {{max: "5"}}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [deployments.yaml]
paramResources: [params.yaml]
results:
- {{policy: replica-limit, isValidatingAdmissionPolicy: true, kind: Deployment, resources: [small], result: pass}}
- {{policy: replica-limit, isValidatingAdmissionPolicy: true, kind: Deployment, resources: [large], result: fail}}
- {{policy: replica-limit, isValidatingAdmissionPolicy: true, kind: Deployment, resources: [batch], result: skip}}
"#
    );
    check(
        &fixture,
        expect_test::expect![[r#"
        "#]],
    );
}
