//! CEL in the editor: diagnostics mapped through the YAML scalar to the exact line and column, and
//! completion and hover inside expressions. The engine names expressions by JSON pointer and works on
//! their decoded text; [`EmbeddedText`] maps between that text and the file.

use super::completion::{CompletionItem, CompletionKind};
use super::hover::HoverResult;
use crate::base::{Diagnostic, TextRange};
use crate::engine::cel::docs::{complete, function_doc};
use crate::engine::kyverno_cel::diagnostics::{ExpressionContext, expression_at, expression_diagnostics};
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
        out.push(Diagnostic::error("cel/compile", range, finding.message));
    }
}

/// The expression under a segment-relative offset: its decoded text, the cursor inside it, its context.
fn expression_under(segment: &Segment, relative: usize) -> Option<(EmbeddedText, usize, ExpressionContext)> {
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
    Some((embedded, cursor, context))
}

/// Completion inside a CEL expression: variables, `variables.` names, object and request fields and
/// functions. `None` when the cursor is not in an expression.
pub(super) fn cel_completions(segment: &Segment, relative: usize) -> Option<Vec<CompletionItem>> {
    let (embedded, cursor, context) = expression_under(segment, relative)?;
    let before = &embedded.text[..cursor];
    let word_start = before
        .char_indices()
        .rev()
        .take_while(|(_, character)| character.is_alphanumeric() || *character == '_')
        .last()
        .map_or(cursor, |(index, _)| index);
    let prefix = before[word_start..].to_lowercase();
    let replace = TextRange::new(segment.start + embedded.to_source(word_start), segment.start + relative);
    let items = complete(before, context.variables, &context.declared)
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

/// Hover on a function name inside a CEL expression: its signature and what it does.
pub(super) fn cel_hover(segment: &Segment, relative: usize) -> Option<HoverResult> {
    let (embedded, cursor, _) = expression_under(segment, relative)?;
    let is_word = |character: char| character.is_alphanumeric() || character == '_';
    let start = embedded.text[..cursor].rfind(|character: char| !is_word(character)).map_or(0, |index| index + 1);
    let end = embedded.text[cursor..]
        .find(|character: char| !is_word(character))
        .map_or(embedded.text.len(), |index| cursor + index);
    let word = embedded.text.get(start..end)?;
    let (signature, doc) = function_doc(word)?;
    let range = TextRange::new(segment.start + embedded.to_source(start), segment.start + embedded.to_source(end));
    Some(HoverResult { range, markdown: format!("```\n{signature}\n```\n{doc}") })
}
