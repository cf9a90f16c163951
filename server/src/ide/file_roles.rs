//! What a file is beyond the kinds of its documents, when that changes what may be said about it: a Helm
//! chart template (its YAML exists only after rendering), a Chainsaw assertion (a partial object), a
//! Kyverno test in the format the CLI no longer reads.

use std::path::Path;

use serde_json::Value;

use super::workspace::Workspace;
use crate::base::TextRange;
use crate::model::DocumentKind;
use crate::syntax::Segment;

/// Go template actions that never start a Kyverno JMESPath variable: `{{- if .Values.x }}`,
/// `{{ include "chart.labels" . }}`, `{{ toYaml .Values.rules | nindent 4 }}`.
const TEMPLATE_ACTIONS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "include", "template", "block", "tpl", "toYaml", "toJson",
    "required", "default", "printf", "print", "quote", "squote", "nindent", "indent", "lookup", "fail", "break",
    "continue", "len", "not", "and", "or", "eq", "ne",
];

/// Where a file is a Helm chart template: the line of its first template directive, or its first line
/// for a file under a chart's `templates/` folder that has none. `None` for any other file.
///
/// A file is a template when it sits under `templates/` beside a `Chart.yaml` (as `helm` finds them), or
/// when a `{{ }}` directive stands where YAML would read it as syntax rather than inside a scalar, and
/// holds Go template syntax: Kyverno's own `{{ }}` variables live inside quoted or block scalars and
/// start with a JMESPath expression.
pub(super) fn helm_template(workspace: &Workspace, path: &Path, segments: &[Segment]) -> Option<TextRange> {
    for segment in segments {
        if let Some(offset) = first_template_directive(&segment.text) {
            let line_end = line_at(&segment.text, offset).end;
            let end = segment.text[offset..line_end].find("}}").map_or(line_end, |close| offset + close + 2);
            return Some(TextRange::new(offset, end).shifted(segment.start));
        }
    }
    let first = segments.first()?;
    in_chart_templates(workspace, path).then(|| line_at(&first.text, 0).shifted(first.start))
}

fn in_chart_templates(workspace: &Workspace, path: &Path) -> bool {
    path.ancestors().skip(1).any(|folder| {
        folder.file_name().is_some_and(|name| name == "templates")
            && folder.parent().is_some_and(|chart| {
                let manifest = chart.join("Chart.yaml");
                workspace.file(&manifest).is_some() || workspace.disk.read(&manifest).is_ok()
            })
    })
}

/// The offset of the first `{{` that YAML would read as syntax and that holds a Go template action.
fn first_template_directive(text: &str) -> Option<usize> {
    if !text.contains("{{") {
        return None;
    }
    // The indentation of the key whose block scalar (`|`, `>`) the following lines belong to.
    let mut block_owner: Option<usize> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let indent = content.len() - content.trim_start_matches(' ').len();
        let trimmed = content.trim_start();
        if let Some(owner) = block_owner {
            if trimmed.is_empty() || indent > owner {
                continue;
            }
            block_owner = None;
        }
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        let characters: Vec<(usize, char)> = content.char_indices().collect();
        let mut plain_end = content.len();
        for (position, (index, character)) in characters.iter().enumerate() {
            match (quote, *character) {
                (Some(open), close) if close == open => quote = None,
                (Some(_), _) => {}
                (None, '#') if previous == ' ' || previous == '\t' => {
                    plain_end = *index;
                    break;
                }
                (None, '"' | '\'') if matches!(previous, ' ' | '\t' | '[' | '{' | ',' | ':' | '-') => {
                    quote = Some(*character)
                }
                (None, '{') if characters.get(position + 1).is_some_and(|(_, next)| *next == '{') => {
                    let rest = &content[index + 2..];
                    // A directive alone on its line (or as a list item) is a statement: never Kyverno's.
                    let at_line_start = matches!(content[..*index].trim(), "" | "-");
                    if at_line_start || is_go_template(rest) {
                        return Some(line_start + index);
                    }
                }
                _ => {}
            }
            previous = *character;
        }
        let plain = content[..plain_end].trim_end();
        let opens_block = plain
            .rsplit([' ', '\t'])
            .next()
            .is_some_and(|last| last.starts_with(['|', '>']) && last.len() <= 3 && plain.len() > last.len());
        if quote.is_none() && opens_block {
            block_owner = Some(indent);
        }
    }
    None
}

/// Whether the text after `{{` is a Go template action rather than a JMESPath expression.
fn is_go_template(rest: &str) -> bool {
    let rest = rest.trim_start();
    if rest.starts_with(['-', '.', '$']) || rest.starts_with("/*") {
        return true;
    }
    let word: String = rest.chars().take_while(|character| character.is_ascii_alphanumeric()).collect();
    TEMPLATE_ACTIONS.contains(&word.as_str()) && rest[word.len()..].starts_with([' ', '}'])
}

/// Whether document `index` of the file at `path` is a partial object that Chainsaw compares against the
/// cluster (an `assert` or `error` file, or a `patch`): named so by a Chainsaw Test of its folder, or
/// written with Chainsaw's expression keys (`(conditions[?type == 'Ready'])`), which no manifest has.
pub(super) fn chainsaw_partial(workspace: &Workspace, path: &Path, value: &Value) -> bool {
    has_expression_key(value, 0) || named_by_a_chainsaw_step(workspace, path)
}

fn has_expression_key(value: &Value, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| key.starts_with('(') || key.starts_with("~") || has_expression_key(item, depth + 1)),
        Value::Array(items) => items.iter().any(|item| has_expression_key(item, depth + 1)),
        _ => false,
    }
}

fn named_by_a_chainsaw_step(workspace: &Workspace, path: &Path) -> bool {
    let (Some(folder), Some(name)) = (path.parent(), path.file_name().and_then(|name| name.to_str())) else {
        return false;
    };
    workspace.paths_in(folder).any(|neighbour| {
        let holds_chainsaw = super::index::facts(workspace, neighbour)
            .is_some_and(|facts| super::index::holds(&facts, DocumentKind::Chainsaw));
        // Only a neighbour that holds a Chainsaw Test is loaded.
        holds_chainsaw
            && workspace.load(neighbour).is_some_and(|file| {
                file.documents.iter().enumerate().any(|(index, info)| {
                    info.kind == DocumentKind::Chainsaw
                        && partial_files(&file.source.segments()[index].parsed.value)
                            .iter()
                            .any(|file| file.trim_start_matches("./") == name)
                })
            })
    })
}

/// The files a Chainsaw Test compares against the cluster: `assert`, `error` and `patch` operations of
/// its steps' `try`, `catch` and `finally` blocks.
fn partial_files(test: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    for step in test.pointer("/spec/steps").and_then(Value::as_array).into_iter().flatten() {
        for block in ["try", "catch", "finally", "cleanup"] {
            for operation in step.get(block).and_then(Value::as_array).into_iter().flatten() {
                for kind in ["assert", "error", "patch"] {
                    if let Some(file) = operation.get(kind).and_then(|body| body.get("file")).and_then(Value::as_str) {
                        out.push(file);
                    }
                }
            }
        }
    }
    out
}

/// Why `kyverno test` refuses a test document in the format of Kyverno before 1.11 (no apiVersion or
/// kind, or a top-level `name`): current releases stop with "test file uses a deprecated schema"
/// (`cmd/cli/kubectl-kyverno/deprecations/check.go`, `CheckTest`). `None` for a current test and for
/// documents that are not tests: a file `kyverno test` loads (`kyverno-test.yaml`), or a document with the
/// test's `policies` and `results`.
pub(super) fn legacy_test_problem(path: &Path, value: &Value) -> Option<&'static str> {
    let Value::Object(map) = value else { return None };
    let loaded_as_test = path.file_name().is_some_and(|name| name == "kyverno-test.yaml");
    let looks_like_test = map.contains_key("policies") && map.contains_key("results");
    if !(loaded_as_test || looks_like_test) {
        return None;
    }
    let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or("");
    if text("apiVersion").is_empty() || text("kind").is_empty() {
        return Some(
            "`kyverno test` refuses this test: it has no apiVersion and kind (the format before Kyverno 1.11); add \
             `apiVersion: cli.kyverno.io/v1alpha1` and `kind: Test`, and move `name` to `metadata.name`",
        );
    }
    if map.contains_key("name") {
        return Some(
            "`kyverno test` refuses this test: a top-level `name` is the format before Kyverno 1.11; move it to \
             `metadata.name`",
        );
    }
    None
}

/// The range of the line at `offset`, for a file-level finding.
fn line_at(text: &str, offset: usize) -> TextRange {
    let start = text[..offset.min(text.len())].rfind('\n').map_or(0, |newline| newline + 1);
    let end = text[start..].find(['\n', '\r']).map_or(text.len(), |end| start + end);
    TextRange::new(start, end.max(start + 1).min(text.len().max(start)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: Option<&str>) {
        let found = first_template_directive(text).map(|offset| {
            let rest = &text[offset..];
            rest.split('\n').next().unwrap_or_default().to_string()
        });
        assert_eq!(found.as_deref(), expect, "{text}");
    }

    #[test]
    fn go_template_directives_outside_scalars_mark_a_template() {
        check("{{- if .Values.enabled }}\napiVersion: v1\n", Some("{{- if .Values.enabled }}"));
        check(
            "metadata:\n  labels:\n    {{- include \"x.labels\" . | nindent 4 }}\n",
            Some("{{- include \"x.labels\" . | nindent 4 }}"),
        );
        check("spec:\n  replicas: {{ .Values.replicas }}\n", Some("{{ .Values.replicas }}"));
    }

    #[test]
    fn kyverno_variables_inside_scalars_do_not() {
        check("message: \"{{ request.object.metadata.name }} needs a label\"\n", None);
        check("value: '{{ to_upper(@) }}'\n", None);
        check("deny:\n  conditions: |\n    {{ request.operation }}\n    {{- end }}\nnext: 1\n", None);
        check("# {{ .Values.comment }}\nkind: Pod\n", None);
    }
}
