//! Diagnostics of languages embedded in YAML scalars: Rego in ConstraintTemplates (`rego`, `libs`,
//! `code[].source.rego`), placed on the exact line and column inside the scalar.

use crate::base::{Code, Diagnostic};
use crate::engine::gatekeeper::rego_diagnostics;
use crate::model::{DocumentInfo, DocumentKind};
use crate::syntax::Segment;
use crate::syntax::embedded::EmbeddedText;

pub(super) fn embedded_diagnostics(segment: &Segment, info: &DocumentInfo, out: &mut Vec<Diagnostic>) {
    if info.kind != DocumentKind::ConstraintTemplate || !segment.parsed.errors.is_empty() {
        return;
    }
    for problem in rego_diagnostics(&segment.parsed.value) {
        let Some(span) = segment.parsed.source_map.get(&problem.pointer) else { continue };
        let Some(embedded) = EmbeddedText::from_node(&segment.text, span.value) else { continue };
        let range = embedded.range_to_source(problem.line, problem.column, problem.end_line, problem.end_column);
        let code = if problem.rejects_template { Code::RegoCompile } else { Code::RegoDeprecated };
        out.push(Diagnostic::new(code, range.shifted(segment.start), problem.message));
    }
}
