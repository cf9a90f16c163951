//! Where libyaml puts a document's first syntax error, and in its words. tree-sitter's error recovery
//! keeps the rest of a broken document readable but blurs where it broke (a mis-indented key can turn the
//! whole document into one error node at `apiVersion:`); libyaml, through `yaml_serde`'s port of it, is
//! the parser that Kubernetes' YAML readers follow, so its problem mark is where users expect the error.

use serde::Deserialize;

use super::convert::{SyntaxError, not_a_pair};
use crate::base::{Code, TextRange};

/// The first error libyaml finds in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibyamlError {
    /// libyaml's problem (`mapping values are not allowed in this context`).
    pub problem: String,
    /// Byte offset of the problem mark.
    pub offset: usize,
    /// What libyaml was reading when it failed (`while scanning a simple key`), and where that started.
    pub context: Option<(String, usize)>,
}

/// libyaml's first error in `text`, or `None` when libyaml reads every document of it. Errors that are
/// not about syntax (yaml_serde's recursion and alias limits, unknown anchors) are left to the converter,
/// which reports them with its own codes.
pub fn first_error(text: &str) -> Option<LibyamlError> {
    for document in yaml_serde::Deserializer::from_str(text) {
        let Err(error) = serde::de::IgnoredAny::deserialize(document) else { continue };
        let rendered = error.to_string();
        if !is_syntax_error(&rendered) {
            return None;
        }
        let location = error.location();
        let offset = location.as_ref().map_or(0, |location| location.index().min(text.len()));
        let (problem, rest) = match rendered.split_once(" at line ") {
            Some((problem, rest)) => (problem.to_string(), rest),
            None => (rendered.split(" at position ").next().unwrap_or(&rendered).to_string(), ""),
        };
        // `..., while scanning a simple key at line 3 column 1`: libyaml's context and its mark.
        let context = rest.split_once(", ").and_then(|(_, context)| {
            let (what, mark) = context.split_once(" at line ")?;
            let (line, column) = mark.split_once(" column ")?;
            let line: usize = line.trim().parse().ok()?;
            let column: usize = column.trim().parse().ok()?;
            Some((what.to_string(), offset_of(text, line, column)))
        });
        return Some(LibyamlError { problem, offset: floor_char_boundary(text, offset), context });
    }
    None
}

impl LibyamlError {
    /// The diagnostic: at libyaml's problem mark, in libyaml's words made specific with a hint, and
    /// where libyaml's context started (a key, a string, a collection) as a related place.
    pub fn to_syntax_error(&self, text: &str) -> SyntaxError {
        let at = |offset: usize| text.get(offset..).and_then(|rest| rest.chars().next());
        // Counted over bytes: a context mark's offset need not fall on a character boundary.
        let line_of =
            |offset: usize| text.as_bytes()[..offset.min(text.len())].iter().filter(|byte| **byte == b'\n').count() + 1;
        let start = self.offset.min(text.len());
        let context_line =
            self.context.as_ref().map(|(_, offset)| line_of(*offset)).filter(|line| *line != line_of(start));
        let starting = |what: &str| match context_line {
            Some(line) => format!(" ({what} starts at line {line})"),
            None => String::new(),
        };
        let problem = self.problem.as_str();
        let in_quoted_scalar = self.context.as_ref().is_some_and(|(what, _)| what.contains("quoted scalar"));
        let message = if at(start) == Some('\t') || problem.contains("tab character") {
            "found a tab character where indentation is expected: YAML indents with spaces only".to_string()
        } else if problem.starts_with("mapping values are not allowed") {
            "mapping values are not allowed here: a `key: value` stands where a plain value or a key of another \
             indentation belongs; fix the indentation, or quote a value that holds `: `"
                .to_string()
        } else if problem.starts_with("could not find expected ':'") {
            format!("could not find the `:` after a key{}; add it, or fix the indentation", starting("the key"))
        } else if problem.starts_with("did not find expected key") {
            format!(
                "did not find the expected key: this line is indented differently from the keys of its mapping{}",
                starting("the mapping")
            )
        } else if problem.starts_with("did not find expected '-' indicator") {
            format!(
                "did not find the expected `- `: this line is indented differently from the items of its list{}",
                starting("the list")
            )
        } else if problem.starts_with("block sequence entries are not allowed") {
            "a list item `- ` is not allowed here: start the list on its own line, under its key".to_string()
        } else if in_quoted_scalar {
            format!("unterminated quoted string{}: add the closing quote", starting("it"))
        } else if problem.starts_with("did not find expected ',' or ']'") {
            format!("unclosed `[`{}: add the closing `]`", starting("it"))
        } else if problem.starts_with("did not find expected ',' or '}'") {
            format!("unclosed `{{`{}: add the closing `}}`", starting("it"))
        } else if problem.starts_with("found character that cannot start any token") {
            match at(start) {
                Some(character) => format!("found `{character}`, which cannot start any YAML token; quote the value"),
                None => problem.to_string(),
            }
        } else {
            problem.to_string()
        };
        // libyaml notices a key without its `:` only where the next token starts; the key's own line is
        // the offending one.
        if problem.starts_with("could not find expected ':'")
            && let Some((_, key_start)) = self.context.as_ref().filter(|_| context_line.is_some())
        {
            let line_end = text[*key_start..].find('\n').map_or(text.len(), |end| key_start + end);
            let key_line = text[*key_start..line_end].trim_end();
            if !key_line.is_empty() {
                let range = TextRange::new(*key_start, key_start + key_line.len());
                return SyntaxError { code: Code::YamlSyntax, range, message: not_a_pair(key_line), related: None };
            }
        }
        // The token at the mark, or one character; at the very end of the text, its last character.
        let range = if start == text.len() {
            let previous = text[..start].char_indices().next_back().map_or(0, |(index, _)| index);
            TextRange::new(previous, start)
        } else {
            let token_end =
                text[start..].find(|character: char| character.is_whitespace()).map_or(text.len(), |end| start + end);
            let first = at(start).map_or(1, char::len_utf8);
            TextRange::new(start, token_end.max(start + first))
        };
        let related = self.context.as_ref().filter(|_| context_line.is_some()).map(|(what, offset)| {
            let end = text[*offset..].find('\n').map_or(text.len(), |end| offset + end).max(offset + 1).min(text.len());
            let label = if what.contains("quoted scalar") {
                "the string starts here"
            } else if what.contains("simple key") {
                "the key starts here"
            } else {
                "the enclosing collection starts here"
            };
            (TextRange::new(*offset, end), label)
        });
        SyntaxError { code: Code::YamlSyntax, range, message, related }
    }
}

/// The text with the lines that break it blanked out (every byte but line breaks turned into a space,
/// so every offset stays where it was), for tree-sitter to read the rest of the document as libyaml
/// would: the line of each error, or the line where an error's context started when libyaml only found
/// out at the end of the text (an unterminated string) or inside a flow collection (an unclosed
/// bracket: libyaml notices at the next line, which is sound). A key that lost its `:` is
/// blanked with the block indented under it: libyaml notices only at the next key, and the orphaned block
/// would otherwise run into the value above. `None` when a few rounds do not leave a text libyaml reads.
pub fn readable_part(text: &str, first: &LibyamlError) -> Option<String> {
    const ROUNDS: usize = 12;
    let mut repaired = text.as_bytes().to_vec();
    let mut error = first.clone();
    for _ in 0..ROUNDS {
        let mut blanked = false;
        // On the bytes: after a round, an offset of the repaired text may fall inside a character of `text`.
        let at_end = repaired[error.offset.min(repaired.len())..].iter().all(u8::is_ascii_whitespace);
        let lost_colon = error.problem.starts_with("could not find expected ':'");
        if let Some((what, context)) = &error.context
            && (at_end || lost_colon || what.contains("flow"))
        {
            blanked |=
                if lost_colon { blank_block(&mut repaired, *context) } else { blank_line(&mut repaired, *context) };
        }
        if !at_end && !blanked {
            blanked |= blank_line(&mut repaired, error.offset);
        }
        if !blanked {
            return None;
        }
        let current = String::from_utf8(repaired.clone()).ok()?;
        match first_error(&current) {
            None => return Some(current),
            Some(next) => error = next,
        }
    }
    None
}

/// Turns the line holding `offset` into spaces; false when it held nothing to blank.
fn blank_line(bytes: &mut [u8], offset: usize) -> bool {
    let offset = offset.min(bytes.len());
    let start = bytes[..offset].iter().rposition(|byte| *byte == b'\n').map_or(0, |newline| newline + 1);
    let end = bytes[start..].iter().position(|byte| *byte == b'\n').map_or(bytes.len(), |end| start + end);
    let mut changed = false;
    for byte in &mut bytes[start..end] {
        if !matches!(*byte, b' ' | b'\r') {
            *byte = b' ';
            changed = true;
        }
    }
    changed
}

/// Blanks the line holding `offset` and the lines after it that are blank or indented deeper than it;
/// false when they held nothing to blank.
fn blank_block(bytes: &mut [u8], offset: usize) -> bool {
    let offset = offset.min(bytes.len());
    let start = bytes[..offset].iter().rposition(|byte| *byte == b'\n').map_or(0, |newline| newline + 1);
    let indent = |bytes: &[u8], line_start: usize| bytes[line_start..].iter().take_while(|byte| **byte == b' ').count();
    let own_indent = indent(bytes, start);
    let mut changed = blank_line(bytes, start);
    let mut line_start = bytes[start..].iter().position(|byte| *byte == b'\n').map(|end| start + end + 1);
    while let Some(current) = line_start.filter(|current| *current < bytes.len()) {
        let end = bytes[current..].iter().position(|byte| *byte == b'\n').map_or(bytes.len(), |end| current + end);
        let blank = bytes[current..end].iter().all(|byte| matches!(*byte, b' ' | b'\r'));
        if !blank && indent(bytes, current) <= own_indent {
            break;
        }
        changed |= blank_line(bytes, current);
        line_start = (end < bytes.len()).then_some(end + 1);
    }
    changed
}

/// yaml_serde's own errors, which a syntax error is not.
fn is_syntax_error(message: &str) -> bool {
    const NOT_SYNTAX: &[&str] = &["recursion limit exceeded", "repetition limit exceeded", "unknown anchor"];
    !NOT_SYNTAX.iter().any(|prefix| message.starts_with(prefix))
}

/// The byte offset of a 1-based line and column (in characters) of libyaml's marks.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, content) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            return offset
                + content.char_indices().nth(column.saturating_sub(1)).map_or(content.len(), |(byte, _)| byte);
        }
        offset += content.len();
    }
    text.len()
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    (0..=offset.min(text.len())).rev().find(|index| text.is_char_boundary(*index)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `line:column problem` of libyaml's first error.
    fn check(text: &str, expect: Option<&str>) {
        let found = first_error(text).map(|error| {
            let before = &text[..error.offset];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("{line}:{column} {}", error.problem)
        });
        assert_eq!(found.as_deref(), expect, "{text}");
    }

    #[test]
    fn the_problem_mark_of_common_mistakes() {
        check("a: 1\nb: 2\n", None);
        check(
            "spec:\n  rules: x\n  image: nginx: latest\n",
            Some("3:15 mapping values are not allowed in this context"),
        );
        check("spec:\n\trules: []\n", Some("2:1 found character that cannot start any token"));
        check("spec:\n  a: 1\n   b: 2\n", Some("3:5 mapping values are not allowed in this context"));
        check("spec:\n  a: \"open\n  b: 2\n", Some("4:1 found unexpected end of stream"));
        check("a: 1\n---\nb: [1, 2\n", Some("4:1 did not find expected ',' or ']'"));
        check("a: é😀\nb: c: d\n", Some("2:5 mapping values are not allowed in this context"));
    }

    /// The lines left after blanking what breaks the text, as `|`-separated trimmed lines.
    fn check_readable(text: &str, expect: Option<&str>) {
        let found = first_error(text).and_then(|error| readable_part(text, &error)).map(|readable| {
            assert_eq!(readable.len(), text.len(), "offsets stay where they were");
            readable.lines().map(str::trim_end).collect::<Vec<_>>().join("|")
        });
        assert_eq!(found.as_deref(), expect, "{text}");
    }

    #[test]
    fn the_rest_of_a_broken_document_stays_readable() {
        check_readable("a: 1\n\tb: 2\nc: 3\n", Some("a: 1||c: 3"));
        check_readable("a: 1\nrules\n  - x\nc: 3\n", Some("a: 1|||c: 3"));
        check_readable("a: 1\nb: \"open\nc: 3\n", Some("a: 1||c: 3"));
        check_readable("a: 1\nb: [1, 2\nc: 3\n", Some("a: 1||c: 3"));
        check_readable("é: 1\nb: \"é😀\n\tc: ü\n", Some("é: 1||"));
    }

    #[test]
    fn limits_are_not_syntax_errors() {
        check(&format!("{}1{}", "[".repeat(200), "]".repeat(200)), None);
        check("a: *missing\n", None);
    }
}
