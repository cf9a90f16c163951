//! ExpansionTemplates: the objects a generator resource (a Deployment, a CronJob) implies, built the
//! way Gatekeeper's expansion system builds them, so gator tests with `expansion:` review them too.

use serde_json::{Map, Value, json};

use crate::model::KubernetesObject;

/// Gatekeeper stops expanding resultants of resultants at this depth.
const MAX_DEPTH: usize = 30;

/// One object an ExpansionTemplate generated from its parent.
#[derive(Debug, Clone, PartialEq)]
pub struct Resultant {
    pub object: Value,
    /// The ExpansionTemplate's name (violation messages are prefixed with it).
    pub template_name: String,
}

/// The ExpansionTemplates of an expansion file, checked as Gatekeeper's `ValidateTemplate` does.
/// Mutators in the file are reported as unsupported rather than silently ignored.
pub fn expansion_templates(documents: &[Value]) -> Result<Vec<Value>, ExpansionError> {
    let mut templates = Vec::new();
    for document in documents {
        match (document.group(), document.kind()) {
            ("expansion.gatekeeper.sh", "ExpansionTemplate") => {
                validate_template(document).map_err(ExpansionError::Invalid)?;
                templates.push(document.clone());
            }
            ("mutations.gatekeeper.sh", kind) => {
                return Err(ExpansionError::Unsupported(format!(
                    "the expansion file holds a mutator ({kind}); mutation is not implemented, so the expanded objects would be wrong"
                )));
            }
            _ => {}
        }
    }
    Ok(templates)
}

/// Why expansion cannot go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpansionError {
    /// The file or an object is wrong (gator reports an error).
    Invalid(String),
    /// The file needs a feature that is not implemented.
    Unsupported(String),
}

fn validate_template(template: &Value) -> Result<(), String> {
    let name = template.name();
    if name.is_empty() {
        return Err("ExpansionTemplate has empty name field".to_string());
    }
    if name.len() >= 64 {
        return Err("ExpansionTemplate name must be less than 64 characters".to_string());
    }
    if template.pointer("/spec/templateSource").and_then(Value::as_str).unwrap_or("").is_empty() {
        return Err(format!("ExpansionTemplate {name} has empty source field"));
    }
    let generated = generated_gvk(template);
    if generated == ("", "", "") {
        return Err(format!("ExpansionTemplate {name} has empty generatedGVK field"));
    }
    let apply_to = template.pointer("/spec/applyTo").and_then(Value::as_array).cloned().unwrap_or_default();
    if apply_to.is_empty() {
        return Err(format!("ExpansionTemplate {name} must specify ApplyTo"));
    }
    if apply_to.iter().any(|entry| applies_to(entry, generated)) {
        return Err(format!("ExpansionTemplate {name} generates {generated:?}, but also applies to that same kind"));
    }
    Ok(())
}

fn generated_gvk(template: &Value) -> (&str, &str, &str) {
    let field =
        |name: &str| template.pointer(&format!("/spec/generatedGVK/{name}")).and_then(Value::as_str).unwrap_or("");
    (field("group"), field("version"), field("kind"))
}

fn object_gvk(object: &Value) -> (&str, &str, &str) {
    let (group, version) = object.group_and_version();
    (group, version, object.kind())
}

fn applies_to(entry: &Value, (group, version, kind): (&str, &str, &str)) -> bool {
    let contains = |field: &str, wanted: &str| {
        entry
            .get(field)
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(|item| item.as_str() == Some(wanted)))
    };
    contains("groups", group) && contains("versions", version) && contains("kinds", kind)
}

/// Expands an object with the templates that apply to its kind, recursively.
pub fn expand(object: &Value, templates: &[Value]) -> Result<Vec<Resultant>, String> {
    let mut resultants = Vec::new();
    expand_recursive(object, templates, 0, &mut resultants)?;
    Ok(resultants)
}

fn expand_recursive(object: &Value, templates: &[Value], depth: usize, out: &mut Vec<Resultant>) -> Result<(), String> {
    if depth >= MAX_DEPTH {
        return Err(format!("maximum recursion depth of {MAX_DEPTH} reached"));
    }
    let gvk = object_gvk(object);
    let name = object.name();
    if gvk == ("", "", "") {
        return Err(format!("cannot expand resource {name} with empty GVK"));
    }
    let mut level = Vec::new();
    for template in templates {
        let applies = template
            .pointer("/spec/applyTo")
            .and_then(Value::as_array)
            .is_some_and(|entries| entries.iter().any(|entry| applies_to(entry, gvk)));
        if applies {
            level.push(expand_one(object, template)?);
        }
    }
    for resultant in &level {
        expand_recursive(&resultant.object, templates, depth + 1, out)?;
    }
    out.extend(level);
    Ok(())
}

fn expand_one(parent: &Value, template: &Value) -> Result<Resultant, String> {
    let template_name = template.name().to_string();
    let source = template.pointer("/spec/templateSource").and_then(Value::as_str).unwrap_or("");
    let parent_name = parent.name();
    let mut node = parent;
    for segment in source.split('.') {
        node = node
            .get(segment)
            .ok_or_else(|| format!("could not find source field {source:?} in resource {parent_name}"))?;
    }
    let Value::Object(fields) = node.clone() else {
        return Err(format!("the source field {source:?} of resource {parent_name} is not an object"));
    };
    let mut object = fields;
    let (group, version, kind) = generated_gvk(template);
    let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    let metadata = object.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    if let Value::Object(metadata) = metadata {
        if let Some(namespace) = parent.pointer("/metadata/namespace").and_then(Value::as_str) {
            metadata.insert("namespace".into(), json!(namespace));
        }
        // Gatekeeper names a resultant after its parent and kind, in lower case.
        let name = if kind.is_empty() { parent_name.to_string() } else { format!("{parent_name}-{kind}") };
        metadata.insert("name".into(), json!(name.to_lowercase()));
        let parent_api_version = parent.api_version();
        let parent_kind = parent.kind();
        if !parent_api_version.is_empty() && !parent_kind.is_empty() && !parent_name.is_empty() {
            let owners = metadata.entry("ownerReferences").or_insert_with(|| json!([]));
            if let Value::Array(owners) = owners {
                let already = owners.iter().any(|owner| {
                    owner.api_version() == parent_api_version
                        && owner.kind() == parent_kind
                        && owner.get("name").and_then(Value::as_str) == Some(parent_name)
                });
                if !already {
                    // Kubernetes' OwnerReference always encodes its uid, empty here.
                    owners.push(
                        json!({"apiVersion": parent_api_version, "kind": parent_kind, "name": parent_name, "uid": ""}),
                    );
                }
            }
        }
    }
    Ok(Resultant { object: Value::Object(object), template_name })
}
