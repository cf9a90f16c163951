//! What a Kyverno rule is evaluated for and what it answers: the `Request` (the admission request and
//! everything the CLI's values files add), a rule's `RuleResponse`, and a policy's `MutateResponse`. The
//! bottom of `kyverno`: the rule kinds above it (`validate`, `mutate`, `generate`) fill these in.

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
pub(crate) fn mark_offline_gap(responses: &mut [RuleResponse], gap: Option<String>) {
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
    pub api_call_mocks: Vec<ApiCallMock>,
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

/// A mocked HTTP response for an apiCall (the Test's `apiCallResponses`).
#[derive(Clone, Debug)]
pub struct ApiCallMock {
    /// GET or POST; empty matches any method.
    pub method: String,
    pub url: String,
    pub status: u16,
    pub body: Value,
}
