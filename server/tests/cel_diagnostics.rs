//! CEL diagnostics on fixtures: parse errors, unknown variables, unknown functions and wrong arity land
//! on the exact line and column inside plain, quoted and block YAML scalars.

mod support;

use std::sync::Arc;

use policy_lsp::ide::AnalysisHost;
use support::{Annotation, MemoryFiles, line_and_column, parse_fixture};

/// Analyses the fixture and compares its `cel/...` diagnostics with the annotations.
fn check(fixture: &str) {
    let files = parse_fixture(fixture);
    let mut memory = MemoryFiles::default();
    for file in &files {
        memory.files.insert(file.path.clone(), file.text.clone());
    }
    let mut host = AnalysisHost::new(Arc::new(memory));
    for file in &files {
        host.set_file(file.path.clone(), &file.text);
    }
    let analysis = host.snapshot();
    for file in &files {
        let mut actual: Vec<Annotation> = analysis
            .diagnostics(&file.path)
            .into_iter()
            .filter(|diagnostic| diagnostic.code.starts_with("cel/"))
            .map(|diagnostic| {
                let (line, start_column) = line_and_column(&file.text, diagnostic.range.start);
                let (end_line, end_column) = line_and_column(&file.text, diagnostic.range.end);
                let end_column = if end_line == line { end_column } else { start_column + 1 };
                Annotation {
                    line,
                    start_column,
                    end_column: end_column.max(start_column + 1),
                    text: format!("{}[{}]: {}", diagnostic.severity.as_str(), diagnostic.code, diagnostic.message),
                }
            })
            .collect();
        let mut expected = file.annotations.clone();
        actual.sort();
        expected.sort();
        assert_eq!(
            render(&file.text, &actual),
            render(&file.text, &expected),
            "diagnostics of {}",
            file.path.display()
        );
    }
}

fn render(text: &str, annotations: &[Annotation]) -> String {
    let mut out = String::new();
    for (index, line) in text.lines().enumerate() {
        out.push_str(line);
        out.push('\n');
        for annotation in annotations.iter().filter(|annotation| annotation.line == index) {
            let carets = "^".repeat(annotation.end_column - annotation.start_column);
            out.push_str(&format!(
                "#{}{carets} {}\n",
                " ".repeat(annotation.start_column.saturating_sub(1)),
                annotation.text
            ));
        }
    }
    out
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
