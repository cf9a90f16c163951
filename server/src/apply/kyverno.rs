//! Kyverno policies of every kind on one manifest, as `kyverno apply` runs them (`cmd/cli/kubectl-kyverno/
//! commands/apply/command.go` and `processor/policy_processor.go`): a CREATE request with the namespace
//! the manifest names (else `default`), values and `--set` variables layered as the CLI layers them, and
//! the results counted and graded as `processor/result.go` does.
//!
//! Where `kyverno apply` answers Kubernetes apiCalls and clone sources from a fake cluster made of the
//! manifests themselves, this module does not: in CI the manifests are headed for a real cluster whose
//! objects are not known here, so whatever reads that cluster is `unsupported`.

use serde_json::{Map, Value};

use super::types::{ApplyResult, Manifest, ManifestOutcome, Options, PolicyDocument, RuleKind, Status};
use crate::base::Code;
use crate::engine::chain::{self, Environment, default_namespace};
use crate::engine::kyverno::{RuleResponse, RuleStatus, RuleType, matching, policy_validation};
use crate::engine::kyverno_cel;
use crate::model::{
    ADMISSION_POLICY_BINDING_KINDS, KYVERNO_POLICY_KINDS, KubernetesObject, is_cel_policy_kind,
    is_served_policy_version,
};
use crate::testrun::{Framework, Problem, Related, SourceRef};

/// The Kyverno side of an apply run: the evaluation environment and where each policy is written.
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    pub environment: Environment,
    /// Where each policy of `environment.policies` is written.
    pub sources: Vec<SourceRef>,
}

impl Prepared {
    /// Picks the Kyverno documents (policies of every kind, admission policy bindings, PolicyExceptions)
    /// out of the policy documents; `extra_exceptions` are those of `--exceptions`.
    /// ClusterPolicies and Policies that Kyverno's validation refuses are left out with a problem each, as
    /// `kyverno apply` skips them and counts an error.
    pub fn new(
        documents: &[PolicyDocument],
        extra_exceptions: &[PolicyDocument],
        options: &Options,
        problems: &mut Vec<Problem>,
    ) -> Prepared {
        let mut environment = Environment {
            values: options.values.clone(),
            set_variables: options.set.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect(),
            user_info: options.user_info.clone(),
            now: options.now,
            live_cluster: true,
            ..Environment::default()
        };
        // The Context file stands for the cluster's objects and the registries' image data, as it does
        // for `kyverno apply --context-file`.
        let listed =
            |pointer: &str| options.context.pointer(pointer).and_then(Value::as_array).cloned().unwrap_or_default();
        environment.cluster_resources = listed("/spec/resources");
        for image in listed("/spec/images") {
            if let Some(reference) = image.get("image").and_then(Value::as_str) {
                environment.image_data.insert(reference.to_string(), image.clone());
            }
        }
        let mut sources = Vec::new();
        for document in documents.iter().chain(extra_exceptions) {
            let kind = document.value.kind();
            let is_kyverno_group =
                matches!(document.value.group(), "kyverno.io" | "policies.kyverno.io" | "admissionregistration.k8s.io");
            // The CLI's loader leaves out policies of versions it does not serve
            // (`cmd/cli/kubectl-kyverno/policy/load.go`); `lint` reports them.
            if !is_kyverno_group || !is_served_policy_version(document.value.api_version(), kind) {
                continue;
            }
            if kind == "PolicyException" {
                if kyverno_cel::exceptions::is_cel_exception(&document.value) {
                    environment.cel_exceptions.push(document.value.clone());
                } else {
                    environment.exceptions.push(document.value.clone());
                }
            } else if ADMISSION_POLICY_BINDING_KINDS.contains(&kind) {
                environment.bindings.push(document.value.clone());
            } else if KYVERNO_POLICY_KINDS.contains(&kind) || is_cel_policy_kind(kind) {
                // `kyverno apply` validates the kyverno.io policies only (`commands/apply/command.go`).
                let refused =
                    KYVERNO_POLICY_KINDS.contains(&kind).then(|| policy_validation::rejections(&document.value));
                if let Some(rejection) = refused.and_then(|rejections| rejections.into_iter().next()) {
                    let mut at = document.at.clone();
                    at.pointer = rejection.pointer;
                    let message =
                        format!("policy `{}` is invalid and skipped: {}", document.value.name(), rejection.message);
                    problems.push(Problem { at, code: Code::ApplyInvalidPolicy, message });
                    continue;
                }
                environment.policies.push(document.value.clone());
                sources.push(document.at.clone());
            }
        }
        Prepared { environment, sources }
    }

    pub fn policy_count(&self) -> usize {
        self.environment.policies.len()
    }
}

/// Runs every Kyverno policy on one manifest.
pub fn judge(prepared: &Prepared, manifest: &Manifest, index: usize, audit_warn: bool) -> ManifestOutcome {
    let mut outcome = ManifestOutcome::default();
    if prepared.environment.policies.is_empty() {
        return outcome;
    }
    let mut object = manifest.object.clone();
    default_namespace(&mut object);
    let evaluation = chain::evaluate_resource(&prepared.environment, &object, "");
    let mut mutated_by = Vec::new();
    for policy_outcome in &evaluation.outcomes {
        // A MutatingAdmissionPolicy that does not apply gives no response at all.
        if policy_outcome.dropped.is_some() {
            continue;
        }
        let policy = &prepared.environment.policies[policy_outcome.policy];
        let source = &prepared.sources[policy_outcome.policy];
        for rule in &policy_outcome.rules {
            if rule.rule_type == RuleType::Mutation && rule.status == RuleStatus::Pass {
                let name = policy_key(policy);
                if !mutated_by.contains(&name) {
                    mutated_by.push(name);
                }
            }
            outcome.results.push(result_of(&prepared.environment, policy, &object, source, rule, index, audit_warn));
        }
    }
    if evaluation.mutated != object {
        outcome.mutated = Some((evaluation.mutated, mutated_by));
    }
    outcome
}

/// One rule response as an apply result.
fn result_of(
    environment: &Environment,
    policy: &Value,
    object: &Value,
    source: &SourceRef,
    rule: &RuleResponse,
    manifest: usize,
    audit_warn: bool,
) -> ApplyResult {
    let kind = policy.get("kind").and_then(Value::as_str).unwrap_or("");
    let is_rule_based = matches!(kind, "ClusterPolicy" | "Policy");
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let enforcement = enforcement(environment, policy, namespace);
    let mut status = match chain::report_status(policy, rule.status) {
        RuleStatus::Pass => Status::Pass,
        RuleStatus::Fail => Status::Fail,
        RuleStatus::Warn => Status::Warn,
        RuleStatus::Error => Status::Error,
        RuleStatus::Skip => Status::Skip,
    };
    if rule.unsupported.is_some() {
        status = Status::Unsupported;
    }
    // `processor/result.go`, `addEngineResponse`: an unscored policy's failure is a warning (above), and
    // so is an audit policy's under `--audit-warn`. The CEL kinds have no failure action; their failures
    // do not block admission when their actions leave out Deny, which `--audit-warn` honours too.
    if status == Status::Fail && audit_warn && !blocks(&enforcement) {
        status = Status::Warn;
    }
    let annotation = |key: &str| {
        policy.pointer(&format!("/metadata/annotations/{}", key.replace('/', "~1"))).and_then(Value::as_str)
    };
    let rule_pointer = if is_rule_based { rule_pointer(policy, &rule.name) } else { None };
    let policy_at =
        SourceRef { pointer: rule_pointer.clone().unwrap_or_else(|| "/metadata/name".to_string()), ..source.clone() };
    let mut related = Vec::new();
    if let Some(pointer) = &rule.policy_pointer {
        // Pointers of autogen rules are relative to the computed rule, not to the written one.
        let written = !rule.name.starts_with("autogen-") || !is_rule_based;
        if written && policy.pointer(pointer).is_some() {
            related.push(Related {
                at: SourceRef { pointer: pointer.clone(), ..source.clone() },
                message: "the policy node that decided the result".to_string(),
            });
        }
    }
    for (pointer, message) in &rule.notes {
        related
            .push(Related { at: SourceRef { pointer: pointer.clone(), ..source.clone() }, message: message.clone() });
    }
    ApplyResult {
        framework: Framework::Kyverno,
        policy: policy_key(policy),
        rule: is_rule_based.then(|| rule.name.clone()),
        rule_kind: match rule.rule_type {
            RuleType::Validation => RuleKind::Validate,
            RuleType::Mutation => RuleKind::Mutate,
            RuleType::Generation => RuleKind::Generate,
            RuleType::ImageVerify => RuleKind::VerifyImages,
        },
        manifest,
        status,
        message: rule.unsupported.clone().unwrap_or_else(|| rule.message.clone()),
        enforcement,
        policy_at: Some(policy_at),
        resource_pointer: rule.resource_pointer.clone(),
        related,
        generated: rule.generated.clone(),
        category: annotation("policies.kyverno.io/category").unwrap_or("").to_string(),
        severity: annotation("policies.kyverno.io/severity").unwrap_or("").to_string(),
        source: report_source(kind).to_string(),
    }
}

/// `namespace/name` for a namespaced policy, else `name`: the key Kyverno's reports name policies by.
pub fn policy_key(policy: &Value) -> String {
    let name = chain::policy_name(policy);
    match policy.pointer("/metadata/namespace").and_then(Value::as_str).filter(|namespace| !namespace.is_empty()) {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name,
    }
}

/// `/spec/rules/N` of the written rule a response (autogen names included) comes from.
fn rule_pointer(policy: &Value, response_name: &str) -> Option<String> {
    let written = response_name
        .strip_prefix("autogen-cronjob-")
        .or_else(|| response_name.strip_prefix("autogen-"))
        .unwrap_or(response_name);
    let rules = policy.pointer("/spec/rules")?.as_array()?;
    let position = rules
        .iter()
        .position(|rule| rule.get("name").and_then(Value::as_str) == Some(response_name))
        .or_else(|| rules.iter().position(|rule| rule.get("name").and_then(Value::as_str) == Some(written)))?;
    Some(format!("/spec/rules/{position}"))
}

/// Whether a policy with this enforcement blocks admission on a failure.
fn blocks(enforcement: &str) -> bool {
    enforcement.split(',').any(|action| action.trim().eq_ignore_ascii_case("Enforce") || action.trim() == "Deny")
}

/// The action a policy takes on a failure. For ClusterPolicy/Policy, the one `kyverno apply` grades
/// `--audit-warn` by (`pkg/engine/api/engineresponse.go`, `GetValidationFailureAction`): the first rule
/// that sets its own (`failureActionOverrides`, `failureAction`, or a verifyImages entry, Enforce first),
/// else the policy's `validationFailureActionOverrides` for the namespace, else its
/// `validationFailureAction`, which defaults to Audit; overrides match the manifest's namespace and the
/// labels the values file gives it. For the CEL kinds, their validation actions (a ValidatingPolicy's
/// `validationActions`, default Deny; the union of a ValidatingAdmissionPolicy's bindings').
fn enforcement(environment: &Environment, policy: &Value, namespace: &str) -> String {
    let kind = policy.get("kind").and_then(Value::as_str).unwrap_or("");
    match kind {
        "ClusterPolicy" | "Policy" => {
            kyverno_failure_action(policy, namespace, &namespace_labels(&environment.values, namespace))
        }
        "ValidatingPolicy"
        | "NamespacedValidatingPolicy"
        | "ImageValidatingPolicy"
        | "NamespacedImageValidatingPolicy" => {
            let actions = strings(policy.pointer("/spec/validationActions"));
            if actions.is_empty() { "Deny".to_string() } else { actions.join(",") }
        }
        "ValidatingAdmissionPolicy" => {
            let name = chain::policy_name(policy);
            let mut actions: Vec<String> = Vec::new();
            for binding in &environment.bindings {
                if binding.get("kind").and_then(Value::as_str) == Some("ValidatingAdmissionPolicyBinding")
                    && binding.pointer("/spec/policyName").and_then(Value::as_str) == Some(name.as_str())
                {
                    for action in strings(binding.pointer("/spec/validationActions")) {
                        if !actions.contains(&action) {
                            actions.push(action);
                        }
                    }
                }
            }
            actions.join(",")
        }
        _ => String::new(),
    }
}

fn kyverno_failure_action(policy: &Value, namespace: &str, namespace_labels: &Map<String, Value>) -> String {
    let matching_override = |overrides: Option<&Value>| -> Option<String> {
        overrides.and_then(Value::as_array)?.iter().find_map(|entry| {
            let action = entry.get("action").and_then(Value::as_str)?;
            if !(action.eq_ignore_ascii_case("Enforce") || action.eq_ignore_ascii_case("Audit")) {
                return None;
            }
            let selector_holds = || {
                entry
                    .get("namespaceSelector")
                    .is_none_or(|selector| selector.is_null() || matching::selector_matches(selector, namespace_labels))
            };
            let applies = match entry.get("namespaces").and_then(Value::as_array) {
                None => selector_holds(),
                Some(namespaces) => namespaces.iter().filter_map(Value::as_str).any(|pattern| {
                    crate::engine::kyverno::pattern::wildcard_match(pattern, namespace) && selector_holds()
                }),
            };
            applies.then(|| action.to_string())
        })
    };
    let rules = policy.pointer("/spec/rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for rule in rules {
        if let Some(validate) = rule.get("validate") {
            if let Some(action) = matching_override(validate.get("failureActionOverrides")) {
                return action;
            }
            if let Some(action) = validate.get("failureAction").and_then(Value::as_str) {
                return action.to_string();
            }
        } else if let Some(entries) = rule.get("verifyImages").and_then(Value::as_array) {
            let actions: Vec<&str> =
                entries.iter().filter_map(|entry| entry.get("failureAction").and_then(Value::as_str)).collect();
            if let Some(enforce) = actions.iter().find(|action| action.eq_ignore_ascii_case("Enforce")) {
                return enforce.to_string();
            }
            if let Some(first) = actions.first() {
                return first.to_string();
            }
        }
    }
    if let Some(action) = matching_override(policy.pointer("/spec/validationFailureActionOverrides")) {
        return action;
    }
    policy.pointer("/spec/validationFailureAction").and_then(Value::as_str).unwrap_or("Audit").to_string()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The labels the values file gives a namespace (`namespaceSelector`, then `namespaces`, which win).
fn namespace_labels(values: &Value, namespace: &str) -> Map<String, Value> {
    let mut labels = Map::new();
    for key in ["namespaceSelector", "namespaces"] {
        for entry in values.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let name = entry.get("name").or_else(|| entry.pointer("/metadata/name")).and_then(Value::as_str);
            if name == Some(namespace)
                && let Some(found) =
                    entry.get("labels").or_else(|| entry.pointer("/metadata/labels")).and_then(Value::as_object)
            {
                labels = found.clone();
            }
        }
    }
    labels
}

/// The `source` Kyverno's reports give results of each policy kind (`pkg/utils/report/results.go`).
fn report_source(kind: &str) -> &'static str {
    match kind.strip_prefix("Namespaced").unwrap_or(kind) {
        "ValidatingAdmissionPolicy" => "ValidatingAdmissionPolicy",
        "MutatingAdmissionPolicy" => "MutatingAdmissionPolicy",
        "ValidatingPolicy" => "KyvernoValidatingPolicy",
        "MutatingPolicy" => "KyvernoMutatingPolicy",
        "ImageValidatingPolicy" => "KyvernoImageValidatingPolicy",
        "GeneratingPolicy" => "KyvernoGeneratingPolicy",
        "DeletingPolicy" => "KyvernoDeletingPolicy",
        _ => "kyverno",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_failure_action_is_the_first_rule_that_sets_one_then_the_policy() {
        let policy = |rules: Value, action: Option<&str>| {
            let mut policy = json!({"kind": "ClusterPolicy", "spec": {"rules": rules}});
            if let Some(action) = action {
                policy["spec"]["validationFailureAction"] = json!(action);
            }
            kyverno_failure_action(&policy, "prod", &Map::new())
        };
        assert_eq!(policy(json!([{"name": "a", "validate": {}}]), None), "Audit");
        assert_eq!(policy(json!([{"name": "a", "validate": {}}]), Some("Enforce")), "Enforce");
        assert_eq!(
            policy(
                json!([{"name": "a", "validate": {}}, {"name": "b", "validate": {"failureAction": "Enforce"}}]),
                Some("Audit")
            ),
            "Enforce"
        );
        assert_eq!(
            policy(
                json!([{"name": "a", "verifyImages": [{"failureAction": "Audit"}, {"failureAction": "Enforce"}]}]),
                None
            ),
            "Enforce"
        );
        let overridden = json!([{"name": "a", "validate": {"failureActionOverrides": [
            {"action": "Enforce", "namespaces": ["dev"]},
            {"action": "Audit", "namespaces": ["pr*"]},
        ]}}]);
        assert_eq!(policy(overridden, Some("Enforce")), "Audit");
    }

    #[test]
    fn autogen_responses_point_at_the_written_rule() {
        let policy = json!({"spec": {"rules": [{"name": "other"}, {"name": "check"}]}});
        assert_eq!(rule_pointer(&policy, "autogen-check").as_deref(), Some("/spec/rules/1"));
        assert_eq!(rule_pointer(&policy, "autogen-cronjob-check").as_deref(), Some("/spec/rules/1"));
        assert_eq!(rule_pointer(&policy, "missing"), None);
    }
}
