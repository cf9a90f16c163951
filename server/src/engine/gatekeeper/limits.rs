//! Replacements for the regorus built-ins that can allocate or work without bound before its execution
//! timer gets a chance to stop them, and the size check behind them. `numbers.range(0, 1e12)` asks for
//! terabytes in one allocation, which aborts the process instead of failing; values share their parts
//! (`x1 := [x0, x0]` forty times is 2^40 elements in forty steps), so serialising one is a single
//! built-in call that never returns. Registered as extensions (they take precedence over built-ins),
//! they give OPA's results up to the limits and an evaluation error naming the limit past them.

use regorus::Value;

/// The most elements (counting strings by 16 bytes) a value may have when it is serialised, formatted
/// or handed back from an evaluation: far past any real policy's messages and details.
pub const MAX_VALUE_SIZE: usize = 1_000_000;

/// Fails when `value`, with shared parts counted each time they appear, is larger than
/// [`MAX_VALUE_SIZE`]; counting stops there, so the check itself is bounded.
pub fn check_size(value: &Value, what: &str) -> anyhow::Result<()> {
    let mut size = 0usize;
    let mut pending = vec![value];
    while let Some(current) = pending.pop() {
        size += 1;
        match current {
            Value::String(text) => size += text.len() / 16,
            Value::Array(items) => pending.extend(items.iter()),
            Value::Set(items) => pending.extend(items.iter()),
            Value::Object(fields) => pending.extend(fields.iter().flat_map(|(key, value)| [key, value])),
            _ => {}
        }
        if size > MAX_VALUE_SIZE {
            anyhow::bail!("{what}: the value has more than {MAX_VALUE_SIZE} elements, more than policy-lsp handles");
        }
    }
    Ok(())
}

/// `json.marshal(x)`, as regorus writes it, for values up to [`MAX_VALUE_SIZE`].
pub fn json_marshal(arguments: Vec<Value>) -> anyhow::Result<Value> {
    let Some(value) = arguments.first() else { return Ok(Value::Undefined) };
    check_size(value, "json.marshal")?;
    Ok(Value::from(serde_json::to_string(value)?))
}

/// `yaml.marshal(x)`, as regorus writes it, for values up to [`MAX_VALUE_SIZE`].
pub fn yaml_marshal(arguments: Vec<Value>) -> anyhow::Result<Value> {
    let Some(value) = arguments.first() else { return Ok(Value::Undefined) };
    check_size(value, "yaml.marshal")?;
    Ok(Value::String(yaml_serde::to_string(value)?.into()))
}

/// The most elements one `numbers.range` or `numbers.range_step` call may produce.
pub const MAX_RANGE_ELEMENTS: i128 = 1_000_000;

/// An integer argument, or `None` for anything else (OPA's error, undefined under Gatekeeper's
/// non-strict built-in errors).
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) if number.is_integer() => number.as_i64(),
        _ => None,
    }
}

fn range(name: &str, start: i64, end: i64, step: i64) -> anyhow::Result<Value> {
    let count = (i128::from(end) - i128::from(start)).abs() / i128::from(step) + 1;
    if count > MAX_RANGE_ELEMENTS {
        anyhow::bail!(
            "{name}({start}, {end}) would make {count} elements, more than the {MAX_RANGE_ELEMENTS} policy-lsp evaluates"
        );
    }
    let direction: i128 = if end >= start { 1 } else { -1 };
    // Every element lies between `start` and `end`, so it fits an i64 even where the steps do not.
    let values: Vec<Value> = (0..count)
        .filter_map(|index| i64::try_from(i128::from(start) + direction * i128::from(step) * index).ok())
        .map(Value::from)
        .collect();
    Ok(Value::from(values))
}

/// `numbers.range(a, b)`: the integers from `a` to `b` inclusive, counting down when `b < a`.
pub fn numbers_range(arguments: Vec<Value>) -> anyhow::Result<Value> {
    let (Some(start), Some(end)) = (arguments.first().and_then(integer), arguments.get(1).and_then(integer)) else {
        return Ok(Value::Undefined);
    };
    range("numbers.range", start, end, 1)
}

/// `numbers.range_step(a, b, step)`: every `step`-th integer from `a` towards `b`; the step must be a
/// positive integer.
pub fn numbers_range_step(arguments: Vec<Value>) -> anyhow::Result<Value> {
    let (Some(start), Some(end), Some(step)) =
        (arguments.first().and_then(integer), arguments.get(1).and_then(integer), arguments.get(2).and_then(integer))
    else {
        return Ok(Value::Undefined);
    };
    if step <= 0 {
        return Ok(Value::Undefined);
    }
    range("numbers.range_step", start, end, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integers(value: &Value) -> Vec<i64> {
        match value {
            Value::Array(items) => items.iter().filter_map(integer).collect(),
            _ => panic!("not an array: {value:?}"),
        }
    }

    #[test]
    fn ranges_follow_opa() {
        let call = |arguments: &[i64]| arguments.iter().map(|&number| Value::from(number)).collect::<Vec<_>>();
        assert_eq!(integers(&numbers_range(call(&[1, 4])).unwrap()), [1, 2, 3, 4]);
        assert_eq!(integers(&numbers_range(call(&[2, -1])).unwrap()), [2, 1, 0, -1]);
        assert_eq!(integers(&numbers_range_step(call(&[0, 10, 4])).unwrap()), [0, 4, 8]);
        assert_eq!(integers(&numbers_range_step(call(&[10, 0, 4])).unwrap()), [10, 6, 2]);
        assert_eq!(numbers_range_step(call(&[0, 10, 0])).unwrap(), Value::Undefined);
        assert_eq!(numbers_range_step(call(&[0, 10, -1])).unwrap(), Value::Undefined);
        assert_eq!(numbers_range(vec![Value::from(1.5), Value::from(3)]).unwrap(), Value::Undefined);
    }

    #[test]
    fn huge_ranges_are_an_error_not_an_abort() {
        let error = numbers_range(vec![Value::from(0), Value::from(1_000_000_000_000i64)]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "numbers.range(0, 1000000000000) would make 1000000000001 elements, more than the 1000000 policy-lsp evaluates"
        );
        assert!(numbers_range(vec![Value::from(i64::MIN), Value::from(i64::MAX)]).is_err());
        let extremes = numbers_range_step(vec![Value::from(i64::MIN), Value::from(i64::MAX), Value::from(i64::MAX)]);
        assert_eq!(integers(&extremes.unwrap()), [i64::MIN, -1, i64::MAX - 1]);
    }
}
