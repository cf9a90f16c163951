//! Where code in other languages sits inside a document: Rego in ConstraintTemplates, CEL expressions in
//! Kyverno and Gatekeeper kinds, and JMESPath in Kyverno's `{{ }}` strings, `jmesPath` fields and
//! `foreach[].list`. Each region comes with its decoded text and the map back to the file.

use serde_json::Value;

use super::jmespath_lex::variable_spans;
use crate::engine::kyverno_cel::diagnostics::expression_pointers;
use crate::model::{DocumentInfo, DocumentKind};
use crate::syntax::embedded::EmbeddedText;
use crate::syntax::{Segment, push_pointer_segment};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Language {
    Rego,
    Cel,
    JmesPath,
}

/// One scalar holding code.
pub(crate) struct CodeRegion {
    pub language: Language,
    /// Pointer of the scalar in its document.
    pub pointer: String,
    pub embedded: EmbeddedText,
    /// The code inside the decoded text: the whole text, or each `{{ }}` body of a templated string.
    pub spans: Vec<(usize, usize)>,
    /// The `{{` and `}}` around the bodies of a templated string.
    pub delimiters: Vec<(usize, usize)>,
    /// Whether root names in the code read the rule's context (false for an API call's `jmesPath`, which
    /// reads the response).
    pub reads_context: bool,
}

/// Every region of embedded code in a document, in no particular order.
pub(crate) fn code_regions(segment: &Segment, info: &DocumentInfo) -> Vec<CodeRegion> {
    let value = &segment.parsed.value;
    let mut regions = Vec::new();
    let uses_cel = matches!(
        info.kind,
        DocumentKind::KyvernoPolicy | DocumentKind::KyvernoCelPolicy | DocumentKind::ConstraintTemplate
    );
    let cel_pointers = if uses_cel { expression_pointers(value) } else { Vec::new() };
    for pointer in &cel_pointers {
        if let Some(region) = whole_region(segment, pointer, Language::Cel) {
            regions.push(region);
        }
    }
    match info.kind {
        DocumentKind::ConstraintTemplate => {
            for pointer in rego_pointers(value) {
                if let Some(region) = whole_region(segment, &pointer, Language::Rego) {
                    regions.push(region);
                }
            }
        }
        DocumentKind::KyvernoPolicy
        | DocumentKind::KyvernoCleanupPolicy
        | DocumentKind::KyvernoPolicyException
        | DocumentKind::KyvernoGlobalContextEntry => {
            let mut pointer = String::new();
            jmespath_regions(segment, value, &mut pointer, &cel_pointers, &mut regions, 0);
        }
        _ => {}
    }
    regions
}

fn whole_region(segment: &Segment, pointer: &str, language: Language) -> Option<CodeRegion> {
    let span = segment.parsed.source_map.get(pointer)?;
    segment.parsed.value.pointer(pointer)?.as_str()?;
    let embedded = EmbeddedText::from_node(&segment.text, span.value)?;
    let spans = vec![(0, embedded.text.len())];
    Some(CodeRegion {
        language,
        pointer: pointer.to_string(),
        embedded,
        spans,
        delimiters: Vec::new(),
        reads_context: true,
    })
}

/// The Rego texts of a template: every target's `rego` and `libs`, and `code[].source` of the Rego engine.
fn rego_pointers(template: &Value) -> Vec<String> {
    let mut pointers = Vec::new();
    let targets = template.pointer("/spec/targets").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (target_index, target) in targets.iter().enumerate() {
        let base = format!("/spec/targets/{target_index}");
        push_rego(target, &base, &mut pointers);
        for (code_index, code) in target.get("code").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if code.get("engine").and_then(Value::as_str) != Some("Rego") {
                continue;
            }
            if let Some(source) = code.get("source") {
                push_rego(source, &format!("{base}/code/{code_index}/source"), &mut pointers);
            }
        }
    }
    pointers
}

fn push_rego(holder: &Value, base: &str, pointers: &mut Vec<String>) {
    if holder.get("rego").is_some_and(Value::is_string) {
        pointers.push(format!("{base}/rego"));
    }
    for (index, lib) in holder.get("libs").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if lib.is_string() {
            pointers.push(format!("{base}/libs/{index}"));
        }
    }
}

/// JMESPath in a Kyverno document: `{{ }}` in any string, and the bare expressions of `jmesPath` fields
/// and `foreach[].list`.
fn jmespath_regions(
    segment: &Segment,
    value: &Value,
    pointer: &mut String,
    skip: &[String],
    out: &mut Vec<CodeRegion>,
    depth: usize,
) {
    if depth > crate::syntax::MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let length = pointer.len();
                push_pointer_segment(pointer, key);
                jmespath_regions(segment, child, pointer, skip, out, depth + 1);
                pointer.truncate(length);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let length = pointer.len();
                pointer.push_str(&format!("/{index}"));
                jmespath_regions(segment, child, pointer, skip, out, depth + 1);
                pointer.truncate(length);
            }
        }
        Value::String(text) => {
            if skip.iter().any(|cel| cel == pointer) {
                return;
            }
            let templated = text.contains("{{");
            let bare = !templated && is_bare_jmespath(pointer);
            if !templated && !bare {
                return;
            }
            let Some(span) = segment.parsed.source_map.get(pointer) else { return };
            let Some(embedded) = EmbeddedText::from_node(&segment.text, span.value) else { return };
            let (spans, delimiters) = if bare {
                (vec![(0, embedded.text.len())], Vec::new())
            } else {
                let found = variable_spans(&embedded.text);
                if found.is_empty() {
                    return;
                }
                let spans = found.iter().map(|(start, end)| (start + 2, end - 2)).collect();
                let delimiters = found.iter().flat_map(|(start, end)| [(*start, start + 2), (end - 2, *end)]).collect();
                (spans, delimiters)
            };
            let reads_context = templated || !pointer.ends_with("/jmesPath") || pointer.ends_with("/variable/jmesPath");
            out.push(CodeRegion {
                language: Language::JmesPath,
                pointer: pointer.clone(),
                embedded,
                spans,
                delimiters,
                reads_context,
            });
        }
        _ => {}
    }
}

/// Fields whose whole value is a JMESPath expression.
fn is_bare_jmespath(pointer: &str) -> bool {
    let mut parts = pointer.rsplit('/');
    match parts.next() {
        Some("jmesPath") => true,
        Some("list") => {
            parts.next().is_some_and(|index| index.parse::<usize>().is_ok()) && parts.next() == Some("foreach")
        }
        _ => false,
    }
}
