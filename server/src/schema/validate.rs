//! Validates a JSON value against the bundled JSON Schema dialect, reporting each problem at a JSON pointer
//! with a stable code, so the `ide` layer can put it on the exact key or value.
//!
//! Kubernetes semantics are built in: an explicit `null` on a field means "unset", and plain YAML 1.1 boolean
//! spellings count as booleans where a boolean is expected.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use super::deprecation::deprecation_message;
use super::registry::{Registry, SchemaNode};
use super::suggest::closest;
use crate::base::{Code, Severity};
use crate::syntax::push_pointer_segment;

/// Which part of the node at `pointer` a diagnostic belongs on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target {
    Key,
    Value,
    /// A problem of an object as a whole (a missing field): shown on the key that holds the object.
    Object,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SchemaError {
    pub pointer: String,
    pub target: Target,
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// A replacement that fixes the error (a did-you-mean), for quick fixes.
    pub suggestion: Option<String>,
}

/// Who reads a document, which decides what it rejects.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reader {
    /// The API server with the CRD: a missing required field (or a null one) is rejected.
    ApiServer,
    /// A Go program decoding into structs, as the Kyverno CLI reads its Test, Values and UserInfo files
    /// (`yaml.UnmarshalStrict`): unknown fields and wrong types fail, but presence is never checked and a
    /// null is the zero value, so a missing field is at most a warning.
    GoStruct,
}

/// Options for one validation.
pub struct ValidationOptions<'a> {
    pub unknown_field_severity: Severity,
    /// Severity for every other violation (plain resources are test fixtures: warnings there).
    pub violation_severity: Severity,
    pub reader: Reader,
    /// Pointers of plain scalars spelled like YAML 1.1 booleans.
    pub yaml11_booleans: &'a [String],
}

/// Validates `instance` against `root`, returning problems in document order of discovery.
pub fn validate(
    registry: &Registry,
    root: SchemaNode<'_>,
    instance: &Value,
    options: &ValidationOptions<'_>,
) -> Vec<SchemaError> {
    let yaml11: HashSet<&str> = options.yaml11_booleans.iter().map(String::as_str).collect();
    let mut validator = Validator { registry, options, yaml11, errors: Vec::new(), depth: 0 };
    let mut pointer = String::new();
    validator.node(root, instance, &mut pointer);
    validator.errors
}

struct Validator<'r, 'o> {
    registry: &'r Registry,
    options: &'o ValidationOptions<'o>,
    yaml11: HashSet<&'o str>,
    errors: Vec<SchemaError>,
    depth: usize,
}

const MAX_SCHEMA_DEPTH: usize = 300;

impl Validator<'_, '_> {
    fn push(&mut self, pointer: &str, target: Target, code: Code, message: String, suggestion: Option<String>) {
        let severity = match code {
            Code::SchemaUnknownField => self.options.unknown_field_severity,
            Code::SchemaDeprecated => Severity::Warning.max(self.options.violation_severity),
            Code::SchemaRequired if self.options.reader == Reader::GoStruct => {
                Severity::Warning.max(self.options.violation_severity)
            }
            _ => self.options.violation_severity,
        };
        self.errors.push(SchemaError { pointer: pointer.to_string(), target, code, severity, message, suggestion });
    }

    fn node(&mut self, schema: SchemaNode<'_>, instance: &Value, pointer: &mut String) {
        if self.depth > MAX_SCHEMA_DEPTH {
            return;
        }
        self.depth += 1;
        self.node_inner(schema, instance, pointer);
        self.depth -= 1;
    }

    fn node_inner(&mut self, schema: SchemaNode<'_>, instance: &Value, pointer: &mut String) {
        let Some(object) = schema.value.as_object() else {
            if schema.value == &Value::Bool(false) {
                self.push(
                    pointer,
                    Target::Key,
                    Code::SchemaUnknownField,
                    "this field is not allowed here".into(),
                    None,
                );
            }
            return;
        };
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            if let Some(target) = self.registry.resolve(schema.file, reference) {
                self.node(target, instance, pointer);
            }
            return;
        }
        if let Some(expected) = object.get("type")
            && !self.type_matches(expected, instance, pointer)
        {
            let message = format!("expected {}, found {}", describe_types(expected), describe_value(instance));
            self.push(pointer, Target::Value, Code::SchemaType, message, None);
            return;
        }
        if let Some(allowed) = object.get("enum").and_then(Value::as_array)
            && !allowed.iter().any(|candidate| candidate == instance)
        {
            let names: Vec<String> = allowed.iter().map(value_label).collect();
            let suggestion = instance.as_str().and_then(|text| closest(text, names.iter().map(String::as_str)));
            let mut message = format!("`{}` is not one of {}", value_label(instance), names.join(", "));
            if let Some(suggestion) = &suggestion {
                message.push_str(&format!("; did you mean `{suggestion}`?"));
            }
            self.push(pointer, Target::Value, Code::SchemaEnum, message, suggestion.map(|text| text.to_string()));
        }
        if let Some(expected) = object.get("const")
            && expected != instance
        {
            let message = format!("expected `{}`, found `{}`", value_label(expected), value_label(instance));
            let suggestion = expected.as_str().map(str::to_string);
            self.push(pointer, Target::Value, Code::SchemaConst, message, suggestion);
        }
        match instance {
            Value::Object(map) => self.object(schema, object, map, pointer),
            Value::Array(items) => self.array(schema, object, items, pointer),
            Value::String(text) => self.string(object, text, pointer),
            Value::Number(number) => self.number(object, number, pointer),
            _ => {}
        }
        if let Some(branches) = object.get("allOf").and_then(Value::as_array) {
            for branch in branches {
                self.node(SchemaNode { file: schema.file, value: branch }, instance, pointer);
            }
        }
        if let Some(branches) = object.get("anyOf").and_then(Value::as_array) {
            self.alternatives(schema, branches, instance, pointer, false);
        }
        if let Some(branches) = object.get("oneOf").and_then(Value::as_array) {
            self.alternatives(schema, branches, instance, pointer, true);
        }
        if let Some(negated) = object.get("not") {
            let errors = self.trial(SchemaNode { file: schema.file, value: negated }, instance, pointer);
            if errors.is_empty() {
                let message = match required_list(negated) {
                    Some(fields) => format!("{} must not be set here", quote_list(&fields, "and")),
                    None => "this value is not allowed here".to_string(),
                };
                self.push(pointer, Target::Object, Code::SchemaNot, message, None);
            }
        }
    }

    fn type_matches(&self, expected: &Value, instance: &Value, pointer: &str) -> bool {
        let matches_one = |name: &str| match name {
            "object" => instance.is_object(),
            "array" => instance.is_array(),
            "string" => instance.is_string(),
            "boolean" => instance.is_boolean() || (instance.is_string() && self.yaml11.contains(pointer)),
            "integer" => instance.as_i64().is_some() || instance.as_u64().is_some() || is_integral_float(instance),
            "number" => instance.is_number(),
            "null" => instance.is_null(),
            _ => true,
        };
        match expected {
            Value::String(name) => matches_one(name),
            Value::Array(names) => names.iter().filter_map(Value::as_str).any(matches_one),
            _ => true,
        }
    }

    fn object(
        &mut self,
        schema: SchemaNode<'_>,
        object: &serde_json::Map<String, Value>,
        map: &serde_json::Map<String, Value>,
        pointer: &mut String,
    ) {
        let properties = object.get("properties").and_then(Value::as_object);
        let additional = object.get("additionalProperties");
        let required: Vec<&str> =
            object.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        for (key, value) in map {
            let base_length = pointer.len();
            push_pointer_segment(pointer, key);
            if let Some(property) = properties.and_then(|properties| properties.get(key)) {
                // Kubernetes treats an explicit null on an optional field as unset; a Go decoder on any.
                let null_is_unset = !required.contains(&key.as_str()) || self.options.reader == Reader::GoStruct;
                if !value.is_null() || !null_is_unset {
                    let property = SchemaNode { file: schema.file, value: property };
                    self.deprecation(property, pointer);
                    self.node(property, value, pointer);
                }
            } else {
                match additional {
                    Some(Value::Bool(false)) => {
                        let names: Vec<&str> = properties
                            .map(|properties| properties.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        let suggestion = closest(key, names.iter().copied()).map(str::to_string);
                        let message = match &suggestion {
                            Some(suggestion) => format!("unknown field `{key}`; did you mean `{suggestion}`?"),
                            None if names.is_empty() => format!("unknown field `{key}`: no fields are allowed here"),
                            None => format!("unknown field `{key}`; expected one of {}", quote_list(&names, "or")),
                        };
                        self.push(pointer, Target::Key, Code::SchemaUnknownField, message, suggestion);
                    }
                    Some(additional @ Value::Object(_)) if !value.is_null() => {
                        self.node(SchemaNode { file: schema.file, value: additional }, value, pointer);
                    }
                    _ => {}
                }
            }
            pointer.truncate(base_length);
        }
        for name in &required {
            let missing = match self.options.reader {
                Reader::ApiServer => map.get(*name).is_none_or(Value::is_null),
                // An explicit null is a value the decoder accepts; only an absent field is worth a word.
                Reader::GoStruct => !map.contains_key(*name),
            };
            if missing {
                let message = format!("missing required field `{name}`");
                self.push(pointer, Target::Object, Code::SchemaRequired, message, Some((*name).to_string()));
            }
        }
    }

    fn deprecation(&mut self, property: SchemaNode<'_>, pointer: &str) {
        if property.value.get("deprecated").and_then(Value::as_bool) != Some(true) {
            return;
        }
        let description = property.value.get("description").and_then(Value::as_str).unwrap_or_default();
        let name = pointer.rsplit('/').next().unwrap_or_default();
        let message = deprecation_message(name, description);
        self.push(pointer, Target::Key, Code::SchemaDeprecated, message, None);
    }

    fn array(
        &mut self,
        schema: SchemaNode<'_>,
        object: &serde_json::Map<String, Value>,
        items: &[Value],
        pointer: &mut String,
    ) {
        if let Some(item_schema) = object.get("items") {
            for (index, item) in items.iter().enumerate() {
                let base_length = pointer.len();
                push_pointer_segment(pointer, &index.to_string());
                self.node(SchemaNode { file: schema.file, value: item_schema }, item, pointer);
                pointer.truncate(base_length);
            }
        }
        if let Some(minimum) = object.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < minimum
        {
            let message = format!("expected at least {minimum} item{}, found {}", plural(minimum), items.len());
            self.push(pointer, Target::Value, Code::SchemaConstraint, message, None);
        }
        if let Some(maximum) = object.get("maxItems").and_then(Value::as_u64)
            && (items.len() as u64) > maximum
        {
            let message = format!("expected at most {maximum} item{}, found {}", plural(maximum), items.len());
            self.push(pointer, Target::Value, Code::SchemaConstraint, message, None);
        }
        if object.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            for (index, item) in items.iter().enumerate() {
                if items[..index].contains(item) {
                    let item_pointer = format!("{pointer}/{index}");
                    let message = format!("duplicate item `{}`: the items must be unique", value_label(item));
                    self.push(&item_pointer, Target::Value, Code::SchemaDuplicateEntry, message, None);
                }
            }
        }
        if let Some(keys) = object.get("x-kubernetes-list-map-keys").and_then(Value::as_array) {
            let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
            let mut seen: HashMap<Vec<&Value>, usize> = HashMap::new();
            for (index, item) in items.iter().enumerate() {
                let tuple: Vec<&Value> = keys.iter().map(|key| item.get(*key).unwrap_or(&Value::Null)).collect();
                if seen.insert(tuple.clone(), index).is_some() {
                    let described: Vec<String> =
                        keys.iter().zip(&tuple).map(|(key, value)| format!("{key}={}", value_label(value))).collect();
                    let item_pointer = format!("{pointer}/{index}");
                    let message = format!("duplicate entry with {}", described.join(", "));
                    self.push(&item_pointer, Target::Value, Code::SchemaDuplicateEntry, message, None);
                }
            }
        }
    }

    fn string(&mut self, object: &serde_json::Map<String, Value>, text: &str, pointer: &str) {
        let length = text.chars().count() as u64;
        if let Some(minimum) = object.get("minLength").and_then(Value::as_u64)
            && length < minimum
        {
            let message = format!("expected at least {minimum} character{}, found {length}", plural(minimum));
            self.push(pointer, Target::Value, Code::SchemaConstraint, message, None);
        }
        if let Some(maximum) = object.get("maxLength").and_then(Value::as_u64)
            && length > maximum
        {
            let message = format!("expected at most {maximum} character{}, found {length}", plural(maximum));
            self.push(pointer, Target::Value, Code::SchemaConstraint, message, None);
        }
        if let Some(pattern) = object.get("pattern").and_then(Value::as_str)
            && let Some(regex) = cached_regex(pattern)
            && !regex.is_match(text)
        {
            let message = format!("`{text}` does not match the pattern `{pattern}`");
            self.push(pointer, Target::Value, Code::SchemaConstraint, message, None);
        }
    }

    fn number(&mut self, object: &serde_json::Map<String, Value>, number: &serde_json::Number, pointer: &str) {
        let Some(value) = number.as_f64() else {
            return;
        };
        if let Some(minimum) = object.get("minimum").and_then(Value::as_f64)
            && value < minimum
        {
            let message = format!("expected a number of at least {minimum}, found {number}");
            self.push(pointer, Target::Value, Code::SchemaConstraint, message, None);
        }
        if let Some(maximum) = object.get("maximum").and_then(Value::as_f64)
            && value > maximum
        {
            let message = format!("expected a number of at most {maximum}, found {number}");
            self.push(pointer, Target::Value, Code::SchemaConstraint, message, None);
        }
    }

    /// Runs a sub-validation and returns its errors without recording them.
    fn trial(&mut self, schema: SchemaNode<'_>, instance: &Value, pointer: &mut String) -> Vec<SchemaError> {
        let saved = std::mem::take(&mut self.errors);
        self.node(schema, instance, pointer);
        std::mem::replace(&mut self.errors, saved)
    }

    fn alternatives(
        &mut self,
        schema: SchemaNode<'_>,
        branches: &[Value],
        instance: &Value,
        pointer: &mut String,
        exactly_one: bool,
    ) {
        let mut outcomes = Vec::with_capacity(branches.len());
        for branch in branches {
            outcomes.push(self.trial(SchemaNode { file: schema.file, value: branch }, instance, pointer));
        }
        let passing = outcomes.iter().filter(|errors| errors.is_empty()).count();
        let required_sets: Option<Vec<Vec<&str>>> = branches.iter().map(required_list).collect();
        if passing == 0 {
            if let Some(sets) = &required_sets {
                let names: Vec<&str> = sets.iter().flatten().copied().collect();
                let message = format!(
                    "set {} of {}",
                    if exactly_one { "exactly one" } else { "at least one" },
                    quote_list(&names, "or")
                );
                self.push(pointer, Target::Object, Code::SchemaOneOf, message, None);
                return;
            }
            // Report the branch that got furthest: the one whose errors are deepest, then fewest.
            let best = outcomes
                .into_iter()
                .min_by_key(|errors| {
                    let depth = errors.iter().map(|error| error.pointer.len()).max().unwrap_or(0);
                    (usize::MAX - depth, errors.len())
                })
                .unwrap_or_default();
            self.errors.extend(best);
        } else if exactly_one && passing > 1 {
            let message = match &required_sets {
                Some(sets) => {
                    let names: Vec<&str> =
                        sets.iter().flatten().filter(|name| instance.get(**name).is_some()).copied().collect();
                    format!("set only one of {}", quote_list(&names, "and"))
                }
                None => "this value matches more than one of the allowed forms".to_string(),
            };
            self.push(pointer, Target::Object, Code::SchemaOneOf, message, None);
        }
    }
}

/// The fields of a branch that is only `{required: [...]}` (Kyverno's "exactly one of" idiom).
fn required_list(branch: &Value) -> Option<Vec<&str>> {
    let object = branch.as_object()?;
    if object.keys().any(|key| key != "required") {
        return None;
    }
    Some(object.get("required")?.as_array()?.iter().filter_map(Value::as_str).collect())
}

fn is_integral_float(value: &Value) -> bool {
    value.as_f64().is_some_and(|float| float.fract() == 0.0 && float.is_finite())
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn quote_list(names: &[&str], conjunction: &str) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        count => format!("{} {conjunction} {}", quoted[..count - 1].join(", "), quoted[count - 1]),
    }
}

fn describe_types(expected: &Value) -> String {
    let names: Vec<&str> = match expected {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).filter(|name| *name != "null").collect(),
        _ => Vec::new(),
    };
    let described: Vec<&str> = names
        .iter()
        .map(|name| match *name {
            "object" => "a mapping",
            "array" => "a list",
            "string" => "a string",
            "boolean" => "a boolean",
            "integer" => "an integer",
            "number" => "a number",
            other => other,
        })
        .collect();
    described.join(" or ")
}

/// A short description of a value's type, for "expected X, found Y".
pub fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "an empty value".to_string(),
        Value::Bool(flag) => format!("the boolean `{flag}`"),
        Value::Number(number) => format!("the number `{number}`"),
        Value::String(text) => format!("the string `{}`", truncate(text, 40)),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

fn value_label(value: &Value) -> String {
    match value {
        Value::String(text) => truncate(text, 60),
        other => other.to_string(),
    }
}

fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let cut: String = text.chars().take(limit - 1).collect();
    format!("{cut}…")
}

/// Compiled schema patterns, shared by every validation (the set is small and fixed by the schemas).
fn cached_regex(pattern: &str) -> Option<regex::Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    guard.entry(pattern.to_string()).or_insert_with(|| regex::Regex::new(pattern).ok()).clone()
}
