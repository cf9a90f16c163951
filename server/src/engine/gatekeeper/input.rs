//! `input.review` and `data.inventory` as Gatekeeper builds them for the Rego: the JSON encoding
//! of Kubernetes' AdmissionRequest for an object or an AdmissionReview, and the inventory's cluster
//! and namespace layout.

use serde_json::{Map, Value, json};

use crate::model::KubernetesObject;

/// The enforcement point gator reviews for (scoped enforcement actions name it).
pub const GATOR_ENFORCEMENT_POINT: &str = "gator.gatekeeper.sh";

/// Builds `data.inventory` from objects: `cluster/<groupVersion>/<kind>/<name>` and
/// `namespace/<namespace>/<groupVersion>/<kind>/<name>`. Objects without apiVersion or kind are
/// reported as errors, as Gatekeeper does.
pub fn build_inventory(objects: &[Value]) -> Result<Value, String> {
    let mut inventory = json!({});
    for object in objects {
        let api_version = object.api_version();
        let kind = object.kind();
        let name = object.name();
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            return Err(format!("resource {name} has no version"));
        }
        if kind.is_empty() {
            return Err(format!("resource {name} has no kind"));
        }
        let namespace = object.namespace();
        let path: Vec<&str> = if namespace.is_empty() {
            vec!["cluster", api_version, kind, name]
        } else {
            vec!["namespace", namespace, api_version, kind, name]
        };
        insert_at(&mut inventory, &path, object.clone());
    }
    Ok(inventory)
}

fn insert_at(root: &mut Value, path: &[&str], value: Value) {
    let mut node = root;
    for (index, key) in path.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        if index + 1 == path.len() {
            map.insert((*key).to_string(), value);
            return;
        }
        node = map.entry((*key).to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

/// `input.review` as Gatekeeper builds it, and the objects the matcher looks at.
#[derive(Debug, Clone)]
pub struct Review {
    pub review: Value,
    /// The request's namespace (used to find the Namespace object for matching).
    pub namespace: String,
}

fn group_version_kind(object: &Value) -> Value {
    let (group, version) = object.group_and_version();
    json!({
        "group": group,
        "version": version,
        "kind": object.kind(),
    })
}

/// Whether an object is an `admission.k8s.io` AdmissionReview (gator's "open box" tests).
pub fn is_admission_review(object: &Value) -> bool {
    object.kind() == "AdmissionReview" && object.group() == "admission.k8s.io"
}

/// Builds the review for an object, or for the request of an AdmissionReview. The shape follows the
/// JSON encoding of Kubernetes' AdmissionRequest, which is what the Rego sees in Gatekeeper.
pub fn build_review(object: &Value) -> Result<Review, String> {
    if !object.is_object() {
        return Err("the object under review is not a mapping".to_string());
    }
    if is_admission_review(object) {
        return admission_review_request(object);
    }
    let name = object.name();
    let namespace = object.namespace();
    let mut review = Map::new();
    review.insert("uid".into(), json!(""));
    review.insert("kind".into(), group_version_kind(object));
    review.insert("resource".into(), json!({"group": "", "version": "", "resource": ""}));
    if !name.is_empty() {
        review.insert("name".into(), json!(name));
    }
    if !namespace.is_empty() {
        review.insert("namespace".into(), json!(namespace));
    }
    review.insert("operation".into(), json!(""));
    review.insert("userInfo".into(), json!({}));
    review.insert("object".into(), object.clone());
    review.insert("oldObject".into(), Value::Null);
    review.insert("options".into(), Value::Null);
    Ok(Review { review: Value::Object(review), namespace: namespace.to_string() })
}

fn admission_review_request(object: &Value) -> Result<Review, String> {
    let Some(request) = object.get("request").filter(|request| request.is_object()) else {
        return Err("the AdmissionReview has no request".to_string());
    };
    let has = |field: &str| request.get(field).is_some_and(|value| !value.is_null());
    if !has("object") && !has("oldObject") {
        return Err("the AdmissionRequest has neither an \"object\" nor an \"oldObject\" to review".to_string());
    }
    let text = |field: &str| request.get(field).and_then(Value::as_str).unwrap_or("").to_string();
    let fields_of = |field: &str, names: &[&str]| {
        let source = request.get(field);
        let mut map = Map::new();
        for name in names {
            let value = source.and_then(|source| source.get(*name)).and_then(Value::as_str).unwrap_or("");
            map.insert((*name).to_string(), json!(value));
        }
        Value::Object(map)
    };
    let mut review = Map::new();
    review.insert("uid".into(), json!(text("uid")));
    review.insert("kind".into(), fields_of("kind", &["group", "version", "kind"]));
    review.insert("resource".into(), fields_of("resource", &["group", "version", "resource"]));
    for optional in ["subResource", "requestSubResource", "name", "namespace"] {
        if !text(optional).is_empty() {
            review.insert(optional.into(), json!(text(optional)));
        }
    }
    if has("requestKind") {
        review.insert("requestKind".into(), fields_of("requestKind", &["group", "version", "kind"]));
    }
    if has("requestResource") {
        review.insert("requestResource".into(), fields_of("requestResource", &["group", "version", "resource"]));
    }
    review.insert("operation".into(), json!(text("operation")));
    let mut user_info = Map::new();
    if let Some(source) = request.get("userInfo").and_then(Value::as_object) {
        for field in ["username", "uid", "groups", "extra"] {
            if let Some(value) = source.get(field).filter(|value| !is_empty_value(value)) {
                user_info.insert(field.to_string(), value.clone());
            }
        }
    }
    review.insert("userInfo".into(), Value::Object(user_info));
    let mut object_under_review = request.get("object").cloned().unwrap_or(Value::Null);
    let old_object = request.get("oldObject").cloned().unwrap_or(Value::Null);
    // On DELETE Gatekeeper reviews the old object as the object.
    if text("operation") == "DELETE" {
        if old_object.is_null() {
            return Err("oldObject cannot be nil for DELETE operations".to_string());
        }
        object_under_review = old_object.clone();
    }
    review.insert("object".into(), object_under_review);
    review.insert("oldObject".into(), old_object);
    if let Some(dry_run) = request.get("dryRun").filter(|value| !value.is_null()) {
        review.insert("dryRun".into(), dry_run.clone());
    }
    review.insert("options".into(), request.get("options").cloned().unwrap_or(Value::Null));
    Ok(Review { review: Value::Object(review), namespace: text("namespace") })
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Whether a scoped constraint acts at gator's enforcement point.
pub(crate) fn acts_for_gator(constraint: &Value) -> bool {
    let action = constraint.pointer("/spec/enforcementAction").and_then(Value::as_str).unwrap_or("");
    if !action.eq_ignore_ascii_case("scoped") {
        return true;
    }
    let Some(entries) = constraint.pointer("/spec/scopedEnforcementActions").and_then(Value::as_array) else {
        return false;
    };
    entries.iter().any(|entry| {
        entry.get("enforcementPoints").and_then(Value::as_array).is_some_and(|points| {
            points.iter().any(|point| {
                let name = point.get("name").and_then(Value::as_str).unwrap_or("");
                name == "*" || name == GATOR_ENFORCEMENT_POINT
            })
        })
    })
}
