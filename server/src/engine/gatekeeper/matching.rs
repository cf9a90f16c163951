//! A constraint's `spec.match` against the object under review, with Gatekeeper's rules: kinds,
//! scope, namespaces and excludedNamespaces (with `*` prefix/suffix wildcards), labelSelector,
//! namespaceSelector, name and source.

use serde_json::{Map, Value};

use crate::model::KubernetesObject;

/// What the matcher looks at for one object (the object or the old object of a review).
pub struct Matchable<'a> {
    pub object: &'a Value,
    /// The object's Namespace when it is known (from the inventory).
    pub namespace: Option<&'a Value>,
    /// `Original` for objects under review, `Generated` for expanded ones.
    pub source: &'a str,
}

/// One of the match criteria: `Ok(false)` when the object is outside it.
type MatchCheck = fn(&Map<String, Value>, &Matchable) -> Result<bool, String>;

/// Whether the constraint applies; `Err` is a matching error, which Gatekeeper turns into a
/// rejection ("autoreject").
pub fn matches(match_spec: Option<&Value>, target: &Matchable) -> Result<bool, String> {
    let Some(spec) = match_spec.and_then(Value::as_object) else {
        return Ok(true);
    };
    let checks: [MatchCheck; 8] = [
        kinds_match,
        scope_match,
        namespaces_match,
        excluded_namespaces_match,
        label_selector_match,
        namespace_selector_match,
        name_match,
        source_match,
    ];
    for check in checks {
        if !check(spec, target)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn group_and_kind(object: &Value) -> (String, String) {
    (object.group().to_string(), object.kind().to_string())
}

fn metadata_string<'a>(object: &'a Value, field: &str) -> &'a str {
    object.get("metadata").and_then(|metadata| metadata.get(field)).and_then(Value::as_str).unwrap_or("")
}

fn is_namespace(object: &Value) -> bool {
    let (group, kind) = group_and_kind(object);
    kind == "Namespace" && group.is_empty()
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value.and_then(Value::as_array).map(|items| items.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn kinds_match(spec: &Map<String, Value>, target: &Matchable) -> Result<bool, String> {
    let Some(entries) = spec.get("kinds").and_then(Value::as_array).filter(|entries| !entries.is_empty()) else {
        return Ok(true);
    };
    let (group, kind) = group_and_kind(target.object);
    for entry in entries {
        let kinds = strings(entry.get("kinds"));
        let groups = strings(entry.get("apiGroups"));
        let kind_matches = kinds.is_empty() || kinds.contains(&"*") || kinds.contains(&kind.as_str());
        let group_matches = groups.is_empty() || groups.contains(&"*") || groups.contains(&group.as_str());
        if kind_matches && group_matches {
            return Ok(true);
        }
    }
    Ok(false)
}

fn scope_match(spec: &Map<String, Value>, target: &Matchable) -> Result<bool, String> {
    let has_namespace = !metadata_string(target.object, "namespace").is_empty() || target.namespace.is_some();
    let namespace_object = is_namespace(target.object);
    Ok(match spec.get("scope").and_then(Value::as_str) {
        Some("Cluster") => namespace_object || !has_namespace,
        Some("Namespaced") => !namespace_object && has_namespace,
        _ => true,
    })
}

/// The namespace the object belongs to for namespaces/excludedNamespaces, if any.
fn namespace_name(target: &Matchable) -> Option<String> {
    if is_namespace(target.object) {
        return Some(metadata_string(target.object, "name").to_string());
    }
    if let Some(namespace) = target.namespace {
        return Some(metadata_string(namespace, "name").to_string());
    }
    let namespace = metadata_string(target.object, "namespace");
    (!namespace.is_empty()).then(|| namespace.to_string())
}

/// Gatekeeper's wildcard: `*` at the start, the end or both.
pub fn wildcard_matches(pattern: &str, candidate: &str) -> bool {
    let prefix_stripped = pattern.strip_prefix('*');
    match (prefix_stripped, pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) => candidate.contains(rest.strip_suffix('*').unwrap_or(rest)),
        (Some(rest), None) => candidate.ends_with(rest),
        (None, Some(rest)) => candidate.starts_with(rest),
        (None, None) => pattern == candidate,
    }
}

fn wildcard_matches_generate_name(pattern: &str, candidate: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) => candidate.contains(rest.strip_suffix('*').unwrap_or(rest)),
        (None, Some(rest)) => candidate.starts_with(rest),
        _ => false,
    }
}

fn namespaces_match(spec: &Map<String, Value>, target: &Matchable) -> Result<bool, String> {
    let patterns = strings(spec.get("namespaces"));
    if patterns.is_empty() {
        return Ok(true);
    }
    let Some(namespace) = namespace_name(target) else {
        return Ok(true);
    };
    Ok(patterns.iter().any(|pattern| wildcard_matches(pattern, &namespace)))
}

fn excluded_namespaces_match(spec: &Map<String, Value>, target: &Matchable) -> Result<bool, String> {
    let patterns = strings(spec.get("excludedNamespaces"));
    if patterns.is_empty() {
        return Ok(true);
    }
    let Some(namespace) = namespace_name(target) else {
        return Ok(true);
    };
    Ok(!patterns.iter().any(|pattern| wildcard_matches(pattern, &namespace)))
}

fn labels_of(object: &Value) -> Map<String, Value> {
    object
        .get("metadata")
        .and_then(|metadata| metadata.get("labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// A Kubernetes label selector (matchLabels and matchExpressions) against a label set.
pub fn selector_matches(selector: &Value, labels: &Map<String, Value>) -> Result<bool, String> {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    if let Some(match_labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, wanted) in match_labels {
            if label(key) != wanted.as_str() {
                return Ok(false);
            }
        }
    }
    for expression in selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
        let operator = expression.get("operator").and_then(Value::as_str).unwrap_or("");
        let values = strings(expression.get("values"));
        let matched = match operator {
            "In" => label(key).is_some_and(|value| values.contains(&value)),
            "NotIn" => label(key).is_none_or(|value| !values.contains(&value)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

fn label_selector_match(spec: &Map<String, Value>, target: &Matchable) -> Result<bool, String> {
    let Some(selector) = spec.get("labelSelector").filter(|selector| !selector.is_null()) else {
        return Ok(true);
    };
    selector_matches(selector, &labels_of(target.object))
}

fn namespace_selector_match(spec: &Map<String, Value>, target: &Matchable) -> Result<bool, String> {
    let Some(selector) = spec.get("namespaceSelector").filter(|selector| !selector.is_null()) else {
        return Ok(true);
    };
    let namespace_object = is_namespace(target.object);
    if !namespace_object && target.namespace.is_none() && metadata_string(target.object, "namespace").is_empty() {
        return Ok(true);
    }
    if namespace_object {
        return selector_matches(selector, &labels_of(target.object));
    }
    match target.namespace {
        Some(namespace) => selector_matches(selector, &labels_of(namespace)),
        None => Err("namespace selector for namespace-scoped object but missing Namespace".to_string()),
    }
}

fn name_match(spec: &Map<String, Value>, target: &Matchable) -> Result<bool, String> {
    let Some(pattern) = spec.get("name").and_then(Value::as_str).filter(|name| !name.is_empty()) else {
        return Ok(true);
    };
    Ok(wildcard_matches(pattern, metadata_string(target.object, "name"))
        || wildcard_matches_generate_name(pattern, metadata_string(target.object, "generateName")))
}

fn source_match(spec: &Map<String, Value>, target: &Matchable) -> Result<bool, String> {
    let wanted = spec.get("source").and_then(Value::as_str).filter(|source| !source.is_empty()).unwrap_or("All");
    if !matches!(wanted, "All" | "Original" | "Generated") {
        return Err(format!("invalid source field {wanted:?}"));
    }
    Ok(wanted == "All" || wanted == target.source)
}
