//! CEL runtime values: the JSON-shaped data of admission requests plus CEL's own scalar and library types.

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::{Map, Number, Value};

/// A CEL value. Maps keep insertion order so results converted back to JSON read like their input.
#[derive(Clone, Debug)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(Arc<str>),
    Bytes(Arc<[u8]>),
    List(Arc<Vec<Val>>),
    Map(Arc<Vec<(Val, Val)>>),
    /// `optional.of(x)` or `optional.none()`.
    Optional(Option<Arc<Val>>),
    /// A type value such as `int` or `string`, as `type(x)` returns.
    Type(Arc<str>),
    /// A duration in nanoseconds.
    Duration(i64),
    /// A timestamp in nanoseconds since the Unix epoch (UTC).
    Timestamp(i128),
    /// A value of one of the library types (quantity, ip, cidr, url, semver, image reference, ...).
    Object(Arc<Object>),
    /// A value that failed to compute (a Kyverno variable whose expression errs): reading it raises the error.
    Error(Arc<str>),
}

/// Library types that have no JSON form of their own.
#[derive(Clone, Debug)]
pub enum Object {
    /// A Kubernetes resource quantity, kept exactly as its value times 10^9.
    Quantity {
        text: String,
        nano: i128,
    },
    Ip(std::net::IpAddr),
    Cidr {
        address: std::net::IpAddr,
        prefix: u8,
        text: String,
    },
    Url {
        text: String,
        scheme: String,
        host: String,
        path: String,
        query: String,
    },
    Semver {
        major: u64,
        minor: u64,
        patch: u64,
        pre: String,
        text: String,
    },
    /// A parsed image reference (Kyverno's image library).
    Image {
        registry: String,
        repository: String,
        tag: String,
        digest: String,
    },
    /// A `format.named(...)` validator.
    Format(String),
    /// A namespace-like receiver of library functions (`resource`, `http`, `image`, ...).
    Library(String),
    /// A response of Kyverno's authorization server libraries (`envoy.Denied(403)`, `http.Allowed()`),
    /// before or after `.Response()` finished it.
    Authorization(AuthorizationResponse),
    /// `envoy.Header(key, value)` or `envoy.QueryParam(key, value)`: an option of a response builder.
    EnvoyOption {
        query_parameter: bool,
    },
}

/// What an authorization policy answers a check request. Headers, bodies and metadata only shape the
/// reply to the caller, never whether the policy allows, so they are checked and then dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// Envoy's `CheckResponse` (the Envoy mode) or the authorization server's own (the HTTP mode).
    pub envoy: bool,
    /// `None` allows; a denial carries its HTTP status (Envoy) or its reason (HTTP).
    pub denial: Option<String>,
    /// Whether `.Response()` made it the check response a validation returns.
    pub finished: bool,
}

impl Val {
    pub fn string(text: impl Into<Arc<str>>) -> Val {
        Val::String(text.into())
    }

    pub fn list(items: Vec<Val>) -> Val {
        Val::List(Arc::new(items))
    }

    pub fn map(entries: Vec<(Val, Val)>) -> Val {
        Val::Map(Arc::new(entries))
    }

    /// The CEL type name of the value, used in error messages and by `type()`.
    pub fn type_name(&self) -> &str {
        match self {
            Val::Null => "null_type",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Uint(_) => "uint",
            Val::Double(_) => "double",
            Val::String(_) => "string",
            Val::Bytes(_) => "bytes",
            Val::List(_) => "list",
            Val::Map(_) => "map",
            Val::Optional(_) => "optional_type",
            Val::Type(_) => "type",
            Val::Duration(_) => "google.protobuf.Duration",
            Val::Timestamp(_) => "google.protobuf.Timestamp",
            Val::Object(object) => match object.as_ref() {
                Object::Quantity { .. } => "kubernetes.Quantity",
                Object::Ip(_) => "net.IP",
                Object::Cidr { .. } => "net.CIDR",
                Object::Url { .. } => "kubernetes.URL",
                Object::Semver { .. } => "kubernetes.Semver",
                Object::Image { .. } => "kyverno.Image",
                Object::Format(_) => "kubernetes.NamedFormat",
                Object::Library(_) => "kyverno.Library",
                Object::Authorization(response) => match (response.envoy, &response.denial, response.finished) {
                    (true, _, true) => "envoy.service.auth.v3.CheckResponse",
                    (true, None, false) => "envoy.OkResponse",
                    (true, Some(_), false) => "envoy.DeniedResponse",
                    (false, _, true) => "http.CheckResponse",
                    (false, None, false) => "http.CheckResponseOk",
                    (false, Some(_), false) => "http.CheckResponseDenied",
                },
                Object::EnvoyOption { query_parameter: false } => "envoy.config.core.v3.HeaderValueOption",
                Object::EnvoyOption { query_parameter: true } => "envoy.config.core.v3.QueryParameter",
            },
            Val::Error(_) => "error",
        }
    }

    /// Converts JSON into a CEL value: integral numbers become `int`, others `double`.
    pub fn from_json(value: &Value) -> Val {
        match value {
            Value::Null => Val::Null,
            Value::Bool(flag) => Val::Bool(*flag),
            Value::Number(number) => {
                if let Some(integer) = number.as_i64() {
                    Val::Int(integer)
                } else if let Some(unsigned) = number.as_u64() {
                    Val::Uint(unsigned)
                } else {
                    Val::Double(number.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(text) => Val::String(text.as_str().into()),
            Value::Array(items) => Val::list(items.iter().map(Val::from_json).collect()),
            Value::Object(map) => Val::map(
                map.iter().map(|(key, value)| (Val::String(key.as_str().into()), Val::from_json(value))).collect(),
            ),
        }
    }

    /// Converts a CEL value to JSON; library types become their string forms.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Null | Val::Error(_) => Value::Null,
            Val::Bool(flag) => Value::Bool(*flag),
            Val::Int(integer) => Value::Number((*integer).into()),
            Val::Uint(unsigned) => Value::Number((*unsigned).into()),
            Val::Double(float) => Number::from_f64(*float).map_or(Value::Null, Value::Number),
            Val::String(text) => Value::String(text.to_string()),
            Val::Bytes(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
            Val::List(items) => Value::Array(items.iter().map(Val::to_json).collect()),
            Val::Map(entries) => {
                let mut map = Map::new();
                for (key, value) in entries.iter() {
                    map.insert(key.display(), value.to_json());
                }
                Value::Object(map)
            }
            Val::Optional(inner) => inner.as_ref().map_or(Value::Null, |value| value.to_json()),
            Val::Type(name) => Value::String(name.to_string()),
            Val::Duration(_) | Val::Timestamp(_) | Val::Object(_) => Value::String(self.display()),
        }
    }

    /// The text `string(x)` gives, and the form used when a value is shown in a message.
    pub fn display(&self) -> String {
        match self {
            Val::Null => "null".to_string(),
            Val::Bool(flag) => flag.to_string(),
            Val::Int(integer) => integer.to_string(),
            Val::Uint(unsigned) => unsigned.to_string(),
            Val::Double(float) => format_double(*float),
            Val::String(text) => text.to_string(),
            Val::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Val::List(items) => {
                let parts: Vec<String> = items.iter().map(Val::debug_text).collect();
                format!("[{}]", parts.join(", "))
            }
            Val::Map(entries) => {
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(key, value)| format!("{}: {}", key.debug_text(), value.debug_text()))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Val::Optional(Some(inner)) => format!("optional.of({})", inner.debug_text()),
            Val::Optional(None) => "optional.none()".to_string(),
            Val::Type(name) => name.to_string(),
            Val::Duration(nanos) => format_duration(*nanos),
            Val::Timestamp(nanos) => format_timestamp(*nanos),
            Val::Object(object) => match object.as_ref() {
                Object::Quantity { text, .. } => text.clone(),
                Object::Ip(address) => address.to_string(),
                Object::Cidr { text, .. } => text.clone(),
                Object::Url { text, .. } => text.clone(),
                Object::Semver { text, .. } => text.clone(),
                Object::Image { registry, repository, tag, digest } => {
                    let mut text = format!("{registry}/{repository}");
                    if !tag.is_empty() {
                        let _ = write!(text, ":{tag}");
                    }
                    if !digest.is_empty() {
                        let _ = write!(text, "@{digest}");
                    }
                    text
                }
                Object::Format(name) => name.clone(),
                Object::Library(name) => name.clone(),
                Object::Authorization(response) => match &response.denial {
                    None => "allowed".to_string(),
                    Some(denial) => format!("denied ({denial})"),
                },
                Object::EnvoyOption { .. } => String::new(),
            },
            Val::Error(message) => message.to_string(),
        }
    }

    /// A literal-like rendering: strings quoted, used inside lists and maps.
    pub fn debug_text(&self) -> String {
        match self {
            Val::String(text) => format!("{text:?}"),
            other => other.display(),
        }
    }

    pub fn is_truthy_bool(&self) -> Option<bool> {
        match self {
            Val::Bool(flag) => Some(*flag),
            _ => None,
        }
    }

    /// Looks a key up in a map value.
    pub fn map_get(&self, key: &Val) -> Option<&Val> {
        match self {
            Val::Map(entries) => {
                entries.iter().find(|(candidate, _)| values_equal(candidate, key)).map(|(_, value)| value)
            }
            _ => None,
        }
    }

    /// Looks a string key up in a map value.
    pub fn field(&self, name: &str) -> Option<&Val> {
        match self {
            Val::Map(entries) => entries
                .iter()
                .find(|(candidate, _)| matches!(candidate, Val::String(text) if text.as_ref() == name))
                .map(|(_, value)| value),
            _ => None,
        }
    }
}

/// CEL equality: numbers compare across int, uint and double; other kinds never equal each other.
pub fn values_equal(left: &Val, right: &Val) -> bool {
    match (left, right) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(a), Val::Bool(b)) => a == b,
        (Val::String(a), Val::String(b)) => a == b,
        (Val::Bytes(a), Val::Bytes(b)) => a == b,
        (Val::List(a), Val::List(b)) => a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| values_equal(x, y)),
        (Val::Map(a), Val::Map(b)) => {
            a.len() == b.len()
                && a.iter().all(|(key, value)| right.map_get(key).is_some_and(|other| values_equal(value, other)))
        }
        (Val::Optional(a), Val::Optional(b)) => match (a, b) {
            (None, None) => true,
            (Some(x), Some(y)) => values_equal(x, y),
            _ => false,
        },
        (Val::Type(a), Val::Type(b)) => a == b,
        (Val::Duration(a), Val::Duration(b)) => a == b,
        (Val::Timestamp(a), Val::Timestamp(b)) => a == b,
        (Val::Object(a), Val::Object(b)) => match (a.as_ref(), b.as_ref()) {
            (Object::Quantity { nano: x, .. }, Object::Quantity { nano: y, .. }) => x == y,
            (Object::Ip(x), Object::Ip(y)) => x == y,
            _ => left.display() == right.display(),
        },
        _ => match (numeric(left), numeric(right)) {
            (Some(a), Some(b)) => compare_numbers(a, b) == Some(std::cmp::Ordering::Equal),
            _ => false,
        },
    }
}

/// A number of any CEL numeric type, for cross-type comparison.
#[derive(Clone, Copy, Debug)]
pub enum Numeric {
    Int(i64),
    Uint(u64),
    Double(f64),
}

pub fn numeric(value: &Val) -> Option<Numeric> {
    match value {
        Val::Int(integer) => Some(Numeric::Int(*integer)),
        Val::Uint(unsigned) => Some(Numeric::Uint(*unsigned)),
        Val::Double(float) => Some(Numeric::Double(*float)),
        _ => None,
    }
}

pub fn compare_numbers(left: Numeric, right: Numeric) -> Option<std::cmp::Ordering> {
    use Numeric::*;
    match (left, right) {
        (Int(a), Int(b)) => Some(a.cmp(&b)),
        (Uint(a), Uint(b)) => Some(a.cmp(&b)),
        (Int(a), Uint(b)) => Some(i128::from(a).cmp(&i128::from(b))),
        (Uint(a), Int(b)) => Some(i128::from(a).cmp(&i128::from(b))),
        (Double(a), Double(b)) => a.partial_cmp(&b),
        (Int(a), Double(b)) => (a as f64).partial_cmp(&b),
        (Uint(a), Double(b)) => (a as f64).partial_cmp(&b),
        (Double(a), Int(b)) => a.partial_cmp(&(b as f64)),
        (Double(a), Uint(b)) => a.partial_cmp(&(b as f64)),
    }
}

/// Formats a double the way cel-go's `string(double)` does for common values.
pub fn format_double(float: f64) -> String {
    if float.is_finite() && float.fract() == 0.0 && float.abs() < 1e21 {
        format!("{}", float as i64)
    } else if float.is_nan() {
        "NaN".to_string()
    } else if float.is_infinite() {
        if float > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{float}")
    }
}

/// Formats a duration like Go's protobuf duration string: seconds with a fractional part and `s`.
pub fn format_duration(nanos: i64) -> String {
    let seconds = nanos / 1_000_000_000;
    let rest = (nanos % 1_000_000_000).abs();
    if rest == 0 {
        format!("{seconds}s")
    } else {
        let fraction = format!("{rest:09}");
        let sign = if nanos < 0 && seconds == 0 { "-" } else { "" };
        format!("{sign}{seconds}.{}s", fraction.trim_end_matches('0'))
    }
}

/// Formats a timestamp as RFC 3339 in UTC.
pub fn format_timestamp(nanos: i128) -> String {
    let seconds = nanos.div_euclid(1_000_000_000) as i64;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(seconds, sub) {
        Some(time) => time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => "invalid timestamp".to_string(),
    }
}
