//! Kubernetes ValidatingAdmissionPolicy and MutatingAdmissionPolicy with their bindings and params, the
//! way `kyverno test` runs them (Kyverno 1.19, `pkg/admissionpolicy/validate.go` and `mutate.go`).
//!
//! What the CLI does, and this module with it:
//! - Every request is a CREATE of the resource, without an old object.
//! - A policy without bindings applies where its `matchConstraints` match (everywhere without them).
//! - With bindings and no cluster (the test declares no `clusterResources`), only each binding's
//!   `matchResources` is checked (not the policy's `matchConstraints`); `paramRef` picks params among the
//!   test's `paramResources` by `selector` (every match, as a list under `items`) or else by `name` (or
//!   `namespace`), the first match, whatever their kind. A binding whose params are not found evaluates
//!   with `params` null. The last matching binding decides the result.
//! - With a cluster, the policy's `matchConstraints` must match, the resource's namespace must exist in
//!   the cluster, and params are looked up like the API server does (`CollectParams`): by kind, in the
//!   binding's namespace or the resource's, honouring `parameterNotFoundAction: Deny`.
//! - A binding's `validationActions` (Deny, Warn, Audit) do not change the result: Kyverno turns every
//!   denying decision into `fail` (`validateResource`) and `kyverno test` compares results with
//!   `auditWarn` off (`cmd/cli/kubectl-kyverno/commands/test/command.go`, `compareExpectedRuleResult`).
//! - A validation error is `error`; a non-boolean result denies; audit annotations are evaluated but
//!   never change the result (Kubernetes' validator keeps them apart from the decisions). They are
//!   reported as notes.
//! - A MutatingAdmissionPolicy that does not match, whose match conditions fail, or whose patch fails
//!   gives no response at all, which `kyverno test` reports as "Not found".

use serde_json::{Value, json};

use super::evaluation::{
    Flavor, apply_mutations, base_activation, bind_variables, ignores_failures, kubernetes_annotations,
    match_conditions, run_validations,
};
use super::matching;
use super::request::{Outcome, Request, Status};
use crate::model::{CLUSTER_SCOPED_KINDS, KubernetesObject};

/// What an admission policy is bound with in a test.
#[derive(Clone, Debug, Default)]
pub struct Bindings<'a> {
    /// The bindings whose `spec.policyName` names the policy, in the order the test loads them.
    pub bindings: Vec<&'a Value>,
    /// The test's `paramResources`: where bindings find params when the test declares no cluster.
    pub params: &'a [Value],
    /// The objects of the fake cluster when the test declares `clusterResources`.
    pub cluster: Option<&'a [Value]>,
}

/// Runs a ValidatingAdmissionPolicy. `None` when no binding (or, without bindings, the policy) matches:
/// the CLI then has a response without results, which a test reads as excluded.
pub fn validating_admission_policy(policy: &Value, request: &Request, bindings: &Bindings) -> Option<Outcome> {
    let request = as_admitted(request);
    if bindings.bindings.is_empty() {
        // Absent constraints select everything here: Kyverno's matcher reads them as empty.
        let constraints = policy.pointer("/spec/matchConstraints").unwrap_or(&Value::Null);
        if !constraints.is_null() && !matching::matches_resources(constraints, &request) {
            return None;
        }
        return Some(validate(policy, None, &request));
    }
    let mut decided = None;
    match bindings.cluster {
        None => {
            for binding in &bindings.bindings {
                if !binding_matches(binding, &request) {
                    continue;
                }
                let params =
                    binding.pointer("/spec/paramRef").and_then(|reference| select_params(reference, bindings.params));
                decided = Some(validate(policy, params.as_ref(), &request));
            }
        }
        Some(cluster) => {
            let request = in_cluster(policy, &request, cluster)?;
            for binding in &bindings.bindings {
                if !binding_matches(binding, &request) {
                    continue;
                }
                let params = match binding.pointer("/spec/paramRef") {
                    None => None,
                    Some(reference) => match collect_params(policy, reference, &request, cluster) {
                        Ok(params) => Some(params),
                        // Kyverno gives up on the policy, keeping what earlier bindings decided.
                        Err(ParamsMissing::Stop) => return decided,
                        Err(ParamsMissing::Error(message)) => {
                            return Some(Outcome::new(Status::Error, message, Some("/spec/paramKind".to_string())));
                        }
                    },
                };
                decided = Some(validate(policy, params.as_ref(), &request));
            }
        }
    }
    decided
}

/// Runs a MutatingAdmissionPolicy: `Ok` with the patched resource (or a skip), `Err` with the reason
/// when Kyverno gives no response.
pub fn mutating_admission_policy(policy: &Value, request: &Request, bindings: &Bindings) -> Result<Outcome, String> {
    let request = as_admitted(request);
    if bindings.bindings.is_empty() {
        let constraints = policy.pointer("/spec/matchConstraints").unwrap_or(&Value::Null);
        if !constraints.is_null() && !matching::matches_resources(constraints, &request) {
            return Err("the policy's matchConstraints do not match the resource".to_string());
        }
        return mutate(policy, None, &request);
    }
    let mut request = match bindings.cluster {
        Some(cluster) => in_cluster(policy, &request, cluster)
            .ok_or_else(|| "the policy's matchConstraints or the resource's namespace do not match".to_string())?,
        None => request,
    };
    let mut decided: Result<Outcome, String> = Err("no binding of the policy matches the resource".to_string());
    for binding in &bindings.bindings {
        if !binding_matches(binding, &request) {
            continue;
        }
        let params = match (binding.pointer("/spec/paramRef"), bindings.cluster) {
            (None, _) => None,
            (Some(reference), None) => select_params(reference, bindings.params),
            (Some(reference), Some(cluster)) => match collect_params(policy, reference, &request, cluster) {
                Ok(params) => Some(params),
                Err(ParamsMissing::Stop) => return decided,
                Err(ParamsMissing::Error(message)) => return Err(message),
            },
        };
        // Each binding patches what the previous one produced; a binding that fails is passed over.
        match mutate(policy, params.as_ref(), &request) {
            Ok(outcome) => {
                if let Some(patched) = &outcome.patched {
                    request.object = patched.clone();
                }
                decided = Ok(outcome);
            }
            Err(reason) if decided.is_err() => decided = Err(reason),
            Err(_) => {}
        }
    }
    decided
}

/// The request as the CLI admits it for admission policies: a CREATE of the resource.
fn as_admitted(request: &Request) -> Request {
    let mut admitted = request.clone();
    admitted.object = request.subject().clone();
    admitted.old_object = Value::Null;
    admitted.operation = "CREATE".to_string();
    admitted
}

fn binding_matches(binding: &Value, request: &Request) -> bool {
    binding.pointer("/spec/matchResources").is_none_or(|resources| matching::matches_resources(resources, request))
}

/// With a cluster, the policy's constraints must match and a namespaced resource's namespace must exist;
/// the request then carries that Namespace object.
fn in_cluster(policy: &Value, request: &Request, cluster: &[Value]) -> Option<Request> {
    let constraints = policy.pointer("/spec/matchConstraints")?;
    let mut request = request.clone();
    let kind = request.object.kind();
    let namespace = request.object.namespace().to_string();
    if !namespace.is_empty() && kind != "Namespace" {
        let found = cluster.iter().find(|object| object.kind() == "Namespace" && object.name() == namespace)?;
        request.namespace_object = Some(found.clone());
    }
    matching::matches_resources(constraints, &request).then_some(request)
}

/// Params among the test's `paramResources`, as `processVAPWithoutClient` picks them.
fn select_params(reference: &Value, params: &[Value]) -> Option<Value> {
    let selector = reference.get("selector").filter(|selector| !selector.is_null());
    let mut listed = Vec::new();
    for param in params {
        let matches = match selector {
            Some(selector) => matching::label_selector_matches(
                selector,
                &param.pointer("/metadata/labels").cloned().unwrap_or(Value::Null),
            ),
            None => {
                let text = |pointer: &str| param.pointer(pointer).and_then(Value::as_str).unwrap_or("");
                let wanted = |key: &str| reference.get(key).and_then(Value::as_str).filter(|text| !text.is_empty());
                // The name, when given, decides; else the namespace.
                match (wanted("name"), wanted("namespace")) {
                    (Some(name), _) => text("/metadata/name") == name,
                    (None, Some(namespace)) => text("/metadata/namespace") == namespace,
                    (None, None) => false,
                }
            }
        };
        if !matches {
            continue;
        }
        if selector.is_none() {
            return Some(param.clone());
        }
        listed.push(param.clone());
    }
    (!listed.is_empty()).then(|| json!({"items": listed}))
}

enum ParamsMissing {
    /// Kyverno stops evaluating the policy and keeps the earlier result.
    Stop,
    /// Kyverno would crash or reject the policy: reported as an error.
    Error(String),
}

/// Params looked up in the cluster, as `CollectParams` does.
fn collect_params(
    policy: &Value,
    reference: &Value,
    request: &Request,
    cluster: &[Value],
) -> Result<Value, ParamsMissing> {
    let Some(param_kind) = policy.pointer("/spec/paramKind") else {
        return Err(ParamsMissing::Error("the binding has a paramRef but the policy has no paramKind".to_string()));
    };
    let api_version = param_kind.api_version();
    let kind = param_kind.kind();
    let text = |value: &Value, pointer: &str| value.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string();
    let wanted_namespace = text(reference, "/namespace");
    let namespaced = !CLUSTER_SCOPED_KINDS.contains(&kind);
    let namespace = if namespaced {
        let namespace =
            if wanted_namespace.is_empty() { text(&request.object, "/metadata/namespace") } else { wanted_namespace };
        if namespace.is_empty() {
            return Err(ParamsMissing::Stop);
        }
        namespace
    } else if !wanted_namespace.is_empty() {
        return Err(ParamsMissing::Stop);
    } else {
        String::new()
    };
    let candidates = cluster.iter().filter(|object| {
        text(object, "/apiVersion") == api_version
            && text(object, "/kind") == kind
            && (!namespaced || text(object, "/metadata/namespace") == namespace)
    });
    let name = text(reference, "/name");
    let mut found: Vec<Value> = if !name.is_empty() {
        match candidates.clone().find(|object| text(object, "/metadata/name") == name) {
            Some(param) => vec![param.clone()],
            None => return Err(ParamsMissing::Stop),
        }
    } else if let Some(selector) = reference.get("selector").filter(|selector| !selector.is_null()) {
        candidates
            .filter(|object| {
                matching::label_selector_matches(
                    selector,
                    &object.pointer("/metadata/labels").cloned().unwrap_or(Value::Null),
                )
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    match found.len() {
        0 if text(reference, "/parameterNotFoundAction") == "Deny" => Err(ParamsMissing::Stop),
        0 => Err(ParamsMissing::Error(format!("no {kind} params found for the binding's paramRef"))),
        1 => Ok(found.remove(0)),
        _ => Ok(json!({"items": found})),
    }
}

/// `validateResource`: variables, match conditions under the failure policy, validations (the first
/// error or denial decides) and audit annotations as notes.
fn validate(policy: &Value, params: Option<&Value>, request: &Request) -> Outcome {
    let spec = policy.get("spec").unwrap_or(&Value::Null);
    let mut activation = base_activation(request, params);
    if let Err(error) = bind_variables(&mut activation, spec.get("variables"), &request.services) {
        return Outcome::new(Status::Error, error, Some("/spec/variables".to_string()));
    }
    match match_conditions(spec.get("matchConditions"), "/spec/matchConditions", &activation, &request.services) {
        Ok(None) => {}
        Ok(Some(pointer)) => return Outcome::new(Status::Skip, "match conditions aren't met", Some(pointer)),
        Err((_, pointer)) if ignores_failures(policy) => {
            return Outcome::new(Status::Skip, "match conditions aren't met", Some(pointer));
        }
        Err((error, pointer)) => return Outcome::new(Status::Error, error, Some(pointer)),
    }
    let mut outcome = run_validations(
        spec.get("validations"),
        "/spec/validations",
        &activation,
        &request.services,
        Flavor::Kubernetes,
    );
    outcome.notes =
        kubernetes_annotations(spec.get("auditAnnotations"), "/spec/auditAnnotations", &activation, &request.services);
    outcome
}

/// `mutateResource`: variables, match conditions, then the mutations in order.
fn mutate(policy: &Value, params: Option<&Value>, request: &Request) -> Result<Outcome, String> {
    let spec = policy.get("spec").unwrap_or(&Value::Null);
    let mut activation = base_activation(request, params);
    bind_variables(&mut activation, spec.get("variables"), &request.services)?;
    match match_conditions(spec.get("matchConditions"), "/spec/matchConditions", &activation, &request.services) {
        Ok(None) => {}
        Ok(Some(pointer)) => return Ok(Outcome::new(Status::Skip, "match conditions aren't met", Some(pointer))),
        Err((_, pointer)) if ignores_failures(policy) => {
            return Ok(Outcome::new(Status::Skip, "match conditions aren't met", Some(pointer)));
        }
        Err((error, _)) => return Err(format!("match conditions failed: {error}")),
    }
    let patched = apply_mutations(spec.get("mutations"), &request.object, &mut activation, &request.services)
        .map_err(|(error, pointer)| format!("the mutation at {pointer} failed: {error}"))?;
    let mut outcome = Outcome::new(Status::Pass, "mutation is successfully applied", None);
    outcome.patched = Some(patched);
    Ok(outcome)
}
