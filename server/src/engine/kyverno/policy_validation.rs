//! The checks of Kyverno's own policy validation (`pkg/validation/policy`, `Validate`) that the CRD
//! schema does not express and that need no cluster: Kyverno's webhook refuses such a ClusterPolicy or
//! Policy, and `kyverno test` and `kyverno apply` skip it as invalid. Reported as JSON pointers.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// Why Kyverno refuses a policy, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub pointer: String,
    pub message: String,
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
        out.push(Rejection {
            pointer: "/metadata/namespace".to_string(),
            message: "a ClusterPolicy must not have a namespace".to_string(),
        });
    }
    let spec = policy.get("spec").unwrap_or(&Value::Null);
    let enabled = |key: &str| spec.get(key).and_then(Value::as_bool).unwrap_or(true);
    if enabled("background") {
        background_rejections(policy, spec, &mut out);
    }
    if !enabled("admission") && !enabled("background") {
        out.push(Rejection {
            pointer: "/spec/admission".to_string(),
            message: "disabling both admission and background processing is not allowed".to_string(),
        });
    }
    out
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
                    out.push(Rejection {
                        pointer: format!("{pointer}/{key}"),
                        message: format!("{BACKGROUND_HINT}: `{key}` selects by the requesting user"),
                    });
                }
            }
        }
    }
    let mutates_existing = rules.iter().any(|rule| {
        rule.pointer("/mutate/targets").and_then(Value::as_array).is_some_and(|targets| !targets.is_empty())
    });
    if mutates_existing {
        return;
    }
    let mut pointer = String::new();
    forbidden_variables(policy, &mut pointer, out);
}

/// Every string (and key) of the policy holding a variable that reads the requesting user.
fn forbidden_variables(value: &Value, pointer: &mut String, out: &mut Vec<Rejection>) {
    match value {
        Value::String(text) => check_text(text, pointer, out),
        Value::Object(map) => {
            for (key, child) in map {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                check_text(key, pointer, out);
                forbidden_variables(child, pointer, out);
                pointer.truncate(length);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&index.to_string());
                forbidden_variables(child, pointer, out);
                pointer.truncate(length);
            }
        }
        _ => {}
    }
}

/// The variables of one string (or key) that read the requesting user.
fn check_text(text: &str, at: &str, out: &mut Vec<Rejection>) {
    for found in VARIABLE.find_iter(text) {
        // `RegexVariables` skips a variable escaped with a backslash.
        if text[..found.start()].ends_with('\\') {
            continue;
        }
        let variable = found.as_str();
        if FORBIDDEN_USER_VARIABLES.iter().any(|banned| banned.is_match(variable)) {
            out.push(Rejection {
                pointer: at.to_string(),
                message: format!("{BACKGROUND_HINT}: the variable `{variable}` reads the requesting user"),
            });
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
        check(rule(json!({"name": "r", "validate": {"message": "\\{{ request.userInfo }}"}})), &[]);
        check(rule(json!({"name": "r", "validate": {"message": "{{ request.object.spec.serviceAccountName }}"}})), &[]);
        check(
            rule(json!({"name": "r", "validate": {"message": "{{serviceAccountName}}"}})),
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
    fn a_namespaced_cluster_policy_and_no_processing_at_all_are_refused() {
        let mut policy = rule(json!({"name": "r"}));
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
