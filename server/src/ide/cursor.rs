//! The cursor context, computed once per completion or hover request and handed to every provider in
//! turn: the document under the cursor and what it is, the offset inside that document, and
//! (on first use, shared by every provider after it) the YAML path read from the text around the cursor
//! and the node of the parsed document under it.

use std::cell::OnceCell;
use std::path::Path;

use super::workspace::Workspace;
use super::yaml_path::{CursorContext, cursor_context};
use crate::model::DocumentInfo;
use crate::syntax::navigate::{Side, node_at};
use crate::syntax::{NodeSpan, Segment};

/// Where the cursor is, in the terms every provider starts from.
pub(super) struct Cursor<'a> {
    pub path: &'a Path,
    /// The byte offset in the file.
    pub offset: usize,
    /// The document (segment) the offset falls in.
    pub segment: &'a Segment,
    /// What that document is.
    pub info: &'a DocumentInfo,
    /// The offset inside the document's text.
    pub relative: usize,
    yaml: OnceCell<CursorContext>,
    node: OnceCell<Option<(String, NodeSpan, Side)>>,
}

impl<'a> Cursor<'a> {
    /// The cursor at `offset` of a file the workspace holds; `None` for a file it does not hold.
    pub fn at(workspace: &'a Workspace, path: &'a Path, offset: usize) -> Option<Cursor<'a>> {
        let file = workspace.file(path)?;
        let index = file.source.segment_at(offset)?;
        let segment = &file.source.segments()[index];
        // Segments tile the file, so the offset lies inside the one `segment_at` found; the clamp only
        // guards against an offset past the end of the text.
        let relative = offset.saturating_sub(segment.start).min(segment.text.len());
        Some(Cursor {
            path,
            offset,

            segment,
            info: &file.documents[index],
            relative,
            yaml: OnceCell::new(),
            node: OnceCell::new(),
        })
    }

    /// The YAML path and typed prefix at the cursor, read from the text (so it works while a line is half
    /// typed and the tree has errors).
    pub fn yaml(&self) -> &CursorContext {
        self.yaml.get_or_init(|| cursor_context(&self.segment.text, self.relative))
    }

    /// The innermost node of the parsed document whose key or value holds the cursor.
    pub fn node(&self) -> Option<&(String, NodeSpan, Side)> {
        self.node.get_or_init(|| node_at(&self.segment.parsed, self.relative)).as_ref()
    }
}
