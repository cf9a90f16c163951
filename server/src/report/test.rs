//! Renders test reports: kyverno-style tables, gator-style lines, `opa test` lines, JSON, JUnit XML, GitHub
//! annotations and Markdown. Every renderer takes the same `TestRun` list.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::{github_escape_data, github_escape_property, xml_escape};
use crate::syntax::emit::to_yaml;
use crate::testrun::{Framework, Outcome, Problem, Subject, TestReport, TestResult};

/// One test file's report, with what the CLI measured and located around it.
pub struct TestRun {
    /// The path as reached from the path the user gave.
    pub path: String,
    pub framework: Framework,
    pub report: TestReport,
    pub duration: Duration,
    /// 1-based line of each result's entry in the test file (same order as `report.results`).
    pub result_lines: Vec<Option<u32>>,
    /// Each problem as `(line, column, message)`, 1-based.
    pub problem_locations: Vec<(u32, u32, String)>,
}

/// Counts over all runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestSummary {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub unsupported: usize,
    pub skipped: usize,
    /// Problems that stop or fail the real tool's run.
    pub problems: usize,
    /// Problems the real tool tolerates ([`crate::testrun::Problem::tolerated`]): warnings, which fail a
    /// run only under `--strict`.
    pub warnings: usize,
}

impl TestSummary {
    pub fn of(runs: &[TestRun]) -> TestSummary {
        let mut summary = TestSummary::default();
        for run in runs {
            summary.add(&run.report);
        }
        summary
    }

    /// The counts in a few words, as a notification shows them: "2 passed, 1 failed", then errors,
    /// unsupported results and problems where there are any.
    pub fn counts(&self) -> String {
        let mut parts = vec![format!("{} passed", self.passed), format!("{} failed", self.failed)];
        for (count, what) in [
            (self.errors, "errors"),
            (self.unsupported, "unsupported"),
            (self.skipped, "skipped"),
            (self.problems, "problems"),
        ] {
            if count > 0 {
                parts.push(format!("{count} {what}"));
            }
        }
        parts.join(", ")
    }

    /// Counts one test file's report in.
    pub fn add(&mut self, report: &TestReport) {
        for problem in &report.problems {
            if problem.tolerated() {
                self.warnings += 1;
            } else {
                self.problems += 1;
            }
        }
        for result in &report.results {
            match result.outcome {
                Outcome::Pass => self.passed += 1,
                Outcome::Fail => self.failed += 1,
                Outcome::Error => self.errors += 1,
                Outcome::Unsupported => self.unsupported += 1,
                Outcome::Skipped => self.skipped += 1,
            }
        }
    }
}

/// Options of the text renderer.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    pub detailed_results: bool,
    pub fail_only: bool,
    /// Also list passing gator cases (`gator verify -v`) and passing Rego tests (`opa test -v`).
    pub verbose: bool,
}

/// `warning` for a problem the real tool tolerates, `error` for one that stops its run.
fn severity_name(problem: &Problem) -> &'static str {
    if problem.tolerated() { "warning" } else { "error" }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Error => "error",
        Outcome::Unsupported => "unsupported",
        Outcome::Skipped => "skipped",
    }
}

fn resource_label(result: &TestResult) -> String {
    if let Some(resource_id) = &result.resource_id {
        return resource_id.clone();
    }
    match &result.subject {
        Subject::Kyverno { resource, kind, .. } => match kind {
            Some(kind) => format!("{kind}/{resource}"),
            None => resource.clone(),
        },
        Subject::Gatekeeper { test, case } => match case {
            Some(case) => format!("{test}/{case}"),
            None => test.clone(),
        },
        Subject::Opa { package, test } => format!("{package}.{test}"),
    }
}

/// A result's file as the user reached it: a Rego test's module inside the run's folder, any other
/// result's test file.
fn result_file(run: &TestRun, result: &TestResult) -> String {
    match run.framework {
        Framework::Opa => display_file(run, &result.file),
        _ => run.path.clone(),
    }
}

/// A file of a Rego test folder, spelled from the folder's path as the user gave it.
fn display_file(run: &TestRun, file: &Path) -> String {
    match file.file_name() {
        Some(name) => {
            let joined = Path::new(&run.path).join(name);
            joined.strip_prefix(".").unwrap_or(&joined).display().to_string()
        }
        None => file.display().to_string(),
    }
}

/// The file a problem is shown in: a Rego folder's problem names its own `.rego` file, any other problem
/// the test file of its run.
fn problem_file(run: &TestRun, problem: &Problem) -> String {
    match run.framework {
        Framework::Opa => display_file(run, &problem.at.file),
        Framework::Kyverno | Framework::Gatekeeper => run.path.clone(),
    }
}

/// Kyverno runs as `kyverno test` tables; gator runs as `ok`/`--- FAIL` lines; Rego tests as `opa test`
/// prints them (with its `PASS: n/m` summary); then one summary line.
pub fn render_text(runs: &[TestRun], options: TextOptions) -> String {
    let mut out = String::new();
    let mut opa = OpaText::default();
    for run in runs {
        for ((line, column, message), problem) in run.problem_locations.iter().zip(&run.report.problems) {
            let file = problem_file(run, problem);
            let _ = writeln!(out, "{file}:{line}:{column}: {}: {message}", severity_name(problem));
        }
        match run.framework {
            Framework::Kyverno => kyverno_table(&mut out, run, options),
            Framework::Gatekeeper => gator_lines(&mut out, run, options),
            Framework::Opa => opa.lines(&mut out, run, options),
        }
    }
    opa.summary(&mut out, runs);
    let summary = TestSummary::of(runs);
    let _ = write!(
        out,
        "\nTest Summary: {} tests passed and {} tests failed",
        summary.passed,
        summary.failed + summary.errors
    );
    if summary.unsupported > 0 {
        let _ = write!(out, " ({} unsupported)", summary.unsupported);
    }
    if summary.skipped > 0 {
        let _ = write!(out, " ({} skipped)", summary.skipped);
    }
    out.push('\n');
    out
}

fn kyverno_table(out: &mut String, run: &TestRun, options: TextOptions) {
    let _ = writeln!(out, "\nLoading test {} ...", run.path);
    let mut header = vec!["ID", "POLICY", "RULE", "RESOURCE", "RESULT", "REASON"];
    if options.detailed_results {
        header.push("MESSAGE");
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for result in &run.report.results {
        if options.fail_only && result.outcome == Outcome::Pass {
            continue;
        }
        let Subject::Kyverno { policy, rule, .. } = &result.subject else { continue };
        let mut row = vec![
            (rows.len() + 1).to_string(),
            policy.clone(),
            rule.clone().unwrap_or_default(),
            resource_label(result),
            match result.outcome {
                Outcome::Pass => "Pass".to_string(),
                Outcome::Fail => "Fail".to_string(),
                Outcome::Error => "Error".to_string(),
                Outcome::Unsupported => "Unsupported".to_string(),
                Outcome::Skipped => "Skipped".to_string(),
            },
            result.reason.clone(),
        ];
        if options.detailed_results {
            row.push(result.message.replace('\n', " "));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        let _ = writeln!(out, "  (no results{})", if options.fail_only { " to show: every result passed" } else { "" });
        return;
    }
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in &rows {
        for (index, cell) in row.iter().enumerate() {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    let render_row = |cells: &[String]| -> String {
        let padded: Vec<String> =
            cells.iter().enumerate().map(|(index, cell)| format!("{cell:<width$}", width = widths[index])).collect();
        format!("│ {} │", padded.join(" │ "))
    };
    let header_cells: Vec<String> = header.iter().map(|title| title.to_string()).collect();
    let rule_line = |left: &str, middle: &str, right: &str| -> String {
        let parts: Vec<String> = widths.iter().map(|width| "─".repeat(width + 2)).collect();
        format!("{left}{}{right}", parts.join(middle))
    };
    let _ = writeln!(out, "{}", rule_line("┌", "┬", "┐"));
    let _ = writeln!(out, "{}", render_row(&header_cells));
    let _ = writeln!(out, "{}", rule_line("├", "┼", "┤"));
    for row in &rows {
        let _ = writeln!(out, "{}", render_row(row));
    }
    let _ = writeln!(out, "{}", rule_line("└", "┴", "┘"));
}

fn gator_lines(out: &mut String, run: &TestRun, options: TextOptions) {
    let mut failed = false;
    for result in &run.report.results {
        if matches!(result.outcome, Outcome::Fail | Outcome::Error | Outcome::Unsupported) {
            failed = true;
            let _ = writeln!(out, "    --- FAIL: {}", resource_label(result));
            let reason = if result.reason.is_empty() { &result.message } else { &result.reason };
            for line in reason.lines() {
                let _ = writeln!(out, "        {line}");
            }
        } else if result.outcome == Outcome::Skipped {
            let _ = writeln!(out, "    --- SKIP: {}", resource_label(result));
        } else if options.verbose && !options.fail_only {
            let _ = writeln!(out, "    --- PASS: {}", resource_label(result));
        }
    }
    let seconds = run.duration.as_secs_f64();
    if failed || run.report.problems.iter().any(|problem| !problem.tolerated()) {
        let _ = writeln!(out, "FAIL\t{}\t{seconds:.3}s", run.path);
    } else {
        let _ = writeln!(out, "ok\t{}\t{seconds:.3}s", run.path);
    }
}

/// `opa test`'s pretty output, across the runs of several folders: a `file:row:` line and a
/// `data.pkg.test: OUTCOME (duration)` line per test that did not pass (every test with `verbose`), a
/// blank line between files, the error under an errored test, what `print` wrote, then a rule and the
/// `PASS: n/m` counts.
#[derive(Default)]
struct OpaText {
    last_file: Option<String>,
    dirty: bool,
}

impl OpaText {
    fn lines(&mut self, out: &mut String, run: &TestRun, options: TextOptions) {
        for (index, result) in run.report.results.iter().enumerate() {
            // Passing tests are listed only with -v, and never with --fail-only.
            let list_passing = options.verbose && !options.fail_only;
            if result.outcome == Outcome::Pass && !list_passing {
                continue;
            }
            let Subject::Opa { package, test } = &result.subject else { continue };
            let file = result_file(run, result);
            if self.last_file.as_ref().is_some_and(|last| *last != file) {
                out.push('\n');
            }
            let line = run.result_lines.get(index).copied().flatten().unwrap_or(1);
            let _ = writeln!(out, "{file}:{line}:");
            self.last_file = Some(file);
            self.dirty = true;
            let outcome = match result.outcome {
                Outcome::Pass => "PASS",
                Outcome::Fail => "FAIL",
                Outcome::Skipped => "SKIPPED",
                Outcome::Error | Outcome::Unsupported => "ERROR",
            };
            if result.outcome == Outcome::Skipped {
                let _ = writeln!(out, "{package}.{test}: {outcome}");
                continue;
            }
            match result.duration {
                Some(duration) => {
                    let _ = writeln!(out, "{package}.{test}: {outcome} ({})", go_duration(duration));
                }
                None => {
                    let _ = writeln!(out, "{package}.{test}: {outcome}");
                }
            }
            if !result.message.is_empty() {
                out.push('\n');
                for printed in result.message.lines() {
                    let _ = writeln!(out, "  {printed}");
                }
                out.push('\n');
            }
            if matches!(result.outcome, Outcome::Error | Outcome::Unsupported | Outcome::Fail)
                && !result.reason.is_empty()
            {
                let _ = writeln!(out, "  {}", result.reason);
            }
        }
    }

    fn summary(&self, out: &mut String, runs: &[TestRun]) {
        let opa_runs: Vec<&TestRun> = runs.iter().filter(|run| run.framework == Framework::Opa).collect();
        if opa_runs.is_empty() {
            return;
        }
        if self.dirty {
            let _ = writeln!(out, "{}", "-".repeat(80));
        }
        let results = opa_runs.iter().flat_map(|run| &run.report.results);
        let (mut pass, mut fail, mut skip, mut error) = (0, 0, 0, 0);
        for result in results {
            match result.outcome {
                Outcome::Pass => pass += 1,
                Outcome::Fail => fail += 1,
                Outcome::Skipped => skip += 1,
                Outcome::Error | Outcome::Unsupported => error += 1,
            }
        }
        let total = pass + fail + skip + error;
        for (label, count) in [("PASS", pass), ("FAIL", fail), ("SKIPPED", skip), ("ERROR", error)] {
            if count > 0 {
                let _ = writeln!(out, "{label}: {count}/{total}");
            }
        }
    }
}

/// A duration as Go prints a `time.Duration` (`1.5s`, `2.003ms`, `750µs`, `0s`), as in `opa test`'s lines.
pub fn go_duration(duration: Duration) -> String {
    crate::engine::units::go_duration_string(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX))
}

/// Exactly one JSON document: `{"results": [...], "summary": {...}, "problems": [...]}`.
pub fn render_json(runs: &[TestRun]) -> String {
    let mut text = serde_json::to_string_pretty(&report_document(runs)).unwrap_or_default();
    text.push('\n');
    text
}

/// The JSON document of [`render_json`] written as one YAML document (`kyverno test -o yaml`).
pub fn render_yaml(runs: &[TestRun]) -> String {
    to_yaml(&report_document(runs))
}

/// The report as one value: every result, the counts, and the problems with their places.
fn report_document(runs: &[TestRun]) -> serde_json::Value {
    let mut results = Vec::new();
    for run in runs {
        for result in &run.report.results {
            let mut value = serde_json::to_value(result).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert("file".to_string(), json!(result_file(run, result)));
            }
            results.push(value);
        }
    }
    let problems: Vec<serde_json::Value> = runs
        .iter()
        .flat_map(|run| {
            run.report.problems.iter().zip(&run.problem_locations).map(move |(problem, (line, column, _))| {
                json!({"file": problem_file(run, problem), "line": line, "column": column, "severity": severity_name(problem), "code": problem.code, "message": problem.message})
            })
        })
        .collect();
    json_document(results, &TestSummary::of(runs), problems)
}

/// The report value of `results`, `summary` and `problems`, as `render_json` and `merge` write it.
pub(super) fn json_document(
    results: Vec<serde_json::Value>,
    summary: &TestSummary,
    problems: Vec<serde_json::Value>,
) -> serde_json::Value {
    json!({
        "results": results,
        "summary": {
            "passed": summary.passed,
            "failed": summary.failed,
            // A test file that could not run (a missing file, a load error) is an error of the run too.
            "errors": summary.errors + summary.problems,
            "unsupported": summary.unsupported,
            "skipped": summary.skipped,
            "problems": summary.problems,
            "warnings": summary.warnings,
        },
        "problems": problems,
    })
}

/// JUnit XML: one `<testsuite>` per test file, one `<testcase>` per result.
pub fn render_junit(runs: &[TestRun]) -> String {
    let summary = TestSummary::of(runs);
    let total: usize = runs.iter().map(|run| run.report.results.len()).sum();
    let seconds: f64 = runs.iter().map(|run| run.duration.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"policy-lsp\" tests=\"{total}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{seconds:.3}\">",
        summary.failed,
        summary.errors + summary.problems,
        summary.unsupported + summary.skipped
    );
    for run in runs {
        let own = TestSummary::of(std::slice::from_ref(run));
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            xml_escape(&run.path),
            run.report.results.len(),
            own.failed,
            own.errors + own.problems,
            own.unsupported + own.skipped,
            run.duration.as_secs_f64()
        );
        for problem in run.report.problems.iter().filter(|problem| !problem.tolerated()) {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"load\"><error type=\"{}\" message=\"{}\"/></testcase>",
                xml_escape(&run.path),
                xml_escape(problem.code.as_str()),
                xml_escape(&problem.message)
            );
        }
        for result in &run.report.results {
            let classname = match &result.subject {
                Subject::Kyverno { policy, rule, .. } => match rule {
                    Some(rule) => format!("{policy}/{rule}"),
                    None => policy.clone(),
                },
                Subject::Gatekeeper { test, .. } => test.clone(),
                Subject::Opa { package, .. } => package.clone(),
            };
            let name = match &result.subject {
                Subject::Kyverno { .. } => resource_label(result),
                Subject::Gatekeeper { case, test } => case.clone().unwrap_or_else(|| test.clone()),
                Subject::Opa { test, .. } => test.clone(),
            };
            let _ =
                write!(out, "    <testcase classname=\"{}\" name=\"{}\"", xml_escape(&classname), xml_escape(&name));
            let detail =
                format!("expected {}, got {}: {} {}", result.expected, result.actual, result.reason, result.message);
            match result.outcome {
                Outcome::Pass => out.push_str("/>\n"),
                Outcome::Fail => {
                    let _ = writeln!(
                        out,
                        "><failure message=\"{}\">{}</failure></testcase>",
                        xml_escape(&result.reason),
                        xml_escape(&detail)
                    );
                }
                Outcome::Error => {
                    let _ = writeln!(
                        out,
                        "><error message=\"{}\">{}</error></testcase>",
                        xml_escape(&result.reason),
                        xml_escape(&detail)
                    );
                }
                Outcome::Unsupported | Outcome::Skipped => {
                    let _ = writeln!(
                        out,
                        "><skipped message=\"{}\"/></testcase>",
                        xml_escape(&format!("{}: {}", outcome_name(result.outcome), result.message))
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// GitHub workflow annotations for every result that did not pass, and for load problems.
pub fn render_github(runs: &[TestRun]) -> String {
    let mut out = String::new();
    for run in runs {
        for ((line, column, message), problem) in run.problem_locations.iter().zip(&run.report.problems) {
            let _ = writeln!(
                out,
                "::{} file={},line={line},col={column},title=test load::{}",
                severity_name(problem),
                github_escape_property(&problem_file(run, problem)),
                github_escape_data(message)
            );
        }
        for (index, result) in run.report.results.iter().enumerate() {
            if matches!(result.outcome, Outcome::Pass | Outcome::Skipped) {
                continue;
            }
            let line = run.result_lines.get(index).copied().flatten().unwrap_or(1);
            let level = if result.outcome == Outcome::Unsupported { "warning" } else { "error" };
            let title = format!("{} {}", outcome_name(result.outcome), resource_label(result));
            let message =
                format!("expected {}, got {}: {} {}", result.expected, result.actual, result.reason, result.message);
            let _ = writeln!(
                out,
                "::{level} file={},line={line},title={}::{}",
                github_escape_property(&result_file(run, result)),
                github_escape_property(&title),
                github_escape_data(message.trim())
            );
        }
    }
    let summary = TestSummary::of(runs);
    let _ =
        writeln!(out, "{} passed, {} failed", summary.passed, summary.failed + summary.errors + summary.unsupported);
    out
}

/// A Markdown report for pull-request comments and job summaries.
pub fn render_markdown(runs: &[TestRun]) -> String {
    let summary = TestSummary::of(runs);
    let mut out = String::from("## policy-lsp test\n\n");
    let _ = writeln!(
        out,
        "**{}** passed, **{}** failed, **{}** errors, **{}** unsupported, **{}** skipped, **{}** warnings\n",
        summary.passed, summary.failed, summary.errors, summary.unsupported, summary.skipped, summary.warnings
    );
    for run in runs {
        let _ = writeln!(out, "### `{}`\n", run.path);
        for (line, column, message) in &run.problem_locations {
            let _ = writeln!(out, "- :warning: line {line}, column {column}: {}", message.replace('|', "\\|"));
        }
        out.push_str("| | subject | expected | actual | reason |\n|---|---|---|---|---|\n");
        for result in &run.report.results {
            let icon = match result.outcome {
                Outcome::Pass => "✅",
                Outcome::Fail | Outcome::Error => "❌",
                Outcome::Unsupported => "⚠️",
                Outcome::Skipped => "⏭️",
            };
            let subject = match &result.subject {
                Subject::Kyverno { policy, rule, .. } => {
                    format!("{policy} / {} / {}", rule.as_deref().unwrap_or("-"), resource_label(result))
                }
                Subject::Gatekeeper { .. } | Subject::Opa { .. } => resource_label(result),
            };
            let _ = writeln!(
                out,
                "| {icon} | {} | {} | {} | {} |",
                subject.replace('|', "\\|"),
                result.expected,
                result.actual,
                result.reason.replace('|', "\\|").replace('\n', " ")
            );
        }
        out.push('\n');
    }
    out
}
