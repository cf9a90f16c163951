//! JMESPath in Kyverno policies: inside `{{ }}` variables, and the plain expressions of `foreach.list`
//! and context `jmesPath`. Completion of Kyverno's built-in variables, `request` fields, fields of the
//! rule's matched kinds (`request.object.spec.containers[].image`), `element` typed by the foreach list,
//! context entries and functions; hover and signature help for functions; syntax, unknown-function and
//! arity diagnostics at the exact character inside the YAML scalar.

use std::sync::Arc;

use serde_json::Value;

use super::cursor::Cursor;
use super::jmespath_docs::{FunctionDoc, callable_functions, function_doc};
use super::policy_context::{
    fields_at, foreach_items, kind_roots, list_item_path, matched_kinds, nodes_at, plain_path, pointer_of_steps,
    readable_document, rule_pointer,
};
use super::schema_lookup::type_label;
use super::types::{CompletionItem, CompletionKind, HoverResult, SignatureHelp};
use super::workspace::Workspace;
use super::yaml_path::{CursorContext, PathStep};
use crate::base::{Code, Diagnostic, TextRange};
use crate::engine::kyverno::variables::{check_expression, variable_ranges};
use crate::model::{DocumentInfo, DocumentKind};
use crate::schema::{self, SchemaNode};
use crate::syntax::embedded::EmbeddedText;
use crate::syntax::navigate::Side;
use crate::syntax::{ParsedDocument, Segment, push_pointer_segment};

/// Fields of Kyverno's `request`, the admission request.
const REQUEST_FIELDS: &[(&str, &str)] = &[
    ("object", "The resource as it will be stored (for DELETE, null; Kyverno reads `oldObject` then)."),
    ("oldObject", "The resource before an UPDATE or DELETE; null on CREATE."),
    ("operation", "`CREATE`, `UPDATE`, `DELETE` or `CONNECT`."),
    ("userInfo", "Who sent the request: `username`, `uid`, `groups`, `extra`."),
    ("roles", "The namespaced Roles bound to the requester (`namespace:name`), added by Kyverno."),
    ("clusterRoles", "The ClusterRoles bound to the requester, added by Kyverno."),
    ("namespace", "The namespace of the resource (empty for cluster-scoped kinds)."),
    ("name", "The name of the resource (may be empty on CREATE with `generateName`)."),
    ("kind", "The group, version and kind of the resource."),
    ("resource", "The group, version and resource (plural) requested."),
    ("subResource", "The subresource requested, such as `status` or `exec`."),
    ("requestKind", "The kind originally requested, before any conversion."),
    ("requestResource", "The resource originally requested, before any conversion."),
    ("requestSubResource", "The subresource originally requested."),
    ("dryRun", "Whether the request is a dry run (nothing is persisted)."),
    ("options", "The operation's options (CreateOptions, UpdateOptions, DeleteOptions)."),
    ("uid", "The unique id of the admission request."),
];

const USER_INFO_FIELDS: &[(&str, &str)] = &[
    ("username", "The requester's user name (`system:serviceaccount:NS:NAME` for service accounts)."),
    ("uid", "The requester's unique id."),
    ("groups", "The groups the requester belongs to."),
    ("extra", "Extra attributes the authenticator provided."),
];

const KIND_FIELDS: &[(&str, &str)] =
    &[("group", "API group (empty for the core group)."), ("version", "API version."), ("kind", "Kind name.")];

const RESOURCE_FIELDS: &[(&str, &str)] = &[
    ("group", "API group (empty for the core group)."),
    ("version", "API version."),
    ("resource", "Resource name, plural and lower case."),
];

const IMAGE_LISTS: &[(&str, &str)] = &[
    ("containers", "Images of `containers`, by container name."),
    ("initContainers", "Images of `initContainers`, by container name."),
    ("ephemeralContainers", "Images of `ephemeralContainers`, by container name."),
];

const IMAGE_FIELDS: &[(&str, &str)] = &[
    ("registry", "The registry host, `docker.io` when none is written."),
    ("path", "The repository path inside the registry."),
    ("name", "The last part of the path."),
    ("tag", "The tag (`latest` when neither tag nor digest is written)."),
    ("digest", "The digest, when the reference has one."),
    ("reference", "The full normalized reference."),
    ("referenceWithTag", "The normalized reference with its tag and without a digest."),
];

const ROOT_VARIABLES: &[(&str, &str)] = &[
    ("request", "The admission request: `object`, `oldObject`, `operation`, `userInfo`, ..."),
    ("images", "The images of the resource's containers, parsed: `images.containers.NAME.tag`, ..."),
    ("serviceAccountName", "The name of the requesting service account (empty for users)."),
    ("serviceAccountNamespace", "The namespace of the requesting service account."),
];

/// The JMESPath expression around a cursor.
struct ExpressionCursor<'a> {
    segment: &'a Segment,
    /// The document, parsed again without the cursor's line when that line breaks it.
    parsed: Arc<ParsedDocument>,
    /// The whole expression, decoded (from after `{{` to `}}`, or the whole scalar).
    text: String,
    /// The cursor's byte offset in `text`.
    cursor: usize,
    /// The cursor's offset relative to the segment.
    relative: usize,
    /// JSON pointer of the scalar holding the expression.
    pointer: String,
}

fn is_jmespath_document(info: &DocumentInfo) -> bool {
    matches!(
        info.kind,
        DocumentKind::KyvernoPolicy | DocumentKind::KyvernoCleanupPolicy | DocumentKind::KyvernoPolicyException
    ) && info.group() == "kyverno.io"
}

/// Scalars that hold a plain JMESPath expression without `{{ }}`.
fn is_plain_expression(pointer: &str) -> bool {
    let segments: Vec<&str> = pointer.rsplit('/').take(4).collect();
    let is_index = |segment: Option<&&str>| segment.is_some_and(|text| text.parse::<usize>().is_ok());
    match segments.as_slice() {
        ["list", index, "foreach", ..] => is_index(Some(index)),
        ["jmesPath", "variable" | "apiCall" | "globalReference", index, "context"] => is_index(Some(index)),
        _ => false,
    }
}

/// The `{{ }}` expression around `cursor` in `text`: its start (after `{{` and a `-`) and end (at `}}`).
fn enclosing_variable(text: &str, cursor: usize) -> Option<(usize, usize)> {
    let before = text.get(..cursor)?;
    let open = before.rfind("{{")?;
    if before[open + 2..].contains("}}") || text[..open].ends_with('\\') {
        return None;
    }
    let mut start = open + 2;
    let rest = &text[start..cursor];
    if rest.trim_start().starts_with('-') {
        start += rest.len() - rest.trim_start().len() + 1;
    }
    let end = text[cursor..].find("}}").map_or(text.len(), |close| cursor + close);
    Some((start, end))
}

/// A cheap first look: an unclosed `{{` shortly before the cursor, or a `list:`/`jmesPath:` line.
fn may_hold_expression(text: &str, offset: usize) -> bool {
    let mut window_start = offset.saturating_sub(2000);
    while !text.is_char_boundary(window_start) {
        window_start += 1;
    }
    let window = &text[window_start..offset];
    if let Some(open) = window.rfind("{{")
        && !window[open..].contains("}}")
    {
        return true;
    }
    let line_start = window.rfind('\n').map_or(0, |newline| newline + 1);
    let line = window[line_start..].trim_start().trim_start_matches("- ");
    line.starts_with("list:") || line.starts_with("jmesPath:")
}

fn expression_cursor<'a>(at: &Cursor<'a>) -> Option<ExpressionCursor<'a>> {
    if !is_jmespath_document(at.info) {
        return None;
    }
    let (segment, relative) = (at.segment, at.relative);
    let document = &segment.parsed.value;
    if !may_hold_expression(&segment.text, relative) {
        return None;
    }
    // The scalar under the cursor, decoded, when the YAML around it parses.
    if let Some((pointer, span, side)) = at.node() {
        let (span, side) = (*span, *side);
        let range = match side {
            Side::Key => span.key,
            Side::Value if document.pointer(pointer).is_some_and(Value::is_string) => Some(span.value),
            Side::Value => None,
        };
        if let Some(range) = range.filter(|range| range.contains_inclusive(relative))
            && let Some(embedded) = EmbeddedText::from_node(&segment.text, range)
            && let Some(cursor) = embedded.from_source(relative)
            && embedded.text.is_char_boundary(cursor)
        {
            let (start, end) = match enclosing_variable(&embedded.text, cursor) {
                Some(found) => found,
                None if side == Side::Value && is_plain_expression(pointer) && !embedded.text.contains("{{") => {
                    (0, embedded.text.len())
                }
                None => return None,
            };
            return Some(ExpressionCursor {
                segment,
                parsed: segment.parsed.clone(),
                text: embedded.text[start..end].to_string(),
                cursor: cursor - start,
                relative,
                pointer: pointer.clone(),
            });
        }
    }
    // A half-typed line (an unterminated quote, say): read the line as it is.
    let line_start = segment.text[..relative].rfind('\n').map_or(0, |newline| newline + 1);
    let line_end = segment.text[relative..].find('\n').map_or(segment.text.len(), |newline| relative + newline);
    let line = &segment.text[line_start..line_end];
    let cursor = relative - line_start;
    let context = at.yaml();
    let steps = match context {
        CursorContext::Key { path, .. } | CursorContext::Value { path, .. } => path.clone(),
    };
    let (start, end) = match enclosing_variable(line, cursor) {
        Some(found) => found,
        None => {
            let CursorContext::Value { path, prefix_start, .. } = context else { return None };
            let Some(PathStep::Key(key)) = path.last() else { return None };
            let plain = match key.as_str() {
                "list" => path.iter().rev().nth(2) == Some(&PathStep::Key("foreach".to_string())),
                "jmesPath" => path.iter().rev().nth(3) == Some(&PathStep::Key("context".to_string())),
                _ => false,
            };
            if !plain || line.contains("{{") {
                return None;
            }
            let start = prefix_start.saturating_sub(line_start).min(cursor);
            let end = line.trim_end_matches(['"', '\'', ' ', '\r']).len().max(cursor);
            (start, end)
        }
    };
    let parsed = readable_document(segment, relative, true);
    let pointer = pointer_of_steps(&parsed, &steps, relative);
    Some(ExpressionCursor {
        segment,
        parsed,
        text: line[start..end].to_string(),
        cursor: cursor - start,
        relative,
        pointer,
    })
}

/// What the policy around an expression tells about its variables.
struct Scope<'a> {
    /// The rule (or the policy spec, for cleanup policies and exceptions) around the expression.
    rule: Option<&'a Value>,
    /// Schemas of the kinds the rule matches.
    roots: Vec<(String, SchemaNode<'static>)>,
    /// Foreach items around the expression, outermost first, with the resource path of each element.
    foreach: Vec<(&'a Value, Option<Vec<String>>)>,
}

impl<'a> Scope<'a> {
    fn of(document: &'a Value, pointer: &str) -> Scope<'a> {
        let rule = match rule_pointer(pointer) {
            Some(rule) => document.pointer(&rule),
            None => document.get("spec"),
        };
        let roots = rule.map(|rule| kind_roots(&matched_kinds(rule))).unwrap_or_default();
        let mut foreach = Vec::new();
        let mut element_path: Option<Vec<String>> = None;
        for (_, item) in foreach_items(document, pointer) {
            element_path =
                item.get("list").and_then(Value::as_str).and_then(|list| list_item_path(list, element_path.as_deref()));
            foreach.push((item, element_path.clone()));
        }
        Scope { rule, roots, foreach }
    }

    /// Context entries visible here: the rule's, then each enclosing foreach's.
    fn context_entries(&self) -> Vec<&'a Value> {
        let mut entries: Vec<&Value> = Vec::new();
        let lists = self.rule.into_iter().chain(self.foreach.iter().map(|(item, _)| *item));
        for holder in lists {
            entries.extend(holder.get("context").and_then(Value::as_array).into_iter().flatten());
        }
        entries
    }

    /// The resource path of `element` (`nesting` `None`) or `elementN`.
    fn element_path(&self, nesting: Option<usize>) -> Option<&[String]> {
        let entry = match nesting {
            Some(index) => self.foreach.get(index)?,
            None => self.foreach.last()?,
        };
        entry.1.as_deref()
    }
}

fn is_word(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_'
}

/// The start of the word that ends at `end`.
fn word_start(text: &str, end: usize) -> usize {
    text[..end].char_indices().rev().take_while(|(_, character)| is_word(*character)).last().map_or(end, |(i, _)| i)
}

/// The start of the path chain (`request.object.spec.containers[?name=='a']`) that ends at `end`.
fn chain_start(text: &str, end: usize) -> usize {
    let bytes = text.as_bytes();
    let mut position = end;
    while position > 0 {
        let byte = bytes[position - 1];
        if byte == b']' {
            let mut depth = 0usize;
            let mut cursor = position;
            while cursor > 0 {
                cursor -= 1;
                match bytes[cursor] {
                    b']' => depth += 1,
                    b'[' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if depth != 0 {
                return position;
            }
            position = cursor;
        } else if byte == b'"' {
            match text[..position - 1].rfind('"') {
                Some(open) => position = open,
                None => return position,
            }
        } else if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.' {
            position -= 1;
        } else {
            break;
        }
    }
    position
}

/// Whether `text` ends inside a string or JSON literal (`'...`, `` `...``).
fn inside_literal(text: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for character in text.chars() {
        match (quote, character) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(open), close) if close == open && !escaped => quote = None,
            (None, '\'' | '`') => quote = Some(character),
            _ => {}
        }
        escaped = false;
    }
    quote.is_some()
}

fn listed(fields: &[(&str, &str)], detail: &str, replace: TextRange) -> Vec<CompletionItem> {
    fields
        .iter()
        .map(|(name, doc)| {
            CompletionItem::plain(name, CompletionKind::Field, Some(detail.to_string()), Some(doc.to_string()), replace)
        })
        .collect()
}

/// Completion inside a JMESPath expression; `None` when the cursor is not in one.
pub(super) fn completions(_: &Workspace, cursor: &Cursor<'_>) -> Option<Vec<CompletionItem>> {
    let cursor = expression_cursor(cursor)?;
    let before = &cursor.text[..cursor.cursor];
    if inside_literal(before) {
        return Some(Vec::new());
    }
    let start = word_start(before, before.len());
    let prefix = before[start..].to_lowercase();
    let replace = TextRange::new(
        cursor.segment.start + cursor.relative - (before.len() - start),
        cursor.segment.start + cursor.relative,
    );
    let scope = Scope::of(&cursor.parsed.value, &cursor.pointer);
    let head = &before[..start];
    let items = if let Some(chain_end) = head.strip_suffix('.').map(str::len) {
        let chain = &head[chain_start(head, chain_end)..chain_end];
        match plain_path(chain) {
            Some((segments, _)) => member_items(&scope, &segments, replace),
            None => Vec::new(),
        }
    } else if head.ends_with(['"', '@', '$', '&']) || head.ends_with(']') || ends_an_operand(head) {
        Vec::new()
    } else {
        root_items(&scope, replace)
    };
    Some(items.into_iter().filter(|item| item.label.to_lowercase().starts_with(&prefix)).collect())
}

/// Whether a space was just typed after a finished operand (`name `, `f(x) `, `'a' `): an operator comes
/// next, not a variable, so the space (a completion trigger for YAML values) offers nothing here.
fn ends_an_operand(head: &str) -> bool {
    let trimmed = head.trim_end();
    trimmed.len() != head.len()
        && trimmed
            .ends_with(|character: char| is_word(character) || matches!(character, ')' | ']' | '}' | '\'' | '`' | '"'))
}

/// Variables, context entries and functions at the start of an expression or an operand.
fn root_items(scope: &Scope<'_>, replace: TextRange) -> Vec<CompletionItem> {
    let mut items = listed(ROOT_VARIABLES, "Kyverno variable", replace);
    if !scope.foreach.is_empty() {
        items.push(CompletionItem::plain(
            "element",
            CompletionKind::Field,
            Some("foreach item".to_string()),
            Some("The item of the foreach `list` being processed.".to_string()),
            replace,
        ));
        items.push(CompletionItem::plain(
            "elementIndex",
            CompletionKind::Field,
            Some("foreach index".to_string()),
            Some("The position of `element` in the foreach `list`, from 0.".to_string()),
            replace,
        ));
        if scope.foreach.len() > 1 {
            for nesting in 0..scope.foreach.len() {
                let documentation = format!("The item of the foreach at nesting level {nesting} (0 is the outermost).");
                items.push(CompletionItem::plain(
                    &format!("element{nesting}"),
                    CompletionKind::Field,
                    Some("foreach item".to_string()),
                    Some(documentation),
                    replace,
                ));
                items.push(CompletionItem::plain(
                    &format!("elementIndex{nesting}"),
                    CompletionKind::Field,
                    Some("foreach index".to_string()),
                    Some(format!("The position of `element{nesting}` in its list.")),
                    replace,
                ));
            }
        }
    }
    for entry in scope.context_entries() {
        let Some(name) = entry.get("name").and_then(Value::as_str) else { continue };
        let source = ["configMap", "apiCall", "variable", "globalReference", "imageRegistry"]
            .into_iter()
            .find(|key| entry.get(*key).is_some())
            .unwrap_or("entry");
        let name = name.split('.').next().unwrap_or(name);
        if items.iter().any(|existing| existing.label == name) {
            continue;
        }
        items.push(CompletionItem::plain(
            name,
            CompletionKind::Field,
            Some(format!("context {source}")),
            None,
            replace,
        ));
    }
    for callable in callable_functions() {
        let detail = callable.doc.map(FunctionDoc::signature);
        let documentation = callable.doc.map(|doc| {
            let origin = if callable.kyverno { "Kyverno function" } else { "JMESPath function" };
            format!("{}\n\n*{origin}*", doc.summary)
        });
        let takes_arguments = callable.doc.is_none_or(|doc| !doc.parameters.is_empty());
        items.push(CompletionItem {
            label: callable.name.to_string(),
            kind: CompletionKind::Function,
            detail,
            documentation,
            insert_text: if takes_arguments {
                format!("{}($1)$0", callable.name)
            } else {
                format!("{}()", callable.name)
            },
            is_snippet: takes_arguments,
            replace,
            deprecated: false,
            preselect: false,
        });
    }
    items
}

fn element_nesting(name: &str) -> Option<Option<usize>> {
    let digits = name.strip_prefix("element")?;
    if digits.is_empty() {
        return Some(None);
    }
    digits.parse::<usize>().ok().map(Some)
}

/// Members of the value a path chain leads to.
fn member_items(scope: &Scope<'_>, segments: &[String], replace: TextRange) -> Vec<CompletionItem> {
    let Some((root, rest)) = segments.split_first() else { return Vec::new() };
    match (root.as_str(), rest) {
        ("request", []) => listed(REQUEST_FIELDS, "request field", replace),
        ("request", [object, path @ ..]) if object == "object" || object == "oldObject" => {
            schema_items(&object_roots(scope), path, replace)
        }
        ("request", [user]) if user == "userInfo" => listed(USER_INFO_FIELDS, "userInfo field", replace),
        ("request", [kind]) if kind == "kind" || kind == "requestKind" => {
            listed(KIND_FIELDS, "GroupVersionKind", replace)
        }
        ("request", [resource]) if resource == "resource" || resource == "requestResource" => {
            listed(RESOURCE_FIELDS, "GroupVersionResource", replace)
        }
        ("images", []) => listed(IMAGE_LISTS, "images", replace),
        ("images", [_, _]) => listed(IMAGE_FIELDS, "image", replace),
        (name, path) if element_nesting(name).is_some() => {
            let Some(base) = element_nesting(name).and_then(|nesting| scope.element_path(nesting)) else {
                return Vec::new();
            };
            let mut full = base.to_vec();
            full.extend_from_slice(path);
            schema_items(&scope.roots, &full, replace)
        }
        (name, path) => context_member_items(scope, name, path, replace),
    }
}

/// The schemas `request.object` has here; when the rule matches no known kind, the fields every object has.
fn object_roots(scope: &Scope<'_>) -> Vec<(String, SchemaNode<'static>)> {
    if !scope.roots.is_empty() {
        return scope.roots.clone();
    }
    let registry = schema::registry();
    registry
        .lookup("v1", "ConfigMap")
        .and_then(|entry| registry.root(entry))
        .and_then(|root| {
            let metadata = schema::schema_at(registry, root, &["metadata"]).into_iter().next()?;
            Some(metadata)
        })
        .map(|metadata| vec![("object".to_string(), generic_object(metadata))])
        .unwrap_or_default()
}

/// A schema with `apiVersion`, `kind` and `metadata` (from a real kind's metadata), for objects of any kind.
fn generic_object(metadata: SchemaNode<'static>) -> SchemaNode<'static> {
    static GENERIC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let value = GENERIC.get_or_init(|| {
        let mut properties = serde_json::Map::new();
        properties.insert(
            "apiVersion".into(),
            serde_json::json!({"type": "string", "description": "The API version of the object."}),
        );
        properties
            .insert("kind".into(), serde_json::json!({"type": "string", "description": "The kind of the object."}));
        properties.insert("metadata".into(), metadata.value.clone());
        properties.insert(
            "spec".into(),
            serde_json::json!({"type": "object", "description": "The desired state (for kinds that have one)."}),
        );
        properties.insert(
            "status".into(),
            serde_json::json!({"type": "object", "description": "The observed state (for kinds that have one)."}),
        );
        serde_json::json!({"type": "object", "properties": properties})
    });
    SchemaNode { file: metadata.file, value }
}

fn schema_items(roots: &[(String, SchemaNode<'static>)], path: &[String], replace: TextRange) -> Vec<CompletionItem> {
    let registry = schema::registry();
    fields_at(roots, path)
        .into_iter()
        .map(|field| {
            let nodes = [field.node];
            CompletionItem {
                deprecated: field.node.value.get("deprecated").and_then(Value::as_bool) == Some(true),
                ..CompletionItem::plain(
                    &field.name,
                    CompletionKind::Field,
                    type_label(&nodes).map(|label| format!("{label} ({} field)", field.kind)),
                    schema::description_of(registry, field.node).map(str::to_string),
                    replace,
                )
            }
        })
        .collect()
}

/// Members of a context entry: a configMap is a ConfigMap; a variable with a literal value has its keys.
fn context_member_items(scope: &Scope<'_>, name: &str, path: &[String], replace: TextRange) -> Vec<CompletionItem> {
    let Some(entry) = scope
        .context_entries()
        .into_iter()
        .find(|entry| entry.get("name").and_then(Value::as_str).is_some_and(|entry_name| entry_name == name))
    else {
        return Vec::new();
    };
    if entry.get("configMap").is_some() {
        let registry = schema::registry();
        let roots: Vec<(String, SchemaNode<'static>)> = registry
            .lookup("v1", "ConfigMap")
            .and_then(|entry| registry.root(entry))
            .map(|root| vec![("ConfigMap".to_string(), root)])
            .unwrap_or_default();
        return schema_items(&roots, path, replace);
    }
    let mut value = entry.pointer("/variable/value");
    for segment in path {
        value = value.and_then(|current| match current {
            Value::Array(items) => items.first(),
            other => other.get(segment.as_str()),
        });
    }
    match value {
        Some(Value::Object(map)) => map
            .keys()
            .map(|key| CompletionItem::plain(key, CompletionKind::Field, Some(format!("{name} value")), None, replace))
            .collect(),
        _ => Vec::new(),
    }
}

/// Hover inside a JMESPath expression: a function's signature and description, or what a variable or
/// field is.
pub(super) fn hover(_: &Workspace, cursor: &Cursor<'_>) -> Option<HoverResult> {
    let cursor = expression_cursor(cursor)?;
    let text = &cursor.text;
    let start = word_start(text, cursor.cursor);
    let end =
        text[cursor.cursor..].find(|character: char| !is_word(character)).map_or(text.len(), |i| cursor.cursor + i);
    if start == end {
        return None;
    }
    let word = &text[start..end];
    let range = TextRange::new(
        cursor.segment.start + cursor.relative - (cursor.cursor - start),
        cursor.segment.start + cursor.relative + (end - cursor.cursor),
    );
    if text[end..].trim_start().starts_with('(') {
        let doc = function_doc(word)?;
        return Some(HoverResult { range, markdown: function_markdown(doc) });
    }
    let chain = &text[chain_start(text, end)..end];
    let (segments, _) = plain_path(chain)?;
    let scope = Scope::of(&cursor.parsed.value, &cursor.pointer);
    let markdown = describe_path(&scope, &segments)?;
    Some(HoverResult { range, markdown })
}

fn function_markdown(doc: &FunctionDoc) -> String {
    format!("```\n{}\n```\n{}", doc.signature(), doc.summary)
}

fn lookup_listed(fields: &[(&str, &str)], name: &str) -> Option<String> {
    fields.iter().find(|(field, _)| *field == name).map(|(field, doc)| format!("**`{field}`**\n\n{doc}"))
}

fn describe_path(scope: &Scope<'_>, segments: &[String]) -> Option<String> {
    let (root, rest) = segments.split_first()?;
    match (root.as_str(), rest) {
        (_, []) if element_nesting(root).is_some() => {
            Some(format!("**`{root}`**\n\nThe item of the foreach `list` being processed."))
        }
        (_, []) => lookup_listed(ROOT_VARIABLES, root).or_else(|| {
            scope
                .context_entries()
                .iter()
                .any(|entry| entry.get("name").and_then(Value::as_str) == Some(root.as_str()))
                .then(|| format!("**`{root}`**\n\nA context entry of this rule."))
        }),
        ("request", [field]) => lookup_listed(REQUEST_FIELDS, field),
        ("request", [user, field]) if user == "userInfo" => lookup_listed(USER_INFO_FIELDS, field),
        ("request", [object, path @ ..]) if object == "object" || object == "oldObject" => {
            describe_field(&object_roots(scope), path)
        }
        ("images", [list]) => lookup_listed(IMAGE_LISTS, list),
        ("images", [_, _, field]) => lookup_listed(IMAGE_FIELDS, field),
        (name, path) if element_nesting(name).is_some() => {
            let mut full = element_nesting(name).and_then(|nesting| scope.element_path(nesting))?.to_vec();
            full.extend_from_slice(path);
            describe_field(&scope.roots, &full)
        }
        _ => None,
    }
}

fn describe_field(roots: &[(String, SchemaNode<'static>)], path: &[String]) -> Option<String> {
    let name = path.iter().rev().find(|segment| segment.parse::<usize>().is_err())?;
    let nodes: Vec<SchemaNode<'static>> = nodes_at(roots, path).into_iter().map(|(_, node)| node).collect();
    if nodes.is_empty() {
        return None;
    }
    let registry = schema::registry();
    let mut markdown = format!("**`{name}`**");
    if let Some(label) = type_label(&nodes) {
        markdown.push_str(&format!(" `{label}`"));
    }
    if let Some(description) = nodes.iter().find_map(|node| schema::description_of(registry, *node)) {
        markdown.push_str("\n\n");
        markdown.push_str(description);
    }
    Some(markdown)
}

/// Signature help for the function call the cursor is in.
pub(super) fn signature_help(_: &Workspace, cursor: &Cursor<'_>) -> Option<SignatureHelp> {
    let cursor = expression_cursor(cursor)?;
    let before = &cursor.text[..cursor.cursor];
    // Open brackets with the argument count of each `(`.
    let mut stack: Vec<(char, usize, usize)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (index, character) in before.char_indices() {
        if let Some(open) = quote {
            if character == '\\' && !escaped {
                escaped = true;
                continue;
            }
            if character == open && !escaped {
                quote = None;
            }
            escaped = false;
            continue;
        }
        match character {
            '\'' | '`' | '"' => quote = Some(character),
            '(' | '[' | '{' => stack.push((character, index, 0)),
            ')' | ']' | '}' => {
                stack.pop();
            }
            ',' => {
                if let Some(top) = stack.last_mut() {
                    top.2 += 1;
                }
            }
            _ => {}
        }
    }
    let &(_, open, commas) = stack.iter().rev().find(|(character, _, _)| *character == '(')?;
    let name_end = before[..open].trim_end().len();
    let name = &before[word_start(before, name_end)..name_end];
    let doc = function_doc(name)?;
    let parameters: Vec<String> = doc.parameters.iter().map(|parameter| parameter.to_string()).collect();
    let last = parameters.len().saturating_sub(1);
    let variadic = doc.arity().1.is_none();
    let active_parameter = if variadic { commas.min(last) } else { commas };
    Some(SignatureHelp {
        label: format!("{}({}) -> {}", doc.name, doc.parameters.join(", "), doc.returns),
        documentation: Some(doc.summary.to_string()),
        parameters,
        active_parameter,
    })
}

/// JMESPath problems of a Kyverno document: syntax errors, unknown functions and wrong argument counts.
pub(super) fn jmespath_diagnostics(segment: &Segment, info: &DocumentInfo, out: &mut Vec<Diagnostic>) {
    if !is_jmespath_document(info) {
        return;
    }
    let mut found = Vec::new();
    collect_expressions(&segment.parsed.value, &mut String::new(), &mut found);
    for (pointer, is_key) in found {
        let Some(span) = segment.parsed.source_map.get(&pointer) else { continue };
        let range = if is_key { span.key } else { Some(span.value) };
        let Some(embedded) = range.and_then(|range| EmbeddedText::from_node(&segment.text, range)) else {
            continue;
        };
        // `closing` is where the `}}` of a variable starts; plain expressions have none.
        let mut check = |start: usize, end: usize, closing: Option<usize>| {
            let Some((from, to, message)) = expression_problem(&embedded.text[start..end]) else { return };
            let (first, last) = if from >= end - start {
                // Parsing ran out of text: point at the closing braces, or the last character.
                match closing {
                    Some(close) => (close, close + 2),
                    None => (end.saturating_sub(1), end),
                }
            } else {
                (start + from, start + to.max(from + 1))
            };
            let source_first = embedded.to_source(first);
            let source_last = embedded.to_source(last).max(source_first + 1);
            let range = TextRange::new(segment.start + source_first, segment.start + source_last);
            out.push(Diagnostic::new(Code::JmespathSyntax, range, message));
        };
        if !is_key && is_plain_expression(&pointer) && !embedded.text.contains("{{") {
            check(0, embedded.text.len(), None);
            continue;
        }
        for variable in variable_ranges(&embedded.text) {
            let inner_start = variable.start + 2;
            let inner_end = variable.end - 2;
            let inner = &embedded.text[inner_start..inner_end];
            let trimmed = inner.trim_start();
            let mut start = inner_start + (inner.len() - trimmed.len());
            if let Some(after_dash) = trimmed.strip_prefix('-') {
                start += 1 + (after_dash.len() - after_dash.trim_start().len());
            }
            let end = start.max(inner_start + inner.trim_end().len());
            check(start, end, Some(inner_end));
        }
    }
}

/// Pointers of the strings (values, and keys when `true`) that hold JMESPath.
fn collect_expressions(value: &Value, pointer: &mut String, out: &mut Vec<(String, bool)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let length = pointer.len();
                push_pointer_segment(pointer, key);
                if key.contains("{{") {
                    out.push((pointer.clone(), true));
                }
                collect_expressions(child, pointer, out);
                pointer.truncate(length);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let length = pointer.len();
                pointer.push_str(&format!("/{index}"));
                collect_expressions(child, pointer, out);
                pointer.truncate(length);
            }
        }
        Value::String(text) if text.contains("{{") || is_plain_expression(pointer) => {
            out.push((pointer.clone(), false))
        }
        _ => {}
    }
}

/// The first problem of one expression: byte range inside it and message.
fn expression_problem(expression: &str) -> Option<(usize, usize, String)> {
    if expression.trim().is_empty() {
        return Some((0, 0, "empty JMESPath expression: Kyverno cannot resolve `{{ }}` without one".to_string()));
    }
    if let Err((character, reason)) = check_expression(expression) {
        let at = expression.char_indices().nth(character).map_or(expression.len(), |(index, _)| index);
        let end = expression[at..].chars().next().map_or(at, |character| at + character.len_utf8());
        return Some((at, end, format!("JMESPath syntax error: {reason}")));
    }
    function_call_problem(expression)
}

/// Unknown functions and wrong argument counts, found by reading the calls of a parsed expression.
fn function_call_problem(expression: &str) -> Option<(usize, usize, String)> {
    let bytes = expression.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if matches!(byte, b'\'' | b'`' | b'"') {
            index = skip_literal(bytes, index);
            continue;
        }
        if !(byte.is_ascii_alphabetic() || byte == b'_') {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && (bytes[index].is_ascii_alphanumeric() || bytes[index] == b'_') {
            index += 1;
        }
        let after = expression[index..].trim_start();
        if !after.starts_with('(') {
            continue;
        }
        let name = &expression[start..index];
        let open = expression.len() - after.len();
        let arguments = count_arguments(bytes, open);
        let Some(doc) = function_doc(name) else {
            if callable_functions().iter().any(|callable| callable.name == name) {
                continue;
            }
            let names: Vec<&str> = callable_functions().iter().map(|callable| callable.name).collect();
            let mut message = format!("unknown JMESPath function `{name}`");
            if let Some(suggestion) = schema::closest(name, names.iter().copied()) {
                message.push_str(&format!("; did you mean `{suggestion}`?"));
            }
            return Some((start, index, message));
        };
        let (least, most) = doc.arity();
        let fits = arguments >= least && most.is_none_or(|most| arguments <= most);
        if !fits {
            let expected = match most {
                Some(most) if most == least => format!("{least}"),
                Some(most) => format!("{least} to {most}"),
                None => format!("at least {least}"),
            };
            let plural = if expected == "1" { "argument" } else { "arguments" };
            return Some((
                start,
                index,
                format!("`{name}` takes {expected} {plural}, found {arguments}: {}", doc.signature()),
            ));
        }
    }
    None
}

fn skip_literal(bytes: &[u8], open: usize) -> usize {
    let quote = bytes[open];
    let mut index = open + 1;
    while index < bytes.len() {
        if bytes[index] == b'\\' {
            index += 2;
            continue;
        }
        if bytes[index] == quote {
            return index + 1;
        }
        index += 1;
    }
    bytes.len()
}

/// How many arguments the call whose `(` is at `open` passes.
fn count_arguments(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut commas = 0;
    let mut any = false;
    let mut index = open + 1;
    while index < bytes.len() {
        let byte = bytes[index];
        if matches!(byte, b'\'' | b'`' | b'"') {
            any = true;
            index = skip_literal(bytes, index);
            continue;
        }
        match byte {
            b'(' | b'[' | b'{' => depth += 1,
            b')' if depth == 0 => break,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => commas += 1,
            _ => {}
        }
        if !byte.is_ascii_whitespace() {
            any = true;
        }
        index += 1;
    }
    if any { commas + 1 } else { 0 }
}
