//! Go durations and Kubernetes quantities read exactly (integer nanoseconds; decimal digits and a power of
//! ten), so that comparisons agree with Go's `time.Duration` and apimachinery's `resource.Quantity` past 2^53.

use num_bigint::BigInt;

/// Nanoseconds in a second, and nano-units in a whole quantity.
pub const NANO: i128 = 1_000_000_000;

/// Parses a Go duration (`1h30m`, `-2.5s`, `100ms`, `0`) as `time.ParseDuration` does: integer
/// arithmetic on the whole part, Go's own float scaling of the fraction, and an error past ±2^63 ns.
pub fn go_duration_nanos(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let overflow = || format!("time: invalid duration {text:?} (out of range)");
    const LIMIT: u64 = 1 << 63;
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|character: char| character == '.' || character.is_ascii_digit()) {
            return Err(invalid());
        }
        let whole_end = rest.find(|character: char| !character.is_ascii_digit()).unwrap_or(rest.len());
        let mut whole: u64 = 0;
        for digit in rest[..whole_end].bytes() {
            if whole > LIMIT / 10 {
                return Err(overflow());
            }
            whole = whole * 10 + u64::from(digit - b'0');
            if whole > LIMIT {
                return Err(overflow());
            }
        }
        let had_whole = whole_end > 0;
        rest = &rest[whole_end..];
        let (mut fraction, mut scale, mut had_fraction) = (0u64, 1f64, false);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let fraction_end = after_dot.find(|character: char| !character.is_ascii_digit()).unwrap_or(after_dot.len());
            // Digits past what a u64 holds are dropped, as Go's leadingFraction does.
            let mut saturated = false;
            for digit in after_dot[..fraction_end].bytes() {
                if saturated || fraction > (LIMIT - 1) / 10 {
                    saturated = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(digit - b'0');
                if next > LIMIT {
                    saturated = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            had_fraction = fraction_end > 0;
            rest = &after_dot[fraction_end..];
        }
        if !had_whole && !had_fraction {
            return Err(invalid());
        }
        let unit_end =
            rest.find(|character: char| character == '.' || character.is_ascii_digit()).unwrap_or(rest.len());
        let unit: u64 = match &rest[..unit_end] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {text:?}")),
        };
        rest = &rest[unit_end..];
        if whole > LIMIT / unit {
            return Err(overflow());
        }
        let mut value = whole * unit;
        if fraction > 0 {
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(overflow());
            }
        }
        // Go adds in uint64 without a check, so a sum past 2^64 wraps before the range test; so does this.
        total = total.wrapping_add(value);
        if total > LIMIT {
            return Err(overflow());
        }
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| overflow())
}

/// A Kubernetes quantity as apimachinery's `ParseQuantity` holds it: an exact decimal (inf.Dec), rounded
/// away from zero to the nano; only binary-suffixed amounts (`Ki` ... `Ei`) are capped at 2^63-1.
/// Held as significant digits times a power of ten, so a huge exponent never builds a huge number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quantity {
    negative: bool,
    /// The significant digits without leading or trailing zeros; empty for zero.
    digits: String,
    /// The power of ten the digits are multiplied by.
    exponent: i64,
}

impl Quantity {
    fn new(negative: bool, digits: &str, exponent: i64) -> Quantity {
        let digits = digits.trim_start_matches('0');
        let significant = digits.trim_end_matches('0');
        let exponent = exponent.saturating_add((digits.len() - significant.len()) as i64);
        if significant.is_empty() {
            return Quantity { negative: false, digits: String::new(), exponent: 0 };
        }
        Quantity { negative, digits: significant.to_string(), exponent }
    }

    /// The amount in nano-units when it fits an i128, as the CEL quantity type holds it.
    pub fn nano(&self) -> Option<i128> {
        if self.digits.is_empty() {
            return Some(0);
        }
        // Rounding leaves nothing below the nano, so the shift is never negative.
        let shift = u32::try_from(self.exponent.checked_add(9)?).ok()?;
        let magnitude = self.digits.parse::<i128>().ok()?.checked_mul(10i128.checked_pow(shift)?)?;
        Some(if self.negative { -magnitude } else { magnitude })
    }

    /// The nearest float (`AsApproximateFloat64`), infinite past what a float holds.
    pub fn approximate_float(&self) -> f64 {
        if self.digits.is_empty() {
            return 0.0;
        }
        let magnitude: f64 = format!("{}e{}", self.digits, self.exponent).parse().unwrap_or(f64::INFINITY);
        if self.negative { -magnitude } else { magnitude }
    }

    /// The position of the leading digit: 10^(magnitude-1) <= |value| < 10^magnitude.
    fn magnitude(&self) -> i64 {
        (self.digits.len() as i64).saturating_add(self.exponent)
    }

    fn cmp_magnitude(&self, other: &Quantity) -> std::cmp::Ordering {
        match (self.digits.is_empty(), other.digits.is_empty()) {
            (true, true) => return std::cmp::Ordering::Equal,
            (true, false) => return std::cmp::Ordering::Less,
            (false, true) => return std::cmp::Ordering::Greater,
            (false, false) => {}
        }
        // Same leading position: the digit strings compare as written, a missing digit being a zero.
        self.magnitude().cmp(&other.magnitude()).then_with(|| self.digits.as_str().cmp(other.digits.as_str()))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Quantity) -> std::cmp::Ordering {
        let sign = |quantity: &Quantity| match (quantity.digits.is_empty(), quantity.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        match sign(self).cmp(&sign(other)) {
            std::cmp::Ordering::Equal if self.negative => other.cmp_magnitude(self),
            std::cmp::Ordering::Equal => self.cmp_magnitude(other),
            ordering => ordering,
        }
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Quantity) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The decimal SI suffixes of a quantity and their powers of ten (apimachinery's `suffix.go`).
pub const DECIMAL_SI_SUFFIXES: &[(&str, i64)] =
    &[("n", -9), ("u", -6), ("m", -3), ("", 0), ("k", 3), ("M", 6), ("G", 9), ("T", 12), ("P", 15), ("E", 18)];

/// The binary SI suffixes of a quantity and their powers of two.
pub const BINARY_SI_SUFFIXES: &[(&str, u32)] =
    &[("Ki", 10), ("Mi", 20), ("Gi", 30), ("Ti", 40), ("Pi", 50), ("Ei", 60)];

/// What a quantity's suffix means (`suffix.go`'s `interpret`), which also decides how the quantity prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantitySuffix {
    /// `n` ... `E` (and none): a power of ten.
    DecimalSi(i64),
    /// `Ki` ... `Ei`: a power of two.
    BinarySi(u32),
    /// `e3`, `E-2`: an explicit power of ten.
    Exponent(i64),
}

/// Interprets a quantity's suffix; `None` for one Kubernetes does not know.
pub fn quantity_suffix(suffix: &str) -> Option<QuantitySuffix> {
    if let Some(&(_, exponent)) = DECIMAL_SI_SUFFIXES.iter().find(|(name, _)| *name == suffix) {
        return Some(QuantitySuffix::DecimalSi(exponent));
    }
    if let Some(&(_, shift)) = BINARY_SI_SUFFIXES.iter().find(|(name, _)| *name == suffix) {
        return Some(QuantitySuffix::BinarySi(shift));
    }
    let exponent = suffix.strip_prefix(['e', 'E'])?;
    exponent.parse().ok().map(QuantitySuffix::Exponent)
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, and below a second `1.5ms`, `2µs`, `3ns`; `0s` for zero.
pub fn go_duration_string(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let magnitude = nanos.unsigned_abs();
    let fraction = |value: u64, digits: usize| {
        let text = format!("{value:0digits$}");
        let trimmed = text.trim_end_matches('0');
        if trimmed.is_empty() { String::new() } else { format!(".{trimmed}") }
    };
    if magnitude < 1_000_000_000 {
        let (unit, digits) = match magnitude {
            0..1_000 => ("ns", 0u32),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        let scale = 10u64.pow(digits);
        let part = if digits == 0 { String::new() } else { fraction(magnitude % scale, digits as usize) };
        return format!("{sign}{}{part}{unit}", magnitude / scale);
    }
    let seconds = magnitude / 1_000_000_000;
    let part = fraction(magnitude % 1_000_000_000, 9);
    let mut out = sign.to_string();
    if seconds >= 60 {
        if seconds >= 3600 {
            out.push_str(&format!("{}h", seconds / 3600));
        }
        out.push_str(&format!("{}m", (seconds / 60) % 60));
    }
    out.push_str(&format!("{}{part}s", seconds % 60));
    out
}

/// Parses a Kubernetes quantity (`100m`, `1.5Gi`, `2e3`) as apimachinery's `ParseQuantity` does.
pub fn parse_quantity(text: &str) -> Result<Quantity, String> {
    let invalid = || {
        format!("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text:?}")
    };
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end =
        body.find(|character: char| !(character.is_ascii_digit() || character == '.')).unwrap_or(body.len());
    let (number, suffix) = body.split_at(number_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(invalid());
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let (binary_shift, decimal_exponent): (u32, i64) = match quantity_suffix(suffix).ok_or_else(invalid)? {
        QuantitySuffix::DecimalSi(exponent) | QuantitySuffix::Exponent(exponent) => (0, exponent),
        QuantitySuffix::BinarySi(shift) => (shift, 0),
    };
    let exponent = decimal_exponent.saturating_sub(fraction.len() as i64);
    let mut quantity = if binary_shift == 0 {
        Quantity::new(negative, &format!("{whole}{fraction}"), exponent)
    } else {
        let mantissa: BigInt = format!("0{whole}{fraction}").parse().map_err(|_| invalid())?;
        Quantity::new(negative, &(mantissa << binary_shift).to_string(), exponent)
    };
    // Anything below a nano-unit rounds the magnitude up to the next nano-unit.
    if quantity.exponent < -9 {
        let kept = quantity.magnitude().saturating_add(9);
        let head = if kept <= 0 {
            BigInt::from(0)
        } else {
            quantity.digits[..kept as usize].parse().map_err(|_| invalid())?
        };
        quantity = Quantity::new(negative, &(head + 1u32).to_string(), -9);
    }
    if binary_shift > 0 {
        let cap = Quantity::new(negative, &i64::MAX.to_string(), 0);
        if quantity.cmp_magnitude(&cap).is_gt() {
            quantity = cap;
        }
    }
    Ok(quantity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_go_parse_duration() {
        let cases: &[(&str, Result<i64, ()>)] = &[
            ("0", Ok(0)),
            ("-0", Ok(0)),
            ("1h30m", Ok(5_400_000_000_000)),
            ("1.5s", Ok(1_500_000_000)),
            (".5s", Ok(500_000_000)),
            ("-2.5ms", Ok(-2_500_000)),
            ("1µs", Ok(1_000)),
            ("3μs1ns", Ok(3_001)),
            // 2^53 + 1 nanoseconds: a float would round it to 2^53.
            ("9007199254740993ns", Ok(9_007_199_254_740_993)),
            ("9223372036854775807ns", Ok(i64::MAX)),
            ("-9223372036854775808ns", Ok(i64::MIN)),
            ("9223372036854775808ns", Err(())),
            ("2562048h", Err(())),
            // Go's running sum wraps past 2^64 unchecked: 2^63 ns twice is 0.
            ("-9223372036854775808ns9223372036854775808ns", Ok(0)),
            ("", Err(())),
            ("5", Err(())),
            ("1x", Err(())),
            (".s", Err(())),
            ("1.000000", Err(())),
        ];
        for (text, expected) in cases {
            assert_eq!(go_duration_nanos(text).map_err(|_| ()), *expected, "{text}");
        }
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        let printed: Vec<String> =
            [0, 750, 750_000, 2_003_000, 1_500_000_000, 60_000_000_000, 5_400_000_000_001, -1_500_000]
                .iter()
                .map(|nanos| go_duration_string(*nanos))
                .collect();
        assert_eq!(printed, ["0s", "750ns", "750µs", "2.003ms", "1.5s", "1m0s", "1h30m0.000000001s", "-1.5ms"]);
    }

    #[test]
    fn quantities_follow_parse_quantity() {
        let cases: &[(&str, Result<i128, ()>)] = &[
            ("0", Ok(0)),
            ("100m", Ok(100_000_000)),
            ("1.5Gi", Ok(1_610_612_736 * NANO)),
            ("2e3", Ok(2_000 * NANO)),
            ("1E3", Ok(1_000 * NANO)),
            ("-1k", Ok(-1_000 * NANO)),
            // Exact past 2^53: the two differ by one unit.
            ("9007199254740993", Ok(9_007_199_254_740_993 * NANO)),
            ("9007199254740992", Ok(9_007_199_254_740_992 * NANO)),
            // Sub-nano amounts round away from zero.
            ("0.0000000001", Ok(1)),
            ("-1.0000000001", Ok(-(NANO + 1))),
            ("1e-100", Ok(1)),
            ("1e-9223372036854775808", Ok(1)),
            // Decimal amounts are not capped (only binary ones are): past an i128 of nano-units, CEL's
            // quantity type reports the range.
            ("99999999999999999999", Ok(99_999_999_999_999_999_999 * NANO)),
            ("1e100", Err(())),
            ("8Ei", Ok(i64::MAX as i128 * NANO)),
            ("1.2.3", Err(())),
            ("1x", Err(())),
            ("", Err(())),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_quantity(text).ok().and_then(|quantity| quantity.nano()).ok_or(()), *expected, "{text}");
        }
    }

    /// Comparison is exact at any size: the decimal amounts are inf.Dec values, never capped.
    #[test]
    fn quantities_compare_exactly_at_any_size() {
        let quantity = |text: &str| parse_quantity(text).expect("a quantity");
        let long = "7".repeat(600);
        assert!(quantity(&format!("{long}8")) > quantity(&format!("{long}7")));
        assert!(quantity("1e1000000000") > quantity("9e999999999"));
        assert!(quantity("-1e1000000000") < quantity("-9e999999999"));
        assert_eq!(quantity("1500m"), quantity("1.5"));
        assert_eq!(quantity("1k"), quantity("1000"));
        assert!(quantity("1Ki") > quantity("1k"));
        assert!(quantity("-1") < quantity("0") && quantity("0") < quantity("1n"));
        // Binary amounts stop at 2^63-1 whole units.
        assert_eq!(quantity("16Ei"), quantity("8Ei"));
    }
}
