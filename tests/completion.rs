//! Completion and hover at `$0` cursors in fixtures: schema keys, enum values, kinds, documentation.

use crate::support::{analysis_with_cursor, parse_fixture};
use expect_test::{Expect, expect};

/// Renders the completion labels (with detail) at the cursor.
fn check(fixture: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let items = analysis.completions(&path, offset);
    let rendered: Vec<String> = items
        .iter()
        .map(|item| match &item.detail {
            Some(detail) => format!("{} ({detail}){}", item.label, if item.preselect { " required" } else { "" }),
            None => item.label.clone(),
        })
        .collect();
    expect.assert_eq(&rendered.join("\n"));
}

/// Renders the hover markdown at the cursor (first 300 characters).
fn check_hover(fixture: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let hover = analysis.hover(&path, offset).map(|hover| hover.markdown.chars().take(300).collect::<String>());
    expect.assert_eq(&hover.unwrap_or_else(|| "(no hover)".to_string()));
}

#[test]
fn rule_keys() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          rules:
            - name: r
              match:
                any:
                  - resources:
                      kinds: [Pod]
              val$0
        "#,
        expect!["validate (object)"],
    );
}

#[test]
fn enum_values_after_the_colon() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          rules:
            - name: r
              validate:
                failureAction: $0
        "#,
        expect![[r#"
            Audit
            Enforce"#]],
    );
}

#[test]
fn kinds_in_match() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          rules:
            - name: r
              match:
                any:
                  - resources:
                      kinds:
                        - Deploy$0
        "#,
        expect!["Deployment (apps/v1)"],
    );
}

#[test]
fn constraint_parameters_from_the_template() {
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
                      description: The labels every object needs.
                      items:
                        type: string
                    message:
                      type: string
          targets:
            - target: admission.k8s.gatekeeper.sh
              rego: |
                package k8srequiredlabels
        #- /repo/constraint.yaml
        apiVersion: constraints.gatekeeper.sh/v1beta1
        kind: K8sRequiredLabels
        metadata:
          name: need-owner
        spec:
          parameters:
            $0
        "#,
        expect![[r#"
            labels ([]string)
            message (string)"#]],
    );
}

#[test]
fn hover_on_a_policy_field() {
    check_hover(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          backgr$0ound: true
          rules: []
        "#,
        expect![[r#"
            **`background`** `boolean`

            Background controls if rules are applied to existing resources during a background scan.
            Optional. Default value is "true". The value must be set to "false" if the policy rule
            uses variables that are only available in the admission review request (e.g. user name).

            Defaul"#]],
    );
}

#[test]
fn hover_on_a_pod_field() {
    check_hover(
        r#"
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
        spec:
          containers:
            - name: c
              imagePull$0Policy: Always
        "#,
        expect![[r#"
            **`imagePullPolicy`** `string`

            Image pull policy. One of Always, Never, IfNotPresent. Defaults to Always if :latest tag is specified, or IfNotPresent otherwise. Cannot be updated. More info: https://kubernetes.io/docs/concepts/containers/images#updating-images

            Allowed: `Always`, `Never`, `IfNotPre"#]],
    );
}

const TEMPLATE_AND_CONSTRAINT: &str = r#"
#- /repo/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredProbes
metadata:
  name: probes
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
  parameters:
    probes: ["readinessProbe"]
#- /repo/template.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredprobes
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredProbes
      validation:
        openAPIV3Schema:
          type: object
          properties:
            probes:
              type: array
              description: The probes every container needs.
              items:
                type: string
            probeTypes:
              type: array
              items:
                type: string
  targets:
    - target: admission.k8s.gatekeeper.sh
      libs:
        - |
          package lib.helpers
          missing(obj, field) { not obj[field] }
      rego: |
        package k8srequiredprobes
        violation[{"msg": msg}] {
          container := input.review.object.spec.CURSOR
          probe := input.parameters.probes[_]
          msg := sprintf("container %v has no %v", [container.name, probe])
        }
"#;

fn template_fixture(cursor_text: &str) -> String {
    TEMPLATE_AND_CONSTRAINT.replace("CURSOR", cursor_text)
}

#[test]
fn rego_object_paths_follow_the_matched_kinds() {
    check(&template_fixture("cont$0ainers[_]"), expect!["containers"]);
}

#[test]
fn rego_parameters_from_the_template_schema() {
    check(
        &template_fixture("x\n          p := input.parameters.pro$0"),
        expect![[r#"
        probes (array)
        probeTypes (array)"#]],
    );
}

#[test]
fn rego_builtins_in_a_namespace() {
    check(&template_fixture("x\n          regex.ma$0"), expect!["match (regex.match(pattern, value) -> boolean)"]);
}

#[test]
fn rego_lib_packages() {
    check(&template_fixture("x\n          data.lib.$0"), expect!["helpers (lib package)"]);
}

#[test]
fn hover_on_a_rego_builtin() {
    check_hover(
        &TEMPLATE_AND_CONSTRAINT.replace("sprintf(", "spr$0intf("),
        expect![[r#"
        ```rego
        sprintf(format, values) -> string
        ```

        A string formatted like Go's fmt.Sprintf, with the values of an array."#]],
    );
}

#[test]
fn constraint_kind_goes_to_its_template() {
    let fixture = TEMPLATE_AND_CONSTRAINT.replace(
        "kind: K8sRequiredProbes\nmetadata:\n  name: probes",
        "kind: K8sRequired$0Probes\nmetadata:\n  name: probes",
    );
    let (analysis, path, offset) = analysis_with_cursor(&fixture);
    let locations = analysis.definition(&path, offset);
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0].path, std::path::Path::new("/repo/template.yaml"));
    let text = &parse_fixture(&fixture)[1].text;
    assert_eq!(&text[locations[0].range.start..locations[0].range.end], "K8sRequiredProbes");
}

/// Renders the file from the cursor's line on after the item labelled `label` is applied (its snippet
/// placeholders left as they are), with `|` marking the end of the replaced range and `·` for each space of
/// indentation (the snapshot would otherwise lose it).
fn check_applied(fixture: &str, label: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let text = parse_fixture(fixture).remove(0).text;
    let items = analysis.completions(&path, offset);
    let Some(item) = items.iter().find(|item| item.label == label) else {
        panic!("no item {label:?} among {:?}", items.iter().map(|item| &item.label).collect::<Vec<_>>())
    };
    let line_start = text[..item.replace.start].rfind('\n').map_or(0, |newline| newline + 1);
    let applied =
        format!("{}{}|{}", &text[line_start..item.replace.start], item.insert_text, &text[item.replace.end..]);
    let visible: Vec<String> = applied
        .lines()
        .map(|line| {
            let content = line.trim_start_matches(' ');
            format!("{}{content}", "·".repeat(line.len() - content.len()))
        })
        .collect();
    expect.assert_eq(&visible.join("\n"));
}

/// The policy above the cursor in the "after Enter" tests: a rule with a name and a match block.
fn after_enter(cursor_lines: &str) -> String {
    format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n    - name: check-team\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n{cursor_lines}"
    )
}

#[test]
fn an_empty_line_aligned_with_the_rule_keys_completes_rule_keys() {
    check(
        &after_enter("      $0\n"),
        expect![[r#"
        celPreconditions ([]object)
        context ([]object)
        exclude (object)
        generate (object)
        imageExtractors (map[string][]object)
        mutate (object)
        preconditions
        reportProperties (map[string]string)
        skipBackgroundRequests (boolean)
        validate (object)
        verifyImages ([]object)"#]],
    );
}

#[test]
fn an_empty_line_at_the_item_marker_completes_rule_keys_at_their_column() {
    check(
        &after_enter("    $0\n"),
        expect![[r#"
        celPreconditions ([]object)
        context ([]object)
        exclude (object)
        generate (object)
        imageExtractors (map[string][]object)
        mutate (object)
        preconditions
        reportProperties (map[string]string)
        skipBackgroundRequests (boolean)
        validate (object)
        verifyImages ([]object)"#]],
    );
    check_applied(
        &after_enter("    $0\n"),
        "validate",
        expect![[r#"
            ······validate:
            ········$0|"#]],
    );
}

#[test]
fn the_first_letter_on_a_new_line_completes_rule_keys_at_their_column() {
    check(&after_enter("    va$0\n"), expect!["validate (object)"]);
    check_applied(
        &after_enter("    va$0\n"),
        "validate",
        expect![[r#"
            ······validate:
            ········$0|"#]],
    );
}

#[test]
fn an_empty_line_between_two_key_columns_completes_the_deepest_mapping_it_can_belong_to() {
    check(
        &after_enter("         $0\n"),
        expect![[r#"
        clusterRoles ([]string)
        roles ([]string)
        subjects ([]object)"#]],
    );
}

#[test]
fn an_empty_line_after_a_key_without_value_completes_its_mapping() {
    check(
        &after_enter("      validate:\n        $0\n"),
        expect![[r#"
        allowExistingViolations (boolean)
        anyPattern
        assert
        cel (object)
        deny (object)
        failureAction (string)
        failureActionOverrides ([]object)
        foreach ([]object)
        manifests (object)
        message (string)
        pattern
        podSecurity (object)"#]],
    );
}

#[test]
fn an_empty_line_at_the_end_without_a_newline() {
    check(
        &after_enter("  $0"),
        expect![[r#"
        admission (boolean)
        applyRules (string)
        background (boolean)
        emitWarning (boolean)
        failurePolicy (string)
        generateExisting (boolean)
        generateExistingOnPolicyUpdate (boolean)
        mutateExistingOnPolicyUpdate (boolean)
        schemaValidation (boolean)
        useServerSideApply (boolean)
        validationFailureAction (string)
        validationFailureActionOverrides ([]object)
        webhookConfiguration (object)
        webhookTimeoutSeconds (integer)"#]],
    );
}

#[test]
fn an_empty_line_with_keys_below() {
    check(
        &after_enter("      $0\n      validate:\n        deny: {}\n"),
        expect![[r#"
        celPreconditions ([]object)
        context ([]object)
        exclude (object)
        generate (object)
        imageExtractors (map[string][]object)
        mutate (object)
        preconditions
        reportProperties (map[string]string)
        skipBackgroundRequests (boolean)
        verifyImages ([]object)"#]],
    );
}
