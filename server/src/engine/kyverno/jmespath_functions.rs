//! Kyverno's custom JMESPath functions (strings, regex, arithmetic on numbers, quantities and durations,
//! time, encoding, images, lookups) registered on a shared `jmespath::Runtime`.

use crate::engine::digest;
use std::sync::OnceLock;

use base64::Engine as _;
use jmespath::{Context, ErrorReason, JmespathError, Rcvar, Runtime, Variable};
use serde_json::{Map, Value, json};

use super::pattern::wildcard_match;

/// The runtime with the standard functions and every Kyverno function.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let mut runtime = Runtime::new();
        runtime.register_builtin_functions();
        for (name, function) in FUNCTIONS {
            let function = *function;
            let name_owned = name.to_string();
            runtime.register_function(
                name,
                Box::new(move |args: &[Rcvar], ctx: &mut Context<'_>| {
                    let values: Vec<Value> = args.iter().map(to_value).collect();
                    match function(&values) {
                        Ok(result) => Ok(Rcvar::new(Variable::try_from(result).unwrap_or(Variable::Null))),
                        Err(message) => Err(JmespathError::new(
                            ctx.expression,
                            ctx.offset,
                            ErrorReason::Parse(format!("JMESPath function '{name_owned}': {message}")),
                        )),
                    }
                }),
            );
        }
        runtime.register_function(
            super::jmespath_budget::CHECKPOINT,
            Box::new(|args: &[Rcvar], ctx: &mut Context<'_>| {
                super::jmespath_budget::checkpoint(args)
                    .map_err(|message| JmespathError::new(ctx.expression, ctx.offset, ErrorReason::Parse(message)))
            }),
        );
        runtime.register_function(
            NULL_GUARD,
            Box::new(|args: &[Rcvar], ctx: &mut Context<'_>| {
                let (Some(subject), Some(Some(ast))) = (args.first(), args.get(1).map(|arg| arg.as_expref())) else {
                    return Ok(Rcvar::new(Variable::Null));
                };
                if subject.is_null() {
                    return Ok(Rcvar::new(Variable::Null));
                }
                jmespath::interpret(subject, ast, ctx)
            }),
        );
        runtime
    })
}

/// The internal function that evaluates `a.f(...)` only when `a` is not null (see `variables`).
pub const NULL_GUARD: &str = "__kyverno_null_guard";

/// Converts a JMESPath variable to a JSON value.
pub fn to_value(variable: &Rcvar) -> Value {
    serde_json::to_value(&**variable).unwrap_or(Value::Null)
}

type KyvernoFunction = fn(&[Value]) -> Result<Value, String>;

/// Every function Kyverno adds to JMESPath, by name.
pub const FUNCTIONS: &[(&str, KyvernoFunction)] = &[
    ("compare", compare),
    ("equal_fold", equal_fold),
    ("replace", replace),
    ("replace_all", replace_all),
    ("to_upper", to_upper),
    ("to_lower", to_lower),
    ("trim", trim),
    ("trim_prefix", trim_prefix),
    ("split", split),
    ("regex_replace_all", regex_replace_all),
    ("regex_replace_all_literal", regex_replace_all_literal),
    ("regex_match", regex_match),
    ("pattern_match", pattern_match),
    ("label_match", label_match),
    ("to_boolean", to_boolean),
    ("add", add),
    ("sum", sum),
    ("subtract", subtract),
    ("multiply", multiply),
    ("divide", divide),
    ("modulo", modulo),
    ("round", round),
    ("base64_decode", base64_decode),
    ("base64_encode", base64_encode),
    ("time_since", time_since),
    ("time_now", time_now),
    ("time_now_utc", time_now_utc),
    ("path_canonicalize", path_canonicalize),
    ("truncate", truncate),
    ("semver_compare", semver_compare),
    ("parse_json", parse_json),
    ("parse_yaml", parse_yaml),
    ("lookup", lookup),
    ("items", items),
    ("object_from_lists", object_from_lists),
    ("random", random),
    ("x509_decode", x509_decode),
    ("time_to_cron", time_to_cron),
    ("time_add", time_add),
    ("time_parse", time_parse),
    ("time_utc", time_utc),
    ("time_diff", time_diff),
    ("time_before", time_before),
    ("time_after", time_after),
    ("time_between", time_between),
    ("time_truncate", time_truncate),
    ("image_normalize", image_normalize),
    ("is_external_url", is_external_url),
    ("sha256", sha256),
    ("sha1", sha1),
    ("md5", md5),
];

fn arity(args: &[Value], count: usize) -> Result<(), String> {
    if args.len() != count {
        return Err(format!("expected {count} arguments, got {}", args.len()));
    }
    Ok(())
}

fn string_arg(args: &[Value], index: usize) -> Result<&str, String> {
    args.get(index)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("invalid type, argument {} must be a string", index + 1))
}

/// A string or a number written as a string (regex functions accept both).
fn string_or_number_arg(args: &[Value], index: usize) -> Result<String, String> {
    match args.get(index) {
        Some(value @ (Value::String(_) | Value::Number(_))) => Ok(iface_to_string(value).unwrap_or_default()),
        _ => Err(format!("invalid type, argument {} must be a string or a number", index + 1)),
    }
}

/// Kyverno's `ifaceToString`: a string as it is, a number (a float64 in Go) printed at float32
/// precision (`16777217` reads `16777216`), a boolean as `true`/`false`; nothing else.
fn iface_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(format!("{}", number.as_f64().unwrap_or(0.0) as f32)),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn number_arg(args: &[Value], index: usize) -> Result<f64, String> {
    args.get(index)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("invalid type, argument {} must be a number", index + 1))
}

fn number(value: f64) -> Value {
    super::go_text::go_float_value(value)
}

fn compare(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let (left, right) = (string_arg(args, 0)?, string_arg(args, 1)?);
    Ok(json!(match left.cmp(right) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }))
}

fn equal_fold(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let folded = |text: &str| text.chars().map(simple_fold).collect::<Vec<char>>();
    Ok(json!(folded(string_arg(args, 0)?) == folded(string_arg(args, 1)?)))
}

/// Go's per-rune (simple) case mapping: a character whose full mapping is several characters keeps
/// itself when upper-cased (`ß`), and takes the first when lower-cased (`İ` is `i`).
fn simple_upper(character: char) -> char {
    let mut mapped = character.to_uppercase();
    match (mapped.next(), mapped.next()) {
        (Some(single), None) => single,
        _ => character,
    }
}

fn simple_lower(character: char) -> char {
    character.to_lowercase().next().unwrap_or(character)
}

/// A representative of the character's case-folding orbit, as `strings.EqualFold` compares them: the
/// simple lower case, with the few characters that fold into another's orbit (`ς`, `ſ`, `µ`, ...) mapped.
fn simple_fold(character: char) -> char {
    // `İ` folds with nothing but itself (its lower case is two characters).
    if character == 'İ' {
        return character;
    }
    match simple_lower(character) {
        'ς' => 'σ',
        'ſ' => 's',
        'µ' => 'μ',
        'ϐ' => 'β',
        'ϑ' => 'θ',
        'ϕ' => 'φ',
        'ϖ' => 'π',
        'ϰ' => 'κ',
        'ϱ' => 'ρ',
        'ϵ' => 'ε',
        '\u{1FBE}' => 'ι',
        '\u{1E9B}' => '\u{1E61}',
        other => other,
    }
}

fn replace(args: &[Value]) -> Result<Value, String> {
    arity(args, 4)?;
    let (text, old, new) = (string_arg(args, 0)?, string_arg(args, 1)?, string_arg(args, 2)?);
    let count = number_arg(args, 3)?;
    if count < 0.0 {
        check_replacement_size(text, old, new, None)?;
        return Ok(json!(text.replace(old, new)));
    }
    check_replacement_size(text, old, new, Some(count as usize))?;
    Ok(json!(text.replacen(old, new, count as usize)))
}

fn replace_all(args: &[Value]) -> Result<Value, String> {
    arity(args, 3)?;
    let (text, old, new) = (string_arg(args, 0)?, string_arg(args, 1)?, string_arg(args, 2)?);
    check_replacement_size(text, old, new, None)?;
    Ok(json!(text.replace(old, new)))
}

fn to_upper(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(json!(string_arg(args, 0)?.chars().map(simple_upper).collect::<String>()))
}

fn to_lower(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(json!(string_arg(args, 0)?.chars().map(simple_lower).collect::<String>()))
}

fn trim(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let cutset: Vec<char> = string_arg(args, 1)?.chars().collect();
    Ok(json!(string_arg(args, 0)?.trim_matches(|c| cutset.contains(&c))))
}

fn trim_prefix(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let (text, prefix) = (string_arg(args, 0)?, string_arg(args, 1)?);
    Ok(json!(text.strip_prefix(prefix).unwrap_or(text)))
}

fn split(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let (text, separator) = (string_arg(args, 0)?, string_arg(args, 1)?);
    if separator.is_empty() {
        return Ok(json!(text.chars().map(|c| c.to_string()).collect::<Vec<_>>()));
    }
    Ok(json!(text.split(separator).collect::<Vec<_>>()))
}

/// The largest compiled program of one regular expression (the regex crate's default is 10 MiB); a
/// larger pattern is an error, not seconds of compiling.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Budget steps one compilation costs (it may take milliseconds): a query that keeps compiling new
/// patterns stops after a few hundred.
const REGEX_COMPILE_STEPS: u64 = 10_000;

/// The longest string a replacing function may build.
pub const MAX_RESULT_BYTES: usize = 1 << 24;

/// Compiles a pattern, at most once per thread for the most recent patterns: a policy applies the same
/// expression to every element of a list.
fn compile_regex(pattern: &str) -> Result<std::sync::Arc<regex::Regex>, String> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<String, std::sync::Arc<regex::Regex>>> = RefCell::new(HashMap::new());
    }
    if let Some(found) = CACHE.with(|cache| cache.borrow().get(pattern).cloned()) {
        return Ok(found);
    }
    super::jmespath_budget::charge(REGEX_COMPILE_STEPS + pattern.len() as u64)?;
    let compiled = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| format!("invalid regex {pattern:?}: {error}"))?;
    let compiled = std::sync::Arc::new(compiled);
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= 16 {
            cache.clear();
        }
        cache.insert(pattern.to_string(), compiled.clone());
    });
    Ok(compiled)
}

/// Replaces every match, expanding `$1`-style references unless `literal`, and stops with an error
/// once the result outgrows [`MAX_RESULT_BYTES`] (a replacement repeated at every position of a long
/// text).
fn replace_matches(regex: &regex::Regex, source: &str, replacement: &str, literal: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut last = 0;
    for captures in regex.captures_iter(source) {
        let Some(whole) = captures.get(0) else { continue };
        out.push_str(&source[last..whole.start()]);
        if literal {
            out.push_str(replacement);
        } else {
            captures.expand(replacement, &mut out);
        }
        last = whole.end();
        if out.len() > MAX_RESULT_BYTES {
            return Err(format!("the result is longer than {MAX_RESULT_BYTES} bytes"));
        }
    }
    out.push_str(&source[last..]);
    Ok(out)
}

/// Fails when replacing `count` occurrences of `old` by `new` in `text` would outgrow [`MAX_RESULT_BYTES`].
fn check_replacement_size(text: &str, old: &str, new: &str, count: Option<usize>) -> Result<(), String> {
    let occurrences = if old.is_empty() { text.chars().count() + 1 } else { text.matches(old).count() };
    let occurrences = count.map_or(occurrences, |count| count.min(occurrences));
    let length = text.len().saturating_add(occurrences.saturating_mul(new.len()));
    if length > MAX_RESULT_BYTES {
        return Err(format!("the result is longer than {MAX_RESULT_BYTES} bytes"));
    }
    Ok(())
}

fn regex_replace_all(args: &[Value]) -> Result<Value, String> {
    arity(args, 3)?;
    let regex = compile_regex(string_arg(args, 0)?)?;
    let source = string_or_number_arg(args, 1)?;
    let replacement = string_or_number_arg(args, 2)?;
    Ok(json!(replace_matches(&regex, &source, &replacement, false)?))
}

fn regex_replace_all_literal(args: &[Value]) -> Result<Value, String> {
    arity(args, 3)?;
    let regex = compile_regex(string_arg(args, 0)?)?;
    let source = string_or_number_arg(args, 1)?;
    let replacement = string_or_number_arg(args, 2)?;
    Ok(json!(replace_matches(&regex, &source, &replacement, true)?))
}

fn regex_match(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let regex = compile_regex(string_arg(args, 0)?)?;
    Ok(json!(regex.is_match(&string_or_number_arg(args, 1)?)))
}

fn pattern_match(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    Ok(json!(wildcard_match(string_arg(args, 0)?, &string_or_number_arg(args, 1)?)))
}

fn label_match(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let (Some(selector), Some(labels)) = (args[0].as_object(), args[1].as_object()) else {
        return Err("invalid type, arguments must be objects".to_string());
    };
    Ok(json!(selector.iter().all(|(key, value)| labels.get(key) == Some(value))))
}

fn to_boolean(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    match string_arg(args, 0)?.to_lowercase().as_str() {
        "true" => Ok(json!(true)),
        "false" => Ok(json!(false)),
        other => Err(format!("lowercase argument must be 'true' or 'false' (provided: {other:?})")),
    }
}

fn add(args: &[Value]) -> Result<Value, String> {
    super::arithmetic::arithmetic("add", args)
}

fn subtract(args: &[Value]) -> Result<Value, String> {
    super::arithmetic::arithmetic("subtract", args)
}

fn multiply(args: &[Value]) -> Result<Value, String> {
    super::arithmetic::arithmetic("multiply", args)
}

fn divide(args: &[Value]) -> Result<Value, String> {
    super::arithmetic::arithmetic("divide", args)
}

fn modulo(args: &[Value]) -> Result<Value, String> {
    super::arithmetic::arithmetic("modulo", args)
}

fn sum(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    let Some(items) = args[0].as_array() else {
        return Err("invalid type, argument must be an array".to_string());
    };
    let Some(first) = items.first() else {
        return Err("at least one element in the array is required".to_string());
    };
    let mut total = first.clone();
    for item in &items[1..] {
        total = super::arithmetic::arithmetic("add", &[total, item.clone()])?;
    }
    Ok(total)
}

fn round(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let value = number_arg(args, 0)?;
    let digits = number_arg(args, 1)?;
    if digits.fract() != 0.0 || digits < 0.0 {
        return Err("digits must be a non-negative integer".to_string());
    }
    let scale = 10f64.powi(digits as i32);
    Ok(number((value * scale).round() / scale))
}

fn base64_decode(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    // Go's StdEncoding skips line breaks and, not being strict, accepts non-zero bits after the last
    // character; padding stays required.
    const GO_STANDARD: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
    );
    let text: String = string_arg(args, 0)?.chars().filter(|character| !matches!(character, '\r' | '\n')).collect();
    let bytes = GO_STANDARD.decode(text).map_err(|error| error.to_string())?;
    Ok(json!(String::from_utf8_lossy(&bytes)))
}

fn base64_encode(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(json!(base64::engine::general_purpose::STANDARD.encode(string_arg(args, 0)?)))
}

type Time = chrono::DateTime<chrono::FixedOffset>;

/// Converts a Go time layout (reference time `2006-01-02T15:04:05Z07:00`) to a chrono format.
fn go_layout_to_chrono(layout: &str) -> String {
    const TOKENS: &[(&str, &str)] = &[
        ("2006", "%Y"),
        ("Z07:00", "%:z"),
        ("-07:00", "%:z"),
        ("-0700", "%z"),
        ("Z0700", "%z"),
        ("MST", "%Z"),
        ("January", "%B"),
        ("Jan", "%b"),
        ("Monday", "%A"),
        ("Mon", "%a"),
        (".000000000", "%.9f"),
        (".000000", "%.6f"),
        (".000", "%.3f"),
        (".999999999", "%.f"),
        ("01", "%m"),
        ("02", "%d"),
        ("_2", "%e"),
        ("15", "%H"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("06", "%y"),
        ("PM", "%p"),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (go, chrono_token) in TOKENS {
            if let Some(after) = rest.strip_prefix(go) {
                out.push_str(chrono_token);
                rest = after;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        let c = chars.next().unwrap_or(' ');
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

fn parse_time(layout: &str, text: &str) -> Result<Time, String> {
    if layout == "2006-01-02T15:04:05Z07:00" || layout.is_empty() {
        return chrono::DateTime::parse_from_rfc3339(text).map_err(|error| format!("invalid time {text:?}: {error}"));
    }
    let format = go_layout_to_chrono(layout);
    if let Ok(time) = chrono::DateTime::parse_from_str(text, &format) {
        return Ok(time);
    }
    chrono::NaiveDateTime::parse_from_str(text, &format)
        .map(|naive| naive.and_utc().fixed_offset())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, &format)
                .map(|date| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().fixed_offset())
        })
        .map_err(|error| format!("invalid time {text:?} for layout {layout:?}: {error}"))
}

fn parse_rfc3339(text: &str) -> Result<Time, String> {
    parse_time("", text)
}

/// Go's `time.RFC3339` layout: whole seconds (a fraction is dropped), `Z` for UTC.
fn rfc3339(time: Time) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `t2.Sub(t1)` as a Go duration string: exact nanoseconds, saturated at Go's duration range.
fn go_sub(end: Time, start: Time) -> String {
    let nanos = |time: Time| i128::from(time.timestamp()) * 1_000_000_000 + i128::from(time.timestamp_subsec_nanos());
    let difference = (nanos(end) - nanos(start)).clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    crate::engine::units::go_duration_string(difference as i64)
}

/// A Go duration argument (`time.ParseDuration`), in nanoseconds.
fn duration_arg(args: &[Value], index: usize) -> Result<i64, String> {
    crate::engine::units::go_duration_nanos(string_arg(args, index)?)
}

thread_local! {
    /// The caller's current time for this thread's evaluation; the engine never reads the clock.
    static CURRENT_TIME: std::cell::RefCell<Option<Time>> = const { std::cell::RefCell::new(None) };
}

/// Makes `time` the current time for JMESPath evaluations on this thread until the guard is dropped.
pub struct ClockGuard {
    previous: Option<Time>,
}

impl ClockGuard {
    pub fn set(time: Option<chrono::DateTime<chrono::Utc>>) -> ClockGuard {
        let time = time.map(|time| time.fixed_offset());
        let previous = CURRENT_TIME.with(|current| current.replace(time));
        ClockGuard { previous }
    }
}

impl Drop for ClockGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT_TIME.with(|current| *current.borrow_mut() = previous);
    }
}

fn now() -> Result<Time, String> {
    CURRENT_TIME
        .with(|current| *current.borrow())
        .ok_or_else(|| "the current time was not provided by the caller, so time functions cannot read it".to_string())
}

fn time_since(args: &[Value]) -> Result<Value, String> {
    arity(args, 3)?;
    let layout = string_arg(args, 0)?;
    let start = parse_time(layout, string_arg(args, 1)?)?;
    let end_text = string_arg(args, 2)?;
    let end = if end_text.is_empty() { now()? } else { parse_time(layout, end_text)? };
    Ok(json!(go_sub(end, start)))
}

fn time_now(args: &[Value]) -> Result<Value, String> {
    arity(args, 0)?;
    // The caller's time keeps its offset, which stands in for the local zone.
    Ok(json!(rfc3339(now()?)))
}

fn time_now_utc(args: &[Value]) -> Result<Value, String> {
    arity(args, 0)?;
    Ok(json!(rfc3339(now()?.with_timezone(&chrono::Utc).fixed_offset())))
}

fn time_to_cron(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    use chrono::{Datelike, Timelike};
    let time = parse_rfc3339(string_arg(args, 0)?)?;
    Ok(json!(format!(
        "{} {} {} {} {}",
        time.minute(),
        time.hour(),
        time.day(),
        time.month(),
        time.weekday().num_days_from_sunday()
    )))
}

fn time_add(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let time = parse_rfc3339(string_arg(args, 0)?)?;
    let shifted = time + chrono::Duration::nanoseconds(duration_arg(args, 1)?);
    Ok(json!(rfc3339(shifted)))
}

fn time_parse(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let layout = string_arg(args, 0)?;
    let text = string_arg(args, 1)?;
    // A layout that is a whole number asks for epoch seconds.
    if layout.parse::<i64>().is_ok() {
        let seconds = text.parse::<i64>().map_err(|_| format!("strconv.ParseInt: parsing {text:?}: invalid syntax"))?;
        let time = chrono::DateTime::from_timestamp(seconds, 0).ok_or("invalid epoch")?;
        return Ok(json!(rfc3339(time.fixed_offset())));
    }
    Ok(json!(rfc3339(parse_time(layout, text)?)))
}

fn time_utc(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    let time = parse_rfc3339(string_arg(args, 0)?)?;
    Ok(json!(rfc3339(time.with_timezone(&chrono::Utc).fixed_offset())))
}

fn time_diff(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let start = parse_rfc3339(string_arg(args, 0)?)?;
    let end = parse_rfc3339(string_arg(args, 1)?)?;
    Ok(json!(go_sub(end, start)))
}

fn time_before(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    Ok(json!(parse_rfc3339(string_arg(args, 0)?)? < parse_rfc3339(string_arg(args, 1)?)?))
}

fn time_after(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    Ok(json!(parse_rfc3339(string_arg(args, 0)?)? > parse_rfc3339(string_arg(args, 1)?)?))
}

fn time_between(args: &[Value]) -> Result<Value, String> {
    arity(args, 3)?;
    let time = parse_rfc3339(string_arg(args, 0)?)?;
    let start = parse_rfc3339(string_arg(args, 1)?)?;
    let end = parse_rfc3339(string_arg(args, 2)?)?;
    Ok(json!(time > start && time < end))
}

/// `t.Truncate(d)`: down to a multiple of `d` since Go's zero time (January 1 of year 1, UTC), whatever the
/// offset the time is shown in; a non-positive `d` leaves it as it is.
fn time_truncate(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let time = parse_rfc3339(string_arg(args, 0)?)?;
    let step = i128::from(duration_arg(args, 1)?);
    if step <= 0 {
        return Ok(json!(rfc3339(time)));
    }
    // Seconds from year 1 to the Unix epoch.
    const ZERO_TO_UNIX: i128 = 62_135_596_800;
    let since_zero =
        (i128::from(time.timestamp()) + ZERO_TO_UNIX) * 1_000_000_000 + i128::from(time.timestamp_subsec_nanos());
    let truncated = since_zero - since_zero.rem_euclid(step) - ZERO_TO_UNIX * 1_000_000_000;
    let seconds = i64::try_from(truncated.div_euclid(1_000_000_000)).map_err(|_| "time out of range")?;
    let nanos = truncated.rem_euclid(1_000_000_000) as u32;
    let result =
        chrono::DateTime::from_timestamp(seconds, nanos).ok_or("time out of range")?.with_timezone(time.offset());
    Ok(json!(rfc3339(result)))
}

fn path_canonicalize(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    let path = string_arg(args, 0)?;
    // `filepath.Join` of an empty path is empty.
    if path.is_empty() {
        return Ok(json!(""));
    }
    // Go's filepath.Clean: drop empty and `.` segments, resolve `..`.
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    Ok(json!(match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }))
}

fn truncate(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let text = string_arg(args, 0)?;
    let length = number_arg(args, 1)?.max(0.0) as usize;
    Ok(json!(text.chars().take(length).collect::<String>()))
}

fn semver_compare(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    super::blang_semver::semver_compare(string_arg(args, 0)?, string_arg(args, 1)?).map(Value::Bool)
}

fn parse_json(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    serde_json::from_str(string_arg(args, 0)?).map_err(|error| error.to_string())
}

fn parse_yaml(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    let documents = crate::syntax::parse_file(string_arg(args, 0)?);
    match documents.into_iter().next() {
        Some(document) if document.errors.is_empty() => Ok(document.yaml11_value()),
        Some(document) => Err(document.error_text()),
        None => Ok(Value::Null),
    }
}

fn lookup(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    match (&args[0], &args[1]) {
        (Value::Object(map), Value::String(key)) => Ok(map.get(key).cloned().unwrap_or(Value::Null)),
        (Value::Array(items), Value::Number(index)) => {
            let index = index.as_f64().unwrap_or(-1.0);
            if index.fract() != 0.0 {
                return Err("index must be an integer".to_string());
            }
            Ok(if index < 0.0 { Value::Null } else { items.get(index as usize).cloned().unwrap_or(Value::Null) })
        }
        _ => Err("invalid types, expected (object, string) or (array, number)".to_string()),
    }
}

fn items(args: &[Value]) -> Result<Value, String> {
    arity(args, 3)?;
    let (key_name, value_name) = (string_arg(args, 1)?, string_arg(args, 2)?);
    let mut out = Vec::new();
    match &args[0] {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                let mut entry = Map::new();
                entry.insert(key_name.to_string(), json!(key));
                entry.insert(value_name.to_string(), map[key].clone());
                out.push(Value::Object(entry));
            }
        }
        Value::Array(values) => {
            for (index, value) in values.iter().enumerate() {
                let mut entry = Map::new();
                entry.insert(key_name.to_string(), json!(index));
                entry.insert(value_name.to_string(), value.clone());
                out.push(Value::Object(entry));
            }
        }
        _ => return Err("invalid type, first argument must be an object or an array".to_string()),
    }
    Ok(Value::Array(out))
}

fn object_from_lists(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let (Some(keys), Some(values)) = (args[0].as_array(), args[1].as_array()) else {
        return Err("invalid types, arguments must be arrays".to_string());
    };
    let mut out = Map::new();
    for (index, key) in keys.iter().enumerate() {
        let Some(key) = iface_to_string(key) else {
            return Err("argument #1 is not of type StringArray".to_string());
        };
        out.insert(key, values.get(index).cloned().unwrap_or(Value::Null));
    }
    Ok(Value::Object(out))
}

fn random(_args: &[Value]) -> Result<Value, String> {
    // Not the network, but as unknowable before the run: the value differs on every run.
    Err(format!(
        "{NEEDS_THE_NETWORK}random() gives a different value on every run, so no run here stands for Kyverno's"
    ))
}

fn x509_decode(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    super::x509::decode(string_arg(args, 0)?)
}

fn image_normalize(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    let image = string_arg(args, 0)?;
    super::image_reference::image_info(image).map(|info| json!(info.reference()))
}

/// An image reference as Kyverno writes it back (`docker.io/nginx:latest` for `nginx`), or the text as
/// written when it is not a reference.
pub fn normalize_image(image: &str) -> String {
    super::image_reference::image_info(image).map_or_else(|_| image.to_string(), |info| info.reference())
}

/// Marks a function error that stands for an answer only the network could give: the query that met it
/// records an offline gap, and the result built on it is `unsupported`.
pub const NEEDS_THE_NETWORK: &str = "needs the network: ";

/// `is_external_url`: Go's `url.Parse`, then an IP host is internal when loopback or private (only those:
/// a link-local or unspecified address is external), and a name is resolved through DNS, which only the
/// network can answer.
fn is_external_url(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    let url = string_arg(args, 0)?;
    let after_scheme = match url.split_once("://") {
        Some((scheme, rest)) if !scheme.is_empty() && !scheme.contains('/') => rest,
        // No authority: the host is empty, and Go's resolver fails on an empty name.
        _ => return Err(format!("lookup {url:?}: no such host")),
    };
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|byte| byte.is_ascii_digit()))
            .map_or(host, |(host, _)| host)
    };
    if let Ok(address) = host.parse::<std::net::IpAddr>() {
        // Go's net.IP methods see an IPv4-mapped IPv6 address as its IPv4 address.
        let address = match address {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, std::net::IpAddr::V4),
            v4 => v4,
        };
        let internal = match address {
            std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
            std::net::IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        };
        return Ok(json!(!internal));
    }
    Err(format!("{NEEDS_THE_NETWORK}is_external_url resolves the host `{host}` through DNS"))
}

fn sha256(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(json!(digest::hex(&digest::sha256(string_arg(args, 0)?.as_bytes()))))
}

fn sha1(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(json!(digest::hex(&digest::sha1(string_arg(args, 0)?.as_bytes()))))
}

fn md5(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(json!(digest::hex(&digest::md5(string_arg(args, 0)?.as_bytes()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(expression: &str, data: Value, expect: Value) {
        let compiled = runtime().compile(expression).expect("expression compiles");
        let result = compiled.search(&data).map(|variable| to_value(&variable)).map_err(|error| error.to_string());
        assert_eq!(result, Ok(expect), "{expression}");
    }

    #[test]
    fn string_functions() {
        check("to_upper('abc')", json!({}), json!("ABC"));
        check("split('a,b', ',')", json!({}), json!(["a", "b"]));
        check("regex_replace_all('([a-z]+)-(\\d+)', 'ab-12', '$2')", json!({}), json!("12"));
        check("pattern_match('nginx:*', 'nginx:1')", json!({}), json!(true));
        check("truncate('abcdef', `3`)", json!({}), json!("abc"));
        check("path_canonicalize('/a//b/../c')", json!({}), json!("/a/c"));
    }

    #[test]
    fn arithmetic_and_time() {
        check("add(`1`, `2`)", json!({}), json!(3));
        check("sum(['1Gi', '1Gi'])", json!({}), json!("2Gi"));
        check("to_upper('straße')", json!({}), json!("STRAßE"));
        check("to_lower('İ')", json!({}), json!("i"));
        check("equal_fold('ΟΔΟΣ', 'οδος')", json!({}), json!(true));
        check("base64_decode('YWJj\nZGVm')", json!({}), json!("abcdef"));
        check("base64_decode('YR==')", json!({}), json!("a"));
        check("semver_compare('1.2.3-rc.1', '>=1.0.0')", json!({}), json!(true));
        check(
            "object_from_lists([`1`, `true`, 'a'], ['x', 'y'])",
            json!({}),
            json!({"1": "x", "true": "y", "a": null}),
        );
        check("regex_match('^16777216$', `16777217`)", json!({}), json!(true));
        check("is_external_url('http://169.254.169.254/latest')", json!({}), json!(true));
        check("is_external_url('http://[::ffff:10.0.0.1]:80/')", json!({}), json!(false));
        check("is_external_url('https://10.1.2.3:8443')", json!({}), json!(false));
        check("add('100m', '200m')", json!({}), json!("300m"));
        // Times print as RFC 3339 without a fraction; truncation counts from Go's zero time (a Monday).
        check("time_utc('2023-01-01T02:00:00.5+02:00')", json!({}), json!("2023-01-01T00:00:00Z"));
        check("time_truncate('2023-01-05T12:00:00Z', '168h')", json!({}), json!("2023-01-02T00:00:00Z"));
        check(
            "time_diff('1000-01-01T00:00:00Z', '3000-01-01T00:00:00Z')",
            json!({}),
            json!("2562047h47m16.854775807s"),
        );
        check("time_parse('1', '1700000000')", json!({}), json!("2023-11-14T22:13:20Z"));
        check("time_add('2023-01-01T00:00:00Z', '1h30m')", json!({}), json!("2023-01-01T01:30:00Z"));
        check("divide('10Mi', '1Mi')", json!({}), json!(10));
        check("time_diff('2023-01-01T00:00:00Z', '2023-01-01T01:30:00Z')", json!({}), json!("1h30m0s"));
        check("semver_compare('1.2.3', '>=1.0.0 <2.0.0')", json!({}), json!(true));
    }

    #[test]
    fn lookups_images_and_digests() {
        check("items(@, 'k', 'v')", json!({"b": 1, "a": 2}), json!([{"k": "a", "v": 2}, {"k": "b", "v": 1}]));
        check("image_normalize('nginx')", json!({}), json!("docker.io/nginx:latest"));
        check("sha256('abc')", json!({}), json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        check("md5('abc')", json!({}), json!("900150983cd24fb0d6963f7d28e17f72"));
        check("sha1('abc')", json!({}), json!("a9993e364706816aba3e25717850c26c9cd0d89d"));
    }

    #[test]
    fn the_clock_comes_from_the_caller() {
        let expression = runtime().compile("time_now_utc()").expect("expression compiles");
        let without_clock = expression.search(json!({})).map(|value| to_value(&value));
        assert!(without_clock.is_err(), "{without_clock:?}");
        let time = chrono::DateTime::parse_from_rfc3339("2024-05-06T07:08:09+02:00").expect("a time");
        let _clock = ClockGuard::set(Some(time.to_utc()));
        let with_clock = expression.search(json!({})).map(|value| to_value(&value)).map_err(|error| error.to_string());
        assert_eq!(with_clock, Ok(json!("2024-05-06T05:08:09Z")));
    }
}
