//! Renders apply runs: text, JSON, SARIF 2.1.0, GitHub annotations, JUnit XML and wgpolicyk8s.io policy
//! reports. Every renderer takes the same located [`ApplyRun`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{github_escape_data, github_escape_property, xml_escape};
use crate::apply::{ApplyReport, ApplyResult, Manifest, Status, Summary};
use crate::syntax::emit::to_yaml;
use crate::testrun::Framework;

/// A place in the output: the file as reached from the path the user gave, 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// One apply run with everything located.
pub struct ApplyRun {
    pub report: ApplyReport,
    /// Per result: the field the finding is about, else the manifest's `kind:`.
    pub result_locations: Vec<Location>,
    /// Per manifest: its `kind:`.
    pub manifest_locations: Vec<Location>,
    /// Per problem: where it is, and its message with the place for problems outside any file.
    pub problem_locations: Vec<Location>,
    /// Seconds since the epoch, for the timestamps of policy reports.
    pub timestamp: i64,
}

impl ApplyRun {
    fn manifest(&self, result: &ApplyResult) -> &Manifest {
        &self.report.manifests[result.manifest]
    }

    fn summary(&self) -> Summary {
        Summary::of(&self.report.results)
    }
}

/// The `policy/rule` a result is about (`policy` for the rule-less CEL kinds).
pub fn subject(result: &ApplyResult) -> String {
    match &result.rule {
        Some(rule) => format!("{}/{rule}", result.policy),
        None => result.policy.clone(),
    }
}

/// Results worth a line of their own: everything that did not simply pass or skip, and what generate
/// rules would create.
fn notable(result: &ApplyResult) -> bool {
    !matches!(result.status, Status::Pass | Status::Skip) || !result.generated.is_empty()
}

fn problem_text(run: &ApplyRun, index: usize) -> String {
    let problem = &run.report.problems[index];
    let location = &run.problem_locations[index];
    if location.file.is_empty() {
        format!("error[{}]: {}", problem.code, problem.message)
    } else {
        format!("{}:{}:{}: error[{}]: {}", location.file, location.line, location.column, problem.code, problem.message)
    }
}

/// Compiler-style lines, one per finding, then the counts; `show_mutated` adds each mutated manifest as
/// YAML.
pub fn render_text(run: &ApplyRun, show_mutated: bool) -> String {
    let mut out = String::new();
    for index in 0..run.report.problems.len() {
        let _ = writeln!(out, "{}", problem_text(run, index));
    }
    let _ = writeln!(
        out,
        "Applying {} polic{} to {} resource{}...",
        run.report.policy_count,
        if run.report.policy_count == 1 { "y" } else { "ies" },
        run.report.manifests.len(),
        if run.report.manifests.len() == 1 { "" } else { "s" }
    );
    for (result, location) in run.report.results.iter().zip(&run.result_locations) {
        if !notable(result) {
            continue;
        }
        let manifest = run.manifest(result);
        let _ = write!(
            out,
            "{}:{}:{}: {}[{}]: {}",
            location.file,
            location.line,
            location.column,
            result.status.as_str(),
            subject(result),
            manifest.id.display()
        );
        let message = result.message.trim();
        if !message.is_empty() {
            let _ = write!(out, ": {}", message.replace('\n', " "));
        }
        out.push('\n');
        for generated in &result.generated {
            let text = |pointer: &str| generated.pointer(pointer).and_then(Value::as_str).unwrap_or("");
            let namespace = text("/metadata/namespace");
            let place = if namespace.is_empty() {
                text("/metadata/name").to_string()
            } else {
                format!("{namespace}/{}", text("/metadata/name"))
            };
            let _ = writeln!(out, "    would create {} {} {place}", text("/apiVersion"), text("/kind"));
        }
    }
    if show_mutated {
        for mutation in &run.report.mutations {
            let manifest = &run.report.manifests[mutation.manifest];
            let location = &run.manifest_locations[mutation.manifest];
            let _ = writeln!(
                out,
                "---\n# {}:{}: {} as mutated by {}",
                location.file,
                location.line,
                manifest.id.display(),
                mutation.policies.join(", ")
            );
            out.push_str(&to_yaml(&mutation.mutated));
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(run));
    out
}

/// Exactly one JSON document: `{"results": [...], "summary": {...}, "mutations": [...], "problems": [...]}`.
pub fn render_json(run: &ApplyRun) -> String {
    let resource = |manifest: &Manifest, location: &Location| {
        json!({
            "apiVersion": manifest.id.api_version,
            "kind": manifest.id.kind,
            "namespace": manifest.id.namespace,
            "name": manifest.id.name,
            "file": location.file,
            "line": location.line,
        })
    };
    let results: Vec<Value> = run
        .report
        .results
        .iter()
        .zip(&run.result_locations)
        .map(|(result, location)| {
            let mut entry = json!({
                "framework": result.framework,
                "policy": result.policy,
                "rule": result.rule,
                "ruleType": result.rule_kind,
                "resource": resource(run.manifest(result), &run.manifest_locations[result.manifest]),
                "result": result.status,
                "message": result.message,
                "enforcement": result.enforcement,
                "line": location.line,
                "column": location.column,
            });
            if !result.generated.is_empty()
                && let Some(object) = entry.as_object_mut()
            {
                object.insert("generated".to_string(), json!(result.generated));
            }
            entry
        })
        .collect();
    let mutations: Vec<Value> = run
        .report
        .mutations
        .iter()
        .map(|mutation| {
            json!({
                "resource": resource(&run.report.manifests[mutation.manifest], &run.manifest_locations[mutation.manifest]),
                "policies": mutation.policies,
                "mutated": mutation.mutated,
            })
        })
        .collect();
    let problems: Vec<Value> = run
        .report
        .problems
        .iter()
        .zip(&run.problem_locations)
        .map(|(problem, location)| {
            json!({"file": location.file, "line": location.line, "column": location.column, "code": problem.code, "message": problem.message})
        })
        .collect();
    let document = json!({
        "results": results,
        "summary": run.summary(),
        "mutations": mutations,
        "problems": problems,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

fn sarif_level(status: Status) -> &'static str {
    match status {
        Status::Fail | Status::Error => "error",
        Status::Warn | Status::Unsupported => "warning",
        Status::Pass | Status::Skip => "note",
    }
}

/// SARIF 2.1.0 for code scanning: one rule per `policy/rule`, one result per finding, on the manifest's
/// line.
pub fn render_sarif(run: &ApplyRun) -> String {
    let findings: Vec<(&ApplyResult, &Location)> = run
        .report
        .results
        .iter()
        .zip(&run.result_locations)
        .filter(|(result, _)| !matches!(result.status, Status::Pass | Status::Skip))
        .collect();
    let mut rule_ids: Vec<String> = findings.iter().map(|(result, _)| format!("policy/{}", subject(result))).collect();
    rule_ids.sort();
    rule_ids.dedup();
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let example = findings.iter().find(|(result, _)| format!("policy/{}", subject(result)) == *id);
            let framework = example.map(|(result, _)| result.framework);
            let text = match framework {
                Some(Framework::Gatekeeper) => "A Gatekeeper constraint that the manifest violates.",
                _ => "A Kyverno policy rule that the manifest does not satisfy.",
            };
            json!({"id": id, "shortDescription": {"text": text}})
        })
        .collect();
    let mut results: Vec<Value> = findings
        .iter()
        .map(|(result, location)| {
            let id = format!("policy/{}", subject(result));
            let manifest = run.manifest(result);
            json!({
                "ruleId": id,
                "ruleIndex": rule_ids.iter().position(|known| *known == id).unwrap_or(0),
                "level": sarif_level(result.status),
                "message": {"text": format!("{}: {} ({})", result.status.as_str(), result.message.trim(), manifest.id.display())},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": location.file.replace('\\', "/")},
                        "region": {"startLine": location.line, "startColumn": location.column}
                    }
                }]
            })
        })
        .collect();
    for (problem, location) in run.report.problems.iter().zip(&run.problem_locations) {
        let mut entry = json!({
            "ruleId": problem.code,
            "level": "error",
            "message": {"text": problem.message},
        });
        if !location.file.is_empty()
            && let Some(object) = entry.as_object_mut()
        {
            object.insert(
                "locations".to_string(),
                json!([{"physicalLocation": {
                    "artifactLocation": {"uri": location.file.replace('\\', "/")},
                    "region": {"startLine": location.line, "startColumn": location.column}
                }}]),
            );
        }
        results.push(entry);
    }
    let document = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "policy-lsp", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// GitHub workflow annotations on the manifests' lines, and the counts.
pub fn render_github(run: &ApplyRun) -> String {
    let mut out = String::new();
    for (problem, location) in run.report.problems.iter().zip(&run.problem_locations) {
        let place = if location.file.is_empty() {
            String::new()
        } else {
            format!(" file={},line={},col={},", github_escape_property(&location.file), location.line, location.column)
        };
        let place = if place.is_empty() { " ".to_string() } else { place };
        let _ = writeln!(
            out,
            "::error{place}title={}::{}",
            github_escape_property(problem.code.as_str()),
            github_escape_data(&problem.message)
        );
    }
    for (result, location) in run.report.results.iter().zip(&run.result_locations) {
        if matches!(result.status, Status::Pass | Status::Skip) {
            continue;
        }
        let level = match result.status {
            Status::Fail | Status::Error => "error",
            _ => "warning",
        };
        let manifest = run.manifest(result);
        let title = format!("{} policy/{}", result.status.as_str(), subject(result));
        let message = format!("{}: {}", manifest.id.display(), result.message.trim());
        let _ = writeln!(
            out,
            "::{level} file={},line={},col={},title={}::{}",
            github_escape_property(&location.file),
            location.line,
            location.column,
            github_escape_property(&title),
            github_escape_data(&message)
        );
    }
    let _ = writeln!(out, "{}", summary_line(run));
    out
}

/// The counts by status, as the text and GitHub outputs end.
fn summary_line(run: &ApplyRun) -> String {
    let summary = run.summary();
    format!(
        "pass: {}, fail: {}, warn: {}, error: {}, skip: {}, unsupported: {}",
        summary.pass, summary.fail, summary.warn, summary.error, summary.skip, summary.unsupported
    )
}

/// JUnit XML: one `<testsuite>` per policy, one `<testcase>` per result.
pub fn render_junit(run: &ApplyRun) -> String {
    let summary = run.summary();
    let mut by_policy: BTreeMap<&str, Vec<&ApplyResult>> = BTreeMap::new();
    for result in &run.report.results {
        by_policy.entry(result.policy.as_str()).or_default().push(result);
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"policy-lsp apply\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        run.report.results.len() + run.report.problems.len(),
        summary.fail,
        summary.error + run.report.problems.len(),
        summary.skip + summary.unsupported
    );
    if !run.report.problems.is_empty() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"load\" tests=\"{0}\" failures=\"0\" errors=\"{0}\" skipped=\"0\">",
            run.report.problems.len()
        );
        for (index, problem) in run.report.problems.iter().enumerate() {
            let _ = writeln!(
                out,
                "    <testcase classname=\"load\" name=\"{}\"><error type=\"{}\" message=\"{}\"/></testcase>",
                xml_escape(&run.problem_locations[index].file),
                xml_escape(problem.code.as_str()),
                xml_escape(&problem.message)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    for (policy, results) in &by_policy {
        let own = Summary::of(results.iter().copied());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            xml_escape(policy),
            results.len(),
            own.fail,
            own.error,
            own.skip + own.unsupported
        );
        for result in results {
            let manifest = run.manifest(result);
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml_escape(&subject(result)),
                xml_escape(&manifest.id.display())
            );
            let message = xml_escape(result.message.trim());
            match result.status {
                Status::Pass => out.push_str("/>\n"),
                Status::Warn => {
                    let _ = writeln!(out, "><system-out>warn: {message}</system-out></testcase>");
                }
                Status::Fail => {
                    let _ = writeln!(out, "><failure message=\"{message}\">{message}</failure></testcase>");
                }
                Status::Error => {
                    let _ = writeln!(out, "><error message=\"{message}\">{message}</error></testcase>");
                }
                Status::Skip | Status::Unsupported => {
                    let _ = writeln!(
                        out,
                        "><skipped message=\"{}\"/></testcase>",
                        xml_escape(&format!("{}: {}", result.status.as_str(), result.message.trim()))
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// wgpolicyk8s.io/v1alpha2 reports, shaped as `kyverno apply --policy-report` shapes them
/// (`cmd/cli/kubectl-kyverno/report/report.go`): the results of cluster-wide policies (and of
/// Gatekeeper constraints) merged into one ClusterPolicyReport named `merged`, then one PolicyReport per
/// namespaced Policy, in its namespace, as YAML documents. Kyverno 1.19's CLI writes the same results
/// under openreports.io; the wgpolicyk8s.io API is the one Policy Reporter and most dashboards read.
/// Results that could not be known (`unsupported`) are reported as `error`, with an `unsupported`
/// property.
pub fn render_policy_report(run: &ApplyRun) -> String {
    let mut cluster: Vec<Value> = Vec::new();
    let mut namespaced: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for result in &run.report.results {
        let entry = report_result(run, result);
        match result.policy.split_once('/') {
            Some((namespace, name)) if result.framework == Framework::Kyverno => {
                namespaced.entry((namespace.to_string(), name.to_string())).or_default().push(entry)
            }
            _ => cluster.push(entry),
        }
    }
    let mut documents = Vec::new();
    if !cluster.is_empty() {
        documents.push(json!({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": "ClusterPolicyReport",
            "metadata": {"name": "merged"},
            "summary": report_summary(&cluster),
            "results": cluster,
        }));
    }
    for ((namespace, name), results) in namespaced {
        documents.push(json!({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": "PolicyReport",
            "metadata": {"name": name, "namespace": namespace},
            "summary": report_summary(&results),
            "results": results,
        }));
    }
    let mut out = String::new();
    for (index, document) in documents.iter().enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(document));
    }
    out
}

fn report_result(run: &ApplyRun, result: &ApplyResult) -> Value {
    let manifest = run.manifest(result);
    let mut properties = serde_json::Map::new();
    let reported = match result.status {
        Status::Unsupported => {
            properties.insert("unsupported".to_string(), json!("true"));
            "error"
        }
        other => other.as_str(),
    };
    if !result.enforcement.is_empty() {
        properties.insert("enforcement".to_string(), json!(result.enforcement));
    }
    let mut entry = json!({
        "source": result.source,
        "policy": result.policy,
        "message": result.message,
        "result": reported,
        "scored": true,
        "timestamp": {"seconds": run.timestamp, "nanos": 0},
        "resources": [{
            "apiVersion": manifest.id.api_version,
            "kind": manifest.id.kind,
            "namespace": manifest.id.namespace,
            "name": manifest.id.name,
        }],
    });
    let Some(object) = entry.as_object_mut() else { return entry };
    if let Some(rule) = &result.rule {
        object.insert("rule".to_string(), json!(rule));
    }
    if !result.category.is_empty() {
        object.insert("category".to_string(), json!(result.category));
    }
    if !result.severity.is_empty() {
        object.insert("severity".to_string(), json!(result.severity));
    }
    if !properties.is_empty() {
        object.insert("properties".to_string(), Value::Object(properties));
    }
    entry
}

fn report_summary(results: &[Value]) -> Value {
    let count = |status: &str| results.iter().filter(|result| result["result"] == status).count();
    json!({"pass": count("pass"), "fail": count("fail"), "warn": count("warn"), "error": count("error"), "skip": count("skip")})
}
