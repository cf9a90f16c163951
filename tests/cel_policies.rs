//! The CEL policy kinds through the Kyverno Test runner, on fixtures written here: audit annotations,
//! validationActions, JSON-mode ValidatingPolicies with JSON payloads, CEL PolicyExceptions, Kubernetes
//! admission policies with bindings and params, and ImageValidatingPolicy reported as unsupported.

use std::path::Path;

use crate::support::{MemoryFiles, parse_fixture};
use policy_lsp::testrun::{Subject, kyverno::run_test_file};

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
            replica-limit/small: expected pass actual pass -> Pass (Ok): 
            replica-limit/large: expected fail actual fail -> Pass (Ok): at most 5 replicas
                policy.yaml#0/spec/validations/0/expression: the policy node that decided the result
            replica-limit/batch: expected skip actual excluded -> Pass (Excluded): Excluded
        "#]],
    );
}

#[test]
fn admission_policy_without_bindings_uses_its_match_constraints() {
    let fixture = format!(
        r#"{DEPLOYMENTS}
#- /t/policy.yaml
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: web-only
spec:
  matchConstraints:
    objectSelector:
      matchLabels: {{tier: web}}
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [deployments]
  validations:
  - expression: "object.spec.replicas < 5"
    message: fewer than five replicas
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [deployments.yaml]
results:
- {{policy: web-only, kind: Deployment, resources: [small], result: pass}}
- {{policy: web-only, kind: Deployment, resources: [large], result: fail}}
- {{policy: web-only, kind: Deployment, resources: [batch], result: fail}}
"#
    );
    // `batch` is not selected: the CLI has a response without results, which passes any expectation.
    check(
        &fixture,
        expect_test::expect![[r#"
            web-only/small: expected pass actual pass -> Pass (Ok): 
            web-only/large: expected fail actual fail -> Pass (Ok): fewer than five replicas
                policy.yaml#0/spec/validations/0/expression: the policy node that decided the result
            web-only/batch: expected fail actual excluded -> Pass (Excluded): Excluded
        "#]],
    );
    // Without constraints (and without bindings) the policy applies to every resource.
    let start = fixture.find("  matchConstraints:").unwrap_or(0);
    let end = fixture.find("  validations:").unwrap_or(0);
    let unconstrained = format!("{}{}", &fixture[..start], &fixture[end..]);
    check(
        &unconstrained,
        expect_test::expect![[r#"
            web-only/small: expected pass actual pass -> Pass (Ok): 
            web-only/large: expected fail actual fail -> Pass (Ok): fewer than five replicas
                policy.yaml#0/spec/validations/0/expression: the policy node that decided the result
            web-only/batch: expected fail actual fail -> Pass (Ok): fewer than five replicas
                policy.yaml#0/spec/validations/0/expression: the policy node that decided the result
        "#]],
    );
}

#[test]
fn bindings_are_checked_alone_and_the_last_matching_one_decides() {
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
      operations: [UPDATE]
      resources: [deployments]
  validations:
  - expression: "object.spec.replicas <= params.items.map(p, int(p.data.max)).min()"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: all-but-batch
spec:
  policyName: replica-limit
  validationActions: [Warn, Audit]
  paramRef:
    selector:
      matchLabels: {{limits: "yes"}}
  matchResources:
    excludeResourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: ["*"]
      resources: [deployments]
      resourceNames: [batch]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: missing-params
spec:
  policyName: replica-limit
  validationActions: [Deny]
  paramRef: {{name: nowhere, parameterNotFoundAction: Allow}}
  matchResources:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [deployments]
      resourceNames: [small]
#- /t/params.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: loose
  labels: {{limits: "yes"}}
data: {{max: "8"}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: strict
  labels: {{limits: "yes"}}
data: {{max: "4"}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: unrelated
data: {{max: "1"}}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [deployments.yaml]
paramResources: [params.yaml]
results:
- {{policy: replica-limit, kind: Deployment, resources: [large], result: fail}}
- {{policy: replica-limit, kind: Deployment, resources: [small], result: error}}
- {{policy: replica-limit, kind: Deployment, resources: [batch], result: skip}}
"#
    );
    // The policy's matchConstraints (UPDATE only) are not consulted once there are bindings; the
    // selector gives `params.items`; `small` is matched last by a binding whose params are missing, so
    // `params` is null and the validation errs; Warn and Audit still report `fail`.
    check(
        &fixture,
        expect_test::expect![[r#"
            replica-limit/large: expected fail actual fail -> Pass (Ok): failed expression: object.spec.replicas <= params.items.map(p, int(p.data.max)).min()
                policy.yaml#0/spec/validations/0/expression: the policy node that decided the result
            replica-limit/small: expected error actual error -> Pass (Ok): no such key: items
                policy.yaml#0/spec/validations/0/expression: the policy node that decided the result
            replica-limit/batch: expected skip actual excluded -> Pass (Excluded): Excluded
        "#]],
    );
}

#[test]
fn bindings_in_a_test_with_a_cluster_resolve_params_like_the_api_server() {
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
      operations: [CREATE]
      resources: [deployments]
  validations:
  - expression: "object.spec.replicas <= int(params.data.max)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: per-namespace
spec:
  policyName: replica-limit
  validationActions: [Deny]
  paramRef: {{name: limits, parameterNotFoundAction: Deny}}
#- /t/params.yaml
apiVersion: v1
kind: ConfigMap
metadata: {{name: limits, namespace: other}}
data: {{max: "50"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: limits, namespace: default}}
data: {{max: "5"}}
#- /t/more.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {{name: elsewhere, namespace: other}}
spec: {{replicas: 6}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: unlimited, namespace: bare}}
spec: {{replicas: 6}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: lost, namespace: ghost}}
spec: {{replicas: 6}}
#- /t/cluster.yaml
apiVersion: v1
kind: Namespace
metadata: {{name: default}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: other}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: bare}}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [deployments.yaml, more.yaml]
paramResources: [params.yaml]
clusterResources: [cluster.yaml]
results:
- {{policy: replica-limit, kind: Deployment, resources: [small], result: pass}}
- {{policy: replica-limit, kind: Deployment, resources: [large], result: fail}}
- {{policy: replica-limit, kind: Deployment, resources: [elsewhere], result: pass}}
- {{policy: replica-limit, kind: Deployment, resources: [unlimited], result: fail}}
- {{policy: replica-limit, kind: Deployment, resources: [lost], result: fail}}
"#
    );
    // With a cluster the params are looked up by kind in the resource's namespace; when they are
    // missing (`parameterNotFoundAction: Deny`) or the namespace does not exist, Kyverno gives up on the
    // policy and the result reads as excluded.
    check(
        &fixture,
        expect_test::expect![[r#"
            replica-limit/small: expected pass actual pass -> Pass (Ok): 
            replica-limit/large: expected fail actual fail -> Pass (Ok): failed expression: object.spec.replicas <= int(params.data.max)
                policy.yaml#0/spec/validations/0/expression: the policy node that decided the result
            replica-limit/elsewhere: expected pass actual pass -> Pass (Ok): 
            replica-limit/unlimited: expected fail actual excluded -> Pass (Excluded): Excluded
            replica-limit/lost: expected fail actual excluded -> Pass (Excluded): Excluded
        "#]],
    );
}

#[test]
fn mutating_admission_policy_bindings_chain_their_patches() {
    let fixture = r#"
#- /t/policy.yaml
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: stamp
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [configmaps]
  matchConditions:
  - name: not-a-param
    expression: "!has(object.data.stamp)"
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {params.data.stamp: 'yes'}}}"
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: first}
spec:
  policyName: stamp
  paramRef: {name: stamp-a}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: second}
spec:
  policyName: stamp
  paramRef: {name: stamp-b}
  matchResources:
    objectSelector:
      matchLabels: {twice: "yes"}
#- /t/params.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: stamp-a}
data: {stamp: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: stamp-b}
data: {stamp: b}
#- /t/resources.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: once
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: twice
  labels: {twice: "yes"}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: stamped
data: {stamp: z}
---
apiVersion: v1
kind: Secret
metadata: {name: no-data}
#- /t/patched.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: once
  namespace: default
  labels: {a: "yes"}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: twice
  namespace: default
  labels: {twice: "yes", a: "yes", b: "yes"}
data: {k: v}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [resources.yaml]
paramResources: [params.yaml]
results:
- {policy: stamp, kind: ConfigMap, resources: [once, twice], patchedResources: patched.yaml, result: pass}
- {policy: stamp, kind: ConfigMap, resources: [stamped], result: skip}
- {policy: stamp, kind: Secret, resources: [no-data], result: error}
"#;
    // The bindings match every kind (the policy's constraints are not consulted). A matchCondition that
    // fails drops the response, which `kyverno test` reports as not found, whatever was expected.
    check(
        fixture,
        expect_test::expect![[r#"
            stamp/once: expected pass actual pass -> Pass (Ok): mutation is successfully applied
            stamp/twice: expected pass actual pass -> Pass (Ok): mutation is successfully applied
            stamp/stamped: expected skip actual skip -> Pass (Ok): match conditions aren't met
                policy.yaml#0/spec/matchConditions/0/expression: the policy node that decided the result
            stamp/no-data: expected error actual fail -> Fail (Not found): Kyverno gives no response for this MutatingAdmissionPolicy: match conditions failed: no such key: data
        "#]],
    );
}

#[test]
fn kyverno_io_exceptions_are_refused_beside_admission_policies() {
    let fixture = format!(
        r#"{DEPLOYMENTS}
#- /t/policy.yaml
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: any}}
spec:
  matchConstraints:
    resourceRules:
    - {{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}}
  validations:
  - expression: "true"
#- /t/exception.yaml
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {{name: e}}
spec:
  exceptions:
  - {{policyName: any, ruleNames: [r]}}
  match:
    any:
    - resources: {{kinds: [Deployment]}}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [deployments.yaml]
exceptions: [exception.yaml]
results:
- {{policy: any, kind: Deployment, resources: [small], result: pass}}
"#
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            any/small: expected pass actual error -> Error (Invalid test file): kyverno test rejects kyverno.io PolicyExceptions in a test with ValidatingAdmissionPolicies
            problem kyverno-test/unsupported-combination at /exceptions: kyverno test rejects kyverno.io PolicyExceptions in a test with ValidatingAdmissionPolicies
        "#]],
    );
}

const PODS: &str = r#"
#- /t/pods.yaml
apiVersion: v1
kind: Pod
metadata:
  name: tagged
  namespace: team-a
spec:
  containers: [{name: c, image: "ghcr.io/app:1.0"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: latest
  namespace: team-a
spec:
  containers: [{name: c, image: "ghcr.io/app:latest"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: legacy
  namespace: legacy
spec:
  containers: [{name: c, image: "docker.io/old:latest"}]
"#;

const NO_LATEST: &str = r#"
#- /t/policy.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: no-latest
spec:
  validationActions: [Audit]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  validations:
  - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest') || c.image in exceptions.allowedValues)"
    message: the latest tag is not allowed
"#;

#[test]
fn cel_exceptions_skip_or_pass_the_policies_they_name() {
    let fixture = format!(
        r#"{PODS}{NO_LATEST}
#- /t/exceptions.yaml
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {{name: legacy-namespace, namespace: kyverno}}
spec:
  policyRefs:
  - {{name: no-latest, kind: ValidatingPolicy}}
  matchConditions:
  - {{name: legacy, expression: "object.metadata.namespace == 'legacy'"}}
---
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata:
  name: legacy-reported-as-pass
  labels: {{polex.kyverno.io/priority: "10"}}
spec:
  reportResult: pass
  policyRefs:
  - {{name: no-latest, kind: ValidatingPolicy}}
  matchConditions:
  - {{name: legacy, expression: "object.metadata.namespace == 'legacy'"}}
---
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {{name: names-another-kind}}
spec:
  policyRefs:
  - {{name: no-latest, kind: MutatingPolicy}}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [pods.yaml]
exceptions: [exceptions.yaml]
results:
- {{policy: no-latest, isValidatingPolicy: true, kind: Pod, resources: [tagged], result: pass}}
- {{policy: no-latest, isValidatingPolicy: true, kind: Pod, resources: [latest], result: fail}}
- {{policy: no-latest, isValidatingPolicy: true, kind: Pod, resources: [legacy], result: pass}}
"#
    );
    // Both legacy exceptions match; the one with the higher priority label reports `pass`. The exception
    // for a MutatingPolicy of the same name does not apply.
    check(
        &fixture,
        expect_test::expect![[r#"
            no-latest/tagged: expected pass actual pass -> Pass (Ok): 
            no-latest/latest: expected fail actual fail -> Pass (Ok): the latest tag is not allowed
                policy.yaml#0/spec/validations/0/expression: the policy node that decided the result
            no-latest/legacy: expected pass actual pass -> Pass (Ok): rule is passed due to policy exception: kyverno/legacy-namespace, legacy-reported-as-pass
        "#]],
    );
    let without_priority = fixture.replace("polex.kyverno.io/priority: \"10\"", "team: a");
    check(
        &without_priority,
        expect_test::expect![[r#"
            no-latest/tagged: expected pass actual pass -> Pass (Ok): 
            no-latest/latest: expected fail actual fail -> Pass (Ok): the latest tag is not allowed
                policy.yaml#0/spec/validations/0/expression: the policy node that decided the result
            no-latest/legacy: expected pass actual skip -> Fail (Want pass, got skip): rule is skipped due to policy exception: kyverno/legacy-namespace, legacy-reported-as-pass
        "#]],
    );
}

#[test]
fn partial_cel_exceptions_widen_the_exceptions_variable() {
    let fixture = format!(
        r#"{PODS}{NO_LATEST}
#- /t/exceptions.yaml
apiVersion: policies.kyverno.io/v1beta1
kind: PolicyException
metadata: {{name: allow-app-latest}}
spec:
  policyRefs:
  - {{name: no-latest, kind: ValidatingPolicy}}
  allowedValues: ["ghcr.io/app:latest"]
  matchConditions:
  - {{name: team-a, expression: "object.metadata.namespace == 'team-a'"}}
---
apiVersion: policies.kyverno.io/v1beta1
kind: PolicyException
metadata: {{name: broken}}
spec:
  policyRefs:
  - {{name: no-latest, kind: ValidatingPolicy}}
  matchConditions:
  - {{name: broken, expression: "object.metadata.namespace == 'legacy' && object.metadata.labels.owner == 'x'"}}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [pods.yaml]
exceptions: [exceptions.yaml]
results:
- {{policy: no-latest, isValidatingPolicy: true, kind: Pod, resources: [latest], result: pass}}
- {{policy: no-latest, isValidatingPolicy: true, kind: Pod, resources: [legacy], result: error}}
"#
    );
    // `allowedValues` does not exempt the pod: the policy runs and reads them. An exception whose
    // condition fails (the legacy pod has no labels) makes the policy's result an error.
    check(
        &fixture,
        expect_test::expect![[r#"
            no-latest/latest: expected pass actual pass -> Pass (Ok): 
            no-latest/legacy: expected error actual error -> Pass (Ok): failed to evaluate the matchConditions of policy exception broken: no such key: labels
        "#]],
    );
}

#[test]
fn cel_exceptions_for_mutating_generating_and_deleting_policies() {
    let fixture = r#"
#- /t/policies.yaml
apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: label-team}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {'team': 'a'}}}"
---
apiVersion: policies.kyverno.io/v1
kind: GeneratingPolicy
metadata: {name: copy-config}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  generate:
  - expression: "generator.apply('copies', [{'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': object.metadata.name}}])"
---
apiVersion: policies.kyverno.io/v1
kind: DeletingPolicy
metadata: {name: delete-temporary}
spec:
  schedule: "0 * * * *"
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: ["*"], resources: [configmaps]}
  conditions:
  - {name: temporary, expression: "object.data.?temporary.orValue('') == 'true'"}
#- /t/exceptions.yaml
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: keep-pinned}
spec:
  policyRefs:
  - {name: label-team, kind: MutatingPolicy}
  - {name: delete-temporary, kind: DeletingPolicy}
  matchConditions:
  - {name: pinned, expression: "object.data.?pinned.orValue('') == 'true'"}
#- /t/resources.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: plain}
data: {temporary: "true"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: pinned}
data: {temporary: "true", pinned: "true"}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policies.yaml]
resources: [resources.yaml]
exceptions: [exceptions.yaml]
results:
- {policy: label-team, isMutatingPolicy: true, kind: ConfigMap, resources: [plain], result: pass}
- {policy: label-team, isMutatingPolicy: true, kind: ConfigMap, resources: [pinned], result: skip}
- {policy: copy-config, isGeneratingPolicy: true, kind: ConfigMap, resources: [plain], result: pass}
- {policy: copy-config, isGeneratingPolicy: true, kind: ConfigMap, resources: [pinned], result: skip}
- {policy: delete-temporary, isDeletingPolicy: true, kind: ConfigMap, resources: [plain], result: pass}
- {policy: delete-temporary, isDeletingPolicy: true, kind: ConfigMap, resources: [pinned], result: fail}
"#;
    // The CLI hands GeneratingPolicies every CEL exception of the test, whatever their policyRefs; an
    // excepted DeletingPolicy keeps the resource, which reads as `fail`.
    check(
        fixture,
        expect_test::expect![[r#"
            label-team/plain: expected pass actual pass -> Pass (Ok): 
            label-team/pinned: expected skip actual skip -> Pass (Ok): rule is skipped due to policy exception: keep-pinned
            copy-config/plain: expected pass actual pass -> Pass (Ok): 
            copy-config/pinned: expected skip actual skip -> Pass (Ok): rule is skipped due to policy exception: keep-pinned
            delete-temporary/plain: expected pass actual pass -> Pass (Ok): 
            delete-temporary/pinned: expected fail actual fail -> Pass (Ok): resource did not match: rule is skipped due to policy exception: keep-pinned
        "#]],
    );
}

#[test]
fn cel_exceptions_see_the_controller_under_autogen_and_classic_exceptions_stay_with_cluster_policies() {
    let fixture = r#"
#- /t/policies.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: no-privileged}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "object.spec.containers.all(c, !(c.?securityContext.?privileged.orValue(false)))"
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  rules:
  - name: team
    match:
      any:
      - resources: {kinds: [Deployment]}
    validate:
      message: a team label is required
      pattern:
        metadata:
          labels:
            team: "?*"
#- /t/exceptions.yaml
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: system-deployments}
spec:
  policyRefs:
  - {name: no-privileged, kind: ValidatingPolicy}
  matchConditions:
  - {name: deployment, expression: "object.kind == 'Deployment' && object.metadata.name.startsWith('system-')"}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: system-team}
spec:
  exceptions:
  - {policyName: require-team, ruleNames: [team]}
  match:
    any:
    - resources: {kinds: [Deployment], names: ["system-*"]}
#- /t/resources.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: system-agent}
spec:
  template:
    spec:
      containers: [{name: c, image: agent, securityContext: {privileged: true}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
      containers: [{name: c, image: app, securityContext: {privileged: true}}]
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policies.yaml]
resources: [resources.yaml]
exceptions: [exceptions.yaml]
results:
- {policy: no-privileged, isValidatingPolicy: true, kind: Deployment, resources: [system-agent], result: skip}
- {policy: no-privileged, isValidatingPolicy: true, kind: Deployment, resources: [app], result: fail}
- {policy: require-team, rule: team, kind: Deployment, resources: [system-agent], result: skip}
- {policy: require-team, rule: team, kind: Deployment, resources: [app], result: fail}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            no-privileged/system-agent: expected skip actual skip -> Pass (Ok): rule is skipped due to policy exception: system-deployments
            no-privileged/app: expected fail actual fail -> Pass (Ok): CEL expression validation failed at index 0
                policies.yaml#0/spec/validations/0/expression: the policy node that decided the result
            require-team/system-agent: expected skip actual skip -> Pass (Ok): rule is skipped due to policy exceptions system-team
                policies.yaml#1/spec/rules/0/validate: the policy node that decided the result
            require-team/app: expected fail actual fail -> Pass (Ok): validation error: a team label is required. rule team failed at path /metadata/labels/
                policies.yaml#1/spec/rules/0/validate/pattern/metadata/labels: the policy node that decided the result
                resources.yaml#1/metadata/labels: the resource value that failed
        "#]],
    );
}

#[test]
fn validation_actions_do_not_change_a_failing_result() {
    let fixture = format!(
        r#"{PODS}
#- /t/policies.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {{name: warn-latest}}
spec:
  validationActions: [Warn]
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}}
  validations:
  - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {{name: audit-latest}}
spec:
  validationActions: [Audit]
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}}
  validations:
  - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policies.yaml]
resources: [pods.yaml]
results:
- {{policy: warn-latest, isValidatingPolicy: true, kind: Pod, resources: [latest], result: fail}}
- {{policy: warn-latest, isValidatingPolicy: true, kind: Pod, resources: [legacy], result: warn}}
- {{policy: audit-latest, isValidatingPolicy: true, kind: Pod, resources: [latest], result: fail}}
- {{policy: audit-latest, isValidatingPolicy: true, kind: Pod, resources: [legacy], result: warn}}
"#
    );
    // `kyverno test` compares results with audit-as-warn off, so neither Warn nor Audit turns `fail`
    // into `warn`.
    check(
        &fixture,
        expect_test::expect![[r#"
            warn-latest/latest: expected fail actual fail -> Pass (Ok): CEL expression validation failed at index 0
                policies.yaml#0/spec/validations/0/expression: the policy node that decided the result
            warn-latest/legacy: expected warn actual fail -> Fail (Want warn, got fail): CEL expression validation failed at index 0
                policies.yaml#0/spec/validations/0/expression: the policy node that decided the result
            audit-latest/latest: expected fail actual fail -> Pass (Ok): CEL expression validation failed at index 0
                policies.yaml#1/spec/validations/0/expression: the policy node that decided the result
            audit-latest/legacy: expected warn actual fail -> Fail (Want warn, got fail): CEL expression validation failed at index 0
                policies.yaml#1/spec/validations/0/expression: the policy node that decided the result
        "#]],
    );
}

#[test]
fn validating_policy_audit_annotations_are_published_or_fail_the_policy() {
    let fixture = format!(
        r#"{PODS}
#- /t/policy.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {{name: image-audit}}
spec:
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}}
  validations:
  - expression: "!object.spec.containers.exists(c, c.image.startsWith('docker.io/'))"
    message: docker.io images are not allowed
  auditAnnotations:
  - key: images
    valueExpression: "object.spec.containers.map(c, c.image).join(', ')"
  - key: failMessage
    valueExpression: "'blocked image in ' + object.metadata.namespace"
  - key: empty
    valueExpression: "''"
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [pods.yaml]
results:
- {{policy: image-audit, isValidatingPolicy: true, kind: Pod, resources: [tagged], result: pass}}
- {{policy: image-audit, isValidatingPolicy: true, kind: Pod, resources: [legacy], result: fail}}
"#
    );
    // Annotations are rule properties in Kyverno: each is shown at its expression, and `failMessage`
    // replaces the message of a failed result, as kyverno test prints it. An empty value publishes nothing.
    check(
        &fixture,
        expect_test::expect![[r#"
            image-audit/tagged: expected pass actual pass -> Pass (Ok): 
                policy.yaml#0/spec/auditAnnotations/0/valueExpression: audit annotation images: ghcr.io/app:1.0
                policy.yaml#0/spec/auditAnnotations/1/valueExpression: audit annotation failMessage: blocked image in team-a
            image-audit/legacy: expected fail actual fail -> Pass (Ok): blocked image in legacy
                policy.yaml#0/spec/validations/0/expression: the policy node that decided the result
                policy.yaml#0/spec/auditAnnotations/0/valueExpression: audit annotation images: docker.io/old:latest
                policy.yaml#0/spec/auditAnnotations/1/valueExpression: audit annotation failMessage: blocked image in legacy
        "#]],
    );
    let failing = fixture.replace("\"''\"", "\"object.metadata.labels.owner\"");
    check(
        &failing,
        expect_test::expect![[r#"
            image-audit/tagged: expected pass actual error -> Fail (Want pass, got error): failed to evaluate auditAnnotation 'empty': no such key: labels
                policy.yaml#0/spec/auditAnnotations/2/valueExpression: the policy node that decided the result
            image-audit/legacy: expected fail actual error -> Fail (Want fail, got error): failed to evaluate auditAnnotation 'empty': no such key: labels
                policy.yaml#0/spec/auditAnnotations/2/valueExpression: the policy node that decided the result
        "#]],
    );
    // Kyverno converts every value to a string; a null is an error too (Kubernetes would skip it).
    let null = fixture.replace("\"''\"", "\"null\"");
    check(
        &null,
        expect_test::expect![[r#"
            image-audit/tagged: expected pass actual error -> Fail (Want pass, got error): failed to convert auditAnnotation 'empty' expression: type conversion error from 'null_type' to 'string'
                policy.yaml#0/spec/auditAnnotations/2/valueExpression: the policy node that decided the result
            image-audit/legacy: expected fail actual error -> Fail (Want fail, got error): failed to convert auditAnnotation 'empty' expression: type conversion error from 'null_type' to 'string'
                policy.yaml#0/spec/auditAnnotations/2/valueExpression: the policy node that decided the result
        "#]],
    );
}

#[test]
fn kubernetes_audit_annotations_never_change_the_result() {
    let fixture = format!(
        r#"{PODS}
#- /t/policies.yaml
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: vap-audit}}
spec:
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}}
  validations:
  - expression: "object.metadata.namespace != 'legacy'"
  auditAnnotations:
  - {{key: owner, valueExpression: "object.metadata.labels.owner"}}
  - {{key: namespace, valueExpression: "object.metadata.namespace"}}
  - {{key: nothing, valueExpression: "null"}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: cel-audit}}
spec:
  rules:
  - name: namespace
    match:
      any:
      - resources: {{kinds: [Pod]}}
    validate:
      cel:
        expressions:
        - expression: "object.metadata.namespace != 'legacy'"
        auditAnnotations:
        - {{key: count, valueExpression: "size(object.spec.containers)"}}
        - {{key: first, valueExpression: "'  ' + object.spec.containers[0].name + '  '"}}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policies.yaml]
resources: [pods.yaml]
results:
- {{policy: vap-audit, isValidatingAdmissionPolicy: true, kind: Pod, resources: [tagged], result: pass}}
- {{policy: vap-audit, isValidatingAdmissionPolicy: true, kind: Pod, resources: [legacy], result: fail}}
- {{policy: cel-audit, rule: namespace, kind: Pod, resources: [tagged], result: pass}}
"#
    );
    // The Kubernetes validator keeps annotation failures apart from the decision, and Kyverno reads only
    // the decision: the failures are reported beside an unchanged result. Null publishes nothing.
    check(
        &fixture,
        expect_test::expect![[r#"
            vap-audit/tagged: expected pass actual pass -> Pass (Ok): 
                policies.yaml#0/spec/auditAnnotations/0/valueExpression: audit annotation owner failed (the result is unchanged): no such key: labels
                policies.yaml#0/spec/auditAnnotations/1/valueExpression: audit annotation namespace: team-a
            vap-audit/legacy: expected fail actual fail -> Pass (Ok): failed expression: object.metadata.namespace != 'legacy'
                policies.yaml#0/spec/validations/0/expression: the policy node that decided the result
                policies.yaml#0/spec/auditAnnotations/0/valueExpression: audit annotation owner failed (the result is unchanged): no such key: labels
                policies.yaml#0/spec/auditAnnotations/1/valueExpression: audit annotation namespace: legacy
            cel-audit/tagged: expected pass actual pass -> Pass (Ok): 
                policies.yaml#1/spec/rules/0/validate: the policy node that decided the result
                policies.yaml#1/spec/rules/0/validate/cel/auditAnnotations/0/valueExpression: audit annotation count failed (the result is unchanged): valueExpression resulted in unsupported return type int; it must be a string or null
                policies.yaml#1/spec/rules/0/validate/cel/auditAnnotations/1/valueExpression: audit annotation first: c
        "#]],
    );
}

#[test]
fn mutating_policy_audit_annotations_see_the_mutated_object() {
    let fixture = r#"
#- /t/policy.yaml
apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: default-tier}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {'tier': 'standard'}}}"
  auditAnnotations:
  - {key: message, valueExpression: "'tier set to ' + object.metadata.labels.tier"}
#- /t/resources.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {policy: default-tier, isMutatingPolicy: true, kind: ConfigMap, resources: [c], result: pass}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            default-tier/c: expected pass actual pass -> Pass (Ok): tier set to standard
                policy.yaml#0/spec/auditAnnotations/0/valueExpression: audit annotation message: tier set to standard
        "#]],
    );
}

const TERRAFORM_POLICY: &str = r#"
#- /t/policies.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: no-public-buckets}
spec:
  evaluation:
    mode: JSON
  matchConditions:
  - {name: has-buckets, expression: "has(object.resource_changes)"}
  variables:
  - {name: buckets, expression: "object.resource_changes.filter(r, r.type == 'bucket')"}
  validations:
  - expression: "variables.buckets.all(b, b.change.after.acl != 'public-read')"
    messageExpression: "'public bucket: ' + variables.buckets.filter(b, b.change.after.acl == 'public-read')[0].name"
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: pods-only}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "true"
"#;

#[test]
fn json_mode_policies_evaluate_the_test_payloads() {
    let fixture = format!(
        r#"{TERRAFORM_POLICY}
#- /t/plan-ok.json
{{"resource_changes": [{{"type": "bucket", "name": "logs", "change": {{"after": {{"acl": "private"}}}}}}]}}
#- /t/plan-public.json
{{"resource_changes": [{{"type": "bucket", "name": "www", "change": {{"after": {{"acl": "public-read"}}}}}}]}}
#- /t/other.yaml
kind_of_document: not a plan
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policies.yaml]
jsonPayloads: [plan-ok.json, plan-public.json]
jsonPayload: other.yaml
results:
- {{policy: no-public-buckets, isValidatingPolicy: true, resources: [plan-ok.json], result: pass}}
- {{policy: no-public-buckets, isValidatingPolicy: true, resources: [plan-public.json], result: fail}}
- {{policy: no-public-buckets, isValidatingPolicy: true, resources: [other.yaml], result: skip}}
- {{policy: pods-only, isValidatingPolicy: true, resources: [plan-ok.json], result: pass}}
"#
    );
    // A policy in the default Kubernetes mode gives no response for a payload: not found.
    check(
        &fixture,
        expect_test::expect![[r#"
            no-public-buckets/plan-ok.json: expected pass actual pass -> Pass (Ok): 
            no-public-buckets/plan-public.json: expected fail actual fail -> Pass (Ok): public bucket: www
                policies.yaml#0/spec/validations/0/expression: the policy node that decided the result
            no-public-buckets/other.yaml: expected skip actual skip -> Pass (Ok): a matchCondition is false
                policies.yaml#0/spec/matchConditions/0/expression: the policy node that decided the result
            pods-only/plan-ok.json: expected pass actual fail -> Fail (Not found): no engine response for this policy and resource
        "#]],
    );
}

#[test]
fn results_without_resources_cover_payloads_and_resources_as_json() {
    let fixture = format!(
        r#"{TERRAFORM_POLICY}{PODS}
#- /t/plan.json
{{"resource_changes": []}}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policies.yaml]
resources: [pods.yaml]
jsonPayloads: [plan.json]
results:
- {{policy: no-public-buckets, isValidatingPolicy: true, result: skip}}
"#
    );
    // The CLI also hands every resource to JSON-mode policies; pods have no `resource_changes` and skip,
    // while the empty plan passes, against this entry's expectation.
    check(
        &fixture,
        expect_test::expect![[r#"
            no-public-buckets/team-a/tagged: expected skip actual skip -> Pass (Ok): a matchCondition is false
                policies.yaml#0/spec/matchConditions/0/expression: the policy node that decided the result
            no-public-buckets/team-a/latest: expected skip actual skip -> Pass (Ok): a matchCondition is false
                policies.yaml#0/spec/matchConditions/0/expression: the policy node that decided the result
            no-public-buckets/legacy/legacy: expected skip actual skip -> Pass (Ok): a matchCondition is false
                policies.yaml#0/spec/matchConditions/0/expression: the policy node that decided the result
            no-public-buckets/plan.json: expected skip actual pass -> Fail (Want skip, got pass): 
        "#]],
    );
}

#[test]
fn cel_exceptions_apply_to_json_payloads_and_bad_payloads_are_problems() {
    let fixture = format!(
        r#"{TERRAFORM_POLICY}
#- /t/plan-public.json
{{"workspace": "sandbox", "resource_changes": [{{"type": "bucket", "name": "www", "change": {{"after": {{"acl": "public-read"}}}}}}]}}
#- /t/list.json
[{{"resource_changes": []}}]
#- /t/exception.yaml
apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {{name: sandbox}}
spec:
  policyRefs:
  - {{name: no-public-buckets, kind: ValidatingPolicy}}
  matchConditions:
  - {{name: sandbox, expression: "object.workspace == 'sandbox'"}}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policies.yaml]
exceptions: [exception.yaml]
jsonPayloads: [plan-public.json, list.json, missing.json]
results:
- {{policy: no-public-buckets, isValidatingPolicy: true, resources: [plan-public.json], result: skip}}
"#
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            no-public-buckets/plan-public.json: expected skip actual skip -> Pass (Ok): rule is skipped due to policy exception: sandbox
            problem kyverno-test/invalid-payload at /jsonPayloads/1: /t/list.json: a JSON payload must hold one top-level object
            problem kyverno-test/missing-file at /jsonPayloads/2: cannot read /t/missing.json: /t/missing.json does not exist
        "#]],
    );
}

#[test]
fn image_validating_policies_are_reported_unsupported() {
    let fixture = format!(
        r#"{PODS}
#- /t/policy.yaml
apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {{name: signed-images}}
spec:
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}}
  matchImageReferences:
  - glob: "ghcr.io/*"
  attestors:
  - name: cosign
    cosign:
      key:
        data: "-----BEGIN PUBLIC KEY-----"
  validations:
  - expression: "images.containers.map(image, verifyImageSignatures(image, [attestors.cosign])).all(e, e > 0)"
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [pods.yaml]
results:
- {{policy: signed-images, isImageValidatingPolicy: true, kind: Pod, resources: [tagged], result: pass}}
"#
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            signed-images/tagged: expected pass actual unsupported -> Unsupported (Unsupported): ImageValidatingPolicy verifies image signatures and attestations, which needs registry access: not evaluated offline
        "#]],
    );
}

#[test]
fn failure_policy_ignore_skips_a_policy_whose_match_condition_fails() {
    let fixture = format!(
        r#"{PODS}
#- /t/policies.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {{name: owner-checked}}
spec:
  failurePolicy: Ignore
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}}
  matchConditions:
  - {{name: owned, expression: "object.metadata.labels.owner != ''"}}
  validations:
  - expression: "false"
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {{name: owner-required}}
spec:
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}}
  matchConditions:
  - {{name: owned, expression: "object.metadata.labels.owner != ''"}}
  validations:
  - expression: "false"
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policies.yaml]
resources: [pods.yaml]
results:
- {{policy: owner-checked, isValidatingPolicy: true, kind: Pod, resources: [tagged], result: skip}}
- {{policy: owner-required, isValidatingPolicy: true, kind: Pod, resources: [tagged], result: error}}
"#
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            owner-checked/tagged: expected skip actual skip -> Pass (Ok): a matchCondition is false
                policies.yaml#0/spec/matchConditions/0/expression: the policy node that decided the result
            owner-required/tagged: expected error actual error -> Pass (Ok): no such key: labels
                policies.yaml#1/spec/matchConditions/0/expression: the policy node that decided the result
        "#]],
    );
}

#[test]
fn kyverno_libraries_answer_to_camel_case_names() {
    let fixture = r#"
#- /t/policies.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: allowed-registries}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  variables:
  - name: registries
    expression: "resource.get('v1', 'configmaps', 'default', 'registries').data.allowed.split(',')"
  validations:
  - expression: "object.spec.containers.all(c, variables.registries.exists(r, c.image.startsWith(r)))"
---
apiVersion: policies.kyverno.io/v1
kind: GeneratingPolicy
metadata: {name: copy-registries}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [namespaces]}
  generate:
  - expression: "generator.apply(object.metadata.name, [resource.list('v1', 'configmaps', 'default')])"
#- /t/resources.yaml
apiVersion: v1
kind: Pod
metadata: {name: good}
spec:
  containers: [{name: c, image: "ghcr.io/app:1"}]
---
apiVersion: v1
kind: Namespace
metadata: {name: team}
#- /t/registries.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: registries, namespace: default}
data: {allowed: "ghcr.io/,quay.io/"}
#- /t/generated.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: registries, namespace: team}
data: {allowed: "ghcr.io/,quay.io/"}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policies.yaml]
resources: [resources.yaml]
clusterResources: [registries.yaml]
results:
- {policy: allowed-registries, isValidatingPolicy: true, kind: Pod, resources: [good], result: pass}
- {policy: copy-registries, isGeneratingPolicy: true, kind: Namespace, resources: [team], generatedResource: generated.yaml, result: pass}
"#;
    // `resource.list` answers a list, which `generator.apply` generates item by item in its namespace.
    check(
        fixture,
        expect_test::expect![[r#"
            allowed-registries/good: expected pass actual pass -> Pass (Ok): 
            copy-registries/team: expected pass actual pass -> Pass (Ok): 
        "#]],
    );
}

#[test]
fn mocked_http_calls_answer_with_body_and_status_code() {
    let fixture = format!(
        r#"{PODS}
#- /t/policy.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {{name: approved-images}}
spec:
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}}
  variables:
  - {{name: answer, expression: "http.get('https://registry.example/approved')"}}
  - {{name: audit, expression: "http.Post('https://audit.example/log', {{'pod': object.metadata.name}}, {{}})"}}
  validations:
  - expression: "variables.answer.statusCode == 200 && variables.audit.statusCode == 202"
  - expression: "object.spec.containers.all(c, c.image in variables.answer.body.images)"
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [pods.yaml]
apiCallResponses:
- url: https://registry.example/approved
  method: get
  response:
    body: {{images: ["ghcr.io/app:1.0"]}}
- url: https://audit.example/log
  response:
    statusCode: 202
    body: {{}}
results:
- {{policy: approved-images, isValidatingPolicy: true, kind: Pod, resources: [tagged], result: pass}}
- {{policy: approved-images, isValidatingPolicy: true, kind: Pod, resources: [latest], result: fail}}
"#
    );
    // A mock without a method answers any method.
    check(
        &fixture,
        expect_test::expect![[r#"
            approved-images/tagged: expected pass actual pass -> Pass (Ok): 
            approved-images/latest: expected fail actual fail -> Pass (Ok): CEL expression validation failed at index 1
                policy.yaml#0/spec/validations/1/expression: the policy node that decided the result
        "#]],
    );
}

#[test]
fn mutate_existing_policies_patch_the_targets_each_trigger_selects() {
    // `label-by-rules` selects ConfigMaps by resource rules (for any operation), once per trigger, with
    // `request` the trigger's; `label-by-expression` selects what its expression lists for each trigger
    // (`resource.List` finds the target resources), with `object` the target and no `oldObject`; its
    // target match condition keeps the `locked` one out; `annotate-by-get` selects the one object its
    // expression gets. The policies run on a target one after the
    // other, and each that patched it answers with the target as the last one left it (the CLI's mpol
    // engine chains them): both entries for `web-config` compare the label and the owner together. An
    // entry naming a target takes every policy that patched it, whichever it names: `other-config`, which
    // `label-by-expression` leaves alone, is compared as `label-by-rules` left it.
    let fixture = r#"
#- /t/policy.yaml
apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: label-by-rules}
spec:
  evaluation: {mutateExisting: {enabled: true}}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  targetMatchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [DELETE], resources: [configmaps]}
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {'trigger': request.kind.kind}}}"
---
apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: label-by-expression}
spec:
  evaluation: {mutateExisting: {enabled: true}}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  targetMatchConstraints:
    expression: resource.List("v1", "configmaps", object.metadata.namespace)
  targetMatchConditions:
  - {name: not-locked, expression: "!has(object.metadata.labels) || !('locked' in object.metadata.labels)"}
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: "[JSONPatch{op: 'add', path: '/data/owner', value: oldObject == null ? 'web' : 'other'}]"
---
apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: annotate-by-get}
spec:
  evaluation: {mutateExisting: {enabled: true}}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  targetMatchConstraints:
    expression: resource.Get("v1", "configmaps", object.metadata.namespace, "web-config")
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{annotations: {'seen': 'yes'}}}"
#- /t/trigger.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: apps}
#- /t/targets.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: apps}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other-config, namespace: apps, labels: {locked: "yes"}}
data: {a: "1"}
#- /t/patched.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: apps, labels: {trigger: Deployment}, annotations: {seen: "yes"}}
data: {a: "1", owner: web}
#- /t/other-labelled.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: other-config, namespace: apps, labels: {locked: "yes", trigger: Deployment}}
data: {a: "1"}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [trigger.yaml]
targetResources: [targets.yaml]
results:
- {policy: label-by-rules, isMutatingPolicy: true, kind: ConfigMap, resources: [apps/web-config], patchedResources: patched.yaml, result: pass}
- {policy: label-by-expression, isMutatingPolicy: true, kind: ConfigMap, resources: [apps/web-config], patchedResources: patched.yaml, result: pass}
- {policy: label-by-expression, isMutatingPolicy: true, kind: ConfigMap, resources: [apps/other-config], patchedResources: other-labelled.yaml, result: pass}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            label-by-rules/apps/web-config: expected pass actual pass -> Pass (Ok): 
            label-by-expression/apps/web-config: expected pass actual pass -> Pass (Ok): 
            label-by-expression/apps/other-config: expected pass actual pass -> Pass (Ok): 
        "#]],
    );
}

#[test]
fn generating_policy_templates_are_compared_with_the_generated_resources() {
    let fixture = r#"
#- /t/policy.yaml
apiVersion: policies.kyverno.io/v1
kind: GeneratingPolicy
metadata: {name: team-config}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [namespaces]}
  variables:
  - {name: team, expression: "object.metadata.labels.team"}
  generate:
  - template:
      interpolate: cel
      value: |
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: (( variables.team ))-config
          namespace: (( object.metadata.name ))
        data:
          owner: team-(( variables.team ))
#- /t/resources.yaml
apiVersion: v1
kind: Namespace
metadata: {name: payments, labels: {team: blue}}
#- /t/generated.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: blue-config, namespace: payments}
data: {owner: team-blue}
#- /t/wrong.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: blue-config, namespace: payments}
data: {owner: blue}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {policy: team-config, isGeneratingPolicy: true, kind: Namespace, resources: [payments], generatedResource: generated.yaml, result: pass}
- {policy: team-config, isGeneratingPolicy: true, kind: Namespace, resources: [payments], generatedResource: wrong.yaml, result: pass}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            team-config/payments: expected pass actual pass -> Pass (Ok): 
            team-config/payments: expected pass actual fail -> Fail (Resource diff): Patched resource didn't match the generated resource in the test result
        "#]],
    );
}

#[test]
fn policies_run_in_the_order_of_the_clis_policy_processor() {
    // `kyverno test` validates with ClusterPolicies before any MutatingPolicy runs, so `require-team` sees
    // the ConfigMap without the label `add-team` gives it, while the ValidatingPolicy, which runs after
    // the MutatingPolicies, sees it with the label. The MutatingPolicies run one after the other, and each
    // answers with the ConfigMap as the last one left it: `add-team`'s entry compares both labels.
    let fixture = r#"
#- /t/policies.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  rules:
  - name: check-team
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    validate:
      failureAction: Enforce
      message: a team label is required
      pattern:
        metadata:
          labels:
            team: "?*"
---
apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: add-team}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {'team': 'platform'}}}"
---
apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: add-tier}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {'tier': 'web'}}}"
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: team-is-set}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  validations:
  - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
#- /t/resources.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {a: "1"}
#- /t/patched.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default, labels: {team: platform, tier: web}}
data: {a: "1"}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policies.yaml]
resources: [resources.yaml]
results:
- {policy: require-team, rule: check-team, kind: ConfigMap, resources: [settings], result: fail}
- {policy: add-team, isMutatingPolicy: true, kind: ConfigMap, resources: [settings], patchedResources: patched.yaml, result: pass}
- {policy: team-is-set, isValidatingPolicy: true, kind: ConfigMap, resources: [settings], result: pass}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            require-team/settings: expected fail actual fail -> Pass (Ok): validation error: a team label is required. rule check-team failed at path /metadata/labels/
                policies.yaml#0/spec/rules/0/validate/pattern/metadata/labels: the policy node that decided the result
                resources.yaml#0/metadata/labels: the resource value that failed
            add-team/settings: expected pass actual pass -> Pass (Ok): 
            team-is-set/settings: expected pass actual pass -> Pass (Ok): 
        "#]],
    );
}
