//! Kyverno context entries and their uses: `rule.context[].name` (and a `foreach` entry's own `context`)
//! to and from the `{{ }}` JMESPath, `variable.jmesPath` and `foreach[].list` that read them in the same
//! rule. A name resolves to the nearest enclosing `context` that declares it, as Kyverno's scopes do.

use std::path::Path;

use serde_json::Value;

use super::embedded_code::{CodeRegion, Language, code_regions};
use super::jmespath_lex::{self, JmesKind};
use super::types::Location;
use super::workspace::Workspace;
use crate::base::TextRange;
use crate::syntax::Segment;
use crate::syntax::navigate::{Side, node_at};

/// A context entry: the object whose `context` list declares it, and its index there.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Declaration {
    scope: String,
    index: usize,
}

impl Declaration {
    fn name_pointer(&self) -> String {
        format!("{}/context/{}/name", self.scope, self.index)
    }
}

/// The declaration the cursor is on or refers to, with the segment it is in.
fn declaration_at<'a>(workspace: &'a Workspace, path: &Path, offset: usize) -> Option<(&'a Segment, Declaration)> {
    let file = workspace.file(path)?;
    let index = file.source.segment_at(offset)?;
    let segment = &file.source.segments()[index];
    let relative = offset.checked_sub(segment.start)?;
    let value = &segment.parsed.value;
    if let Some((pointer, _, Side::Value)) = node_at(&segment.parsed, relative)
        && let Some(declaration) = declaration_named_at(value, &pointer)
    {
        return Some((segment, declaration));
    }
    let info = &file.documents[index];
    for region in code_regions(segment, info) {
        if region.language != Language::JmesPath || !region.reads_context {
            continue;
        }
        let Some(span) = segment.parsed.source_map.get(&region.pointer) else { continue };
        if !span.value.contains_inclusive(relative) {
            continue;
        }
        let Some(decoded) = region.embedded.from_source(relative) else { continue };
        for (name, range) in root_names(&region) {
            if range.0 <= decoded && decoded <= range.1 {
                return Some((segment, resolve(value, &region.pointer, &name)?));
            }
        }
    }
    None
}

/// `.../context/N/name` as a declaration.
fn declaration_named_at(value: &Value, pointer: &str) -> Option<Declaration> {
    let rest = pointer.strip_suffix("/name")?;
    let (scope_and_context, index) = rest.rsplit_once('/')?;
    let scope = scope_and_context.strip_suffix("/context")?;
    let index = index.parse().ok()?;
    value.pointer(pointer)?.as_str()?;
    Some(Declaration { scope: scope.to_string(), index })
}

/// The root names read in a region, with their decoded ranges.
fn root_names(region: &CodeRegion) -> Vec<(String, (usize, usize))> {
    let mut names = Vec::new();
    for &(span_start, span_end) in &region.spans {
        let Some(body) = region.embedded.text.get(span_start..span_end) else { continue };
        for token in jmespath_lex::tokenize(body) {
            if token.kind == JmesKind::RootName {
                names.push((token.name(body).to_string(), (span_start + token.start, span_start + token.end)));
            }
        }
    }
    names
}

/// The nearest enclosing `context` list (from the node at `pointer` outwards) with an entry named `name`.
fn resolve(value: &Value, pointer: &str, name: &str) -> Option<Declaration> {
    let mut scope = pointer;
    while let Some(cut) = scope.rfind('/') {
        scope = &scope[..cut];
        let entries = value.pointer(scope).and_then(|holder| holder.get("context")).and_then(Value::as_array);
        let Some(entries) = entries else { continue };
        if let Some(index) = entries.iter().position(|entry| entry.get("name").and_then(Value::as_str) == Some(name)) {
            return Some(Declaration { scope: scope.to_string(), index });
        }
    }
    None
}

fn location(path: &Path, segment: &Segment, range: TextRange) -> Location {
    Location { path: path.to_path_buf(), range: range.shifted(segment.start) }
}

/// The declaration of the context entry under the cursor, when the cursor is on one or on a use of one.
pub(super) fn definition(workspace: &Workspace, path: &Path, offset: usize) -> Option<Vec<Location>> {
    let (segment, declaration) = declaration_at(workspace, path, offset)?;
    let span = segment.parsed.source_map.get(&declaration.name_pointer())?;
    Some(vec![location(path, segment, span.value)])
}

/// Every use of the context entry under the cursor in its scope (and its declaration when asked).
pub(super) fn references(
    workspace: &Workspace,
    path: &Path,
    offset: usize,
    include_declaration: bool,
) -> Option<Vec<Location>> {
    let (segment, declaration) = declaration_at(workspace, path, offset)?;
    let value = &segment.parsed.value;
    let name = value.pointer(&declaration.name_pointer())?.as_str()?.to_string();
    let mut found = Vec::new();
    if include_declaration && let Some(span) = segment.parsed.source_map.get(&declaration.name_pointer()) {
        found.push(location(path, segment, span.value));
    }
    let file = workspace.file(path)?;
    let index = file.source.segments().iter().position(|candidate| std::ptr::eq(candidate, segment))?;
    let inside = format!("{}/", declaration.scope);
    for region in code_regions(segment, &file.documents[index]) {
        if region.language != Language::JmesPath || !region.reads_context || !region.pointer.starts_with(&inside) {
            continue;
        }
        for (used, (start, end)) in root_names(&region) {
            if used == name && resolve(value, &region.pointer, &used).as_ref() == Some(&declaration) {
                let range = TextRange::new(region.embedded.to_source(start), region.embedded.to_source(end));
                found.push(location(path, segment, range));
            }
        }
    }
    found.sort_by_key(|location| location.range.start);
    Some(found)
}
