//! `policy-lsp lint`: loads the files into the analysis host, runs the same analysis as the server in
//! parallel, and renders the result.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::status::{ExitStatus, OutputFormat};
use crate::base::{Code, Diagnostic, LineIndex, PositionEncoding, TextRange};
use crate::ide::{Analysis, AnalysisHost};
use crate::report::lint::{LintSummary, render_github, render_json, render_sarif, render_text};
use crate::report::{FileReport, LocatedDiagnostic};
use crate::syntax::SourceFile;
use crate::testrun::FileError;
use crate::vfs::{DiskFiles, absolute_path, read_text, walk_policy_files};

pub struct LintOptions {
    pub paths: Vec<PathBuf>,
    pub output: OutputFormat,
    pub deny_warnings: bool,
    /// A directory with no YAML or .rego file to check fails the run instead of warning.
    pub require_files: bool,
    pub changed: super::changed::ChangedFlags,
    /// `--shard i/n`: check only the files of this shard's folders.
    pub shard: Option<super::shard::Shard>,
}

/// The name reports give standard input (`lint -`); its relative references resolve from the current
/// directory.
pub const STDIN_NAME: &str = "<stdin>";

pub fn run(options: LintOptions) -> ExitStatus {
    let paths = if options.paths.is_empty() { vec![PathBuf::from(".")] } else { options.paths.clone() };
    let (stdin_paths, paths): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.into_iter().partition(|path| path.as_os_str() == "-");
    let stdin = if stdin_paths.is_empty() {
        None
    } else {
        let mut text = String::new();
        if let Err(error) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
            eprintln!("error: standard input: {error}");
            return ExitStatus::UsageError;
        }
        Some(text)
    };
    let roots: Vec<PathBuf> = paths.iter().map(|path| crate::vfs::workspace_root(path)).collect();
    let configs = crate::vfs::read_configs(&roots);
    // With --changed-since, git lists the files (and says which changed) in place of a walk.
    let (files, affected) = match super::changed::run(&options.changed, &paths, &configs, "kyverno-test.yaml") {
        None => match walk_policy_files(&paths) {
            Ok(files) => (crate::vfs::drop_excluded(files, &paths, &configs), None),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitStatus::UsageError;
            }
        },
        Some(Ok(run)) => (run.files, Some(run.affected)),
        Some(Err(message)) => {
            eprintln!("error: {message}");
            return ExitStatus::UsageError;
        }
    };
    // A directory with nothing to check is a mistyped path as often as an empty one: say which.
    let empty: Vec<&PathBuf> =
        paths.iter().filter(|path| path.is_dir() && !files.iter().any(|file| file.starts_with(path))).collect();
    for path in &empty {
        eprintln!("warning: no YAML or .rego files to check under {}", path.display());
    }
    // A shard checks the files of its folders; every shard sees the whole tree's cross-file index.
    let sharded = |files: &[PathBuf]| -> Vec<PathBuf> {
        match options.shard {
            Some(shard) => files.iter().filter(|file| shard.holds_file(file, &roots)).cloned().collect(),
            None => files.to_vec(),
        }
    };
    let mut reports = match affected {
        None => lint_within(&sharded(&files), &files, template_index(&files), &roots),
        Some(affected) => lint_within(&sharded(&affected.files), &files, affected.templates, &roots),
    };
    if let Some(text) = stdin {
        // Standard input reads the files of the current workspace only, like any other file.
        let stdin_roots =
            if roots.is_empty() { vec![crate::vfs::workspace_root(Path::new("."))] } else { roots.clone() };
        reports.insert(0, lint_text(STDIN_NAME, &text, &stdin_roots));
    }
    let rendered = match options.output {
        OutputFormat::Text => render_text(&reports),
        OutputFormat::Json => render_json(&reports),
        OutputFormat::Sarif => render_sarif(&reports),
        OutputFormat::Github => render_github(&reports),
        other => {
            eprintln!("error: `lint` does not support --output {}", other.name());
            return ExitStatus::UsageError;
        }
    };
    print!("{rendered}");
    let summary = LintSummary::of(&reports);
    let missing_files = options.require_files && !empty.is_empty();
    if summary.errors > 0 || (options.deny_warnings && summary.warnings > 0) || missing_files {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

/// Lints one text that is not a file on disk (standard input), with the files of `roots` for its
/// references.
pub fn lint_text(name: &str, text: &str, roots: &[PathBuf]) -> FileReport {
    let key = absolute_path(Path::new(name));
    let mut host = AnalysisHost::new(Arc::new(DiskFiles::within(roots)));
    host.set_configs(crate::vfs::read_configs(roots).iter().map(|config| config.without_exclude()).collect());
    host.set_source(key.clone(), SourceFile::new_without_trees(text));
    let analysis = host.snapshot();
    let diagnostics = analysis.diagnostics(&key);
    let rope = ropey::Rope::from_str(text);
    locate(Path::new(name), &rope, diagnostics)
}

/// Lints files and returns one report per file, sorted by path.
pub fn lint_files(files: &[PathBuf], roots: &[PathBuf]) -> Vec<FileReport> {
    lint_within(files, files, template_index(files), roots)
}

/// Lints files as `lint_files` does (for benchmarks and other callers of the library).
pub fn lint_workspace(files: &[PathBuf], roots: &[PathBuf]) -> Vec<FileReport> {
    lint_files(files, roots)
}

/// How many files one batch loads at most (whole folders, so a batch may hold more when one folder does):
/// enough for every core to stay busy, few enough that the parsed files of one batch stay small.
const BATCH_FILES: usize = 512;

/// The constraint templates among `files`, with their texts: the cross-file index of [`lint_within`]. A
/// cheap look at the text (the apiVersion group) picks them; a false match only costs memory.
pub fn template_index(files: &[PathBuf]) -> Vec<(PathBuf, String)> {
    files
        .par_iter()
        .filter_map(|path| {
            let text = read_text(path).ok()?;
            text.contains("templates.gatekeeper.sh").then(|| (path.clone(), text))
        })
        .collect()
}

/// Lints `files`, a part of the run's `walked` files, with `index` (the constraint templates, see
/// [`template_index`]) loaded throughout, reporting on `files` only, sorted by path.
///
/// Memory stays flat as the tree grows: the analysis holds the cross-file index (the constraint templates,
/// which govern constraints anywhere in the tree: the one check that reads files it does not name) for
/// the whole run, and the other files one batch of
/// folders at a time; each batch is diagnosed, turned into reports that keep source lines only for files
/// with findings, and unloaded. A batch holds whole folders of `walked`, because a file's checks read its
/// neighbours (a Chainsaw test beside a file decides how it is read). Every other file a check reads (the
/// policies and resources a test names) comes from the disk, as it would from a loaded copy.
pub fn lint_within(
    files: &[PathBuf],
    walked: &[PathBuf],
    index: Vec<(PathBuf, String)>,
    roots: &[PathBuf],
) -> Vec<FileReport> {
    let mut host = AnalysisHost::new(Arc::new(DiskFiles::within(roots)));
    // The walk already left excluded files out; a file named on the command line is linted regardless.
    host.set_configs(crate::vfs::read_configs(roots).iter().map(|config| config.without_exclude()).collect());
    let index: Vec<(PathBuf, SourceFile)> =
        index.par_iter().map(|(path, text)| (absolute_path(path), SourceFile::new_without_trees(text))).collect();
    let mut indexed: HashSet<PathBuf> = HashSet::new();
    for (key, source) in index {
        indexed.insert(key.clone());
        host.set_source(key, source);
    }
    let mut checked: BTreeMap<&Path, Vec<&PathBuf>> = BTreeMap::new();
    for path in files {
        checked.entry(path.parent().unwrap_or(Path::new(""))).or_default().push(path);
    }
    // Only the folders checked need their neighbours (with --changed-since, a few of thousands).
    let checked_folders: HashSet<&Path> = checked.keys().copied().collect();
    let mut neighbours: HashMap<&Path, Vec<&PathBuf>> = HashMap::new();
    for path in walked {
        let folder = path.parent().unwrap_or(Path::new(""));
        if checked_folders.contains(folder) {
            neighbours.entry(folder).or_default().push(path);
        }
    }
    let mut reports = Vec::with_capacity(files.len());
    let mut folders = checked.into_iter().peekable();
    while folders.peek().is_some() {
        let mut batch: Vec<&PathBuf> = Vec::new();
        let mut to_load: Vec<&PathBuf> = Vec::new();
        while let Some((folder, checked_here)) = folders.next_if(|_| to_load.len() < BATCH_FILES) {
            let beside = neighbours.get(folder).map(Vec::as_slice).unwrap_or_default();
            to_load.extend(beside.iter().copied().chain(checked_here.iter().copied()));
            batch.extend(checked_here);
        }
        to_load.sort();
        to_load.dedup();
        let loaded: Vec<(PathBuf, Result<SourceFile, FileError>)> = to_load
            .par_iter()
            .filter(|path| !indexed.contains(&absolute_path(path)))
            .map(|path| (absolute_path(path), read_text(path).map(|text| SourceFile::new_without_trees(&text))))
            .collect();
        let mut unreadable: HashMap<PathBuf, FileError> = HashMap::new();
        let mut batch_keys = Vec::with_capacity(loaded.len());
        for (key, source) in loaded {
            match source {
                Ok(source) => {
                    batch_keys.push(key.clone());
                    host.set_source(key, source);
                }
                // An unreadable neighbour is reported when it is itself checked, not here.
                Err(error) => {
                    unreadable.insert(key, error);
                }
            }
        }
        let analysis = host.snapshot();
        reports.par_extend(batch.par_iter().filter_map(|path| {
            let key = absolute_path(path);
            match analysis.file(&key) {
                Some(file) => Some(locate(path, file.source.rope(), analysis.diagnostics(&key))),
                None => unreadable.get(&key).map(|error| unreadable_report(&analysis, path, error)),
            }
        }));
        // The snapshot shares the file table: dropping it first lets the host unload in place, not copy.
        drop(analysis);
        for key in &batch_keys {
            host.remove_file(key);
        }
    }
    reports.sort_by(|left, right| left.path.cmp(&right.path));
    reports
}

/// The report of a file that could not be read.
fn unreadable_report(analysis: &Analysis, path: &Path, error: &FileError) -> FileReport {
    // The settings govern this code like any other: a repository may disable `file` or re-grade it.
    let diagnostic = Diagnostic::new(Code::FileUnreadable, TextRange::empty(0), error.to_string());
    let diagnostics = match analysis.config_for(&absolute_path(path)) {
        Some(config) => config.apply(vec![diagnostic]),
        None => vec![diagnostic],
    };
    let diagnostics = diagnostics
        .into_iter()
        .map(|diagnostic| LocatedDiagnostic {
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
            severity: diagnostic.severity,
            code: diagnostic.code,
            message: diagnostic.message,
        })
        .collect();
    FileReport { path: path.display().to_string(), lines: Vec::new(), diagnostics }
}

fn locate(path: &std::path::Path, rope: &ropey::Rope, diagnostics: Vec<Diagnostic>) -> FileReport {
    let index = LineIndex::new(rope);
    let position = |offset: usize| {
        let line_col = index.line_col(offset, PositionEncoding::Utf32);
        (line_col.line + 1, line_col.column + 1)
    };
    let located: Vec<LocatedDiagnostic> = diagnostics
        .into_iter()
        .map(|diagnostic| {
            let TextRange { start, end } = diagnostic.range;
            let (line, column) = position(start);
            let (end_line, end_column) = position(end);
            LocatedDiagnostic {
                line,
                column,
                end_line,
                end_column,
                severity: diagnostic.severity,
                code: diagnostic.code,
                message: diagnostic.message,
            }
        })
        .collect();
    // Only code frames quote lines, and only of files with findings: a clean file keeps none, so the reports
    // of a large tree stay small.
    let lines = if located.is_empty() {
        Vec::new()
    } else {
        rope.lines().map(|line| line.to_string().trim_end_matches(['\n', '\r']).to_string()).collect()
    };
    FileReport { path: path.display().to_string(), lines, diagnostics: located }
}
