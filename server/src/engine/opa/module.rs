//! One `.rego` file as OPA reads it: which Rego version it is written in, its package, imports and rules,
//! and the test rules `opa test` would run, with byte ranges into the text the user wrote.

use serde_json::Value;

use crate::base::TextRange;
use crate::engine::gatekeeper::lexer::{lexical_errors, tokenize};
use crate::engine::gatekeeper::{ParseError, PreparedModule, prepare_module};

/// The two dialects of Rego. v1 (OPA 1.0's default) requires `if` and `contains` and drops the
/// deprecated built-ins; v0 is what OPA 0.x parses without imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegoVersion {
    V0,
    V1,
}

impl RegoVersion {
    pub fn is_v1(self) -> bool {
        self == RegoVersion::V1
    }

    pub fn name(self) -> &'static str {
        match self {
            RegoVersion::V0 => "v0",
            RegoVersion::V1 => "v1",
        }
    }
}

/// What the settings (`rego.version` in `.policy-lsp.yaml`, `--v0-compatible`, `--v1-compatible`) say
/// about a file that does not import `rego.v1`.
///
/// OPA decides per run: 1.x parses every file as v1 unless `--v0-compatible` is given, 0.x as v0 unless
/// the file imports `rego.v1`. `Auto` serves both kinds of repository without configuration: a file is v1
/// when it parses as v1 and v0 otherwise, the way Regal reads files of an unknown version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VersionSetting {
    #[default]
    Auto,
    V0,
    V1,
}

/// The name of the rule prefix `opa test` runs (OPA's `tester.TestPrefix`).
pub const TEST_PREFIX: &str = "test_";
/// The prefix of tests `opa test` reports as skipped without running them (OPA's `tester.SkipTestPrefix`).
pub const SKIP_TEST_PREFIX: &str = "todo_test_";

/// An `import` of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The imported path, `["data", "lib", "helpers"]` or `["future", "keywords", "in"]`.
    pub path: Vec<String>,
    /// The name the module uses for it: the alias after `as`, else the last part of the path.
    pub alias: String,
    pub range: TextRange,
}

/// What kind of document a rule defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    /// `p := value`, `p if { ... }`, `default p := value`.
    Complete,
    /// `p contains x if { ... }` (and v0's `p[x] { ... }`).
    PartialSet,
    /// `p[key] := value if { ... }`: the head ends in a variable key.
    PartialObject,
    /// `f(x) := y if { ... }`, with its number of arguments.
    Function(usize),
}

/// One rule definition (a rule defined in several places has one entry per definition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The ground part of the head's reference: `["violation"]`, `["a", "b"]` for `a.b := 1`.
    pub path: Vec<String>,
    pub kind: RuleKind,
    pub is_default: bool,
    /// The head's reference as written (`violation`, `test_x`, `a.b`).
    pub name_range: TextRange,
    /// The whole definition, head and bodies.
    pub range: TextRange,
    /// Where each ground part of the head's reference ends, in the text handed to regorus (the
    /// duplicate-test renaming inserts a suffix there).
    pub(crate) part_ends: Vec<usize>,
}

impl Rule {
    /// The name as OPA's test runner reads it: the first part of the ground path that starts with a
    /// test prefix, else the last part.
    pub fn test_name(&self) -> Option<(&str, usize)> {
        self.path.iter().enumerate().find_map(|(index, part)| {
            (part.starts_with(TEST_PREFIX) || part.starts_with(SKIP_TEST_PREFIX)).then_some((part.as_str(), index))
        })
    }

    /// Whether `opa test` runs (or skips) this definition.
    pub fn is_test(&self) -> bool {
        self.test_name().is_some()
    }

    /// Whether `opa test` reports the test as skipped (`todo_test_` prefix).
    pub fn is_skipped_test(&self) -> bool {
        self.test_name().is_some_and(|(name, _)| name.starts_with(SKIP_TEST_PREFIX))
    }
}

/// A module that parsed: its summary and the form handed to regorus.
#[derive(Clone)]
pub struct Module {
    pub name: String,
    pub text: String,
    pub version: RegoVersion,
    /// Whether the version came from an `import rego.v1` rather than from the settings or the fallback.
    pub imports_rego_v1: bool,
    /// `["k8s", "labels"]` for `package k8s.labels`.
    pub package: Vec<String>,
    pub package_range: TextRange,
    pub imports: Vec<Import>,
    pub rules: Vec<Rule>,
    pub(crate) prepared: PreparedModule,
}

impl Module {
    /// `data.k8s.labels`.
    pub fn package_path(&self) -> String {
        std::iter::once("data").chain(self.package.iter().map(String::as_str)).collect::<Vec<_>>().join(".")
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Module")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("package", &self.package)
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// A module that does not parse: where and why, in the version it was read as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFailure {
    pub version: RegoVersion,
    pub range: TextRange,
    pub message: String,
}

/// Whether the text imports `rego.v1`, which makes a module v1 whatever the settings say.
pub fn imports_rego_v1(text: &str) -> bool {
    let words: Vec<&str> =
        tokenize(text).into_iter().filter(|token| !token.is_trivia()).map(|token| token.text(text)).collect();
    words.windows(4).any(|window| window == ["import", "rego", ".", "v1"])
}

/// Parses a module, choosing its version as OPA would (see [`VersionSetting`]).
pub fn parse_module(name: &str, text: &str, setting: VersionSetting) -> Result<Module, ParseFailure> {
    let explicit_v1 = imports_rego_v1(text);
    if let Some((start, end, message)) = lexical_errors(text).into_iter().next() {
        // The tokens locate these exactly, where regorus would point at the enclosing statement.
        let version = if setting == VersionSetting::V0 && !explicit_v1 { RegoVersion::V0 } else { RegoVersion::V1 };
        return Err(ParseFailure { version, range: TextRange::new(start, end.max(start)), message });
    }
    let attempt = |version: RegoVersion| -> Result<Module, ParseFailure> {
        let prepared = prepare_module(name, text, version.is_v1()).map_err(|error| failure(text, version, error))?;
        Ok(summarize(name, text, version, explicit_v1, prepared))
    };
    if explicit_v1 {
        return attempt(RegoVersion::V1);
    }
    match setting {
        VersionSetting::V0 => attempt(RegoVersion::V0),
        VersionSetting::V1 => attempt(RegoVersion::V1),
        VersionSetting::Auto => match attempt(RegoVersion::V1) {
            Ok(module) => Ok(module),
            Err(as_v1) => match attempt(RegoVersion::V0) {
                Ok(module) => Ok(module),
                // Neither reads it: the version that got further is the one the author wrote in.
                Err(as_v0) => Err(if as_v0.range.start > as_v1.range.start { as_v0 } else { as_v1 }),
            },
        },
    }
}

fn failure(text: &str, version: RegoVersion, error: ParseError) -> ParseFailure {
    let start = error.offset.min(text.len());
    ParseFailure { version, range: TextRange::new(start, token_end(text, start)), message: error.message }
}

/// The end of the token at `offset`, so that an error underlines a word rather than one byte.
pub(crate) fn token_end(text: &str, offset: usize) -> usize {
    tokenize(text)
        .iter()
        .find(|token| token.start <= offset && offset < token.end && !token.is_trivia())
        .map_or_else(|| next_boundary(text, offset), |token| token.end)
}

fn next_boundary(text: &str, offset: usize) -> usize {
    let mut end = (offset + 1).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    end
}

fn summarize(name: &str, text: &str, version: RegoVersion, explicit_v1: bool, prepared: PreparedModule) -> Module {
    let ast = &prepared.ast;
    let original = |range: TextRange| {
        let start = prepared.rewritten.to_original(range.start);
        TextRange::new(start, prepared.rewritten.to_original(range.end).max(start))
    };
    let package_node = ast.pointer("/package/refr");
    let package = package_node.and_then(ground_path).unwrap_or_default();
    let package_range = package_node.and_then(node_span).map(original).unwrap_or_default();
    let mut imports = Vec::new();
    for import in ast.get("imports").and_then(Value::as_array).into_iter().flatten() {
        let Some(path) = import.get("refr").and_then(ground_path) else { continue };
        let alias = import
            .get("as")
            .and_then(span_of)
            .and_then(|span| prepared.rewritten.text.get(span.start..span.end).map(str::to_string))
            .unwrap_or_else(|| path.last().cloned().unwrap_or_default());
        let range = span_of(import).map(original).unwrap_or_default();
        imports.push(Import { path, alias, range });
    }
    let mut rules = Vec::new();
    for rule in ast.get("rules").and_then(Value::as_array).into_iter().flatten() {
        if let Some(found) = rule_summary(rule) {
            rules.push(Rule { name_range: original(found.name_range), range: original(found.range), ..found });
        }
    }
    Module {
        name: name.to_string(),
        text: text.to_string(),
        version,
        imports_rego_v1: explicit_v1,
        package,
        package_range,
        imports,
        rules,
        prepared,
    }
}

/// The rule a `Spec` or `Default` AST node defines, with ranges in the rewritten text.
fn rule_summary(rule: &Value) -> Option<Rule> {
    if let Some(default) = rule.get("Default") {
        let reference = default.get("refr")?;
        return Some(Rule {
            path: ground_path_prefix(reference),
            kind: RuleKind::Complete,
            is_default: true,
            name_range: node_span(reference)?,
            range: span_of(default)?,
            part_ends: part_ends(reference),
        });
    }
    let spec = rule.get("Spec")?;
    let (head_kind, head) = spec.get("head")?.as_object()?.iter().next()?;
    let reference = head.get("refr")?;
    let path = ground_path_prefix(reference);
    let dynamic_key = !is_ground(reference);
    let kind = match head_kind.as_str() {
        "Func" => RuleKind::Function(head.get("args").and_then(Value::as_array).map_or(0, Vec::len)),
        "Set" => RuleKind::PartialSet,
        _ if dynamic_key && head.get("assign").is_some_and(|assign| !assign.is_null()) => RuleKind::PartialObject,
        // v0's `p[x] { ... }` is a partial set: the key is the element.
        _ if dynamic_key => RuleKind::PartialSet,
        _ => RuleKind::Complete,
    };
    Some(Rule {
        path,
        kind,
        is_default: false,
        name_range: node_span(reference)?,
        range: span_of(spec)?,
        part_ends: part_ends(reference),
    })
}

/// The end offsets of the ground parts of a reference, in order.
fn part_ends(expression: &Value) -> Vec<usize> {
    let mut ends = Vec::new();
    collect_part_ends(expression, &mut ends);
    ends
}

fn collect_part_ends(expression: &Value, ends: &mut Vec<usize>) -> bool {
    if let Some(var) = expression.get("Var") {
        let Some(span) = span_of(var) else { return false };
        ends.push(span.end);
        return true;
    }
    if let Some(reference) = expression.get("RefDot") {
        let Some(inner) = reference.get("refr") else { return false };
        if !collect_part_ends(inner, ends) {
            return false;
        }
        let Some(span) = reference.get("field").and_then(|field| field.get(0)).and_then(span_of) else {
            return false;
        };
        ends.push(span.end);
        return true;
    }
    if let Some(reference) = expression.get("RefBrack") {
        let Some(inner) = reference.get("refr") else { return false };
        if !collect_part_ends(inner, ends) {
            return false;
        }
        let index = reference.get("index");
        let Some(span) =
            index.and_then(|index| index.get("String").or_else(|| index.get("RawString"))).and_then(span_of)
        else {
            return false;
        };
        // Inside the quotes: the suffix extends the string.
        ends.push(span.end.saturating_sub(1));
        return true;
    }
    false
}

/// The `span` of an AST node's fields.
fn span_of(fields: &Value) -> Option<TextRange> {
    let span = fields.get("span").unwrap_or(fields);
    let start = usize::try_from(span.get("start")?.as_u64()?).ok()?;
    let end = usize::try_from(span.get("end")?.as_u64()?).ok()?;
    Some(TextRange::new(start, end.max(start)))
}

/// The span of an AST enum node such as `{"Var": {"span": ...}}`.
fn node_span(node: &Value) -> Option<TextRange> {
    span_of(node.as_object()?.values().next()?)
}

/// `a.b["c"]` as `["a", "b", "c"]`; `None` when a part is not a plain name or string.
fn ground_path(expression: &Value) -> Option<Vec<String>> {
    let path = ground_path_prefix(expression);
    is_ground(expression).then_some(path)
}

/// The leading parts of a reference that are names or strings: `p[x].q` gives `["p"]`.
fn ground_path_prefix(expression: &Value) -> Vec<String> {
    let mut parts = Vec::new();
    collect_prefix(expression, &mut parts);
    parts
}

/// Appends the ground parts of `expression` to `parts`; returns whether all of it was ground.
fn collect_prefix(expression: &Value, parts: &mut Vec<String>) -> bool {
    if let Some(var) = expression.get("Var") {
        if let Some(name) = var.get("value").and_then(Value::as_str) {
            parts.push(name.to_string());
            return true;
        }
        return false;
    }
    if let Some(reference) = expression.get("RefDot") {
        let Some(inner) = reference.get("refr") else { return false };
        if !collect_prefix(inner, parts) {
            return false;
        }
        let Some(field) = reference.get("field").and_then(|field| field.get(1)).and_then(Value::as_str) else {
            return false;
        };
        parts.push(field.to_string());
        return true;
    }
    if let Some(reference) = expression.get("RefBrack") {
        let Some(inner) = reference.get("refr") else { return false };
        if !collect_prefix(inner, parts) {
            return false;
        }
        let index = reference.get("index");
        let Some(text) = index
            .and_then(|index| index.get("String").or_else(|| index.get("RawString")))
            .and_then(|string| string.get("value"))
            .and_then(Value::as_str)
        else {
            return false;
        };
        parts.push(text.to_string());
        return true;
    }
    false
}

fn is_ground(expression: &Value) -> bool {
    collect_prefix(expression, &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(text: &str, setting: VersionSetting) -> String {
        match parse_module("m.rego", text, setting) {
            Ok(module) => {
                let rules: Vec<String> = module
                    .rules
                    .iter()
                    .map(|rule| {
                        format!(
                            "{}:{:?}{}{} @{}",
                            rule.path.join("."),
                            rule.kind,
                            if rule.is_default { " default" } else { "" },
                            if rule.is_test() { " test" } else { "" },
                            &text[rule.name_range.start..rule.name_range.end]
                        )
                    })
                    .collect();
                let imports: Vec<String> = module
                    .imports
                    .iter()
                    .map(|import| format!("{} as {}", import.path.join("."), import.alias))
                    .collect();
                format!(
                    "{} {} [{}] [{}]",
                    module.version.name(),
                    module.package_path(),
                    imports.join(", "),
                    rules.join(", ")
                )
            }
            Err(failure) => format!("{} error at {:?}: {}", failure.version.name(), failure.range, failure.message),
        }
    }

    #[test]
    fn a_v0_file_is_read_as_v0_when_v1_does_not_parse_it() {
        let text = "package k8s.labels\nimport data.lib.helpers as h\ndefault allow = false\nallow { input.x }\nviolation[{\"msg\": m}] { m := \"x\" }\nf(a, b) = c { c := a }\ntest_allow { allow with input as {\"x\": true} }\ntodo_test_later { false }\n";
        expect_test::expect!["v0 data.k8s.labels [data.lib.helpers as h] [allow:Complete default @allow, allow:Complete @allow, violation:PartialSet @violation, f:Function(2) @f, test_allow:Complete test @test_allow, todo_test_later:Complete test @todo_test_later]"]
            .assert_eq(&summary(text, VersionSetting::Auto));
    }

    #[test]
    fn a_v1_file_is_read_as_v1() {
        let text =
            "package p\nviolation contains msg if { msg := \"x\" }\nq[k] := 1 if { some k in [\"a\"] }\na.b.c := 1\n";
        expect_test::expect![
            "v1 data.p [] [violation:PartialSet @violation, q:PartialObject @q[k, a.b.c:Complete @a.b.c]"
        ]
        .assert_eq(&summary(text, VersionSetting::Auto));
    }

    #[test]
    fn the_rego_v1_import_wins_over_the_settings() {
        let text = "package p\nimport rego.v1\nallow if { true }\n";
        assert!(summary(text, VersionSetting::V0).starts_with("v1 "));
        assert!(imports_rego_v1(text));
        assert!(!imports_rego_v1("package p\n# import rego.v1\n"));
    }

    #[test]
    fn a_pinned_version_is_used_even_where_the_other_would_parse() {
        let text = "package p\nallow { true }\n";
        expect_test::expect!["v1 error at 16..17: `if` keyword is required before rule body"]
            .assert_eq(&summary(text, VersionSetting::V1));
        assert!(summary(text, VersionSetting::V0).starts_with("v0 data.p"));
    }

    #[test]
    fn a_file_neither_version_reads_reports_the_error_that_came_later() {
        let text = "package p\nallow if { true }\nq { 1 +\n";
        let found = summary(text, VersionSetting::Auto);
        assert!(found.starts_with("v1 error"), "{found}");
    }
}
