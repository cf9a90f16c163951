//! Conversions from the analysis's terms into protocol types.

use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticSeverity, DocumentSymbol, Location, NumberOrString, Position,
    Range, Uri,
};

use crate::base::{Code, Diagnostic, LineIndex, PositionEncoding, Severity, TextRange};
use crate::ide::{CompletionItem, CompletionKind, HoverResult, Symbol, SymbolKind};

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
    diagnostic_with_related(index, encoding, own_uri, diagnostic, &|_, _| None)
}

/// A diagnostic whose related places may lie in other files: `locate` turns such a place into a location
/// (or drops it when the file cannot be read).
pub fn diagnostic_with_related(
    index: &LineIndex<'_>,
    encoding: PositionEncoding,
    own_uri: &Uri,
    diagnostic: Diagnostic,
    locate: &dyn Fn(&std::path::Path, TextRange) -> Option<Location>,
) -> lsp::Diagnostic {
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .related
        .iter()
        .filter_map(|related| {
            let location = match &related.file {
                None => Location { uri: own_uri.clone(), range: range(index, related.range, encoding) },
                Some(file) => locate(file, related.range)?,
            };
            Some(DiagnosticRelatedInformation { location, message: related.message.clone() })
        })
        .collect();
    let tags = if matches!(diagnostic.code, Code::SchemaDeprecated | Code::SchemaDeprecatedVersion) {
        Some(vec![lsp::DiagnosticTag::DEPRECATED])
    } else {
        None
    };
    lsp::Diagnostic {
        range: range(index, diagnostic.range, encoding),
        severity: Some(severity(diagnostic.severity)),
        code: Some(NumberOrString::String(diagnostic.code.as_str().to_string())),
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

/// A completion item; snippets become plain text for clients that cannot expand them.
pub fn completion_item(
    index: &LineIndex<'_>,
    encoding: PositionEncoding,
    item: CompletionItem,
    snippets: bool,
) -> lsp::CompletionItem {
    let kind = match item.kind {
        CompletionKind::Field => lsp::CompletionItemKind::FIELD,
        CompletionKind::Value => lsp::CompletionItemKind::ENUM_MEMBER,
        CompletionKind::Kind => lsp::CompletionItemKind::CLASS,
        CompletionKind::Function => lsp::CompletionItemKind::FUNCTION,
        CompletionKind::File => lsp::CompletionItemKind::FILE,
        CompletionKind::Folder => lsp::CompletionItemKind::FOLDER,
    };
    let (text, format) = if item.is_snippet && snippets {
        (item.insert_text, lsp::InsertTextFormat::SNIPPET)
    } else if item.is_snippet {
        (plain_snippet(&item.insert_text), lsp::InsertTextFormat::PLAIN_TEXT)
    } else {
        (item.insert_text, lsp::InsertTextFormat::PLAIN_TEXT)
    };
    lsp::CompletionItem {
        label: item.label.clone(),
        kind: Some(kind),
        detail: item.detail,
        documentation: item.documentation.map(|value| {
            lsp::Documentation::MarkupContent(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value })
        }),
        tags: item.deprecated.then(|| vec![lsp::CompletionItemTag::DEPRECATED]),
        preselect: item.preselect.then_some(true),
        sort_text: Some(format!("{}{}", if item.preselect { "0" } else { "1" }, item.label)),
        filter_text: Some(item.label),
        insert_text_format: Some(format),
        text_edit: Some(lsp::CompletionTextEdit::Edit(lsp::TextEdit {
            range: range(index, item.replace, encoding),
            new_text: text,
        })),
        ..Default::default()
    }
}

/// Expands LSP snippet syntax into plain text: `${1|a,b|}` -> `a`, `${1:x}` -> `x`, `$0` -> ``.
fn plain_snippet(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len());
    let mut rest = snippet;
    while let Some(position) = rest.find('$') {
        out.push_str(&rest[..position]);
        let after = &rest[position + 1..];
        if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').unwrap_or(body.len());
            let inner = &body[..end];
            let placeholder = if let Some((_, choices)) = inner.split_once('|') {
                choices.trim_end_matches('|').split(',').next().unwrap_or("")
            } else if let Some((_, default)) = inner.split_once(':') {
                default
            } else {
                ""
            };
            out.push_str(placeholder);
            rest = body.get(end + 1..).unwrap_or("");
        } else {
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            rest = &after[digits..];
        }
    }
    out.push_str(rest);
    out
}

pub fn hover(index: &LineIndex<'_>, encoding: PositionEncoding, hover: HoverResult) -> lsp::Hover {
    lsp::Hover {
        contents: lsp::HoverContents::Markup(lsp::MarkupContent {
            kind: lsp::MarkupKind::Markdown,
            value: hover.markdown,
        }),
        range: Some(range(index, hover.range, encoding)),
    }
}

/// Signature help with its one signature, parameters labelled by their text in the signature.
pub fn signature_help(help: crate::ide::SignatureHelp) -> lsp::SignatureHelp {
    let active = u32::try_from(help.active_parameter).unwrap_or(u32::MAX);
    let parameters = help
        .parameters
        .into_iter()
        .map(|label| lsp::ParameterInformation { label: lsp::ParameterLabel::Simple(label), documentation: None })
        .collect();
    lsp::SignatureHelp {
        signatures: vec![lsp::SignatureInformation {
            label: help.label,
            documentation: help.documentation.map(|value| {
                lsp::Documentation::MarkupContent(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value })
            }),
            parameters: Some(parameters),
            active_parameter: Some(active),
        }],
        active_signature: Some(0),
        active_parameter: Some(active),
    }
}
