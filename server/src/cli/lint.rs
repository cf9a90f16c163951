//! `policy-lsp lint`: loads the files into the analysis host, runs the same analysis as the server in
//! parallel, and renders the result.

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
    let files = match walk_policy_files(&paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitStatus::UsageError;
        }
    };
    let roots: Vec<PathBuf> = paths.iter().map(|path| crate::vfs::workspace_root(path)).collect();
    let files = crate::vfs::drop_excluded(files, &paths, &crate::vfs::read_configs(&roots));
    // A directory with nothing to check is a mistyped path as often as an empty one: say which.
    let empty: Vec<&PathBuf> =
        paths.iter().filter(|path| path.is_dir() && !files.iter().any(|file| file.starts_with(path))).collect();
    for path in &empty {
        eprintln!("warning: no YAML or .rego files to check under {}", path.display());
    }
    let mut reports = match &options.changed.changed_since {
        None => lint_files(&files, &roots),
        Some(reference) => {
            let changed = match super::changed::changed_files(reference, &super::changed::git_directory(&paths)) {
                Ok(changed) => changed,
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitStatus::UsageError;
                }
            };
            let affected = super::changed::affected(&files, &changed, &roots, "kyverno-test.yaml");
            let Linted { reports, host, analysis } = lint_within(&affected.files, &affected.context, &roots);
            std::mem::forget(analysis);
            std::mem::forget(host);
            reports
        }
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

/// Lints files and returns one report per file, in the order given.
pub fn lint_files(files: &[PathBuf], roots: &[PathBuf]) -> Vec<FileReport> {
    let Linted { reports, host, analysis } = lint_workspace(files, roots);
    // The process ends right after rendering: freeing every tree and value one by one would only cost time.
    std::mem::forget(analysis);
    std::mem::forget(host);
    reports
}

/// The reports of a lint run and the analysis they came from, which costs time to free.
pub struct Linted {
    pub reports: Vec<FileReport>,
    host: AnalysisHost,
    analysis: Analysis,
}

/// Lints files as `lint_files` does, handing back the analysis instead of leaking it (for benchmarks and
/// other callers that outlive the run).
pub fn lint_workspace(files: &[PathBuf], roots: &[PathBuf]) -> Linted {
    lint_within(files, &[], roots)
}

/// Lints `files` with `context` loaded beside them (files their checks may read from the analysis, such
/// as the templates that govern a constraint), reporting on `files` only.
fn lint_within(files: &[PathBuf], context: &[PathBuf], roots: &[PathBuf]) -> Linted {
    let loaded: Vec<(PathBuf, Result<SourceFile, FileError>)> = files
        .par_iter()
        .chain(context.par_iter())
        .map(|path| {
            let source = read_text(path).map(|text| SourceFile::new_without_trees(&text));
            (path.clone(), source)
        })
        .collect();
    let mut host = AnalysisHost::new(Arc::new(DiskFiles::within(roots)));
    // The walk already left excluded files out; a file named on the command line is linted regardless.
    host.set_configs(crate::vfs::read_configs(roots).iter().map(|config| config.without_exclude()).collect());
    let mut unreadable = Vec::new();
    for (index, (path, source)) in loaded.into_iter().enumerate() {
        match source {
            Ok(source) => host.set_source(absolute_path(&path), source),
            // An unreadable context file is reported when it is itself checked, not here.
            Err(error) if index < files.len() => unreadable.push((path, error)),
            Err(_) => {}
        }
    }
    let analysis = host.snapshot();
    let mut reports: Vec<FileReport> = files
        .par_iter()
        .filter_map(|path| {
            let key = absolute_path(path);
            let file = analysis.file(&key)?;
            let diagnostics = analysis.diagnostics(&key);
            Some(locate(path, file.source.rope(), diagnostics))
        })
        .collect();
    for (path, error) in unreadable {
        // The settings govern this code like any other: a repository may disable `file` or re-grade it.
        let diagnostic = Diagnostic::new(Code::FileUnreadable, TextRange::empty(0), error.to_string());
        let diagnostics = match analysis.config_for(&absolute_path(&path)) {
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
        reports.push(FileReport { path: path.display().to_string(), lines: Vec::new(), diagnostics });
    }
    reports.sort_by(|left, right| left.path.cmp(&right.path));
    Linted { reports, host, analysis }
}

fn locate(path: &std::path::Path, rope: &ropey::Rope, diagnostics: Vec<Diagnostic>) -> FileReport {
    let index = LineIndex::new(rope);
    let position = |offset: usize| {
        let line_col = index.line_col(offset, PositionEncoding::Utf32);
        (line_col.line + 1, line_col.column + 1)
    };
    let located = diagnostics
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
    let lines = rope.lines().map(|line| line.to_string().trim_end_matches(['\n', '\r']).to_string()).collect();
    FileReport { path: path.display().to_string(), lines, diagnostics: located }
}
