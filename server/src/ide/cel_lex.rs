//! A CEL tokenizer for the editor: names told apart as variables, fields, functions and methods, plus
//! keywords, literals, operators and comments, as byte ranges of the expression text.

/// What a CEL token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CelKind {
    /// A name at the start of a selection: `object` in `object.spec`, a comprehension variable.
    Variable,
    /// A name after `.` or `.?`.
    Field,
    /// A global function or macro call: `size(x)`, `has(x.y)`.
    Function,
    /// A receiver-style call: `x.startsWith('a')`, `list.all(c, ...)`.
    Method,
    Keyword,
    String,
    Number,
    Operator,
    Comment,
    Punctuation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CelToken {
    pub kind: CelKind,
    pub start: usize,
    pub end: usize,
}

/// Literal words and the words CEL reserves.
const KEYWORDS: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// Splits an expression into tokens. Never fails: characters that start no token are skipped.
pub(crate) fn tokenize(text: &str) -> Vec<CelToken> {
    let bytes = text.as_bytes();
    let mut tokens: Vec<CelToken> = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let start = position;
        let byte = bytes[position];
        let kind = match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {
                position += 1;
                continue;
            }
            b'/' if bytes.get(position + 1) == Some(&b'/') => {
                position += bytes[position..].iter().take_while(|byte| **byte != b'\n').count();
                CelKind::Comment
            }
            b'"' | b'\'' => {
                position = string_end(bytes, position, false);
                CelKind::String
            }
            b'0'..=b'9' => {
                position = number_end(bytes, position);
                CelKind::Number
            }
            byte if byte.is_ascii_alphabetic() || byte == b'_' => {
                let word_end = position
                    + bytes[position..]
                        .iter()
                        .take_while(|byte| byte.is_ascii_alphanumeric() || **byte == b'_')
                        .count();
                let word = &text[position..word_end];
                let is_prefix = word.len() <= 2 && word.chars().all(|character| "rRbB".contains(character));
                if is_prefix && matches!(bytes.get(word_end), Some(b'"' | b'\'')) {
                    let raw = word.contains(['r', 'R']);
                    position = string_end(bytes, word_end, raw);
                    CelKind::String
                } else {
                    position = word_end;
                    if KEYWORDS.contains(&word) { CelKind::Keyword } else { CelKind::Variable }
                }
            }
            _ => {
                let two = text.get(position..position + 2).unwrap_or("");
                if matches!(two, "==" | "!=" | "<=" | ">=" | "&&" | "||") {
                    position += 2;
                    CelKind::Operator
                } else if two == ".?" || two == "[?" {
                    position += 2;
                    CelKind::Punctuation
                } else if b"<>!+-*/%?:".contains(&byte) {
                    position += 1;
                    CelKind::Operator
                } else if b"[]{}().,".contains(&byte) {
                    position += 1;
                    CelKind::Punctuation
                } else {
                    position += text[position..].chars().next().map_or(1, char::len_utf8);
                    continue;
                }
            }
        };
        tokens.push(CelToken { kind, start, end: position.min(bytes.len()) });
    }
    classify(text, &mut tokens);
    tokens
}

/// The end of a quoted string starting at `position` (single, double or triple quotes).
fn string_end(bytes: &[u8], position: usize, raw: bool) -> usize {
    let quote = bytes[position];
    let triple = bytes.get(position..position + 3) == Some(&[quote, quote, quote][..]);
    let mut cursor = position + if triple { 3 } else { 1 };
    while cursor < bytes.len() {
        let byte = bytes[cursor];
        if byte == b'\\' && !raw {
            cursor += 2;
            continue;
        }
        if triple {
            if bytes.get(cursor..cursor + 3) == Some(&[quote, quote, quote][..]) {
                return cursor + 3;
            }
        } else if byte == quote {
            return cursor + 1;
        } else if byte == b'\n' {
            return cursor;
        }
        cursor += 1;
    }
    bytes.len()
}

/// The end of a number: decimal or hexadecimal integers, an unsigned suffix, fractions and exponents.
fn number_end(bytes: &[u8], position: usize) -> usize {
    let mut cursor = position;
    if bytes.get(cursor..cursor + 2).is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"0x")) {
        cursor += 2;
        cursor += bytes[cursor..].iter().take_while(|byte| byte.is_ascii_hexdigit()).count();
    } else {
        cursor += bytes[cursor..].iter().take_while(|byte| byte.is_ascii_digit()).count();
        if bytes.get(cursor) == Some(&b'.') && bytes.get(cursor + 1).is_some_and(u8::is_ascii_digit) {
            cursor += 1;
            cursor += bytes[cursor..].iter().take_while(|byte| byte.is_ascii_digit()).count();
        }
        if matches!(bytes.get(cursor), Some(b'e' | b'E')) {
            let mut exponent = cursor + 1;
            if matches!(bytes.get(exponent), Some(b'+' | b'-')) {
                exponent += 1;
            }
            if bytes.get(exponent).is_some_and(u8::is_ascii_digit) {
                cursor = exponent + bytes[exponent..].iter().take_while(|byte| byte.is_ascii_digit()).count();
            }
        }
    }
    if matches!(bytes.get(cursor), Some(b'u' | b'U')) {
        cursor += 1;
    }
    cursor
}

/// Names followed by `(` are calls (methods after a dot); names after a dot are fields.
fn classify(text: &str, tokens: &mut [CelToken]) {
    for index in 0..tokens.len() {
        if tokens[index].kind != CelKind::Variable {
            continue;
        }
        let after_dot = index > 0 && matches!(&text[tokens[index - 1].start..tokens[index - 1].end], "." | ".?");
        let called = tokens.get(index + 1).is_some_and(|next| &text[next.start..next.end] == "(");
        tokens[index].kind = match (after_dot, called) {
            (true, true) => CelKind::Method,
            (true, false) => CelKind::Field,
            (false, true) => CelKind::Function,
            (false, false) => CelKind::Variable,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &str) {
        let rendered: Vec<String> = tokenize(text)
            .iter()
            .filter(|token| token.kind != CelKind::Punctuation)
            .map(|token| format!("{:?}:{}", token.kind, &text[token.start..token.end]))
            .collect();
        assert_eq!(rendered.join(" "), expect, "{text}");
    }

    #[test]
    fn names_literals_and_operators() {
        check(
            "has(object.spec) && object.spec.x.startsWith('a') // why",
            "Function:has Variable:object Field:spec Operator:&& Variable:object Field:spec Field:x Method:startsWith String:'a' Comment:// why",
        );
        check(
            "size(r\"a\\\") > 0x1Fu || 1.5e3 in [true]",
            "Function:size String:r\"a\\\" Operator:> Number:0x1Fu Operator:|| Number:1.5e3 Keyword:in Keyword:true",
        );
        check("'''a\nb''' + object.?x", "String:'''a\nb''' Operator:+ Variable:object Field:x");
    }
}
