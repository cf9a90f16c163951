//! A source pre-pass that makes regorus read Rego the way OPA does, by inserting text only.
//!
//! regorus 0.14 differs from OPA in three places that real Gatekeeper templates hit:
//! (b) a line break before `(` continues the previous term as a call in regorus, while OPA ends the
//! expression there; (c) chained rule bodies `head { ... } { ... }` are rejected or misread by
//! regorus, while OPA reads each extra body as another rule with the same head; (a) in OPA an
//! undefined argument makes `not f(x.missing)` undefined (the compiler binds call arguments before
//! the negation), while regorus evaluates it to true.
//!
//! We fix all three by inserting text, never by deleting or moving it, and never inserting a line
//! break, so every line keeps its number and every column before an insertion point is unchanged.
//! The insertions are recorded so that any position regorus reports can be mapped back to the text
//! the user wrote. Working on text (rather than regorus's private AST types) keeps regorus's code
//! out of the project and lets the rewritten module be compiled by the stock engine.

use serde_json::Value;

use super::lexer::{Token, TokenKind, ends_term, tokenize};

/// Text inserted at a byte offset of the text it was applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insertion {
    pub offset: usize,
    pub text: String,
}

/// Rewritten Rego plus the layers of insertions that produced it, oldest first.
#[derive(Debug, Clone, Default)]
pub struct RewrittenSource {
    pub text: String,
    layers: Vec<Vec<Insertion>>,
}

impl RewrittenSource {
    /// The unchanged source.
    pub fn identity(text: &str) -> Self {
        RewrittenSource { text: text.to_string(), layers: Vec::new() }
    }

    /// Applies one more layer of insertions (offsets refer to the current text).
    pub fn apply(&mut self, mut insertions: Vec<Insertion>) {
        if insertions.is_empty() {
            return;
        }
        insertions.sort_by_key(|insertion| insertion.offset);
        let mut text = String::with_capacity(self.text.len() + 64);
        let mut copied = 0;
        for insertion in &insertions {
            let offset = insertion.offset.min(self.text.len());
            text.push_str(self.text.get(copied..offset).unwrap_or(""));
            text.push_str(&insertion.text);
            copied = offset;
        }
        text.push_str(self.text.get(copied..).unwrap_or(""));
        self.text = text;
        self.layers.push(insertions);
    }

    /// Maps a byte offset in the rewritten text back to the original text. An offset inside inserted
    /// text maps to the place where the text was inserted.
    pub fn to_original(&self, offset: usize) -> usize {
        let mut offset = offset;
        for layer in self.layers.iter().rev() {
            offset = undo_layer(layer, offset);
        }
        offset
    }
}

/// Maps an offset after one layer of (sorted) insertions to the offset before it.
fn undo_layer(layer: &[Insertion], offset: usize) -> usize {
    let mut shift = 0;
    for insertion in layer {
        let start = insertion.offset + shift;
        if offset < start {
            break;
        }
        if offset < start + insertion.text.len() {
            return insertion.offset;
        }
        shift += insertion.text.len();
    }
    offset - shift
}

/// Fixes (b) line breaks before `(` and (c) chained rule bodies, on tokens alone.
pub fn lexical_insertions(source: &str) -> Vec<Insertion> {
    let tokens: Vec<Token> = tokenize(source);
    let mut insertions = Vec::new();
    // The open brackets, each with whether it is a `{` that opens a rule or query body.
    let mut open: Vec<(u8, bool)> = Vec::new();
    let mut previous: Option<Token> = None;
    let mut newline_since_previous = false;
    // Where the current top-level statement starts and where its first body opens.
    let mut statement_start: Option<usize> = None;
    let mut head_end: Option<usize> = None;
    let mut last_closed_body_at_top = false;

    for token in &tokens {
        if token.kind == TokenKind::Newline {
            newline_since_previous = true;
            continue;
        }
        if token.is_trivia() {
            continue;
        }
        let text = token.text(source);
        let at_top = open.is_empty();

        if at_top {
            let chained_body = text == "{" && last_closed_body_at_top;
            if chained_body {
                // (c): another body for the same head; give it the head in front.
                if let (Some(start), Some(end)) = (statement_start, head_end) {
                    let head = compact_text(source, &tokens, start, end);
                    if !head.is_empty() {
                        insertions.push(Insertion { offset: token.start, text: format!("{head} ") });
                    }
                }
            } else if text != "else"
                && (statement_start.is_none()
                    || newline_since_previous
                        && previous.is_some_and(|before| ends_term(&before, source) || last_closed_body_at_top))
            {
                statement_start = Some(token.start);
                head_end = None;
            }
        }

        // (b): a line break before `(` ends the expression inside a body, as in OPA.
        if text == "("
            && newline_since_previous
            && open.last().is_some_and(|(bracket, is_body)| *bracket == b'{' && *is_body)
            && let Some(before) = previous
            && ends_term(&before, source)
        {
            insertions.push(Insertion { offset: before.end, text: ";".to_string() });
        }

        match text {
            "{" | "[" | "(" => {
                let opens_body = text == "{" && opens_body(previous, source, open.last().copied());
                if opens_body && at_top && head_end.is_none() {
                    head_end = Some(token.start);
                }
                open.push((text.as_bytes()[0], opens_body));
                last_closed_body_at_top = false;
            }
            "}" | "]" | ")" => {
                let closed = open.pop();
                last_closed_body_at_top = open.is_empty() && closed.is_some_and(|(_, is_body)| is_body);
            }
            _ => last_closed_body_at_top = false,
        }
        previous = Some(*token);
        newline_since_previous = false;
    }
    insertions
}

/// Whether a `{` opens a body (rule, `else`, `if`, `every`) rather than an object or set literal.
fn opens_body(previous: Option<Token>, source: &str, enclosing: Option<(u8, bool)>) -> bool {
    let Some(previous) = previous else {
        return false;
    };
    let text = previous.text(source);
    match enclosing {
        // At the top level a `{` after a complete head (or after `else`/`if`) opens a body.
        None => ends_term(&previous, source) || matches!(text, "else" | "if"),
        // Inside a body a `{` right after a term can only open an `every x in xs { ... }` body; object
        // and set literals follow an operator, a comma or an opening bracket.
        Some(_) => matches!(text, "else" | "if") || ends_term(&previous, source),
    }
}

/// The source between two offsets with comments dropped and line breaks turned into spaces, so
/// that it can be inserted on one line.
fn compact_text(source: &str, tokens: &[Token], start: usize, end: usize) -> String {
    let mut text = String::new();
    let mut pending_space = false;
    for token in tokens.iter().filter(|token| token.start >= start && token.end <= end) {
        if token.is_trivia() {
            pending_space = !text.is_empty();
            continue;
        }
        if pending_space {
            text.push(' ');
            pending_space = false;
        }
        text.push_str(token.text(source));
    }
    text
}

/// Fixes (a): for every `not` whose expression is a call, binds the call's arguments first, the way
/// OPA's compiler does, by inserting `_ = <argument>;` guards in front of the `not`.
///
/// `ast` is the JSON AST regorus produced for `source` (one module).
pub fn negation_insertions(source: &str, ast: &Value) -> Vec<Insertion> {
    let rule_names = rule_names(ast);
    let tokens = tokenize(source);
    let mut insertions = Vec::new();
    let mut literals = Vec::new();
    collect_negations(ast, &mut literals);
    for literal in literals {
        let Some(expression) = literal.get("expr") else {
            continue;
        };
        let mut guards = Vec::new();
        guards_for_negated(expression, &rule_names, &mut guards);
        if guards.is_empty() {
            continue;
        }
        let Some(start) = span_start(literal) else {
            continue;
        };
        let mut text = String::new();
        for (guard_start, guard_end) in guards {
            let guard = compact_text(source, &tokens, guard_start, guard_end);
            if guard.is_empty() || mentions_wildcard(&guard) {
                continue;
            }
            text.push_str("_ = ");
            text.push_str(&guard);
            text.push_str("; ");
        }
        if text.is_empty() {
            continue;
        }
        // `p if not f(x)` has no braces: the guards need a body to live in, so add one around them.
        let after_if = tokens
            .iter()
            .rev()
            .find(|token| token.end <= start && !token.is_trivia())
            .is_some_and(|token| token.text(source) == "if");
        match span_of(literal) {
            Some((_, end)) if after_if => {
                insertions.push(Insertion { offset: start, text: format!("{{ {text}") });
                insertions.push(Insertion { offset: end, text: " }".to_string() });
            }
            _ => insertions.push(Insertion { offset: start, text }),
        }
    }
    insertions
}

/// A `_` inside a guard would iterate instead of checking definedness: leave such negations alone.
fn mentions_wildcard(text: &str) -> bool {
    tokenize(text).iter().any(|token| token.kind == TokenKind::Identifier && token.text(text) == "_")
}

/// Every `NotExpr` literal that has no `with` modifiers, anywhere in the module.
fn collect_negations<'a>(value: &'a Value, found: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if let Some(statement) = map.get("literal")
                && let Some(negation) = statement.get("NotExpr")
                && map.get("with_mods").is_none_or(|mods| mods.as_array().is_none_or(Vec::is_empty))
            {
                found.push(negation);
            }
            for child in map.values() {
                collect_negations(child, found);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_negations(item, found);
            }
        }
        _ => {}
    }
}

/// The names of the module's rules (a bare reference to one is a reference to data in OPA).
pub fn rule_names(ast: &Value) -> Vec<String> {
    let mut names = Vec::new();
    let Some(rules) = ast.get("rules").and_then(Value::as_array) else {
        return names;
    };
    for rule in rules {
        let head_ref = rule
            .get("Spec")
            .and_then(|spec| spec.get("head"))
            .and_then(|head| head.as_object())
            .and_then(|head| head.values().next())
            .and_then(|head| head.get("refr"));
        if let Some(name) = head_ref.and_then(root_var_name) {
            names.push(name);
        }
    }
    names
}

pub(crate) fn root_var_name(expression: &Value) -> Option<String> {
    if let Some(var) = expression.get("Var") {
        return var.get("value").and_then(Value::as_str).map(str::to_string);
    }
    let inner = expression.get("RefDot").or_else(|| expression.get("RefBrack"))?;
    root_var_name(inner.get("refr")?)
}

fn span_of(node: &Value) -> Option<(usize, usize)> {
    let span = node.get("span")?;
    let start = usize::try_from(span.get("start")?.as_u64()?).ok()?;
    let end = usize::try_from(span.get("end")?.as_u64()?).ok()?;
    Some((start, end))
}

fn span_start(node: &Value) -> Option<usize> {
    span_of(node).map(|(start, _)| start)
}

/// The single variant of an AST enum node: (`"Call"`, its fields).
fn variant(expression: &Value) -> Option<(&str, &Value)> {
    let map = expression.as_object()?;
    let (name, fields) = map.iter().next()?;
    Some((name.as_str(), fields))
}

/// Which sub-expressions of a negated expression OPA evaluates outside the negation.
fn guards_for_negated(expression: &Value, rule_names: &[String], guards: &mut Vec<(usize, usize)>) {
    let Some((kind, fields)) = variant(expression) else {
        return;
    };
    match kind {
        "Call" => {
            for parameter in fields.get("params").and_then(Value::as_array).into_iter().flatten() {
                guard_argument(parameter, rule_names, guards);
            }
        }
        "BoolExpr" => {
            // OPA turns `a == b` into unification before binding arguments, so only nested calls are
            // bound there; every other comparison is a call whose arguments are bound.
            let is_equality = fields.get("op").and_then(Value::as_str) == Some("Eq");
            for side in ["lhs", "rhs"] {
                let Some(operand) = fields.get(side) else {
                    continue;
                };
                if is_equality {
                    guard_nested_calls(operand, guards);
                } else {
                    guard_argument(operand, rule_names, guards);
                }
            }
        }
        "ArithExpr" | "BinExpr" => {
            for side in ["lhs", "rhs"] {
                if let Some(operand) = fields.get(side) {
                    guard_argument(operand, rule_names, guards);
                }
            }
        }
        "Membership" => {
            for part in ["key", "value", "collection"] {
                if let Some(operand) = fields.get(part).filter(|operand| !operand.is_null()) {
                    guard_argument(operand, rule_names, guards);
                }
            }
        }
        "RefDot" | "RefBrack" => guard_nested_calls(expression, guards),
        _ => {}
    }
}

/// A call argument: references and calls are bound first; collections are searched for them.
fn guard_argument(expression: &Value, rule_names: &[String], guards: &mut Vec<(usize, usize)>) {
    let Some((kind, fields)) = variant(expression) else {
        return;
    };
    match kind {
        "RefDot" | "RefBrack" | "Call" | "ArithExpr" | "BinExpr" => {
            if let Some(span) = span_of(fields) {
                guards.push(span);
            }
        }
        "Var" => {
            let name = fields.get("value").and_then(Value::as_str).unwrap_or("");
            if rule_names.iter().any(|rule| rule == name)
                && let Some(span) = span_of(fields)
            {
                guards.push(span);
            }
        }
        "Array" | "Set" => {
            for item in fields.get("items").and_then(Value::as_array).into_iter().flatten() {
                guard_argument(item, rule_names, guards);
            }
        }
        "Object" => {
            for field in fields.get("fields").and_then(Value::as_array).into_iter().flatten() {
                if let Some(parts) = field.as_array() {
                    for part in parts.iter().skip(1) {
                        guard_argument(part, rule_names, guards);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Calls anywhere inside an operand of `==` or inside a reference's brackets.
fn guard_nested_calls(expression: &Value, guards: &mut Vec<(usize, usize)>) {
    let Some((kind, fields)) = variant(expression) else {
        return;
    };
    match kind {
        "Call" => {
            if let Some(span) = span_of(fields) {
                guards.push(span);
            }
        }
        "RefDot" => {
            if let Some(inner) = fields.get("refr") {
                guard_nested_calls(inner, guards);
            }
        }
        "RefBrack" => {
            if let Some(inner) = fields.get("refr") {
                guard_nested_calls(inner, guards);
            }
            if let Some(index) = fields.get("index") {
                guard_nested_calls(index, guards);
            }
        }
        "Array" | "Set" => {
            for item in fields.get("items").and_then(Value::as_array).into_iter().flatten() {
                guard_nested_calls(item, guards);
            }
        }
        _ => {}
    }
}
