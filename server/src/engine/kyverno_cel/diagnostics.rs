//! Compile diagnostics of every CEL expression in a policy document: parse errors, unknown variables,
//! unknown functions and wrong arity, each as a JSON pointer to the expression plus a character range
//! inside it, so the editor can map it through the YAML scalar to the exact line and column.

use serde_json::Value;

use crate::engine::cel::Program;
use crate::engine::cel::catalog::{self, Environment, KUBERNETES_ADMISSION};
use crate::model::{KYVERNO_POLICY_KINDS, KubernetesObject};

/// One finding inside one expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpressionDiagnostic {
    /// Pointer of the string value holding the expression.
    pub pointer: String,
    /// Start of the finding, in characters from the start of the expression.
    pub offset: usize,
    /// Length in characters (at least one).
    pub length: usize,
    pub message: String,
}

/// Checks every CEL expression of a Kyverno policy (CEL kinds, `validate.cel`, `celPreconditions`) or a
/// Gatekeeper ConstraintTemplate with K8sNativeValidation code.
pub fn expression_diagnostics(document: &Value) -> Vec<ExpressionDiagnostic> {
    let mut out = Vec::new();
    for (pointer, environment) in expressions(document) {
        check_one(document, &pointer, environment, &mut out);
    }
    // The placeholders of GeneratingPolicy templates compile in the policy's environment too.
    let kind = document.kind();
    if let Some(environment) = catalog::policy_environment(kind, "")
        && kind.ends_with("GeneratingPolicy")
    {
        let generate =
            document.pointer("/spec/generate").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (index, entry) in generate.iter().enumerate() {
            let Some(template) = entry.get("template") else { continue };
            for error in super::template::placeholder_errors(template, environment) {
                out.push(ExpressionDiagnostic {
                    pointer: format!("/spec/generate/{index}/template/value"),
                    offset: error.offset,
                    length: error.length,
                    message: error.message,
                });
            }
        }
    }
    out
}

/// What the editor needs to complete inside one expression: the environment (its variables and
/// libraries) and the names declared under `variables.`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpressionContext {
    pub environment: &'static Environment,
    pub declared: Vec<String>,
}

/// The context of the expression at `pointer`, or `None` when the value there is not a CEL expression.
pub fn expression_at(document: &Value, pointer: &str) -> Option<ExpressionContext> {
    let (_, environment) = expressions(document).into_iter().find(|(candidate, _)| candidate == pointer)?;
    // The variables list that governs this expression: the nearest `variables` beside its block.
    let mut declared = Vec::new();
    let mut base = pointer.to_string();
    while let Some(position) = base.rfind('/') {
        base.truncate(position);
        if let Some(items) = document.pointer(&format!("{base}/variables")).and_then(Value::as_array) {
            declared
                .extend(items.iter().filter_map(|item| item.get("name").and_then(Value::as_str)).map(str::to_string));
            break;
        }
    }
    if document.kind() == "ConstraintTemplate" {
        declared.extend(["params".to_string(), "anyObject".to_string()]);
    }
    Some(ExpressionContext { environment, declared })
}

/// The pointers of every CEL expression of a document (for the editor's colouring).
pub fn expression_pointers(document: &Value) -> Vec<String> {
    expressions(document).into_iter().map(|(pointer, _)| pointer).collect()
}

/// Every CEL expression of the document, by pointer, with the environment it compiles in.
fn expressions(document: &Value) -> Vec<(String, &'static Environment)> {
    type Found = Vec<(String, &'static Environment)>;
    let mut out: Found = Vec::new();
    let count = |pointer: &str| document.pointer(pointer).and_then(Value::as_array).map(Vec::len).unwrap_or(0);
    let list = |pointer: &str, fields: &[&str], environment: &'static Environment, out: &mut Found| {
        for index in 0..count(pointer) {
            for field in fields {
                out.push((format!("{pointer}/{index}/{field}"), environment));
            }
        }
    };
    let kind = document.kind();
    let mode = document.pointer("/spec/evaluation/mode").and_then(Value::as_str).unwrap_or("");
    if let Some(environment) = catalog::policy_environment(kind, mode) {
        for (name, fields) in [
            ("matchConditions", &["expression"][..]),
            ("variables", &["expression"][..]),
            ("validations", &["expression", "messageExpression"][..]),
            ("auditAnnotations", &["valueExpression"][..]),
            ("generate", &["expression"][..]),
            ("conditions", &["expression"][..]),
        ] {
            list(&format!("/spec/{name}"), fields, environment, &mut out);
        }
        for index in 0..count("/spec/mutations") {
            for field in ["applyConfiguration/expression", "jsonPatch/expression"] {
                out.push((format!("/spec/mutations/{index}/{field}"), environment));
            }
        }
    } else if KYVERNO_POLICY_KINDS.contains(&kind) {
        // Kyverno compiles `validate.cel` with Kubernetes' base environment (`pkg/admissionpolicy/compiler.go`).
        let environment = &KUBERNETES_ADMISSION;
        for index in 0..count("/spec/rules") {
            let rule = format!("/spec/rules/{index}");
            list(&format!("{rule}/celPreconditions"), &["expression"], environment, &mut out);
            let cel = format!("{rule}/validate/cel");
            list(&format!("{cel}/expressions"), &["expression", "messageExpression"], environment, &mut out);
            list(&format!("{cel}/variables"), &["expression"], environment, &mut out);
            list(&format!("{cel}/auditAnnotations"), &["valueExpression"], environment, &mut out);
        }
    } else if kind == "ConstraintTemplate" {
        let environment = &KUBERNETES_ADMISSION;
        let codes = document.pointer("/spec/targets/0/code").and_then(Value::as_array).cloned().unwrap_or_default();
        for (index, code) in codes.iter().enumerate() {
            if code.get("engine").and_then(Value::as_str) != Some("K8sNativeValidation") {
                continue;
            }
            let source = format!("/spec/targets/0/code/{index}/source");
            list(&format!("{source}/matchConditions"), &["expression"], environment, &mut out);
            list(&format!("{source}/variables"), &["expression"], environment, &mut out);
            list(&format!("{source}/validations"), &["expression", "messageExpression"], environment, &mut out);
        }
    }
    out
}

fn check_one(document: &Value, pointer: &str, environment: &Environment, out: &mut Vec<ExpressionDiagnostic>) {
    let Some(source) = document.pointer(pointer).and_then(Value::as_str) else {
        return;
    };
    if let Err(errors) = Program::compile_checked(source, environment) {
        let characters = source.chars().count();
        for error in errors {
            let offset = error.offset.min(characters);
            let length = word_length(source, offset);
            out.push(ExpressionDiagnostic { pointer: pointer.to_string(), offset, length, message: error.message });
        }
    }
}

/// The length of the identifier at `offset`, or one character.
fn word_length(source: &str, offset: usize) -> usize {
    let length =
        source.chars().skip(offset).take_while(|character| character.is_alphanumeric() || *character == '_').count();
    length.max(1)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(document: Value, expect: &[&str]) {
        let found: Vec<String> = expression_diagnostics(&document)
            .iter()
            .map(|diagnostic| {
                format!("{} {}+{} {}", diagnostic.pointer, diagnostic.offset, diagnostic.length, diagnostic.message)
            })
            .collect();
        assert_eq!(found, expect);
    }

    #[test]
    fn finds_errors_in_every_kind() {
        check(
            json!({"kind": "ValidatingPolicy", "spec": {"validations": [{"expression": "object.x == 1 && objct.y"}]}}),
            &["/spec/validations/0/expression 17+5 undeclared reference to 'objct'"],
        );
        check(
            json!({"kind": "ClusterPolicy", "spec": {"rules": [{"validate": {"cel": {"expressions": [{"expression": "object.a.sise()"}]}}}]}}),
            &["/spec/rules/0/validate/cel/expressions/0/expression 9+4 undeclared reference to 'sise'"],
        );
        check(
            json!({"kind": "ConstraintTemplate", "spec": {"targets": [{"code": [{"engine": "K8sNativeValidation",
                "source": {"validations": [{"expression": "variables.params.x == (1"}]}}]}]}}),
            &["/spec/targets/0/code/0/source/validations/0/expression 24+1 Syntax error: missing ')' at '<EOF>'"],
        );
        check(
            json!({"kind": "ValidatingPolicy", "spec": {"validations": [{"expression": "resource.Get('v1', 'configmaps', '', 'x') != null"}]}}),
            &[],
        );
    }

    #[test]
    fn generating_policy_template_placeholders_are_checked() {
        let template = "kind: ConfigMap\nmetadata:\n  name: (( variables.name ))-x\n  labels: (( nope.labels ))\ndata:\n  a: (( size( ))\n";
        let policy = |interpolate: &str| {
            json!({"apiVersion": "policies.kyverno.io/v1", "kind": "GeneratingPolicy", "metadata": {"name": "g"},
                   "spec": {"generate": [{"template": {"interpolate": interpolate, "value": template}}]}})
        };
        let found: Vec<String> = expression_diagnostics(&policy("cel"))
            .iter()
            .map(|diagnostic| format!("{}+{} {}", diagnostic.offset, diagnostic.length, diagnostic.message))
            .collect();
        expect_test::expect![[r#"
            [
                "70+1 undeclared reference to 'nope'",
                "96+2 unbalanced parenthesis in placeholder starting at offset 0",
            ]
        "#]]
        .assert_debug_eq(&found);
        assert!(expression_diagnostics(&policy("none")).is_empty());
    }
}
