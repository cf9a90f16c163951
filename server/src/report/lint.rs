//! Renders lint results as code frames, JSON, SARIF 2.1.0 or GitHub workflow annotations.

use std::fmt::Write as _;

use serde_json::json;

use super::{FileReport, github_escape_data, github_escape_property};
use crate::base::{Code, Severity};

/// Counts by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LintSummary {
    pub files: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub hints: usize,
}

impl LintSummary {
    pub fn of(files: &[FileReport]) -> LintSummary {
        let mut summary = LintSummary { files: files.len(), ..LintSummary::default() };
        for diagnostic in files.iter().flat_map(|file| &file.diagnostics) {
            match diagnostic.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Info => summary.infos += 1,
                Severity::Hint => summary.hints += 1,
            }
        }
        summary
    }
}

/// `file:line:col: severity[code]: message`, then the source line with carets under the range.
pub fn render_text(files: &[FileReport]) -> String {
    let mut out = String::new();
    for file in files {
        for diagnostic in &file.diagnostics {
            let _ = writeln!(
                out,
                "{}:{}:{}: {}[{}]: {}",
                file.path,
                diagnostic.line,
                diagnostic.column,
                diagnostic.severity.as_str(),
                diagnostic.code,
                diagnostic.message
            );
            let Some(source_line) = file.lines.get(diagnostic.line as usize - 1) else {
                continue;
            };
            let gutter = diagnostic.line.to_string().len();
            let source_line = source_line.replace('\t', " ");
            let width = source_line.chars().count() as u32;
            let start = diagnostic.column.saturating_sub(1).min(width);
            let end =
                if diagnostic.end_line == diagnostic.line { diagnostic.end_column.saturating_sub(1) } else { width };
            let carets = (end.min(width).saturating_sub(start)).max(1);
            let _ = writeln!(out, "{:gutter$} |", "");
            let _ = writeln!(out, "{} | {}", diagnostic.line, source_line);
            let _ = writeln!(out, "{:gutter$} | {}{}", "", " ".repeat(start as usize), "^".repeat(carets as usize));
            let _ = writeln!(out);
        }
    }
    let summary = LintSummary::of(files);
    let _ = writeln!(
        out,
        "Checked {} file{}: {} error{}, {} warning{}.",
        summary.files,
        if summary.files == 1 { "" } else { "s" },
        summary.errors,
        if summary.errors == 1 { "" } else { "s" },
        summary.warnings,
        if summary.warnings == 1 { "" } else { "s" },
    );
    out
}

/// Exactly one JSON document: `{"diagnostics": [...], "summary": {...}}`.
pub fn render_json(files: &[FileReport]) -> String {
    let diagnostics: Vec<serde_json::Value> = files
        .iter()
        .flat_map(|file| {
            file.diagnostics.iter().map(move |diagnostic| {
                json!({
                    "file": file.path,
                    "line": diagnostic.line,
                    "column": diagnostic.column,
                    "end_line": diagnostic.end_line,
                    "end_column": diagnostic.end_column,
                    "severity": diagnostic.severity.as_str(),
                    "code": diagnostic.code,
                    "message": diagnostic.message,
                })
            })
        })
        .collect();
    json_document(diagnostics, &LintSummary::of(files))
}

/// The JSON document of `diagnostics` and `summary`, as `render_json` and `merge` write it.
pub(super) fn json_document(diagnostics: Vec<serde_json::Value>, summary: &LintSummary) -> String {
    let document = json!({
        "diagnostics": diagnostics,
        "summary": {
            "files": summary.files,
            "errors": summary.errors,
            "warnings": summary.warnings,
            "infos": summary.infos,
            "hints": summary.hints,
        }
    });
    super::pretty_json(&document)
}

/// GitHub workflow commands, one annotation per diagnostic.
pub fn render_github(files: &[FileReport]) -> String {
    let mut out = String::new();
    for file in files {
        for diagnostic in &file.diagnostics {
            let command = match diagnostic.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info | Severity::Hint => "notice",
            };
            let _ = writeln!(
                out,
                "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
                github_escape_property(&file.path),
                diagnostic.line,
                diagnostic.column,
                diagnostic.end_line,
                diagnostic.end_column,
                github_escape_property(diagnostic.code.as_str()),
                github_escape_data(&diagnostic.message)
            );
        }
    }
    out
}

/// SARIF 2.1.0, one run, with a rule entry for every code that occurs.
pub fn render_sarif(files: &[FileReport]) -> String {
    let mut codes: Vec<Code> =
        files.iter().flat_map(|file| file.diagnostics.iter().map(|diagnostic| diagnostic.code)).collect();
    // Rules are listed in the order of their strings, which SARIF viewers show.
    codes.sort_unstable_by_key(|code| code.as_str());
    codes.dedup();
    let rules: Vec<serde_json::Value> = codes
        .iter()
        .map(|code| {
            json!({
                "id": code,
                "shortDescription": {"text": code.summary()},
                "fullDescription": {"text": code.why()},
                "help": {"text": format!("{}\n\nExample:\n{}", code.why(), code.example())},
            })
        })
        .collect();
    let codes = &codes;
    let results: Vec<serde_json::Value> = files
        .iter()
        .flat_map(|file| {
            file.diagnostics.iter().map(move |diagnostic| {
                json!({
                    "ruleId": diagnostic.code,
                    "ruleIndex": codes.iter().position(|code| *code == diagnostic.code).unwrap_or(0),
                    "level": match diagnostic.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                        Severity::Info | Severity::Hint => "note",
                    },
                    "message": {"text": diagnostic.message},
                    "locations": [{
                        "physicalLocation": {
                            "artifactLocation": {"uri": file.path.replace('\\', "/")},
                            "region": {
                                "startLine": diagnostic.line,
                                "startColumn": diagnostic.column,
                                "endLine": diagnostic.end_line,
                                "endColumn": diagnostic.end_column,
                            }
                        }
                    }]
                })
            })
        })
        .collect();
    let document = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "policy-lsp",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
