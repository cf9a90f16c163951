//! Completion in test files. Kyverno Tests: file paths relative to the test in `policies`, `resources` and
//! the other file lists; in `results[]`, the policy names of the listed policy files, the rule names of the
//! result's policy, the resource names and kinds of the listed resource files, and the expected results.
//! gator Suites: template, constraint, object, inventory and expansion paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::cursor::Cursor;
use super::policy_context::{matched_kinds, pointer_of_steps, readable_document};
use super::types::{CompletionItem, CompletionKind, normalize_path};
use super::workspace::{FileData, Workspace};
use super::yaml_path::{CursorContext, PathStep};
use crate::base::TextRange;
use crate::model::{DocumentInfo, DocumentKind, classify};
use crate::schema;
use crate::syntax::parse_file;

/// What a test-file value refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// A YAML file (or a directory of them, when `directories`).
    Path {
        directories: bool,
    },
    PolicyName,
    RuleName,
    ResourceName,
    ResourceKind,
    Outcome,
}

const OUTCOMES: &[(&str, &str)] = &[
    ("pass", "The rule applies and the resource satisfies it."),
    ("fail", "The rule applies and the resource violates it."),
    ("skip", "The rule does not apply: a precondition, an anchor or an exception skipped it."),
    ("error", "Applying the rule failed (a variable could not be resolved, say)."),
    ("warn", "The rule failed, but the policy reports failures as warnings."),
];

fn slot_of(kind: &DocumentKind, steps: &[PathStep]) -> Option<Slot> {
    let keys: Vec<Option<&str>> = steps
        .iter()
        .map(|step| match step {
            PathStep::Key(key) => Some(key.as_str()),
            PathStep::Item => None,
        })
        .collect();
    let slot = match (kind, keys.as_slice()) {
        (
            DocumentKind::KyvernoTest,
            [Some("policies" | "resources" | "exceptions" | "clusterResources" | "targetResources"), None],
        ) => Slot::Path { directories: true },
        (DocumentKind::KyvernoTest, [Some("variables" | "userinfo" | "context")]) => Slot::Path { directories: false },
        (DocumentKind::KyvernoTest, [Some("results"), None, Some(key), rest @ ..]) => match (*key, rest) {
            ("policy", []) => Slot::PolicyName,
            ("rule", []) => Slot::RuleName,
            ("resource", []) | ("resources", [None]) => Slot::ResourceName,
            ("kind", []) => Slot::ResourceKind,
            ("result", []) => Slot::Outcome,
            ("patchedResources" | "generatedResource" | "cloneSourceResource", []) => Slot::Path { directories: false },
            _ => return None,
        },
        (DocumentKind::GatorSuite, [Some("tests"), None, Some("template" | "constraint" | "expansion")])
        | (DocumentKind::GatorSuite, [Some("tests"), None, Some("cases"), None, Some("object")])
        | (DocumentKind::GatorSuite, [Some("tests"), None, Some("cases"), None, Some("inventory"), None]) => {
            Slot::Path { directories: false }
        }
        _ => return None,
    };
    Some(slot)
}

/// Completion in a Kyverno Test or gator Suite; `None` when the cursor is not on a reference.
pub(super) fn completions(workspace: &Workspace, cursor: &Cursor<'_>) -> Option<Vec<CompletionItem>> {
    let info = cursor.info;
    if !matches!(info.kind, DocumentKind::KyvernoTest | DocumentKind::GatorSuite) {
        return None;
    }
    let (segment, relative, offset, path) = (cursor.segment, cursor.relative, cursor.offset, cursor.path);
    let (steps, prefix, prefix_start) = match cursor.yaml().clone() {
        CursorContext::Key { path, prefix, prefix_start, .. } | CursorContext::Value { path, prefix, prefix_start } => {
            (path, prefix, prefix_start)
        }
    };
    let slot = slot_of(&info.kind, &steps)?;
    let replace = TextRange::new(segment.start + prefix_start, offset);
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let parsed = readable_document(segment, relative, true);
    let test = &parsed.value;
    let items = match slot {
        Slot::Path { directories } => path_items(workspace, path, &base_dir, &prefix, directories, replace),
        Slot::Outcome => OUTCOMES
            .iter()
            .map(|(label, doc)| {
                CompletionItem::plain(label, CompletionKind::Value, None, Some(doc.to_string()), replace)
            })
            .collect(),
        Slot::PolicyName => policy_items(workspace, &base_dir, test, replace),
        Slot::RuleName => {
            let pointer = pointer_of_steps(&parsed, &steps, relative);
            let result_pointer = pointer.rsplit_once('/').map_or("", |(parent, _)| parent);
            let policy = test.pointer(result_pointer).and_then(|result| result.get("policy")).and_then(Value::as_str);
            rule_items(workspace, &base_dir, test, policy, replace)
        }
        Slot::ResourceName => resource_items(workspace, &base_dir, test, replace),
        Slot::ResourceKind => kind_items(workspace, &base_dir, test, replace),
    };
    let prefix = prefix.to_lowercase();
    Some(items.into_iter().filter(|item| item.label.to_lowercase().starts_with(&prefix)).collect())
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml")
}

/// YAML files and directories next to the test (or under the directory typed so far).
fn path_items(
    workspace: &Workspace,
    test_path: &Path,
    base_dir: &Path,
    prefix: &str,
    directories: bool,
    replace: TextRange,
) -> Vec<CompletionItem> {
    let (typed_dir, name_prefix) = match prefix.rfind('/') {
        Some(slash) => (&prefix[..=slash], &prefix[slash + 1..]),
        None => ("", prefix),
    };
    let directory = normalize_path(&base_dir.join(typed_dir));
    let Some(entries) = workspace.list_dir(&directory) else { return Vec::new() };
    let mut items = Vec::new();
    for entry in entries {
        let Some(name) = entry.file_name().map(|name| name.to_string_lossy().to_string()) else { continue };
        // Hidden entries (`.kyverno-test`, `.git`) only when asked for.
        if (name.starts_with('.') && !name_prefix.starts_with('.')) || entry == test_path {
            continue;
        }
        if is_yaml(&entry) {
            items.push(CompletionItem::plain(&format!("{typed_dir}{name}"), CompletionKind::File, None, None, replace));
        } else if workspace.is_dir(&entry) && (directories || !name.starts_with('.')) {
            items.push(CompletionItem::plain(
                &format!("{typed_dir}{name}/"),
                CompletionKind::Folder,
                None,
                None,
                replace,
            ));
        }
    }
    items
}

/// Calls `visit` with every document of a referenced file or directory (YAML files under it).
fn visit_documents(workspace: &Workspace, path: &Path, visit: &mut dyn FnMut(&DocumentInfo, &Value)) {
    if let Some(file) = workspace.file(path) {
        visit_loaded(file, visit);
        return;
    }
    if let Some(text) = workspace.read(path) {
        for document in parse_file(&text) {
            visit(&classify(&document.value), &document.value);
        }
        return;
    }
    // A directory: its YAML files, a bounded walk.
    let mut stack = vec![path.to_path_buf()];
    let mut visited = 0;
    while let Some(directory) = stack.pop() {
        for entry in workspace.list_dir(&directory).unwrap_or_default() {
            visited += 1;
            if visited > 500 {
                return;
            }
            if is_yaml(&entry) {
                match workspace.file(&entry) {
                    Some(file) => visit_loaded(file, visit),
                    None => {
                        for document in workspace.read(&entry).map(|text| parse_file(&text)).unwrap_or_default() {
                            visit(&classify(&document.value), &document.value);
                        }
                    }
                }
            } else if workspace.is_dir(&entry) {
                stack.push(entry);
            }
        }
    }
}

fn visit_loaded(file: &FileData, visit: &mut dyn FnMut(&DocumentInfo, &Value)) {
    for (segment, info) in file.source.segments().iter().zip(&file.documents) {
        visit(info, &segment.parsed.value);
    }
}

/// Visits the documents of every file a test lists under `key`.
fn visit_listed(
    workspace: &Workspace,
    base_dir: &Path,
    test: &Value,
    key: &str,
    visit: &mut dyn FnMut(&DocumentInfo, &Value),
) {
    for reference in test.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if reference.contains("://") {
            continue;
        }
        let path: PathBuf = normalize_path(&base_dir.join(reference));
        visit_documents(workspace, &path, visit);
    }
}

fn is_policy(kind: &DocumentKind) -> bool {
    matches!(kind, DocumentKind::KyvernoPolicy | DocumentKind::KyvernoCelPolicy | DocumentKind::KyvernoCleanupPolicy)
}

/// The names a result may give a policy: `name`, and `namespace/name` for namespaced policies.
fn policy_names(info: &DocumentInfo) -> Vec<String> {
    let Some(name) = &info.name else { return Vec::new() };
    match &info.namespace {
        Some(namespace) => vec![name.clone(), format!("{namespace}/{name}")],
        None => vec![name.clone()],
    }
}

fn rule_names(policy: &Value) -> Vec<&str> {
    policy
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|rule| rule.get("name").and_then(Value::as_str))
        .collect()
}

fn policy_items(workspace: &Workspace, base_dir: &Path, test: &Value, replace: TextRange) -> Vec<CompletionItem> {
    let mut found: BTreeMap<String, CompletionItem> = BTreeMap::new();
    visit_listed(workspace, base_dir, test, "policies", &mut |info, value| {
        if !is_policy(&info.kind) {
            return;
        }
        let rules = rule_names(value);
        let documentation = (!rules.is_empty()).then(|| format!("Rules: {}", rules.join(", ")));
        for name in policy_names(info) {
            found.entry(name.clone()).or_insert_with(|| {
                CompletionItem::plain(
                    &name,
                    CompletionKind::Value,
                    Some(info.kind_name.clone()),
                    documentation.clone(),
                    replace,
                )
            });
        }
    });
    found.into_values().collect()
}

fn rule_items(
    workspace: &Workspace,
    base_dir: &Path,
    test: &Value,
    policy: Option<&str>,
    replace: TextRange,
) -> Vec<CompletionItem> {
    let mut found: Vec<CompletionItem> = Vec::new();
    visit_listed(workspace, base_dir, test, "policies", &mut |info, value| {
        if !is_policy(&info.kind) || policy.is_some_and(|wanted| !policy_names(info).iter().any(|name| name == wanted))
        {
            return;
        }
        let policy_name = info.name.clone().unwrap_or_default();
        // Kyverno derives rules for Pod controllers from Pod rules, unless the policy turns autogen off.
        let autogen_off = value
            .pointer("/metadata/annotations/pod-policies.kyverno.io~1autogen-controllers")
            .and_then(Value::as_str)
            .is_some_and(|controllers| controllers == "none");
        for rule in value.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten() {
            let Some(name) = rule.get("name").and_then(Value::as_str) else { continue };
            let mut labels = vec![(name.to_string(), format!("rule of {policy_name}"))];
            let on_pods = matched_kinds(rule).iter().any(|(_, kind)| kind == "Pod");
            if on_pods && !autogen_off {
                labels
                    .push((format!("autogen-{name}"), "autogen rule for Deployments and other Pod controllers".into()));
                labels.push((format!("autogen-cronjob-{name}"), "autogen rule for CronJobs".into()));
            }
            for (label, detail) in labels {
                if !found.iter().any(|existing| existing.label == label) {
                    found.push(CompletionItem::plain(&label, CompletionKind::Value, Some(detail), None, replace));
                }
            }
        }
    });
    found
}

fn resource_items(workspace: &Workspace, base_dir: &Path, test: &Value, replace: TextRange) -> Vec<CompletionItem> {
    let mut found: BTreeMap<String, CompletionItem> = BTreeMap::new();
    visit_listed(workspace, base_dir, test, "resources", &mut |info, _| {
        let Some(name) = &info.name else { return };
        let detail = match &info.namespace {
            Some(namespace) => format!("{} in {namespace}", info.kind_name),
            None => info.kind_name.clone(),
        };
        found
            .entry(name.clone())
            .or_insert_with(|| CompletionItem::plain(name, CompletionKind::Value, Some(detail), None, replace));
    });
    found.into_values().collect()
}

fn kind_items(workspace: &Workspace, base_dir: &Path, test: &Value, replace: TextRange) -> Vec<CompletionItem> {
    let mut found: BTreeMap<String, CompletionItem> = BTreeMap::new();
    visit_listed(workspace, base_dir, test, "resources", &mut |info, _| {
        if info.kind_name.is_empty() {
            return;
        }
        found.entry(info.kind_name.clone()).or_insert_with(|| {
            CompletionItem::plain(&info.kind_name, CompletionKind::Kind, Some(info.api_version.clone()), None, replace)
        });
    });
    if found.is_empty() {
        // No resource files to learn from: every kind the schemas know.
        for entry in schema::registry().entries().iter().filter(|entry| entry.kind != "*" && entry.is_object_kind()) {
            found.entry(entry.kind.clone()).or_insert_with(|| {
                CompletionItem::plain(&entry.kind, CompletionKind::Kind, Some(entry.api_version.clone()), None, replace)
            });
        }
    }
    found.into_values().collect()
}
