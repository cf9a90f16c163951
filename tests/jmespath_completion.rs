//! JMESPath in Kyverno policies at `$0` cursors: completion of variables, request fields, fields of the
//! matched kinds, foreach elements, context entries and functions; hover and signature help on functions.

use crate::support::analysis_with_cursor;
use expect_test::{Expect, expect};

/// Renders the completion labels (with detail) at the cursor.
fn check(fixture: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let rendered: Vec<String> = analysis
        .completions(&path, offset)
        .iter()
        .map(|item| match &item.detail {
            Some(detail) => format!("{} ({detail})", item.label),
            None => item.label.clone(),
        })
        .collect();
    expect.assert_eq(&rendered.join("\n"));
}

fn check_hover(fixture: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let hover = analysis.hover(&path, offset).map(|hover| hover.markdown.chars().take(300).collect::<String>());
    expect.assert_eq(&hover.unwrap_or_else(|| "(no hover)".to_string()));
}

fn check_signature(fixture: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let rendered = analysis.signature_help(&path, offset).map(|help| {
        format!(
            "{}\nactive: {}\n{}",
            help.label,
            help.parameters.get(help.active_parameter).map_or("-", String::as_str),
            help.documentation.unwrap_or_default()
        )
    });
    expect.assert_eq(&rendered.unwrap_or_else(|| "(no signature)".to_string()));
}

#[test]
fn request_fields_after_request_dot() {
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
                message: "{{ request.o$0 }}"
                deny: {}
        "#,
        expect![[r#"
            object (request field)
            oldObject (request field)
            operation (request field)
            options (request field)"#]],
    );
}

#[test]
fn object_fields_follow_the_matched_kind_through_lists() {
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
                message: "images: {{ request.object.spec.containers[].im$0 }}"
                deny: {}
        "#,
        expect![[r#"
            image (string (Pod field))
            imagePullPolicy (string (Pod field))"#]],
    );
}

#[test]
fn object_fields_of_a_grouped_kind_while_the_quote_is_open() {
    // The string is not closed yet: the line is read as typed.
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
              validate:
                message: "{{ request.object.spec.repl$0
        "#,
        expect!["replicas (integer (Deployment field))"],
    );
}

#[test]
fn variables_context_entries_and_functions_at_the_start() {
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
              context:
                - name: settings
                  configMap:
                    name: cm
                    namespace: default
                - name: sizes
                  variable:
                    value: {small: 1}
              validate:
                message: "{{ s$0 }}"
                deny: {}
        "#,
        expect![[r#"
            serviceAccountName (Kyverno variable)
            serviceAccountNamespace (Kyverno variable)
            settings (context configMap)
            sizes (context variable)
            split (split(string text, string separator) -> array[string])
            sum (sum(array values) -> any)
            subtract (subtract(any a, any b) -> any)
            semver_compare (semver_compare(string version, string range) -> boolean)
            sha256 (sha256(string text) -> string)
            sha1 (sha1(string text) -> string)
            sort (sort(array[number]|array[string] values) -> array)
            sort_by (sort_by(array values, expression &key) -> array)
            starts_with (starts_with(string text, string prefix) -> boolean)"#]],
    );
}

#[test]
fn context_entry_members() {
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
              context:
                - name: settings
                  configMap:
                    name: cm
                    namespace: default
              validate:
                message: "{{ settings.$0 }}"
                deny: {}
        "#,
        expect![[r#"
            apiVersion (string (ConfigMap field))
            binaryData (map[string]string (ConfigMap field))
            data (map[string]string (ConfigMap field))
            immutable (boolean (ConfigMap field))
            kind (string (ConfigMap field))
            metadata (object (ConfigMap field))"#]],
    );
}

#[test]
fn foreach_element_is_typed_by_the_list() {
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
                  - list: request.object.spec.containers
                    deny:
                      conditions:
                        any:
                          - key: "{{ element.securityContext.priv$0 }}"
                            operator: Equals
                            value: true
        "#,
        expect!["privileged (boolean (Pod field))"],
    );
}

#[test]
fn element_variables_inside_foreach() {
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
                      metadata:
                        annotations:
                          note: "{{ ele$0 }}"
        "#,
        expect![[r#"
            element (foreach item)
            elementIndex (foreach index)"#]],
    );
}

#[test]
fn plain_foreach_list_expression() {
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
                  - list: request.object.spec.initC$0
        "#,
        expect!["initContainers ([]object (Pod field))"],
    );
}

#[test]
fn images_and_user_info() {
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
                message: "{{ images.containers.nginx.re$0 }} {{ request.userInfo.username }}"
                deny: {}
        "#,
        expect![[r#"
            registry (image)
            reference (image)
            referenceWithTag (image)"#]],
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
                      kinds: [Pod]
              preconditions:
                all:
                  - key: "{{ request.userInfo.$0 }}"
                    operator: AnyIn
                    value: [a]
        "#,
        expect![[r#"
            username (userInfo field)
            uid (userInfo field)
            groups (userInfo field)
            extra (userInfo field)"#]],
    );
}

#[test]
fn functions_after_a_pipe_in_a_block_scalar() {
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
                patchStrategicMerge:
                  metadata:
                    labels:
                      name: >-
                        {{ request.object.metadata.name | to_$0 }}
        "#,
        expect![[r#"
            to_upper (to_upper(string text) -> string)
            to_lower (to_lower(string text) -> string)
            to_boolean (to_boolean(string text) -> boolean)
            to_array (to_array(any value) -> array)
            to_number (to_number(any value) -> number)
            to_string (to_string(any value) -> string)"#]],
    );
}

#[test]
fn nothing_outside_braces_or_inside_a_string_literal() {
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
                message: "{{ to_upper('req$0') }}"
                deny: {}
        "#,
        expect![""],
    );
}

#[test]
fn hover_on_a_kyverno_function() {
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
                message: "{{ regex_ma$0tch('^a', request.object.metadata.name) }}"
                deny: {}
        "#,
        expect![[r#"
            ```
            regex_match(string regex, string|number value) -> boolean
            ```
            Whether the value contains a match of the regular expression (anchor it with `^...$` for a full match)."#]],
    );
}

#[test]
fn hover_on_an_object_field() {
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
                message: "{{ request.object.spec.hostNet$0work }}"
                deny: {}
        "#,
        expect![[r#"
            **`hostNetwork`** `boolean`

            Host networking requested for this pod. Use the host's network namespace. When using HostNetwork you should specify ports so the scheduler is aware. When `hostNetwork` is true, specified `hostPort` fields in port definitions must match `containerPort`, and unspecified `h"#]],
    );
}

#[test]
fn signature_while_typing_the_second_argument() {
    check_signature(
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
                message: "{{ regex_match('^[a-z]+,', request.object.metadata.name$0"
                deny: {}
        "#,
        expect![[r#"
            regex_match(string regex, string|number value) -> boolean
            active: string|number value
            Whether the value contains a match of the regular expression (anchor it with `^...$` for a full match)."#]],
    );
}

#[test]
fn signature_of_the_inner_call() {
    check_signature(
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
                message: "{{ contains(['a', 'b'], to_upper($0)) }}"
                deny: {}
        "#,
        expect![[r#"
            to_upper(string text) -> string
            active: string text
            The text in upper case."#]],
    );
}

#[test]
fn a_space_after_an_operand_offers_nothing_but_after_an_operator_offers_operands() {
    let policy = |message: &str| {
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n    - name: r\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        message: \"{message}\"\n        deny: {{}}\n"
        )
    };
    check(&policy("{{ request.operation $0}}"), expect![""]);
    check(
        &policy("{{ request.operation == 'CREATE' && re$0 }}"),
        expect![[r#"
        request (Kyverno variable)
        replace (replace(string text, string old, string new, number count) -> string)
        replace_all (replace_all(string text, string old, string new) -> string)
        regex_replace_all (regex_replace_all(string regex, string|number source, string|number replacement) -> string)
        regex_replace_all_literal (regex_replace_all_literal(string regex, string|number source, string|number replacement) -> string)
        regex_match (regex_match(string regex, string|number value) -> boolean)
        reverse (reverse(string|array value) -> string|array)"#]],
    );
}

#[test]
fn hover_on_a_request_field() {
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
              preconditions:
                all:
                  - key: "{{ request.opera$0tion }}"
                    operator: Equals
                    value: CREATE
        "#,
        expect![[r#"
            **`operation`**

            `CREATE`, `UPDATE`, `DELETE` or `CONNECT`."#]],
    );
}

#[test]
fn any_kind_still_has_object_metadata() {
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
                      kinds: ["*"]
              validate:
                message: "{{ request.object.metadata.lab$0 }}"
                deny: {}
        "#,
        expect!["labels (map[string]string (object field))"],
    );
}
