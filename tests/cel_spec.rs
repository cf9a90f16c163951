//! cel-spec conformance: runs the "simple" tests of google/cel-spec (data vendored under tests/cel_spec, see
//! PROVENANCE.md there) through our CEL interpreter and reports passed, failed and skipped cases per section.
//!
//! The data is protobuf text format, so this module carries a small reader for it. Only the files whose
//! features CEL in Kubernetes uses are in scope (the others are listed with the reason they are out); inside
//! them, a case that needs something Kubernetes never gives an expression (protobuf messages, a container
//! namespace, unknowns, a type checker without evaluation) is skipped and printed with its reason. The figure
//! `cel-spec-conformance: passed/total` counts the remaining cases; it may only rise (.ci/ratchet.txt records
//! it and this test fails below the record, and when it finds no case at all).

use std::path::{Path, PathBuf};

use policy_lsp::engine::cel::{Activation, Program, Services, Val};

/// Files whose features neither Kubernetes' CEL environment nor Kyverno's (kyverno's pkg/cel/compiler/env.go
/// adds cel-go's bindings, encoders, lists, math, sets, strings and regex extensions) offer, and why.
const OUT_OF_SCOPE: &[(&str, &str)] = &[
    ("block_ext", "cel.block is an optimiser's internal form, not a library Kubernetes enables"),
    ("dynamic", "conversions of protobuf well-known message types"),
    ("enums", "protobuf enums"),
    ("network_ext", "cel-go's network extension differs from Kubernetes' ip and cidr libraries"),
    ("proto2", "protobuf version 2 messages"),
    ("proto2_ext", "protobuf version 2 extensions"),
    ("proto3", "protobuf version 3 messages"),
    ("type_deduction", "type-checker results without evaluation"),
    ("unknowns", "partial evaluation with unknown values"),
    ("wrappers", "protobuf wrapper messages"),
];

/// Identifiers in an expression that name protobuf messages, which Kubernetes expressions never build.
const PROTOBUF_NAMES: &[&str] =
    &["TestAllTypes", "NestedTestAllTypes", "google.protobuf.", "cel.expr.", "proto2.", "proto3."];

// ---------------------------------------------------------------------------------------------------------
// The protobuf text format, as far as the data files use it.

/// A field's value: a scalar token or a nested message.
#[derive(Debug)]
enum Node {
    /// A quoted string (its bytes after unescaping; adjacent strings are joined).
    Text(Vec<u8>),
    /// An unquoted token: a number, `true`, an enum constant.
    Word(String),
    Message(Vec<(String, Node)>),
}

#[derive(Debug, PartialEq)]
enum Token {
    Punct(char),
    Text(Vec<u8>),
    Word(String),
}

fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        match byte {
            b' ' | b'\t' | b'\r' | b'\n' => index += 1,
            b'#' => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            b'{' | b'}' | b'<' | b'>' | b'[' | b']' | b':' | b',' | b';' => {
                tokens.push(Token::Punct(byte as char));
                index += 1;
            }
            b'"' | b'\'' => {
                let (text, next) = read_string(bytes, index)?;
                tokens.push(Token::Text(text));
                index = next;
            }
            _ => {
                let start = index;
                while index < bytes.len()
                    && (bytes[index].is_ascii_alphanumeric()
                        || matches!(bytes[index], b'_' | b'.' | b'-' | b'+' | b'/'))
                {
                    index += 1;
                }
                if start == index {
                    return Err(format!("unexpected character {:?} at byte {index}", byte as char));
                }
                tokens.push(Token::Word(source[start..index].to_string()));
            }
        }
    }
    Ok(tokens)
}

/// Reads a quoted string starting at `start` with C-style escapes (octal, hex, \u and \U included).
fn read_string(bytes: &[u8], start: usize) -> Result<(Vec<u8>, usize), String> {
    let quote = bytes[start];
    let mut out = Vec::new();
    let mut index = start + 1;
    let digits = |from: usize, count: usize, radix: u32| -> (u32, usize) {
        let mut value = 0;
        let mut used = 0;
        while used < count {
            match bytes.get(from + used).and_then(|&byte| (byte as char).to_digit(radix)) {
                Some(digit) => value = value * radix + digit,
                None => break,
            }
            used += 1;
        }
        (value, used)
    };
    loop {
        let Some(&byte) = bytes.get(index) else { return Err("unterminated string".to_string()) };
        index += 1;
        if byte == quote {
            return Ok((out, index));
        }
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        let Some(&escape) = bytes.get(index) else { return Err("unterminated escape".to_string()) };
        index += 1;
        match escape {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let (value, used) = digits(index - 1, 3, 8);
                out.push(value as u8);
                index += used - 1;
            }
            b'x' | b'X' => {
                let (value, used) = digits(index, 2, 16);
                out.push(value as u8);
                index += used;
            }
            b'u' | b'U' => {
                let (value, used) = digits(index, if escape == b'u' { 4 } else { 8 }, 16);
                let character = char::from_u32(value).ok_or_else(|| format!("bad code point {value:x}"))?;
                out.extend_from_slice(character.encode_utf8(&mut [0; 4]).as_bytes());
                index += used;
            }
            other => out.push(other),
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self) -> Option<&Token> {
        self.position += 1;
        self.tokens.get(self.position - 1)
    }

    fn eat(&mut self, punct: char) -> bool {
        if self.peek() == Some(&Token::Punct(punct)) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    /// Fields up to the closing `close` (or the end of the input when `close` is `None`).
    fn fields(&mut self, close: Option<char>) -> Result<Vec<(String, Node)>, String> {
        let mut fields = Vec::new();
        loop {
            match (self.peek(), close) {
                (None, None) => return Ok(fields),
                (None, Some(_)) => return Err("unterminated message".to_string()),
                (Some(Token::Punct(found)), Some(wanted)) if *found == wanted => {
                    self.position += 1;
                    return Ok(fields);
                }
                _ => {}
            }
            let name = match self.next() {
                Some(Token::Word(word)) => word.clone(),
                // An extension or Any type URL: `[type.googleapis.com/...]`.
                Some(Token::Punct('[')) => {
                    let Some(Token::Word(word)) = self.next() else { return Err("bad bracketed name".to_string()) };
                    let word = word.clone();
                    if !self.eat(']') {
                        return Err("unclosed bracketed name".to_string());
                    }
                    format!("[{word}]")
                }
                other => return Err(format!("expected a field name, found {other:?}")),
            };
            self.eat(':');
            if self.eat('[') {
                while !self.eat(']') {
                    let value = self.value()?;
                    fields.push((name.clone(), value));
                    self.eat(',');
                }
            } else {
                let value = self.value()?;
                fields.push((name, value));
            }
            if !self.eat(',') {
                self.eat(';');
            }
        }
    }

    fn value(&mut self) -> Result<Node, String> {
        match self.next() {
            Some(Token::Punct('{')) => Ok(Node::Message(self.fields(Some('}'))?)),
            Some(Token::Punct('<')) => Ok(Node::Message(self.fields(Some('>'))?)),
            Some(Token::Word(word)) => Ok(Node::Word(word.clone())),
            Some(Token::Text(text)) => {
                let mut text = text.clone();
                while let Some(Token::Text(more)) = self.peek() {
                    text.extend_from_slice(more);
                    self.position += 1;
                }
                Ok(Node::Text(text))
            }
            other => Err(format!("expected a value, found {other:?}")),
        }
    }
}

fn parse_text_format(source: &str) -> Result<Vec<(String, Node)>, String> {
    Parser { tokens: tokenize(source)?, position: 0 }.fields(None)
}

impl Node {
    fn fields(&self) -> &[(String, Node)] {
        match self {
            Node::Message(fields) => fields,
            _ => &[],
        }
    }

    fn get(&self, name: &str) -> Option<&Node> {
        self.fields().iter().find(|(field, _)| field == name).map(|(_, node)| node)
    }

    fn all<'n>(&'n self, name: &'n str) -> impl Iterator<Item = &'n Node> + 'n {
        self.fields().iter().filter(move |(field, _)| field == name).map(|(_, node)| node)
    }

    fn text(&self) -> String {
        match self {
            Node::Text(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Node::Word(word) => word.clone(),
            Node::Message(_) => String::new(),
        }
    }

    fn is_true(&self) -> bool {
        matches!(self, Node::Word(word) if word == "true")
    }
}

// ---------------------------------------------------------------------------------------------------------
// From expected values to ours.

/// Why a case cannot run here (it is skipped and listed), or the converted value.
fn to_val(node: &Node) -> Result<Val, String> {
    let Some((kind, inner)) = node.fields().first() else { return Err("an empty value".to_string()) };
    let number_error = |error: &dyn std::fmt::Display| format!("bad {kind} {:?}: {error}", inner.text());
    Ok(match kind.as_str() {
        "null_value" => Val::Null,
        "bool_value" => Val::Bool(inner.is_true()),
        "int64_value" => Val::Int(inner.text().parse().map_err(|error| number_error(&error))?),
        "uint64_value" => Val::Uint(inner.text().parse().map_err(|error| number_error(&error))?),
        "double_value" => Val::Double(inner.text().parse().map_err(|error| number_error(&error))?),
        "string_value" => match inner {
            Node::Text(bytes) => Val::string(String::from_utf8(bytes.clone()).map_err(|error| error.to_string())?),
            _ => return Err("a string_value that is not quoted".to_string()),
        },
        "bytes_value" => match inner {
            Node::Text(bytes) => Val::Bytes(bytes.clone().into()),
            _ => return Err("a bytes_value that is not quoted".to_string()),
        },
        "type_value" => Val::Type(inner.text().into()),
        "list_value" => Val::list(inner.all("values").map(to_val).collect::<Result<_, _>>()?),
        "map_value" => Val::map(
            inner
                .all("entries")
                .map(|entry| {
                    let key = entry.get("key").ok_or("a map entry without key")?;
                    let value = entry.get("value").ok_or("a map entry without value")?;
                    Ok((to_val(key)?, to_val(value)?))
                })
                .collect::<Result<_, String>>()?,
        ),
        "object_value" => return Err("SKIP a protobuf message value".to_string()),
        "enum_value" => return Err("SKIP a protobuf enum value".to_string()),
        other => return Err(format!("an unknown value kind {other}")),
    })
}

/// Strict equality: the kinds must match (an int is not a uint or a double), maps compare regardless of order.
fn same(expected: &Val, actual: &Val) -> bool {
    match (expected, actual) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(left), Val::Bool(right)) => left == right,
        (Val::Int(left), Val::Int(right)) => left == right,
        (Val::Uint(left), Val::Uint(right)) => left == right,
        (Val::Double(left), Val::Double(right)) => left == right || left.is_nan() && right.is_nan(),
        (Val::String(left), Val::String(right)) => left == right,
        (Val::Bytes(left), Val::Bytes(right)) => left == right,
        (Val::Type(left), Val::Type(right)) => left == right,
        (Val::List(left), Val::List(right)) => {
            left.len() == right.len() && left.iter().zip(right.iter()).all(|(left, right)| same(left, right))
        }
        (Val::Map(left), Val::Map(right)) => {
            left.len() == right.len()
                && left.iter().all(|(key, value)| {
                    right.iter().any(|(other_key, other_value)| same(key, other_key) && same(value, other_value))
                })
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Running the cases.

enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

fn run_case(test: &Node) -> Outcome {
    let expr = test.get("expr").map(Node::text).unwrap_or_default();
    if test.get("check_only").is_some_and(Node::is_true) {
        return Outcome::Skipped("type-checker only".to_string());
    }
    if test.get("disable_macros").is_some_and(Node::is_true) {
        return Outcome::Skipped("macros disabled (Kubernetes always expands them)".to_string());
    }
    if let Some(name) = PROTOBUF_NAMES.iter().find(|name| expr.contains(*name)) {
        return Outcome::Skipped(format!("builds or names a protobuf message ({name})"));
    }
    if let Some(container) = test.get("container").map(Node::text).filter(|container| !container.is_empty()) {
        return Outcome::Skipped(format!("resolves names in container {container} (Kubernetes sets no container)"));
    }
    if test.get("unknown").is_some() || test.get("any_unknowns").is_some() {
        return Outcome::Skipped("unknown values".to_string());
    }
    let mut activation = Activation::new();
    for binding in test.all("bindings") {
        let name = binding.get("key").map(Node::text).unwrap_or_default();
        let Some(value) = binding.get("value").and_then(|value| value.get("value")) else {
            return Outcome::Skipped(format!("binding {name} is not a plain value"));
        };
        match to_val(value) {
            Ok(value) => activation.bind(&name, value),
            Err(reason) => return skip_or_fail(reason),
        }
    }
    let expects_error = test.get("eval_error").is_some() || test.get("any_eval_errors").is_some();
    let expected = if expects_error {
        None
    } else {
        let node = test.get("value").or_else(|| test.get("typed_result").and_then(|typed| typed.get("result")));
        match node.map(to_val) {
            Some(Ok(value)) => Some(value),
            Some(Err(reason)) => return skip_or_fail(reason),
            // A case without a result expects `true` (simple.proto).
            None => Some(Val::Bool(true)),
        }
    };
    let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let program = Program::compile(&expr).map_err(|errors| {
            let messages: Vec<_> = errors.iter().map(|error| error.message.clone()).collect();
            format!("compile error: {}", messages.join("; "))
        })?;
        program.evaluate(&activation, &Services::default())
    }));
    match (evaluated, expected) {
        (Err(_), _) => Outcome::Failed("the interpreter panicked".to_string()),
        (Ok(Err(error)), None) if error.starts_with("compile error") => {
            Outcome::Failed(format!("expected an evaluation error, got {error}"))
        }
        (Ok(Err(_)), None) => Outcome::Passed,
        (Ok(Ok(actual)), None) => Outcome::Failed(format!("expected an error, got {}", actual.debug_text())),
        (Ok(Err(error)), Some(expected)) => {
            Outcome::Failed(format!("expected {}, got error: {error}", expected.debug_text()))
        }
        (Ok(Ok(actual)), Some(expected)) if same(&expected, &actual) => Outcome::Passed,
        (Ok(Ok(actual)), Some(expected)) => Outcome::Failed(format!(
            "expected {} ({}), got {} ({})",
            expected.debug_text(),
            expected.type_name(),
            actual.debug_text(),
            actual.type_name()
        )),
    }
}

/// A value that cannot be converted is a skip when it is a protobuf message, otherwise a failure of this
/// reader (so that a data file it misreads shows up instead of shrinking the total).
fn skip_or_fail(reason: String) -> Outcome {
    match reason.strip_prefix("SKIP ") {
        Some(reason) => Outcome::Skipped(reason.to_string()),
        None => Outcome::Failed(format!("unreadable case: {reason}")),
    }
}

fn data_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cel_spec").join("testdata")
}

/// The recorded figure: the number of cases that passed when .ci/ratchet.txt was last raised.
fn recorded_figure() -> usize {
    let record = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/ratchet.txt");
    let text = std::fs::read_to_string(record).expect(".ci/ratchet.txt is readable");
    text.lines()
        .find_map(|line| line.strip_prefix("cel-spec-conformance: "))
        .and_then(|figure| figure.split('/').next())
        .and_then(|passed| passed.trim().parse().ok())
        .expect(".ci/ratchet.txt records cel-spec-conformance")
}

#[test]
fn cel_spec_simple_tests() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_directory())
        .expect("the vendored cel-spec data")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "textproto"))
        .collect();
    files.sort();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for path in &files {
        let stem = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or_default().to_string();
        if let Some((_, reason)) = OUT_OF_SCOPE.iter().find(|(name, _)| *name == stem) {
            println!("cel-spec {stem}: out of scope: {reason}");
            continue;
        }
        let source = std::fs::read_to_string(path).expect("a readable data file");
        let file = parse_text_format(&source).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let file = Node::Message(file);
        for section in file.all("section") {
            let section_name = section.get("name").map(Node::text).unwrap_or_default();
            let (mut section_passed, mut section_failed, mut section_skipped) = (0, 0, 0);
            let mut notes = Vec::new();
            for test in section.all("test") {
                let name = test.get("name").map(Node::text).unwrap_or_default();
                match run_case(test) {
                    Outcome::Passed => section_passed += 1,
                    Outcome::Failed(why) => {
                        section_failed += 1;
                        let expr = test.get("expr").map(Node::text).unwrap_or_default();
                        notes.push(format!("  FAIL {name}: {expr}\n       {why}"));
                    }
                    Outcome::Skipped(why) => {
                        section_skipped += 1;
                        notes.push(format!("  skip {name}: {why}"));
                    }
                }
            }
            println!(
                "cel-spec {stem}/{section_name}: {section_passed} passed, {section_failed} failed, {section_skipped} skipped"
            );
            for note in notes {
                println!("{note}");
            }
            passed += section_passed;
            failed += section_failed;
            skipped += section_skipped;
        }
    }
    let total = passed + failed;
    println!("cel-spec skipped cases: {skipped}");
    println!("cel-spec-conformance: {passed}/{total}");
    assert!(total > 0, "the cel-spec runner found no case to run");
    let record = recorded_figure();
    assert!(passed >= record, "cel-spec conformance fell to {passed}/{total}, below the recorded {record}");
}

#[test]
fn the_text_format_reader_handles_escapes_lists_and_type_urls() {
    let source = r#"
        name: "a" 'b\x41\101\u00e9' # comment
        value: { list_value { values: [{ int64_value: -3 }, { double_value: inf }] } }
        object_value { [type.googleapis.com/google.protobuf.Duration] { seconds: 1 } }
    "#;
    let fields = Node::Message(parse_text_format(source).expect("parses"));
    assert_eq!(fields.get("name").map(Node::text).as_deref(), Some("abAAé"));
    let list = to_val(fields.get("value").expect("value")).expect("converts");
    assert!(same(&list, &Val::list(vec![Val::Int(-3), Val::Double(f64::INFINITY)])));
    let object = fields.get("object_value").expect("object");
    assert!(object.get("[type.googleapis.com/google.protobuf.Duration]").is_some());
    assert!(!same(&Val::Int(1), &Val::Uint(1)), "kinds must match");
}
