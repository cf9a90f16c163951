//! Syntax: YAML text as a rope plus one tree-sitter tree per `---` document, and each document as a JSON
//! value with a source map (JSON pointer -> key and value ranges). Never fails: errors travel with the parse.

mod convert;
pub mod embedded;
pub mod emit;
mod libyaml;
pub mod navigate;
pub mod scalar;
mod source_file;

pub use convert::{
    MAX_ALIAS_EXPANSION, MAX_DEPTH, NodeSpan, ParsedDocument, SourceMap, SyntaxError, push_pointer_segment,
};
pub use source_file::{EditStats, MAX_DOCUMENTS, Segment, SourceFile, quick_values, split_documents};

use std::sync::Arc;

/// One document of a file parsed in one go (no incremental state), with its start offset in the file.
#[derive(Debug, Clone)]
pub struct Document {
    pub start: usize,
    pub parsed: Arc<ParsedDocument>,
}

impl std::ops::Deref for Document {
    type Target = ParsedDocument;
    fn deref(&self) -> &ParsedDocument {
        &self.parsed
    }
}

/// Parses every document of a YAML stream.
pub fn parse_file(text: &str) -> Vec<Document> {
    SourceFile::new_without_trees(text)
        .segments()
        .iter()
        .map(|segment| Document { start: segment.start, parsed: segment.parsed.clone() })
        .collect()
}
