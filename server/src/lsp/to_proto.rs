//! Conversions from the analysis's terms into protocol types.

use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticSeverity, DocumentSymbol, Location, NumberOrString, Position,
    Range, Uri,
};

use crate::base::{Diagnostic, LineIndex, PositionEncoding, Severity, TextRange};
use crate::ide::{Symbol, SymbolKind};

pub fn position(index: &LineIndex<'_>, offset: usize, encoding: PositionEncoding) -> Position {
    let line_col = index.line_col(offset, encoding);
    Position { line: line_col.line, character: line_col.column }
}

pub fn range(index: &LineIndex<'_>, range: TextRange, encoding: PositionEncoding) -> Range {
    Range { start: position(index, range.start, encoding), end: position(index, range.end, encoding) }
}

fn severity(severity: Severity) -> DiagnosticSeverity {
    match severity {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Info => DiagnosticSeverity::INFORMATION,
        Severity::Hint => DiagnosticSeverity::HINT,
    }
}

pub fn diagnostic(
    index: &LineIndex<'_>,
    encoding: PositionEncoding,
    own_uri: &Uri,
    diagnostic: Diagnostic,
) -> lsp::Diagnostic {
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .related
        .iter()
        .filter(|related| related.file.is_none())
        .map(|related| DiagnosticRelatedInformation {
            location: Location { uri: own_uri.clone(), range: range(index, related.range, encoding) },
            message: related.message.clone(),
        })
        .collect();
    let tags = if diagnostic.code == "schema/deprecated" || diagnostic.code == "schema/deprecated-version" {
        Some(vec![lsp::DiagnosticTag::DEPRECATED])
    } else {
        None
    };
    lsp::Diagnostic {
        range: range(index, diagnostic.range, encoding),
        severity: Some(severity(diagnostic.severity)),
        code: Some(NumberOrString::String(diagnostic.code.to_string())),
        source: Some("policy-lsp".to_string()),
        message: diagnostic.message,
        related_information: if related.is_empty() { None } else { Some(related) },
        tags,
        ..Default::default()
    }
}

#[allow(deprecated)]
pub fn document_symbol(index: &LineIndex<'_>, encoding: PositionEncoding, symbol: Symbol) -> DocumentSymbol {
    let kind = match symbol.kind {
        SymbolKind::Policy => lsp::SymbolKind::CLASS,
        SymbolKind::Rule => lsp::SymbolKind::METHOD,
        SymbolKind::Test => lsp::SymbolKind::MODULE,
        SymbolKind::Case => lsp::SymbolKind::FUNCTION,
        SymbolKind::Template => lsp::SymbolKind::INTERFACE,
        SymbolKind::Resource => lsp::SymbolKind::OBJECT,
    };
    let full = symbol.range;
    // The selection must lie inside the full range, as the protocol requires.
    let selection = if full.start <= symbol.selection_range.start && symbol.selection_range.end <= full.end {
        symbol.selection_range
    } else {
        full
    };
    DocumentSymbol {
        name: if symbol.name.is_empty() { "(unnamed)".to_string() } else { symbol.name },
        detail: symbol.detail,
        kind,
        tags: None,
        deprecated: None,
        range: range(index, full, encoding),
        selection_range: range(index, selection, encoding),
        children: Some(symbol.children.into_iter().map(|child| document_symbol(index, encoding, child)).collect()),
    }
}
