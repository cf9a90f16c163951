//! CEL functions: the standard library, the cel-go extensions Kubernetes enables (strings, lists, sets,
//! math, optional, base64), and dispatch into the Kubernetes and Kyverno libraries.

use std::cmp::Ordering;
use std::sync::Arc;

use super::catalog;
use super::library;
use super::runtime::{EvalResult, Interpreter, compare, index_value};
use super::value::{Numeric, Object, Val, format_double, numeric, values_equal};

/// The error of a call nothing here answers: why the function is not evaluated offline when the catalog
/// says so, else cel-go's message for a missing overload.
fn unanswered(name: &str, args: &[Val]) -> String {
    match catalog::unsupported_reason(name) {
        Some(reason) => format!("{name}() is not evaluated offline: {reason}"),
        None => no_overload(name, args),
    }
}

fn no_overload(name: &str, args: &[Val]) -> String {
    let types: Vec<&str> = args.iter().map(Val::type_name).collect();
    format!("no matching overload for '{name}' applied to '({})'", types.join(", "))
}

fn arity(name: &str, args: &[Val], expected: usize) -> Result<(), String> {
    if args.len() == expected { Ok(()) } else { Err(no_overload(name, args)) }
}

fn int_argument(value: &Val) -> Option<i64> {
    match value {
        Val::Int(integer) => Some(*integer),
        Val::Uint(unsigned) => i64::try_from(*unsigned).ok(),
        _ => None,
    }
}

/// kyverno-authz's HTTP request accessors (pkg/cel/libs/authz/http/impl.go) on the request's attributes:
/// `Header` reads `textproto.MIMEHeader.Values`, under Go's canonical form of the name; `QueryParam` reads
/// the parameter as written. An absent one is an empty list.
fn request_values(name: &str, attributes: &Val, args: &[Val]) -> EvalResult {
    let [Val::String(key)] = args else {
        return Err(no_overload(name, args));
    };
    let (field, key) = match name {
        "Header" => ("header", canonical_mime_header_key(key)),
        _ => ("query", key.to_string()),
    };
    let values = attributes.map_get(&Val::string(field)).and_then(|fields| fields.map_get(&Val::string(key)));
    Ok(match values {
        Some(list @ Val::List(_)) => list.clone(),
        _ => Val::list(Vec::new()),
    })
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: the first letter and each letter after a hyphen upper case,
/// the others lower case; a name with a byte outside the HTTP token characters is left as it is.
fn canonical_mime_header_key(key: &str) -> String {
    let token = |byte: u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte);
    if !key.bytes().all(token) {
        return key.to_string();
    }
    let mut upper = true;
    key.chars()
        .map(|character| {
            let converted = if upper { character.to_ascii_uppercase() } else { character.to_ascii_lowercase() };
            upper = character == '-';
            converted
        })
        .collect()
}

/// Calls a global function or operator.
pub fn call_global(interpreter: &Interpreter, name: &str, args: Vec<Val>) -> EvalResult {
    match (name, args.as_slice()) {
        ("_+_", [a, b]) => {
            // Concatenation copies both sides: doubling a string forty times must run out of budget,
            // not of memory.
            let copied = match (a, b) {
                (Val::String(x), Val::String(y)) => x.len() + y.len(),
                (Val::Bytes(x), Val::Bytes(y)) => x.len() + y.len(),
                (Val::List(x), Val::List(y)) => (x.len() + y.len()) * 8,
                _ => 0,
            };
            interpreter.charge(copied)?;
            add(a, b)
        }
        ("_-_", [a, b]) => subtract(a, b),
        ("_*_", [a, b]) => arithmetic(name, a, b),
        ("_/_", [a, b]) => arithmetic(name, a, b),
        ("_%_", [a, b]) => arithmetic(name, a, b),
        ("-_", [a]) => match a {
            Val::Int(integer) => integer.checked_neg().map(Val::Int).ok_or_else(|| "integer overflow".to_string()),
            Val::Double(float) => Ok(Val::Double(-float)),
            Val::Duration(nanos) => Ok(Val::Duration(-nanos)),
            _ => Err(no_overload(name, &args)),
        },
        ("!_", [Val::Bool(flag)]) => Ok(Val::Bool(!flag)),
        ("@not_strictly_false", [value]) => Ok(Val::Bool(!matches!(value, Val::Bool(false)))),
        ("_<_", [a, b]) => Ok(Val::Bool(compare(a, b)? == Ordering::Less)),
        ("_<=_", [a, b]) => Ok(Val::Bool(compare(a, b)? != Ordering::Greater)),
        ("_>_", [a, b]) => Ok(Val::Bool(compare(a, b)? == Ordering::Greater)),
        ("_>=_", [a, b]) => Ok(Val::Bool(compare(a, b)? != Ordering::Less)),
        ("@in", [item, container]) => match container {
            Val::List(items) => Ok(Val::Bool(items.iter().any(|each| values_equal(each, item)))),
            Val::Map(_) => Ok(Val::Bool(container.map_get(item).is_some())),
            _ => Err(no_overload(name, &args)),
        },
        ("_[_]", [operand, index]) => index_value(operand, index),
        ("size", [value]) => size(value),
        ("matches", [Val::String(subject), Val::String(pattern)]) => {
            Ok(Val::Bool(interpreter.regex(pattern)?.is_match(subject)))
        }
        ("int", [value]) => to_int(value),
        ("uint", [value]) => to_uint(value),
        ("double", [value]) => to_double(value),
        ("string", [value]) => to_string(value),
        ("bool", [value]) => match value {
            Val::Bool(flag) => Ok(Val::Bool(*flag)),
            Val::String(text) => match text.as_ref() {
                "true" | "TRUE" | "True" | "t" | "1" => Ok(Val::Bool(true)),
                "false" | "FALSE" | "False" | "f" | "0" => Ok(Val::Bool(false)),
                _ => Err(format!("type conversion error from 'string' to 'bool': {text}")),
            },
            _ => Err(no_overload(name, &args)),
        },
        ("bytes", [value]) => match value {
            Val::String(text) => Ok(Val::Bytes(text.as_bytes().to_vec().into())),
            Val::Bytes(_) => Ok(value.clone()),
            _ => Err(no_overload(name, &args)),
        },
        ("dyn", [value]) => Ok(value.clone()),
        ("type", [value]) => Ok(Val::Type(value.type_name().into())),
        ("duration", [Val::String(text)]) => library::parse_duration(text).map(Val::Duration),
        ("duration", [Val::Duration(nanos)]) => Ok(Val::Duration(*nanos)),
        ("timestamp", [Val::String(text)]) => library::parse_timestamp(text).map(Val::Timestamp),
        ("timestamp", [Val::Timestamp(nanos)]) => Ok(Val::Timestamp(*nanos)),
        ("timestamp", [Val::Int(seconds)]) => {
            library::timestamp_in_range(i128::from(*seconds) * 1_000_000_000).map(Val::Timestamp)
        }
        ("optional.of", [value]) => Ok(Val::Optional(Some(Arc::new(value.clone())))),
        ("optional.none", []) => Ok(Val::Optional(None)),
        ("optional.ofNonZeroValue", [value]) => {
            Ok(if is_zero_value(value) { Val::Optional(None) } else { Val::Optional(Some(Arc::new(value.clone()))) })
        }
        ("sets.contains", [Val::List(a), Val::List(b)]) => {
            Ok(Val::Bool(b.iter().all(|item| a.iter().any(|each| values_equal(each, item)))))
        }
        ("sets.equivalent", [Val::List(a), Val::List(b)]) => Ok(Val::Bool(
            b.iter().all(|item| a.iter().any(|each| values_equal(each, item)))
                && a.iter().all(|item| b.iter().any(|each| values_equal(each, item))),
        )),
        ("sets.intersects", [Val::List(a), Val::List(b)]) => {
            Ok(Val::Bool(b.iter().any(|item| a.iter().any(|each| values_equal(each, item)))))
        }
        ("lists.range", [Val::Int(count)]) => {
            interpreter.charge(usize::try_from(*count).unwrap_or(0) * 8)?;
            Ok(Val::list((0..(*count).max(0)).map(Val::Int).collect()))
        }
        ("math.greatest" | "math.least", values) => {
            let items: Vec<Val> = match values {
                [Val::List(items)] => items.as_ref().clone(),
                other => other.to_vec(),
            };
            let mut best: Option<Val> = None;
            for item in items {
                if numeric(&item).is_none() {
                    return Err(no_overload(name, &args));
                }
                best = Some(match best {
                    None => item,
                    Some(current) => {
                        let ordering = compare(&item, &current)?;
                        let better = if name == "math.greatest" {
                            ordering == Ordering::Greater
                        } else {
                            ordering == Ordering::Less
                        };
                        if better { item } else { current }
                    }
                });
            }
            best.ok_or_else(|| format!("{name}() needs at least one argument"))
        }
        ("math.ceil", [Val::Double(float)]) => Ok(Val::Double(float.ceil())),
        ("math.floor", [Val::Double(float)]) => Ok(Val::Double(float.floor())),
        ("math.round", [Val::Double(float)]) => Ok(Val::Double(float.round())),
        ("math.trunc", [Val::Double(float)]) => Ok(Val::Double(float.trunc())),
        ("math.sqrt", [value]) => match numeric(value) {
            Some(Numeric::Int(integer)) => Ok(Val::Double((integer as f64).sqrt())),
            Some(Numeric::Uint(unsigned)) => Ok(Val::Double((unsigned as f64).sqrt())),
            Some(Numeric::Double(float)) => Ok(Val::Double(float.sqrt())),
            None => Err(no_overload(name, &args)),
        },
        ("math.abs", [value]) => match value {
            Val::Int(integer) => integer.checked_abs().map(Val::Int).ok_or_else(|| "integer overflow".to_string()),
            Val::Uint(_) => Ok(value.clone()),
            Val::Double(float) => Ok(Val::Double(float.abs())),
            _ => Err(no_overload(name, &args)),
        },
        ("math.sign", [value]) => match value {
            Val::Int(integer) => Ok(Val::Int(integer.signum())),
            Val::Uint(unsigned) => Ok(Val::Uint(u64::from(*unsigned > 0))),
            Val::Double(float) => Ok(Val::Double(if *float == 0.0 { 0.0 } else { float.signum() })),
            _ => Err(no_overload(name, &args)),
        },
        ("math.isNaN", [Val::Double(float)]) => Ok(Val::Bool(float.is_nan())),
        ("math.isInf", [Val::Double(float)]) => Ok(Val::Bool(float.is_infinite())),
        ("math.isFinite", [Val::Double(float)]) => Ok(Val::Bool(float.is_finite())),
        ("strings.quote", [Val::String(text)]) => Ok(Val::string(library::quote(text))),
        ("math.round", [Val::Double(float), Val::Int(digits)]) => {
            // Kyverno's two-argument form rounds to that many decimal digits, halves away from zero.
            let scale = 10f64.powi(i32::try_from(*digits).unwrap_or(0).clamp(-300, 300));
            Ok(Val::Double((float * scale).round() / scale))
        }
        ("math.bitAnd" | "math.bitOr" | "math.bitXor" | "math.bitShiftLeft" | "math.bitShiftRight", [a, b]) => {
            bitwise(name, a, b).ok_or_else(|| no_overload(name, &args))
        }
        ("math.bitNot", [Val::Int(integer)]) => Ok(Val::Int(!integer)),
        ("math.bitNot", [Val::Uint(unsigned)]) => Ok(Val::Uint(!unsigned)),
        ("optional.unwrap", [Val::List(items)]) => unwrap_optionals(name, items),
        ("regex.replace", [Val::String(subject), Val::String(pattern), Val::String(replacement), rest @ ..]) => {
            let count = match rest {
                [] => -1,
                [count] => int_argument(count).ok_or_else(|| no_overload(name, &args))?,
                _ => return Err(no_overload(name, &args)),
            };
            let regex = interpreter.regex(pattern)?;
            interpreter.charge(subject.len() * 2)?;
            // cel-go writes groups as \1; the regex crate as ${1}, with `$` literal otherwise.
            let template = go_replacement(replacement);
            let replaced = if count < 0 {
                regex.replace_all(subject, template.as_str()).into_owned()
            } else {
                regex.replacen(subject, count as usize, template.as_str()).into_owned()
            };
            Ok(Val::string(replaced))
        }
        ("regex.extract", [Val::String(subject), Val::String(pattern)]) => {
            let regex = interpreter.regex(pattern)?;
            if regex.captures_len() > 2 {
                return Err(format!("regular expression has more than one capturing group: {pattern:?}"));
            }
            Ok(Val::Optional(regex.captures(subject).map(|found| {
                let text = found.get(1).or_else(|| found.get(0)).map_or("", |part| part.as_str());
                Arc::new(Val::string(text))
            })))
        }
        ("regex.extractAll", [Val::String(subject), Val::String(pattern), rest @ ..]) => {
            let limit = match rest {
                [] => -1,
                [limit] => int_argument(limit).ok_or_else(|| no_overload(name, &args))?,
                _ => return Err(no_overload(name, &args)),
            };
            let regex = interpreter.regex(pattern)?;
            if regex.captures_len() > 2 {
                return Err(format!("regular expression has more than one capturing group: {pattern:?}"));
            }
            let found = regex
                .captures_iter(subject)
                .map(|found| Val::string(found.get(1).or_else(|| found.get(0)).map_or("", |part| part.as_str())));
            Ok(Val::list(if limit < 0 { found.collect() } else { found.take(limit as usize).collect() }))
        }
        _ => library::call_global(interpreter, name, &args).unwrap_or_else(|| Err(unanswered(name, &args))),
    }
}

/// Calls `receiver.name(args)`.
pub fn call_member(interpreter: &Interpreter, name: &str, receiver: Val, args: Vec<Val>) -> EvalResult {
    // cel-go evaluates `or` and `orValue` lazily and hands back a receiver that is not an optional
    // unchanged; policies rely on it (`container.volumeMounts.orValue([])`).
    if matches!(name, "orValue" | "or") && args.len() == 1 && !matches!(receiver, Val::Optional(_)) {
        return Ok(receiver);
    }
    // What a library function returns may offer the library's functions (`http.client(ca).get(url)`).
    if let Val::Object(object) = &receiver
        && let Object::Library(library) = object.as_ref()
        && let Some(function) = catalog::qualified_function(library, name)
    {
        return call_global(interpreter, &catalog::dispatch_name(library, function), args);
    }
    match (&receiver, name) {
        (Val::String(subject), _) => string_member(interpreter, name, subject, &args, &receiver),
        (Val::List(items), _) => list_member(interpreter, name, items, &args, &receiver),
        (Val::Map(_), "size") => size(&receiver),
        (Val::Map(_), "Header" | "QueryParam") => request_values(name, &receiver, &args),
        (Val::Bytes(_), "size") => size(&receiver),
        (Val::Optional(inner), "hasValue") => {
            arity(name, &args, 0)?;
            Ok(Val::Bool(inner.is_some()))
        }
        (Val::Optional(inner), "value") => {
            arity(name, &args, 0)?;
            inner.as_ref().map(|value| (**value).clone()).ok_or_else(|| "optional.none() dereference".to_string())
        }
        (Val::Optional(inner), "orValue") => {
            arity(name, &args, 1)?;
            Ok(inner.as_ref().map(|value| (**value).clone()).unwrap_or_else(|| args[0].clone()))
        }
        (Val::Optional(inner), "or") => {
            arity(name, &args, 1)?;
            match (inner, &args[0]) {
                (Some(_), _) => Ok(receiver.clone()),
                (None, Val::Optional(_)) => Ok(args[0].clone()),
                _ => Err(no_overload(name, &args)),
            }
        }
        (Val::Duration(_) | Val::Timestamp(_), _) => {
            library::time_member(name, &receiver, &args).unwrap_or_else(|| Err(no_overload(name, &args)))
        }
        _ => {
            let mut all = vec![receiver.clone()];
            all.extend(args.iter().cloned());
            library::call_member(interpreter, name, &receiver, &args).unwrap_or_else(|| Err(unanswered(name, &all)))
        }
    }
}

fn string_member(interpreter: &Interpreter, name: &str, subject: &str, args: &[Val], receiver: &Val) -> EvalResult {
    let chars = || subject.chars().collect::<Vec<char>>();
    match (name, args) {
        ("contains", [Val::String(part)]) => Ok(Val::Bool(subject.contains(part.as_ref()))),
        ("startsWith", [Val::String(part)]) => Ok(Val::Bool(subject.starts_with(part.as_ref()))),
        ("endsWith", [Val::String(part)]) => Ok(Val::Bool(subject.ends_with(part.as_ref()))),
        ("matches", [Val::String(pattern)]) => Ok(Val::Bool(interpreter.regex(pattern)?.is_match(subject))),
        ("size", []) => Ok(Val::Int(subject.chars().count() as i64)),
        ("charAt", [index]) => {
            let characters = chars();
            let position = int_argument(index).ok_or_else(|| no_overload(name, args))?;
            if position < 0 || position as usize > characters.len() {
                return Err(format!("index out of range: {position}"));
            }
            Ok(Val::string(
                characters.get(position as usize).map(|character| character.to_string()).unwrap_or_default(),
            ))
        }
        ("indexOf" | "lastIndexOf", [Val::String(part), rest @ ..]) => {
            let characters = chars();
            let needle: Vec<char> = part.chars().collect();
            let last = name == "lastIndexOf";
            let limit = match rest {
                [] => None,
                [offset] => Some(int_argument(offset).ok_or_else(|| no_overload(name, args))?),
                _ => return Err(no_overload(name, args)),
            };
            if let Some(offset) = limit
                && (offset < 0 || offset as usize > characters.len())
            {
                return Err(format!("index out of range: {offset}"));
            }
            let fits = |start: usize| {
                start + needle.len() <= characters.len() && characters[start..start + needle.len()] == needle[..]
            };
            let found = if last {
                let upper = limit.map_or(characters.len(), |offset| offset as usize);
                (0..=upper.min(characters.len())).rev().find(|start| fits(*start))
            } else {
                let lower = limit.map_or(0, |offset| offset as usize);
                (lower..=characters.len()).find(|start| fits(*start))
            };
            Ok(Val::Int(found.map_or(-1, |position| position as i64)))
        }
        ("lowerAscii", []) => Ok(Val::string(subject.to_ascii_lowercase())),
        ("upperAscii", []) => Ok(Val::string(subject.to_ascii_uppercase())),
        ("trim", []) => Ok(Val::string(subject.trim())),
        ("reverse", []) => Ok(Val::string(subject.chars().rev().collect::<String>())),
        ("replace", [Val::String(from), Val::String(to), rest @ ..]) => {
            let limit = match rest {
                [] => -1,
                [count] => int_argument(count).ok_or_else(|| no_overload(name, args))?,
                _ => return Err(no_overload(name, args)),
            };
            interpreter.charge(subject.len() * 2)?;
            let replaced = if limit < 0 {
                subject.replace(from.as_ref(), to)
            } else {
                subject.replacen(from.as_ref(), to, limit as usize)
            };
            Ok(Val::string(replaced))
        }
        ("split", [Val::String(separator), rest @ ..]) => {
            let limit = match rest {
                [] => -1,
                [count] => int_argument(count).ok_or_else(|| no_overload(name, args))?,
                _ => return Err(no_overload(name, args)),
            };
            interpreter.charge(subject.len())?;
            if limit == 0 {
                return Ok(Val::list(Vec::new()));
            }
            let parts: Vec<Val> = if separator.is_empty() {
                let characters = chars();
                let count = if limit < 0 { characters.len() } else { (limit as usize).min(characters.len()) };
                let mut parts: Vec<Val> = characters
                    .iter()
                    .take(count.saturating_sub(1))
                    .map(|character| Val::string(character.to_string()))
                    .collect();
                let rest: String = characters.iter().skip(count.saturating_sub(1)).collect();
                if !rest.is_empty() || count > 0 {
                    parts.push(Val::string(rest));
                }
                parts
            } else if limit < 0 {
                subject.split(separator.as_ref()).map(Val::string).collect()
            } else {
                subject.splitn(limit as usize, separator.as_ref()).map(Val::string).collect()
            };
            Ok(Val::list(parts))
        }
        ("substring", [start, rest @ ..]) => {
            let characters = chars();
            let begin = int_argument(start).ok_or_else(|| no_overload(name, args))?;
            let end = match rest {
                [] => characters.len() as i64,
                [end] => int_argument(end).ok_or_else(|| no_overload(name, args))?,
                _ => return Err(no_overload(name, args)),
            };
            if begin < 0 || end < begin || end as usize > characters.len() {
                return Err(format!(
                    "index out of range: substring({begin}, {end}) on a string of {}",
                    characters.len()
                ));
            }
            Ok(Val::string(characters[begin as usize..end as usize].iter().collect::<String>()))
        }
        ("format", [Val::List(values)]) => library::format_string(subject, values).map(Val::string),
        ("find", [Val::String(pattern)]) => {
            let regex = interpreter.regex(pattern)?;
            Ok(Val::string(regex.find(subject).map(|found| found.as_str().to_string()).unwrap_or_default()))
        }
        ("findAll", [Val::String(pattern), rest @ ..]) => {
            let regex = interpreter.regex(pattern)?;
            let limit = match rest {
                [] => -1,
                [count] => int_argument(count).ok_or_else(|| no_overload(name, args))?,
                _ => return Err(no_overload(name, args)),
            };
            let found = regex.find_iter(subject).map(|found| Val::string(found.as_str()));
            Ok(Val::list(if limit < 0 { found.collect() } else { found.take(limit as usize).collect() }))
        }
        _ => {
            let mut all = vec![receiver.clone()];
            all.extend(args.iter().cloned());
            library::call_member(interpreter, name, receiver, args).unwrap_or_else(|| Err(unanswered(name, &all)))
        }
    }
}

fn list_member(
    interpreter: &Interpreter,
    name: &str,
    items: &Arc<Vec<Val>>,
    args: &[Val],
    receiver: &Val,
) -> EvalResult {
    match (name, args) {
        ("size", []) => Ok(Val::Int(items.len() as i64)),
        ("join", rest) => {
            let separator = match rest {
                [] => "",
                [Val::String(separator)] => separator.as_ref(),
                _ => return Err(no_overload(name, args)),
            };
            let mut parts = Vec::with_capacity(items.len());
            for item in items.iter() {
                match item {
                    Val::String(text) => parts.push(text.to_string()),
                    other => {
                        return Err(format!("join: list must hold strings, found {}", other.type_name()));
                    }
                }
            }
            interpreter.charge(parts.iter().map(String::len).sum())?;
            Ok(Val::string(parts.join(separator)))
        }
        ("isSorted", []) => {
            check_sortable(items.iter())?;
            Ok(Val::Bool(
                items
                    .windows(2)
                    .all(|pair| order(&pair[0], &pair[1]).is_some_and(|ordering| ordering != Ordering::Greater)),
            ))
        }
        ("sum", []) => {
            let mut total = match items.first() {
                Some(Val::Double(_)) => Val::Double(0.0),
                Some(Val::Uint(_)) => Val::Uint(0),
                Some(Val::Duration(_)) => Val::Duration(0),
                _ => Val::Int(0),
            };
            for item in items.iter() {
                total = add(&total, item)?;
            }
            Ok(total)
        }
        ("max" | "min", []) => {
            check_sortable(items.iter())?;
            let mut best: Option<&Val> = None;
            for item in items.iter() {
                best = Some(match best {
                    None => item,
                    Some(current) => {
                        let ordering = order(item, current).unwrap_or(Ordering::Equal);
                        if (name == "max" && ordering == Ordering::Greater)
                            || (name == "min" && ordering == Ordering::Less)
                        {
                            item
                        } else {
                            current
                        }
                    }
                });
            }
            best.cloned().ok_or_else(|| format!("{name}() called on an empty list"))
        }
        ("indexOf", [needle]) => Ok(Val::Int(
            items.iter().position(|item| values_equal(item, needle)).map_or(-1, |position| position as i64),
        )),
        ("lastIndexOf", [needle]) => Ok(Val::Int(
            items.iter().rposition(|item| values_equal(item, needle)).map_or(-1, |position| position as i64),
        )),
        ("slice", [start, end]) => {
            let begin = int_argument(start).ok_or_else(|| no_overload(name, args))?;
            let finish = int_argument(end).ok_or_else(|| no_overload(name, args))?;
            if begin < 0 || finish < begin || finish as usize > items.len() {
                return Err(format!("cannot slice({begin}, {finish}), list is length {}", items.len()));
            }
            Ok(Val::list(items[begin as usize..finish as usize].to_vec()))
        }
        ("flatten", rest) => {
            let depth = match rest {
                [] => 1,
                [depth] => int_argument(depth).ok_or_else(|| no_overload(name, args))?,
                _ => return Err(no_overload(name, args)),
            };
            if depth < 0 {
                return Err("level must be non-negative".to_string());
            }
            Ok(Val::list(flatten(items, depth)))
        }
        ("distinct", []) => {
            let mut out: Vec<Val> = Vec::new();
            for item in items.iter() {
                if !out.iter().any(|existing| values_equal(existing, item)) {
                    out.push(item.clone());
                }
            }
            Ok(Val::list(out))
        }
        ("reverse", []) => Ok(Val::list(items.iter().rev().cloned().collect())),
        ("sort", []) => {
            check_sortable(items.iter())?;
            let mut sorted = items.as_ref().clone();
            sorted.sort_by(|a, b| order(a, b).unwrap_or(Ordering::Equal));
            Ok(Val::list(sorted))
        }
        ("first", []) => Ok(Val::Optional(items.first().map(|item| Arc::new(item.clone())))),
        ("unwrapOpt", []) => unwrap_optionals(name, items),
        ("last", []) => Ok(Val::Optional(items.last().map(|item| Arc::new(item.clone())))),
        _ => {
            let mut all = vec![receiver.clone()];
            all.extend(args.iter().cloned());
            library::call_member(interpreter, name, receiver, args).unwrap_or_else(|| Err(unanswered(name, &all)))
        }
    }
}

/// The values of the optionals of a list that hold one.
fn unwrap_optionals(name: &str, items: &[Val]) -> EvalResult {
    let mut out = Vec::new();
    for item in items {
        match item {
            Val::Optional(Some(inner)) => out.push((**inner).clone()),
            Val::Optional(None) => {}
            other => return Err(format!("{name}: list element is not an optional but {}", other.type_name())),
        }
    }
    Ok(Val::list(out))
}

/// cel-go's bit operations, on two ints or two uints; shifts take an int count.
fn bitwise(name: &str, a: &Val, b: &Val) -> Option<Val> {
    let shift = |count: &Val| -> Option<u32> { int_argument(count).and_then(|count| u32::try_from(count).ok()) };
    Some(match (name, a, b) {
        ("math.bitAnd", Val::Int(x), Val::Int(y)) => Val::Int(x & y),
        ("math.bitOr", Val::Int(x), Val::Int(y)) => Val::Int(x | y),
        ("math.bitXor", Val::Int(x), Val::Int(y)) => Val::Int(x ^ y),
        ("math.bitAnd", Val::Uint(x), Val::Uint(y)) => Val::Uint(x & y),
        ("math.bitOr", Val::Uint(x), Val::Uint(y)) => Val::Uint(x | y),
        ("math.bitXor", Val::Uint(x), Val::Uint(y)) => Val::Uint(x ^ y),
        // Shifting right is logical, as cel-go's is: the sign bit does not spread.
        ("math.bitShiftLeft", Val::Int(x), count) => Val::Int(x.checked_shl(shift(count)?).unwrap_or(0)),
        ("math.bitShiftRight", Val::Int(x), count) => {
            Val::Int(((*x as u64).checked_shr(shift(count)?).unwrap_or(0)) as i64)
        }
        ("math.bitShiftLeft", Val::Uint(x), count) => Val::Uint(x.checked_shl(shift(count)?).unwrap_or(0)),
        ("math.bitShiftRight", Val::Uint(x), count) => Val::Uint(x.checked_shr(shift(count)?).unwrap_or(0)),
        _ => return None,
    })
}

/// A Go (RE2) replacement template, with `\N` group references, as the regex crate's `${N}` template.
fn go_replacement(replacement: &str) -> String {
    let mut out = String::with_capacity(replacement.len());
    let mut characters = replacement.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '$' => out.push_str("$$"),
            '\\' => match characters.peek() {
                Some(digit) if digit.is_ascii_digit() => {
                    out.push_str("${");
                    while let Some(digit) = characters.peek().filter(|digit| digit.is_ascii_digit()) {
                        out.push(*digit);
                        characters.next();
                    }
                    out.push('}');
                }
                Some('\\') => {
                    out.push('\\');
                    characters.next();
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

fn flatten(items: &[Val], depth: i64) -> Vec<Val> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Val::List(inner) if depth > 0 => out.extend(flatten(inner, depth - 1)),
            other => out.push(other.clone()),
        }
    }
    out
}

/// Sorting needs one comparable kind throughout the list.
pub fn check_sortable<'v>(mut values: impl Iterator<Item = &'v Val>) -> Result<(), String> {
    let Some(first) = values.next() else {
        return Ok(());
    };
    for value in values {
        if order(first, value).is_none() {
            return Err(format!(
                "list elements must have the same comparable type, found {} and {}",
                first.type_name(),
                value.type_name()
            ));
        }
    }
    Ok(())
}

/// The ordering used by sort and min/max: `None` for kinds that do not compare.
pub fn order(left: &Val, right: &Val) -> Option<Ordering> {
    compare(left, right).ok()
}

fn size(value: &Val) -> EvalResult {
    match value {
        Val::String(text) => Ok(Val::Int(text.chars().count() as i64)),
        Val::Bytes(bytes) => Ok(Val::Int(bytes.len() as i64)),
        Val::List(items) => Ok(Val::Int(items.len() as i64)),
        Val::Map(entries) => Ok(Val::Int(entries.len() as i64)),
        other => Err(no_overload("size", std::slice::from_ref(other))),
    }
}

fn is_zero_value(value: &Val) -> bool {
    match value {
        Val::Null => true,
        Val::Bool(flag) => !flag,
        Val::Int(integer) => *integer == 0,
        Val::Uint(unsigned) => *unsigned == 0,
        Val::Double(float) => *float == 0.0,
        Val::String(text) => text.is_empty(),
        Val::Bytes(bytes) => bytes.is_empty(),
        Val::List(items) => items.is_empty(),
        Val::Map(entries) => entries.is_empty(),
        Val::Duration(nanos) => *nanos == 0,
        Val::Timestamp(nanos) => *nanos == 0,
        _ => false,
    }
}

fn add(a: &Val, b: &Val) -> EvalResult {
    match (a, b) {
        (Val::String(x), Val::String(y)) => Ok(Val::string(format!("{x}{y}"))),
        (Val::Bytes(x), Val::Bytes(y)) => {
            let mut joined = x.to_vec();
            joined.extend_from_slice(y);
            Ok(Val::Bytes(joined.into()))
        }
        (Val::List(x), Val::List(y)) => {
            let mut joined = x.as_ref().clone();
            joined.extend(y.iter().cloned());
            Ok(Val::list(joined))
        }
        (Val::Duration(x), Val::Duration(y)) => {
            x.checked_add(*y).map(Val::Duration).ok_or_else(|| "duration overflow".to_string())
        }
        (Val::Timestamp(x), Val::Duration(y)) | (Val::Duration(y), Val::Timestamp(x)) => {
            library::timestamp_in_range(x + i128::from(*y)).map(Val::Timestamp)
        }
        _ => arithmetic("_+_", a, b),
    }
}

fn subtract(a: &Val, b: &Val) -> EvalResult {
    match (a, b) {
        (Val::Duration(x), Val::Duration(y)) => {
            x.checked_sub(*y).map(Val::Duration).ok_or_else(|| "duration overflow".to_string())
        }
        (Val::Timestamp(x), Val::Duration(y)) => library::timestamp_in_range(x - i128::from(*y)).map(Val::Timestamp),
        (Val::Timestamp(x), Val::Timestamp(y)) => {
            i64::try_from(x - y).map(Val::Duration).map_err(|_| "duration overflow".to_string())
        }
        _ => arithmetic("_-_", a, b),
    }
}

/// Integer, unsigned and double arithmetic; CEL never mixes numeric types implicitly.
fn arithmetic(name: &str, a: &Val, b: &Val) -> EvalResult {
    let overflow = || "integer overflow".to_string();
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => {
            let result = match name {
                "_+_" => x.checked_add(*y),
                "_-_" => x.checked_sub(*y),
                "_*_" => x.checked_mul(*y),
                "_/_" => {
                    if *y == 0 {
                        return Err("division by zero".to_string());
                    }
                    x.checked_div(*y)
                }
                _ => {
                    if *y == 0 {
                        return Err("modulus by zero".to_string());
                    }
                    x.checked_rem(*y)
                }
            };
            result.map(Val::Int).ok_or_else(overflow)
        }
        (Val::Uint(x), Val::Uint(y)) => {
            let result = match name {
                "_+_" => x.checked_add(*y),
                "_-_" => x.checked_sub(*y),
                "_*_" => x.checked_mul(*y),
                "_/_" => {
                    if *y == 0 {
                        return Err("division by zero".to_string());
                    }
                    x.checked_div(*y)
                }
                _ => {
                    if *y == 0 {
                        return Err("modulus by zero".to_string());
                    }
                    x.checked_rem(*y)
                }
            };
            result.map(Val::Uint).ok_or_else(overflow)
        }
        (Val::Double(x), Val::Double(y)) => match name {
            "_+_" => Ok(Val::Double(x + y)),
            "_-_" => Ok(Val::Double(x - y)),
            "_*_" => Ok(Val::Double(x * y)),
            "_/_" => Ok(Val::Double(x / y)),
            _ => Err(no_overload(name, &[a.clone(), b.clone()])),
        },
        _ => Err(no_overload(name, &[a.clone(), b.clone()])),
    }
}

fn to_int(value: &Val) -> EvalResult {
    match value {
        Val::Int(integer) => Ok(Val::Int(*integer)),
        Val::Uint(unsigned) => i64::try_from(*unsigned).map(Val::Int).map_err(|_| "integer overflow".to_string()),
        Val::Double(float) => {
            if float.is_finite() && *float > -9.223_372_036_854_776e18 && *float < 9.223_372_036_854_776e18 {
                Ok(Val::Int(float.trunc() as i64))
            } else {
                Err("integer overflow".to_string())
            }
        }
        Val::String(text) => text
            .parse::<i64>()
            .map(Val::Int)
            .map_err(|_| format!("type conversion error from 'string' to 'int': {text:?}")),
        Val::Bool(flag) => Ok(Val::Int(i64::from(*flag))),
        Val::Duration(nanos) => Ok(Val::Int(*nanos)),
        Val::Timestamp(nanos) => Ok(Val::Int(nanos.div_euclid(1_000_000_000) as i64)),
        other => Err(no_overload("int", std::slice::from_ref(other))),
    }
}

fn to_uint(value: &Val) -> EvalResult {
    match value {
        Val::Uint(unsigned) => Ok(Val::Uint(*unsigned)),
        Val::Int(integer) => {
            u64::try_from(*integer).map(Val::Uint).map_err(|_| "unsigned integer overflow".to_string())
        }
        Val::Double(float) => {
            if float.is_finite() && *float >= 0.0 && *float < 1.844_674_407_370_955_2e19 {
                Ok(Val::Uint(float.trunc() as u64))
            } else {
                Err("unsigned integer overflow".to_string())
            }
        }
        Val::String(text) => text
            .parse::<u64>()
            .map(Val::Uint)
            .map_err(|_| format!("type conversion error from 'string' to 'uint': {text:?}")),
        other => Err(no_overload("uint", std::slice::from_ref(other))),
    }
}

fn to_double(value: &Val) -> EvalResult {
    match value {
        Val::Double(float) => Ok(Val::Double(*float)),
        Val::Int(integer) => Ok(Val::Double(*integer as f64)),
        Val::Uint(unsigned) => Ok(Val::Double(*unsigned as f64)),
        Val::String(text) => text
            .parse::<f64>()
            .map(Val::Double)
            .map_err(|_| format!("type conversion error from 'string' to 'double': {text:?}")),
        other => Err(no_overload("double", std::slice::from_ref(other))),
    }
}

fn to_string(value: &Val) -> EvalResult {
    match value {
        Val::String(_) => Ok(value.clone()),
        Val::Bool(_) | Val::Int(_) | Val::Uint(_) | Val::Duration(_) | Val::Timestamp(_) | Val::Type(_) => {
            Ok(Val::string(value.display()))
        }
        Val::Double(float) => Ok(Val::string(format_double(*float))),
        Val::Bytes(bytes) => String::from_utf8(bytes.to_vec())
            .map(Val::string)
            .map_err(|_| "invalid UTF-8 in bytes, cannot convert to string".to_string()),
        Val::Object(object) => match object.as_ref() {
            Object::Ip(_)
            | Object::Cidr { .. }
            | Object::Quantity { .. }
            | Object::Semver { .. }
            | Object::Url { .. }
            | Object::Image { .. } => Ok(Val::string(value.display())),
            _ => Err(no_overload("string", std::slice::from_ref(value))),
        },
        other => Err(no_overload("string", std::slice::from_ref(other))),
    }
}

/// Whether a value is numeric, for callers outside this module.
pub fn is_number(value: &Val) -> bool {
    numeric(value).is_some()
}
