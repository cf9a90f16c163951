//! Semantic tokens of embedded code: Rego in templates, CEL expressions and JMESPath in `{{ }}`, each
//! token on one line of the file, mapped through plain, quoted and block scalars.

use crate::support::{analysis_of, line_and_column, parse_fixture};
use expect_test::{Expect, expect};

/// Renders every highlight of the fixture's first file as `line:column text tag` (`+lib` for the
/// standard library).
fn check(fixture: &str, expect: Expect) {
    let files = parse_fixture(fixture);
    let analysis = analysis_of(&files);
    let file = &files[0];
    let rendered: Vec<String> = analysis
        .highlights(&file.path, None)
        .iter()
        .map(|highlight| {
            let (line, column) = line_and_column(&file.text, highlight.range.start);
            let text = &file.text[highlight.range.start..highlight.range.end];
            let library = if highlight.default_library { "+lib" } else { "" };
            format!("{line}:{column} {text} {}{library}", highlight.tag.name())
        })
        .collect();
    expect.assert_eq(&rendered.join("\n"));
}

#[test]
fn rego_in_a_block_scalar() {
    check(
        r#"
        apiVersion: templates.gatekeeper.sh/v1
        kind: ConstraintTemplate
        metadata:
          name: owner
        spec:
          crd:
            spec:
              names:
                kind: Owner
          targets:
            - target: admission.k8s.gatekeeper.sh
              rego: |
                package owner
                # every object names its owner
                violation[{"msg": msg}] {
                  not input.review.object.metadata.labels.owner
                  msg := sprintf("%v needs an owner", [count(input.parameters.x)])
                  regex.match(`a
                b`, "c")
                }
        "#,
        expect![[r#"
            12:8 package keyword
            12:16 owner namespace
            13:8 # every object names its owner comment
            14:8 violation variable
            14:19 "msg" string
            14:26 msg variable
            15:10 not keyword
            15:14 input variable+lib
            15:20 review property
            15:27 object property
            15:34 metadata property
            15:43 labels property
            15:50 owner property
            16:10 msg variable
            16:14 := operator
            16:17 sprintf function+lib
            16:25 "%v needs an owner" string
            16:47 count function+lib
            16:53 input variable+lib
            16:59 parameters property
            16:70 x property
            17:10 regex namespace+lib
            17:16 match function+lib
            17:22 `a string
            18:8 b` string
            18:12 "c" string"#]],
    );
}

#[test]
fn cel_expressions_in_plain_and_quoted_scalars() {
    check(
        r#"
        apiVersion: policies.kyverno.io/v1
        kind: ValidatingPolicy
        metadata:
          name: p
        spec:
          validations:
            - expression: "has(object.spec) && object.spec.replicas <= 3"
              messageExpression: 'object.metadata.name + " is too big"'
          variables:
            - name: images
              expression: >-
                object.spec.containers.map(c,
                c.image)
        "#,
        expect![[r#"
            6:19 has function+lib
            6:23 object variable+lib
            6:30 spec property
            6:36 && operator
            6:39 object variable+lib
            6:46 spec property
            6:51 replicas property
            6:60 <= operator
            6:63 3 number
            7:26 object variable+lib
            7:33 metadata property
            7:42 name property
            7:47 + operator
            7:49 " is too big" string
            11:8 object variable+lib
            11:15 spec property
            11:20 containers property
            11:31 map method+lib
            11:35 c variable
            12:8 c variable
            12:10 image property"#]],
    );
}

#[test]
fn jmespath_inside_braces_only() {
    check(
        r#"
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          rules:
            - name: r
              context:
                - name: team
                  variable:
                    jmesPath: request.object.metadata.labels.team || 'none'
              match:
                any:
                  - resources:
                      kinds: [Pod]
              validate:
                message: "team {{ team }} has {{ length(request.object.spec.containers[?name != 'x']) }}"
                deny: {}
        "#,
        expect![[r#"
            10:22 request variable+lib
            10:30 object property
            10:37 metadata property
            10:46 labels property
            10:53 team property
            10:58 || operator
            10:61 'none' string
            16:23 {{ operator
            16:26 team variable
            16:31 }} operator
            16:38 {{ operator
            16:41 length function+lib
            16:48 request variable+lib
            16:56 object property
            16:63 spec property
            16:68 containers property
            16:80 name property
            16:85 != operator
            16:88 'x' string
            16:94 }} operator"#]],
    );
}

#[test]
fn plain_yaml_has_no_tokens() {
    check(
        r#"
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: "{{ not.a.policy }}"
        data:
          rego: "package x"
        "#,
        expect![[""]],
    );
}
