//! Mutations of MutatingPolicy: JSON patches built by CEL, and apply configurations merged the way
//! server-side apply merges them (maps deeply, keyed lists by their merge key, other lists replaced).

use serde_json::{Map, Value};

use crate::engine::cel::Val;

/// Applies the JSON patch operations a CEL expression returned.
pub fn json_patch(document: &Value, operations: &[Val]) -> Result<Value, String> {
    let mut current = document.clone();
    for operation in operations {
        let operation = operation.to_json();
        let op = operation.get("op").and_then(Value::as_str).unwrap_or("");
        let path = operation.get("path").and_then(Value::as_str).unwrap_or("");
        let value = operation.get("value").cloned().unwrap_or(Value::Null);
        match op {
            "add" => add(&mut current, path, value)?,
            "replace" => {
                remove(&mut current, path)?;
                add(&mut current, path, value)?;
            }
            "remove" => remove(&mut current, path)?,
            "test" => {
                if current.pointer(path) != Some(&value) {
                    return Err(format!("test operation failed at {path}"));
                }
            }
            "copy" | "move" => {
                let from = operation.get("from").and_then(Value::as_str).unwrap_or("");
                let moved = current.pointer(from).cloned().ok_or_else(|| format!("missing path {from}"))?;
                if op == "move" {
                    remove(&mut current, from)?;
                }
                add(&mut current, path, moved)?;
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    Ok(current)
}

fn split_pointer(path: &str) -> Result<(String, String), String> {
    let position = path.rfind('/').ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    let last = path[position + 1..].replace("~1", "/").replace("~0", "~");
    Ok((path[..position].to_string(), last))
}

fn add(document: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *document = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    let target = document.pointer_mut(&parent).ok_or_else(|| format!("doc is missing path: {path:?}"))?;
    match target {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            if last == "-" {
                items.push(value);
                return Ok(());
            }
            let index: usize = last.parse().map_err(|_| format!("invalid array index in {path:?}"))?;
            if index > items.len() {
                return Err(format!("index out of range in {path:?}"));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(format!("doc is missing path: {path:?}")),
    }
}

fn remove(document: &mut Value, path: &str) -> Result<(), String> {
    let (parent, last) = split_pointer(path)?;
    let target = document.pointer_mut(&parent).ok_or_else(|| format!("doc is missing path: {path:?}"))?;
    match target {
        Value::Object(map) => {
            map.shift_remove(&last).map(|_| ()).ok_or_else(|| format!("doc is missing key: {path:?}"))
        }
        Value::Array(items) => {
            let index: usize = last.parse().map_err(|_| format!("invalid array index in {path:?}"))?;
            if index >= items.len() {
                return Err(format!("index out of range in {path:?}"));
            }
            items.remove(index);
            Ok(())
        }
        _ => Err(format!("doc is missing path: {path:?}")),
    }
}

/// The merge key of the associative lists of the Kubernetes built-in types that policies patch.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ports" => Some("containerPort"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

/// Merges an apply configuration into the object.
pub fn apply_configuration(object: &Value, configuration: &Value) -> Value {
    merge(object, configuration, "")
}

fn merge(base: &Value, patch: &Value, field: &str) -> Value {
    match (base, patch) {
        (Value::Object(base_map), Value::Object(patch_map)) => {
            let mut out: Map<String, Value> = base_map.clone();
            for (key, value) in patch_map {
                let merged = match out.get(key) {
                    Some(existing) if !value.is_null() => merge(existing, value, key),
                    _ => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(base_items), Value::Array(patch_items)) => {
            let Some(key) = merge_key(field) else {
                return patch.clone();
            };
            let mut out = base_items.clone();
            for item in patch_items {
                let item_key = item.get(key);
                let position =
                    item_key.and_then(|wanted| out.iter().position(|existing| existing.get(key) == Some(wanted)));
                match position {
                    Some(position) => out[position] = merge(&out[position], item, ""),
                    None => out.push(item.clone()),
                }
            }
            Value::Array(out)
        }
        _ => patch.clone(),
    }
}
