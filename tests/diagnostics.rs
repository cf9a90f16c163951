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
        # ^^^^^^^^^^^^^^^^^^^^^^^ warning[schema/deprecated]: `validationFailureAction` is deprecated: set `validate.failureAction` in each rule instead
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

/// The three mistakes that tree-sitter blurs land on the offending token with libyaml's words, and the rest
/// of the document still gets its schema diagnostics.
#[test]
fn yaml_syntax_errors_where_libyaml_puts_them_and_the_rest_still_checked() {
    check(
        "
        #- /repo/misindented.yaml
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
           namespace: default
        #           ^ error[yaml/syntax]: mapping values are not allowed here: a `key: value` stands where a plain value or a key of another indentation belongs; fix the indentation, or quote a value that holds `: `
        data:
          mode: strict
        binaryData: 3
        #           ^ warning[schema/type]: expected a mapping, found the number `3`
        #- /repo/tab.yaml
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          labels:
          \tteam: a
        # ^ error[yaml/syntax]: found a tab character where indentation is expected: YAML indents with spaces only
        dataz: {}
        #^^^^ warning[schema/unknown-field]: unknown field `dataz`; did you mean `data`?
        #- /repo/colon.yaml
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings

          annotations
        # ^^^^^^^^^^^ error[yaml/syntax]: `annotations` is not a `key: value` pair: add `:` after the key, or remove the line
        immutable: maybe
        #          ^^^^^ warning[schema/type]: expected a boolean, found the string `maybe`
        ",
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

/// A repository that ships its policies as a Helm chart renders them beside its tests before `kyverno test`
/// runs: the missing policy file is a warning there, while a missing resource stays an error.
#[test]
fn a_policy_rendered_from_the_repository_chart_is_missing_only_until_rendered() {
    check(
        r#"
        #- /repo/chart/Chart.yaml
        apiVersion: v2
        name: policies
        version: 1.0.0
        #- /repo/tests/require-labels/.kyverno-test/kyverno-test.yaml
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Test
        #     ^^^^ warning[test/no-results]: this Test has no `results`: `kyverno test` skips it and checks nothing
        metadata:
          name: t
        policies:
          - ../policy.yaml
        #   ^^^^^^^^^^^^^^ warning[test/missing-file]: `../policy.yaml` does not exist (looked for /repo/tests/require-labels/policy.yaml); this repository has a Helm chart (/repo/chart/Chart.yaml), so the policy is probably rendered there before the test runs: render it (`helm template`) to check the test
        resources:
          - resource.yaml
        #   ^^^^^^^^^^^^^ error[test/missing-file]: `resource.yaml` does not exist (looked for /repo/tests/require-labels/.kyverno-test/resource.yaml)
        "#,
    );
}

#[test]
fn a_kyverno_test_without_results_is_a_warning() {
    check(
        r#"
        #- /repo/kyverno-test.yaml
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Test
        #     ^^^^ warning[test/no-results]: this Test has no `results`: `kyverno test` skips it and checks nothing
        metadata:
          name: nothing
        policies: []
        ---
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Test
        metadata:
          name: empty
        policies: []
        results: []
        #        ^^ warning[test/no-results]: this Test has no `results`: `kyverno test` skips it and checks nothing
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
#        ^^ warning[test/no-results]: this Test has no `results`: `kyverno test` skips it and checks nothing
"#,
        |code| code.starts_with("test/"),
    );
}

#[test]
fn every_kind_of_the_kubernetes_openapi_is_known_subresource_bodies_included() {
    check(
        r#"
        apiVersion: autoscaling/v1
        kind: Scale
        metadata:
          name: web
          namespace: default
        spec:
          replicas: 3
        "#,
    );
}

#[test]
fn cli_files_accept_what_the_kyverno_cli_decodes() {
    // The CLI decodes Values into Go structs: an explicit null is the zero value, and presence is never
    // checked, so a missing field is a warning; an unknown field still fails the strict decoding.
    check(
        r#"
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Values
        subresources:
          - parentResource:
        #   ^^^^^^^^^^^^^^^ warning[schema/required]: missing required field `subresource`
              name: deployments
              kind: Deployment
              group: apps
              version: v1
              namespaced: true
              singularName: ""
              verbs: null
        policies:
          - name: p
            rules:
              - name: r
                valuez: {}
        #       ^^^^^^ error[schema/unknown-field]: unknown field `valuez`; did you mean `values`?
        "#,
    );
}

#[test]
fn a_result_may_name_a_target_resource_of_a_mutate_existing_policy() {
    check(
        r#"
#- /w/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: t
policies: [policy.yaml]
resources: [trigger.yaml]
targetResources: [target.yaml]
results:
  - policy: label-targets
    rule: label
    kind: ConfigMap
    resources: [team-a/settings, team-a/absent]
#                                ^^^^^^^^^^^^^ error[test/unknown-resource]: resource `team-a/absent` is not defined in the files listed under `resources` and `targetResources`
    result: pass
#- /w/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: label-targets
spec:
  rules:
    - name: label
      match:
        any:
          - resources:
              kinds: [Namespace]
      mutate:
        targets:
          - apiVersion: v1
            kind: ConfigMap
            namespace: team-a
        patchStrategicMerge:
          metadata:
            labels:
              seen: "true"
#- /w/trigger.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
#- /w/target.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team-a
"#,
    );
}

/// Two teams define the same constraint kind with different parameters; each constraint is checked
/// against the template of its own folder, or of its nearest ancestor folder.
const TWO_TEMPLATES_OF_ONE_KIND: &str = r#"
#- /repo/team-a/template.yaml
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
        violation[{"msg": "missing"}] { false }
#- /repo/team-b/template.yaml
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
                type: object
                properties:
                  key:
                    type: string
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredlabels
        violation[{"msg": "missing"}] { false }
#- /repo/team-a/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: team-label
spec:
  parameters:
    labels: ["team", {key: owner}]
#                    ^^^^^^^^^^^^ error[schema/type]: expected a string, found a mapping
#- /repo/team-b/samples/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: owner-label
spec:
  parameters:
    labels: [{key: owner}, "team"]
#                          ^^^^^^ error[schema/type]: expected a mapping, found the string `team`
"#;

#[test]
fn a_constraint_is_checked_against_the_template_of_its_folder_or_nearest_ancestor() {
    check(TWO_TEMPLATES_OF_ONE_KIND);
}

#[test]
fn a_constraint_far_from_two_different_templates_is_not_judged_against_either() {
    check(&format!(
        "{TWO_TEMPLATES_OF_ONE_KIND}{}",
        r#"#- /repo/shared/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: anything
spec:
  parameters:
    labels: [42]
"#
    ));
}

#[test]
fn a_plain_resource_of_a_kind_no_api_serves_is_a_warning() {
    // gator reviews made-up kinds (here the generator of an expansion template) as test objects.
    check(
        r#"
        apiVersion: apps/v1
        kind: FooTemplate
        #     ^^^^^^^^^^^ warning[schema/unknown-kind]: unknown kind `FooTemplate` in apps/v1
        metadata:
          name: foo-template
        spec:
          template:
            foo: bar
        "#,
    );
}

#[test]
fn a_collection_key_is_one_error_not_also_an_unknown_field() {
    check(
        r#"
        apiVersion: constraints.gatekeeper.sh/v1beta1
        kind: K8sAlwaysValid
        metadata:
          name: always-pass
          {}: {}
        # ^^ error[yaml/complex-key]: a mapping key must be a scalar in Kubernetes YAML
        "#,
    );
}

#[test]
fn chainsaw_tests_and_the_partial_objects_they_assert_are_recognised() {
    check(
        r#"
#- /e2e/.chainsaw-test/chainsaw-test.yaml
apiVersion: chainsaw.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-labels
spec:
  steps:
    - try:
        - apply:
            file: policy.yaml
        - assert:
            file: policy-ready.yaml
#- /e2e/.chainsaw-test/policy-ready.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-labels
status:
  ready: true
#- /e2e/.chainsaw-test/conditions.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: require-labels
status:
  conditionStatus:
    (conditions[?type == 'WebhookConfigured']):
      - status: "True"
#- /e2e/.chainsaw-test/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
#^^^ error[schema/required]: missing required field `spec`
metadata:
  name: require-labels
"#,
    );
}

#[test]
fn the_test_format_kyverno_no_longer_reads_is_one_clear_error() {
    check(
        r#"
#- /old/kyverno-test.yaml
name: require-labels
#^^^ error[test/legacy-format]: `kyverno test` refuses this test: it has no apiVersion and kind (the format before Kyverno 1.11); add `apiVersion: cli.kyverno.io/v1alpha1` and `kind: Test`, and move `name` to `metadata.name`
policies: [policy.yaml]
resources: [pod.yaml]
results: []
#- /old/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-labels
spec:
  rules: []
#- /old/pod.yaml
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers: [{name: web, image: nginx}]
#- /new/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-labels
policies: [../old/policy.yaml]
resources: [../old/pod.yaml]
variables: values.yaml
#          ^^^^^^^^^^^ error[test/legacy-format]: `kyverno test` refuses this file: it has no apiVersion and kind (the format before Kyverno 1.11); add `apiVersion: cli.kyverno.io/v1alpha1` and `kind: Values` to it
results: []
#        ^^ warning[test/no-results]: this Test has no `results`: `kyverno test` skips it and checks nothing
#- /new/values.yaml
policies:
  - name: require-labels
    resources:
      - name: web
        values: {}
"#,
    );
}

#[test]
fn kyverno_refuses_a_variable_that_is_neither_its_own_nor_a_context_entry() {
    // The context defines `replicaCount`; the message reads `replicas`: Kyverno's validation substitutes the
    // rule against a mock context that knows only its own variables and the context's names.
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: replicas
        spec:
          rules:
            - name: at-most-three
              match:
                any:
                  - resources:
                      kinds: [Deployment]
              context:
                - name: replicaCount
                  variable:
                    jmesPath: request.object.spec.replicas
              validate:
                failureAction: Enforce
                message: "{{ replicas }} replicas, {{ replicaCount }} at most"
        #                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ error[schema/refused-policy]: Kyverno refuses this policy: variable substitution failed for rule `at-most-three`: `replicas` is neither one of Kyverno's variables (request fields, element, elementIndex, @, images, a function call) nor a name of the rule's context (the rule's context defines replicaCount*)
                deny:
                  conditions:
                    any:
                      - key: "{{ replicaCount }}"
                        operator: GreaterThan
                        value: 3
        "#,
    );
}

#[test]
fn kyverno_refuses_incomplete_context_entries_and_relative_patch_paths() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: context
        spec:
          rules:
            - name: defaults
              match:
                any:
                  - resources:
                      kinds: [Pod]
              context:
                - name: limit
                  variable:
                    value: 3
                    default: 2
        #                    ^ error[schema/refused-policy]: Kyverno refuses this policy: a variable must define a default value only when a jmesPath expression is defined
                - name: element.count
        #               ^^^^^^^^^^^^^ error[schema/refused-policy]: Kyverno refuses this policy: entry name element.count is invalid as it conflicts with a pre-defined variable element
                  variable:
                    value: 1
              validate:
                failureAction: Enforce
                message: "at most {{ limit }}"
                deny: {}
            - name: label
              match:
                any:
                  - resources:
                      kinds: [Pod]
              mutate:
                patchesJson6902: "[{op: add, path: metadata/labels/team, value: x}]"
        #                        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ error[schema/refused-policy]: Kyverno refuses this policy: path must begin with a forward slash: spec.rules[1]: metadata/labels/team
        "#,
    );
}

#[test]
fn kyverno_refuses_conditions_with_unknown_operators_or_operations() {
    // Preconditions and deny conditions are free-form in the CRD: Kyverno's validation checks them.
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: conditions
        spec:
          rules:
            - name: on-create
              match:
                any:
                  - resources:
                      kinds: [Pod]
              preconditions:
                all:
                  - key: "{{ request.operation }}"
                    operator: AnyIn
                    value: [CREATE, UPDATES]
        #                           ^^^^^^^ error[schema/refused-policy]: Kyverno refuses this policy: unknown value 'UPDATES' found under the 'value' field. Only the following values are allowed: [CREATE, UPDATE, DELETE, CONNECT]
              validate:
                failureAction: Enforce
                message: no host network
                deny:
                  conditions:
                    any:
                      - key: "{{ request.object.spec.hostNetwork }}"
                        operator: equals
        #                         ^^^^^^ error[schema/refused-policy]: Kyverno refuses this policy: entered value of `operator` is invalid: `equals` is none of Equal, Equals, NotEqual, NotEquals, In, AnyIn, AllIn, NotIn, AnyNotIn, AllNotIn, GreaterThanOrEquals, GreaterThan, LessThanOrEquals, LessThan, DurationGreaterThanOrEquals, DurationGreaterThan, DurationLessThanOrEquals, DurationLessThan
                        value: true
        "#,
    );
}

#[test]
fn kyverno_refuses_user_variables_in_background_mode() {
    // Background processing is on by default; a background scan has no requesting user, so Kyverno's own
    // validation refuses the variable (and `kyverno test` skips the policy as invalid).
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: who
        spec:
          rules:
            - name: check-user
              match:
                any:
                  - resources:
                      kinds: [Pod]
              validate:
                failureAction: Enforce
                message: "{{ request.userInfo.username }} may not"
        #                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ error[schema/refused-policy]: Kyverno refuses this policy: only select variables are allowed in background mode; set spec.background: false to disable background mode: the variable `{{ request.userInfo.username }}` reads the requesting user
                deny: {}
        "#,
    );
    // With background processing off (`off` is false in the YAML 1.1 Kyverno reads) the rule is accepted.
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: who
        spec:
          background: off
          rules:
            - name: check-user
              match:
                any:
                  - resources:
                      kinds: [Pod]
              validate:
                failureAction: Enforce
                message: "{{ request.userInfo.username }} may not"
                deny: {}
        "#,
    );
}
