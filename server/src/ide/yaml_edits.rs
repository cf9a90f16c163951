//! Edits of YAML text that keep its layout (indentation, block or flow style): inserting an entry into a
//! mapping, the line and column helpers behind it, and the fix that adds a missing required field. Both
//! the diagnostics (which attach the fix) and the code actions build on it.

use std::path::Path;

use serde_json::Value;

use super::schema_lookup::{enum_values, is_type, with_schema_at};
use super::types::TextEdit;
use super::workspace::Workspace;
use crate::base::{Fix, TextRange};
use crate::model::DocumentInfo;
use crate::schema;
use crate::syntax::Segment;
use crate::syntax::navigate::pointer_segments;

// ---------------------------------------------------------------------------------------------------------
// Text helpers (offsets relative to a segment's text).

pub(super) fn line_start(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].rfind('\n').map_or(0, |newline| newline + 1)
}

/// The offset just past the line break of the line holding `offset` (or the text's end).
pub(super) fn next_line_start(text: &str, offset: usize) -> usize {
    if offset > 0 && text.as_bytes().get(offset - 1) == Some(&b'\n') {
        return offset;
    }
    text[offset.min(text.len())..].find('\n').map_or(text.len(), |newline| offset + newline + 1)
}

pub(super) fn column(text: &str, offset: usize) -> usize {
    offset - line_start(text, offset)
}

/// Whether only blanks (and a list marker) come before `offset` on its line.
pub(super) fn starts_its_line(text: &str, offset: usize) -> bool {
    text[line_start(text, offset)..offset].chars().all(|character| character == ' ' || character == '-')
}

/// The key ranges of the direct children of the mapping at `pointer`, in text order.
pub(super) fn child_keys(segment: &Segment, pointer: &str) -> Vec<TextRange> {
    let prefix = format!("{pointer}/");
    let mut keys: Vec<TextRange> = segment
        .parsed
        .source_map
        .iter()
        .filter(|(candidate, _)| candidate.strip_prefix(&prefix).is_some_and(|rest| !rest.contains('/')))
        .filter_map(|(_, span)| span.key)
        .collect();
    keys.sort_by_key(|range| range.start);
    keys
}

/// New `key: value` lines in block style (lines after the first indented relative to the key) and the same
/// entries on one line for a flow mapping.
pub(super) struct Entry {
    pub(super) block: String,
    pub(super) flow: String,
}

impl Entry {
    pub(super) fn plain(line: String) -> Entry {
        Entry { flow: line.clone(), block: line }
    }
}

/// Where a new entry goes in a block mapping.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    First,
    Last,
}

/// An edit adding `key: value` lines (`entry`; its lines after the first are indented by the caller
/// relative to the key) to the mapping at `pointer`: inside the braces of a flow mapping; in a block
/// mapping before its first key (always for a list item, whose first key follows the `- `) or after its
/// last line. `None` when the mapping is empty or not found.
pub(super) fn insert_into_mapping(
    segment: &Segment,
    pointer: &str,
    entry: &Entry,
    placement: Placement,
) -> Option<TextEdit> {
    let text = &segment.text;
    let span = segment.parsed.source_map.get(pointer)?;
    let value_text = text.get(span.value.start..span.value.end)?;
    if let Some(inside) = value_text.strip_prefix('{') {
        let entry = &entry.flow;
        let blanks = inside.len() - inside.trim_start().len();
        let new_text = if inside.trim_start().starts_with('}') { entry.to_string() } else { format!("{entry}, ") };
        let at = span.value.start + 1 + blanks;
        return Some(TextEdit { range: TextRange::empty(at + segment.start), text: new_text });
    }
    let entry = &entry.block;
    let first = *child_keys(segment, pointer).first()?;
    let indent = " ".repeat(column(text, first.start));
    let indented = |line: &str| format!("{indent}{line}");
    let is_list_item = text[line_start(text, first.start)..first.start].contains('-');
    if placement == Placement::First || is_list_item {
        let rest: Vec<String> = entry.lines().skip(1).map(indented).collect();
        let first_line = entry.lines().next().unwrap_or_default();
        let lines = std::iter::once(first_line.to_string()).chain(rest).collect::<Vec<_>>().join("\n");
        return Some(TextEdit {
            range: TextRange::empty(first.start + segment.start),
            text: format!("{lines}\n{indent}"),
        });
    }
    let at = next_line_start(text, span.value.end);
    let lines: Vec<String> = entry.lines().map(indented).collect();
    let lead = if at == text.len() && !text.ends_with('\n') { "\n" } else { "" };
    Some(TextEdit { range: TextRange::empty(at + segment.start), text: format!("{lead}{}\n", lines.join("\n")) })
}

// ---------------------------------------------------------------------------------------------------------
// Missing required fields

/// A fix adding a missing required field `name` to the mapping at `pointer`, with a placeholder value of
/// the type the schema asks for. Offsets are in the file's coordinates.
pub(super) fn missing_field_fix(
    workspace: &Workspace,
    file: &Path,
    info: &DocumentInfo,
    segment: &Segment,
    pointer: &str,
    name: &str,
) -> Option<Fix> {
    let segments = pointer_segments(pointer);
    let mut path: Vec<&str> = segments.iter().map(String::as_str).collect();
    path.push(name);
    let placeholder = with_schema_at(workspace, file, info, &path, placeholder_for).flatten()?;
    let key = if name.chars().all(|character| character.is_ascii_alphanumeric() || "-_./".contains(character)) {
        name.to_string()
    } else {
        format!("{name:?}")
    };
    let edit = insert_into_mapping(segment, pointer, &Entry::plain(format!("{key}: {placeholder}")), Placement::Last)?;
    Some(Fix { title: format!("Add missing field `{name}`"), range: edit.range, replacement: edit.text })
}

/// A value of the schema's type that parses: the first enum value, or an empty string, list or mapping.
fn placeholder_for(nodes: &[schema::SchemaNode<'_>]) -> Option<String> {
    if let Some(first) = enum_values(nodes).first() {
        return Some(match first {
            Value::String(text) => yaml_string(text),
            other => other.to_string(),
        });
    }
    let placeholder = if is_type(nodes, "object") {
        "{}"
    } else if is_type(nodes, "array") {
        "[]"
    } else if is_type(nodes, "boolean") {
        "false"
    } else if is_type(nodes, "integer") || is_type(nodes, "number") {
        "0"
    } else {
        "\"\""
    };
    Some(placeholder.to_string())
}

pub(super) fn yaml_string(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|character| character.is_ascii_alphanumeric() || "-_./".contains(character))
        && crate::syntax::scalar::resolve_plain(text).is_string();
    if plain { text.to_string() } else { format!("{text:?}") }
}
