//! Go durations and Kubernetes quantities read exactly, in integer nanoseconds and nano-units, so that
//! comparisons agree with Go's `time.Duration` and apimachinery's `resource.Quantity` beyond 2^53.

use num_bigint::BigInt;

/// Nanoseconds in a second, and nano-units in a whole quantity.
pub const NANO: i128 = 1_000_000_000;

/// The largest quantity Kubernetes holds: `ParseQuantity` caps every value at 2^63-1 (whole units).
const QUANTITY_MAX_NANO: i128 = i64::MAX as i128 * NANO;

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
        total += value;
        if total > LIMIT {
            return Err(overflow());
        }
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| overflow())
}

/// Parses a Kubernetes quantity (`100m`, `1.5Gi`, `2e3`) into nano-units as apimachinery's
/// `ParseQuantity` holds it: exact, rounded away from zero to the nano, capped at ±(2^63-1).
pub fn quantity_nanos(text: &str) -> Result<i128, String> {
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
    let digits = format!("{whole}{fraction}");
    let (binary_shift, decimal_exponent): (u32, i64) = match suffix {
        "" => (0, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        other => {
            let exponent = other.strip_prefix(['e', 'E']).ok_or_else(invalid)?;
            let exponent: i64 = exponent.parse().map_err(|_| invalid())?;
            (0, exponent)
        }
    };
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Ok(0);
    }
    // value = digits * 2^shift * 10^power nano-units.
    let power = decimal_exponent - fraction.len() as i64 + 9;
    let magnitude_digits = significant.len() as i64 + power;
    let nano = if magnitude_digits > 40 {
        // Far above the cap whatever the digits; spares building a number with millions of digits.
        QUANTITY_MAX_NANO
    } else if magnitude_digits < -20 {
        // Far below one nano-unit: Kubernetes rounds any non-zero amount up to the smallest one.
        1
    } else {
        let mantissa: BigInt = significant.parse().map_err(|_| invalid())?;
        let mantissa = mantissa << binary_shift;
        let ten = BigInt::from(10);
        let scaled = if power >= 0 {
            mantissa * ten.pow(power as u32)
        } else {
            let divisor = ten.pow((-power) as u32);
            (mantissa + &divisor - 1) / divisor
        };
        i128::try_from(scaled).map_or(QUANTITY_MAX_NANO, |value| value.min(QUANTITY_MAX_NANO))
    };
    Ok(if negative { -nano } else { nano })
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
            // Sub-nano amounts round away from zero; huge ones stop at 2^63-1.
            ("0.0000000001", Ok(1)),
            ("-1.0000000001", Ok(-(NANO + 1))),
            ("1e-100", Ok(1)),
            ("1e100", Ok(QUANTITY_MAX_NANO)),
            ("99999999999999999999", Ok(QUANTITY_MAX_NANO)),
            ("1.2.3", Err(())),
            ("1x", Err(())),
            ("", Err(())),
        ];
        for (text, expected) in cases {
            assert_eq!(quantity_nanos(text).map_err(|_| ()), *expected, "{text}");
        }
    }
}
