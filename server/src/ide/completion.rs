//! Completion: the providers in the order they are asked, each a function of the workspace and the cursor
//! context (computed once). The first provider that claims the cursor answers, even with no items, so an
//! embedded language is never completed with YAML keys. Adding a provider is one entry here plus its test.

use std::path::Path;

use super::cursor::Cursor;
use super::types::CompletionItem;
use super::workspace::Workspace;
use super::{cel, jmespath, pattern, rego, schema_completion, test_file_completion};

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
    COMPLETION_PROVIDERS.iter().find_map(|(_, provider)| provider(workspace, &cursor)).unwrap_or_default()
}
