//! CEL diagnostics in the editor: the engine names an expression by JSON pointer and a character range
//! inside its decoded text; here that range is mapped through the YAML scalar (plain, quoted or block)
//! to the exact place in the file.

use crate::base::{Diagnostic, TextRange};
use crate::engine::kyverno_cel::diagnostics::expression_diagnostics;
use crate::syntax::{Segment, scalar};

pub(super) fn cel_diagnostics(segment: &Segment, out: &mut Vec<Diagnostic>) {
    let parsed = &segment.parsed;
    for finding in expression_diagnostics(&parsed.value) {
        let Some(span) = parsed.source_map.get(&finding.pointer) else {
            continue;
        };
        let range = span.value;
        let Some(text) = segment.text.get(range.start..range.end) else {
            continue;
        };
        let decoded = match text.as_bytes().first() {
            Some(b'\'') => scalar::decode_single_quoted(text),
            Some(b'"') => scalar::decode_double_quoted(text),
            Some(b'|') | Some(b'>') => scalar::decode_block(text, line_indent(&segment.text, range.start)),
            _ => scalar::decode_plain(text),
        };
        let byte_at = |characters: usize| {
            decoded.value.char_indices().nth(characters).map_or(decoded.value.len(), |(index, _)| index)
        };
        let start_value = byte_at(finding.offset);
        let end_value = byte_at(finding.offset + finding.length);
        let start = range.start + decoded.map.to_source(start_value);
        let end = (range.start + decoded.map.to_source(end_value)).max(start + 1).min(range.end.max(start + 1));
        let range = TextRange::new(start + segment.start, end + segment.start);
        out.push(Diagnostic::error("cel/compile", range, finding.message));
    }
}

/// The indentation of the line holding `offset`, which block scalars are relative to.
fn line_indent(text: &str, offset: usize) -> usize {
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |newline| newline + 1);
    text[line_start..].bytes().take_while(|&byte| byte == b' ').count()
}
