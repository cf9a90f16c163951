//! Validate rules: preconditions, deny, pattern, anyPattern, foreach (nested, with element scope),
//! podSecurity, plus the offline answers for CEL (unsupported) and verifyImages (digests checked,
//! signatures skipped).

use serde_json::Value;

use super::conditions::evaluate_conditions;
use super::foreach::{add_element, evaluate_list, load_context, request_context};
use super::matching;
use super::pattern::{PatternOutcome, match_pattern};
use super::response::{Request, RuleResponse, RuleStatus, RuleType};
use super::variables::{JsonContext, VariableError, substitute_all, substitute_string};
use crate::model::KubernetesObject;

/// Validates `resource` against every validate rule of `policy` (after autogen).
pub fn validate_policy(policy: &Value, resource: &Value, request: &Request) -> Vec<RuleResponse> {
    let policy_namespace = policy_namespace(policy);
    let (base_context, effective) = request_context(resource, request);
    let mut responses = Vec::new();
    let apply_one = policy.pointer("/spec/applyRules").and_then(Value::as_str) == Some("One");
    for (index, rule) in super::autogen::compute_rules_cached(policy).iter().enumerate() {
        // `applyRules: One` stops at the first rule that passed or failed.
        if apply_one
            && responses
                .iter()
                .any(|response: &RuleResponse| matches!(response.status, RuleStatus::Pass | RuleStatus::Fail))
        {
            break;
        }
        let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
        let match_target = if request.operation() == "DELETE" { resource } else { &effective };
        if rule.get("verifyImages").is_some() {
            if matching::rule_matches(rule, match_target, request, &policy_namespace) {
                let mut response = verify_images(name, rule, &effective);
                response.policy_pointer = Some(format!("/spec/rules/{index}/verifyImages"));
                responses.push(response);
            }
            continue;
        }
        let Some(validate) = rule.get("validate") else {
            continue;
        };
        if !matching::rule_matches(rule, match_target, request, &policy_namespace) {
            continue;
        }
        match super::cel_bridge::cel_preconditions(rule, match_target, request) {
            Ok(true) => {}
            Ok(false) => {
                responses.push(RuleResponse::new(
                    name,
                    RuleType::Validation,
                    RuleStatus::Skip,
                    "cel preconditions not met",
                ));
                continue;
            }
            Err(error) => {
                let message = format!("failed to evaluate cel preconditions: {error}");
                responses.push(RuleResponse::new(name, RuleType::Validation, RuleStatus::Error, message));
                continue;
            }
        }
        let mut context = base_context.clone();
        context.start_rule();
        let validator = Validator { policy, rule, rule_name: name, request, nesting: 0 };
        if let Some(mut response) = validator.validate(validate, &mut context, &effective, None) {
            super::response::mark_offline_gap(std::slice::from_mut(&mut response), context.offline_gap());
            if response.status == RuleStatus::Fail
                && allows_existing_violations(policy, rule, request)
                && old_object_fails(policy, rule, validate, resource, request)
            {
                response = RuleResponse::new(
                    name,
                    RuleType::Validation,
                    RuleStatus::Skip,
                    "skipping the rule evaluation as pre-existing violations are allowed",
                );
            }
            let (source_index, inner) =
                super::autogen::source_pointer(policy, index, name, response.policy_pointer.as_deref().unwrap_or(""));
            response.policy_pointer = Some(format!("/spec/rules/{source_index}/validate{inner}"));
            for note in &mut response.notes {
                note.0 = format!("/spec/rules/{source_index}/validate{}", note.0);
            }
            responses.push(response);
        }
    }
    responses
}

/// The offline part of a verifyImages rule: digests required by `verifyDigest` are checked; signatures
/// and attestations need a registry, so rules that ask for them are skipped with that reason.
fn verify_images(name: &str, rule: &Value, resource: &Value) -> RuleResponse {
    let entries = rule.get("verifyImages").and_then(Value::as_array).cloned().unwrap_or_default();
    let needs_registry = entries.iter().any(|entry| {
        ["attestors", "attestations"]
            .iter()
            .any(|key| entry.get(*key).and_then(Value::as_array).is_some_and(|items| !items.is_empty()))
    });
    if needs_registry {
        // Kyverno fetches the signatures and attestations from the image's registry: whether the rule
        // passes is not known offline.
        let reason = "verifyImages checks image signatures and attestations, which needs registry access: not \
                      verified offline";
        let mut response = RuleResponse::new(name, RuleType::ImageVerify, RuleStatus::Error, reason);
        response.unsupported = Some(reason.to_string());
        return response;
    }
    let images = super::foreach::extract_images(resource);
    for entry in &entries {
        let references: Vec<&str> = entry
            .get("imageReferences")
            .or_else(|| entry.get("image").map(|_| &Value::Null))
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).collect())
            .unwrap_or_else(|| vec!["*"]);
        let verify_digest = entry.get("verifyDigest").and_then(Value::as_bool).unwrap_or(true);
        for containers in images.as_object().map(|map| map.values().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            for info in containers.as_object().map(|map| map.values().cloned().collect::<Vec<_>>()).unwrap_or_default()
            {
                let reference = info.get("reference").and_then(Value::as_str).unwrap_or("");
                if !references.iter().any(|pattern| super::pattern::wildcard_match(pattern, reference)) {
                    continue;
                }
                let digest = info.get("digest").and_then(Value::as_str).unwrap_or("");
                if verify_digest && digest.is_empty() {
                    return RuleResponse::new(
                        name,
                        RuleType::ImageVerify,
                        RuleStatus::Fail,
                        format!("missing digest for {reference}"),
                    );
                }
                // A required image must carry Kyverno's verification record, which only a
                // successful signature check writes.
                let required = entry.get("required").and_then(Value::as_bool).unwrap_or(true);
                if required && !image_marked_verified(resource, reference) {
                    return RuleResponse::new(
                        name,
                        RuleType::ImageVerify,
                        RuleStatus::Fail,
                        format!("unverified image {reference}"),
                    );
                }
            }
        }
    }
    RuleResponse::new(name, RuleType::ImageVerify, RuleStatus::Pass, "image verified")
}

/// Whether the `kyverno.io/verify-images` annotation records the image as verified.
fn image_marked_verified(resource: &Value, reference: &str) -> bool {
    let Some(text) = resource
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get("kyverno.io/verify-images"))
        .and_then(Value::as_str)
    else {
        return false;
    };
    let Ok(Value::Object(record)) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    record.iter().any(|(image, status)| {
        (image == reference || image.ends_with(reference) || reference.ends_with(image.as_str()))
            && matches!(status.as_str(), Some("pass") | Some("true"))
    })
}

/// Enforce rules on UPDATE requests let a resource keep a violation it already had
/// (`allowExistingViolations`, on by default).
fn allows_existing_violations(policy: &Value, rule: &Value, request: &Request) -> bool {
    if request.operation() != "UPDATE" {
        return false;
    }
    let action = rule
        .pointer("/validate/failureAction")
        .or_else(|| policy.pointer("/spec/validationFailureAction"))
        .and_then(Value::as_str)
        .unwrap_or("Audit");
    let enforce = action == "Enforce" || action == "enforce";
    let allow = rule.pointer("/validate/allowExistingViolations").and_then(Value::as_bool).unwrap_or(true);
    enforce && allow
}

/// Validates the old object as if it were being created; true when it fails too.
fn old_object_fails(policy: &Value, rule: &Value, validate: &Value, resource: &Value, request: &Request) -> bool {
    let old = request.old_object.clone().unwrap_or_else(|| resource.clone());
    let create = Request { operation: "CREATE".to_string(), old_object: None, ..request.clone() };
    let (mut context, effective) = request_context(&old, &create);
    // Kyverno switches the context's operation too, overriding a value from the Values file.
    context.add_variable("request.operation", Value::String("CREATE".to_string()));
    if !matching::rule_matches(rule, &effective, &create, &policy_namespace(policy)) {
        return false;
    }
    let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
    let validator = Validator { policy, rule, rule_name: name, request: &create, nesting: 0 };
    validator
        .validate(validate, &mut context, &effective, None)
        .is_some_and(|response| response.status == RuleStatus::Fail)
}

/// The namespace of a namespaced `Policy` (empty for ClusterPolicy).
pub fn policy_namespace(policy: &Value) -> String {
    if policy.kind() == "Policy" {
        let namespace = policy.namespace();
        return if namespace.is_empty() { "default".to_string() } else { namespace.to_string() };
    }
    String::new()
}

struct Validator<'a> {
    policy: &'a Value,
    rule: &'a Value,
    rule_name: &'a str,
    request: &'a Request,
    nesting: usize,
}

impl Validator<'_> {
    fn response(&self, status: RuleStatus, message: impl Into<String>) -> RuleResponse {
        RuleResponse::new(self.rule_name, RuleType::Validation, status, message)
    }

    /// Validates one level: the rule's `validate` block or one foreach entry. `element` is the foreach
    /// element in scope, which patterns are matched against.
    fn validate(
        &self,
        block: &Value,
        context: &mut JsonContext,
        resource: &Value,
        element: Option<&Value>,
    ) -> Option<RuleResponse> {
        let element_index = if self.nesting == 0 {
            None
        } else {
            context.get("elementIndex").and_then(Value::as_u64).map(|index| index as usize)
        };
        let (entries, conditions) = if self.nesting == 0 {
            (self.rule.get("context"), self.rule.get("preconditions"))
        } else {
            (block.get("context"), block.get("preconditions"))
        };
        if let Err(error) = load_context(entries, self.rule_name, self.request, context, element_index) {
            return Some(self.response(RuleStatus::Error, format!("failed to load context: {error}")));
        }
        match evaluate_conditions(conditions, context) {
            Err(error) => {
                return Some(self.response(RuleStatus::Error, format!("failed to evaluate preconditions: {error}")));
            }
            Ok(outcome) if !outcome.holds => {
                let message = if outcome.message.is_empty() {
                    "preconditions not met".to_string()
                } else {
                    format!("preconditions not met; {}", outcome.message)
                };
                return Some(self.response(RuleStatus::Skip, message));
            }
            Ok(_) => {}
        }
        if self.nesting == 0 {
            // Exceptions are looked up after the rule's context and preconditions, as Kyverno does.
            let target =
                context.root().pointer("/request/object").filter(|object| !object.is_null()).unwrap_or(resource);
            let exception = matching::matching_exception(self.policy, self.rule_name, target, self.request, context);
            let mut extra_excludes = Vec::new();
            if let Some(exception) = exception {
                // An exception listing podSecurity controls exempts those controls only.
                match (exception.pod_security, block.get("podSecurity").is_some()) {
                    (Some(controls), true) => extra_excludes = controls,
                    _ => {
                        return Some(self.response(
                            RuleStatus::Skip,
                            format!("rule is skipped due to policy exceptions{}", exception.key),
                        ));
                    }
                }
            }
            if let Some(response) = super::cel_bridge::validate_cel(self.rule_name, block, resource, self.request) {
                return Some(response);
            }
            if let Some(manifests) = block.get("manifests") {
                // Kyverno's manifest handler gives no response for DELETE requests.
                if self.request.operation() == "DELETE" {
                    return None;
                }
                let object = context
                    .root()
                    .pointer("/request/object")
                    .filter(|object| !object.is_null())
                    .unwrap_or(resource)
                    .clone();
                let mut response = super::manifest::verify(self.rule_name, manifests, &object);
                response.policy_pointer = Some("/manifests".to_string());
                return Some(response);
            }
            if let Some(reason) = unsupported_reason(block) {
                let mut response = self.response(RuleStatus::Error, reason.clone());
                response.unsupported = Some(reason);
                return Some(response);
            }
            if let Some(pod_security) = block.get("podSecurity") {
                // Kyverno does not check deleted Pods against the standards.
                if self.request.operation() == "DELETE" {
                    return None;
                }
                return Some(super::pod_security::validate(self.rule_name, pod_security, resource, &extra_excludes));
            }
        }
        if let Some(deny) = block.get("deny") {
            return Some(self.validate_deny(deny, context));
        }
        if block.get("pattern").is_some() || block.get("anyPattern").is_some() {
            let target = match element {
                Some(element) => element,
                None => {
                    if self.request.operation() == "DELETE" {
                        return None;
                    }
                    resource
                }
            };
            return Some(self.validate_patterns(block, context, target));
        }
        if let Some(foreach) = block.get("foreach").and_then(Value::as_array) {
            return self.validate_foreach(foreach, context, resource);
        }
        None
    }

    fn rule_message(&self) -> &str {
        self.rule.pointer("/validate/message").and_then(Value::as_str).unwrap_or("")
    }

    fn substituted_message(&self, text: &str, context: &JsonContext) -> String {
        match substitute_string(text, context, "/validate/message") {
            Ok(Value::String(message)) => message,
            Ok(_) => "the produced message didn't resolve to a string, check your policy definition.".to_string(),
            Err(_) => text.to_string(),
        }
    }

    fn validate_deny(&self, deny: &Value, context: &JsonContext) -> RuleResponse {
        match evaluate_conditions(deny.get("conditions"), context) {
            Err(error) => self.response(RuleStatus::Error, format!("failed to check deny conditions: {error}")),
            Ok(outcome) if outcome.holds => {
                let message = if self.rule_message().is_empty() && outcome.message.is_empty() {
                    format!("validation error: rule {} failed", self.rule_name)
                } else {
                    let joined = [self.rule_message(), outcome.message.as_str()]
                        .iter()
                        .filter(|text| !text.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("; ");
                    self.substituted_message(&joined, context)
                };
                let mut response = self.response(RuleStatus::Fail, message);
                response.policy_pointer = Some("/deny".to_string());
                response
            }
            Ok(_) => self.response(RuleStatus::Pass, format!("validation rule '{}' passed.", self.rule_name)),
        }
    }

    /// Kyverno's failure message: the rule's message (ending in a period) and where the pattern failed,
    /// or the error when there is no path.
    fn failure_message(&self, context: &JsonContext, path: &str, error: &str) -> String {
        let message = self.rule_message();
        if message.is_empty() {
            if !path.is_empty() {
                return format!("validation error: rule {} failed at path {path}", self.rule_name);
            }
            return format!("validation error: rule {} execution error: {error}", self.rule_name);
        }
        let mut substituted = match substitute_string(message, context, "/validate/message") {
            Ok(Value::String(text)) => text,
            Ok(other) => other.to_string(),
            Err(_) => {
                return format!(
                    "validation error: variables substitution error in rule {} execution error: {error}",
                    self.rule_name
                );
            }
        };
        if !substituted.ends_with('.') {
            substituted.push('.');
        }
        if !path.is_empty() {
            return format!("validation error: {substituted} rule {} failed at path {path}", self.rule_name);
        }
        format!("validation error: {substituted} rule {} execution error: {error}", self.rule_name)
    }

    fn validate_patterns(&self, block: &Value, context: &JsonContext, target: &Value) -> RuleResponse {
        if let Some(pattern) = block.get("pattern") {
            let pattern = match substitute_all(pattern, context) {
                Ok(pattern) => pattern,
                Err(error) => return self.substitution_error(error),
            };
            return match match_pattern(target, &pattern) {
                PatternOutcome::Pass => {
                    self.response(RuleStatus::Pass, format!("validation rule '{}' passed.", self.rule_name))
                }
                PatternOutcome::Skip(message) => self.response(RuleStatus::Skip, message),
                PatternOutcome::Error(message) => {
                    self.response(RuleStatus::Error, self.failure_message(context, "", &message))
                }
                PatternOutcome::Fail(error) => {
                    let mut response =
                        self.response(RuleStatus::Fail, self.failure_message(context, &error.path, &error.message));
                    response.policy_pointer = Some(format!("/pattern{}", error.pattern_pointer));
                    response.resource_pointer = Some(kyverno_path_to_pointer(&error.path));
                    response
                }
            };
        }
        let any_pattern = block.get("anyPattern").cloned().unwrap_or(Value::Null);
        let Some(patterns) = any_pattern.as_array() else {
            return self.response(RuleStatus::Error, "failed to deserialize anyPattern, expected type array");
        };
        let mut failed = Vec::new();
        let mut skipped = 0;
        for (index, pattern) in patterns.iter().enumerate() {
            let pattern = match substitute_all(pattern, context) {
                Ok(pattern) => pattern,
                Err(error) => return self.substitution_error(error),
            };
            match match_pattern(target, &pattern) {
                PatternOutcome::Pass => {
                    return self.response(
                        RuleStatus::Pass,
                        format!("validation rule '{}' anyPattern[{index}] passed.", self.rule_name),
                    );
                }
                PatternOutcome::Skip(_) => skipped += 1,
                PatternOutcome::Fail(error) => {
                    failed.push(format!("rule {}[{index}] failed at path {}", self.rule_name, error.path))
                }
                PatternOutcome::Error(message) => {
                    failed.push(format!("rule {}[{index}] failed: {message}", self.rule_name))
                }
            }
        }
        if skipped > 0 && failed.is_empty() {
            return self
                .response(RuleStatus::Skip, format!("rule {} skipped: all anyPatterns were skipped", self.rule_name));
        }
        let errors = failed.join(" ");
        let message = if self.rule_message().is_empty() {
            format!("validation error: {errors}")
        } else {
            let message = self.substituted_message(self.rule_message(), context);
            if message.ends_with('.') {
                format!("validation error: {message} {errors}")
            } else {
                format!("validation error: {message}. {errors}")
            }
        };
        let mut response = self.response(RuleStatus::Fail, message);
        response.policy_pointer = Some("/anyPattern".to_string());
        response
    }

    fn substitution_error(&self, error: VariableError) -> RuleResponse {
        self.response(RuleStatus::Error, format!("variable substitution failed: {error}"))
    }

    fn validate_foreach(&self, foreach: &[Value], context: &mut JsonContext, resource: &Value) -> Option<RuleResponse> {
        let mut apply_count = 0;
        let mut list_error: Option<String> = None;
        for (index, entry) in foreach.iter().enumerate() {
            let list = entry.get("list").and_then(Value::as_str).unwrap_or("");
            let elements = match evaluate_list(list, context) {
                Ok(elements) => elements,
                Err(VariableError::NotFound(_)) => continue,
                Err(error) => {
                    list_error = Some(error.to_string());
                    continue;
                }
            };
            let (response, count) = self.validate_elements(entry, &elements, context, resource);
            if response.status != RuleStatus::Pass {
                let mut response = response;
                let pointer = response.policy_pointer.take().unwrap_or_default();
                response.policy_pointer = Some(format!("/foreach/{index}{pointer}"));
                return Some(response);
            }
            apply_count += count;
        }
        if apply_count == 0 {
            return list_error
                .map(|error| self.response(RuleStatus::Error, format!("failed to evaluate list: {error}")));
        }
        Some(self.response(RuleStatus::Pass, "rule passed"))
    }

    fn validate_elements(
        &self,
        entry: &Value,
        elements: &[Value],
        context: &JsonContext,
        resource: &Value,
    ) -> (RuleResponse, usize) {
        let mut apply_count = 0;
        let element_scope = entry.get("elementScope").and_then(Value::as_bool);
        for (index, element) in elements.iter().enumerate() {
            if element.is_null() {
                continue;
            }
            let mut element_context = context.clone();
            add_element(&mut element_context, element, index, self.nesting);
            let scoped = match element_scope {
                Some(true) if !element.is_object() => {
                    return (self.response(RuleStatus::Error, "failed to process foreach: cannot use elementScope=true foreach rules for elements that are not maps"), apply_count);
                }
                Some(scope) => scope,
                None => element.is_object(),
            };
            let nested = Validator {
                policy: self.policy,
                rule: self.rule,
                rule_name: self.rule_name,
                request: self.request,
                nesting: self.nesting + 1,
            };
            let scoped_element = if scoped { Some(element) } else { None };
            let Some(response) = nested.validate(entry, &mut element_context, resource, scoped_element) else {
                continue;
            };
            match response.status {
                RuleStatus::Skip => continue,
                RuleStatus::Pass => apply_count += 1,
                RuleStatus::Error if response.message.contains("failed to evaluate preconditions") => {
                    continue;
                }
                status => {
                    let mut failed = self.response(status, format!("validation failure: {}", response.message));
                    failed.policy_pointer = response.policy_pointer;
                    failed.resource_pointer = response.resource_pointer;
                    failed.unsupported = response.unsupported;
                    return (failed, apply_count);
                }
            }
        }
        (self.response(RuleStatus::Pass, ""), apply_count)
    }
}

/// Validate features this engine cannot evaluate yet.
fn unsupported_reason(validate: &Value) -> Option<String> {
    if validate.get("cel").is_some() {
        return Some("validate.cel rules need the CEL engine, which is not implemented yet".to_string());
    }
    if validate.get("assert").is_some() {
        return Some("validate.assert (kyverno-json assertion trees) is not implemented yet".to_string());
    }
    None
}

/// Converts a Kyverno path (`/spec/containers/0/image/`) to a JSON pointer, dropping anchors.
pub fn kyverno_path_to_pointer(path: &str) -> String {
    let cleaned = super::pattern::remove_anchors_from_path(path);
    let trimmed = cleaned.trim_end_matches('/');
    if trimmed.is_empty() {
        return String::new();
    }
    trimmed
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| format!("/{}", super::go_text::pointer_segment(segment)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Validates `resource` against a ClusterPolicy made of `rules` and renders `rule: status` lines.
    fn check(rules: Value, resource: Value, request: Request, expect: expect_test::Expect) {
        let policy = json!({
            "apiVersion": "kyverno.io/v1",
            "kind": "ClusterPolicy",
            "metadata": {"name": "p", "annotations": {"pod-policies.kyverno.io/autogen-controllers": "none"}},
            "spec": {"validationFailureAction": "Enforce", "rules": rules}
        });
        let lines: Vec<String> = validate_policy(&policy, &resource, &request)
            .iter()
            .map(|response| format!("{}: {}", response.name, response.status.as_str()))
            .collect();
        expect.assert_eq(&(lines.join("\n") + "\n"));
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"containers": [
                {"name": "a", "image": "nginx:latest", "securityContext": {"privileged": true}},
                {"name": "b", "image": "redis:7"}
            ]}
        })
    }

    fn rule(name: &str, validate: Value) -> Value {
        json!({"name": name, "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": validate})
    }

    #[test]
    fn deny_and_preconditions() {
        let mut skipped = rule("skipped", json!({"deny": {}}));
        skipped["preconditions"] =
            json!({"all": [{"key": "{{ request.operation }}", "operator": "Equals", "value": "DELETE"}]});
        let rules = json!([
            rule(
                "deny-latest",
                json!({"deny": {"conditions": {"any": [
                    {"key": "{{ request.object.spec.containers[].image }}", "operator": "AnyIn", "value": ["*:latest"]}
                ]}}})
            ),
            rule(
                "missing-key",
                json!({"deny": {"conditions": {"all": [
                    {"key": "{{ request.object.spec.hostNetwork }}", "operator": "Equals", "value": true}
                ]}}})
            ),
            rule(
                "defaulted",
                json!({"deny": {"conditions": {"all": [
                    {"key": "{{ request.object.spec.hostNetwork || `false` }}", "operator": "Equals", "value": true}
                ]}}})
            ),
            skipped,
        ]);
        check(
            rules,
            pod(),
            Request::default(),
            expect_test::expect![[r#"
                deny-latest: fail
                missing-key: error
                defaulted: pass
                skipped: skip
            "#]],
        );
    }

    #[test]
    fn foreach_with_elements_and_nested_preconditions() {
        let rules = json!([
            rule(
                "no-privileged",
                json!({"foreach": [{
                    "list": "request.object.spec.containers",
                    "preconditions": {"all": [{"key": "{{ element.name }}", "operator": "NotEquals", "value": "b"}]},
                    "deny": {"conditions": {"any": [{"key": "{{ element.securityContext.privileged || `false` }}", "operator": "Equals", "value": true}]}}
                }]})
            ),
            rule(
                "pattern-per-element",
                json!({"foreach": [{
                    "list": "request.object.spec.containers",
                    "pattern": {"image": "!*:latest"}
                }]})
            ),
            rule(
                "empty-list",
                json!({"foreach": [{
                    "list": "request.object.spec.initContainers",
                    "pattern": {"image": "!*:latest"}
                }]})
            ),
            rule(
                "index",
                json!({"foreach": [{
                    "list": "request.object.spec.containers",
                    "deny": {"conditions": {"any": [{"key": "{{ elementIndex }}", "operator": "GreaterThan", "value": 1}]}}
                }]})
            ),
        ]);
        check(
            rules,
            pod(),
            Request::default(),
            expect_test::expect![[r#"
                no-privileged: fail
                pattern-per-element: fail
                index: pass
            "#]],
        );
    }

    #[test]
    fn any_pattern_context_variables_and_exceptions() {
        let mut with_context = rule(
            "context",
            json!({"deny": {"conditions": {"any": [
                {"key": "{{ allowed }}", "operator": "AllNotIn", "value": "{{ request.object.spec.containers[].name }}"}
            ]}}}),
        );
        with_context["context"] = json!([{"name": "allowed", "variable": {"value": ["a", "b"]}}]);
        let rules = json!([
            rule(
                "any",
                json!({"anyPattern": [
                    {"spec": {"hostNetwork": true}},
                    {"metadata": {"labels": {"app": "web"}}}
                ]})
            ),
            with_context,
            rule("excepted", json!({"pattern": {"metadata": {"labels": {"team": "?*"}}}})),
        ]);
        let exception = json!({
            "apiVersion": "kyverno.io/v2", "kind": "PolicyException",
            "metadata": {"name": "allow-web", "namespace": "shop"},
            "spec": {"exceptions": [{"policyName": "p", "ruleNames": ["excepted"]}],
                     "match": {"any": [{"resources": {"kinds": ["Pod"], "names": ["web"]}}]}}
        });
        check(
            rules,
            pod(),
            Request { exceptions: vec![exception], ..Request::default() },
            expect_test::expect![[r#"
                any: pass
                context: pass
                excepted: skip
            "#]],
        );
    }

    #[test]
    fn update_requests_keep_existing_violations_and_cel_runs() {
        let rules = json!([
            rule("labels", json!({"pattern": {"metadata": {"labels": {"team": "?*"}}}})),
            rule("cel", json!({"cel": {"expressions": [{"expression": "has(object.metadata.labels.team)"}]}})),
        ]);
        check(
            rules,
            pod(),
            Request { operation: "UPDATE".to_string(), ..Request::default() },
            expect_test::expect![[r#"
                labels: skip
                cel: skip
            "#]],
        );
    }

    #[test]
    fn failure_messages_follow_kyverno() {
        let policy = json!({
            "kind": "ClusterPolicy",
            "metadata": {"name": "p", "annotations": {"pod-policies.kyverno.io/autogen-controllers": "none"}},
            "spec": {"rules": [
                rule("tagged", json!({"message": "image of {{ request.object.metadata.name }} needs a tag",
                    "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}})),
                rule("bare", json!({"pattern": {"spec": {"hostNetwork": true}}})),
            ]}
        });
        let messages: Vec<String> = validate_policy(&policy, &pod(), &Request::default())
            .iter()
            .map(|response| response.message.clone())
            .collect();
        expect_test::expect![[r#"
            [
                "validation error: image of web needs a tag. rule tagged failed at path /spec/containers/0/image/",
                "validation error: rule bare failed at path /spec/hostNetwork/",
            ]
        "#]]
        .assert_debug_eq(&messages);
    }

    #[test]
    fn pod_security_exceptions_exempt_controls() {
        let rules = json!([rule("pss", json!({"podSecurity": {"level": "baseline", "version": "latest"}}))]);
        let mut host_pod = pod();
        host_pod["spec"]["hostNetwork"] = json!(true);
        host_pod["spec"]["containers"][0]["securityContext"] = json!({});
        let exception = |controls: Value| {
            json!({"kind": "PolicyException", "metadata": {"name": "e", "namespace": "shop"},
                   "spec": {"exceptions": [{"policyName": "p", "ruleNames": ["pss"]}],
                            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                            "podSecurity": controls}})
        };
        check(
            rules.clone(),
            host_pod.clone(),
            Request::default(),
            expect_test::expect![[r#"
                pss: fail
            "#]],
        );
        check(
            rules.clone(),
            host_pod.clone(),
            Request { exceptions: vec![exception(json!([{"controlName": "Host Namespaces"}]))], ..Request::default() },
            expect_test::expect![[r#"
                pss: skip
            "#]],
        );
        check(
            rules,
            host_pod,
            Request { exceptions: vec![exception(json!([{"controlName": "Capabilities"}]))], ..Request::default() },
            expect_test::expect![[r#"
                pss: fail
            "#]],
        );
    }
}
