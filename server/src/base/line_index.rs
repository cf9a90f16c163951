//! Byte offset <-> (line, column) conversion over a rope, in UTF-8 or UTF-16 code units.
//!
//! Lines end at `\n`, `\r\n` or `\r`, exactly the LSP definition; the rope is built without Unicode line
//! separators so U+2028 and friends stay inside a line, as clients expect.

use ropey::Rope;

/// How columns are counted at the protocol edge.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum PositionEncoding {
    Utf8,
    #[default]
    Utf16,
    /// Unicode scalar values: what people count, used for CLI output and SARIF.
    Utf32,
}

/// A zero-based line and column (in the units of a [`PositionEncoding`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

/// The 1-based line and column (in characters) of a byte offset of a text, as messages name places; for
/// a one-off position where building a rope would cost more than the scan.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |tail| tail.chars().count()) + 1;
    (line, column)
}

/// Converts positions for one version of a file's text.
pub struct LineIndex<'rope> {
    rope: &'rope Rope,
}

impl<'rope> LineIndex<'rope> {
    pub fn new(rope: &'rope Rope) -> LineIndex<'rope> {
        LineIndex { rope }
    }

    /// The position of a byte offset. Offsets past the end clamp to the end; offsets inside a character
    /// move back to its start.
    pub fn line_col(&self, offset: usize, encoding: PositionEncoding) -> LineCol {
        let offset = self.floor_char_boundary(offset.min(self.rope.len_bytes()));
        let line = self.rope.byte_to_line(offset);
        let line_start = self.rope.line_to_byte(line);
        let column = match encoding {
            PositionEncoding::Utf8 => offset - line_start,
            PositionEncoding::Utf16 => {
                let start_char = self.rope.byte_to_char(line_start);
                let end_char = self.rope.byte_to_char(offset);
                self.rope.char_to_utf16_cu(end_char) - self.rope.char_to_utf16_cu(start_char)
            }
            PositionEncoding::Utf32 => self.rope.byte_to_char(offset) - self.rope.byte_to_char(line_start),
        };
        LineCol { line: line as u32, column: column as u32 }
    }

    /// The byte offset of a position. Lines past the end clamp to the end of the text and columns past the
    /// end of a line clamp to the line's end (before its line break), as the LSP asks.
    pub fn offset(&self, position: LineCol, encoding: PositionEncoding) -> usize {
        let line = position.line as usize;
        if line >= self.rope.len_lines() {
            return self.rope.len_bytes();
        }
        let line_start = self.rope.line_to_byte(line);
        let line_end = line_start + self.line_content_len(line);
        let wanted = position.column as usize;
        let offset = match encoding {
            PositionEncoding::Utf8 => self.floor_char_boundary(line_start + wanted.min(line_end - line_start)),
            PositionEncoding::Utf16 => {
                let start_char = self.rope.byte_to_char(line_start);
                let start_units = self.rope.char_to_utf16_cu(start_char);
                let end_units = self.rope.char_to_utf16_cu(self.rope.byte_to_char(line_end));
                let target_units = (start_units + wanted).min(end_units);
                let target_char = self.rope.utf16_cu_to_char(target_units);
                self.rope.char_to_byte(target_char)
            }
            PositionEncoding::Utf32 => {
                let start_char = self.rope.byte_to_char(line_start);
                let end_char = self.rope.byte_to_char(line_end);
                self.rope.char_to_byte((start_char + wanted).min(end_char))
            }
        };
        offset.min(line_end)
    }

    /// The number of lines, counting a last line without a line break.
    pub fn line_count(&self) -> usize {
        self.rope.len_lines()
    }

    /// The byte length of a line's content, without its line break.
    pub fn line_content_len(&self, line: usize) -> usize {
        let slice = self.rope.line(line);
        let mut length = slice.len_bytes();
        let mut bytes = slice.bytes_at(length);
        if bytes.prev() == Some(b'\n') {
            length -= 1;
            if bytes.prev() == Some(b'\r') {
                length -= 1;
            }
        } else if length > 0 && slice.byte(length - 1) == b'\r' {
            length -= 1;
        }
        length
    }

    fn floor_char_boundary(&self, offset: usize) -> usize {
        let char_index = self.rope.byte_to_char(offset);
        self.rope.char_to_byte(char_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, offset: usize, encoding: PositionEncoding, expect: (u32, u32)) {
        let rope = Rope::from_str(text);
        let index = LineIndex::new(&rope);
        let position = index.line_col(offset, encoding);
        assert_eq!((position.line, position.column), expect, "offset {offset} of {text:?}");
        assert_eq!(index.offset(position, encoding), offset, "round trip of {position:?}");
    }

    #[test]
    fn ascii_lines() {
        check("ab\ncd", 4, PositionEncoding::Utf16, (1, 1));
    }

    #[test]
    fn crlf_counts_as_one_break() {
        check("ab\r\ncd", 4, PositionEncoding::Utf16, (1, 0));
        check("ab\r\ncd", 5, PositionEncoding::Utf8, (1, 1));
    }

    #[test]
    fn lone_carriage_return_breaks_a_line() {
        check("ab\rcd", 4, PositionEncoding::Utf8, (1, 1));
    }

    #[test]
    fn multi_byte_columns() {
        // "é" is 2 UTF-8 bytes and 1 UTF-16 unit; "😀" is 4 bytes and 2 units.
        check("é😀x", 6, PositionEncoding::Utf16, (0, 3));
        check("é😀x", 6, PositionEncoding::Utf8, (0, 6));
    }

    #[test]
    fn unicode_line_separator_is_not_a_line_break() {
        check("a\u{2028}b", 4, PositionEncoding::Utf16, (0, 2));
    }

    #[test]
    fn positions_past_the_end_clamp() {
        let rope = Rope::from_str("ab\ncd\n");
        let index = LineIndex::new(&rope);
        assert_eq!(index.offset(LineCol { line: 0, column: 99 }, PositionEncoding::Utf16), 2);
        assert_eq!(index.offset(LineCol { line: 9, column: 0 }, PositionEncoding::Utf16), 6);
    }
}
