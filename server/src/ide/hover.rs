//! Hover: a field's documentation from the CRD or Kubernetes descriptions, with its type, allowed values
//! and default.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::Analysis;
use super::schema_lookup::{enum_values, type_label, with_schema_at};
use crate::base::TextRange;
use crate::model::DocumentKind;
use crate::schema;
use crate::syntax::navigate::{Side, node_at, pointer_segments};

/// Hover content in Markdown, and the range it describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoverResult {
    pub range: TextRange,
    pub markdown: String,
}

pub(super) fn hover(analysis: &Analysis, path: &Path, offset: usize) -> Option<HoverResult> {
    let file = analysis.file(path)?;
    let index = file.source.segment_at(offset)?;
    let segment = &file.source.segments()[index];
    let info = &file.documents[index];
    if info.kind == DocumentKind::Other {
        return None;
    }
    let relative = offset.checked_sub(segment.start)?;
    if let Some(result) = super::cel::cel_hover(segment, relative) {
        return Some(result);
    }
    let (pointer, span, side) = node_at(&segment.parsed, relative)?;
    let segments = pointer_segments(&pointer);
    let name = segments.last().cloned().unwrap_or_else(|| info.kind_name.clone());
    let range = match side {
        Side::Key => span.key.unwrap_or(span.value),
        Side::Value => span.value,
    }
    .shifted(segment.start);
    let segment_refs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let markdown = with_schema_at(analysis, path, info, &segment_refs, |nodes| {
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
