//! Completion from the document's schema: keys (with the block each needs), enum values, booleans, Kubernetes kinds in
//! `kinds:`, and apiVersion/kind pairs at the document root.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::cursor::Cursor;
use super::schema_lookup::{enum_values, is_type, type_label, with_schema_at};
use super::types::{CompletionItem, CompletionKind};
use super::workspace::Workspace;
use super::yaml_path::{CursorContext, PathStep};
use crate::base::TextRange;
use crate::schema::{self, SchemaNode};

/// Always answers: the schema provider is the last one asked.
pub(super) fn completions(workspace: &Workspace, cursor: &Cursor<'_>) -> Option<Vec<CompletionItem>> {
    let (segment, info, offset) = (cursor.segment, cursor.info, cursor.offset);
    let context = cursor.yaml();
    let mut items = match context {
        CursorContext::Key { path, prefix_start, .. } => {
            let replace = TextRange::new(segment.start + prefix_start, offset);
            if path.is_empty() && info.api_version.is_empty() {
                root_identity(replace)
            } else {
                key_items(workspace, cursor.path, info, path, replace, &sibling_keys(cursor))
            }
        }
        CursorContext::Value { path, prefix_start, .. } => {
            let replace = TextRange::new(segment.start + prefix_start, offset);
            value_items(workspace, cursor.path, info, path, replace)
        }
    };
    let prefix = match context {
        CursorContext::Key { prefix, .. } | CursorContext::Value { prefix, .. } => prefix.to_lowercase(),
    };
    items.retain(|item| {
        item.label.to_lowercase().starts_with(&prefix)
            || prefix.is_empty()
            || item.label.to_lowercase().contains(&prefix)
    });
    Some(items)
}

fn steps_to_segments(path: &[PathStep]) -> Vec<&str> {
    path.iter()
        .map(|step| match step {
            PathStep::Key(key) => key.as_str(),
            PathStep::Item => "0",
        })
        .collect()
}

fn key_items(
    workspace: &Workspace,
    file: &Path,
    info: &crate::model::DocumentInfo,
    path: &[PathStep],
    replace: TextRange,
    existing: &BTreeSet<String>,
) -> Vec<CompletionItem> {
    let segments = steps_to_segments(path);
    with_schema_at(workspace, file, info, &segments, |nodes| {
        // A list item or scalar position takes values, not keys (`kinds:\n  - Po`).
        if !is_type(nodes, "object") && (is_type(nodes, "string") || !enum_values(nodes).is_empty()) {
            return values_for(nodes, path, replace);
        }
        let registry = schema::registry();
        let mut items = Vec::new();
        let mut seen = BTreeSet::new();
        for node in nodes.iter().flat_map(|node| schema::subschemas(registry, *node)) {
            for schema::Property { name, node: property, required } in schema::properties_of(node) {
                if existing.contains(name) || !seen.insert(name.to_string()) {
                    continue;
                }
                let property_nodes = [property];
                let (insert_text, is_snippet) = key_insert_text(name, &property_nodes);
                items.push(CompletionItem {
                    label: name.to_string(),
                    kind: CompletionKind::Field,
                    detail: type_label(&property_nodes),
                    documentation: schema::description_of(registry, property).map(str::to_string),
                    insert_text,
                    is_snippet,
                    replace,
                    deprecated: property.value.get("deprecated").and_then(Value::as_bool) == Some(true),
                    preselect: required,
                });
            }
        }
        items
    })
    .unwrap_or_default()
}

/// `name: ` for scalars, a nested block for objects, a first item for lists.
pub(super) fn key_insert_text(name: &str, nodes: &[SchemaNode<'_>]) -> (String, bool) {
    let registry = schema::registry();
    if is_type(nodes, "array") && !is_type(nodes, "string") {
        let items_are_objects = nodes
            .iter()
            .flat_map(|node| schema::subschemas(registry, *node))
            .filter_map(|node| node.value.get("items").map(|items| SchemaNode { file: node.file, value: items }))
            .any(|items| is_type(&[items], "object"));
        return if items_are_objects {
            (format!("{name}:\n  - $0"), true)
        } else {
            (format!("{name}:\n  - ${{1}}"), true)
        };
    }
    if is_type(nodes, "object") && !is_type(nodes, "string") {
        return (format!("{name}:\n  $0"), true);
    }
    let values = enum_values(nodes);
    if !values.is_empty() {
        let choices: Vec<String> = values
            .iter()
            .map(|value| value.as_str().map_or_else(|| value.to_string(), str::to_string).replace([',', '|'], ""))
            .collect();
        return (format!("{name}: ${{1|{}|}}", choices.join(",")), true);
    }
    (format!("{name}: "), false)
}

fn value_items(
    workspace: &Workspace,
    file: &Path,
    info: &crate::model::DocumentInfo,
    path: &[PathStep],
    replace: TextRange,
) -> Vec<CompletionItem> {
    if path.len() == 1 {
        match &path[0] {
            PathStep::Key(key) if key == "kind" => return kind_items(replace, info.api_version.as_str()),
            PathStep::Key(key) if key == "apiVersion" => return api_version_items(replace, &info.kind_name),
            _ => {}
        }
    }
    let segments = steps_to_segments(path);
    with_schema_at(workspace, file, info, &segments, |nodes| values_for(nodes, path, replace)).unwrap_or_default()
}

fn values_for(nodes: &[SchemaNode<'_>], path: &[PathStep], replace: TextRange) -> Vec<CompletionItem> {
    let is_kinds_list = path.iter().rev().find_map(|step| match step {
        PathStep::Key(key) => Some(key == "kinds"),
        PathStep::Item => None,
    }) == Some(true);
    if is_kinds_list {
        return kind_items(replace, "");
    }
    let mut items: Vec<CompletionItem> = enum_values(nodes)
        .into_iter()
        .map(|value| {
            let label = value.as_str().map_or_else(|| value.to_string(), str::to_string);
            CompletionItem {
                label: label.clone(),
                kind: CompletionKind::Value,
                detail: None,
                documentation: None,
                insert_text: label,
                is_snippet: false,
                replace,
                deprecated: false,
                preselect: false,
            }
        })
        .collect();
    if items.is_empty() && is_type(nodes, "boolean") {
        for label in ["true", "false"] {
            items.push(CompletionItem {
                label: label.to_string(),
                kind: CompletionKind::Value,
                detail: Some("boolean".to_string()),
                documentation: None,
                insert_text: label.to_string(),
                is_snippet: false,
                replace,
                deprecated: false,
                preselect: false,
            });
        }
    }
    items
}

/// Every kind the bundled schemas know (Kubernetes built-ins and the policy CRDs).
fn kind_items(replace: TextRange, api_version: &str) -> Vec<CompletionItem> {
    let registry = schema::registry();
    let mut kinds: Vec<(&str, &str)> = registry
        .entries()
        .iter()
        .filter(|entry| {
            entry.kind != "*" && entry.is_object_kind() && (api_version.is_empty() || entry.api_version == api_version)
        })
        .map(|entry| (entry.kind.as_str(), entry.api_version.as_str()))
        .collect();
    kinds.sort();
    kinds.dedup_by(|left, right| left.0 == right.0);
    kinds
        .into_iter()
        .map(|(kind, api_version)| CompletionItem {
            label: kind.to_string(),
            kind: CompletionKind::Kind,
            detail: Some(api_version.to_string()),
            documentation: None,
            insert_text: kind.to_string(),
            is_snippet: false,
            replace,
            deprecated: false,
            preselect: false,
        })
        .collect()
}

fn api_version_items(replace: TextRange, kind: &str) -> Vec<CompletionItem> {
    let registry = schema::registry();
    let mut versions: Vec<&str> = registry
        .entries()
        .iter()
        .filter(|entry| (kind.is_empty() && entry.is_object_kind()) || entry.kind == kind)
        .map(|entry| entry.api_version.as_str())
        .collect();
    versions.sort();
    versions.dedup();
    versions
        .into_iter()
        .map(|version| CompletionItem {
            label: version.to_string(),
            kind: CompletionKind::Value,
            detail: None,
            documentation: None,
            insert_text: version.to_string(),
            is_snippet: false,
            replace,
            deprecated: false,
            preselect: false,
        })
        .collect()
}

/// At the root of an empty document: complete a whole apiVersion/kind header for the policy kinds.
fn root_identity(replace: TextRange) -> Vec<CompletionItem> {
    let registry = schema::registry();
    registry
        .entries()
        .iter()
        .filter(|entry| !entry.file.starts_with("kubernetes/") && entry.kind != "*" && !entry.deprecated)
        .map(|entry| CompletionItem {
            label: format!("{} ({})", entry.kind, entry.api_version),
            kind: CompletionKind::Kind,
            detail: Some("new document".to_string()),
            documentation: None,
            insert_text: format!(
                "apiVersion: {}\nkind: {}\nmetadata:\n  name: ${{1:name}}\n$0",
                entry.api_version, entry.kind
            ),
            is_snippet: true,
            replace,
            deprecated: false,
            preselect: false,
        })
        .collect()
}

/// Keys already present beside the cursor's key (same column, same block), so they are not offered twice.
/// The column is the one the key will be inserted at: the line's own, or the one the cursor context moved
/// it to when its indentation fit no mapping.
pub(super) fn sibling_keys(cursor: &Cursor<'_>) -> BTreeSet<String> {
    let (text, offset) = (&*cursor.segment.text, cursor.relative);
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |newline| newline + 1);
    let line = &text[line_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let column = match cursor.yaml() {
        CursorContext::Key { indent: Some(column), .. } => *column,
        _ => line.len() - line.trim_start_matches([' ', '-']).len(),
    };
    let mut keys = BTreeSet::new();
    let block_keys = |lines: &mut dyn Iterator<Item = &str>, keys: &mut BTreeSet<String>| {
        for other in lines {
            let content = other.trim_start_matches(' ');
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let indent = other.len() - content.len();
            let key_column = other.len() - other.trim_start_matches([' ', '-']).len();
            if indent < column && key_column != column {
                break;
            }
            if key_column == column
                && let Some(colon) = content.trim_start_matches(['-', ' ']).find(':')
            {
                keys.insert(content.trim_start_matches(['-', ' '])[..colon].trim().to_string());
                if content.starts_with('-') {
                    break;
                }
            }
        }
    };
    block_keys(&mut text[..line_start].lines().rev(), &mut keys);
    let after = text[line_start..].find('\n').map_or(text.len(), |newline| line_start + newline + 1);
    block_keys(
        &mut text[after.min(text.len())..].lines().take_while(|other| {
            !other.trim_start().starts_with('-') || other.len() - other.trim_start().len() > column
        }),
        &mut keys,
    );
    keys
}
