//! `policy-lsp test`: finds Kyverno Test files and gator Suites, runs them in parallel through the shared
//! runners, times each file, places results and problems on lines, and renders them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::{ExitStatus, OutputFormat};
use crate::base::{LineIndex, PositionEncoding};
use crate::model::DocumentKind;
use crate::report::test::{
    TestRun, TestSummary, TextOptions, render_github, render_json, render_junit, render_markdown, render_text,
};
use crate::syntax::SourceFile;
use crate::testrun::{FileSource, Framework, SourceRef, TestReport, gatekeeper, kyverno};
use crate::vfs::{DiskFiles, RecordingFiles, absolute_path, read_text, walk_yaml_files};

pub struct TestOptions {
    pub paths: Vec<PathBuf>,
    pub output: OutputFormat,
    /// The name of Kyverno test files (kyverno's `--file-name`).
    pub file_name: String,
    pub detailed_results: bool,
    pub fail_only: bool,
    /// Print where the time went, and the time it takes just to read and parse the files the run read.
    pub timings: bool,
    /// kyverno's `--registry`: imageRegistry context entries would be fetched from registries.
    pub registry: bool,
    pub changed: super::changed::ChangedFlags,
}

/// A test file found by discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovered {
    pub path: PathBuf,
    pub framework: Framework,
}

pub fn run(options: TestOptions) -> ExitStatus {
    let started = Instant::now();
    let paths = if options.paths.is_empty() { vec![PathBuf::from(".")] } else { options.paths.clone() };
    let files = match walk_yaml_files(&paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitStatus::UsageError;
        }
    };
    let roots: Vec<PathBuf> = paths.iter().map(|path| crate::vfs::workspace_root(path)).collect();
    let files = crate::vfs::drop_excluded(files, &paths, &crate::vfs::read_configs(&roots));
    let files = match &options.changed.changed_since {
        None => files,
        Some(reference) => match super::changed::changed_files(reference, &super::changed::git_directory(&paths)) {
            Ok(changed) => super::changed::affected(&files, &changed, &roots, &options.file_name).files,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitStatus::UsageError;
            }
        },
    };
    let walked = started.elapsed();
    let discovered = discover(&files, &options.file_name);
    let discovered_at = started.elapsed();
    if let Some(reference) = &options.changed.changed_since
        && discovered.is_empty()
    {
        // Nothing any test reads changed: a clean run, not a mistyped path.
        eprintln!("no test file is affected by the changes since {reference}");
        return ExitStatus::Success;
    }
    if discovered.is_empty() {
        eprintln!(
            "error: no Kyverno test files (named `{}`) or gator Suites found under {}",
            options.file_name,
            paths.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", ")
        );
        return ExitStatus::UsageError;
    }
    eprintln!("Running {} test file{} ...", discovered.len(), if discovered.len() == 1 { "" } else { "s" });
    let disk = DiskFiles::within(&roots);
    // Only a timed run remembers what it read: the parse-only yardstick needs the list.
    let recording = options.timings.then(|| RecordingFiles::new(disk.clone()));
    let files_source: &dyn FileSource = match &recording {
        Some(recording) => recording,
        None => &disk,
    };
    let kyverno_options = kyverno::RunOptions { registry_access: options.registry };
    let runs = run_tests_with_options(files_source, &discovered, kyverno_options);
    let ran_at = started.elapsed();
    let total_results: usize = runs.iter().map(|run| run.report.results.len()).sum();
    let rendered = match options.output {
        OutputFormat::Text => {
            render_text(&runs, TextOptions { detailed_results: options.detailed_results, fail_only: options.fail_only })
        }
        OutputFormat::Json => render_json(&runs),
        OutputFormat::Junit => render_junit(&runs),
        OutputFormat::Github => render_github(&runs),
        OutputFormat::Markdown => render_markdown(&runs),
        OutputFormat::Sarif => {
            eprintln!("error: `test` does not support --output sarif; use json, junit, github or markdown");
            return ExitStatus::UsageError;
        }
    };
    print!("{rendered}");
    if let Some(recording) = &recording {
        let phases = Phases { walk: walked, discover: discovered_at, run: ran_at, total: started.elapsed() };
        print_timings(&phases, files.len(), discovered.len(), recording);
    }
    let summary = TestSummary::of(&runs);
    if total_results == 0 && summary.problems == 0 {
        eprintln!("error: the test files define no results to check");
        return ExitStatus::UsageError;
    }
    if summary.problems > 0 && total_results == 0 {
        return ExitStatus::UsageError;
    }
    if summary.all_passed() { ExitStatus::Success } else { ExitStatus::Failure }
}

/// Kyverno test files by name; gator Suites by content (gator reads every YAML file and keeps the Suites).
pub fn discover(files: &[PathBuf], kyverno_file_name: &str) -> Vec<Discovered> {
    files
        .par_iter()
        .filter_map(|path| {
            if path.file_name().is_some_and(|name| name == kyverno_file_name) {
                return Some(Discovered { path: path.clone(), framework: Framework::Kyverno });
            }
            let text = read_text(path).ok()?;
            let maybe_suite = text.contains("test.gatekeeper.sh") && text.contains("Suite");
            let maybe_embedded_test = text.contains("cli.kyverno.io") && text.contains("Test");
            if !maybe_suite && !maybe_embedded_test {
                return None;
            }
            let documents = crate::syntax::parse_file(&text);
            if maybe_suite && documents.iter().any(|document| gatekeeper::is_suite(&document.value)) {
                return Some(Discovered { path: path.clone(), framework: Framework::Gatekeeper });
            }
            // A Kyverno Test embedded in a policy's own file runs whatever the file is called.
            let kinds: Vec<DocumentKind> =
                documents.iter().map(|document| crate::model::classify(&document.value).kind).collect();
            (kinds.contains(&DocumentKind::KyvernoTest) && kinds.iter().any(DocumentKind::is_kyverno_policy))
                .then(|| Discovered { path: path.clone(), framework: Framework::Kyverno })
        })
        .collect()
}

/// Runs each discovered file, in parallel, keeping the discovery order.
pub fn run_tests(discovered: &[Discovered], roots: &[PathBuf]) -> Vec<TestRun> {
    run_tests_with(&DiskFiles::within(roots), discovered)
}

/// Runs each discovered file, reading through `files`, in parallel, keeping the discovery order.
pub fn run_tests_with(files: &dyn FileSource, discovered: &[Discovered]) -> Vec<TestRun> {
    run_tests_with_options(files, discovered, kyverno::RunOptions::default())
}

/// Runs each discovered file with the given Kyverno options, reading through `files`, in parallel,
/// keeping the discovery order.
pub fn run_tests_with_options(
    files: &dyn FileSource,
    discovered: &[Discovered],
    kyverno_options: kyverno::RunOptions,
) -> Vec<TestRun> {
    discovered
        .par_iter()
        .map(|test| {
            let absolute = absolute_path(&test.path);
            let started = Instant::now();
            let report = crate::testrun::run(files, &absolute, test.framework, kyverno_options);
            let duration = started.elapsed();
            let mut locator = Locator::default();
            let result_lines = report
                .results
                .iter()
                .map(|result| result.location.as_ref().and_then(|at| locator.locate(at)).map(|(line, _)| line))
                .collect();
            let problem_locations = problem_locations(&mut locator, &absolute, &report);
            TestRun {
                path: test.path.display().to_string(),
                framework: test.framework,
                report,
                duration,
                result_lines,
                problem_locations,
            }
        })
        .collect()
}

/// What reading and parsing a set of files found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOnly {
    pub files: usize,
    pub bytes: usize,
    pub documents: usize,
}

/// Reads and parses each file once, in parallel, as the runners parse them and nothing more: the yardstick
/// `test --timings` compares a test run with.
pub fn parse_only(paths: &[PathBuf]) -> ParseOnly {
    paths
        .par_iter()
        .filter_map(|path| read_text(path).ok())
        .map(|text| ParseOnly { files: 1, bytes: text.len(), documents: crate::syntax::parse_file(&text).len() })
        .reduce(ParseOnly::default, |left, right| ParseOnly {
            files: left.files + right.files,
            bytes: left.bytes + right.bytes,
            documents: left.documents + right.documents,
        })
}

/// Elapsed times since `run` started, at the end of each phase.
struct Phases {
    walk: Duration,
    discover: Duration,
    run: Duration,
    total: Duration,
}

fn print_timings(phases: &Phases, walked: usize, discovered: usize, recording: &RecordingFiles) {
    let files_read = recording.files_read();
    let parse_started = Instant::now();
    let parsed = parse_only(&files_read);
    let parse = parse_started.elapsed();
    let milliseconds = |duration: Duration| duration.as_secs_f64() * 1000.0;
    eprintln!(
        "timings: walk {:.0} ms ({walked} YAML files), discover {:.0} ms ({discovered} test files), run {:.0} ms, \
         render {:.0} ms; total {:.0} ms",
        milliseconds(phases.walk),
        milliseconds(phases.discover - phases.walk),
        milliseconds(phases.run - phases.discover),
        milliseconds(phases.total - phases.run),
        milliseconds(phases.total),
    );
    eprintln!(
        "timings: parse only (read and parse once each of the {} files the run read {} times, {:.1} MB, {} \
         documents) {:.0} ms; total / parse only = {:.1}x",
        parsed.files,
        recording.reads(),
        parsed.bytes as f64 / 1e6,
        parsed.documents,
        milliseconds(parse),
        phases.total.as_secs_f64() / parse.as_secs_f64().max(1e-9),
    );
}

fn problem_locations(locator: &mut Locator, test_path: &Path, report: &TestReport) -> Vec<(u32, u32, String)> {
    report
        .problems
        .iter()
        .map(|problem| {
            let (line, column) = locator.locate(&problem.at).unwrap_or((1, 1));
            let message = if problem.at.file == test_path || problem.at.file.as_os_str().is_empty() {
                format!("{} [{}]", problem.message, problem.code)
            } else {
                format!("{}:{line}:{column}: {} [{}]", problem.at.file.display(), problem.message, problem.code)
            };
            (line, column, message)
        })
        .collect()
}

/// Turns (file, document, pointer) places into 1-based lines and columns, parsing each file once.
#[derive(Default)]
struct Locator {
    files: HashMap<PathBuf, Option<Arc<SourceFile>>>,
}

impl Locator {
    fn locate(&mut self, at: &SourceRef) -> Option<(u32, u32)> {
        let file = self
            .files
            .entry(at.file.clone())
            .or_insert_with(|| read_text(&at.file).ok().map(|text| Arc::new(SourceFile::new_without_trees(&text))))
            .clone()?;
        let segment = file.segments().get(at.document)?;
        let (_, span) = segment.parsed.source_map.nearest(&at.pointer)?;
        let offset = segment.start + span.key_or_value().start;
        let position = LineIndex::new(file.rope()).line_col(offset, PositionEncoding::Utf32);
        Some((position.line + 1, position.column + 1))
    }
}
