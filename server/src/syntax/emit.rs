//! JSON values written as block YAML that Kubernetes reads back as the same values: a string is written
//! plain only when both YAML 1.1 (Kubernetes, the Kyverno CLI) and YAML 1.2 read it as that string, so
//! `yes`, `on`, `0755` or `1e3` come out quoted (a general-purpose YAML 1.2 writer leaves `yes` plain,
//! which kubectl reads as `true`). Mappings keep their key order; nested blocks are indented by two.

use serde_json::Value;

use super::scalar::{resolve_plain, yaml11_boolean};

/// The value as a YAML document (without a `---` marker), ending with a line break.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

fn mapping(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string(key));
        out.push(':');
        block_or_inline(value, indent + 2, out);
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            // The item's first entry shares the dash's line; the rest line up under it.
            Value::Object(map) if !map.is_empty() => {
                let mut block = String::new();
                mapping(map, indent + 2, &mut block);
                out.push(' ');
                out.push_str(&block[indent + 2..]);
            }
            _ => block_or_inline(item, indent + 2, out),
        }
    }
}

/// After a key or a dash: a nested block on the next lines, or a scalar (or empty collection) on the line.
fn block_or_inline(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            mapping(map, indent, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            sequence(items, indent, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::String(text) => string(text),
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
        other => other.to_string(),
    }
}

/// A string plain when every reader takes it as that string, else double-quoted (JSON's escapes are
/// valid in a double-quoted YAML scalar).
fn string(text: &str) -> String {
    let safe_characters =
        text.chars().all(|character| character.is_ascii_alphanumeric() || "-_./ :@+=,()".contains(character));
    let plain = !text.is_empty()
        && safe_characters
        && !text.starts_with([' ', '-', ':', '@'])
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && resolve_plain(text) == Value::String(text.to_string())
        && yaml11_boolean(text).is_none()
        && !looks_like_a_yaml11_number(text);
    if plain { text.to_string() } else { serde_json::to_string(text).unwrap_or_default() }
}

/// YAML 1.1 reads more as numbers than 1.2 does: octals like `0755`, sexagesimals like `1:30`, `_`
/// separators. Any string that starts like a number and holds only number characters is quoted.
fn looks_like_a_yaml11_number(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    body.starts_with(|character: char| character.is_ascii_digit() || character == '.')
        && body.chars().all(|character| character.is_ascii_digit() || "._:eE+-xXoObB".contains(character))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_other_readers_would_type_are_quoted() {
        let value = json!({"a": "yes", "b": "0755", "c": "1:30", "d": "true", "e": "web", "f": "", "g": "a: b",
            "h": "image:1.2", "i": "- x", "j": 3, "k": true, "l": null, "m": "two\nlines"});
        assert_eq!(
            to_yaml(&value),
            "a: \"yes\"\nb: \"0755\"\nc: \"1:30\"\nd: \"true\"\ne: web\nf: \"\"\ng: \"a: b\"\nh: image:1.2\n\
             i: \"- x\"\nj: 3\nk: true\nl: null\nm: \"two\\nlines\"\n"
        );
    }

    #[test]
    fn blocks_nest_by_two_and_list_items_start_on_the_dash_line() {
        let value = json!({"spec": {"containers": [{"name": "main", "ports": [80, 443]}, {}], "empty": []}});
        assert_eq!(
            to_yaml(&value),
            "spec:\n  containers:\n    - name: main\n      ports:\n        - 80\n        - 443\n    - {}\n  empty: []\n"
        );
    }
}
