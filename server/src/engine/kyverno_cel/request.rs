//! What a CEL policy is evaluated for and what it answers: the admission request with its offline
//! services, the outcome with its notes, and the views of the request that CEL reads (`request`, the pod
//! view of a controller). The bottom of `kyverno_cel`: every policy kind and helper above builds on these.

use serde_json::{Map, Value, json};

use crate::engine::cel::Services;
use crate::model::{KUBERNETES_ADMISSION_POLICY_KINDS, KubernetesObject, POD_CONTROLLER_KINDS};

/// Everything a CEL policy reads besides the policy: the admission request and the offline services.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// CREATE, UPDATE, DELETE or CONNECT; empty means CREATE.
    pub operation: String,
    pub object: Value,
    /// The old object for UPDATE and DELETE; `Null` otherwise.
    pub old_object: Value,
    /// `userInfo` of the admission request: `username`, `groups`, ...
    pub user_info: Value,
    /// The namespace of the resource as an object, when known.
    pub namespace_object: Option<Value>,
    /// The subresource of the request (`status`, `ephemeralcontainers`, ...), empty for the main resource.
    pub subresource: String,
    /// Resources the test supplies besides the one under evaluation: params for paramRef lookups.
    pub resources: Vec<Value>,
    /// The CEL PolicyExceptions that name the policy under evaluation.
    pub exceptions: Vec<Value>,
    pub services: Services,
}

impl Request {
    pub fn operation(&self) -> &str {
        if self.operation.is_empty() { "CREATE" } else { &self.operation }
    }

    /// The object the request is about: the old object for DELETE.
    pub fn subject(&self) -> &Value {
        if self.object.is_null() { &self.old_object } else { &self.object }
    }
}

/// The verdict of a CEL policy or rule on one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Error,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skip => "skip",
        }
    }
}

/// One result, with the pointer of the deciding node inside the policy (a validation, a condition).
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: Status,
    pub message: String,
    pub pointer: Option<String>,
    /// The resource after a MutatingPolicy, or the resources a GeneratingPolicy creates.
    pub patched: Option<Value>,
    pub generated: Vec<Value>,
    /// Facts about other nodes of the policy that explain the result: evaluated audit annotations.
    pub notes: Vec<Note>,
    /// The policy uses a feature this engine does not evaluate; the result is not known.
    pub unsupported: Option<String>,
}

/// A message about a node of the policy, named by its pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub pointer: String,
    pub message: String,
}

impl Outcome {
    pub(crate) fn new(status: Status, message: impl Into<String>, pointer: Option<String>) -> Self {
        Outcome {
            status,
            message: message.into(),
            pointer,
            patched: None,
            generated: Vec::new(),
            notes: Vec::new(),
            unsupported: None,
        }
    }
}

/// Builds the `request` variable of admission CEL.
pub fn request_value(request: &Request) -> Value {
    let subject = request.subject();
    let (group, version) = subject.group_and_version();
    let kind = subject.kind();
    json!({
        "operation": request.operation(),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": crate::engine::cel::plural_of(kind)},
        "subResource": request.subresource,
        "name": subject.pointer("/metadata/name").cloned().unwrap_or(Value::String(String::new())),
        "namespace": subject.pointer("/metadata/namespace").cloned().unwrap_or(Value::String(String::new())),
        "userInfo": if request.user_info.is_null() { json!({}) } else { request.user_info.clone() },
        "object": request.object,
        "oldObject": request.old_object,
        "dryRun": false,
    })
}

/// The pod controllers a policy's autogen targets, by kind; an empty list disables autogen.
pub fn autogen_controllers(policy: &Value) -> Vec<String> {
    // Kubernetes' own admission policies have no autogen; only Kyverno's kinds do.
    let kind = policy.kind();
    if KUBERNETES_ADMISSION_POLICY_KINDS.contains(&kind) {
        return Vec::new();
    }
    let listed = policy.pointer("/spec/autogen/podControllers/controllers").and_then(Value::as_array);
    let names: Vec<String> = match listed {
        Some(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        None => POD_CONTROLLER_KINDS.iter().map(|kind| kind.to_string()).collect(),
    };
    names
        .iter()
        .filter_map(|name| {
            POD_CONTROLLER_KINDS
                .iter()
                .find(|kind| {
                    kind.eq_ignore_ascii_case(name) || crate::engine::cel::plural_of(kind) == name.to_ascii_lowercase()
                })
                .map(|kind| kind.to_string())
        })
        .collect()
}

/// For a pod controller, the pod-shaped view CEL autogen rules evaluate: the template's metadata and spec.
pub fn pod_view(resource: &Value) -> Option<Value> {
    let kind = resource.get("kind").and_then(Value::as_str)?;
    let template = if kind == "CronJob" {
        resource.pointer("/spec/jobTemplate/spec/template")?
    } else {
        resource.pointer("/spec/template")?
    };
    let mut view = Map::new();
    view.insert("apiVersion".to_string(), resource.get("apiVersion").cloned().unwrap_or(Value::Null));
    view.insert("kind".to_string(), Value::String(kind.to_string()));
    view.insert("metadata".to_string(), template.get("metadata").cloned().unwrap_or_else(|| json!({})));
    view.insert("spec".to_string(), template.get("spec").cloned().unwrap_or_else(|| json!({})));
    Some(Value::Object(view))
}
