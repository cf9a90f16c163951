//! The one analysis API that both front ends call: a mutable [`AnalysisHost`] that takes file changes, and
//! cheap immutable [`Analysis`] snapshots that answer diagnostics, symbols and the rest in editor terms.

mod cel;
mod cel_lex;
mod code_actions;
pub(crate) mod completion;
pub mod config;
mod context_nav;
mod diagnostics;
mod embedded;
mod embedded_code;
pub mod explain;
mod folding;
mod hover;
pub mod inline_tests;
mod jmespath;
mod jmespath_docs;
mod jmespath_lex;
mod navigation;
mod pattern;
mod policy_context;
mod references;
mod references_nav;
mod rego;
mod rego_builtins;
mod rego_file;
mod schema_lookup;
mod semantic_tokens;
mod symbols;
mod test_completion;
pub mod yaml_path;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use code_actions::{ActionKind, CodeAction, FileChange};
pub use completion::{CompletionItem, CompletionKind};
pub use config::Config;
pub use hover::HoverResult;
pub use jmespath::SignatureHelp;
pub use navigation::Location;
pub use references::normalize as normalize_path;
pub use semantic_tokens::{Highlight, HighlightTag};
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
    /// Per document, the diagnostics that depend on that document alone (syntax, schema, embedded
    /// languages), relative to its start: computed once and carried over every edit that leaves the
    /// document untouched, so a keystroke re-checks one document, not the whole stream.
    local_diagnostics: Vec<OnceLock<Arc<Vec<Diagnostic>>>>,
}

impl FileData {
    fn new(source: SourceFile) -> FileData {
        let documents = source.segments().iter().map(|segment| classify(&segment.parsed.value)).collect();
        let local_diagnostics = source.segments().iter().map(|_| OnceLock::new()).collect();
        FileData { source, documents, local_diagnostics }
    }

    /// The file after an edit, keeping what is known about the documents the edit did not touch (they
    /// share their parsed document with the previous version).
    fn after_edit(previous: &FileData, source: SourceFile) -> FileData {
        let by_document: HashMap<*const crate::syntax::ParsedDocument, usize> = previous
            .source
            .segments()
            .iter()
            .enumerate()
            .map(|(index, segment)| (Arc::as_ptr(&segment.parsed), index))
            .collect();
        let mut documents = Vec::with_capacity(source.segments().len());
        let mut local_diagnostics = Vec::with_capacity(source.segments().len());
        for segment in source.segments() {
            match by_document.get(&Arc::as_ptr(&segment.parsed)) {
                Some(&old) => {
                    documents.push(previous.documents[old].clone());
                    let cell = OnceLock::new();
                    if let Some(cached) = previous.local_diagnostics[old].get() {
                        let _ = cell.set(cached.clone());
                    }
                    local_diagnostics.push(cell);
                }
                None => {
                    documents.push(classify(&segment.parsed.value));
                    local_diagnostics.push(OnceLock::new());
                }
            }
        }
        FileData { source, documents, local_diagnostics }
    }

    /// The cached document-local diagnostics of document `index`, computing them with `compute` once.
    pub(crate) fn local_diagnostics(
        &self,
        index: usize,
        compute: impl FnOnce() -> Vec<Diagnostic>,
    ) -> Arc<Vec<Diagnostic>> {
        self.local_diagnostics[index].get_or_init(|| Arc::new(compute())).clone()
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
    /// The `.policy-lsp.yaml` settings of each workspace root.
    configs: Arc<Vec<Config>>,
}

impl AnalysisHost {
    /// `disk` serves files that are referenced but not loaded (test references, templates on disk).
    pub fn new(disk: Arc<dyn FileSource + Send>) -> AnalysisHost {
        AnalysisHost { files: Arc::new(HashMap::new()), disk, configs: Arc::new(Vec::new()) }
    }

    /// Sets the settings of each workspace root (the front ends read `.policy-lsp.yaml` and the editor's).
    pub fn set_configs(&mut self, configs: Vec<Config>) {
        self.configs = Arc::new(configs);
    }

    /// Replaces the file source behind referenced files (the LSP learns its workspace roots late).
    pub fn set_file_source(&mut self, disk: Arc<dyn FileSource + Send>) {
        self.disk = disk;
    }

    /// Sets a file's whole text (without syntax trees: the first edit of a document parses it alone).
    pub fn set_file(&mut self, path: PathBuf, text: &str) {
        Arc::make_mut(&mut self.files).insert(path, Arc::new(FileData::new(SourceFile::new_without_trees(text))));
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
        *data = Arc::new(FileData::after_edit(data, source));
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
        Analysis { files: self.files.clone(), disk: self.disk.clone(), configs: self.configs.clone() }
    }
}

/// A consistent, read-only view of every file at one moment.
#[derive(Clone)]
pub struct Analysis {
    files: Arc<HashMap<PathBuf, Arc<FileData>>>,
    disk: Arc<dyn FileSource + Send>,
    configs: Arc<Vec<Config>>,
}

impl Analysis {
    pub fn file(&self, path: &Path) -> Option<&Arc<FileData>> {
        self.files.get(path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.files.keys()
    }

    /// Every diagnostic of a file: syntax, schema, cross-file references; filtered and re-graded by the
    /// file's `.policy-lsp.yaml` (nothing for an excluded file).
    pub fn diagnostics(&self, path: &Path) -> Vec<Diagnostic> {
        let Some(file) = self.files.get(path) else { return Vec::new() };
        let config = self.config_for(path);
        if config.is_some_and(|config| config.is_excluded(path)) {
            return Vec::new();
        }
        let mut found = if crate::testrun::opa::is_rego_file(path) {
            rego_file::rego_file_diagnostics(self, path, &file.source.text())
        } else {
            diagnostics::file_diagnostics(self, path, file)
        };
        if config::is_config_file(path)
            && let Some(segment) = file.source.segments().first()
        {
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            found.extend(Config::from_document(base, &segment.parsed, segment.start).1);
            found.sort_by_key(|diagnostic| (diagnostic.range.start, diagnostic.range.end));
        }
        match config {
            Some(config) => config.apply(found),
            None => found,
        }
    }

    /// The settings that govern a file: those of the innermost workspace root holding it.
    pub fn config_for(&self, path: &Path) -> Option<&Config> {
        self.configs
            .iter()
            .filter(|config| path.starts_with(&config.base))
            .max_by_key(|config| config.base.components().count())
    }

    /// Whether the settings leave a file out of linting and scanning.
    pub fn is_excluded(&self, path: &Path) -> bool {
        self.config_for(path).is_some_and(|config| config.is_excluded(path))
    }

    /// Every place that refers to what is under a byte offset (test results naming a policy, rule or
    /// resource; constraints of a template's kind; uses of a Kyverno context entry). `None` when the
    /// cursor is on nothing that can be referred to.
    pub fn references(&self, path: &Path, offset: usize, include_declaration: bool) -> Option<Vec<Location>> {
        context_nav::references(self, path, offset, include_declaration)
            .or_else(|| references_nav::references(self, path, offset, include_declaration))
    }

    /// Highlights of the code embedded in a file (Rego, CEL, JMESPath), optionally only those in `range`.
    pub fn highlights(&self, path: &Path, range: Option<TextRange>) -> Vec<Highlight> {
        let Some(file) = self.files.get(path) else { return Vec::new() };
        let mut found = semantic_tokens::highlights(file);
        if let Some(range) = range {
            found.retain(|highlight| highlight.range.end >= range.start && highlight.range.start <= range.end);
        }
        found
    }

    /// Code actions for a range: moving deprecated fields, creating test skeletons.
    pub fn code_actions(&self, path: &Path, range: TextRange) -> Vec<CodeAction> {
        code_actions::code_actions(self, path, range)
    }

    /// Completion items at a byte offset.
    pub fn completions(&self, path: &Path, offset: usize) -> Vec<CompletionItem> {
        if let Some(items) = rego::completions(self, path, offset) {
            return items;
        }
        if let Some(items) = jmespath::completions(self, path, offset) {
            return items;
        }
        if let Some(items) = pattern::completions(self, path, offset) {
            return items;
        }
        if let Some(items) = test_completion::completions(self, path, offset) {
            return items;
        }
        completion::completions(self, path, offset)
    }

    /// Documentation for what is under a byte offset.
    pub fn hover(&self, path: &Path, offset: usize) -> Option<HoverResult> {
        rego::hover(self, path, offset)
            .or_else(|| jmespath::hover(self, path, offset))
            .or_else(|| pattern::hover(self, path, offset))
            .or_else(|| hover::hover(self, path, offset))
    }

    /// The signature of the function call around a byte offset (JMESPath in Kyverno policies).
    pub fn signature_help(&self, path: &Path, offset: usize) -> Option<SignatureHelp> {
        jmespath::signature_help(self, path, offset)
    }

    /// Where the thing under a byte offset is defined (a constraint's kind -> its template).
    pub fn definition(&self, path: &Path, offset: usize) -> Vec<Location> {
        navigation::definition(self, path, offset)
    }

    /// The outline of a file.
    pub fn document_symbols(&self, path: &Path) -> Vec<Symbol> {
        self.files.get(path).map(|file| symbols::document_symbols(file)).unwrap_or_default()
    }

    /// Ranges the editor can fold.
    pub fn folding_ranges(&self, path: &Path) -> Vec<TextRange> {
        self.files.get(path).map(|file| folding::folding_ranges(file)).unwrap_or_default()
    }

    /// Policies, templates, constraints and tests across the workspace whose name contains `query`
    /// (case-insensitively), with the file each is in.
    pub fn workspace_symbols(&self, query: &str) -> Vec<(PathBuf, Symbol)> {
        let query = query.to_lowercase();
        let mut found = Vec::new();
        for (path, file) in self.files.iter() {
            for symbol in symbols::document_symbols(file) {
                if symbol.kind == SymbolKind::Resource || !symbol.name.to_lowercase().contains(&query) {
                    continue;
                }
                found.push((path.clone(), Symbol { children: Vec::new(), ..symbol }));
            }
        }
        found.sort_by(|left, right| left.1.name.cmp(&right.1.name).then_with(|| left.0.cmp(&right.0)));
        found.truncate(500);
        found
    }

    /// A byte offset as a position.
    pub fn line_col(&self, path: &Path, offset: usize, encoding: PositionEncoding) -> Option<LineCol> {
        let file = self.files.get(path)?;
        Some(LineIndex::new(file.source.rope()).line_col(offset, encoding))
    }

    /// The text of a file, loaded or on disk.
    pub fn read(&self, path: &Path) -> Option<Arc<str>> {
        if let Some(file) = self.files.get(path) {
            return Some(Arc::from(file.source.text()));
        }
        self.disk.read(path).ok()
    }

    /// The entries of a directory: the files the analysis holds below it and what the disk lists.
    pub fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        let mut entries: Vec<PathBuf> = self.disk.list_dir(path).unwrap_or_default();
        for file in self.files.keys() {
            if let Ok(relative) = file.strip_prefix(path)
                && let Some(first) = relative.components().next()
            {
                entries.push(path.join(first));
            }
        }
        entries.sort();
        entries.dedup();
        if entries.is_empty() && self.disk.list_dir(path).is_none() { None } else { Some(entries) }
    }

    /// The clock, from the file source the front end gave (for `time.now()` and `time_now()` in tests).
    pub fn current_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.disk.current_time()
    }

    /// Test files the analysis holds (Kyverno Tests and gator Suites) that concern `path`: the file itself
    /// when it is one, else the tests whose text names the file; all of them when `path` is `None`.
    pub fn test_files(&self, path: Option<&Path>) -> Vec<(PathBuf, crate::testrun::Framework)> {
        use crate::model::DocumentKind;
        use crate::testrun::Framework;
        let framework_of = |file: &FileData| {
            file.documents.iter().find_map(|info| match info.kind {
                DocumentKind::KyvernoTest => Some(Framework::Kyverno),
                DocumentKind::GatorSuite => Some(Framework::Gatekeeper),
                _ => None,
            })
        };
        if let Some(path) = path
            && let Some(framework) = self.files.get(path).and_then(|file| framework_of(file))
        {
            return vec![(path.to_path_buf(), framework)];
        }
        let file_name = path.and_then(Path::file_name).map(|name| name.to_string_lossy().to_string());
        let mut found: Vec<(PathBuf, Framework)> = self
            .files
            .iter()
            .filter_map(|(test_path, file)| {
                let framework = framework_of(file)?;
                if let Some(name) = &file_name {
                    let directory = path.and_then(Path::parent)?;
                    let near = test_path.starts_with(directory) || directory.starts_with(test_path.parent()?);
                    if !near || !file.source.text().contains(name.as_str()) {
                        return None;
                    }
                }
                Some((test_path.clone(), framework))
            })
            .collect();
        found.sort_by(|left, right| left.0.cmp(&right.0));
        found
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.disk.list_dir(path).is_some() || self.files.keys().any(|file| file.starts_with(path) && file != path)
    }
}
