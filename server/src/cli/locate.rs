//! Places named as (file, document, JSON pointer) or as a byte range turned into 1-based lines and columns for the CLI's
//! output, parsing each file once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::base::{LineIndex, PositionEncoding};
use crate::syntax::SourceFile;
use crate::testrun::{FileSource, SourceRef};

/// Turns places into lines and columns (columns count characters), reading files through `files`.
pub struct Locator<'a> {
    files: &'a dyn FileSource,
    parsed: HashMap<PathBuf, Option<Arc<SourceFile>>>,
}

impl<'a> Locator<'a> {
    pub fn new(files: &'a dyn FileSource) -> Locator<'a> {
        Locator { files, parsed: HashMap::new() }
    }

    /// The line and column of the key (or value) a pointer names, or of the nearest enclosing node that
    /// exists; `None` when the file or document is gone.
    pub fn locate(&mut self, at: &SourceRef) -> Option<(u32, u32)> {
        let files = self.files;
        let file = self
            .parsed
            .entry(at.file.clone())
            .or_insert_with(|| {
                let text = files.read(&at.file).ok()?;
                // A place given as a byte range is in a file that is not YAML (a `.rego` module): its lines
                // are all it needs.
                Some(Arc::new(if at.span.is_some() {
                    SourceFile::plain(&text)
                } else {
                    SourceFile::new_without_trees(&text)
                }))
            })
            .clone()?;
        let offset = match at.span {
            Some(span) => span.start,
            None => {
                let segment = file.segments().get(at.document)?;
                match segment.parsed.source_map.nearest(&at.pointer) {
                    Some((_, span)) => segment.start + span.key_or_value().start,
                    None => segment.start,
                }
            }
        };
        let position = LineIndex::new(file.rope()).line_col(offset.min(file.len()), PositionEncoding::Utf32);
        Some((position.line + 1, position.column + 1))
    }
}
