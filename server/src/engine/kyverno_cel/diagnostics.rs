//! Compile diagnostics of every CEL expression in a policy document: parse errors, unknown variables,
//! unknown functions and wrong arity, each as a JSON pointer to the expression plus a character range
//! inside it, so the editor can map it through the YAML scalar to the exact line and column.

use serde_json::Value;

use super::{CEL_POLICY_KINDS, POLICY_VARIABLES};
use crate::engine::cel::Program;

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

/// Variables bound in `validate.cel`, `celPreconditions` and Gatekeeper's K8sNativeValidation.
const ADMISSION_VARIABLES: &[&str] =
    &["object", "oldObject", "request", "params", "namespaceObject", "variables", "authorizer"];

/// Checks every CEL expression of a Kyverno policy (CEL kinds, `validate.cel`, `celPreconditions`) or a
/// Gatekeeper ConstraintTemplate with K8sNativeValidation code.
pub fn expression_diagnostics(document: &Value) -> Vec<ExpressionDiagnostic> {
    let mut out = Vec::new();
    let kind = document.get("kind").and_then(Value::as_str).unwrap_or("");
    if CEL_POLICY_KINDS.contains(&kind) {
        let spec = "/spec";
        for (list, fields) in [
            ("matchConditions", &["expression"][..]),
            ("variables", &["expression"][..]),
            ("validations", &["expression", "messageExpression"][..]),
            ("auditAnnotations", &["valueExpression"][..]),
            ("generate", &["expression"][..]),
        ] {
            check_list(document, &format!("{spec}/{list}"), fields, POLICY_VARIABLES, &mut out);
        }
        let mutations = document.pointer("/spec/mutations").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        for index in 0..mutations {
            for field in ["applyConfiguration/expression", "jsonPatch/expression"] {
                check_one(document, &format!("/spec/mutations/{index}/{field}"), POLICY_VARIABLES, &mut out);
            }
        }
    } else if kind == "ClusterPolicy" || kind == "Policy" {
        let rules = document.pointer("/spec/rules").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        for index in 0..rules {
            let rule = format!("/spec/rules/{index}");
            check_list(document, &format!("{rule}/celPreconditions"), &["expression"], ADMISSION_VARIABLES, &mut out);
            let cel = format!("{rule}/validate/cel");
            check_list(
                document,
                &format!("{cel}/expressions"),
                &["expression", "messageExpression"],
                ADMISSION_VARIABLES,
                &mut out,
            );
            check_list(document, &format!("{cel}/variables"), &["expression"], ADMISSION_VARIABLES, &mut out);
            check_list(
                document,
                &format!("{cel}/auditAnnotations"),
                &["valueExpression"],
                ADMISSION_VARIABLES,
                &mut out,
            );
        }
    } else if kind == "ConstraintTemplate" {
        let codes = document.pointer("/spec/targets/0/code").and_then(Value::as_array).cloned().unwrap_or_default();
        for (index, code) in codes.iter().enumerate() {
            if code.get("engine").and_then(Value::as_str) != Some("K8sNativeValidation") {
                continue;
            }
            let source = format!("/spec/targets/0/code/{index}/source");
            check_list(document, &format!("{source}/matchConditions"), &["expression"], ADMISSION_VARIABLES, &mut out);
            check_list(document, &format!("{source}/variables"), &["expression"], ADMISSION_VARIABLES, &mut out);
            check_list(
                document,
                &format!("{source}/validations"),
                &["expression", "messageExpression"],
                ADMISSION_VARIABLES,
                &mut out,
            );
        }
    }
    out
}

fn check_list(
    document: &Value,
    pointer: &str,
    fields: &[&str],
    variables: &[&str],
    out: &mut Vec<ExpressionDiagnostic>,
) {
    let count = document.pointer(pointer).and_then(Value::as_array).map(Vec::len).unwrap_or(0);
    for index in 0..count {
        for field in fields {
            check_one(document, &format!("{pointer}/{index}/{field}"), variables, out);
        }
    }
}

fn check_one(document: &Value, pointer: &str, variables: &[&str], out: &mut Vec<ExpressionDiagnostic>) {
    let Some(source) = document.pointer(pointer).and_then(Value::as_str) else {
        return;
    };
    if let Err(errors) = Program::compile_checked(source, variables) {
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
}
