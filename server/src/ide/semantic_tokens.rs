//! Semantic highlighting of code embedded in YAML: Rego, CEL and JMESPath. Only tokens inside embedded code
//! are reported (the YAML around them is the editor's own grammar's job), each mapped through the scalar's
//! decoding back to the file and cut at line ends, since the protocol's tokens cannot span lines.

use super::cel_lex::{self, CelKind};
use super::embedded_code::{CodeRegion, Language, code_regions};
use super::jmespath_lex::{self, JmesKind};
use super::rego_builtins::{BUILTINS, KEYWORDS};
use super::workspace::FileData;
use crate::base::TextRange;
use crate::engine::cel::catalog;
use crate::engine::gatekeeper::lexer::{self as rego_lexer, TokenKind as RegoKind};

/// What a highlighted token is, in the protocol's standard token types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HighlightTag {
    Comment,
    Keyword,
    String,
    Number,
    Operator,
    Function,
    Method,
    Variable,
    Property,
    Namespace,
}

impl HighlightTag {
    /// Every tag, in the order of the legend the server announces.
    pub const ALL: [HighlightTag; 10] = [
        HighlightTag::Comment,
        HighlightTag::Keyword,
        HighlightTag::String,
        HighlightTag::Number,
        HighlightTag::Operator,
        HighlightTag::Function,
        HighlightTag::Method,
        HighlightTag::Variable,
        HighlightTag::Property,
        HighlightTag::Namespace,
    ];

    /// The standard LSP token type name.
    pub fn name(self) -> &'static str {
        match self {
            HighlightTag::Comment => "comment",
            HighlightTag::Keyword => "keyword",
            HighlightTag::String => "string",
            HighlightTag::Number => "number",
            HighlightTag::Operator => "operator",
            HighlightTag::Function => "function",
            HighlightTag::Method => "method",
            HighlightTag::Variable => "variable",
            HighlightTag::Property => "property",
            HighlightTag::Namespace => "namespace",
        }
    }
}

/// One highlighted token: a range on a single line of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Highlight {
    pub range: TextRange,
    pub tag: HighlightTag,
    /// Part of the language's standard library (built-in functions, `input`, `object`, `request`).
    pub default_library: bool,
}

/// Root names Kyverno binds in `{{ }}`.
const KYVERNO_ROOTS: &[&str] =
    &["request", "element", "elementIndex", "images", "serviceAccountName", "serviceAccountNamespace", "target"];

/// Every highlight of a file, sorted by position.
pub(super) fn highlights(file: &FileData) -> Vec<Highlight> {
    let mut out = Vec::new();
    for (index, segment) in file.source.segments().iter().enumerate() {
        let info = &file.documents[index];
        for region in code_regions(segment, info) {
            let mut pieces = Vec::new();
            match region.language {
                Language::Rego => rego_pieces(&region, &mut pieces),
                Language::Cel => cel_pieces(&region, &mut pieces),
                Language::JmesPath => jmespath_pieces(&region, &mut pieces),
            }
            for (start, end, tag, default_library) in pieces {
                let source_start = region.embedded.to_source(start);
                let source_end = region.embedded.to_source(end);
                push_lines(&segment.text, segment.start, source_start, source_end, tag, default_library, &mut out);
            }
        }
    }
    out.sort_by_key(|highlight| (highlight.range.start, highlight.range.end));
    out.dedup_by(|later, earlier| later.range.start < earlier.range.end);
    out
}

/// A decoded token: (start, end, tag, default library), offsets in the region's decoded text.
type Piece = (usize, usize, HighlightTag, bool);

/// Cuts a source range at line ends, dropping the indentation a block scalar adds on continuation lines.
fn push_lines(
    text: &str,
    base: usize,
    start: usize,
    end: usize,
    tag: HighlightTag,
    default_library: bool,
    out: &mut Vec<Highlight>,
) {
    let Some(slice) = text.get(start..end.max(start)) else { return };
    let mut offset = start;
    for (index, line) in slice.split('\n').enumerate() {
        let line_start = offset;
        offset += line.len() + 1;
        let content = line.trim_end_matches('\r');
        let (skip, content) = if index == 0 {
            (0, content)
        } else {
            let trimmed = content.trim_start_matches([' ', '\t']);
            (content.len() - trimmed.len(), trimmed)
        };
        if content.is_empty() {
            continue;
        }
        let piece_start = base + line_start + skip;
        out.push(Highlight { range: TextRange::new(piece_start, piece_start + content.len()), tag, default_library });
    }
}

fn rego_pieces(region: &CodeRegion, out: &mut Vec<Piece>) {
    let text = &region.embedded.text;
    let tokens: Vec<rego_lexer::Token> =
        rego_lexer::tokenize(text).into_iter().filter(|token| token.kind != RegoKind::Whitespace).collect();
    let significant: Vec<&rego_lexer::Token> = tokens.iter().filter(|token| !token.is_trivia()).collect();
    // The path after `package` or `import` names a package.
    let mut package_path_end = 0;
    for (index, token) in significant.iter().enumerate() {
        let word = token.text(text);
        if token.kind == RegoKind::Identifier
            && matches!(word, "package" | "import")
            && previous_is_not_dot(&significant, index, text)
        {
            package_path_end = token.end + text[token.end..].find('\n').unwrap_or(text.len() - token.end);
            out.push((token.start, token.end, HighlightTag::Keyword, false));
            continue;
        }
        if token.kind == RegoKind::Identifier && token.start < package_path_end {
            out.push((token.start, token.end, HighlightTag::Namespace, false));
            continue;
        }
        let previous = index.checked_sub(1).map(|before| significant[before].text(text)).unwrap_or("");
        let next = significant.get(index + 1).map(|after| after.text(text)).unwrap_or("");
        let piece = match token.kind {
            RegoKind::String | RegoKind::RawString | RegoKind::UnterminatedString => {
                Some((HighlightTag::String, false))
            }
            RegoKind::Number => Some((HighlightTag::Number, false)),
            RegoKind::Punctuation if is_rego_operator(word) => Some((HighlightTag::Operator, false)),
            // `contains` is both a keyword (`deny contains msg if`) and a built-in (`contains(s, t)`).
            RegoKind::Identifier
                if KEYWORDS.contains(&word) && previous != "." && !(word == "contains" && next == "(") =>
            {
                Some((HighlightTag::Keyword, false))
            }
            RegoKind::Identifier if next == "(" => {
                let qualified = if previous == "." && index >= 2 {
                    format!("{}.{word}", significant[index - 2].text(text))
                } else {
                    word.to_string()
                };
                let builtin = BUILTINS.iter().any(|builtin| builtin.name == qualified);
                Some((HighlightTag::Function, builtin))
            }
            RegoKind::Identifier
                if previous != "."
                    && next == "."
                    && is_builtin_namespace(word, significant.get(index + 2).map(|after| after.text(text))) =>
            {
                Some((HighlightTag::Namespace, true))
            }
            RegoKind::Identifier if previous == "." => Some((HighlightTag::Property, false)),
            RegoKind::Identifier => Some((HighlightTag::Variable, matches!(word, "input" | "data"))),
            _ => None,
        };
        if let Some((tag, default_library)) = piece {
            out.push((token.start, token.end, tag, default_library));
        }
    }
    for token in tokens.iter().filter(|token| token.kind == RegoKind::Comment) {
        out.push((token.start, token.end, HighlightTag::Comment, false));
    }
}

fn previous_is_not_dot(tokens: &[&rego_lexer::Token], index: usize, text: &str) -> bool {
    index == 0 || tokens[index - 1].text(text) != "."
}

fn is_rego_operator(text: &str) -> bool {
    matches!(text, ":=" | "==" | "!=" | "<=" | ">=" | "=" | "<" | ">" | "+" | "-" | "*" | "/" | "%" | "|" | "&")
}

/// Whether `namespace.member` names a built-in (`regex.match`, `time.now_ns`).
fn is_builtin_namespace(namespace: &str, member: Option<&str>) -> bool {
    let Some(member) = member else { return false };
    let qualified = format!("{namespace}.{member}");
    BUILTINS.iter().any(|builtin| builtin.name == qualified)
}

fn cel_pieces(region: &CodeRegion, out: &mut Vec<Piece>) {
    let text = &region.embedded.text;
    for token in cel_lex::tokenize(text) {
        let word = &text[token.start..token.end];
        let known_function = || catalog::is_known_function(word);
        let piece = match token.kind {
            CelKind::Variable => (HighlightTag::Variable, catalog::is_known_variable(word)),
            CelKind::Field => (HighlightTag::Property, false),
            CelKind::Function => (HighlightTag::Function, known_function()),
            CelKind::Method => (HighlightTag::Method, known_function()),
            CelKind::Keyword => (HighlightTag::Keyword, false),
            CelKind::String => (HighlightTag::String, false),
            CelKind::Number => (HighlightTag::Number, false),
            CelKind::Operator => (HighlightTag::Operator, false),
            CelKind::Comment => (HighlightTag::Comment, false),
            CelKind::Punctuation => continue,
        };
        out.push((token.start, token.end, piece.0, piece.1));
    }
}

fn jmespath_pieces(region: &CodeRegion, out: &mut Vec<Piece>) {
    let text = &region.embedded.text;
    for &(start, end) in &region.delimiters {
        out.push((start, end, HighlightTag::Operator, false));
    }
    for &(span_start, span_end) in &region.spans {
        let Some(body) = text.get(span_start..span_end) else { continue };
        for token in jmespath_lex::tokenize(body) {
            let word = token.name(body);
            let piece = match token.kind {
                JmesKind::RootName => (HighlightTag::Variable, KYVERNO_ROOTS.contains(&word)),
                JmesKind::Field => (HighlightTag::Property, false),
                JmesKind::Function => (HighlightTag::Function, true),
                JmesKind::Current => (HighlightTag::Variable, true),
                JmesKind::String | JmesKind::Literal => (HighlightTag::String, false),
                JmesKind::Number => (HighlightTag::Number, false),
                JmesKind::Operator => (HighlightTag::Operator, false),
                JmesKind::Punctuation => continue,
            };
            out.push((span_start + token.start, span_start + token.end, piece.0, piece.1));
        }
    }
}
