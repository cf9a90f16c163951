//! Code actions as plain edits: the quick fixes that diagnostics carry, moving Kyverno's deprecated
//! `validationFailureAction(Overrides)` into each rule, and creating a test skeleton for a policy or a
//! template. (The fix for a missing required field is built in `yaml_edits` and attached to its diagnostic.)

use std::path::Path;

use serde_json::Value;

use super::diagnostics;
use super::types::{ActionKind, CodeAction, FileChange, TextEdit};
use super::workspace::Workspace;
use super::yaml_edits::{
    Entry, Placement, column, insert_into_mapping, line_start, next_line_start, starts_its_line, yaml_string,
};
use crate::base::{Code, TextRange};
use crate::model::{DocumentInfo, DocumentKind};
use crate::schema;
use crate::syntax::Segment;

/// The quick fixes of the diagnostics that touch `range`, each as an action that resolves its diagnostic.
pub(super) fn quick_fixes(workspace: &Workspace, path: &Path, range: TextRange) -> Vec<CodeAction> {
    diagnostics::diagnostics(workspace, path)
        .into_iter()
        .filter(|diagnostic| diagnostic.range.end >= range.start && diagnostic.range.start <= range.end)
        .filter_map(|diagnostic| {
            let fix = diagnostic.fix.clone()?;
            let edit = TextEdit { range: fix.range, text: fix.replacement };
            Some(CodeAction {
                title: fix.title,
                kind: ActionKind::QuickFix,
                diagnostic: Some(diagnostic),
                changes: vec![FileChange::Edit { path: path.to_path_buf(), edits: vec![edit] }],
                preferred: true,
            })
        })
        .collect()
}

pub(super) fn code_actions(workspace: &Workspace, path: &Path, range: TextRange) -> Vec<CodeAction> {
    let Some(file) = workspace.file(path) else { return Vec::new() };
    let mut actions = Vec::new();
    for (index, segment) in file.source.segments().iter().enumerate() {
        let info = &file.documents[index];
        let touches = segment.start <= range.end && range.start <= segment.start + segment.text.len();
        if touches && info.kind == DocumentKind::KyvernoPolicy {
            actions.extend(move_failure_action(workspace, path, segment, range));
        }
    }
    actions.extend(test_skeleton(workspace, path));
    actions
}

// ---------------------------------------------------------------------------------------------------------
// validationFailureAction -> rules[].validate.failureAction

/// Kyverno 1.13 deprecated the policy-wide failure action: each `validate` rule (and each `verifyImages`
/// entry) takes its own `failureAction`, and `validate.failureActionOverrides` replaces the overrides.
fn move_failure_action(workspace: &Workspace, path: &Path, segment: &Segment, range: TextRange) -> Option<CodeAction> {
    let value = &segment.parsed.value;
    let source_map = &segment.parsed.source_map;
    let text = &segment.text;
    let relative = TextRange::new(range.start.saturating_sub(segment.start), range.end.saturating_sub(segment.start));
    let action = value.pointer("/spec/validationFailureAction").and_then(Value::as_str);
    let overrides = value.pointer("/spec/validationFailureActionOverrides").filter(|overrides| !overrides.is_null());
    if action.is_none() && overrides.is_none() {
        return None;
    }
    let deprecated_spans: Vec<(&str, crate::syntax::NodeSpan)> =
        ["/spec/validationFailureAction", "/spec/validationFailureActionOverrides"]
            .into_iter()
            .filter_map(|pointer| source_map.get(pointer).map(|span| (pointer, *span)))
            .filter(|(_, span)| span.key.is_some())
            .collect();
    let touched = deprecated_spans.iter().any(|(_, span)| {
        let whole = span.key.map_or(span.value, |key| key.cover(span.value));
        whole.start <= relative.end && relative.start <= whole.end
    });
    if !touched {
        return None;
    }
    let mut edits = Vec::new();
    for (_, span) in &deprecated_spans {
        let key = span.key?;
        // Only block entries that sit alone on their lines are moved; flow-style specs are left alone.
        if !starts_its_line(text, key.start) {
            return None;
        }
        let start = line_start(text, key.start);
        let end = next_line_start(text, span.value.end.max(key.end));
        edits.push(TextEdit { range: TextRange::new(start + segment.start, end + segment.start), text: String::new() });
    }
    let action = action.map(|action| match action {
        "audit" => "Audit",
        "enforce" => "Enforce",
        other => other,
    });
    let overrides_text = deprecated_spans
        .iter()
        .find(|(pointer, _)| pointer.ends_with("Overrides"))
        .and_then(|(_, span)| block_text(text, span.value));
    let rules = value.pointer("/spec/rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, rule) in rules.iter().enumerate() {
        let validate = rule.get("validate").filter(|validate| validate.is_object());
        if let Some(validate) = validate {
            let pointer = format!("/spec/rules/{index}/validate");
            let mut block = Vec::new();
            let mut flow = Vec::new();
            if let Some(action) = action
                && validate.get("failureAction").is_none()
            {
                block.push(format!("failureAction: {action}"));
                flow.push(format!("failureAction: {action}"));
            }
            if let (Some(overrides_text), Some(overrides)) = (&overrides_text, overrides)
                && validate.get("failureActionOverrides").is_none()
            {
                block.push(format!("failureActionOverrides:{overrides_text}"));
                flow.push(format!("failureActionOverrides: {overrides}"));
            }
            if !block.is_empty() {
                let entry = Entry { block: block.join("\n"), flow: flow.join(", ") };
                edits.push(insert_into_mapping(segment, &pointer, &entry, Placement::First)?);
            }
        }
        for (image_index, entry) in rule.get("verifyImages").and_then(Value::as_array).into_iter().flatten().enumerate()
        {
            if let Some(action) = action
                && entry.is_object()
                && entry.get("failureAction").is_none()
            {
                let pointer = format!("/spec/rules/{index}/verifyImages/{image_index}");
                let entry = Entry::plain(format!("failureAction: {action}"));
                edits.push(insert_into_mapping(segment, &pointer, &entry, Placement::First)?);
            }
        }
    }
    edits.sort_by_key(|edit| edit.range.start);
    let diagnostic = diagnostics::diagnostics(workspace, path).into_iter().find(|diagnostic| {
        diagnostic.code == Code::SchemaDeprecated
            && deprecated_spans
                .iter()
                .any(|(_, span)| span.key.is_some_and(|key| key.shifted(segment.start) == diagnostic.range))
    });
    let title = match (action.is_some(), overrides.is_some()) {
        (true, true) => "Move `validationFailureAction` and its overrides into each rule's `validate`",
        (true, false) => "Move `validationFailureAction` into each rule (`validate.failureAction`)",
        _ => "Move `validationFailureActionOverrides` into each rule (`validate.failureActionOverrides`)",
    };
    Some(CodeAction {
        title: title.to_string(),
        kind: ActionKind::QuickFix,
        diagnostic,
        changes: vec![FileChange::Edit { path: path.to_path_buf(), edits }],
        preferred: true,
    })
}

/// The text of a value to put after `key:` elsewhere: ` value` for a one-line value, else its lines with
/// their common indentation removed and two spaces added (the caller indents them under the new key).
fn block_text(text: &str, value: TextRange) -> Option<String> {
    let slice = text.get(value.start..value.end)?;
    if !slice.contains('\n') {
        return Some(format!(" {slice}"));
    }
    let start = line_start(text, value.start);
    let block = text.get(start..value.end)?;
    let indent = column(text, value.start);
    let lines: Vec<String> = block
        .lines()
        .map(|line| {
            let blanks = line.len() - line.trim_start_matches(' ').len();
            format!("  {}", &line[blanks.min(indent)..])
        })
        .collect();
    Some(format!("\n{}", lines.join("\n")))
}

// ---------------------------------------------------------------------------------------------------------
// Test skeletons

fn test_skeleton(workspace: &Workspace, path: &Path) -> Vec<CodeAction> {
    let Some(file) = workspace.file(path) else { return Vec::new() };
    let Some(directory) = path.parent() else { return Vec::new() };
    let Some(file_name) = path.file_name().map(|name| name.to_string_lossy().to_string()) else { return Vec::new() };
    let exists = |candidate: &Path| workspace.file(candidate).is_some() || workspace.read(candidate).is_some();
    let policies: Vec<(&DocumentInfo, &Value)> = file
        .documents
        .iter()
        .zip(file.source.segments())
        .filter(|(info, _)| matches!(info.kind, DocumentKind::KyvernoPolicy | DocumentKind::KyvernoCelPolicy))
        .map(|(info, segment)| (info, &segment.parsed.value))
        .collect();
    let mut actions = Vec::new();
    if !policies.is_empty() {
        let test_path = directory.join(".kyverno-test").join("kyverno-test.yaml");
        if !exists(&test_path) {
            actions.push(kyverno_skeleton(&policies, &file_name, &test_path, &exists));
        }
    }
    let template = file.documents.iter().zip(file.source.segments()).find_map(|(info, segment)| {
        (info.kind == DocumentKind::ConstraintTemplate).then_some((info, &segment.parsed.value))
    });
    if let Some((info, template)) = template {
        let suite_path = directory.join("suite.yaml");
        if !exists(&suite_path)
            && let Some(action) = gator_skeleton(info, template, &file_name, directory, &suite_path, &exists)
        {
            actions.push(action);
        }
    }
    actions
}

/// The kind name of a `kinds` entry (`apps/v1/Deployment` -> `Deployment`), ignoring wildcards.
fn kind_name(entry: &str) -> Option<String> {
    let name = entry.rsplit('/').next()?.split('.').next()?;
    (!name.is_empty() && !name.contains('*')).then(|| name.to_string())
}

/// The first kind a rule matches, from `match.any/all[].resources.kinds` or `match.resources.kinds`.
fn rule_kind(rule: &Value) -> Option<String> {
    let blocks = ["/match/any", "/match/all"]
        .iter()
        .filter_map(|pointer| rule.pointer(pointer).and_then(Value::as_array))
        .flatten()
        .filter_map(|filter| filter.pointer("/resources/kinds"))
        .chain(rule.pointer("/match/resources/kinds"));
    blocks.filter_map(Value::as_array).flatten().filter_map(Value::as_str).find_map(kind_name)
}

/// The first kind a CEL policy matches, from `matchConstraints.resourceRules[].resources` (plural names).
fn cel_policy_kind(policy: &Value) -> Option<String> {
    let rules = policy.pointer("/spec/matchConstraints/resourceRules").and_then(Value::as_array)?;
    let resource = rules
        .iter()
        .filter_map(|rule| rule.get("resources").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .find(|resource| !resource.contains('*'))?;
    let plural = resource.split('/').next()?;
    schema::registry()
        .entries()
        .iter()
        .find(|entry| crate::engine::cel::plural_of(&entry.kind) == plural)
        .map(|entry| entry.kind.clone())
}

fn api_version_of(kind: &str) -> String {
    schema::registry().versions_of(kind).first().map_or_else(|| "v1".to_string(), |version| version.to_string())
}

/// The `isXPolicy` flag a Kyverno Test result needs for a CEL policy kind.
fn cel_result_flag(kind: &str) -> Option<&'static str> {
    let kind = kind.strip_prefix("Namespaced").unwrap_or(kind);
    Some(match kind {
        "ValidatingPolicy" => "isValidatingPolicy",
        "MutatingPolicy" => "isMutatingPolicy",
        "GeneratingPolicy" => "isGeneratingPolicy",
        "DeletingPolicy" => "isDeletingPolicy",
        "ImageValidatingPolicy" => "isImageValidatingPolicy",
        _ => return None,
    })
}

fn kyverno_skeleton(
    policies: &[(&DocumentInfo, &Value)],
    file_name: &str,
    test_path: &Path,
    exists: &dyn Fn(&Path) -> bool,
) -> CodeAction {
    let mut results = String::new();
    let mut kinds: Vec<String> = Vec::new();
    for (info, policy) in policies {
        let name = match (&info.namespace, &info.name) {
            (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
            (None, Some(name)) => name.clone(),
            _ => continue,
        };
        if info.kind == DocumentKind::KyvernoCelPolicy {
            let kind = cel_policy_kind(policy).unwrap_or_else(|| "Pod".to_string());
            let flag = cel_result_flag(&info.kind_name).map(|flag| format!("    {flag}: true\n")).unwrap_or_default();
            results.push_str(&format!(
                "  - policy: {}\n{flag}    kind: {kind}\n    resources:\n      - {}\n    result: pass\n",
                yaml_string(&name),
                example_name(&kind)
            ));
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
            continue;
        }
        for rule in policy.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten() {
            let Some(rule_name) = rule.get("name").and_then(Value::as_str) else { continue };
            let kind = rule_kind(rule).unwrap_or_else(|| "Pod".to_string());
            results.push_str(&format!(
                "  - policy: {}\n    rule: {}\n    kind: {kind}\n    resources:\n      - {}\n    result: pass\n",
                yaml_string(&name),
                yaml_string(rule_name),
                example_name(&kind)
            ));
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    if kinds.is_empty() {
        kinds.push("Pod".to_string());
    }
    let test_name = policies.first().and_then(|(info, _)| info.name.clone()).unwrap_or_else(|| "policy".to_string());
    let test_text = format!(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: {}\npolicies:\n  - {}\nresources:\n  - resource.yaml\nresults:\n{results}",
        yaml_string(&test_name),
        yaml_string(&format!("../{file_name}"))
    );
    let mut changes = vec![FileChange::Create { path: test_path.to_path_buf(), text: test_text }];
    let resource_path = test_path.with_file_name("resource.yaml");
    if !exists(&resource_path) {
        let documents: Vec<String> = kinds
            .iter()
            .map(|kind| {
                format!(
                    "apiVersion: {}\nkind: {kind}\nmetadata:\n  name: {}\n",
                    api_version_of(kind),
                    example_name(kind)
                )
            })
            .collect();
        let resource_text = format!(
            "# Resources the policy accepts; add ones it rejects, with `fail` results in kyverno-test.yaml.\n{}",
            documents.join("---\n")
        );
        changes.push(FileChange::Create { path: resource_path, text: resource_text });
    }
    CodeAction {
        title: "Create a Kyverno test skeleton (.kyverno-test/kyverno-test.yaml)".to_string(),
        kind: ActionKind::Source,
        diagnostic: None,
        changes,
        preferred: false,
    }
}

fn example_name(kind: &str) -> String {
    format!("example-{}", kind.to_ascii_lowercase())
}

fn gator_skeleton(
    info: &DocumentInfo,
    template: &Value,
    file_name: &str,
    directory: &Path,
    suite_path: &Path,
    exists: &dyn Fn(&Path) -> bool,
) -> Option<CodeAction> {
    let kind = template.pointer("/spec/crd/spec/names/kind").and_then(Value::as_str)?;
    let name = info.name.clone().unwrap_or_else(|| kind.to_ascii_lowercase());
    let suite_text = format!(
        "apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\nmetadata:\n  name: {}\ntests:\n  - name: {}\n    template: {}\n    constraint: samples/constraint.yaml\n    cases:\n      - name: example-allowed\n        object: samples/example_allowed.yaml\n        assertions:\n          - violations: no\n      - name: example-disallowed\n        object: samples/example_disallowed.yaml\n        assertions:\n          - violations: yes\n",
        yaml_string(&name),
        yaml_string(&name),
        yaml_string(file_name)
    );
    let constraint_text = format!(
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: {kind}\nmetadata:\n  name: {}\nspec:\n  match:\n    kinds:\n      - apiGroups: [\"\"]\n        kinds: [\"Pod\"]\n",
        yaml_string(&format!("{}-example", kind.to_ascii_lowercase()))
    );
    let object = |name: &str, comment: &str| {
        format!(
            "# {comment}\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n    - name: main\n      image: registry.example.com/app:1.0.0\n"
        )
    };
    let samples = directory.join("samples");
    let mut changes = vec![FileChange::Create { path: suite_path.to_path_buf(), text: suite_text }];
    for (file, text) in [
        ("constraint.yaml", constraint_text),
        ("example_allowed.yaml", object("example-allowed", "An object the constraint allows.")),
        ("example_disallowed.yaml", object("example-disallowed", "Edit this object so the constraint rejects it.")),
    ] {
        let path = samples.join(file);
        if !exists(&path) {
            changes.push(FileChange::Create { path, text });
        }
    }
    Some(CodeAction {
        title: "Create a gator test suite skeleton (suite.yaml)".to_string(),
        kind: ActionKind::Source,
        diagnostic: None,
        changes,
        preferred: false,
    })
}
