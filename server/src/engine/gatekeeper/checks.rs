//! The constraint framework's rules for template Rego, which plain Rego does not have: libs live
//! under `package lib.*`, imports name libs (or `future.keywords`/`rego.v1`), and data is read only
//! from `data.lib` and `data.inventory`. Gatekeeper rejects a template that breaks them.

use serde_json::Value;

/// One broken rule: byte range in the module's (rewritten) text and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameworkProblem {
    pub start: usize,
    pub end: usize,
    pub message: String,
}

/// Checks one module; `is_lib` for `libs[i]`.
pub fn framework_problems(ast: &Value, is_lib: bool) -> Vec<FrameworkProblem> {
    let mut problems = Vec::new();
    if is_lib {
        let package = dotted(ast.pointer("/package/refr"));
        let allowed = package.as_deref().is_some_and(|path| path.starts_with("lib."));
        if !allowed {
            let (start, end) = span(ast.pointer("/package/refr")).unwrap_or((0, 0));
            problems.push(FrameworkProblem {
                start,
                end,
                message: format!(
                    "a lib's package must be under `lib` (for example `package lib.helpers`), not {}",
                    package.unwrap_or_default()
                ),
            });
        }
    }
    for import in ast.get("imports").and_then(Value::as_array).into_iter().flatten() {
        let Some(path) = dotted(import.get("refr")) else {
            continue;
        };
        let allowed = path.starts_with("data.lib.") || path.starts_with("future.") || path == "rego.v1";
        if !allowed {
            let (start, end) = span(import.get("refr")).unwrap_or((0, 0));
            let message = if path == "input" || path.starts_with("input.") {
                format!("Gatekeeper templates cannot import input: {path}")
            } else {
                format!("Gatekeeper templates may import only libs under data.lib: {path}")
            };
            problems.push(FrameworkProblem { start, end, message });
        }
    }
    if let Some(rules) = ast.get("rules") {
        data_references(rules, &mut problems);
    }
    problems
}

/// References into `data` other than `data.lib...` and `data.inventory...`.
fn data_references(value: &Value, problems: &mut Vec<FrameworkProblem>) {
    match value {
        Value::Object(map) => {
            for kind in ["RefDot", "RefBrack"] {
                let Some(reference) = map.get(kind) else {
                    continue;
                };
                let is_data_root = reference
                    .get("refr")
                    .and_then(|root| root.get("Var"))
                    .and_then(|var| var.get("value"))
                    .and_then(Value::as_str)
                    == Some("data");
                if is_data_root {
                    let segment = match kind {
                        "RefDot" => reference.get("field").and_then(|field| field.get(1)).and_then(Value::as_str),
                        _ => reference
                            .get("index")
                            .and_then(|index| index.get("String").or_else(|| index.get("RawString")))
                            .and_then(|string| string.get("value"))
                            .and_then(Value::as_str),
                    };
                    if !matches!(segment, Some("lib" | "inventory")) {
                        let (start, end) = span(Some(value)).unwrap_or((0, 0));
                        problems.push(FrameworkProblem {
                            start,
                            end,
                            message: format!(
                                "Gatekeeper templates may read only data.lib and data.inventory, not data.{}",
                                segment.unwrap_or("<dynamic>")
                            ),
                        });
                    }
                }
            }
            for child in map.values() {
                data_references(child, problems);
            }
        }
        Value::Array(items) => {
            for item in items {
                data_references(item, problems);
            }
        }
        _ => {}
    }
}

/// The span of an AST enum node such as `{"Var": {"span": ...}}`.
fn span(node: Option<&Value>) -> Option<(usize, usize)> {
    let fields = node?.as_object()?.values().next()?;
    let span = fields.get("span")?;
    let start = usize::try_from(span.get("start")?.as_u64()?).ok()?;
    let end = usize::try_from(span.get("end")?.as_u64()?).ok()?;
    Some((start, end))
}

/// `a.b["c"]` as `a.b.c`.
pub fn dotted(expression: Option<&Value>) -> Option<String> {
    let expression = expression?;
    if let Some(var) = expression.get("Var") {
        return Some(var.get("value")?.as_str()?.to_string());
    }
    if let Some(reference) = expression.get("RefDot") {
        let head = dotted(reference.get("refr"))?;
        let field = reference.get("field")?.get(1)?.as_str()?;
        return Some(format!("{head}.{field}"));
    }
    if let Some(reference) = expression.get("RefBrack") {
        let head = dotted(reference.get("refr"))?;
        let index = reference.get("index")?;
        let field = index.get("String").or_else(|| index.get("RawString"))?.get("value")?.as_str()?;
        return Some(format!("{head}.{field}"));
    }
    None
}
