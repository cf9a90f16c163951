//! The Kyverno Test runner on small in-memory test files: outcomes per resource, autogen rule names,
//! values, mutate comparisons, the CEL policy kinds, and test-file mistakes as problems.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use policy_lsp::testrun::kyverno::{RunOptions, run_test_file, run_test_file_with};
use policy_lsp::testrun::{FileError, FileSource, Subject};

/// Files held in memory: `#- /path` headers split one fixture into files.
struct Memory(BTreeMap<PathBuf, String>);

impl Memory {
    fn parse(fixture: &str) -> Memory {
        let mut files = BTreeMap::new();
        let mut current: Option<(PathBuf, String)> = None;
        for line in fixture.lines() {
            if let Some(path) = line.strip_prefix("#- ") {
                if let Some((path, text)) = current.take() {
                    files.insert(path, text);
                }
                current = Some((PathBuf::from(path.trim()), String::new()));
            } else if let Some((_, text)) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        if let Some((path, text)) = current {
            files.insert(path, text);
        }
        Memory(files)
    }
}

impl FileSource for Memory {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        let path = normalize(path);
        self.0.get(&path).map(|text| Arc::from(text.as_str())).ok_or(FileError::NotFound { path })
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        let path = normalize(path);
        let children: Vec<PathBuf> =
            self.0.keys().filter(|file| file.parent() == Some(path.as_path())).cloned().collect();
        if children.is_empty() { None } else { Some(children) }
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Runs `/t/kyverno-test.yaml` of the fixture and renders one line per result and per problem.
fn check(fixture: &str, expect: expect_test::Expect) {
    check_with(fixture, RunOptions::default(), expect);
}

/// [`check`] with `kyverno test` options.
fn check_with(fixture: &str, options: RunOptions, expect: expect_test::Expect) {
    let files = Memory::parse(fixture);
    let report = run_test_file_with(&files, Path::new("/t/kyverno-test.yaml"), options);
    let mut lines = Vec::new();
    for result in &report.results {
        if let Subject::Kyverno { policy, rule, resource, .. } = &result.subject {
            lines.push(format!(
                "{policy}/{}/{resource}: expected {} actual {} -> {:?}",
                rule.as_deref().unwrap_or("-"),
                result.expected,
                result.actual,
                result.outcome
            ));
        }
    }
    for problem in &report.problems {
        lines.push(format!("problem {} at {}: {}", problem.code, problem.at.pointer, problem.message));
    }
    expect.assert_eq(&(lines.join("\n") + "\n"));
}

const POLICY: &str = r#"
#- /t/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  rules:
  - name: check-team
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "label team is required"
      pattern:
        metadata:
          labels:
            team: "?*"
#- /t/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: good
  labels: {team: a}
spec:
  containers: [{name: c, image: nginx}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad-deploy
spec:
  template:
    metadata:
      labels: {app: x}
    spec:
      containers: [{name: c, image: nginx}]
"#;

#[test]
fn validate_with_autogen_rule_names() {
    let fixture = format!(
        "{POLICY}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], result: pass}}
- {{policy: require-team, rule: check-team, kind: Deployment, resources: [bad-deploy], result: fail}}
- {{policy: require-team, rule: check-team, kind: Deployment, resources: [default/bad-deploy], result: pass}}
"
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/good: expected pass actual pass -> Pass
            require-team/check-team/bad-deploy: expected fail actual fail -> Pass
            require-team/check-team/default/bad-deploy: expected pass actual fail -> Fail
        "#]],
    );
}

#[test]
fn mistakes_in_the_test_file_are_problems() {
    let fixture = format!(
        "{POLICY}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml, missing.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [nobody], result: pass}}
- {{policy: other, rule: r, kind: Pod, resources: [good], result: pass}}
"
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/nobody: expected pass actual not found -> Fail
            other/r/good: expected pass actual not found -> Fail
            problem kyverno-test/missing-file at /policies/1: policies[1]: /t/missing.yaml does not exist or holds no YAML/JSON file
            problem kyverno-test/unknown-resource at /results/0/resources/0: results[0]: resource `nobody` is not among the loaded resources
            problem kyverno-test/unknown-policy at /results/1/policy: results[1]: policy `other` is not among the loaded policies
        "#]],
    );
}

#[test]
fn unknown_keys_reject_the_file_and_cel_flags_are_hints() {
    let fixture = format!(
        "{POLICY}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], result: pass, isValidatingPolicy: true}}
"
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/good: expected pass actual pass -> Pass
        "#]],
    );
    let misspelled = fixture.replace("isValidatingPolicy", "isValidatingPolicyy");
    check(
        &misspelled,
        expect_test::expect![[r#"
            require-team/check-team/good: expected pass actual error -> Error
            problem kyverno-test/unknown-key at /results/0/isValidatingPolicyy: unknown field `isValidatingPolicyy` in results[0]
        "#]],
    );
}

#[test]
fn mutate_with_patched_resources_and_values() {
    let fixture = r#"
#- /t/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: add-owner
spec:
  rules:
  - name: owner
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    # The values file answers the API call (a variable no context entry names would make Kyverno refuse the
    # policy).
    context:
    - name: owner
      apiCall:
        urlPath: /api/v1/namespaces/default/configmaps/owner
        jmesPath: data.owner
    preconditions:
      all:
      - key: "{{ request.operation }}"
        operator: Equals
        value: CREATE
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            +(owner): "{{ owner }}"
#- /t/resources.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data: {a: b}
#- /t/patched.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: default
  labels: {owner: platform}
data: {a: b}
#- /t/values.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Values
policies:
- name: add-owner
  rules:
  - name: owner
    values:
      owner: platform
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [resources.yaml]
variables: values.yaml
results:
- {policy: add-owner, rule: owner, kind: ConfigMap, resources: [cm], patchedResources: patched.yaml, result: pass}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            add-owner/owner/cm: expected pass actual pass -> Pass
        "#]],
    );
}

/// Runs the fixture and renders the related places of each result.
fn check_related(fixture: &str, expect: expect_test::Expect) {
    let files = Memory::parse(fixture);
    let report = run_test_file(&files, Path::new("/t/kyverno-test.yaml"));
    let mut lines = Vec::new();
    for result in &report.results {
        for related in &result.related {
            lines.push(format!("{}#{}{}", related.at.file.display(), related.at.document, related.at.pointer));
        }
    }
    expect.assert_eq(&(lines.join("\n") + "\n"));
}

#[test]
fn failures_point_into_the_policy_and_the_resource() {
    let fixture = format!(
        "{POLICY}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Deployment, resources: [bad-deploy], result: fail}}
"
    );
    check_related(
        &fixture,
        expect_test::expect![[r#"
            /t/policy.yaml#0/spec/rules/0/validate/pattern/metadata/labels/team
            /t/resources.yaml#1/spec/template/metadata/labels/team
        "#]],
    );
}

#[test]
fn cel_policy_kinds_run_through_the_cel_engine() {
    let fixture = r#"
#- /t/vpol.yaml
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: no-latest
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  validations:
  - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
    message: latest is not allowed
#- /t/mpol.yaml
apiVersion: policies.kyverno.io/v1alpha1
kind: MutatingPolicy
metadata:
  name: add-team
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  matchConditions:
  - name: unlabeled
    expression: "!has(object.metadata.labels)"
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {'team': 'none'}}}"
#- /t/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: good
spec:
  containers: [{name: c, image: nginx:1}]
---
apiVersion: v1
kind: Pod
metadata:
  name: bad
  labels: {team: a}
spec:
  containers: [{name: c, image: nginx:latest}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad-deploy
spec:
  template:
    spec:
      containers: [{name: c, image: nginx:latest}]
#- /t/patched.yaml
apiVersion: v1
kind: Pod
metadata:
  name: good
  namespace: default
  labels: {team: none}
spec:
  containers: [{name: c, image: nginx:1}]
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [vpol.yaml, mpol.yaml]
resources: [resources.yaml]
results:
- {policy: no-latest, kind: Pod, resources: [good], result: pass, isValidatingPolicy: true}
- {policy: no-latest, kind: Pod, resources: [bad], result: fail, isValidatingPolicy: true}
- {policy: no-latest, kind: Deployment, resources: [bad-deploy], result: fail, isValidatingPolicy: true}
- {policy: add-team, kind: Pod, resources: [good], result: pass, patchedResources: patched.yaml, isMutatingPolicy: true}
- {policy: add-team, kind: Pod, resources: [bad], result: skip, isMutatingPolicy: true}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            no-latest/-/good: expected pass actual pass -> Pass
            no-latest/-/bad: expected fail actual fail -> Pass
            no-latest/-/bad-deploy: expected fail actual fail -> Pass
            add-team/-/good: expected pass actual pass -> Pass
            add-team/-/bad: expected skip actual skip -> Pass
        "#]],
    );
}

#[test]
fn validate_cel_reads_params_from_param_resources() {
    let fixture = r#"
#- /t/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: max-containers
spec:
  rules:
  - name: limit
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      cel:
        paramKind: {apiVersion: v1, kind: ConfigMap}
        paramRef: {name: limits, namespace: default, parameterNotFoundAction: Deny}
        expressions:
        - expression: "size(object.spec.containers) <= int(params.data.max)"
#- /t/params.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: limits, namespace: default}
data: {max: "1"}
#- /t/resources.yaml
apiVersion: v1
kind: Pod
metadata: {name: one}
spec:
  containers: [{name: a, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  containers: [{name: a, image: nginx}, {name: b, image: nginx}]
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [resources.yaml]
paramResources: [params.yaml]
results:
- {policy: max-containers, rule: limit, kind: Pod, resources: [one], result: pass}
- {policy: max-containers, rule: limit, kind: Pod, resources: [two], result: fail}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            max-containers/limit/one: expected pass actual pass -> Pass
            max-containers/limit/two: expected fail actual fail -> Pass
        "#]],
    );
}

#[test]
fn files_that_are_not_tests_are_problems() {
    // The parser's wording is not part of the contract, only the problem code.
    let files = Memory::parse("#- /t/kyverno-test.yaml\nkind: [unclosed\n");
    let report = run_test_file(&files, Path::new("/t/kyverno-test.yaml"));
    let codes: Vec<&str> = report.problems.iter().map(|problem| problem.code.as_str()).collect();
    assert_eq!(codes, ["kyverno-test/no-test"]);
    assert!(report.results.is_empty());
    check(
        "#- /t/kyverno-test.yaml\napiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\n",
        expect_test::expect![[r#"
            problem kyverno-test/no-results at /results: the test has no `results`: nothing would be checked
        "#]],
    );
}

#[test]
fn every_test_document_of_a_file_runs() {
    // The second Test's expectation is wrong: a runner that stops at the first document passes.
    let fixture = format!(
        "{POLICY}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: first}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], result: pass}}
---
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: second}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], result: fail}}
"
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/good: expected pass actual pass -> Pass
            require-team/check-team/good: expected fail actual pass -> Fail
        "#]],
    );
}

#[test]
fn what_needs_a_registry_or_the_network_is_unsupported() {
    // Each rule but the last reads something only a registry or the network can answer; a `default`
    // must not stand in for it.
    let fixture = r#"
#- /t/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: offline-gaps
spec:
  rules:
  - name: signed
    match:
      any:
      - resources: {kinds: [Pod]}
    verifyImages:
    - imageReferences: ["*"]
      attestors:
      - entries:
        - keys: {publicKeys: "-----BEGIN PUBLIC KEY-----"}
  - name: approval
    match:
      any:
      - resources: {kinds: [Pod]}
    context:
    - name: approved
      apiCall:
        service: {url: "https://approvals.example/check"}
        jmesPath: allowed
        default: true
    validate:
      message: "not approved"
      deny:
        conditions:
          any:
          - {key: "{{ approved }}", operator: Equals, value: false}
  - name: external-registry
    match:
      any:
      - resources: {kinds: [Pod]}
    validate:
      message: "the registry must be external"
      deny:
        conditions:
          any:
          - {key: "{{ is_external_url('https://registry.example/v2') }}", operator: Equals, value: false}
  - name: label
    match:
      any:
      - resources: {kinds: [Pod]}
    validate:
      message: "label team is required"
      pattern:
        metadata:
          labels:
            team: "?*"
#- /t/http-policy.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: external-check
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  validations:
  - expression: http.Get("https://checker.example/pods").allowed == true
#- /t/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: app
  labels: {team: a}
spec:
  containers: [{name: c, image: nginx}]
#- /t/cluster.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: default
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml, http-policy.yaml]
resources: [resources.yaml]
clusterResources: [cluster.yaml]
results:
- {policy: offline-gaps, rule: signed, kind: Pod, resources: [app], result: pass}
- {policy: offline-gaps, rule: approval, kind: Pod, resources: [app], result: pass}
- {policy: offline-gaps, rule: external-registry, kind: Pod, resources: [app], result: pass}
- {policy: offline-gaps, rule: label, kind: Pod, resources: [app], result: pass}
- {policy: external-check, kind: Pod, resources: [app], result: pass}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            offline-gaps/signed/app: expected pass actual unsupported -> Unsupported
            offline-gaps/approval/app: expected pass actual unsupported -> Unsupported
            offline-gaps/external-registry/app: expected pass actual unsupported -> Unsupported
            offline-gaps/label/app: expected pass actual pass -> Pass
            external-check/-/app: expected pass actual unsupported -> Unsupported
        "#]],
    );
}

#[test]
fn image_registry_entries_are_fetched_only_with_registry_access() {
    // Without `--registry` kyverno leaves the entry unset and the variable takes its default, a known
    // result; with it the data comes from the registry, which is not known offline.
    let fixture = r#"
#- /t/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: no-root-images
spec:
  rules:
  - name: image-user
    match:
      any:
      - resources: {kinds: [Pod]}
    context:
    - name: imageData
      imageRegistry:
        reference: "{{ request.object.spec.containers[0].image }}"
    - name: user
      variable:
        jmesPath: imageData.configData.config.User | to_string(@)
        default: root
    validate:
      message: "images must not run as root"
      deny:
        conditions:
          any:
          - {key: "{{ user }}", operator: Equals, value: root}
#- /t/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  containers: [{name: c, image: nginx}]
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {policy: no-root-images, rule: image-user, kind: Pod, resources: [app], result: fail}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            no-root-images/image-user/app: expected fail actual fail -> Pass
        "#]],
    );
    check_with(
        fixture,
        RunOptions { registry_access: true },
        expect_test::expect![[r#"
            no-root-images/image-user/app: expected fail actual unsupported -> Unsupported
        "#]],
    );
}

#[test]
fn a_rule_named_for_a_ruleless_policy_kind_is_ignored_as_kyverno_ignores_it() {
    // Kyverno checks every response of a CEL policy whatever rule a result names: the wrong
    // expectation must fail rather than pass as "excluded".
    let fixture = r#"
#- /t/policy.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: require-team
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  validations:
  - expression: has(object.metadata.labels) && 'team' in object.metadata.labels
#- /t/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: orphan
spec:
  containers: [{name: c, image: nginx}]
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {policy: require-team, rule: some-rule, kind: Pod, resources: [orphan], result: pass}
- {policy: require-team, rule: some-rule, kind: Pod, resources: [orphan], result: fail}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            require-team/some-rule/orphan: expected pass actual fail -> Fail
            require-team/some-rule/orphan: expected fail actual fail -> Pass
        "#]],
    );
}

#[test]
fn policies_in_versions_kyverno_does_not_serve_are_not_loaded() {
    // kyverno.io/v1beta1 was retired: the CLI skips the document, so the result finds no policy.
    let fixture = format!(
        "{}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], result: pass}}
",
        POLICY.replace("apiVersion: kyverno.io/v1\n", "apiVersion: kyverno.io/v1beta1\n")
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/good: expected pass actual not found -> Fail
            problem kyverno-test/unknown-policy at /policies/0: /t/policy.yaml: kyverno does not serve ClusterPolicy in "kyverno.io/v1beta1"; the policy is not loaded
            problem kyverno-test/unknown-policy at /results/0/policy: results[0]: policy `require-team` is not among the loaded policies
        "#]],
    );
}

#[test]
fn envoy_and_http_check_requests_are_answered_by_the_policies_of_their_mode() {
    let fixture = r#"
#- /t/policy.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: envoy-admins
spec:
  evaluation:
    mode: Envoy
  validations:
  - expression: >
      object.attributes.request.http.headers[?"x-role"].orValue("") != "admin"
        ? envoy.Denied(403).Response() : null
  - expression: envoy.Allowed().Response()
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: http-read-only
spec:
  evaluation:
    mode: HTTP
  validations:
  - expression: "object.attributes.method != 'GET' ? http.Denied('read only').Response() : null"
#- /t/admin.json
{"attributes": {"request": {"http": {"headers": {"x-role": "admin"}}}}}
#- /t/guest.json
{"attributes": {"request": {"http": {"headers": {"x-role": "guest"}}}}}
#- /t/post.json
{"attributes": {"method": "POST"}}
#- /t/not-json.json
attributes: {}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
envoyPayloads: [admin.json, guest.json, missing.json]
httpPayloads: [post.json, not-json.json]
results:
- {policy: envoy-admins, kind: "", resources: [admin.json], result: pass}
- {policy: envoy-admins, kind: "", resources: [guest.json], result: pass}
- {policy: http-read-only, kind: "", resources: [post.json], result: fail}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            envoy-admins/-/admin.json: expected pass actual pass -> Pass
            envoy-admins/-/guest.json: expected pass actual fail -> Fail
            http-read-only/-/post.json: expected fail actual fail -> Pass
            problem kyverno-test/missing-file at /envoyPayloads/2: cannot read /t/missing.json: /t/missing.json does not exist
            problem kyverno-test/invalid-payload at /httpPayloads/1: /t/not-json.json: an HTTP payload must be one JSON object
        "#]],
    );
}

/// Runs `/t/kyverno-test.yaml` of the fixture and renders each result's outcome and its diff, if any.
fn check_diff(fixture: &str, expect: expect_test::Expect) {
    let files = Memory::parse(fixture);
    let report = run_test_file_with(&files, Path::new("/t/kyverno-test.yaml"), RunOptions::default());
    let lines: Vec<String> = report
        .results
        .iter()
        .map(|result| format!("{:?}\n{}", result.outcome, result.diff.as_deref().unwrap_or("(no diff)")))
        .collect();
    expect.assert_eq(&(lines.join("\n") + "\n"));
}

/// The CLI compares a patched resource with the expected one as float64 JSON (`1` equals `1.0`), and the
/// diff of a mismatch prints the integers as they are written, not as `2.0`.
#[test]
fn patched_resources_compare_numbers_as_floats_and_print_integers() {
    let fixture = r#"
#- /t/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: set-replicas
spec:
  rules:
  - name: replicas
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    mutate:
      patchStrategicMerge:
        data:
          replicas: 2
#- /t/resources.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
#- /t/patched.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: default
data: {replicas: 2.0}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
  namespace: default
data: {replicas: 3}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {policy: set-replicas, rule: replicas, kind: ConfigMap, resources: [cm, other], patchedResources: patched.yaml, result: pass}
"#;
    check_diff(
        fixture,
        expect_test::expect![[r#"
        Pass
        (no diff)
        Fail
        --- expected
        +++ actual
          apiVersion: v1
          data:
        -   replicas: 3
        +   replicas: 2
          kind: ConfigMap
          metadata:
            name: other
          ...

    "#]],
    );
}

/// Two mutate-existing rules of one policy patching one target, and a trigger; `#- /t/kyverno-test.yaml`
/// and any further policy come from each case.
const TWO_RULES_ON_ONE_TARGET: &str = r#"
#- /t/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: label-target
spec:
  rules:
  - name: add-a
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          names: [trigger]
    mutate:
      targets:
      - apiVersion: v1
        kind: ConfigMap
        name: target
        namespace: "{{ request.object.metadata.namespace }}"
      patchStrategicMerge:
        metadata:
          labels:
            a: "yes"
  - name: add-b
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          names: [trigger]
    mutate:
      targets:
      - apiVersion: v1
        kind: ConfigMap
        name: target
        namespace: "{{ request.object.metadata.namespace }}"
      patchStrategicMerge:
        metadata:
          labels:
            b: "yes"
#- /t/trigger.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: trigger
  namespace: default
#- /t/target.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: target
  namespace: default
#- /t/patched-a.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: target
  namespace: default
  labels: {a: "yes"}
"#;

#[test]
fn a_mutate_existing_target_is_compared_as_the_cli_builds_its_target_map() {
    // Each rule patches the target as it was loaded, and of one policy's rules the first that patched the
    // target is the one compared, whichever rule the entry names: `add-b`'s entry compares `add-a`'s patch.
    let one_policy = format!(
        "{TWO_RULES_ON_ONE_TARGET}{}",
        r#"
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [trigger.yaml]
targetResources: [target.yaml]
results:
- {policy: label-target, rule: add-b, kind: ConfigMap, resources: [target], patchedResources: patched-a.yaml, result: pass}
"#
    );
    check(
        &one_policy,
        expect_test::expect![[r#"
            label-target/add-b/target: expected pass actual pass -> Pass
        "#]],
    );
    // Every policy that patched the target answers for it, whichever policy the entry names: the
    // annotation policy's patch is not `patched-a.yaml`, so the entry fails as it does in the CLI.
    let with_policy = |policy: &str| {
        format!(
            "{TWO_RULES_ON_ONE_TARGET}\n#- /t/other.yaml\n{policy}{}",
            r#"
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml, other.yaml]
resources: [trigger.yaml]
targetResources: [target.yaml]
results:
- {policy: label-target, rule: add-a, kind: ConfigMap, resources: [target], patchedResources: patched-a.yaml, result: pass}
"#
        )
    };
    let annotate = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: annotate-target
spec:
  rules:
  - name: annotate
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          names: [trigger]
    mutate:
      targets:
      - {apiVersion: v1, kind: ConfigMap, name: target, namespace: default}
      patchStrategicMerge:
        metadata:
          annotations:
            seen: "yes"
"#;
    check(
        &with_policy(annotate),
        expect_test::expect![[r#"
            label-target/add-a/target: expected pass actual fail -> Fail
        "#]],
    );
    // A rule whose target precondition leaves the target alone (a skip) gives the target no response.
    let skipped = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: never-target
spec:
  rules:
  - name: never
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          names: [trigger]
    mutate:
      targets:
      - apiVersion: v1
        kind: ConfigMap
        name: target
        namespace: default
        preconditions:
          all:
          - {key: "{{ target.metadata.name }}", operator: Equals, value: other}
      patchStrategicMerge:
        metadata:
          labels:
            never: "yes"
"#;
    check(
        &with_policy(skipped),
        expect_test::expect![[r#"
            label-target/add-a/target: expected pass actual pass -> Pass
        "#]],
    );
}

#[test]
fn a_name_shared_by_a_trigger_and_a_target_is_checked_on_both() {
    // The CLI looks a result's resource name up among the triggers and the patched targets alike: the
    // Deployment `web` fails validation as expected, but the ConfigMap `web` that a mutate-existing rule
    // patched answers too, with a pass the entry did not expect, so the entry fails as in the CLI.
    let fixture = r#"
#- /t/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  rules:
  - name: check-team
    match:
      any:
      - resources:
          kinds: [Deployment]
    validate:
      failureAction: Enforce
      message: a team label is required
      pattern:
        metadata:
          labels:
            team: "?*"
#- /t/mark.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: mark-config
spec:
  rules:
  - name: mark
    match:
      any:
      - resources:
          kinds: [Deployment]
    mutate:
      targets:
      - apiVersion: v1
        kind: ConfigMap
        name: "{{ request.object.metadata.name }}"
        namespace: "{{ request.object.metadata.namespace }}"
      patchStrategicMerge:
        metadata:
          labels:
            deployed: "yes"
#- /t/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  template:
    spec:
      containers: [{name: c, image: nginx}]
#- /t/config.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
  namespace: default
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml, mark.yaml]
resources: [deployment.yaml]
targetResources: [config.yaml]
results:
- {policy: require-team, rule: check-team, kind: Deployment, resources: [web], result: fail}
- {policy: mark-config, rule: mark, kind: ConfigMap, resources: [default/web], result: pass}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            require-team/check-team/web: expected fail actual pass -> Fail
            mark-config/mark/default/web: expected pass actual pass -> Pass
        "#]],
    );
}

#[test]
fn patched_resources_are_compared_for_validation_rules_too() {
    // `checkResult` compares `patchedResources` with the resource a validate rule saw: a result whose
    // file holds a different `good` fails, and one whose file lacks it is skipped.
    let fixture = format!(
        "{POLICY}
#- /t/other-good.yaml
apiVersion: v1
kind: Pod
metadata:
  name: good
  namespace: default
  labels: {{team: b}}
spec:
  containers: [{{name: c, image: nginx}}]
#- /t/unrelated.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: unrelated
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], patchedResources: other-good.yaml, result: pass}}
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], patchedResources: unrelated.yaml, result: fail}}
"
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/good: expected pass actual fail -> Fail
            require-team/check-team/good: expected fail actual fail -> Pass
        "#]],
    );
}

#[test]
fn of_resources_with_one_name_the_first_is_checked() {
    // Two files define Pod `default/twin`: the CLI keeps the first it loads and checks only that one.
    let fixture = format!(
        "{POLICY}
#- /t/twin-good.yaml
apiVersion: v1
kind: Pod
metadata:
  name: twin
  labels: {{team: a}}
spec:
  containers: [{{name: c, image: nginx}}]
#- /t/twin-bad.yaml
apiVersion: v1
kind: Pod
metadata:
  name: twin
  namespace: default
spec:
  containers: [{{name: c, image: nginx}}]
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [twin-good.yaml, twin-bad.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [twin], result: pass}}
"
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/twin: expected pass actual pass -> Pass
        "#]],
    );
}

#[test]
fn resource_specs_count_beside_a_resources_list_only() {
    // The CLI reads `resourceSpecs` only when the result has a `resources` list; without one the result
    // names nothing and every resource is checked (`bad-deploy` fails the expected pass).
    let fixture = format!(
        "{POLICY}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [], resourceSpecs: [{{version: v1, kind: Pod, namespace: default, name: good}}], result: pass}}
- {{policy: require-team, rule: check-team, kind: Pod, resourceSpecs: [{{version: v1, kind: Pod, namespace: default, name: good}}], result: pass}}
"
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/default/good: expected pass actual pass -> Pass
            require-team/check-team/default/good: expected pass actual pass -> Pass
            require-team/check-team/default/bad-deploy: expected pass actual fail -> Fail
        "#]],
    );
}

#[test]
fn resources_are_compared_with_the_clis_label_fixup() {
    // Before comparing, the CLI drops `generate.kyverno.io/` labels and gives both sides
    // `app.kubernetes.io/managed-by: kyverno` unless they name another manager; only the top-level labels.
    let fixture = r#"
#- /t/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: add-owner
spec:
  rules:
  - name: owner
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            owner: platform
#- /t/resources.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: default
#- /t/generated-label.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: default
  labels: {owner: platform, generate.kyverno.io/policy-name: add-owner, app.kubernetes.io/managed-by: kyverno}
#- /t/helm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  namespace: default
  labels: {owner: platform, app.kubernetes.io/managed-by: Helm}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {policy: add-owner, rule: owner, kind: ConfigMap, resources: [cm], patchedResources: generated-label.yaml, result: pass}
- {policy: add-owner, rule: owner, kind: ConfigMap, resources: [cm], patchedResources: helm.yaml, result: pass}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            add-owner/owner/cm: expected pass actual pass -> Pass
            add-owner/owner/cm: expected pass actual fail -> Fail
        "#]],
    );
}

#[test]
fn a_target_answers_for_every_run_of_its_triggers() {
    // The CLI evaluates the trigger once as the values say (CREATE) and once more for the UPDATE a result
    // names; the target's responses come from both runs, whatever operation the entry names, so the
    // target entry sees the UPDATE stamp that its CREATE file lacks.
    let fixture = r#"
#- /t/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: stamp-config
spec:
  rules:
  - name: stamp
    match:
      any:
      - resources:
          kinds: [Deployment]
          operations: [CREATE, UPDATE]
    mutate:
      targets:
      - {apiVersion: v1, kind: ConfigMap, name: settings, namespace: default}
      patchStrategicMerge:
        metadata:
          annotations:
            stamped-on: "{{ request.operation }}"
#- /t/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
#- /t/config.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
#- /t/created.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default, annotations: {stamped-on: CREATE}}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [deployment.yaml]
targetResources: [config.yaml]
results:
- {policy: stamp-config, rule: stamp, kind: Deployment, resources: [web], operation: UPDATE, result: pass}
- {policy: stamp-config, rule: stamp, kind: ConfigMap, resources: [settings], patchedResources: created.yaml, result: pass}
"#;
    check(
        fixture,
        expect_test::expect![[r#"
            stamp-config/stamp/web: expected pass actual pass -> Pass
            stamp-config/stamp/settings: expected pass actual fail -> Fail
        "#]],
    );
}

#[test]
fn a_policy_kyverno_refuses_is_skipped_whatever_its_results_expect() {
    // `kyverno test` validates each ClusterPolicy first and skips the invalid ones: their results are
    // reported as skipped, which passes, whatever they expect.
    let fixture = format!(
        "#- /t/policy.yaml\n{}{}",
        crate::support::USER_VARIABLE_POLICY,
        r#"#- /t/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers: [{name: c, image: nginx}]
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: t}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {policy: who, rule: check-user, kind: Pod, resources: [web], result: fail}
"#
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            who/check-user/web: expected fail actual skip -> Pass
        "#]],
    );
}

#[test]
fn a_name_that_finds_nothing_beside_names_that_do_is_ignored() {
    // `printTestResult` checks the resources the names find and ignores the others: `nobody` is a
    // warning (the run passes, as kyverno's does) while a result naming nothing it finds fails.
    let fixture = format!(
        "{POLICY}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good, nobody], result: pass}}
- {{policy: require-team, rule: check-team, kind: Pod, resources: [nobody], result: pass}}
"
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/good: expected pass actual pass -> Pass
            require-team/check-team/nobody: expected pass actual not found -> Fail
            problem kyverno-test/ignored-resource at /results/0/resources/1: results[0]: resource `nobody` is not among the loaded resources (kyverno ignores it beside the names it finds)
            problem kyverno-test/unknown-resource at /results/1/resources/0: results[1]: resource `nobody` is not among the loaded resources
        "#]],
    );
}

#[test]
fn a_resource_spec_takes_in_its_group_and_version_only() {
    // A spec's `group/version` must be the resource's apiVersion (`version` alone for the core group);
    // the kind is not compared, as the CLI does not compare it.
    let fixture = format!(
        "{POLICY}
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [], resourceSpecs: [{{group: apps, version: v1, kind: Pod, namespace: default, name: good}}], result: pass}}
- {{policy: require-team, rule: check-team, kind: Deployment, resources: [], resourceSpecs: [{{group: apps, version: v1, kind: Pod, namespace: default, name: bad-deploy}}], result: fail}}
- {{policy: require-team, rule: check-team, kind: Pod, resources: [], resourceSpecs: [{{version: v1, kind: Deployment, namespace: default, name: good}}], result: pass}}
"
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/default/good: expected pass actual not found -> Fail
            require-team/check-team/default/bad-deploy: expected fail actual fail -> Pass
            require-team/check-team/default/good: expected pass actual pass -> Pass
            problem kyverno-test/unknown-resource at /results/0/resourceSpecs/0: results[0]: resource spec `default/good` is not among the loaded resources
        "#]],
    );
}

#[test]
fn a_generated_resource_file_is_compared_with_the_resource_of_any_rule() {
    // `checkResult` compares `generatedResource` with the resource a rule answered with, whatever the
    // rule's type: for a validate rule, the resource it validated.
    let fixture = format!(
        "{POLICY}
#- /t/same-good.yaml
apiVersion: v1
kind: Pod
metadata:
  name: good
  namespace: default
  labels: {{team: a}}
spec:
  containers: [{{name: c, image: nginx}}]
#- /t/other-good.yaml
apiVersion: v1
kind: Pod
metadata:
  name: good
  namespace: default
  labels: {{team: b}}
spec:
  containers: [{{name: c, image: nginx}}]
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {{name: t}}
policies: [policy.yaml]
resources: [resources.yaml]
results:
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], generatedResource: same-good.yaml, result: pass}}
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], generatedResource: other-good.yaml, result: pass}}
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], generatedResources: [other-good.yaml, same-good.yaml], result: pass}}
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], generatedResources: [other-good.yaml], result: pass}}
- {{policy: require-team, rule: check-team, kind: Pod, resources: [good], generatedResources: [missing.yaml], result: pass}}
"
    );
    check(
        &fixture,
        expect_test::expect![[r#"
            require-team/check-team/good: expected pass actual pass -> Pass
            require-team/check-team/good: expected pass actual fail -> Fail
            require-team/check-team/good: expected pass actual pass -> Pass
            require-team/check-team/good: expected pass actual fail -> Fail
            require-team/check-team/good: expected pass actual fail -> Fail
        "#]],
    );
}
