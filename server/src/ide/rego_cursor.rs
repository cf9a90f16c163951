//! A cursor inside Rego, wherever the Rego is written: a `.rego` file, or a ConstraintTemplate's `rego`,
//! `libs` or `code[].source` scalar decoded from its YAML. The Rego providers (completion, hover,
//! definition) work on the decoded text and map offsets back to the file through this one type.

use std::path::Path;

use serde_json::Value;

use super::cursor::Cursor;
use super::workspace::Workspace;
use crate::base::TextRange;
use crate::model::DocumentKind;
use crate::syntax::embedded::EmbeddedText;
use crate::testrun::opa::is_rego_file;

/// Where a Rego text sits in its file.
pub(super) enum RegoPlace {
    /// The whole file is the Rego text.
    File(String),
    /// A YAML scalar: the start of its document in the file and the decoded scalar.
    Embedded { document_start: usize, embedded: EmbeddedText },
}

impl RegoPlace {
    /// The Rego text.
    pub fn text(&self) -> &str {
        match self {
            RegoPlace::File(text) => text,
            RegoPlace::Embedded { embedded, .. } => &embedded.text,
        }
    }

    /// A byte offset of the Rego text as a byte offset of the file.
    pub fn to_file(&self, offset: usize) -> usize {
        match self {
            RegoPlace::File(_) => offset,
            RegoPlace::Embedded { document_start, embedded } => document_start + embedded.to_source(offset),
        }
    }

    /// A range of the Rego text as a range of the file.
    pub fn range_to_file(&self, range: TextRange) -> TextRange {
        TextRange::new(self.to_file(range.start), self.to_file(range.end))
    }
}

/// A cursor inside a Rego text.
pub(super) struct RegoCursor<'a> {
    pub path: &'a Path,
    pub place: RegoPlace,
    /// The cursor's offset in the Rego text.
    pub offset: usize,
    /// The template whose Rego this is: the enclosing one for embedded Rego; for a `.rego` file, a
    /// template in the workspace whose Rego has the same package (the template generated from it).
    pub template: Option<&'a Value>,
    /// For embedded Rego, every Rego text of the enclosing template (its `rego` and `libs`), decoded.
    pub template_modules: Vec<RegoPlace>,
}

impl RegoCursor<'_> {
    pub fn text(&self) -> &str {
        self.place.text()
    }
}

/// Whether a JSON pointer names a Rego scalar of a ConstraintTemplate.
pub(super) fn is_rego_pointer(pointer: &str) -> bool {
    let parts: Vec<&str> = pointer.split('/').collect();
    matches!(
        parts.as_slice(),
        ["", "spec", "targets", _, "rego"]
            | ["", "spec", "targets", _, "libs", _]
            | ["", "spec", "targets", _, "code", _, "source", "rego"]
            | ["", "spec", "targets", _, "code", _, "source", "libs", _]
    )
}

/// The Rego cursor at a file cursor: in a `.rego` file, or inside a template's Rego scalar.
pub(super) fn rego_cursor<'a>(workspace: &'a Workspace, cursor: &Cursor<'a>) -> Option<RegoCursor<'a>> {
    if is_rego_file(cursor.path) {
        let text = workspace.file(cursor.path)?.source.text();
        let offset = cursor.offset.min(text.len());
        let package = package_of_text(&text);
        let template = package
            .and_then(|package| templates_with_package(workspace, &package).into_iter().next())
            .map(|site| site.2);
        return Some(RegoCursor {
            path: cursor.path,
            place: RegoPlace::File(text),
            offset,
            template,
            template_modules: Vec::new(),
        });
    }
    if cursor.info.kind != DocumentKind::ConstraintTemplate {
        return None;
    }
    let (segment, relative) = (cursor.segment, cursor.relative);
    let (pointer, span, _) = cursor.node()?;
    if !is_rego_pointer(pointer) || !span.value.contains_inclusive(relative) {
        return None;
    }
    let embedded = EmbeddedText::from_node(&segment.text, span.value)?;
    let offset = embedded.from_source(relative)?;
    let template = &segment.parsed.value;
    let template_modules = template_rego_pointers(template)
        .into_iter()
        .filter_map(|pointer| {
            let span = segment.parsed.source_map.get(&pointer)?;
            let embedded = EmbeddedText::from_node(&segment.text, span.value)?;
            Some(RegoPlace::Embedded { document_start: segment.start, embedded })
        })
        .collect();
    Some(RegoCursor {
        path: cursor.path,
        place: RegoPlace::Embedded { document_start: segment.start, embedded },
        offset,
        template: Some(template),
        template_modules,
    })
}

/// The pointers of every Rego scalar of a template.
pub(super) fn template_rego_pointers(template: &Value) -> Vec<String> {
    let mut pointers = Vec::new();
    for (index, target) in template.pointer("/spec/targets").and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        let base = format!("/spec/targets/{index}");
        if target.get("rego").is_some_and(Value::is_string) {
            pointers.push(format!("{base}/rego"));
        }
        for (lib, _) in target.get("libs").and_then(Value::as_array).into_iter().flatten().enumerate() {
            pointers.push(format!("{base}/libs/{lib}"));
        }
        for (code, entry) in target.get("code").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if entry.pointer("/source/rego").is_some_and(Value::is_string) {
                pointers.push(format!("{base}/code/{code}/source/rego"));
            }
            for (lib, _) in entry.pointer("/source/libs").and_then(Value::as_array).into_iter().flatten().enumerate() {
                pointers.push(format!("{base}/code/{code}/source/libs/{lib}"));
            }
        }
    }
    pointers
}

/// A ConstraintTemplate of the workspace: its file, document index, value, and the pointer of its main Rego.
pub(super) type TemplateSite<'a> = (&'a Path, usize, &'a Value, String);

/// The ConstraintTemplates the workspace holds whose main Rego (`rego`, or a `code` entry's `source.rego`)
/// declares `package` (dotted, without `data.`), sorted by file.
pub(super) fn templates_with_package<'a>(workspace: &'a Workspace, package: &str) -> Vec<TemplateSite<'a>> {
    let mut found: Vec<TemplateSite<'a>> = Vec::new();
    for (path, file) in workspace.files.iter() {
        for (index, info) in file.documents.iter().enumerate() {
            if info.kind != DocumentKind::ConstraintTemplate {
                continue;
            }
            let template = &file.source.segments()[index].parsed.value;
            let main = template_rego_pointers(template).into_iter().filter(|pointer| pointer.ends_with("/rego")).find(
                |pointer| {
                    let rego = template.pointer(pointer).and_then(Value::as_str).unwrap_or("");
                    package_of_text(rego).as_deref() == Some(package)
                },
            );
            if let Some(pointer) = main {
                found.push((path.as_path(), index, template, pointer));
            }
        }
    }
    found.sort_by(|left, right| left.0.cmp(right.0).then(left.1.cmp(&right.1)));
    found
}

/// The package a Rego text declares (dotted, without `data.`), read from its tokens; `None` without one.
pub(super) fn package_of_text(text: &str) -> Option<String> {
    crate::testrun::opa::package_of(text).strip_prefix("data.").map(str::to_string)
}
