//! Whether a ConstraintTemplate generated from Rego sources still holds them. gatekeeper-library keeps
//! `src/<category>/<name>/src.rego` and generates `library/<category>/<name>/template.yaml` (or
//! `<category>/<name>/template.yaml`) from a `constraint.tmpl` that reads the file, indents it and trims its
//! final newline (gomplate's `file.Read | strings.Indent | strings.TrimSuffix`). So the two must agree token
//! for token once whitespace and comments are set aside; anything else is a hand edit or a stale template.

use std::path::{Path, PathBuf};

use super::workspace::Workspace;
use crate::base::{Code, Diagnostic};
use crate::engine::gatekeeper::lexer::tokenize;
use crate::engine::gatekeeper::rego_code;
use crate::syntax::Segment;

/// How many folders above the template's the search for a `src/` tree goes: the library's own layout
/// needs two (`library/<category>/<name>`), and a deeper walk would pair unrelated files.
const LEVELS_UP: usize = 4;

/// Where the `src.rego` a template at `path` was generated from can be: for an ancestor `A` of the
/// template's folder `A/R`, `A/src/R/src.rego`, or `A/src/R'/src.rego` when `R` starts with `library/`;
/// nearest first.
pub(super) fn source_candidates(path: &Path) -> Vec<PathBuf> {
    let Some(folder) = path.parent() else { return Vec::new() };
    let mut candidates = Vec::new();
    for ancestor in folder.ancestors().skip(1).take(LEVELS_UP) {
        let Ok(relative) = folder.strip_prefix(ancestor) else { continue };
        candidates.push(ancestor.join("src").join(relative).join("src.rego"));
        if let Ok(below_library) = relative.strip_prefix("library") {
            candidates.push(ancestor.join("src").join(below_library).join("src.rego"));
        }
    }
    candidates
}

/// The `src.rego` a template at `path` was generated from, when the workspace or the disk has one.
fn source_of(workspace: &Workspace, path: &Path) -> Option<(PathBuf, std::sync::Arc<str>)> {
    source_candidates(path).into_iter().find_map(|candidate| Some((candidate.clone(), workspace.read(&candidate)?)))
}

/// The Rego's tokens without whitespace, line breaks and comments: what the generator may change.
fn significant_tokens(text: &str) -> Vec<&str> {
    tokenize(text).into_iter().filter(|token| !token.is_trivia()).map(|token| token.text(text)).collect()
}

/// A warning on the template's Rego when it differs from the `src.rego` it was generated from.
pub(super) fn stale_template_diagnostics(
    workspace: &Workspace,
    path: &Path,
    segment: &Segment,
    out: &mut Vec<Diagnostic>,
) {
    let Some(code) = rego_code(&segment.parsed.value) else { return };
    let Some((source_path, source)) = source_of(workspace, path) else { return };
    if significant_tokens(&code.rego) == significant_tokens(&source) {
        return;
    }
    let Some(span) = segment.parsed.source_map.get(&code.rego_pointer) else { return };
    let name = source_path.file_name().map(|name| name.to_string_lossy().to_string()).unwrap_or_default();
    let folder = source_path.parent().map(|folder| folder.display().to_string()).unwrap_or_default();
    let message = format!(
        "this Rego differs from {name} in {folder}, which it is generated from (beyond whitespace and comments): \
         regenerate the template, or move the change into the source"
    );
    out.push(Diagnostic::new(Code::RegoStaleTemplate, span.key_or_value().shifted(segment.start), message));
}
