//! Rego diagnostics for the editor: parse errors, undefined functions and unsafe variables in a
//! template's `rego` and `libs`, as positions inside each source text (the lead maps them into YAML).
//!
//! regorus stops at the first parse error and reports undefined functions only when a rule runs,
//! so after a successful parse we walk its AST ourselves for calls that nothing defines, and ask
//! regorus's scheduler about unsafe variables by evaluating each rule once against empty input.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{PreparedModule, prepare_module, rego_code, reported_message, reported_offset};

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
}

/// Parse and compile problems of every Rego text in a ConstraintTemplate.
pub fn rego_diagnostics(template: &Value) -> Vec<RegoDiagnostic> {
    let Some(code) = rego_code(template) else { return Vec::new() };
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
            if *builtins.entry(name.clone()).or_insert_with(|| is_builtin(&name)) {
                continue;
            }
            let start = module.rewritten.to_original(start);
            let end = module.rewritten.to_original(end).max(start);
            diagnostics.push(diagnostic(*source, pointer, text, start, end, format!("undefined function {name}")));
        }
    }
    diagnostics.extend(unsafe_variables(&prepared, code.rego_v1));
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
    RegoDiagnostic { source, pointer: pointer.to_string(), line, column, end_line, end_column, message }
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
            let Some(package) = dotted(module.ast.pointer("/package/refr")) else { continue };
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
            let Some(path) = dotted(import.get("refr")) else { continue };
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

/// `a.b["c"]` as `a.b.c`.
fn dotted(expression: Option<&Value>) -> Option<String> {
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

/// Compile errors that regorus's scheduler finds when the modules are first evaluated, unsafe
/// variables above all. regorus stops at the first one, so at most one is reported per run.
fn unsafe_variables(modules: &[(RegoSource, String, String, PreparedModule)], rego_v1: bool) -> Vec<RegoDiagnostic> {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(!rego_v1);
    engine.set_strict_builtin_errors(false);
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: std::time::Duration::from_secs(1),
        check_interval: std::num::NonZeroU32::new(1000).unwrap_or(std::num::NonZeroU32::MIN),
    });
    for (source, _, _, module) in modules {
        if engine.add_policy(module_name(*source), module.rewritten.text.clone()).is_err() {
            return Vec::new();
        }
    }
    let Err(error) = engine.eval_query("data".to_string(), false) else { return Vec::new() };
    let text = error.to_string();
    let message = reported_message(&text);
    // Undefined functions are reported by our own walk, with every occurrence.
    if !message.contains("is unsafe") {
        return Vec::new();
    }
    let Some(file) = text.split("--> ").nth(1).and_then(|location| location.split(':').next()) else {
        return Vec::new();
    };
    let Some((source, pointer, original, module)) =
        modules.iter().find(|(source, _, _, _)| module_name(*source) == file)
    else {
        return Vec::new();
    };
    let Some(offset) = reported_offset(&text, &module.rewritten.text) else { return Vec::new() };
    let start = module.rewritten.to_original(offset);
    let end = token_end(original, start);
    vec![diagnostic(*source, pointer, original, start, end, message)]
}
