//! Rule `match` and `exclude`: any/all filters over kinds (group, version and subresource wildcards),
//! names, namespaces, annotations, label and namespace selectors, operations and the requesting user.

use serde_json::{Map, Value};

use super::pattern::wildcard_match;
use super::response::Request;
use crate::model::KubernetesObject;

/// Whether `rule` applies to `resource`: its `match` selects it and its `exclude` does not.
pub fn rule_matches(rule: &Value, resource: &Value, request: &Request, policy_namespace: &str) -> bool {
    if !policy_namespace.is_empty() && resource_namespace(resource) != policy_namespace {
        return false;
    }
    let Some(match_block) = rule.get("match") else {
        return false;
    };
    if !block_matches(match_block, resource, request) {
        return false;
    }
    match rule.get("exclude") {
        Some(exclude) if !exclude.is_null() => !block_matches(exclude, resource, request),
        _ => true,
    }
}

/// Evaluates a `match` or `exclude` block.
fn block_matches(block: &Value, resource: &Value, request: &Request) -> bool {
    let any = block.get("any").and_then(Value::as_array).filter(|filters| !filters.is_empty());
    let all = block.get("all").and_then(Value::as_array).filter(|filters| !filters.is_empty());
    if let Some(filters) = any {
        return filters.iter().any(|filter| filter_matches(filter, resource, request));
    }
    if let Some(filters) = all {
        return filters.iter().all(|filter| filter_matches(filter, resource, request));
    }
    let has_legacy = ["resources", "subjects", "roles", "clusterRoles"].iter().any(|key| {
        block.get(*key).is_some_and(|value| match value {
            Value::Object(map) => !map.is_empty(),
            Value::Array(items) => !items.is_empty(),
            Value::Null => false,
            _ => true,
        })
    });
    if !has_legacy {
        // An empty block selects nothing: an empty match matches nothing and an empty exclude excludes nothing.
        return false;
    }
    filter_matches(block, resource, request)
}

/// One resource filter: `resources` plus `subjects`, `roles`, `clusterRoles`; every present criterion must hold.
pub fn filter_matches(filter: &Value, resource: &Value, request: &Request) -> bool {
    if let Some(description) = filter.get("resources").and_then(Value::as_object)
        && !description_matches(description, resource, request)
    {
        return false;
    }
    user_matches(filter, request)
}

fn description_matches(description: &Map<String, Value>, resource: &Value, request: &Request) -> bool {
    let strings = |key: &str| -> Vec<String> {
        description
            .get(key)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let kinds = strings("kinds");
    if !kinds.is_empty()
        && !kinds.iter().any(|kind| kind_matches(kind, resource, &request.subresource, request.parent_kind.as_ref()))
    {
        return false;
    }
    let name = resource_name(resource);
    if let Some(expected) = description.get("name").and_then(Value::as_str).filter(|text| !text.is_empty())
        && !wildcard_match(expected, name)
    {
        return false;
    }
    let names = strings("names");
    if !names.is_empty() && !names.iter().any(|expected| wildcard_match(expected, name)) {
        return false;
    }
    let namespaces = strings("namespaces");
    if !namespaces.is_empty() {
        let namespace = if resource_kind(resource) == "Namespace" { name } else { resource_namespace(resource) };
        if !namespaces.iter().any(|expected| wildcard_match(expected, namespace)) {
            return false;
        }
    }
    if let Some(annotations) = description.get("annotations").and_then(Value::as_object) {
        let actual = resource.pointer("/metadata/annotations").and_then(Value::as_object);
        for (key, value) in annotations {
            let expected_value = value.as_str().unwrap_or("");
            let found = actual.is_some_and(|actual| {
                actual.iter().any(|(actual_key, actual_value)| {
                    wildcard_match(key, actual_key)
                        && wildcard_match(expected_value, actual_value.as_str().unwrap_or(""))
                })
            });
            if !found {
                return false;
            }
        }
    }
    if let Some(selector) = description.get("selector").filter(|selector| !selector.is_null()) {
        let labels = resource.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default();
        if !selector_matches(selector, &labels) {
            return false;
        }
    }
    if let Some(selector) = description.get("namespaceSelector").filter(|selector| !selector.is_null()) {
        let labels = if resource_kind(resource) == "Namespace" {
            resource.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default()
        } else {
            request.namespace_labels.clone().unwrap_or_default()
        };
        if !selector_matches(selector, &labels) {
            return false;
        }
    }
    let operations = strings("operations");
    if !operations.is_empty() && !operations.iter().any(|operation| operation == request.operation()) {
        return false;
    }
    true
}

/// Matches a Kubernetes label selector (`matchLabels`, `matchExpressions`), with wildcards in values.
pub fn selector_matches(selector: &Value, labels: &Map<String, Value>) -> bool {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    if let Some(match_labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in match_labels {
            let expected = match value {
                Value::String(text) => text.clone(),
                other => super::go_text::go_format(other),
            };
            let matched = if super::pattern::has_wildcard(key) {
                labels.iter().any(|(actual_key, actual)| {
                    wildcard_match(key, actual_key) && wildcard_match(&expected, actual.as_str().unwrap_or(""))
                })
            } else {
                label(key).is_some_and(|actual| wildcard_match(&expected, actual))
            };
            if !matched {
                return false;
            }
        }
    }
    if let Some(expressions) = selector.get("matchExpressions").and_then(Value::as_array) {
        for expression in expressions {
            let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = expression
                .get("values")
                .and_then(Value::as_array)
                .map(|items| items.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let actual = label(key);
            let holds = match expression.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => actual.is_some_and(|actual| values.iter().any(|value| wildcard_match(value, actual))),
                "NotIn" => !actual.is_some_and(|actual| values.iter().any(|value| wildcard_match(value, actual))),
                "Exists" => actual.is_some(),
                "DoesNotExist" => actual.is_none(),
                _ => false,
            };
            if !holds {
                return false;
            }
        }
    }
    true
}

fn user_matches(filter: &Value, request: &Request) -> bool {
    let list = |value: Option<&Value>| -> Vec<String> {
        value
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let roles = list(filter.get("roles"));
    if !roles.is_empty() {
        let actual = list(request.user_info.get("roles"));
        if !roles.iter().any(|role| actual.contains(role)) {
            return false;
        }
    }
    let cluster_roles = list(filter.get("clusterRoles"));
    if !cluster_roles.is_empty() {
        let actual = list(request.user_info.get("clusterRoles"));
        if !cluster_roles.iter().any(|role| actual.contains(role)) {
            return false;
        }
    }
    if let Some(subjects) = filter.get("subjects").and_then(Value::as_array).filter(|subjects| !subjects.is_empty()) {
        let user = request.user_info.get("userInfo").unwrap_or(&Value::Null);
        let username = user.get("username").and_then(Value::as_str).unwrap_or("");
        let groups = list(user.get("groups"));
        let matched = subjects.iter().any(|subject| {
            let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
            match subject.kind() {
                "ServiceAccount" => {
                    let namespace = subject.get("namespace").and_then(Value::as_str).unwrap_or("");
                    username == format!("system:serviceaccount:{namespace}:{name}")
                }
                "User" => wildcard_match(name, username),
                "Group" => groups.iter().any(|group| wildcard_match(name, group)),
                _ => false,
            }
        });
        if !matched {
            return false;
        }
    }
    true
}

/// A PolicyException that applies to a rule and resource.
#[derive(Clone, Debug)]
pub struct MatchedException {
    /// ` ns/name`, as Kyverno appends it to its skip message.
    pub key: String,
    /// For podSecurity rules: the controls the exception exempts, instead of skipping the rule.
    pub pod_security: Option<Vec<Value>>,
}

/// The first PolicyException that exempts `resource` from rule `rule_name` of `policy`.
pub fn matching_exception(
    policy: &Value,
    rule_name: &str,
    resource: &Value,
    request: &Request,
    context: &super::variables::JsonContext,
) -> Option<MatchedException> {
    let policy_name = policy.name();
    let policy_key = match policy.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(namespace) if policy.kind() == "Policy" => {
            format!("{namespace}/{policy_name}")
        }
        _ => policy_name.to_string(),
    };
    for exception in &request.exceptions {
        let Some(entries) = exception.pointer("/spec/exceptions").and_then(Value::as_array) else {
            continue;
        };
        let names_rule = entries.iter().any(|entry| {
            let names_policy =
                entry.get("policyName").and_then(Value::as_str).is_some_and(|name| wildcard_match(name, &policy_key));
            let names_rule = entry.get("ruleNames").and_then(Value::as_array).is_some_and(|rules| {
                rules.iter().filter_map(Value::as_str).any(|rule| wildcard_match(rule, rule_name))
            });
            names_policy && names_rule
        });
        if !names_rule {
            continue;
        }
        let Some(match_block) = exception.pointer("/spec/match") else {
            continue;
        };
        if !block_matches(match_block, resource, request) {
            continue;
        }
        if let Some(conditions) = exception.pointer("/spec/conditions") {
            match super::conditions::evaluate_conditions(Some(conditions), context) {
                Ok(outcome) if outcome.holds => {}
                _ => continue,
            }
        }
        let namespace = exception.namespace();
        let name = exception.name();
        let key = if namespace.is_empty() { format!(" {name}") } else { format!(" {namespace}/{name}") };
        let pod_security = exception.pointer("/spec/podSecurity").and_then(Value::as_array).cloned();
        return Some(MatchedException { key, pod_security });
    }
    None
}

/// A parsed kind selector: `Pod`, `v1/Pod`, `apps/v1/Deployment`, `Pod/status`, `*/*`.
struct KindSelector {
    group: String,
    version: String,
    kind: String,
    subresource: String,
}

/// Reads a kind selector as Kyverno's `ParseKindSelector` does (`pkg/utils/kube/kind.go`): the last part
/// may carry the subresource after a `.`; a leading part that is a version (`v1`, `v2beta1`) or `*` starts
/// `version/kind[/subresource]`, any other starts `group/version/kind` (so `batch/*/CronJob` is the batch
/// group at any version); two parts of which the second is lowercase after `*` are `*/subresource`.
fn parse_kind_selector(text: &str) -> KindSelector {
    let mut parts: Vec<&str> = text.split('/').collect();
    if let Some(last) = parts.pop() {
        parts.extend(last.split('.'));
    }
    let any = || "*".to_string();
    let selector = |group: &str, version: &str, kind: &str, subresource: &str| KindSelector {
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        subresource: subresource.to_string(),
    };
    match parts.as_slice() {
        [kind] => KindSelector { group: any(), version: any(), kind: kind.to_string(), subresource: String::new() },
        ["*", "*"] => selector("*", "*", "*", "*"),
        ["*", second] if second.to_lowercase() == *second => selector("*", "*", "*", second),
        [first, second] if is_version(first) => selector("*", first, second, ""),
        [first, second] => selector("*", "*", first, second),
        [first, second, third] if is_version(first) => selector("*", first, second, third),
        [group, version, kind] => selector(group, version, kind, ""),
        [group, version, kind, subresource] => selector(group, version, kind, subresource),
        // Upstream gives an empty selector, which matches nothing.
        _ => selector("", "", "", ""),
    }
}

/// `v1`, `v1beta2`, `v2alpha1` or `*`: what Kyverno's kind selectors read as a version.
fn is_version(part: &str) -> bool {
    if part == "*" {
        return true;
    }
    let Some(rest) = part.strip_prefix('v') else { return false };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &rest[digits..];
    if rest.is_empty() {
        return true;
    }
    let Some(level) = rest.strip_prefix("alpha").or_else(|| rest.strip_prefix("beta")) else { return false };
    !level.is_empty() && level.bytes().all(|byte| byte.is_ascii_digit())
}

/// Whether a kind selector matches the resource (and the request's subresource). A request for a
/// subresource (`PodExecOptions` as `Pod/exec`) is matched with its parent's kind from `parent_kind`.
pub fn kind_matches(
    selector: &str,
    resource: &Value,
    subresource: &str,
    parent_kind: Option<&(String, String, String)>,
) -> bool {
    let selector = parse_kind_selector(selector);
    let (group, version, kind) = match parent_kind {
        Some((group, version, kind)) => (group.clone(), version.clone(), kind.clone()),
        None => {
            let (group, version) = group_version(resource);
            (group, version, resource_kind(resource).to_string())
        }
    };
    if !wildcard_match(&selector.kind, &kind) {
        return false;
    }
    if !wildcard_match(&selector.group, &group) || !wildcard_match(&selector.version, &version) {
        return false;
    }
    if selector.subresource.is_empty() {
        return subresource.is_empty();
    }
    wildcard_match(&selector.subresource, subresource)
}

/// The group and version of a resource's `apiVersion`.
pub fn group_version(resource: &Value) -> (String, String) {
    let (group, version) = resource.group_and_version();
    (group.to_string(), version.to_string())
}

pub fn resource_kind(resource: &Value) -> &str {
    resource.kind()
}

pub fn resource_name(resource: &Value) -> &str {
    resource.name()
}

pub fn resource_namespace(resource: &Value) -> &str {
    resource.namespace()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(rule: Value, resource: Value, expect: bool) {
        let request = Request {
            namespace_labels: Some(json!({"env": "prod"}).as_object().cloned().unwrap_or_default()),
            user_info: json!({"roles": ["dev:viewer"], "userInfo": {"username": "alice", "groups": ["team-a"]}}),
            ..Request::default()
        };
        assert_eq!(rule_matches(&rule, &resource, &request, ""), expect, "rule {rule}");
    }

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}}})
    }

    #[test]
    fn kinds_names_and_namespaces() {
        check(json!({"match": {"any": [{"resources": {"kinds": ["Pod"]}}]}}), pod(), true);
        check(json!({"match": {"any": [{"resources": {"kinds": ["apps/v1/Deployment"]}}]}}), pod(), false);
        check(json!({"match": {"any": [{"resources": {"kinds": ["v1/Pod"], "names": ["web-*"]}}]}}), pod(), true);
        check(json!({"match": {"resources": {"kinds": ["Pod"], "namespaces": ["kube-*"]}}}), pod(), false);
        check(json!({"match": {"any": [{"resources": {"kinds": ["Pod/status"]}}]}}), pod(), false);
    }

    /// The selector forms Kyverno's `ParseKindSelector` reads, on a batch/v1beta1 CronJob and its status.
    #[test]
    fn kind_selector_forms_read_as_upstream() {
        let cron_job = json!({"apiVersion": "batch/v1beta1", "kind": "CronJob"});
        let matches = |selector: &str, subresource: &str| kind_matches(selector, &cron_job, subresource, None);
        assert!(matches("batch/*/CronJob", ""));
        assert!(matches("batch/v1beta1/CronJob", ""));
        assert!(!matches("batch/v1/CronJob", ""));
        assert!(matches("v1beta1/CronJob", ""));
        assert!(matches("*/CronJob", ""));
        assert!(matches("CronJob", ""));
        assert!(!matches("CronJob", "status"));
        assert!(matches("CronJob/status", "status"));
        assert!(matches("CronJob.status", "status"));
        assert!(matches("v1beta1/CronJob/status", "status"));
        assert!(matches("*/*", "status"));
        assert!(!matches("*/scale", "status"));
        assert!(!matches("a/b/c/d/e", ""));
        for (part, version) in [("v1", true), ("v2beta3", true), ("v1alpha", false), ("batch", false), ("*", true)] {
            assert_eq!(is_version(part), version, "{part}");
        }
    }

    #[test]
    fn selectors_and_exclude() {
        let selector =
            json!({"match": {"all": [{"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"app": "w*"}}}}]}});
        check(selector, pod(), true);
        let namespace_selector = json!({"match": {"any": [{"resources": {"kinds": ["Pod"], "namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}}}]}});
        check(namespace_selector, pod(), true);
        let excluded = json!({"match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "exclude": {"any": [{"subjects": [{"kind": "User", "name": "alice"}]}]}});
        check(excluded, pod(), false);
        let roles = json!({"match": {"any": [{"resources": {"kinds": ["Pod"]}, "roles": ["dev:viewer"]}]}});
        check(roles, pod(), true);
    }
}
