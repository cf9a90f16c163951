//! Rego diagnostics: parse errors, undefined functions, wrong argument counts, recursion and unsafe
//! variables, for a template's `rego` and `libs` (as positions inside each source text, which the editor
//! maps into YAML) and, through [`check_modules`], for plain `.rego` files.
//!
//! regorus stops at the first parse error and reports undefined functions only when a rule runs, so after
//! a successful parse the AST is walked for calls that nothing defines, and `safety` finds the unsafe
//! variables OPA's compiler rejects.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::checks::{dotted, framework_problems};
use super::code::rego_code;
use super::deprecated::deprecated_builtin;
use super::parse::{PreparedModule, prepare_module};
use super::safety;

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
    let inputs: Vec<CheckInput<'_>> = prepared
        .iter()
        .map(|(source, _, _, module)| CheckInput {
            module,
            rego_v1: code.rego_v1,
            framework: Some(Framework { is_lib: matches!(source, RegoSource::Lib(_)) }),
        })
        .collect();
    for finding in check_modules(&inputs, &BTreeSet::new()) {
        let (source, pointer, text, _) = &prepared[finding.module];
        let mut found = diagnostic(*source, pointer, text, finding.start, finding.end, finding.message);
        found.rejects_template = !finding.deprecated;
        diagnostics.push(found);
    }
    diagnostics
}

/// A parsed module handed to [`check_modules`].
pub(crate) struct CheckInput<'a> {
    pub module: &'a PreparedModule,
    /// Rego v1 has no deprecated built-ins.
    pub rego_v1: bool,
    /// The constraint framework's rules for template Rego, or `None` for a plain `.rego` file.
    pub framework: Option<Framework>,
}

/// How the constraint framework sees a template module.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Framework {
    /// `libs[i]` rather than the main `rego`.
    pub is_lib: bool,
}

/// One problem OPA's compiler (or the constraint framework) finds in a module, at byte offsets of the
/// module's original text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    /// The index of the module in the checked list.
    pub module: usize,
    pub start: usize,
    pub end: usize,
    pub message: String,
    /// A deprecated built-in called in Rego v0: OPA accepts it, so it is a warning, no reason to refuse
    /// the module.
    pub deprecated: bool,
}

/// What OPA's compiler rejects in a set of modules compiled together, which regorus finds only on the
/// paths it evaluates: calls of undefined functions and calls with the wrong number of arguments,
/// recursion, unsafe variables, and (for templates) the constraint framework's rules. `external` holds
/// the `data.` paths of rules that other modules, not checked here, define.
pub(crate) fn check_modules(modules: &[CheckInput<'_>], external: &BTreeSet<String>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let definitions = Definitions::collect(modules, external);
    let mut found =
        |module: usize, prepared: &PreparedModule, start: usize, end: usize, message: String, deprecated: bool| {
            let start = prepared.rewritten.to_original(start);
            let end = prepared.rewritten.to_original(end).max(start);
            findings.push(Finding { module, start, end, message, deprecated });
        };
    for (index, input) in modules.iter().enumerate() {
        let module = input.module;
        for call in calls(&module.ast) {
            if let Some(arities) = definitions.resolve(&call.name, &module.ast, &module.rewritten.text) {
                if let Some(message) = arity_problem(&call, &arities) {
                    found(index, module, call.start, call.end, message, false);
                }
                continue;
            }
            if let Some(deprecated) = deprecated_builtin(&call.name) {
                // OPA keeps the deprecated built-ins for Rego v0 and removed them from Rego v1.
                let message = if input.rego_v1 {
                    format!(
                        "undefined function {}: Rego v1 removed this deprecated built-in; use {}",
                        call.name, deprecated.replacement
                    )
                } else {
                    format!(
                        "{} is a deprecated built-in (Rego v1 removed it); use {}",
                        call.name, deprecated.replacement
                    )
                };
                found(index, module, call.start, call.end, message, !input.rego_v1);
                if !input.rego_v1
                    && let Some(message) = arity_problem(&call, &[usize::from(deprecated.arity)])
                {
                    found(index, module, call.start, call.end, message, false);
                }
                continue;
            }
            let message = match builtin_arities(&call.name) {
                Some(arities) => arity_problem(&call, &arities),
                None => Some(format!("undefined function {}", call.name)),
            };
            if let Some(message) = message {
                found(index, module, call.start, call.end, message, false);
            }
        }
        if let Some(framework) = input.framework {
            for problem in framework_problems(&module.ast, framework.is_lib) {
                found(index, module, problem.start, problem.end, problem.message, false);
            }
        }
    }
    let asts: Vec<(&Value, &str)> =
        modules.iter().map(|input| (&input.module.ast, input.module.rewritten.text.as_str())).collect();
    for call in super::recursion::recursive_calls(&asts) {
        found(call.module, modules[call.module].module, call.start, call.end, call.message, false);
    }
    for (index, input) in modules.iter().enumerate() {
        for variable in unsafe_variables(input.module, &definitions) {
            let message = format!("var {} is unsafe", variable.name);
            found(index, input.module, variable.start, variable.end, message, false);
        }
    }
    findings.sort_by_key(|finding| (finding.module, finding.start, finding.end));
    findings
}

/// A call with a number of arguments no definition takes. A call may pass one argument more than the
/// function takes: the output argument of a statement such as `count(xs, n)`.
fn arity_problem(call: &Call, arities: &[usize]) -> Option<String> {
    if arities.is_empty() || arities.iter().any(|arity| call.arguments == *arity || call.arguments == arity + 1) {
        return None;
    }
    let wanted: Vec<String> = arities.iter().map(usize::to_string).collect();
    Some(format!(
        "{} takes {} argument{}, not {}",
        call.name,
        wanted.join(" or "),
        if arities == [1] { "" } else { "s" },
        call.arguments
    ))
}

/// The numbers of arguments a built-in of regorus takes (none listed: any number), or `None` when it has
/// no built-in of that name.
pub(crate) fn builtin_arities(name: &str) -> Option<Vec<usize>> {
    if name == "print" {
        return Some(Vec::new());
    }
    regorus::unstable::BUILTINS.get(name).map(|(_, arity)| vec![usize::from(*arity)])
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

/// Rules and functions that modules define, by their full `data.` path, with the argument counts of the
/// functions among them (empty for a rule that is not a function).
struct Definitions {
    paths: BTreeMap<String, Vec<usize>>,
}

impl Definitions {
    fn collect(modules: &[CheckInput<'_>], external: &BTreeSet<String>) -> Self {
        let mut paths: BTreeMap<String, Vec<usize>> = external.iter().map(|path| (path.clone(), Vec::new())).collect();
        for input in modules {
            let ast = &input.module.ast;
            let Some(package) = dotted(ast.pointer("/package/refr")) else {
                continue;
            };
            for rule in ast.get("rules").and_then(Value::as_array).into_iter().flatten() {
                let Some(spec) = rule.get("Spec").or_else(|| rule.get("Default")) else { continue };
                let head = spec.get("head").and_then(|head| head.as_object()).and_then(|head| head.iter().next());
                let reference = match head {
                    Some((_, fields)) => fields.get("refr"),
                    None => spec.get("refr"),
                };
                let Some(name) = reference.and_then(super::rewrite::root_var_name) else {
                    continue;
                };
                let arities = paths.entry(format!("data.{package}.{name}")).or_default();
                if let Some(("Func", fields)) = head.map(|(kind, fields)| (kind.as_str(), fields)) {
                    let arity = fields.get("args").and_then(Value::as_array).map_or(0, Vec::len);
                    if !arities.contains(&arity) {
                        arities.push(arity);
                    }
                }
            }
        }
        Definitions { paths }
    }

    /// The rule names (of any package) that the module's package defines.
    fn names_in_package(&self, package: &str) -> impl Iterator<Item = &str> {
        let prefix = format!("data.{package}.");
        self.paths.keys().filter_map(move |path| path.strip_prefix(&prefix)).filter(|rest| !rest.contains('.'))
    }

    /// The argument counts of what a called name refers to (a rule of this module's package, an imported
    /// rule or a `data.` rule), or `None` when nothing defines it. An import of something outside `data`
    /// resolves without counts.
    fn resolve(&self, name: &str, ast: &Value, text: &str) -> Option<Vec<usize>> {
        let package = dotted(ast.pointer("/package/refr")).unwrap_or_default();
        if let Some(arities) = self.paths.get(&format!("data.{package}.{name}")).or_else(|| self.paths.get(name)) {
            return Some(arities.clone());
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
                if let Some(arities) = self.paths.get(&full) {
                    return Some(arities.clone());
                }
                if !full.starts_with("data.") {
                    return Some(Vec::new());
                }
            }
        }
        None
    }
}

/// The text a span (`{start, end}` byte offsets) covers.
fn span_text(span: &Value, text: &str) -> Option<String> {
    let start = usize::try_from(span.get("start")?.as_u64()?).ok()?;
    let end = usize::try_from(span.get("end")?.as_u64()?).ok()?;
    text.get(start..end).map(str::to_string)
}

/// A call in a module: the function's name, where the name is in the rewritten text, and how many
/// arguments it passes.
struct Call {
    name: String,
    start: usize,
    end: usize,
    arguments: usize,
}

/// Every call in a module.
fn calls(ast: &Value) -> Vec<Call> {
    let mut found = Vec::new();
    collect_calls(ast, &mut found);
    found
}

fn collect_calls(value: &Value, found: &mut Vec<Call>) {
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
                let arguments = call.get("params").and_then(Value::as_array).map_or(0, Vec::len);
                found.push(Call { name, start, end, arguments });
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

/// Unsafe variables of a module (see `safety`): rule names of the module's package and its import
/// aliases are global names, not variables.
fn unsafe_variables(module: &PreparedModule, definitions: &Definitions) -> Vec<safety::UnsafeVariable> {
    let package = dotted(module.ast.pointer("/package/refr")).unwrap_or_default();
    let mut globals: BTreeSet<String> = ["input", "data"].iter().map(|name| name.to_string()).collect();
    globals.extend(definitions.names_in_package(&package).map(str::to_string));
    for import in module.ast.get("imports").and_then(Value::as_array).into_iter().flatten() {
        let alias = import
            .get("as")
            .and_then(|span| span_text(span, &module.rewritten.text))
            .or_else(|| dotted(import.get("refr")).and_then(|path| path.rsplit('.').next().map(str::to_string)));
        globals.extend(alias);
    }
    safety::unsafe_variables(&module.ast, &module.rewritten.text, &globals)
}
