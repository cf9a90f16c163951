//! Which requests a CEL policy applies to: `matchConstraints` (resource rules, exclusions, namespace and
//! object selectors) and autogen for Pod controllers, which presents a controller's pod template as a pod.

use serde_json::Value;

use super::request::{Request, autogen_controllers, pod_view};
use crate::engine::cel::plural_of;
use crate::model::KubernetesObject;

/// The request as the policy sees it, or `None` when the policy does not apply. For a Pod controller
/// matched through autogen, `object` and `oldObject` are the pod views of the templates.
pub fn applicable_request(policy: &Value, request: &Request) -> Option<Request> {
    let mut view = applicable_view(policy, request)?;
    // A Namespaced policy's `resource` library reads its own namespace (kyverno/sdk's resource library,
    // `namespacedEnv`).
    let namespaced = policy.kind().starts_with("Namespaced");
    if namespaced {
        view.services.policy_namespace =
            policy.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
    }
    Some(view)
}

fn applicable_view(policy: &Value, request: &Request) -> Option<Request> {
    let constraints = policy.pointer("/spec/matchConstraints");
    let subject = request.subject();
    let kind = subject.kind();
    if let Some(constraints) = constraints {
        if !selectors_match(constraints, request) {
            return None;
        }
        let excluded = constraints
            .get("excludeResourceRules")
            .and_then(Value::as_array)
            .is_some_and(|rules| rules.iter().any(|rule| rule_matches(rule, subject, request, None)));
        if excluded {
            return None;
        }
    }
    if resource_rules_match(constraints, subject, request, None) {
        return Some(request.clone());
    }
    let controllers = autogen_controllers(policy);
    if !controllers.iter().any(|controller| controller == kind) {
        return None;
    }
    if !resource_rules_match(constraints, subject, request, Some("pods")) {
        return None;
    }
    let mut view = request.clone();
    if !request.object.is_null() {
        view.object = pod_view(&request.object)?;
    }
    if !request.old_object.is_null() {
        view.old_object = pod_view(&request.old_object).unwrap_or(Value::Null);
    }
    Some(view)
}

fn resource_rules_match(
    constraints: Option<&Value>,
    subject: &Value,
    request: &Request,
    as_resource: Option<&str>,
) -> bool {
    let Some(rules) = constraints.and_then(|constraints| constraints.get("resourceRules")).and_then(Value::as_array)
    else {
        // A policy without resource rules matches nothing in Kubernetes; autogen has nothing to convert.
        return false;
    };
    rules.iter().any(|rule| rule_matches(rule, subject, request, as_resource))
}

fn listed(rule: &Value, key: &str, value: &str) -> bool {
    match rule.get(key).and_then(Value::as_array) {
        Some(items) => items.iter().filter_map(Value::as_str).any(|item| item == "*" || item == value),
        None => true,
    }
}

/// One rule of `resourceRules`: groups, versions, resources (with subresources), operations, names.
fn rule_matches(rule: &Value, subject: &Value, request: &Request, as_resource: Option<&str>) -> bool {
    let kind = subject.kind();
    let (group, version) = match as_resource {
        Some(_) => ("", "v1"),
        None => subject.group_and_version(),
    };
    let plural = as_resource.map_or_else(|| plural_of(kind), str::to_string);
    let resource =
        if request.subresource.is_empty() { plural.clone() } else { format!("{plural}/{}", request.subresource) };
    let resources_ok = match rule.get("resources").and_then(Value::as_array) {
        Some(items) => items.iter().filter_map(Value::as_str).any(|item| {
            item == "*"
                || item == resource
                || (item == "*/*")
                || (request.subresource.is_empty() && item == plural)
                || item.strip_suffix("/*").is_some_and(|base| base == plural && !request.subresource.is_empty())
                || item.strip_prefix("*/").is_some_and(|sub| sub == request.subresource)
        }),
        None => false,
    };
    let names_ok = match rule.get("resourceNames").and_then(Value::as_array) {
        Some(names) if !names.is_empty() => {
            let name = subject.name();
            names.iter().filter_map(Value::as_str).any(|item| item == name)
        }
        _ => true,
    };
    let scope_ok = match rule.get("scope").and_then(Value::as_str) {
        Some("Namespaced") => subject.pointer("/metadata/namespace").is_some() || kind != "Namespace",
        Some("Cluster") => subject.pointer("/metadata/namespace").is_none(),
        _ => true,
    };
    resources_ok
        && names_ok
        && scope_ok
        && listed(rule, "apiGroups", group)
        && listed(rule, "apiVersions", version)
        && listed(rule, "operations", request.operation())
}

fn selectors_match(constraints: &Value, request: &Request) -> bool {
    let subject = request.subject();
    if let Some(selector) = constraints.get("objectSelector") {
        let labels = subject.pointer("/metadata/labels").cloned().unwrap_or(Value::Null);
        if !label_selector_matches(selector, &labels) {
            return false;
        }
    }
    if let Some(selector) = constraints.get("namespaceSelector") {
        let is_namespace = subject.kind() == "Namespace";
        let labels = if is_namespace {
            subject.pointer("/metadata/labels").cloned()
        } else {
            request.namespace_object.as_ref().and_then(|namespace| namespace.pointer("/metadata/labels").cloned())
        };
        let has_rules =
            selector.get("matchLabels").is_some_and(|labels| labels.as_object().is_some_and(|map| !map.is_empty()))
                || selector
                    .get("matchExpressions")
                    .is_some_and(|items| items.as_array().is_some_and(|list| !list.is_empty()));
        if has_rules && !label_selector_matches(selector, &labels.unwrap_or(Value::Null)) {
            return false;
        }
    }
    true
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`) against a labels map.
pub fn label_selector_matches(selector: &Value, labels: &Value) -> bool {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    if let Some(match_labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in match_labels {
            if label(key) != value.as_str() {
                return false;
            }
        }
    }
    for expression in selector.get("matchExpressions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
    {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let ok = match expression.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => label(key).is_some_and(|value| values.contains(&value)),
            "NotIn" => label(key).is_none_or(|value| !values.contains(&value)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Puts a mutated pod view back into the controller's template.
pub fn restore_controller(controller: &Value, view: &Value) -> Value {
    let mut restored = controller.clone();
    let kind = controller.kind();
    let pointer = if kind == "CronJob" { "/spec/jobTemplate/spec/template" } else { "/spec/template" };
    if let Some(template) = restored.pointer_mut(pointer).and_then(Value::as_object_mut) {
        if let Some(metadata) = view.get("metadata")
            && !(metadata.as_object().is_some_and(|map| map.is_empty()) && template.get("metadata").is_none())
        {
            template.insert("metadata".to_string(), metadata.clone());
        }
        if let Some(spec) = view.get("spec") {
            template.insert("spec".to_string(), spec.clone());
        }
    }
    restored
}

/// A `MatchResources` block (an admission policy's `matchConstraints`, a binding's `matchResources`) as
/// Kyverno's CEL matcher reads it (`pkg/cel/matching/matcher.go`, `Match`, which follows Kubernetes'
/// policy matcher): the namespace selector, the object selector (object or old object), the excluded
/// rules, then the resource rules, where an empty list of resource rules matches every resource.
pub fn matches_resources(constraints: &Value, request: &Request) -> bool {
    let subject = request.subject();
    let kind = subject.kind();
    let namespace = subject.namespace();
    if let Some(selector) = constraints.get("namespaceSelector").filter(|selector| selector_has_rules(selector))
        && !(namespace.is_empty() && kind != "Namespace")
    {
        // A Namespace being created or updated is judged by its own labels.
        let own_labels =
            kind == "Namespace" && request.subresource.is_empty() && matches!(request.operation(), "CREATE" | "UPDATE");
        let labels = if own_labels {
            subject.pointer("/metadata/labels").cloned().unwrap_or(Value::Null)
        } else {
            request
                .namespace_object
                .as_ref()
                .and_then(|object| object.pointer("/metadata/labels").cloned())
                .unwrap_or(Value::Null)
        };
        if !label_selector_matches(selector, &labels) {
            return false;
        }
    }
    if let Some(selector) = constraints.get("objectSelector").filter(|selector| selector_has_rules(selector)) {
        let matches = |object: &Value| {
            !object.is_null()
                && label_selector_matches(selector, &object.pointer("/metadata/labels").cloned().unwrap_or(Value::Null))
        };
        if !(matches(&request.object) || matches(&request.old_object)) {
            return false;
        }
    }
    let rules = |key: &str| constraints.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if rules("excludeResourceRules").iter().any(|rule| admission_rule_matches(rule, request)) {
        return false;
    }
    let included = rules("resourceRules");
    included.is_empty() || included.iter().any(|rule| admission_rule_matches(rule, request))
}

fn selector_has_rules(selector: &Value) -> bool {
    selector.get("matchLabels").and_then(Value::as_object).is_some_and(|labels| !labels.is_empty())
        || selector.get("matchExpressions").and_then(Value::as_array).is_some_and(|items| !items.is_empty())
}

/// One named rule with operations, as Kubernetes matches it (`webhook/predicates/rules`): every list must
/// name the request's value or `*` (an absent list matches nothing), `resources` entries are
/// `resource[/subresource]`, and `resourceNames` (when given) must list the name.
fn admission_rule_matches(rule: &Value, request: &Request) -> bool {
    let subject = request.subject();
    let (group, version) = subject.group_and_version();
    let kind = subject.kind();
    let plural = plural_of(kind);
    let names_value = |key: &str, value: &str| {
        rule.get(key)
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().filter_map(Value::as_str).any(|item| item == "*" || item == value))
    };
    let resource_ok = rule.get("resources").and_then(Value::as_array).is_some_and(|items| {
        items.iter().filter_map(Value::as_str).any(|item| {
            let (resource, subresource) = item.split_once('/').unwrap_or((item, ""));
            (resource == "*" || resource == plural) && (subresource == "*" || subresource == request.subresource)
        })
    });
    let namespace = subject.namespace();
    let scope_ok = match rule.get("scope").and_then(Value::as_str) {
        Some("Namespaced") => plural != "namespaces" && !namespace.is_empty(),
        Some("Cluster") => plural == "namespaces" || namespace.is_empty(),
        _ => true,
    };
    let name_ok = match rule.get("resourceNames").and_then(Value::as_array).filter(|names| !names.is_empty()) {
        None => true,
        Some(names) => {
            let name = subject.name();
            let generate_name = subject.pointer("/metadata/generateName").and_then(Value::as_str).unwrap_or("");
            names.iter().filter_map(Value::as_str).any(|wanted| {
                if name.is_empty() {
                    !generate_name.is_empty() && generate_name.starts_with(wanted)
                } else {
                    wanted == name
                }
            })
        }
    };
    scope_ok
        && names_value("operations", request.operation())
        && names_value("apiGroups", group)
        && names_value("apiVersions", version)
        && resource_ok
        && name_ok
}
