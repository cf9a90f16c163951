//! Generate rules: `data`, `clone` and `cloneList` (from the test's cluster resources), producing the
//! resources Kyverno would create for a trigger; foreach generate is reported unsupported.

use serde_json::{Map, Value, json};

use super::conditions::evaluate_conditions;
use super::foreach::{load_context, request_context};
use super::matching;
use super::response::{Request, RuleResponse, RuleStatus, RuleType};
use super::validate::policy_namespace;
use super::variables::substitute_all;

/// Runs every generate rule of `policy` for the trigger `resource`.
pub fn generate_policy(policy: &Value, resource: &Value, request: &Request) -> Vec<RuleResponse> {
    let namespace = policy_namespace(policy);
    let mut responses = Vec::new();
    for rule in super::autogen::compute_rules_cached(policy).iter() {
        let Some(generate) = rule.get("generate") else {
            continue;
        };
        let name = rule.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let (mut context, effective) = request_context(resource, request);
        let first_response = responses.len();
        'rule: {
            if !matching::rule_matches(rule, &effective, request, &namespace) {
                break 'rule;
            }
            let response = |status, message: String| RuleResponse::new(&name, RuleType::Generation, status, message);
            if let Err(error) = load_context(rule.get("context"), &name, request, &mut context, None) {
                responses.push(response(RuleStatus::Error, format!("failed to load context: {error}")));
                break 'rule;
            }
            match evaluate_conditions(rule.get("preconditions"), &context) {
                Err(error) => {
                    responses.push(response(RuleStatus::Error, format!("failed to evaluate preconditions: {error}")));
                    break 'rule;
                }
                Ok(outcome) if !outcome.holds => {
                    responses.push(response(RuleStatus::Skip, "preconditions not met".to_string()));
                    break 'rule;
                }
                Ok(_) => {}
            }
            if let Some(exception) = matching::matching_exception(policy, &name, &effective, request, &context) {
                responses.push(response(
                    RuleStatus::Skip,
                    format!("rule is skipped due to policy exceptions{}", exception.key),
                ));
                break 'rule;
            }
            if let Some(clone_list) = generate.get("cloneList") {
                if request.live_cluster {
                    // The sources are whatever the cluster holds that the selector picks.
                    context.note_offline_gap(
                        "cloneList copies the cluster's objects that its selector picks, which are not known \
                         without the cluster"
                            .to_string(),
                    );
                }
                match clone_many(generate, clone_list, &context, request) {
                    Ok(generated) => {
                        let mut passed = response(RuleStatus::Pass, "rule passed".to_string());
                        passed.generated = generated;
                        responses.push(passed);
                    }
                    Err(error) => responses.push(response(RuleStatus::Error, error)),
                }
                break 'rule;
            }
            if generate.get("foreach").is_some() {
                let reason = "generate rules with foreach are not supported yet".to_string();
                let mut unsupported = response(RuleStatus::Error, reason.clone());
                unsupported.unsupported = Some(reason);
                responses.push(unsupported);
                break 'rule;
            }
            match generate_one(generate, &context, request) {
                Ok(generated) => {
                    let mut passed = response(RuleStatus::Pass, "rule passed".to_string());
                    passed.generated = vec![generated];
                    responses.push(passed);
                }
                Err(GenerateError::MissingSource(source)) if request.live_cluster => {
                    // Admitted to a live cluster, the source is read from that cluster, not from the manifests.
                    let reason = format!(
                        "the clone source {source} is not among the known objects; in a cluster it is read from \
                         the cluster, which is not known here"
                    );
                    context.note_offline_gap(reason.clone());
                    responses.push(response(RuleStatus::Error, reason));
                }
                Err(error) => responses.push(response(RuleStatus::Error, error.to_string())),
            }
        }
        super::response::mark_offline_gap(&mut responses[first_response..], context.offline_gap());
    }
    responses
}

/// `cloneList`: every source of the listed kinds in the namespace that the selector picks, copied into
/// the target namespace.
fn clone_many(
    generate: &Value,
    clone_list: &Value,
    context: &super::variables::JsonContext,
    request: &Request,
) -> Result<Vec<Value>, String> {
    let clone_list =
        substitute_all(clone_list, context).map_err(|error| format!("variable substitution failed: {error}"))?;
    let target_namespace = match generate.get("namespace") {
        Some(namespace) => {
            substitute_all(namespace, context).map_err(|error| format!("variable substitution failed: {error}"))?
        }
        None => Value::Null,
    };
    let source_namespace = clone_list.get("namespace").and_then(Value::as_str).unwrap_or("");
    let kinds: Vec<&str> = clone_list
        .get("kinds")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let selector = clone_list.get("selector").filter(|selector| !selector.is_null());
    let mut out = Vec::new();
    for source in &request.cluster_resources {
        let kind_selected = kinds.iter().any(|kind| matching::kind_matches(kind, source, "", None));
        let labels = source.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default();
        let selected = selector.is_none_or(|selector| matching::selector_matches(selector, &labels));
        if !kind_selected || !selected || matching::resource_namespace(source) != source_namespace {
            continue;
        }
        let duplicate = out.iter().any(|existing: &Value| {
            matching::resource_kind(existing) == matching::resource_kind(source)
                && matching::resource_name(existing) == matching::resource_name(source)
        });
        if duplicate {
            continue;
        }
        let mut copy = source.clone();
        if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in ["resourceVersion", "uid", "creationTimestamp", "managedFields", "ownerReferences", "generation"]
            {
                metadata.remove(key);
            }
            if let Some(namespace) = target_namespace.as_str() {
                metadata.insert("namespace".to_string(), json!(namespace));
            }
        }
        out.push(copy);
    }
    Ok(out)
}

/// Why a generate rule produced nothing.
enum GenerateError {
    /// The clone source (`Kind namespace/name`) is not among the known objects.
    MissingSource(String),
    Failed(String),
}

impl std::fmt::Display for GenerateError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GenerateError::MissingSource(source) => write!(formatter, "source resource {source} not found"),
            GenerateError::Failed(message) => formatter.write_str(message),
        }
    }
}

impl From<String> for GenerateError {
    fn from(message: String) -> Self {
        GenerateError::Failed(message)
    }
}

fn generate_one(
    generate: &Value,
    context: &super::variables::JsonContext,
    request: &Request,
) -> Result<Value, GenerateError> {
    let mut header = Map::new();
    for key in ["apiVersion", "kind", "name", "namespace"] {
        if let Some(value) = generate.get(key) {
            header.insert(key.to_string(), value.clone());
        }
    }
    let header = substitute_all(&Value::Object(header), context)
        .map_err(|error| format!("variable substitution failed: {error}"))?;
    let text = |key: &str| header.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let (api_version, kind, name, namespace) = (text("apiVersion"), text("kind"), text("name"), text("namespace"));
    let mut generated = if let Some(data) = generate.get("data") {
        substitute_all(data, context).map_err(|error| format!("variable substitution failed: {error}"))?
    } else if let Some(clone) = generate.get("clone") {
        let clone = substitute_all(clone, context).map_err(|error| format!("variable substitution failed: {error}"))?;
        let source_name = clone.get("name").and_then(Value::as_str).unwrap_or("");
        let source_namespace = clone.get("namespace").and_then(Value::as_str).unwrap_or("");
        let source = request
            .cluster_resources
            .iter()
            .find(|candidate| {
                matching::resource_kind(candidate) == kind
                    && matching::resource_name(candidate) == source_name
                    && matching::resource_namespace(candidate) == source_namespace
            })
            .ok_or_else(|| GenerateError::MissingSource(format!("{kind} {source_namespace}/{source_name}")))?;
        let mut copy = source.clone();
        if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in ["resourceVersion", "uid", "creationTimestamp", "managedFields", "ownerReferences", "generation"]
            {
                metadata.remove(key);
            }
        }
        copy
    } else {
        // A generate rule without data or clone creates the bare resource.
        json!({})
    };
    if !generated.is_object() {
        generated = json!({});
    }
    if let Some(map) = generated.as_object_mut() {
        map.insert("apiVersion".to_string(), json!(api_version));
        map.insert("kind".to_string(), json!(kind));
        let metadata = map.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert("name".to_string(), json!(name));
            if namespace.is_empty() {
                metadata.remove("namespace");
            } else {
                metadata.insert("namespace".to_string(), json!(namespace));
            }
        }
    }
    Ok(generated)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generates for a Namespace trigger and renders `rule: status` plus the generated resources.
    fn check(generate: Value, request: Request, expect: expect_test::Expect) {
        let policy = json!({
            "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "g"},
            "spec": {"rules": [{"name": "gen", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]}, "generate": generate}]}
        });
        let trigger = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}});
        let lines: Vec<String> = generate_policy(&policy, &trigger, &request)
            .iter()
            .map(|response| {
                let generated: Vec<String> = response.generated.iter().map(Value::to_string).collect();
                format!("{}: {} {}", response.name, response.status.as_str(), generated.join(" "))
            })
            .collect();
        expect.assert_eq(&(lines.join("\n") + "\n"));
    }

    #[test]
    fn data_with_variables() {
        check(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "settings", "namespace": "{{ request.object.metadata.name }}",
                   "data": {"data": {"owner": "{{ request.object.metadata.name }}"}}}),
            Request::default(),
            expect_test::expect![[r#"
                gen: pass {"data":{"owner":"team-a"},"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"team-a"}}
            "#]],
        );
    }

    #[test]
    fn clone_from_cluster_resources() {
        let source = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull", "namespace": "default", "uid": "x"}, "data": {"k": "dg=="}});
        let generate = json!({"apiVersion": "v1", "kind": "Secret", "name": "pull", "namespace": "{{ request.object.metadata.name }}",
                              "clone": {"name": "pull", "namespace": "default"}});
        check(
            generate.clone(),
            Request { cluster_resources: vec![source], ..Request::default() },
            expect_test::expect![[r#"
                gen: pass {"apiVersion":"v1","kind":"Secret","metadata":{"name":"pull","namespace":"team-a"},"data":{"k":"dg=="}}
            "#]],
        );
        check(
            generate,
            Request::default(),
            expect_test::expect![[r#"
                gen: error 
            "#]],
        );
    }
}
