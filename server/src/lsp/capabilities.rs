//! What the client can do (read once from `initialize`) and what the server offers in return.

use std::path::PathBuf;

use ls_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CodeLensOptions, CompletionOptions,
    DiagnosticOptions, DiagnosticServerCapabilities, ExecuteCommandOptions, FoldingRangeProviderCapability,
    HoverProviderCapability, InitializeParams, OneOf, PositionEncodingKind, ResourceOperationKind,
    SemanticTokenModifier, SemanticTokenType, SemanticTokensFullOptions, SemanticTokensLegend, SemanticTokensOptions,
    SemanticTokensServerCapabilities, ServerCapabilities, SignatureHelpOptions, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, WorkDoneProgressOptions,
    WorkspaceFoldersServerCapabilities, WorkspaceServerCapabilities,
};
use serde_json::Value;

use crate::base::PositionEncoding;
use crate::ide::{HighlightTag, RUN_TESTS_COMMAND};

/// What the client supports and asked for, as the handlers need it.
#[derive(Clone, Debug)]
pub struct ClientFeatures {
    pub encoding: PositionEncoding,
    /// Diagnostics are pushed (`publishDiagnostics`) unless the client asked for pull mode.
    pub push_diagnostics: bool,
    pub pull_diagnostics: bool,
    /// The client registers file watchers when asked (`client/registerCapability`).
    pub watch_registration: bool,
    /// The client shows `$/progress` for a token it created (`window/workDoneProgress/create`).
    pub work_done_progress: bool,
    /// Completion items may use snippet syntax.
    pub snippets: bool,
    /// The client answers `workspace/configuration`.
    pub pull_configuration: bool,
    /// The client applies `documentChanges` with file creation.
    pub create_files: bool,
    /// The client re-asks for code lenses when told to (`workspace/codeLens/refresh`).
    pub lens_refresh: bool,
    /// The client re-pulls diagnostics when told to (`workspace/diagnostic/refresh`).
    pub diagnostic_refresh: bool,
    /// The client shows the server's state from `policy-lsp/status` (experimental capability
    /// `policyLspStatus`).
    pub status_notifications: bool,
}

impl Default for ClientFeatures {
    /// Before `initialize`: UTF-16 positions and pushed diagnostics, as the protocol's defaults are.
    fn default() -> ClientFeatures {
        ClientFeatures {
            encoding: PositionEncoding::Utf16,
            push_diagnostics: true,
            pull_diagnostics: false,
            watch_registration: false,
            work_done_progress: false,
            snippets: false,
            pull_configuration: false,
            create_files: false,
            lens_refresh: false,
            diagnostic_refresh: false,
            status_notifications: false,
        }
    }
}

impl ClientFeatures {
    pub fn from_initialize(params: &InitializeParams) -> ClientFeatures {
        let capabilities = &params.capabilities;
        let utf8 = capabilities
            .general
            .as_ref()
            .and_then(|general| general.position_encodings.as_ref())
            .is_some_and(|encodings| encodings.contains(&PositionEncodingKind::UTF8));
        let pull_supported = capabilities.text_document.as_ref().is_some_and(|text| text.diagnostic.is_some());
        let wants_pull = params
            .initialization_options
            .as_ref()
            .and_then(|options| options.get("diagnosticMode"))
            .and_then(Value::as_str)
            == Some("pull");
        let workspace = capabilities.workspace.as_ref();
        let edit = workspace.and_then(|workspace| workspace.workspace_edit.as_ref());
        let pull_diagnostics = pull_supported && wants_pull;
        ClientFeatures {
            encoding: if utf8 { PositionEncoding::Utf8 } else { PositionEncoding::Utf16 },
            push_diagnostics: !pull_diagnostics,
            pull_diagnostics,
            watch_registration: workspace
                .and_then(|workspace| workspace.did_change_watched_files.as_ref())
                .and_then(|watched| watched.dynamic_registration)
                .unwrap_or(false),
            work_done_progress: capabilities
                .window
                .as_ref()
                .and_then(|window| window.work_done_progress)
                .unwrap_or(false),
            snippets: capabilities
                .text_document
                .as_ref()
                .and_then(|text| text.completion.as_ref())
                .and_then(|completion| completion.completion_item.as_ref())
                .and_then(|item| item.snippet_support)
                .unwrap_or(false),
            pull_configuration: workspace.and_then(|workspace| workspace.configuration).unwrap_or(false),
            create_files: edit.and_then(|edit| edit.document_changes).unwrap_or(false)
                && edit
                    .and_then(|edit| edit.resource_operations.as_ref())
                    .is_some_and(|operations| operations.contains(&ResourceOperationKind::Create)),
            lens_refresh: workspace
                .and_then(|workspace| workspace.code_lens.as_ref())
                .and_then(|lens| lens.refresh_support)
                .unwrap_or(false),
            diagnostic_refresh: workspace
                .and_then(|workspace| workspace.diagnostics.as_ref())
                .and_then(|diagnostics| diagnostics.refresh_support)
                .unwrap_or(false),
            status_notifications: capabilities
                .experimental
                .as_ref()
                .and_then(|experimental| experimental.get("policyLspStatus"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

/// The workspace folders of `initialize`, or its root when it names no folders.
#[allow(deprecated)]
pub fn workspace_roots(params: &InitializeParams) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = params
        .workspace_folders
        .iter()
        .flatten()
        .filter_map(|folder| folder.uri.to_file_path().map(|path| path.into_owned()))
        .collect();
    if roots.is_empty()
        && let Some(path) = params.root_uri.as_ref().and_then(|uri| uri.to_file_path())
    {
        roots.push(path.into_owned());
    }
    roots
}

pub fn semantic_tokens_legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: HighlightTag::ALL.iter().map(|tag| SemanticTokenType::new(tag.name())).collect(),
        token_modifiers: vec![SemanticTokenModifier::DEFAULT_LIBRARY],
    }
}

pub fn server_capabilities(client: &ClientFeatures) -> ServerCapabilities {
    let diagnostic_provider = client.pull_diagnostics.then(|| {
        DiagnosticServerCapabilities::Options(DiagnosticOptions {
            identifier: Some("policy-lsp".to_string()),
            inter_file_dependencies: true,
            workspace_diagnostics: true,
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })
    });
    ServerCapabilities {
        position_encoding: Some(match client.encoding {
            PositionEncoding::Utf8 => PositionEncodingKind::UTF8,
            PositionEncoding::Utf16 => PositionEncodingKind::UTF16,
            PositionEncoding::Utf32 => PositionEncodingKind::UTF32,
        }),
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::INCREMENTAL),
            save: Some(TextDocumentSyncSaveOptions::Supported(true)),
            ..Default::default()
        })),
        document_symbol_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            // `.` for JMESPath paths, `(` for anchors in patterns, `/` for test-file paths.
            trigger_characters: Some([":", " ", ".", "(", "/"].map(str::to_string).to_vec()),
            ..Default::default()
        }),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".to_string(), ",".to_string()]),
            retrigger_characters: None,
            work_done_progress_options: WorkDoneProgressOptions::default(),
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        code_lens_provider: Some(CodeLensOptions { resolve_provider: Some(false) }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: semantic_tokens_legend(),
                range: Some(true),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                ..Default::default()
            },
        )),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![RUN_TESTS_COMMAND.to_string()],
            work_done_progress_options: WorkDoneProgressOptions::default(),
        }),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![
                CodeActionKind::QUICKFIX,
                CodeActionKind::REFACTOR_REWRITE,
                CodeActionKind::SOURCE,
            ]),
            ..Default::default()
        })),
        diagnostic_provider,
        workspace: Some(WorkspaceServerCapabilities {
            workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                supported: Some(true),
                change_notifications: Some(OneOf::Left(true)),
            }),
            file_operations: None,
        }),
        // Tells a client that asked for `policy-lsp/status` that it will come (an older server sends none).
        experimental: client.status_notifications.then(|| serde_json::json!({ "policyLspStatus": true })),
        ..Default::default()
    }
}
