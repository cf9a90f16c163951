//! How k8s-manifest-sigstore compares a signed manifest with a resource (`pkg/util/mapnode` and
//! `directMatch` in `pkg/k8smanifest/verify_resource.go` of sigstore/k8s-manifest-sigstore): both are
//! flattened to dotted keys of their scalar leaves, compared key by key, and the differences that fall
//! under ignored fields are dropped.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

/// One difference: the manifest's value (`before`) and the resource's (`after`); `None` where the key
/// is absent.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    pub key: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The scalar leaves of `value` by dotted key (list items by index). Nulls and empty maps or lists have
/// no leaf, as in mapnode's `Ravel`.
pub fn ravel(value: &Value) -> BTreeMap<String, Value> {
    fn walk(value: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
        let child = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
        match value {
            Value::Null => {}
            Value::Object(map) => map.iter().for_each(|(key, item)| walk(item, &child(key), out)),
            Value::Array(items) => {
                items.iter().enumerate().for_each(|(index, item)| walk(item, &child(&index.to_string()), out))
            }
            scalar => {
                out.insert(path.to_string(), scalar.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(value, "", &mut out);
    out
}

fn same_type(left: &Value, right: &Value) -> bool {
    std::mem::discriminant(left) == std::mem::discriminant(right)
}

/// The differences between the signed manifest and the resource, as `directMatch` computes them before
/// ignored fields are dropped: changed, removed and added leaves, list items that only moved dropped,
/// and image names that only gained `docker.io/` or `:latest` dropped.
pub fn differences(manifest: &Value, resource: &Value) -> Vec<Difference> {
    let before = ravel(manifest);
    let after = ravel(resource);
    let mut items = Vec::new();
    let mut type_differences = Vec::new();
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        match (before.get(key), after.get(key)) {
            (Some(old), Some(new)) if !same_type(old, new) => type_differences.push(Difference {
                key: key.clone(),
                before: Some(old.clone()),
                after: Some(new.clone()),
            }),
            (Some(old), Some(new)) if crate::engine::kyverno::go_text::equal_as_go_json(old, new) => {}
            (old, new) => items.push(Difference { key: key.clone(), before: old.cloned(), after: new.cloned() }),
        }
    }
    let mut items = drop_moved_list_items(items);
    // mapnode forgives a value that is missing on one side and "zero" on the other, but its test compares
    // `reflect.Value`s, which are equal only for the empty string (Go boxes every empty string at one
    // address): so only a missing-versus-empty-string difference is dropped.
    items.retain(|item| {
        let lone = match (&item.before, &item.after) {
            (None, Some(value)) | (Some(value), None) => Some(value),
            _ => None,
        };
        lone != Some(&Value::String(String::new()))
    });
    items.extend(type_differences);
    items.sort_by(|left, right| left.key.cmp(&right.key));
    items.retain(|item| !canonicalized_image(item));
    items
}

/// mapnode's `removeKeyDiffsInListNode`: a leaf under a list index that was removed at one index and
/// added with the same value at another is no difference. The other index is found with a pattern made
/// by replacing each `.N.` of the key by `\.\d+\.` (the rest of the key is used as a regular expression
/// as it stands, unanchored, as mapnode does).
fn drop_moved_list_items(items: Vec<Difference>) -> Vec<Difference> {
    let Ok(index) = Regex::new(r"\.\d+\.") else { return items };
    let keep: Vec<bool> = items
        .iter()
        .map(|item| {
            if !index.is_match(&item.key) || (item.before.is_some() && item.after.is_some()) {
                return true;
            }
            let search = index.replace_all(&item.key, regex::NoExpand(r"\.\d+\.")).into_owned();
            let Ok(search) = Regex::new(&search) else { return true };
            !items.iter().any(|other| {
                search.is_match(&other.key)
                    && ((item.after.is_none() && other.before.is_none() && item.before == other.after)
                        || (item.before.is_none() && other.after.is_none() && item.after == other.before))
            })
        })
        .collect();
    items.into_iter().zip(keep).filter_map(|(item, keep)| keep.then_some(item)).collect()
}

/// `removeCanonicalizedImageDiff`: `nginx:1.14` against `docker.io/nginx:1.14`, or `ubuntu` against
/// `ubuntu:latest`, under a key ending with `image`.
fn canonicalized_image(item: &Difference) -> bool {
    let (Some(Value::String(before)), Some(Value::String(after))) = (&item.before, &item.after) else {
        return false;
    };
    item.key.ends_with("image") && (format!("docker.io/{before}") == *after || format!("{before}:latest") == *after)
}

/// Drops the differences under ignored fields, as `DiffResult.Filter` does: each field gets a `*`
/// appended, and a field with a `*` is an unanchored regular expression where `*` is `.*` (so `status`
/// ignores every key that contains `status`).
pub fn drop_ignored(items: Vec<Difference>, fields: &[String]) -> Vec<Difference> {
    let patterns: Vec<Regex> =
        fields.iter().filter_map(|field| Regex::new(&format!("{field}*").replace('*', ".*")).ok()).collect();
    items.into_iter().filter(|item| !patterns.iter().any(|pattern| pattern.is_match(&item.key))).collect()
}

/// k8s-manifest-sigstore's `MatchPattern` for object references: empty or `*` matches anything, `-`
/// matches an empty value, a trailing `*` is a prefix, and a comma separates alternatives.
pub fn match_pattern(pattern: &str, value: &str) -> bool {
    let pattern = pattern.trim();
    if pattern.is_empty() || pattern == "*" || (pattern == "-" && value.is_empty()) || pattern == value {
        return true;
    }
    if pattern.ends_with('*') {
        return value.starts_with(pattern.trim_end_matches('*'));
    }
    if pattern.contains(',') {
        return pattern.split(',').any(|part| match_pattern(part, value));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(items: &[Difference]) -> Vec<&str> {
        items.iter().map(|item| item.key.as_str()).collect()
    }

    #[test]
    fn changed_added_and_removed_leaves_differ() {
        let manifest = json!({"spec": {"a": 1, "b": "x", "gone": true}});
        let resource = json!({"spec": {"a": 1.0, "b": "y", "new": false}});
        assert_eq!(keys(&differences(&manifest, &resource)), ["spec.b", "spec.gone", "spec.new"]);
    }

    #[test]
    fn nulls_empty_containers_and_missing_empty_strings_do_not_differ() {
        let manifest = json!({"metadata": {"labels": {}}, "spec": {"x": null, "s": ""}});
        let resource = json!({"spec": {"items": []}});
        assert!(differences(&manifest, &resource).is_empty());
        // A missing zero or false is a difference: only the empty string is forgiven.
        assert_eq!(keys(&differences(&json!({"a": 0}), &json!({}))), ["a"]);
    }

    #[test]
    fn list_items_that_moved_do_not_differ() {
        let manifest = json!({"spec": {"ports": [{"port": 80}, {"port": 443}]}});
        let resource = json!({"spec": {"ports": [{"port": 443}, {"port": 80}]}});
        assert!(differences(&manifest, &resource).iter().all(|item| item.before.is_some() && item.after.is_some()));
        let grown = json!({"spec": {"ports": [{"port": 80}, {"port": 443}, {"name": "x"}]}});
        assert_eq!(keys(&differences(&manifest, &grown)), ["spec.ports.2.name"]);
    }

    #[test]
    fn ignored_fields_are_unanchored_patterns() {
        let items = differences(&json!({"status": {"a": 1}, "spec": {"b": 1, "substatus": 2}}), &json!({}));
        assert!(
            drop_ignored(items.clone(), &["status".to_string()]).iter().map(|item| &item.key).eq(["spec.b"].iter())
        );
        assert_eq!(keys(&drop_ignored(items, &["spec.b".to_string()])), ["spec.substatus", "status.a"]);
    }

    #[test]
    fn canonical_image_names_do_not_differ() {
        let manifest = json!({"spec": {"image": "nginx:1.14", "other": {"image": "ubuntu"}}});
        let resource = json!({"spec": {"image": "docker.io/nginx:1.14", "other": {"image": "ubuntu:latest"}}});
        assert!(differences(&manifest, &resource).is_empty());
    }

    #[test]
    fn object_reference_patterns() {
        assert!(match_pattern("*", "Pod") && match_pattern("", "Pod") && match_pattern("Po*", "Pod"));
        assert!(match_pattern("Service, Pod", "Pod") && match_pattern("-", ""));
        assert!(!match_pattern("Service", "Pod") && !match_pattern("-", "Pod"));
    }
}
