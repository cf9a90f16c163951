//! Rego diagnostics for the editor: parse errors, undefined functions and unsafe variables in a
//! template's `rego` and `libs`, as positions inside each source text (the lead maps them into YAML).
//!
//! regorus stops at the first parse error and reports undefined functions only when a rule runs,
//! so after a successful parse we walk its AST ourselves for calls that nothing defines, and ask
//! regorus's scheduler about unsafe variables by evaluating each rule once against empty input.

use std::collections::BTreeSet;

use serde_json::Value;

use super::checks::{dotted, framework_problems};
use super::deprecated::deprecated_builtin;
use super::{PreparedModule, prepare_module, rego_code, safety};

/// Which text of the template a diagnostic is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegoSource {
    /// The main `rego` text.
    Rego,
    /// `libs[i]`.
    Lib(usize),
}

/// One problem in Rego text. Lines are 0-based; columns are 0-based UTF-8 byte offsets in the line
/// of that source text; the end is exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegoDiagnostic {
    pub source: RegoSource,
    /// JSON pointer of the source string inside the template.
    pub pointer: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub message: String,
    /// `false` for what OPA accepts but discourages (a deprecated built-in in Rego v0): Gatekeeper takes
    /// the template, so it is no reason to reject it.
    pub rejects_template: bool,
}

/// Parse and compile problems of every Rego text in a ConstraintTemplate.
pub fn rego_diagnostics(template: &Value) -> Vec<RegoDiagnostic> {
    let Some(code) = rego_code(template) else {
        return Vec::new();
    };
    let mut sources = vec![(RegoSource::Rego, code.rego_pointer.clone(), code.rego.clone())];
    for (index, (lib, pointer)) in code.libs.iter().enumerate() {
        sources.push((RegoSource::Lib(index), pointer.clone(), lib.clone()));
    }
    let mut diagnostics = Vec::new();
    let mut prepared = Vec::new();
    for (source, pointer, text) in &sources {
        let name = module_name(*source);
        let lexical = super::lexer::lexical_errors(text);
        if !lexical.is_empty() {
            // The tokens locate these exactly, where regorus would point at the enclosing statement.
            for (start, end, message) in lexical {
                diagnostics.push(diagnostic(*source, pointer, text, start, end, message));
            }
            continue;
        }
        match prepare_module(&name, text, code.rego_v1) {
            Ok(module) => prepared.push((*source, pointer.clone(), text.clone(), module)),
            Err(error) => {
                let end = token_end(text, error.offset);
                diagnostics.push(diagnostic(*source, pointer, text, error.offset, end, error.message));
            }
        }
    }
    if prepared.len() != sources.len() {
        // Cross-module checks need every module; report the parse errors first.
        return diagnostics;
    }
    let definitions = Definitions::collect(&prepared);
    let mut builtins: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    for (source, pointer, text, module) in &prepared {
        for (start, end, name) in calls(&module.ast) {
            if definitions.resolves(name.as_str(), &module.ast, &module.rewritten.text) {
                continue;
            }
            let start = module.rewritten.to_original(start);
            let end = module.rewritten.to_original(end).max(start);
            if let Some(deprecated) = deprecated_builtin(&name) {
                // OPA keeps the deprecated built-ins for Rego v0 and removed them from Rego v1.
                let mut found = if code.rego_v1 {
                    diagnostic(
                        *source,
                        pointer,
                        text,
                        start,
                        end,
                        format!(
                            "undefined function {name}: Rego v1 removed this deprecated built-in; use {}",
                            deprecated.replacement
                        ),
                    )
                } else {
                    diagnostic(
                        *source,
                        pointer,
                        text,
                        start,
                        end,
                        format!("{name} is a deprecated built-in (Rego v1 removed it); use {}", deprecated.replacement),
                    )
                };
                found.rejects_template = code.rego_v1;
                diagnostics.push(found);
                continue;
            }
            if *builtins.entry(name.clone()).or_insert_with(|| is_builtin(&name)) {
                continue;
            }
            diagnostics.push(diagnostic(*source, pointer, text, start, end, format!("undefined function {name}")));
        }
    }
    for (source, pointer, text, module) in &prepared {
        for problem in framework_problems(&module.ast, matches!(source, RegoSource::Lib(_))) {
            let start = module.rewritten.to_original(problem.start);
            let end = module.rewritten.to_original(problem.end).max(start);
            diagnostics.push(diagnostic(*source, pointer, text, start, end, problem.message));
        }
    }
    let modules: Vec<(&Value, &str)> =
        prepared.iter().map(|(_, _, _, module)| (&module.ast, module.rewritten.text.as_str())).collect();
    for call in super::recursion::recursive_calls(&modules) {
        let (source, pointer, text, module) = &prepared[call.module];
        let start = module.rewritten.to_original(call.start);
        let end = module.rewritten.to_original(call.end).max(start);
        diagnostics.push(diagnostic(*source, pointer, text, start, end, call.message));
    }
    diagnostics.extend(unsafe_variables(&prepared));
    diagnostics
}

fn module_name(source: RegoSource) -> String {
    match source {
        RegoSource::Rego => "rego".to_string(),
        RegoSource::Lib(index) => format!("libs[{index}]"),
    }
}

fn diagnostic(
    source: RegoSource,
    pointer: &str,
    text: &str,
    start: usize,
    end: usize,
    message: String,
) -> RegoDiagnostic {
    let (line, column) = line_column(text, start);
    let (end_line, end_column) = line_column(text, end.max(start));
    RegoDiagnostic {
        source,
        pointer: pointer.to_string(),
        line,
        column,
        end_line,
        end_column,
        message,
        rejects_template: true,
    }
}

/// 0-based line and byte column of an offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|byte| **byte == b'\n').count();
    let line_start = before.iter().rposition(|byte| *byte == b'\n').map_or(0, |index| index + 1);
    (line, offset - line_start)
}

/// The end of the token at `offset`, so an error underlines a word rather than one byte.
fn token_end(text: &str, offset: usize) -> usize {
    super::lexer::tokenize(text)
        .iter()
        .find(|token| token.start <= offset && offset < token.end && !token.is_trivia())
        .map_or((offset + 1).min(text.len()), |token| token.end)
}

/// Rules and functions that modules define, by their full `data.` path, and each module's imports.
struct Definitions {
    paths: BTreeSet<String>,
}

impl Definitions {
    fn collect(modules: &[(RegoSource, String, String, PreparedModule)]) -> Self {
        let mut paths = BTreeSet::new();
        for (_, _, _, module) in modules {
            let Some(package) = dotted(module.ast.pointer("/package/refr")) else {
                continue;
            };
            for name in super::rewrite::rule_names(&module.ast) {
                paths.insert(format!("data.{package}.{name}"));
            }
        }
        Definitions { paths }
    }

    /// Whether a called name is a rule of this module, an imported rule or a `data.` rule.
    fn resolves(&self, name: &str, ast: &Value, text: &str) -> bool {
        let package = dotted(ast.pointer("/package/refr")).unwrap_or_default();
        if self.paths.contains(&format!("data.{package}.{name}")) || self.paths.contains(name) {
            return true;
        }
        let first = name.split('.').next().unwrap_or(name);
        for import in ast.get("imports").and_then(Value::as_array).into_iter().flatten() {
            let Some(path) = dotted(import.get("refr")) else {
                continue;
            };
            let alias = import
                .get("as")
                .and_then(|span| span_text(span, text))
                .unwrap_or_else(|| path.rsplit('.').next().unwrap_or("").to_string());
            if alias == first {
                let rest = &name[first.len()..];
                let full = format!("{path}{rest}");
                if self.paths.contains(&full) || !full.starts_with("data.") {
                    return true;
                }
            }
        }
        false
    }
}

/// The text a span (`{start, end}` byte offsets) covers.
fn span_text(span: &Value, text: &str) -> Option<String> {
    let start = usize::try_from(span.get("start")?.as_u64()?).ok()?;
    let end = usize::try_from(span.get("end")?.as_u64()?).ok()?;
    text.get(start..end).map(str::to_string)
}

/// Every call in a module: (start, end) of the function name in the rewritten text, and the name.
fn calls(ast: &Value) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    collect_calls(ast, &mut found);
    found
}

fn collect_calls(value: &Value, found: &mut Vec<(usize, usize, String)>) {
    match value {
        Value::Object(map) => {
            if let Some(call) = map.get("Call")
                && let Some(function) = call.get("fcn")
                && let Some(name) = dotted(Some(function))
                && let Some((_, fields)) = function.as_object().and_then(|map| map.iter().next())
                && let Some(span) = fields.get("span")
            {
                let start = span.get("start").and_then(Value::as_u64).unwrap_or(0) as usize;
                let end = span.get("end").and_then(Value::as_u64).unwrap_or(0) as usize;
                found.push((start, end, name));
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

/// Asks regorus whether it knows a built-in by calling it with no useful arguments: an unknown
/// name fails with "could not find function", any other failure means the name exists.
fn is_builtin(name: &str) -> bool {
    let mut engine = regorus::Engine::new();
    match engine.eval_query(format!("{name}(null)"), false) {
        Ok(_) => true,
        Err(error) => !error.to_string().contains("could not find function"),
    }
}

/// Unsafe variables of every module (see `safety`): rule names of the module's package and its
/// import aliases are global names, not variables.
fn unsafe_variables(modules: &[(RegoSource, String, String, PreparedModule)]) -> Vec<RegoDiagnostic> {
    let mut diagnostics = Vec::new();
    for (source, pointer, original, module) in modules {
        let package = dotted(module.ast.pointer("/package/refr"));
        let mut globals: BTreeSet<String> = ["input", "data"].iter().map(|name| name.to_string()).collect();
        for (_, _, _, other) in modules {
            if dotted(other.ast.pointer("/package/refr")) == package {
                globals.extend(super::rewrite::rule_names(&other.ast));
            }
        }
        for import in module.ast.get("imports").and_then(Value::as_array).into_iter().flatten() {
            let alias = import
                .get("as")
                .and_then(|span| span_text(span, &module.rewritten.text))
                .or_else(|| dotted(import.get("refr")).and_then(|path| path.rsplit('.').next().map(str::to_string)));
            globals.extend(alias);
        }
        for variable in safety::unsafe_variables(&module.ast, &module.rewritten.text, &globals) {
            let start = module.rewritten.to_original(variable.start);
            let end = module.rewritten.to_original(variable.end).max(start);
            let message = format!("var {} is unsafe", variable.name);
            diagnostics.push(diagnostic(*source, pointer, original, start, end, message));
        }
    }
    diagnostics
}
