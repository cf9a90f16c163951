//! Tests inline: runs a test file against the editor's buffers, remembers exactly what it read so only the
//! runs an edit affects are redone, and turns results into code lenses, diagnostics on failing
//! expectations and hovers that explain a result.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::types::{HoverResult, normalize_path, span_range};
use super::workspace::{FileData, Workspace};
use crate::base::{Code, Diagnostic, RelatedInformation, TextRange};
use crate::model::DocumentKind;
use crate::schema::Target;
use crate::syntax::SourceFile;
use crate::testrun::opa::is_rego_file;
use crate::testrun::{FileError, FileSource, Framework, Outcome, SourceRef, Subject, TestReport, TestResult};

/// The command a code lens runs: the LSP's `policy-lsp.runTests`, on the lens's test file.
pub const RUN_TESTS_COMMAND: &str = "policy-lsp.runTests";

/// How a run reached a path: reading it as a file, or listing it as a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    List,
}

/// One input of a run: what it held when the run reached it (`None`: absent), as a hash.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Input {
    path: PathBuf,
    access: Access,
    fingerprint: Option<u64>,
}

/// One test file's results, with every file the run depended on.
#[derive(Debug)]
pub struct InlineRun {
    pub test_file: PathBuf,
    pub framework: Framework,
    pub report: TestReport,
    inputs: Vec<Input>,
}

impl InlineRun {
    /// Whether the run read or listed `path` (a change there can change its results).
    pub fn depends_on(&self, path: &Path) -> bool {
        self.test_file == path
            || self.inputs.iter().any(|input| {
                input.path == path || (input.access == Access::List && path.parent() == Some(input.path.as_path()))
            })
    }

    /// The files whose lenses and diagnostics the run's results land on: the test file, and for Rego unit
    /// tests (whose run is of a folder) each module that defines a test.
    pub fn result_files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.test_file.clone()];
        files.extend(self.report.results.iter().map(|result| result.file.clone()));
        files.sort();
        files.dedup();
        files
    }

    /// Whether every input still holds what the run saw.
    pub(super) fn is_current(&self, workspace: &Workspace) -> bool {
        self.inputs.iter().all(|input| fingerprint(workspace, &input.path, input.access) == input.fingerprint)
    }
}

fn hash_of(value: impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

fn fingerprint(workspace: &Workspace, path: &Path, access: Access) -> Option<u64> {
    match access {
        Access::Read => workspace.read(path).map(|text| hash_of(&*text)),
        Access::List => workspace.list_dir(path).map(hash_of),
    }
}

/// A file source over a workspace snapshot that records what the runner asked for.
struct Recording<'a> {
    workspace: &'a Workspace,
    inputs: Mutex<Vec<Input>>,
}

impl Recording<'_> {
    fn record(&self, path: &Path, access: Access, fingerprint: Option<u64>) {
        let mut inputs = self.inputs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !inputs.iter().any(|input| input.path == path && input.access == access) {
            inputs.push(Input { path: path.to_path_buf(), access, fingerprint });
        }
    }
}

impl FileSource for Recording<'_> {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        let path = normalize_path(path);
        match self.workspace.read(&path) {
            Some(text) => {
                self.record(&path, Access::Read, Some(hash_of(&*text)));
                Ok(text)
            }
            None => {
                self.record(&path, Access::Read, None);
                Err(self.workspace.disk.read(&path).err().unwrap_or_else(|| FileError::NotFound { path: path.clone() }))
            }
        }
    }

    fn documents(&self, path: &Path) -> Result<Vec<crate::syntax::Document>, FileError> {
        let normalized = normalize_path(path);
        match self.workspace.file(&normalized) {
            // A file the workspace holds is already parsed: its documents are shared, not parsed again.
            Some(file) => {
                self.record(&normalized, Access::Read, Some(hash_of(&*file.source.text())));
                Ok(loaded_documents(file))
            }
            None => self.read(path).map(|text| crate::syntax::parse_file(&text)),
        }
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        let path = normalize_path(path);
        let entries = self.workspace.list_dir(&path);
        self.record(&path, Access::List, entries.as_ref().map(hash_of));
        entries
    }

    fn current_time(&self) -> Option<DateTime<Utc>> {
        self.workspace.current_time()
    }
}

fn loaded_documents(file: &FileData) -> Vec<crate::syntax::Document> {
    file.source
        .segments()
        .iter()
        .map(|segment| crate::syntax::Document { start: segment.start, parsed: segment.parsed.clone() })
        .collect()
}

impl FileSource for Workspace {
    fn documents(&self, path: &Path) -> Result<Vec<crate::syntax::Document>, FileError> {
        match self.file(path) {
            Some(file) => Ok(loaded_documents(file)),
            None => FileSource::read(self, path).map(|text| crate::syntax::parse_file(&text)),
        }
    }

    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        Workspace::read(self, path).ok_or_else(|| {
            self.disk.read(path).err().unwrap_or_else(|| FileError::NotFound { path: path.to_path_buf() })
        })
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        Workspace::list_dir(self, path)
    }

    fn current_time(&self) -> Option<DateTime<Utc>> {
        Workspace::current_time(self)
    }
}

/// Runs one test file against the snapshot, recording its inputs.
pub(super) fn run_test(workspace: &Workspace, test_file: &Path, framework: Framework) -> InlineRun {
    let recording = Recording { workspace, inputs: Mutex::new(Vec::new()) };
    let report = crate::testrun::run(&recording, test_file, framework, Default::default());
    let inputs = recording.inputs.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    InlineRun { test_file: test_file.to_path_buf(), framework, report, inputs }
}

/// The test files whose results a change of `changed` can alter: the file itself when it is a test, the
/// tests that name it, and every earlier run that read it.
pub(super) fn affected_tests<'r>(
    workspace: &Workspace,
    changed: &[PathBuf],
    runs: impl Iterator<Item = &'r InlineRun> + Clone,
) -> Vec<(PathBuf, Framework)> {
    let mut found: Vec<(PathBuf, Framework)> = Vec::new();
    for path in changed {
        found.extend(super::index::test_files(workspace, Some(path)));
        found.extend(runs.clone().filter(|run| run.depends_on(path)).map(|run| (run.test_file.clone(), run.framework)));
    }
    found.sort_by(|left, right| left.0.cmp(&right.0));
    found.dedup_by(|left, right| left.0 == right.0);
    // A test file that is gone has nothing to run; it is dropped by the caller.
    found.retain(|(path, framework)| {
        *framework == Framework::Opa || workspace.knows(path) || workspace.read(path).is_some()
    });
    found
}

/// A code lens: a one-line summary above a rule, a policy, a results entry or a test, that re-runs the
/// test file when clicked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestLens {
    pub range: TextRange,
    pub title: String,
    /// The test file the command runs.
    pub test_file: PathBuf,
}

/// Counts of outcomes, rendered as a lens title.
#[derive(Default, Clone, Copy, Debug)]
struct Tally {
    passed: usize,
    failed: usize,
    errors: usize,
    unsupported: usize,
    skipped: usize,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail => self.failed += 1,
            Outcome::Error => self.errors += 1,
            Outcome::Unsupported => self.unsupported += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }

    fn of<'r>(results: impl IntoIterator<Item = &'r TestResult>) -> Tally {
        let mut tally = Tally::default();
        for result in results {
            tally.add(result.outcome);
        }
        tally
    }

    fn is_empty(&self) -> bool {
        self.passed + self.failed + self.errors + self.unsupported + self.skipped == 0
    }

    fn title(&self) -> String {
        let mut parts = Vec::new();
        if self.passed > 0 {
            parts.push(format!("✓ {} passed", self.passed));
        }
        if self.failed > 0 {
            parts.push(format!("✗ {} failed", self.failed));
        }
        if self.errors > 0 {
            parts.push(format!("✗ {} error{}", self.errors, if self.errors == 1 { "" } else { "s" }));
        }
        if self.unsupported > 0 {
            parts.push(format!("⚠ {} unsupported", self.unsupported));
        }
        if self.skipped > 0 {
            parts.push(format!("○ {} skipped", self.skipped));
        }
        parts.join("  ")
    }
}

/// The results entry a result belongs to: `/results/N` for Kyverno, the case (or test) for gator.
fn entry_pointer(result: &TestResult) -> Option<&str> {
    let pointer = result.location.as_ref()?.pointer.as_str();
    match result.framework {
        Framework::Kyverno => {
            let rest = pointer.strip_prefix("/results/")?;
            let end = rest.find('/').map_or(pointer.len(), |cut| "/results/".len() + cut);
            Some(&pointer[..end])
        }
        Framework::Gatekeeper => Some(pointer),
        Framework::Opa => None,
    }
}

/// Where a place in a file is, as a byte range, for a file the workspace holds or can read.
pub(super) fn locate(workspace: &Workspace, at: &SourceRef, target: Target) -> Option<TextRange> {
    if let Some(file) = workspace.file(&at.file) {
        let segment = file.source.segments().get(at.document)?;
        return Some(span_range(segment, &at.pointer, target));
    }
    let text = workspace.read(&at.file)?;
    let source = SourceFile::new(&text);
    let segment = source.segments().get(at.document)?;
    Some(span_range(segment, &at.pointer, target))
}

/// Code lenses for `path` from the runs that concern it: per results entry and per test in a test file,
/// per policy and rule in a policy file, per template or constraint in a Gatekeeper file.
pub(super) fn code_lenses(workspace: &Workspace, runs: &[Arc<InlineRun>], path: &Path) -> Vec<TestLens> {
    let Some(file) = workspace.file(path) else { return Vec::new() };
    if is_rego_file(path) {
        return rego_lenses(&file.source.text(), runs, path);
    }
    let mut lenses = Vec::new();
    for run in runs.iter().filter(|run| run.test_file == path) {
        lenses.extend(test_file_lenses(workspace, run));
    }
    let concerned: Vec<&Arc<InlineRun>> =
        runs.iter().filter(|run| run.test_file != path && run.depends_on(path)).collect();
    // An embedded test's own file is both: its policies get lenses from its own run too.
    let own: Vec<&Arc<InlineRun>> = runs.iter().filter(|run| run.test_file == path).collect();
    let relevant: Vec<&Arc<InlineRun>> = concerned.iter().chain(own.iter()).copied().collect();
    if relevant.is_empty() {
        return lenses;
    }
    for (index, (segment, info)) in file.source.segments().iter().zip(&file.documents).enumerate() {
        let at = |pointer: &str| SourceRef::yaml(path, index, pointer);
        match info.kind {
            DocumentKind::KyvernoPolicy | DocumentKind::KyvernoCelPolicy => {
                let Some(name) = info.name.as_deref() else { continue };
                let for_policy = |result: &&TestResult| match &result.subject {
                    Subject::Kyverno { policy, .. } => policy.rsplit('/').next() == Some(name),
                    Subject::Gatekeeper { .. } | Subject::Opa { .. } => false,
                };
                let results: Vec<(&InlineRun, &TestResult)> = relevant
                    .iter()
                    .flat_map(|run| run.report.results.iter().filter(for_policy).map(move |result| (&***run, result)))
                    .collect();
                if results.is_empty() {
                    continue;
                }
                let tally = Tally::of(results.iter().map(|(_, result)| *result));
                if let Some(range) = locate(workspace, &at("/metadata/name"), Target::Value) {
                    lenses.push(TestLens {
                        range,
                        title: format!("{} · {}", tally.title(), tests_phrase(&results)),
                        test_file: results[0].0.test_file.clone(),
                    });
                }
                let rules = segment.parsed.value.pointer("/spec/rules").and_then(Value::as_array);
                for (rule_index, rule) in rules.into_iter().flatten().enumerate() {
                    let Some(rule_name) = rule.get("name").and_then(Value::as_str) else { continue };
                    let for_rule: Vec<(&InlineRun, &TestResult)> = results
                        .iter()
                        .filter(|(_, result)| match &result.subject {
                            Subject::Kyverno { rule: Some(rule), .. } => {
                                rule == rule_name
                                    || rule.strip_prefix("autogen-cronjob-").or_else(|| rule.strip_prefix("autogen-"))
                                        == Some(rule_name)
                            }
                            _ => false,
                        })
                        .copied()
                        .collect();
                    if for_rule.is_empty() {
                        continue;
                    }
                    let tally = Tally::of(for_rule.iter().map(|(_, result)| *result));
                    if let Some(range) =
                        locate(workspace, &at(&format!("/spec/rules/{rule_index}/name")), Target::Value)
                    {
                        lenses.push(TestLens {
                            range,
                            title: tally.title(),
                            test_file: for_rule[0].0.test_file.clone(),
                        });
                    }
                }
            }
            DocumentKind::ConstraintTemplate | DocumentKind::Constraint => {
                for run in relevant.iter().filter(|run| run.framework == Framework::Gatekeeper) {
                    let tally = Tally::of(&run.report.results);
                    if tally.is_empty() {
                        continue;
                    }
                    if let Some(range) = locate(workspace, &at("/metadata/name"), Target::Value) {
                        let suite = run.test_file.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
                        lenses.push(TestLens {
                            range,
                            title: format!("{} · {suite}", tally.title()),
                            test_file: run.test_file.clone(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    lenses
}

fn tests_phrase(results: &[(&InlineRun, &TestResult)]) -> String {
    let mut files: Vec<&Path> = results.iter().map(|(run, _)| run.test_file.as_path()).collect();
    files.sort();
    files.dedup();
    match files.as_slice() {
        [only] => only.file_name().map(|name| name.to_string_lossy().to_string()).unwrap_or_default(),
        many => format!("{} test files", many.len()),
    }
}

fn test_file_lenses(workspace: &Workspace, run: &InlineRun) -> Vec<TestLens> {
    let mut lenses = Vec::new();
    let Some(first) = run.report.results.first().and_then(|result| result.location.as_ref()) else {
        return lenses;
    };
    let tally = Tally::of(&run.report.results);
    let header = SourceRef { pointer: "/kind".to_string(), ..first.clone() };
    if let Some(range) = locate(workspace, &header, Target::Value) {
        lenses.push(TestLens {
            range,
            title: format!("▶ Run tests  {}", tally.title()),
            test_file: run.test_file.clone(),
        });
    }
    let mut entries: Vec<(&str, Tally, &SourceRef)> = Vec::new();
    for result in &run.report.results {
        let (Some(entry), Some(location)) = (entry_pointer(result), result.location.as_ref()) else { continue };
        match entries.iter_mut().find(|(seen, ..)| *seen == entry) {
            Some((_, tally, _)) => tally.add(result.outcome),
            None => {
                let mut tally = Tally::default();
                tally.add(result.outcome);
                entries.push((entry, tally, location));
            }
        }
    }
    for (entry, tally, location) in entries {
        let at = SourceRef { pointer: entry.to_string(), ..location.clone() };
        if let Some(range) = locate(workspace, &at, Target::Value) {
            lenses.push(TestLens {
                range: first_line_of(workspace, &at.file, range),
                title: tally.title(),
                test_file: run.test_file.clone(),
            });
        }
    }
    lenses
}

/// Lenses sit on a line: keep only the first line of a multi-line node.
fn first_line_of(workspace: &Workspace, path: &Path, range: TextRange) -> TextRange {
    let Some(text) = workspace.read(path) else { return range };
    let end =
        text.get(range.start..range.end).and_then(|slice| slice.find('\n')).map_or(range.end, |cut| range.start + cut);
    TextRange::new(range.start, end)
}

/// Diagnostics in a test file for expectations that did not hold, with related places in the policy and
/// the resource that explain them.
pub(super) fn test_diagnostics(workspace: &Workspace, runs: &[Arc<InlineRun>], path: &Path) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // A failing Rego unit test is marked on its rule's name (the folder's compile problems are the file's
    // own diagnostics already).
    for (_, result) in rego_results(runs, path) {
        let Some(code) = failure_code(result.outcome) else { continue };
        let Some(span) = result.location.as_ref().and_then(|location| location.span) else { continue };
        out.push(Diagnostic::new(code, span, summary_line(result)));
    }
    for run in runs.iter().filter(|run| run.test_file == path) {
        for result in &run.report.results {
            let Some(code) = failure_code(result.outcome) else { continue };
            let Some(location) = &result.location else { continue };
            let Some(range) = locate(workspace, location, Target::Value) else { continue };
            let range = first_line_of(workspace, path, range);
            let mut diagnostic = Diagnostic::new(code, range, summary_line(result));
            for related in &result.related {
                if let Some(related_range) = locate(workspace, &related.at, Target::Value) {
                    let file = (related.at.file != path).then(|| related.at.file.clone());
                    diagnostic = diagnostic.with_related(RelatedInformation {
                        file,
                        range: related_range,
                        message: related.message.clone(),
                    });
                }
            }
            out.push(diagnostic);
        }
    }
    // The repository's settings (`lint.disable`, `lint.severity`) govern these codes like any other.
    match workspace.config_for(path) {
        Some(config) => config.apply(out),
        None => out,
    }
}

/// The code of a result that did not pass (`None` for a pass or a skip).
fn failure_code(outcome: Outcome) -> Option<Code> {
    match outcome {
        Outcome::Pass | Outcome::Skipped => None,
        Outcome::Fail => Some(Code::TestFailed),
        Outcome::Error => Some(Code::TestError),
        Outcome::Unsupported => Some(Code::TestUnsupported),
    }
}

/// The Rego unit test results of the tests `path` defines, with the run of its folder.
fn rego_results<'r>(
    runs: &'r [Arc<InlineRun>],
    path: &'r Path,
) -> impl Iterator<Item = (&'r InlineRun, &'r TestResult)> {
    runs.iter().filter(|run| run.framework == Framework::Opa).flat_map(move |run| {
        run.report.results.iter().filter(move |result| result.file == path).map(move |result| (&**run, result))
    })
}

/// The lenses of a `.rego` file: its result above each test rule, and the file's tally on the package line;
/// each runs the folder's tests again, as `opa test` runs them.
fn rego_lenses(text: &str, runs: &[Arc<InlineRun>], path: &Path) -> Vec<TestLens> {
    let results: Vec<(&InlineRun, &TestResult)> = rego_results(runs, path).collect();
    let Some((first_run, _)) = results.first() else { return Vec::new() };
    let mut lenses = Vec::new();
    let package_line = text.find("package ").map(|start| {
        let end = text[start..].find('\n').map_or(text.len(), |cut| start + cut);
        TextRange::new(start, end)
    });
    if let Some(range) = package_line {
        let tally = Tally::of(results.iter().map(|(_, result)| *result));
        lenses.push(TestLens {
            range,
            title: format!("▶ Run tests  {}", tally.title()),
            test_file: first_run.test_file.clone(),
        });
    }
    for (run, result) in results {
        let Some(span) = result.location.as_ref().and_then(|location| location.span) else { continue };
        let mut tally = Tally::default();
        tally.add(result.outcome);
        lenses.push(TestLens { range: span, title: tally.title(), test_file: run.test_file.clone() });
    }
    lenses
}

/// One line saying what was expected, what happened and why.
fn summary_line(result: &TestResult) -> String {
    let subject = match &result.subject {
        Subject::Kyverno { policy, rule, resource, .. } => match rule {
            Some(rule) => format!("{policy}/{rule} on {resource}"),
            None => format!("{policy} on {resource}"),
        },
        Subject::Gatekeeper { test, case } => match case {
            Some(case) => format!("{test} / {case}"),
            None => test.clone(),
        },
        Subject::Opa { package, test } => format!("{package}.{test}"),
    };
    let mut line = match result.outcome {
        Outcome::Unsupported => format!("{subject}: not evaluated ({})", result.reason),
        Outcome::Error => format!("{subject}: error, expected {}", result.expected),
        _ => format!("{subject}: expected {}, got {}", result.expected, result.actual),
    };
    let detail =
        if result.message.is_empty() || result.message == result.reason { &result.reason } else { &result.message };
    if !detail.is_empty() && result.outcome != Outcome::Unsupported {
        line.push_str(": ");
        line.push_str(first_sentence(detail));
    } else if result.outcome == Outcome::Unsupported && !result.message.is_empty() {
        line.push_str(": ");
        line.push_str(first_sentence(&result.message));
    }
    line
}

/// A diagnostic message stays readable: mutate messages carry whole resources; the hover has them.
fn first_sentence(text: &str) -> &str {
    let cut = text.find(": expected {").or_else(|| text.find('\n')).unwrap_or(text.len());
    let cut = cut.min(400);
    let mut end = cut;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A hover on a results entry or gator case: every result it produced, why, and a diff for mutations.
pub(super) fn result_hover(
    workspace: &Workspace,
    runs: &[Arc<InlineRun>],
    path: &Path,
    offset: usize,
) -> Option<HoverResult> {
    let file = workspace.file(path)?;
    let document = file.source.segment_at(offset)?;
    let segment = &file.source.segments()[document];
    for run in runs.iter().filter(|run| run.test_file == path) {
        // The innermost entry under the cursor: a gator case before its test.
        let mut best: Option<(TextRange, &str)> = None;
        for result in &run.report.results {
            let Some(location) = &result.location else { continue };
            if location.document != document {
                continue;
            }
            let Some(entry) = entry_pointer(result) else { continue };
            let Some(span) = segment.parsed.source_map.get(entry) else { continue };
            let range = TextRange::new(segment.start + span.value.start, segment.start + span.value.end);
            if range.start <= offset && offset <= range.end && best.is_none_or(|(known, _)| range.len() < known.len()) {
                best = Some((range, entry));
            }
        }
        let Some((range, entry)) = best else { continue };
        let results: Vec<&TestResult> =
            run.report.results.iter().filter(|result| entry_pointer(result) == Some(entry)).collect();
        return Some(HoverResult { range, markdown: explain(workspace, &results) });
    }
    None
}

fn explain(workspace: &Workspace, results: &[&TestResult]) -> String {
    let mut out = String::new();
    let tally = Tally::of(results.iter().copied());
    let _ = writeln!(out, "**Test results** — {}\n", tally.title());
    for result in results {
        let mark = match result.outcome {
            Outcome::Pass => "✓",
            Outcome::Fail | Outcome::Error => "✗",
            Outcome::Unsupported => "⚠",
            Outcome::Skipped => "○",
        };
        let subject = match &result.subject {
            Subject::Kyverno { policy, rule, resource, .. } => {
                let target = result.resource_id.clone().unwrap_or_else(|| resource.clone());
                match rule {
                    Some(rule) => format!("`{policy}` / `{rule}` on `{target}`"),
                    None => format!("`{policy}` on `{target}`"),
                }
            }
            Subject::Gatekeeper { test, case } => match case {
                Some(case) => format!("`{test}` / `{case}`"),
                None => format!("`{test}`"),
            },
            Subject::Opa { package, test } => format!("`{package}.{test}`"),
        };
        let _ = writeln!(out, "{mark} {subject}: expected **{}**, got **{}**", result.expected, result.actual);
        if !result.reason.is_empty() && result.reason != "Ok" {
            let _ = writeln!(out, "\n  - reason: {}", result.reason);
        }
        if !result.message.is_empty() && result.message != result.reason && result.diff.is_none() {
            let _ = writeln!(out, "  - message: {}", result.message.replace('\n', " "));
        }
        for related in &result.related {
            let place = describe_place(workspace, &related.at);
            let _ = writeln!(out, "  - {}: {place}", related.message);
        }
        if let Some(diff) = &result.diff {
            let _ = writeln!(out, "\n```diff\n{}```", diff);
        }
        out.push('\n');
    }
    out
}

/// `file:line`, 1-based, for a hover.
fn describe_place(workspace: &Workspace, at: &SourceRef) -> String {
    let name = at.file.file_name().map(|name| name.to_string_lossy().to_string()).unwrap_or_default();
    let Some(range) = locate(workspace, at, Target::Value) else { return format!("{name} {}", at.pointer) };
    let line =
        workspace.read(&at.file).map(|text| text[..range.start.min(text.len())].matches('\n').count() + 1).unwrap_or(0);
    format!("{name}:{line} (`{}`)", at.pointer)
}
