//! `apiCall` context entries served offline: from the test's mocked responses, or from the objects of
//! the test's fake cluster for Kubernetes API paths (`/api/v1/namespaces/x/pods`, `/apis/g/v/...`).

use serde_json::{Map, Value, json};

use super::pattern::wildcard_match;
pub use super::response::ApiCallMock;
use super::response::Request;
use crate::model::KubernetesObject;

/// Why an apiCall could not be answered.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiCallError {
    /// Nothing offline can answer it: Kyverno's CLI leaves the entry unset.
    Unavailable,
    /// The call was answered with a failure.
    Failed(String),
    /// A mocked response is not a success: the CLI fails the context entry without reading its
    /// `default` (`cmd/cli/kubectl-kyverno/store/contextloader.go`).
    MockRejected(String),
}

/// Answers an apiCall whose fields are already substituted.
pub fn call(api_call: &Value, request: &Request) -> Result<Value, ApiCallError> {
    let url = api_call
        .pointer("/service/url")
        .and_then(Value::as_str)
        .or_else(|| api_call.get("urlPath").and_then(Value::as_str))
        .unwrap_or("");
    let method = api_call.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
    if url.is_empty() {
        return Err(ApiCallError::Unavailable);
    }
    let mock = request
        .api_call_mocks
        .iter()
        .find(|mock| mock.url == url && mock.method.eq_ignore_ascii_case(&method))
        .or_else(|| request.api_call_mocks.iter().find(|mock| mock.url == url && mock.method.is_empty()));
    if let Some(mock) = mock {
        if !(200..300).contains(&mock.status) {
            return Err(ApiCallError::MockRejected(format!("HTTP {} from apiCall mock for {url}", mock.status)));
        }
        return Ok(mock.body.clone());
    }
    let Some(objects) = request.cluster_objects.as_ref() else {
        return Err(ApiCallError::Unavailable);
    };
    if api_call.get("service").is_some() || method != "GET" {
        return Err(ApiCallError::Unavailable);
    }
    kubernetes_get(url, objects)
}

/// The parts of a Kubernetes API path.
struct ApiPath {
    group: String,
    version: String,
    namespace: Option<String>,
    resource: String,
    name: Option<String>,
    label_selector: Option<String>,
}

fn parse_path(url: &str) -> Option<ApiPath> {
    let (path, query) = match url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (url, None),
    };
    let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => (String::new(), version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (group.to_string(), version.to_string(), rest),
        _ => return None,
    };
    let label_selector = query
        .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("labelSelector=")).map(percent_decode));
    let (namespace, resource, name) = match rest {
        ["namespaces", namespace, resource] => (Some(namespace.to_string()), resource.to_string(), None),
        ["namespaces", namespace, resource, name] => {
            (Some(namespace.to_string()), resource.to_string(), Some(name.to_string()))
        }
        [resource] => (None, resource.to_string(), None),
        [resource, name] => (None, resource.to_string(), Some(name.to_string())),
        _ => return None,
    };
    Some(ApiPath { group, version, namespace, resource, name, label_selector })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && index + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[index + 1..index + 3], 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The lowercase plural Kubernetes uses for a kind in API paths.
pub fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") || lower.ends_with("sh") {
        format!("{lower}es")
    } else if lower.ends_with('y') && !lower.ends_with("ay") && !lower.ends_with("ey") && !lower.ends_with("oy") {
        format!("{}ies", &lower[..lower.len() - 1])
    } else {
        format!("{lower}s")
    }
}

fn kubernetes_get(url: &str, objects: &[Value]) -> Result<Value, ApiCallError> {
    let Some(path) = parse_path(url) else {
        return Err(ApiCallError::Failed(format!("{url} is not a Kubernetes API path")));
    };
    let api_version =
        if path.group.is_empty() { path.version.clone() } else { format!("{}/{}", path.group, path.version) };
    let matches_type = |object: &Value| {
        let kind = super::matching::resource_kind(object);
        let object_api_version = object.api_version();
        let (object_group, _) = super::matching::group_version(object);
        (plural(kind) == path.resource.to_ascii_lowercase() || kind.eq_ignore_ascii_case(&path.resource))
            && (object_api_version == api_version || object_group == path.group)
    };
    let selected: Vec<Value> = objects
        .iter()
        .filter(|object| matches_type(object))
        .filter(|object| match &path.namespace {
            Some(namespace) => super::matching::resource_namespace(object) == namespace,
            None => true,
        })
        .filter(|object| match &path.label_selector {
            Some(selector) => label_selector_matches(selector, object),
            None => true,
        })
        .cloned()
        .collect();
    match &path.name {
        Some(name) => selected
            .into_iter()
            .find(|object| super::matching::resource_name(object) == name)
            .ok_or_else(|| ApiCallError::Failed(format!("{} \"{name}\" not found", path.resource))),
        None => {
            let kind =
                selected.first().map(|object| super::matching::resource_kind(object).to_string()).unwrap_or_default();
            Ok(json!({
                "apiVersion": api_version,
                "kind": format!("{kind}List"),
                "metadata": {},
                "items": selected,
            }))
        }
    }
}

/// `a=b,c!=d,e` label selectors of list calls.
fn label_selector_matches(selector: &str, object: &Value) -> bool {
    let labels = object.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_else(Map::new);
    selector.split(',').filter(|part| !part.is_empty()).all(|part| {
        if let Some((key, value)) = part.split_once("!=") {
            labels.get(key).and_then(Value::as_str) != Some(value)
        } else if let Some((key, value)) = part.split_once('=') {
            let value = value.trim_start_matches('=');
            labels.get(key).and_then(Value::as_str).is_some_and(|actual| wildcard_match(value, actual))
        } else if let Some(key) = part.strip_prefix('!') {
            !labels.contains_key(key)
        } else {
            labels.contains_key(part)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, expect: Result<Value, ApiCallError>) {
        let request = Request {
            cluster_objects: Some(vec![
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "labels": {"tier": "critical"}}}),
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"}}),
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "prod"}}),
            ]),
            api_call_mocks: vec![ApiCallMock {
                method: String::new(),
                url: "https://svc/check".into(),
                status: 200,
                body: json!({"ok": true}),
            }],
            ..Request::default()
        };
        let api_call =
            if url.starts_with("https") { json!({"service": {"url": url}}) } else { json!({"urlPath": url}) };
        assert_eq!(
            call(&api_call, &request).map(|value| value
                .get("items")
                .map(|items| items.as_array().map_or(0, Vec::len).into())
                .unwrap_or(value)),
            expect
        );
    }

    #[test]
    fn serves_lists_objects_and_mocks() {
        check("/apis/apps/v1/namespaces/prod/deployments", Ok(json!(1)));
        check("/apis/networking.k8s.io/v1/namespaces/prod/networkpolicies", Ok(json!(1)));
        check("/api/v1/namespaces?labelSelector=tier%3Dcritical", Ok(json!(1)));
        check(
            "/api/v1/namespaces/prod",
            Ok(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "labels": {"tier": "critical"}}}),
            ),
        );
        check("https://svc/check", Ok(json!({"ok": true})));
        check(
            "/apis/apps/v1/namespaces/prod/deployments/missing",
            Err(ApiCallError::Failed("deployments \"missing\" not found".into())),
        );
    }
}
