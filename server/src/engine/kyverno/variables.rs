//! The JSON context of a rule and `{{ }}` variable substitution (with `$( )` references and escaping),
//! following Kyverno's rules: a whole-string variable keeps its type, an embedded one is formatted, and a
//! key that does not exist is an error ("Unknown key") unless the expression handles it (`||`).

use std::sync::OnceLock;

use jmespath::ast::Ast;
use regex::Regex;
use serde_json::{Map, Value};

use super::jmespath_budget as budget;
use super::jmespath_functions::{runtime, to_value};

/// Why a substitution failed.
#[derive(Clone, Debug, PartialEq)]
pub enum VariableError {
    /// The expression read a key that does not exist.
    NotFound(String),
    /// The expression is invalid or a function failed.
    Invalid(String),
}

impl std::fmt::Display for VariableError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VariableError::NotFound(message) | VariableError::Invalid(message) => formatter.write_str(message),
        }
    }
}

/// The JSON document that `{{ }}` expressions query: `request`, `images`, `element`, context entries.
#[derive(Clone, Debug)]
pub struct JsonContext {
    root: Value,
    /// DELETE requests read `request.oldObject` where policies wrote `request.object`.
    pub is_delete: bool,
    /// The root converted for JMESPath once, reused by every query until the context changes.
    converted: std::cell::OnceCell<jmespath::Rcvar>,
    /// Context entries left unset because answering them needs the network (entry name, why), so that
    /// an expression reading one says so instead of only "Unknown key".
    not_evaluated: Vec<(String, String)>,
    /// Shared by the clones made while one rule runs: reading an entry that was not loaded records why.
    offline_gaps: crate::engine::offline::OfflineGaps,
}

impl Default for JsonContext {
    fn default() -> Self {
        JsonContext::new(Value::Object(Map::new()))
    }
}

impl JsonContext {
    /// A context whose root document is `root`.
    pub fn new(root: Value) -> Self {
        JsonContext {
            root,
            is_delete: false,
            converted: std::cell::OnceCell::new(),
            not_evaluated: Vec::new(),
            offline_gaps: Default::default(),
        }
    }

    /// Records that context entry `name` was not loaded because that needs the network; `why` completes
    /// the sentence "context entry `name` ...".
    pub fn note_not_evaluated(&mut self, name: &str, why: String) {
        self.not_evaluated.push((name.to_string(), why));
    }

    /// Starts a recorder of offline gaps of its own, for one rule: clones made from here on share it,
    /// earlier clones (other rules) do not.
    pub fn start_rule(&mut self) {
        self.offline_gaps = crate::engine::offline::OfflineGaps::new();
    }

    /// Records that this rule needed something only a cluster, a registry or the network could answer.
    pub fn note_offline_gap(&self, reason: String) {
        self.offline_gaps.note(reason);
    }

    /// The first context entry this rule read that only a cluster, a registry or the network could
    /// have loaded, as a sentence.
    pub fn offline_gap(&self) -> Option<String> {
        self.offline_gaps.first()
    }

    /// The root document.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// Sets a value at a dotted path (`request.object.metadata.name`), creating objects on the way.
    pub fn add_variable(&mut self, dotted_key: &str, value: Value) {
        self.converted = std::cell::OnceCell::new();
        let parts = split_dotted_key(dotted_key);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        set_path(&mut self.root, &parts, value);
    }

    /// Sets a top-level entry.
    pub fn set(&mut self, name: &str, value: Value) {
        // A converted root is updated in place: its children are shared, so setting one top-level
        // entry (a foreach element) costs the entry, not the whole document.
        let previous = std::mem::take(&mut self.converted);
        if let Some(converted) = previous.into_inner()
            && let Some(map) = converted.as_object()
        {
            let mut map = map.clone();
            let entry = jmespath::Variable::try_from(value.clone()).unwrap_or(jmespath::Variable::Null);
            map.insert(name.to_string(), jmespath::Rcvar::new(entry));
            let _ = self.converted.set(jmespath::Rcvar::new(jmespath::Variable::Object(map)));
        }
        if !self.root.is_object() {
            self.root = Value::Object(Map::new());
        }
        if let Value::Object(map) = &mut self.root {
            map.insert(name.to_string(), value);
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.root.get(name)
    }

    /// Evaluates a JMESPath expression against the context.
    pub fn query(&self, expression: &str) -> Result<Value, VariableError> {
        let expression = expression.trim();
        if expression.is_empty() {
            return Err(VariableError::Invalid("invalid query (nil)".to_string()));
        }
        budget::check_shape(expression)
            .map_err(|message| VariableError::Invalid(format!("incorrect query {expression}: {message}")))?;
        let compiled = compile_lenient(expression)
            .map_err(|error| VariableError::Invalid(format!("incorrect query {expression}: {error}")))?;
        let guarded = guard_null_subexpressions(compiled.as_ast());
        let compiled = jmespath::Expression::new(expression, budget::instrument(&guarded), runtime());
        let data = self.converted.get_or_init(|| {
            jmespath::Rcvar::new(jmespath::Variable::try_from(self.root.clone()).unwrap_or(jmespath::Variable::Null))
        });
        let _budget = budget::BudgetScope::start(budget::STEP_BUDGET);
        let result = compiled.search(data).map_err(|error| {
            if budget::is_exhausted() {
                return VariableError::Invalid(format!(
                    "JMESPath query {expression} failed: {}",
                    budget::exhausted_message()
                ));
            }
            let message = error.to_string();
            if let Some(position) = message.find(super::jmespath_functions::NEEDS_THE_NETWORK) {
                let reason = &message[position + super::jmespath_functions::NEEDS_THE_NETWORK.len()..];
                self.note_offline_gap(reason.to_string());
            }
            VariableError::Invalid(format!("JMESPath query failed: {message}"))
        })?;
        let value = to_value(&result);
        if value.is_null()
            && let Some(key) = missing_key(&guarded, &self.root)
        {
            let root_name: String = expression
                .chars()
                .take_while(|character| character.is_alphanumeric() || matches!(character, '_' | '-'))
                .collect();
            if let Some((name, why)) = self.not_evaluated.iter().find(|(name, _)| *name == root_name) {
                return Err(VariableError::NotFound(format!(
                    "Unknown key \"{key}\" in path: context entry `{name}` {why}"
                )));
            }
            return Err(VariableError::NotFound(format!("Unknown key \"{key}\" in path")));
        }
        Ok(value)
    }
}

/// Go's JMESPath yields null for `a.f(@)` when `a` is null, where the Rust crate would call `f(null)`
/// and fail its type check. Subexpressions whose right side is a function call are rewritten into a
/// guard function that skips the call on null.
fn guard_null_subexpressions(ast: &Ast) -> Ast {
    let boxed = |node: &Ast| Box::new(guard_null_subexpressions(node));
    match ast {
        Ast::Subexpr { offset, lhs, rhs } if matches!(**rhs, Ast::Function { .. }) => Ast::Function {
            offset: *offset,
            name: super::jmespath_functions::NULL_GUARD.to_string(),
            args: vec![guard_null_subexpressions(lhs), Ast::Expref { offset: *offset, ast: boxed(rhs) }],
        },
        Ast::Subexpr { offset, lhs, rhs } => Ast::Subexpr { offset: *offset, lhs: boxed(lhs), rhs: boxed(rhs) },
        Ast::Comparison { offset, comparator, lhs, rhs } => {
            Ast::Comparison { offset: *offset, comparator: comparator.clone(), lhs: boxed(lhs), rhs: boxed(rhs) }
        }
        Ast::Condition { offset, predicate, then } => {
            Ast::Condition { offset: *offset, predicate: boxed(predicate), then: boxed(then) }
        }
        Ast::Expref { offset, ast } => Ast::Expref { offset: *offset, ast: boxed(ast) },
        Ast::Flatten { offset, node } => Ast::Flatten { offset: *offset, node: boxed(node) },
        Ast::Function { offset, name, args } => Ast::Function {
            offset: *offset,
            name: name.clone(),
            args: args.iter().map(guard_null_subexpressions).collect(),
        },
        Ast::MultiList { offset, elements } => {
            Ast::MultiList { offset: *offset, elements: elements.iter().map(guard_null_subexpressions).collect() }
        }
        Ast::MultiHash { offset, elements } => Ast::MultiHash {
            offset: *offset,
            elements: elements
                .iter()
                .map(|pair| jmespath::ast::KeyValuePair {
                    key: pair.key.clone(),
                    value: guard_null_subexpressions(&pair.value),
                })
                .collect(),
        },
        Ast::Not { offset, node } => Ast::Not { offset: *offset, node: boxed(node) },
        Ast::Projection { offset, lhs, rhs } => Ast::Projection { offset: *offset, lhs: boxed(lhs), rhs: boxed(rhs) },
        Ast::ObjectValues { offset, node } => Ast::ObjectValues { offset: *offset, node: boxed(node) },
        Ast::And { offset, lhs, rhs } => Ast::And { offset: *offset, lhs: boxed(lhs), rhs: boxed(rhs) },
        Ast::Or { offset, lhs, rhs } => Ast::Or { offset: *offset, lhs: boxed(lhs), rhs: boxed(rhs) },
        other => other.clone(),
    }
}

/// Splits `a.b."c.d"` into `a`, `b`, `c.d`: quoted segments may contain dots.
fn split_dotted_key(key: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for character in key.chars() {
        match character {
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    parts.push(current);
    parts
}

/// Compiles an expression the way Kyverno's Go parser accepts it: that parser lets entries of a
/// multi-select hash (`{a: x b: y}`) go without the separating comma, so missing commas are inserted
/// where the Rust parser stops on one.
fn compile_lenient(expression: &str) -> Result<jmespath::Expression<'static>, jmespath::JmespathError> {
    let mut text = expression.to_string();
    let mut first_error = None;
    for _ in 0..64 {
        match runtime().compile(&text) {
            Ok(compiled) => return Ok(compiled),
            Err(error) => {
                let missing_comma = error.to_string().contains("Expected '}' or ','");
                let offset = text.char_indices().nth(error.offset).map(|(index, _)| index);
                if first_error.is_none() {
                    first_error = Some(error);
                }
                match offset {
                    Some(offset) if missing_comma => text.insert(offset, ','),
                    _ => break,
                }
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        jmespath::JmespathError::new(expression, 0, jmespath::ErrorReason::Parse("invalid expression".to_string()))
    }))
}

fn set_path(target: &mut Value, parts: &[&str], value: Value) {
    let Some((first, rest)) = parts.split_first() else {
        *target = value;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        let entry = map.entry(first.to_string()).or_insert(Value::Null);
        if rest.is_empty() {
            *entry = value;
        } else {
            set_path(entry, rest, value);
        }
    }
}

/// Finds the key whose absence made a plain path expression (`a.b[0].c`) null, the case where Kyverno's
/// JMESPath reports "Unknown key". Expressions with `||`, functions or projections are left alone.
fn missing_key(ast: &Ast, root: &Value) -> Option<String> {
    fn walk<'a>(ast: &Ast, current: &'a Value) -> Result<&'a Value, String> {
        match ast {
            Ast::Field { name, .. } => match current {
                Value::Object(map) => map.get(name).ok_or_else(|| name.clone()),
                _ => Err(String::new()),
            },
            Ast::Subexpr { lhs, rhs, .. } => {
                let left = walk(lhs, current)?;
                walk(rhs, left)
            }
            Ast::Index { idx, .. } => match current {
                Value::Array(items) => {
                    let index = if *idx < 0 { items.len() as i64 + *idx as i64 } else { *idx as i64 };
                    if index < 0 {
                        return Err(String::new());
                    }
                    items.get(index as usize).ok_or_else(String::new)
                }
                _ => Err(String::new()),
            },
            Ast::Identity { .. } => Ok(current),
            _ => Err(String::new()),
        }
    }
    match walk(ast, root) {
        Err(key) if !key.is_empty() => Some(key),
        _ => None,
    }
}

fn variable_regex() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| Regex::new(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})").expect("static regex"))
}

fn reference_regex() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| Regex::new(r"(^|[^\\])(\$\([^ ]*?\))").expect("static regex"))
}

/// Whether a string holds a `{{ }}` variable.
pub fn has_variables(text: &str) -> bool {
    variable_regex().is_match(text)
}

/// The byte ranges of the `{{ }}` variables of a string, braces included, as substitution finds them
/// (escaped `\{{` left out; adjacent variables each found, as the substitution loop finds them in turn).
pub fn variable_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while from < text.len() {
        let Some(found) = variable_regex().captures_at(text, from).and_then(|captures| captures.get(2)) else {
            break;
        };
        ranges.push(found.range());
        // The next variable may directly follow this one: let its closing `}` serve as the character before.
        from = found.end() - 1;
    }
    ranges
}

/// Parses the expression of a variable the way substitution does. On failure, the character offset in
/// `expression` where parsing stopped and why.
pub fn check_expression(expression: &str) -> Result<(), (usize, String)> {
    compile_lenient(expression).map(|_| ()).map_err(|error| {
        let reason = match error.reason {
            jmespath::ErrorReason::Parse(message) => message,
            other => other.to_string(),
        };
        (error.offset, reason)
    })
}

/// Options of one substitution pass.
#[derive(Clone, Copy, Default)]
pub struct SubstituteOptions<'a> {
    /// The JSON pointer prefix of the document inside the policy, for `@` (foreach) and `$( )` references.
    pub document_path: &'a str,
}

/// Substitutes every `{{ }}` in the keys and string leaves of `document`.
pub fn substitute_all(document: &Value, context: &JsonContext) -> Result<Value, VariableError> {
    let with_references = substitute_references(document, document, "")?;
    substitute_walk(&with_references, context, "")
}

fn substitute_walk(value: &Value, context: &JsonContext, path: &str) -> Result<Value, VariableError> {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, child) in map {
                let child_path = format!("{path}/{key}");
                let new_key = match substitute_string(key, context, &child_path)? {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                out.insert(new_key, substitute_walk(child, context, &child_path)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                out.push(substitute_walk(item, context, &format!("{path}/{index}"))?);
            }
            Ok(Value::Array(out))
        }
        Value::String(text) => substitute_string(text, context, path),
        other => Ok(other.clone()),
    }
}

/// Substitutes the variables of one string. A string that is exactly one variable takes the variable's
/// value and type; otherwise values are formatted into the text.
pub fn substitute_string(text: &str, context: &JsonContext, path: &str) -> Result<Value, VariableError> {
    if !text.contains("{{") {
        return Ok(Value::String(text.to_string()));
    }
    let mut value = text.to_string();
    // Substituted values may contain variables themselves; Kyverno loops until none is left. The
    // bound keeps a self-referencing value from looping forever.
    for _ in 0..32 {
        let matches: Vec<(String, String)> = variable_regex()
            .captures_iter(&value)
            .map(|captures| (captures[1].to_string(), captures[2].to_string()))
            .collect();
        if matches.is_empty() {
            break;
        }
        let mut shallow_seen = false;
        for (prefix, variable_text) in matches {
            let original = value.clone();
            let inner = variable_text.trim_start_matches("{{").trim_end_matches("}}").trim();
            let (mut expression, shallow) = match inner.strip_prefix('-') {
                Some(rest) => (rest.trim().to_string(), true),
                None => (inner.to_string(), false),
            };
            if expression == "@" {
                expression = at_path_expression(path);
            }
            if context.is_delete {
                expression = expression.replace("request.object", "request.oldObject");
            }
            let resolved = context.query(&expression).map_err(|error| match error {
                VariableError::NotFound(message) => VariableError::NotFound(message),
                VariableError::Invalid(message) => {
                    VariableError::Invalid(format!("failed to resolve {expression} at path {path}: {message}"))
                }
            })?;
            if original == variable_text {
                return Ok(resolved);
            }
            let mut replacement = match &resolved {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            if shallow {
                replacement = replacement.replace("{{", "\\{{");
                shallow_seen = true;
            }
            value = value.replacen(&format!("{prefix}{variable_text}"), &format!("{prefix}{replacement}"), 1);
        }
        if shallow_seen {
            break;
        }
    }
    Ok(Value::String(value.replace("\\{{", "{{")))
}

/// `{{ @ }}` inside a foreach pattern means the resource value at the same place as the pattern node.
fn at_path_expression(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    let start = segments.iter().rposition(|segment| *segment == "foreach").map(|index| index + 3).unwrap_or(0);
    let mut expression = String::from("request.object");
    for segment in segments.iter().skip(start) {
        let bare = match super::pattern::parse_anchor(segment) {
            Some((_, key)) => key,
            None => segment,
        };
        if bare.chars().all(|c| c.is_ascii_digit()) {
            expression.push_str(&format!("[{bare}]"));
        } else {
            expression.push_str(&format!(".\"{bare}\""));
        }
    }
    expression
}

/// Resolves `$(path)` references to other values of the same document (used in patterns).
fn substitute_references(value: &Value, document: &Value, path: &str) -> Result<Value, VariableError> {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, child) in map {
                out.insert(key.clone(), substitute_references(child, document, &format!("{path}/{key}"))?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for (index, item) in items.iter().enumerate() {
                out.push(substitute_references(item, document, &format!("{path}/{index}"))?);
            }
            Ok(Value::Array(out))
        }
        Value::String(text) if text.contains("$(") => {
            let mut result = text.clone();
            for captures in reference_regex().captures_iter(text) {
                let reference = &captures[2];
                let inner = reference.trim_start_matches("$(").trim_end_matches(')');
                let operator = super::pattern::operator_of(inner);
                let operator_text = &inner[..operator_prefix_len(inner, operator)];
                let reference_path = &inner[operator_text.len()..];
                if reference_path.is_empty() {
                    return Err(VariableError::Invalid("expected path, found empty reference".to_string()));
                }
                let absolute = join_path(path, reference_path);
                let found = find_by_path(document, &absolute).ok_or_else(|| {
                    VariableError::Invalid(format!("got nil resolved variable {reference} at path {path}"))
                })?;
                let text_value = match found {
                    Value::String(text) => text.clone(),
                    Value::Number(number) => super::go_text::format_number(number),
                    _ => {
                        return Err(VariableError::Invalid(format!(
                            "NotResolvedReferenceErr,reference {reference} not resolved at path {path}"
                        )));
                    }
                };
                result = result.replacen(reference, &format!("{operator_text}{text_value}"), 1);
            }
            Ok(Value::String(result.replace("\\$(", "$(")))
        }
        other => Ok(other.clone()),
    }
}

fn operator_prefix_len(text: &str, operator: super::pattern::Operator) -> usize {
    use super::pattern::Operator::*;
    match operator {
        MoreEqual | LessEqual => 2.min(text.len()),
        NotEqual | More | Less => 1.min(text.len()),
        _ => 0,
    }
}

/// Joins a relative reference path with the path of the value holding it (the value's own key is the
/// last segment, so `..` first leaves it).
fn join_path(base: &str, reference: &str) -> String {
    if reference.starts_with('/') {
        return normalize(reference);
    }
    normalize(&format!("{base}/{reference}"))
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

fn find_by_path<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = document;
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        current = match current {
            Value::Object(map) => map.iter().find_map(|(key, value)| {
                let bare = super::pattern::parse_anchor(key).map(|(_, bare)| bare).unwrap_or(key);
                (bare == segment).then_some(value)
            })?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(template: Value, expect: Result<Value, &str>) {
        let mut context = JsonContext::default();
        context.add_variable(
            "request.object",
            json!({"metadata": {"name": "web", "labels": {"app": "x"}}, "spec": {"replicas": 2}}),
        );
        context.add_variable("request.operation", json!("CREATE"));
        let result = substitute_all(&template, &context).map_err(|error| error.to_string());
        assert_eq!(result.as_ref().map_err(|error| error.as_str()), expect.as_ref().map_err(|error| *error));
    }

    #[test]
    fn whole_and_embedded_variables() {
        check(json!("{{ request.object.spec.replicas }}"), Ok(json!(2)));
        check(json!("name-{{request.object.metadata.name}}"), Ok(json!("name-web")));
        check(
            json!({"{{ request.object.metadata.name }}": "{{ request.object.metadata.labels }}"}),
            Ok(json!({"web": {"app": "x"}})),
        );
        check(json!("\\{{ kept }}"), Ok(json!("{{ kept }}")));
    }

    #[test]
    fn missing_keys_and_defaults() {
        check(json!("{{ request.object.metadata.labels.team }}"), Err("Unknown key \"team\" in path"));
        check(json!("{{ request.object.metadata.labels.team || 'none' }}"), Ok(json!("none")));
    }

    #[test]
    fn references() {
        check(
            json!({"spec": {"max": "10", "min": "<= $(../max)"}}),
            Ok(json!({"spec": {"max": "10", "min": "<= 10"}})),
        );
    }
}
