//! Rego modules made ready for regorus: the OPA-compatibility rewrite, parsing to an AST, and regorus's
//! error messages turned into a byte offset and a sentence. Below the template compiler in `mod.rs` and the
//! template diagnostics, which both start here.

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::Value;

use super::lexer;
use super::rewrite::{self, RewrittenSource};

/// One Rego module after the OPA-compatibility rewrite, with its AST.
#[derive(Clone)]
pub(crate) struct PreparedModule {
    pub rewritten: RewrittenSource,
    pub ast: Value,
}

/// A parse error in one module: byte offset in the original text and the message.
pub(crate) struct ParseError {
    pub offset: usize,
    pub message: String,
}

pub(crate) fn new_engine(rego_v1: bool) -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(!rego_v1);
    engine
}

/// The deepest nesting of `{` and `[` handed to regorus. Its parser tries a comprehension before a
/// set, object or array at every level, so parse time doubles per level: linting one module with a single
/// term of depth 10 takes 0.1 s, 12 takes 0.4 s, 13 takes 1.4 s and 16 takes 11 s (debug build, whose
/// dependencies are optimised). Templates stay under 7 levels; test files that mock a deep `input` reach 13
/// (statcan's restrict-hostnames tests), which OPA accepts, so 13 is the deepest still parsed.
pub const MAX_REGO_NESTING: usize = 13;

/// The byte offset of the first `{` or `[` (outside strings and comments) that opens a level deeper
/// than `limit`.
fn nesting_beyond(text: &str, limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    for token in lexer::tokenize(text) {
        if token.kind != lexer::TokenKind::Punctuation {
            continue;
        }
        match token.text(text) {
            "{" | "[" => {
                depth += 1;
                if depth > limit {
                    return Some(token.start);
                }
            }
            "}" | "]" => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Rewrites a module for OPA compatibility and parses it with regorus.
pub(crate) fn prepare_module(name: &str, text: &str, rego_v1: bool) -> Result<PreparedModule, ParseError> {
    if let Some(offset) = nesting_beyond(text, MAX_REGO_NESTING) {
        return Err(ParseError {
            offset,
            message: format!(
                "braces and brackets nest deeper than {MAX_REGO_NESTING} levels here; the module is not parsed \
                 (the Rego parser's time doubles with every level)"
            ),
        });
    }
    let mut rewritten = RewrittenSource::identity(text);
    rewritten.apply(rewrite::lexical_insertions(text));
    let ast = parse_ast(name, &rewritten, rego_v1)?;
    let guards = rewrite::negation_insertions(&rewritten.text, &ast);
    if !guards.is_empty() {
        let mut guarded = rewritten.clone();
        guarded.apply(guards);
        // The guards are built from regorus's own spans; should they ever fail to parse, keep the
        // unguarded module rather than reject a valid template.
        if let Ok(guarded_ast) = parse_ast(name, &guarded, rego_v1) {
            return Ok(PreparedModule { rewritten: guarded, ast: guarded_ast });
        }
    }
    Ok(PreparedModule { rewritten, ast })
}

fn parse_ast(name: &str, rewritten: &RewrittenSource, rego_v1: bool) -> Result<Value, ParseError> {
    let mut engine = new_engine(rego_v1);
    if let Err(error) = engine.add_policy(name.to_string(), rewritten.text.clone()) {
        let text = error.to_string();
        let mut offset = reported_offset(&text, &rewritten.text).unwrap_or(0);
        let mut message = reported_message(&text);
        if let Some((inner_offset, inner_message)) = locate_error_in_body(&rewritten.text, offset, rego_v1) {
            offset = inner_offset;
            message = inner_message;
        }
        return Err(ParseError { offset: rewritten.to_original(offset), message });
    }
    let json = engine.get_ast_as_json().map_err(|error| ParseError { offset: 0, message: error.to_string() })?;
    let modules: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
    Ok(modules.pointer("/0/ast").cloned().unwrap_or(Value::Null))
}

/// regorus reports any parse error inside a rule body as "expecting }" at the body's `{`. To point at
/// the real place, parse the body alone as a query, which regorus reports precisely, and translate
/// its position back. Returns the offset in `text` and the message.
fn locate_error_in_body(text: &str, offset: usize, rego_v1: bool) -> Option<(usize, String)> {
    if text.as_bytes().get(offset) != Some(&b'{') {
        return None;
    }
    let tokens = lexer::tokenize(text);
    let mut depth = 0usize;
    let mut close = text.len();
    for token in tokens.iter().filter(|token| token.start >= offset && !token.is_trivia()) {
        match token.text(text) {
            "{" | "[" | "(" => depth += 1,
            "}" | "]" | ")" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    close = token.start;
                    break;
                }
            }
            _ => {}
        }
    }
    let body_start = offset + 1;
    let body = text.get(body_start..close)?;
    // The body alone may read differently from the module (a raw string cut in two), so it gets the
    // parser's nesting limit of its own.
    if body.trim().is_empty() || nesting_beyond(body, MAX_REGO_NESTING).is_some() {
        return None;
    }
    let mut engine = new_engine(rego_v1);
    engine.set_strict_builtin_errors(false);
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: Duration::from_millis(200),
        check_interval: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
    });
    let error = engine.eval_query(body.to_string(), false).err()?.to_string();
    let message = reported_message(&error);
    // Only syntax errors count here: the probe also evaluates the body, which may fail for other reasons.
    let is_syntax =
        ["expect", "unexpected", "invalid", "unterminated", "missing"].iter().any(|prefix| message.starts_with(prefix));
    if !is_syntax {
        return None;
    }
    let inner = reported_offset(&error, body)?;
    // regorus's query parser names no expected token when a statement is cut short.
    let message = if message.trim() == "expecting" {
        "this statement does not parse as a Rego expression".to_string()
    } else {
        message
    };
    Some((body_start + inner, message))
}

/// The byte offset of regorus's `--> file:line:column` (1-based, column in characters).
fn reported_offset(message: &str, text: &str) -> Option<usize> {
    let location = message.split("--> ").nth(1)?.lines().next()?;
    let mut parts = location.rsplitn(3, ':');
    let column: usize = parts.next()?.trim().parse().ok()?;
    let line: usize = parts.next()?.trim().parse().ok()?;
    let line_start = if line <= 1 { 0 } else { text.match_indices('\n').nth(line - 2).map(|(index, _)| index + 1)? };
    let line_text = text[line_start..].split('\n').next().unwrap_or("");
    let within = line_text.char_indices().nth(column.saturating_sub(1)).map_or(line_text.len(), |(index, _)| index);
    Some(line_start + within)
}

/// The sentence after `error: ` in a regorus message, or the whole message.
pub(crate) fn reported_message(message: &str) -> String {
    message
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| message.trim().to_string())
}
