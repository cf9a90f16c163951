//! Text embedded in a YAML scalar (Rego, CEL, JMESPath) with a map back to file offsets, so an embedded
//! language's line and column land on the exact character in the YAML, whatever the scalar style.

use super::scalar::{self, OffsetMap};
use crate::base::TextRange;

/// The decoded text of a scalar and where its bytes came from.
#[derive(Clone, Debug)]
pub struct EmbeddedText {
    pub text: String,
    map: OffsetMap,
    /// Offset of the scalar node's first byte in the coordinates the caller used for `node_range`.
    node_start: usize,
    line_starts: Vec<usize>,
}

impl EmbeddedText {
    /// Decodes the scalar that spans `node_range` in `document_text` (a plain, quoted or block scalar,
    /// possibly after an anchor or tag). `None` when the node is not a scalar.
    pub fn from_node(document_text: &str, node_range: TextRange) -> Option<EmbeddedText> {
        let mut start = node_range.start;
        let end = node_range.end.min(document_text.len());
        // Skip a leading anchor (`&name`) or tag (`!!str`) and the blanks after it.
        loop {
            let rest = document_text.get(start..end)?;
            if rest.starts_with('&') || rest.starts_with('!') {
                let token = rest.find([' ', '\t', '\n', '\r']).unwrap_or(rest.len());
                let after = &rest[token..];
                start += token + (after.len() - after.trim_start().len());
                continue;
            }
            break;
        }
        let node_text = document_text.get(start..end)?;
        let decoded = match node_text.as_bytes().first()? {
            b'|' | b'>' => {
                let indent = line_indent(document_text, start);
                scalar::decode_block(node_text, indent)
            }
            b'"' => scalar::decode_double_quoted(node_text),
            b'\'' => scalar::decode_single_quoted(node_text),
            b'{' | b'[' | b'-'
                if node_text.len() > 1 && !node_text.contains('\n') && node_text.starts_with(['{', '[']) =>
            {
                return None;
            }
            _ => scalar::decode_plain(node_text),
        };
        let mut line_starts = vec![0];
        line_starts.extend(decoded.value.match_indices('\n').map(|(position, _)| position + 1));
        Some(EmbeddedText { text: decoded.value, map: decoded.map, node_start: start, line_starts })
    }

    /// The offset (in the caller's coordinates) of a byte offset in the decoded text.
    pub fn to_source(&self, offset: usize) -> usize {
        self.node_start + self.map.to_source(offset.min(self.text.len()))
    }

    /// The decoded offset of an offset in the caller's coordinates, if it lies inside the scalar.
    pub fn from_source(&self, offset: usize) -> Option<usize> {
        let relative = offset.checked_sub(self.node_start)?;
        Some(self.map.to_value(relative).min(self.text.len()))
    }

    /// The offset (in the caller's coordinates) of a 0-based line and UTF-8 column in the decoded text.
    pub fn line_column_to_source(&self, line: usize, column: usize) -> usize {
        let line_start = self.line_starts.get(line).copied().unwrap_or(self.text.len());
        let line_end = self.line_starts.get(line + 1).map_or(self.text.len(), |next| next.saturating_sub(1));
        self.to_source((line_start + column).min(line_end.max(line_start)))
    }

    /// The source range of a decoded range given as lines and columns.
    pub fn range_to_source(&self, line: usize, column: usize, end_line: usize, end_column: usize) -> TextRange {
        let start = self.line_column_to_source(line, column);
        let end = self.line_column_to_source(end_line, end_column).max(start);
        TextRange::new(start, end)
    }
}

fn line_indent(text: &str, offset: usize) -> usize {
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |newline| newline + 1);
    text[line_start..].bytes().take_while(|&byte| byte == b' ').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(document: &str, needle_in_value: &str, expect_in_source: &str) {
        let start = document.find(": ").unwrap() + 2;
        let embedded = EmbeddedText::from_node(document, TextRange::new(start, document.len())).unwrap();
        let offset = embedded.text.find(needle_in_value).unwrap();
        let source = embedded.to_source(offset);
        assert_eq!(&document[source..source + expect_in_source.len()], expect_in_source, "{document:?}");
    }

    #[test]
    fn block_scalar_lines_map_back() {
        check("rego: |\n  package a\n  deny { x }\n", "x }", "x }");
    }

    #[test]
    fn double_quoted_escapes_map_back() {
        check("expression: \"a\\n b == 'é' && c\"", "c", "c\"");
    }

    #[test]
    fn plain_multi_line_maps_back() {
        check("expression: object.a\n  && object.b", "object.b", "object.b");
    }
}
