//! What one CEL evaluation carries, shared by the expression walker (`eval`) and the function library
//! (`functions`, `library`, `authorization`): the interpreter's state (variables in scope, services, the
//! step budget every call charges, the regex cache, generated objects), the result type, and the value
//! operations both sides use (field selection, indexing, ordering). Below both, so neither imports the other.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

use super::activation::{Activation, Services};
use super::value::{Numeric, Val, compare_numbers, numeric};

/// The result of evaluating one node: a value, or the message of a CEL runtime error.
pub type EvalResult = Result<Val, String>;

/// The most AST nodes one evaluation may visit before it stops with an error instead of hanging.
pub const DEFAULT_STEP_BUDGET: u64 = 2_000_000;

/// One evaluation: the variables in scope and the budget left.
pub struct Interpreter<'a> {
    pub(super) activation: &'a Activation,
    pub services: &'a Services,
    pub(super) steps: Cell<u64>,
    pub(super) budget: u64,
    pub(super) scopes: RefCell<Vec<(String, Val)>>,
    pub(super) regex_cache: RefCell<HashMap<String, Arc<regex::Regex>>>,
    /// The objects `generator.apply` generated, in call order.
    pub(super) generated: RefCell<Vec<serde_json::Value>>,
}

impl<'a> Interpreter<'a> {
    pub fn new(activation: &'a Activation, services: &'a Services, budget: u64) -> Self {
        Interpreter {
            activation,
            services,
            steps: Cell::new(0),
            budget,
            scopes: RefCell::new(Vec::new()),
            regex_cache: RefCell::new(HashMap::new()),
            generated: RefCell::new(Vec::new()),
        }
    }

    /// Records objects `generator.apply` generates.
    pub fn generate(&self, objects: Vec<serde_json::Value>) {
        self.generated.borrow_mut().extend(objects);
    }

    /// The objects generated so far, taken out.
    pub fn take_generated(&self) -> Vec<serde_json::Value> {
        std::mem::take(&mut *self.generated.borrow_mut())
    }

    /// A compiled regular expression, cached for the evaluation.
    pub fn regex(&self, pattern: &str) -> Result<Arc<regex::Regex>, String> {
        if let Some(found) = self.regex_cache.borrow().get(pattern) {
            return Ok(found.clone());
        }
        let compiled = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 22)
            .build()
            .map_err(|error| format!("invalid regular expression {pattern:?}: {error}"))?;
        let compiled = Arc::new(compiled);
        self.regex_cache.borrow_mut().insert(pattern.to_string(), compiled.clone());
        Ok(compiled)
    }

    pub(super) fn step(&self) -> Result<(), String> {
        let steps = self.steps.get() + 1;
        self.steps.set(steps);
        if steps > self.budget {
            return Err(format!("operation cancelled: actual cost limit exceeded ({} steps)", self.budget));
        }
        Ok(())
    }

    /// Charges extra steps for work proportional to a value's size (string and list building).
    pub fn charge(&self, amount: usize) -> Result<(), String> {
        let steps = self.steps.get().saturating_add(amount as u64 / 8);
        self.steps.set(steps);
        if steps > self.budget {
            return Err("operation cancelled: actual cost limit exceeded".to_string());
        }
        Ok(())
    }

    /// Charges for the values put into a new list or map, every part counted each time it appears: a
    /// literal that holds the same list twice, nested forty times, is 2^40 elements to anything that
    /// walks it (equality, conversion to JSON) although it takes forty steps to build. Counting stops
    /// past the budget left, so measuring costs no more than the budget.
    pub(super) fn charge_contents<'v>(&self, values: impl Iterator<Item = &'v Val>) -> Result<(), String> {
        let left = self.budget.saturating_sub(self.steps.get());
        let mut count = 0u64;
        let mut pending: Vec<&Val> = values.collect();
        while let Some(value) = pending.pop() {
            count += 1;
            match value {
                Val::List(items) => pending.extend(items.iter()),
                Val::Map(entries) => pending.extend(entries.iter().flat_map(|(key, value)| [key, value])),
                Val::Optional(Some(inner)) => pending.push(inner),
                _ => {}
            }
            if count > left {
                break;
            }
        }
        self.charge(usize::try_from(count).unwrap_or(usize::MAX).saturating_mul(8))
    }

    pub(super) fn lookup(&self, name: &str) -> Option<Val> {
        let scopes = self.scopes.borrow();
        if let Some((_, value)) = scopes.iter().rev().find(|(bound, _)| bound == name) {
            return Some(value.clone());
        }
        drop(scopes);
        self.activation.variables.get(name).cloned()
    }

    pub(super) fn with_bindings<T>(&self, bindings: Vec<(String, Val)>, body: impl FnOnce() -> T) -> T {
        let count = bindings.len();
        self.scopes.borrow_mut().extend(bindings);
        let result = body();
        let mut scopes = self.scopes.borrow_mut();
        let keep = scopes.len().saturating_sub(count);
        scopes.truncate(keep);
        result
    }
}

/// `operand.field`: a map key, or a field of an optional (which stays optional).
pub fn select_field(operand: &Val, field: &str) -> EvalResult {
    match operand {
        Val::Map(_) => match operand.field(field) {
            Some(value) => check_value(value.clone()),
            None => Err(format!("no such key: {field}")),
        },
        Val::Optional(None) => Ok(Val::Optional(None)),
        // A plain selection on `optional.of(null)` fails like one on `null` (cel-spec optionals.textproto
        // map_null_entry_no_such_key); only `.?` turns a null into `optional.none()`.
        Val::Optional(Some(inner)) if matches!(inner.as_ref(), Val::Null) => Err(format!("no such key: {field}")),
        Val::Optional(Some(inner)) => optional_select(inner, field),
        Val::Error(message) => Err(message.to_string()),
        Val::Null => Err(format!("no such key: {field}")),
        other => Err(format!("type '{}' does not support field selection", other.type_name())),
    }
}

/// `operand.?field`: optional.of(value) when the key is present, optional.none() when not.
pub fn optional_select(operand: &Val, field: &str) -> EvalResult {
    match operand {
        Val::Optional(None) => Ok(Val::Optional(None)),
        Val::Optional(Some(inner)) => optional_select(inner, field),
        Val::Map(_) => Ok(Val::Optional(operand.field(field).map(|value| Arc::new(value.clone())))),
        Val::Null => Ok(Val::Optional(None)),
        other => Err(format!("type '{}' does not support field selection", other.type_name())),
    }
}

/// `operand[?index]`.
pub fn optional_index(operand: &Val, index: &Val) -> EvalResult {
    match operand {
        Val::Optional(None) => Ok(Val::Optional(None)),
        Val::Optional(Some(inner)) => optional_index(inner, index),
        Val::Map(_) => Ok(Val::Optional(operand.map_get(index).map(|value| Arc::new(value.clone())))),
        Val::List(items) => {
            let position = match numeric(index) {
                Some(Numeric::Int(integer)) => usize::try_from(integer).ok(),
                Some(Numeric::Uint(unsigned)) => usize::try_from(unsigned).ok(),
                Some(Numeric::Double(float)) if float.fract() == 0.0 && float >= 0.0 => Some(float as usize),
                _ => return Err(format!("invalid list index type {}", index.type_name())),
            };
            Ok(Val::Optional(position.and_then(|position| items.get(position)).map(|value| Arc::new(value.clone()))))
        }
        other => Err(format!("type '{}' does not support indexing", other.type_name())),
    }
}

/// `operand[index]`.
pub fn index_value(operand: &Val, index: &Val) -> EvalResult {
    match operand {
        Val::Map(_) => match operand.map_get(index) {
            Some(value) => check_value(value.clone()),
            None => Err(format!("no such key: {}", index.display())),
        },
        Val::List(items) => {
            let position = match numeric(index) {
                Some(Numeric::Int(integer)) => integer,
                Some(Numeric::Uint(unsigned)) => i64::try_from(unsigned).unwrap_or(i64::MAX),
                Some(Numeric::Double(float)) if float.fract() == 0.0 => float as i64,
                _ => {
                    return Err(format!("no matching overload for '_[_]' applied to '(list, {})'", index.type_name()));
                }
            };
            usize::try_from(position)
                .ok()
                .and_then(|position| items.get(position))
                .cloned()
                .ok_or_else(|| format!("index out of bounds: {position}"))
        }
        Val::Optional(None) => Ok(Val::Optional(None)),
        Val::Optional(Some(inner)) => optional_index(inner, index),
        other => {
            Err(format!("no matching overload for '_[_]' applied to '({}, {})'", other.type_name(), index.type_name()))
        }
    }
}

/// Ordering for `<`, `<=`, `>`, `>=`: numbers across types, strings, bytes, bools, durations, timestamps.
pub fn compare(left: &Val, right: &Val) -> Result<std::cmp::Ordering, String> {
    let ordering = match (left, right) {
        (Val::String(a), Val::String(b)) => Some(a.cmp(b)),
        (Val::Bytes(a), Val::Bytes(b)) => Some(a.cmp(b)),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        (Val::Duration(a), Val::Duration(b)) => Some(a.cmp(b)),
        (Val::Timestamp(a), Val::Timestamp(b)) => Some(a.cmp(b)),
        _ => match (numeric(left), numeric(right)) {
            (Some(a), Some(b)) => compare_numbers(a, b),
            _ => None,
        },
    };
    ordering.ok_or_else(|| {
        format!("no matching overload for comparison applied to '({}, {})'", left.type_name(), right.type_name())
    })
}

/// Raises the error a failed Kyverno variable carries when it is read.
pub(super) fn check_value(value: Val) -> EvalResult {
    match value {
        Val::Error(message) => Err(message.to_string()),
        other => Ok(other),
    }
}
