//! What every provider reads: the files at one moment (text, syntax, what each document is, cached
//! document-local diagnostics), the settings of each workspace root, and the file source behind files
//! that are referenced but not loaded. The providers take a [`Workspace`], never the [`super::Analysis`]
//! facade, so no provider can reach back up into the API that calls it.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::config::Config;
use super::rego_index::RegoFacts;
use crate::base::Diagnostic;
use crate::engine::opa::VersionSetting;
use crate::model::{DocumentInfo, DocumentKind, classify};
use crate::syntax::{ParsedDocument, SourceFile};
use crate::testrun::opa::is_rego_file;
use crate::testrun::{FileSource, Framework};

/// A file as the analysis sees it: its syntax and what each document is.
pub struct FileData {
    pub source: SourceFile,
    /// One entry per document (segment) of the file.
    pub documents: Vec<DocumentInfo>,
    /// Per document, the diagnostics that depend on that document alone (syntax, schema, embedded
    /// languages), relative to its start: computed once and carried over every edit that leaves the
    /// document untouched, so a keystroke re-checks one document, not the whole stream.
    local_diagnostics: Vec<OnceLock<Arc<Vec<Diagnostic>>>>,
    /// For a `.rego` file, its cross-file facts, computed on first use (navigation, completion).
    rego_facts: OnceLock<Arc<RegoFacts>>,
}

impl FileData {
    pub(super) fn new(source: SourceFile) -> FileData {
        let documents = source.segments().iter().map(|segment| classify(&segment.parsed.value)).collect();
        let local_diagnostics = source.segments().iter().map(|_| OnceLock::new()).collect();
        FileData { source, documents, local_diagnostics, rego_facts: OnceLock::new() }
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
        FileData { source, documents, local_diagnostics, rego_facts: OnceLock::new() }
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

/// A consistent, read-only view of every file at one moment; cheap to clone (everything is shared).
#[derive(Clone)]
pub struct Workspace {
    pub(super) files: Arc<HashMap<PathBuf, Arc<FileData>>>,
    pub(super) disk: Arc<dyn FileSource + Send>,
    /// The `.policy-lsp.yaml` settings of each workspace root.
    pub(super) configs: Arc<Vec<Config>>,
    /// The loaded files of each folder, kept in step with `files` (an edit of a loaded file leaves it
    /// alone), so that a look at a file's neighbours does not scan every file: done for every document,
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
            disk,
            configs: Arc::new(Vec::new()),
            folders: Arc::new(HashMap::new()),
            rego_index: Arc::new(HashMap::new()),
        }
    }

    /// Loads a file, or replaces a loaded one.
    pub(super) fn insert(&mut self, path: PathBuf, data: Arc<FileData>) {
        if !self.files.contains_key(&path)
            && let Some(folder) = path.parent()
        {
            Arc::make_mut(&mut self.folders).entry(folder.to_path_buf()).or_default().push(path.clone());
        }
        Arc::make_mut(&mut self.files).insert(path, data);
    }

    /// Unloads a file.
    pub(super) fn remove(&mut self, path: &Path) {
        if !self.files.contains_key(path) {
            return;
        }
        Arc::make_mut(&mut self.files).remove(path);
        if let Some(folder) = path.parent()
            && let Some(neighbours) = Arc::make_mut(&mut self.folders).get_mut(folder)
        {
            neighbours.retain(|neighbour| neighbour != path);
        }
    }

    /// Records the facts of a `.rego` file that is not loaded (`None` forgets them).
    pub(super) fn index_rego(&mut self, path: PathBuf, facts: Option<RegoFacts>) {
        let index = Arc::make_mut(&mut self.rego_index);
        match facts {
            Some(facts) => {
                index.insert(path, Arc::new(facts));
            }
            None => {
                index.remove(&path);
            }
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

    /// The loaded files directly inside `folder`.
    pub fn files_in(&self, folder: &Path) -> impl Iterator<Item = (&PathBuf, &Arc<FileData>)> {
        self.folders.get(folder).into_iter().flatten().filter_map(|path| self.files.get_key_value(path))
    }

    pub fn file(&self, path: &Path) -> Option<&Arc<FileData>> {
        self.files.get(path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.files.keys()
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

    /// Test files the analysis holds (Kyverno Tests and gator Suites) that concern `path`: the file itself
    /// when it is one, else the tests whose text names the file; all of them when `path` is `None`.
    pub fn test_files(&self, path: Option<&Path>) -> Vec<(PathBuf, Framework)> {
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
        // A `.rego` file (or a folder of them) is tested as `opa test` tests it: its folder at once.
        if let Some(path) = path
            && let Some(folder) = self.rego_test_folder(path)
        {
            return vec![(folder, Framework::Opa)];
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
        if path.is_none() {
            found.extend(self.rego_test_folders().into_iter().map(|folder| (folder, Framework::Opa)));
        }
        found.sort_by(|left, right| left.0.cmp(&right.0));
        found
    }

    /// The folder whose Rego unit tests a change of `path` concerns: the folder of a `.rego` file, or a
    /// folder itself, when one of its modules defines a test. Any other file concerns none (this runs for
    /// every changed file, so it answers at once for YAML).
    fn rego_test_folder(&self, path: &Path) -> Option<PathBuf> {
        let folder = if is_rego_file(path) {
            path.parent()?
        } else if path.extension().is_none() {
            path
        } else {
            return None;
        };
        self.rego_test_folders().contains(folder).then(|| folder.to_path_buf())
    }

    /// The folders holding a `.rego` module that defines a test (from each module's cached facts).
    fn rego_test_folders(&self) -> BTreeSet<PathBuf> {
        self.rego_modules()
            .into_iter()
            .filter(|(_, facts)| facts.has_tests)
            .filter_map(|(path, _)| Some(path.parent()?.to_path_buf()))
            .collect()
    }
}
