//! Where a cursor sits in a Kyverno policy, for the features that type what the user writes by the
//! resources a rule handles: the rule and the foreach around the cursor, the kinds the rule matches,
//! the Kubernetes schema of those kinds, and the item type of a foreach `list`. Works on half-typed
//! documents: the parser keeps the items it could read, and the cursor belongs to the last item that
//! starts before it.

use std::sync::Arc;

use serde_json::Value;

use super::yaml_path::PathStep;
use crate::schema::{self, SchemaNode};
use crate::syntax::{ParsedDocument, Segment, parse_file, push_pointer_segment};

/// The document as the analyses should read it at `offset`: as parsed, or, when it has syntax errors,
/// parsed again with the broken lines blanked out (a quote still open on the line being typed can swallow
/// the rest of the document). With `blank_cursor_line`, the cursor's own line goes too (completion: that is
/// the line being typed); otherwise it is kept (hover: that is the line asked about). Offsets stay the same.
pub(super) fn readable_document(segment: &Segment, offset: usize, blank_cursor_line: bool) -> Arc<ParsedDocument> {
    if segment.parsed.errors.is_empty() {
        return segment.parsed.clone();
    }
    let text = &segment.text;
    // By bytes: an offset (a cursor, an error's end) may fall inside a multi-byte character.
    let line_of =
        |offset: usize| text.as_bytes()[..offset.min(text.len())].iter().filter(|byte| **byte == b'\n').count();
    let cursor_line = line_of(offset);
    let mut broken: Vec<usize> = Vec::new();
    if blank_cursor_line {
        broken.push(cursor_line);
    }
    for error in &segment.parsed.errors {
        let (first, last) =
            (line_of(error.range.start), line_of(error.range.end.saturating_sub(1).max(error.range.start)));
        // An error spread over many lines says little about which line is at fault.
        if last - first <= 1 {
            broken.extend((first..=last).filter(|line| *line != cursor_line || blank_cursor_line));
        }
    }
    if broken.is_empty() {
        return segment.parsed.clone();
    }
    let mut repaired = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if broken.contains(&index) {
            let content = line.trim_end_matches(['\n', '\r']);
            repaired.extend(std::iter::repeat_n(' ', content.len()));
            repaired.push_str(&line[content.len()..]);
        } else {
            repaired.push_str(line);
        }
    }
    match parse_file(&repaired).into_iter().next() {
        Some(document) if document.start == 0 => document.parsed,
        _ => segment.parsed.clone(),
    }
}

/// The index of the item of the list at `list_pointer` that holds `offset`: the last one starting at or
/// before it.
pub(super) fn item_at(parsed: &ParsedDocument, list_pointer: &str, offset: usize) -> Option<usize> {
    let mut found = None;
    for index in 0.. {
        let Some(span) = parsed.source_map.get(&format!("{list_pointer}/{index}")) else { break };
        let start = span.key.map_or(span.value.start, |key| key.start.min(span.value.start));
        if start > offset {
            break;
        }
        found = Some(index);
    }
    found
}

/// The JSON pointer of a text-derived path, each list item resolved to the one that holds `offset`.
pub(super) fn pointer_of_steps(parsed: &ParsedDocument, steps: &[PathStep], offset: usize) -> String {
    let mut pointer = String::new();
    for step in steps {
        match step {
            PathStep::Key(key) => push_pointer_segment(&mut pointer, key),
            PathStep::Item => {
                let index = item_at(parsed, &pointer, offset).unwrap_or(0);
                pointer.push_str(&format!("/{index}"));
            }
        }
    }
    pointer
}

/// The `foreach` items around a pointer, outermost first, each with its pointer and value.
pub(super) fn foreach_items<'v>(document: &'v Value, pointer: &str) -> Vec<(String, &'v Value)> {
    let segments: Vec<&str> = pointer.split('/').collect();
    let mut items = Vec::new();
    for (position, segment) in segments.iter().enumerate() {
        if *segment == "foreach" && segments.get(position + 1).is_some_and(|index| index.parse::<usize>().is_ok()) {
            let item_pointer = segments[..position + 2].join("/");
            if let Some(value) = document.pointer(&item_pointer) {
                items.push((item_pointer, value));
            }
        }
    }
    items
}

/// The pointer of the rule (`/spec/rules/N`) a pointer lies in.
pub(super) fn rule_pointer(pointer: &str) -> Option<String> {
    let rest = pointer.strip_prefix("/spec/rules/")?;
    let index = rest.split('/').next()?;
    index.parse::<usize>().ok()?;
    Some(format!("/spec/rules/{index}"))
}

/// The (apiVersion, kind) pairs the rule (or cleanup policy spec) matches, as far as the schemas know
/// them. `kinds` entries may be `Kind`, `version/Kind` or `group/version/Kind`; wildcards are skipped.
pub(super) fn matched_kinds(rule: &Value) -> Vec<(String, String)> {
    let mut kinds = Vec::new();
    let Some(matching) = rule.get("match") else { return kinds };
    let mut filters: Vec<&Value> = Vec::new();
    for block in ["any", "all"] {
        filters.extend(matching.get(block).and_then(Value::as_array).into_iter().flatten());
    }
    filters.push(matching);
    for filter in filters {
        for kind in filter.pointer("/resources/kinds").and_then(Value::as_array).into_iter().flatten() {
            if let Some(kind) = kind.as_str() {
                kinds.extend(known_kind(kind));
            }
        }
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

/// The kinds a mutateExisting rule's targets name (`mutate.targets[].kind`/`apiVersion`).
pub(super) fn target_kinds(rule: &Value) -> Vec<(String, String)> {
    let mut kinds = Vec::new();
    for target in rule.pointer("/mutate/targets").and_then(Value::as_array).into_iter().flatten() {
        let (Some(kind), api_version) =
            (target.get("kind").and_then(Value::as_str), target.get("apiVersion").and_then(Value::as_str))
        else {
            continue;
        };
        kinds.extend(kind_with_version(kind, api_version));
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

/// The (apiVersion, kind) pairs for a kind name, narrowed to `api_version` when it is given and known.
pub(super) fn kind_with_version(kind: &str, api_version: Option<&str>) -> Vec<(String, String)> {
    let registry = schema::registry();
    if let Some(api_version) = api_version
        && registry.lookup(api_version, kind).is_some_and(|entry| entry.kind == kind)
    {
        return vec![(api_version.to_string(), kind.to_string())];
    }
    known_kind(kind)
}

fn known_kind(written: &str) -> Vec<(String, String)> {
    let registry = schema::registry();
    // `apps/v1/Deployment`, `v1/Pod`, `Pod`, and subresources such as `Pod/exec` (the kind is the part
    // that starts with a capital letter).
    let parts: Vec<&str> = written.split('/').collect();
    let Some(position) = parts.iter().position(|part| part.starts_with(|c: char| c.is_ascii_uppercase())) else {
        return Vec::new();
    };
    let kind = parts[position];
    if kind.contains('*') || kind.contains('?') {
        return Vec::new();
    }
    let written_version = (position > 0).then(|| parts[..position].join("/"));
    let versions: Vec<&str> = registry.versions_of(kind);
    let narrowed: Vec<&str> = match &written_version {
        Some(version) => {
            let matching: Vec<&str> = versions
                .iter()
                .copied()
                .filter(|candidate| candidate == version || candidate.ends_with(&format!("/{version}")))
                .collect();
            if matching.is_empty() { versions } else { matching }
        }
        None => versions,
    };
    narrowed.into_iter().map(|version| (version.to_string(), kind.to_string())).collect()
}

/// The root schema nodes of the given kinds, each with its kind name.
pub(super) fn kind_roots(kinds: &[(String, String)]) -> Vec<(String, SchemaNode<'static>)> {
    let registry = schema::registry();
    kinds
        .iter()
        .filter_map(|(api_version, kind)| {
            let entry = registry.lookup(api_version, kind)?;
            // A constraint's `*` entry is not a kind of its own.
            if entry.kind != *kind {
                return None;
            }
            Some((kind.clone(), registry.root(entry)?))
        })
        .collect()
}

/// One field offered at a path: its name, the kind it came from and its schema.
pub(super) struct Field {
    pub name: String,
    pub kind: String,
    pub node: SchemaNode<'static>,
    pub required: bool,
}

/// The schema nodes at `path` (field names, `0` for list items) under each root.
pub(super) fn nodes_at(roots: &[(String, SchemaNode<'static>)], path: &[String]) -> Vec<(String, SchemaNode<'static>)> {
    let registry = schema::registry();
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    roots
        .iter()
        .flat_map(|(kind, root)| {
            schema::schema_at(registry, *root, &segments).into_iter().map(move |node| (kind.clone(), node))
        })
        .collect()
}

/// The fields of the objects at `path` under each root, the first kind's description winning.
pub(super) fn fields_at(roots: &[(String, SchemaNode<'static>)], path: &[String]) -> Vec<Field> {
    let registry = schema::registry();
    let mut fields: Vec<Field> = Vec::new();
    for (kind, node) in nodes_at(roots, path) {
        for part in schema::subschemas(registry, node) {
            for property in schema::properties_of(part) {
                if fields.iter().any(|field| field.name == property.name) {
                    continue;
                }
                fields.push(Field {
                    name: property.name.to_string(),
                    kind: kind.clone(),
                    node: property.node,
                    required: property.required,
                });
            }
        }
    }
    fields
}

/// The resource path (field names, `0` for items) of the items of a foreach `list` expression, such as
/// `request.object.spec.containers` -> `spec/containers/0`. `element` refers to the enclosing foreach's
/// item, whose path is `element_path`. `None` when the expression is not a plain path.
pub(super) fn list_item_path(list: &str, element_path: Option<&[String]>) -> Option<Vec<String>> {
    let expression = list.split("||").next()?.trim();
    let expression = expression.trim_start_matches("{{").trim_end_matches("}}").trim();
    let (path, ends_in_projection) = plain_path(expression)?;
    let mut resolved = match path.first().map(String::as_str) {
        Some("request") if matches!(path.get(1).map(String::as_str), Some("object" | "oldObject")) => {
            path[2..].to_vec()
        }
        Some(root) if root.starts_with("element") && root["element".len()..].chars().all(|c| c.is_ascii_digit()) => {
            let mut base = element_path?.to_vec();
            base.extend_from_slice(&path[1..]);
            base
        }
        _ => return None,
    };
    if !ends_in_projection {
        resolved.push("0".to_string());
    }
    Some(resolved)
}

/// Reads `a.b[].c[0].d` into `[a, b, 0, c, 0, d]`; a multi-select list `.[x, y]` reads as its first entry
/// (the entries of such lists share a shape in practice). Also says whether the path ends in a projection.
pub(super) fn plain_path(expression: &str) -> Option<(Vec<String>, bool)> {
    let mut segments = Vec::new();
    let mut rest = expression.trim();
    let mut ends_in_projection = false;
    while !rest.is_empty() {
        ends_in_projection = false;
        if let Some(after) = rest.strip_prefix('.') {
            rest = after.trim_start();
            continue;
        }
        if let Some(after) = rest.strip_prefix('[') {
            let close = matching_bracket(after)?;
            let inside = after[..close].trim();
            let after_dot = segments.is_empty() || expression_before_is_dot(expression, rest);
            if after_dot && !inside.is_empty() && !inside.starts_with('?') && inside != "*" && !is_index(inside) {
                let first = inside.split(',').next()?.trim();
                segments.push(unquote(first)?.to_string());
            } else {
                segments.push("0".to_string());
                ends_in_projection = inside.is_empty() || inside == "*" || inside.starts_with('?');
            }
            rest = after[close + 1..].trim_start();
            continue;
        }
        if let Some(after) = rest.strip_prefix('"') {
            let end = after.find('"')?;
            segments.push(after[..end].to_string());
            rest = &after[end + 1..];
            continue;
        }
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        segments.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    if segments.is_empty() { None } else { Some((segments, ends_in_projection)) }
}

fn is_index(text: &str) -> bool {
    let text = text.strip_prefix('-').unwrap_or(text);
    !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == ':')
}

fn unquote(text: &str) -> Option<&str> {
    let text = text.trim();
    let text = text.strip_prefix('"').and_then(|inner| inner.strip_suffix('"')).unwrap_or(text);
    if text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '/') {
        Some(text)
    } else {
        None
    }
}

/// Whether the `[` that starts `rest` follows a `.` in `expression` (a multi-select list, not an index).
fn expression_before_is_dot(expression: &str, rest: &str) -> bool {
    let position = expression.len() - rest.len();
    expression[..position].trim_end().ends_with('.')
}

/// The position of the `]` that closes a bracket whose contents start `text`.
fn matching_bracket(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (index, character) in text.char_indices() {
        match (quote, character) {
            (Some(open), close) if close == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(character),
            (None, '[' | '(' | '{') => depth += 1,
            (None, ']') if depth == 0 => return Some(index),
            (None, ']' | ')' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_paths() {
        let path = |list: &str, element: Option<&[String]>| list_item_path(list, element).map(|path| path.join("/"));
        assert_eq!(path("request.object.spec.containers", None).as_deref(), Some("spec/containers/0"));
        assert_eq!(path("request.object.spec.containers[]", None).as_deref(), Some("spec/containers/0"));
        assert_eq!(
            path("request.object.spec.[ephemeralContainers, initContainers, containers][]", None).as_deref(),
            Some("spec/ephemeralContainers/0")
        );
        assert_eq!(
            path("request.object.spec.template.spec.containers || `[]`", None).as_deref(),
            Some("spec/template/spec/containers/0")
        );
        let element = vec!["spec".to_string(), "containers".to_string(), "0".to_string()];
        assert_eq!(path("element.ports", Some(&element)).as_deref(), Some("spec/containers/0/ports/0"));
        assert_eq!(path("items(request.object.metadata.labels, 'k', 'v')", None), None);
    }

    #[test]
    fn kinds_with_groups_versions_and_subresources() {
        let rule =
            serde_json::json!({"match": {"any": [{"resources": {"kinds": ["apps/v1/Deployment", "Pod/exec", "*"]}}]}});
        assert_eq!(
            matched_kinds(&rule),
            [("apps/v1".to_string(), "Deployment".to_string()), ("v1".to_string(), "Pod".to_string())]
        );
    }
}
