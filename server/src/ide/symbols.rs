//! Document symbols: each document by kind and name, with its rules, tests, cases or results below it.

use super::workspace::FileData;
use crate::base::TextRange;
use crate::model::{DocumentKind, NamedPart, outline};
use crate::syntax::ParsedDocument;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    Policy,
    Rule,
    Test,
    Case,
    Template,
    Resource,
    /// A Rego module's package.
    Package,
    /// A Rego `import`.
    Import,
    /// A Rego function (a rule with arguments).
    Function,
}

/// An outline entry in editor terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub detail: Option<String>,
    pub kind: SymbolKind,
    /// The whole extent of the symbol.
    pub range: TextRange,
    /// The part to highlight when the symbol is picked (its name).
    pub selection_range: TextRange,
    pub children: Vec<Symbol>,
}

pub(super) fn document_symbols(file: &FileData) -> Vec<Symbol> {
    (0..file.documents.len()).filter_map(|index| document_symbol(file, index, true)).collect()
}

/// The outline entry of document `index`, with its children or (for workspace symbols) without; `None`
/// for a document that is nothing known, or empty.
pub(super) fn document_symbol(file: &FileData, index: usize, with_children: bool) -> Option<Symbol> {
    let info = file.documents.get(index)?;
    let segment = file.source.segments().get(index)?;
    if info.kind == DocumentKind::Other {
        return None;
    }
    let parsed = &segment.parsed;
    let range = parsed.source_map.get("")?.value.shifted(segment.start);
    let selection_range = ["/metadata/name", "/kind"]
        .iter()
        .find_map(|pointer| parsed.source_map.get(pointer))
        .map_or(range, |span| span.value.shifted(segment.start));
    let kind = symbol_kind(&info.kind);
    let child_kind = match kind {
        SymbolKind::Test => SymbolKind::Test,
        _ => SymbolKind::Rule,
    };
    let children = match with_children {
        true => outline(info, &parsed.value)
            .iter()
            .map(|part| part_symbol(parsed, segment.start, part, child_kind))
            .collect(),
        false => Vec::new(),
    };
    Some(Symbol { name: info.label(), detail: Some(info.api_version.clone()), kind, range, selection_range, children })
}

/// The symbol kind of a document kind.
pub(super) fn symbol_kind(kind: &DocumentKind) -> SymbolKind {
    match kind {
        DocumentKind::KyvernoPolicy | DocumentKind::KyvernoCelPolicy | DocumentKind::Constraint => SymbolKind::Policy,
        DocumentKind::ConstraintTemplate => SymbolKind::Template,
        DocumentKind::KyvernoTest | DocumentKind::GatorSuite => SymbolKind::Test,
        _ => SymbolKind::Resource,
    }
}

fn part_symbol(parsed: &ParsedDocument, base: usize, part: &NamedPart, kind: SymbolKind) -> Symbol {
    let span = parsed.source_map.get(&part.pointer);
    let range = span.map_or(TextRange::empty(base), |span| span.value.shifted(base));
    let selection_range = ["name", "policy", "message"]
        .iter()
        .find_map(|key| parsed.source_map.get(&format!("{}/{key}", part.pointer)))
        .map_or(range, |span| span.value.shifted(base));
    let child_kind = if kind == SymbolKind::Test { SymbolKind::Case } else { kind };
    Symbol {
        name: part.name.clone(),
        detail: part.detail.clone(),
        kind,
        range,
        selection_range,
        children: part.children.iter().map(|child| part_symbol(parsed, base, child, child_kind)).collect(),
    }
}
