//! Mutate rules: patchStrategicMerge (with conditional, global and add-if-not-present anchors, lists
//! merged by their associative key), patchesJson6902, foreach and mutate-existing targets, applied rule
//! after rule.

use serde_json::{Map, Value};

use super::conditions::evaluate_conditions;
use super::foreach::{add_element, evaluate_list, load_context, request_context};
use super::matching;
use super::patch_anchors::{self, AnchorError};
use super::response::{MutateResponse, Request, RuleResponse, RuleStatus, RuleType};
use super::strategic_merge;
use super::validate::policy_namespace;
use super::variables::{JsonContext, substitute_all};

/// Runs every mutate rule of `policy` (after autogen) on `resource`, each on the previous result.
pub fn mutate_policy(policy: &Value, resource: &Value, request: &Request) -> MutateResponse {
    let namespace = policy_namespace(policy);
    let mut patched = resource.clone();
    let mut rules = Vec::new();
    let apply_one = policy.pointer("/spec/applyRules").and_then(Value::as_str) == Some("One");
    for rule in super::autogen::compute_rules_cached(policy).iter() {
        // `applyRules: One` stops at the first rule that applied.
        if apply_one
            && rules
                .iter()
                .any(|response: &RuleResponse| matches!(response.status, RuleStatus::Pass | RuleStatus::Fail))
        {
            break;
        }
        let Some(mutate) = rule.get("mutate") else {
            continue;
        };
        let name = rule.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let (mut context, effective) = request_context(&patched, request);
        let first_response = rules.len();
        'rule: {
            if !matching::rule_matches(rule, &effective, request, &namespace) {
                break 'rule;
            }
            let response = |status, message: String| RuleResponse::new(&name, RuleType::Mutation, status, message);
            if let Err(error) = load_context(rule.get("context"), &name, request, &mut context, None) {
                rules.push(response(RuleStatus::Error, format!("failed to load context: {error}")));
                break 'rule;
            }
            match evaluate_conditions(rule.get("preconditions"), &context) {
                Err(error) => {
                    rules.push(response(RuleStatus::Error, format!("failed to evaluate preconditions: {error}")));
                    break 'rule;
                }
                Ok(outcome) if !outcome.holds => {
                    rules.push(response(RuleStatus::Skip, "preconditions not met".to_string()));
                    break 'rule;
                }
                Ok(_) => {}
            }
            if let Some(exception) = matching::matching_exception(policy, &name, &effective, request, &context) {
                rules.push(response(
                    RuleStatus::Skip,
                    format!("rule is skipped due to policy exceptions{}", exception.key),
                ));
                break 'rule;
            }
            if let Some(targets) = mutate.get("targets").and_then(Value::as_array) {
                // Mutate-existing rules patch other resources; the trigger itself is left unchanged.
                rules.extend(mutate_targets(&policy_namespace(policy), targets, mutate, &context, request, &name));
                break 'rule;
            }
            let outcome = if let Some(foreach) = mutate.get("foreach").and_then(Value::as_array) {
                mutate_foreach(foreach, &context, &effective, request, &name, 0)
            } else {
                apply_patches(mutate, &context, &effective)
            };
            match outcome {
                Ok(Some(result)) => {
                    patched = result;
                    rules.push(response(RuleStatus::Pass, "resource patched".to_string()));
                }
                Ok(None) => rules.push(response(RuleStatus::Skip, "no patches applied".to_string())),
                Err(error) => rules.push(response(RuleStatus::Error, error)),
            }
        }
        super::response::mark_offline_gap(&mut rules[first_response..], context.offline_gap());
    }
    MutateResponse { rules, patched_resource: patched }
}

/// Mutate-existing: every resource of the (fake) cluster a target spec selects is patched, with the
/// resource available as `target`; each gets its own rule response carrying the patched target.
fn mutate_targets(
    policy_namespace: &str,
    targets: &[Value],
    mutate: &Value,
    context: &JsonContext,
    request: &Request,
    rule_name: &str,
) -> Vec<RuleResponse> {
    let response = |status, message: String| RuleResponse::new(rule_name, RuleType::Mutation, status, message);
    let mut out = Vec::new();
    for spec in targets {
        let mut selector_fields = Map::new();
        for key in ["apiVersion", "kind", "name", "namespace", "selector"] {
            if let Some(value) = spec.get(key) {
                selector_fields.insert(key.to_string(), value.clone());
            }
        }
        let selector = match substitute_all(&Value::Object(selector_fields), context) {
            Ok(selector) => selector,
            Err(error) => {
                out.push(response(RuleStatus::Error, format!("failed to resolve target: {error}")));
                continue;
            }
        };
        let text = |key: &str| selector.get(key).and_then(Value::as_str).unwrap_or("").to_string();
        let (api_version, kind, name) = (text("apiVersion"), text("kind"), text("name"));
        let namespace = if policy_namespace.is_empty() { text("namespace") } else { policy_namespace.to_string() };
        for candidate in &request.cluster_resources {
            let same_type = candidate.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str())
                && matching::resource_kind(candidate) == kind;
            let name_ok = name.is_empty() || super::pattern::wildcard_match(&name, matching::resource_name(candidate));
            let namespace_ok = namespace.is_empty()
                || super::pattern::wildcard_match(&namespace, matching::resource_namespace(candidate));
            let labels = candidate.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default();
            let selector_ok = selector
                .get("selector")
                .filter(|selector| !selector.is_null())
                .is_none_or(|selector| matching::selector_matches(selector, &labels));
            if !(same_type && name_ok && namespace_ok && selector_ok) {
                continue;
            }
            let mut target_context = context.clone();
            target_context.set("target", candidate.clone());
            if let Err(error) = load_context(spec.get("context"), rule_name, request, &mut target_context, None) {
                out.push(response(RuleStatus::Error, format!("failed to load context: {error}")));
                continue;
            }
            match evaluate_conditions(spec.get("preconditions"), &target_context) {
                Err(error) => {
                    out.push(response(RuleStatus::Error, format!("failed to evaluate preconditions: {error}")));
                    continue;
                }
                Ok(outcome) if !outcome.holds => {
                    out.push(response(RuleStatus::Skip, "preconditions not met".to_string()));
                    continue;
                }
                Ok(_) => {}
            }
            let outcome = match mutate.get("foreach").and_then(Value::as_array) {
                Some(foreach) => mutate_foreach(foreach, &target_context, candidate, request, rule_name, 0),
                None => apply_patches(mutate, &target_context, candidate),
            };
            // Only a rule that patched the target carries it (`buildRuleResponse` upstream): a skip or an
            // error names no target, so `kyverno test` does not count it among the target's responses.
            out.push(match outcome {
                Ok(Some(patched)) => {
                    let mut rule_response = response(RuleStatus::Pass, "resource patched".to_string());
                    rule_response.patched_target = Some(patched);
                    rule_response
                }
                Ok(None) => response(RuleStatus::Skip, "no patches applied".to_string()),
                Err(error) => response(RuleStatus::Error, error),
            });
        }
    }
    out
}

/// Applies the patch of a mutate block (or foreach entry) after substitution; `None` when nothing changed.
fn apply_patches(block: &Value, context: &JsonContext, resource: &Value) -> Result<Option<Value>, String> {
    let mut patches = Map::new();
    for key in ["patchStrategicMerge", "patchesJson6902"] {
        if let Some(value) = block.get(key) {
            patches.insert(key.to_string(), value.clone());
        }
    }
    let substituted = substitute_all(&Value::Object(patches), context)
        .map_err(|error| format!("variable substitution failed: {error}"))?;
    let result = if let Some(patch) = substituted.get("patchStrategicMerge") {
        strategic_merge(resource, patch).map_err(|error| format!("failed to patch resource: {error}"))?
    } else if let Some(patch) =
        substituted.get("patchesJson6902").and_then(Value::as_str).filter(|text| !text.is_empty())
    {
        apply_json6902(resource, patch)?
    } else if let Some(operations) = substituted.get("patchesJson6902").and_then(Value::as_array) {
        // A patch written as one `{{ }}` expression arrives as the list of operations itself.
        apply_operations(resource, operations)?
    } else {
        return Err("empty mutate rule".to_string());
    };
    if &result == resource {
        return Ok(None);
    }
    Ok(Some(result))
}

fn mutate_foreach(
    foreach: &[Value],
    context: &JsonContext,
    resource: &Value,
    request: &Request,
    rule_name: &str,
    nesting: usize,
) -> Result<Option<Value>, String> {
    let mut current = resource.clone();
    let mut context = context.clone();
    let mut applied = 0;
    for entry in foreach {
        let list = entry.get("list").and_then(Value::as_str).unwrap_or("");
        let elements =
            evaluate_list(list, &context).map_err(|error| format!("failed to evaluate list {list}: {error}"))?;
        // Strategic merge patches walk the elements backwards by default, as Kyverno does; `order`
        // overrides the direction.
        let reverse = match entry.get("order").and_then(Value::as_str) {
            Some("Descending") => true,
            Some("Ascending") => false,
            _ => entry.get("patchStrategicMerge").is_some(),
        };
        let indexes: Vec<usize> =
            if reverse { (0..elements.len()).rev().collect() } else { (0..elements.len()).collect() };
        let mut patched = current.clone();
        for index in indexes {
            let element = &elements[index];
            if element.is_null() {
                continue;
            }
            // Every element sees the resource as it was before this entry.
            let mut element_context = context.clone();
            add_element(&mut element_context, element, index, nesting);
            load_context(entry.get("context"), rule_name, request, &mut element_context, Some(index))
                .map_err(|error| format!("failed to load mutate.foreach[{index}].context: {error}"))?;
            match evaluate_conditions(entry.get("preconditions"), &element_context) {
                Ok(outcome) if outcome.holds => {}
                Ok(_) => continue,
                Err(error) => {
                    return Err(format!("failed to evaluate mutate.foreach[{index}].preconditions: {error}"));
                }
            }
            let result = match entry.get("foreach").and_then(Value::as_array) {
                Some(nested) => mutate_foreach(nested, &element_context, &patched, request, rule_name, nesting + 1)?,
                None => apply_patches(entry, &element_context, &patched)?,
            };
            if let Some(result) = result {
                patched = result;
            }
        }
        if patched != current {
            applied += 1;
            current = patched;
            context.add_variable("request.object", current.clone());
        }
    }
    Ok((applied > 0).then_some(current))
}

/// Applies a strategic merge patch with Kyverno's anchors, as `strategicMergePatch` in Kyverno's
/// `pkg/engine/mutate/patch/strategicMergePatch.go` does: a condition or global anchor that does not
/// hold leaves an empty patch (which still merges), other preprocessing errors fail the rule.
pub fn strategic_merge(resource: &Value, patch: &Value) -> Result<Value, String> {
    let mut prepared = patch.clone();
    match patch_anchors::preprocess(&mut prepared, resource) {
        Ok(()) => {}
        Err(AnchorError::Condition(_) | AnchorError::Global(_)) => prepared = Value::Object(Map::new()),
        Err(AnchorError::Invalid(error)) => return Err(format!("failed to preProcess rule: {error}")),
    }
    strategic_merge::merge(resource, &prepared)
}

/// Applies an RFC 6902 patch written as YAML or JSON text.
pub fn apply_json6902(resource: &Value, patch_text: &str) -> Result<Value, String> {
    let documents = crate::syntax::parse_file(patch_text);
    let Some(document) = documents.into_iter().next() else {
        return Err("empty patchesJson6902".to_string());
    };
    if !document.errors.is_empty() {
        return Err(format!("failed to parse patchesJson6902: {}", document.error_text()));
    }
    let Some(operations) = document.yaml11_value().as_array().cloned() else {
        return Err("patchesJson6902 must be a list of operations".to_string());
    };
    apply_operations(resource, &operations)
}

/// Applies RFC 6902 operations in order.
fn apply_operations(resource: &Value, operations: &[Value]) -> Result<Value, String> {
    let mut current = resource.clone();
    for operation in operations.iter().filter(|operation| !operation.is_null()) {
        let op = operation.get("op").and_then(Value::as_str).unwrap_or("");
        let path = operation.get("path").and_then(Value::as_str).unwrap_or("");
        match op {
            "add" => add_at(&mut current, path, operation.get("value").cloned().unwrap_or(Value::Null), true)?,
            "replace" => add_at(&mut current, path, operation.get("value").cloned().unwrap_or(Value::Null), false)?,
            "remove" => {
                remove_at(&mut current, path);
            }
            "copy" | "move" => {
                let from = operation.get("from").and_then(Value::as_str).unwrap_or("");
                let value = current.pointer(from).cloned().ok_or_else(|| format!("path {from} not found"))?;
                if op == "move" {
                    remove_at(&mut current, from);
                }
                add_at(&mut current, path, value, true)?;
            }
            "test" => {
                let expected = operation.get("value").cloned().unwrap_or(Value::Null);
                if current.pointer(path) != Some(&expected) {
                    return Err(format!("test operation failed at {path}"));
                }
            }
            other => return Err(format!("unsupported patch operation {other:?}")),
        }
    }
    Ok(current)
}

fn split_pointer(path: &str) -> Vec<String> {
    path.split('/').skip(1).map(|segment| segment.replace("~1", "/").replace("~0", "~")).collect()
}

fn add_at(target: &mut Value, path: &str, value: Value, insert: bool) -> Result<(), String> {
    let segments = split_pointer(path);
    let Some((last, parents)) = segments.split_last() else {
        *target = value;
        return Ok(());
    };
    let mut current = target;
    for (position, segment) in parents.iter().enumerate() {
        // Missing parents are created, as Kyverno applies patches with EnsurePathExistsOnAdd: an array
        // when the next segment is an index or `-`, an object otherwise.
        let next = segments.get(position + 1).map(String::as_str).unwrap_or("");
        let next_is_index = next == "-" || next.parse::<i64>().is_ok();
        current = match current {
            Value::Object(map) => map
                .entry(segment.clone())
                .or_insert_with(|| if next_is_index { Value::Array(Vec::new()) } else { Value::Object(Map::new()) }),
            Value::Array(items) => {
                let index = match parse_index(segment, items.len()) {
                    Ok(index) if index < items.len() => index,
                    _ => {
                        items.push(if next_is_index { Value::Array(Vec::new()) } else { Value::Object(Map::new()) });
                        items.len() - 1
                    }
                };
                &mut items[index]
            }
            _ => return Err(format!("cannot traverse {path}")),
        };
    }
    match current {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            if last == "-" {
                items.push(value);
                return Ok(());
            }
            let index = parse_index(last, items.len() + usize::from(insert))?;
            if insert {
                if index > items.len() {
                    return Err(format!("index {last} out of range in {path}"));
                }
                items.insert(index, value);
            } else {
                let slot = items.get_mut(index).ok_or_else(|| format!("index {last} out of range in {path}"))?;
                *slot = value;
            }
            Ok(())
        }
        Value::Null if last == "-" || last == "0" => {
            *current = Value::Array(vec![value]);
            Ok(())
        }
        Value::Null => {
            let mut map = Map::new();
            map.insert(last.clone(), value);
            *current = Value::Object(map);
            Ok(())
        }
        _ => Err(format!("cannot add at {path}")),
    }
}

fn parse_index(segment: &str, length: usize) -> Result<usize, String> {
    let index: i64 = segment.parse().map_err(|_| format!("invalid array index {segment:?}"))?;
    let resolved = if index < 0 { length as i64 + index } else { index };
    if resolved < 0 {
        return Err(format!("invalid array index {segment:?}"));
    }
    Ok(resolved as usize)
}

fn remove_at(target: &mut Value, path: &str) {
    let segments = split_pointer(path);
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut current = target;
    for segment in parents {
        let next = match current {
            Value::Object(map) => map.get_mut(segment),
            Value::Array(items) => parse_index(segment, items.len()).ok().and_then(|index| items.get_mut(index)),
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => return,
        }
    }
    match current {
        Value::Object(map) => {
            map.remove(last);
        }
        Value::Array(items) => {
            if let Ok(index) = parse_index(last, items.len())
                && index < items.len()
            {
                items.remove(index);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(resource: Value, patch: Value, expect: Value) {
        assert_eq!(strategic_merge(&resource, &patch), Ok(expect));
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "spec": spec})
    }

    #[test]
    fn merges_maps_and_named_lists() {
        check(
            pod(json!({"containers": [{"name": "a", "image": "x"}]})),
            json!({"spec": {"containers": [{"name": "a", "imagePullPolicy": "Always"}, {"name": "b"}]}}),
            pod(json!({"containers": [{"name": "a", "image": "x", "imagePullPolicy": "Always"}, {"name": "b"}]})),
        );
    }

    #[test]
    fn anchors_in_patches() {
        check(
            json!({"metadata": {"labels": {"a": "1"}}}),
            json!({"metadata": {"labels": {"+(a)": "2", "+(b)": "3"}}}),
            json!({"metadata": {"labels": {"a": "1", "b": "3"}}}),
        );
        // The conditional element becomes a copy named after the matching container, which the merge
        // puts first.
        check(
            pod(json!({"containers": [{"name": "b", "image": "redis"}, {"name": "a", "image": "nginx:latest"}]})),
            json!({"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}}),
            pod(
                json!({"containers": [{"name": "a", "image": "nginx:latest", "imagePullPolicy": "Always"}, {"name": "b", "image": "redis"}]}),
            ),
        );
        // A failing condition on a map drops the whole patch.
        check(
            pod(json!({"hostNetwork": false})),
            json!({"spec": {"(hostNetwork)": true, "dnsPolicy": "ClusterFirstWithHostNet"}}),
            pod(json!({"hostNetwork": false})),
        );
    }

    #[test]
    fn json6902() {
        let patched = apply_json6902(
            &json!({"spec": {"items": [1, 2]}}),
            "- op: add\n  path: /spec/items/-\n  value: 3\n- op: remove\n  path: /spec/items/0\n",
        );
        assert_eq!(patched, Ok(json!({"spec": {"items": [2, 3]}})));
    }
}

#[cfg(test)]
mod global_anchor_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn global_anchor_in_list_item_gates_the_whole_patch() {
        let resource =
            json!({"metadata": {"name": "p"}, "spec": {"volumes": [{"name": "myfile", "hostPath": {"path": "/foo"}}]}});
        let patch = json!({"metadata": {"annotations": {"+(safe)": "true"}}, "spec": {"volumes": [{"hostPath": {"<(path)": "*"}}]}});
        let patched = strategic_merge(&resource, &patch).unwrap_or_default();
        assert_eq!(patched.pointer("/metadata/annotations/safe"), Some(&json!("true")), "{patched}");
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;
    use serde_json::json;

    /// Mutates a Pod with a ClusterPolicy made of `rules`; renders statuses and the patched resource.
    fn check(rules: Value, expect: expect_test::Expect) {
        let policy = json!({
            "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "m", "annotations": {"pod-policies.kyverno.io/autogen-controllers": "none"}},
            "spec": {"rules": rules}
        });
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                         "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}]}});
        let response = mutate_policy(&policy, &pod, &Request::default());
        let mut lines: Vec<String> =
            response.rules.iter().map(|rule| format!("{}: {}", rule.name, rule.status.as_str())).collect();
        lines.push(response.patched_resource.to_string());
        expect.assert_eq(&(lines.join("\n") + "\n"));
    }

    fn rule(name: &str, mutate: Value) -> Value {
        json!({"name": name, "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "mutate": mutate})
    }

    #[test]
    fn foreach_patches_each_element() {
        check(
            json!([rule(
                "prefix",
                json!({"foreach": [{
                    "list": "request.object.spec.containers",
                    "patchStrategicMerge": {"spec": {"containers": [{"name": "{{ element.name }}", "image": "mirror/{{ element.image }}"}]}}
                }]})
            )]),
            expect_test::expect![[r#"
                prefix: pass
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"a","image":"mirror/nginx"},{"name":"b","image":"mirror/redis"}]}}
            "#]],
        );
    }

    #[test]
    fn json_patches_and_no_op_rules() {
        check(
            json!([
                rule("label", json!({"patchesJson6902": "- op: add\n  path: /metadata/labels\n  value: {team: a}\n"})),
                rule("again", json!({"patchStrategicMerge": {"metadata": {"labels": {"+(team)": "b"}}}})),
            ]),
            expect_test::expect![[r#"
                label: pass
                again: skip
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"team":"a"}},"spec":{"containers":[{"name":"a","image":"nginx"},{"name":"b","image":"redis"}]}}
            "#]],
        );
    }
}
