//! What a judged manifest's verdict shows beyond its diagnostics: the hover on an object's `kind:` line
//! (where its lens sits) listing every result with a link to its rule, and the mutation preview, the
//! manifest as the workspace's mutating policies would leave it. The preview is worked out with the
//! verdict, off the typing path, so lenses, hovers and the `policyLsp/mutatedManifest` request only look
//! it up.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::inline_tests::locate;
use super::types::HoverResult;
use super::workspace::Workspace;
use super::yaml_edits::line_start;
use crate::apply::{ApplyReport, Manifest, Status};
use crate::base::TextRange;
use crate::schema::Target;
use crate::syntax::emit::to_yaml;
use crate::testrun::SourceRef;
use crate::testrun::diff::line_diff;

/// The command of the "Preview mutations" lens and code action: the VS Code extension opens a diff of the
/// file against `policyLsp/mutatedManifest`'s text; other clients can bind it the same way.
pub const PREVIEW_MUTATIONS_COMMAND: &str = "policy-lsp.previewMutations";

/// What the mutating policies do to one object of a manifest file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutationPreview {
    /// The index of the object in the verdict's report.
    pub manifest: usize,
    /// How many fields the mutations add, change or remove.
    pub changes: usize,
    /// The differing lines only, between the object as written and as mutated (both rendered as YAML).
    pub diff: String,
    /// The policies whose mutations applied, in the order the Kyverno CLI runs them.
    pub policies: Vec<String>,
}

/// A manifest file as the mutating policies would leave it: the whole text, for a client's diff view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutatedManifest {
    /// The file's text with every mutated document rendered anew (documents without mutations stay as
    /// written, byte for byte).
    pub text: String,
    /// How many fields change in the whole file.
    pub changes: usize,
    /// The policies whose mutations applied to some object of the file.
    pub policies: Vec<String>,
}

/// The mutations of a report, one preview per changed object. The written object is compared after the
/// namespace defaulting the admission request applies (it is not a policy's doing), and that default is
/// left out of the mutated object again, so the preview shows only what the policies change.
pub(super) fn previews(report: &ApplyReport) -> Vec<MutationPreview> {
    let mut out = Vec::new();
    for mutation in &report.mutations {
        let Some(manifest) = report.manifests.get(mutation.manifest) else { continue };
        let mutated = as_written(manifest, &mutation.mutated);
        let mut changed = Vec::new();
        changed_fields(&manifest.object, &mutated, &mut String::new(), &mut changed);
        if changed.is_empty() {
            continue;
        }
        let diff =
            line_diff(&render(&manifest.object), &render(&mutated), 0, ("written", "mutated")).unwrap_or_default();
        out.push(MutationPreview {
            manifest: mutation.manifest,
            changes: changed.len(),
            diff,
            policies: mutation.policies.clone(),
        });
    }
    out
}

/// The mutated object without the namespace the admission request adds to an object that names none.
fn as_written(manifest: &Manifest, mutated: &Value) -> Value {
    let mut shown = mutated.clone();
    let written_namespace = manifest.object.pointer("/metadata/namespace");
    let defaulted =
        shown.pointer("/metadata/namespace").and_then(Value::as_str) == Some(manifest.id.namespace.as_str());
    if written_namespace.is_none()
        && defaulted
        && let Some(metadata) = shown.get_mut("metadata").and_then(Value::as_object_mut)
    {
        metadata.remove("namespace");
        if metadata.is_empty() && manifest.object.get("metadata").is_none() {
            shown.as_object_mut().map(|object| object.remove("metadata"));
        }
    }
    shown
}

/// The JSON pointers of the leaves that differ between two values: added, removed or changed fields, and
/// whole lists whose lengths differ.
fn changed_fields(before: &Value, after: &Value, pointer: &mut String, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            for key in old.keys().chain(new.keys().filter(|key| !old.contains_key(*key))) {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match (old.get(key), new.get(key)) {
                    (Some(left), Some(right)) => changed_fields(left, right, pointer, out),
                    _ => out.push(pointer.clone()),
                }
                pointer.truncate(length);
            }
        }
        (Value::Array(old), Value::Array(new)) if old.len() == new.len() => {
            for (index, (left, right)) in old.iter().zip(new).enumerate() {
                let length = pointer.len();
                let _ = write!(pointer, "/{index}");
                changed_fields(left, right, pointer, out);
                pointer.truncate(length);
            }
        }
        _ if before != after => out.push(pointer.clone()),
        _ => {}
    }
}

/// YAML in the object's own key order (serde_json keeps it), so the diff follows the written manifest,
/// with strings quoted where Kubernetes' YAML 1.1 would read them otherwise.
fn render(value: &Value) -> String {
    to_yaml(value)
}

/// The whole file as the mutating policies would leave it; `None` when nothing in it mutates. A mutated
/// document is rendered anew from its objects (a List with its items, mutated or not), after the lines
/// that open it (its `---` marker, comments and blank lines), which stay as written.
pub(super) fn mutated_manifest(
    workspace: &Workspace,
    path: &Path,
    report: &ApplyReport,
    previews: &[MutationPreview],
) -> Option<MutatedManifest> {
    if previews.is_empty() {
        return None;
    }
    let file = workspace.file(path)?;
    let text = file.source.text();
    let mutated_of = |index: usize| {
        let preview = previews.iter().find(|preview| preview.manifest == index)?;
        let mutation = report.mutations.iter().find(|mutation| mutation.manifest == preview.manifest)?;
        Some(as_written(&report.manifests[index], &mutation.mutated))
    };
    let mut documents: Vec<usize> =
        previews.iter().map(|preview| report.manifests[preview.manifest].at.document).collect();
    documents.sort();
    documents.dedup();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for document in documents {
        let Some(segment) = file.source.segments().get(document) else { continue };
        let (start, end) = (segment.start, segment.start + segment.text.len());
        let body = start + opening_lines(&segment.text);
        let objects: Vec<(usize, &Manifest)> =
            report.manifests.iter().enumerate().filter(|(_, manifest)| manifest.at.document == document).collect();
        let rendered = match objects.as_slice() {
            [(index, manifest)] if manifest.at.pointer.is_empty() => mutated_of(*index)?,
            _ => {
                let mut list = segment.parsed.value.clone();
                for (index, manifest) in &objects {
                    let object = mutated_of(*index).unwrap_or_else(|| manifest.object.clone());
                    if let Some(slot) = list.pointer_mut(&manifest.at.pointer) {
                        *slot = object;
                    }
                }
                list
            }
        };
        out.push_str(&text[copied..body]);
        out.push_str(&render(&rendered));
        copied = end;
    }
    out.push_str(&text[copied..]);
    let mut policies: Vec<String> = Vec::new();
    for preview in previews {
        for policy in &preview.policies {
            if !policies.contains(policy) {
                policies.push(policy.clone());
            }
        }
    }
    let changes = previews.iter().map(|preview| preview.changes).sum();
    Some(MutatedManifest { text: out, changes, policies })
}

/// The length of a document's opening lines: its `---` marker, comments and blank lines.
fn opening_lines(text: &str) -> usize {
    let mut offset = 0;
    while offset < text.len() {
        let end = line_end(text, offset);
        let line = text[offset..end].trim();
        if !(line.is_empty() || line.starts_with('#') || line == "---" || line.starts_with("--- ")) {
            break;
        }
        offset = end;
    }
    offset
}

/// The range of the line that holds an object's lens (its `kind:` line), for hovers and lenses alike.
pub(super) fn lens_line(workspace: &Workspace, manifest: &Manifest) -> Option<TextRange> {
    let range = locate(workspace, &manifest.place(""), Target::Object)?;
    let text = workspace.read(&manifest.at.file)?;
    let start = line_start(&text, range.start);
    let end = line_end(&text, range.start);
    let end = if text[..end].ends_with('\n') { end - 1 } else { end };
    Some(TextRange::new(start, end.max(start)))
}

/// The offset just past the line break of the line holding `offset` (or the text's end); unlike
/// `next_line_start`, an offset at the start of a line stands for that line, not the one before.
fn line_end(text: &str, offset: usize) -> usize {
    text[offset..].find('\n').map_or(text.len(), |newline| offset + newline + 1)
}

/// The hover on an object's `kind:` line: each result (policy, rule, result, message) with a link to the
/// rule, then the mutations as a diff of the differing lines. Clients show no hover on a lens, so the
/// line under it is where every client can ask.
pub(super) fn object_hover(
    workspace: &Workspace,
    report: &ApplyReport,
    previews: &[MutationPreview],
    offset: usize,
) -> Option<HoverResult> {
    for (index, manifest) in report.manifests.iter().enumerate() {
        let Some(range) = lens_line(workspace, manifest) else { continue };
        if offset < range.start || offset > range.end {
            continue;
        }
        let preview = previews.iter().find(|preview| preview.manifest == index);
        return Some(HoverResult { range, markdown: explain(workspace, report, index, preview) });
    }
    None
}

fn explain(workspace: &Workspace, report: &ApplyReport, index: usize, preview: Option<&MutationPreview>) -> String {
    let manifest = &report.manifests[index];
    let mut out = String::new();
    let _ = writeln!(out, "**Policies on `{}`**\n", manifest.id.display());
    let results: Vec<_> = report.results.iter().filter(|result| result.manifest == index).collect();
    if results.is_empty() {
        out.push_str("No policy of the workspace matches this object.\n");
    }
    for result in results {
        let mark = match result.status {
            Status::Pass => "✓",
            Status::Fail | Status::Error => "✗",
            Status::Warn | Status::Unsupported => "⚠",
            Status::Skip => "○",
        };
        let name = match &result.rule {
            Some(rule) => format!("{} / {rule}", result.policy),
            None => result.policy.clone(),
        };
        let subject = match result.policy_at.as_ref().and_then(|at| link(workspace, at)) {
            Some(target) => format!("[{name}]({target})"),
            None => format!("`{name}`"),
        };
        let _ = write!(out, "- {mark} {subject}: **{}**", result.status.as_str());
        if !result.message.is_empty() {
            let _ = write!(out, " — {}", result.message.replace('\n', " "));
        }
        out.push('\n');
    }
    if let Some(preview) = preview {
        let fields = if preview.changes == 1 { "1 field" } else { "fields" };
        let count = if preview.changes == 1 { String::new() } else { format!("{} ", preview.changes) };
        let _ = writeln!(out, "\n**Mutations** ({count}{fields}, by {})\n", preview.policies.join(", "));
        let _ = writeln!(out, "```diff\n{}```", preview.diff);
    }
    out
}

/// A `file://` link to a place, with the line as a `#L` fragment, which VS Code opens at that line (other
/// clients open the file).
fn link(workspace: &Workspace, at: &SourceRef) -> Option<String> {
    let range = locate(workspace, at, Target::Key)?;
    let text = workspace.read(&at.file)?;
    let line = text[..range.start.min(text.len())].matches('\n').count() + 1;
    Some(format!("{}#L{line}", file_uri(&at.file)))
}

/// A path as a `file://` URI, with the bytes a URI cannot hold percent-encoded.
fn file_uri(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = String::from("file://");
    if !text.starts_with('/') {
        out.push('/');
    }
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/:".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_fields_name_added_changed_and_removed_leaves() {
        let before = json!({"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"ports": [1, 2]}});
        let after =
            json!({"metadata": {"name": "web", "labels": {"app": "api", "team": "a/b"}}, "spec": {"ports": [1]}});
        let mut out = Vec::new();
        changed_fields(&before, &after, &mut String::new(), &mut out);
        assert_eq!(out, ["/metadata/labels/app", "/metadata/labels/team", "/spec/ports"]);
    }

    #[test]
    fn opening_lines_keep_the_marker_comments_and_blanks() {
        assert_eq!(opening_lines("---\n# web\n\nkind: Pod\n"), "---\n# web\n\n".len());
        assert_eq!(opening_lines("kind: Pod\n"), 0);
    }

    #[test]
    fn file_uris_encode_what_a_uri_cannot_hold() {
        assert_eq!(file_uri(Path::new("/w/my apps/web#1.yaml")), "file:///w/my%20apps/web%231.yaml");
    }
}
