//! The checks of Kyverno's own policy validation (`pkg/validation/policy`, `Validate`) that the CRD
//! schema does not express and that need no cluster: Kyverno's webhook refuses such a ClusterPolicy or
//! Policy, and `kyverno test` and `kyverno apply` skip it as invalid. Reported as JSON pointers.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::policy_variables::RULE_KEYS;

/// Why Kyverno refuses a policy, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub pointer: String,
    pub message: String,
    /// A lint of its own already reports it, at its character (a JMESPath that does not parse): the
    /// refusal matters to the runs, which skip the policy, more than to the editor.
    pub already_linted: bool,
}

impl Rejection {
    fn new(pointer: String, message: String) -> Rejection {
        Rejection { pointer, message, already_linted: false }
    }
}

/// The variables a background scan cannot resolve, as `ForbiddenUserVariables` spells them (the `.` in
/// `request.userInfo` matches any character there too).
static FORBIDDEN_USER_VARIABLES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"[^\.](serviceAccountName)\b",
        r"[^\.](serviceAccountNamespace)\b",
        r"[^\.](request.userInfo)\b",
        r"[^\.](request.roles)\b",
        r"[^\.](request.clusterRoles)\b",
    ]
    .iter()
    .map(|pattern| Regex::new(pattern).expect("a valid pattern"))
    .collect()
});

/// A `{{ }}` variable not escaped with a backslash (`RegexVariables` upstream, without Go's lookbehind
/// workaround: the character before is checked by hand).
static VARIABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{(?:\{[^{}]*\}|[^{}])*\}\}").expect("a valid pattern"));

const BACKGROUND_HINT: &str =
    "only select variables are allowed in background mode; set spec.background: false to disable background mode";

/// Why Kyverno refuses `policy` (a ClusterPolicy or Policy), first reason first; empty when it accepts it.
/// Kyverno stops at the first reason; every one is listed here so that each can be shown where it is.
pub fn rejections(policy: &Value) -> Vec<Rejection> {
    let mut out = Vec::new();
    let kind = policy.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind == "ClusterPolicy"
        && policy.pointer("/metadata/namespace").and_then(Value::as_str).is_some_and(|namespace| !namespace.is_empty())
    {
        out.push(Rejection::new(
            "/metadata/namespace".to_string(),
            "a ClusterPolicy must not have a namespace".to_string(),
        ));
    }
    let spec = policy.get("spec").unwrap_or(&Value::Null);
    let enabled = |key: &str| spec.get(key).and_then(Value::as_bool).unwrap_or(true);
    if enabled("background") {
        background_rejections(policy, spec, &mut out);
    }
    // `hasInvalidVariables` comes after `containsUserVariables`: a variable refused by both is said once.
    let mut refusals = Vec::new();
    super::policy_variables::variable_rejections(spec, enabled("background"), &mut refusals);
    refusals.retain(|refusal| !out.iter().any(|earlier| earlier.pointer == refusal.pointer));
    let scope = super::rule_validation::Scope {
        namespaced: kind == "Policy",
        namespace: policy
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|namespace| !namespace.is_empty()),
    };
    super::rule_validation::rule_rejections(spec, scope, &mut refusals);
    out.extend(refusals.into_iter().map(|refusal| Rejection {
        pointer: refusal.pointer,
        message: refusal.message,
        already_linted: refusal.already_linted,
    }));
    spec_rejections(policy, kind, spec, &mut out);
    if !enabled("admission") && !enabled("background") {
        out.push(Rejection::new(
            "/spec/admission".to_string(),
            "disabling both admission and background processing is not allowed".to_string(),
        ));
    }
    out
}

/// `ClusterPolicy.Validate` / `Policy.Validate` and `Spec.Validate` (`api/kyverno/v1` upstream).
fn spec_rejections(policy: &Value, kind: &str, spec: &Value, out: &mut Vec<Rejection>) {
    let mut reject = |pointer: String, message: String| out.push(Rejection::new(pointer, message));
    if policy.pointer("/metadata/annotations/pod-policies.kyverno.io~1autogen-controllers").and_then(Value::as_str)
        == Some("all")
    {
        reject(
            "/metadata/annotations/pod-policies.kyverno.io~1autogen-controllers".to_string(),
            "the autogen annotation no longer takes `all`: remove it or name the controllers".to_string(),
        );
    }
    let name = policy.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    // Go's `len` counts bytes.
    if name.len() > 63 {
        reject("/metadata/name".to_string(), format!("the policy name is longer than 63 characters ({})", name.len()));
    }
    let replaced = [
        ("webhookTimeoutSeconds", "/webhookConfiguration/timeoutSeconds", "spec.webhookConfiguration.timeoutSeconds"),
        ("failurePolicy", "/webhookConfiguration/failurePolicy", "spec.webhookConfiguration.failurePolicy"),
    ];
    for (field, replacement, spelled) in replaced {
        if spec.get(field).is_some_and(|value| !value.is_null())
            && spec.pointer(replacement).is_some_and(|value| !value.is_null())
        {
            reject(format!("/spec/{field}"), format!("remove the deprecated `{field}`: {spelled} is set"));
        }
    }
    if spec.get("generateExistingOnPolicyUpdate").is_some_and(|value| !value.is_null()) {
        reject(
            "/spec/generateExistingOnPolicyUpdate".to_string(),
            "remove the deprecated `generateExistingOnPolicyUpdate` and use generate.generateExisting in each rule"
                .to_string(),
        );
    }
    let rules = spec.get("rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let policy_wide = spec.get("mutateExistingOnPolicyUpdate").and_then(Value::as_bool) == Some(true);
    for (index, rule) in rules.iter().enumerate() {
        // `HasMutate`: a mutate block that holds something.
        let Some(mutate) = rule.get("mutate").filter(|mutate| mutate.as_object().is_some_and(|map| !map.is_empty()))
        else {
            continue;
        };
        let on_update =
            policy_wide || mutate.get("mutateExistingOnPolicyUpdate").and_then(Value::as_bool) == Some(true);
        let has_targets = mutate.get("targets").and_then(Value::as_array).is_some_and(|targets| !targets.is_empty());
        if on_update && !has_targets {
            reject(
                format!("/spec/rules/{index}/mutate"),
                format!("rules[{index}].mutate.targets has to be specified when mutateExistingOnPolicyUpdate is set"),
            );
        }
    }
    for (pointer, spelled) in [
        ("/webhookTimeoutSeconds", "webhookTimeoutSeconds"),
        ("/webhookConfiguration/timeoutSeconds", "webhookConfiguration.timeoutSeconds"),
    ] {
        if let Some(seconds) = spec.pointer(pointer).and_then(Value::as_i64)
            && !(1..=30).contains(&seconds)
        {
            reject(format!("/spec{pointer}"), format!("{spelled} must be between 1 and 30 seconds, not {seconds}"));
        }
    }
    // `Rule.ValidateRuleType`: exactly one of mutate, validate, generate and verifyImages, each counted
    // when it holds something (`HasMutate` and the others compare with the empty struct).
    for (index, rule) in rules.iter().enumerate() {
        let holds = |key: &str| match rule.get(key) {
            Some(Value::Object(map)) => map.values().any(|value| !value.is_null()),
            Some(Value::Array(items)) => items.iter().any(|item| item.as_object().is_some_and(|map| !map.is_empty())),
            _ => false,
        };
        let operations: Vec<&str> =
            ["mutate", "validate", "generate", "verifyImages"].into_iter().filter(|key| holds(key)).collect();
        let rule_name = rule.get("name").and_then(Value::as_str).unwrap_or("");
        // A key the rule schema does not know is refused by the CRD already, and is most often the
        // operation misspelt: the rule then has none, and saying so again would only repeat it.
        let unknown_key = rule.as_object().is_some_and(|map| map.keys().any(|key| !RULE_KEYS.contains(&key.as_str())));
        match operations.as_slice() {
            [] if unknown_key => {}
            [] => reject(
                format!("/spec/rules/{index}"),
                format!(
                    "the rule `{rule_name}` has no operation: give it one of mutate, validate, generate or verifyImages"
                ),
            ),
            [_] => {}
            [_, second, ..] => reject(
                format!("/spec/rules/{index}/{second}"),
                format!(
                    "the rule `{rule_name}` has several operations ({}): one rule holds only one",
                    operations.join(", ")
                ),
            ),
        }
    }
    let mut names = std::collections::HashSet::new();
    for (index, rule) in rules.iter().enumerate() {
        let rule_name = rule.get("name").and_then(Value::as_str).unwrap_or("");
        if !names.insert(rule_name) {
            reject(format!("/spec/rules/{index}/name"), format!("duplicate rule name `{rule_name}`"));
        }
    }
    if kind == "Policy"
        && spec.get("validationFailureActionOverrides").and_then(Value::as_array).is_some_and(|items| !items.is_empty())
    {
        reject(
            "/spec/validationFailureActionOverrides".to_string(),
            "validationFailureActionOverrides is supported only in a ClusterPolicy".to_string(),
        );
    }
}

/// `containsUserVariables`: in background mode no rule may select by roles, cluster roles or subjects,
/// and, unless a rule mutates existing resources, no variable may read the requesting user.
fn background_rejections(policy: &Value, spec: &Value, out: &mut Vec<Rejection>) {
    let rules = spec.get("rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, rule) in rules.iter().enumerate() {
        for block in ["match", "exclude"] {
            let Some(filter) = rule.get(block) else { continue };
            let mut places = vec![(format!("/spec/rules/{index}/{block}"), filter)];
            for group in ["any", "all"] {
                for (position, entry) in filter
                    .get(group)
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    places.push((format!("/spec/rules/{index}/{block}/{group}/{position}"), entry));
                }
            }
            for (pointer, place) in places {
                let selects_users = ["roles", "clusterRoles", "subjects"]
                    .into_iter()
                    .find(|key| place.get(*key).and_then(Value::as_array).is_some_and(|items| !items.is_empty()));
                if let Some(key) = selects_users {
                    out.push(Rejection::new(
                        format!("{pointer}/{key}"),
                        format!("{BACKGROUND_HINT}: `{key}` selects by the requesting user"),
                    ));
                }
            }
        }
    }
    // `HasMutateExisting` asks only that `targets` be set, even to an empty list.
    let mutates_existing =
        rules.iter().any(|rule| rule.pointer("/mutate/targets").is_some_and(|targets| !targets.is_null()));
    if mutates_existing {
        return;
    }
    let mut pointer = String::new();
    forbidden_variables(policy, &mut pointer, out);
}

/// What `hasVariables` does not scan: `cleanup` empties the last-applied annotation and the autogen rules
/// of the status first.
const NOT_SCANNED: &[&str] =
    &["/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration", "/status/autogen"];

/// Every string (and key) of the policy holding a variable that reads the requesting user.
fn forbidden_variables(value: &Value, pointer: &mut String, out: &mut Vec<Rejection>) {
    let skip = |at: &str| NOT_SCANNED.contains(&at);
    super::policy_variables::visit_strings(value, pointer, &skip, &mut |text, at| check_text(text, at, out));
}

/// The variables of one string (or key) that read the requesting user.
fn check_text(text: &str, at: &str, out: &mut Vec<Rejection>) {
    let mut previous_end = None;
    for found in VARIABLE.find_iter(text) {
        // `RegexVariables` takes the character before a variable with it: a variable escaped with a
        // backslash is skipped, and so is one right after another (that character was taken already).
        let escaped = text[..found.start()].ends_with('\\');
        let adjacent = previous_end == Some(found.start());
        previous_end = Some(found.end());
        if escaped || adjacent {
            continue;
        }
        let variable = found.as_str();
        if FORBIDDEN_USER_VARIABLES.iter().any(|banned| banned.is_match(variable)) {
            out.push(Rejection::new(
                at.to_string(),
                format!("{BACKGROUND_HINT}: the variable `{variable}` reads the requesting user"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(policy: Value, expect: &[&str]) {
        let found: Vec<String> = rejections(&policy)
            .into_iter()
            .map(|rejection| format!("{} {}", rejection.pointer, rejection.message))
            .collect();
        assert_eq!(found, expect);
    }

    fn rule(body: Value) -> Value {
        json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"}, "spec": {"rules": [body]}})
    }

    #[test]
    fn user_variables_are_refused_in_background_mode() {
        let deny = json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"message": "by {{ request.userInfo.username }}", "deny": {}}});
        check(
            rule(deny.clone()),
            &[
                "/spec/rules/0/validate/message only select variables are allowed in background mode; set spec.background: false to disable background mode: the variable `{{ request.userInfo.username }}` reads the requesting user",
            ],
        );
        // Background off, or the variable escaped, or a field of the object named like it: accepted.
        let mut off = rule(deny);
        off["spec"]["background"] = json!(false);
        check(off, &[]);
        check(rule(json!({"name": "r", "validate": {"message": "\\{{ request.userInfo }}", "deny": {}}})), &[]);
        check(
            rule(
                json!({"name": "r", "validate": {"message": "{{ request.object.spec.serviceAccountName }}", "deny": {}}}),
            ),
            &[],
        );
        // Right after another variable, Kyverno's pattern never sees it.
        check(
            rule(
                json!({"name": "r", "validate": {"message": "{{ request.object.kind }}{{ request.userInfo.username }}", "deny": {}}}),
            ),
            &[],
        );
        // The last-applied annotation is not scanned.
        let mut applied = rule(json!({"name": "r", "validate": {"deny": {}}}));
        applied["metadata"]["annotations"] =
            json!({"kubectl.kubernetes.io/last-applied-configuration": "{{ request.userInfo.username }}"});
        check(applied, &[]);
        check(
            rule(json!({"name": "r", "validate": {"message": "{{serviceAccountName}}", "deny": {}}})),
            &[
                "/spec/rules/0/validate/message only select variables are allowed in background mode; set spec.background: false to disable background mode: the variable `{{serviceAccountName}}` reads the requesting user",
            ],
        );
    }

    #[test]
    fn selecting_by_user_is_refused_in_background_mode_and_mutate_existing_skips_the_variables() {
        let by_role = json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}, "clusterRoles": ["admin"]}]},
            "mutate": {"targets": [{"apiVersion": "v1", "kind": "ConfigMap"}], "patchStrategicMerge": {"metadata": {"labels": {"by": "{{ request.userInfo.username }}"}}}}});
        check(
            rule(by_role),
            &[
                "/spec/rules/0/match/any/0/clusterRoles only select variables are allowed in background mode; set spec.background: false to disable background mode: `clusterRoles` selects by the requesting user",
            ],
        );
    }

    #[test]
    fn what_the_policy_types_validate_is_refused() {
        let mut policy = rule(json!({"name": "r", "mutate": {"patchStrategicMerge": {}}}));
        policy["spec"]["rules"] = json!([
            {"name": "r", "mutate": {"mutateExistingOnPolicyUpdate": true, "patchStrategicMerge": {}}},
            {"name": "r", "validate": {"deny": {}}, "generate": {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "n"}},
            {"name": "empty", "validate": {}}
        ]);
        policy["spec"]["webhookTimeoutSeconds"] = json!(45);
        policy["metadata"]["annotations"] = json!({"pod-policies.kyverno.io/autogen-controllers": "all"});
        check(
            policy,
            &[
                "/metadata/annotations/pod-policies.kyverno.io~1autogen-controllers the autogen annotation no longer takes `all`: remove it or name the controllers",
                "/spec/rules/0/mutate rules[0].mutate.targets has to be specified when mutateExistingOnPolicyUpdate is set",
                "/spec/webhookTimeoutSeconds webhookTimeoutSeconds must be between 1 and 30 seconds, not 45",
                "/spec/rules/1/generate the rule `r` has several operations (validate, generate): one rule holds only one",
                "/spec/rules/2 the rule `empty` has no operation: give it one of mutate, validate, generate or verifyImages",
                "/spec/rules/1/name duplicate rule name `r`",
            ],
        );
    }

    #[test]
    fn a_namespaced_cluster_policy_and_no_processing_at_all_are_refused() {
        let mut policy = rule(json!({"name": "r", "validate": {"deny": {}}}));
        policy["metadata"]["namespace"] = json!("default");
        policy["spec"]["admission"] = json!(false);
        policy["spec"]["background"] = json!(false);
        check(
            policy,
            &[
                "/metadata/namespace a ClusterPolicy must not have a namespace",
                "/spec/admission disabling both admission and background processing is not allowed",
            ],
        );
    }
}
