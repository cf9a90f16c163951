//! The step budget of one JMESPath query, so a hostile `{{ }}` expression ends with an error instead of
//! hanging the editor or the CI run, plus the size limits that keep the parser and the interpreter (both
//! recursive) within a thread's stack.
//!
//! The `jmespath` crate's interpreter has no hook for counting work, so the expression's AST is
//! instrumented instead: every node that builds a new value (multi-select lists and hashes, projections,
//! flattens, function calls) is wrapped in a call of the internal [`CHECKPOINT`] function, which charges
//! the budget for the size of the value it passes through. Values are shared (`Rc`), so `[@, @]`
//! applied twenty times builds a million-element value in twenty steps; counting the size of what each
//! checkpoint returns, not the nodes visited, is what catches that. Nodes that only select (fields,
//! indexes, slices, comparisons) return parts of values already paid for, and the work of a projection
//! is bounded by the size of the list it walks, so every step of an evaluation is paid for.
//!
//! The budget is per query and per thread (queries never nest and never cross threads), like the
//! clock of `jmespath_functions`.

use std::cell::Cell;

use jmespath::ast::{Ast, KeyValuePair};
use jmespath::{Rcvar, Variable};

/// Steps one query may take: a node or 16 bytes of string in a built value count one step. Real
/// policies take well under a thousand; a runaway query stops within a few hundred milliseconds.
pub const STEP_BUDGET: u64 = 2_000_000;

/// The deepest bracket nesting (`(`, `[`, `{`) of an expression handed to the parser.
pub const MAX_NESTING: usize = 32;

/// The most operators (`.`, `|`, `[`, `!`, `&&`, comparisons, ...) in one expression; each may add a level
/// to the AST, which the parser and the interpreter walk recursively. Kyverno's own policies use at
/// most 16.
pub const MAX_OPERATORS: usize = 512;

/// The internal function wrapped around value-building nodes.
pub const CHECKPOINT: &str = "__kyverno_budget";

/// The message of a query stopped by the budget.
pub fn exhausted_message() -> String {
    format!("the query was stopped after {STEP_BUDGET} steps (JMESPath step limit); it builds too large a value")
}

thread_local! {
    /// Steps left in the current query; `None` outside a query (unbudgeted, as in unit tests that
    /// search with the runtime directly).
    static REMAINING: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Gives the current thread a fresh budget until dropped.
pub struct BudgetScope {
    previous: Option<u64>,
}

impl BudgetScope {
    pub fn start(steps: u64) -> BudgetScope {
        BudgetScope { previous: REMAINING.with(|remaining| remaining.replace(Some(steps))) }
    }
}

impl Drop for BudgetScope {
    fn drop(&mut self) {
        REMAINING.with(|remaining| remaining.set(self.previous));
    }
}

/// Charges the budget for `value`, returning an error once it is spent.
pub fn charge_for(value: &Variable) -> Result<(), String> {
    REMAINING.with(|remaining| {
        let Some(left) = remaining.get() else { return Ok(()) };
        let cost = 1 + size_up_to(value, left);
        if cost > left {
            remaining.set(Some(0));
            return Err(exhausted_message());
        }
        remaining.set(Some(left - cost));
        Ok(())
    })
}

/// Whether the current query has spent its budget (so its error is the budget's, whatever the crate's
/// error says around it).
pub fn is_exhausted() -> bool {
    REMAINING.with(|remaining| remaining.get() == Some(0))
}

/// Charges the budget for work that is not a value (compiling a regular expression, say).
pub fn charge(steps: u64) -> Result<(), String> {
    REMAINING.with(|remaining| {
        let Some(left) = remaining.get() else { return Ok(()) };
        if steps > left {
            remaining.set(Some(0));
            return Err(exhausted_message());
        }
        remaining.set(Some(left - steps));
        Ok(())
    })
}

/// The size of a value as the budget counts it (shared parts counted every time they appear), counted
/// only up to just past `cap` so that measuring a huge value costs no more than the budget left.
fn size_up_to(value: &Variable, cap: u64) -> u64 {
    let mut size = 0u64;
    let mut pending: Vec<&Variable> = vec![value];
    while let Some(current) = pending.pop() {
        size += 1;
        match current {
            Variable::String(text) => size += text.len() as u64 / 16,
            Variable::Array(items) => pending.extend(items.iter().map(|item| &**item)),
            Variable::Object(map) => {
                for (key, item) in map {
                    size += key.len() as u64 / 16;
                    pending.push(item);
                }
            }
            _ => {}
        }
        if size > cap {
            break;
        }
    }
    size
}

/// Why an expression is refused before parsing, if it is: nesting or length that would make the
/// recursive parser and interpreter overflow the stack.
pub fn check_shape(expression: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for character in expression.chars() {
        if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if character == '\\' {
                escaped = true;
            } else if character == open {
                quote = None;
            }
            continue;
        }
        match character {
            '\'' | '"' | '`' => quote = Some(character),
            '(' | '[' | '{' => {
                depth += 1;
                operators += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "the expression nests brackets deeper than {MAX_NESTING} levels; it is not evaluated"
                    ));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '.' | '|' | '&' | '!' | '<' | '>' | '=' | '?' | '*' | '@' => operators += 1,
            _ => {}
        }
    }
    if operators > MAX_OPERATORS {
        return Err(format!("the expression has more than {MAX_OPERATORS} operators; it is not evaluated"));
    }
    Ok(())
}

/// Wraps every value-building node of `ast` in a [`CHECKPOINT`] call (see the module documentation).
pub fn instrument(ast: &Ast) -> Ast {
    let checkpoint =
        |node: Ast| Ast::Function { offset: offset_of(&node), name: CHECKPOINT.to_string(), args: vec![node] };
    let boxed = |node: &Ast| Box::new(instrument(node));
    match ast {
        Ast::MultiList { offset, elements } => {
            checkpoint(Ast::MultiList { offset: *offset, elements: elements.iter().map(instrument).collect() })
        }
        Ast::MultiHash { offset, elements } => checkpoint(Ast::MultiHash {
            offset: *offset,
            elements: elements
                .iter()
                .map(|pair| KeyValuePair { key: pair.key.clone(), value: instrument(&pair.value) })
                .collect(),
        }),
        Ast::Projection { offset, lhs, rhs } => {
            checkpoint(Ast::Projection { offset: *offset, lhs: boxed(lhs), rhs: boxed(rhs) })
        }
        Ast::Flatten { offset, node } => checkpoint(Ast::Flatten { offset: *offset, node: boxed(node) }),
        Ast::Function { offset, name, args } => checkpoint(Ast::Function {
            offset: *offset,
            name: name.clone(),
            args: args.iter().map(instrument).collect(),
        }),
        Ast::ObjectValues { offset, node } => Ast::ObjectValues { offset: *offset, node: boxed(node) },
        Ast::Subexpr { offset, lhs, rhs } => Ast::Subexpr { offset: *offset, lhs: boxed(lhs), rhs: boxed(rhs) },
        Ast::Comparison { offset, comparator, lhs, rhs } => {
            Ast::Comparison { offset: *offset, comparator: comparator.clone(), lhs: boxed(lhs), rhs: boxed(rhs) }
        }
        Ast::Condition { offset, predicate, then } => {
            Ast::Condition { offset: *offset, predicate: boxed(predicate), then: boxed(then) }
        }
        Ast::Expref { offset, ast } => Ast::Expref { offset: *offset, ast: boxed(ast) },
        Ast::Not { offset, node } => Ast::Not { offset: *offset, node: boxed(node) },
        Ast::And { offset, lhs, rhs } => Ast::And { offset: *offset, lhs: boxed(lhs), rhs: boxed(rhs) },
        Ast::Or { offset, lhs, rhs } => Ast::Or { offset: *offset, lhs: boxed(lhs), rhs: boxed(rhs) },
        leaf => leaf.clone(),
    }
}

fn offset_of(ast: &Ast) -> usize {
    match ast {
        Ast::Comparison { offset, .. }
        | Ast::Condition { offset, .. }
        | Ast::Identity { offset }
        | Ast::Expref { offset, .. }
        | Ast::Flatten { offset, .. }
        | Ast::Function { offset, .. }
        | Ast::Field { offset, .. }
        | Ast::Index { offset, .. }
        | Ast::Literal { offset, .. }
        | Ast::MultiList { offset, .. }
        | Ast::MultiHash { offset, .. }
        | Ast::Not { offset, .. }
        | Ast::Projection { offset, .. }
        | Ast::ObjectValues { offset, .. }
        | Ast::And { offset, .. }
        | Ast::Or { offset, .. }
        | Ast::Slice { offset, .. }
        | Ast::Subexpr { offset, .. } => *offset,
    }
}

/// The checkpoint itself: passes its argument through, charging for its size.
pub fn checkpoint(args: &[Rcvar]) -> Result<Rcvar, String> {
    let value = args.first().cloned().unwrap_or_else(|| Rcvar::new(Variable::Null));
    charge_for(&value)?;
    Ok(value)
}
