//! Diagnostics on fixtures: YAML syntax, schema violations and test-file references land on the exact
//! key or value, with the expected code and message.

use std::sync::Arc;

use crate::support::{MemoryFiles, check_annotated_diagnostics};
use policy_lsp::ide::AnalysisHost;

/// Analyses every file of the fixture and compares the diagnostics of each with its annotations.
fn check(fixture: &str) {
    check_annotated_diagnostics(fixture, |_| true);
}

#[test]
fn misspelt_key_in_a_rule() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: require-labels
        spec:
          rules:
            - name: check-team
              match:
                any:
                  - resources:
                      kinds: [Pod]
              valdate:
        #     ^^^^^^^ error[schema/unknown-field]: unknown field `valdate`; did you mean `validate`?
                message: "label `team` is required"
                pattern:
                  metadata:
                    labels:
                      team: "?*"
        "#,
    );
}

#[test]
fn wrong_enum_value_with_suggestion() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          background: true
          rules:
            - name: r
              match:
                any:
                  - resources:
                      kinds: [Pod]
              validate:
                failureAction: Enforse
        #                      ^^^^^^^ error[schema/enum]: `Enforse` is not one of Audit, Enforce; did you mean `Enforce`?
                deny: {}
        "#,
    );
}

#[test]
fn wrong_type_on_the_value() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          background: sometimes
        #             ^^^^^^^^^ error[schema/type]: expected a boolean, found the string `sometimes`
          rules: []
        "#,
    );
}

#[test]
fn yaml11_booleans_count_as_booleans() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          background: yes
          rules: []
        "#,
    );
}

#[test]
fn missing_required_field_on_the_parent_key() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          rules:
            - match:
        #     ^^^^^^ error[schema/required]: missing required field `name`
                any:
                  - resources:
                      kinds: [Pod]
              validate:
                deny: {}
        "#,
    );
}

#[test]
fn deprecated_field_is_a_warning() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          validationFailureAction: Audit
        # ^^^^^^^^^^^^^^^^^^^^^^^ warning[schema/deprecated]: `validationFailureAction` is deprecated: Deprecated, use validationFailureAction under the validate rule instead.
          rules: []
        "#,
    );
}

#[test]
fn yaml_syntax_error_on_its_line() {
    check(
        r#"
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          labels
        # ^^^^^^ error[yaml/syntax]: `labels` is not a `key: value` pair: add `:` after the key, or remove the line
        data:
          mode: strict
        "#,
    );
}

#[test]
fn duplicate_key() {
    check(
        r#"
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: a
          name: b
        # ^^^^ error[yaml/duplicate-key]: duplicate key `name`: Kubernetes rejects a mapping that sets a key twice
        "#,
    );
}

#[test]
fn unknown_kind_with_suggestion() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolice
        #     ^^^^^^^^^^^^^ error[schema/unknown-kind]: unknown kind `ClusterPolice` in kyverno.io/v1; did you mean `ClusterPolicy`?
        metadata:
          name: p
        "#,
    );
}

#[test]
fn plain_resources_get_warnings() {
    check(
        r#"
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
            - name: web
              image: nginx
              imagePullPolicy: Sometimes
        #                      ^^^^^^^^^ warning[schema/enum]: `Sometimes` is not one of Always, Never, IfNotPresent
        "#,
    );
}

#[test]
fn multi_document_streams_are_checked_per_document() {
    check(
        r#"
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: a
        datta: {}
        #^^^^ warning[schema/unknown-field]: unknown field `datta`; did you mean `data`?
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: b
          labelz: {}
        # ^^^^^^ warning[schema/unknown-field]: unknown field `labelz`; did you mean `labels`?
        "#,
    );
}

#[test]
fn kyverno_test_references() {
    check(
        r#"
        #- /repo/policy.yaml
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: require-labels
        spec:
          rules:
            - name: check-team
              match:
                any:
                  - resources:
                      kinds: [Pod]
              validate:
                deny: {}
        #- /repo/resources.yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: good-pod
        spec:
          containers:
            - name: c
              image: nginx
        #- /repo/kyverno-test.yaml
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Test
        metadata:
          name: t
        policies:
          - policy.yaml
        resources:
          - resources.yaml
          - missing.yaml
        #   ^^^^^^^^^^^^ error[test/missing-file]: `missing.yaml` does not exist (looked for /repo/missing.yaml)
        results:
          - policy: require-label
        #           ^^^^^^^^^^^^^ error[test/unknown-policy]: policy `require-label` is not defined in the files listed under `policies`
            rule: check-team
            kind: Pod
            resources: [good-pod]
            result: pass
          - policy: require-labels
            rule: check-teams
        #         ^^^^^^^^^^^ warning[test/unknown-rule]: rule `check-teams` is not in policy `require-labels`; kyverno never checks this result; did you mean `check-team`?
            kind: Pod
            resources: [good-pod]
            result: pass
        "#,
    );
}

#[test]
fn constraint_parameters_follow_their_template() {
    check(
        r#"
        #- /repo/template.yaml
        apiVersion: templates.gatekeeper.sh/v1
        kind: ConstraintTemplate
        metadata:
          name: k8srequiredlabels
        spec:
          crd:
            spec:
              names:
                kind: K8sRequiredLabels
              validation:
                openAPIV3Schema:
                  type: object
                  properties:
                    labels:
                      type: array
                      items:
                        type: string
          targets:
            - target: admission.k8s.gatekeeper.sh
              rego: |
                package k8srequiredlabels
                violation[{"msg": "x"}] { false }
        #- /repo/constraint.yaml
        apiVersion: constraints.gatekeeper.sh/v1beta1
        kind: K8sRequiredLabels
        metadata:
          name: must-have-owner
        spec:
          match:
            kinds:
              - apiGroups: [""]
                kinds: [Namespace]
          parameters:
            lables: ["owner"]
        #   ^^^^^^ error[schema/unknown-field]: unknown field `lables`; did you mean `labels`?
        "#,
    );
}

#[test]
fn gator_suite_references() {
    check(
        r#"
        #- /repo/template.yaml
        apiVersion: templates.gatekeeper.sh/v1
        kind: ConstraintTemplate
        metadata:
          name: k8srequiredlabels
        spec:
          crd:
            spec:
              names:
                kind: K8sRequiredLabels
          targets:
            - target: admission.k8s.gatekeeper.sh
              rego: |
                package k8srequiredlabels
        #- /repo/constraint.yaml
        apiVersion: constraints.gatekeeper.sh/v1beta1
        kind: K8sAllowedRepos
        metadata:
          name: repos
        #- /repo/suite.yaml
        apiVersion: test.gatekeeper.sh/v1alpha1
        kind: Suite
        tests:
          - name: labels
            template: template.yaml
            constraint: constraint.yaml
        #               ^^^^^^^^^^^^^^^ error[test/kind-mismatch]: the constraint is a `K8sAllowedRepos` but the template defines `K8sRequiredLabels`
            cases:
              - name: example
                object: samples/missing.yaml
        #               ^^^^^^^^^^^^^^^^^^^^ error[test/missing-file]: `samples/missing.yaml` does not exist (looked for /repo/samples/missing.yaml)
                assertions:
                  - violations: no
        "#,
    );
}

#[test]
fn alias_bomb_is_cut_off() {
    let mut fixture = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..8 {
        let previous = level - 1;
        fixture.push_str(&format!("a{level}: &a{level} [*a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}]\n"));
    }
    let analysis = {
        let mut host = AnalysisHost::new(Arc::new(MemoryFiles::default()));
        host.set_file("/work/bomb.yaml".into(), &fixture);
        host.snapshot()
    };
    let codes: Vec<&str> = analysis
        .diagnostics(std::path::Path::new("/work/bomb.yaml"))
        .iter()
        .map(|diagnostic| diagnostic.code.as_str())
        .collect();
    assert!(codes.contains(&"yaml/alias-limit"), "{codes:?}");
}

#[test]
fn rego_errors_land_inside_the_block_scalar() {
    check(
        r#"
        apiVersion: templates.gatekeeper.sh/v1
        kind: ConstraintTemplate
        metadata:
          name: k8sdemo
        spec:
          crd:
            spec:
              names:
                kind: K8sDemo
          targets:
            - target: admission.k8s.gatekeeper.sh
              rego: |
                package k8sdemo
                violation[{"msg": msg}] {
                  msg := sprintf("%v", [1, 2)
        #                                   ^ error[rego/compile]: `)` does not close the `[` opened on line 3
                }
        "#,
    );
}

#[test]
fn deprecated_rego_builtins_warn_in_v0_and_do_not_compile_in_v1() {
    check(
        r#"
        apiVersion: templates.gatekeeper.sh/v1
        kind: ConstraintTemplate
        metadata:
          name: k8sdemo
        spec:
          crd:
            spec:
              names:
                kind: K8sDemo
          targets:
            - target: admission.k8s.gatekeeper.sh
              rego: |
                package k8sdemo
                violation[{"msg": "bad name"}] {
                  re_match("^x", input.review.object.metadata.name)
        #         ^^^^^^^^ warning[rego/deprecated]: re_match is a deprecated built-in (Rego v1 removed it); use `regex.match`
                }
        "#,
    );
    check(
        r#"
        apiVersion: templates.gatekeeper.sh/v1
        kind: ConstraintTemplate
        metadata:
          name: k8sdemo
        spec:
          crd:
            spec:
              names:
                kind: K8sDemo
          targets:
            - target: admission.k8s.gatekeeper.sh
              code:
                - engine: Rego
                  source:
                    version: v1
                    rego: |
                      package k8sdemo
                      violation contains {"msg": "bad name"} if {
                        any([startswith(input.review.object.metadata.name, "x")])
        #               ^^^ error[rego/compile]: undefined function any: Rego v1 removed this deprecated built-in; use a rule or comprehension with `some`
                      }
        "#,
    );
}

#[test]
fn image_validating_policy_is_linted_though_tests_cannot_run_it() {
    check(
        r#"
        apiVersion: policies.kyverno.io/v1
        kind: ImageValidatingPolicy
        metadata:
          name: signed-images
        spec:
          matchConstraints:
            resourceRules:
              - apiGroups: [""]
                apiVersions: [v1]
                operations: [CREATE]
                resources: [pods]
          matchImageReference:
        # ^^^^^^^^^^^^^^^^^^^ error[schema/unknown-field]: unknown field `matchImageReference`; did you mean `matchImageReferences`?
            - glob: "ghcr.io/*"
          attestors:
            - name: cosign
              cosign:
                key:
                  data: "-----BEGIN PUBLIC KEY-----"
          validations:
            - expression: "images.containers.all(image, verifyImageSignatures(image, [attestors.cosign]) > 0)"
            - expression: "images.containers.all(image, verifyImageSignatur(image, [attestors.cosign]) > 0)"
        #                                               ^^^^^^^^^^^^^^^^^^^ error[cel/compile]: undeclared reference to 'verifyImageSignatur'
        "#,
    );
}

#[test]
fn an_embedded_test_that_can_never_match_is_flagged() {
    crate::support::check_annotated_diagnostics(
        r#"
#- /w/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  rules:
    - name: team-label
      match:
        any:
          - resources:
              kinds:
                - Pod
      validate:
        failureAction: Audit
        message: "a team label is required"
        pattern:
          metadata:
            labels:
              team: "?*"
---
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-team
results:
  - policy: require-team
    rule: team-label
    resources:
      - web
      - frontend
#       ^^^^^^^^ warning[test/embedded-never-matches]: `frontend` is a Service, but rule `team-label` matches only Pod: this result can never match, and kyverno reports it skipped whatever it expects
      - ghost
#       ^^^^^ error[test/unknown-resource]: resource `ghost` is not defined in this file
    result: pass
  - policy: require-teams
#           ^^^^^^^^^^^^^ error[test/unknown-policy]: policy `require-teams` is not defined in this file
    resources:
      - web
    result: pass
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
---
apiVersion: v1
kind: Service
metadata:
  name: frontend
"#,
        |code| code.starts_with("test/"),
    );
}

#[test]
fn test_files_name_json_payloads_and_param_resources() {
    check(
        r#"
        #- /repo/policy.yaml
        apiVersion: policies.kyverno.io/v1
        kind: ValidatingPolicy
        metadata:
          name: plan-check
        spec:
          evaluation:
            mode: JSON
          validations:
            - expression: "has(object.resource_changes)"
        #- /repo/resources.yaml
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cm
        #- /repo/plan.json
        {"resource_changes": []}
        #- /repo/kyverno-test.yaml
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Test
        metadata:
          name: t
        policies: [policy.yaml]
        resources: [resources.yaml]
        paramResources: [params.yaml]
        #                ^^^^^^^^^^^ error[test/missing-file]: `params.yaml` does not exist (looked for /repo/params.yaml)
        jsonPayloads: [plan.json, nowhere.json]
        #                         ^^^^^^^^^^^^ error[test/missing-file]: `nowhere.json` does not exist (looked for /repo/nowhere.json)
        results:
          - policy: plan-check
            kind: ""
            resources: [plan.json, cm]
            result: pass
        "#,
    );
}

#[test]
fn an_embedded_test_without_a_policy_in_its_file_is_flagged() {
    crate::support::check_annotated_diagnostics(
        r#"
#- /w/lonely-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
#     ^^^^ error[test/embedded-never-matches]: this Test lists no `policies` and its file holds no policy to fill them in
metadata:
  name: lonely
results: []
"#,
        |code| code.starts_with("test/"),
    );
}
