//! Rego unit tests with `opa test` semantics: the `.rego` modules and data files of one folder are loaded
//! and compiled together, and every `test_` rule is run and reported with its package and place.
//!
//! What OPA's runner does (`v1/tester/runner.go`): a rule whose name starts with `test_` is a test and
//! passes when its value is `true`; `todo_test_` rules are reported as skipped; a second definition of
//! the same test name is renamed `#01`, `#02`, ... and run on its own; `--run` filters by a regular
//! expression on `data.<package>.<name>`; each test has a timeout. A folder that does not parse or compile
//! runs none of its tests (OPA refuses the whole run): every test it holds is reported as an error naming
//! the first problem, and the problems themselves are reported where they are.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{FileSource, Framework, Outcome, Problem, SourceRef, Subject, TestReport, TestResult};
use crate::base::{Code, TextRange, line_and_column};
use crate::engine::gatekeeper::lexer::{TokenKind, tokenize};
use crate::engine::opa::{
    self, Bundle, Module, RunLimits, SKIP_TEST_PREFIX, TEST_PREFIX, TestCase, TestVerdict, VersionSetting,
};

/// How to run a folder's tests.
#[derive(Clone, Copy, Default)]
pub struct OpaOptions<'a> {
    /// Only tests whose `data.<package>.<name>` matches (`opa test --run`).
    pub run: Option<&'a regex::Regex>,
    pub limits: RunLimits,
    /// The Rego version of files that do not import `rego.v1`.
    pub version: VersionSetting,
    /// The front end's monotonic clock, for the durations `opa test` prints (runners never read the
    /// clock themselves); without it results carry no duration.
    pub clock: Option<&'a (dyn Fn() -> Duration + Sync)>,
}

/// A Rego module file.
pub fn is_rego_file(path: &Path) -> bool {
    path.extension().is_some_and(|extension| extension == "rego")
}

/// A file OPA's loader reads as data beside the modules.
pub fn is_data_file(path: &Path) -> bool {
    path.extension().is_some_and(|extension| extension == "json" || extension == "yaml" || extension == "yml")
}

/// Whether a module's text defines a test rule: a line that starts with a `test_` or `todo_test_` name.
/// Cheap enough to decide which folders hold tests before anything is parsed.
pub fn has_test_rules(text: &str) -> bool {
    !lexical_tests(text).is_empty()
}

/// The test names of a module found from its tokens alone (for a module that does not parse): every name
/// with a test prefix that starts a line.
fn lexical_tests(text: &str) -> Vec<(String, TextRange)> {
    let mut found = Vec::new();
    let mut line_start = true;
    for token in tokenize(text) {
        match token.kind {
            TokenKind::Newline => line_start = true,
            TokenKind::Whitespace | TokenKind::Comment => {}
            kind => {
                let name = token.text(text);
                if line_start
                    && kind == TokenKind::Identifier
                    && (name.starts_with(TEST_PREFIX) || name.starts_with(SKIP_TEST_PREFIX))
                {
                    found.push((name.to_string(), TextRange::new(token.start, token.end)));
                }
                line_start = false;
            }
        }
    }
    found
}

/// Runs the tests of the `.rego` files in `folder` (not its subfolders), with its data files.
pub fn run_folder(files: &dyn FileSource, folder: &Path, options: &OpaOptions<'_>) -> TestReport {
    let mut run = FolderRun { report: TestReport::default(), first_problem: None };
    let entries = files.list_dir(folder).unwrap_or_default();
    let mut module_paths: Vec<&PathBuf> = entries.iter().filter(|path| is_rego_file(path)).collect();
    module_paths.sort();
    let mut data_paths: Vec<&PathBuf> = entries.iter().filter(|path| is_data_file(path)).collect();
    data_paths.sort();

    let mut modules: Vec<(PathBuf, Module)> = Vec::new();
    // Modules that do not parse: their path, text and the tests their tokens show.
    let mut unparsed: Vec<(PathBuf, String)> = Vec::new();
    for path in module_paths {
        let text = match files.read(path) {
            Ok(text) => text,
            Err(reason) => {
                run.problem(
                    SourceRef::text(path, TextRange::empty(0)),
                    "",
                    Code::OpaTestUnreadable,
                    reason.to_string(),
                );
                continue;
            }
        };
        match opa::parse_module(&path.display().to_string(), &text, options.version) {
            Ok(module) => modules.push((path.clone(), module)),
            Err(failure) => {
                let message = format!("{} (read as Rego {})", failure.message, failure.version.name());
                run.problem(SourceRef::text(path, failure.range), &text, Code::OpaTestCompile, message);
                unparsed.push((path.clone(), text.to_string()));
            }
        }
    }
    let mut data = Value::Object(serde_json::Map::new());
    for path in data_paths {
        match data_document(files, path) {
            Ok(Some(document)) => {
                if let Err(reason) = opa::merge_data_file(&mut data, &[], document) {
                    run.problem(SourceRef::yaml(path, 0, ""), "", Code::OpaTestData, reason);
                }
            }
            Ok(None) => {}
            Err(reason) => run.problem(SourceRef::yaml(path, 0, ""), "", Code::OpaTestData, reason),
        }
    }

    let (paths, modules): (Vec<PathBuf>, Vec<Module>) = modules.into_iter().unzip();
    let texts: Vec<String> = modules.iter().map(|module| module.text.clone()).collect();
    let bundle = Bundle { modules, data };
    let compiled = if run.first_problem.is_none() {
        match opa::compile(&bundle, options.limits) {
            Ok(compiled) => Some(compiled),
            Err(problems) => {
                for problem in problems {
                    match problem.module {
                        Some(index) => run.problem(
                            SourceRef::text(&paths[index], problem.range),
                            &texts[index],
                            Code::OpaTestCompile,
                            problem.message,
                        ),
                        None => run.problem(SourceRef::yaml(folder, 0, ""), "", Code::OpaTestCompile, problem.message),
                    }
                }
                None
            }
        }
    } else {
        None
    };

    match compiled {
        Some(mut compiled) => {
            let tests = compiled.tests.clone();
            for test in tests.iter().filter(|test| selected(test, options)) {
                let started = options.clock.map(|clock| clock());
                let outcome = compiled.run_test(test);
                let duration = options.clock.zip(started).map(|(clock, started)| clock().saturating_sub(started));
                run.push(result(&paths[test.module], test, outcome, duration));
            }
        }
        None => {
            // Nothing ran: each test the folder defines is an error that names why.
            let reason = run.first_problem.clone().unwrap_or_default();
            let mut tests: Vec<(PathBuf, String, String, TextRange)> = Vec::new();
            for test in discover_without_compiling(&bundle) {
                tests.push((paths[test.module].clone(), test.package, test.name, test.name_range));
            }
            for (path, text) in &unparsed {
                for (name, range) in numbered(lexical_tests(text)) {
                    tests.push((path.clone(), package_of(text), name, range));
                }
            }
            for (path, package, name, range) in tests {
                if let Some(filter) = options.run
                    && !filter.is_match(&format!("{package}.{name}"))
                {
                    continue;
                }
                run.push(TestResult {
                    file: path.clone(),
                    framework: Framework::Opa,
                    subject: Subject::Opa { package, test: name },
                    expected: "true".to_string(),
                    actual: "error".to_string(),
                    outcome: Outcome::Error,
                    reason: reason.clone(),
                    message: String::new(),
                    location: Some(SourceRef::text(path, range)),
                    resource_id: None,
                    related: Vec::new(),
                    diff: None,
                    duration: None,
                });
            }
        }
    }
    run.report
}

fn selected(test: &TestCase, options: &OpaOptions<'_>) -> bool {
    options.run.is_none_or(|filter| filter.is_match(&test.full_name()))
}

/// The tests of modules that parsed, as the compiled bundle would list them.
fn discover_without_compiling(bundle: &Bundle) -> Vec<TestCase> {
    opa::discover_tests(&bundle.modules)
}

/// Names found lexically, with OPA's `#01` suffix on repeated ones.
fn numbered(tests: Vec<(String, TextRange)>) -> Vec<(String, TextRange)> {
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    tests
        .into_iter()
        .map(|(name, range)| {
            let count = seen.entry(name.clone()).or_insert(0);
            let shown = if *count > 0 && name.starts_with(TEST_PREFIX) { format!("{name}#{count:02}") } else { name };
            *count += 1;
            (shown, range)
        })
        .collect()
}

/// `data.<package>` of a module from its `package` line, read from its tokens alone (so it works for a
/// module that does not parse); `data` when there is none.
pub fn package_of(text: &str) -> String {
    let words: Vec<&str> =
        tokenize(text).into_iter().filter(|token| !token.is_trivia()).map(|token| token.text(text)).collect();
    let Some(start) = words.iter().position(|word| *word == "package") else { return "data".to_string() };
    let mut package = String::from("data");
    let mut expect_name = true;
    for word in &words[start + 1..] {
        match (*word, expect_name) {
            (".", false) => expect_name = true,
            (name, true) if name.chars().all(|character| character.is_alphanumeric() || character == '_') => {
                package.push('.');
                package.push_str(name);
                expect_name = false;
            }
            _ => break,
        }
    }
    package
}

/// The document of a data file, or `None` for a file that is not data: an empty file, or a Kubernetes
/// object (`apiVersion` and `kind`), which sits beside Rego as a template, manifest or test and which
/// OPA would load only when handed the whole folder rather than its `*.rego` files.
pub fn data_document(files: &dyn FileSource, path: &Path) -> Result<Option<Value>, String> {
    let is_json = path.extension().is_some_and(|extension| extension == "json");
    let document = if is_json {
        let text = files.read(path).map_err(|error| error.to_string())?;
        serde_json::from_str::<Value>(&text).map_err(|error| format!("{}: {error}", path.display()))?
    } else {
        let documents = files.documents(path).map_err(|error| error.to_string())?;
        if let Some(error) = documents.iter().find_map(|document| document.errors.first()) {
            return Err(format!("{}: {}", path.display(), error.message));
        }
        let mut values = documents.iter().map(|document| document.value.clone()).filter(|value| !value.is_null());
        let Some(first) = values.next() else { return Ok(None) };
        if values.next().is_some() && !is_kubernetes_object(&first) {
            return Err(format!("{} holds several YAML documents; a data file holds one", path.display()));
        }
        first
    };
    if document.is_null() || is_kubernetes_object(&document) {
        return Ok(None);
    }
    Ok(Some(document))
}

fn is_kubernetes_object(value: &Value) -> bool {
    value.get("apiVersion").is_some_and(Value::is_string) && value.get("kind").is_some_and(Value::is_string)
}

/// The result of one test that ran.
fn result(path: &Path, test: &TestCase, run: opa::TestRun, duration: Option<Duration>) -> TestResult {
    let (actual, outcome, reason) = match run.verdict {
        TestVerdict::Pass => ("true".to_string(), Outcome::Pass, String::new()),
        TestVerdict::Fail { actual } => {
            let reason = if actual == "undefined" {
                "the test is undefined: an expression in its body does not hold".to_string()
            } else if test.partial_object {
                let failed: Vec<&str> =
                    run.cases.iter().filter(|(_, passed)| !passed).map(|(name, _)| name.as_str()).collect();
                format!("these cases fail: {}", failed.join(", "))
            } else {
                format!("the test's value is {actual}, not true")
            };
            (actual, Outcome::Fail, reason)
        }
        TestVerdict::Error { message } => ("error".to_string(), Outcome::Error, message),
        TestVerdict::Skipped => (
            "skipped".to_string(),
            Outcome::Skipped,
            format!("`{SKIP_TEST_PREFIX}` tests are skipped, as opa test skips them"),
        ),
    };
    TestResult {
        file: path.to_path_buf(),
        framework: Framework::Opa,
        subject: Subject::Opa { package: test.package.clone(), test: test.name.clone() },
        expected: "true".to_string(),
        actual,
        outcome,
        reason,
        message: run.output.join("\n"),
        location: Some(SourceRef::text(path, test.name_range)),
        resource_id: None,
        related: Vec::new(),
        diff: None,
        duration,
    }
}

/// The report of one folder being built.
struct FolderRun {
    report: TestReport,
    /// The first problem as one line (`file:line:column: message`), the reason of every test that could
    /// not run.
    first_problem: Option<String>,
}

impl FolderRun {
    fn problem(&mut self, at: SourceRef, text: &str, code: Code, message: String) {
        if self.first_problem.is_none() {
            let place = match at.span {
                Some(span) if !text.is_empty() => {
                    let (line, column) = line_and_column(text, span.start);
                    format!("{}:{line}:{column}", at.file.display())
                }
                _ => at.file.display().to_string(),
            };
            self.first_problem = Some(format!("the tests cannot run: {place}: {message}"));
        }
        self.report.problems.push(Problem { at, code, message });
    }

    fn push(&mut self, result: TestResult) {
        self.report.results.push(result);
    }
}
