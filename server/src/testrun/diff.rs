//! Line diffs between an expected and an actual resource, rendered as YAML with sorted keys, so an author
//! sees which lines a mutation got wrong instead of two JSON blobs.

use serde_json::{Map, Value};

/// Lines of context kept around each change.
const CONTEXT: usize = 3;
/// Above this many lines on either side the quadratic alignment is skipped and every line is shown as
/// changed; resources this large are rare in tests and the diff stays bounded in time and memory.
const MAX_LINES: usize = 2_000;

/// A unified diff from `expected` to `actual` (both rendered as YAML), or `None` when they render alike.
pub fn resource_diff(expected: &Value, actual: &Value) -> Option<String> {
    line_diff(&render(expected), &render(actual), CONTEXT, ("expected", "actual"))
}

/// A unified diff of two texts line by line, with `context` unchanged lines around each change and the
/// two sides named by `labels`; `None` when the texts are equal.
pub fn line_diff(old_text: &str, new_text: &str, context: usize, labels: (&str, &str)) -> Option<String> {
    if old_text == new_text {
        return None;
    }
    let old: Vec<&str> = old_text.lines().collect();
    let new: Vec<&str> = new_text.lines().collect();
    let edits = align(&old, &new);
    Some(unified(&edits, context, labels))
}

fn render(value: &Value) -> String {
    yaml_serde::to_string(&sorted(value)).unwrap_or_else(|_| value.to_string())
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), sorted(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Edit<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// A longest-common-subsequence alignment of two line lists.
fn align<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<Edit<'a>> {
    // Common head and tail are cheap to strip and keep the table small.
    let head = old.iter().zip(new).take_while(|(left, right)| left == right).count();
    let tail = old[head..].iter().rev().zip(new[head..].iter().rev()).take_while(|(left, right)| left == right).count();
    let old_mid = &old[head..old.len() - tail];
    let new_mid = &new[head..new.len() - tail];
    let mut edits: Vec<Edit> = old[..head].iter().map(|line| Edit::Same(line)).collect();
    if old_mid.len() > MAX_LINES || new_mid.len() > MAX_LINES {
        edits.extend(old_mid.iter().map(|line| Edit::Removed(line)));
        edits.extend(new_mid.iter().map(|line| Edit::Added(line)));
    } else {
        let width = new_mid.len() + 1;
        let mut lengths = vec![0u32; (old_mid.len() + 1) * width];
        for i in (0..old_mid.len()).rev() {
            for j in (0..new_mid.len()).rev() {
                lengths[i * width + j] = if old_mid[i] == new_mid[j] {
                    lengths[(i + 1) * width + j + 1] + 1
                } else {
                    lengths[(i + 1) * width + j].max(lengths[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < old_mid.len() && j < new_mid.len() {
            if old_mid[i] == new_mid[j] {
                edits.push(Edit::Same(old_mid[i]));
                i += 1;
                j += 1;
            } else if lengths[(i + 1) * width + j] >= lengths[i * width + j + 1] {
                edits.push(Edit::Removed(old_mid[i]));
                i += 1;
            } else {
                edits.push(Edit::Added(new_mid[j]));
                j += 1;
            }
        }
        edits.extend(old_mid[i..].iter().map(|line| Edit::Removed(line)));
        edits.extend(new_mid[j..].iter().map(|line| Edit::Added(line)));
    }
    edits.extend(old[old.len() - tail..].iter().map(|line| Edit::Same(line)));
    edits
}

/// Renders the changes with a few lines of context, eliding long unchanged stretches.
fn unified(edits: &[Edit], context: usize, (old_label, new_label): (&str, &str)) -> String {
    let changed: Vec<usize> =
        edits.iter().enumerate().filter(|(_, edit)| !matches!(edit, Edit::Same(_))).map(|(index, _)| index).collect();
    let keep = |index: usize| changed.iter().any(|&at| index + context >= at && index <= at + context);
    let mut out = format!("--- {old_label}\n+++ {new_label}\n");
    let mut elided = false;
    for (index, edit) in edits.iter().enumerate() {
        if !keep(index) {
            if !elided {
                out.push_str("  ...\n");
                elided = true;
            }
            continue;
        }
        elided = false;
        let (sign, line) = match edit {
            Edit::Same(line) => (' ', line),
            Edit::Removed(line) => ('-', line),
            Edit::Added(line) => ('+', line),
        };
        out.push(sign);
        out.push(' ');
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_only_the_changed_lines_with_context() {
        let expected =
            json!({"metadata": {"name": "web", "labels": {"env": "prod", "team": "a"}}, "spec": {"replicas": 2}});
        let actual =
            json!({"spec": {"replicas": 2}, "metadata": {"labels": {"team": "a", "env": "dev"}, "name": "web"}});
        let diff = resource_diff(&expected, &actual).expect("the resources differ");
        assert!(diff.contains("-     env: prod\n"), "{diff}");
        assert!(diff.contains("+     env: dev\n"), "{diff}");
        assert!(!diff.contains("-     team"), "{diff}");
    }

    #[test]
    fn equal_resources_have_no_diff_whatever_the_key_order() {
        let expected = json!({"a": 1, "b": {"c": [1, 2]}});
        let actual = json!({"b": {"c": [1, 2]}, "a": 1});
        assert_eq!(resource_diff(&expected, &actual), None);
    }

    #[test]
    fn elides_long_unchanged_stretches() {
        let mut expected = Map::new();
        for index in 0..40 {
            expected.insert(format!("key{index:02}"), json!(index));
        }
        let mut actual = expected.clone();
        actual.insert("key20".into(), json!("changed"));
        let diff = resource_diff(&Value::Object(expected), &Value::Object(actual)).unwrap();
        assert!(diff.contains("  ...\n"), "{diff}");
        assert_eq!(diff.lines().filter(|line| line.starts_with("- ") || line.starts_with("+ ")).count(), 2);
    }
}
