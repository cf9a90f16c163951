//! Hover on YAML: a field's documentation from the CRD or Kubernetes descriptions, with its type, allowed values
//! and default.

use std::fmt::Write as _;

use serde_json::Value;

use super::cursor::Cursor;
use super::schema_lookup::{enum_values, type_label, with_schema_at};
use super::types::HoverResult;
use super::workspace::Workspace;
use crate::model::DocumentKind;
use crate::schema;
use crate::syntax::navigate::{Side, pointer_segments};

pub(super) fn hover(workspace: &Workspace, cursor: &Cursor<'_>) -> Option<HoverResult> {
    let (segment, info) = (cursor.segment, cursor.info);
    if info.kind == DocumentKind::Other {
        return None;
    }
    let (pointer, span, side) = cursor.node()?;
    let segments = pointer_segments(pointer);
    let name = segments.last().cloned().unwrap_or_else(|| info.kind_name.clone());
    let range = match *side {
        Side::Key => span.key.unwrap_or(span.value),
        Side::Value => span.value,
    }
    .shifted(segment.start);
    let segment_refs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let markdown = with_schema_at(workspace, cursor.path, info, &segment_refs, |nodes| {
        if nodes.is_empty() {
            return None;
        }
        let registry = schema::registry();
        let description = nodes.iter().find_map(|node| schema::description_of(registry, *node));
        let mut markdown = format!("**`{name}`**");
        if let Some(label) = type_label(nodes) {
            let _ = write!(markdown, " `{label}`");
        }
        let deprecated = nodes
            .iter()
            .flat_map(|node| schema::subschemas(registry, *node))
            .any(|node| node.value.get("deprecated").and_then(Value::as_bool) == Some(true));
        if deprecated {
            markdown.push_str(" — *deprecated*");
        }
        markdown.push_str("\n\n");
        if let Some(description) = description {
            markdown.push_str(description);
            markdown.push_str("\n\n");
        }
        let values = enum_values(nodes);
        if !values.is_empty() {
            let listed: Vec<String> = values
                .iter()
                .map(|value| format!("`{}`", value.as_str().map_or_else(|| value.to_string(), str::to_string)))
                .collect();
            let _ = writeln!(markdown, "Allowed: {}\n", listed.join(", "));
        }
        let default = nodes
            .iter()
            .flat_map(|node| schema::subschemas(registry, *node))
            .find_map(|node| node.value.get("default").cloned());
        if let Some(default) = default {
            let _ = writeln!(
                markdown,
                "Default: `{}`\n",
                default.as_str().map_or_else(|| default.to_string(), str::to_string)
            );
        }
        Some(markdown.trim_end().to_string())
    })
    .flatten()?;
    Some(HoverResult { range, markdown })
}
