//! Converts one document's tree-sitter tree into a JSON value plus a source map from JSON pointers to the
//! ranges of each key and value, collecting syntax errors on the way. Never fails on any input.

use std::collections::HashMap;

use serde_json::{Map, Value};
use tree_sitter::Node;

use super::scalar;
use crate::base::{Code, TextRange};

/// Deeper nesting than this is cut off with a diagnostic: real manifests stay far below it, and the limit
/// keeps conversion, validation and dropping the value from exhausting the stack.
pub const MAX_DEPTH: usize = 256;
/// The most nodes alias expansion may add to one document (defuses "billion laughs").
pub const MAX_ALIAS_EXPANSION: usize = 100_000;

/// One `---` document of a YAML stream, as JSON with positions. Ranges are relative to the document's start.
#[derive(Debug, Clone, Default)]
pub struct ParsedDocument {
    /// The document as JSON; `Null` for an empty document.
    pub value: Value,
    pub source_map: SourceMap,
    pub errors: Vec<SyntaxError>,
    /// Pointers of plain scalars spelled like YAML 1.1 booleans (`yes`, `off`, ...), kept as strings here;
    /// readers that follow YAML 1.1 (Kubernetes, the Kyverno CLI) treat them as booleans.
    pub yaml11_booleans: Vec<String>,
}

/// A syntax problem in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub code: Code,
    pub range: TextRange,
    pub message: String,
    /// A second range that explains the error, and what it is (the first definition of a duplicate key,
    /// where an unterminated string starts).
    pub related: Option<(TextRange, &'static str)>,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl ParsedDocument {
    /// The syntax errors as one sentence, for messages about a referenced file.
    pub fn error_text(&self) -> String {
        self.errors.iter().map(|error| error.message.as_str()).collect::<Vec<_>>().join("; ")
    }

    /// The value as a YAML 1.1 reader (Kubernetes, the Kyverno CLI) sees it: plain `yes`/`no`/`on`/`off`
    /// scalars become booleans.
    pub fn yaml11_value(&self) -> Value {
        let mut value = self.value.clone();
        for pointer in &self.yaml11_booleans {
            if let Some(slot) = value.pointer_mut(pointer)
                && let Some(flag) = slot.as_str().and_then(super::scalar::yaml11_boolean)
            {
                *slot = Value::Bool(flag);
            }
        }
        value
    }
}

/// Where a JSON node came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSpan {
    /// The mapping key that holds the node, if any.
    pub key: Option<TextRange>,
    /// The node's value; empty (at the end of the key) when a key has no value.
    pub value: TextRange,
}

impl NodeSpan {
    /// The range a diagnostic about the node's value should underline.
    pub fn value_or_key(&self) -> TextRange {
        if self.value.is_empty() { self.key.unwrap_or(self.value) } else { self.value }
    }

    /// The range a diagnostic about the key should underline.
    pub fn key_or_value(&self) -> TextRange {
        self.key.unwrap_or(self.value)
    }
}

/// JSON pointer -> ranges, for every node of a document.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    spans: HashMap<Box<str>, NodeSpan>,
}

impl SourceMap {
    pub fn get(&self, pointer: &str) -> Option<&NodeSpan> {
        self.spans.get(pointer)
    }

    /// The span of `pointer`, or of its nearest ancestor that has one.
    pub fn nearest(&self, pointer: &str) -> Option<(&str, &NodeSpan)> {
        let mut current = pointer;
        loop {
            if let Some((key, span)) = self.spans.get_key_value(current) {
                return Some((key, span));
            }
            let cut = current.rfind('/')?;
            current = &current[..cut];
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &NodeSpan)> {
        self.spans.iter().map(|(pointer, span)| (&**pointer, span))
    }
}

/// Appends one escaped JSON-pointer segment.
pub fn push_pointer_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    for character in segment.chars() {
        match character {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            other => pointer.push(other),
        }
    }
}

/// Converts a parsed document (the text and the tree of one `---` segment).
pub fn convert_document(text: &str, root: Node) -> ParsedDocument {
    let mut converter = Converter {
        text,
        anchors: HashMap::new(),
        expansion_budget: MAX_ALIAS_EXPANSION,
        document: ParsedDocument::default(),
        in_key: false,
    };
    collect_syntax_errors(text, root, &mut converter.document.errors);
    let mut contents = Vec::new();
    let mut cursor = root.walk();
    for document in root.children(&mut cursor).filter(|node| node.kind() == "document") {
        let mut inner = document.walk();
        if let Some(content) =
            document.named_children(&mut inner).find(|node| matches!(node.kind(), "block_node" | "flow_node"))
        {
            contents.push(content);
        }
    }
    if let Some(&first) = contents.first() {
        let mut pointer = String::new();
        converter.document.value = converter.node_value(first, &mut pointer, None, 0);
    } else if let Some(error) = top_level_error(root) {
        // A half-typed line near the end can turn the whole document into one ERROR node. Keep the pairs
        // that start in the first pair's column: they are the root mapping, so the document stays
        // classified (apiVersion, kind) while the user types.
        converter.document.value = converter.recover_root_mapping(error);
    }
    for extra in contents.iter().skip(1) {
        converter.error(
            Code::YamlExtraDocument,
            range_of(*extra),
            "this content is a second document after `...`; start it with a `---` line",
        );
    }
    converter.document
}

struct Converter<'text> {
    text: &'text str,
    anchors: HashMap<String, (Value, usize)>,
    expansion_budget: usize,
    document: ParsedDocument,
    /// Set while a mapping key is converted: a key is read as a value of its own at a scratch pointer,
    /// and its spans must not be recorded (they landed on the root pointer `""`, so the document's own
    /// span became that of its last key).
    in_key: bool,
}

impl Converter<'_> {
    fn error(&mut self, code: Code, range: TextRange, message: impl Into<String>) {
        self.document.errors.push(SyntaxError { code, range, message: message.into(), related: None });
    }

    fn record(&mut self, pointer: &str, key: Option<TextRange>, value: TextRange) {
        if self.in_key {
            return;
        }
        self.document.source_map.spans.insert(pointer.into(), NodeSpan { key, value });
    }

    /// Converts a `block_node`/`flow_node` (or any content node) found at `pointer`.
    fn node_value(&mut self, node: Node, pointer: &mut String, key: Option<TextRange>, depth: usize) -> Value {
        self.record(pointer, key, range_of(node));
        if depth > MAX_DEPTH {
            self.error(Code::YamlTooDeep, range_of(node), format!("nesting is deeper than {MAX_DEPTH} levels"));
            return Value::Null;
        }
        let mut anchor = None;
        let mut tag = None;
        let mut content = None;
        match node.kind() {
            "block_node" | "flow_node" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "anchor" => anchor = child.named_child(0).map(|name| self.slice(name).to_string()),
                        "tag" => tag = Some(self.slice(child).to_string()),
                        "comment" => {}
                        _ => content = Some(child),
                    }
                }
            }
            _ => content = Some(node),
        }
        let value = match content {
            None => match tag.as_deref() {
                Some("!!str") => Value::String(String::new()),
                _ => Value::Null,
            },
            Some(content) => self.content_value(content, pointer, tag.as_deref(), depth),
        };
        if let Some(name) = anchor {
            let size = count_nodes(&value);
            self.anchors.insert(name, (value.clone(), size));
        }
        value
    }

    fn content_value(&mut self, node: Node, pointer: &mut String, tag: Option<&str>, depth: usize) -> Value {
        match node.kind() {
            "block_mapping" | "flow_mapping" => self.mapping_value(node, pointer, depth),
            "block_sequence" | "flow_sequence" => self.sequence_value(node, pointer, depth),
            "plain_scalar" => {
                let decoded = scalar::decode_plain(self.slice(node)).value;
                match tag {
                    Some("!!str") | Some("!!binary") => Value::String(decoded),
                    _ => {
                        if scalar::yaml11_boolean(&decoded).is_some() {
                            self.document.yaml11_booleans.push(pointer.clone());
                        }
                        let resolved = scalar::resolve_plain(&decoded);
                        apply_tag(resolved, tag)
                    }
                }
            }
            "double_quote_scalar" => {
                apply_tag(Value::String(scalar::decode_double_quoted(self.slice(node)).value), tag)
            }
            "single_quote_scalar" => {
                apply_tag(Value::String(scalar::decode_single_quoted(self.slice(node)).value), tag)
            }
            "block_scalar" => {
                let indent = line_indent(self.text, node.start_byte());
                Value::String(scalar::decode_block(self.slice(node), indent).value)
            }
            "alias" => self.alias_value(node),
            _ => Value::Null,
        }
    }

    fn alias_value(&mut self, node: Node) -> Value {
        let name = node.named_child(0).map(|name| self.slice(name)).unwrap_or_default();
        let Some((value, size)) = self.anchors.get(name) else {
            let message = format!("unknown anchor `{name}`: define it with `&{name}` before this alias");
            self.error(Code::YamlUnknownAnchor, range_of(node), message);
            return Value::Null;
        };
        if *size > self.expansion_budget {
            self.expansion_budget = 0;
            let message =
                format!("aliases expand to more than {MAX_ALIAS_EXPANSION} nodes; this looks like an alias bomb");
            self.error(Code::YamlAliasLimit, range_of(node), message);
            return Value::Null;
        }
        self.expansion_budget -= size;
        value.clone()
    }

    fn mapping_value(&mut self, node: Node, pointer: &mut String, depth: usize) -> Value {
        let mut map = Map::new();
        let mut key_ranges: HashMap<String, TextRange> = HashMap::new();
        let mut merges = Vec::new();
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            let (key_node, value_node) = match child.kind() {
                "block_mapping_pair" | "flow_pair" => {
                    (child.child_by_field_name("key"), child.child_by_field_name("value"))
                }
                "flow_node" => (Some(child), None),
                _ => continue,
            };
            let Some(key_node) = key_node else {
                continue;
            };
            let key_range = range_of(key_node);
            // A collection as a key is reported once (`yaml/complex-key`) and its entry left out: no
            // reader of Kubernetes YAML builds such a mapping.
            let Some(key) = self.key_text(key_node) else { continue };
            if key == "<<" && is_plain(key_node) {
                if let Some(value_node) = value_node {
                    let mut scratch = pointer.clone();
                    push_pointer_segment(&mut scratch, "<<");
                    merges.push(self.node_value(value_node, &mut scratch, Some(key_range), depth + 1));
                }
                continue;
            }
            let base_length = pointer.len();
            push_pointer_segment(pointer, &key);
            let value = match value_node {
                Some(value_node) => self.node_value(value_node, pointer, Some(key_range), depth + 1),
                None => {
                    self.record(pointer, Some(key_range), TextRange::empty(child.end_byte()));
                    Value::Null
                }
            };
            pointer.truncate(base_length);
            if let Some(first) = key_ranges.get(&key) {
                let first = *first;
                self.document.errors.push(SyntaxError {
                    code: Code::YamlDuplicateKey,
                    range: key_range,
                    message: format!("duplicate key `{key}`: Kubernetes rejects a mapping that sets a key twice"),
                    related: Some((first, "first defined here")),
                });
            } else {
                key_ranges.insert(key.clone(), key_range);
            }
            map.insert(key, value);
        }
        for merge in merges {
            let sources = match merge {
                Value::Array(items) => items,
                other => vec![other],
            };
            for source in sources {
                if let Value::Object(entries) = source {
                    for (key, value) in entries {
                        map.entry(key).or_insert(value);
                    }
                }
            }
        }
        Value::Object(map)
    }

    fn recover_root_mapping(&mut self, error: Node) -> Value {
        let mut cursor = error.walk();
        let pairs: Vec<Node> =
            error.named_children(&mut cursor).filter(|node| node.kind() == "block_mapping_pair").collect();
        let Some(first) = pairs.first() else { return Value::Null };
        let column = first.start_position().column;
        let mut map = Map::new();
        for pair in pairs.iter().filter(|pair| pair.start_position().column == column) {
            let (Some(key_node), value_node) = (pair.child_by_field_name("key"), pair.child_by_field_name("value"))
            else {
                continue;
            };
            let Some(key) = self.key_text(key_node) else { continue };
            let mut pointer = String::new();
            push_pointer_segment(&mut pointer, &key);
            let value = match value_node {
                Some(value_node) => self.node_value(value_node, &mut pointer, Some(range_of(key_node)), 1),
                None => Value::Null,
            };
            map.insert(key, value);
        }
        Value::Object(map)
    }

    fn sequence_value(&mut self, node: Node, pointer: &mut String, depth: usize) -> Value {
        let mut items = Vec::new();
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            let base_length = pointer.len();
            push_pointer_segment(pointer, &items.len().to_string());
            let value = match child.kind() {
                "block_sequence_item" => {
                    let mut inner = child.walk();
                    let item =
                        child.named_children(&mut inner).find(|node| matches!(node.kind(), "block_node" | "flow_node"));
                    match item {
                        Some(item) => self.node_value(item, pointer, None, depth + 1),
                        None => {
                            self.record(pointer, None, TextRange::empty(child.end_byte()));
                            Value::Null
                        }
                    }
                }
                "flow_node" => self.node_value(child, pointer, None, depth + 1),
                "flow_pair" => {
                    self.record(pointer, None, range_of(child));
                    let mut single = Map::new();
                    if let Some(key_node) = child.child_by_field_name("key")
                        && let Some(key) = self.key_text(key_node)
                    {
                        push_pointer_segment(pointer, &key);
                        let value = match child.child_by_field_name("value") {
                            Some(value_node) => {
                                self.node_value(value_node, pointer, Some(range_of(key_node)), depth + 2)
                            }
                            None => Value::Null,
                        };
                        single.insert(key, value);
                    }
                    Value::Object(single)
                }
                _ => {
                    pointer.truncate(base_length);
                    continue;
                }
            };
            pointer.truncate(base_length);
            items.push(value);
        }
        Value::Array(items)
    }

    /// The string form of a mapping key (JSON keys are strings); `None` for a collection, which is
    /// reported here.
    fn key_text(&mut self, key_node: Node) -> Option<String> {
        let mut scratch = String::new();
        let was_in_key = std::mem::replace(&mut self.in_key, true);
        let key = self.node_value(key_node, &mut scratch, None, MAX_DEPTH);
        self.in_key = was_in_key;
        Some(match key {
            Value::String(text) => text,
            Value::Null => {
                if self.slice(key_node).trim().is_empty() {
                    String::new()
                } else {
                    "null".to_string()
                }
            }
            Value::Bool(flag) => flag.to_string(),
            Value::Number(number) => number.to_string(),
            _ => {
                self.error(
                    Code::YamlComplexKey,
                    range_of(key_node),
                    "a mapping key must be a scalar in Kubernetes YAML",
                );
                return None;
            }
        })
    }

    fn slice(&self, node: Node) -> &str {
        self.text.get(node.byte_range()).unwrap_or_default()
    }
}

/// The ERROR node that stands for the whole document, when tree-sitter could not build one.
fn top_level_error(root: Node) -> Option<Node> {
    if root.kind() == "ERROR" {
        return Some(root);
    }
    let mut cursor = root.walk();
    let children: Vec<Node> = root.named_children(&mut cursor).collect();
    children.into_iter().find_map(|child| match child.kind() {
        "ERROR" => Some(child),
        "document" => {
            let mut inner = child.walk();

            child.named_children(&mut inner).find(|node| node.kind() == "ERROR")
        }
        _ => None,
    })
}

fn apply_tag(value: Value, tag: Option<&str>) -> Value {
    match (tag, &value) {
        (Some("!!str"), Value::Bool(_) | Value::Number(_) | Value::Null) => Value::String(value.to_string()),
        (Some("!!int" | "!!float"), Value::String(text)) => match scalar::resolve_plain(text) {
            number @ Value::Number(_) => number,
            _ => value,
        },
        _ => value,
    }
}

fn is_plain(node: Node) -> bool {
    let mut current = node;
    loop {
        if current.kind() == "plain_scalar" {
            return true;
        }
        match current.named_child(0) {
            Some(child) if current.named_child_count() == 1 => current = child,
            _ => return false,
        }
    }
}

fn count_nodes(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

pub(crate) fn range_of(node: Node) -> TextRange {
    TextRange::new(node.start_byte(), node.end_byte())
}

/// The number of spaces that start the line holding `offset`.
pub(crate) fn line_indent(text: &str, offset: usize) -> usize {
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |newline| newline + 1);
    text[line_start..].bytes().take_while(|&byte| byte == b' ').count()
}

/// Turns ERROR and MISSING nodes into readable messages, one per problem, on its first line.
fn collect_syntax_errors(text: &str, root: Node, errors: &mut Vec<SyntaxError>) {
    if !root.has_error() {
        return;
    }
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.is_missing() {
            let what = node.kind();
            let message = match what {
                "\"" | "'" => format!("unterminated string: add the closing `{what}`"),
                "]" | "}" => format!("unclosed flow collection: add the closing `{what}`"),
                _ => format!("missing `{what}`"),
            };
            errors.push(SyntaxError { code: Code::YamlSyntax, range: range_of(node), message, related: None });
            continue;
        }
        if node.is_error() {
            errors.push(describe_error_node(text, node));
            continue;
        }
        if node.has_error() {
            let mut cursor = node.walk();
            let children: Vec<Node> = node.children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
    }
    errors.sort_by_key(|error| error.range.start);
}

/// The message for a line that holds a key without its `:`.
pub(super) fn not_a_pair(line: &str) -> String {
    format!("`{line}` is not a `key: value` pair: add `:` after the key, or remove the line")
}

fn describe_error_node(text: &str, node: Node) -> SyntaxError {
    let start = node.start_byte();
    let full = text.get(node.byte_range()).unwrap_or_default();
    let first_line = full.lines().next().unwrap_or_default();
    let leading = first_line.len() - first_line.trim_start().len();
    let trimmed = first_line.trim();
    let range = TextRange::new(start + leading, start + leading + trimmed.len().max(1).min(full.len() - leading));
    let line_start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
    let indentation = &text[line_start..start];
    let message = if indentation.contains('\t') || trimmed.starts_with('\t') {
        "tabs are not allowed in YAML indentation; indent with spaces".to_string()
    } else if trimmed.is_empty() {
        "YAML syntax error".to_string()
    } else if !trimmed.contains(':') && !trimmed.starts_with(['-', '[', '{', '"', '\'', '#']) {
        not_a_pair(trimmed)
    } else if trimmed.starts_with('-') {
        format!("unexpected list item `{trimmed}`: check its indentation against its siblings")
    } else {
        format!("YAML syntax error at `{}`: check the indentation and the `key: value` structure", shorten(trimmed))
    };
    SyntaxError { code: Code::YamlSyntax, range, message, related: None }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= 40 {
        return text.to_string();
    }
    let cut: String = text.chars().take(39).collect();
    format!("{cut}…")
}
