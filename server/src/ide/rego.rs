//! Rego in ConstraintTemplates and `.rego` files: completion (keywords, built-ins with signatures,
//! `input.review.object` paths typed by the constraints' matched kinds, `input.parameters` from the
//! template's schema, packages and rules of the workspace and the imports) and hover for built-ins and
//! rules. A `.rego` file gets its template's context from the template generated from it, if any.

use std::collections::BTreeSet;

use serde_json::Value;

use super::cursor::Cursor;
use super::rego_builtins::{BUILTINS, KEYWORDS, builtin_named};
use super::rego_cursor::rego_cursor;
use super::rego_navigation::{reference_names, rule_hover};
use super::types::{CompletionItem, CompletionKind, HoverResult};
use super::workspace::Workspace;
use crate::base::TextRange;
use crate::model::DocumentKind;
use crate::schema::{self, SchemaNode};

/// Fields of `input.review`, as Gatekeeper builds it from an AdmissionRequest.
const REVIEW_FIELDS: &[(&str, &str)] = &[
    ("object", "The object under review."),
    ("oldObject", "The object before an UPDATE or DELETE."),
    ("operation", "CREATE, UPDATE, DELETE or CONNECT."),
    ("kind", "The object's group, version and kind."),
    ("name", "The object's name."),
    ("namespace", "The object's namespace."),
    ("userInfo", "Who made the request: username, uid, groups, extra."),
    ("uid", "The request's unique id."),
    ("dryRun", "Whether the request is a dry run."),
    ("options", "The operation's options."),
    ("resource", "The group, version and resource requested."),
    ("subResource", "The subresource requested, if any."),
    ("requestKind", "The kind originally requested."),
];

fn is_path_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '[' | ']' | '"')
}

pub(super) fn completions(workspace: &Workspace, cursor: &Cursor<'_>) -> Option<Vec<CompletionItem>> {
    let cursor = rego_cursor(workspace, cursor)?;
    let text = &cursor.text()[..cursor.offset.min(cursor.text().len())];
    let token_start = text
        .char_indices()
        .rev()
        .take_while(|(_, character)| is_path_char(*character))
        .last()
        .map_or(text.len(), |(position, _)| position);
    let token = &text[token_start..];
    let (base, partial, partial_start) = match token.rfind('.') {
        Some(dot) => (&token[..dot], &token[dot + 1..], token_start + dot + 1),
        None => ("", token, token_start),
    };
    let replace = TextRange::new(cursor.place.to_file(partial_start), cursor.place.to_file(cursor.offset));
    let template = cursor.template.as_deref();
    let mut names: Vec<(String, CompletionKind, Option<String>, Option<String>)> = Vec::new();
    let segments = path_segments(base);
    match segments.first().map(String::as_str) {
        None => {
            for keyword in KEYWORDS {
                names.push((keyword.to_string(), CompletionKind::Value, Some("keyword".into()), None));
            }
            for root in ["input", "data"] {
                names.push((root.to_string(), CompletionKind::Field, Some("document".into()), None));
            }
            let mut namespaces = BTreeSet::new();
            for builtin in BUILTINS {
                match builtin.name.split_once('.') {
                    Some((namespace, _)) => {
                        namespaces.insert(namespace);
                    }
                    None => names.push((
                        builtin.name.to_string(),
                        CompletionKind::Kind,
                        Some(builtin.signature.into()),
                        Some(builtin.doc.into()),
                    )),
                }
            }
            for namespace in namespaces {
                names.push((namespace.to_string(), CompletionKind::Kind, Some("built-in functions".into()), None));
            }
            for rule in rule_names(cursor.text()) {
                names.push((rule, CompletionKind::Field, Some("rule".into()), None));
            }
            for (name, detail) in reference_names(workspace, &cursor, &[]) {
                names.push((name, CompletionKind::Field, Some(detail), None));
            }
        }
        Some("input") => {
            let rest = &segments[1..];
            match rest.first().map(String::as_str) {
                None => {
                    names.push(("review".into(), CompletionKind::Field, Some("the admission request".into()), None));
                    names.push((
                        "parameters".into(),
                        CompletionKind::Field,
                        Some("the constraint's spec.parameters".into()),
                        None,
                    ));
                }
                Some("review") if rest.len() == 1 => {
                    for (field, doc) in REVIEW_FIELDS {
                        names.push((field.to_string(), CompletionKind::Field, None, Some(doc.to_string())));
                    }
                }
                Some("review") if matches!(rest.get(1).map(String::as_str), Some("object" | "oldObject")) => {
                    for (name, detail, doc) in object_fields(workspace, template, &rest[2..]) {
                        names.push((name, CompletionKind::Field, detail, doc));
                    }
                }
                Some("parameters") => {
                    for (name, detail, doc) in parameter_fields(template, &rest[1..]) {
                        names.push((name, CompletionKind::Field, detail, doc));
                    }
                }
                _ => {}
            }
        }
        Some("data") => match segments.get(1).map(String::as_str) {
            None => {
                names.push(("inventory".into(), CompletionKind::Field, Some("synced cluster objects".into()), None));
                names.push(("lib".into(), CompletionKind::Field, Some("the template's libs".into()), None));
            }
            Some("lib") if segments.len() == 2 => {
                for package in lib_packages(template) {
                    names.push((package, CompletionKind::Field, Some("lib package".into()), None));
                }
            }
            Some("inventory") if segments.len() == 2 => {
                names.push((
                    "cluster".into(),
                    CompletionKind::Field,
                    Some("cluster-scoped objects by group/version, kind, name".into()),
                    None,
                ));
                names.push((
                    "namespace".into(),
                    CompletionKind::Field,
                    Some("namespaced objects by namespace, group/version, kind, name".into()),
                    None,
                ));
            }
            _ => {}
        },
        Some(namespace) if segments.len() == 1 => {
            for builtin in BUILTINS
                .iter()
                .filter(|builtin| builtin.name.split_once('.').is_some_and(|(space, _)| space == namespace))
            {
                let short = builtin.name.split_once('.').map_or(builtin.name, |(_, name)| name);
                names.push((
                    short.to_string(),
                    CompletionKind::Kind,
                    Some(builtin.signature.into()),
                    Some(builtin.doc.into()),
                ));
            }
        }
        _ => {}
    }
    // Packages and rules below `data.`, an import's alias, or a package prefix.
    if segments.first().is_some_and(|first| first != "input") {
        for (name, detail) in reference_names(workspace, &cursor, &segments) {
            names.push((name, CompletionKind::Field, Some(detail), None));
        }
    }
    let lowered = partial.to_lowercase();
    let mut seen = BTreeSet::new();
    Some(
        names
            .into_iter()
            .filter(|(name, ..)| name.to_lowercase().starts_with(&lowered) && seen.insert(name.clone()))
            .map(|(name, kind, detail, documentation)| CompletionItem {
                insert_text: name.clone(),
                label: name,
                kind,
                detail,
                documentation,
                is_snippet: false,
                replace,
                deprecated: false,
                preselect: false,
            })
            .collect(),
    )
}

/// `input.parameters.labels[_].key` -> ["input", "parameters", "labels", "[]", "key"].
fn path_segments(base: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in base.split('.').filter(|part| !part.is_empty()) {
        let name = part.split('[').next().unwrap_or("");
        if !name.is_empty() {
            out.push(name.to_string());
        }
        for _ in part.matches('[') {
            out.push("[]".to_string());
        }
    }
    out
}

fn rule_names(rego: &str) -> BTreeSet<String> {
    rego.lines()
        .filter(|line| line.chars().next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_'))
        .filter_map(|line| {
            let name: String =
                line.chars().take_while(|character| character.is_ascii_alphanumeric() || *character == '_').collect();
            (!KEYWORDS.contains(&name.as_str()) && !name.is_empty()).then_some(name)
        })
        .collect()
}

fn lib_packages(template: Option<&Value>) -> BTreeSet<String> {
    let mut packages = BTreeSet::new();
    let targets = template.and_then(|template| template.pointer("/spec/targets"));
    for target in targets.and_then(Value::as_array).into_iter().flatten() {
        let libs = target.get("libs").into_iter().chain(
            target
                .get("code")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|code| code.pointer("/source/libs")),
        );
        for lib in libs.filter_map(Value::as_array).flatten().filter_map(Value::as_str) {
            for line in lib.lines() {
                if let Some(package) = line.trim().strip_prefix("package lib.") {
                    packages.insert(package.trim().split('.').next().unwrap_or("").to_string());
                }
            }
        }
    }
    packages
}

type Field = (String, Option<String>, Option<String>);

/// Fields of the reviewed object at a path, from the schemas of the kinds the template's constraints match.
fn object_fields(workspace: &Workspace, template: Option<&Value>, path: &[String]) -> Vec<Field> {
    let registry = schema::registry();
    let template_kind = template
        .and_then(|template| template.pointer("/spec/crd/spec/names/kind"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut roots: Vec<SchemaNode<'_>> = Vec::new();
    // The index tells which files hold such constraints; only those are loaded.
    let constraint_files = super::index::all_where(workspace, |facts| {
        facts
            .documents
            .iter()
            .any(|document| document.info.kind == DocumentKind::Constraint && document.info.kind_name == template_kind)
    });
    let constraint_files: Vec<_> = constraint_files.filter_map(|(path, _)| workspace.load(path)).collect();
    for file in &constraint_files {
        for (index, info) in file.documents.iter().enumerate() {
            if info.kind != DocumentKind::Constraint || info.kind_name != template_kind {
                continue;
            }
            let constraint = &file.source.segments()[index].parsed.value;
            for matcher in constraint.pointer("/spec/match/kinds").and_then(Value::as_array).into_iter().flatten() {
                let groups: Vec<&str> = matcher
                    .get("apiGroups")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for kind in
                    matcher.get("kinds").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
                {
                    for entry in registry
                        .entries()
                        .iter()
                        .filter(|entry| entry.kind == kind && entry.file.starts_with("kubernetes/"))
                    {
                        let group = crate::model::group_of(&entry.api_version);
                        if groups.is_empty() || groups.contains(&"*") || groups.contains(&group) {
                            roots.extend(registry.root(entry));
                        }
                    }
                }
            }
        }
    }
    if roots.is_empty() {
        // No constraint tells us the kinds: every object still has apiVersion, kind and metadata.
        roots.extend(registry.lookup("v1", "ConfigMap").and_then(|entry| registry.root(entry)));
        if path.is_empty() {
            return ["apiVersion", "kind", "metadata", "spec", "status"]
                .iter()
                .map(|name| (name.to_string(), None, None))
                .collect();
        }
    }
    let steps: Vec<&str> = path.iter().map(|step| if step == "[]" { "0" } else { step.as_str() }).collect();
    let mut fields: Vec<Field> = Vec::new();
    let mut seen = BTreeSet::new();
    for root in roots {
        for node in
            schema::schema_at(registry, root, &steps).into_iter().flat_map(|node| schema::subschemas(registry, node))
        {
            for (name, property) in node.value.get("properties").and_then(Value::as_object).into_iter().flatten() {
                if seen.insert(name.clone()) {
                    let property = SchemaNode { file: node.file, value: property };
                    fields.push((name.clone(), None, schema::description_of(registry, property).map(str::to_string)));
                }
            }
        }
    }
    fields
}

/// Fields of `input.parameters` at a path, from the template's openAPIV3Schema.
fn parameter_fields(template: Option<&Value>, path: &[String]) -> Vec<Field> {
    let Some(mut node) = template.and_then(|template| template.pointer("/spec/crd/spec/validation/openAPIV3Schema"))
    else {
        return Vec::new();
    };
    for step in path {
        node = if step == "[]" {
            match node.get("items") {
                Some(items) => items,
                None => return Vec::new(),
            }
        } else {
            match node.get("properties").and_then(|properties| properties.get(step)) {
                Some(property) => property,
                None => return Vec::new(),
            }
        };
    }
    node.get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| {
                    (
                        name.clone(),
                        property.get("type").and_then(Value::as_str).map(str::to_string),
                        property.get("description").and_then(Value::as_str).map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Hover inside Rego: a built-in function's signature and what it does, else a rule's head and where it
/// is defined.
pub(super) fn hover(workspace: &Workspace, cursor: &Cursor<'_>) -> Option<HoverResult> {
    let cursor = rego_cursor(workspace, cursor)?;
    let text = cursor.text();
    let is_name = |character: char| character.is_ascii_alphanumeric() || matches!(character, '_' | '.');
    let start = text[..cursor.offset]
        .char_indices()
        .rev()
        .take_while(|(_, character)| is_name(*character))
        .last()
        .map_or(cursor.offset, |(position, _)| position);
    let end = cursor.offset
        + text[cursor.offset..].chars().take_while(|character| is_name(*character)).map(char::len_utf8).sum::<usize>();
    let word = text.get(start..end)?;
    let Some(builtin) = builtin_named(word) else { return rule_hover(workspace, &cursor) };
    let range = TextRange::new(cursor.place.to_file(start), cursor.place.to_file(end));
    Some(HoverResult { range, markdown: format!("```rego\n{}\n```\n\n{}", builtin.signature, builtin.doc) })
}
