//! Folding ranges: every document of a stream, and every mapping or list value that spans lines.

use super::workspace::FileData;
use crate::base::TextRange;

/// Ranges to fold, as byte ranges of the file (the front end turns them into lines).
pub(super) fn folding_ranges(file: &FileData) -> Vec<TextRange> {
    let mut ranges = Vec::new();
    for segment in file.source.segments() {
        let text = &segment.text;
        let spans_lines =
            |range: TextRange| text.get(range.start..range.end).is_some_and(|slice| slice.trim_end().contains('\n'));
        if file.source.segments().len() > 1 && spans_lines(TextRange::new(0, text.len())) {
            ranges.push(TextRange::new(segment.start, segment.start + text.trim_end().len()));
        }
        for (pointer, span) in segment.parsed.source_map.iter() {
            if pointer.is_empty() || !spans_lines(span.value) {
                continue;
            }
            let start = span.key.map_or(span.value.start, |key| key.start);
            let end = span.value.start + text[span.value.start..span.value.end].trim_end().len();
            ranges.push(TextRange::new(segment.start + start, segment.start + end));
        }
    }
    ranges.sort();
    ranges.dedup();
    ranges
}
