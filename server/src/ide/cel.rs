//! CEL in the editor: diagnostics mapped through the YAML scalar to the exact line and column, and
//! completion and hover inside expressions. The engine names expressions by JSON pointer and works on
//! their decoded text; [`EmbeddedText`] maps between that text and the file.

use super::cursor::Cursor;
use super::types::{CompletionItem, CompletionKind, HoverResult};
use super::workspace::Workspace;
use crate::base::{Code, Diagnostic, TextRange};
use serde_json::Value;

use crate::engine::cel::catalog::Call;
use crate::engine::cel::docs::{Candidate, complete, function_at, function_hover};
use crate::engine::cel::plural_of;
use crate::engine::kyverno_cel::diagnostics::{ExpressionContext, expression_at, expression_diagnostics};
use crate::model::DocumentKind;
use crate::schema;
use crate::syntax::Segment;
use crate::syntax::embedded::EmbeddedText;
use crate::syntax::navigate::{Side, node_at};

pub(super) fn cel_diagnostics(segment: &Segment, out: &mut Vec<Diagnostic>) {
    let parsed = &segment.parsed;
    for finding in expression_diagnostics(&parsed.value) {
        let Some(span) = parsed.source_map.get(&finding.pointer) else {
            continue;
        };
        let Some(embedded) = EmbeddedText::from_node(&segment.text, span.value) else {
            continue;
        };
        let byte_at = |characters: usize| {
            embedded.text.char_indices().nth(characters).map_or(embedded.text.len(), |(index, _)| index)
        };
        let start = embedded.to_source(byte_at(finding.offset));
        let end = embedded.to_source(byte_at(finding.offset + finding.length)).max(start + 1);
        let range = TextRange::new(start + segment.start, end.min(span.value.end.max(start + 1)) + segment.start);
        out.push(Diagnostic::new(Code::CelCompile, range, finding.message));
    }
}

/// The expression under a segment-relative offset: its decoded text, the cursor inside it, its context
/// and its pointer.
fn expression_under(segment: &Segment, relative: usize) -> Option<(EmbeddedText, usize, ExpressionContext, String)> {
    let (pointer, span, side) = node_at(&segment.parsed, relative)?;
    if side != Side::Value {
        return None;
    }
    let context = expression_at(&segment.parsed.value, &pointer)?;
    let embedded = EmbeddedText::from_node(&segment.text, span.value)?;
    let cursor = (0..=embedded.text.len())
        .filter(|index| embedded.text.is_char_boundary(*index))
        .find(|index| embedded.to_source(*index) >= relative)
        .unwrap_or(embedded.text.len());
    Some((embedded, cursor, context, pointer))
}

/// The (apiVersion, kind) pairs the policy around `pointer` matches, as far as the schemas know them.
fn matched_kinds(document: &Value, pointer: &str) -> Vec<(String, String)> {
    let registry = schema::registry();
    let strings = |value: Option<&Value>| -> Vec<String> {
        value
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    if let Some(rules) = document.pointer("/spec/matchConstraints/resourceRules").and_then(Value::as_array) {
        for rule in rules {
            let groups = strings(rule.get("apiGroups"));
            for resource in strings(rule.get("resources")) {
                for entry in registry.entries() {
                    let (group, _) = entry.api_version.rsplit_once('/').unwrap_or(("", &entry.api_version));
                    if plural_of(&entry.kind) == resource
                        && groups.iter().any(|wanted| wanted == group || wanted == "*")
                    {
                        out.push((entry.api_version.clone(), entry.kind.clone()));
                    }
                }
            }
        }
    }
    let rule = pointer
        .strip_prefix("/spec/rules/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|index| index.parse::<usize>().ok());
    if let Some(rule) = rule.and_then(|index| document.pointer(&format!("/spec/rules/{index}/match"))) {
        for block in ["any", "all"] {
            for filter in rule.get(block).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
                for kind in strings(filter.pointer("/resources/kinds")) {
                    let name = kind.rsplit('/').next().unwrap_or(&kind).to_string();
                    for version in registry.versions_of(&name) {
                        out.push((version.to_string(), name.clone()));
                    }
                }
            }
        }
    }
    out.dedup();
    out
}

/// The field path after `object.` or `oldObject.` that ends right before the cursor's member access,
/// with list indexes as `0`; `None` when the text does not end in such a chain.
fn object_path(before: &str) -> Option<Vec<String>> {
    let chain_start = before
        .char_indices()
        .rev()
        .take_while(|(_, character)| character.is_alphanumeric() || "_.?[]'\"".contains(*character))
        .last()
        .map_or(before.len(), |(index, _)| index);
    let chain = &before[chain_start..];
    let chain = chain.trim_end_matches(|character: char| character.is_alphanumeric() || character == '_');
    let chain = chain.strip_suffix('.').or_else(|| chain.strip_suffix(".?"))?;
    let mut segments = Vec::new();
    for part in chain.split('.') {
        let part = part.trim_start_matches('?');
        let (name, indexes) = part.split_once('[').map_or((part, ""), |(name, rest)| (name, rest));
        if !name.is_empty() {
            segments.push(name.to_string());
        }
        for index in indexes.split('[').filter(|index| !index.is_empty()) {
            let index = index.trim_end_matches(']').trim_start_matches('?').trim_matches(['\'', '"']);
            segments.push(if index.chars().all(|character| character.is_ascii_digit()) {
                "0".to_string()
            } else {
                index.to_string()
            });
        }
    }
    match segments.first().map(String::as_str) {
        Some("object" | "oldObject") => Some(segments.split_off(1)),
        _ => None,
    }
}

/// Field names at `path` in the schemas of the matched kinds.
fn typed_fields(document: &Value, pointer: &str, path: &[String]) -> Vec<Candidate> {
    let registry = schema::registry();
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let mut names: Vec<(String, String)> = Vec::new();
    for (api_version, kind) in matched_kinds(document, pointer) {
        let Some(root) = registry.lookup(&api_version, &kind).and_then(|entry| registry.root(entry)) else { continue };
        for node in
            schema::schema_at(registry, root, &segments).into_iter().flat_map(|node| schema::subschemas(registry, node))
        {
            if let Some(properties) = node.value.get("properties").and_then(Value::as_object) {
                for name in properties.keys() {
                    if !names.iter().any(|(known, _)| known == name) {
                        names.push((name.clone(), kind.clone()));
                    }
                }
            }
        }
    }
    names
        .into_iter()
        .map(|(label, kind)| Candidate { label, detail: format!("{kind} field"), is_function: false })
        .collect()
}

/// Completion inside a CEL expression: variables, `variables.` names, object and request fields and
/// functions. `None` when the cursor is not in an expression.
/// The completion provider: CEL variables, fields and functions inside an expression.
pub(super) fn completions(_: &Workspace, cursor: &Cursor<'_>) -> Option<Vec<CompletionItem>> {
    cel_completions(cursor.segment, cursor.relative)
}

/// The hover provider: a CEL function's signature and documentation, in documents the analysis knows.
pub(super) fn hover(_: &Workspace, cursor: &Cursor<'_>) -> Option<HoverResult> {
    if cursor.info.kind == DocumentKind::Other {
        return None;
    }
    cel_hover(cursor.segment, cursor.relative)
}

fn cel_completions(segment: &Segment, relative: usize) -> Option<Vec<CompletionItem>> {
    let (embedded, cursor, context, pointer) = expression_under(segment, relative)?;
    let before = &embedded.text[..cursor];
    let word_start = before
        .char_indices()
        .rev()
        .take_while(|(_, character)| character.is_alphanumeric() || *character == '_')
        .last()
        .map_or(cursor, |(index, _)| index);
    let prefix = before[word_start..].to_lowercase();
    let replace = TextRange::new(segment.start + embedded.to_source(word_start), segment.start + relative);
    let typed =
        object_path(before).map(|path| typed_fields(&segment.parsed.value, &pointer, &path)).unwrap_or_default();
    let candidates = if typed.is_empty() {
        complete(before, context.environment, &context.declared)
    } else {
        let members = context.environment.functions().filter(|function| function.call == Call::Member);
        typed
            .into_iter()
            .chain(members.map(|function| Candidate {
                label: function.name().to_string(),
                detail: function.signature.to_string(),
                is_function: true,
            }))
            .collect()
    };
    let items = candidates
        .into_iter()
        .filter(|candidate| candidate.label.to_lowercase().starts_with(&prefix))
        .map(|candidate| CompletionItem {
            insert_text: candidate.label.clone(),
            label: candidate.label,
            kind: if candidate.is_function { CompletionKind::Function } else { CompletionKind::Field },
            detail: Some(candidate.detail),
            documentation: None,
            is_snippet: false,
            replace,
            deprecated: false,
            preselect: false,
        })
        .collect();
    Some(items)
}

/// Hover on a function name inside a CEL expression: its signature, what it does, its library and
/// whether offline evaluation supports it, for the function the expression's environment declares.
fn cel_hover(segment: &Segment, relative: usize) -> Option<HoverResult> {
    let (embedded, cursor, context, _) = expression_under(segment, relative)?;
    let is_word = |character: char| character.is_alphanumeric() || character == '_';
    let start = embedded.text[..cursor].rfind(|character: char| !is_word(character)).map_or(0, |index| index + 1);
    let end = embedded.text[cursor..]
        .find(|character: char| !is_word(character))
        .map_or(embedded.text.len(), |index| cursor + index);
    let word = embedded.text.get(start..end)?;
    // `sets.contains`, `resource.get`: the dotted name before the word qualifies it.
    let qualifier = embedded.text[..start].strip_suffix('.').map(|before| {
        let qualifier_start =
            before.rfind(|character: char| !(is_word(character) || character == '.')).map_or(0, |index| index + 1);
        &before[qualifier_start..]
    });
    let function = function_at(context.environment, qualifier.filter(|qualifier| !qualifier.is_empty()), word)?;
    let range = TextRange::new(segment.start + embedded.to_source(start), segment.start + embedded.to_source(end));
    Some(HoverResult { range, markdown: function_hover(function) })
}
