//! The libraries of Kyverno's authorization server that ValidatingPolicies of the Envoy and HTTP
//! evaluation modes call: the response builders (`envoy.*`, `http.Allowed`, `http.Denied`) and
//! `jwt.Decode`, as kyverno-authz declares them (`pkg/cel/libs/authz/http/lib.go`, the Envoy library
//! and `pkg/authz/cel/libs/jwt/impl.go` of its predecessor kyverno-envoy-plugin).
//!
//! Only what decides allow or deny is kept: a builder checks its arguments and hands back the same
//! response, since headers, bodies, query parameters and metadata shape the reply, not the verdict.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;

use super::runtime::{EvalResult, Interpreter};
use super::value::{AuthorizationResponse, Object, Val};
use crate::engine::signature::{HmacAlgorithm, verify_hmac};

fn response(envoy: bool, denial: Option<String>) -> Val {
    Val::Object(Arc::new(Object::Authorization(AuthorizationResponse { envoy, denial, finished: false })))
}

/// Global functions of the libraries; `None` when the name and arguments match nothing here.
pub fn call_global(interpreter: &Interpreter, name: &str, args: &[Val]) -> Option<EvalResult> {
    Some(match (name, args) {
        ("envoy.Allowed", []) => Ok(response(true, None)),
        ("envoy.Denied", [Val::Int(status)]) => Ok(response(true, Some(status.to_string()))),
        ("envoy.Header", [Val::String(_), Val::String(_)]) => {
            Ok(Val::Object(Arc::new(Object::EnvoyOption { query_parameter: false })))
        }
        ("envoy.QueryParam", [Val::String(_), Val::String(_)]) => {
            Ok(Val::Object(Arc::new(Object::EnvoyOption { query_parameter: true })))
        }
        ("http.Allowed", []) => Ok(response(false, None)),
        ("http.Denied", [Val::String(reason)]) => Ok(response(false, Some(reason.to_string()))),
        ("jwt.Decode", [Val::String(token), Val::String(key)]) => decode_token(interpreter, token, key),
        ("jwks.Fetch", [Val::String(url)]) => {
            let reason = format!("jwks.Fetch({url:?}): {}", super::catalog::JWKS);
            interpreter.services.offline_gaps.note(reason.clone());
            Err(reason)
        }
        _ => return None,
    })
}

/// Member functions of the response builders and options; `None` when nothing here answers.
pub fn call_member(receiver: &Object, name: &str, args: &[Val]) -> Option<EvalResult> {
    let same = || Ok(Val::Object(Arc::new(receiver.clone())));
    let option = |query_parameter: bool| {
        matches!(args, [Val::String(_), Val::String(_)])
            || matches!(args, [Val::Object(object)]
                if matches!(object.as_ref(), Object::EnvoyOption { query_parameter: found } if *found == query_parameter))
    };
    let Object::Authorization(built) = receiver else {
        return match (receiver, name, args) {
            (Object::EnvoyOption { query_parameter: false }, "KeepEmptyValue", [] | [Val::Bool(_)]) => Some(same()),
            _ => None,
        };
    };
    let allowed = built.denial.is_none();
    Some(match (built.envoy, built.finished, name) {
        (_, false, "Response") if args.is_empty() => {
            Ok(Val::Object(Arc::new(Object::Authorization(AuthorizationResponse { finished: true, ..built.clone() }))))
        }
        (true, false, "WithHeader") if option(false) => same(),
        (true, false, "WithBody") if !allowed && matches!(args, [Val::String(_)]) => same(),
        (true, false, "WithoutHeader" | "WithoutQueryParam") if allowed && matches!(args, [Val::String(_)]) => same(),
        (true, false, "WithResponseHeader") if allowed && option(false) => same(),
        (true, false, "WithQueryParam") if allowed && option(true) => same(),
        (true, true, "WithMessage") if matches!(args, [Val::String(_)]) => same(),
        (true, true, "WithMetadata") if matches!(args, [Val::Map(_)]) => same(),
        _ => return None,
    })
}

/// The HMAC algorithms a JSON web token may name, with the length of their MACs.
const HMAC_ALGORITHMS: [(&str, HmacAlgorithm); 3] =
    [("HS256", HmacAlgorithm::Sha256), ("HS384", HmacAlgorithm::Sha384), ("HS512", HmacAlgorithm::Sha512)];

/// `jwt.Decode(token, key)`: the key is a shared secret (jwx imports raw bytes as a symmetric key and
/// infers the HMAC algorithms from it); the signature must verify, then `Valid` says whether the time
/// claims hold now and `Claims` holds the payload as a protobuf Struct (numbers are doubles, time
/// claims whole seconds). What this cannot reproduce exactly is recorded as an offline gap.
fn decode_token(interpreter: &Interpreter, token: &str, key: &str) -> EvalResult {
    let services = interpreter.services;
    let gap = |what: &str| {
        let reason = format!("jwt.Decode: {what} is not decoded offline exactly as the authorization server does");
        services.offline_gaps.note(reason.clone());
        Err(reason)
    };
    if key.is_empty() {
        return gap("an empty key");
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, mac] = parts.as_slice() else {
        return Err("failed to parse token: invalid JWT".to_string());
    };
    let decode = |part: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok();
    let (Some(header_bytes), Some(payload_bytes), Some(mac_bytes)) = (decode(header), decode(payload), decode(mac))
    else {
        return gap("a token that is not unpadded base64url");
    };
    let Ok(Value::Object(header)) = serde_json::from_slice::<Value>(&header_bytes) else {
        return gap("a token whose header is not a JSON object");
    };
    let message = format!("{}.{}", parts[0], parts[1]);
    let verified = HMAC_ALGORITHMS
        .iter()
        .find(|(_, algorithm)| verify_hmac(*algorithm, key.as_bytes(), message.as_bytes(), &mac_bytes));
    let Some((verified_name, _)) = verified else {
        return Err("failed to parse token: could not verify message using any of the signatures or keys".to_string());
    };
    if header.get("alg").and_then(Value::as_str) != Some(*verified_name) {
        return gap("a token whose MAC does not use the algorithm its header names");
    }
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&payload_bytes) else {
        return gap("a token whose payload is not a JSON object");
    };
    let now = services.now_nanos().div_euclid(1_000_000_000) as f64;
    let mut valid = true;
    let mut fields = Vec::new();
    for (name, value) in &claims {
        let converted = match (name.as_str(), value) {
            // Time claims become whole seconds (Go's `time.Time.Unix`).
            ("exp" | "nbf" | "iat", Value::Number(number)) => {
                let seconds = number.as_f64().unwrap_or(0.0).floor();
                valid &= match name.as_str() {
                    "exp" => now < seconds,
                    _ => seconds <= now,
                };
                Val::Double(seconds)
            }
            ("iss" | "sub" | "jti", Value::String(text)) => Val::string(text.as_str()),
            ("exp" | "nbf" | "iat" | "iss" | "sub" | "jti", _) => {
                return gap(&format!("a `{name}` claim of this type"));
            }
            // jwx reads `aud` as a list of strings, which protobuf's Struct conversion refuses.
            ("aud", _) => return gap("an `aud` claim"),
            (_, value) => struct_value(value),
        };
        fields.push((Val::string(name.as_str()), converted));
    }
    let claims = if fields.is_empty() { Val::Null } else { Val::map(fields) };
    Ok(Val::map(vec![(Val::string("Claims"), claims), (Val::string("Valid"), Val::Bool(valid))]))
}

/// A JSON value as a protobuf `Struct` holds it: every number a double.
fn struct_value(value: &Value) -> Val {
    match value {
        Value::Number(number) => Val::Double(number.as_f64().unwrap_or(0.0)),
        Value::Array(items) => Val::list(items.iter().map(struct_value).collect()),
        Value::Object(map) => {
            Val::map(map.iter().map(|(key, item)| (Val::string(key.as_str()), struct_value(item))).collect())
        }
        other => Val::from_json(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cel::DEFAULT_STEP_BUDGET;
    use crate::engine::cel::{Activation, Program, Services};

    // Made for these tests with Python's hmac module, key `s3cret`, HS256: claims
    // {"nbf": 1000, "exp": 4000000000, "role": "admin", "level": 3} and the same with "exp": 2000.
    const CURRENT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYmYiOjEwMDAsImV4cCI6NDAwMDAwMDAwMCwicm9sZSI6ImFkbWluIiwibGV2ZWwiOjN9.4fUrPXM2gYEoenj5HfrXFIe6ejxA_2uLJuRMZNON_58";
    const EXPIRED: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYmYiOjEwMDAsImV4cCI6MjAwMCwicm9sZSI6ImFkbWluIiwibGV2ZWwiOjN9.luq1_Bq2J4ncvFgpd6uX5xZ9FrJg44j3SYtpYfsKbU8";

    fn check(expression: &str, expect: expect_test::Expect) {
        let services = Services::default();
        let activation = Activation::new();
        let program = Program::compile(expression).expect("parses");
        let interpreter = Interpreter::new(&activation, &services, DEFAULT_STEP_BUDGET);
        let shown = match interpreter.eval(program.expr()) {
            Ok(value) => value.debug_text(),
            Err(error) => format!("error: {error}"),
        };
        let gaps = services.offline_gaps.first().map(|gap| format!(" (gap: {gap})")).unwrap_or_default();
        expect.assert_eq(&format!("{shown}{gaps}"));
    }

    #[test]
    fn tokens_verify_with_their_key_and_say_whether_they_are_current() {
        check(
            &format!("jwt.Decode('{CURRENT}', 's3cret')"),
            expect_test::expect![[
                r#"{"Claims": {"nbf": 1000, "exp": 4000000000, "role": "admin", "level": 3}, "Valid": true}"#
            ]],
        );
        // Claims are a protobuf Struct: its numbers are doubles.
        check(&format!("type(jwt.Decode('{CURRENT}', 's3cret').Claims.level) == double"), expect_test::expect!["true"]);
        check(&format!("jwt.Decode('{EXPIRED}', 's3cret').Valid"), expect_test::expect!["false"]);
        check(
            &format!("jwt.Decode('{CURRENT}', 'other').Valid"),
            expect_test::expect![
                "error: failed to parse token: could not verify message using any of the signatures or keys"
            ],
        );
        check("jwt.Decode('a.b', 's3cret')", expect_test::expect!["error: failed to parse token: invalid JWT"]);
    }

    #[test]
    fn builders_keep_the_verdict() {
        check("envoy.Denied(403).WithBody('no').WithHeader('x', 'y').Response()", expect_test::expect!["denied (403)"]);
        check(
            "envoy.Allowed().WithHeader(envoy.Header('a', '').KeepEmptyValue()).WithQueryParam('q', '1').Response().WithMessage('ok')",
            expect_test::expect!["allowed"],
        );
        check("http.Denied('no').Response()", expect_test::expect!["denied (no)"]);
        check(
            "envoy.Allowed().WithBody('x')",
            expect_test::expect!["error: no matching overload for 'WithBody' applied to '(envoy.OkResponse, string)'"],
        );
    }
}
