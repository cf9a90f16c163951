//! Completion and hover inside CEL expressions at `$0` cursors: variables, `variables.` names, request
//! fields, library namespaces and function documentation.

use crate::support::analysis_with_cursor;
use expect_test::{Expect, expect};

/// Renders the completion labels (with detail) at the cursor.
fn check(fixture: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let rendered: Vec<String> = analysis
        .completions(&path, offset)
        .iter()
        .map(|item| format!("{} ({})", item.label, item.detail.clone().unwrap_or_default()))
        .collect();
    expect.assert_eq(&rendered.join("\n"));
}

fn check_hover(fixture: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let hover = analysis.hover(&path, offset).map(|hover| hover.markdown);
    expect.assert_eq(&hover.unwrap_or_else(|| "(no hover)".to_string()));
}

#[test]
fn declared_variables_after_variables_dot() {
    check(
        r#"
        apiVersion: policies.kyverno.io/v1alpha1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          variables:
            - name: allContainers
              expression: object.spec.containers
            - name: allowedRegistries
              expression: "['ghcr.io']"
          validations:
            - expression: variables.al$0
        "#,
        expect![[r#"
            allContainers (policy variable)
            allowedRegistries (policy variable)"#]],
    );
}

#[test]
fn request_fields_in_a_validate_cel_block_scalar() {
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
                cel:
                  expressions:
                    - expression: |
                        object.spec.replicas > 1 ||
                          request.op$0
        "#,
        expect![[r#"
            operation (AdmissionRequest field)
            options (AdmissionRequest field)"#]],
    );
}

#[test]
fn library_namespace_functions() {
    check(
        r#"
        apiVersion: policies.kyverno.io/v1alpha1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          variables:
            - name: cm
              expression: "resource.$0"
        "#,
        expect![[r#"
            get (resource.get(apiVersion, resource, namespace, name) -> map)
            list (resource.list(apiVersion, resource, namespace[, labels]) -> map)
            post (resource.post(apiVersion, resource, [namespace,] object) -> map)
            toGVR (resource.toGVR(apiVersion, resource) -> GVR)"#]],
    );
}

#[test]
fn hover_on_a_function() {
    check_hover(
        r#"
        apiVersion: policies.kyverno.io/v1alpha1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          validations:
            - expression: "object.spec.containers.all(c, c.image.start$0sWith('ghcr.io/'))"
        "#,
        expect![[r#"
            ```
            string.startsWith(string) -> bool
            ```
            Whether the string starts with the prefix.

            CEL standard library."#]],
    );
}

#[test]
fn object_fields_typed_by_the_matched_kind() {
    check(
        r#"
        apiVersion: policies.kyverno.io/v1alpha1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          matchConstraints:
            resourceRules:
              - apiGroups: [""]
                apiVersions: [v1]
                operations: [CREATE]
                resources: [pods]
          validations:
            - expression: object.spec.containers[0].securityContext.priv$0
        "#,
        expect![[r#"privileged (Pod field)"#]],
    );
}

#[test]
fn hover_on_a_library_function_names_its_library_and_spellings() {
    check_hover(
        r#"
        apiVersion: policies.kyverno.io/v1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          variables:
            - name: settings
              expression: resource.g$0et('v1', 'configmaps', 'default', 'settings')
        "#,
        expect![[r#"
            ```
            resource.get(apiVersion, resource, namespace, name) -> map
            ```
            The object of the cluster with that name (the test's files, offline).

            Kyverno resource library; also spelled `Get`."#]],
    );
}

#[test]
fn hover_says_when_offline_evaluation_does_not_run_a_function() {
    check_hover(
        r#"
        apiVersion: policies.kyverno.io/v1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          validations:
            - expression: "size(gzip.comp$0ress('a')) > 0"
        "#,
        expect![[r#"
            ```
            gzip.compress(value) -> bytes
            ```
            The gzip compression of the value.

            Kyverno gzip library.

            Not evaluated by `policy-lsp test`: gzip.compress returns the bytes of Go's deflate encoder, which offline evaluation does not reproduce byte for byte."#]],
    );
}
