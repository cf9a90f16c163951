//! Merges the machine-readable outputs of sharded `lint` and `test` runs (JSON, SARIF 2.1.0, JUnit XML) into
//! the document one unsharded run prints: entries in the unsharded order, counts recomputed from the
//! merged entries rather than added up from the inputs' summaries.
//!
//! Each shard holds whole folders, so every file's entries come from one input: a stable sort by the
//! file (or by the test run) restores the unsharded order without reordering the entries of one file.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::lint::LintSummary;
use super::pretty_json;
use super::test::TestSummary;

/// The formats `merge` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeFormat {
    Json,
    Sarif,
    Junit,
}

/// One input: the name errors mention, and its text.
pub struct Input<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// The merged document, with the counts the exit code is decided from.
#[derive(Debug)]
pub enum Merged {
    Lint { text: String, summary: LintSummary },
    Test { text: String, summary: TestSummary },
}

/// The format of an output, from its first characters: JSON or SARIF (a JSON document with `runs`), or XML.
pub fn detect(text: &str) -> Option<MergeFormat> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('<') {
        return Some(MergeFormat::Junit);
    }
    if !trimmed.starts_with('{') {
        return None;
    }
    // A JSON document cut short is still JSON: merging it says what is wrong with it.
    let sarif = serde_json::from_str::<Value>(trimmed).is_ok_and(|value| value.get("runs").is_some());
    Some(if sarif { MergeFormat::Sarif } else { MergeFormat::Json })
}

/// Merges `inputs`, all of `format`; an error names the input at fault.
pub fn merge(format: MergeFormat, inputs: &[Input<'_>]) -> Result<Merged, String> {
    match format {
        MergeFormat::Json => merge_json(inputs),
        MergeFormat::Sarif => merge_sarif(inputs),
        MergeFormat::Junit => merge_junit(inputs),
    }
}

/// Remembers which input reported each file, so that overlapping inputs (the same shard twice, or runs
/// over different trees) are refused instead of doubling their entries.
#[derive(Default)]
struct Owners {
    by_file: HashMap<String, usize>,
}

impl Owners {
    fn claim(&mut self, file: &str, input: usize, inputs: &[Input<'_>]) -> Result<(), String> {
        match self.by_file.get(file) {
            Some(&owner) if owner != input => Err(format!(
                "{} and {} both report on `{file}`: the inputs overlap (the same shard twice, or different \
                 --shard counts?)",
                inputs[owner].name, inputs[input].name
            )),
            Some(_) => Ok(()),
            None => {
                self.by_file.insert(file.to_string(), input);
                Ok(())
            }
        }
    }
}

fn parse_json(input: &Input<'_>, what: &str) -> Result<Value, String> {
    serde_json::from_str(input.text.trim_start_matches('\u{feff}'))
        .map_err(|error| format!("{}: not a {what} document: {error}", input.name))
}

fn field<'v>(value: &'v Value, key: &str, input: &Input<'_>, what: &str) -> Result<&'v Value, String> {
    value.get(key).ok_or_else(|| format!("{}: not a {what}: no `{key}`", input.name))
}

fn array<'v>(value: &'v Value, key: &str, input: &Input<'_>, what: &str) -> Result<&'v Vec<Value>, String> {
    field(value, key, input, what)?
        .as_array()
        .ok_or_else(|| format!("{}: `{key}` of the {what} is not a list", input.name))
}

fn string<'v>(value: &'v Value, key: &str, input: &Input<'_>, what: &str) -> Result<&'v str, String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{}: an entry of the {what} has no `{key}` text", input.name))
}

/// Which report a JSON document is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum JsonKind {
    Lint,
    Test,
}

fn merge_json(inputs: &[Input<'_>]) -> Result<Merged, String> {
    let documents: Vec<Value> = inputs.iter().map(|input| parse_json(input, "JSON")).collect::<Result<_, _>>()?;
    let mut kinds = Vec::new();
    for (input, document) in inputs.iter().zip(&documents) {
        let kind = if document.get("diagnostics").is_some() {
            JsonKind::Lint
        } else if document.get("results").is_some() {
            JsonKind::Test
        } else {
            return Err(format!(
                "{}: neither a `lint --output json` report (no `diagnostics`) nor a `test --output json` one (no \
                 `results`)",
                input.name
            ));
        };
        kinds.push(kind);
    }
    if let Some(index) = kinds.iter().position(|kind| *kind != kinds[0]) {
        return Err(format!(
            "{} is a {} report but {} is a {} report: merge the outputs of one command",
            inputs[index].name,
            if kinds[index] == JsonKind::Lint { "lint" } else { "test" },
            inputs[0].name,
            if kinds[0] == JsonKind::Lint { "lint" } else { "test" },
        ));
    }
    match kinds.first() {
        Some(JsonKind::Test) => merge_test_json(inputs, &documents),
        _ => merge_lint_json(inputs, &documents),
    }
}

fn merge_lint_json(inputs: &[Input<'_>], documents: &[Value]) -> Result<Merged, String> {
    const WHAT: &str = "lint report";
    let mut owners = Owners::default();
    let mut diagnostics: Vec<(String, Value)> = Vec::new();
    let mut summary = LintSummary::default();
    for (index, (input, document)) in inputs.iter().zip(documents).enumerate() {
        let files = field(field(document, "summary", input, WHAT)?, "files", input, WHAT)?
            .as_u64()
            .ok_or_else(|| format!("{}: `summary.files` of the lint report is not a count", input.name))?;
        summary.files += files as usize;
        for diagnostic in array(document, "diagnostics", input, WHAT)? {
            let file = string(diagnostic, "file", input, WHAT)?;
            owners.claim(file, index, inputs)?;
            match string(diagnostic, "severity", input, WHAT)? {
                "error" => summary.errors += 1,
                "warning" => summary.warnings += 1,
                "info" => summary.infos += 1,
                "hint" => summary.hints += 1,
                other => return Err(format!("{}: unknown severity `{other}`", input.name)),
            }
            diagnostics.push((file.to_string(), diagnostic.clone()));
        }
    }
    // As `lint` orders its reports: by the path as the user reached it.
    diagnostics.sort_by(|left, right| left.0.cmp(&right.0));
    let diagnostics = diagnostics.into_iter().map(|(_, diagnostic)| diagnostic).collect();
    Ok(Merged::Lint { text: super::lint::json_document(diagnostics, &summary), summary })
}

/// Where a test run sits in the unsharded order: Kyverno tests and Suites by path first, then the folders
/// of Rego tests by path, as `test` discovers them. A Rego run is known by its `.rego` files.
fn run_order(file: &str) -> (bool, PathBuf) {
    let path = Path::new(file);
    if path.extension().is_some_and(|extension| extension == "rego") {
        (true, path.parent().map(Path::to_path_buf).unwrap_or_default())
    } else {
        (false, path.to_path_buf())
    }
}

fn merge_test_json(inputs: &[Input<'_>], documents: &[Value]) -> Result<Merged, String> {
    const WHAT: &str = "test report";
    let mut owners = Owners::default();
    let mut results: Vec<((bool, PathBuf), Value)> = Vec::new();
    let mut problems: Vec<((bool, PathBuf), Value)> = Vec::new();
    let mut summary = TestSummary::default();
    for (index, (input, document)) in inputs.iter().zip(documents).enumerate() {
        for result in array(document, "results", input, WHAT)? {
            let file = string(result, "file", input, WHAT)?;
            let order = run_order(file);
            owners.claim(&order.1.display().to_string(), index, inputs)?;
            match string(result, "outcome", input, WHAT)? {
                "pass" => summary.passed += 1,
                "fail" => summary.failed += 1,
                "error" => summary.errors += 1,
                "unsupported" => summary.unsupported += 1,
                "skipped" => summary.skipped += 1,
                other => return Err(format!("{}: unknown outcome `{other}`", input.name)),
            }
            results.push((order, result.clone()));
        }
        for problem in array(document, "problems", input, WHAT)? {
            let order = run_order(string(problem, "file", input, WHAT)?);
            owners.claim(&order.1.display().to_string(), index, inputs)?;
            match string(problem, "severity", input, WHAT)? {
                "error" => summary.problems += 1,
                "warning" => summary.warnings += 1,
                other => return Err(format!("{}: unknown problem severity `{other}`", input.name)),
            }
            problems.push((order, problem.clone()));
        }
    }
    results.sort_by(|left, right| left.0.cmp(&right.0));
    problems.sort_by(|left, right| left.0.cmp(&right.0));
    let document = super::test::json_document(
        results.into_iter().map(|(_, result)| result).collect(),
        &summary,
        problems.into_iter().map(|(_, problem)| problem).collect(),
    );
    Ok(Merged::Test { text: pretty_json(&document), summary })
}

fn merge_sarif(inputs: &[Input<'_>]) -> Result<Merged, String> {
    const WHAT: &str = "SARIF log";
    let mut owners = Owners::default();
    let mut driver: Option<(String, String)> = None;
    let mut rules: Vec<(String, Value)> = Vec::new();
    let mut results: Vec<(String, Value)> = Vec::new();
    let mut column_kind = None;
    let mut summary = LintSummary::default();
    for (index, input) in inputs.iter().enumerate() {
        let document = parse_json(input, WHAT)?;
        if document.get("version").and_then(Value::as_str) != Some("2.1.0") {
            return Err(format!("{}: not a SARIF 2.1.0 log (no `\"version\": \"2.1.0\"`)", input.name));
        }
        let runs = array(&document, "runs", input, WHAT)?;
        let [run] = runs.as_slice() else {
            return Err(format!("{}: holds {} runs; `lint --output sarif` writes one", input.name, runs.len()));
        };
        let tool =
            run.pointer("/tool/driver").ok_or_else(|| format!("{}: the run has no `tool.driver`", input.name))?;
        let name = string(tool, "name", input, WHAT)?.to_string();
        let version = tool.get("version").and_then(Value::as_str).unwrap_or_default().to_string();
        match &driver {
            None => driver = Some((name, version)),
            Some(first) if *first != (name.clone(), version.clone()) => {
                return Err(format!(
                    "{} was written by {name} {version} but {} by {} {}: merge the outputs of one tool and version",
                    input.name, inputs[0].name, first.0, first.1
                ));
            }
            Some(_) => {}
        }
        column_kind = column_kind.or_else(|| run.get("columnKind").cloned());
        for rule in tool.get("rules").and_then(Value::as_array).into_iter().flatten() {
            let id = string(rule, "id", input, WHAT)?;
            if !rules.iter().any(|(known, _)| known == id) {
                rules.push((id.to_string(), rule.clone()));
            }
        }
        for result in array(run, "results", input, WHAT)? {
            let uri = result
                .pointer("/locations/0/physicalLocation/artifactLocation/uri")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{}: a result has no location uri", input.name))?;
            owners.claim(uri, index, inputs)?;
            match result.get("level").and_then(Value::as_str) {
                Some("error") => summary.errors += 1,
                Some("warning") => summary.warnings += 1,
                _ => summary.infos += 1,
            }
            results.push((uri.to_string(), result.clone()));
        }
    }
    // SARIF carries no count of the files checked; the merged summary counts findings only.
    let (name, version) = driver.unwrap_or_default();
    rules.sort_by(|left, right| left.0.cmp(&right.0));
    results.sort_by(|left, right| left.0.cmp(&right.0));
    let results: Vec<Value> = results
        .into_iter()
        .map(|(_, mut result)| {
            // Each input numbered the rules it listed; the index must point into the merged list.
            let rule_id = result.get("ruleId").and_then(Value::as_str).map(String::from);
            if let (Some(rule_id), Some(object)) = (rule_id, result.as_object_mut())
                && let Some(position) = rules.iter().position(|(id, _)| *id == rule_id)
            {
                object.insert("ruleIndex".to_string(), json!(position));
            }
            result
        })
        .collect();
    let document = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": name,
                "version": version,
                "rules": rules.into_iter().map(|(_, rule)| rule).collect::<Vec<_>>(),
            }},
            "columnKind": column_kind.unwrap_or_else(|| json!("unicodeCodePoints")),
            "results": results,
        }]
    });
    Ok(Merged::Lint { text: pretty_json(&document), summary })
}

/// One `<testsuite>` element of a JUnit input, kept as written, with what its test cases say.
struct Suite {
    name: String,
    text: String,
    seconds: f64,
    summary: TestSummary,
    results: usize,
}

fn merge_junit(inputs: &[Input<'_>]) -> Result<Merged, String> {
    let mut owners = Owners::default();
    let mut suites: Vec<Suite> = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        for suite in junit_suites(input)? {
            owners.claim(&suite.name, index, inputs)?;
            suites.push(suite);
        }
    }
    // As `test` orders its runs: test files by path, then the folders of Rego tests (a suite named by a
    // folder, not a YAML file) by path.
    suites.sort_by(|left, right| {
        let order = |name: &str| {
            let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
            (!is_yaml, PathBuf::from(name))
        };
        order(&left.name).cmp(&order(&right.name))
    });
    let mut summary = TestSummary::default();
    let mut total = 0;
    let mut seconds = 0.0;
    for suite in &suites {
        let own = suite.summary;
        summary.passed += own.passed;
        summary.failed += own.failed;
        summary.errors += own.errors;
        summary.unsupported += own.unsupported;
        summary.skipped += own.skipped;
        summary.problems += own.problems;
        total += suite.results;
        seconds += suite.seconds;
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"policy-lsp\" tests=\"{total}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{seconds:.3}\">",
        summary.failed,
        summary.errors + summary.problems,
        summary.unsupported + summary.skipped
    );
    for suite in &suites {
        out.push_str("  ");
        out.push_str(&suite.text);
        out.push('\n');
    }
    out.push_str("</testsuites>\n");
    Ok(Merged::Test { text: out, summary })
}

/// The suites of one JUnit document as `test --output junit` writes it: one `<testsuites>` holding
/// `<testsuite>` elements, each holding `<testcase>` elements.
fn junit_suites(input: &Input<'_>) -> Result<Vec<Suite>, String> {
    let text = input.text.trim_start_matches('\u{feff}');
    let garbled = |why: &str| format!("{}: not a JUnit XML report: {why}", input.name);
    let body_start = text.find("<testsuites").ok_or_else(|| garbled("no <testsuites> element"))?;
    let body_end = text.rfind("</testsuites>").ok_or_else(|| garbled("<testsuites> is not closed"))?;
    if body_end < body_start {
        return Err(garbled("</testsuites> comes before <testsuites>"));
    }
    let mut body = &text[body_start..body_end];
    let mut suites = Vec::new();
    // Past the `<testsuites ...>` tag itself.
    body = &body[body.find('>').ok_or_else(|| garbled("the <testsuites> tag is not closed"))? + 1..];
    while let Some(start) = body.find("<testsuite") {
        let rest = &body[start..];
        let tag_end = rest.find('>').ok_or_else(|| garbled("a <testsuite> tag is not closed"))?;
        let tag = &rest[..=tag_end];
        let length = if tag.ends_with("/>") {
            tag.len()
        } else {
            rest.find("</testsuite>").ok_or_else(|| garbled("a <testsuite> element is not closed"))?
                + "</testsuite>".len()
        };
        let element = &rest[..length];
        let name = attribute(tag, "name").ok_or_else(|| garbled("a <testsuite> has no name"))?;
        let seconds = attribute(tag, "time").map_or(Ok(0.0), |time| {
            time.parse::<f64>().map_err(|_| garbled(&format!("the time `{time}` of suite `{name}` is not a number")))
        })?;
        let (summary, results) = testcases(element, &garbled)?;
        suites.push(Suite { name, text: element.to_string(), seconds, summary, results });
        body = &rest[length..];
    }
    Ok(suites)
}

/// What the test cases of one suite say, as `test` renders them: a bare case passed, `<failure>` failed,
/// `<error type=...>` is a test-file problem, any other `<error>` an errored result, and `<skipped>` is
/// unsupported or skipped as its message starts.
fn testcases(element: &str, garbled: &dyn Fn(&str) -> String) -> Result<(TestSummary, usize), String> {
    let mut summary = TestSummary::default();
    let mut results = 0;
    let mut rest = element;
    while let Some(start) = rest.find("<testcase") {
        rest = &rest[start..];
        let tag_end = rest.find('>').ok_or_else(|| garbled("a <testcase> tag is not closed"))?;
        if rest[..=tag_end].ends_with("/>") {
            summary.passed += 1;
            results += 1;
            rest = &rest[tag_end + 1..];
            continue;
        }
        let end = rest.find("</testcase>").ok_or_else(|| garbled("a <testcase> element is not closed"))?;
        let inner = &rest[tag_end + 1..end];
        if inner.starts_with("<error type=") {
            summary.problems += 1;
        } else {
            results += 1;
            if inner.starts_with("<failure") {
                summary.failed += 1;
            } else if inner.starts_with("<error") {
                summary.errors += 1;
            } else if inner.starts_with("<skipped message=\"unsupported") {
                summary.unsupported += 1;
            } else if inner.starts_with("<skipped") {
                summary.skipped += 1;
            } else {
                summary.passed += 1;
            }
        }
        rest = &rest[end + "</testcase>".len()..];
    }
    Ok((summary, results))
}

/// The value of attribute `name` in a start tag, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let length = tag[start..].find('"')?;
    Some(xml_unescape(&tag[start..start + length]))
}

/// Reverses [`super::xml_escape`].
fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}
