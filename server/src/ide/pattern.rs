//! Resource-shaped parts of Kyverno rules: `validate.pattern`, `validate.anyPattern[]`,
//! `validate.foreach[].pattern`, `mutate.patchStrategicMerge` (also in `mutate.foreach[]`) and
//! `generate.data`. Completion offers the fields of the kinds the rule handles at the cursor's path (anchors
//! stripped while walking, list items followed), with anchored forms once an anchor is being typed; hover
//! explains anchors and value operators, with the field's documentation.

use std::fmt::Write as _;

use serde_json::Value;

use super::cursor::Cursor;
use super::policy_context::{
    Field, fields_at, foreach_items, kind_roots, kind_with_version, list_item_path, matched_kinds, nodes_at,
    pointer_of_steps, readable_document, rule_pointer, target_kinds,
};
use super::schema_completion::{key_insert_text, sibling_keys};
use super::schema_lookup::{enum_values, is_type, type_label};
use super::types::{CompletionItem, CompletionKind, HoverResult};
use super::workspace::Workspace;
use super::yaml_path::CursorContext;
use crate::base::TextRange;
use crate::engine::kyverno::pattern::{AnchorKind, Operator, operator_of, parse_anchor};
use crate::model::DocumentKind;
use crate::schema::{self, SchemaNode};
use crate::syntax::navigate::{Side, node_at, pointer_segments};

/// Which kind of resource-shaped block the cursor is in; anchors allowed differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Validate,
    Mutate,
    Generate,
}

/// Where a pattern starts in a pointer, and what its root describes.
struct Site {
    block: Block,
    /// How many pointer segments lead to the pattern's root.
    root_length: usize,
    /// A `validate.foreach` pattern describes the foreach element, not the whole resource.
    element: bool,
}

fn is_index(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|byte| byte.is_ascii_digit())
}

/// Finds the pattern a pointer (as segments) lies in: `spec/rules/N/...`.
fn site_of(segments: &[String]) -> Option<Site> {
    let strings: Vec<&str> = segments.iter().map(String::as_str).collect();
    let ["spec", "rules", rule, action, rest @ ..] = strings.as_slice() else { return None };
    if !is_index(rule) {
        return None;
    }
    let block = match *action {
        "validate" => Block::Validate,
        "mutate" => Block::Mutate,
        "generate" => Block::Generate,
        _ => return None,
    };
    let mut position = 0;
    let mut in_foreach = false;
    // Nested foreach: `foreach/N/foreach/M/...`.
    while rest.get(position) == Some(&"foreach") && rest.get(position + 1).is_some_and(|index| is_index(index)) {
        position += 2;
        in_foreach = true;
    }
    let key = *rest.get(position)?;
    let root = match (block, key) {
        (Block::Validate, "pattern") => position + 1,
        (Block::Validate, "anyPattern") if rest.get(position + 1).is_some_and(|index| is_index(index)) => position + 2,
        (Block::Mutate, "patchStrategicMerge") => position + 1,
        (Block::Generate, "data") => position + 1,
        _ => return None,
    };
    Some(Site { block, root_length: 4 + root, element: block == Block::Validate && in_foreach })
}

/// The schemas the pattern's root stands for, and the path inside them to the pattern's root.
fn pattern_roots(
    document: &Value,
    segments: &[String],
    site: &Site,
) -> (Vec<(String, SchemaNode<'static>)>, Vec<String>) {
    let pointer: String = segments[..site.root_length].iter().map(|segment| format!("/{segment}")).collect();
    let Some(rule) = rule_pointer(&pointer).and_then(|rule| document.pointer(&rule)) else {
        return (Vec::new(), Vec::new());
    };
    let kinds = match site.block {
        Block::Generate => {
            // `generate.foreach[]` items may name their own kind.
            let holder = foreach_items(document, &pointer)
                .last()
                .map(|(_, item)| *item)
                .filter(|item| item.get("kind").is_some())
                .or_else(|| rule.get("generate"));
            let kind = holder.and_then(|holder| holder.get("kind")).and_then(Value::as_str);
            let api_version = holder.and_then(|holder| holder.get("apiVersion")).and_then(Value::as_str);
            kind.map(|kind| kind_with_version(kind, api_version)).unwrap_or_default()
        }
        Block::Mutate if rule.pointer("/mutate/targets").is_some() => target_kinds(rule),
        _ => matched_kinds(rule),
    };
    let roots = kind_roots(&kinds);
    if !site.element {
        return (roots, Vec::new());
    }
    let mut element_path: Option<Vec<String>> = None;
    for (_, item) in foreach_items(document, &pointer) {
        element_path =
            item.get("list").and_then(Value::as_str).and_then(|list| list_item_path(list, element_path.as_deref()));
    }
    match element_path {
        Some(path) => (roots, path),
        None => (Vec::new(), Vec::new()),
    }
}

/// The resource path of pattern keys: anchors stripped, list items as `0`.
fn resource_path(base: &[String], inside: &[String]) -> Vec<String> {
    let mut path = base.to_vec();
    for segment in inside {
        if is_index(segment) {
            path.push("0".to_string());
        } else {
            path.push(parse_anchor(segment).map_or(segment.as_str(), |(_, key)| key).to_string());
        }
    }
    path
}

/// The anchors a block accepts, as the text typed before the key.
fn anchor_openers(block: Block) -> &'static [&'static str] {
    match block {
        Block::Validate => &["=(", "X(", "^(", "<(", "("],
        Block::Mutate => &["+(", "<(", "("],
        Block::Generate => &[],
    }
}

/// Completion inside a pattern, patch or generated data; `None` when the cursor is not in one.
pub(super) fn completions(_: &Workspace, cursor: &Cursor<'_>) -> Option<Vec<CompletionItem>> {
    if cursor.info.kind != DocumentKind::KyvernoPolicy {
        return None;
    }
    let (segment, relative, offset) = (cursor.segment, cursor.relative, cursor.offset);
    let (steps, prefix, prefix_start, is_key) = match cursor.yaml() {
        CursorContext::Key { path, prefix, prefix_start, .. } => (path, prefix, *prefix_start, true),
        CursorContext::Value { path, prefix, prefix_start } => (path, prefix, *prefix_start, false),
    };
    // Cheap test first: the text path must pass through one of the resource-shaped keys.
    let mentions_block = steps.iter().any(|step| {
        matches!(step, super::yaml_path::PathStep::Key(key)
            if matches!(key.as_str(), "pattern" | "anyPattern" | "patchStrategicMerge" | "data"))
    });
    if !mentions_block {
        return None;
    }
    let parsed = readable_document(segment, relative, true);
    let pointer = pointer_of_steps(&parsed, steps, relative);
    let segments = pointer_segments(&pointer);
    let site = site_of(&segments)?;
    let replace = TextRange::new(segment.start + prefix_start, offset);
    let (roots, base) = pattern_roots(&parsed.value, &segments, &site);
    let resource = resource_path(&base, &segments[site.root_length..]);
    if !is_key {
        return Some(value_items(&roots, &resource, prefix, replace));
    }
    let existing: Vec<String> = sibling_keys(cursor)
        .into_iter()
        .map(|key| parse_anchor(&key).map_or(key.clone(), |(_, bare)| bare.to_string()))
        .collect();
    let opener = anchor_openers(site.block).iter().find(|opener| prefix.starts_with(**opener)).copied();
    let bare_prefix = prefix[opener.map_or(0, str::len)..].to_lowercase();
    let items = fields_at(&roots, &resource)
        .into_iter()
        .filter(|field| !existing.contains(&field.name) && field.name.to_lowercase().starts_with(&bare_prefix))
        // Generated data is a whole resource: its required fields come first.
        .map(|field| field_item(&field, opener, replace, site.block == Block::Generate && field.required))
        .collect();
    Some(items)
}

fn field_item(field: &Field, opener: Option<&str>, replace: TextRange, preselect: bool) -> CompletionItem {
    let registry = schema::registry();
    let nodes = [field.node];
    let key = match opener {
        Some(opener) => format!("{opener}{})", field.name),
        None => field.name.clone(),
    };
    let (insert_text, is_snippet) = key_insert_text(&key, &nodes);
    let mut documentation = schema::description_of(registry, field.node).map(str::to_string);
    let anchor = opener.and_then(|opener| parse_anchor(&format!("{opener}x)")).map(|(kind, _)| kind));
    if let Some(explanation) = anchor.map(anchor_text) {
        documentation = Some(match documentation {
            Some(description) => format!("{explanation}\n\n{description}"),
            None => explanation.to_string(),
        });
    }
    CompletionItem {
        label: key,
        kind: CompletionKind::Field,
        detail: type_label(&nodes).map(|label| format!("{label} ({})", field.kind)),
        documentation,
        insert_text,
        is_snippet,
        replace,
        deprecated: field.node.value.get("deprecated").and_then(Value::as_bool) == Some(true),
        preselect,
    }
}

fn value_items(
    roots: &[(String, SchemaNode<'static>)],
    resource: &[String],
    prefix: &str,
    replace: TextRange,
) -> Vec<CompletionItem> {
    let nodes: Vec<SchemaNode<'static>> = nodes_at(roots, resource).into_iter().map(|(_, node)| node).collect();
    let mut labels: Vec<(String, Option<String>)> = enum_values(&nodes)
        .into_iter()
        .map(|value| (value.as_str().map_or_else(|| value.to_string(), str::to_string), None))
        .collect();
    if labels.is_empty() && is_type(&nodes, "boolean") {
        labels =
            vec![("true".to_string(), Some("boolean".to_string())), ("false".to_string(), Some("boolean".to_string()))];
    }
    let prefix = prefix.to_lowercase();
    labels
        .into_iter()
        .filter(|(label, _)| label.to_lowercase().starts_with(&prefix))
        .map(|(label, detail)| CompletionItem {
            insert_text: label.clone(),
            label,
            kind: CompletionKind::Value,
            detail,
            documentation: None,
            is_snippet: false,
            replace,
            deprecated: false,
            preselect: false,
        })
        .collect()
}

fn anchor_text(kind: AnchorKind) -> &'static str {
    match kind {
        AnchorKind::Condition => {
            "**Conditional anchor** `(key)`: the rest of this object is checked only when `key` matches. When it \
             does not, the object (or list item) is skipped, not failed."
        }
        AnchorKind::Global => {
            "**Global anchor** `<(key)`: when `key` does not match, the whole rule is skipped for this resource; \
             nothing fails."
        }
        AnchorKind::Negation => "**Negation anchor** `X(key)`: the resource must not have `key` at all.",
        AnchorKind::AddIfNotPresent => {
            "**Add-if-not-present anchor** `+(key)`: the patch sets `key` only when the resource lacks it; a value \
             already there is kept."
        }
        AnchorKind::Equality => {
            "**Equality anchor** `=(key)`: `key` is optional; when the resource has it, its value must match."
        }
        AnchorKind::Existence => {
            "**Existence anchor** `^(key)`: for a list, at least one item must match the pattern (without it, \
             every item must)."
        }
    }
}

/// Hover inside a pattern: anchors on keys, operators in values, and the field's documentation.
pub(super) fn hover(_: &Workspace, cursor: &Cursor<'_>) -> Option<HoverResult> {
    if cursor.info.kind != DocumentKind::KyvernoPolicy {
        return None;
    }
    let (segment, relative) = (cursor.segment, cursor.relative);
    let parsed = readable_document(segment, relative, false);
    let (pointer, span, side) = node_at(&parsed, relative)?;
    let segments = pointer_segments(&pointer);
    let site = site_of(&segments)?;
    if segments.len() <= site.root_length {
        return None;
    }
    let (roots, base) = pattern_roots(&parsed.value, &segments, &site);
    let resource = resource_path(&base, &segments[site.root_length..]);
    let field = field_markdown(&roots, &resource);
    let (range, explanation) = match side {
        Side::Key => {
            let key = segments.last()?;
            (span.key?, parse_anchor(key).map(|(kind, _)| anchor_text(kind).to_string()))
        }
        Side::Value => {
            let text = parsed.value.pointer(&pointer)?.as_str()?;
            (span.value, operators_markdown(text))
        }
    };
    let markdown = match (explanation, field) {
        (Some(explanation), Some(field)) => format!("{explanation}\n\n---\n\n{field}"),
        (Some(explanation), None) => explanation,
        // A plain key: the field's documentation; a plain value: nothing to explain here.
        (None, Some(field)) if side == Side::Key => field,
        _ => return None,
    };
    Some(HoverResult { range: range.shifted(segment.start), markdown })
}

fn field_markdown(roots: &[(String, SchemaNode<'static>)], resource: &[String]) -> Option<String> {
    let name = resource.iter().rev().find(|segment| !is_index(segment))?;
    let nodes: Vec<SchemaNode<'static>> = nodes_at(roots, resource).into_iter().map(|(_, node)| node).collect();
    if nodes.is_empty() {
        return None;
    }
    let registry = schema::registry();
    let mut markdown = format!("**`{name}`**");
    if let Some(label) = type_label(&nodes) {
        let _ = write!(markdown, " `{label}`");
    }
    if let Some(description) = nodes.iter().find_map(|node| schema::description_of(registry, *node)) {
        let _ = write!(markdown, "\n\n{description}");
    }
    Some(markdown)
}

/// Explains the operators and wildcards of a pattern value, one line per construct found.
fn operators_markdown(value: &str) -> Option<String> {
    // Variables are JMESPath, explained by their own hover.
    let mut text = value.to_string();
    while let Some(open) = text.find("{{") {
        let close = text[open..].find("}}").map_or(text.len(), |close| open + close + 2);
        text.replace_range(open..close, "");
    }
    let mut lines: Vec<&str> = Vec::new();
    let mut add = |line: &'static str| {
        if !lines.contains(&line) {
            lines.push(line);
        }
    };
    let alternatives: Vec<&str> = text.split('|').collect();
    if alternatives.len() > 1 {
        add("`|` **or**: the value must match at least one of the alternatives.");
    }
    for alternative in alternatives {
        let conditions: Vec<&str> = alternative.split('&').collect();
        if conditions.len() > 1 {
            add("`&` **and**: the value must match every condition.");
        }
        for condition in conditions {
            let condition = condition.trim();
            let operator = operator_of(condition);
            let operand = match operator {
                Operator::MoreEqual | Operator::LessEqual => &condition[2..],
                Operator::More | Operator::Less | Operator::NotEqual => &condition[1..],
                _ => condition,
            };
            match operator {
                Operator::MoreEqual => add("`>=` the value must be at least the operand."),
                Operator::LessEqual => add("`<=` the value must be at most the operand."),
                Operator::More => add("`>` the value must be greater than the operand."),
                Operator::Less => add("`<` the value must be less than the operand."),
                Operator::NotEqual => add("`!` the value must not match the operand."),
                Operator::InRange => add("`a-b` **range**: the value must lie between `a` and `b`, both included."),
                Operator::NotInRange => add("`a!-b` **outside a range**: the value must be below `a` or above `b`."),
                Operator::Equal => {}
            }
            if matches!(operator, Operator::MoreEqual | Operator::LessEqual | Operator::More | Operator::Less) {
                add(
                    "Numbers compare as numbers; quantities (`512Mi`, `2`, `500m`) and durations (`90s`, `1h`) as amounts.",
                );
            }
            let operand = operand.trim();
            if operand == "?*" {
                add("`?*` any non-empty value: the field must be present and not empty.");
            } else if operand == "*" {
                add("`*` any value, including an empty one; the field must be present.");
            } else {
                if operand.contains('*') {
                    add("`*` wildcard: any run of characters, including none.");
                }
                if operand.contains('?') {
                    add("`?` wildcard: exactly one character.");
                }
            }
        }
    }
    if lines.is_empty() {
        return None;
    }
    Some(format!(
        "**Pattern value** `{}`\n\n{}",
        value.trim(),
        lines.iter().map(|line| format!("- {line}")).collect::<Vec<_>>().join("\n")
    ))
}
