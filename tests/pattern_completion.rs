//! Completion and hover in the resource-shaped parts of Kyverno rules at `$0` cursors: the matched kinds'
//! fields inside validate patterns, strategic-merge patches and generated data (anchors stripped, list
//! items followed), anchored forms, and explanations of anchors and value operators.

use crate::support::analysis_with_cursor;
use expect_test::{Expect, expect};

/// Renders the completion labels (with detail) at the cursor.
fn check(fixture: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let rendered: Vec<String> = analysis
        .completions(&path, offset)
        .iter()
        .map(|item| match &item.detail {
            Some(detail) => format!("{} ({detail}){}", item.label, if item.preselect { " required" } else { "" }),
            None => item.label.clone(),
        })
        .collect();
    expect.assert_eq(&rendered.join("\n"));
}

/// Renders the hover markdown at the cursor (first 400 characters).
fn check_hover(fixture: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let hover = analysis.hover(&path, offset).map(|hover| hover.markdown.chars().take(400).collect::<String>());
    expect.assert_eq(&hover.unwrap_or_else(|| "(no hover)".to_string()));
}

#[test]
fn pod_spec_fields_under_anchored_keys() {
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
              validate:
                pattern:
                  =(spec):
                    =(securityContext):
                      runAsN$0
        "#,
        expect![[r#"
            runAsNonRoot (boolean (Pod))"#]],
    );
}

#[test]
fn container_fields_in_a_list_item() {
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
              validate:
                anyPattern:
                  - spec:
                      containers:
                        - (name): "*"
                          ima$0
        "#,
        expect![[r#"
            image (string (Pod))
            imagePullPolicy (string (Pod))"#]],
    );
}

#[test]
fn anchored_forms_once_an_anchor_is_typed() {
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
              validate:
                pattern:
                  spec:
                    X(host$0
        "#,
        expect![[r#"
            X(hostAliases) ([]object (Pod))
            X(hostIPC) (boolean (Pod))
            X(hostNetwork) (boolean (Pod))
            X(hostPID) (boolean (Pod))
            X(hostUsers) (boolean (Pod))
            X(hostname) (string (Pod))
            X(hostnameOverride) (string (Pod))"#]],
    );
}

#[test]
fn patch_fields_of_a_deployment_skip_existing_keys() {
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
                      kinds: [apps/v1/Deployment]
              mutate:
                patchStrategicMerge:
                  spec:
                    template:
                      spec:
                        +(automountServiceAccountToken): false
                        aut$0
        "#,
        expect![""],
    );
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
                      kinds: [apps/v1/Deployment]
              mutate:
                patchStrategicMerge:
                  spec:
                    rev$0
        "#,
        expect!["revisionHistoryLimit (integer (Deployment))"],
    );
}

#[test]
fn foreach_patterns_describe_the_element() {
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
              validate:
                foreach:
                  - list: request.object.spec.initContainers
                    pattern:
                      securityContext:
                        allowPriv$0
        "#,
        expect!["allowPrivilegeEscalation (boolean (Pod))"],
    );
}

#[test]
fn mutate_foreach_patches_describe_the_resource_and_values_complete() {
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
              mutate:
                foreach:
                  - list: request.object.spec.containers
                    patchStrategicMerge:
                      spec:
                        containers:
                          - name: "{{ element.name }}"
                            imagePullPolicy: $0
        "#,
        expect![[r#"
            Always
            Never
            IfNotPresent"#]],
    );
}

#[test]
fn generated_data_follows_generate_kind() {
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
                      kinds: [Namespace]
              generate:
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                name: deny-all
                namespace: "{{ request.object.metadata.name }}"
                data:
                  spec:
                    $0
        "#,
        expect![[r#"
            egress ([]object (NetworkPolicy))
            ingress ([]object (NetworkPolicy))
            podSelector (object (NetworkPolicy))
            policyTypes ([]string (NetworkPolicy))"#]],
    );
}

#[test]
fn hover_explains_anchors_with_the_field() {
    check_hover(
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
              validate:
                pattern:
                  spec:
                    ^(cont$0ainers):
                      - image: "*:*"
        "#,
        expect![[r#"
            **Existence anchor** `^(key)`: for a list, at least one item must match the pattern (without it, every item must).

            ---

            **`containers`** `[]object`

            List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated."#]],
    );
}

#[test]
fn hover_explains_value_operators() {
    check_hover(
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
                      kinds: [apps/v1/Deployment]
              validate:
                pattern:
                  spec:
                    replicas: ">=2 & <=1$00"
        "#,
        expect![[r#"
            **Pattern value** `>=2 & <=10`

            - `&` **and**: the value must match every condition.
            - `>=` the value must be at least the operand.
            - Numbers compare as numbers; quantities (`512Mi`, `2`, `500m`) and durations (`90s`, `1h`) as amounts.
            - `<=` the value must be at most the operand.

            ---

            **`replicas`** `integer`

            Number of desired pods. This is a pointer to distinguish between explicit zero and not"#]],
    );
    check_hover(
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
              validate:
                pattern:
                  metadata:
                    labels:
                      tier: "!prod-* | ?$0*"
        "#,
        expect![[r#"
            **Pattern value** `!prod-* | ?*`

            - `|` **or**: the value must match at least one of the alternatives.
            - `!` the value must not match the operand.
            - `*` wildcard: any run of characters, including none.
            - `?*` any non-empty value: the field must be present and not empty.

            ---

            **`tier`** `string`"#]],
    );
}

#[test]
fn hover_on_a_plain_pattern_key_shows_the_field() {
    check_hover(
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
              mutate:
                patchStrategicMerge:
                  spec:
                    +(hostN$0etwork): false
        "#,
        expect![[r#"
            **Add-if-not-present anchor** `+(key)`: the patch sets `key` only when the resource lacks it; a value already there is kept.

            ---

            **`hostNetwork`** `boolean`

            Host networking requested for this pod. Use the host's network namespace. When using HostNetwork you should specify ports so the scheduler is aware. When `hostNetwork` is true, specified `hostPort` fields in port definitions must match `con"#]],
    );
}
