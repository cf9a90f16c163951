//! What the editor shows for CEL: hover text of the functions of the catalog, the fields of the
//! admission `request`, and completion candidates for the text before the cursor.

use super::catalog::{Call, Environment, Function, Offline, VARIABLES};

/// Fields of the admission `request` variable.
pub const REQUEST_FIELDS: &[&str] = &[
    "operation",
    "kind",
    "resource",
    "subResource",
    "name",
    "namespace",
    "userInfo",
    "object",
    "oldObject",
    "dryRun",
    "options",
];

/// Fields every Kubernetes object has at the top and under `metadata`.
const OBJECT_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status", "data"];
const METADATA_FIELDS: &[&str] =
    &["name", "namespace", "labels", "annotations", "ownerReferences", "uid", "generateName", "finalizers"];

/// The function a hover on `word` means: qualified by the text before it (`sets.` + `contains`, `resource.`
/// + `get`) when that names a namespace, else a global or member function of that name.
pub fn function_at(environment: &Environment, qualifier: Option<&str>, word: &str) -> Option<&'static Function> {
    if let Some(qualifier) = qualifier {
        if let Some(function) = environment.global(&format!("{qualifier}.{word}")) {
            return Some(function);
        }
        if let Some(function) = environment.on_variable(qualifier, word) {
            return Some(function);
        }
    }
    environment.global(word).or_else(|| environment.members(word).next())
}

/// The hover text of a function: signature, what it does, its library, and how offline evaluation
/// treats it.
pub fn function_hover(function: &Function) -> String {
    let mut text = format!("```\n{}\n```\n{}\n\n{}", function.signature, function.doc, function.library.title());
    if function.names.len() > 1 {
        text.push_str(&format!("; also spelled `{}`", function.names[1..].join("`, `")));
    }
    text.push('.');
    if let Offline::Unsupported(reason) = function.offline {
        text.push_str(&format!("\n\nNot evaluated by `policy-lsp test`: {reason}."));
    }
    text
}

/// One completion candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub label: String,
    pub detail: String,
    pub is_function: bool,
}

/// Candidates for the text before the cursor inside an expression in `environment`; `declared` are the
/// names under `variables.`.
pub fn complete(before_cursor: &str, environment: &Environment, declared: &[String]) -> Vec<Candidate> {
    let word_start = before_cursor
        .char_indices()
        .rev()
        .take_while(|(_, character)| character.is_alphanumeric() || *character == '_')
        .last()
        .map_or(before_cursor.len(), |(index, _)| index);
    let head = &before_cursor[..word_start];
    let field = |label: &str, detail: &str| Candidate {
        label: label.to_string(),
        detail: detail.to_string(),
        is_function: false,
    };
    let function = |label: &str, function: &Function| Candidate {
        label: label.to_string(),
        detail: function.signature.to_string(),
        is_function: true,
    };
    let Some(receiver) = head.strip_suffix('.').or_else(|| head.strip_suffix(".?")) else {
        let mut out: Vec<Candidate> =
            environment.all_variables().into_iter().map(|name| field(name, variable_detail(name))).collect();
        out.extend(environment.namespaces().into_iter().map(|namespace| field(namespace, "library")));
        out.extend(
            environment
                .functions()
                .filter(|candidate| candidate.call == Call::Global && !candidate.name().contains('.'))
                .map(|candidate| function(candidate.name(), candidate)),
        );
        dedup(&mut out);
        return out;
    };
    let path: Vec<&str> = receiver
        .rsplit(|character: char| {
            !(character.is_alphanumeric() || character == '_' || character == '.' || character == '?')
        })
        .next()
        .unwrap_or("")
        .split('.')
        .map(|part| part.trim_end_matches('?'))
        .filter(|part| !part.is_empty())
        .collect();
    let members = || {
        let mut out: Vec<Candidate> = environment
            .functions()
            .filter(|candidate| candidate.call == Call::Member)
            .map(|candidate| function(candidate.name(), candidate))
            .collect();
        dedup(&mut out);
        out
    };
    match path.as_slice() {
        ["variables"] => declared.iter().map(|name| field(name, "policy variable")).collect(),
        ["request"] => REQUEST_FIELDS.iter().map(|name| field(name, "AdmissionRequest field")).collect(),
        [root] if matches!(*root, "object" | "oldObject" | "params" | "namespaceObject") => {
            let mut out: Vec<Candidate> = OBJECT_FIELDS.iter().map(|name| field(name, "object field")).collect();
            out.extend(members());
            out
        }
        [.., "metadata"] => {
            let mut out: Vec<Candidate> = METADATA_FIELDS.iter().map(|name| field(name, "ObjectMeta field")).collect();
            out.extend(members());
            out
        }
        [namespace]
            if environment.namespaces().contains(namespace) || environment.library_of_variable(namespace).is_some() =>
        {
            let prefix = format!("{namespace}.");
            let mut out: Vec<Candidate> = environment
                .functions()
                .filter_map(|candidate| match candidate.call {
                    Call::Global => candidate.name().strip_prefix(&prefix).map(|rest| function(rest, candidate)),
                    Call::Library if environment.library_of_variable(namespace) == Some(candidate.library) => {
                        Some(function(candidate.name(), candidate))
                    }
                    _ => None,
                })
                .collect();
            dedup(&mut out);
            out
        }
        _ => members(),
    }
}

/// What completion shows beside a variable.
fn variable_detail(name: &str) -> &'static str {
    VARIABLES.iter().find(|(known, _)| *known == name).map_or("variable", |(_, doc)| *doc)
}

/// Drops later candidates already offered as the same sort of name (overloads in several libraries); a
/// function and a namespace may share a name (`ip(...)` and `ip.isCanonical(...)`).
fn dedup(candidates: &mut Vec<Candidate>) {
    let mut seen: Vec<(String, bool)> = Vec::new();
    candidates.retain(|candidate| {
        let key = (candidate.label.clone(), candidate.is_function);
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
}
