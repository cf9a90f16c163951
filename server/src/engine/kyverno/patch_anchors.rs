//! Anchors inside `patchStrategicMerge`, resolved against the resource before the merge, step for step
//! as Kyverno's `pkg/engine/mutate/patch/strategicPreprocessing.go` does it:
//! - `+(key): value` adds the key only when the resource lacks it (the anchor is dropped when the key
//!   is there, unwrapped when it is not);
//! - `(key): value` is a condition on the resource's value under `key`; in a map a failing condition
//!   drops the whole patch, in an element of a list of maps it drops that element;
//! - `<(key): value` is a global condition: when it fails for every element, the whole patch is dropped;
//! - an element with conditions that hold for a resource element with a `name` becomes a copy named
//!   after it, so the merge patches that element;
//! - finally the conditions are taken out of the patch (a map left empty by that goes too).
//!
//! Where upstream's steps have quirks, they are kept, because `kyverno test` results depend on them:
//! one copy of a list element is carried from resource element to resource element (so an `+(key)`
//! unwrapped for the first element is a plain key for the next), a condition whose value holds an
//! `+(key)` is not checked, a scalar condition compares the text of the two scalars, and removing
//! anchored list elements uses indexes taken before the removal.

use serde_json::{Map, Value};

use super::pattern::{AnchorKind, PatternOutcome, match_pattern, parse_anchor};

/// Why preprocessing stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnchorError {
    /// A conditional anchor did not hold: the patch (or list element) does not apply.
    Condition(String),
    /// A global anchor did not hold: nothing of the patch applies.
    Global(String),
    /// The patch could not be processed (a list where a map was expected, ...).
    Invalid(String),
}

/// Resolves the anchors of `patch` against `resource`, in place (Kyverno's `PreProcessPattern`).
pub fn preprocess(patch: &mut Value, resource: &Value) -> Result<(), AnchorError> {
    preprocess_node(patch, Some(resource))?;
    delete_condition_elements(patch)
}

fn anchor_kind(key: &str) -> Option<AnchorKind> {
    parse_anchor(key).map(|(kind, _)| kind)
}

fn bare_key(key: &str) -> String {
    parse_anchor(key).map_or_else(|| key.to_string(), |(_, bare)| bare.to_string())
}

/// A condition or a global condition (upstream's `ContainsCondition`).
fn is_condition(kind: Option<AnchorKind>) -> bool {
    matches!(kind, Some(AnchorKind::Condition | AnchorKind::Global))
}

/// Any anchor preprocessing acts on: conditions and add-if-not-present (upstream's `hasAnchor`).
fn is_patch_anchor(kind: Option<AnchorKind>) -> bool {
    is_condition(kind) || kind == Some(AnchorKind::AddIfNotPresent)
}

fn preprocess_node(pattern: &mut Value, resource: Option<&Value>) -> Result<(), AnchorError> {
    match pattern {
        Value::Object(_) => preprocess_map(pattern, resource),
        Value::Array(items) if items.first().is_some_and(Value::is_object) => preprocess_list(items, resource),
        _ => Ok(()),
    }
}

/// The value under `key` of a resource node that is a map.
fn resource_field<'a>(resource: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    resource.and_then(Value::as_object).and_then(|map| map.get(key))
}

fn preprocess_map(pattern: &mut Value, resource: Option<&Value>) -> Result<(), AnchorError> {
    handle_add_if_not_present(pattern, resource);
    validate_conditions(pattern, resource)?;
    let Some(map) = pattern.as_object_mut() else {
        return Ok(());
    };
    let plain: Vec<String> = map.keys().filter(|key| !is_patch_anchor(anchor_kind(key))).cloned().collect();
    for key in plain {
        let resource_value = resource_field(resource, &key);
        if let Some(value) = map.get_mut(&key) {
            preprocess_node(value, resource_value)?;
        }
    }
    Ok(())
}

/// Renames a key in place, keeping its position.
fn rename_key(map: &mut Map<String, Value>, from: &str, to: &str) {
    if !map.contains_key(from) {
        return;
    }
    let entries = std::mem::take(map);
    for (key, value) in entries {
        if key == from {
            map.insert(to.to_string(), value);
        } else {
            map.insert(key, value);
        }
    }
}

/// `+(key)` entries: dropped when the resource has the key, unwrapped when it does not. Returns how
/// many there were.
fn handle_add_if_not_present(pattern: &mut Value, resource: Option<&Value>) -> usize {
    let Some(map) = pattern.as_object_mut() else {
        return 0;
    };
    let anchors: Vec<String> =
        map.keys().filter(|key| anchor_kind(key) == Some(AnchorKind::AddIfNotPresent)).cloned().collect();
    for key in &anchors {
        let bare = bare_key(key);
        if resource_field(resource, &bare).is_some() {
            map.shift_remove(key);
        } else {
            rename_key(map, key, &bare);
        }
    }
    anchors.len()
}

fn validate_conditions(pattern: &mut Value, resource: Option<&Value>) -> Result<(), AnchorError> {
    validate_anchors(pattern, resource, AnchorKind::Global).map_err(AnchorError::Global)?;
    validate_anchors(pattern, resource, AnchorKind::Condition).map_err(AnchorError::Condition)
}

fn validate_anchors(pattern: &mut Value, resource: Option<&Value>, wanted: AnchorKind) -> Result<(), String> {
    let Some(map) = pattern.as_object_mut() else {
        return Ok(());
    };
    let anchors: Vec<String> = map.keys().filter(|key| anchor_kind(key) == Some(wanted)).cloned().collect();
    for key in anchors {
        let bare = bare_key(&key);
        let Some(resource_value) = resource_field(resource, &bare) else {
            return Err(format!("could not found \"{bare}\" key in the resource"));
        };
        let Some(condition) = map.get_mut(&key) else { continue };
        // A condition holding `+(key)` entries is applied as a patch instead of being checked.
        if handle_add_if_not_present(condition, Some(resource_value)) > 0 {
            continue;
        }
        check_condition(condition, resource_value)?;
    }
    Ok(())
}

/// Matches a condition as upstream's `checkCondition`: scalars as their text (so the pattern is a
/// string pattern with wildcards and operators), maps and lists as JSON with every number a float.
fn check_condition(pattern: &Value, resource: &Value) -> Result<(), String> {
    let as_interface = |value: &Value| match value {
        Value::Object(_) | Value::Array(_) => floats(value),
        scalar => Value::String(super::strategic_merge::scalar_text(scalar)),
    };
    match match_pattern(&as_interface(resource), &as_interface(pattern)) {
        PatternOutcome::Pass => Ok(()),
        PatternOutcome::Fail(error) => Err(error.message),
        PatternOutcome::Skip(message) | PatternOutcome::Error(message) => Err(message),
    }
}

fn floats(value: &Value) -> Value {
    match value {
        Value::Number(number) => {
            serde_json::Number::from_f64(number.as_f64().unwrap_or(0.0)).map_or(Value::Null, Value::Number)
        }
        Value::Array(items) => Value::Array(items.iter().map(floats).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(key, child)| (key.clone(), floats(child))).collect()),
        other => other.clone(),
    }
}

/// Elements of a list of maps that carry anchors are matched against every element of the resource's
/// list (upstream's `processListOfMaps`).
fn preprocess_list(pattern: &mut Vec<Value>, resource: Option<&Value>) -> Result<(), AnchorError> {
    let resource_elements: &[Value] = match resource {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(AnchorError::Invalid(format!(
                "wrong node kind: expected a list in the resource, found {}",
                crate::schema::describe_value(other)
            )));
        }
    };
    let elements = pattern.clone();
    for element in &elements {
        if !has_anchors(element, is_patch_anchor) {
            continue;
        }
        let has_global = has_anchors(element, |kind| kind == Some(AnchorKind::Global));
        let mut global_passed = false;
        let mut last_global_error = None;
        // One copy is carried through every resource element, as upstream does.
        let mut copy = element.clone();
        for resource_element in resource_elements {
            match preprocess_node(&mut copy, Some(resource_element)) {
                Ok(()) => {}
                Err(AnchorError::Condition(_)) => continue,
                Err(AnchorError::Global(error)) => {
                    last_global_error = Some(error);
                    continue;
                }
                Err(other) => return Err(other),
            }
            if has_global {
                global_passed = true;
            } else {
                named_copy(pattern, &copy, resource_element)?;
            }
        }
        if resource.is_none() {
            match preprocess_node(&mut copy, None) {
                Ok(()) => global_passed |= has_global,
                Err(AnchorError::Condition(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        if !global_passed && let Some(error) = last_global_error {
            return Err(AnchorError::Global(error));
        }
    }
    Ok(())
}

/// Appends to the patch's list a copy of the element without its anchors, named after the resource
/// element, so the merge patches that element (upstream's `handlePatternName`).
fn named_copy(pattern: &mut Vec<Value>, element: &Value, resource_element: &Value) -> Result<(), AnchorError> {
    let Some(name) = resource_element.get("name").filter(|name| !is_nil_or_empty(name)) else {
        return Ok(());
    };
    let mut copy = element.clone();
    if delete_anchors(&mut copy, true)? {
        return Ok(());
    }
    if let Some(map) = copy.as_object_mut() {
        map.insert("name".to_string(), name.clone());
    }
    pattern.push(copy);
    Ok(())
}

fn is_nil_or_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Whether a node holds an anchor `is_anchor` accepts, in a key at any depth; a scalar counts when it
/// reads as a condition (upstream's `hasAnchors`).
fn has_anchors(node: &Value, is_anchor: fn(Option<AnchorKind>) -> bool) -> bool {
    match node {
        Value::Object(map) => map.iter().any(|(key, value)| {
            (anchor_kind(key).is_some() && is_anchor(anchor_kind(key)))
                || (!is_nil_or_empty(value) && has_anchors(value, is_anchor))
        }),
        Value::Array(items) => items.iter().any(|item| has_anchors(item, is_anchor)),
        Value::Null => false,
        scalar => is_condition(anchor_kind(&super::strategic_merge::scalar_text(scalar))),
    }
}

/// Takes the conditions out of the patch's top-level fields (upstream's `deleteConditionElements`).
fn delete_condition_elements(pattern: &mut Value) -> Result<(), AnchorError> {
    let Some(map) = pattern.as_object_mut() else {
        return Err(AnchorError::Invalid("the patch must be a map".to_string()));
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let delete_scalar = is_condition(anchor_kind(&key));
        let Some(value) = map.get_mut(&key) else { continue };
        if delete_anchors(value, delete_scalar)? {
            map.shift_remove(&key);
        }
    }
    Ok(())
}

/// Deletes the anchors of a node; `true` when the node must go from the patch too (nothing but
/// anchors was in it). Upstream's `deleteAnchors` with `traverseMappingNodes` off, as every caller has it.
fn delete_anchors(node: &mut Value, delete_scalar: bool) -> Result<bool, AnchorError> {
    match node {
        Value::Object(map) => delete_anchors_in_map(map),
        Value::Array(items) => delete_anchors_in_list(items),
        _ => Ok(delete_scalar),
    }
}

fn delete_anchors_in_map(map: &mut Map<String, Value>) -> Result<bool, AnchorError> {
    let anchors: Vec<String> = map.keys().filter(|key| is_condition(anchor_kind(key))).cloned().collect();
    let mut anchors_remain = false;
    for key in &anchors {
        let Some(value) = map.get_mut(key) else { continue };
        if delete_anchors(value, true)? {
            map.shift_remove(key);
        } else {
            anchors_remain = true;
        }
    }
    if anchors_remain {
        let remaining: Vec<String> = map.keys().filter(|key| is_condition(anchor_kind(key))).cloned().collect();
        for key in remaining {
            rename_key(map, &key, &bare_key(&key));
        }
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    let mut delete_me = true;
    for key in keys {
        let Some(value) = map.get_mut(&key) else { continue };
        if delete_anchors(value, false)? {
            map.shift_remove(&key);
        } else {
            delete_me = false;
        }
    }
    Ok(delete_me)
}

/// Upstream removes list elements by the index each had before any removal, from the list as it is
/// after the earlier removals; an index past the end is an error (upstream's slice would panic).
fn delete_anchors_in_list(items: &mut Vec<Value>) -> Result<bool, AnchorError> {
    let was_empty = items.is_empty();
    // Each element keeps its original index, so a change to an element lands on it wherever it moved.
    let mut current: Vec<(usize, Value)> = items.drain(..).enumerate().collect();
    let original_count = current.len();
    for index in 0..original_count {
        let Some(position) = current.iter().position(|(original, _)| *original == index) else {
            // Removed already by a shifted index; upstream edits an orphan node.
            continue;
        };
        let delete = if has_anchors(&current[position].1, is_patch_anchor) {
            true
        } else {
            delete_anchors(&mut current[position].1, false)?
        };
        if delete {
            if index >= current.len() {
                return Err(AnchorError::Invalid(format!(
                    "failed to delete anchors: index {index} is out of range of a list of {}",
                    current.len()
                )));
            }
            current.remove(index);
        }
    }
    *items = current.into_iter().map(|(_, value)| value).collect();
    Ok(items.is_empty() && !was_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(patch: Value, resource: Value, expect: Result<Value, AnchorError>) {
        let mut patch = patch;
        let outcome = preprocess(&mut patch, &resource).map(|()| patch);
        assert_eq!(outcome, expect);
    }

    #[test]
    fn add_if_not_present_is_dropped_when_the_key_exists_and_unwrapped_otherwise() {
        check(
            json!({"metadata": {"labels": {"+(team)": "a", "+(tier)": "web"}}}),
            json!({"metadata": {"labels": {"team": "b"}}}),
            Ok(json!({"metadata": {"labels": {"tier": "web"}}})),
        );
    }

    #[test]
    fn a_failing_condition_in_a_map_drops_the_patch() {
        check(
            json!({"spec": {"(hostNetwork)": true, "dnsPolicy": "ClusterFirstWithHostNet"}}),
            json!({"spec": {"hostNetwork": false}}),
            Err(AnchorError::Condition("resource value 'false' does not match 'true' at path /".to_string())),
        );
        check(
            json!({"spec": {"(hostNetwork)": true, "dnsPolicy": "ClusterFirstWithHostNet"}}),
            json!({"spec": {"hostNetwork": true}}),
            Ok(json!({"spec": {"dnsPolicy": "ClusterFirstWithHostNet"}})),
        );
    }

    #[test]
    fn scalar_conditions_compare_text_with_wildcards() {
        check(
            json!({"spec": {"(replicas)": "3", "paused": true}}),
            json!({"spec": {"replicas": 3}}),
            Ok(json!({"spec": {"paused": true}})),
        );
        let mut patch = json!({"spec": {"(replicas)": ">4", "paused": true}});
        assert!(matches!(preprocess(&mut patch, &json!({"spec": {"replicas": 3}})), Err(AnchorError::Condition(_))));
    }

    #[test]
    fn conditional_list_elements_become_named_copies() {
        check(
            json!({"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}}),
            json!({"spec": {"containers": [
                {"name": "a", "image": "nginx:latest"},
                {"name": "b", "image": "redis:7"},
                {"name": "c", "image": "busybox:latest"}
            ]}}),
            Ok(json!({"spec": {"containers": [
                {"imagePullPolicy": "Always", "name": "a"},
                {"imagePullPolicy": "Always", "name": "c"}
            ]}})),
        );
    }

    #[test]
    fn one_copy_carries_an_unwrapped_addition_to_the_next_element() {
        // The first container lacks imagePullPolicy, so `+(imagePullPolicy)` is unwrapped in the shared
        // copy; the second container then gets the plain key although it has one.
        check(
            json!({"spec": {"containers": [{"(name)": "*", "+(imagePullPolicy)": "IfNotPresent"}]}}),
            json!({"spec": {"containers": [
                {"name": "a", "image": "x"},
                {"name": "b", "image": "y", "imagePullPolicy": "Always"}
            ]}}),
            Ok(json!({"spec": {"containers": [
                {"name": "a", "imagePullPolicy": "IfNotPresent"},
                {"name": "b", "imagePullPolicy": "IfNotPresent"}
            ]}})),
        );
    }

    #[test]
    fn a_global_anchor_gates_the_whole_patch() {
        let resource = json!({"spec": {"volumes": [{"name": "data", "emptyDir": {}}]}});
        let mut patch = json!({"metadata": {"annotations": {"+(backup)": "true"}}, "spec": {"volumes": [{"<(hostPath)": {"path": "*"}}]}});
        assert!(matches!(preprocess(&mut patch, &resource), Err(AnchorError::Global(_))));
        let resource = json!({"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/data"}}]}});
        check(
            json!({"metadata": {"annotations": {"+(backup)": "true"}}, "spec": {"volumes": [{"<(hostPath)": {"path": "*"}}]}}),
            resource,
            Ok(json!({"metadata": {"annotations": {"backup": "true"}}})),
        );
    }

    #[test]
    fn a_condition_with_content_beyond_its_anchors_stays_in_the_patch() {
        check(
            json!({"spec": {"template": {"(metadata)": {"labels": {"app": "web"}}}}}),
            json!({"spec": {"template": {"metadata": {"labels": {"app": "web"}}}}}),
            Ok(json!({"spec": {"template": {"metadata": {"labels": {"app": "web"}}}}})),
        );
    }

    #[test]
    fn empty_maps_leave_the_patch() {
        check(
            json!({"metadata": {"annotations": {}, "labels": {"a": "b"}}}),
            json!({"metadata": {}}),
            Ok(json!({"metadata": {"labels": {"a": "b"}}})),
        );
    }

    #[test]
    fn two_anchored_elements_remove_by_shifted_indexes() {
        // Upstream removes index 0 (the first anchored element), then index 1 of the shortened list,
        // which is the first named copy: the second anchored element stays, the first copy is lost.
        let mut patch = json!({"spec": {"containers": [
            {"(name)": "a", "image": "x"},
            {"(name)": "b", "image": "y"}
        ]}});
        let resource = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(preprocess(&mut patch, &resource), Ok(()));
        assert_eq!(
            patch,
            json!({"spec": {"containers": [{"(name)": "b", "image": "y"}, {"image": "y", "name": "b"}]}})
        );
    }
}
