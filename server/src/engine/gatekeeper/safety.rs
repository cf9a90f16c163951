//! Unsafe variables, the way OPA's compiler defines them: a variable used in a rule body (or in the
//! rule's head) must be bound somewhere in that body by a non-negated expression: an assignment or
//! unification, `some ... in`, an iteration `xs[i]`, or the output argument of a call. OPA reorders
//! expressions, so the place of the binding in the body does not matter.
//!
//! regorus finds unsafe variables only while evaluating, and only on the path it takes, so the
//! editor needs this check on the AST instead.

use std::collections::BTreeSet;

use serde_json::Value;

/// One unsafe variable: byte range of its first use in the module text and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafeVariable {
    pub start: usize,
    pub end: usize,
    pub name: String,
}

/// Every unsafe variable of a module, first use per variable and body.
pub fn unsafe_variables(ast: &Value, text: &str, globals: &BTreeSet<String>) -> Vec<UnsafeVariable> {
    let mut found = Vec::new();
    for rule in ast.get("rules").and_then(Value::as_array).into_iter().flatten() {
        let Some(spec) = rule.get("Spec") else {
            continue;
        };
        let Some((head_kind, head)) = spec.get("head").and_then(variant) else {
            continue;
        };
        let mut outer = BTreeSet::new();
        let mut head_uses = Vec::new();
        if head_kind == "Func" {
            for argument in head.get("args").and_then(Value::as_array).into_iter().flatten() {
                collect_vars(argument, &mut outer);
            }
        }
        if let Some(key) = head.get("key").filter(|key| !key.is_null()) {
            uses_in(key, &mut head_uses);
        }
        let mut head_value_uses = Vec::new();
        if let Some(value) = head.pointer("/assign/value") {
            uses_in(value, &mut head_value_uses);
        }
        if let Some(reference) = head.get("refr") {
            index_uses(reference, &mut head_uses);
        }
        for body in spec.get("bodies").and_then(Value::as_array).into_iter().flatten() {
            let mut extra = head_uses.clone();
            // An `else` body with its own value does not produce the head's value.
            match body.pointer("/assign/value") {
                Some(value) => uses_in(value, &mut extra),
                None => extra.extend(head_value_uses.iter().cloned()),
            }
            if let Some(query) = body.get("query") {
                check_query(query, &outer, extra, globals, text, &mut found);
            }
        }
    }
    found
}

/// The single variant of an AST enum node.
fn variant(node: &Value) -> Option<(&str, &Value)> {
    let (name, fields) = node.as_object()?.iter().next()?;
    Some((name.as_str(), fields))
}

fn span_of(fields: &Value) -> Option<(usize, usize)> {
    let span = fields.get("span")?;
    Some((span.get("start")?.as_u64()? as usize, span.get("end")?.as_u64()? as usize))
}

/// A bare `Span` (as in `some x` or `every k, v`) read as a name.
fn span_name(span: &Value, text: &str) -> Option<(String, usize, usize)> {
    let start = span.get("start")?.as_u64()? as usize;
    let end = span.get("end")?.as_u64()? as usize;
    Some((text.get(start..end)?.to_string(), start, end))
}

type Use = (String, usize, usize);

/// Checks one query with the variables bound outside it; `extra` are uses that belong to it (the
/// rule head, a comprehension's term).
fn check_query(
    query: &Value,
    outer: &BTreeSet<String>,
    extra: Vec<Use>,
    globals: &BTreeSet<String>,
    text: &str,
    found: &mut Vec<UnsafeVariable>,
) {
    let statements: Vec<&Value> = query.get("stmts").and_then(Value::as_array).into_iter().flatten().collect();
    let mut bound = outer.clone();
    for statement in &statements {
        if let Some(literal) = statement.get("literal") {
            bindings_of_literal(literal, &mut bound, text);
        }
    }
    let mut uses = extra;
    for statement in &statements {
        let Some((kind, literal)) = statement.get("literal").and_then(variant) else {
            continue;
        };
        match kind {
            "Expr" | "NotExpr" => {
                if let Some(expression) = literal.get("expr") {
                    walk_uses(expression, &mut uses, &bound, globals, text, found);
                }
            }
            "SomeIn" => {
                if let Some(collection) = literal.get("collection") {
                    walk_uses(collection, &mut uses, &bound, globals, text, found);
                }
            }
            "Every" => {
                if let Some(domain) = literal.get("domain") {
                    walk_uses(domain, &mut uses, &bound, globals, text, found);
                }
                let mut inner = bound.clone();
                for part in ["key", "value"] {
                    if let Some((name, _, _)) = literal.get(part).and_then(|span| span_name(span, text)) {
                        inner.insert(name);
                    }
                }
                if let Some(body) = literal.get("query") {
                    check_query(body, &inner, Vec::new(), globals, text, found);
                }
            }
            _ => {}
        }
    }
    let mut reported = BTreeSet::new();
    for (name, start, end) in uses {
        if name == "_" || bound.contains(&name) || globals.contains(&name) || !reported.insert(name.clone()) {
            continue;
        }
        found.push(UnsafeVariable { start, end, name });
    }
}

/// What a literal binds for the rest of its body.
fn bindings_of_literal(literal: &Value, bound: &mut BTreeSet<String>, text: &str) {
    let Some((kind, fields)) = variant(literal) else {
        return;
    };
    match kind {
        "SomeVars" => {
            for span in fields.get("vars").and_then(Value::as_array).into_iter().flatten() {
                if let Some((name, _, _)) = span_name(span, text) {
                    bound.insert(name);
                }
            }
        }
        "SomeIn" => {
            for part in ["key", "value"] {
                if let Some(expression) = fields.get(part).filter(|value| !value.is_null()) {
                    collect_vars(expression, bound);
                }
            }
        }
        "Expr" => {
            if let Some(expression) = fields.get("expr") {
                bindings_of_expression(expression, bound, true);
            }
        }
        _ => {}
    }
}

/// Assignments, unifications, iterations and a call's output argument bind variables.
fn bindings_of_expression(expression: &Value, bound: &mut BTreeSet<String>, top_level: bool) {
    let Some((kind, fields)) = variant(expression) else {
        return;
    };
    match kind {
        "AssignExpr" => {
            let is_declaration = fields.get("op").and_then(Value::as_str) == Some("ColEq");
            if let Some(left) = fields.get("lhs") {
                collect_vars(left, bound);
            }
            if let Some(right) = fields.get("rhs") {
                if !is_declaration {
                    collect_vars(right, bound);
                }
                bindings_of_expression(right, bound, false);
            }
        }
        "RefBrack" => {
            if let Some(index) = fields.get("index") {
                // `xs[i]` and `xs[{"name": n}]` both bind the variables of the index by iteration.
                collect_vars(index, bound);
                bindings_of_expression(index, bound, false);
            }
            if let Some(inner) = fields.get("refr") {
                bindings_of_expression(inner, bound, false);
            }
        }
        "RefDot" => {
            if let Some(inner) = fields.get("refr") {
                bindings_of_expression(inner, bound, false);
            }
        }
        "Call" => {
            let parameters: Vec<&Value> =
                fields.get("params").and_then(Value::as_array).into_iter().flatten().collect();
            // `split(s, ".", parts)`: a statement-level call may return through its last argument.
            if top_level
                && let Some(last) = parameters.last()
                && let Some(("Var", var)) = variant(last)
                && let Some(name) = var.get("value").and_then(Value::as_str)
            {
                bound.insert(name.to_string());
            }
            for parameter in parameters {
                bindings_of_expression(parameter, bound, false);
            }
        }
        "BoolExpr" | "ArithExpr" | "BinExpr" => {
            for side in ["lhs", "rhs"] {
                if let Some(operand) = fields.get(side) {
                    bindings_of_expression(operand, bound, false);
                }
            }
        }
        "Array" | "Set" => {
            for item in fields.get("items").and_then(Value::as_array).into_iter().flatten() {
                bindings_of_expression(item, bound, false);
            }
        }
        "Object" => {
            for field in fields.get("fields").and_then(Value::as_array).into_iter().flatten() {
                for part in field.as_array().into_iter().flatten().skip(1) {
                    bindings_of_expression(part, bound, false);
                }
            }
        }
        "Membership" => {
            if let Some(collection) = fields.get("collection") {
                bindings_of_expression(collection, bound, false);
            }
        }
        _ => {}
    }
}

/// Every variable name in an expression (a pattern being bound), outside comprehensions.
fn collect_vars(expression: &Value, names: &mut BTreeSet<String>) {
    let mut uses = Vec::new();
    uses_in(expression, &mut uses);
    names.extend(uses.into_iter().map(|(name, _, _)| name));
}

/// Variable uses in an expression, outside comprehensions and function names.
fn uses_in(expression: &Value, uses: &mut Vec<Use>) {
    let Some((kind, fields)) = variant(expression) else {
        return;
    };
    match kind {
        "Var" => {
            if let (Some(name), Some((start, end))) = (fields.get("value").and_then(Value::as_str), span_of(fields)) {
                uses.push((name.to_string(), start, end));
            }
        }
        "Call" => {
            for parameter in fields.get("params").and_then(Value::as_array).into_iter().flatten() {
                uses_in(parameter, uses);
            }
        }
        "RefDot" | "RefBrack" | "UnaryExpr" | "BoolExpr" | "ArithExpr" | "BinExpr" | "AssignExpr" | "Membership"
        | "Array" | "Set" | "Object" => {
            for_each_child(fields, |child| uses_in(child, uses));
        }
        _ => {}
    }
}

/// The variables used inside a ref's brackets (a rule head such as `p[x]`).
fn index_uses(reference: &Value, uses: &mut Vec<Use>) {
    let Some((kind, fields)) = variant(reference) else {
        return;
    };
    if kind == "RefBrack"
        && let Some(index) = fields.get("index")
    {
        uses_in(index, uses);
    }
    if matches!(kind, "RefBrack" | "RefDot")
        && let Some(inner) = fields.get("refr")
    {
        index_uses(inner, uses);
    }
}

/// Walks a literal's expression for uses; comprehensions are checked as queries of their own.
fn walk_uses(
    expression: &Value,
    uses: &mut Vec<Use>,
    bound: &BTreeSet<String>,
    globals: &BTreeSet<String>,
    text: &str,
    found: &mut Vec<UnsafeVariable>,
) {
    let Some((kind, fields)) = variant(expression) else {
        return;
    };
    match kind {
        "Var" => uses_in(expression, uses),
        "Call" => {
            for parameter in fields.get("params").and_then(Value::as_array).into_iter().flatten() {
                walk_uses(parameter, uses, bound, globals, text, found);
            }
        }
        "ArrayCompr" | "SetCompr" | "ObjectCompr" => {
            let mut term_uses = Vec::new();
            for part in ["term", "key", "value"] {
                if let Some(term) = fields.get(part) {
                    uses_in(term, &mut term_uses);
                }
            }
            if let Some(query) = fields.get("query") {
                check_query(query, bound, term_uses, globals, text, found);
            }
        }
        _ => for_each_child(fields, |child| walk_uses(child, uses, bound, globals, text, found)),
    }
}

/// Calls `visit` on every expression directly inside an expression's fields.
fn for_each_child(fields: &Value, mut visit: impl FnMut(&Value)) {
    let Some(map) = fields.as_object() else {
        return;
    };
    for (name, child) in map {
        match name.as_str() {
            "refr" | "index" | "expr" | "lhs" | "rhs" | "key" | "value" | "collection" if child.is_object() => {
                visit(child);
            }
            "items" => {
                for item in child.as_array().into_iter().flatten() {
                    visit(item);
                }
            }
            "fields" => {
                for field in child.as_array().into_iter().flatten() {
                    for part in field.as_array().into_iter().flatten().skip(1) {
                        visit(part);
                    }
                }
            }
            _ => {}
        }
    }
}
