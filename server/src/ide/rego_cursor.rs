//! A cursor inside Rego, wherever the Rego is written: a `.rego` file, or a ConstraintTemplate's `rego`,
//! `libs` or `code[].source` scalar decoded from its YAML. The Rego providers (completion, hover,
//! definition) work on the decoded text and map offsets back to the file through this one type.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::cursor::Cursor;
use super::index;
use super::template_rego::{main_rego_packages, package_of_text, template_rego_pointers};
use super::workspace::{FileData, FileFacts, Workspace};
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
    pub template: Option<Cow<'a, Value>>,
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
            .map(|site| Cow::Owned(site.value().clone()));
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
        template: Some(Cow::Borrowed(template)),
        template_modules,
    })
}

/// A ConstraintTemplate of the workspace: its file (loaded, or read from disk for this look), document
/// index, and the pointer of its main Rego.
pub(super) struct TemplateSite {
    pub path: PathBuf,
    pub file: Arc<FileData>,
    pub index: usize,
    pub pointer: String,
}

impl TemplateSite {
    pub fn value(&self) -> &Value {
        &self.file.source.segments()[self.index].parsed.value
    }
}

/// The ConstraintTemplates the workspace knows, open or not, whose main Rego declares `package` (dotted,
/// without `data.`), sorted by file. The index's facts choose the files; only those are read.
pub(super) fn templates_with_package(workspace: &Workspace, package: &str) -> Vec<TemplateSite> {
    let declares = |facts: &FileFacts| {
        facts.documents.iter().any(|document| document.rego_packages.iter().any(|declared| &**declared == package))
    };
    let paths: Vec<PathBuf> = index::all_where(workspace, declares).map(|(path, _)| path.clone()).collect();
    let mut found = Vec::new();
    for path in paths {
        let Some(file) = workspace.load(&path) else { continue };
        for (index, info) in file.documents.iter().enumerate() {
            if info.kind != DocumentKind::ConstraintTemplate {
                continue;
            }
            let template = &file.source.segments()[index].parsed.value;
            let main = main_rego_packages(template).into_iter().find(|(_, declared)| declared == package);
            if let Some((pointer, _)) = main {
                found.push(TemplateSite { path: path.clone(), file: file.clone(), index, pointer });
            }
        }
    }
    found.sort_by(|left, right| left.path.cmp(&right.path).then(left.index.cmp(&right.index)));
    found
}
