//! Values written into messages and keys the way Kyverno's Go code writes them: `%v` of a JSON value,
//! `fmt.Sprint` of a number and of a float64, and one escaped JSON pointer segment; and JSON compared the
//! way Go's `encoding/json` decodes it. Shared by the rule kinds and by `kyverno_cel`'s templates, so it sits
//! below both.

use serde_json::Value;

/// Whether two documents are equal once Go's `encoding/json` has decoded them into `interface{}`: every
/// number a float64, so `1` equals `1.0` and integers past 2^53 equal their float neighbours. This is how
/// the CLI compares a patched resource with the expected one (`CreateMergePatch` in
/// cmd/cli/kubectl-kyverno/resource/compare.go) and a manifest with its signed copy.
pub fn equal_as_go_json(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => left.as_f64() == right.as_f64(),
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len() && left.iter().zip(right).all(|(left, right)| equal_as_go_json(left, right))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left.iter().all(|(key, child)| right.get(key).is_some_and(|other| equal_as_go_json(child, other)))
        }
        _ => left == right,
    }
}

/// Escapes one JSON pointer segment.
pub(crate) fn pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A short text for a value in messages, formatted the way Go's `%v` would print it.
pub(crate) fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => format_number(number),
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys.iter().map(|key| format!("{}:{}", key, go_format(&map[*key]))).collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Formats a JSON number like Go's `fmt.Sprint` of an int64 or float64.
pub(crate) fn format_number(number: &serde_json::Number) -> String {
    if let Some(integer) = number.as_i64() {
        return integer.to_string();
    }
    if let Some(integer) = number.as_u64() {
        return integer.to_string();
    }
    let float = number.as_f64().unwrap_or(0.0);
    if float.fract() == 0.0 && float.abs() < 1e21 { format!("{}", float as i64) } else { format!("{float}") }
}

/// A float64 result as a JSON value: a whole one written as an integer, as Go's JSON encoding writes it.
pub(crate) fn go_float_value(value: f64) -> serde_json::Value {
    if value.fract() == 0.0 && value.abs() < 9e15 {
        serde_json::Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
    }
}

/// Go's `fmt.Sprint` of a float64. The CLI turns every number of a test resource into a float64, so
/// set operators compare `1e+06`, not `1000000`.
pub(crate) fn go_float_text(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN".into()
        } else if value > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Shortest round-trip digits and decimal exponent, as strconv computes them.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digit_count = digits.len() as i32;
    let decimal_point = exponent + 1;
    let mut precision = 6;
    if precision > digit_count && digit_count >= decimal_point {
        precision = digit_count;
    }
    let sign = if value < 0.0 { "-" } else { "" };
    if exponent < -4 || exponent >= precision {
        let (head, tail) = digits.split_at(1);
        let fraction = if tail.is_empty() { String::new() } else { format!(".{tail}") };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{head}{fraction}e{exponent_sign}{:02}", exponent.abs());
    }
    if decimal_point <= 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-decimal_point) as usize));
    }
    let point = decimal_point as usize;
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

#[cfg(test)]
mod tests {
    use super::go_float_text;

    #[test]
    fn floats_print_like_go() {
        let printed: Vec<String> = [3.0, 8080.0, 123456.0, 1e6, 1234567.0, 0.5, 0.00001, -2.5, 1073741824.0]
            .iter()
            .map(|value| go_float_text(*value))
            .collect();
        assert_eq!(
            printed,
            ["3", "8080", "123456", "1e+06", "1.234567e+06", "0.5", "1e-05", "-2.5", "1.073741824e+09"]
        );
    }
}
