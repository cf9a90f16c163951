//! CEL diagnostics on fixtures: parse errors, unknown variables, unknown functions and wrong arity land
//! on the exact line and column inside plain, quoted and block YAML scalars.

use crate::support::check_annotated_diagnostics;

/// Analyses the fixture and compares its `cel/...` diagnostics with the annotations.
fn check(fixture: &str) {
    check_annotated_diagnostics(fixture, |code| code.starts_with("cel/"));
}

#[test]
fn unknown_variable_in_a_plain_scalar() {
    check(
        r#"
        apiVersion: policies.kyverno.io/v1alpha1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          validations:
            - expression: object.spec.replicas > 1 && objcet.metadata.name != ''
        #                                             ^^^^^^ error[cel/compile]: undeclared reference to 'objcet'
              message: needs replicas
        "#,
    );
}

#[test]
fn unknown_function_in_a_double_quoted_scalar() {
    check(
        r#"
        apiVersion: policies.kyverno.io/v1alpha1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          variables:
            - name: images
              expression: "object.spec.containers.map(c, c.image.lowerAsci())"
        #                                                        ^^^^^^^^^ error[cel/compile]: undeclared reference to 'lowerAsci'
        "#,
    );
}

#[test]
fn wrong_arity_on_the_second_line_of_a_block_scalar() {
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
                cel:
                  expressions:
                    - expression: |
                        object.spec.containers.all(c,
                          c.image.startsWith('ghcr.io/', 'x'))
        #                         ^^^^^^^^^^ error[cel/compile]: 'startsWith' takes 1 argument(s), found 2
        "#,
    );
}

#[test]
fn syntax_error_in_a_gatekeeper_template() {
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
                - engine: K8sNativeValidation
                  source:
                    validations:
                      - expression: 'variables.params.max >= (size(object.spec.containers)'
        #                                                                                 ^ error[cel/compile]: Syntax error: missing ')' at '<EOF>'
        "#,
    );
}

#[test]
fn each_policy_kind_knows_its_own_libraries() {
    check(
        r#"
        apiVersion: policies.kyverno.io/v1
        kind: GeneratingPolicy
        metadata:
          name: p
        spec:
          variables:
            - name: source
              expression: resource.get('v1', 'secrets', 'default', 'regcred')
          generate:
            - expression: generator.apply(object.metadata.name, [variables.source])
        "#,
    );
    check(
        r#"
        apiVersion: policies.kyverno.io/v1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          validations:
            - expression: generator.apply('default', []) && regex.replace('a', 'a', 'b') == 'b'
        #                 ^^^^^^^^^ error[cel/compile]: undeclared reference to 'generator'
        #                           ^^^^^ error[cel/compile]: undeclared reference to 'apply'
        "#,
    );
}

#[test]
fn kubernetes_admission_has_only_the_base_environments_extensions() {
    // The API server's base environment has no cel.bind, base64, math or image library; Kyverno's kinds do.
    check(
        r#"
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicy
        metadata:
          name: p
        spec:
          validations:
            - expression: math.greatest(1, 2) == 2 && object.metadata.labels.exists_one(k, v, v == 'a')
        #                 ^^^^ error[cel/compile]: undeclared reference to 'math'
        #                      ^^^^^^^^ error[cel/compile]: undeclared reference to 'greatest'
            - expression: sign(quantity('1')) == 1 && quantity('1').sign() == 1
        #                                                           ^^^^ error[cel/compile]: undeclared reference to 'sign'
        "#,
    );
    check(
        r#"
        apiVersion: policies.kyverno.io/v1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          validations:
            - expression: math.greatest(1, 2) == 2 && cel.bind(x, 1, x == 1) && base64.encode(b'a') != ''
        "#,
    );
}

#[test]
fn envoy_and_http_modes_declare_the_authorization_libraries() {
    check(
        r#"
        apiVersion: policies.kyverno.io/v1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          evaluation:
            mode: Envoy
          variables:
            - name: token
              expression: jwt.Decode(object.attributes.request.http.headers['authorization'], 'secret')
          validations:
            - expression: "variables.token.Valid ? envoy.Allowed().Response() : envoy.Denied(401).WithBody('no').Response()"
        "#,
    );
    check(
        r#"
        apiVersion: policies.kyverno.io/v1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          evaluation:
            mode: HTTP
          validations:
            - expression: "http.Allowed().Response() != null && envoy.Allowed() != null"
        #                                                       ^^^^^ error[cel/compile]: undeclared reference to 'envoy'
        #                                                             ^^^^^^^ error[cel/compile]: undeclared reference to 'Allowed'
        "#,
    );
}

#[test]
fn a_namespaced_policy_reads_resources_without_a_namespace_argument() {
    check(
        r#"
        apiVersion: policies.kyverno.io/v1
        kind: NamespacedValidatingPolicy
        metadata:
          name: p
          namespace: team-a
        spec:
          validations:
            - expression: resource.get('v1', 'configmaps', 'team-a', 'settings') != null
        #                          ^^^ error[cel/compile]: 'get' takes 2 to 3 argument(s), found 4
        "#,
    );
}
