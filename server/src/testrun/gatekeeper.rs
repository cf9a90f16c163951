//! gator Suite runner: `gator verify` semantics in process, one `TestResult` per case.
//!
//! gator reads suites, templates, constraints, objects and inventory with a YAML 1.2 reader
//! (`pkg/gator/yaml.go`, go.yaml.in/yaml/v3): `violations: no` and a label `enabled: yes` are strings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::types::{FileSource, Framework, Outcome, Problem, SourceRef, Subject, TestReport, TestResult};
use crate::base::Code;
use crate::engine::gatekeeper::{
    self, CompiledTemplate, ConstraintError, EvaluationOptions, ExpansionError, ReviewOutcome, Violation,
};
use crate::model::KubernetesObject;

/// Runs every test of a gator Suite file. A file that is not a Suite gives an empty report, as gator
/// ignores it.
pub fn run_suite_file(files: &dyn FileSource, suite_path: &Path) -> TestReport {
    let mut runner = SuiteRunner {
        files,
        suite_path: suite_path.to_path_buf(),
        suite_dir: suite_path.parent().map(Path::to_path_buf).unwrap_or_default(),
        report: TestReport::default(),
        templates: HashMap::new(),
        document: 0,
        own: Vec::new(),
    };
    let documents = match files.documents(suite_path) {
        Ok(documents) => documents,
        Err(reason) => {
            runner.problem("", Code::GatekeeperUnreadableSuite, format!("cannot read the suite: {reason}"));
            return runner.report;
        }
    };
    // gator reads a file's first document; a Suite further down sits beside the template it tests
    // (an embedded suite), and the other documents of the file stand in for the paths it leaves out.
    let Some(index) = documents
        .iter()
        .position(|document| is_suite(&document.value))
        .or_else(|| documents.iter().position(|document| !document.value.is_null() || !document.errors.is_empty()))
    else {
        return runner.report;
    };
    runner.document = index;
    let suite = &documents[index];
    if let Some(error) = suite.errors.first() {
        runner.problem("", Code::GatekeeperInvalidYaml, format!("the suite is not valid YAML: {error}"));
        return runner.report;
    }
    if !is_suite(&suite.value) {
        return runner.report;
    }
    runner.own = documents
        .iter()
        .enumerate()
        .filter(|(position, document)| *position != index && !document.value.is_null())
        .map(|(_, document)| document.value.clone())
        .collect();
    runner.run(&suite.value);
    runner.report
}

/// gator recognises a Suite by group and kind only, not by version.
pub fn is_suite(document: &Value) -> bool {
    document.group() == "test.gatekeeper.sh" && document.kind() == "Suite"
}

struct SuiteRunner<'a> {
    files: &'a dyn FileSource,
    suite_path: PathBuf,
    suite_dir: PathBuf,
    report: TestReport,
    /// Compiled templates by path, so tests that share a template compile it once.
    templates: HashMap<PathBuf, Result<CompiledTemplate, String>>,
    /// The index of the Suite document in its file.
    document: usize,
    /// The other documents of the suite's file, for an embedded suite that leaves out paths.
    own: Vec<Value>,
}

/// What one test needs before its cases run.
struct PreparedTest {
    template: CompiledTemplate,
    constraint: Value,
    /// The test's ExpansionTemplates (empty without `expansion:`).
    expansion_templates: Vec<Value>,
}

/// What one result says besides where it stands: what the test expected, what happened, and why.
struct Verdict {
    expected: String,
    actual: String,
    outcome: Outcome,
    reason: String,
    message: String,
}

impl Verdict {
    fn new(expected: String, actual: &str, outcome: Outcome, reason: impl Into<String>, message: String) -> Self {
        Verdict { expected, actual: actual.to_string(), outcome, reason: reason.into(), message }
    }

    fn skipped(reason: &str) -> Self {
        Verdict::new("skip".into(), "skipped", Outcome::Skipped, reason, String::new())
    }
}

fn text_field<'v>(value: &'v Value, field: &str) -> &'v str {
    value.get(field).and_then(Value::as_str).unwrap_or("")
}

fn flag(value: &Value, field: &str) -> bool {
    value.get(field).and_then(Value::as_bool).unwrap_or(false)
}

impl SuiteRunner<'_> {
    fn at(&self, pointer: &str) -> SourceRef {
        SourceRef::yaml(self.suite_path.clone(), self.document, pointer)
    }

    fn problem(&mut self, pointer: &str, code: Code, message: String) {
        let at = self.at(pointer);
        self.report.problems.push(Problem { at, code, message });
    }

    fn result(&mut self, test: &str, case: Option<&str>, pointer: &str, verdict: Verdict) {
        let location = Some(self.at(pointer));
        let Verdict { expected, actual, outcome, reason, message } = verdict;
        self.report.results.push(TestResult {
            file: self.suite_path.clone(),
            framework: Framework::Gatekeeper,
            subject: Subject::Gatekeeper { test: test.to_string(), case: case.map(str::to_string) },
            expected,
            actual,
            outcome,
            reason,
            message,
            location,
            resource_id: None,
            related: Vec::new(),
            diff: None,
            duration: None,
        });
    }

    /// Reports `verdict` for the test itself, for a test whose cases are never reached.
    fn report_test(&mut self, test: &Value, pointer: &str, verdict: Verdict) {
        let name = text_field(test, "name").to_string();
        self.result(&name, None, pointer, verdict);
    }

    /// Reports every case of `test`: a skipped one as skipped (gator skips it before reading anything), every
    /// other one with the verdict `judge` gives for it (the case, its name and its pointer).
    fn report_cases(
        &mut self,
        test: &Value,
        pointer: &str,
        mut judge: impl FnMut(&mut Self, &Value, &str, &str) -> Verdict,
    ) {
        let name = text_field(test, "name").to_string();
        for (index, case) in Self::cases(test).iter().enumerate() {
            let case_pointer = format!("{pointer}/cases/{index}");
            let case_name = text_field(case, "name").to_string();
            let verdict = if flag(case, "skip") {
                Verdict::skipped("the case is skipped")
            } else {
                judge(self, case, &case_name, &case_pointer)
            };
            self.result(&name, Some(&case_name), &case_pointer, verdict);
        }
    }

    /// Reports the same kind of verdict on every case of `test`, or once on the test without cases (or one
    /// that expects its constraint to be rejected); `verdict` receives the expectation of each.
    fn report_whole_test(&mut self, test: &Value, pointer: &str, verdict: impl Fn(String) -> Verdict) {
        if Self::cases(test).is_empty() || flag(test, "invalid") {
            self.report_test(test, pointer, verdict(expected_for_test(test)));
        } else {
            self.report_cases(test, pointer, |_, case, _, _| verdict(expected_for_case(case)));
        }
    }

    fn run(&mut self, suite: &Value) {
        let suite_skipped = flag(suite, "skip");
        let tests = suite.get("tests").and_then(Value::as_array).cloned().unwrap_or_default();
        for (index, test) in tests.iter().enumerate() {
            let pointer = format!("/tests/{index}");
            if suite_skipped || flag(test, "skip") {
                let why = if suite_skipped { "the suite is skipped" } else { "the test is skipped" };
                self.skip_test(test, &pointer, why);
                continue;
            }
            self.run_test(test, &pointer);
        }
    }

    fn cases(test: &Value) -> Vec<Value> {
        test.get("cases").and_then(Value::as_array).cloned().unwrap_or_default()
    }

    fn skip_test(&mut self, test: &Value, pointer: &str, why: &str) {
        self.report_whole_test(test, pointer, |_| Verdict::skipped(why));
    }

    /// Reports a test-level error on every case (or once for a test without cases).
    fn fail_test(&mut self, test: &Value, pointer: &str, reason: &str, message: String) {
        self.report_whole_test(test, pointer, |expected| {
            Verdict::new(expected, "error", Outcome::Error, reason, message.clone())
        });
    }

    /// Reports every case of a test as unsupported, with the reason.
    fn unsupported_test(&mut self, test: &Value, pointer: &str, reason: &str) {
        self.report_whole_test(test, pointer, |expected| {
            Verdict::new(expected, "unsupported", Outcome::Unsupported, reason, String::new())
        });
    }

    fn read_documents(&mut self, relative: &str, pointer: &str) -> Result<Vec<Value>, String> {
        let path = self.suite_dir.join(relative);
        let documents = match self.files.documents(&path) {
            Ok(documents) => documents,
            Err(reason) => {
                let message = format!("cannot read {}: {reason}", path.display());
                self.problem(pointer, Code::GatekeeperMissingFile, message.clone());
                return Err(message);
            }
        };
        let mut objects = Vec::new();
        for document in documents {
            if let Some(error) = document.errors.first() {
                let message = format!("{} is not valid YAML: {error}", path.display());
                self.problem(pointer, Code::GatekeeperInvalidYaml, message.clone());
                return Err(message);
            }
            if !document.value.is_null() {
                objects.push(document.value.clone());
            }
        }
        Ok(objects)
    }

    /// The documents a test field names: the file at `relative`, or, for an embedded suite that leaves
    /// the field out, the documents of its own file that play `role`.
    fn documents_for(&mut self, relative: &str, role: OwnRole<'_>, pointer: &str) -> Result<Vec<Value>, String> {
        if !relative.is_empty() {
            return self.read_documents(relative, pointer);
        }
        let found: Vec<Value> = self.own.iter().filter(|document| role.accepts(document)).cloned().collect();
        match role {
            OwnRole::Object(case) if found.len() > 1 => {
                let named: Vec<Value> = found
                    .into_iter()
                    .filter(|document| document.pointer("/metadata/name").and_then(Value::as_str) == Some(case))
                    .collect();
                if named.len() == 1 {
                    return Ok(named);
                }
                let message = "the case names no object and its file holds several: name the case after the metadata.name of one of them, or set `object`".to_string();
                self.problem(pointer, Code::GatekeeperMissingObject, message.clone());
                Err(message)
            }
            _ if found.is_empty() => {
                let message = format!("the test names no {} and its own file holds none", role.noun());
                self.problem(pointer, role.missing_code(), message.clone());
                Err(message)
            }
            _ => Ok(found),
        }
    }

    fn template(&mut self, relative: &str, pointer: &str) -> Result<CompiledTemplate, String> {
        let path = if relative.is_empty() { self.suite_path.clone() } else { self.suite_dir.join(relative) };
        if let Some(cached) = self.templates.get(&path) {
            return cached.clone();
        }
        let compiled = match self.documents_for(relative, OwnRole::Template, pointer) {
            Err(message) => Err(message),
            Ok(documents) => match documents.first() {
                None => Err(format!("{} defines no template", path.display())),
                Some(document) => {
                    gatekeeper::compile_template(document, EvaluationOptions::default()).map_err(|error| {
                        let message = format!(
                            "invalid ConstraintTemplate {} at {}: {}",
                            path.display(),
                            error.pointer,
                            error.message
                        );
                        self.problem(pointer, Code::GatekeeperInvalidTemplate, message.clone());
                        message
                    })
                }
            },
        };
        self.templates.insert(path, compiled.clone());
        compiled
    }

    /// gator's `tryAddConstraint`: the template, then the constraint checked against it.
    fn prepare(&mut self, test: &Value, pointer: &str) -> Result<PreparedTest, (String, Option<ConstraintError>)> {
        let template_path = text_field(test, "template");
        if template_path.is_empty() && self.own.is_empty() {
            self.problem(pointer, Code::GatekeeperMissingTemplate, "the test names no template".to_string());
            return Err(("invalid suite: missing template".to_string(), None));
        }
        let template_pointer =
            if template_path.is_empty() { pointer.to_string() } else { format!("{pointer}/template") };
        let template = self.template(template_path, &template_pointer).map_err(|message| (message, None))?;
        let constraint_path = text_field(test, "constraint");
        if constraint_path.is_empty() && self.own.is_empty() {
            self.problem(pointer, Code::GatekeeperMissingConstraint, "the test names no constraint".to_string());
            return Err(("invalid suite: missing constraint".to_string(), None));
        }
        let constraint_pointer =
            if constraint_path.is_empty() { pointer.to_string() } else { format!("{pointer}/constraint") };
        let documents = self
            .documents_for(constraint_path, OwnRole::Constraint(&template.kind), &constraint_pointer)
            .map_err(|message| (message, None))?;
        let Some(constraint) = documents.into_iter().next() else {
            return Err((format!("{constraint_path} defines no constraint"), None));
        };
        if let Err(error) = gatekeeper::check_constraint(&template, &constraint) {
            if let ConstraintError::Invalid { pointer: field, message } = &error {
                let code = if field == "/kind" {
                    Code::GatekeeperConstraintKindMismatch
                } else {
                    Code::GatekeeperInvalidConstraint
                };
                self.problem(&constraint_pointer, code, format!("{constraint_path}: {message}"));
            }
            return Err((error.message(), Some(error)));
        }
        Ok(PreparedTest { template, constraint, expansion_templates: Vec::new() })
    }

    fn run_test(&mut self, test: &Value, pointer: &str) {
        let prepared = self.prepare(test, pointer);
        if flag(test, "invalid") {
            let (outcome, actual, message) = match &prepared {
                Err((message, Some(ConstraintError::Schema(_)))) => (Outcome::Pass, "invalid", message.clone()),
                Err((message, _)) => {
                    (Outcome::Fail, "error", format!("got error {message} but want a schema validation error"))
                }
                Ok(_) => (
                    Outcome::Fail,
                    "valid",
                    "the constraint is valid but the test expects it to be rejected".to_string(),
                ),
            };
            let verdict = Verdict::new("invalid".into(), actual, outcome, message.clone(), message);
            self.report_test(test, pointer, verdict);
            return;
        }
        let mut prepared = match prepared {
            Ok(prepared) => prepared,
            Err((message, _)) => {
                self.fail_test(test, pointer, "the template or constraint could not be added", message);
                return;
            }
        };
        let expansion_path = text_field(test, "expansion");
        if !expansion_path.is_empty() {
            let expansion_pointer = format!("{pointer}/expansion");
            let documents = match self.read_documents(expansion_path, &expansion_pointer) {
                Ok(documents) => documents,
                Err(message) => {
                    self.fail_test(test, pointer, "the expansion could not be read", message);
                    return;
                }
            };
            match gatekeeper::expansion_templates(&documents) {
                Ok(templates) => prepared.expansion_templates = templates,
                Err(ExpansionError::Invalid(message)) => {
                    self.problem(&expansion_pointer, Code::GatekeeperInvalidExpansion, message.clone());
                    self.fail_test(test, pointer, "the expansion could not be added", message);
                    return;
                }
                Err(ExpansionError::Unsupported(reason)) => {
                    self.unsupported_test(test, pointer, &reason);
                    return;
                }
            }
        }
        if Self::cases(test).is_empty() {
            // gator runs a test without cases as passed once its template and constraint are added.
            let reason = "the template and constraint were added; the test has no cases";
            self.report_test(
                test,
                pointer,
                Verdict::new("valid".into(), "valid", Outcome::Pass, reason, String::new()),
            );
            return;
        }
        self.report_cases(test, pointer, |runner, case, case_name, case_pointer| {
            runner.run_case(case, case_name, case_pointer, &prepared)
        });
    }

    /// Reviews the case's object with the prepared template and constraint and checks the case's assertions.
    fn run_case(&mut self, case: &Value, case_name: &str, pointer: &str, prepared: &PreparedTest) -> Verdict {
        let expected = expected_for_case(case);
        let error =
            |reason: &str, message: String| Verdict::new(expected.clone(), "error", Outcome::Error, reason, message);
        let object_path = text_field(case, "object");
        if object_path.is_empty() && self.own.is_empty() {
            self.problem(pointer, Code::GatekeeperMissingObject, "the case names no object".to_string());
            return error("invalid case", "the case must define object".to_string());
        }
        let assertions = case.get("assertions").and_then(Value::as_array).cloned().unwrap_or_default();
        if assertions.is_empty() {
            self.problem(pointer, Code::GatekeeperMissingAssertions, "the case has no assertions".to_string());
            return error("invalid case", "assertions must be non-empty".to_string());
        }
        let object_pointer = if object_path.is_empty() { pointer.to_string() } else { format!("{pointer}/object") };
        let objects = match self.documents_for(object_path, OwnRole::Object(case_name), &object_pointer) {
            Ok(objects) => objects,
            Err(message) => return error("cannot read the object", message),
        };
        if objects.len() != 1 {
            let message = format!("{object_path:?} defines {} objects; a case reviews exactly one", objects.len());
            self.problem(&format!("{pointer}/object"), Code::GatekeeperMultipleObjects, message.clone());
            return error("invalid case", message);
        }
        let mut inventory = Vec::new();
        let inventory_paths = case.get("inventory").and_then(Value::as_array).cloned().unwrap_or_default();
        for (index, path) in inventory_paths.iter().enumerate() {
            let Some(path) = path.as_str() else { continue };
            match self.read_documents(path, &format!("{pointer}/inventory/{index}")) {
                Ok(objects) if objects.is_empty() => {
                    return error("cannot read the inventory", format!("{path:?} defines no YAML objects"));
                }
                Ok(objects) => inventory.extend(objects),
                Err(message) => return error("cannot read the inventory", message),
            }
        }
        let violations = match gatekeeper::review_with_expansion(
            &prepared.template,
            &prepared.constraint,
            &objects[0],
            &inventory,
            &prepared.expansion_templates,
        ) {
            Ok(ReviewOutcome::Evaluated(violations)) => violations,
            Ok(ReviewOutcome::Unsupported(reason)) => {
                return Verdict::new(expected, "unsupported", Outcome::Unsupported, reason, String::new());
            }
            Err(message) => return error("the object could not be reviewed", message),
        };
        let actual = describe_violations(&violations);
        for assertion in &assertions {
            match check_assertion(assertion, &violations) {
                Ok(()) => {}
                Err(AssertionFailure::Invalid(message)) => {
                    return error("invalid assertion", message);
                }
                Err(AssertionFailure::Mismatch(message)) => {
                    return Verdict::new(expected, &actual, Outcome::Fail, message.clone(), message);
                }
            }
        }
        Verdict::new(expected, &actual, Outcome::Pass, String::new(), String::new())
    }
}

/// What the documents of an embedded suite's own file stand in for.
#[derive(Clone, Copy)]
enum OwnRole<'a> {
    Template,
    /// Constraints of the template's kind.
    Constraint(&'a str),
    /// The object a case reviews, found by the case's name when the file holds several.
    Object(&'a str),
}

impl OwnRole<'_> {
    fn accepts(&self, document: &Value) -> bool {
        let kind = text_field(document, "kind");
        let group = text_field(document, "apiVersion").split('/').next().unwrap_or("");
        let is_template = kind == "ConstraintTemplate";
        let is_constraint = group == "constraints.gatekeeper.sh";
        match self {
            OwnRole::Template => is_template,
            OwnRole::Constraint(template_kind) => is_constraint && kind == *template_kind,
            OwnRole::Object(_) => !is_template && !is_constraint && !is_suite(document),
        }
    }

    fn noun(&self) -> &'static str {
        match self {
            OwnRole::Template => "template",
            OwnRole::Constraint(_) => "constraint (of the template's kind)",
            OwnRole::Object(_) => "object",
        }
    }

    fn missing_code(&self) -> Code {
        match self {
            OwnRole::Template => Code::GatekeeperMissingTemplate,
            OwnRole::Constraint(_) => Code::GatekeeperMissingConstraint,
            OwnRole::Object(_) => Code::GatekeeperMissingObject,
        }
    }
}

fn expected_for_test(test: &Value) -> String {
    if flag(test, "invalid") { "invalid".to_string() } else { "valid".to_string() }
}

/// The case's assertions in words, for the report (`violations: yes`, `2 matching "regex"`).
fn expected_for_case(case: &Value) -> String {
    let assertions = case.get("assertions").and_then(Value::as_array).cloned().unwrap_or_default();
    let parts: Vec<String> = assertions
        .iter()
        .map(|assertion| {
            let count = match assertion.get("violations") {
                None | Some(Value::Null) => "yes".to_string(),
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
            };
            match assertion.get("message").and_then(Value::as_str) {
                Some(message) => format!("violations: {count} matching {message:?}"),
                None => format!("violations: {count}"),
            }
        })
        .collect();
    parts.join("; ")
}

fn describe_violations(violations: &[Violation]) -> String {
    let messages: Vec<String> = violations.iter().map(|violation| format!("{:?}", violation.message)).collect();
    if messages.is_empty() {
        "0 violations".to_string()
    } else {
        format!("{} violations: [{}]", violations.len(), messages.join(", "))
    }
}

enum AssertionFailure {
    /// The assertion itself is malformed (gator reports an error).
    Invalid(String),
    /// The violations do not meet the assertion.
    Mismatch(String),
}

/// gator's `Assertion.Run`: count the violations whose message matches, then compare.
fn check_assertion(assertion: &Value, violations: &[Violation]) -> Result<(), AssertionFailure> {
    let pattern = match assertion.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => {
            return Err(AssertionFailure::Invalid(format!("assertion message must be a string, found {other}")));
        }
    };
    let expression = match &pattern {
        Some(text) => Some(
            regex::Regex::new(text)
                .map_err(|error| AssertionFailure::Invalid(format!("invalid message regex {text:?}: {error}")))?,
        ),
        None => None,
    };
    let matching = violations
        .iter()
        .filter(|violation| expression.as_ref().is_none_or(|expression| expression.is_match(&violation.message)))
        .count();
    let containing = pattern.as_ref().map(|text| format!(" containing {text:?}")).unwrap_or_default();
    let messages: Vec<&str> = violations.iter().map(|violation| violation.message.as_str()).collect();
    let mismatch = |want: String| {
        AssertionFailure::Mismatch(format!(
            "got {matching} violations{containing} but want {want}: got messages {messages:?}"
        ))
    };
    let invalid = || {
        AssertionFailure::Invalid(
            r#"assertion.violations, if set, must be a nonnegative integer, "yes", or "no""#.to_string(),
        )
    };
    match assertion.get("violations") {
        None | Some(Value::Null) => {
            if matching == 0 {
                return Err(mismatch("at least 1".to_string()));
            }
        }
        Some(Value::String(text)) => match text.as_str() {
            "yes" if matching == 0 => return Err(mismatch("at least 1".to_string())),
            "no" if matching > 0 => return Err(mismatch("none".to_string())),
            "yes" | "no" => {}
            // intstr reads a quoted number as a string, which gator then rejects.
            _ => return Err(invalid()),
        },
        Some(Value::Number(number)) => match number.as_u64() {
            Some(want) if want as usize == matching => {}
            Some(want) => return Err(mismatch(format!("exactly {want}"))),
            None => return Err(invalid()),
        },
        Some(_) => return Err(invalid()),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
