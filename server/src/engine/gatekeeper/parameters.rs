//! Constraint `spec.parameters` against the template's openAPIV3Schema: the structural checks the
//! Kubernetes schema validator makes (type, enum, required, items, properties, bounds). Unknown
//! fields are pruned by Kubernetes rather than rejected, so they are not errors here.

use serde_json::Value;

/// One schema violation: a JSON pointer into the constraint and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub pointer: String,
    pub message: String,
}

/// Validates `value` (found at `pointer`) against an OpenAPI v3 schema.
pub fn validate(value: &Value, schema: &Value, pointer: &str, errors: &mut Vec<SchemaError>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    let mut fail = |message: String| errors.push(SchemaError { pointer: pointer.to_string(), message });
    if value.is_null() {
        if schema.get("nullable").and_then(Value::as_bool) != Some(true) && schema.get("type").is_some() {
            fail("must not be null".to_string());
        }
        return;
    }
    let int_or_string = schema.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true);
    if let Some(expected) = schema.get("type").and_then(Value::as_str)
        && !(int_or_string && (value.is_string() || value.is_i64() || value.is_u64()))
        && !type_matches(expected, value)
    {
        fail(format!("must be of type {expected}, found {}", type_name(value)));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let listed: Vec<String> = allowed.iter().map(Value::to_string).collect();
        fail(format!("must be one of {}", listed.join(", ")));
    }
    if let Some(number) = value.as_f64() {
        if let Some(minimum) = schema.get("minimum").and_then(Value::as_f64)
            && number < minimum
        {
            fail(format!("must be greater than or equal to {minimum}"));
        }
        if let Some(maximum) = schema.get("maximum").and_then(Value::as_f64)
            && number > maximum
        {
            fail(format!("must be less than or equal to {maximum}"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if let Some(minimum) = schema.get("minLength").and_then(Value::as_u64)
            && length < minimum
        {
            fail(format!("must be at least {minimum} characters long"));
        }
        if let Some(maximum) = schema.get("maxLength").and_then(Value::as_u64)
            && length > maximum
        {
            fail(format!("must be at most {maximum} characters long"));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && let Ok(expression) = regex::Regex::new(pattern)
            && !expression.is_match(text)
        {
            fail(format!("must match the pattern {pattern:?}"));
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(minimum) = schema.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < minimum
        {
            fail(format!("must have at least {minimum} items"));
        }
        if let Some(maximum) = schema.get("maxItems").and_then(Value::as_u64)
            && (items.len() as u64) > maximum
        {
            fail(format!("must have at most {maximum} items"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (index, item) in items.iter().enumerate() {
                validate(item, item_schema, &format!("{pointer}/{index}"), errors);
            }
        }
    }
    if let Some(fields) = value.as_object() {
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = required.as_str()
                && !fields.contains_key(name)
            {
                errors.push(SchemaError { pointer: pointer.to_string(), message: format!("{name:?} is required") });
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in fields {
            let field_pointer = format!("{pointer}/{}", escape_pointer(name));
            if let Some(field_schema) = properties.and_then(|properties| properties.get(name)) {
                validate(field, field_schema, &field_pointer, errors);
            } else if let Some(map_schema) = schema.get("additionalProperties").filter(|schema| schema.is_object()) {
                validate(field, map_schema, &field_pointer, errors);
            }
        }
    }
    for combinator in ["allOf"] {
        for sub_schema in schema.get(combinator).and_then(Value::as_array).into_iter().flatten() {
            validate(value, sub_schema, pointer, errors);
        }
    }
    for combinator in ["anyOf", "oneOf"] {
        if let Some(options) = schema.get(combinator).and_then(Value::as_array) {
            let passing = options
                .iter()
                .filter(|option| {
                    let mut option_errors = Vec::new();
                    validate(value, option, pointer, &mut option_errors);
                    option_errors.is_empty()
                })
                .count();
            let ok = if combinator == "anyOf" { passing > 0 } else { passing == 1 };
            if !ok {
                errors.push(SchemaError {
                    pointer: pointer.to_string(),
                    message: format!(
                        "must match {} of the listed schemas",
                        if combinator == "anyOf" { "one or more" } else { "exactly one" }
                    ),
                });
            }
        }
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
