//! ValidatingPolicies of the Envoy and HTTP evaluation modes answering one check request, as
//! `kyverno test` runs them (`cmd/cli/kubectl-kyverno/processor/authz_processor.go`) through
//! kyverno-authz's compiled policy (`pkg/engine/compiler/policy.go`): `matchConditions` must hold, then
//! the validations run in order and the first that gives a response (not null) decides: an allowing
//! response passes, a denying one fails, none at all skips.
//!
//! The request is a typed object upstream (a protobuf message for Envoy, a Go struct for HTTP) whose
//! unset fields read as empty values; here it is the payload's JSON with the commonly read fields
//! given their empty values. Any evaluation error (a field this leaves out, a type error the upstream
//! type checker would refuse at compile time, a token the JWT library would decode otherwise) makes the
//! result `unsupported` rather than guessed.

use serde_json::{Map, Value, json};

use super::evaluation::{bind_variables, match_conditions, run};
use super::request::{Outcome, Status};
use crate::engine::cel::value::{Object, Val};
use crate::engine::cel::{Activation, Services};

/// The evaluation mode of an authorization policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Envoy,
    Http,
}

impl Mode {
    /// The mode of a ValidatingPolicy (`spec.evaluation.mode`), when it answers check requests.
    pub fn of(policy: &Value) -> Option<Mode> {
        match policy.pointer("/spec/evaluation/mode").and_then(Value::as_str) {
            Some("Envoy") => Some(Mode::Envoy),
            Some("HTTP") => Some(Mode::Http),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Envoy => "Envoy",
            Mode::Http => "HTTP",
        }
    }
}

/// Evaluates `policy` on the check request `payload` (the JSON of an `envoyPayloads` or `httpPayloads`
/// file). `has_exceptions` says whether PolicyExceptions name the policy: they are not evaluated here.
pub fn check_request(
    policy: &Value,
    mode: Mode,
    payload: &Value,
    has_exceptions: bool,
    services: &Services,
) -> Outcome {
    let unsupported = |reason: String, pointer: Option<String>| {
        let reason = format!("{} mode: {reason}: the result is not known offline", mode.as_str());
        Outcome { unsupported: Some(reason.clone()), ..Outcome::new(Status::Error, reason, pointer) }
    };
    if has_exceptions {
        return unsupported("PolicyExceptions of authorization policies are not evaluated".to_string(), None);
    }
    let request = match mode {
        Mode::Envoy => envoy_request(payload),
        Mode::Http => http_request(payload),
    };
    let mut activation = Activation::new();
    activation.bind_json("object", &request);
    let spec = policy.get("spec").unwrap_or(&Value::Null);
    if let Err(error) = bind_variables(&mut activation, spec.get("variables"), services) {
        return unsupported(error, Some("/spec/variables".to_string()));
    }
    match match_conditions(spec.get("matchConditions"), "/spec/matchConditions", &activation, services) {
        Ok(None) => {}
        Ok(Some(pointer)) => return Outcome::new(Status::Skip, "request does not match", Some(pointer)),
        Err((error, pointer)) => return unsupported(error, Some(pointer)),
    }
    let validations = spec.get("validations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, validation) in validations.iter().enumerate() {
        let pointer = format!("/spec/validations/{index}/expression");
        let expression = validation.get("expression").and_then(Value::as_str).unwrap_or("");
        let value = match run(expression, &activation, services) {
            Ok(value) => value,
            Err(error) => return unsupported(error, Some(pointer)),
        };
        let response = match &value {
            Val::Null => continue,
            Val::Object(object) => match object.as_ref() {
                Object::Authorization(response) if response.finished && response.envoy == (mode == Mode::Envoy) => {
                    response.clone()
                }
                _ => {
                    return unsupported(format!("a validation gave {}", value.type_name()), Some(pointer));
                }
            },
            other => return unsupported(format!("a validation gave {}", other.type_name()), Some(pointer)),
        };
        return match (&response.denial, mode) {
            (None, _) => Outcome::new(Status::Pass, "request allowed", Some(pointer)),
            (Some(status), Mode::Envoy) => {
                Outcome::new(Status::Fail, format!("request denied with status code {status}"), Some(pointer))
            }
            (Some(reason), Mode::Http) => {
                Outcome::new(Status::Fail, format!("request denied, reason: {reason}"), Some(pointer))
            }
        };
    }
    Outcome::new(Status::Skip, "request does not match", None)
}

/// Copies `value` over `defaults`: objects key by key (the defaults' keys first), anything else whole.
fn overlay(defaults: Value, value: &Value) -> Value {
    match (defaults, value) {
        (Value::Object(mut base), Value::Object(given)) => {
            for (key, item) in given {
                let merged = match base.remove(key) {
                    Some(default) => overlay(default, item),
                    None => item.clone(),
                };
                base.insert(key.clone(), merged);
            }
            Value::Object(base)
        }
        (_, value) => value.clone(),
    }
}

/// The authorization server's HTTP `CheckRequest`: Go's JSON decoding fills the struct (matching field
/// names without regard to case), every field left out keeps its zero value. The body (bytes) is left
/// out: reading it is an error here, hence unsupported.
fn http_request(payload: &Value) -> Value {
    let defaults = json!({
        "attributes": {
            "method": "", "header": {}, "host": "", "protocol": "", "contentLength": 0,
            "scheme": "", "path": "", "query": {}, "fragment": ""
        },
        "mcp": {"request": null}
    });
    let mut given = go_field_names(payload, &defaults);
    if let (Some(attributes), Some(known)) = (given.get("attributes").cloned(), defaults.get("attributes")) {
        given["attributes"] = go_field_names(&attributes, known);
    }
    overlay(defaults, &given)
}

/// Renames the keys of `value` that equal a key of `known` but for case to that key, as Go's JSON
/// decoding matches struct fields.
fn go_field_names(value: &Value, known: &Value) -> Value {
    let (Value::Object(map), Value::Object(fields)) = (value, known) else { return value.clone() };
    let renamed: Map<String, Value> = map
        .iter()
        .map(|(key, item)| {
            let name = fields.keys().find(|field| field.eq_ignore_ascii_case(key)).unwrap_or(key);
            (name.clone(), item.clone())
        })
        .collect();
    Value::Object(renamed)
}

/// Envoy's `CheckRequest`, with the fields of `attributes.request.http` and the context extensions
/// that policies read given the empty values protobuf gives unset fields. protojson accepts the
/// lowerCamelCase names too; CEL reads the proto names.
fn envoy_request(payload: &Value) -> Value {
    let defaults = json!({
        "attributes": {
            "request": {
                "http": {
                    "id": "", "method": "", "headers": {}, "path": "", "host": "", "scheme": "", "query": "",
                    "fragment": "", "size": 0, "protocol": "", "body": ""
                }
            },
            "context_extensions": {}
        }
    });
    overlay(defaults, &proto_names(payload, false))
}

/// Renames lowerCamelCase keys to the proto names, leaving the keys of map fields (headers, labels,
/// context extensions, metadata) as they are.
fn proto_names(value: &Value, is_map: bool) -> Value {
    match value {
        Value::Object(map) => {
            let renamed: Map<String, Value> = map
                .iter()
                .map(|(key, item)| {
                    let name = if is_map { key.clone() } else { snake_case(key) };
                    let holds_map = !is_map
                        && matches!(name.as_str(), "headers" | "context_extensions" | "labels" | "filter_metadata");
                    (name, proto_names(item, holds_map))
                })
                .collect();
            Value::Object(renamed)
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| proto_names(item, false)).collect()),
        other => other.clone(),
    }
}

fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for character in name.chars() {
        if character.is_ascii_uppercase() {
            out.push('_');
            out.push(character.to_ascii_lowercase());
        } else {
            out.push(character);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVOY_POLICY: &str = r#"
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: tokens}
spec:
  evaluation: {mode: Envoy}
  matchConditions:
  - {name: api, expression: "object.attributes.request.http.path.startsWith('/api')"}
  variables:
  - name: role
    expression: object.attributes.request.http.headers[?"x-role"].orValue("")
  validations:
  - expression: "variables.role == '' ? envoy.Denied(401).Response() : null"
  - expression: "variables.role != 'admin' ? envoy.Denied(403).WithBody('no').Response() : null"
  - expression: envoy.Allowed().WithHeader('x-checked', 'yes').Response()
"#;

    fn check(policy: &str, mode: Mode, payload: Value, expect: expect_test::Expect) {
        let policy: Value = yaml_serde::from_str(policy).expect("a policy");
        let outcome = check_request(&policy, mode, &payload, false, &Services::default());
        let status = if outcome.unsupported.is_some() { "unsupported" } else { outcome.status.as_str() };
        expect.assert_eq(&format!("{status}: {} at {}", outcome.message, outcome.pointer.unwrap_or_default()));
    }

    fn envoy(path: &str, headers: Value) -> Value {
        json!({"attributes": {"request": {"http": {"path": path, "headers": headers}}}})
    }

    #[test]
    fn the_first_response_decides() {
        check(
            ENVOY_POLICY,
            Mode::Envoy,
            envoy("/api/pods", json!({"x-role": "admin"})),
            expect_test::expect!["pass: request allowed at /spec/validations/2/expression"],
        );
        check(
            ENVOY_POLICY,
            Mode::Envoy,
            envoy("/api/pods", json!({"x-role": "guest"})),
            expect_test::expect!["fail: request denied with status code 403 at /spec/validations/1/expression"],
        );
        // Unset fields read as empty values, as protobuf's do.
        check(
            ENVOY_POLICY,
            Mode::Envoy,
            json!({"attributes": {"request": {"http": {"path": "/api"}}}}),
            expect_test::expect!["fail: request denied with status code 401 at /spec/validations/0/expression"],
        );
    }

    #[test]
    fn requests_that_do_not_match_or_get_no_response_skip() {
        check(
            ENVOY_POLICY,
            Mode::Envoy,
            envoy("/health", json!({})),
            expect_test::expect!["skip: request does not match at /spec/matchConditions/0/expression"],
        );
        let silent = "spec:\n  evaluation: {mode: HTTP}\n  validations:\n  - expression: \"object.attributes.method == 'GET' ? http.Denied('read only').Response() : null\"\n";
        check(
            silent,
            Mode::Http,
            json!({"attributes": {"method": "POST"}}),
            expect_test::expect!["skip: request does not match at "],
        );
        check(
            silent,
            Mode::Http,
            json!({"attributes": {"method": "GET"}}),
            expect_test::expect!["fail: request denied, reason: read only at /spec/validations/0/expression"],
        );
    }

    #[test]
    fn what_upstream_would_type_differently_is_unsupported() {
        let wrong_type = "spec:\n  validations:\n  - expression: \"'allowed'\"\n";
        check(
            wrong_type,
            Mode::Http,
            json!({}),
            expect_test::expect![
                "unsupported: HTTP mode: a validation gave string: the result is not known offline at /spec/validations/0/expression"
            ],
        );
        let unknown_field = "spec:\n  validations:\n  - expression: \"object.attributes.user == 'x' ? http.Allowed().Response() : null\"\n";
        check(
            unknown_field,
            Mode::Http,
            json!({}),
            expect_test::expect![
                "unsupported: HTTP mode: no such key: user: the result is not known offline at /spec/validations/0/expression"
            ],
        );
    }
}
