//! Go-to-definition and find-references: from a constraint's `kind` to the ConstraintTemplate that defines
//! it, then the links of Kyverno context entries (`context_navigation`) and the cross-file links of tests,
//! templates and constraints (`cross_file_navigation`).

use std::path::Path;

use super::context_navigation;
use super::cross_file_navigation::{self, templates_defining};
use super::rego_navigation;
use super::types::Location;
use super::workspace::Workspace;
use crate::model::DocumentKind;
use crate::syntax::navigate::node_at;
use crate::testrun::opa::is_rego_file;

pub(super) fn definition(workspace: &Workspace, path: &Path, offset: usize) -> Vec<Location> {
    // In Rego (a `.rego` file, or a template's embedded Rego) only Rego references lead anywhere.
    if let Some(locations) = rego_navigation::definition(workspace, path, offset) {
        return locations;
    }
    if is_rego_file(path) {
        return Vec::new();
    }
    let Some(file) = workspace.file(path) else { return Vec::new() };
    let Some(index) = file.source.segment_at(offset) else { return Vec::new() };
    let info = &file.documents[index];
    let segment = &file.source.segments()[index];
    let Some((pointer, _, _)) = node_at(&segment.parsed, offset.saturating_sub(segment.start)) else {
        return Vec::new();
    };
    if info.kind == DocumentKind::Constraint && pointer == "/kind" {
        return templates_defining(workspace, &info.kind_name);
    }
    if let Some(locations) = context_navigation::definition(workspace, path, offset) {
        return locations;
    }
    cross_file_navigation::definition(workspace, path, offset)
}

/// Every place that refers to what is under a byte offset (test results naming a policy, rule or resource;
/// constraints of a template's kind; uses of a Kyverno context entry). `None` when the cursor is on nothing
/// that can be referred to.
pub(super) fn references(
    workspace: &Workspace,
    path: &Path,
    offset: usize,
    include_declaration: bool,
) -> Option<Vec<Location>> {
    if is_rego_file(path) {
        return None;
    }
    context_navigation::references(workspace, path, offset, include_declaration)
        .or_else(|| cross_file_navigation::references(workspace, path, offset, include_declaration))
}
