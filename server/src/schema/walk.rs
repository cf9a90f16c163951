//! Walks a schema along a JSON path, for hover (descriptions) and completion (the fields and values allowed).

use serde_json::Value;

use super::registry::{Registry, SchemaNode};

/// The schema nodes that a node is made of: itself, what its `$ref` points at, and its `allOf`/`anyOf`/`oneOf`
/// branches, recursively (bounded).
pub fn subschemas<'a>(registry: &'a Registry, node: SchemaNode<'a>) -> Vec<SchemaNode<'a>> {
    let mut out = Vec::new();
    let mut stack = vec![(node, 0usize)];
    while let Some((current, depth)) = stack.pop() {
        if depth > 16 || out.len() > 64 {
            continue;
        }
        out.push(current);
        if let Some(reference) = current.value.get("$ref").and_then(Value::as_str)
            && let Some(target) = registry.resolve(current.file, reference)
        {
            stack.push((target, depth + 1));
        }
        for keyword in ["allOf", "anyOf", "oneOf"] {
            for branch in current.value.get(keyword).and_then(Value::as_array).into_iter().flatten() {
                stack.push((SchemaNode { file: current.file, value: branch }, depth + 1));
            }
        }
    }
    out
}

/// The schema nodes that describe the instance at `path` (object keys and array indices, unescaped).
pub fn schema_at<'a>(registry: &'a Registry, root: SchemaNode<'a>, path: &[&str]) -> Vec<SchemaNode<'a>> {
    let mut current = vec![root];
    for segment in path {
        let mut next = Vec::new();
        for node in current.iter().flat_map(|node| subschemas(registry, *node)) {
            if let Some(property) = node.value.get("properties").and_then(|properties| properties.get(*segment)) {
                next.push(SchemaNode { file: node.file, value: property });
                continue;
            }
            if let Some(items) = node.value.get("items")
                && segment.parse::<usize>().is_ok()
            {
                next.push(SchemaNode { file: node.file, value: items });
                continue;
            }
            if let Some(additional) = node.value.get("additionalProperties").filter(|value| value.is_object()) {
                next.push(SchemaNode { file: node.file, value: additional });
            }
        }
        if next.is_empty() {
            return next;
        }
        current = next;
    }
    current
}

/// A property an object schema declares.
pub struct Property<'a> {
    pub name: &'a str,
    pub node: SchemaNode<'a>,
    /// Listed in the object's `required`.
    pub required: bool,
}

/// The properties one schema node declares (not those of its `$ref` or branches: see [`subschemas`]).
pub fn properties_of(node: SchemaNode<'_>) -> impl Iterator<Item = Property<'_>> {
    let required: Vec<&str> =
        node.value.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    node.value.get("properties").and_then(Value::as_object).into_iter().flatten().map(move |(name, value)| Property {
        name,
        node: SchemaNode { file: node.file, value },
        required: required.contains(&name.as_str()),
    })
}

/// The first description found on a node or what it is made of.
pub fn description_of<'a>(registry: &'a Registry, node: SchemaNode<'a>) -> Option<&'a str> {
    subschemas(registry, node).into_iter().find_map(|node| node.value.get("description").and_then(Value::as_str))
}
