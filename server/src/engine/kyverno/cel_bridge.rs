//! The bridge from the Kyverno engine's request to the CEL evaluators: `validate.cel` and
//! `celPreconditions` of ClusterPolicy/Policy rules, and the CEL policy kinds the Test runner drives.

use serde_json::{Map, Value, json};

use super::response::{Request, RuleResponse, RuleStatus, RuleType};
use crate::engine::cel::Services;
use crate::engine::kyverno_cel::{self as cel_policies, Status};
use crate::model::KubernetesObject;

/// The CEL services (fake cluster, image data, global context, HTTP mocks) for a Kyverno request.
pub fn services(request: &Request) -> Services {
    let mut cluster_objects = request.cluster_objects.clone().unwrap_or_default();
    for object in &request.cluster_resources {
        if !cluster_objects.contains(object) {
            cluster_objects.push(object.clone());
        }
    }
    Services {
        cluster_objects,
        image_data: request.image_data.clone(),
        global_context: request.global_context.clone(),
        http_mocks: request
            .api_call_mocks
            .iter()
            // The CLI serves a mocked response as `{body, statusCode}`, the shape `http.get` answers
            // (`cmd/cli/kubectl-kyverno/commands/test/test.go`, `buildHTTPMockIndex`).
            .map(|mock| {
                (
                    mock.method.to_ascii_uppercase(),
                    mock.url.clone(),
                    json!({"body": mock.body, "statusCode": mock.status}),
                )
            })
            .collect(),
        policy_namespace: String::new(),
        now: request.now,
        offline_gaps: Default::default(),
        live_cluster: request.live_cluster,
    }
}

/// The CEL request for `resource` under the Kyverno request.
pub fn cel_request(resource: &Value, request: &Request) -> cel_policies::Request {
    let services = services(request);
    let namespace = resource.namespace();
    let namespace_object = if namespace.is_empty() {
        None
    } else {
        let found =
            services.cluster_objects.iter().find(|object| object.kind() == "Namespace" && object.name() == namespace);
        Some(found.cloned().unwrap_or_else(|| {
            let labels =
                request.namespace_labels.clone().map(Value::Object).unwrap_or_else(|| Value::Object(Map::new()));
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}})
        }))
    };
    let operation = request.operation().to_string();
    let (object, old_object) = match operation.as_str() {
        "DELETE" => (Value::Null, request.old_object.clone().unwrap_or_else(|| resource.clone())),
        "UPDATE" => (resource.clone(), request.old_object.clone().unwrap_or_else(|| resource.clone())),
        _ => (resource.clone(), Value::Null),
    };
    let user_info = request.user_info.get("userInfo").cloned().unwrap_or_else(|| json!({}));
    cel_policies::Request {
        operation,
        object,
        old_object,
        user_info,
        namespace_object,
        subresource: request.subresource.clone(),
        resources: request.cluster_resources.clone(),
        exceptions: Vec::new(),
        services,
    }
}

/// Runs a rule's `validate.cel` block; `None` when the block has no `cel`.
pub fn validate_cel(rule_name: &str, validate: &Value, resource: &Value, request: &Request) -> Option<RuleResponse> {
    let cel = validate.get("cel")?;
    let outcome = cel_policies::validate_cel(cel, "/cel", &cel_request(resource, request));
    let status = match outcome.status {
        Status::Pass => RuleStatus::Pass,
        Status::Fail => RuleStatus::Fail,
        // Kyverno runs validate.cel through the Kubernetes admission validator, whose failure policy
        // (Fail) turns an evaluation error into a denial: the rule fails rather than errs.
        Status::Error => RuleStatus::Fail,
        Status::Skip => RuleStatus::Skip,
    };
    let mut response = RuleResponse::new(rule_name, RuleType::Validation, status, outcome.message);
    response.policy_pointer = outcome.pointer;
    response.notes = outcome.notes.into_iter().map(|note| (note.pointer, note.message)).collect();
    Some(response)
}

/// `celPreconditions` of a rule: `Ok(true)` when they hold (or are absent).
pub fn cel_preconditions(rule: &Value, resource: &Value, request: &Request) -> Result<bool, String> {
    match rule.get("celPreconditions") {
        Some(conditions) => cel_policies::cel_preconditions(conditions, &cel_request(resource, request)),
        None => Ok(true),
    }
}
