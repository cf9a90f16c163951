//! Conditions of preconditions and deny rules: `any`/`all` blocks (or the old plain list) and every
//! condition operator, each side substituted before it is compared.

use serde_json::Value;

use super::go_text::{format_number, go_format};
use super::pattern::{parse_duration, parse_quantity, validate_value, wildcard_match};
use super::variables::{JsonContext, VariableError, substitute_all};
use crate::engine::units;

/// The result of a condition block: whether it holds and the messages of the deciding conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct ConditionsOutcome {
    pub holds: bool,
    pub message: String,
}

/// Evaluates a conditions value: `{any: [...], all: [...]}`, a list of such blocks, or a plain list
/// of conditions (all must hold). `None` means no conditions, which holds.
pub fn evaluate_conditions(conditions: Option<&Value>, context: &JsonContext) -> Result<ConditionsOutcome, String> {
    let Some(conditions) = conditions else {
        return Ok(ConditionsOutcome { holds: true, message: String::new() });
    };
    match conditions {
        Value::Null => Ok(ConditionsOutcome { holds: true, message: String::new() }),
        Value::Object(_) => evaluate_any_all(conditions, context),
        Value::Array(items) => {
            let is_blocks = items.iter().all(|item| item.get("any").is_some() || item.get("all").is_some());
            let mut true_messages = Vec::new();
            for item in items {
                let outcome = if is_blocks && !items.is_empty() {
                    evaluate_any_all(item, context)?
                } else {
                    let (holds, message) = evaluate_condition(item, context)?;
                    ConditionsOutcome { holds, message }
                };
                if !outcome.holds {
                    return Ok(outcome);
                }
                if !outcome.message.is_empty() {
                    true_messages.push(outcome.message);
                }
            }
            Ok(ConditionsOutcome { holds: true, message: true_messages.join(";") })
        }
        _ => Err("invalid condition".to_string()),
    }
}

fn evaluate_any_all(block: &Value, context: &JsonContext) -> Result<ConditionsOutcome, String> {
    let mut any_result = true;
    let mut all_result = true;
    let mut false_messages = Vec::new();
    let mut true_messages = Vec::new();
    if let Some(any) = block.get("any").filter(|any| !any.is_null()) {
        any_result = false;
        for condition in any.as_array().map(Vec::as_slice).unwrap_or_default() {
            let (holds, message) = evaluate_condition(condition, context)?;
            if holds {
                any_result = true;
                true_messages.push(message);
                break;
            }
            false_messages.push(message);
        }
    }
    if let Some(all) = block.get("all").and_then(Value::as_array) {
        for condition in all {
            let (holds, message) = evaluate_condition(condition, context)?;
            if !holds {
                all_result = false;
                false_messages.push(message);
                break;
            }
            true_messages.push(message);
        }
    }
    let holds = any_result && all_result;
    let messages = if holds { true_messages } else { false_messages };
    let message = messages.into_iter().filter(|message| !message.is_empty()).collect::<Vec<_>>().join("; ");
    Ok(ConditionsOutcome { holds, message })
}

/// Evaluates one `{key, operator, value, message}` condition.
pub fn evaluate_condition(condition: &Value, context: &JsonContext) -> Result<(bool, String), String> {
    let key = substitute_all(condition.get("key").unwrap_or(&Value::Null), context)
        .map_err(|error| format!("failed to substitute variables in condition key: {}", describe(&error)))?;
    let value = substitute_all(condition.get("value").unwrap_or(&Value::Null), context)
        .map_err(|error| format!("failed to substitute variables in condition value: {}", describe(&error)))?;
    let operator = condition.get("operator").and_then(Value::as_str).unwrap_or("");
    let holds = apply_operator(operator, &key, &value)?;
    let message = condition.get("message").and_then(Value::as_str).unwrap_or("").to_string();
    Ok((holds, message))
}

fn describe(error: &VariableError) -> String {
    error.to_string()
}

/// Applies a condition operator (names compared case-insensitively, as Kyverno does).
pub fn apply_operator(operator: &str, key: &Value, value: &Value) -> Result<bool, String> {
    let holds = match operator.to_ascii_lowercase().as_str() {
        "equal" | "equals" => equal(key, value),
        "notequal" | "notequals" => !equal(key, value),
        "in" => legacy_in(key, value),
        "notin" => legacy_not_in(key, value),
        "anyin" => any_in(key, value, false),
        "anynotin" => any_in(key, value, true),
        "allin" => all_in(key, value, false),
        "allnotin" => all_in(key, value, true),
        "greaterthan" => numeric(key, value).is_some_and(|ordering| ordering.is_gt()),
        "greaterthanorequals" => numeric(key, value).is_some_and(|ordering| ordering.is_ge()),
        "lessthan" => numeric(key, value).is_some_and(|ordering| ordering.is_lt()),
        "lessthanorequals" => numeric(key, value).is_some_and(|ordering| ordering.is_le()),
        "durationgreaterthan" => durations(key, value).is_some_and(|(left, right)| left > right),
        "durationgreaterthanorequals" => durations(key, value).is_some_and(|(left, right)| left >= right),
        "durationlessthan" => durations(key, value).is_some_and(|(left, right)| left < right),
        "durationlessthanorequals" => durations(key, value).is_some_and(|(left, right)| left <= right),
        other => {
            return Err(format!("failed to create handler for condition operator {other:?}"));
        }
    };
    Ok(holds)
}

fn equal(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(flag) => value.as_bool() == Some(*flag),
        Value::Number(number) => {
            let key_number = number.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(other) => other.as_f64() == Some(key_number),
                Value::String(text) => text.parse::<f64>().ok() == Some(key_number),
                _ => false,
            }
        }
        Value::String(text) => {
            if let (Some(left), Some(right)) = (parse_duration(text), value.as_str().and_then(parse_duration)) {
                return left == right;
            }
            // resource.Quantity.Equal: exact, so quantities past 2^53 apart are told apart.
            if let (Ok(left), Value::String(right_text)) = (units::parse_quantity(text.trim()), value) {
                return units::parse_quantity(right_text.trim()).is_ok_and(|right| left == right);
            }
            match value {
                Value::String(pattern) => wildcard_match(pattern, text),
                _ => false,
            }
        }
        Value::Object(_) | Value::Array(_) => key == value,
        Value::Null => false,
    }
}

/// `fmt.Sprint` of a scalar, as the set operators compare text.
fn sprint(value: &Value) -> String {
    match value {
        Value::Number(number) => super::go_text::go_float_text(number.as_f64().unwrap_or(0.0)),
        other => go_format(other),
    }
}

fn value_strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => Some(items.iter().map(sprint).collect()),
        Value::Number(_) | Value::Bool(_) => Some(vec![sprint(value)]),
        Value::String(text) => {
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) {
                if items.iter().all(Value::is_string) {
                    return Some(items.iter().map(sprint).collect());
                }
                return None;
            }
            Some(vec![text.clone()])
        }
        _ => None,
    }
}

fn matches_either_way(left: &str, right: &str) -> bool {
    wildcard_match(left, right) || wildcard_match(right, left)
}

fn is_range(value: &Value) -> bool {
    value.as_str().is_some_and(|text| super::pattern::operator_of(text) == super::pattern::Operator::InRange)
}

fn in_range(key: &str, range: &Value, negated: bool) -> bool {
    let Some(range) = range.as_str() else {
        return false;
    };
    let range = if negated { range.replacen('-', "!-", 1) } else { range.to_string() };
    validate_value(&Value::String(key.to_string()), &Value::String(range))
}

fn key_strings(key: &Value) -> Option<Vec<String>> {
    match key {
        Value::Array(items) => Some(items.iter().map(sprint).collect()),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(vec![sprint(key)]),
        _ => None,
    }
}

fn any_in(key: &Value, value: &Value, negated: bool) -> bool {
    let Some(keys) = key_strings(key) else {
        return false;
    };
    if is_range(value) {
        return keys.iter().any(|key| in_range(key, value, negated));
    }
    if let (Value::String(single), false) = (value, key.is_array()) {
        // A scalar key against a string value: wildcard on the value first.
        if wildcard_match(single, &keys[0]) {
            return !negated;
        }
    }
    let Some(values) = value_strings(value) else {
        return false;
    };
    if negated {
        keys.iter().any(|key| !values.iter().any(|value| matches_either_way(key, value)))
    } else {
        keys.iter().any(|key| values.iter().any(|value| matches_either_way(key, value)))
    }
}

fn all_in(key: &Value, value: &Value, negated: bool) -> bool {
    let Some(keys) = key_strings(key) else {
        return false;
    };
    if is_range(value) {
        return keys.iter().all(|key| in_range(key, value, negated));
    }
    let Some(values) = value_strings(value) else {
        return false;
    };
    if negated {
        keys.iter().all(|key| !values.iter().any(|value| matches_either_way(key, value)))
    } else {
        keys.iter().all(|key| values.iter().any(|value| matches_either_way(key, value)))
    }
}

fn legacy_in(key: &Value, value: &Value) -> bool {
    match key {
        Value::Array(items) => {
            let Some(values) = value_strings(value) else {
                return false;
            };
            items.iter().map(sprint).all(|key| values.contains(&key))
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            let key = sprint(key);
            match value {
                Value::String(text) if wildcard_match(text, &key) => true,
                _ => value_strings(value)
                    .is_some_and(|values| values.iter().any(|value| value == &key || wildcard_match(value, &key))),
            }
        }
        _ => false,
    }
}

fn legacy_not_in(key: &Value, value: &Value) -> bool {
    match key {
        Value::Array(items) => {
            let Some(values) = value_strings(value) else {
                return false;
            };
            !items.iter().map(sprint).all(|key| values.contains(&key))
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => !legacy_in(key, value),
        _ => false,
    }
}

/// A number, or a string read with `strconv.ParseFloat` (which takes no surrounding spaces).
fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.parse::<f64>().ok(),
        _ => None,
    }
}

fn numeric(key: &Value, value: &Value) -> Option<std::cmp::Ordering> {
    // A string key is read as a duration, then (against a string) as a quantity compared exactly with
    // resource.Quantity.Cmp, and only then as a float (validateValueWithStringPattern in kyverno's
    // pkg/engine/variables/operator/numeric.go).
    if let (Value::String(left_text), Value::String(right_text)) = (key, value) {
        if let (Some(left), Some(right)) = (parse_duration(left_text), parse_duration(right_text)) {
            return left.partial_cmp(&right);
        }
        if let (Ok(left), Ok(right)) =
            (units::parse_quantity(left_text.trim()), units::parse_quantity(right_text.trim()))
        {
            return Some(left.cmp(&right));
        }
    }
    if let (Some(left), Some(right)) = (as_number(key), as_number(value)) {
        return left.partial_cmp(&right);
    }
    let (Some(left_text), Some(right_text)) = (scalar_text(key), scalar_text(value)) else {
        return None;
    };
    if let (Some(left), Some(right)) = (parse_duration(&left_text), parse_duration(&right_text)) {
        return left.partial_cmp(&right);
    }
    if let (Some(left), Some(right)) = (parse_quantity(&left_text), parse_quantity(&right_text)) {
        return left.partial_cmp(&right);
    }
    let trim = |text: &str| text.trim_start_matches('v').to_string();
    if let (Ok(left), Ok(right)) =
        (semver::Version::parse(&trim(&left_text)), semver::Version::parse(&trim(&right_text)))
    {
        return Some(left.cmp(&right));
    }
    None
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(format_number(number)),
        _ => None,
    }
}

fn durations(key: &Value, value: &Value) -> Option<(f64, f64)> {
    let read = |value: &Value| match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => parse_duration(text),
        _ => None,
    };
    Some((read(key)?, read(value)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(conditions: Value, expect: Result<bool, &str>) {
        let mut context = JsonContext::default();
        context.add_variable(
            "request.object",
            json!({"metadata": {"name": "web"}, "spec": {"replicas": 3, "caps": ["NET_ADMIN", "CHOWN"], "timeout": "90s", "memory": "1Gi"}}),
        );
        let result = evaluate_conditions(Some(&conditions), &context).map(|outcome| outcome.holds);
        let first_clause =
            result.as_ref().map(|holds| *holds).map_err(|error| error.split(':').next().unwrap_or("").to_string());
        assert_eq!(first_clause, expect.map_err(str::to_string), "{conditions}");
    }

    #[test]
    fn equality_and_wildcards() {
        check(
            json!({"all": [{"key": "{{ request.object.metadata.name }}", "operator": "Equals", "value": "w*"}]}),
            Ok(true),
        );
        check(
            json!({"any": [{"key": "{{ request.object.spec.replicas }}", "operator": "NotEquals", "value": 3}]}),
            Ok(false),
        );
        check(json!([{"key": "{{ request.object.spec.memory }}", "operator": "Equals", "value": "1024Mi"}]), Ok(true));
    }

    #[test]
    fn set_operators() {
        let caps = "{{ request.object.spec.caps }}";
        check(json!({"all": [{"key": caps, "operator": "AnyNotIn", "value": ["CHOWN"]}]}), Ok(true));
        check(json!({"all": [{"key": caps, "operator": "AllIn", "value": ["NET_*", "CHOWN"]}]}), Ok(true));
        check(json!({"all": [{"key": caps, "operator": "AllNotIn", "value": ["SYS_ADMIN"]}]}), Ok(true));
        check(
            json!({"all": [{"key": "{{ request.object.spec.replicas }}", "operator": "AnyIn", "value": "1-5"}]}),
            Ok(true),
        );
    }

    #[test]
    fn numeric_and_duration_operators() {
        check(
            json!({"all": [{"key": "{{ request.object.spec.replicas }}", "operator": "GreaterThan", "value": 2}]}),
            Ok(true),
        );
        check(
            json!({"all": [{"key": "{{ request.object.spec.memory }}", "operator": "LessThanOrEquals", "value": "512Mi"}]}),
            Ok(false),
        );
        check(
            json!({"all": [{"key": "{{ request.object.spec.timeout }}", "operator": "DurationGreaterThan", "value": "1m"}]}),
            Ok(true),
        );
        check(
            json!({"all": [{"key": "{{ request.object.spec.missing }}", "operator": "Equals", "value": 1}]}),
            Err("failed to substitute variables in condition key"),
        );
    }

    /// Two strings that read as quantities compare with resource.Quantity (Equal and Cmp): exact, where
    /// their float values (both 2^53) would be equal.
    #[test]
    fn quantity_strings_compare_exactly_past_two_to_the_53() {
        let condition = |key: &str, operator: &str, value: &str| json!({"all": [{"key": key, "operator": operator, "value": value}]});
        check(condition("9007199254740993", "Equals", "9007199254740992"), Ok(false));
        check(condition("9007199254740993", "Equals", "9007199254740993"), Ok(true));
        check(condition("9007199254740993", "GreaterThan", "9007199254740992"), Ok(true));
        check(condition("9007199254740992", "LessThan", "9007199254740993"), Ok(true));
        check(condition("1500m", "Equals", "1.5"), Ok(true));
        check(condition("1Ki", "GreaterThanOrEquals", "1024"), Ok(true));
        // Decimal quantities are never capped: two RSA moduli of 600 digits that differ stay different.
        let long = "7".repeat(600);
        check(condition(&format!("{long}1"), "NotEquals", &format!("{long}2")), Ok(true));
        check(condition(&format!("{long}1"), "LessThan", &format!("{long}2")), Ok(true));
    }
}
