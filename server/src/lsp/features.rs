//! Protocol glue for the editor features that live in `ide`: references and definitions that may point at
//! files the analysis has not loaded, semantic tokens, code actions with file creation, workspace
//! diagnostics, and the settings (`.policy-lsp.yaml`, `workspace/configuration`, initialization options).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{
    self as lsp, CodeActionKind, CodeActionOrCommand, ConfigurationItem, CreateFile, CreateFileOptions,
    DocumentChangeOperation, DocumentChanges, FullDocumentDiagnosticReport, InitializeParams, OneOf,
    OptionalVersionedTextDocumentIdentifier, ResourceOp, ResourceOperationKind, SemanticToken, SemanticTokenModifier,
    SemanticTokenType, SemanticTokensLegend, TextDocumentEdit, UnchangedDocumentDiagnosticReport, Uri,
    WorkspaceDocumentDiagnosticReport, WorkspaceEdit, WorkspaceFullDocumentDiagnosticReport,
    WorkspaceUnchangedDocumentDiagnosticReport,
};

use super::to_proto;
use crate::base::{LineIndex, PositionEncoding};
use crate::ide::config::Config;
use crate::ide::{ActionKind, Analysis, CodeAction, FileChange, Highlight, HighlightTag, Location};
use crate::vfs::read_config;

/// The section of `workspace/configuration` the server asks for.
pub const SETTINGS_SECTION: &str = "policy-lsp";

/// What the client can do for these features, and the settings it gave.
#[derive(Clone, Debug, Default)]
pub struct Features {
    /// The client answers `workspace/configuration`.
    pub pull_configuration: bool,
    /// The client applies `documentChanges` with file creation.
    pub create_files: bool,
    /// The client accepts `workspace/diagnostic/refresh`.
    pub diagnostic_refresh: bool,
    /// Settings from `initializationOptions`.
    pub initialization_settings: Value,
    /// Settings from `workspace/configuration` or `didChangeConfiguration`.
    pub client_settings: Value,
}

impl Features {
    pub fn from_initialize(params: &InitializeParams) -> Features {
        let workspace = params.capabilities.workspace.as_ref();
        let edit = workspace.and_then(|workspace| workspace.workspace_edit.as_ref());
        let create_files = edit.and_then(|edit| edit.document_changes).unwrap_or(false)
            && edit
                .and_then(|edit| edit.resource_operations.as_ref())
                .is_some_and(|operations| operations.contains(&ResourceOperationKind::Create));
        Features {
            pull_configuration: workspace.and_then(|workspace| workspace.configuration).unwrap_or(false),
            create_files,
            diagnostic_refresh: workspace
                .and_then(|workspace| workspace.diagnostics.as_ref())
                .and_then(|diagnostics| diagnostics.refresh_support)
                .unwrap_or(false),
            initialization_settings: params.initialization_options.clone().unwrap_or(Value::Null),
            client_settings: Value::Null,
        }
    }

    /// The `inlineTests` initialization option (on unless the client turned it off).
    pub fn inline_tests_option(&self) -> bool {
        self.initialization_settings.get("inlineTests").and_then(Value::as_bool).unwrap_or(true)
    }

    /// The settings of each root: its `.policy-lsp.yaml`, then the initialization options, then the
    /// client's settings on top. Without roots, the client's settings apply everywhere.
    pub fn configs(&self, roots: &[PathBuf]) -> Vec<Config> {
        let layered = |config: Config| {
            [&self.initialization_settings, &self.client_settings]
                .into_iter()
                .filter(|settings| settings.is_object())
                .fold(config, |config, settings| config.with_settings(settings))
        };
        if roots.is_empty() {
            return vec![layered(Config::empty(PathBuf::from("/")))];
        }
        roots.iter().map(|root| layered(read_config(root))).collect()
    }
}

/// Asks the client for the `policy-lsp` settings; `None` when it does not answer in time or says nothing.
pub async fn pull_settings(client: &Client) -> Option<Value> {
    let items = vec![ConfigurationItem { scope_uri: None, section: Some(SETTINGS_SECTION.to_string()) }];
    match tokio::time::timeout(Duration::from_secs(2), client.configuration(items)).await {
        Ok(Ok(values)) => values.into_iter().next().filter(Value::is_object),
        _ => None,
    }
}

/// The settings inside a `didChangeConfiguration` payload: `{"policy-lsp": {...}}`, or the VS Code
/// extension's `{"policyLsp": {"serverSettings": {...}}}`.
pub fn settings_from_notification(settings: &Value) -> Option<Value> {
    if let Some(section) = settings.get(SETTINGS_SECTION).filter(|section| section.is_object()) {
        return Some(section.clone());
    }
    let extension = settings.get("policyLsp")?;
    extension.get("serverSettings").filter(|inner| inner.is_object()).or(Some(extension)).cloned()
}

/// A location in protocol terms; files the analysis does not hold are read to place it.
pub fn location(analysis: &Analysis, encoding: PositionEncoding, location: Location) -> Option<lsp::Location> {
    super::inline::locate_in(analysis, &location.path, location.range, encoding)
}

pub fn semantic_tokens_legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: HighlightTag::ALL.iter().map(|tag| SemanticTokenType::new(tag.name())).collect(),
        token_modifiers: vec![SemanticTokenModifier::DEFAULT_LIBRARY],
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

fn action_kind(kind: ActionKind) -> CodeActionKind {
    match kind {
        ActionKind::QuickFix => CodeActionKind::QUICKFIX,
        ActionKind::RefactorRewrite => CodeActionKind::REFACTOR_REWRITE,
        ActionKind::Source => CodeActionKind::SOURCE,
    }
}

/// Whether an action's kind is among those the client asked for (`only`), by prefix.
pub fn kind_wanted(kind: &CodeActionKind, only: Option<&[CodeActionKind]>) -> bool {
    let Some(only) = only else { return true };
    only.iter()
        .any(|wanted| kind.as_str() == wanted.as_str() || kind.as_str().starts_with(&format!("{}.", wanted.as_str())))
}

/// An action in protocol terms. Actions that create files need a client that can; `None` otherwise.
pub fn code_action(
    analysis: &Analysis,
    encoding: PositionEncoding,
    own_uri: &Uri,
    create_files: bool,
    action: CodeAction,
    only: Option<&[CodeActionKind]>,
) -> Option<CodeActionOrCommand> {
    let kind = action_kind(action.kind);
    if !kind_wanted(&kind, only) {
        return None;
    }
    let creates = action.changes.iter().any(|change| matches!(change, FileChange::Create { .. }));
    if creates && !create_files {
        return None;
    }
    let mut operations = Vec::new();
    let mut changes: HashMap<Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for change in action.changes {
        match change {
            FileChange::Edit { path, edits } => {
                let uri = Uri::from_file_path(&path)?;
                let file = analysis.file(&path)?;
                let index = LineIndex::new(file.source.rope());
                let edits: Vec<lsp::TextEdit> = edits
                    .into_iter()
                    .map(|edit| lsp::TextEdit {
                        range: to_proto::range(&index, edit.range, encoding),
                        new_text: edit.text,
                    })
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
                let start = lsp::Position { line: 0, character: 0 };
                operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                    text_document: OptionalVersionedTextDocumentIdentifier { uri, version: None },
                    edits: vec![OneOf::Left(lsp::TextEdit { range: lsp::Range { start, end: start }, new_text: text })],
                }));
            }
        }
    }
    let edit = if creates {
        WorkspaceEdit { document_changes: Some(DocumentChanges::Operations(operations)), ..Default::default() }
    } else {
        WorkspaceEdit { changes: Some(changes), ..Default::default() }
    };
    let diagnostics = action.diagnostic.and_then(|diagnostic| {
        let file = analysis.file(&super::from_proto::path(own_uri))?;
        let index = LineIndex::new(file.source.rope());
        Some(vec![to_proto::diagnostic(&index, encoding, own_uri, diagnostic)])
    });
    Some(CodeActionOrCommand::CodeAction(lsp::CodeAction {
        title: action.title,
        kind: Some(kind),
        diagnostics,
        edit: Some(edit),
        is_preferred: action.preferred.then_some(true),
        ..Default::default()
    }))
}

/// The workspace diagnostic report: every YAML file the analysis holds. The result id names the state
/// (file generation and test runs), so a client asking again with nothing changed gets "unchanged" without
/// any work.
pub fn workspace_diagnostics(
    analysis: &Analysis,
    open: &HashMap<PathBuf, (Uri, i32)>,
    result_id: &str,
    previous: &HashMap<Uri, String>,
    diagnose: impl Fn(&Path, &Uri) -> Vec<lsp::Diagnostic>,
) -> Vec<WorkspaceDocumentDiagnosticReport> {
    let mut paths: Vec<&PathBuf> = analysis
        .paths()
        .filter(|path| path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml"))
        .collect();
    paths.sort();
    let mut reports = Vec::with_capacity(paths.len());
    for path in paths {
        let (uri, version) = match open.get(path) {
            Some((uri, version)) => (uri.clone(), Some(i64::from(*version))),
            None => match Uri::from_file_path(path) {
                Some(uri) => (uri, None),
                None => continue,
            },
        };
        if previous.get(&uri).map(String::as_str) == Some(result_id) {
            reports.push(WorkspaceDocumentDiagnosticReport::Unchanged(WorkspaceUnchangedDocumentDiagnosticReport {
                uri,
                version,
                unchanged_document_diagnostic_report: UnchangedDocumentDiagnosticReport {
                    result_id: result_id.to_string(),
                },
            }));
            continue;
        }
        let items = diagnose(path, &uri);
        reports.push(WorkspaceDocumentDiagnosticReport::Full(WorkspaceFullDocumentDiagnosticReport {
            uri,
            version,
            full_document_diagnostic_report: FullDocumentDiagnosticReport {
                result_id: Some(result_id.to_string()),
                items,
            },
        }));
    }
    reports
}
