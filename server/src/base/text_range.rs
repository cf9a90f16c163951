//! Half-open byte ranges into a file's UTF-8 text.

use std::fmt;

/// A half-open byte range `[start, end)` into a file's text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TextRange {
    pub start: usize,
    pub end: usize,
}

impl TextRange {
    pub const fn new(start: usize, end: usize) -> TextRange {
        TextRange { start, end }
    }

    pub const fn empty(at: usize) -> TextRange {
        TextRange { start: at, end: at }
    }

    pub const fn len(self) -> usize {
        self.end - self.start
    }

    pub const fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// True when `offset` lies inside the range or touches its end (a cursor right after a word is "in" it).
    pub const fn contains_inclusive(self, offset: usize) -> bool {
        self.start <= offset && offset <= self.end
    }

    pub const fn shifted(self, by: usize) -> TextRange {
        TextRange { start: self.start + by, end: self.end + by }
    }

    pub fn cover(self, other: TextRange) -> TextRange {
        TextRange { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

impl fmt::Debug for TextRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}..{}", self.start, self.end)
    }
}
