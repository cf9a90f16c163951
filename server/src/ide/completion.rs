//! Completion: the providers in the order they are asked, each a function of the workspace and the cursor
//! context (computed once). The first provider that claims the cursor answers, even with no items, so an
//! embedded language is never completed with YAML keys. Adding a provider is one entry here plus its test.

use std::path::Path;

use super::cursor::Cursor;
use super::types::CompletionItem;
use super::workspace::Workspace;
use super::yaml_path::CursorContext;
use super::{cel, jmespath, pattern, rego, schema_completion, test_file_completion};
use crate::testrun::opa::is_rego_file;

/// Items when the cursor is in the provider's territory (possibly none); `None` lets the next one try.
pub(super) type CompletionProvider = fn(&Workspace, &Cursor<'_>) -> Option<Vec<CompletionItem>>;

/// The providers, most specific first: code embedded in YAML values (Rego, JMESPath), then YAML whose
/// meaning goes beyond its schema (Kyverno patterns, test files), then CEL expressions, and last the schema
/// of the document, which always answers.
pub(super) const COMPLETION_PROVIDERS: &[(&str, CompletionProvider)] = &[
    ("rego", rego::completions),
    ("jmespath", jmespath::completions),
    ("pattern", pattern::completions),
    ("test file", test_file_completion::completions),
    ("cel", cel::completions),
    ("schema", schema_completion::completions),
];

/// Completion items at a byte offset of a file.
pub(super) fn completions(workspace: &Workspace, path: &Path, offset: usize) -> Vec<CompletionItem> {
    let Some(cursor) = Cursor::at(workspace, path, offset) else { return Vec::new() };
    // A `.rego` file is Rego throughout: no YAML provider or indentation applies.
    if is_rego_file(path) {
        return rego::completions(workspace, &cursor).unwrap_or_default();
    }
    let mut items =
        COMPLETION_PROVIDERS.iter().find_map(|(_, provider)| provider(workspace, &cursor)).unwrap_or_default();
    if let CursorContext::Key { indent: Some(column), prefix_start, .. } = cursor.yaml() {
        move_to_column(&mut items, cursor.segment.start + prefix_start, *column);
    }
    items
}

/// On a line whose indentation fits no mapping, the items replace the line from its start: each one
/// brings the indentation of the mapping it belongs to, on every line it inserts (clients indent the
/// following lines of a snippet by what precedes the replaced range, and here nothing does).
fn move_to_column(items: &mut [CompletionItem], line_start: usize, column: usize) {
    let indentation = " ".repeat(column);
    for item in items.iter_mut().filter(|item| item.replace.start == line_start) {
        item.insert_text = format!("{indentation}{}", item.insert_text.replace('\n', &format!("\n{indentation}")));
    }
}
