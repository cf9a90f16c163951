//! The one analysis API that both front ends call: a mutable [`AnalysisHost`] that takes file changes, and
//! cheap immutable [`Analysis`] snapshots that answer diagnostics, symbols and the rest in editor terms.

mod cel;
pub(crate) mod completion;
mod diagnostics;
mod embedded;
mod hover;
pub mod lints;
mod navigation;
mod references;
mod rego;
mod rego_builtins;
mod schema_lookup;
mod symbols;
pub mod yaml_path;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use completion::{CompletionItem, CompletionKind};
pub use hover::HoverResult;
pub use navigation::Location;
pub use references::normalize as normalize_path;
pub use symbols::{Symbol, SymbolKind};

use crate::base::{Diagnostic, LineCol, LineIndex, PositionEncoding, TextRange};
use crate::model::{DocumentInfo, classify};
use crate::syntax::{EditStats, SourceFile};
use crate::testrun::FileSource;

/// A file as the analysis sees it: its syntax and what each document is.
pub struct FileData {
    pub source: SourceFile,
    /// One entry per document (segment) of the file.
    pub documents: Vec<DocumentInfo>,
}

impl FileData {
    fn new(source: SourceFile) -> FileData {
        let documents = source.segments().iter().map(|segment| classify(&segment.parsed.value)).collect();
        FileData { source, documents }
    }
}

/// One text edit: replace `range` (byte offsets) by `text`.
#[derive(Clone, Debug)]
pub struct TextEdit {
    pub range: TextRange,
    pub text: String,
}

/// Owns the current state of every file; the LSP and the CLI feed changes in and take snapshots.
pub struct AnalysisHost {
    files: Arc<HashMap<PathBuf, Arc<FileData>>>,
    disk: Arc<dyn FileSource + Send>,
}

impl AnalysisHost {
    /// `disk` serves files that are referenced but not loaded (test references, templates on disk).
    pub fn new(disk: Arc<dyn FileSource + Send>) -> AnalysisHost {
        AnalysisHost { files: Arc::new(HashMap::new()), disk }
    }

    /// Sets a file's whole text.
    pub fn set_file(&mut self, path: PathBuf, text: &str) {
        Arc::make_mut(&mut self.files).insert(path, Arc::new(FileData::new(SourceFile::new(text))));
    }

    /// Sets a file from an already parsed source (the CLI parses files in parallel first).
    pub fn set_source(&mut self, path: PathBuf, source: SourceFile) {
        Arc::make_mut(&mut self.files).insert(path, Arc::new(FileData::new(source)));
    }

    /// Applies edits in order; a file that is not loaded is ignored (returns `None`).
    pub fn apply_edits(&mut self, path: &Path, edits: &[TextEdit]) -> Option<EditStats> {
        let files = Arc::make_mut(&mut self.files);
        let data = files.get_mut(path)?;
        let mut source = data.source.clone();
        let mut total = EditStats::default();
        for edit in edits {
            let stats = source.apply_edit(edit.range, &edit.text);
            total.incremental += stats.incremental;
            total.fresh += stats.fresh;
        }
        *data = Arc::new(FileData::new(source));
        Some(total)
    }

    pub fn remove_file(&mut self, path: &Path) {
        if self.files.contains_key(path) {
            Arc::make_mut(&mut self.files).remove(path);
        }
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }

    /// An immutable view of the current state, cheap to take and safe to use from other threads.
    pub fn snapshot(&self) -> Analysis {
        Analysis { files: self.files.clone(), disk: self.disk.clone() }
    }
}

/// A consistent, read-only view of every file at one moment.
#[derive(Clone)]
pub struct Analysis {
    files: Arc<HashMap<PathBuf, Arc<FileData>>>,
    disk: Arc<dyn FileSource + Send>,
}

impl Analysis {
    pub fn file(&self, path: &Path) -> Option<&Arc<FileData>> {
        self.files.get(path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.files.keys()
    }

    /// Every diagnostic of a file: syntax, schema, cross-file references.
    pub fn diagnostics(&self, path: &Path) -> Vec<Diagnostic> {
        match self.files.get(path) {
            Some(file) => diagnostics::file_diagnostics(self, path, file),
            None => Vec::new(),
        }
    }

    /// Completion items at a byte offset.
    pub fn completions(&self, path: &Path, offset: usize) -> Vec<CompletionItem> {
        if let Some(items) = rego::completions(self, path, offset) {
            return items;
        }
        completion::completions(self, path, offset)
    }

    /// Documentation for what is under a byte offset.
    pub fn hover(&self, path: &Path, offset: usize) -> Option<HoverResult> {
        rego::hover(self, path, offset).or_else(|| hover::hover(self, path, offset))
    }

    /// Where the thing under a byte offset is defined (a constraint's kind -> its template).
    pub fn definition(&self, path: &Path, offset: usize) -> Vec<Location> {
        navigation::definition(self, path, offset)
    }

    /// The outline of a file.
    pub fn document_symbols(&self, path: &Path) -> Vec<Symbol> {
        self.files.get(path).map(|file| symbols::document_symbols(file)).unwrap_or_default()
    }

    /// A byte offset as a position.
    pub fn line_col(&self, path: &Path, offset: usize, encoding: PositionEncoding) -> Option<LineCol> {
        let file = self.files.get(path)?;
        Some(LineIndex::new(file.source.rope()).line_col(offset, encoding))
    }

    /// The text of a file, loaded or on disk.
    fn read(&self, path: &Path) -> Option<Arc<str>> {
        if let Some(file) = self.files.get(path) {
            return Some(Arc::from(file.source.text()));
        }
        self.disk.read(path).ok()
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.disk.list_dir(path).is_some() || self.files.keys().any(|file| file.starts_with(path) && file != path)
    }
}
