//! Finding the JSON node under a cursor, for hover, completion and go-to-definition.

use super::{NodeSpan, ParsedDocument};

/// Where a cursor is relative to the node it is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

/// The innermost node whose key or value contains `offset` (relative to the document start).
pub fn node_at(document: &ParsedDocument, offset: usize) -> Option<(String, NodeSpan, Side)> {
    let mut best: Option<(usize, &str, NodeSpan, Side)> = None;
    for (pointer, span) in document.source_map.iter() {
        let candidates = [(span.key, Side::Key), (Some(span.value), Side::Value)];
        for (range, side) in candidates {
            let Some(range) = range else { continue };
            if !range.contains_inclusive(offset) || (range.is_empty() && side == Side::Value && span.key.is_some()) {
                continue;
            }
            let better = match best {
                None => true,
                Some((length, best_pointer, _, _)) => {
                    range.len() < length || (range.len() == length && pointer.len() > best_pointer.len())
                }
            };
            if better {
                best = Some((range.len(), pointer, *span, side));
            }
        }
    }
    best.map(|(_, pointer, span, side)| (pointer.to_string(), span, side))
}

/// Splits a JSON pointer into unescaped segments.
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer.split('/').skip(1).map(|segment| segment.replace("~1", "/").replace("~0", "~")).collect()
}
