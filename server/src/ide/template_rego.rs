//! Where the Rego of a ConstraintTemplate is (its `rego` and `libs`, or a `code` entry's `source`), and
//! which package each text declares: read by the index (which templates declare a package) and by Rego
//! navigation alike, so it sits below both.

use serde_json::Value;

/// The pointers of every Rego scalar of a template.
pub(super) fn template_rego_pointers(template: &Value) -> Vec<String> {
    let mut pointers = Vec::new();
    for (index, target) in template.pointer("/spec/targets").and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        let base = format!("/spec/targets/{index}");
        if target.get("rego").is_some_and(Value::is_string) {
            pointers.push(format!("{base}/rego"));
        }
        for (lib, _) in target.get("libs").and_then(Value::as_array).into_iter().flatten().enumerate() {
            pointers.push(format!("{base}/libs/{lib}"));
        }
        for (code, entry) in target.get("code").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if entry.pointer("/source/rego").is_some_and(Value::is_string) {
                pointers.push(format!("{base}/code/{code}/source/rego"));
            }
            for (lib, _) in entry.pointer("/source/libs").and_then(Value::as_array).into_iter().flatten().enumerate() {
                pointers.push(format!("{base}/code/{code}/source/libs/{lib}"));
            }
        }
    }
    pointers
}

/// The main Rego texts of a template (`rego`, or a `code` entry's `source.rego`) with the package each
/// declares.
pub(super) fn main_rego_packages(template: &Value) -> Vec<(String, String)> {
    template_rego_pointers(template)
        .into_iter()
        .filter(|pointer| pointer.ends_with("/rego"))
        .filter_map(|pointer| {
            let package = package_of_text(template.pointer(&pointer)?.as_str()?)?;
            Some((pointer, package))
        })
        .collect()
}

/// The package a Rego text declares (dotted, without `data.`), read from its tokens; `None` without one.
pub(super) fn package_of_text(text: &str) -> Option<String> {
    crate::testrun::opa::package_of(text).strip_prefix("data.").map(str::to_string)
}
