//! Decoding YAML scalars: plain, single- and double-quoted (escapes, line folding) and block (`|`, `>`),
//! and resolving plain scalars to JSON types under the YAML 1.2 core schema.
//!
//! Block scalars also yield an offset map from the decoded value back to the source, so embedded languages
//! (Rego, CEL, JMESPath) can report errors at their exact line and column inside the YAML.

use serde_json::{Number, Value};

/// Maps byte offsets in a decoded scalar value to byte offsets in the source text.
///
/// Each entry says: value bytes from `value_offset` on were copied verbatim from `source_offset` on, until the
/// next entry. Escapes and folded line breaks start new entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetMap {
    entries: Vec<(usize, usize)>,
}

impl OffsetMap {
    fn push(&mut self, value_offset: usize, source_offset: usize) {
        if let Some(&(last_value, last_source)) = self.entries.last()
            && value_offset - last_value == source_offset.wrapping_sub(last_source)
        {
            return;
        }
        self.entries.push((value_offset, source_offset));
    }

    /// The source offset of a value offset.
    pub fn to_source(&self, value_offset: usize) -> usize {
        let index = self.entries.partition_point(|&(value, _)| value <= value_offset);
        match index.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(&(value, source)) => source + (value_offset - value),
            None => self.entries.first().map_or(0, |&(_, source)| source),
        }
    }

    /// The value offset of a source offset (the inverse of `to_source`; a source byte that was not copied,
    /// such as an escape's backslash or an indentation space, maps to the next copied byte).
    pub fn to_value(&self, source_offset: usize) -> usize {
        let index = self.entries.partition_point(|&(_, source)| source <= source_offset);
        match index.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(&(value, source)) => {
                let next_value = self.entries.get(index).map_or(usize::MAX, |&(next, _)| next);
                (value + (source_offset - source)).min(next_value)
            }
            None => 0,
        }
    }
}

/// A decoded scalar and where each of its bytes came from (offsets relative to the scalar node's start).
pub struct DecodedScalar {
    pub value: String,
    pub map: OffsetMap,
}

/// Decodes a plain scalar: lines are trimmed and folded (one break -> space, n breaks -> n-1 newlines).
pub fn decode_plain(text: &str) -> DecodedScalar {
    fold_lines(text, 0, |line, out, map, line_offset| {
        map.push(out.len(), line_offset);
        out.push_str(line);
    })
}

/// Decodes a single-quoted scalar (including its quotes): `''` is a quote, lines fold.
pub fn decode_single_quoted(text: &str) -> DecodedScalar {
    let inner = strip_quotes(text, '\'');
    fold_lines(inner, 1, |line, out, map, line_offset| {
        let mut rest = line;
        let mut offset = line_offset;
        while let Some(position) = rest.find("''") {
            map.push(out.len(), offset);
            out.push_str(&rest[..position + 1]);
            rest = &rest[position + 2..];
            offset += position + 2;
        }
        map.push(out.len(), offset);
        out.push_str(rest);
    })
}

/// Decodes a double-quoted scalar (including its quotes): escapes and line folding, with `\` at a line end
/// joining lines without a space.
pub fn decode_double_quoted(text: &str) -> DecodedScalar {
    let inner = strip_quotes(text, '"');
    let mut out = String::with_capacity(inner.len());
    let mut map = OffsetMap::default();
    let lines: Vec<(usize, &str)> = split_lines_with_offsets(inner);
    let last = lines.len().saturating_sub(1);
    let mut pending_breaks = 0usize;
    let mut joined_by_escape = false;
    for (index, &(line_offset, raw_line)) in lines.iter().enumerate() {
        let mut line = raw_line;
        let mut offset = line_offset + 1;
        if index > 0 {
            let trimmed = line.trim_start_matches([' ', '\t']);
            offset += line.len() - trimmed.len();
            line = trimmed;
        }
        if index < last {
            line = line.trim_end_matches([' ', '\t']);
            // An escaped space or tab at the end of a line survives trimming.
            if line.ends_with('\\') && raw_line.len() > line.len() && count_trailing_backslashes(line) % 2 == 1 {
                line = &raw_line[..line.len() + 1];
            }
        }
        if index > 0 && !joined_by_escape {
            if line.is_empty() && index < last {
                pending_breaks += 1;
                continue;
            }
            if pending_breaks > 0 {
                out.extend(std::iter::repeat_n('\n', pending_breaks));
            } else {
                out.push(' ');
            }
            pending_breaks = 0;
        }
        joined_by_escape = false;
        let continues = index < last && line.ends_with('\\') && count_trailing_backslashes(line) % 2 == 1;
        let body = if continues { &line[..line.len() - 1] } else { line };
        decode_escapes(body, offset, &mut out, &mut map);
        if continues {
            joined_by_escape = true;
        }
    }
    DecodedScalar { value: out, map }
}

fn count_trailing_backslashes(text: &str) -> usize {
    text.bytes().rev().take_while(|&byte| byte == b'\\').count()
}

fn decode_escapes(text: &str, source_offset: usize, out: &mut String, map: &mut OffsetMap) {
    let mut chars = text.char_indices().peekable();
    map.push(out.len(), source_offset);
    while let Some((position, character)) = chars.next() {
        if character != '\\' {
            out.push(character);
            continue;
        }
        let Some((_, escape)) = chars.next() else {
            out.push('\\');
            break;
        };
        let hex_digits = match escape {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if hex_digits > 0 {
            let mut code = 0u32;
            let mut consumed = 0;
            while consumed < hex_digits {
                match chars.peek().and_then(|&(_, digit)| digit.to_digit(16)) {
                    Some(digit) => {
                        code = code * 16 + digit;
                        chars.next();
                        consumed += 1;
                    }
                    None => break,
                }
            }
            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
        } else {
            let decoded = match escape {
                '0' => '\0',
                'a' => '\u{7}',
                'b' => '\u{8}',
                't' | '\t' => '\t',
                'n' => '\n',
                'v' => '\u{B}',
                'f' => '\u{C}',
                'r' => '\r',
                'e' => '\u{1B}',
                ' ' => ' ',
                '"' => '"',
                '/' => '/',
                '\\' => '\\',
                'N' => '\u{85}',
                '_' => '\u{A0}',
                'L' => '\u{2028}',
                'P' => '\u{2029}',
                other => other,
            };
            out.push(decoded);
        }
        let next = chars.peek().map_or(text.len(), |&(next_position, _)| next_position);
        let _ = position;
        map.push(out.len(), source_offset + next);
    }
}

/// Decodes a block scalar. `text` starts at the indicator (`|` or `>`) and runs to the node's end;
/// `parent_indent` is the indentation of the line holding the indicator.
pub fn decode_block(text: &str, parent_indent: usize) -> DecodedScalar {
    let header_end = text.find('\n').unwrap_or(text.len());
    let header = text[..header_end].split('#').next().unwrap_or("").trim();
    let literal = header.starts_with('|');
    let mut chomping = Chomping::Clip;
    let mut explicit_indent = None;
    for character in header.chars().skip(1) {
        match character {
            '-' => chomping = Chomping::Strip,
            '+' => chomping = Chomping::Keep,
            digit @ '1'..='9' => explicit_indent = digit.to_digit(10).map(|value| value as usize),
            _ => {}
        }
    }
    let body_start = (header_end + 1).min(text.len());
    let mut lines = split_lines_with_offsets(&text[body_start..]);
    // The piece after the final line break is not a line.
    if lines.len() > 1 && lines.last().is_some_and(|(_, line)| line.is_empty()) {
        lines.pop();
    }
    let content_indent = explicit_indent.map(|indent| parent_indent + indent).unwrap_or_else(|| {
        lines
            .iter()
            .map(|(_, line)| line.trim_end_matches('\r'))
            .find(|line| !line.trim().is_empty())
            .map_or(parent_indent + 1, |line| line.len() - line.trim_start_matches(' ').len())
    });

    let mut out = String::new();
    let mut map = OffsetMap::default();
    let mut previous_was_text_line = false;
    let mut previous_more_indented = false;
    let mut trailing_breaks = String::new();
    let mut any_content = false;
    for (line_offset, raw_line) in lines {
        let line = raw_line.trim_end_matches('\r');
        let indent = line.len() - line.trim_start_matches(' ').len();
        if line.trim().is_empty() && indent <= content_indent {
            trailing_breaks.push('\n');
            continue;
        }
        if indent < content_indent {
            break;
        }
        let content = &line[content_indent..];
        let more_indented = content.starts_with([' ', '\t']);
        if any_content {
            if literal || more_indented || previous_more_indented || !previous_was_text_line {
                out.push('\n');
                out.push_str(&trailing_breaks);
            } else if trailing_breaks.is_empty() {
                out.push(' ');
            } else {
                out.push_str(&trailing_breaks);
            }
        } else {
            out.push_str(&trailing_breaks);
        }
        trailing_breaks.clear();
        map.push(out.len(), body_start + line_offset + content_indent);
        out.push_str(content);
        any_content = true;
        previous_was_text_line = true;
        previous_more_indented = more_indented;
    }
    match chomping {
        Chomping::Strip => {}
        Chomping::Clip => {
            if any_content {
                out.push('\n');
            }
        }
        Chomping::Keep => {
            if any_content {
                out.push('\n');
            }
            out.push_str(&trailing_breaks);
        }
    }
    DecodedScalar { value: out, map }
}

#[derive(Clone, Copy)]
enum Chomping {
    Strip,
    Clip,
    Keep,
}

fn strip_quotes(text: &str, quote: char) -> &str {
    let inner = text.strip_prefix(quote).unwrap_or(text);
    inner.strip_suffix(quote).unwrap_or(inner)
}

/// Splits on `\n` (a preceding `\r` stays on the line), keeping each line's byte offset.
fn split_lines_with_offsets(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (position, byte) in text.bytes().enumerate() {
        if byte == b'\n' {
            lines.push((start, &text[start..position]));
            start = position + 1;
        }
    }
    lines.push((start, &text[start..]));
    lines
}

/// Folds the lines of a flow scalar (plain or single-quoted): each line is trimmed, a single break becomes a
/// space and `n` breaks become `n - 1` newlines. `emit` writes one trimmed line.
fn fold_lines(
    text: &str,
    base_offset: usize,
    mut emit: impl FnMut(&str, &mut String, &mut OffsetMap, usize),
) -> DecodedScalar {
    let mut out = String::with_capacity(text.len());
    let mut map = OffsetMap::default();
    let lines = split_lines_with_offsets(text);
    let last = lines.len().saturating_sub(1);
    let mut pending_breaks = 0usize;
    for (index, (line_offset, line)) in lines.into_iter().enumerate() {
        let line = line.trim_end_matches('\r');
        let mut trimmed = line;
        let mut offset = base_offset + line_offset;
        if index > 0 {
            trimmed = trimmed.trim_start_matches([' ', '\t']);
            offset += line.len() - trimmed.len();
        }
        if index < last {
            trimmed = trimmed.trim_end_matches([' ', '\t']);
        }
        if index > 0 {
            if trimmed.is_empty() && index < last {
                pending_breaks += 1;
                continue;
            }
            if pending_breaks > 0 {
                out.extend(std::iter::repeat_n('\n', pending_breaks));
            } else {
                out.push(' ');
            }
            pending_breaks = 0;
        }
        emit(trimmed, &mut out, &mut map, offset);
    }
    DecodedScalar { value: out, map }
}

/// Resolves a plain scalar under the YAML 1.2 core schema (null, booleans, integers, floats, else string).
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN"
        | ".NAN" => {
            // JSON has no infinities or NaN; Kubernetes turns these into strings too.
            return Value::String(text.to_string());
        }
        _ => {}
    }
    if let Some(number) = resolve_integer(text) {
        return number;
    }
    if looks_like_float(text)
        && let Ok(float) = text.parse::<f64>()
        && let Some(number) = Number::from_f64(float)
    {
        return Value::Number(number);
    }
    Value::String(text.to_string())
}

/// Whether a plain scalar is a boolean only under YAML 1.1 (which Kubernetes and the Kyverno CLI use).
pub fn yaml11_boolean(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn resolve_integer(text: &str) -> Option<Value> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, body) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(octal) = digits.strip_prefix("0o") {
        (8, octal)
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|character| character.is_digit(radix)) {
        return None;
    }
    if radix != 10 && negative {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok();
    let number = match (negative, magnitude) {
        (false, Some(value)) => Number::from(value),
        (true, Some(value)) if value <= i64::MAX as u64 + 1 => Number::from((value as i128).wrapping_neg() as i64),
        _ => Number::from_f64(text.parse::<f64>().ok()?)?,
    };
    Some(Value::Number(number))
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut seen_exponent = false;
    let mut previous = ' ';
    for character in body.chars() {
        match character {
            '0'..='9' => seen_digit = true,
            '.' if !seen_dot && !seen_exponent => seen_dot = true,
            'e' | 'E' if seen_digit && !seen_exponent => seen_exponent = true,
            '-' | '+' if matches!(previous, 'e' | 'E') => {}
            _ => return false,
        }
        previous = character;
    }
    seen_digit && !matches!(previous, 'e' | 'E' | '-' | '+')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_block(text: &str, parent_indent: usize, expect: &str) {
        assert_eq!(decode_block(text, parent_indent).value, expect, "block {text:?}");
    }

    #[test]
    fn literal_block_keeps_lines() {
        check_block("|\n  a\n   b\n\n  c\n", 0, "a\n b\n\nc\n");
        check_block("|-\n  a\n  b\n", 0, "a\nb");
        check_block("|+\n  a\n\n", 0, "a\n\n");
    }

    #[test]
    fn folded_block_joins_lines() {
        check_block(">\n  a\n  b\n\n  c\n", 0, "a b\nc\n");
        check_block(">-\n  a\n    more\n  b\n", 0, "a\n  more\nb");
    }

    #[test]
    fn block_offset_map_points_at_content() {
        let text = "|\n    package x\n    deny {}\n";
        let decoded = decode_block(text, 2);
        assert_eq!(decoded.value, "package x\ndeny {}\n");
        let deny = decoded.value.find("deny").unwrap();
        assert_eq!(&text[decoded.map.to_source(deny)..][..4], "deny");
    }

    #[test]
    fn double_quoted_escapes_and_folding() {
        assert_eq!(decode_double_quoted(r#""a\tb\u00e9\x41""#).value, "a\tbéA");
        assert_eq!(decode_double_quoted("\"a\n   b\n\n  c\"").value, "a b\nc");
        assert_eq!(decode_double_quoted("\"a\\\n   b\"").value, "ab");
        let decoded = decode_double_quoted(r#""\n{{x}}""#);
        assert_eq!(decoded.map.to_source(1), 3);
    }

    #[test]
    fn single_quoted_doubles_quotes() {
        assert_eq!(decode_single_quoted("'it''s'").value, "it's");
        assert_eq!(decode_single_quoted("'a\n  b'").value, "a b");
    }

    #[test]
    fn plain_folding() {
        assert_eq!(decode_plain("a\n  b\n\n  c").value, "a b\nc");
    }

    #[test]
    fn core_schema_resolution() {
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(resolve_plain("True"), Value::Bool(true));
        assert_eq!(resolve_plain("42"), serde_json::json!(42));
        assert_eq!(resolve_plain("-7"), serde_json::json!(-7));
        assert_eq!(resolve_plain("0x1F"), serde_json::json!(31));
        assert_eq!(resolve_plain("1.5e3"), serde_json::json!(1500.0));
        assert_eq!(resolve_plain("yes"), serde_json::json!("yes"));
        assert_eq!(resolve_plain("1.2.3"), serde_json::json!("1.2.3"));
        assert_eq!(resolve_plain("e5"), serde_json::json!("e5"));
        assert_eq!(resolve_plain("500m"), serde_json::json!("500m"));
    }
}
