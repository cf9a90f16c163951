//! Kyverno engine: ClusterPolicy/Policy evaluation (match, validate, mutate, generate), pure over JSON values.
//!
//! The engine follows the order of the Kyverno CLI: every policy mutates the resource first, then every
//! policy validates the mutated resource, then generate rules run. Callers (the test runner, the editor)
//! drive that order through [`mutate`], [`validate`] and [`generate`]; each takes the policy and the
//! resource as values plus a [`Request`] that carries everything Kyverno reads from the admission request
//! and from the CLI's values files. Results name places as JSON pointers, never text ranges.

pub mod api_call;
pub mod autogen;
pub mod cel_bridge;
pub mod conditions;
pub mod foreach;
pub mod generate;
pub mod jmespath_budget;
pub mod jmespath_functions;
pub mod manifest;
#[path = "match.rs"]
pub mod matching;
pub mod mutate;
pub mod patch_anchors;
pub mod pattern;
pub mod pod_security;
pub mod strategic_merge;
pub mod validate;
pub mod variables;
pub mod x509;

use serde_json::{Map, Value};

/// What kind of rule produced a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleType {
    Validation,
    Mutation,
    Generation,
    ImageVerify,
}

/// The status of one rule on one resource, as Kyverno reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleStatus {
    Pass,
    Fail,
    Warn,
    Error,
    Skip,
}

impl RuleStatus {
    /// The lowercase word used in policy reports and Kyverno Test files.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Pass => "pass",
            RuleStatus::Fail => "fail",
            RuleStatus::Warn => "warn",
            RuleStatus::Error => "error",
            RuleStatus::Skip => "skip",
        }
    }
}

/// The outcome of one rule on one resource.
#[derive(Clone, Debug)]
pub struct RuleResponse {
    pub name: String,
    pub rule_type: RuleType,
    pub status: RuleStatus,
    pub message: String,
    /// The rule needs a feature this engine does not implement (for example CEL): reported loudly.
    pub unsupported: Option<String>,
    /// JSON pointer of the failing pattern node, relative to the policy document.
    pub policy_pointer: Option<String>,
    /// JSON pointer of the resource value that failed.
    pub resource_pointer: Option<String>,
    /// Resources produced by a generate rule.
    pub generated: Vec<Value>,
    /// The existing resource a mutate-existing rule patched (as patched).
    pub patched_target: Option<Value>,
    /// Other nodes of the policy that explain the result, as (pointer, message): evaluated CEL audit
    /// annotations. Pointers are relative to the policy document once the rule is placed.
    pub notes: Vec<(String, String)>,
}

impl RuleResponse {
    pub fn new(name: &str, rule_type: RuleType, status: RuleStatus, message: impl Into<String>) -> Self {
        RuleResponse {
            name: name.to_string(),
            rule_type,
            status,
            message: message.into(),
            unsupported: None,
            policy_pointer: None,
            resource_pointer: None,
            generated: Vec::new(),
            patched_target: None,
            notes: Vec::new(),
        }
    }
}

/// Marks the responses of a rule whose evaluation read something only a cluster, a registry or the
/// network could answer: their status is not known offline.
fn mark_offline_gap(responses: &mut [RuleResponse], gap: Option<String>) {
    let Some(reason) = gap else {
        return;
    };
    for response in responses {
        if response.unsupported.is_none() {
            response.status = RuleStatus::Error;
            response.message = reason.clone();
            response.unsupported = Some(reason.clone());
        }
    }
}

/// Everything the engine reads besides the policy and the resource.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// CREATE, UPDATE, DELETE or CONNECT; empty means CREATE.
    pub operation: String,
    /// The `RequestInfo` of the test's userinfo file: `roles`, `clusterRoles`, `userInfo{username,groups}`.
    pub user_info: Value,
    /// Labels of the resource's namespace, for `namespaceSelector`.
    pub namespace_labels: Option<Map<String, Value>>,
    /// Dotted-key variables put into the JSON context (global values, then per-resource values).
    pub variables: Vec<(String, Value)>,
    /// Per-rule values from the Values file, keyed by rule name: they stand in for context entries.
    pub rule_values: std::collections::HashMap<String, Map<String, Value>>,
    /// Per-rule `foreachValues`: for each key, one value per foreach element.
    pub rule_foreach_values: std::collections::HashMap<String, Map<String, Value>>,
    /// The old object for UPDATE and DELETE requests.
    pub old_object: Option<Value>,
    /// Resources known to the (fake) cluster: clone sources for generate rules.
    pub cluster_resources: Vec<Value>,
    /// The subresource the request is for (`status`, `scale`, ...), empty for the main resource.
    pub subresource: String,
    /// The current time for `time_now()` and friends (and CEL's `time.now()` through the CEL bridge),
    /// from the front end's clock; the engine never reads the clock.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// For a subresource request, the (group, version, kind) of the parent resource used for matching.
    pub parent_kind: Option<(String, String, String)>,
    /// Static global context entries by name (from the test file's `globalContextEntries`).
    pub global_context: Map<String, Value>,
    /// PolicyException documents that may exempt the resource from rules.
    pub exceptions: Vec<Value>,
    /// Mocked responses for apiCall context entries.
    pub api_call_mocks: Vec<api_call::ApiCallMock>,
    /// The objects of the fake cluster that answers Kubernetes apiCalls; `None` when the test has no
    /// cluster resources, where Kyverno's CLI leaves apiCall entries unset.
    pub cluster_objects: Option<Vec<Value>>,
    /// Image data (config, manifest, ...) by image reference, from the test's Context file, for
    /// imageRegistry context entries.
    pub image_data: Map<String, Value>,
    /// The request stands for an admission in a live cluster whose objects are not known here (`apply`):
    /// what a rule would read from that cluster (generate clone sources) is unsupported, not missing.
    pub live_cluster: bool,
    /// Whether the run stands for `kyverno test --registry`: the CLI then fetches image data for
    /// imageRegistry entries from the registry (not known offline); without it the entries stay unset.
    pub registry_access: bool,
}

impl Request {
    pub fn operation(&self) -> &str {
        if self.operation.is_empty() { "CREATE" } else { &self.operation }
    }
}

/// The mutate phase of one policy: rule responses and the resource after every rule.
#[derive(Clone, Debug)]
pub struct MutateResponse {
    pub rules: Vec<RuleResponse>,
    pub patched_resource: Value,
}

/// The rules of a policy after autogen, as values.
pub fn policy_rules(policy: &Value) -> Vec<Value> {
    autogen::compute_rules_cached(policy).as_ref().clone()
}

/// Runs the mutate rules of `policy` on `resource`.
pub fn mutate(policy: &Value, resource: &Value, request: &Request) -> MutateResponse {
    let _clock = jmespath_functions::ClockGuard::set(request.now);
    mutate::mutate_policy(policy, resource, request)
}

/// Runs the validate rules (and the offline part of verifyImages) of `policy` on `resource`.
pub fn validate(policy: &Value, resource: &Value, request: &Request) -> Vec<RuleResponse> {
    let _clock = jmespath_functions::ClockGuard::set(request.now);
    validate::validate_policy(policy, resource, request)
}

/// Runs the generate rules of `policy` for the trigger `resource`.
pub fn generate(policy: &Value, resource: &Value, request: &Request) -> Vec<RuleResponse> {
    let _clock = jmespath_functions::ClockGuard::set(request.now);
    generate::generate_policy(policy, resource, request)
}

/// Whether the policy has a rule of the given sort (after autogen).
pub fn policy_has(policy: &Value, section: &str) -> bool {
    policy
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .is_some_and(|rules| rules.iter().any(|rule| rule.get(section).is_some()))
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
mod robustness_tests {
    use super::*;
    use serde_json::json;

    /// Every entry point takes any JSON without panicking: odd policies yield no or error responses.
    #[test]
    fn odd_inputs_do_not_panic() {
        let odd_values = [
            json!(null),
            json!(1),
            json!("text"),
            json!([]),
            json!({}),
            json!({"spec": {"rules": "not a list"}}),
            json!({"spec": {"rules": [null, 1, {"name": 3, "match": "x", "validate": {"pattern": [[]]}}]}}),
            json!({"kind": "Policy", "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["*"]}}]},
                "preconditions": [{"key": "{{ }}", "operator": "Nope"}],
                "validate": {"deny": {"conditions": {"any": [{"key": "{{ request.object | [ }}", "operator": "Equals", "value": 1}]}},
                             "foreach": [{"list": "]]"}]},
                "mutate": {"patchesJson6902": "- op: add\n  path: /a/-1/b/0\n  value: 1\n", "foreach": [{"list": "request.object"}]},
                "generate": {"kind": 3, "clone": {"name": []}}}]}}),
            json!({"spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "validate": {"anyPattern": "x", "podSecurity": {"level": 1, "exclude": [1]}}}]}}),
        ];
        let resources = [
            json!(null),
            json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": 1}, "spec": {"containers": "x"}}),
        ];
        for policy in &odd_values {
            for resource in resources.iter().chain(odd_values.iter()) {
                let request = Request::default();
                let _ = validate(policy, resource, &request);
                let _ = mutate(policy, resource, &request);
                let _ = generate(policy, resource, &request);
                let _ = policy_rules(policy);
            }
        }
    }
}

#[cfg(test)]
mod format_tests {
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
