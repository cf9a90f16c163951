//! The schema of a document at a path, shared by completion and hover: the bundled schema for its
//! apiVersion and kind, with a constraint's parameters taken from its template.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::workspace::{FileData, Workspace};
use crate::model::{DocumentInfo, DocumentKind};
use crate::schema::{self, SchemaNode};

/// Runs `work` with the schema nodes that describe `path` in a document of this kind in `file`.
pub(super) fn with_schema_at<T>(
    workspace: &Workspace,
    file: &Path,
    info: &DocumentInfo,
    path: &[&str],
    work: impl FnOnce(&[SchemaNode<'_>]) -> T,
) -> Option<T> {
    let registry = schema::registry();
    let entry = registry.lookup(&info.api_version, &info.kind_name)?;
    let root = registry.root(entry)?;
    if info.kind == DocumentKind::Constraint {
        let mut constraint_schema = root.value.clone();
        if let Some(parameters) = constraint_parameters_schema(workspace, file, &info.kind_name)
            && let Some(slot) = constraint_schema.pointer_mut("/properties/spec/properties/parameters")
        {
            *slot = parameters;
        }
        let owned_root = SchemaNode { file: root.file, value: &constraint_schema };
        let nodes = schema::schema_at(registry, owned_root, path);
        return Some(work(&nodes));
    }
    let nodes = schema::schema_at(registry, root, path);
    Some(work(&nodes))
}

/// A short type label for a schema node (`string`, `[]object`, `map[string]string`, ...).
pub(super) fn type_label(nodes: &[SchemaNode<'_>]) -> Option<String> {
    let registry = schema::registry();
    for node in nodes.iter().flat_map(|node| schema::subschemas(registry, *node)) {
        let Some(kind) = node.value.get("type") else { continue };
        let name = match kind {
            Value::String(name) => name.clone(),
            Value::Array(names) => {
                names.iter().filter_map(Value::as_str).filter(|name| *name != "null").collect::<Vec<_>>().join(" | ")
            }
            _ => continue,
        };
        return Some(match name.as_str() {
            "array" => {
                let items = node.value.get("items").map(|items| SchemaNode { file: node.file, value: items });
                format!("[]{}", items.and_then(|items| type_label(&[items])).unwrap_or_else(|| "any".to_string()))
            }
            "object" if node.value.get("additionalProperties").is_some_and(Value::is_object) => {
                let values =
                    node.value.get("additionalProperties").map(|items| SchemaNode { file: node.file, value: items });
                format!(
                    "map[string]{}",
                    values.and_then(|values| type_label(&[values])).unwrap_or_else(|| "any".to_string())
                )
            }
            _ => name,
        });
    }
    None
}

/// The enum values allowed at a node, if any.
pub(super) fn enum_values(nodes: &[SchemaNode<'_>]) -> Vec<Value> {
    let registry = schema::registry();
    let mut values = Vec::new();
    for node in nodes.iter().flat_map(|node| schema::subschemas(registry, *node)) {
        for value in node.value.get("enum").and_then(Value::as_array).into_iter().flatten() {
            if !values.contains(value) {
                values.push(value.clone());
            }
        }
        if let Some(constant) = node.value.get("const")
            && !values.contains(constant)
        {
            values.push(constant.clone());
        }
    }
    values
}

/// Whether any node describes an object (so a key completes into a nested block).
pub(super) fn is_type(nodes: &[SchemaNode<'_>], wanted: &str) -> bool {
    let registry = schema::registry();
    nodes.iter().flat_map(|node| schema::subschemas(registry, *node)).any(|node| match node.value.get("type") {
        Some(Value::String(name)) => name == wanted,
        Some(Value::Array(names)) => names.iter().any(|name| name == wanted),
        _ => false,
    })
}

/// The parameter schema of the template that governs a constraint of `constraint_kind` in `file`, when
/// that template is loaded ([`governing_template`]).
pub(super) fn constraint_parameters_schema(workspace: &Workspace, file: &Path, constraint_kind: &str) -> Option<Value> {
    let (template, api_version) = governing_template(workspace, file, constraint_kind)?;
    let validation = template.pointer("/spec/crd/spec/validation");
    let legacy = validation
        .and_then(|validation| validation.get("legacySchema"))
        .and_then(Value::as_bool)
        .unwrap_or(!api_version.ends_with("/v1"));
    Some(match validation.and_then(|validation| validation.get("openAPIV3Schema")) {
        Some(parameters) => schema::openapi_v3_to_schema(parameters, !legacy),
        None if legacy => Value::Object(Default::default()),
        None => serde_json::json!({"type": "object", "additionalProperties": false}),
    })
}

/// The ConstraintTemplate that defines `constraint_kind` for a constraint in `file`, with its apiVersion:
/// the one in the constraint's own folder, else in its nearest ancestor folder, as a repository that
/// keeps each template beside its constraints deploys them. A template elsewhere governs only when
/// every such template defines the same parameters: two different templates of one kind in unrelated
/// folders leave the constraint unjudged rather than checked against the wrong one.
pub(super) fn governing_template(workspace: &Workspace, file: &Path, constraint_kind: &str) -> Option<(Value, String)> {
    // Held as loaded files and document indices until one is chosen: a tree with many copies of a template
    // cloned each of them for every constraint, which made linting grow with the square of the tree.
    let mut candidates: Vec<(&Path, Arc<FileData>, usize)> = Vec::new();
    // The index tells which files define the kind; only those are loaded.
    let defines = |facts: &super::workspace::FileFacts| {
        facts.documents.iter().any(|document| document.defines_kind.as_deref() == Some(constraint_kind))
    };
    for (path, _) in super::index::all_where(workspace, defines) {
        let Some(data) = workspace.load(path) else { continue };
        for (index, info) in data.documents.iter().enumerate() {
            if info.kind != DocumentKind::ConstraintTemplate {
                continue;
            }
            let template = &data.source.segments()[index].parsed.value;
            if template.pointer("/spec/crd/spec/names/kind").and_then(Value::as_str) == Some(constraint_kind) {
                candidates.push((path.as_path(), data.clone(), index));
            }
        }
    }
    candidates.sort_by(|left, right| left.0.cmp(right.0));
    let mut folder = file.parent();
    while let Some(current) = folder {
        if let Some(candidate) = candidates.iter().find(|(path, _, _)| path.parent() == Some(current)) {
            return Some(chosen(candidate));
        }
        folder = current.parent();
    }
    let first = candidates.first().map(|candidate| parameters(template_of(candidate)))?;
    if candidates.iter().all(|candidate| parameters(template_of(candidate)) == first) {
        return Some(chosen(&candidates[0]));
    }
    None
}

/// The template document of a candidate of [`governing_template`].
fn template_of<'a>((_, data, index): &'a (&Path, Arc<FileData>, usize)) -> &'a Value {
    &data.source.segments()[*index].parsed.value
}

/// The template and apiVersion of the candidate [`governing_template`] chose.
fn chosen(candidate: &(&Path, Arc<FileData>, usize)) -> (Value, String) {
    (template_of(candidate).clone(), candidate.1.documents[candidate.2].api_version.clone())
}

/// A template's parameter schema, what two templates of one kind must agree on.
fn parameters(template: &Value) -> Option<&Value> {
    template.pointer("/spec/crd/spec/validation")
}
