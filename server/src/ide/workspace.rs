//! What every provider reads: the loaded files at one moment (text, syntax, what each document is, cached
//! document-local diagnostics), the index of the files nobody has open (their cross-file facts only), the
//! settings of each workspace root, and the file source behind files that are referenced but not loaded.
//! The providers take a [`Workspace`], never the [`super::Analysis`] facade, so no provider can reach back
//! up into the API that calls it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::config::Config;
use super::rego_index::RegoFacts;
use crate::base::Diagnostic;
use crate::engine::opa::VersionSetting;
use crate::model::{DocumentInfo, DocumentKind, classify};
use crate::syntax::{ParsedDocument, SourceFile};
use crate::testrun::FileSource;
use crate::testrun::opa::is_rego_file;

/// A file as the analysis sees it: its syntax and what each document is.
pub struct FileData {
    pub source: SourceFile,
    /// One entry per document (segment) of the file.
    pub documents: Vec<DocumentInfo>,
    /// Per document, the diagnostics that depend on that document alone (syntax, schema, embedded
    /// languages), relative to its start: computed once and carried over every edit that leaves the
    /// document untouched, so a keystroke re-checks one document, not the whole stream.
    local_diagnostics: Vec<OnceLock<Arc<Vec<Diagnostic>>>>,
    /// The file's cross-file facts, computed the first time a look across the workspace asks for them.
    facts: OnceLock<Arc<FileFacts>>,
    /// For a `.rego` file, its Rego facts, computed on first use (navigation, completion).
    rego_facts: OnceLock<Arc<RegoFacts>>,
}

impl FileData {
    pub(super) fn new(source: SourceFile) -> FileData {
        let documents = source.segments().iter().map(|segment| classify(&segment.parsed.value)).collect();
        let local_diagnostics = source.segments().iter().map(|_| OnceLock::new()).collect();
        FileData { source, documents, local_diagnostics, facts: OnceLock::new(), rego_facts: OnceLock::new() }
    }

    /// The file after an edit, keeping what is known about the documents the edit did not touch (they
    /// share their parsed document with the previous version).
    pub(super) fn after_edit(previous: &FileData, source: SourceFile) -> FileData {
        let by_document: HashMap<*const ParsedDocument, usize> = previous
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
        FileData { source, documents, local_diagnostics, facts: OnceLock::new(), rego_facts: OnceLock::new() }
    }

    /// The cached cross-file facts, computing them with `compute` once.
    pub(super) fn facts(&self, compute: impl FnOnce() -> FileFacts) -> Arc<FileFacts> {
        self.facts.get_or_init(|| Arc::new(compute())).clone()
    }

    /// The cached document-local diagnostics of document `index`, computing them with `compute` once.
    pub(crate) fn local_diagnostics(
        &self,
        index: usize,
        compute: impl FnOnce() -> Vec<Diagnostic>,
    ) -> Arc<Vec<Diagnostic>> {
        self.local_diagnostics[index].get_or_init(|| Arc::new(compute())).clone()
    }

    /// Whether one of the file's documents is of `kind`.
    pub fn holds(&self, kind: DocumentKind) -> bool {
        self.documents.iter().any(|info| info.kind == kind)
    }
}

/// What the workspace keeps of a file nobody has open, and what looks across the workspace read of every
/// file: the facts other files' checks, navigation and test discovery look up. A closed file's text,
/// values and syntax stay on disk, so memory does not grow with files nobody has open; a provider that
/// needs more of the few files whose facts match loads them with [`Workspace::load`]. Computed by
/// `super::index`; a new kind of cross-file fact (Rego packages, say) is one more field here.
#[derive(Debug, Default)]
pub struct FileFacts {
    /// One entry per document (segment) of the file.
    pub documents: Vec<DocumentFacts>,
    /// A hash of the text: prepared policies stay current while their files' hashes hold.
    pub fingerprint: u64,
}

impl FileFacts {
    /// Whether the file holds a Kyverno Test or a gator Suite.
    pub fn holds_tests(&self) -> bool {
        self.documents
            .iter()
            .any(|document| matches!(document.info.kind, DocumentKind::KyvernoTest | DocumentKind::GatorSuite))
    }
}

/// The cross-file facts of one document.
#[derive(Debug)]
pub struct DocumentFacts {
    pub info: DocumentInfo,
    /// The constraint kind a ConstraintTemplate defines (`spec.crd.spec.names.kind`).
    pub defines_kind: Option<String>,
    /// The packages a ConstraintTemplate's main Rego texts declare (dotted, without `data.`): how a
    /// `.rego` source finds the template generated from it.
    pub rego_packages: Vec<Box<str>>,
    /// A Kyverno Test's or gator Suite's path entries resolved against its folder, each with the key it
    /// is listed under (`policies`, `resources`, `template`, `inventory`, ...).
    pub references: Vec<(&'static str, PathBuf)>,
    /// A test's or suite's string values: where test discovery looks for a file's name.
    pub strings: Vec<Box<str>>,
}

/// A consistent, read-only view of every file at one moment; cheap to clone (everything is shared).
#[derive(Clone)]
pub struct Workspace {
    /// The loaded files: every file in the command line, the open documents in the language server.
    pub(super) files: Arc<HashMap<PathBuf, Arc<FileData>>>,
    /// The facts of files the workspace scan found and nobody has open; a loaded file of the same path
    /// takes precedence.
    pub(super) index: Arc<HashMap<PathBuf, Arc<FileFacts>>>,
    /// The indexed files that hold a Kyverno Test or a gator Suite, in path order: which tests near a file
    /// name it is asked on every keystroke, and a walk over every indexed file (or a hashed path lookup for
    /// every test) cost tens of milliseconds per keystroke on a large tree; in path order, the tests below
    /// a folder are one range.
    tests: Arc<BTreeMap<PathBuf, Arc<FileFacts>>>,
    /// How many indexed files (loaded or not) hold policies, less the excluded ones: the editor's status
    /// asks after every change, and counting over the whole index each time cost a keystroke milliseconds.
    /// Forgotten whenever the index or the settings change.
    pub(super) indexed_policy_count: Arc<OnceLock<usize>>,
    pub(super) disk: Arc<dyn FileSource + Send>,
    /// The `.policy-lsp.yaml` settings of each workspace root.
    pub(super) configs: Arc<Vec<Config>>,
    /// The known files (loaded or indexed) of each folder, kept in step with `files` and `index` (an edit
    /// of a loaded file leaves it alone), so that a look at a file's neighbours does not scan every file: done for every document,
    /// such a scan made linting a large tree quadratic.
    folders: Arc<HashMap<PathBuf, Vec<PathBuf>>>,
    /// The facts of the `.rego` files the front end indexed without loading them (a loaded file's own
    /// facts take precedence).
    rego_index: Arc<HashMap<PathBuf, Arc<RegoFacts>>>,
}

impl Workspace {
    pub(super) fn new(disk: Arc<dyn FileSource + Send>) -> Workspace {
        Workspace {
            files: Arc::new(HashMap::new()),
            index: Arc::new(HashMap::new()),
            tests: Arc::new(BTreeMap::new()),
            indexed_policy_count: Arc::new(OnceLock::new()),
            disk,
            configs: Arc::new(Vec::new()),
            folders: Arc::new(HashMap::new()),
            rego_index: Arc::new(HashMap::new()),
        }
    }

    /// Loads a file, or replaces a loaded one.
    pub(super) fn insert(&mut self, path: PathBuf, data: Arc<FileData>) {
        if !self.knows(&path) {
            self.add_to_folder(&path);
        }
        Arc::make_mut(&mut self.files).insert(path, data);
    }

    /// Unloads a file; an indexed file of the same path stays known by its facts.
    pub(super) fn remove(&mut self, path: &Path) {
        if !self.files.contains_key(path) {
            return;
        }
        Arc::make_mut(&mut self.files).remove(path);
        if !self.index.contains_key(path) {
            self.remove_from_folder(path);
        }
    }

    /// Records the facts of files nobody has open, replacing what was known of them.
    pub(super) fn index_files(&mut self, facts: impl IntoIterator<Item = (PathBuf, Arc<FileFacts>)>) {
        self.indexed_policy_count = Arc::new(OnceLock::new());
        let index = Arc::make_mut(&mut self.index);
        let tests = Arc::make_mut(&mut self.tests);
        let mut added = Vec::new();
        for (path, file_facts) in facts {
            if !self.files.contains_key(&path) && !index.contains_key(&path) {
                added.push(path.clone());
            }
            if file_facts.holds_tests() {
                tests.insert(path.clone(), file_facts.clone());
            } else if tests.contains_key(&path) {
                tests.remove(&path);
            }
            index.insert(path, file_facts);
        }
        for path in added {
            self.add_to_folder(&path);
        }
    }

    /// Forgets a file's facts; a loaded file of the same path stays.
    pub(super) fn unindex(&mut self, path: &Path) {
        if !self.index.contains_key(path) {
            return;
        }
        Arc::make_mut(&mut self.index).remove(path);
        self.indexed_policy_count = Arc::new(OnceLock::new());
        if self.tests.contains_key(path) {
            Arc::make_mut(&mut self.tests).remove(path);
        }
        if !self.files.contains_key(path) {
            self.remove_from_folder(path);
        }
    }

    /// Whether a file is loaded or indexed.
    pub(super) fn knows(&self, path: &Path) -> bool {
        self.files.contains_key(path) || self.index.contains_key(path)
    }

    fn add_to_folder(&mut self, path: &Path) {
        if let Some(folder) = path.parent() {
            Arc::make_mut(&mut self.folders).entry(folder.to_path_buf()).or_default().push(path.to_path_buf());
        }
    }

    fn remove_from_folder(&mut self, path: &Path) {
        if let Some(folder) = path.parent()
            && let Some(neighbours) = Arc::make_mut(&mut self.folders).get_mut(folder)
        {
            neighbours.retain(|neighbour| neighbour != path);
        }
    }

    /// Records the facts of a `.rego` file that is not loaded (`None` forgets them).
    pub(super) fn index_rego(&mut self, path: PathBuf, facts: Option<RegoFacts>) {
        match facts {
            Some(facts) => {
                Arc::make_mut(&mut self.rego_index).insert(path, Arc::new(facts));
            }
            // Asked of every forgotten file: the map (shared with snapshots) is copied only when it holds one.
            None if self.rego_index.contains_key(&path) => {
                Arc::make_mut(&mut self.rego_index).remove(&path);
            }
            None => {}
        }
    }

    /// The Rego version setting of a file: its root's `rego.version`, else OPA's choice per file.
    pub fn rego_version(&self, path: &Path) -> VersionSetting {
        self.config_for(path).map_or(VersionSetting::Auto, |config| config.rego_version)
    }

    /// The facts of one `.rego` file: from its text when it is loaded, else from the index.
    pub fn rego_facts(&self, path: &Path) -> Option<Arc<RegoFacts>> {
        match self.files.get(path) {
            Some(file) => Some(file.rego_facts.get_or_init(|| Arc::new(RegoFacts::of(&file.source.text()))).clone()),
            None => self.rego_index.get(path).cloned(),
        }
    }

    /// Every `.rego` module the workspace knows, loaded or indexed, sorted by path.
    pub fn rego_modules(&self) -> Vec<(PathBuf, Arc<RegoFacts>)> {
        let loaded = self.files.keys().filter(|path| is_rego_file(path));
        let indexed = self.rego_index.keys().filter(|path| !self.files.contains_key(*path));
        let mut found: Vec<(PathBuf, Arc<RegoFacts>)> =
            loaded.chain(indexed).filter_map(|path| Some((path.clone(), self.rego_facts(path)?))).collect();
        found.sort_by(|left, right| left.0.cmp(&right.0));
        found
    }

    /// The known files (loaded or indexed) directly inside `folder`.
    pub fn paths_in(&self, folder: &Path) -> impl Iterator<Item = &PathBuf> {
        self.folders.get(folder).into_iter().flatten()
    }

    /// The facts of an indexed file that is not loaded.
    pub(super) fn indexed(&self, path: &Path) -> Option<&Arc<FileFacts>> {
        self.index.get(path).filter(|_| !self.files.contains_key(path))
    }

    /// The indexed files that are not loaded, with their facts.
    pub(super) fn indexed_files(&self) -> impl Iterator<Item = (&PathBuf, &Arc<FileFacts>)> {
        self.index.iter().filter(|(path, _)| !self.files.contains_key(*path))
    }

    /// The indexed test files (Kyverno Tests, gator Suites) that are not loaded, with their facts.
    pub(super) fn indexed_tests(&self) -> impl Iterator<Item = (&PathBuf, &Arc<FileFacts>)> {
        self.tests.iter().filter(|(path, _)| !self.files.contains_key(*path))
    }

    /// The indexed test files that are not loaded and lie near `directory`: in it or below it, or
    /// directly in one of its ancestors.
    pub(super) fn indexed_tests_near(&self, directory: &Path) -> Vec<(&PathBuf, &Arc<FileFacts>)> {
        let below = self.tests.range::<Path, _>((Bound::Included(directory), Bound::Unbounded));
        let mut found: Vec<(&PathBuf, &Arc<FileFacts>)> =
            below.take_while(|(path, _)| path.starts_with(directory)).collect();
        for ancestor in directory.ancestors().skip(1) {
            found.extend(self.paths_in(ancestor).filter_map(|path| self.tests.get_key_value(path)));
        }
        found.retain(|(path, _)| !self.files.contains_key(*path));
        found
    }

    /// A known file with its syntax: the loaded one, or an indexed one read and parsed from disk now (not
    /// kept: what a closed file weighs is paid only while it is looked at).
    pub fn load(&self, path: &Path) -> Option<Arc<FileData>> {
        if let Some(file) = self.files.get(path) {
            return Some(file.clone());
        }
        self.index.get(path)?;
        let text = self.disk.read(path).ok()?;
        Some(Arc::new(FileData::new(SourceFile::new_without_trees(&text))))
    }

    /// This view with an indexed file loaded, so that what is asked of loaded files (diagnostics) can be
    /// asked of it; `None` when the file is not known. Copies only the map of loaded files.
    pub(super) fn with_loaded(&self, path: &Path) -> Option<Workspace> {
        if self.files.contains_key(path) {
            return Some(self.clone());
        }
        let file = self.load(path)?;
        let mut view = self.clone();
        Arc::make_mut(&mut view.files).insert(path.to_path_buf(), file);
        Some(view)
    }

    pub fn file(&self, path: &Path) -> Option<&Arc<FileData>> {
        self.files.get(path)
    }

    /// How many files are known (loaded or indexed), without a walk over the index.
    pub fn file_count(&self) -> usize {
        let both = self.files.keys().filter(|path| self.index.contains_key(*path)).count();
        self.files.len() + self.index.len() - both
    }

    /// Every known file: the loaded ones, then the indexed ones not loaded.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.files.keys().chain(self.indexed_files().map(|(path, _)| path))
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

    pub(super) fn is_dir(&self, path: &Path) -> bool {
        self.disk.list_dir(path).is_some() || self.files.keys().any(|file| file.starts_with(path) && file != path)
    }

    /// The folder whose Rego unit tests a change of `path` concerns: the folder of a `.rego` file, or a
    /// folder itself, when one of its modules defines a test. Any other file concerns none (this runs for
    /// every changed file, so it answers at once for YAML).
    pub(super) fn rego_test_folder(&self, path: &Path) -> Option<PathBuf> {
        let folder = if is_rego_file(path) {
            path.parent()?
        } else if path.extension().is_none() {
            path
        } else {
            return None;
        };
        // Only the modules of that folder are looked at (this runs on every keystroke in a `.rego` file).
        let loaded = self.files.keys().filter(|path| is_rego_file(path));
        let mut modules = loaded.chain(self.rego_index.keys()).filter(|module| module.parent() == Some(folder));
        modules.any(|module| self.rego_facts(module).is_some_and(|facts| facts.has_tests)).then(|| folder.to_path_buf())
    }

    /// The folders holding a `.rego` module that defines a test (from each module's cached facts).
    pub(super) fn rego_test_folders(&self) -> BTreeSet<PathBuf> {
        self.rego_modules()
            .into_iter()
            .filter(|(_, facts)| facts.has_tests)
            .filter_map(|(path, _)| Some(path.parent()?.to_path_buf()))
            .collect()
    }
}
