//! OPA's `sprintf`: Go's `fmt.Sprintf` over Rego values, installed as a regorus extension.
//!
//! regorus's own `sprintf` fails when the format has more verbs than there are arguments, which makes
//! a message undefined and hides the violation; Go prints `%!v(MISSING)` and OPA returns the string.
//! Real templates rely on that (the horizontalpodautoscaler library template has six verbs and five
//! arguments), so we format the way OPA does: integers as Go ints, other numbers as float64, strings
//! as they are, and every other value in Rego's literal syntax.

use regorus::Value;

/// One argument as OPA hands it to Go's formatter.
#[derive(Debug, Clone)]
enum Argument {
    Integer(i128),
    Float(f64),
    /// A Go string: Rego strings, and every composite value in its Rego literal form.
    Text(String),
}

impl Argument {
    fn from_value(value: &Value) -> Argument {
        match value {
            Value::String(text) => Argument::Text(text.to_string()),
            Value::Number(_) => {
                if let Ok(integer) = value.as_i64() {
                    Argument::Integer(i128::from(integer))
                } else if let Ok(integer) = value.as_u64() {
                    Argument::Integer(i128::from(integer))
                } else {
                    Argument::Float(value.as_f64().unwrap_or(f64::NAN))
                }
            }
            other => Argument::Text(rego_literal(other)),
        }
    }

    fn go_type(&self) -> &'static str {
        match self {
            Argument::Integer(_) => "int",
            Argument::Float(_) => "float64",
            Argument::Text(_) => "string",
        }
    }

    fn plain(&self) -> String {
        match self {
            Argument::Integer(integer) => integer.to_string(),
            Argument::Float(float) => go_float_shortest(*float),
            Argument::Text(text) => text.clone(),
        }
    }
}

/// The extension body: `sprintf(format, arguments)`.
pub fn sprintf_extension(arguments: Vec<Value>) -> anyhow::Result<Value> {
    let (Some(Value::String(format)), Some(Value::Array(values))) = (arguments.first(), arguments.get(1)) else {
        // A wrong argument type is a built-in error, which Gatekeeper treats as undefined.
        return Ok(Value::Undefined);
    };
    for value in values.iter() {
        super::limits::check_size(value, "sprintf")?;
    }
    let values: Vec<Argument> = values.iter().map(Argument::from_value).collect();
    Ok(Value::from(go_sprintf(format, &values)))
}

/// Rego's literal syntax for a value (what OPA's `Term.String()` prints).
pub fn rego_literal(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(_) => match Argument::from_value(value) {
            Argument::Float(float) => go_float_shortest(float),
            other => other.plain(),
        },
        Value::String(text) => serde_json::to_string(text.as_ref()).unwrap_or_default(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(rego_literal).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Set(items) => {
            if items.is_empty() {
                return "set()".to_string();
            }
            let parts: Vec<String> = items.iter().map(rego_literal).collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Object(fields) => {
            let parts: Vec<String> =
                fields.iter().map(|(key, value)| format!("{}: {}", rego_literal(key), rego_literal(value))).collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Undefined => "undefined".to_string(),
    }
}

/// Go's `%v` for a float64: the shortest representation, with an exponent for large or small values.
fn go_float_shortest(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf".to_string() } else { "-Inf".to_string() };
    }
    let exponent = if value == 0.0 { 0 } else { value.abs().log10().floor() as i32 };
    if (-4..21).contains(&exponent) {
        let text = format!("{value}");
        return text;
    }
    let text = format!("{value:e}");
    // Rust prints `1e21`; Go prints `1e+21` with at least two exponent digits.
    match text.split_once('e') {
        Some((mantissa, power)) => {
            let (sign, digits) = power.strip_prefix('-').map_or(("+", power), |digits| ("-", digits));
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => text,
    }
}

/// The parts of one `%` directive.
#[derive(Default)]
struct Directive {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Go's `fmt.Sprintf` for the verbs and flags policies use.
fn go_sprintf(format: &str, arguments: &[Argument]) -> String {
    let mut output = String::new();
    let mut next = 0;
    let mut characters = format.chars().peekable();
    while let Some(character) = characters.next() {
        if character != '%' {
            output.push(character);
            continue;
        }
        let mut directive = Directive::default();
        while let Some(&flag) = characters.peek() {
            match flag {
                '-' => directive.minus = true,
                '+' => directive.plus = true,
                '0' => directive.zero = true,
                ' ' => directive.space = true,
                '#' => directive.sharp = true,
                _ => break,
            }
            characters.next();
        }
        let Ok(width) = read_number(&mut characters) else {
            // Go gives up on a number past a million and consumes the rest of the format.
            output.push_str("%!(NOVERB)");
            break;
        };
        directive.width = width;
        if characters.peek() == Some(&'.') {
            characters.next();
            let Ok(precision) = read_number(&mut characters) else {
                output.push_str("%!(NOVERB)");
                break;
            };
            directive.precision = Some(precision.unwrap_or(0));
        }
        let Some(verb) = characters.next() else {
            output.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            output.push('%');
            continue;
        }
        let Some(argument) = arguments.get(next) else {
            output.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let text = match format_one(verb, argument, &directive) {
            Some(text) => text,
            None => {
                output.push_str(&format!("%!{verb}({}={})", argument.go_type(), argument.plain()));
                continue;
            }
        };
        output.push_str(&pad(text, &directive, matches!(argument, Argument::Integer(_) | Argument::Float(_))));
    }
    if next < arguments.len() {
        let extra: Vec<String> =
            arguments[next..].iter().map(|argument| format!("{}={}", argument.go_type(), argument.plain())).collect();
        output.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    output
}

/// A width or precision; `Err` when it passes a million before its last digit, as Go's `parsenum` checks
/// (so no directive can pad to gigabytes).
fn read_number(characters: &mut std::iter::Peekable<std::str::Chars>) -> Result<Option<usize>, ()> {
    let mut number: Option<usize> = None;
    while let Some(digit) = characters.peek().and_then(|character| character.to_digit(10)) {
        if number.is_some_and(|number| number > 1_000_000) {
            return Err(());
        }
        number = Some(number.unwrap_or(0) * 10 + digit as usize);
        characters.next();
    }
    Ok(number)
}

fn pad(text: String, directive: &Directive, numeric: bool) -> String {
    let Some(width) = directive.width else {
        return text;
    };
    let length = text.chars().count();
    if length >= width {
        return text;
    }
    let fill = width - length;
    if directive.minus {
        return format!("{text}{}", " ".repeat(fill));
    }
    if directive.zero && numeric {
        let (sign, digits) = match text.strip_prefix('-') {
            Some(digits) => ("-", digits.to_string()),
            None => match text.strip_prefix('+') {
                Some(digits) => ("+", digits.to_string()),
                None => ("", text.clone()),
            },
        };
        return format!("{sign}{}{digits}", "0".repeat(fill));
    }
    format!("{}{text}", " ".repeat(fill))
}

fn signed(text: String, negative: bool, directive: &Directive) -> String {
    if negative {
        format!("-{text}")
    } else if directive.plus {
        format!("+{text}")
    } else if directive.space {
        format!(" {text}")
    } else {
        text
    }
}

/// Formats one argument; `None` when the verb does not apply to its type (Go's `%!d(string=x)`).
fn format_one(verb: char, argument: &Argument, directive: &Directive) -> Option<String> {
    match (verb, argument) {
        ('v', Argument::Integer(integer)) | ('d', Argument::Integer(integer)) => {
            Some(signed(integer.unsigned_abs().to_string(), *integer < 0, directive))
        }
        ('v', Argument::Float(float)) => Some(signed(go_float_shortest(float.abs()), *float < 0.0, directive)),
        ('v' | 's', Argument::Text(text)) => Some(match directive.precision {
            Some(precision) => text.chars().take(precision).collect(),
            None => text.clone(),
        }),
        ('q', Argument::Text(text)) => Some(serde_json::to_string(text).unwrap_or_default()),
        ('x' | 'X', Argument::Integer(integer)) => {
            let digits = if verb == 'x' {
                format!("{:x}", integer.unsigned_abs())
            } else {
                format!("{:X}", integer.unsigned_abs())
            };
            let digits = if directive.sharp { format!("0{verb}{digits}") } else { digits };
            Some(signed(digits, *integer < 0, directive))
        }
        ('x' | 'X', Argument::Text(text)) => {
            let digits: String = text
                .bytes()
                .map(|byte| if verb == 'x' { format!("{byte:02x}") } else { format!("{byte:02X}") })
                .collect();
            Some(digits)
        }
        ('o', Argument::Integer(integer)) => {
            Some(signed(format!("{:o}", integer.unsigned_abs()), *integer < 0, directive))
        }
        ('b', Argument::Integer(integer)) => {
            Some(signed(format!("{:b}", integer.unsigned_abs()), *integer < 0, directive))
        }
        ('c', Argument::Integer(integer)) => u32::try_from(*integer).ok().and_then(char::from_u32).map(String::from),
        ('f' | 'F', Argument::Float(float)) => {
            let precision = directive.precision.unwrap_or(6);
            Some(signed(format!("{:.precision$}", float.abs()), *float < 0.0, directive))
        }
        ('f' | 'F', Argument::Integer(integer)) => Some(format!("%!{verb}(int={integer})")),
        ('e' | 'E', Argument::Float(float)) => {
            let precision = directive.precision.unwrap_or(6);
            let text = format!("{:.precision$e}", float.abs());
            let text = match text.split_once('e') {
                Some((mantissa, power)) => {
                    let (sign, digits) = power.strip_prefix('-').map_or(("+", power), |digits| ("-", digits));
                    format!("{mantissa}{}{sign}{digits:0>2}", if verb == 'e' { 'e' } else { 'E' })
                }
                None => text,
            };
            Some(signed(text, *float < 0.0, directive))
        }
        ('g' | 'G', Argument::Float(float)) => Some(signed(go_float_shortest(float.abs()), *float < 0.0, directive)),
        ('t', Argument::Text(_)) => None,
        ('T', argument) => Some(argument.go_type().to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{Argument, go_sprintf};

    fn check(format: &str, arguments: &[Argument], expected: &str) {
        assert_eq!(go_sprintf(format, arguments), expected);
    }

    #[test]
    fn formats_like_go() {
        check("%v and %v", &[Argument::Text("a".into()), Argument::Integer(3)], "a and 3");
        check("%v <%v> %v", &[Argument::Text("a".into())], "a <%!v(MISSING)> %!v(MISSING)");
        check("%d%%", &[Argument::Integer(-5)], "-5%");
        check("%s", &[Argument::Integer(5)], "%!s(int=5)");
        check("x", &[Argument::Integer(5)], "x%!(EXTRA int=5)");
        check("%.2f", &[Argument::Float(1.005)], "1.00");
        check("%v", &[Argument::Float(1.5)], "1.5");
        check("%5d|%-4s|", &[Argument::Integer(42), Argument::Text("ab".into())], "   42|ab  |");
        check("%q", &[Argument::Text("a\"b".into())], "\"a\\\"b\"");
    }
}
