//! JMESPath diagnostics on fixtures: syntax errors, unknown functions and wrong argument counts inside
//! `{{ }}` and plain `foreach.list` expressions land on the exact character of the YAML scalar.

use crate::support::check_annotated_diagnostics;

/// Analyses the fixture and compares its `jmespath/...` diagnostics with the annotations.
fn check(fixture: &str) {
    check_annotated_diagnostics(fixture, |code| code.starts_with("jmespath/"));
}

#[test]
fn syntax_error_in_a_double_quoted_scalar() {
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
                message: "name {{ request.object.metadata..name }} is not allowed"
        #                                                 ^ error[jmespath/syntax]: JMESPath syntax error: Expected identifier, '*', '{', '[', '&', or '[?' -- found Dot
                deny: {}
        "#,
    );
}

#[test]
fn unknown_function_with_a_suggestion_and_wrong_arity() {
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
                  - key: "{{ to_uper(request.object.metadata.name) }}"
        #                    ^^^^^^^ error[jmespath/syntax]: unknown JMESPath function `to_uper`; did you mean `to_upper`?
                    operator: Equals
                    value: "{{ truncate(request.object.metadata.name) }}"
        #                      ^^^^^^^^ error[jmespath/syntax]: `truncate` takes 2 arguments, found 1: truncate(string text, number length) -> string
        "#,
    );
}

#[test]
fn unclosed_call_points_at_the_closing_braces() {
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
                      owner: >-
                        prefix-{{ to_lower(request.object.metadata.name }}
        #                                                               ^^ error[jmespath/syntax]: JMESPath syntax error: Unexpected nud token -- found Eof
        "#,
    );
}

#[test]
fn plain_foreach_list() {
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
                  - list: request.object.spec.containers[
        #                                               ^ error[jmespath/syntax]: JMESPath syntax error: Expected number, ':', or '*' -- found Eof
                    deny: {}
        "#,
    );
}

#[test]
fn valid_expressions_are_quiet() {
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
                - name: count
                  variable:
                    jmesPath: length(request.object.spec.containers)
              validate:
                message: "{{request.object.metadata.name}}{{request.object.metadata.namespace}} \{{ not a variable ( }}"
                deny:
                  conditions:
                    any:
                      - key: "{{ merge(request.object.metadata.labels, `{}`, {a: 'b'}) | keys(@) }}"
                        operator: AnyIn
                        value: "{{- request.object.spec.containers[?name == 'a'].image || `[]` }}"
                      - key: "{{ time_now_utc() }}"
                        operator: Equals
                        value: "{{ @ }}"
        "#,
    );
}
