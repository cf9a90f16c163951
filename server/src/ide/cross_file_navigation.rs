//! Go-to-definition and find-references across files: Kyverno Test results to the policies, rules and
//! resources they name (and back from a policy, rule or resource to every result naming it), test and
//! suite paths to their files, and constraint kinds to their templates and constraints; and, from the same
//! references, which files a change affects (`lint`/`test --changed-since`).

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::index::{self, TEST_PATH_LISTS, TEST_PATH_VALUES, resolve};
use super::types::{Location, normalize_path};
use super::workspace::{DocumentFacts, FileData, Workspace};
use crate::base::TextRange;
use crate::model::{DocumentInfo, DocumentKind, classify};
use crate::syntax::navigate::{node_at, pointer_segments};
use crate::syntax::{ParsedDocument, parse_file};

/// What the cursor is on, as something with a declaration and uses.
#[derive(Debug)]
enum Subject {
    /// A Kyverno policy name; `files` are where to look for its declaration.
    Policy {
        name: String,
        files: Vec<PathBuf>,
    },
    Rule {
        policy: String,
        rule: String,
        files: Vec<PathBuf>,
    },
    /// A resource name as a test result gives it (`name` or `namespace/name`).
    Resource {
        name: String,
        files: Vec<PathBuf>,
    },
    File(PathBuf),
    ConstraintKind(String),
}

pub(super) fn definition(workspace: &Workspace, path: &Path, offset: usize) -> Vec<Location> {
    let Some(subject) = subject_at(workspace, path, offset) else { return Vec::new() };
    declarations(workspace, &subject)
}

pub(super) fn references(
    workspace: &Workspace,
    path: &Path,
    offset: usize,
    include_declaration: bool,
) -> Option<Vec<Location>> {
    let subject = subject_at(workspace, path, offset)?;
    let declared = declarations(workspace, &subject);
    let mut found = if include_declaration { declared.clone() } else { Vec::new() };
    match &subject {
        Subject::ConstraintKind(kind) => found.extend(constraints_of_kind(workspace, kind)),
        Subject::File(target) => found.extend(path_entries_naming(workspace, target)),
        _ => found.extend(test_results_naming(workspace, &subject, &declared)),
    }
    found.sort_by(|left, right| left.path.cmp(&right.path).then(left.range.start.cmp(&right.range.start)));
    found.dedup();
    Some(found)
}

/// One document the workspace holds or that was read from disk, with where it starts in its file.
struct Doc {
    path: PathBuf,
    start: usize,
    parsed: Arc<ParsedDocument>,
    info: DocumentInfo,
}

impl Doc {
    fn location(&self, pointer: &str) -> Option<Location> {
        let span = self.parsed.source_map.get(pointer)?;
        Some(Location { path: self.path.clone(), range: span.value.shifted(self.start) })
    }

    fn text(&self, pointer: &str) -> Option<&str> {
        self.parsed.value.pointer(pointer).and_then(Value::as_str)
    }
}

fn loaded_docs(path: &Path, file: &FileData) -> Vec<Doc> {
    file.source
        .segments()
        .iter()
        .zip(&file.documents)
        .map(|(segment, info)| Doc {
            path: path.to_path_buf(),
            start: segment.start,
            parsed: segment.parsed.clone(),
            info: info.clone(),
        })
        .collect()
}

/// The documents of the files a list of references names: known files below a referenced directory, or
/// a referenced file read from disk when the workspace does not know it.
fn docs_under(workspace: &Workspace, references: &[PathBuf]) -> Vec<Doc> {
    let mut docs = Vec::new();
    for path in workspace.paths() {
        if references.iter().any(|reference| covers(reference, path))
            && let Some(file) = workspace.load(path)
        {
            docs.extend(loaded_docs(path, &file));
        }
    }
    for reference in references {
        if workspace.knows(reference) {
            continue;
        }
        let is_yaml = reference.extension().is_some_and(|extension| extension == "yaml" || extension == "yml");
        if !is_yaml {
            continue;
        }
        if let Some(text) = workspace.read(reference) {
            docs.extend(parse_file(&text).into_iter().map(|document| Doc {
                path: reference.clone(),
                start: document.start,
                info: classify(&document.parsed.value),
                parsed: document.parsed,
            }));
        }
    }
    docs
}

/// Whether a reference (a file or a directory) takes in `path`.
fn covers(reference: &Path, path: &Path) -> bool {
    path == reference || path.starts_with(reference)
}

/// The paths a test lists under `key`, resolved against the test's directory (URLs left out).
fn resolved_list(value: &Value, key: &str, base: &Path) -> Vec<PathBuf> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|reference| resolve(base, reference))
        .collect()
}

fn subject_at(workspace: &Workspace, path: &Path, offset: usize) -> Option<Subject> {
    let file = workspace.file(path)?;
    let index = file.source.segment_at(offset)?;
    let segment = &file.source.segments()[index];
    let info = &file.documents[index];
    let (pointer, _, _) = node_at(&segment.parsed, offset.checked_sub(segment.start)?)?;
    let value = &segment.parsed.value;
    let segments = pointer_segments(&pointer);
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let text_at = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    match info.kind {
        DocumentKind::KyvernoTest => {
            let policies = || resolved_list(value, "policies", &base);
            let resources = || resolved_list(value, "resources", &base);
            match parts.as_slice() {
                ["results", _, "policy"] => Some(Subject::Policy { name: text_at(&pointer)?, files: policies() }),
                ["results", index, "rule"] => Some(Subject::Rule {
                    policy: text_at(&format!("/results/{index}/policy"))?,
                    rule: text_at(&pointer)?,
                    files: policies(),
                }),
                ["results", _, "resources", _] | ["results", _, "resource"] => {
                    Some(Subject::Resource { name: text_at(&pointer)?, files: resources() })
                }
                [key, _] if TEST_PATH_LISTS.contains(key) => Some(Subject::File(resolve(&base, &text_at(&pointer)?)?)),
                [key] if TEST_PATH_VALUES.contains(key) => Some(Subject::File(resolve(&base, &text_at(&pointer)?)?)),
                _ => None,
            }
        }
        DocumentKind::GatorSuite => match parts.as_slice() {
            ["tests", _, "template" | "constraint" | "expansion"]
            | ["tests", _, "cases", _, "object"]
            | ["tests", _, "cases", _, "inventory", _] => Some(Subject::File(resolve(&base, &text_at(&pointer)?)?)),
            _ => None,
        },
        DocumentKind::Constraint if pointer == "/kind" => Some(Subject::ConstraintKind(info.kind_name.clone())),
        DocumentKind::ConstraintTemplate if pointer == "/spec/crd/spec/names/kind" => {
            Some(Subject::ConstraintKind(text_at(&pointer)?))
        }
        DocumentKind::KyvernoPolicy | DocumentKind::KyvernoCelPolicy => match parts.as_slice() {
            ["metadata", "name"] => {
                let name = qualified(info.namespace.as_deref(), &text_at(&pointer)?);
                Some(Subject::Policy { name, files: vec![path.to_path_buf()] })
            }
            ["spec", "rules", _, "name"] if info.kind == DocumentKind::KyvernoPolicy => Some(Subject::Rule {
                policy: qualified(info.namespace.as_deref(), info.name.as_deref()?),
                rule: text_at(&pointer)?,
                files: vec![path.to_path_buf()],
            }),
            _ => None,
        },
        DocumentKind::Other => None,
        _ if pointer == "/metadata/name" => {
            // Tests name a resource without a namespace as in `default`, as kyverno does.
            let name = qualified(Some(info.namespace.as_deref().unwrap_or("default")), &text_at(&pointer)?);
            Some(Subject::Resource { name, files: vec![path.to_path_buf()] })
        }
        _ => None,
    }
}

/// `namespace/name`, or `name` without a namespace.
fn qualified(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_string(),
    }
}

/// Whether a result's policy name (`name` or `namespace/name`) names a policy document.
fn names_policy(result_name: &str, info: &DocumentInfo) -> bool {
    let Some(name) = info.name.as_deref() else { return false };
    match result_name.split_once('/') {
        Some((namespace, short)) => short == name && info.namespace.as_deref() == Some(namespace),
        None => result_name == name,
    }
}

/// Whether a result's resource name (`name` or `namespace/name`, default namespace `default`) names a
/// resource document.
fn names_resource(result_name: &str, info: &DocumentInfo) -> bool {
    let Some(name) = info.name.as_deref() else { return false };
    match result_name.split_once('/') {
        Some((namespace, short)) => short == name && info.namespace.as_deref().unwrap_or("default") == namespace,
        None => result_name == name,
    }
}

/// Whether a result's rule names a rule (autogen rules are named after the rule they come from).
fn names_rule(result_rule: &str, rule: &str) -> bool {
    let base = result_rule
        .strip_prefix("autogen-cronjob-")
        .or_else(|| result_rule.strip_prefix("autogen-"))
        .unwrap_or(result_rule);
    result_rule == rule || base == rule
}

fn is_policy(info: &DocumentInfo) -> bool {
    matches!(info.kind, DocumentKind::KyvernoPolicy | DocumentKind::KyvernoCelPolicy)
}

fn declarations(workspace: &Workspace, subject: &Subject) -> Vec<Location> {
    match subject {
        Subject::Policy { name, files } => docs_under(workspace, files)
            .iter()
            .filter(|doc| is_policy(&doc.info) && names_policy(name, &doc.info))
            .filter_map(|doc| doc.location("/metadata/name"))
            .collect(),
        Subject::Rule { policy, rule, files } => {
            let mut found = Vec::new();
            for doc in docs_under(workspace, files) {
                if doc.info.kind != DocumentKind::KyvernoPolicy || !names_policy(policy, &doc.info) {
                    continue;
                }
                let rules = doc.parsed.value.pointer("/spec/rules").and_then(Value::as_array).map_or(0, Vec::len);
                for index in 0..rules {
                    let pointer = format!("/spec/rules/{index}/name");
                    if doc.text(&pointer).is_some_and(|name| names_rule(rule, name))
                        && let Some(location) = doc.location(&pointer)
                    {
                        found.push(location);
                    }
                }
            }
            found
        }
        Subject::Resource { name, files } => docs_under(workspace, files)
            .iter()
            .filter(|doc| !is_policy(&doc.info) && names_resource(name, &doc.info))
            .filter_map(|doc| doc.location("/metadata/name"))
            .collect(),
        Subject::File(target) => {
            let exists = workspace.knows(target) || workspace.read(target).is_some();
            if exists { vec![Location { path: target.clone(), range: TextRange::empty(0) }] } else { Vec::new() }
        }
        Subject::ConstraintKind(kind) => templates_defining(workspace, kind),
    }
}

/// The documents of the known files whose facts pass `wanted` for some document, loaded (only the
/// documents that pass are returned).
fn docs_where(workspace: &Workspace, wanted: impl Fn(&DocumentFacts) -> bool) -> Vec<Doc> {
    let mut docs = Vec::new();
    let wanted = &wanted;
    for (path, facts) in index::all_where(workspace, |facts| facts.documents.iter().any(wanted)) {
        let chosen: Vec<usize> = (0..facts.documents.len()).filter(|&at| wanted(&facts.documents[at])).collect();
        if chosen.is_empty() {
            continue;
        }
        let Some(file) = workspace.load(path) else { continue };
        let mut file_docs = loaded_docs(path, &file);
        // The facts and the loaded file agree while the file is unchanged; a file changed on disk since it
        // was indexed is matched again on what it holds now.
        if file_docs.len() != facts.documents.len() {
            continue;
        }
        docs.extend(chosen.into_iter().rev().map(|at| file_docs.swap_remove(at)).rev());
    }
    docs
}

/// Result entries of every Kyverno Test whose listed files take in a declaration of the subject (or,
/// when no declaration was found, that list the same files the subject came from).
fn test_results_naming(workspace: &Workspace, subject: &Subject, declared: &[Location]) -> Vec<Location> {
    let (list_key, subject_files) = match subject {
        Subject::Policy { files, .. } | Subject::Rule { files, .. } => ("policies", files),
        Subject::Resource { files, .. } => ("resources", files),
        _ => return Vec::new(),
    };
    let mut found = Vec::new();
    let related = |document: &DocumentFacts| {
        document.info.kind == DocumentKind::KyvernoTest
            && document.references.iter().filter(|(key, _)| *key == list_key).any(|(_, reference)| {
                declared.iter().any(|location| covers(reference, &location.path))
                    || (declared.is_empty() && subject_files.contains(reference))
            })
    };
    for test in docs_where(workspace, related) {
        let results = test.parsed.value.get("results").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (index, result) in results.iter().enumerate() {
            let text = |key: &str| result.get(key).and_then(Value::as_str);
            match subject {
                Subject::Policy { name, .. } if text("policy").is_some_and(|policy| same_name(policy, name)) => {
                    found.extend(test.location(&format!("/results/{index}/policy")));
                }
                Subject::Rule { policy, rule, .. } => {
                    let same = text("policy").is_some_and(|named| same_name(named, policy))
                        && text("rule").is_some_and(|named| names_rule(named, rule) || names_rule(rule, named));
                    if same {
                        found.extend(test.location(&format!("/results/{index}/rule")));
                    }
                }
                Subject::Resource { name, .. } => {
                    if text("resource").is_some_and(|resource| same_name(resource, name)) {
                        found.extend(test.location(&format!("/results/{index}/resource")));
                    }
                    let names =
                        result.get("resources").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                    for (resource_index, resource) in names.iter().enumerate() {
                        if resource.as_str().is_some_and(|resource| same_name(resource, name)) {
                            found.extend(test.location(&format!("/results/{index}/resources/{resource_index}")));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// Whether two spellings of a name (`name` or `namespace/name`) can name the same object: the short
/// names agree and so do the namespaces when both are given.
fn same_name(left: &str, right: &str) -> bool {
    let split = |name: &str| {
        name.rsplit_once('/')
            .map_or((None, name.to_string()), |(namespace, short)| (Some(namespace.to_string()), short.to_string()))
    };
    let (left_namespace, left_short) = split(left);
    let (right_namespace, right_short) = split(right);
    left_short == right_short
        && (left_namespace.is_none() || right_namespace.is_none() || left_namespace == right_namespace)
}

/// The `kind` of every constraint of a kind.
fn constraints_of_kind(workspace: &Workspace, kind: &str) -> Vec<Location> {
    docs_where(workspace, |document| document.info.kind == DocumentKind::Constraint && document.info.kind_name == kind)
        .iter()
        .filter_map(|doc| doc.location("/kind"))
        .collect()
}

/// Every test and suite path entry that resolves to `target`.
fn path_entries_naming(workspace: &Workspace, target: &Path) -> Vec<Location> {
    let names_target = |document: &DocumentFacts| document.references.iter().any(|(_, reference)| reference == target);
    let mut found = Vec::new();
    for doc in docs_where(workspace, names_target) {
        let base = doc.path.parent().map(Path::to_path_buf).unwrap_or_default();
        for (_, pointer) in index::path_entries(&doc.info.kind, &doc.parsed.value) {
            let resolved = doc.text(&pointer).and_then(|reference| resolve(&base, reference));
            if resolved.as_deref() == Some(target) {
                found.extend(doc.location(&pointer));
            }
        }
    }
    found
}

/// The `spec.crd.spec.names.kind` of every known template that defines a constraint kind.
pub(super) fn templates_defining(workspace: &Workspace, kind: &str) -> Vec<Location> {
    let defines = |document: &DocumentFacts| document.defines_kind.as_deref() == Some(kind);
    let mut locations: Vec<Location> = docs_where(workspace, defines)
        .iter()
        .filter(|doc| doc.text("/spec/crd/spec/names/kind") == Some(kind))
        .filter_map(|doc| doc.location("/spec/crd/spec/names/kind"))
        .collect();
    locations.sort_by(|left, right| left.path.cmp(&right.path));
    locations
}

/// The files whose checks or test results can change when the `changed` paths change (edited, added or
/// deleted): the changed files the workspace holds, every Kyverno Test and gator Suite with a path entry
/// that takes one of them in (a listed file, or a listed directory above it), and the constraints of a
/// changed template's kind; closed under both rules, so a suite that names such a constraint is affected
/// too. Sorted by path.
pub(super) fn affected_by(workspace: &Workspace, changed: &[PathBuf]) -> Vec<PathBuf> {
    // What each test file lists and which constraint kinds each file holds, gathered once: the closure
    // below then walks these lists, not the documents.
    let mut listing: Vec<(&PathBuf, Vec<PathBuf>)> = Vec::new();
    let mut constraint_kinds: Vec<(&PathBuf, Vec<&str>)> = Vec::new();
    for (path, file) in workspace.files.iter() {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut listed = Vec::new();
        for doc in loaded_docs(path, file) {
            let pointers = index::path_entries(&doc.info.kind, &doc.parsed.value);
            listed.extend(pointers.iter().filter_map(|(_, pointer)| resolve(&base, doc.text(pointer)?)));
        }
        if !listed.is_empty() {
            listing.push((path, listed));
        }
        let kinds: Vec<&str> = file
            .documents
            .iter()
            .filter(|info| info.kind == DocumentKind::Constraint)
            .map(|info| info.kind_name.as_str())
            .collect();
        if !kinds.is_empty() {
            constraint_kinds.push((path, kinds));
        }
    }
    let mut affected: BTreeSet<PathBuf> = changed.iter().map(|path| normalize_path(path)).collect();
    loop {
        let template_kinds: HashSet<String> = affected
            .iter()
            .filter_map(|path| workspace.file(path))
            .flat_map(|file| {
                file.source.segments().iter().zip(&file.documents).filter_map(|(segment, info)| {
                    (info.kind == DocumentKind::ConstraintTemplate)
                        .then(|| segment.parsed.value.pointer("/spec/crd/spec/names/kind")?.as_str().map(String::from))
                        .flatten()
                })
            })
            .collect();
        let mut added = Vec::new();
        for (path, listed) in &listing {
            let names_affected = listed.iter().any(|reference| affected.iter().any(|path| covers(reference, path)));
            if names_affected && !affected.contains(*path) {
                added.push((*path).clone());
            }
        }
        for (path, kinds) in &constraint_kinds {
            if kinds.iter().any(|kind| template_kinds.contains(*kind)) && !affected.contains(*path) {
                added.push((*path).clone());
            }
        }
        if added.is_empty() {
            break;
        }
        affected.extend(added);
    }
    affected.into_iter().filter(|path| workspace.files.contains_key(path)).collect()
}
