//! Strategic merge of a (prepared) patch into a resource, as Kyverno applies `patchStrategicMerge`:
//! through kustomize's `patchstrategicmerge` filter, that is kyaml's `merge2.Merge` walking the resource
//! and the patch together with new list elements prepended (`MergeOptionsListPrepend`).
//!
//! What follows from that (kustomize `kyaml/yaml/merge2/merge2.go`, `kyaml/yaml/walk/*.go`,
//! `kyaml/yaml/fns.go`):
//! - A list merges element by element only when the OpenAPI compiled into kyaml (Kubernetes v1.21.2,
//!   `schemas/kyaml/merge-hints.json`) gives it a `merge` patch strategy (`containers` by `name`, container `ports` by `containerPort` and `protocol`,
//!   `finalizers` as scalars); any other list, and every list of a custom resource, is replaced.
//! - In a merged list the patch's elements come first, in the patch's order, then the resource's
//!   remaining elements in theirs.
//! - A map keeps its keys where they are; keys the patch adds are appended in byte order.
//! - A number or a boolean written over a string field takes the string's quoted style: it stays a string.
//! - `null` deletes a key; `$patch: delete`, `$patch: replace` and `$patch: merge` apply to a map and,
//!   as a `{$patch: ...}` element, to a merged list. Other directives (`$retainKeys`,
//!   `$setElementOrder`, ...) are plain keys to kyaml.
//! - Mismatched node kinds (a map patched with a string) are an error.

use serde_json::{Map, Value};

use crate::schema::MergeSchema;

/// Merges `patch` into `resource` with strategic merge semantics.
pub fn merge(resource: &Value, patch: &Value) -> Result<Value, String> {
    let schema = MergeSchema::for_object(resource).or_else(|| MergeSchema::for_object(patch));
    let merged = walk(Some(resource.clone()), Some(patch.clone()), schema)?;
    // A patch that deletes the whole document (`$patch: delete` at the top) is refused by kustomize's
    // filter, which may not create or delete objects.
    merged.value.ok_or_else(|| "filter cannot create or delete objects".to_string())
}

/// What merging one place gave.
struct Merged {
    /// The merged value; `None` clears the place.
    value: Option<Value>,
    /// A `null` that was already in the resource and stays (kyaml's persistent null).
    keeps_null: bool,
    /// Whether the value is the resource's own node, changed in place (so a list holding it sees the
    /// change), rather than the patch's node.
    from_resource: bool,
}

impl Merged {
    fn cleared() -> Merged {
        Merged { value: None, keeps_null: false, from_resource: false }
    }

    fn of(value: Option<Value>, from_resource: bool) -> Merged {
        Merged { value, keeps_null: false, from_resource }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

const DIRECTIVE_KEY: &str = "$patch";

fn missing_or_null(value: Option<&Value>) -> bool {
    value.is_none_or(Value::is_null)
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "MappingNode",
        Value::Array(_) => "SequenceNode",
        _ => "ScalarNode",
    }
}

/// kyaml's `ErrorIfAnyInvalidAndNonNull`: every non-null source has the expected node kind.
fn check_kinds(expected: &'static str, sources: [Option<&Value>; 2]) -> Result<(), String> {
    for source in sources.into_iter().flatten() {
        if !source.is_null() && kind_name(source) != expected {
            return Err(format!(
                "wrong node kind: expected {expected} but got {}: node contents:\n{}",
                kind_name(source),
                yaml_serde::to_string(source).unwrap_or_else(|_| source.to_string())
            ));
        }
    }
    Ok(())
}

fn walk(dest: Option<Value>, origin: Option<Value>, schema: Option<MergeSchema>) -> Result<Merged, String> {
    // A place without a schema from its parent takes the schema of a node that names its own kind.
    let schema = schema.or_else(|| {
        [dest.as_ref(), origin.as_ref()]
            .into_iter()
            .flatten()
            .filter(|node| !node.is_null())
            .find_map(MergeSchema::for_object)
    });
    let kind = [dest.as_ref(), origin.as_ref()].into_iter().flatten().find(|node| !node.is_null()).map(kind_name);
    match kind {
        Some("SequenceNode") => {
            check_kinds("SequenceNode", [dest.as_ref(), origin.as_ref()])?;
            if schema.is_some_and(|schema| schema.merges_elements()) {
                walk_associative_list(dest, origin, schema)
            } else {
                // A list without a merge strategy is replaced by the patch's.
                Ok(match origin {
                    Some(origin) => Merged::of(Some(origin), false),
                    None => Merged::of(dest, true),
                })
            }
        }
        Some("ScalarNode") => {
            check_kinds("ScalarNode", [dest.as_ref(), origin.as_ref()])?;
            Ok(match origin {
                // kyaml's FieldSetter gives the new value the old one's style: over a string (double
                // quoted, as the resource came from JSON) a number or a boolean is written quoted and
                // read back as a string.
                Some(Value::Number(number)) if matches!(dest, Some(Value::String(_))) => {
                    Merged::of(Some(Value::String(super::go_text::format_number(&number))), false)
                }
                Some(Value::Bool(flag)) if matches!(dest, Some(Value::String(_))) => {
                    Merged::of(Some(Value::String(flag.to_string())), false)
                }
                Some(origin) => Merged::of(Some(origin), false),
                None => Merged::of(dest, true),
            })
        }
        // Maps, and places where every source is missing or null.
        _ => {
            check_kinds("MappingNode", [dest.as_ref(), origin.as_ref()])?;
            walk_map(dest, origin, schema)
        }
    }
}

/// The directive of a map patch, removed from it when it is one kyaml knows.
fn map_directive(patch: &mut Option<Value>) -> Result<Directive, String> {
    let Some(Value::Object(map)) = patch else {
        return match patch {
            None => Ok(Directive::Merge),
            Some(other) => Err(format!("no implemented strategic merge patch strategy for {}", kind_name(other))),
        };
    };
    let Some(value) = map.get(DIRECTIVE_KEY) else {
        return Ok(Directive::Merge);
    };
    let directive = parse_directive(&scalar_text(value))?;
    map.shift_remove(DIRECTIVE_KEY);
    Ok(directive)
}

fn parse_directive(text: &str) -> Result<Directive, String> {
    match text {
        "merge" => Ok(Directive::Merge),
        "replace" => Ok(Directive::Replace),
        "delete" => Ok(Directive::Delete),
        other => Err(format!("unknown patch strategy '{other}'")),
    }
}

/// The directive of a list patch: an element that is `{$patch: ...}` alone; removed when known.
fn list_directive(patch: &mut Option<Value>) -> Result<Directive, String> {
    let Some(Value::Array(items)) = patch else {
        return Ok(Directive::Merge);
    };
    let Some(element) = items.iter().find(|item| item.get(DIRECTIVE_KEY).is_some()) else {
        return Ok(Directive::Merge);
    };
    if element.as_object().is_some_and(|map| map.len() > 1) {
        return Ok(Directive::Merge);
    }
    let text = element.get(DIRECTIVE_KEY).map(scalar_text).unwrap_or_default();
    let directive = parse_directive(&text)?;
    element_setter(items, None, &[DIRECTIVE_KEY.to_string()], std::slice::from_ref(&text))?;
    Ok(directive)
}

fn walk_map(dest: Option<Value>, mut origin: Option<Value>, schema: Option<MergeSchema>) -> Result<Merged, String> {
    let (chosen, from_resource) = if missing_or_null(dest.as_ref()) {
        let directive = map_directive(&mut origin).unwrap_or(Directive::Merge);
        if directive == Directive::Delete {
            return Ok(Merged::cleared());
        }
        // A null the resource already has stays when the patch does not mention the key.
        if origin.is_none() && dest.is_some() {
            return Ok(Merged { value: Some(Value::Null), keeps_null: true, from_resource: true });
        }
        (origin.clone(), false)
    } else {
        if origin.as_ref().is_some_and(Value::is_null) {
            return Ok(Merged::cleared());
        }
        match map_directive(&mut origin)? {
            Directive::Delete => return Ok(Merged::cleared()),
            Directive::Replace => (origin.clone(), false),
            Directive::Merge => (dest, true),
        }
    };
    let Some(Value::Object(mut target)) = chosen else {
        // Nothing, or a null that is not kept: the key goes.
        return Ok(Merged::of(chosen, from_resource));
    };
    let origin_map = origin.as_ref().and_then(Value::as_object);
    let mut names: Vec<String> = target.keys().cloned().collect();
    names.extend(origin_map.into_iter().flat_map(|map| map.keys().cloned()));
    names.sort();
    names.dedup();
    for name in names {
        let field_schema = schema.and_then(|schema| schema.field(&name));
        let merged =
            walk(target.get(&name).cloned(), origin_map.and_then(|map| map.get(&name)).cloned(), field_schema)?;
        set_field(&mut target, &name, merged);
    }
    Ok(Merged::of(Some(Value::Object(target)), from_resource))
}

/// kyaml's `FieldSetter`: clears the key for nothing or a null not kept, replaces the value in place,
/// or appends the key.
fn set_field(map: &mut Map<String, Value>, name: &str, merged: Merged) {
    match merged.value {
        None => {
            map.shift_remove(name);
        }
        Some(Value::Null) if !merged.keeps_null => {
            map.shift_remove(name);
        }
        Some(value) => {
            map.insert(name.to_string(), value);
        }
    }
}

fn walk_associative_list(
    dest: Option<Value>,
    mut origin: Option<Value>,
    schema: Option<MergeSchema>,
) -> Result<Merged, String> {
    // The resource's list as kyaml's `VisitList` leaves it, and whether it is the patch's own node.
    let (chosen, aliased) = if missing_or_null(dest.as_ref()) {
        (origin.clone(), true)
    } else {
        if origin.as_ref().is_some_and(Value::is_null) {
            return Ok(Merged::cleared());
        }
        match list_directive(&mut origin)? {
            Directive::Delete => return Ok(Merged::cleared()),
            Directive::Replace => (origin.clone(), true),
            Directive::Merge => (dest, false),
        }
    };
    let Some(Value::Array(destination)) = chosen else {
        return Ok(Merged::of(chosen.filter(|value| !value.is_null()), false));
    };
    let patch_items = if aliased { None } else { origin.as_ref().and_then(Value::as_array).cloned() };
    let keys: Vec<String> =
        schema.map(|schema| schema.merge_keys()).unwrap_or_default().into_iter().map(String::from).collect();
    let mut list = Lists { destination, patch: patch_items };
    let element_schema = schema.and_then(|schema| schema.elements());
    let values = list.element_values(&keys);
    let merged = if !values.is_empty() || !keys.is_empty() {
        list.set_elements(values, &keys, element_schema)?
    } else {
        let primitive = list.primitive_values();
        list.set_elements(primitive, &[String::new()], element_schema)?
    };
    Ok(Merged::of(Some(Value::Array(merged)), false))
}

/// The resource's list (changed in place as kyaml changes its nodes) and the patch's, which is the same
/// list when the resource had none or the patch replaces it.
struct Lists {
    destination: Vec<Value>,
    /// `None` when the patch's list is the destination itself.
    patch: Option<Vec<Value>>,
}

impl Lists {
    fn patch(&self) -> &[Value] {
        self.patch.as_deref().unwrap_or(&self.destination)
    }

    /// The key values of every element, the patch's first, each tuple once (kyaml's `elementValues`).
    fn element_values(&self, keys: &[String]) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        for source in [self.patch(), &self.destination] {
            for element in source {
                let values: Vec<String> = keys.iter().map(|key| key_text(element.get(key))).collect();
                if values.is_empty() || out.contains(&values) {
                    continue;
                }
                out.push(values);
            }
        }
        out
    }

    /// The scalar values of a merged list of scalars, the patch's first, each once.
    fn primitive_values(&self) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        for source in [self.patch(), &self.destination] {
            for element in source {
                let value = vec![node_text(element)];
                if !out.contains(&value) {
                    out.push(value);
                }
            }
        }
        out
    }

    /// kyaml's `setAssociativeSequenceElements` with new elements prepended.
    fn set_elements(
        &mut self,
        mut values_list: Vec<Vec<String>>,
        keys: &[String],
        element_schema: Option<MergeSchema>,
    ) -> Result<Vec<Value>, String> {
        let mut added: Vec<Value> = Vec::new();
        if keys.len() > 1 {
            merge_values(&mut values_list);
        }
        let mut valid_keys: Vec<String> = keys.to_vec();
        for values in &values_list {
            if values.is_empty() {
                continue;
            }
            let (keys_here, values_here) = validate_keys(&values_list, values, keys);
            valid_keys = keys_here.clone();
            let (lookup_keys, lookup_values) =
                validate_keys(std::slice::from_ref(&values_here), &values_here, &keys_here);
            let destination_index = element_list(&self.destination, &lookup_keys, &lookup_values);
            let patch_element =
                element_list(self.patch(), &lookup_keys, &lookup_values).map(|index| self.patch()[index].clone());
            let destination_element = destination_index.map(|index| self.destination[index].clone());
            let merged = walk(destination_element, patch_element, element_schema)?;
            let mut value = merged.value;
            if merged.from_resource
                && let (Some(index), Some(changed)) = (destination_index, value.as_ref())
            {
                self.destination[index] = changed.clone();
            }
            let mut removed = false;
            for (position, key) in keys_here.iter().enumerate() {
                let empty = match &value {
                    None | Some(Value::Null) => true,
                    Some(Value::Object(map)) => map.is_empty(),
                    Some(_) => false,
                };
                if empty {
                    element_setter(&mut self.destination, None, &keys_here, &values_here)?;
                    removed = true;
                } else if let Some(Value::Object(map)) = value.as_mut()
                    && !map.contains_key(key)
                    && !values_here[position].is_empty()
                {
                    // The merged element lacks its key: kyaml writes the key's text back as a plain scalar.
                    map.insert(key.clone(), crate::syntax::scalar::resolve_plain(&values_here[position]));
                }
            }
            if removed {
                continue;
            }
            if let Some(value) = value {
                element_setter(&mut added, Some(value), &keys_here, &values_here)?;
            }
        }
        if values_list.is_empty() {
            return Ok(std::mem::take(&mut self.destination));
        }
        let destination = std::mem::take(&mut self.destination);
        append_list_node(added, &destination, &valid_keys)
    }
}

/// Appends the resource's (merged) elements to the patch's: an element with the same key replaces the
/// one already there, others go at the end (kyaml's `appendListNode`).
fn append_list_node(mut target: Vec<Value>, source: &[Value], keys: &[String]) -> Result<Vec<Value>, String> {
    for element in source {
        if keys.first().is_none_or(String::is_empty) {
            element_setter(&mut target, Some(element.clone()), &[String::new()], &[node_text(element)])?;
            continue;
        }
        let mut values = Vec::new();
        for key in keys {
            match field_of(element, key)? {
                Some(found) => values.push(node_text(found)),
                // kyaml appends an element without the key and goes on with the next key.
                None => target.push(element.clone()),
            }
        }
        if keys.len() > 1 {
            element_setter(&mut target, None, keys, &values)?;
        }
        element_setter(&mut target, Some(element.clone()), keys, &values)?;
    }
    Ok(target)
}

/// kyaml's `ElementSetter`: drops null and empty elements, then replaces (or with no element, removes)
/// the elements matching the keys, appending the element when none matched.
fn element_setter(
    list: &mut Vec<Value>,
    element: Option<Value>,
    keys: &[String],
    values: &[String],
) -> Result<(), String> {
    let default_keys = [String::new()];
    let keys = if keys.is_empty() { &default_keys[..] } else { keys };
    let mapping_setter = !keys[0].is_empty() && values.first().is_some_and(|value| !value.is_empty());
    let mut kept = Vec::with_capacity(list.len());
    let mut matched = false;
    for item in list.drain(..) {
        let empty = item.is_null() || item.as_object().is_some_and(Map::is_empty);
        if empty {
            continue;
        }
        if !item.is_object() && mapping_setter {
            kept.push(item);
            continue;
        }
        let mut found = true;
        let mut last_match = false;
        for (index, key) in keys.iter().enumerate() {
            if let Some(value) = values.get(index) {
                last_match = field_matches(&item, key, value)?;
            }
            if !last_match {
                found = false;
                break;
            }
        }
        if !found {
            if !values.is_empty() {
                kept.push(item);
            }
            continue;
        }
        matched = true;
        if let Some(element) = &element {
            kept.push(element.clone());
        }
    }
    *list = kept;
    let Some(element) = element.filter(|element| !element.is_null()) else {
        return Ok(());
    };
    if !matched {
        list.push(element);
    }
    Ok(())
}

/// kyaml's `FieldMatcher` on one element: with no name, the element is a scalar of that text; with a
/// name, the element has the field, of that text unless the text is empty (then any value matches).
fn field_matches(element: &Value, name: &str, value: &str) -> Result<bool, String> {
    if element.is_null() {
        return Ok(false);
    }
    if name.is_empty() {
        if element.is_object() || element.is_array() {
            return Err(format!("wrong node kind: expected ScalarNode but got {}", kind_name(element)));
        }
        return Ok(node_text(element) == value);
    }
    let Some(found) = field_of(element, name)? else {
        return Ok(false);
    };
    Ok(value.is_empty() || node_text(found) == value)
}

/// A field of a map element; other elements are an error, as kyaml's matchers make them.
fn field_of<'a>(element: &'a Value, name: &str) -> Result<Option<&'a Value>, String> {
    match element {
        Value::Object(map) => Ok(map.get(name)),
        Value::Null => Ok(None),
        other => Err(format!("wrong node kind: expected MappingNode but got {}", kind_name(other))),
    }
}

/// kyaml's `MatchElementList`: the index of the first element whose fields match.
fn element_list(list: &[Value], keys: &[String], values: &[String]) -> Option<usize> {
    if keys.len() != values.len() && !keys.is_empty() {
        return None;
    }
    if keys.first().is_none_or(String::is_empty) {
        let wanted = values.first().map(String::as_str).unwrap_or("");
        return list.iter().position(|item| node_text(item) == wanted);
    }
    list.iter().position(|item| {
        item.is_object() && keys.iter().zip(values).all(|(key, value)| field_matches(item, key, value).unwrap_or(false))
    })
}

/// kyaml's `validateKeys`: when some element has a value for a secondary key, only the keys with values
/// take part; when none has any, all keys do.
fn validate_keys(values_list: &[Vec<String>], values: &[String], keys: &[String]) -> (Vec<String>, Vec<String>) {
    let with_values: Vec<&String> = keys
        .iter()
        .enumerate()
        .filter(|(index, _)| values_list.iter().any(|values| values.get(*index).is_some_and(|value| !value.is_empty())))
        .map(|(_, key)| key)
        .collect();
    if with_values.is_empty() {
        return (keys.to_vec(), values.to_vec());
    }
    let valid_keys: Vec<String> = keys.iter().filter(|key| with_values.contains(key)).cloned().collect();
    let valid_values: Vec<String> = values
        .iter()
        .enumerate()
        .filter(|(index, value)| !value.is_empty() || keys.get(*index).is_some_and(|key| with_values.contains(&key)))
        .map(|(_, value)| value.clone())
        .collect();
    (valid_keys, valid_values)
}

/// kyaml's `mergeValues`: two key tuples that agree where both have a value are one element (a port
/// written with and without its default protocol).
fn merge_values(values_list: &mut [Vec<String>]) {
    for first in 0..values_list.len() {
        for second in 0..values_list.len() {
            if let Some(merged) = matching_values(&values_list[first], &values_list[second]) {
                values_list[first] = merged.clone();
                values_list[second] = merged;
            }
        }
    }
}

fn matching_values(first: &[String], second: &[String]) -> Option<Vec<String>> {
    if first.len() != second.len() {
        return None;
    }
    let mut common = false;
    let mut out = Vec::with_capacity(first.len());
    for (left, right) in first.iter().zip(second) {
        if left == right {
            common = true;
            out.push(left.clone());
        } else if !left.is_empty() && !right.is_empty() {
            return None;
        } else if left.is_empty() {
            out.push(right.clone());
        } else {
            out.push(left.clone());
        }
    }
    common.then_some(out)
}

/// The text of a key's value as kyaml's `ElementValuesList` reads it: empty for a missing, null or
/// empty value and for maps and lists.
fn key_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) | Some(Value::Object(_)) | Some(Value::Array(_)) => String::new(),
        Some(scalar) => scalar_text(scalar),
    }
}

/// The text of a YAML node parsed from Kyverno's JSON: a scalar's text, `null`, and empty for maps
/// and lists.
fn node_text(value: &Value) -> String {
    match value {
        Value::Object(_) | Value::Array(_) => String::new(),
        Value::Null => "null".to_string(),
        scalar => scalar_text(scalar),
    }
}

/// A scalar as Go's `encoding/json` writes it (the resource reaches kyaml as JSON text).
pub(crate) fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => json_number_text(number),
        Value::Bool(flag) => flag.to_string(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

/// A number as `encoding/json` formats it: integers in digits, floats in the shortest form, with an
/// exponent below 1e-6 and from 1e21 up.
pub(crate) fn json_number_text(number: &serde_json::Number) -> String {
    if let Some(integer) = number.as_i64() {
        return integer.to_string();
    }
    if let Some(integer) = number.as_u64() {
        return integer.to_string();
    }
    let float = number.as_f64().unwrap_or(0.0);
    let magnitude = float.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let text = format!("{float:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(digits) => ("-", digits),
            None => ("+", exponent),
        };
        return format!("{mantissa}e{sign}{digits}");
    }
    if float.fract() == 0.0 && magnitude < 1e21 {
        return format!("{float:.0}");
    }
    format!("{float}")
}

#[cfg(test)]
mod tests;
