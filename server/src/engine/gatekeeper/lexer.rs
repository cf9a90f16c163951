//! A small Rego tokenizer: enough structure (strings, comments, brackets, line breaks) for the
//! OPA-compatibility pre-pass and the editor checks, with byte offsets into the original text.

/// What a token is; the text itself is found through the token's byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Identifier,
    Number,
    String,
    RawString,
    /// One punctuation or operator token such as `{`, `:=` or `!=`.
    Punctuation,
    Comment,
    Newline,
    Whitespace,
    /// A string that runs to the end of the line or text without its closing quote.
    UnterminatedString,
    /// A character that starts no Rego token.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        source.get(self.start..self.end).unwrap_or("")
    }

    /// Whitespace, line breaks and comments carry no meaning for the parser.
    pub fn is_trivia(&self) -> bool {
        matches!(self.kind, TokenKind::Comment | TokenKind::Newline | TokenKind::Whitespace)
    }
}

/// Splits Rego source into tokens. Never fails: unknown characters become `Unknown` tokens.
pub fn tokenize(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let start = position;
        let byte = bytes[position];
        let kind = match byte {
            b'\n' => {
                position += 1;
                TokenKind::Newline
            }
            b' ' | b'\t' | b'\r' => {
                while position < bytes.len() && matches!(bytes[position], b' ' | b'\t' | b'\r') {
                    position += 1;
                }
                TokenKind::Whitespace
            }
            b'#' => {
                while position < bytes.len() && bytes[position] != b'\n' {
                    position += 1;
                }
                TokenKind::Comment
            }
            b'"' => {
                position += 1;
                let mut closed = false;
                while position < bytes.len() {
                    match bytes[position] {
                        b'\\' => position += 2,
                        b'"' => {
                            position += 1;
                            closed = true;
                            break;
                        }
                        b'\n' => break,
                        _ => position += 1,
                    }
                }
                position = position.min(bytes.len());
                if closed { TokenKind::String } else { TokenKind::UnterminatedString }
            }
            b'`' => {
                position += 1;
                let mut closed = false;
                while position < bytes.len() {
                    if bytes[position] == b'`' {
                        position += 1;
                        closed = true;
                        break;
                    }
                    position += 1;
                }
                if closed { TokenKind::RawString } else { TokenKind::UnterminatedString }
            }
            b'0'..=b'9' => {
                while position < bytes.len()
                    && (bytes[position].is_ascii_alphanumeric()
                        || bytes[position] == b'.' && bytes.get(position + 1).is_some_and(|next| next.is_ascii_digit()))
                {
                    position += 1;
                }
                TokenKind::Number
            }
            byte if byte.is_ascii_alphabetic() || byte == b'_' => {
                while position < bytes.len() && (bytes[position].is_ascii_alphanumeric() || bytes[position] == b'_') {
                    position += 1;
                }
                TokenKind::Identifier
            }
            _ => {
                let two = source.get(position..position + 2).unwrap_or("");
                if matches!(two, ":=" | "==" | "!=" | "<=" | ">=") {
                    position += 2;
                    TokenKind::Punctuation
                } else if b"{}[]().,;:=<>+-*/%|&!".contains(&byte) {
                    position += 1;
                    TokenKind::Punctuation
                } else {
                    // Skip one whole character so that offsets stay on UTF-8 boundaries.
                    let width = source[position..].chars().next().map_or(1, char::len_utf8);
                    position += width;
                    TokenKind::Unknown
                }
            }
        };
        tokens.push(Token { kind, start, end: position.min(bytes.len()) });
    }
    tokens
}

/// True for tokens after which an expression may be complete (a term ends there).
pub fn ends_term(token: &Token, source: &str) -> bool {
    match token.kind {
        TokenKind::Number | TokenKind::String | TokenKind::RawString => true,
        TokenKind::Identifier => !matches!(
            token.text(source),
            "not"
                | "some"
                | "in"
                | "with"
                | "as"
                | "else"
                | "if"
                | "every"
                | "default"
                | "package"
                | "import"
                | "contains"
        ),
        TokenKind::Punctuation => matches!(token.text(source), ")" | "]" | "}"),
        _ => false,
    }
}

/// Errors the tokens alone show, each precise to the token: unterminated strings, stray characters
/// and brackets that do not pair up. Returns (start, end, message) in byte offsets.
pub fn lexical_errors(source: &str) -> Vec<(usize, usize, String)> {
    let mut errors = Vec::new();
    let mut open: Vec<Token> = Vec::new();
    for token in tokenize(source) {
        match token.kind {
            TokenKind::UnterminatedString => errors.push((token.start, token.end, "unterminated string".to_string())),
            TokenKind::Unknown => {
                errors.push((token.start, token.end, format!("unexpected character {:?}", token.text(source))));
            }
            TokenKind::Punctuation => {
                let text = token.text(source);
                match text {
                    "{" | "[" | "(" => open.push(token),
                    "}" | "]" | ")" => {
                        let wanted = match text {
                            "}" => "{",
                            "]" => "[",
                            _ => "(",
                        };
                        match open.pop() {
                            Some(opener) if opener.text(source) == wanted => {}
                            Some(opener) => {
                                let line = source[..opener.start].matches('\n').count() + 1;
                                errors.push((
                                    token.start,
                                    token.end,
                                    format!(
                                        "`{text}` does not close the `{}` opened on line {line}",
                                        opener.text(source)
                                    ),
                                ));
                                return errors;
                            }
                            None => {
                                errors.push((token.start, token.end, format!("`{text}` closes nothing")));
                                return errors;
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    // After an unterminated string the brackets are out of step; the string is the error to fix.
    if errors.iter().any(|(_, _, message)| message == "unterminated string") {
        return errors;
    }
    if let Some(opener) = open.last() {
        errors.push((opener.start, opener.end, format!("`{}` is never closed", opener.text(source))));
    }
    errors
}
