//! Converts an OpenAPI v3 (structural CRD) schema, such as a ConstraintTemplate's parameter schema, into the
//! JSON Schema dialect the validator reads — the same rules `schemas/generate.py` applies to bundled CRDs.

use serde_json::{Map, Value};

/// Converts `schema`. With `strict`, objects that list `properties` reject unknown keys (templates v1 with
/// `legacySchema: false`); without it every level stays open (`legacySchema: true`).
pub fn openapi_v3_to_schema(schema: &Value, strict: bool) -> Value {
    convert(schema, strict, 0)
}

fn convert(schema: &Value, strict: bool, depth: usize) -> Value {
    let Some(object) = schema.as_object() else {
        return Value::Object(Map::new());
    };
    if depth > 64 {
        return Value::Object(Map::new());
    }
    let preserve = object.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
    let mut out = Map::new();
    for (key, value) in object {
        match key.as_str() {
            "properties" => {
                let properties = value
                    .as_object()
                    .map(|properties| {
                        properties
                            .iter()
                            .map(|(name, child)| (name.clone(), convert(child, strict, depth + 1)))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Object(properties));
            }
            "items" | "not" => {
                out.insert(key.clone(), convert(value, strict, depth + 1));
            }
            "additionalProperties" => {
                let converted = if value.is_object() { convert(value, strict, depth + 1) } else { value.clone() };
                out.insert(key.clone(), converted);
            }
            "allOf" | "anyOf" | "oneOf" => {
                let branches = value
                    .as_array()
                    .map(|branches| branches.iter().map(|branch| convert(branch, strict, depth + 1)).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Array(branches));
            }
            "type" | "enum" | "required" | "pattern" | "minLength" | "maxLength" | "minimum" | "maximum"
            | "minItems" | "maxItems" | "uniqueItems" | "description" | "default" | "format" => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    if object.get("nullable").and_then(Value::as_bool) == Some(true)
        && let Some(Value::String(name)) = out.get("type").cloned()
    {
        out.insert("type".into(), Value::Array(vec![Value::String(name), Value::String("null".into())]));
    }
    if preserve && !out.contains_key("type") {
        out.remove("additionalProperties");
    }
    if strict && !preserve && out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}
