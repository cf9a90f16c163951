//! A file as a rope plus one tree-sitter tree per `---` document, updated incrementally on every edit.
//!
//! Keeping a tree per document matters: tree-sitter-yaml reparses to the end of the input when an edit changes
//! token boundaries, so one tree for a 2,000-line stream would make every keystroke cost the whole file. Here
//! an edit reparses only the documents it touches, reusing the old tree (`Tree::edit`), and documents after it
//! keep their trees and values untouched because all their ranges are relative to their own start.

use std::cell::RefCell;
use std::sync::Arc;

use ropey::Rope;
use serde_json::Value;
use tree_sitter::{InputEdit, Parser, Point, Tree};

use super::convert::{ParsedDocument, SyntaxError, convert_document};
use super::libyaml;
use crate::base::{Code, TextRange};

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

fn parse_tree(text: &str, old_tree: Option<&Tree>) -> Option<Tree> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut parser = Parser::new();
            parser.set_language(&tree_sitter_yaml::LANGUAGE.into()).ok()?;
            *slot = Some(parser);
        }
        let parser = slot.as_mut()?;
        let tree = parser.parse(text, old_tree);
        if tree.is_none() {
            // A failed parse leaves the parser mid-way; reset it so the next parse starts clean.
            parser.reset();
        }
        tree
    })
}

/// One `---` document: its text, tree and converted value. All ranges inside are relative to `start`.
#[derive(Clone)]
pub struct Segment {
    pub start: usize,
    pub text: Arc<str>,
    pub tree: Option<Tree>,
    pub parsed: Arc<ParsedDocument>,
}

impl Segment {
    fn parse(start: usize, text: &str, old_tree: Option<&Tree>) -> Segment {
        if let Some(line) = block_nesting_beyond(text, MAX_BLOCK_NESTING) {
            // tree-sitter-yaml's scanner aborts the process when its indentation stack outgrows its state
            // buffer, so such a document is refused before it reaches the parser.
            let offset = line_offset(text, line);
            let error = SyntaxError {
                code: Code::YamlTooDeep,
                range: TextRange::new(offset, offset + 1),
                message: format!("block nesting is deeper than {MAX_BLOCK_NESTING} levels; the document is not parsed"),
                related: None,
            };
            let parsed = ParsedDocument { errors: vec![error], ..ParsedDocument::default() };
            return Segment { start, text: Arc::from(text), tree: None, parsed: Arc::new(parsed) };
        }
        if let Some(offset) = inner_document_marker(text) {
            let error = SyntaxError {
                code: Code::YamlTooManyDocuments,
                range: TextRange::new(offset, offset + 3),
                message: format!(
                    "the file has more than {MAX_DOCUMENTS} documents; this one and the rest are not parsed"
                ),
                related: None,
            };
            let parsed = ParsedDocument { errors: vec![error], ..ParsedDocument::default() };
            return Segment { start, text: Arc::from(text), tree: None, parsed: Arc::new(parsed) };
        }
        let mut tree = parse_tree(text, old_tree);
        if old_tree.is_some() && tree.as_ref().is_none_or(|tree| tree.root_node().has_error()) {
            // tree-sitter's error recovery depends on the old tree: reusing it can leave a broken document
            // with a different tree (and so a different value) than parsing the same text afresh. A broken
            // document is parsed afresh, so what the editor shows never depends on the typing history.
            tree = parse_tree(text, None);
        }
        let mut parsed = match &tree {
            Some(tree) => convert_document(text, tree.root_node()),
            None => ParsedDocument::default(),
        };
        // tree-sitter's verdict decides when to ask libyaml, the parser Kubernetes' readers follow; a tab
        // is the one mistake tree-sitter may read past.
        if parsed.errors.iter().any(|error| error.code == Code::YamlSyntax) || text.contains('\t') {
            match libyaml::first_error(text) {
                None => accept_libyaml_value(text, &mut parsed),
                Some(found) => {
                    if let Some(readable) = libyaml::readable_part(text, &found)
                        && let Some(tree) = parse_tree(&readable, None)
                    {
                        // The value and source map of what parses, for the schema checks; the syntax error
                        // is libyaml's, on the text as written.
                        parsed = convert_document(&readable, tree.root_node());
                    }
                    parsed.errors.retain(|error| error.code != Code::YamlSyntax);
                    parsed.errors.push(found.to_syntax_error(text));
                    parsed.errors.sort_by_key(|error| error.range.start);
                }
            }
        }
        if let Some(offset) = text.match_indices('\n').nth(MAX_TRACKED_LINES - 1).map(|(offset, _)| offset + 1)
            && offset < text.len()
        {
            parsed.errors.push(SyntaxError {
                code: Code::YamlTooLong,
                range: TextRange::new(offset, offset + text[offset..].find('\n').unwrap_or(text.len() - offset)),
                message: format!(
                    "the document is longer than {MAX_TRACKED_LINES} lines, where the YAML parser loses count of \
                     lines: the values are read in full, but findings past this line point at the nearest place \
                     known before it; split the document"
                ),
                related: None,
            });
        }
        if let Some(position) =
            text.find(['\0', '\u{FEFF}']).filter(|&position| text.as_bytes()[position] == 0 || position > 0)
        {
            let character = text[position..].chars().next().unwrap_or('\0');
            let message = if character == '\0' {
                "a NUL byte: YAML allows only printable characters; the file may be binary or corrupted".to_string()
            } else {
                "a byte-order mark in the middle of the text: YAML allows it only at the start of a document"
                    .to_string()
            };
            parsed.errors.push(SyntaxError {
                code: Code::YamlInvalidCharacter,
                range: TextRange::new(position, position + character.len_utf8()),
                message,
                related: None,
            });
        }
        Segment { start, text: Arc::from(text), tree, parsed: Arc::new(parsed) }
    }

    pub fn range(&self) -> TextRange {
        TextRange::new(self.start, self.start + self.text.len())
    }
}

/// tree-sitter-yaml is stricter than the YAML readers Kubernetes tools use in a few corners (for example a
/// multi-line quoted string whose continuation is not indented past its key). When libyaml, the parser
/// family behind go-yaml, accepts the document, its value is the truth and the grammar's complaint is
/// dropped; the source map from the partial tree still places everything it covered.
fn accept_libyaml_value(text: &str, parsed: &mut ParsedDocument) {
    use serde::Deserialize;
    if !parsed.errors.iter().any(|error| error.code == Code::YamlSyntax) {
        return;
    }
    let Some(document) = yaml_serde::Deserializer::from_str(text).next() else { return };
    let Ok(value) = Value::deserialize(document) else { return };
    parsed.value = value;
    parsed.errors.retain(|error| error.code != Code::YamlSyntax);
}

/// The lines of one document tree-sitter-yaml keeps count of: its scanner stores rows in 16 bits, so
/// past this line a document's tree falls apart (the value then comes from libyaml).
pub const MAX_TRACKED_LINES: usize = i16::MAX as usize;

/// The deepest block nesting tree-sitter-yaml is given; real manifests stay far below it.
pub const MAX_BLOCK_NESTING: usize = 128;

/// The first line (0-based) where block nesting (indentation levels plus `- ` item markers) goes past
/// `limit`, if any.
fn block_nesting_beyond(text: &str, limit: usize) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    for (line_number, line) in text.lines().enumerate() {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        while indents.last().is_some_and(|&top| top > indent) {
            indents.pop();
        }
        if indents.last() != Some(&indent) {
            indents.push(indent);
        }
        let mut items = 0;
        let mut rest = content;
        while let Some(after) = rest.strip_prefix("- ") {
            items += 1;
            rest = after.trim_start_matches(' ');
        }
        if indents.len() + items > limit {
            return Some(line_number);
        }
    }
    None
}

fn line_offset(text: &str, line: usize) -> usize {
    if line == 0 {
        return 0;
    }
    text.match_indices('\n').nth(line - 1).map_or(text.len(), |(position, _)| position + 1)
}

/// A file's text and its per-document syntax.
#[derive(Clone)]
pub struct SourceFile {
    rope: Rope,
    segments: Vec<Segment>,
    /// A file that is not YAML (a `.rego` module): its text only, never split into YAML documents.
    plain: bool,
}

/// Statistics about one edit, for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EditStats {
    /// Documents reparsed with their old tree.
    pub incremental: usize,
    /// Documents parsed from scratch (new or split/merged documents).
    pub fresh: usize,
}

impl SourceFile {
    pub fn new(text: &str) -> SourceFile {
        SourceFile::parse(text, true)
    }

    /// Parses without keeping tree-sitter trees, each document's tree dropped as soon as it is converted:
    /// for files read but not typed in (see [`SourceFile::drop_trees`]), so a stream of many documents
    /// never holds all their trees at once.
    pub fn new_without_trees(text: &str) -> SourceFile {
        SourceFile::parse(text, false)
    }

    /// A file that is not YAML (a `.rego` module): the text and its lines, without YAML documents. Edits
    /// keep it so.
    pub fn plain(text: &str) -> SourceFile {
        SourceFile { rope: Rope::from_str(text), segments: Vec::new(), plain: true }
    }

    /// Whether this is a file that is not YAML (see [`SourceFile::plain`]).
    pub fn is_plain(&self) -> bool {
        self.plain
    }

    fn parse(text: &str, keep_trees: bool) -> SourceFile {
        let segments = document_ranges(text)
            .into_iter()
            .map(|range| {
                let mut segment = Segment::parse(range.start, &text[range.start..range.end], None);
                if !keep_trees {
                    segment.tree = None;
                }
                segment
            })
            .collect();
        SourceFile { rope: Rope::from_str(text), segments, plain: false }
    }

    pub fn rope(&self) -> &Rope {
        &self.rope
    }

    pub fn text(&self) -> String {
        self.rope.to_string()
    }

    pub fn len(&self) -> usize {
        self.rope.len_bytes()
    }

    pub fn is_empty(&self) -> bool {
        self.rope.len_bytes() == 0
    }

    /// Drops the tree-sitter trees, keeping text, values and source maps. The next edit of a document
    /// parses that one document from scratch; every other document stays as it is. Used for files that
    /// are read but not being typed in (workspace files, the CLI), where trees are most of the memory.
    pub fn drop_trees(&mut self) {
        for segment in &mut self.segments {
            segment.tree = None;
        }
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The index of the document holding `offset` (the last one for the end of the file).
    pub fn segment_at(&self, offset: usize) -> Option<usize> {
        if self.segments.is_empty() {
            return None;
        }
        let index = self.segments.partition_point(|segment| segment.start <= offset);
        Some(index.saturating_sub(1))
    }

    /// Replaces `range` (byte offsets into the current text, clamped to char boundaries) with `new_text`,
    /// reparsing only the documents the edit touches.
    pub fn apply_edit(&mut self, range: TextRange, new_text: &str) -> EditStats {
        let length = self.rope.len_bytes();
        let start = self.floor_boundary(range.start.min(length));
        let old_end = self.floor_boundary(range.end.min(length)).max(start);
        let start_char = self.rope.byte_to_char(start);
        let end_char = self.rope.byte_to_char(old_end);
        self.rope.remove(start_char..end_char);
        self.rope.insert(start_char, new_text);
        let delta = new_text.len() as isize - (old_end - start) as isize;

        if self.plain {
            return EditStats::default();
        }
        if self.segments.is_empty() {
            let text = self.rope.to_string();
            *self = SourceFile::new(&text);
            return EditStats { incremental: 0, fresh: self.segments.len() };
        }

        // The documents the edit touches. An edit on a document's first line may change its `---` marker and
        // so merge it with the previous document; an edit ending at a document's start may glue text onto the
        // next marker.
        let mut first = self.segment_at(start).unwrap_or(0);
        if first > 0 && start <= first_line_end(&self.segments[first]) {
            first -= 1;
        }
        let mut last = self.segment_at(old_end).unwrap_or(0);
        if last + 1 < self.segments.len() && old_end >= self.segments[last + 1].start {
            last += 1;
        }
        let last = last.max(first);
        let region_start = self.segments[first].start;
        let old_region_end = self.segments[last].range().end;
        let new_region_end = (old_region_end as isize + delta) as usize;
        let region_text = self.rope.byte_slice(region_start..new_region_end).to_string();
        let pieces = split_documents(&region_text, region_start);

        // Past the document limit the split depends on the whole file, not on the edited region alone.
        let touches_overflow = last + 1 == self.segments.len() && self.segments.len() >= MAX_DOCUMENTS;
        if touches_overflow || self.segments.len() - (last - first + 1) + pieces.len() > MAX_DOCUMENTS {
            let had_trees = self.segments.iter().any(|segment| segment.tree.is_some());
            let text = self.rope.to_string();
            *self = SourceFile::parse(&text, had_trees);
            return EditStats { incremental: 0, fresh: self.segments.len() };
        }

        let mut stats = EditStats::default();
        let new_segments: Vec<Segment> = if first == last && pieces.len() == 1 {
            let old = &self.segments[first];
            let old_tree = old.tree.clone().map(|mut tree| {
                let relative_start = start - region_start;
                let relative_old_end = old_end - region_start;
                let relative_new_end = relative_start + new_text.len();
                tree.edit(&InputEdit {
                    start_byte: relative_start,
                    old_end_byte: relative_old_end,
                    new_end_byte: relative_new_end,
                    start_position: point_at(&old.text, relative_start),
                    old_end_position: point_at(&old.text, relative_old_end),
                    new_end_position: point_at(&region_text, relative_new_end),
                });
                tree
            });
            stats.incremental = 1;
            vec![Segment::parse(region_start, &region_text, old_tree.as_ref())]
        } else {
            stats.fresh = pieces.len();
            pieces
                .iter()
                .map(|piece| {
                    let text = &region_text[piece.start - region_start..piece.end - region_start];
                    Segment::parse(piece.start, text, None)
                })
                .collect()
        };
        for segment in &mut self.segments[last + 1..] {
            segment.start = (segment.start as isize + delta) as usize;
        }
        self.segments.splice(first..=last, new_segments);
        stats
    }

    fn floor_boundary(&self, offset: usize) -> usize {
        self.rope.char_to_byte(self.rope.byte_to_char(offset))
    }
}

fn first_line_end(segment: &Segment) -> usize {
    segment.start + segment.text.find('\n').unwrap_or(segment.text.len())
}

fn point_at(text: &str, offset: usize) -> Point {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let row = before.iter().filter(|&&byte| byte == b'\n').count();
    let column = before.iter().rev().take_while(|&&byte| byte != b'\n').count();
    Point { row, column }
}

/// The most documents of one file that are parsed: the rest of a longer stream is one more segment that
/// is refused with `yaml/too-many-documents` (100,000 tiny documents would otherwise take seconds and
/// gigabytes; real streams hold hundreds).
pub const MAX_DOCUMENTS: usize = 10_000;

/// The documents of a file: [`split_documents`], with everything past [`MAX_DOCUMENTS`] kept together.
/// The value of each document, split as [`SourceFile`] splits the text, read by libyaml alone: no syntax
/// tree, no source map, several times quicker; for what is kept of files nobody has open. `None` when a
/// document needs what only the full parse handles (a syntax problem, a key that is not a string, a tab,
/// a document too deep, too many documents): the caller parses the file fully then.
pub fn quick_values(text: &str) -> Option<Vec<Value>> {
    let ranges = document_ranges(text);
    if ranges.len() >= MAX_DOCUMENTS {
        return None;
    }
    ranges
        .iter()
        .map(|range| {
            let document = &text[range.start..range.end];
            let special = document.contains(['\t', '\0', '\u{FEFF}'])
                || block_nesting_beyond(document, MAX_BLOCK_NESTING).is_some()
                || document.match_indices('\n').nth(MAX_TRACKED_LINES - 1).is_some();
            if special {
                return None;
            }
            yaml_serde::from_str::<Value>(document).ok()
        })
        .collect()
}

fn document_ranges(text: &str) -> Vec<TextRange> {
    let mut ranges = split_documents(text, 0);
    if ranges.len() > MAX_DOCUMENTS {
        let end = ranges[ranges.len() - 1].end;
        ranges.truncate(MAX_DOCUMENTS);
        ranges[MAX_DOCUMENTS - 1].end = end;
    }
    ranges
}

/// The offset of the first line after the first that starts a new document, in a segment that holds
/// more than one (only the last segment of a file past [`MAX_DOCUMENTS`] does).
fn inner_document_marker(text: &str) -> Option<usize> {
    split_documents(text, 0).get(1).map(|range| range.start)
}

/// Splits a YAML stream into documents at lines that start with a `---` marker. Pure and local: the result
/// for a region between two markers does not depend on anything outside it.
pub fn split_documents(text: &str, base: usize) -> Vec<TextRange> {
    let mut starts = vec![0usize];
    let bytes = text.as_bytes();
    let mut line_start = 0usize;
    while line_start < bytes.len() {
        if line_start > 0 && is_document_marker(&bytes[line_start..]) {
            starts.push(line_start);
        }
        match memchr_newline(&bytes[line_start..]) {
            Some(newline) => line_start += newline + 1,
            None => break,
        }
    }
    let mut ranges = Vec::with_capacity(starts.len());
    for (index, &start) in starts.iter().enumerate() {
        let end = starts.get(index + 1).copied().unwrap_or(text.len());
        ranges.push(TextRange::new(base + start, base + end));
    }
    ranges
}

fn is_document_marker(line: &[u8]) -> bool {
    line.starts_with(b"---") && matches!(line.get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&byte| byte == b'\n')
}
