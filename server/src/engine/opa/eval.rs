//! `opa eval`: one query against a compiled bundle and an input, answered in the JSON document
//! `opa eval --format json` prints (OPA's `presentation.Output`): `{"result": [{"expressions": [{"value",
//! "text", "location": {"row", "col"}}], "bindings": {...}}]}`, `{}` when the query is undefined, and
//! `{"errors": [{"message", "code"}]}` when it fails.

use serde_json::{Value, json};

use super::bundle::CompiledBundle;
use super::tester::error_message;

/// What evaluating a query produced.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalOutput {
    /// The document `opa eval --format json` prints.
    pub document: Value,
    /// Whether the query had at least one result (`--fail` fails when it has none).
    pub defined: bool,
    /// Whether evaluation failed (OPA exits with 1).
    pub failed: bool,
    /// What `print` wrote (OPA writes it to stderr).
    pub output: Vec<String>,
}

/// Evaluates `query` with `input` (none when `None`, as `opa eval` without `-i`).
pub fn evaluate(bundle: &mut CompiledBundle, input: Option<Value>, query: &str) -> EvalOutput {
    if let Some(input) = input {
        bundle.engine.set_input(regorus::Value::from(input));
    }
    let result = bundle.engine.eval_query(query.to_string(), false);
    let output = bundle.take_output();
    match result {
        Ok(results) => {
            let defined = !results.result.is_empty();
            let document = serde_json::to_value(&results).unwrap_or_else(|_| json!({}));
            EvalOutput { document, defined, failed: false, output }
        }
        Err(error) => {
            let message = error_message(&error);
            let code = if message.contains("timeout") { "eval_cancel_error" } else { "eval_error" };
            EvalOutput { document: errors_document(&[(code, message)]), defined: false, failed: true, output }
        }
    }
}

/// `{"errors": [{"message": ..., "code": ...}]}`, as OPA prints errors in the JSON format.
pub fn errors_document(errors: &[(&str, String)]) -> Value {
    let errors: Vec<Value> = errors.iter().map(|(code, message)| json!({"message": message, "code": code})).collect();
    json!({ "errors": errors })
}
