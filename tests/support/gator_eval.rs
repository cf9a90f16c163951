//! A gator review run through `policy-lsp eval`: the input gator hands a template's Rego (`input.review` for
//! the object under review, `input.parameters` from the constraint), and the number of violations the
//! binary's `eval` reports for `data.<package>.violation` over a template's source files.

use std::path::{Path, PathBuf};
use std::process::Command;

use policy_lsp::engine::gatekeeper::build_review;
use serde_json::{Value, json};

/// The input gator evaluates a template with, for `object` under `constraint` (as the constraint framework
/// builds it: the review of a CREATE request and the constraint's `spec.parameters`, `{}` without any).
pub fn gator_input(object: &Value, constraint: &Value) -> Result<Value, String> {
    let review = build_review(object)?.review;
    let parameters = constraint.pointer("/spec/parameters").cloned().unwrap_or_else(|| json!({}));
    Ok(json!({"review": review, "parameters": parameters}))
}

/// The package a Rego module declares (`package a.b` gives `a.b`).
pub fn package_of(rego: &str) -> Option<String> {
    rego.lines().find_map(|line| line.trim().strip_prefix("package ")).map(|name| name.trim().to_string())
}

/// Runs `policy-lsp eval -d <each source> -i <input> data.<package>.violation` and counts the violations:
/// an undefined result is none. `Err` carries what the binary printed when it failed.
pub fn violations_through_eval(
    sources: &[PathBuf],
    input: &Value,
    package: &str,
    scratch: &Path,
) -> Result<usize, String> {
    std::fs::create_dir_all(scratch).map_err(|error| error.to_string())?;
    let input_path = scratch.join("input.json");
    std::fs::write(&input_path, input.to_string()).map_err(|error| error.to_string())?;
    let mut command = Command::new(crate::support::POLICY_LSP);
    command.arg("eval");
    for source in sources {
        command.arg("-d").arg(source);
    }
    command.arg("-i").arg(&input_path).arg(format!("data.{package}.violation"));
    let output = command.output().map_err(|error| error.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("exit {:?}: {stdout}{}", output.status.code(), String::from_utf8_lossy(&output.stderr)));
    }
    let document: Value = serde_json::from_str(&stdout).map_err(|error| format!("{error}: {stdout}"))?;
    let value = document.pointer("/result/0/expressions/0/value");
    Ok(value.and_then(Value::as_array).map_or(0, Vec::len))
}
