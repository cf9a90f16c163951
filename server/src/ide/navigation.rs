//! Go-to-definition: from a constraint's `kind` to the ConstraintTemplate that defines it, then the
//! cross-file links of tests (`references_nav`) and Kyverno context entries (`context_nav`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Analysis;
use crate::base::TextRange;
use crate::model::DocumentKind;
use crate::syntax::navigate::node_at;

/// A place in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub range: TextRange,
}

pub(super) fn definition(analysis: &Analysis, path: &Path, offset: usize) -> Vec<Location> {
    let Some(file) = analysis.file(path) else { return Vec::new() };
    let Some(index) = file.source.segment_at(offset) else { return Vec::new() };
    let info = &file.documents[index];
    let segment = &file.source.segments()[index];
    let Some((pointer, _, _)) = node_at(&segment.parsed, offset.saturating_sub(segment.start)) else {
        return Vec::new();
    };
    if info.kind == DocumentKind::Constraint && pointer == "/kind" {
        return templates_defining(analysis, &info.kind_name);
    }
    if let Some(locations) = super::context_nav::definition(analysis, path, offset) {
        return locations;
    }
    super::references_nav::definition(analysis, path, offset)
}

/// The `spec.crd.spec.names.kind` of every loaded template that defines a constraint kind.
pub(super) fn templates_defining(analysis: &Analysis, kind: &str) -> Vec<Location> {
    let mut locations = Vec::new();
    for (path, file) in analysis.files.iter() {
        for (index, info) in file.documents.iter().enumerate() {
            if info.kind != DocumentKind::ConstraintTemplate {
                continue;
            }
            let segment = &file.source.segments()[index];
            if segment.parsed.value.pointer("/spec/crd/spec/names/kind").and_then(Value::as_str) != Some(kind) {
                continue;
            }
            if let Some(span) = segment.parsed.source_map.get("/spec/crd/spec/names/kind") {
                locations.push(Location { path: path.clone(), range: span.value.shifted(segment.start) });
            }
        }
    }
    locations.sort_by(|left, right| left.path.cmp(&right.path));
    locations
}
