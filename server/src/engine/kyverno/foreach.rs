//! Shared rule plumbing: the JSON context of a request (request.*, images.*, values), context entries
//! (variable, configMap, apiCall, globalReference, imageRegistry, answered offline or from the Values
//! file) and foreach lists with their elements.

use serde_json::{Map, Value, json};

use super::jmespath_functions::normalize_image;
use super::response::Request;
use super::variables::{JsonContext, VariableError, substitute_all, substitute_string};

/// Builds the context of a request: `request.*`, `images.*`, then the values file's variables. Returns
/// the context and the resource as the values left it (values may override `request.object` fields).
pub fn request_context(resource: &Value, request: &Request) -> (JsonContext, Value) {
    let mut context = JsonContext::default();
    let operation = request.operation().to_string();
    let is_delete = operation == "DELETE";
    let (group, version) = super::matching::group_version(resource);
    let mut request_map = Map::new();
    request_map.insert("operation".to_string(), json!(operation));
    if is_delete {
        request_map.insert("object".to_string(), Value::Null);
        request_map.insert("oldObject".to_string(), resource.clone());
    } else {
        request_map.insert("object".to_string(), resource.clone());
        let old = match (&request.old_object, operation.as_str()) {
            (Some(old), _) => old.clone(),
            (None, "UPDATE") => resource.clone(),
            _ => Value::Null,
        };
        request_map.insert("oldObject".to_string(), old);
    }
    let user = request.user_info.get("userInfo").cloned().unwrap_or_else(|| json!({}));
    request_map.insert("userInfo".to_string(), user);
    request_map.insert("roles".to_string(), request.user_info.get("roles").cloned().unwrap_or(Value::Null));
    request_map
        .insert("clusterRoles".to_string(), request.user_info.get("clusterRoles").cloned().unwrap_or(Value::Null));
    request_map.insert(
        "kind".to_string(),
        json!({"group": group, "version": version, "kind": super::matching::resource_kind(resource)}),
    );
    request_map.insert("namespace".to_string(), json!(super::matching::resource_namespace(resource)));
    request_map.insert("name".to_string(), json!(super::matching::resource_name(resource)));
    if !request.subresource.is_empty() {
        request_map.insert("subResource".to_string(), json!(request.subresource));
    }
    context.set("request", Value::Object(request_map));
    context.is_delete = is_delete;
    let images = extract_images(resource);
    if !images.as_object().is_some_and(Map::is_empty) {
        context.set("images", images);
    }
    for (key, value) in &request.variables {
        context.add_variable(key, value.clone());
    }
    let effective = if is_delete {
        context.root().pointer("/request/oldObject").cloned().unwrap_or(Value::Null)
    } else {
        context.root().pointer("/request/object").cloned().unwrap_or(Value::Null)
    };
    (context, effective)
}

/// Loads a rule's (or a foreach's) context entries into `context`. Per-rule values from the Values
/// file are applied first, the way the CLI's context loader does; entries that need a cluster and
/// have no value are left unset, so expressions that read them fail with "Unknown key".
pub fn load_context(
    entries: Option<&Value>,
    rule_name: &str,
    request: &Request,
    context: &mut JsonContext,
    element_index: Option<usize>,
) -> Result<(), String> {
    // Values written for a rule also serve the rules autogen derives from it.
    let values = request.rule_values.get(rule_name).or_else(|| {
        let base = rule_name.strip_prefix("autogen-cronjob-").or_else(|| rule_name.strip_prefix("autogen-"))?;
        request.rule_values.get(base)
    });
    if let Some(values) = values {
        for (key, value) in values {
            context.add_variable(key, value.clone());
        }
    }
    // `foreachValues` give one value per foreach element.
    let foreach_values = request.rule_foreach_values.get(rule_name).or_else(|| {
        let base = rule_name.strip_prefix("autogen-cronjob-").or_else(|| rule_name.strip_prefix("autogen-"))?;
        request.rule_foreach_values.get(base)
    });
    if let (Some(index), Some(foreach_values)) = (element_index, foreach_values) {
        for (key, list) in foreach_values {
            if let Some(value) = list.as_array().and_then(|items| items.get(index)) {
                context.add_variable(key, value.clone());
            }
        }
    }
    let Some(entries) = entries.and_then(Value::as_array) else {
        return Ok(());
    };
    // Admitted to a live cluster, an entry that reads the cluster (or a registry) is not known here unless
    // the Values file gives it: the user then says what the cluster holds, and the entry is not loaded.
    // A value may give the whole entry (`name`) or a field of it (`name.data.key`), for the rule, the
    // resource or globally.
    let given_by_values = |name: &str| {
        let gives = |key: &str| key == name || key.strip_prefix(name).is_some_and(|rest| rest.starts_with('.'));
        values.is_some_and(|values| values.keys().any(|key| gives(key)))
            || request.variables.iter().any(|(key, _)| gives(key))
    };
    let unknown_in_live_cluster = |name: &str, context: &mut JsonContext, what: &str| {
        if request.live_cluster {
            context.note_offline_gap(format!(
                "context entry `{name}` reads {what} from the cluster, which is not known here: give its value in \
                 the values file"
            ));
        }
    };
    for entry in entries {
        let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(variable) = entry.get("variable") {
            let value = load_variable(variable, context)
                .map_err(|error| format!("failed to load context entry {name}: {error}"))?;
            context.add_variable(name, value);
        } else if request.live_cluster && given_by_values(name) {
            continue;
        } else if let Some(reference) = entry.get("globalReference") {
            let key = reference.get("name").and_then(Value::as_str).unwrap_or("");
            let projected = match (request.global_context.get(key), reference.get("projection").and_then(Value::as_str))
            {
                (Some(data), Some(projection)) if !projection.is_empty() => data.get(projection),
                (data, _) => data,
            };
            if let Some(data) = projected {
                let value = match reference.get("jmesPath").and_then(Value::as_str).filter(|path| !path.is_empty()) {
                    Some(path) => search(path, data)?,
                    None => data.clone(),
                };
                context.add_variable(name, value);
            } else {
                unknown_in_live_cluster(name, context, &format!("the global context entry `{key}`"));
            }
        } else if entry.get("configMap").is_some() {
            match find_config_map(entry, request, context) {
                Some(config_map) => context.add_variable(name, config_map),
                None => unknown_in_live_cluster(name, context, "a ConfigMap"),
            }
        } else if let Some(api_call) = entry.get("apiCall") {
            if request.live_cluster && request.cluster_objects.is_none() {
                let mocked = api_call_is_mocked(api_call, request, context);
                if !mocked {
                    unknown_in_live_cluster(name, context, "an API call's answer");
                    continue;
                }
            }
            load_api_call(name, api_call, request, context)?;
        } else if let Some(registry) = entry.get("imageRegistry") {
            load_image_registry(name, registry, request, context)?;
        }
    }
    Ok(())
}

/// Whether a mock answers an apiCall (its URL after substitution, as `load_api_call` reads it).
fn api_call_is_mocked(api_call: &Value, request: &Request, context: &JsonContext) -> bool {
    let Ok(substituted) = substitute_all(api_call, context) else { return false };
    let url = substituted
        .pointer("/service/url")
        .or_else(|| substituted.get("urlPath"))
        .and_then(Value::as_str)
        .unwrap_or("");
    !url.is_empty() && request.api_call_mocks.iter().any(|mock| mock.url == url)
}

/// Answers an apiCall offline (mocks, then the fake cluster); when nothing can answer it the entry
/// keeps what the Values file gave it, as in Kyverno's CLI.
fn load_api_call(name: &str, api_call: &Value, request: &Request, context: &mut JsonContext) -> Result<(), String> {
    let mut call_fields = api_call.clone();
    let jmes_path = call_fields.as_object_mut().and_then(|map| map.remove("jmesPath"));
    let default = call_fields.as_object_mut().and_then(|map| map.remove("default"));
    let substituted = substitute_all(&call_fields, context)
        .map_err(|error| format!("failed to substitute variables in apiCall context entry {name:?}: {error}"))?;
    match super::api_call::call(&substituted, request) {
        Ok(body) => {
            let value = match jmes_path.as_ref().and_then(Value::as_str).filter(|path| !path.is_empty()) {
                Some(path) => {
                    let path = match substitute_string(path, context, "")? {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    search(&path, &body)?
                }
                None => body,
            };
            context.add_variable(name, value);
            Ok(())
        }
        Err(super::api_call::ApiCallError::Unavailable) => {
            let url = substituted
                .pointer("/service/url")
                .or_else(|| substituted.get("urlPath"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if request.cluster_objects.is_some() {
                // With cluster resources the CLI hands the entry a client, which makes this call for
                // real: whatever a Values file or `default` says, the answer is not known offline.
                context.note_offline_gap(format!(
                    "context entry `{name}` calls {url:?}, which needs a cluster or the network: mock it under \
                     the test's apiCallResponses"
                ));
                return Ok(());
            }
            // Without cluster resources the CLI gives the entry no client and leaves it unset
            // (`pkg/engine/factories/contextloaderfactory.go`); a Values file may set it.
            context.note_not_evaluated(
                name,
                format!(
                    "was not loaded: its apiCall ({url}) needs a cluster or the network, and policy-lsp makes no \
                     network calls; mock it under the test's apiCallResponses or set it in the Values file"
                ),
            );
            Ok(())
        }
        Err(super::api_call::ApiCallError::Failed(message)) => match default {
            Some(default) => {
                let value = substitute_all(&default, context).map_err(|error| error.to_string())?;
                context.add_variable(name, value);
                Ok(())
            }
            None => Err(format!("failed to load apiCall context entry {name:?}: {message}")),
        },
        Err(super::api_call::ApiCallError::MockRejected(message)) => {
            Err(format!("failed to load apiCall context entry {name:?}: {message}"))
        }
    }
}

/// An imageRegistry entry answered from the test's Context file (image data by reference).
fn load_image_registry(
    name: &str,
    registry: &Value,
    request: &Request,
    context: &mut JsonContext,
) -> Result<(), String> {
    let reference = substitute_all(registry.get("reference").unwrap_or(&Value::Null), context)
        .map_err(|error| error.to_string())?;
    let Some(reference) = reference.as_str() else {
        return Ok(());
    };
    let Some(data) = request.image_data.get(reference).or_else(|| request.image_data.get(&normalize_image(reference)))
    else {
        if request.registry_access || request.live_cluster {
            // `kyverno test --registry` fetches the image's data from its registry: not known offline.
            context.note_offline_gap(format!(
                "context entry `{name}` looks up {reference} in its registry, which needs registry access: give the \
                 image's data in the test's context file"
            ));
            return Ok(());
        }
        // Without `--registry` the CLI gives the entry no registry client and leaves it unset
        // (`pkg/engine/factories/contextloaderfactory.go`).
        context.note_not_evaluated(
            name,
            format!(
                "was not loaded: looking up {reference} needs registry access, and policy-lsp makes no network \
                 calls; give the image's data in the test's context file"
            ),
        );
        return Ok(());
    };
    let value = match registry.get("jmesPath").and_then(Value::as_str).filter(|path| !path.is_empty()) {
        Some(path) => search(path, data)?,
        None => data.clone(),
    };
    context.add_variable(name, value);
    Ok(())
}

/// A configMap context entry resolved from the test's cluster resources.
fn find_config_map(entry: &Value, request: &Request, context: &JsonContext) -> Option<Value> {
    let config = entry.get("configMap")?;
    let name = substitute_all(config.get("name")?, context).ok()?;
    let namespace = substitute_all(config.get("namespace").unwrap_or(&json!("default")), context).ok()?;
    request
        .cluster_objects
        .as_ref()?
        .iter()
        .find(|resource| {
            super::matching::resource_kind(resource) == "ConfigMap"
                && Some(super::matching::resource_name(resource)) == name.as_str()
                && Some(super::matching::resource_namespace(resource)) == namespace.as_str()
        })
        .cloned()
}

fn search(expression: &str, data: &Value) -> Result<Value, String> {
    JsonContext::new(data.clone()).query(expression).map_err(|error| error.to_string())
}

fn load_variable(variable: &Value, context: &JsonContext) -> Result<Value, String> {
    let value = match variable.get("value") {
        Some(value) => Some(substitute_all(value, context).map_err(|error| error.to_string())?),
        None => None,
    };
    let default = match variable.get("default") {
        Some(default) => Some(substitute_all(default, context).map_err(|error| error.to_string())?),
        None => None,
    };
    let path = match variable.get("jmesPath").and_then(Value::as_str).filter(|path| !path.is_empty()) {
        Some(path) => Some(match substitute_string(path, context, "")? {
            Value::String(text) => text,
            other => other.to_string(),
        }),
        None => None,
    };
    let result: Result<Value, String> = match (&path, &value) {
        (Some(path), Some(value)) => search(path, value),
        (Some(path), None) => context.query(path).map_err(|error| error.to_string()),
        (None, Some(value)) => Ok(value.clone()),
        (None, None) => Ok(Value::Null),
    };
    match result {
        Ok(found) if !found.is_null() => Ok(found),
        Ok(found) => Ok(default.unwrap_or(found)),
        Err(error) => default.ok_or(error),
    }
}

impl From<VariableError> for String {
    fn from(error: VariableError) -> String {
        error.to_string()
    }
}

/// Evaluates a foreach `list` expression: an array gives its items, anything else one element.
pub fn evaluate_list(list: &str, context: &JsonContext) -> Result<Vec<Value>, VariableError> {
    let expression = list.trim();
    let expression =
        expression.strip_prefix("{{").and_then(|inner| inner.strip_suffix("}}")).map(str::trim).unwrap_or(expression);
    let expression = if context.is_delete {
        expression.replace("request.object", "request.oldObject")
    } else {
        expression.to_string()
    };
    match context.query(&expression)? {
        Value::Array(items) => Ok(items),
        other => Ok(vec![other]),
    }
}

/// Puts a foreach element into the context (`element`, `elementIndex` and the nesting-numbered forms).
pub fn add_element(context: &mut JsonContext, element: &Value, index: usize, nesting: usize) {
    context.set("element", element.clone());
    context.set("elementIndex", json!(index));
    context.set(&format!("element{nesting}"), element.clone());
    context.set(&format!("elementIndex{nesting}"), json!(index));
}

/// Images of a Pod or a Pod template, as Kyverno exposes them under `images`.
pub fn extract_images(resource: &Value) -> Value {
    let spec = ["/spec/template/spec", "/spec/jobTemplate/spec/template/spec", "/spec"].iter().find_map(|pointer| {
        resource.pointer(pointer).filter(|spec| {
            ["containers", "initContainers", "ephemeralContainers"].iter().any(|key| spec.get(*key).is_some())
        })
    });
    let Some(spec) = spec else { return json!({}) };
    let mut images = Map::new();
    for (key, out_key) in [
        ("containers", "containers"),
        ("initContainers", "initContainers"),
        ("ephemeralContainers", "ephemeralContainers"),
    ] {
        let Some(containers) = spec.get(key).and_then(Value::as_array) else {
            continue;
        };
        let mut by_name = Map::new();
        for container in containers {
            let (Some(name), Some(image)) =
                (container.get("name").and_then(Value::as_str), container.get("image").and_then(Value::as_str))
            else {
                continue;
            };
            by_name.insert(name.to_string(), image_info(image));
        }
        if !by_name.is_empty() {
            images.insert(out_key.to_string(), Value::Object(by_name));
        }
    }
    Value::Object(images)
}

/// Splits an image reference into registry, path, name, tag and digest as Kyverno's `images` variable
/// holds them; a text that is no reference keeps only itself as the reference.
pub fn image_info(image: &str) -> Value {
    match super::image_reference::image_info(image) {
        Ok(info) => json!({
            "registry": info.registry,
            "path": info.path,
            "name": info.name,
            "tag": info.tag,
            "digest": info.digest,
            "reference": info.reference(),
            "referenceWithTag": info.reference_with_tag(),
        }),
        Err(_) => json!({"reference": image}),
    }
}
