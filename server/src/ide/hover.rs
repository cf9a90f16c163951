//! Hover: the providers in the order they are asked, each a function of the workspace and the cursor
//! context (computed once); the first that finds something under the cursor answers.

use std::path::Path;

use super::cursor::Cursor;
use super::types::HoverResult;
use super::workspace::Workspace;
use super::{cel, jmespath, pattern, rego, schema_hover};
use crate::testrun::opa::is_rego_file;

/// Documentation for what is under the cursor, or `None` to let the next provider try.
pub(super) type HoverProvider = fn(&Workspace, &Cursor<'_>) -> Option<HoverResult>;

/// The providers, most specific first: built-in functions of embedded languages (Rego, JMESPath), Kyverno
/// pattern anchors and operators, CEL functions, and last a field's schema documentation.
pub(super) const HOVER_PROVIDERS: &[(&str, HoverProvider)] = &[
    ("rego", rego::hover),
    ("jmespath", jmespath::hover),
    ("pattern", pattern::hover),
    ("cel", cel::hover),
    ("schema", schema_hover::hover),
];

/// Documentation for what is under a byte offset of a file.
pub(super) fn hover(workspace: &Workspace, path: &Path, offset: usize) -> Option<HoverResult> {
    let cursor = Cursor::at(workspace, path, offset)?;
    // A `.rego` file is Rego throughout: the YAML providers have nothing to say about it.
    if is_rego_file(path) {
        return rego::hover(workspace, &cursor);
    }
    HOVER_PROVIDERS.iter().find_map(|(_, provider)| provider(workspace, &cursor))
}
