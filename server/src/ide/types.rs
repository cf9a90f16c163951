//! The plain data that the ide providers share and return, at the bottom of the layer: completion items,
//! hovers, locations, signature help, edits and code actions, and the span helpers that place a JSON pointer
//! or a path. It imports nothing from the rest of `ide`, so every provider can use it without a cycle.

use std::path::{Component, Path, PathBuf};

use crate::base::{Diagnostic, TextRange};
use crate::schema::Target;
use crate::syntax::Segment;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    Field,
    Value,
    Kind,
    /// A CEL or JMESPath function.
    Function,
    /// A file path (test files).
    File,
    /// A directory path (test files).
    Folder,
}

/// One completion item in editor terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletionItem {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
    pub documentation: Option<String>,
    /// Text to insert, in LSP snippet syntax when `is_snippet`.
    pub insert_text: String,
    pub is_snippet: bool,
    /// The range the item replaces (the typed prefix).
    pub replace: TextRange,
    pub deprecated: bool,
    /// Required fields sort first.
    pub preselect: bool,
}

impl CompletionItem {
    /// An item that inserts its label as plain text over `replace`.
    pub(crate) fn plain(
        label: &str,
        kind: CompletionKind,
        detail: Option<String>,
        documentation: Option<String>,
        replace: TextRange,
    ) -> CompletionItem {
        CompletionItem {
            label: label.to_string(),
            kind,
            detail,
            documentation,
            insert_text: label.to_string(),
            is_snippet: false,
            replace,
            deprecated: false,
            preselect: false,
        }
    }
}

/// Hover content in Markdown, and the range it describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoverResult {
    pub range: TextRange,
    pub markdown: String,
}

/// A place in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub range: TextRange,
}

/// Signature help in editor terms: one signature, its parameters (substrings of the label) and the
/// parameter the cursor is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureHelp {
    pub label: String,
    pub documentation: Option<String>,
    pub parameters: Vec<String>,
    pub active_parameter: usize,
}

/// One text edit: replace `range` (byte offsets) by `text`.
#[derive(Clone, Debug)]
pub struct TextEdit {
    pub range: TextRange,
    pub text: String,
}

/// What kind of action it is, in the protocol's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    QuickFix,
    RefactorRewrite,
    Source,
}

/// A change to one file: edits to an existing file, or a new file with its text.
#[derive(Clone, Debug)]
pub enum FileChange {
    Edit { path: PathBuf, edits: Vec<TextEdit> },
    Create { path: PathBuf, text: String },
}

#[derive(Clone, Debug)]
pub struct CodeAction {
    pub title: String,
    pub kind: ActionKind,
    /// The diagnostic the action resolves, if any.
    pub diagnostic: Option<Diagnostic>,
    pub changes: Vec<FileChange>,
    pub preferred: bool,
}

/// The range to underline for a pointer: the key, the value, or (for an object's own problems) the key that
/// holds the object — the `kind` value for the document root.
pub(crate) fn span_range(segment: &Segment, pointer: &str, target: Target) -> TextRange {
    let parsed = &segment.parsed;
    let base = segment.start;
    let first_line = |range: TextRange| first_line(&segment.text, range);
    let Some((found, span)) = parsed.source_map.nearest(pointer) else {
        return TextRange::empty(base);
    };
    let exact = found.len() == pointer.len();
    let range = match (target, exact) {
        (Target::Value, true) => span.value_or_key(),
        (Target::Object, _) if found.is_empty() => {
            parsed.source_map.get("/kind").map(|kind| kind.key_or_value()).unwrap_or_else(|| first_line(span.value))
        }
        (Target::Object, true) => span.key.unwrap_or_else(|| first_line(span.value)),
        _ => span.key.unwrap_or_else(|| first_line(span.value)),
    };
    range.shifted(base)
}

/// The part of a range on its first line, so a diagnostic on a whole mapping underlines just its start.
fn first_line(text: &str, range: TextRange) -> TextRange {
    let line_end =
        text.get(range.start..).and_then(|rest| rest.find(['\n', '\r'])).map_or(text.len(), |end| range.start + end);
    let end = range.end.min(line_end);
    TextRange::new(range.start, end.max(range.start + 1).min(text.len().max(range.start)))
}

/// Removes `.` and resolves `..` lexically, so the same file always has the same key.
pub fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                // `..` of the root is the root; of a relative path that has run out, it stays.
                if !out.pop() && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
