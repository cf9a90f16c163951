//! Conversions from protocol types into the analysis's terms (paths, byte offsets).

use std::path::PathBuf;

use ls_types::{Position, Range, Uri};

use crate::base::{LineCol, LineIndex, PositionEncoding, TextRange};

/// The analysis key of a document: its file path, or the URI text for non-file documents (`untitled:`).
pub fn path(uri: &Uri) -> PathBuf {
    match uri.to_file_path() {
        Some(path) => crate::ide::normalize_path(&path),
        None => PathBuf::from(uri.as_str()),
    }
}

/// A position as a byte offset; a position past the end of its line or of the text is clamped.
pub fn offset(index: &LineIndex<'_>, position: Position, encoding: PositionEncoding) -> usize {
    index.offset(LineCol { line: position.line, column: position.character }, encoding)
}

/// A range as byte offsets, start first even when the client sent it backwards.
pub fn text_range(index: &LineIndex<'_>, range: Range, encoding: PositionEncoding) -> TextRange {
    let start = offset(index, range.start, encoding);
    let end = offset(index, range.end, encoding);
    TextRange::new(start.min(end), end.max(start))
}
