//! The one analysis API that both front ends call: a mutable [`AnalysisHost`] that takes file changes, and
//! cheap immutable [`Analysis`] snapshots that answer diagnostics, completion, hover, navigation, code
//! actions and inline test results in editor terms (byte offsets, paths, plain data).
//!
//! Inside the layer the modules form a graph without cycles: `types` (shared plain data and span helpers)
//! and `workspace` (the files of one snapshot) at the bottom, the providers above them, `completion` and
//! `hover` (the providers in their declared order) above those, and this facade on top. Providers take a
//! [`workspace::Workspace`] and never this facade, so none can call back up into it.

mod cel;
mod cel_lex;
mod code_actions;
mod completion;
pub mod config;
mod context_navigation;
mod cross_file_navigation;
mod cursor;
mod diagnostics;
mod embedded_code;
pub mod explain;
mod file_roles;
mod folding;
mod generated_template;
mod hover;
mod index;
mod inline_tests;
mod jmespath;
mod jmespath_docs;
mod jmespath_lex;
mod manifest_checks;
mod manifest_preview;
mod navigation;
mod pattern;
mod policy_context;
mod rego;
mod rego_builtins;
mod rego_cursor;
mod rego_diagnostics;
mod rego_file;
mod rego_index;
mod rego_navigation;
mod schema_completion;
mod schema_hover;
mod schema_lookup;
mod semantic_tokens;
mod symbols;
mod template_rego;
mod test_file_checks;
mod test_file_completion;
mod types;
mod workspace;
mod yaml_edits;
pub mod yaml_path;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use config::Config;
pub use index::facts_of_text;
pub use inline_tests::{InlineRun, RUN_TESTS_COMMAND, TestLens};
pub use manifest_checks::{ManifestLens, ManifestVerdict, WorkspacePolicies};
pub use manifest_preview::{MutatedManifest, MutationPreview, PREVIEW_MUTATIONS_COMMAND};
pub use rego_index::{RegoFacts, RuleFact};
pub use semantic_tokens::{Highlight, HighlightTag};
pub use symbols::{Symbol, SymbolKind};
pub use types::{
    ActionKind, CodeAction, CompletionItem, CompletionKind, FileChange, HoverResult, Location, SignatureHelp, TextEdit,
    normalize_path,
};
pub use workspace::{FileData, FileFacts};

use crate::base::{Diagnostic, LineCol, LineIndex, PositionEncoding, TextRange};
use crate::model::DocumentKind;
use crate::syntax::{EditStats, SourceFile};
use crate::testrun::{FileSource, Framework, TestReport};
use cursor::Cursor;
use workspace::Workspace;

/// Owns the current state of every file; the LSP and the CLI feed changes in and take snapshots.
pub struct AnalysisHost {
    workspace: Workspace,
}

impl AnalysisHost {
    /// `disk` serves files that are referenced but not loaded (test references, templates on disk).
    pub fn new(disk: Arc<dyn FileSource + Send>) -> AnalysisHost {
        AnalysisHost { workspace: Workspace::new(disk) }
    }

    /// Sets the settings of each workspace root (the front ends read `.policy-lsp.yaml` and the editor's).
    pub fn set_configs(&mut self, configs: Vec<Config>) {
        self.workspace.configs = Arc::new(configs);
        // Which files are excluded may have changed.
        self.workspace.indexed_policy_count = Arc::new(std::sync::OnceLock::new());
    }

    /// Replaces the file source behind referenced files (the LSP learns its workspace roots late).
    pub fn set_file_source(&mut self, disk: Arc<dyn FileSource + Send>) {
        self.workspace.disk = disk;
    }

    /// Sets a file's whole text (without syntax trees: the first edit of a document parses it alone).
    pub fn set_file(&mut self, path: PathBuf, text: &str) {
        self.set_source(path, SourceFile::new_without_trees(text));
    }

    /// Sets a file from an already parsed source (the CLI parses files in parallel first).
    pub fn set_source(&mut self, path: PathBuf, source: SourceFile) {
        self.workspace.insert(path, Arc::new(FileData::new(source)));
    }

    /// Applies edits in order; a file that is not loaded is ignored (returns `None`).
    pub fn apply_edits(&mut self, path: &Path, edits: &[TextEdit]) -> Option<EditStats> {
        let files = Arc::make_mut(&mut self.workspace.files);
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

    /// Unloads a file; when the index holds its facts (or, for a `.rego` file, its Rego facts) it stays
    /// known by them.
    pub fn remove_file(&mut self, path: &Path) {
        self.workspace.remove(path);
    }

    /// Keeps a `.rego` file that nobody has open by its cross-file facts alone (packages, rules and where
    /// they are), not its text: unloads it if it was loaded.
    pub fn index_rego_file(&mut self, path: PathBuf, facts: RegoFacts) {
        self.workspace.remove(&path);
        self.workspace.index_rego(path, Some(facts));
    }

    /// Records the facts of files nobody has open (see [`facts_of_text`]), replacing what was known of
    /// them; a loaded file of the same path takes precedence until it is removed.
    pub fn index_files(&mut self, facts: impl IntoIterator<Item = (PathBuf, Arc<FileFacts>)>) {
        self.workspace.index_files(facts);
    }

    /// Forgets a file: its loaded state and its facts.
    pub fn forget_file(&mut self, path: &Path) {
        self.workspace.remove(path);
        self.workspace.unindex(path);
        self.workspace.index_rego(path.to_path_buf(), None);
    }

    /// Whether the file is loaded.
    pub fn contains(&self, path: &Path) -> bool {
        self.workspace.files.contains_key(path)
    }

    /// An immutable view of the current state, cheap to take and safe to use from other threads.
    pub fn snapshot(&self) -> Analysis {
        Analysis { workspace: self.workspace.clone() }
    }
}

/// A consistent, read-only view of every file at one moment.
#[derive(Clone)]
pub struct Analysis {
    workspace: Workspace,
}

impl Analysis {
    // -----------------------------------------------------------------------------------------------------
    // Files

    /// A loaded file.
    pub fn file(&self, path: &Path) -> Option<&Arc<FileData>> {
        self.workspace.file(path)
    }

    /// Every known file: the loaded ones, then the indexed ones.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.workspace.paths()
    }

    /// This snapshot with an indexed file loaded from disk, to ask of it what is asked of loaded files
    /// (diagnostics of a file nobody has open); `None` when the file is not known.
    pub fn with_file(&self, path: &Path) -> Option<Analysis> {
        Some(Analysis { workspace: self.workspace.with_loaded(path)? })
    }

    /// The settings that govern a file: those of the innermost workspace root holding it.
    pub fn config_for(&self, path: &Path) -> Option<&Config> {
        self.workspace.config_for(path)
    }

    /// Whether the settings leave a file out of linting and scanning.
    pub fn is_excluded(&self, path: &Path) -> bool {
        self.workspace.is_excluded(path)
    }

    /// The text of a file, loaded or on disk.
    pub fn read(&self, path: &Path) -> Option<Arc<str>> {
        self.workspace.read(path)
    }

    /// The entries of a directory: the files the analysis holds below it and what the disk lists.
    pub fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        self.workspace.list_dir(path)
    }

    /// The clock, from the file source the front end gave (for `time.now()` and `time_now()` in tests).
    pub fn current_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.workspace.current_time()
    }

    /// The line index of a file the analysis holds, to turn offsets into lines and columns and back.
    pub fn line_index(&self, path: &Path) -> Option<LineIndex<'_>> {
        self.workspace.file(path).map(|file| LineIndex::new(file.source.rope()))
    }

    /// A byte offset as a position.
    pub fn line_col(&self, path: &Path, offset: usize, encoding: PositionEncoding) -> Option<LineCol> {
        Some(self.line_index(path)?.line_col(offset, encoding))
    }

    /// The start and end positions of a range in any file: one the analysis holds, or one it can read
    /// (a related place of a test result in a file nobody opened).
    pub fn locate(&self, path: &Path, range: TextRange, encoding: PositionEncoding) -> Option<(LineCol, LineCol)> {
        let place =
            |index: &LineIndex<'_>| (index.line_col(range.start, encoding), index.line_col(range.end, encoding));
        if let Some(index) = self.line_index(path) {
            return Some(place(&index));
        }
        let rope = ropey::Rope::from_str(&self.workspace.read(path)?);
        Some(place(&LineIndex::new(&rope)))
    }

    // -----------------------------------------------------------------------------------------------------
    // Diagnostics

    /// Every diagnostic of a file: syntax, schema, cross-file references; filtered and re-graded by the
    /// file's `.policy-lsp.yaml` (nothing for an excluded file).
    pub fn diagnostics(&self, path: &Path) -> Vec<Diagnostic> {
        diagnostics::diagnostics(&self.workspace, path)
    }

    /// A file's diagnostics as the editor shows them: its own, then the inline test results that concern it,
    /// then (for a manifest) the workspace's policies that it violates.
    pub fn diagnostics_with_tests(
        &self,
        path: &Path,
        runs: &[Arc<InlineRun>],
        verdicts: &[Arc<ManifestVerdict>],
    ) -> Vec<Diagnostic> {
        if self.workspace.file(path).is_none() {
            return Vec::new();
        }
        let mut found = self.diagnostics(path);
        found.extend(inline_tests::test_diagnostics(&self.workspace, runs, path));
        found.extend(manifest_checks::manifest_diagnostics(&self.workspace, verdicts, path));
        found
    }

    /// The open files (among `open`) other than `changed` whose diagnostics can change with it: the tests
    /// that name it or whose last run read it, the constraints when it holds a template, and the templates
    /// generated from it when it is a `src.rego` (the stale-template lint compares them). Re-checking
    /// every open test on every change would be quadratic when many are open.
    pub fn dependents<'p>(
        &self,
        changed: &Path,
        open: impl IntoIterator<Item = &'p PathBuf>,
        runs: &[Arc<InlineRun>],
    ) -> Vec<PathBuf> {
        let holds =
            |path: &Path, kind| index::facts(&self.workspace, path).is_some_and(|facts| index::holds(&facts, kind));
        let naming: Vec<PathBuf> =
            index::test_files(&self.workspace, Some(changed)).into_iter().map(|(path, _)| path).collect();
        let changed_is_template = holds(changed, DocumentKind::ConstraintTemplate);
        let changed_is_rego_source = changed.file_name().is_some_and(|name| name == "src.rego");
        open.into_iter()
            .filter(|path| path.as_path() != changed)
            .filter(|path| {
                naming.contains(path)
                    || runs.iter().any(|run| run.test_file == **path && run.depends_on(changed))
                    || (changed_is_template && holds(path, DocumentKind::Constraint))
                    || (changed_is_rego_source
                        && holds(path, DocumentKind::ConstraintTemplate)
                        && generated_template::source_candidates(path).iter().any(|source| source == changed))
            })
            .cloned()
            .collect()
    }

    // -----------------------------------------------------------------------------------------------------
    // Manifests judged by the workspace's policies

    /// Whether a file is a manifest that the workspace's policies judge (not a policy, test, fixture or
    /// chart template).
    pub fn is_manifest(&self, path: &Path) -> bool {
        manifest_checks::is_manifest(&self.workspace, path)
    }

    /// How many files hold policies (not counting those the settings exclude): an editor hides its status
    /// where there are none.
    pub fn policy_file_count(&self) -> usize {
        manifest_checks::policy_file_count(&self.workspace)
    }

    /// How many files are known: loaded, or indexed from the workspace scan.
    pub fn file_count(&self) -> usize {
        self.workspace.file_count()
    }

    /// Whether a file holds policies: a change there re-judges the open manifests.
    pub fn holds_policies(&self, path: &Path) -> bool {
        manifest_checks::holds_policies(&self.workspace, path)
    }

    /// A hash of the workspace's policy files: when it is unchanged, prepared policies are still current.
    pub fn policies_fingerprint(&self) -> u64 {
        manifest_checks::policies_fingerprint(&self.workspace)
    }

    /// Every policy the analysis holds, prepared to judge manifests (seconds for many Rego templates: run
    /// it off the typing path and keep the result while the fingerprint holds).
    pub fn prepare_policies(&self) -> WorkspacePolicies {
        manifest_checks::prepare_policies(&self.workspace)
    }

    /// One manifest file judged by prepared policies, as `policy-lsp apply` judges it; `None` when the
    /// file is not a manifest.
    pub fn judge_manifest(&self, path: &Path, policies: &WorkspacePolicies) -> Option<ManifestVerdict> {
        manifest_checks::judge_manifest(&self.workspace, path, policies)
    }

    /// The lenses of a manifest file from its verdict: how many policies apply to each object, how many fail.
    pub fn manifest_lenses(&self, path: &Path, verdicts: &[Arc<ManifestVerdict>]) -> Vec<ManifestLens> {
        manifest_checks::manifest_lenses(&self.workspace, verdicts, path)
    }

    /// A manifest file as the workspace's mutating policies would leave it, from its verdict; `None` when
    /// no policy mutates it (or it has no verdict yet).
    pub fn mutated_manifest(&self, path: &Path, verdicts: &[Arc<ManifestVerdict>]) -> Option<MutatedManifest> {
        manifest_checks::mutated_manifest(&self.workspace, verdicts, path)
    }

    // -----------------------------------------------------------------------------------------------------
    // Editing help

    /// Completion items at a byte offset, from the first provider in `completion::COMPLETION_PROVIDERS`
    /// that claims the cursor.
    pub fn completions(&self, path: &Path, offset: usize) -> Vec<CompletionItem> {
        completion::completions(&self.workspace, path, offset)
    }

    /// Documentation for what is under a byte offset, from the first provider in `hover::HOVER_PROVIDERS`
    /// that finds something.
    pub fn hover(&self, path: &Path, offset: usize) -> Option<HoverResult> {
        hover::hover(&self.workspace, path, offset)
    }

    /// The hover as the editor shows it: on a results entry, what the test found comes first, and on a
    /// manifest object's `kind:` line, what the policies found; the field's documentation follows.
    pub fn hover_with_results(
        &self,
        path: &Path,
        offset: usize,
        runs: &[Arc<InlineRun>],
        verdicts: &[Arc<ManifestVerdict>],
    ) -> Option<HoverResult> {
        let result = inline_tests::result_hover(&self.workspace, runs, path, offset)
            .or_else(|| manifest_checks::manifest_hover(&self.workspace, verdicts, path, offset));
        let field = self.hover(path, offset);
        match (result, field) {
            (Some(mut result), Some(field)) => {
                result.markdown = format!("{}\n---\n\n{}", result.markdown, field.markdown);
                result.range = field.range;
                Some(result)
            }
            (result, field) => result.or(field),
        }
    }

    /// The signature of the function call around a byte offset (JMESPath in Kyverno policies).
    pub fn signature_help(&self, path: &Path, offset: usize) -> Option<SignatureHelp> {
        let cursor = Cursor::at(&self.workspace, path, offset)?;
        jmespath::signature_help(&self.workspace, &cursor)
    }

    /// The quick fixes of the diagnostics that touch `range`, each resolving its diagnostic.
    pub fn quick_fixes(&self, path: &Path, range: TextRange) -> Vec<CodeAction> {
        code_actions::quick_fixes(&self.workspace, path, range)
    }

    /// Code actions for a range beyond single quick fixes: moving deprecated fields, creating test skeletons.
    pub fn code_actions(&self, path: &Path, range: TextRange) -> Vec<CodeAction> {
        code_actions::code_actions(&self.workspace, path, range)
    }

    /// Highlights of the code embedded in a file (Rego, CEL, JMESPath), optionally only those in `range`.
    pub fn highlights(&self, path: &Path, range: Option<TextRange>) -> Vec<Highlight> {
        let Some(file) = self.workspace.file(path) else { return Vec::new() };
        // Highlights are of code embedded in YAML; a `.rego` file is left to the editor's Rego grammar.
        if crate::testrun::opa::is_rego_file(path) {
            return Vec::new();
        }
        let mut found = semantic_tokens::highlights(file);
        if let Some(range) = range {
            found.retain(|highlight| highlight.range.end >= range.start && highlight.range.start <= range.end);
        }
        found
    }

    // -----------------------------------------------------------------------------------------------------
    // Navigation and structure

    /// Where the thing under a byte offset is defined (a constraint's kind -> its template, a test's
    /// reference -> the policy, rule, resource or file, a context variable -> its entry).
    pub fn definition(&self, path: &Path, offset: usize) -> Vec<Location> {
        navigation::definition(&self.workspace, path, offset)
    }

    /// Every place that refers to what is under a byte offset (test results naming a policy, rule or
    /// resource; constraints of a template's kind; uses of a Kyverno context entry). `None` when the
    /// cursor is on nothing that can be referred to.
    pub fn references(&self, path: &Path, offset: usize, include_declaration: bool) -> Option<Vec<Location>> {
        navigation::references(&self.workspace, path, offset, include_declaration)
    }

    /// The outline of a file.
    pub fn document_symbols(&self, path: &Path) -> Vec<Symbol> {
        if crate::testrun::opa::is_rego_file(path) {
            return rego_navigation::rego_symbols(&self.workspace, path);
        }
        self.workspace.file(path).map(|file| symbols::document_symbols(file)).unwrap_or_default()
    }

    /// Ranges the editor can fold.
    pub fn folding_ranges(&self, path: &Path) -> Vec<TextRange> {
        // A `.rego` file is not YAML: its folds are the editor's own (by indentation).
        if crate::testrun::opa::is_rego_file(path) {
            return Vec::new();
        }
        self.workspace.file(path).map(|file| folding::folding_ranges(file)).unwrap_or_default()
    }

    /// Policies, templates, constraints and tests across the workspace whose name contains `query`
    /// (case-insensitively), with the file each is in.
    pub fn workspace_symbols(&self, query: &str) -> Vec<(PathBuf, Symbol)> {
        let query = query.to_lowercase();
        // Chosen by the index (name and kind), then only the files of the first 500 loaded for the ranges.
        let mut chosen: Vec<(String, PathBuf, usize)> = Vec::new();
        let named = |document: &workspace::DocumentFacts| {
            document.info.kind != DocumentKind::Other
                && symbols::symbol_kind(&document.info.kind) != SymbolKind::Resource
        };
        for (path, facts) in index::all_where(&self.workspace, |facts| facts.documents.iter().any(named)) {
            for (at, document) in facts.documents.iter().enumerate() {
                let name = document.info.label();
                if !named(document) || !name.to_lowercase().contains(&query) {
                    continue;
                }
                chosen.push((name, path.clone(), at));
            }
        }
        chosen.sort();
        chosen.truncate(500);
        let mut loaded: HashMap<PathBuf, Option<Arc<FileData>>> = HashMap::new();
        let mut found = Vec::new();
        for (_, path, at) in chosen {
            let file = loaded.entry(path.clone()).or_insert_with(|| self.workspace.load(&path));
            if let Some(symbol) = file.as_ref().and_then(|file| symbols::document_symbol(file, at, false)) {
                found.push((path, symbol));
            }
        }
        // Rego packages and rules come from each module's facts, open or not.
        found.extend(rego_navigation::workspace_rego_symbols(&self.workspace, &query));
        found.sort_by(|left, right| left.1.name.cmp(&right.1.name).then_with(|| left.0.cmp(&right.0)));
        found.truncate(500);
        found
    }

    /// The files the analysis holds whose checks or test results can change with the `changed` paths:
    /// those files themselves, the tests and suites whose path entries take one in, and the constraints
    /// of a changed template's kind, transitively. What `--changed-since` checks.
    pub fn affected_by(&self, changed: &[PathBuf]) -> Vec<PathBuf> {
        cross_file_navigation::affected_by(&self.workspace, changed)
    }

    // -----------------------------------------------------------------------------------------------------
    // Tests

    /// Test files the analysis holds (Kyverno Tests and gator Suites) that concern `path`: the file itself
    /// when it is one, else the tests whose text names the file; all of them when `path` is `None`.
    pub fn test_files(&self, path: Option<&Path>) -> Vec<(PathBuf, Framework)> {
        index::test_files(&self.workspace, path)
    }

    /// Runs one test file on the snapshot's files (unsaved buffers first, then the disk), as
    /// `policy-lsp test` would on the same files.
    pub fn run_test_file(&self, path: &Path, framework: Framework) -> TestReport {
        crate::testrun::run(&self.workspace, path, framework, Default::default())
    }

    /// Runs one test file for the inline results, recording every input it reads.
    pub fn run_inline_test(&self, path: &Path, framework: Framework) -> InlineRun {
        inline_tests::run_test(&self.workspace, path, framework)
    }

    /// The test files whose results a change of `changed` can alter: the changed tests themselves, the
    /// tests that name a changed file, and every earlier run that read one.
    pub fn affected_tests(&self, changed: &[PathBuf], runs: &[Arc<InlineRun>]) -> Vec<(PathBuf, Framework)> {
        inline_tests::affected_tests(&self.workspace, changed, runs.iter().map(|run| &**run))
    }

    /// Whether every input of a run still holds what the run saw.
    pub fn is_current(&self, run: &InlineRun) -> bool {
        run.is_current(&self.workspace)
    }

    /// The code lenses of a file from the given runs: a summary above each policy, rule, template,
    /// constraint, results entry and case.
    pub fn test_lenses(&self, path: &Path, runs: &[Arc<InlineRun>]) -> Vec<TestLens> {
        inline_tests::code_lenses(&self.workspace, runs, path)
    }

    /// The diagnostics of failing expectations in a test file, from the given runs.
    pub fn test_diagnostics(&self, path: &Path, runs: &[Arc<InlineRun>]) -> Vec<Diagnostic> {
        inline_tests::test_diagnostics(&self.workspace, runs, path)
    }

    /// The hover on a results entry or a case: every result it produced, and why.
    pub fn test_result_hover(&self, path: &Path, offset: usize, runs: &[Arc<InlineRun>]) -> Option<HoverResult> {
        inline_tests::result_hover(&self.workspace, runs, path, offset)
    }
}
