//! A JMESPath tokenizer for the editor, and the `{{ }}` spans of Kyverno strings. Each name is told apart
//! by what it refers to: a root name (`request`, a context entry), a field of something, or a function,
//! so colouring and go-to-definition of context entries share one reading of the expression.

/// What a JMESPath token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JmesKind {
    /// A name read from the root of the data: `request` in `request.object`, a context entry.
    RootName,
    /// A name read from the value on its left or from the current element (`a.b`, `[?name == 'x']`).
    Field,
    Function,
    /// `@`, the current node.
    Current,
    /// A raw string (`'text'`).
    String,
    /// A JSON literal (`` `{"a": 1}` ``).
    Literal,
    Number,
    /// `||`, `&&`, `!`, comparisons, `|`, `&`, `*`.
    Operator,
    /// Brackets, braces, parentheses, dots, commas, colons and `[?`.
    Punctuation,
}

/// One token, as byte offsets into the expression text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct JmesToken {
    pub kind: JmesKind,
    pub start: usize,
    pub end: usize,
}

impl JmesToken {
    /// The name a root or field token stands for, without the quotes of a quoted identifier.
    pub fn name<'a>(&self, text: &'a str) -> &'a str {
        let raw = text.get(self.start..self.end).unwrap_or("");
        raw.strip_prefix('"').map_or(raw, |inner| inner.strip_suffix('"').unwrap_or(inner))
    }
}

/// The `{{ ... }}` spans of a Kyverno string (byte ranges including the braces). An escaped `\{{` is
/// no variable; one level of `{...}` inside (a multi-select hash) is part of the expression.
pub(crate) fn variable_spans(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut position = 0;
    while let Some(found) = text.get(position..).and_then(|rest| rest.find("{{")) {
        let start = position + found;
        if start > 0 && bytes[start - 1] == b'\\' {
            position = start + 2;
            continue;
        }
        let mut cursor = start + 2;
        let mut depth = 0usize;
        let mut end = None;
        while cursor < bytes.len() {
            match bytes[cursor] {
                b'}' if depth == 0 && bytes.get(cursor + 1) == Some(&b'}') => {
                    end = Some(cursor + 2);
                    break;
                }
                b'{' => depth += 1,
                b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            cursor += 1;
        }
        match end {
            Some(end) => {
                spans.push((start, end));
                position = end;
            }
            None => break,
        }
    }
    spans
}

/// Splits an expression into tokens and classifies its names. Never fails: characters that start no
/// token are skipped.
pub(crate) fn tokenize(text: &str) -> Vec<JmesToken> {
    classify(text, lex(text))
}

fn lex(text: &str) -> Vec<JmesToken> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut position = 0;
    let delimited = |position: usize, quote: u8| {
        let mut cursor = position + 1;
        while cursor < bytes.len() {
            match bytes[cursor] {
                b'\\' => cursor += 2,
                byte if byte == quote => return cursor + 1,
                _ => cursor += 1,
            }
        }
        bytes.len()
    };
    while position < bytes.len() {
        let start = position;
        let byte = bytes[position];
        let kind = match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {
                position += 1;
                continue;
            }
            b'"' => {
                position = delimited(position, b'"');
                JmesKind::Field
            }
            b'\'' => {
                position = delimited(position, b'\'');
                JmesKind::String
            }
            b'`' => {
                position = delimited(position, b'`');
                JmesKind::Literal
            }
            b'0'..=b'9' => {
                position += bytes[position..].iter().take_while(|byte| byte.is_ascii_digit()).count();
                JmesKind::Number
            }
            b'-' if bytes.get(position + 1).is_some_and(u8::is_ascii_digit) => {
                position += 1 + bytes[position + 1..].iter().take_while(|byte| byte.is_ascii_digit()).count();
                JmesKind::Number
            }
            byte if byte.is_ascii_alphabetic() || byte == b'_' => {
                position +=
                    bytes[position..].iter().take_while(|byte| byte.is_ascii_alphanumeric() || **byte == b'_').count();
                JmesKind::Field
            }
            b'@' => {
                position += 1;
                JmesKind::Current
            }
            _ => {
                let two = text.get(position..position + 2).unwrap_or("");
                if matches!(two, "||" | "&&" | "==" | "!=" | "<=" | ">=") {
                    position += 2;
                    JmesKind::Operator
                } else if two == "[?" {
                    position += 2;
                    JmesKind::Punctuation
                } else if b"|&!<>*".contains(&byte) {
                    position += 1;
                    JmesKind::Operator
                } else if b"[]{}().,:".contains(&byte) {
                    position += 1;
                    JmesKind::Punctuation
                } else {
                    // Skip one whole character so offsets stay on UTF-8 boundaries.
                    position += text[position..].chars().next().map_or(1, char::len_utf8);
                    continue;
                }
            }
        };
        tokens.push(JmesToken { kind, start, end: position.min(bytes.len()) });
    }
    tokens
}

/// A bracket level: whether names in it are read from the current element rather than the root.
#[derive(Clone, Copy)]
struct Level {
    initially_relative: bool,
    relative: bool,
}

/// Tells root names from fields and functions. Names are relative (fields) after a `.`, inside a filter
/// `[? ]`, after an expression reference `&`, right of a pipe, and inside a multi-select that follows a
/// `.`; a comma starts the next argument or element afresh.
fn classify(text: &str, mut tokens: Vec<JmesToken>) -> Vec<JmesToken> {
    let mut levels = vec![Level { initially_relative: false, relative: false }];
    let token_text = |token: &JmesToken| text.get(token.start..token.end).unwrap_or("");
    let mut previous: Option<JmesToken> = None;
    for index in 0..tokens.len() {
        let token = tokens[index];
        let current = *levels.last().unwrap_or(&Level { initially_relative: false, relative: false });
        let previous_text = previous.as_ref().map(token_text).unwrap_or("");
        match (token.kind, token_text(&token)) {
            (JmesKind::Field, raw) => {
                let next_text = tokens.get(index + 1).map(token_text).unwrap_or("");
                tokens[index].kind = if next_text == "(" && !raw.starts_with('"') {
                    JmesKind::Function
                } else if previous_text == "." || previous_text == "&" || current.relative {
                    JmesKind::Field
                } else if next_text == ":" {
                    // A key of a multi-select hash names the output, not the data.
                    JmesKind::Field
                } else {
                    JmesKind::RootName
                };
            }
            (JmesKind::Punctuation, "[?") => levels.push(Level { initially_relative: true, relative: true }),
            (JmesKind::Punctuation, "[" | "{") => {
                let relative = previous_text == "." || current.relative;
                levels.push(Level { initially_relative: relative, relative });
            }
            (JmesKind::Punctuation, "(") => {
                levels.push(Level { initially_relative: current.relative, relative: current.relative })
            }
            (JmesKind::Punctuation, "]" | "}" | ")") if levels.len() > 1 => {
                levels.pop();
            }
            (JmesKind::Punctuation, ",") => {
                if let Some(level) = levels.last_mut() {
                    level.relative = level.initially_relative;
                }
            }
            (JmesKind::Operator, "|") => {
                if let Some(level) = levels.last_mut() {
                    level.relative = true;
                }
            }
            _ => {}
        }
        previous = Some(token);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &str) {
        let rendered: Vec<String> = tokenize(text)
            .iter()
            .filter(|token| matches!(token.kind, JmesKind::RootName | JmesKind::Field | JmesKind::Function))
            .map(|token| format!("{:?}:{}", token.kind, &text[token.start..token.end]))
            .collect();
        assert_eq!(rendered.join(" "), expect, "{text}");
    }

    #[test]
    fn roots_fields_and_functions() {
        check("request.object.metadata.name", "RootName:request Field:object Field:metadata Field:name");
        check("length(images.containers) || `0`", "Function:length RootName:images Field:containers");
        check(
            "request.object.spec.containers[?name == 'x'].image | [0]",
            "RootName:request Field:object Field:spec Field:containers Field:name Field:image",
        );
        check("sort_by(items, &name)", "Function:sort_by RootName:items Field:name");
        check("{a: team, b: other.x}", "Field:a RootName:team Field:b RootName:other Field:x");
        check("foo.[bar, baz]", "RootName:foo Field:bar Field:baz");
        check("merge(a, b) | c", "Function:merge RootName:a RootName:b Field:c");
        check("\"quoted-name\".x", "RootName:\"quoted-name\" Field:x");
    }

    #[test]
    fn variable_spans_skip_escapes() {
        let text = r"a {{ x }} \{{ y }} {{ {k: v} }}{{z}}";
        let spans: Vec<&str> = variable_spans(text).into_iter().map(|(start, end)| &text[start..end]).collect();
        assert_eq!(spans, ["{{ x }}", "{{ {k: v} }}", "{{z}}"]);
    }
}
