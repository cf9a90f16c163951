//! One resource through every Kyverno policy kind, in the order the Kyverno CLI's policy processor applies
//! them (`cmd/cli/kubectl-kyverno/processor/policy_processor.go`, `ApplyPoliciesOnResource`): the
//! evaluation `kyverno test` and `kyverno apply` make, which `policy-lsp test` and `apply` share.
//!
//! ClusterPolicy and Policy mutate rules run first, each policy on the resource the one before it left;
//! their validate and verifyImages rules see that resource (the CLI runs verifyImages in a loop of its
//! own, which can patch image digests; offline it reports them unsupported, so it changes nothing here).
//! MutatingAdmissionPolicies come next, then the MutatingPolicies (cluster-wide and namespaced, in load
//! order) through one engine call: each runs on the resource the one before it left, and every
//! MutatingPolicy's response carries the resource as the last one left it. ValidatingAdmissionPolicies and the CEL validating kinds see the resource the
//! mutations left; GeneratingPolicies and generate rules run last. Within one kind, policies run in the
//! order they were loaded.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::kyverno::{self as engine, Request, RuleResponse, RuleType};
use super::kyverno_cel;
use crate::model::{CLUSTER_SCOPED_KINDS, KYVERNO_POLICY_KINDS, KubernetesObject};

/// Everything an evaluation reads besides the resource: the policies and what the CLI's flags and files
/// supply (values, user info, exceptions, the fake cluster, mocks).
#[derive(Clone, Debug, Default)]
pub struct Environment {
    /// ClusterPolicy/Policy documents and the CEL kinds, in load order.
    pub policies: Vec<Value>,
    /// ValidatingAdmissionPolicyBindings and MutatingAdmissionPolicyBindings.
    pub bindings: Vec<Value>,
    /// The `spec` of a CLI Values file (`globalValues`, `policies`, `namespaceSelector`, `namespaces`,
    /// `subresources`), or `Null`.
    pub values: Value,
    /// Variables set on the command line (`--set key=value`): they come after the values file's, as the
    /// CLI's `ComputeVariables` applies them.
    pub set_variables: Vec<(String, Value)>,
    /// The `RequestInfo` of a user info file, or `Null`.
    pub user_info: Value,
    /// Resources known to the fake cluster.
    pub cluster_resources: Vec<Value>,
    /// `kyverno.io` PolicyExceptions, for ClusterPolicy and Policy rules.
    pub exceptions: Vec<Value>,
    /// `policies.kyverno.io` PolicyExceptions, for the CEL policy kinds.
    pub cel_exceptions: Vec<Value>,
    /// Params of admission policy bindings when there is no cluster.
    pub param_resources: Vec<Value>,
    /// Whether a fake cluster answers lookups (a test's `clusterResources`).
    pub has_cluster: bool,
    pub global_context: Map<String, Value>,
    pub api_call_mocks: Vec<engine::api_call::ApiCallMock>,
    /// The objects that answer Kubernetes apiCalls; `None` leaves such context entries unset.
    pub cluster_objects: Option<Vec<Value>>,
    pub image_data: Map<String, Value>,
    /// What generate rules may clone from besides the cluster resources.
    pub generate_sources: Vec<Value>,
    /// The caller's current time, for policies that read the clock.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// `kyverno test --registry` (or `kyverno apply --registry`): imageRegistry context entries are
    /// fetched from registries, so what reads one is not known offline.
    pub registry_access: bool,
    /// The resource is admitted to a live cluster whose objects are not known (`apply`), rather than to
    /// the test's fake cluster: reads of the cluster are unsupported.
    pub live_cluster: bool,
}

/// The responses of one policy for one resource, in one phase.
#[derive(Clone, Debug)]
pub struct PolicyOutcome {
    /// The index of the policy in [`Environment::policies`].
    pub policy: usize,
    pub policy_name: String,
    pub rules: Vec<RuleResponse>,
    /// The resource after this policy (the mutated resource for later phases).
    pub patched: Value,
    /// Set when Kyverno drops the policy's response (a MutatingAdmissionPolicy that does not apply or
    /// fails): `kyverno test` then reports the result as not found, whatever was expected.
    pub dropped: Option<String>,
}

impl PolicyOutcome {
    fn new(environment: &Environment, policy: usize, rules: Vec<RuleResponse>, patched: &Value) -> Self {
        PolicyOutcome {
            policy,
            policy_name: policy_name(&environment.policies[policy]),
            rules,
            patched: patched.clone(),
            dropped: None,
        }
    }
}

/// What one resource came to: every policy's responses in evaluation order, and the resource as the
/// mutations left it (what validation saw).
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub outcomes: Vec<PolicyOutcome>,
    pub mutated: Value,
}

/// Runs every policy on one resource in the CLI processor's order (see the module's notes),
/// then generation. `operation_override` replaces the operation the values choose (empty: keep it).
pub fn evaluate_resource(environment: &Environment, resource: &Value, operation_override: &str) -> Evaluation {
    let mut current = resource.clone();
    let mut outcomes = Vec::new();
    let of_kind = |kinds: &'static [&'static str]| {
        environment
            .policies
            .iter()
            .enumerate()
            .filter(move |(_, policy)| {
                policy.get("kind").and_then(Value::as_str).is_some_and(|kind| kinds.contains(&kind))
            })
            .map(|(index, _)| index)
            .collect::<Vec<usize>>()
    };
    let kyverno_policies = of_kind(KYVERNO_POLICY_KINDS);
    for &index in &kyverno_policies {
        let policy = &environment.policies[index];
        if !engine::policy_has(policy, "mutate") {
            continue;
        }
        let request = build_request(environment, policy, &current, operation_override);
        let response = engine::mutate(policy, &current, &request);
        current = response.patched_resource.clone();
        outcomes.push(PolicyOutcome::new(environment, index, response.rules, &response.patched_resource));
    }
    for &index in &kyverno_policies {
        let policy = &environment.policies[index];
        if !(engine::policy_has(policy, "validate") || engine::policy_has(policy, "verifyImages")) {
            continue;
        }
        let request = build_request(environment, policy, &current, operation_override);
        let rules = engine::validate(policy, &current, &request);
        outcomes.push(PolicyOutcome::new(environment, index, rules, &current));
    }
    for index in of_kind(&["MutatingAdmissionPolicy"]) {
        let policy = &environment.policies[index];
        let cel_request = cel_request_for(environment, policy, &current, operation_override);
        match kyverno_cel::admission::mutating_admission_policy(
            policy,
            &cel_request,
            &bindings_for(environment, policy),
        ) {
            Ok(outcome) => {
                if let Some(patched) = &outcome.patched {
                    current = patched.clone();
                }
                let rules = vec![cel_response(policy, RuleType::Mutation, &outcome, &cel_request)];
                outcomes.push(PolicyOutcome::new(environment, index, rules, &current));
            }
            Err(reason) => {
                let mut dropped = PolicyOutcome::new(environment, index, Vec::new(), &current);
                dropped.dropped = Some(format!("Kyverno gives no response for this MutatingAdmissionPolicy: {reason}"));
                outcomes.push(dropped);
            }
        }
    }
    let mutating_policy = |index: usize, current: &mut Value, outcomes: &mut Vec<PolicyOutcome>| {
        let policy = &environment.policies[index];
        let mut cel_request = cel_request_for(environment, policy, current, operation_override);
        cel_request.exceptions = kyverno_cel::exceptions::exceptions_for(policy, &environment.cel_exceptions);
        let mut rules = Vec::new();
        if let Some(outcome) = kyverno_cel::mutating_policy(policy, &cel_request) {
            if let Some(patched) = &outcome.patched {
                *current = patched.clone();
            }
            rules.push(cel_response(policy, RuleType::Mutation, &outcome, &cel_request));
        }
        outcomes.push(PolicyOutcome::new(environment, index, rules, current));
    };
    let first_mutating_policy = outcomes.len();
    for index in of_kind(&["MutatingPolicy", "NamespacedMutatingPolicy"]) {
        mutating_policy(index, &mut current, &mut outcomes);
    }
    // One engine call runs them all, and each response carries the resource as the last one left it.
    for outcome in &mut outcomes[first_mutating_policy..] {
        outcome.patched = current.clone();
    }
    for index in of_kind(&["ValidatingAdmissionPolicy"]) {
        let policy = &environment.policies[index];
        let cel_request = cel_request_for(environment, policy, &current, operation_override);
        let rules = kyverno_cel::admission::validating_admission_policy(
            policy,
            &cel_request,
            &bindings_for(environment, policy),
        )
        .map(|outcome| vec![cel_response(policy, RuleType::Validation, &outcome, &cel_request)])
        .unwrap_or_default();
        outcomes.push(PolicyOutcome::new(environment, index, rules, &current));
    }
    for index in of_kind(&["ValidatingPolicy", "NamespacedValidatingPolicy"]) {
        let policy = &environment.policies[index];
        let mut cel_request = cel_request_for(environment, policy, &current, operation_override);
        cel_request.exceptions = kyverno_cel::exceptions::exceptions_for(policy, &environment.cel_exceptions);
        let outcome = if kyverno_cel::is_json_mode(policy) {
            // The CLI also hands every resource to JSON-mode policies, as plain JSON.
            Some(kyverno_cel::validating_policy_json(policy, &current, &cel_request.exceptions, &cel_request.services))
        } else {
            kyverno_cel::validating_policy(policy, &cel_request)
        };
        let rules = outcome
            .map(|outcome| vec![cel_response(policy, RuleType::Validation, &outcome, &cel_request)])
            .unwrap_or_default();
        outcomes.push(PolicyOutcome::new(environment, index, rules, &current));
    }
    for index in of_kind(&["GeneratingPolicy", "NamespacedGeneratingPolicy"]) {
        let policy = &environment.policies[index];
        let mut cel_request = cel_request_for(environment, policy, &current, operation_override);
        // The CLI compiles GeneratingPolicies with every CEL exception it loaded, whatever their
        // policyRefs name (`processor/policy_processor.go`: `compiler.Compile(pol, p.CELExceptions)`).
        cel_request.exceptions = environment.cel_exceptions.clone();
        let rules = kyverno_cel::generating_policy(policy, &cel_request)
            .map(|outcome| vec![cel_response(policy, RuleType::Generation, &outcome, &cel_request)])
            .unwrap_or_default();
        outcomes.push(PolicyOutcome::new(environment, index, rules, &current));
    }
    for index in of_kind(&["DeletingPolicy", "NamespacedDeletingPolicy"]) {
        let policy = &environment.policies[index];
        let mut cel_request = cel_request_for(environment, policy, &current, operation_override);
        cel_request.exceptions = kyverno_cel::exceptions::exceptions_for(policy, &environment.cel_exceptions);
        let rules = kyverno_cel::deleting_policy(policy, &cel_request)
            .map(|outcome| vec![cel_response(policy, RuleType::Validation, &outcome, &cel_request)])
            .unwrap_or_default();
        outcomes.push(PolicyOutcome::new(environment, index, rules, &current));
    }
    for index in of_kind(&["ImageValidatingPolicy", "NamespacedImageValidatingPolicy"]) {
        let rules = vec![image_validating_unsupported(&environment.policies[index])];
        outcomes.push(PolicyOutcome::new(environment, index, rules, &current));
    }
    for &index in &kyverno_policies {
        let policy = &environment.policies[index];
        if !engine::policy_has(policy, "generate") {
            continue;
        }
        let mut request = build_request(environment, policy, &current, operation_override);
        request.cluster_resources.extend(environment.generate_sources.iter().cloned());
        let rules = engine::generate(policy, &current, &request);
        if rules.is_empty() {
            continue;
        }
        outcomes.push(PolicyOutcome::new(environment, index, rules, &current));
    }
    Evaluation { outcomes, mutated: current }
}

/// Runs the policies on one JSON payload, as the CLI does for `jsonPayloads`: JSON-mode
/// ValidatingPolicies and DeletingPolicies evaluate it; ClusterPolicies see no resource and answer
/// without results; the other CEL kinds need an admission request and give no response.
pub fn evaluate_payload(environment: &Environment, payload: &Value) -> Vec<PolicyOutcome> {
    let mut outcomes = Vec::new();
    for (index, policy) in environment.policies.iter().enumerate() {
        if KYVERNO_POLICY_KINDS.contains(&policy.kind()) {
            if engine::policy_has(policy, "mutate") || engine::policy_has(policy, "validate") {
                outcomes.push(PolicyOutcome::new(environment, index, Vec::new(), payload));
            }
        } else if cel_kind_is(policy, "ValidatingPolicy") && kyverno_cel::is_json_mode(policy) {
            let request = cel_request_for(environment, policy, payload, "");
            let exceptions = kyverno_cel::exceptions::exceptions_for(policy, &environment.cel_exceptions);
            let outcome = kyverno_cel::validating_policy_json(policy, payload, &exceptions, &request.services);
            let rules = vec![cel_response(policy, RuleType::Validation, &outcome, &request)];
            outcomes.push(PolicyOutcome::new(environment, index, rules, payload));
        } else if cel_kind_is(policy, "DeletingPolicy") {
            let mut request = cel_request_for(environment, policy, payload, "");
            request.exceptions = kyverno_cel::exceptions::exceptions_for(policy, &environment.cel_exceptions);
            let rules = kyverno_cel::deleting_policy(policy, &request)
                .map(|outcome| vec![cel_response(policy, RuleType::Validation, &outcome, &request)])
                .unwrap_or_default();
            outcomes.push(PolicyOutcome::new(environment, index, rules, payload));
        } else if cel_kind_is(policy, "ImageValidatingPolicy") {
            outcomes.push(PolicyOutcome::new(environment, index, vec![image_validating_unsupported(policy)], payload));
        }
    }
    outcomes
}

/// Runs the ValidatingPolicies of one authorization mode on a check request, as the CLI's authorization
/// processor does: one response per policy of that mode; policies of other kinds and modes give none.
pub fn evaluate_check_request(
    environment: &Environment,
    payload: &Value,
    mode: kyverno_cel::authorization::Mode,
) -> Vec<PolicyOutcome> {
    let mut outcomes = Vec::new();
    for (index, policy) in environment.policies.iter().enumerate() {
        if !cel_kind_is(policy, "ValidatingPolicy") || kyverno_cel::authorization::Mode::of(policy) != Some(mode) {
            continue;
        }
        let request = cel_request_for(environment, policy, payload, "");
        let has_exceptions = !kyverno_cel::exceptions::exceptions_for(policy, &environment.cel_exceptions).is_empty();
        let outcome =
            kyverno_cel::authorization::check_request(policy, mode, payload, has_exceptions, &request.services);
        let rules = vec![cel_response(policy, RuleType::Validation, &outcome, &request)];
        outcomes.push(PolicyOutcome::new(environment, index, rules, payload));
    }
    outcomes
}

/// ImageValidatingPolicy verifies signatures and attestations against registries: never run offline.
fn image_validating_unsupported(policy: &Value) -> RuleResponse {
    let kind = policy.kind();
    let reason = format!(
        "{kind} verifies image signatures and attestations, which needs registry access: not evaluated offline"
    );
    let mut response =
        RuleResponse::new(&policy_name(policy), RuleType::Validation, engine::RuleStatus::Error, reason.clone());
    response.unsupported = Some(reason);
    response
}

/// The bindings and params an admission policy is evaluated with.
fn bindings_for<'a>(environment: &'a Environment, policy: &Value) -> kyverno_cel::admission::Bindings<'a> {
    let name = policy_name(policy);
    let binding_kind = format!("{}Binding", policy.kind());
    kyverno_cel::admission::Bindings {
        bindings: environment
            .bindings
            .iter()
            .filter(|binding| {
                binding.kind() == binding_kind
                    && binding.pointer("/spec/policyName").and_then(Value::as_str) == Some(name.as_str())
            })
            .collect(),
        params: &environment.param_resources,
        cluster: if environment.has_cluster { environment.cluster_objects.as_deref() } else { None },
    }
}

/// The CEL request for a resource: the Kyverno request plus the namespace object from the Values file.
pub fn cel_request_for(
    environment: &Environment,
    policy: &Value,
    resource: &Value,
    operation_override: &str,
) -> kyverno_cel::Request {
    let request = build_request(environment, policy, resource, operation_override);
    let mut cel_request = engine::cel_bridge::cel_request(resource, &request);
    let namespace = resource.namespace();
    let declared = environment.values.get("namespaces").and_then(Value::as_array).and_then(|items| {
        items.iter().find(|item| item.pointer("/metadata/name").and_then(Value::as_str) == Some(namespace))
    });
    if let Some(namespace_object) = declared {
        cel_request.namespace_object = Some(namespace_object.clone());
    }
    cel_request
}

/// Whether a policy is of the CEL kind `kind` or its Namespaced form.
pub fn cel_kind_is(policy: &Value, kind: &str) -> bool {
    let actual = policy.kind();
    actual == kind || actual.strip_prefix("Namespaced") == Some(kind)
}

/// One rule response standing for a whole CEL policy (CEL policies have no rules).
///
/// A library call that needed a registry or the network (recorded in the request's services) makes the
/// response unsupported: its status is not known offline.
pub fn cel_response(
    policy: &Value,
    rule_type: RuleType,
    outcome: &kyverno_cel::Outcome,
    request: &kyverno_cel::Request,
) -> RuleResponse {
    let status = match outcome.status {
        kyverno_cel::Status::Pass => engine::RuleStatus::Pass,
        kyverno_cel::Status::Fail => engine::RuleStatus::Fail,
        kyverno_cel::Status::Error => engine::RuleStatus::Error,
        kyverno_cel::Status::Skip => engine::RuleStatus::Skip,
    };
    let mut response = RuleResponse::new(&policy_name(policy), rule_type, status, outcome.message.clone());
    response.policy_pointer = outcome.pointer.clone();
    response.generated = outcome.generated.clone();
    response.notes = outcome.notes.iter().map(|note| (note.pointer.clone(), note.message.clone())).collect();
    if let Some(reason) = outcome.unsupported.clone().or_else(|| request.services.offline_gaps.first()) {
        response.status = engine::RuleStatus::Error;
        response.message = reason.clone();
        response.unsupported = Some(reason);
    }
    response
}

/// The status Kyverno's reports give a rule response, which `kyverno test` compares expectations with
/// (`pkg/utils/report/results.go`, `ToPolicyReportResult`): a failure of a policy annotated
/// `policies.kyverno.io/scored: "false"` is a warning.
pub fn report_status(policy: &Value, status: engine::RuleStatus) -> engine::RuleStatus {
    let scored =
        policy.pointer("/metadata/annotations/policies.kyverno.io~1scored").and_then(Value::as_str) != Some("false");
    if status == engine::RuleStatus::Fail && !scored { engine::RuleStatus::Warn } else { status }
}

/// `metadata.name` of a document, or the empty string.
pub fn policy_name(policy: &Value) -> String {
    policy.name().to_string()
}

/// The Kyverno request for one policy and resource: the values file's global values, then the values it
/// gives this policy and resource, then `--set` variables, as the CLI's `ComputeVariables` layers them
/// (`cmd/cli/kubectl-kyverno/variables/variables.go`); the operation, namespace labels and subresource
/// the values file declares.
fn build_request(environment: &Environment, policy: &Value, resource: &Value, operation_override: &str) -> Request {
    let values = &environment.values;
    let policy_name = policy_name(policy);
    let resource_name = resource.name();
    let mut variables: Vec<(String, Value)> = Vec::new();
    if let Some(global) = values.get("globalValues").and_then(Value::as_object) {
        for (key, value) in global {
            variables.push((key.clone(), value.clone()));
        }
    }
    let mut rule_values = HashMap::new();
    let mut rule_foreach_values = HashMap::new();
    for entry in values.get("policies").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        if entry.get("name").and_then(Value::as_str) != Some(policy_name.as_str()) {
            continue;
        }
        for resource_values in entry.get("resources").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            if resource_values.get("name").and_then(Value::as_str) != Some(resource_name) {
                continue;
            }
            if let Some(map) = resource_values.get("values").and_then(Value::as_object) {
                for (key, value) in map {
                    variables.push((key.clone(), value.clone()));
                }
            }
        }
        for rule in entry.get("rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            if let (Some(name), Some(map)) =
                (rule.get("name").and_then(Value::as_str), rule.get("values").and_then(Value::as_object))
            {
                rule_values.insert(name.to_string(), map.clone());
            }
            if let (Some(name), Some(map)) =
                (rule.get("name").and_then(Value::as_str), rule.get("foreachValues").and_then(Value::as_object))
            {
                rule_foreach_values.insert(name.to_string(), map.clone());
            }
        }
    }
    variables.extend(environment.set_variables.iter().cloned());
    let mut operation = variables
        .iter()
        .rev()
        .find(|(key, _)| key == "request.operation")
        .and_then(|(_, value)| value.as_str())
        .unwrap_or("CREATE")
        .to_string();
    if !operation_override.is_empty() {
        operation = operation_override.to_string();
        variables.push(("request.operation".to_string(), Value::String(operation.clone())));
    }
    let namespace = resource.namespace();
    let mut namespace_labels = None;
    for key in ["namespaceSelector", "namespaces"] {
        for entry in values.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let name = entry.get("name").or_else(|| entry.pointer("/metadata/name")).and_then(Value::as_str);
            if name == Some(namespace) {
                let labels = entry
                    .get("labels")
                    .or_else(|| entry.pointer("/metadata/labels"))
                    .and_then(Value::as_object)
                    .cloned();
                namespace_labels = labels.or(namespace_labels);
            }
        }
    }
    let mut subresource = String::new();
    let mut parent_kind = None;
    for entry in values.get("subresources").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let sub = entry.get("subresource").unwrap_or(&Value::Null);
        let api_version = resource.api_version();
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        let same = sub.get("kind").and_then(Value::as_str) == resource.get("kind").and_then(Value::as_str)
            && sub.get("group").and_then(Value::as_str).unwrap_or("") == group
            && sub.get("version").and_then(Value::as_str).unwrap_or("") == version;
        if same && let Some((_, name)) = sub.get("name").and_then(Value::as_str).and_then(|name| name.split_once('/')) {
            subresource = name.to_string();
            let parent = entry.get("parentResource").unwrap_or(&Value::Null);
            let text = |key: &str| parent.get(key).and_then(Value::as_str).unwrap_or("").to_string();
            parent_kind = Some((text("group"), text("version"), text("kind")));
        }
    }
    Request {
        operation,
        user_info: environment.user_info.clone(),
        namespace_labels,
        variables,
        rule_values,
        rule_foreach_values,
        old_object: None,
        cluster_resources: environment.cluster_resources.clone(),
        subresource,
        now: environment.now,
        parent_kind,
        global_context: environment.global_context.clone(),
        exceptions: environment.exceptions.clone(),
        api_call_mocks: environment.api_call_mocks.clone(),
        cluster_objects: environment.cluster_objects.clone(),
        image_data: environment.image_data.clone(),
        live_cluster: environment.live_cluster,
        registry_access: environment.registry_access,
    }
}

/// Gives a namespaced resource without a namespace the `default` one, as the CLI does before evaluating.
pub fn default_namespace(resource: &mut Value) {
    if CLUSTER_SCOPED_KINDS.contains(&resource.kind()) {
        return;
    }
    let Some(map) = resource.as_object_mut() else {
        return;
    };
    let metadata = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if let Some(metadata) = metadata.as_object_mut() {
        let empty = metadata.get("namespace").and_then(Value::as_str).is_none_or(str::is_empty);
        if empty {
            metadata.insert("namespace".to_string(), Value::String("default".to_string()));
        }
    }
}
