//! Recursive functions, which OPA's compiler rejects (`rego_recursion_error`) and Gatekeeper so never
//! runs. regorus notices a rule that depends on itself, but a function that calls itself recurses until
//! the thread's stack overflows, which aborts the whole process: such a template must be refused
//! before it is evaluated.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::checks::dotted;

/// A call that closes a cycle: which module it is in, its byte range in that module's (rewritten)
/// text, and a sentence naming the cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecursiveCall {
    pub module: usize,
    pub start: usize,
    pub end: usize,
    pub message: String,
}

/// One call from a function to another function of the template.
struct Call {
    module: usize,
    start: usize,
    end: usize,
    target: String,
}

/// The recursive calls among the functions of a template's modules (`(ast, rewritten text)` each, the
/// main module first), one per cycle.
pub fn recursive_calls(modules: &[(&Value, &str)]) -> Vec<RecursiveCall> {
    let mut functions: BTreeMap<String, Vec<Call>> = BTreeMap::new();
    for (index, (ast, text)) in modules.iter().enumerate() {
        let package = format!("data.{}", dotted(ast.pointer("/package/refr")).unwrap_or_default());
        let aliases = import_aliases(ast, text);
        for rule in ast.get("rules").and_then(Value::as_array).into_iter().flatten() {
            let Some(spec) = rule.get("Spec") else { continue };
            let Some(name) = spec.pointer("/head/Func/refr").and_then(|reference| dotted(Some(reference))) else {
                continue;
            };
            let mut calls = Vec::new();
            collect_calls(spec, &mut |start, end, called: String| {
                calls.push(Call { module: index, start, end, target: resolve(&called, &package, &aliases) });
            });
            functions.entry(format!("{package}.{name}")).or_default().extend(calls);
        }
    }
    let mut found = Vec::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for start in functions.keys() {
        if reported.contains(start) {
            continue;
        }
        // Depth-first search for a path of calls back to `start`.
        let mut path: Vec<(&str, &Call)> = Vec::new();
        let mut visited: BTreeSet<&str> = BTreeSet::new();
        if let Some(closing) = cycle_from(start, start, &functions, &mut visited, &mut path) {
            let mut names: Vec<&str> = path.iter().map(|(name, _)| short(name)).collect();
            names.push(short(start));
            reported.extend(path.iter().map(|(name, _)| name.to_string()));
            found.push(RecursiveCall {
                module: closing.module,
                start: closing.start,
                end: closing.end,
                message: format!(
                    "function {} is recursive ({}); Rego does not allow recursion, OPA rejects the template",
                    short(start),
                    names.join(" -> ")
                ),
            });
        }
    }
    found
}

/// Follows calls from `current`; returns the call that reaches `target` again, with `path` holding the
/// functions on the way.
fn cycle_from<'a>(
    target: &str,
    current: &'a str,
    functions: &'a BTreeMap<String, Vec<Call>>,
    visited: &mut BTreeSet<&'a str>,
    path: &mut Vec<(&'a str, &'a Call)>,
) -> Option<&'a Call> {
    if !visited.insert(current) {
        return None;
    }
    for call in functions.get(current).into_iter().flatten() {
        path.push((current, call));
        if call.target == target {
            return Some(call);
        }
        if let Some((name, _)) = functions.get_key_value(&call.target)
            && let Some(closing) = cycle_from(target, name, functions, visited, path)
        {
            return Some(closing);
        }
        path.pop();
    }
    None
}

/// `data.k8s.f` as `f`.
fn short(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// The full path of a called name: `data.` paths as they are, an imported alias replaced by its path,
/// anything else in the module's own package.
fn resolve(called: &str, package: &str, aliases: &BTreeMap<String, String>) -> String {
    if called.starts_with("data.") {
        return called.to_string();
    }
    let first = called.split('.').next().unwrap_or(called);
    if let Some(path) = aliases.get(first) {
        return format!("{path}{}", &called[first.len()..]);
    }
    format!("{package}.{called}")
}

/// Import alias -> imported path (`import data.lib.x` is `x`; `import data.lib.x as y` is `y`).
fn import_aliases(ast: &Value, text: &str) -> BTreeMap<String, String> {
    let mut aliases = BTreeMap::new();
    for import in ast.get("imports").and_then(Value::as_array).into_iter().flatten() {
        let Some(path) = dotted(import.get("refr")) else { continue };
        let alias = import
            .get("as")
            .and_then(|span| {
                let start = usize::try_from(span.get("start")?.as_u64()?).ok()?;
                let end = usize::try_from(span.get("end")?.as_u64()?).ok()?;
                text.get(start..end).map(str::to_string)
            })
            .unwrap_or_else(|| path.rsplit('.').next().unwrap_or("").to_string());
        aliases.insert(alias, path);
    }
    aliases
}

fn collect_calls(value: &Value, found: &mut dyn FnMut(usize, usize, String)) {
    match value {
        Value::Object(map) => {
            if let Some(call) = map.get("Call")
                && let Some(function) = call.get("fcn")
                && let Some(name) = dotted(Some(function))
            {
                let span =
                    function.as_object().and_then(|fields| fields.values().next()).and_then(|node| node.get("span"));
                let offset = |key: &str| {
                    span.and_then(|span| span.get(key)).and_then(Value::as_u64).map_or(0, |offset| offset as usize)
                };
                found(offset("start"), offset("end"), name);
            }
            for child in map.values() {
                collect_calls(child, found);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_calls(item, found);
            }
        }
        _ => {}
    }
}
