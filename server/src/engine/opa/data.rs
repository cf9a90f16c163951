//! The data document of a run, built from data files the way OPA's loader builds it: each file's object
//! is placed at the path of its directory below the loaded root and merged into the rest.

use serde_json::{Map, Value};

/// Places `document` at `path` (directory names below the root) and merges it into `data`. A file's
/// document must be an object, and two files may not set the same key to different non-objects (OPA's
/// `merge.InterfaceMaps`); the error says which key collides.
pub fn merge_data_file(data: &mut Value, path: &[String], document: Value) -> Result<(), String> {
    if !document.is_object() {
        return Err(format!(
            "a data file must hold an object (found {}); OPA places its keys under data",
            kind_of(&document)
        ));
    }
    let mut placed = document;
    for part in path.iter().rev() {
        let mut wrapper = Map::new();
        wrapper.insert(part.clone(), placed);
        placed = Value::Object(wrapper);
    }
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    merge(data, placed, &mut Vec::new())
}

fn merge(into: &mut Value, from: Value, at: &mut Vec<String>) -> Result<(), String> {
    let (Value::Object(target), Value::Object(source)) = (into, from) else {
        return Err(format!("data.{} is set by two files", at.join(".")));
    };
    for (key, value) in source {
        match target.get_mut(&key) {
            Some(existing) if existing.is_object() && value.is_object() => {
                at.push(key);
                merge(existing, value, at)?;
                at.pop();
            }
            Some(_) => {
                at.push(key);
                let message = format!("data.{} is set by two files", at.join("."));
                at.pop();
                return Err(message);
            }
            None => {
                target.insert(key, value);
            }
        }
    }
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn files_merge_at_their_directory_path() {
        let mut data = json!({});
        merge_data_file(&mut data, &[], json!({"a": {"x": 1}})).unwrap();
        merge_data_file(&mut data, &["a".to_string()], json!({"y": 2})).unwrap();
        merge_data_file(&mut data, &["b".to_string(), "c".to_string()], json!({"z": [1]})).unwrap();
        assert_eq!(data, json!({"a": {"x": 1, "y": 2}, "b": {"c": {"z": [1]}}}));
    }

    #[test]
    fn conflicts_and_non_objects_are_errors() {
        let mut data = json!({"a": {"x": 1}});
        assert_eq!(
            merge_data_file(&mut data, &[], json!({"a": {"x": 2}})),
            Err("data.a.x is set by two files".to_string())
        );
        assert_eq!(
            merge_data_file(&mut data, &[], json!([1])),
            Err("a data file must hold an object (found an array); OPA places its keys under data".to_string())
        );
    }
}
