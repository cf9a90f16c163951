//! Where a ConstraintTemplate keeps its Rego: the target's `rego` and `libs`, or its `code` entry for the
//! Rego engine, with the JSON pointers of each source for diagnostics.

use serde_json::Value;

/// The Rego sources of a template target and where they are in the template.
#[derive(Debug, Clone)]
pub struct RegoCode {
    pub rego: String,
    pub rego_pointer: String,
    pub libs: Vec<(String, String)>,
    pub rego_v1: bool,
}

/// Finds the Rego of the template's (single) target: `targets[0].rego`/`libs` win over
/// `code[engine=Rego].source`, as in the constraint framework's conversion.
pub fn rego_code(template: &Value) -> Option<RegoCode> {
    let target = template.pointer("/spec/targets/0")?;
    if let Some(rego) = target.get("rego").and_then(Value::as_str).filter(|rego| !rego.is_empty()) {
        let libs = string_list(target.get("libs"), "/spec/targets/0/libs");
        return Some(RegoCode {
            rego: rego.to_string(),
            rego_pointer: "/spec/targets/0/rego".to_string(),
            libs,
            rego_v1: false,
        });
    }
    let codes = target.get("code").and_then(Value::as_array)?;
    let (index, code) =
        codes.iter().enumerate().find(|(_, code)| code.get("engine").and_then(Value::as_str) == Some("Rego"))?;
    let source = code.get("source")?;
    let rego = source.get("rego").and_then(Value::as_str)?;
    let base = format!("/spec/targets/0/code/{index}/source");
    Some(RegoCode {
        rego: rego.to_string(),
        rego_pointer: format!("{base}/rego"),
        libs: string_list(source.get("libs"), &format!("{base}/libs")),
        rego_v1: source.get("version").and_then(Value::as_str) == Some("v1"),
    })
}

fn string_list(value: Option<&Value>, pointer: &str) -> Vec<(String, String)> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| Some((item.as_str()?.to_string(), format!("{pointer}/{index}"))))
                .collect()
        })
        .unwrap_or_default()
}
