//! OPA's deprecated built-in functions: the one table that evaluation and the editor share.
//!
//! OPA still accepts them in Rego v0 (Gatekeeper's default for templates), so a template that calls
//! `re_match` or `any` runs in the cluster; Rego v1 removed them, so there they do not compile. regorus
//! implements none of them: they are registered here as extensions with OPA's semantics (from OPA's
//! `v1/ast/builtins.go` declarations and `topdown` implementations), and the lint reports each call as
//! `rego/deprecated` with its replacement.

use std::collections::BTreeSet;
use std::net::IpAddr;

use regorus::Value;

/// One deprecated built-in: its name, how many arguments it takes, what replaces it, and its
/// evaluation. Wrong argument types are OPA built-in errors, which Gatekeeper's non-strict evaluation
/// turns into undefined.
pub struct DeprecatedBuiltin {
    pub name: &'static str,
    pub arity: u8,
    pub replacement: &'static str,
    evaluate: fn(&[Value]) -> Value,
}

/// Every built-in OPA marks deprecated (`deprecated: true` in `v1/ast/builtins.go`).
pub const DEPRECATED_BUILTINS: &[DeprecatedBuiltin] = &[
    DeprecatedBuiltin { name: "any", arity: 1, replacement: "a rule or comprehension with `some`", evaluate: any },
    DeprecatedBuiltin { name: "all", arity: 1, replacement: "`every` or a comprehension", evaluate: all },
    DeprecatedBuiltin { name: "re_match", arity: 2, replacement: "`regex.match`", evaluate: re_match },
    DeprecatedBuiltin {
        name: "net.cidr_overlap",
        arity: 2,
        replacement: "`net.cidr_contains`",
        evaluate: cidr_overlap,
    },
    DeprecatedBuiltin { name: "set_diff", arity: 2, replacement: "the `-` operator", evaluate: set_diff },
    DeprecatedBuiltin {
        name: "cast_array",
        arity: 1,
        replacement: "`is_array` or a comprehension",
        evaluate: cast_array,
    },
    DeprecatedBuiltin {
        name: "cast_set",
        arity: 1,
        replacement: "`is_set` or a set comprehension",
        evaluate: cast_set,
    },
    DeprecatedBuiltin { name: "cast_string", arity: 1, replacement: "`is_string`", evaluate: cast_string },
    DeprecatedBuiltin { name: "cast_boolean", arity: 1, replacement: "`is_boolean`", evaluate: cast_boolean },
    DeprecatedBuiltin { name: "cast_null", arity: 1, replacement: "`is_null`", evaluate: cast_null },
    DeprecatedBuiltin { name: "cast_object", arity: 1, replacement: "`is_object`", evaluate: cast_object },
];

/// The deprecated built-in called `name`, if it is one.
pub fn deprecated_builtin(name: &str) -> Option<&'static DeprecatedBuiltin> {
    DEPRECATED_BUILTINS.iter().find(|builtin| builtin.name == name)
}

/// Registers every deprecated built-in on a Rego v0 engine.
pub fn register(engine: &mut regorus::Engine) -> anyhow::Result<()> {
    for builtin in DEPRECATED_BUILTINS {
        let evaluate = builtin.evaluate;
        engine.add_extension(
            builtin.name.to_string(),
            builtin.arity,
            Box::new(move |arguments: Vec<Value>| Ok(evaluate(&arguments))),
        )?;
    }
    Ok(())
}

/// The elements of an array or a set; `None` for anything else.
fn elements(value: &Value) -> Option<Vec<&Value>> {
    match value {
        Value::Array(items) => Some(items.iter().collect()),
        Value::Set(items) => Some(items.iter().collect()),
        _ => None,
    }
}

/// `any(collection)`: true when some element is `true`; false for an empty collection.
fn any(arguments: &[Value]) -> Value {
    match arguments.first().and_then(elements) {
        Some(items) => Value::Bool(items.iter().any(|item| **item == Value::Bool(true))),
        None => Value::Undefined,
    }
}

/// `all(collection)`: true when every element is `true`; true for an empty collection.
fn all(arguments: &[Value]) -> Value {
    match arguments.first().and_then(elements) {
        Some(items) => Value::Bool(items.iter().all(|item| **item == Value::Bool(true))),
        None => Value::Undefined,
    }
}

/// `re_match(pattern, value)`: `regex.match` under its old name.
fn re_match(arguments: &[Value]) -> Value {
    let [Value::String(pattern), Value::String(value)] = arguments else {
        return Value::Undefined;
    };
    match regex::Regex::new(pattern) {
        Ok(expression) => Value::Bool(expression.is_match(value)),
        Err(_) => Value::Undefined,
    }
}

/// `net.cidr_overlap(cidr, cidr_or_ip)`: OPA evaluates it as `net.cidr_contains`.
fn cidr_overlap(arguments: &[Value]) -> Value {
    let [Value::String(cidr), Value::String(inner)] = arguments else {
        return Value::Undefined;
    };
    let Some((network, prefix)) = parse_cidr(cidr) else {
        return Value::Undefined;
    };
    let (address, inner_prefix) = match parse_cidr(inner) {
        Some(parsed) => parsed,
        None => match inner.parse::<IpAddr>() {
            Ok(address) => (address, if address.is_ipv4() { 32 } else { 128 }),
            Err(_) => return Value::Undefined,
        },
    };
    let contained = match (network, address) {
        (IpAddr::V4(network), IpAddr::V4(address)) => {
            inner_prefix >= prefix
                && masked(u32::from(network).into(), prefix, 32) == masked(u32::from(address).into(), prefix, 32)
        }
        (IpAddr::V6(network), IpAddr::V6(address)) => {
            inner_prefix >= prefix
                && masked(u128::from(network), prefix, 128) == masked(u128::from(address), prefix, 128)
        }
        _ => false,
    };
    Value::Bool(contained)
}

/// An `address/prefix` string, with a prefix that fits the address family.
fn parse_cidr(text: &str) -> Option<(IpAddr, u32)> {
    let (address, prefix) = text.split_once('/')?;
    let address: IpAddr = address.parse().ok()?;
    let prefix: u32 = prefix.parse().ok()?;
    let bits = if address.is_ipv4() { 32 } else { 128 };
    (prefix <= bits).then_some((address, prefix))
}

/// The first `prefix` bits of a `width`-bit address.
fn masked(address: u128, prefix: u32, width: u32) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = width - prefix;
    (address >> shift) << shift
}

/// `set_diff(a, b)`: the elements of set `a` that are not in set `b`.
fn set_diff(arguments: &[Value]) -> Value {
    let [Value::Set(left), Value::Set(right)] = arguments else {
        return Value::Undefined;
    };
    Value::from(left.iter().filter(|item| !right.contains(item)).cloned().collect::<BTreeSet<Value>>())
}

/// `cast_array(x)`: an array as is, a set as an array of its elements.
fn cast_array(arguments: &[Value]) -> Value {
    match arguments.first() {
        Some(value @ Value::Array(_)) => value.clone(),
        Some(Value::Set(items)) => Value::from(items.iter().cloned().collect::<Vec<Value>>()),
        _ => Value::Undefined,
    }
}

/// `cast_set(x)`: a set as is, an array as the set of its elements.
fn cast_set(arguments: &[Value]) -> Value {
    match arguments.first() {
        Some(value @ Value::Set(_)) => value.clone(),
        Some(Value::Array(items)) => Value::from(items.iter().cloned().collect::<BTreeSet<Value>>()),
        _ => Value::Undefined,
    }
}

fn cast_string(arguments: &[Value]) -> Value {
    match arguments.first() {
        Some(value @ Value::String(_)) => value.clone(),
        _ => Value::Undefined,
    }
}

fn cast_boolean(arguments: &[Value]) -> Value {
    match arguments.first() {
        Some(value @ Value::Bool(_)) => value.clone(),
        _ => Value::Undefined,
    }
}

fn cast_null(arguments: &[Value]) -> Value {
    match arguments.first() {
        Some(Value::Null) => Value::Null,
        _ => Value::Undefined,
    }
}

fn cast_object(arguments: &[Value]) -> Value {
    match arguments.first() {
        Some(value @ Value::Object(_)) => value.clone(),
        _ => Value::Undefined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: serde_json::Value) -> String {
        let builtin = deprecated_builtin(name).expect("a deprecated built-in");
        let arguments: Vec<Value> =
            arguments.as_array().expect("an argument list").iter().map(|item| Value::from(item.clone())).collect();
        let result = (builtin.evaluate)(&arguments);
        if result == Value::Undefined {
            "undefined".to_string()
        } else {
            serde_json::to_string(&result).unwrap_or_default()
        }
    }

    #[test]
    fn deprecated_builtins_evaluate_as_in_opa() {
        assert_eq!(call("any", serde_json::json!([[false, true]])), "true");
        assert_eq!(call("any", serde_json::json!([[]])), "false");
        assert_eq!(call("all", serde_json::json!([[true, true]])), "true");
        assert_eq!(call("all", serde_json::json!([[true, 1]])), "false");
        assert_eq!(call("all", serde_json::json!([[]])), "true");
        assert_eq!(call("all", serde_json::json!(["text"])), "undefined");
        assert_eq!(call("re_match", serde_json::json!(["^ab+$", "abbb"])), "true");
        assert_eq!(call("re_match", serde_json::json!(["^ab+$", "xab"])), "false");
        assert_eq!(call("re_match", serde_json::json!(["(", "x"])), "undefined");
        assert_eq!(call("net.cidr_overlap", serde_json::json!(["10.0.0.0/8", "10.1.2.3"])), "true");
        assert_eq!(call("net.cidr_overlap", serde_json::json!(["10.0.0.0/8", "11.0.0.1"])), "false");
        assert_eq!(call("net.cidr_overlap", serde_json::json!(["10.0.0.0/8", "10.2.0.0/16"])), "true");
        assert_eq!(call("net.cidr_overlap", serde_json::json!(["10.2.0.0/16", "10.0.0.0/8"])), "false");
        assert_eq!(call("net.cidr_overlap", serde_json::json!(["fd00::/8", "fd12::1"])), "true");
        assert_eq!(call("cast_string", serde_json::json!(["x"])), "\"x\"");
        assert_eq!(call("cast_string", serde_json::json!([1])), "undefined");
        assert_eq!(call("cast_null", serde_json::json!([null])), "null");
        assert_eq!(call("cast_array", serde_json::json!([[2, 1]])), "[2,1]");
        assert_eq!(call("cast_set", serde_json::json!([[2, 1, 2]])), "[1,2]");
    }

    #[test]
    fn every_entry_names_its_replacement_and_is_unique() {
        let names: BTreeSet<&str> = DEPRECATED_BUILTINS.iter().map(|builtin| builtin.name).collect();
        assert_eq!(names.len(), 11);
        assert!(DEPRECATED_BUILTINS.iter().all(|builtin| !builtin.replacement.is_empty()));
    }
}
