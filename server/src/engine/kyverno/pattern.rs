//! Validate patterns: anchors, wildcards, value operators (`>`, `<`, `!`, `|`, `&`, ranges), durations
//! and quantities, with Kyverno's rules for when a mismatch is a failure and when it skips the rule.

use serde_json::{Map, Value};

use super::go_text::go_format;
use crate::engine::units::{self, go_duration_nanos};

/// Why a pattern did not match.
#[derive(Clone, Debug)]
pub struct PatternError {
    pub kind: PatternErrorKind,
    pub message: String,
    /// Path in the resource, Kyverno style (`/spec/containers/0/image/`); empty when not known.
    pub path: String,
    /// JSON pointer of the pattern node that failed, relative to the pattern root.
    pub pattern_pointer: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternErrorKind {
    /// A plain mismatch.
    Mismatch,
    /// A conditional anchor did not hold: the enclosing element is skipped.
    Conditional,
    /// A global anchor did not hold: the whole rule is skipped.
    Global,
    /// A negation anchor found its key.
    Negation,
    /// Several skip errors combined at one level (the level's elements were all skipped).
    Skip,
}

impl PatternError {
    fn new(kind: PatternErrorKind, message: String, path: &str, pattern_pointer: &str) -> Self {
        PatternError { kind, message, path: path.to_string(), pattern_pointer: pattern_pointer.to_string() }
    }

    /// Kyverno decides "skip" by the error type or, for wrapped errors, by the message text.
    pub fn is_skip(&self) -> bool {
        matches!(self.kind, PatternErrorKind::Conditional | PatternErrorKind::Global)
            || self.message.contains("conditional anchor mismatch")
            || self.message.contains("global anchor mismatch")
    }

    fn is_negation(&self) -> bool {
        self.kind == PatternErrorKind::Negation || self.message.contains("negation anchor matched in resource")
    }
}

/// The result of matching a whole pattern against a resource.
#[derive(Clone, Debug)]
pub enum PatternOutcome {
    Pass,
    /// The rule is skipped (conditional or global anchor).
    Skip(String),
    /// The resource violates the pattern at `path`.
    Fail(PatternError),
    /// The pattern could not be applied (no path).
    Error(String),
}

/// An anchor on a pattern key: `(key)`, `<(key)`, `X(key)`, `+(key)`, `=(key)`, `^(key)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnchorKind {
    Condition,
    Global,
    Negation,
    AddIfNotPresent,
    Equality,
    Existence,
}

/// Parses an anchored key into its kind and bare key.
pub fn parse_anchor(key: &str) -> Option<(AnchorKind, &str)> {
    // As written: upstream's `^([+<=X^])?\((.+)\)$` trims nothing, so ` (name)` is a plain key.
    let trimmed = key;
    if !trimmed.ends_with(')') {
        return None;
    }
    let (kind, rest) = match trimmed.as_bytes().first()? {
        b'(' => (AnchorKind::Condition, trimmed),
        b'<' => (AnchorKind::Global, &trimmed[1..]),
        b'X' => (AnchorKind::Negation, &trimmed[1..]),
        b'+' => (AnchorKind::AddIfNotPresent, &trimmed[1..]),
        b'=' => (AnchorKind::Equality, &trimmed[1..]),
        b'^' => (AnchorKind::Existence, &trimmed[1..]),
        _ => return None,
    };
    if !rest.starts_with('(') || rest.len() < 3 {
        return None;
    }
    Some((kind, &rest[1..rest.len() - 1]))
}

/// Removes anchors from every key of a path like `/spec/(name)/=(x)/`.
pub fn remove_anchors_from_path(path: &str) -> String {
    path.split('/')
        .map(|segment| match parse_anchor(segment) {
            Some((_, key)) => key.to_string(),
            None => segment.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Matches `resource` against `pattern` (already variable-substituted), the way `validate.MatchPattern` does.
pub fn match_pattern(resource: &Value, pattern: &Value) -> PatternOutcome {
    let mut anchors = AnchorTracker::default();
    match validate_element(resource, pattern, "/", "", &mut anchors) {
        Ok(()) => PatternOutcome::Pass,
        Err(error) => {
            if error.is_skip() {
                return PatternOutcome::Skip(error.message);
            }
            if error.is_negation() {
                return PatternOutcome::Fail(error);
            }
            if anchors.keys_are_missing() {
                // Kyverno reports a missing anchored key as a failure without a path, which is an error.
                return PatternOutcome::Error(error.message);
            }
            if error.path.is_empty() {
                return PatternOutcome::Error(error.message);
            }
            PatternOutcome::Fail(error)
        }
    }
}

/// Remembers which conditional/existence/negation anchors found their key somewhere in the resource.
#[derive(Default)]
struct AnchorTracker {
    seen: Vec<(String, bool)>,
}

impl AnchorTracker {
    fn check(&mut self, pattern: &Map<String, Value>, resource: &Map<String, Value>) {
        for key in pattern.keys() {
            let Some((kind, bare)) = parse_anchor(key) else {
                continue;
            };
            if !matches!(kind, AnchorKind::Condition | AnchorKind::Existence | AnchorKind::Negation) {
                continue;
            }
            let present = resource.contains_key(bare);
            match self.seen.iter_mut().find(|(seen_key, _)| seen_key == key) {
                Some((_, found)) => *found = *found || present,
                None => self.seen.push((key.clone(), present)),
            }
        }
    }

    fn keys_are_missing(&self) -> bool {
        self.seen.iter().any(|(key, found)| !found && !matches!(parse_anchor(key), Some((AnchorKind::Negation, _))))
    }
}

fn validate_element(
    resource: &Value,
    pattern: &Value,
    path: &str,
    pattern_pointer: &str,
    anchors: &mut AnchorTracker,
) -> Result<(), PatternError> {
    match pattern {
        Value::Object(pattern_map) => {
            let Value::Object(resource_map) = resource else {
                return Err(PatternError::new(
                    PatternErrorKind::Mismatch,
                    format!(
                        "pattern and resource have different structures. Path: {path}. Expected map, found {}",
                        go_type(resource)
                    ),
                    path,
                    pattern_pointer,
                ));
            };
            anchors.check(pattern_map, resource_map);
            validate_map(resource_map, pattern_map, path, pattern_pointer, anchors)
        }
        Value::Array(pattern_items) => {
            let Value::Array(resource_items) = resource else {
                return Err(PatternError::new(
                    PatternErrorKind::Mismatch,
                    format!(
                        "validation rule failed at path {path}, resource does not satisfy the expected overlay pattern"
                    ),
                    path,
                    pattern_pointer,
                ));
            };
            validate_array(resource_items, pattern_items, path, pattern_pointer, anchors)
        }
        _ => {
            if let Value::Array(resource_items) = resource {
                for item in resource_items {
                    if !validate_value(item, pattern) {
                        return Err(value_mismatch(resource, pattern, path, pattern_pointer));
                    }
                }
                return Ok(());
            }
            if !validate_value(resource, pattern) {
                return Err(value_mismatch(resource, pattern, path, pattern_pointer));
            }
            Ok(())
        }
    }
}

fn value_mismatch(resource: &Value, pattern: &Value, path: &str, pattern_pointer: &str) -> PatternError {
    PatternError::new(
        PatternErrorKind::Mismatch,
        format!("resource value '{}' does not match '{}' at path {path}", go_format(resource), go_format(pattern)),
        path,
        pattern_pointer,
    )
}

fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn validate_map(
    resource: &Map<String, Value>,
    pattern: &Map<String, Value>,
    path: &str,
    pattern_pointer: &str,
    anchors: &mut AnchorTracker,
) -> Result<(), PatternError> {
    let expanded = expand_metadata_wildcards(pattern, resource);
    let pattern = expanded.as_ref().unwrap_or(pattern);
    let mut anchored: Vec<(&String, &Value)> = Vec::new();
    let mut plain: Vec<(&String, &Value)> = Vec::new();
    for (key, value) in pattern {
        match parse_anchor(key) {
            Some((AnchorKind::AddIfNotPresent, _)) | None => plain.push((key, value)),
            Some(_) => anchored.push((key, value)),
        }
    }
    anchored.sort_by(|left, right| left.0.cmp(right.0));

    let mut skip_errors: Vec<PatternError> = Vec::new();
    let mut apply_count = 0;
    for (key, value) in anchored {
        let child_pointer = format!("{pattern_pointer}/{}", super::go_text::pointer_segment(key));
        match handle_key(key, value, resource, path, &child_pointer, anchors) {
            Ok(()) => apply_count += 1,
            Err(error) if error.is_skip() => skip_errors.push(error),
            Err(error) => {
                // A sibling skip that is itself a combined skip error does not hide this failure.
                let skip_sibling_exists = skip_errors.iter().any(|skip| skip.kind != PatternErrorKind::Skip);
                if !skip_sibling_exists {
                    return Err(error);
                }
            }
        }
    }
    if !skip_errors.is_empty() {
        let skip_sibling_exists = skip_errors.iter().any(|skip| skip.kind != PatternErrorKind::Skip);
        if apply_count == 0 || skip_sibling_exists {
            let message = skip_errors.iter().map(|error| error.message.clone()).collect::<Vec<_>>().join("; ");
            return Err(PatternError::new(PatternErrorKind::Skip, message, path, pattern_pointer));
        }
    }

    // Kyverno checks keys whose subtree holds an anchor first, so a conditional anchor deeper down
    // can skip before a sibling plain mismatch is reported.
    plain.sort_by_key(|(_, value)| if has_nested_anchor(value) { 0 } else { 1 });
    for (key, value) in plain {
        let child_pointer = format!("{pattern_pointer}/{}", super::go_text::pointer_segment(key));
        handle_key(key, value, resource, path, &child_pointer, anchors)?;
    }
    Ok(())
}

fn has_nested_anchor(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, child)| {
            matches!(parse_anchor(key), Some((kind, _)) if kind != AnchorKind::AddIfNotPresent)
                || has_nested_anchor(child)
        }),
        Value::Array(items) => items.iter().any(has_nested_anchor),
        _ => false,
    }
}

fn handle_key(
    key: &str,
    pattern: &Value,
    resource: &Map<String, Value>,
    path: &str,
    pattern_pointer: &str,
    anchors: &mut AnchorTracker,
) -> Result<(), PatternError> {
    let anchor = parse_anchor(key).filter(|(kind, _)| *kind != AnchorKind::AddIfNotPresent);
    match anchor {
        Some((AnchorKind::Negation, bare)) => {
            let current = format!("{path}{bare}/");
            if resource.contains_key(bare) {
                return Err(PatternError::new(
                    PatternErrorKind::Negation,
                    format!("negation anchor matched in resource: {current} is not allowed"),
                    &current,
                    pattern_pointer,
                ));
            }
            Ok(())
        }
        Some((AnchorKind::Equality, bare)) => {
            let current = format!("{path}{bare}/");
            match resource.get(bare) {
                Some(value) => validate_element(value, pattern, &current, pattern_pointer, anchors),
                None => Ok(()),
            }
        }
        Some((AnchorKind::Condition, bare)) => {
            let current = format!("{path}{bare}/");
            match resource.get(bare) {
                Some(value) => validate_element(value, pattern, &current, pattern_pointer, anchors).map_err(|error| {
                    PatternError::new(
                        PatternErrorKind::Conditional,
                        format!("conditional anchor mismatch: {}", error.message),
                        &error.path,
                        &error.pattern_pointer,
                    )
                }),
                None => Err(PatternError::new(
                    PatternErrorKind::Conditional,
                    "conditional anchor mismatch: conditional anchor key doesn't exist in the resource".to_string(),
                    &current,
                    pattern_pointer,
                )),
            }
        }
        Some((AnchorKind::Global, bare)) => {
            let current = format!("{path}{bare}/");
            match resource.get(bare) {
                Some(value) => validate_element(value, pattern, &current, pattern_pointer, anchors).map_err(|error| {
                    PatternError::new(
                        PatternErrorKind::Global,
                        format!("global anchor mismatch: {}", error.message),
                        &error.path,
                        &error.pattern_pointer,
                    )
                }),
                None => Ok(()),
            }
        }
        Some((AnchorKind::Existence, bare)) => {
            let current = format!("{path}{bare}/");
            let Some(value) = resource.get(bare) else {
                return Ok(());
            };
            let Value::Array(resource_items) = value else {
                return Err(PatternError::new(
                    PatternErrorKind::Mismatch,
                    format!(
                        "invalid resource type {}: Existence ^ () anchor can be used only on list/array type resource",
                        go_type(value)
                    ),
                    &current,
                    pattern_pointer,
                ));
            };
            let Value::Array(pattern_items) = pattern else {
                return Err(PatternError::new(
                    PatternErrorKind::Mismatch,
                    "invalid pattern type: Pattern has to be of list to compare against resource".to_string(),
                    &current,
                    pattern_pointer,
                ));
            };
            for (index, pattern_item) in pattern_items.iter().enumerate() {
                if !pattern_item.is_object() {
                    return Err(PatternError::new(
                        PatternErrorKind::Mismatch,
                        "invalid pattern type: Pattern has to be of type map to compare against items in resource"
                            .to_string(),
                        &current,
                        pattern_pointer,
                    ));
                }
                let item_pointer = format!("{pattern_pointer}/{index}");
                let found = resource_items.iter().enumerate().any(|(position, item)| {
                    let item_path = format!("{current}{position}/");
                    validate_element(item, pattern_item, &item_path, &item_pointer, anchors).is_ok()
                });
                if !found {
                    return Err(PatternError::new(
                        PatternErrorKind::Mismatch,
                        format!("existence anchor validation failed at path {current}"),
                        &current,
                        &item_pointer,
                    ));
                }
            }
            Ok(())
        }
        _ => {
            let bare = match parse_anchor(key) {
                Some((AnchorKind::AddIfNotPresent, bare)) => bare,
                _ => key,
            };
            let current = format!("{path}{bare}/");
            let value = resource.get(bare);
            if pattern.as_str() == Some("*") {
                return match value {
                    Some(found) if !found.is_null() => Ok(()),
                    _ => Err(PatternError::new(
                        PatternErrorKind::Mismatch,
                        format!("{path}/{bare} not found"),
                        path,
                        pattern_pointer,
                    )),
                };
            }
            validate_element(value.unwrap_or(&Value::Null), pattern, &current, pattern_pointer, anchors)
        }
    }
}

fn validate_array(
    resource: &[Value],
    pattern: &[Value],
    path: &str,
    pattern_pointer: &str,
    anchors: &mut AnchorTracker,
) -> Result<(), PatternError> {
    let Some(first) = pattern.first() else {
        return Err(PatternError::new(
            PatternErrorKind::Mismatch,
            "pattern Array empty".to_string(),
            path,
            pattern_pointer,
        ));
    };
    match first {
        Value::Object(_) => {
            let mut apply_count = 0;
            let mut skip_errors = Vec::new();
            let item_pointer = format!("{pattern_pointer}/0");
            for (index, item) in resource.iter().enumerate() {
                let item_path = format!("{path}{index}/");
                match validate_element(item, first, &item_path, &item_pointer, anchors) {
                    Ok(()) => apply_count += 1,
                    Err(error) if error.is_skip() => skip_errors.push(error),
                    Err(error) => return Err(error),
                }
            }
            if apply_count == 0 && !skip_errors.is_empty() {
                let message = skip_errors.iter().map(|error| error.message.clone()).collect::<Vec<_>>().join("; ");
                return Err(PatternError::new(PatternErrorKind::Skip, message, path, pattern_pointer));
            }
            Ok(())
        }
        Value::Array(_) => {
            if resource.len() < pattern.len() {
                return Err(PatternError::new(
                    PatternErrorKind::Mismatch,
                    format!(
                        "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                        resource.len(),
                        pattern.len()
                    ),
                    "",
                    pattern_pointer,
                ));
            }
            let mut apply_count = 0;
            let mut skip_errors = Vec::new();
            for (index, pattern_item) in pattern.iter().enumerate() {
                let item_path = format!("{path}{index}/");
                let item_pointer = format!("{pattern_pointer}/{index}");
                match validate_element(&resource[index], pattern_item, &item_path, &item_pointer, anchors) {
                    Ok(()) => apply_count += 1,
                    Err(error) if error.is_skip() => skip_errors.push(error),
                    Err(error) => return Err(error),
                }
            }
            if apply_count == 0 && !skip_errors.is_empty() {
                let message = skip_errors.iter().map(|error| error.message.clone()).collect::<Vec<_>>().join("; ");
                return Err(PatternError::new(PatternErrorKind::Skip, message, path, pattern_pointer));
            }
            Ok(())
        }
        scalar => {
            let resource_array = Value::Array(resource.to_vec());
            validate_element(&resource_array, scalar, path, &format!("{pattern_pointer}/0"), anchors)
        }
    }
}

/// Expands wildcard keys under `metadata.labels`/`metadata.annotations`-like maps: a pattern key with
/// `*` or `?` is replaced by every resource key it matches.
fn expand_metadata_wildcards(
    pattern: &Map<String, Value>,
    resource: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    let bare_of = |key: &str| parse_anchor(key).map(|(_, bare)| bare.to_string()).unwrap_or_else(|| key.to_string());
    let metadata_key = pattern.keys().find(|key| bare_of(key) == "metadata")?.clone();
    let metadata = pattern.get(&metadata_key)?.as_object()?;
    let resource_metadata = resource.get("metadata").and_then(Value::as_object);
    let mut changed = false;
    let mut new_metadata = metadata.clone();
    for section_key in metadata.keys() {
        let section = bare_of(section_key);
        if section != "labels" && section != "annotations" {
            continue;
        }
        let Some(section_pattern) = metadata.get(section_key).and_then(Value::as_object) else {
            continue;
        };
        if !section_pattern.keys().any(|key| has_wildcard(key)) {
            continue;
        }
        let resource_section = resource_metadata.and_then(|meta| meta.get(&section)).and_then(Value::as_object);
        let mut expanded = Map::new();
        for (key, value) in section_pattern {
            let (anchor, bare) = match parse_anchor(key) {
                Some((kind, bare)) => (Some(kind), bare),
                None => (None, key.as_str()),
            };
            if !has_wildcard(bare) {
                expanded.insert(key.clone(), value.clone());
                continue;
            }
            let mut matched = false;
            if let Some(resource_section) = resource_section {
                for resource_key in resource_section.keys() {
                    if wildcard_match(bare, resource_key) {
                        matched = true;
                        let new_key = match anchor {
                            Some(kind) => format!("{}({resource_key})", anchor_prefix(kind)),
                            None => resource_key.clone(),
                        };
                        expanded.insert(new_key, value.clone());
                    }
                }
            }
            if !matched {
                // Kyverno keeps the wildcard key without its wildcards, so a required key is reported missing.
                let stripped: String = bare.chars().filter(|c| *c != '*' && *c != '?').collect();
                let new_key = match anchor {
                    Some(kind) => format!("{}({stripped})", anchor_prefix(kind)),
                    None => stripped,
                };
                expanded.insert(new_key, value.clone());
            }
        }
        new_metadata.insert(section_key.clone(), Value::Object(expanded));
        changed = true;
    }
    if !changed {
        return None;
    }
    let mut new_pattern = pattern.clone();
    new_pattern.insert(metadata_key, Value::Object(new_metadata));
    Some(new_pattern)
}

fn anchor_prefix(kind: AnchorKind) -> &'static str {
    match kind {
        AnchorKind::Condition => "",
        AnchorKind::Global => "<",
        AnchorKind::Negation => "X",
        AnchorKind::AddIfNotPresent => "+",
        AnchorKind::Equality => "=",
        AnchorKind::Existence => "^",
    }
}

/// Matches a scalar resource value against a scalar pattern (`pattern.Validate`).
pub fn validate_value(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(expected) => value.as_bool() == Some(*expected),
        // A policy's pattern is decoded by apimachinery's json (FromJSON): integers become int64, other
        // numbers (and integers past int64) float64; pattern.Validate then compares by that type.
        Value::Number(number) => match number.as_i64() {
            Some(integer) => validate_int_pattern(value, integer),
            None => validate_float_pattern(value, number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::Null => match value {
            Value::Null => true,
            Value::Number(number) => number.as_f64() == Some(0.0),
            Value::String(text) => text.is_empty(),
            Value::Bool(flag) => !flag,
            _ => false,
        },
        Value::Object(_) => value.is_object(),
        Value::String(text) => validate_string_patterns(value, text),
        Value::Array(_) => false,
    }
}

/// The value of a resource number as the CLI holds it: `kyverno test` and `kyverno apply` turn every number
/// of a loaded resource into a float64 (`ProcessResources` in cmd/cli/kubectl-kyverno/commands/test).
fn cli_float(number: &serde_json::Number) -> f64 {
    number.as_f64().unwrap_or(f64::NAN)
}

/// `validateIntPattern` of kyverno's pkg/engine/pattern: a float value matches when it has no fraction and
/// its int64 conversion is the pattern; a string when `strconv.ParseInt` reads the pattern from it.
fn validate_int_pattern(value: &Value, pattern: i64) -> bool {
    match value {
        Value::Number(number) => {
            let float = cli_float(number);
            float.trunc() == float && float as i64 == pattern
        }
        Value::String(text) => text.parse::<i64>() == Ok(pattern),
        _ => false,
    }
}

/// `validateFloatPattern`: float values compare as floats, strings through `strconv.ParseFloat`.
fn validate_float_pattern(value: &Value, pattern: f64) -> bool {
    match value {
        Value::Number(number) => cli_float(number) == pattern,
        Value::String(text) => text.parse::<f64>().ok() == Some(pattern),
        _ => false,
    }
}

fn validate_string_patterns(value: &Value, pattern: &str) -> bool {
    if value.as_str() == Some(pattern) {
        return true;
    }
    pattern.split('|').any(|alternative| {
        alternative.trim().split('&').all(|condition| validate_string_pattern(value, condition.trim()))
    })
}

/// The value operators of patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Equal,
    MoreEqual,
    LessEqual,
    NotEqual,
    More,
    Less,
    InRange,
    NotInRange,
}

impl Operator {
    fn prefix_len(self) -> usize {
        match self {
            Operator::Equal | Operator::InRange | Operator::NotInRange => 0,
            Operator::MoreEqual | Operator::LessEqual => 2,
            Operator::NotEqual | Operator::More | Operator::Less => 1,
        }
    }
}

fn range_regex(negated: bool) -> &'static regex::Regex {
    use std::sync::OnceLock;
    static IN_RANGE: OnceLock<regex::Regex> = OnceLock::new();
    static NOT_IN_RANGE: OnceLock<regex::Regex> = OnceLock::new();
    let cell = if negated { &NOT_IN_RANGE } else { &IN_RANGE };
    cell.get_or_init(|| {
        let separator = if negated { "!-" } else { "-" };
        let number = r"([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)";
        regex::Regex::new(&format!("^{number}{separator}{number}$"))
            .unwrap_or_else(|_| regex::Regex::new("$^").expect("static regex"))
    })
}

/// Reads the operator at the start of a string pattern.
pub fn operator_of(pattern: &str) -> Operator {
    if pattern.len() < 2 {
        return Operator::Equal;
    }
    if pattern.starts_with(">=") {
        return Operator::MoreEqual;
    }
    if pattern.starts_with("<=") {
        return Operator::LessEqual;
    }
    if pattern.starts_with('>') {
        return Operator::More;
    }
    if pattern.starts_with('<') {
        return Operator::Less;
    }
    if pattern.starts_with('!') {
        return Operator::NotEqual;
    }
    if range_regex(true).is_match(pattern) {
        return Operator::NotInRange;
    }
    if range_regex(false).is_match(pattern) {
        return Operator::InRange;
    }
    Operator::Equal
}

fn validate_string_pattern(value: &Value, pattern: &str) -> bool {
    let operator = operator_of(pattern);
    match operator {
        Operator::InRange | Operator::NotInRange => {
            let negated = operator == Operator::NotInRange;
            let Some(captures) = range_regex(negated).captures(pattern) else {
                return false;
            };
            let (left, right) = (&captures[1], &captures[2]);
            if negated {
                validate_string_pattern(value, &format!("< {left}"))
                    || validate_string_pattern(value, &format!("> {right}"))
            } else {
                validate_string_pattern(value, &format!(">= {left}"))
                    && validate_string_pattern(value, &format!("<= {right}"))
            }
        }
        _ => {
            let rest = pattern.get(operator.prefix_len()..).unwrap_or("").trim();
            validate_string(value, rest, operator)
        }
    }
}

/// `convertNumberToString`: the CLI's float64 resource numbers are printed with `%f`, so a number never
/// reads as a duration (`0.000000` lacks a unit) and reads as a quantity through its float value.
fn number_to_string(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("0".to_string()),
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(format!("{:.6}", cli_float(number))),
        _ => None,
    }
}

fn compare_with(operator: Operator, ordering: std::cmp::Ordering) -> Option<bool> {
    use std::cmp::Ordering::*;
    Some(match operator {
        Operator::Equal => ordering == Equal,
        Operator::NotEqual => ordering != Equal,
        Operator::More => ordering == Greater,
        Operator::Less => ordering == Less,
        Operator::MoreEqual => ordering != Less,
        Operator::LessEqual => ordering != Greater,
        _ => return None,
    })
}

fn validate_string(value: &Value, pattern: &str, operator: Operator) -> bool {
    // compareDuration and compareQuantity: time.Duration and resource.Quantity compare exactly.
    if let Ok(pattern_duration) = go_duration_nanos(pattern)
        && let Some(Ok(value_duration)) = number_to_string(value).map(|text| go_duration_nanos(&text))
        && let Some(result) = compare_with(operator, value_duration.cmp(&pattern_duration))
    {
        return result;
    }
    if let Ok(pattern_quantity) = units::parse_quantity(pattern)
        && let Some(Ok(value_quantity)) = number_to_string(value).map(|text| units::parse_quantity(&text))
        && let Some(result) = compare_with(operator, value_quantity.cmp(&pattern_quantity))
    {
        return result;
    }
    if operator == Operator::Equal || operator == Operator::NotEqual {
        let text = match value {
            Value::String(text) => text.clone(),
            // The CLI holds resource numbers as float64, which Kyverno formats with an exponent here.
            Value::Number(number) => format_go_exponent(number.as_f64().unwrap_or(0.0)),
            Value::Bool(flag) => flag.to_string(),
            _ => return false,
        };
        let matched = wildcard_match(pattern, &text);
        return if operator == Operator::NotEqual { !matched } else { matched };
    }
    false
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`.
fn format_go_exponent(value: f64) -> String {
    let formatted = format!("{value:E}");
    // Rust prints `1.5E0`; Go prints `1.5E+00`.
    match formatted.split_once('E') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exponent),
            };
            format!("{mantissa}E{sign}{digits:0>2}")
        }
        None => formatted,
    }
}

/// Matches `text` against a wildcard pattern: `*` is any run of characters, `?` exactly one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<usize> = None;
    let mut star_text = 0usize;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            star_text = t;
            p += 1;
        } else if let Some(star_position) = star {
            p = star_position + 1;
            star_text += 1;
            t = star_text;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == '*' {
        p += 1;
    }
    p == pattern.len()
}

/// Whether a string contains wildcard characters.
pub fn has_wildcard(text: &str) -> bool {
    text.contains('*') || text.contains('?')
}

/// Parses a Go duration (`1h30m`, `-5s`, `0`) into seconds, as `time.Duration.Seconds()` gives them to
/// the condition operators and JMESPath functions that compare floats upstream.
pub fn parse_duration(text: &str) -> Option<f64> {
    let nanos = go_duration_nanos(text.trim()).ok()?;
    Some((nanos / 1_000_000_000) as f64 + (nanos % 1_000_000_000) as f64 / 1e9)
}

/// Parses a Kubernetes quantity (`100m`, `1Gi`, `2e3`, `1.5`) into its float value (`AsApproximateFloat64`),
/// for the JMESPath arithmetic that works on floats; comparisons use [`units::parse_quantity`] instead.
pub fn parse_quantity(text: &str) -> Option<f64> {
    units::parse_quantity(text.trim()).ok().map(|quantity| quantity.approximate_float())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(resource: Value, pattern: Value, expect: &str) {
        let outcome = match match_pattern(&resource, &pattern) {
            PatternOutcome::Pass => "pass".to_string(),
            PatternOutcome::Skip(_) => "skip".to_string(),
            PatternOutcome::Fail(error) => format!("fail {}", error.path),
            PatternOutcome::Error(_) => "error".to_string(),
        };
        assert_eq!(outcome, expect, "resource {resource} pattern {pattern}");
    }

    #[test]
    fn plain_values_and_wildcards() {
        check(json!({"spec": {"image": "nginx:1.2"}}), json!({"spec": {"image": "!*:latest"}}), "pass");
        check(json!({"spec": {"image": "nginx:latest"}}), json!({"spec": {"image": "!*:latest"}}), "fail /spec/image/");
        check(json!({"metadata": {"labels": {"app": "x"}}}), json!({"metadata": {"labels": {"app": "?*"}}}), "pass");
        check(json!({"metadata": {}}), json!({"metadata": {"labels": {"app": "?*"}}}), "fail /metadata/labels/");
    }

    #[test]
    fn operators_ranges_and_quantities() {
        check(json!({"replicas": 3}), json!({"replicas": ">=2 & <5"}), "pass");
        check(json!({"replicas": 6}), json!({"replicas": "1-5"}), "fail /replicas/");
        check(json!({"memory": "2Gi"}), json!({"memory": "<=1Gi | 2048Mi"}), "pass");
        check(json!({"timeout": "90s"}), json!({"timeout": "<1m"}), "fail /timeout/");
    }

    /// Numbers past 2^53, as pattern.Validate sees them: an integer pattern is an int64, the CLI's resource
    /// numbers are float64 (so 2^53+1 in a resource is 2^53), strings are read exactly.
    #[test]
    fn integer_patterns_compare_as_int64_against_float64_resources() {
        let big = |text: &str| -> Value { serde_json::from_str(text).expect("a JSON number") };
        // The resource's 2^53+1 became the float 2^53, whose int64 is not the pattern's 2^53+1.
        check(json!({"n": big("9007199254740993")}), json!({"n": big("9007199254740993")}), "fail /n/");
        check(json!({"n": big("9007199254740992")}), json!({"n": big("9007199254740993")}), "fail /n/");
        check(json!({"n": big("9007199254740992")}), json!({"n": big("9007199254740992")}), "pass");
        // A string value is parsed with strconv.ParseInt: exact, and no fraction or spaces.
        check(json!({"n": "9007199254740993"}), json!({"n": big("9007199254740993")}), "pass");
        check(json!({"n": "9007199254740992"}), json!({"n": big("9007199254740993")}), "fail /n/");
        check(json!({"n": "3.0"}), json!({"n": 3}), "fail /n/");
        check(json!({"n": " 3"}), json!({"n": 3}), "fail /n/");
        // A fraction never equals an integer pattern; a float pattern compares floats.
        check(json!({"n": 3.5}), json!({"n": 3}), "fail /n/");
        check(json!({"n": 3}), json!({"n": 3.0}), "pass");
        check(json!({"n": "3.5"}), json!({"n": 3.5}), "pass");
    }

    /// compareQuantity and compareDuration use resource.Quantity and time.Duration: exact integers.
    #[test]
    fn quantity_and_duration_operators_compare_exactly() {
        check(json!({"q": "9007199254740993"}), json!({"q": ">9007199254740992"}), "pass");
        check(json!({"q": "9007199254740992"}), json!({"q": ">9007199254740992"}), "fail /q/");
        check(json!({"q": "9007199254740993m"}), json!({"q": "<9007199254740994m"}), "pass");
        check(json!({"d": "9007199254740993ns"}), json!({"d": ">9007199254740992ns"}), "pass");
        check(json!({"d": "9007199254740992ns"}), json!({"d": ">=9007199254740993ns"}), "fail /d/");
        // A number is printed with %f first, so 0 is "0.000000": no duration (it lacks a unit), and
        // not a quantity comparable to "1h" either; `<` on plain text then fails.
        check(json!({"d": 0}), json!({"d": "<1h"}), "fail /d/");
        check(json!({"q": 2}), json!({"q": "<3"}), "pass");
    }

    #[test]
    fn anchors() {
        let pattern = json!({"spec": {"containers": [{"(name)": "nginx", "image": "nginx:*"}]}});
        check(
            json!({"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}, {"name": "a", "image": "b"}]}}),
            pattern.clone(),
            "pass",
        );
        check(json!({"spec": {"containers": [{"name": "a", "image": "b"}]}}), pattern.clone(), "skip");
        check(
            json!({"spec": {"containers": [{"name": "nginx", "image": "x"}]}}),
            pattern,
            "fail /spec/containers/0/image/",
        );
        check(json!({"spec": {"hostPID": true}}), json!({"spec": {"X(hostPID)": "null"}}), "fail /spec/hostPID/");
        check(json!({"spec": {"hostPID": false}}), json!({"spec": {"=(hostPID)": false}}), "pass");
        check(json!({"spec": {}}), json!({"spec": {"=(hostPID)": false}}), "pass");
        check(json!({"spec": {"v": [{"a": 1}, {"a": 2}]}}), json!({"spec": {"^(v)": [{"a": 2}]}}), "pass");
        check(
            json!({"metadata": {"labels": {"x": "y"}}, "spec": {"a": 1}}),
            json!({"metadata": {"<(labels)": {"x": "z"}}, "spec": {"a": 2}}),
            "skip",
        );
    }
}
