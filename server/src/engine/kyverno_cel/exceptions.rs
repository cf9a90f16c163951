//! CEL PolicyExceptions (`policies.kyverno.io` PolicyException): which exceptions name a policy, and
//! whether one exempts a request.
//!
//! Semantics follow Kyverno 1.19: the policy engines (`pkg/cel/policies/{vpol,mpol,gpol}/compiler/policy.go`,
//! `evaluate`) check the exceptions after `matchConstraints` and before `matchConditions`; an exception
//! applies when all of its `matchConditions` hold; one without `images` and `allowedValues` exempts the
//! request entirely, the others only widen the `exceptions` variable (`allowedImages`, `allowedValues`).
//! The engines (`.../engine/engine.go`, `handlePolicy`) then report `skip`, or `pass` when the chosen
//! exception says `reportResult: pass`; the chosen one is the first with the highest
//! `polex.kyverno.io/priority` label.

use serde_json::Value;

use super::evaluation::match_conditions;
use super::request::{Outcome, Status};
use crate::engine::cel::{Activation, Services, Val};
use crate::model::KubernetesObject;

/// Whether a document is a CEL PolicyException (as opposed to the `kyverno.io` one for ClusterPolicy).
pub fn is_cel_exception(document: &Value) -> bool {
    document.kind() == "PolicyException"
        && matches!(
            document.api_version(),
            "policies.kyverno.io/v1alpha1" | "policies.kyverno.io/v1beta1" | "policies.kyverno.io/v1"
        )
}

/// The exceptions whose `policyRefs` name the policy by name and kind, as the CLI's providers select
/// them (`pkg/cel/policies/vpol/engine/provider.go`, `NewProvider`).
pub fn exceptions_for(policy: &Value, exceptions: &[Value]) -> Vec<Value> {
    let name = policy.name();
    let kind = policy.kind();
    exceptions
        .iter()
        .filter(|exception| {
            exception.pointer("/spec/policyRefs").and_then(Value::as_array).is_some_and(|references| {
                references.iter().any(|reference| {
                    reference.get("name").and_then(Value::as_str) == Some(name)
                        && reference.get("kind").and_then(Value::as_str) == Some(kind)
                })
            })
        })
        .cloned()
        .collect()
}

/// What the exceptions decide for one request.
pub enum Verdict {
    /// No exception exempts the request: evaluate the policy with this `exceptions` variable.
    Evaluate(Val),
    /// The request is exempt, or an exception's condition failed: report this instead.
    Decided(Outcome),
}

/// Checks `exceptions` against the activation (`object`, `oldObject`, `request`, `namespaceObject`).
/// `ignore_errors` is the policy's `failurePolicy: Ignore`, under which a failing condition means the
/// exception does not apply.
pub fn check(exceptions: &[Value], activation: &Activation, services: &Services, ignore_errors: bool) -> Verdict {
    let mut matched: Vec<&Value> = Vec::new();
    let mut full_exemption = false;
    let mut allowed_images: Vec<Val> = Vec::new();
    let mut allowed_values: Vec<Val> = Vec::new();
    for exception in exceptions {
        let holds = match match_conditions(exception.pointer("/spec/matchConditions"), "", activation, services) {
            Ok(None) => true,
            Ok(Some(_)) => false,
            Err(_) if ignore_errors => false,
            // An exemption already granted stands even if a later exception cannot be evaluated.
            Err(_) if full_exemption => continue,
            Err((error, _)) => {
                let name = key_of(exception);
                return Verdict::Decided(Outcome::new(
                    Status::Error,
                    format!("failed to evaluate the matchConditions of policy exception {name}: {error}"),
                    None,
                ));
            }
        };
        if !holds {
            continue;
        }
        matched.push(exception);
        let images = strings_at(exception, "/spec/images");
        let values = strings_at(exception, "/spec/allowedValues");
        if images.is_empty() && values.is_empty() {
            full_exemption = true;
        } else if !full_exemption {
            allowed_images.extend(images);
            allowed_values.extend(values);
        }
    }
    if full_exemption {
        return Verdict::Decided(exempted(&matched));
    }
    Verdict::Evaluate(Val::map(vec![
        (Val::string("allowedImages"), Val::list(allowed_images)),
        (Val::string("allowedValues"), Val::list(allowed_values)),
    ]))
}

/// The `exceptions` variable when no exception applies.
pub fn no_exceptions() -> Val {
    Val::map(vec![
        (Val::string("allowedImages"), Val::list(Vec::new())),
        (Val::string("allowedValues"), Val::list(Vec::new())),
    ])
}

fn strings_at(exception: &Value, pointer: &str) -> Vec<Val> {
    exception
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(Val::string).collect())
        .unwrap_or_default()
}

/// `namespace/name`, or `name` for an exception without a namespace (the cache key Kyverno prints).
fn key_of(exception: &Value) -> String {
    let name = exception.name();
    match exception.namespace() {
        "" => name.to_string(),
        namespace => format!("{namespace}/{name}"),
    }
}

fn exempted(matched: &[&Value]) -> Outcome {
    let mut chosen = 0;
    let mut highest = 0;
    for (index, exception) in matched.iter().enumerate() {
        let priority = exception
            .pointer("/metadata/labels/polex.kyverno.io~1priority")
            .and_then(Value::as_str)
            .and_then(|text| text.parse::<i64>().ok());
        if let Some(priority) = priority
            && priority > highest
        {
            highest = priority;
            chosen = index;
        }
    }
    let keys: Vec<String> = matched.iter().map(|exception| key_of(exception)).collect();
    let passes =
        matched.get(chosen).and_then(|exception| exception.pointer("/spec/reportResult")).and_then(Value::as_str)
            == Some("pass");
    let (status, verb) = if passes { (Status::Pass, "passed") } else { (Status::Skip, "skipped") };
    Outcome::new(status, format!("rule is {verb} due to policy exception: {}", keys.join(", ")), None)
}
