//! Conversions from the analysis's terms into protocol types: positions, diagnostics, symbols, completion,
//! hover, signature help, code actions and lenses, semantic tokens and locations in any file.

use std::collections::HashMap;
use std::path::Path;

use ls_types::{
    self as lsp, CodeActionKind, CodeActionOrCommand, CreateFile, CreateFileOptions, DiagnosticRelatedInformation,
    DiagnosticSeverity, DocumentChangeOperation, DocumentChanges, DocumentSymbol, Location, NumberOrString, OneOf,
    OptionalVersionedTextDocumentIdentifier, Position, Range, ResourceOp, SemanticToken, TextDocumentEdit, Uri,
    WorkspaceEdit,
};
use serde_json::json;

use crate::base::{Code, Diagnostic, LineIndex, PositionEncoding, Severity, TextRange};
use crate::ide::{
    ActionKind, Analysis, CodeAction, CompletionItem, CompletionKind, FileChange, Highlight, HighlightTag, HoverResult,
    ManifestLens, PREVIEW_MUTATIONS_COMMAND, RUN_TESTS_COMMAND, Symbol, SymbolKind, TestLens,
};

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
    locate: &dyn Fn(&Path, TextRange) -> Option<Location>,
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
        SymbolKind::Package => lsp::SymbolKind::PACKAGE,
        SymbolKind::Import => lsp::SymbolKind::NAMESPACE,
        SymbolKind::Function => lsp::SymbolKind::FUNCTION,
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

/// A place in any file: one the analysis holds, or one it can read (a related place of a test result in a
/// file nobody opened); `None` when the file cannot be read or has no file URI.
pub fn location(analysis: &Analysis, encoding: PositionEncoding, path: &Path, range: TextRange) -> Option<Location> {
    let uri = Uri::from_file_path(path)?;
    let (start, end) = analysis.locate(path, range, encoding)?;
    let position = |place: crate::base::LineCol| Position { line: place.line, character: place.column };
    Some(Location { uri, range: Range { start: position(start), end: position(end) } })
}

/// A file's diagnostics, with related places in other files located through the analysis.
pub fn diagnostics(
    analysis: &Analysis,
    index: &LineIndex<'_>,
    encoding: PositionEncoding,
    uri: &Uri,
    diagnostics: Vec<Diagnostic>,
) -> Vec<lsp::Diagnostic> {
    let locate = |other: &Path, range| location(analysis, encoding, other, range);
    diagnostics
        .into_iter()
        .map(|diagnostic| diagnostic_with_related(index, encoding, uri, diagnostic, &locate))
        .collect()
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

/// Highlights as relative, delta-encoded tokens in the negotiated encoding.
pub fn semantic_tokens(
    index: &LineIndex<'_>,
    encoding: PositionEncoding,
    highlights: &[Highlight],
) -> Vec<SemanticToken> {
    let mut tokens = Vec::with_capacity(highlights.len());
    let (mut last_line, mut last_start) = (0u32, 0u32);
    for highlight in highlights {
        let start = index.line_col(highlight.range.start, encoding);
        let end = index.line_col(highlight.range.end, encoding);
        if end.line != start.line || end.column <= start.column {
            continue;
        }
        let token_type = HighlightTag::ALL.iter().position(|tag| *tag == highlight.tag).unwrap_or(0) as u32;
        let delta_line = start.line - last_line;
        let delta_start = if delta_line == 0 { start.column - last_start } else { start.column };
        tokens.push(SemanticToken {
            delta_line,
            delta_start,
            length: end.column - start.column,
            token_type,
            token_modifiers_bitset: u32::from(highlight.default_library),
        });
        (last_line, last_start) = (start.line, start.column);
    }
    tokens
}

/// A test lens, whose command re-runs its test file.
pub fn code_lens(index: &LineIndex<'_>, encoding: PositionEncoding, lens: TestLens) -> Option<lsp::CodeLens> {
    let uri = Uri::from_file_path(&lens.test_file)?;
    Some(lsp::CodeLens {
        range: range(index, lens.range, encoding),
        command: Some(lsp::Command {
            title: lens.title,
            command: RUN_TESTS_COMMAND.to_string(),
            arguments: Some(vec![json!({ "uri": uri.as_str() })]),
        }),
        data: None,
    })
}

/// A manifest's lens: the verdict's is a label only (its command names nothing to run, which clients show
/// as plain text; the hover on the line and the diagnostics carry the details); the mutations' opens the
/// preview of the file `uri` names.
pub fn manifest_lens(
    index: &LineIndex<'_>,
    encoding: PositionEncoding,
    uri: &Uri,
    lens: ManifestLens,
) -> lsp::CodeLens {
    let command = if lens.previews_mutations {
        preview_mutations_command(lens.title, uri)
    } else {
        lsp::Command { title: lens.title, command: String::new(), arguments: None }
    };
    lsp::CodeLens { range: range(index, lens.range, encoding), command: Some(command), data: None }
}

/// The command that opens the mutation preview of a manifest file, for its lens and its code action.
pub fn preview_mutations_command(title: String, uri: &Uri) -> lsp::Command {
    lsp::Command {
        title,
        command: PREVIEW_MUTATIONS_COMMAND.to_string(),
        arguments: Some(vec![json!({ "uri": uri.as_str() })]),
    }
}

pub fn action_kind(kind: ActionKind) -> CodeActionKind {
    match kind {
        ActionKind::QuickFix => CodeActionKind::QUICKFIX,
        ActionKind::RefactorRewrite => CodeActionKind::REFACTOR_REWRITE,
        ActionKind::Source => CodeActionKind::SOURCE,
    }
}

/// An action in protocol terms: plain `changes` for edits of existing files, `documentChanges` with the
/// create operations when it makes files. `None` when a file it names has no URI or is not loaded.
pub fn code_action(
    analysis: &Analysis,
    encoding: PositionEncoding,
    own_uri: &Uri,
    index: &LineIndex<'_>,
    action: CodeAction,
) -> Option<CodeActionOrCommand> {
    let creates = action.changes.iter().any(|change| matches!(change, FileChange::Create { .. }));
    let mut operations = Vec::new();
    let mut changes: HashMap<Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for change in action.changes {
        match change {
            FileChange::Edit { path, edits } => {
                let uri = Uri::from_file_path(&path)?;
                let file_index = analysis.line_index(&path)?;
                let edits: Vec<lsp::TextEdit> = edits
                    .into_iter()
                    .map(|edit| lsp::TextEdit { range: range(&file_index, edit.range, encoding), new_text: edit.text })
                    .collect();
                if creates {
                    operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                        text_document: OptionalVersionedTextDocumentIdentifier { uri, version: None },
                        edits: edits.into_iter().map(OneOf::Left).collect(),
                    }));
                } else {
                    changes.entry(uri).or_default().extend(edits);
                }
            }
            FileChange::Create { path, text } => {
                let uri = Uri::from_file_path(&path)?;
                operations.push(DocumentChangeOperation::Op(ResourceOp::Create(CreateFile {
                    uri: uri.clone(),
                    options: Some(CreateFileOptions { overwrite: Some(false), ignore_if_exists: Some(true) }),
                    annotation_id: None,
                })));
                let start = Position { line: 0, character: 0 };
                operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                    text_document: OptionalVersionedTextDocumentIdentifier { uri, version: None },
                    edits: vec![OneOf::Left(lsp::TextEdit { range: Range { start, end: start }, new_text: text })],
                }));
            }
        }
    }
    let edit = if creates {
        WorkspaceEdit { document_changes: Some(DocumentChanges::Operations(operations)), ..Default::default() }
    } else {
        WorkspaceEdit { changes: Some(changes), ..Default::default() }
    };
    let diagnostics = action.diagnostic.map(|found| vec![diagnostic(index, encoding, own_uri, found)]);
    Some(CodeActionOrCommand::CodeAction(lsp::CodeAction {
        title: action.title,
        kind: Some(action_kind(action.kind)),
        diagnostics,
        edit: Some(edit),
        is_preferred: action.preferred.then_some(true),
        ..Default::default()
    }))
}

/// A full document report without a result id.
pub fn full_document_report(items: Vec<lsp::Diagnostic>) -> lsp::DocumentDiagnosticReportResult {
    lsp::DocumentDiagnosticReportResult::Report(lsp::DocumentDiagnosticReport::Full(
        lsp::RelatedFullDocumentDiagnosticReport {
            related_documents: None,
            full_document_diagnostic_report: lsp::FullDocumentDiagnosticReport { result_id: None, items },
        },
    ))
}
