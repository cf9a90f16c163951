//! Kyverno's JMESPath arithmetic (`add`, `subtract`, `multiply`, `divide`, `modulo`, `sum`) as
//! `pkg/engine/jmespath/arithmetic.go` does it: a JSON number is a scalar; a string is a Kubernetes quantity
//! when apimachinery's `ParseQuantity` reads it (so `100m` is a tenth, not minutes), else a Go duration.
//! Quantities are exact decimals (inf.Dec) that remember the scale they were written with and their format
//! (decimal SI, binary SI, decimal exponent), and print as `Quantity.String()` prints them.

use num_bigint::BigInt;

use crate::engine::units::{
    BINARY_SI_SUFFIXES, DECIMAL_SI_SUFFIXES, QuantitySuffix, go_duration_string, quantity_suffix,
};
use num_traits::{Signed, ToPrimitive, Zero};
use serde_json::Value;

/// How a quantity prints (`resource.Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// An exact decimal `unscaled × 10^-scale`, as inf.Dec holds it, with the format of the quantity it came from.
#[derive(Clone, Debug, PartialEq)]
struct Quantity {
    unscaled: BigInt,
    scale: i64,
    format: Format,
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Scalar(f64),
    Quantity(Quantity),
    /// Nanoseconds, as Go's `time.Duration`.
    Duration(i64),
}

const TYPE_MISMATCH: &str = "Types mismatch";
/// The largest decimal exponent a quantity is read with here (see `parse_quantity`).
const MAX_EXPONENT: i64 = 1000;
const ZERO_DIVISOR: &str = "Zero divisor passed";
const NON_INTEGER_MODULO: &str = "Non-integer argument(s) passed for modulo";

fn ten_pow(exponent: u32) -> BigInt {
    BigInt::from(10u32).pow(exponent)
}

/// Reads a quantity as `ParseQuantity` does, keeping the scale its fast path keeps (the digits as written
/// times the suffix) or the nano scale its slow path rounds to.
fn parse_quantity(text: &str) -> Option<Quantity> {
    let bytes = text.as_bytes();
    let mut position = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            position = 1;
            true
        }
        Some(b'+') => {
            position = 1;
            false
        }
        _ => false,
    };
    if text.is_empty() {
        return None;
    }
    let body = &text[position..];
    let digits_end = |from: &str| from.find(|character: char| !character.is_ascii_digit()).unwrap_or(from.len());
    // Leading zeros do not count as digits (`parseQuantityString` strips them), and a body of zeros (or
    // none, after a sign) is zero whatever follows.
    let trimmed = body.trim_start_matches('0');
    if trimmed.is_empty() {
        return Some(Quantity { unscaled: BigInt::zero(), scale: 0, format: Format::DecimalSi });
    }
    let numerator = &trimmed[..digits_end(trimmed)];
    let mut rest = &trimmed[numerator.len()..];
    let mut denominator = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        denominator = &after_dot[..digits_end(after_dot)];
        rest = &after_dot[denominator.len()..];
    }
    let numerator = if numerator.is_empty() { "0" } else { numerator };
    let (base_two, exponent, format) = match quantity_suffix(rest)? {
        QuantitySuffix::DecimalSi(exponent) => (false, exponent, Format::DecimalSi),
        QuantitySuffix::BinarySi(shift) => (true, i64::from(shift), Format::BinarySi),
        QuantitySuffix::Exponent(exponent) => (false, exponent, Format::DecimalExponent),
    };
    // An exponent past this would make exact arithmetic build numbers of that many digits; no quantity
    // of a real resource comes near it, and refusing it keeps a typo from stalling the evaluation.
    if exponent.unsigned_abs() > MAX_EXPONENT as u64 {
        return None;
    }
    let sign = |value: BigInt| if negative { -value } else { value };
    let written: BigInt = format!("{numerator}{denominator}").parse().ok()?;
    let digit_count = (numerator.len() + denominator.len()) as i64;
    // The fast path: an int64 amount whose scale is the suffix's exponent less the written fraction.
    let precision = if base_two {
        if denominator.is_empty() {
            15 - numerator.len() as i64 - ((exponent as f32) * 3.0 / 10.0) as i64 - 1
        } else {
            -1
        }
    } else {
        18 - digit_count
    };
    if precision >= 0 {
        let scale = if base_two { 0 } else { exponent - denominator.len() as i64 };
        if scale >= -9 {
            let value = if base_two { written.clone() << exponent as usize } else { written.clone() };
            if value.to_i64().is_some() {
                return Some(Quantity { unscaled: sign(value), scale: -scale, format });
            }
        }
    }
    // The slow path: the exact amount, rounded up (away from zero) to the nano.
    let (mut unscaled, mut scale) = if base_two {
        (written << exponent as usize, denominator.len() as i64)
    } else {
        (written, denominator.len() as i64 - exponent)
    };
    let mut format = format;
    if !unscaled.is_zero() {
        if scale > 9 {
            let divisor = ten_pow((scale - 9) as u32);
            let (quotient, remainder) = (&unscaled / &divisor, &unscaled % &divisor);
            unscaled = if remainder.is_zero() { quotient } else { quotient + 1 };
        } else {
            unscaled *= ten_pow((9 - scale) as u32);
        }
        scale = 9;
        if format == Format::BinarySi {
            let cap = BigInt::from(i64::MAX) * ten_pow(9);
            if unscaled > cap {
                unscaled = BigInt::from(i64::MAX);
                scale = 0;
            } else if unscaled < ten_pow(9) {
                format = Format::DecimalSi;
            }
        }
    }
    Some(Quantity { unscaled: sign(unscaled), scale, format })
}

impl Quantity {
    fn is_zero(&self) -> bool {
        self.unscaled.is_zero()
    }

    /// Both amounts at the larger scale, as inf.Dec aligns them.
    fn aligned(&self, other: &Quantity) -> (BigInt, BigInt, i64) {
        let scale = self.scale.max(other.scale);
        let widen = |quantity: &Quantity| &quantity.unscaled * ten_pow((scale - quantity.scale) as u32);
        (widen(self), widen(other), scale)
    }

    /// `Quantity.Add`: a zero quantity takes the other's format.
    fn add(&self, other: &Quantity, negate: bool) -> Quantity {
        let (left, right, scale) = self.aligned(other);
        let unscaled = if negate { left - right } else { left + right };
        let format = if self.is_zero() { other.format } else { self.format };
        Quantity { unscaled, scale, format }
    }

    /// `AsApproximateFloat64`: the unscaled amount as a float times `math.Pow(10, exponent)`, rounded as Go
    /// rounds each step (`0.3` is 3 × 0.1 = 0.30000000000000004), not the nearest float to the decimal.
    fn approximate_float(&self) -> f64 {
        let base = self.unscaled.to_f64().unwrap_or(f64::NAN);
        if self.scale == 0 {
            return base;
        }
        base * go_pow10(-self.scale)
    }

    /// `Quantity.String()`: the canonical form in the quantity's format.
    fn canonical(&self) -> String {
        if self.is_zero() {
            return "0".to_string();
        }
        let mut format = self.format;
        if format == Format::BinarySi {
            let limit = BigInt::from(1024) * ten_pow(self.scale.max(0) as u32);
            let magnitude =
                if self.scale >= 0 { self.unscaled.abs() } else { self.unscaled.abs() * ten_pow((-self.scale) as u32) };
            if magnitude < limit {
                format = Format::DecimalSi;
            } else if let Some(integer) = self.integer() {
                let (mut amount, mut power) = (integer, 0u32);
                let base = BigInt::from(1024);
                while amount.abs() >= base && (&amount % &base).is_zero() {
                    amount /= &base;
                    power += 1;
                }
                let suffix =
                    BINARY_SI_SUFFIXES.iter().find(|(_, shift)| *shift == power * 10).map_or("", |(name, _)| *name);
                return format!("{amount}{suffix}");
            } else {
                format = Format::DecimalSi;
            }
        }
        let mut amount = self.unscaled.clone();
        let mut exponent = -self.scale;
        let ten = BigInt::from(10);
        while (&amount % &ten).is_zero() {
            amount /= &ten;
            exponent += 1;
        }
        // Go's remainder keeps the dividend's sign: the exponent steps down to a multiple of three.
        while exponent % 3 != 0 {
            amount *= &ten;
            exponent -= 1;
        }
        let suffix = match format {
            Format::DecimalExponent if exponent == 0 => String::new(),
            Format::DecimalExponent => format!("e{exponent}"),
            // No suffix for exponents without one (`constructBytes` finds none).
            _ => DECIMAL_SI_SUFFIXES
                .iter()
                .find(|(_, power)| *power == exponent)
                .map_or(String::new(), |(name, _)| name.to_string()),
        };
        format!("{amount}{suffix}")
    }

    /// The amount when it is a whole number.
    fn integer(&self) -> Option<BigInt> {
        if self.scale <= 0 {
            return Some(&self.unscaled * ten_pow((-self.scale) as u32));
        }
        let divisor = ten_pow(self.scale as u32);
        (&self.unscaled % &divisor).is_zero().then(|| &self.unscaled / &divisor)
    }
}

/// Go's `math.Pow(10, exponent)` for a whole exponent: repeated squaring, and the reciprocal for a
/// negative one (so `Pow(10, -1)` is `1/10`).
fn go_pow10(exponent: i64) -> f64 {
    let (mut result, mut base, mut remaining) = (1.0f64, 10.0f64, exponent.unsigned_abs());
    while remaining > 0 {
        if remaining & 1 == 1 {
            result *= base;
        }
        base *= base;
        remaining >>= 1;
    }
    if exponent < 0 { 1.0 / result } else { result }
}

/// A float as `ParseQuantity(fmt.Sprintf("%v", f))` reads it: the scale the quantity keeps follows Go's text
/// (`1e+06`, `0.5`).
fn scalar_quantity(value: f64) -> Result<Quantity, String> {
    if !value.is_finite() {
        return Err(format!("quantities must match the regular expression: {value}"));
    }
    let text = super::go_text::go_float_text(value);
    parse_quantity(&text).ok_or_else(|| format!("invalid quantity {text}"))
}

fn operand(value: &Value) -> Result<Operand, String> {
    match value {
        Value::Number(number) => Ok(Operand::Scalar(number.as_f64().unwrap_or(0.0))),
        Value::String(text) => {
            if let Some(quantity) = parse_quantity(text) {
                return Ok(Operand::Quantity(quantity));
            }
            crate::engine::units::go_duration_nanos(text)
                .map(Operand::Duration)
                .map_err(|_| "invalid operand".to_string())
        }
        _ => Err("invalid operand".to_string()),
    }
}

fn scalar(value: f64) -> Value {
    super::go_text::go_float_value(value)
}

fn duration(nanos: i64) -> Value {
    Value::String(go_duration_string(nanos))
}

/// `time.Duration.Seconds()`.
fn seconds(nanos: i64) -> f64 {
    (nanos / 1_000_000_000) as f64 + (nanos % 1_000_000_000) as f64 / 1e9
}

/// `time.Duration(seconds * float64(time.Second))`: truncated toward zero; out of range is Go's minimum.
fn duration_of_seconds(seconds: f64) -> i64 {
    let nanos = seconds * 1e9;
    // 2^63: the first float past the int64 range, on either side.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if nanos.is_nan() || !(-LIMIT..LIMIT).contains(&nanos) { i64::MIN } else { nanos as i64 }
}

/// One of the five operators on two arguments.
pub fn arithmetic(name: &str, args: &[Value]) -> Result<Value, String> {
    if args.len() != 2 {
        return Err(format!("expected 2 arguments, got {}", args.len()));
    }
    let (left, right) = (operand(&args[0])?, operand(&args[1])?);
    use Operand::{Duration, Quantity as Q, Scalar};
    let result = match (name, &left, &right) {
        ("add", Q(a), Q(b)) => Value::String(a.add(b, false).canonical()),
        ("subtract", Q(a), Q(b)) => Value::String(a.add(b, true).canonical()),
        ("add", Duration(a), Duration(b)) => duration(a.wrapping_add(*b)),
        ("subtract", Duration(a), Duration(b)) => duration(a.wrapping_sub(*b)),
        ("add", Scalar(a), Scalar(b)) => scalar(a + b),
        ("subtract", Scalar(a), Scalar(b)) => scalar(a - b),
        ("multiply", Scalar(a), Scalar(b)) => scalar(a * b),
        ("multiply", Q(a), Scalar(b)) | ("multiply", Scalar(b), Q(a)) => {
            let factor = scalar_quantity(*b)?;
            let product =
                Quantity { unscaled: &a.unscaled * &factor.unscaled, scale: a.scale + factor.scale, format: a.format };
            Value::String(product.canonical())
        }
        ("multiply", Duration(a), Scalar(b)) | ("multiply", Scalar(b), Duration(a)) => {
            duration(duration_of_seconds(seconds(*a) * b))
        }
        ("divide", Q(a), Q(b)) => {
            let divisor = b.approximate_float();
            if divisor == 0.0 {
                return Err(ZERO_DIVISOR.to_string());
            }
            scalar(a.approximate_float() / divisor)
        }
        ("divide", Q(a), Scalar(b)) => {
            if *b == 0.0 {
                return Err(ZERO_DIVISOR.to_string());
            }
            let divisor = scalar_quantity(*b)?;
            // inf.Dec's QuoRound at the larger scale of the two, rounding down (toward zero).
            let scale = a.scale.max(divisor.scale);
            // unscaled = trunc(a / divisor × 10^scale), with a and the divisor as unscaled × 10^-scale.
            let shift = scale - a.scale + divisor.scale;
            let (numerator, denominator) = if shift >= 0 {
                (&a.unscaled * ten_pow(shift as u32), divisor.unscaled.clone())
            } else {
                (a.unscaled.clone(), &divisor.unscaled * ten_pow((-shift) as u32))
            };
            let quotient = numerator / denominator;
            Value::String(Quantity { unscaled: quotient, scale, format: a.format }.canonical())
        }
        ("divide", Duration(a), Duration(b)) => {
            if seconds(*b) == 0.0 {
                return Err(ZERO_DIVISOR.to_string());
            }
            scalar(seconds(*a) / seconds(*b))
        }
        ("divide", Duration(a), Scalar(b)) => {
            if *b == 0.0 {
                return Err(ZERO_DIVISOR.to_string());
            }
            duration(duration_of_seconds(seconds(*a) / b))
        }
        ("divide", Scalar(a), Scalar(b)) => {
            if *b == 0.0 {
                return Err(ZERO_DIVISOR.to_string());
            }
            scalar(a / b)
        }
        ("modulo", Q(a), Q(b)) => {
            let (left, right) = (a.approximate_float(), b.approximate_float());
            let (whole_left, whole_right) = (left as i64, right as i64);
            if left != whole_left as f64 || right != whole_right as f64 {
                return Err(NON_INTEGER_MODULO.to_string());
            }
            if whole_right == 0 {
                return Err(ZERO_DIVISOR.to_string());
            }
            let remainder = whole_left.wrapping_rem(whole_right);
            Value::String(Quantity { unscaled: BigInt::from(remainder), scale: 0, format: a.format }.canonical())
        }
        ("modulo", Duration(a), Duration(b)) => {
            if *b == 0 {
                return Err(ZERO_DIVISOR.to_string());
            }
            duration(a.wrapping_rem(*b))
        }
        ("modulo", Scalar(a), Scalar(b)) => {
            let (whole_left, whole_right) = (*a as i64, *b as i64);
            if *a != whole_left as f64 || *b != whole_right as f64 {
                return Err(NON_INTEGER_MODULO.to_string());
            }
            if whole_right == 0 {
                return Err(ZERO_DIVISOR.to_string());
            }
            scalar(whole_left.wrapping_rem(whole_right) as f64)
        }
        _ => return Err(TYPE_MISMATCH.to_string()),
    };
    Ok(result)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(name: &str, left: Value, right: Value, expect: Result<Value, &str>) {
        let found = arithmetic(name, &[left.clone(), right.clone()]);
        assert_eq!(found, expect.map_err(str::to_string), "{name}({left}, {right})");
    }

    #[test]
    fn quantities_come_before_durations_and_keep_their_format() {
        // `100m` is a tenth (a quantity) before it could be minutes.
        check("add", json!("100m"), json!("200m"), Ok(json!("300m")));
        check("divide", json!("500m"), json!(2), Ok(json!("250m")));
        check("add", json!("500m"), json!("1"), Ok(json!("1500m")));
        check("add", json!("12Ki"), json!("13Ki"), Ok(json!("25Ki")));
        check("multiply", json!("12Ki"), json!(2), Ok(json!("24Ki")));
        check("multiply", json!(2), json!("1.5Gi"), Ok(json!("3Gi")));
        check("subtract", json!("1Gi"), json!("512Mi"), Ok(json!("512Mi")));
        check("modulo", json!("5Ki"), json!("3Ki"), Ok(json!("2Ki")));
        // A binary amount below 1024, or not whole, prints as a decimal one.
        check("subtract", json!("1Ki"), json!("1000"), Ok(json!("24")));
        check("add", json!("1.5Gi"), json!("0"), Ok(json!("1536Mi")));
        check("add", json!("1e3"), json!("1"), Ok(json!("1001")));
        check("multiply", json!("1e3"), json!(1.5), Ok(json!("1500")));
        check("add", json!("1.5"), json!("0"), Ok(json!("1500m")));
        check("subtract", json!("1"), json!("1"), Ok(json!("0")));
    }

    #[test]
    fn division_rounds_down_at_the_written_scale() {
        check("divide", json!("1"), json!(3), Ok(json!("0")));
        check("divide", json!("3"), json!(2), Ok(json!("1")));
        check("divide", json!("3.0"), json!(2), Ok(json!("1500m")));
        check("divide", json!("1Gi"), json!(2), Ok(json!("512Mi")));
        check("divide", json!("1Gi"), json!("512Mi"), Ok(json!(2)));
        // AsApproximateFloat64 rounds as Go's arithmetic does: 0.3 is 3 × 0.1.
        check("divide", json!("0.3"), json!("0.1"), Ok(json!(3.0000000000000004)));
        check("divide", json!("1"), json!(0), Err("Zero divisor passed"));
        // Go prints 1e6 as `1e+06`: the divisor's scale is -6, the quantity's 0.
        check("divide", json!("3000000"), json!(1000000.0), Ok(json!("3")));
        check("divide", json!("1"), json!(0.3), Ok(json!("3300m")));
        check("multiply", json!("1n"), json!(0.5), Ok(json!("500")));
    }

    #[test]
    fn mixed_types_are_a_mismatch() {
        check("add", json!("12s"), json!(13), Err("Types mismatch"));
        check("add", json!(12), json!("13Ki"), Err("Types mismatch"));
        check("divide", json!(1), json!("2Ki"), Err("Types mismatch"));
        check("add", json!("12s"), json!("1Ki"), Err("Types mismatch"));
        check("modulo", json!("5s"), json!(0), Err("Types mismatch"));
        check("add", json!(" 1"), json!("2"), Err("invalid operand"));
        check("add", json!(true), json!(1), Err("invalid operand"));
        // Exponents that would build numbers of millions of digits are not read as quantities.
        check("add", json!("1e999999999"), json!("1"), Err("invalid operand"));
        check("add", json!("1234567890123456789e-99999999"), json!("1"), Err("invalid operand"));
        check("add", json!("1.5e-9223372036854775808"), json!("1"), Err("invalid operand"));
    }

    #[test]
    fn durations_and_scalars() {
        check("add", json!("1h"), json!("30m0s"), Ok(json!("1h30m0s")));
        check("subtract", json!("1s"), json!("1500ms"), Ok(json!("-500ms")));
        check("multiply", json!("1ns"), json!(1.7), Ok(json!("1ns")));
        check("divide", json!("1h"), json!("30m0s"), Ok(json!(2)));
        check("divide", json!("1h"), json!(4), Ok(json!("15m0s")));
        check("modulo", json!("90s"), json!("1m0s"), Ok(json!("30s")));
        check("add", json!(1), json!(2.5), Ok(json!(3.5)));
        check("subtract", json!("1ms"), json!("999500ns"), Ok(json!("500ns")));
        check("add", json!("1ms"), json!("500us"), Ok(json!("1.5ms")));
        check("add", json!("59s"), json!("1s"), Ok(json!("1m0s")));
        check("modulo", json!(7), json!(-3), Ok(json!(1)));
        check("modulo", json!(2.5), json!(2), Err("Non-integer argument(s) passed for modulo"));
        check("modulo", json!("2.5"), json!("2"), Err("Non-integer argument(s) passed for modulo"));
    }
}
