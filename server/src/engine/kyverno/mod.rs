//! Kyverno engine: ClusterPolicy/Policy evaluation (match, validate, mutate, generate), pure over JSON values.
//!
//! The engine follows the order of the Kyverno CLI: every policy mutates the resource first, then every
//! policy validates the mutated resource, then generate rules run. Callers (the test runner, the editor)
//! drive that order through [`mutate`], [`validate`] and [`generate`]; each takes the policy and the
//! resource as values plus a [`Request`] that carries everything Kyverno reads from the admission request
//! and from the CLI's values files. Results name places as JSON pointers, never text ranges.

pub mod api_call;
pub mod arithmetic;
pub mod autogen;
pub mod blang_semver;
pub mod cel_bridge;
pub mod conditions;
pub mod foreach;
pub mod generate;
pub mod go_text;
pub mod image_reference;
pub mod jmespath_budget;
pub mod jmespath_functions;
pub mod manifest;
pub mod matching;
pub mod mutate;
pub mod patch_anchors;
pub mod pattern;
pub mod pod_security;
pub mod policy_validation;
pub mod policy_variables;
pub mod response;
pub mod rule_validation;
pub mod strategic_merge;
pub mod validate;
pub mod variables;
pub mod x509;

use serde_json::Value;

pub use response::{MutateResponse, Request, RuleResponse, RuleStatus, RuleType};

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
