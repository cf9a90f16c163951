//! The protocol handlers. Document state sits behind a synchronous lock that every notification updates
//! before its first `.await`, so edits apply in the order the client sent them even though the transport
//! runs handlers concurrently.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use super::{from_proto, to_proto};
use crate::base::{LineIndex, PositionEncoding};
use crate::ide::{Analysis, AnalysisHost, TextEdit as HostEdit};
use crate::model::DocumentKind;
use crate::syntax::SourceFile;
use crate::vfs::{DiskFiles, read_text, walk_yaml_files};

static SHUTDOWN_REQUESTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the client sent `shutdown` (so `exit` should end with code 0).
pub fn shutdown_requested() -> bool {
    SHUTDOWN_REQUESTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// State shared by the handlers.
pub(super) struct State {
    pub(super) host: AnalysisHost,
    /// Open documents: their URI and the version the client last sent.
    pub(super) open: HashMap<PathBuf, (Uri, i32)>,
    pub(super) encoding: PositionEncoding,
    pub(super) roots: Vec<PathBuf>,
    pub(super) push_diagnostics: bool,
    pub(super) pull_diagnostics: bool,
    pub(super) watch_registration: bool,
    pub(super) work_done_progress: bool,
    pub(super) snippets: bool,
    pub(super) shut_down: bool,
    /// Bumped on every change of any file.
    pub(super) generation: u64,
    /// The generation each document's last published diagnostics were computed at: an older result
    /// never replaces a newer one.
    pub(super) published: HashMap<PathBuf, (u64, u64)>,
    /// Test runs shown inline, and the paths waiting for the test worker.
    pub(super) inline: super::inline::InlineState,
    /// Client support and settings for references, semantic tokens, code actions and configuration.
    pub(super) features: super::features::Features,
}

pub struct Server {
    pub(super) client: Client,
    pub(super) state: Arc<Mutex<State>>,
    /// Serialises publishing, so a result computed from an older state can never overtake a newer one.
    send_lock: Arc<tokio::sync::Mutex<()>>,
    /// Wakes the inline test worker.
    pub(super) tests_wakeup: Arc<tokio::sync::Notify>,
}

impl Server {
    pub fn new(client: Client) -> Server {
        let state = State {
            host: AnalysisHost::new(Arc::new(DiskFiles::default())),
            open: HashMap::new(),
            encoding: PositionEncoding::Utf16,
            roots: Vec::new(),
            push_diagnostics: true,
            pull_diagnostics: false,
            watch_registration: false,
            work_done_progress: false,
            snippets: false,
            shut_down: false,
            generation: 0,
            published: HashMap::new(),
            inline: super::inline::InlineState::default(),
            features: Default::default(),
        };
        Server {
            client,
            state: Arc::new(Mutex::new(state)),
            send_lock: Arc::new(tokio::sync::Mutex::new(())),
            tests_wakeup: Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Computes the diagnostics of open documents from one snapshot and pushes them with their versions.
    pub(super) async fn publish(&self, paths: Vec<PathBuf>) {
        // Let the edits that have already arrived apply first: a burst of keystrokes is then checked at
        // its last version, and the publications of the earlier edits find nothing left to do.
        tokio::task::yield_now().await;
        let (analysis, encoding, generation, targets, runs, runs_version) = {
            let state = self.state();
            if !state.push_diagnostics {
                return;
            }
            let targets: Vec<(PathBuf, Uri, i32)> = paths
                .into_iter()
                .filter(|path| {
                    // Skip what was already published for this state of the files and of the test runs.
                    let current = (state.generation, state.inline.version);
                    state.published.get(path).is_none_or(|&done| done < current)
                })
                .filter_map(|path| state.open.get(&path).cloned().map(|(uri, version)| (path, uri, version)))
                .collect();
            (
                state.host.snapshot(),
                state.encoding,
                state.generation,
                targets,
                state.inline.run_list(),
                state.inline.version,
            )
        };
        // Computed outside the state lock: edits keep flowing while diagnostics are worked out.
        let batch: Vec<(PathBuf, Uri, Vec<Diagnostic>, i32)> = targets
            .into_iter()
            .filter_map(|(path, uri, version)| {
                guarded("diagnostics", || lsp_diagnostics(&analysis, &runs, &path, &uri, encoding))
                    .map(|found| (path, uri, found, version))
            })
            .collect();
        let _sending = self.send_lock.lock().await;
        for (path, uri, diagnostics, version) in batch {
            {
                let mut state = self.state();
                let current_version = state.open.get(&path).map(|(_, version)| *version);
                let (last, last_runs) = state.published.get(&path).copied().unwrap_or((0, 0));
                // Drop results for a version the client has moved past, or older than what was sent: from an
                // older state of the files or from older test runs.
                if current_version != Some(version) || last > generation || last_runs > runs_version {
                    continue;
                }
                state.published.insert(path, (generation, runs_version));
            }
            self.client.publish_diagnostics(uri, diagnostics, Some(version)).await;
        }
    }

    /// Re-publishes other open documents whose diagnostics depend on other files (tests, suites,
    /// constraints), as a background follow-up to an edit.
    fn publish_dependents(&self, changed: PathBuf) {
        let paths: Vec<PathBuf> = {
            let state = self.state();
            let analysis = state.host.snapshot();
            let holds = |path: &PathBuf, kind: DocumentKind| {
                analysis.file(path).is_some_and(|file| file.documents.iter().any(|info| info.kind == kind))
            };
            // Only the open files whose diagnostics can change with `changed`: the tests that name it or
            // read it, and the constraints when it holds a template. Re-checking every open test on every
            // change would be quadratic when many are open.
            let naming: Vec<PathBuf> = analysis.test_files(Some(&changed)).into_iter().map(|(path, _)| path).collect();
            let changed_is_template = holds(&changed, DocumentKind::ConstraintTemplate);
            state
                .open
                .keys()
                .filter(|path| **path != changed)
                .filter(|path| {
                    naming.contains(path)
                        || state.inline.runs.get(*path).is_some_and(|run| run.depends_on(&changed))
                        || (changed_is_template && holds(path, DocumentKind::Constraint))
                })
                .cloned()
                .collect()
        };
        if paths.is_empty() {
            return;
        }
        let server = self.clone_handle();
        tokio::spawn(async move {
            server.publish(paths).await;
        });
    }

    pub(super) fn clone_handle(&self) -> Server {
        Server {
            client: self.client.clone(),
            state: self.state.clone(),
            send_lock: self.send_lock.clone(),
            tests_wakeup: self.tests_wakeup.clone(),
        }
    }

    async fn scan_workspace(&self, roots: Vec<PathBuf>) {
        let progress_supported = self.state().work_done_progress;
        if roots.is_empty() {
            return;
        }
        let token = NumberOrString::String("policy-lsp/scan".to_string());
        let progress = if progress_supported
            && self
                .client
                .send_request::<request::WorkDoneProgressCreate>(WorkDoneProgressCreateParams { token: token.clone() })
                .await
                .is_ok()
        {
            Some(self.client.progress(token, "Indexing policies").with_percentage(0).begin().await)
        } else {
            None
        };
        let settings = self.state().host.snapshot();
        let loaded = tokio::task::spawn_blocking(move || {
            let mut files = walk_yaml_files(&roots).unwrap_or_default();
            // `exclude` in .policy-lsp.yaml keeps vendored or generated trees out of the index.
            files.retain(|path| !settings.is_excluded(&crate::ide::normalize_path(path)));
            let mut loaded = Vec::with_capacity(files.len());
            for path in files {
                if let Ok(text) = read_text(&path) {
                    loaded.push((crate::ide::normalize_path(&path), SourceFile::new_without_trees(&text)));
                }
            }
            loaded
        })
        .await
        .unwrap_or_default();
        let count = loaded.len();
        {
            let mut state = self.state();
            for (path, source) in loaded {
                if !state.open.contains_key(&path) {
                    state.host.set_source(path, source);
                }
            }
            state.generation += 1;
        }
        if let Some(progress) = progress {
            progress.finish_with_message(format!("Indexed {count} YAML files")).await;
        }
        let open: Vec<PathBuf> = self.state().open.keys().cloned().collect();
        self.tests_changed(open.iter().cloned());
        self.publish(open).await;
    }
}

/// Runs `work` and turns a panic into `None`, so one bad request never takes the server down.
pub(super) fn guarded<T>(what: &str, work: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(value) => Some(value),
        Err(_) => {
            eprintln!("policy-lsp: internal error while computing {what}; the request was answered empty");
            None
        }
    }
}

/// A file's diagnostics: its own, then the inline test results that concern it.
fn lsp_diagnostics(
    analysis: &Analysis,
    runs: &[Arc<crate::ide::inline_tests::InlineRun>],
    path: &std::path::Path,
    uri: &Uri,
    encoding: PositionEncoding,
) -> Vec<Diagnostic> {
    let Some(file) = analysis.file(path) else { return Vec::new() };
    let index = LineIndex::new(file.source.rope());
    let mut diagnostics = analysis.diagnostics(path);
    diagnostics.extend(crate::ide::inline_tests::test_diagnostics(analysis, runs, path));
    let locate = |other: &std::path::Path, range| super::inline::locate_in(analysis, other, range, encoding);
    diagnostics
        .into_iter()
        .map(|diagnostic| to_proto::diagnostic_with_related(&index, encoding, uri, diagnostic, &locate))
        .collect()
}

fn client_supports_utf8(params: &InitializeParams) -> bool {
    params
        .capabilities
        .general
        .as_ref()
        .and_then(|general| general.position_encodings.as_ref())
        .is_some_and(|encodings| encodings.contains(&PositionEncodingKind::UTF8))
}

#[allow(deprecated)]
fn workspace_roots(params: &InitializeParams) -> Vec<PathBuf> {
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

impl LanguageServer for Server {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let utf8 = client_supports_utf8(&params);
        let pull_supported = params.capabilities.text_document.as_ref().is_some_and(|text| text.diagnostic.is_some());
        let wants_pull = params
            .initialization_options
            .as_ref()
            .and_then(|options| options.get("diagnosticMode"))
            .and_then(Value::as_str)
            == Some("pull");
        let watch_registration = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|workspace| workspace.did_change_watched_files.as_ref())
            .and_then(|watched| watched.dynamic_registration)
            .unwrap_or(false);
        let snippets = params
            .capabilities
            .text_document
            .as_ref()
            .and_then(|text| text.completion.as_ref())
            .and_then(|completion| completion.completion_item.as_ref())
            .and_then(|item| item.snippet_support)
            .unwrap_or(false);
        let work_done_progress =
            params.capabilities.window.as_ref().and_then(|window| window.work_done_progress).unwrap_or(false);
        let workspace_capabilities = params.capabilities.workspace.as_ref();
        let lens_refresh = workspace_capabilities
            .and_then(|workspace| workspace.code_lens.as_ref())
            .and_then(|lens| lens.refresh_support)
            .unwrap_or(false);
        let diagnostic_refresh = workspace_capabilities
            .and_then(|workspace| workspace.diagnostics.as_ref())
            .and_then(|diagnostics| diagnostics.refresh_support)
            .unwrap_or(false);
        let inline_tests = params
            .initialization_options
            .as_ref()
            .and_then(|options| options.get("inlineTests"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
        {
            let mut state = self.state();
            state.encoding = if utf8 { PositionEncoding::Utf8 } else { PositionEncoding::Utf16 };
            state.roots = workspace_roots(&params);
            // Files named by tests are read only inside the workspace folders.
            let files = DiskFiles::within(&state.roots);
            state.host.set_file_source(Arc::new(files));
            state.pull_diagnostics = pull_supported && wants_pull;
            state.push_diagnostics = !state.pull_diagnostics;
            state.watch_registration = watch_registration;
            state.work_done_progress = work_done_progress;
            state.snippets = snippets;
            state.inline.enabled = inline_tests;
            state.inline.lens_refresh = lens_refresh;
            state.inline.diagnostic_refresh = diagnostic_refresh;
            state.features = super::features::Features::from_initialize(&params);
            let configs = state.features.configs(&state.roots);
            // `tests.inline: false` in .policy-lsp.yaml or the editor's settings turns inline tests off too.
            state.inline.enabled = inline_tests && configs.iter().all(|config| config.tests_inline);
            state.host.set_configs(configs);
        }
        let diagnostic_provider = (pull_supported && wants_pull).then(|| {
            DiagnosticServerCapabilities::Options(DiagnosticOptions {
                identifier: Some("policy-lsp".to_string()),
                inter_file_dependencies: true,
                workspace_diagnostics: true,
                work_done_progress_options: WorkDoneProgressOptions::default(),
            })
        });
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(if utf8 { PositionEncodingKind::UTF8 } else { PositionEncodingKind::UTF16 }),
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
                        legend: super::features::semantic_tokens_legend(),
                        range: Some(true),
                        full: Some(SemanticTokensFullOptions::Bool(true)),
                        ..Default::default()
                    },
                )),
                folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: vec![super::commands::RUN_TESTS.to_string()],
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
                ..Default::default()
            },
            server_info: Some(ServerInfo {
                name: "policy-lsp".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        if self.state().watch_registration {
            let options = DidChangeWatchedFilesRegistrationOptions {
                watchers: vec![FileSystemWatcher {
                    glob_pattern: GlobPattern::String("**/*.{yaml,yml}".to_string()),
                    kind: None,
                }],
            };
            let registration = Registration {
                id: "policy-lsp/watch".to_string(),
                method: "workspace/didChangeWatchedFiles".to_string(),
                register_options: serde_json::to_value(options).ok(),
            };
            let client = self.client.clone();
            tokio::spawn(async move {
                let _ = client.register_capability(vec![registration]).await;
            });
        }
        // The scan waits on the client (progress tokens) and on the disk: run it beside the handlers so
        // `initialized` returns at once and a quick `shutdown`/`exit` is never held up by it.
        let roots = self.state().roots.clone();
        let server = self.clone_handle();
        tokio::spawn(async move { server.scan_workspace(roots).await });
        self.spawn_test_worker();
        if self.state().features.pull_configuration {
            let server = self.clone_handle();
            tokio::spawn(async move { server.reload_settings(true).await });
        }
    }

    async fn shutdown(&self) -> Result<()> {
        self.state().shut_down = true;
        SHUTDOWN_REQUESTED.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let document = params.text_document;
        let path = from_proto::path(&document.uri);
        {
            let text = document.text;
            // Trees are most of a file's memory and only edits need them: the first edit of a document
            // parses that document alone, and its tree is kept from then on. Parsed before taking the
            // lock, so a large file does not hold up the handlers that only read the state.
            let source = guarded("parse", || SourceFile::new_without_trees(&text))
                .unwrap_or_else(|| SourceFile::new_without_trees(""));
            let mut state = self.state();
            state.host.set_source(path.clone(), source);
            state.generation += 1;
            state.open.insert(path.clone(), (document.uri, document.version));
        }
        self.tests_changed([path.clone()]);
        self.publish(vec![path.clone()]).await;
        self.publish_dependents(path);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let path = from_proto::path(&params.text_document.uri);
        {
            let mut state = self.state();
            if !state.open.contains_key(&path) {
                return;
            }
            let encoding = state.encoding;
            for change in params.content_changes {
                let Some(file) = state.host.snapshot().file(&path).cloned() else { break };
                let edit = match change.range {
                    Some(range) => {
                        let index = LineIndex::new(file.source.rope());
                        HostEdit { range: from_proto::text_range(&index, range, encoding), text: change.text }
                    }
                    None => HostEdit { range: crate::base::TextRange::new(0, file.source.len()), text: change.text },
                };
                let result =
                    catch_unwind(AssertUnwindSafe(|| state.host.apply_edits(&path, std::slice::from_ref(&edit))));
                if result.is_err() {
                    // Never lose an edit: rebuild the file from its text with the edit applied by hand.
                    let mut text = file.source.text();
                    let start = edit.range.start.min(text.len());
                    let end = edit.range.end.min(text.len()).max(start);
                    if text.is_char_boundary(start) && text.is_char_boundary(end) {
                        text.replace_range(start..end, &edit.text);
                    }
                    state.host.set_file(path.clone(), &text);
                }
            }
            if let Some(entry) = state.open.get_mut(&path) {
                entry.1 = params.text_document.version;
            }
            state.generation += 1;
        }
        self.tests_changed([path.clone()]);
        self.publish(vec![path.clone()]).await;
        self.publish_dependents(path);
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        let path = from_proto::path(&params.text_document.uri);
        if crate::ide::config::is_config_file(&path) {
            self.reload_settings(false).await;
        }
        self.publish_dependents(path);
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let path = from_proto::path(&params.text_document.uri);
        {
            let mut state = self.state();
            state.open.remove(&path);
            state.published.remove(&path);
            state.generation += 1;
            // The file stays known for cross-file checks, as it is on disk; reload the saved text.
            match read_text(&path) {
                Ok(text) => state.host.set_file(path.clone(), &text),
                Err(_) => state.host.remove_file(&path),
            }
        }
        self.client.publish_diagnostics(params.text_document.uri, Vec::new(), None).await;
        self.tests_changed([path.clone()]);
        self.publish_dependents(path);
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let mut changed = Vec::new();
        let settings_changed =
            params.changes.iter().any(|change| crate::ide::config::is_config_file(&from_proto::path(&change.uri)));
        {
            let mut state = self.state();
            state.generation += 1;
            for change in params.changes {
                let path = from_proto::path(&change.uri);
                changed.push(path.clone());
                if state.open.contains_key(&path) {
                    continue;
                }
                if change.typ == FileChangeType::DELETED {
                    state.host.remove_file(&path);
                } else if let Ok(text) = read_text(&path) {
                    state.host.set_file(path, &text);
                }
            }
        }
        self.tests_changed(changed);
        if settings_changed {
            self.reload_settings(false).await;
            return;
        }
        let open: Vec<PathBuf> = self.state().open.keys().cloned().collect();
        self.publish(open).await;
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        let added = {
            let mut state = self.state();
            for removed in params.event.removed {
                if let Some(path) = removed.uri.to_file_path() {
                    let path = path.into_owned();
                    state.roots.retain(|root| *root != path);
                }
            }
            let added: Vec<PathBuf> = params
                .event
                .added
                .iter()
                .filter_map(|folder| folder.uri.to_file_path().map(|path| path.into_owned()))
                .collect();
            state.roots.extend(added.iter().cloned());
            let configs = state.features.configs(&state.roots);
            state.host.set_configs(configs);
            added
        };
        let server = self.clone_handle();
        tokio::spawn(async move { server.scan_workspace(added).await });
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        let path = from_proto::path(&params.text_document.uri);
        let (analysis, encoding) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding)
        };
        let symbols = guarded("document symbols", || {
            let file = analysis.file(&path)?;
            let index = LineIndex::new(file.source.rope());
            Some(
                analysis
                    .document_symbols(&path)
                    .into_iter()
                    .map(|symbol| to_proto::document_symbol(&index, encoding, symbol))
                    .collect::<Vec<_>>(),
            )
        })
        .flatten();
        Ok(symbols.map(DocumentSymbolResponse::Nested))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let position = params.text_document_position;
        let path = from_proto::path(&position.text_document.uri);
        let (analysis, encoding, snippets) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding, state.snippets)
        };
        let items = guarded("completion", || {
            let file = analysis.file(&path)?;
            let index = LineIndex::new(file.source.rope());
            let offset = from_proto::offset(&index, position.position, encoding);
            Some(
                analysis
                    .completions(&path, offset)
                    .into_iter()
                    .map(|item| to_proto::completion_item(&index, encoding, item, snippets))
                    .collect::<Vec<_>>(),
            )
        })
        .flatten();
        Ok(items.map(CompletionResponse::Array))
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let position = params.text_document_position_params;
        let path = from_proto::path(&position.text_document.uri);
        let (analysis, encoding, runs) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding, state.inline.run_list())
        };
        let hover = guarded("hover", || {
            let file = analysis.file(&path)?;
            let index = LineIndex::new(file.source.rope());
            let offset = from_proto::offset(&index, position.position, encoding);
            // On a results entry, what the test found comes first; the field's documentation follows.
            let result = crate::ide::inline_tests::result_hover(&analysis, &runs, &path, offset);
            let field = analysis.hover(&path, offset);
            let combined = match (result, field) {
                (Some(mut result), Some(field)) => {
                    result.markdown = format!("{}\n---\n\n{}", result.markdown, field.markdown);
                    result.range = field.range;
                    Some(result)
                }
                (result, field) => result.or(field),
            };
            combined.map(|hover| to_proto::hover(&index, encoding, hover))
        })
        .flatten();
        Ok(hover)
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        let position = params.text_document_position_params;
        let path = from_proto::path(&position.text_document.uri);
        let (analysis, encoding) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding)
        };
        let locations = guarded("definition", || {
            let file = analysis.file(&path)?;
            let index = LineIndex::new(file.source.rope());
            let offset = from_proto::offset(&index, position.position, encoding);
            let locations: Vec<Location> = analysis
                .definition(&path, offset)
                .into_iter()
                .filter_map(|location| super::features::location(&analysis, encoding, location))
                .collect();
            (!locations.is_empty()).then_some(locations)
        })
        .flatten();
        Ok(locations.map(GotoDefinitionResponse::Array))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri;
        let path = from_proto::path(&uri);
        let (analysis, encoding, create_files) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding, state.features.create_files)
        };
        let actions = guarded("code actions", || {
            let file = analysis.file(&path)?;
            let index = LineIndex::new(file.source.rope());
            let wanted = from_proto::text_range(&index, params.range, encoding);
            let mut actions = Vec::new();
            for diagnostic in analysis.diagnostics(&path) {
                let Some(fix) = diagnostic.fix.clone() else { continue };
                if diagnostic.range.end < wanted.start || diagnostic.range.start > wanted.end {
                    continue;
                }
                let edit = TextEdit { range: to_proto::range(&index, fix.range, encoding), new_text: fix.replacement };
                let lsp_diagnostic = to_proto::diagnostic(&index, encoding, &uri, diagnostic);
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: fix.title,
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![lsp_diagnostic]),
                    edit: Some(WorkspaceEdit {
                        changes: Some(std::collections::HashMap::from([(uri.clone(), vec![edit])])),
                        ..Default::default()
                    }),
                    is_preferred: Some(true),
                    ..Default::default()
                }));
            }
            let only = params.context.only.as_deref();
            actions.retain(|action| match action {
                CodeActionOrCommand::CodeAction(action) => {
                    action.kind.as_ref().is_none_or(|kind| super::features::kind_wanted(kind, only))
                }
                CodeActionOrCommand::Command(_) => true,
            });
            for action in analysis.code_actions(&path, wanted) {
                actions.extend(super::features::code_action(&analysis, encoding, &uri, create_files, action, only));
            }
            Some(actions)
        })
        .flatten();
        Ok(actions)
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        let path = from_proto::path(&params.text_document.uri);
        let analysis = self.state().host.snapshot();
        let ranges = guarded("folding ranges", || {
            let file = analysis.file(&path)?;
            let index = LineIndex::new(file.source.rope());
            let mut folds: Vec<FoldingRange> = analysis
                .folding_ranges(&path)
                .into_iter()
                .map(|range| {
                    let start = index.line_col(range.start, PositionEncoding::Utf8).line;
                    let end = index.line_col(range.end, PositionEncoding::Utf8).line;
                    FoldingRange {
                        start_line: start,
                        end_line: end,
                        kind: Some(FoldingRangeKind::Region),
                        ..Default::default()
                    }
                })
                .filter(|fold| fold.end_line > fold.start_line)
                .collect();
            folds.dedup_by(|left, right| left.start_line == right.start_line && left.end_line == right.end_line);
            Some(folds)
        })
        .flatten();
        Ok(ranges)
    }

    async fn symbol(&self, params: WorkspaceSymbolParams) -> Result<Option<WorkspaceSymbolResponse>> {
        let (analysis, encoding) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding)
        };
        let symbols = guarded("workspace symbols", || {
            analysis
                .workspace_symbols(&params.query)
                .into_iter()
                .filter_map(|(path, symbol)| {
                    let file = analysis.file(&path)?;
                    let index = LineIndex::new(file.source.rope());
                    let uri = Uri::from_file_path(&path)?;
                    let nested = to_proto::document_symbol(&index, encoding, symbol);
                    #[allow(deprecated)]
                    Some(SymbolInformation {
                        name: nested.name,
                        kind: nested.kind,
                        tags: None,
                        deprecated: None,
                        location: Location { uri, range: nested.selection_range },
                        container_name: nested.detail,
                    })
                })
                .collect::<Vec<_>>()
        });
        Ok(symbols.map(WorkspaceSymbolResponse::Flat))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        if params.command != super::commands::RUN_TESTS {
            return Err(tower_lsp_server::jsonrpc::Error::invalid_params(format!(
                "unknown command `{}`",
                params.command
            )));
        }
        let target = params
            .arguments
            .first()
            .and_then(|argument| argument.get("uri"))
            .and_then(Value::as_str)
            .and_then(|uri| uri.parse::<Uri>().ok())
            .map(|uri| from_proto::path(&uri));
        let analysis = self.state().host.snapshot();
        // The inline results of the file follow the explicit run too (a code lens click asks for both).
        match &target {
            Some(path) => self.tests_changed([path.clone()]),
            None => self.tests_changed(analysis.test_files(None).into_iter().map(|(path, _)| path)),
        }
        // Test runs evaluate policies: keep them off the async workers that answer typing.
        let report = tokio::task::spawn_blocking(move || {
            guarded("test run", || super::commands::run_tests(analysis, target)).unwrap_or(Value::Null)
        })
        .await
        .unwrap_or(Value::Null);
        Ok(Some(report))
    }

    async fn diagnostic(&self, params: DocumentDiagnosticParams) -> Result<DocumentDiagnosticReportResult> {
        let path = from_proto::path(&params.text_document.uri);
        let (analysis, encoding, runs) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding, state.inline.run_list())
        };
        let items =
            guarded("diagnostics", || lsp_diagnostics(&analysis, &runs, &path, &params.text_document.uri, encoding))
                .unwrap_or_default();
        Ok(DocumentDiagnosticReportResult::Report(DocumentDiagnosticReport::Full(
            RelatedFullDocumentDiagnosticReport {
                related_documents: None,
                full_document_diagnostic_report: FullDocumentDiagnosticReport { result_id: None, items },
            },
        )))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let path = from_proto::path(&params.text_document.uri);
        let (analysis, encoding, runs) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding, state.inline.run_list())
        };
        let lenses = guarded("code lenses", || super::inline::code_lenses(&analysis, &runs, &path, encoding));
        Ok(lenses)
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let position = params.text_document_position;
        let path = from_proto::path(&position.text_document.uri);
        let (analysis, encoding) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding)
        };
        let locations = guarded("references", || {
            let file = analysis.file(&path)?;
            let index = LineIndex::new(file.source.rope());
            let offset = from_proto::offset(&index, position.position, encoding);
            let found = analysis.references(&path, offset, params.context.include_declaration)?;
            Some(
                found
                    .into_iter()
                    .filter_map(|location| super::features::location(&analysis, encoding, location))
                    .collect::<Vec<_>>(),
            )
        })
        .flatten();
        Ok(locations)
    }

    async fn semantic_tokens_full(&self, params: SemanticTokensParams) -> Result<Option<SemanticTokensResult>> {
        let path = from_proto::path(&params.text_document.uri);
        let (analysis, encoding) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding)
        };
        let tokens = guarded("semantic tokens", || {
            let file = analysis.file(&path)?;
            let index = LineIndex::new(file.source.rope());
            let highlights = analysis.highlights(&path, None);
            Some(super::features::semantic_tokens(&index, encoding, &highlights))
        })
        .flatten();
        Ok(tokens.map(|data| SemanticTokensResult::Tokens(SemanticTokens { result_id: None, data })))
    }

    async fn semantic_tokens_range(
        &self,
        params: SemanticTokensRangeParams,
    ) -> Result<Option<SemanticTokensRangeResult>> {
        let path = from_proto::path(&params.text_document.uri);
        let (analysis, encoding) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding)
        };
        let tokens = guarded("semantic tokens", || {
            let file = analysis.file(&path)?;
            let index = LineIndex::new(file.source.rope());
            let range = from_proto::text_range(&index, params.range, encoding);
            let highlights = analysis.highlights(&path, Some(range));
            Some(super::features::semantic_tokens(&index, encoding, &highlights))
        })
        .flatten();
        Ok(tokens.map(|data| SemanticTokensRangeResult::Tokens(SemanticTokens { result_id: None, data })))
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        match super::features::settings_from_notification(&params.settings) {
            Some(settings) => {
                self.state().features.client_settings = settings;
                self.reload_settings(false).await;
            }
            // Clients that send an empty notification expect the server to ask for the settings.
            None => {
                let pull = self.state().features.pull_configuration;
                self.reload_settings(pull).await;
            }
        }
    }

    async fn workspace_diagnostic(&self, params: WorkspaceDiagnosticParams) -> Result<WorkspaceDiagnosticReportResult> {
        let (analysis, encoding, open, runs, result_id) = {
            let state = self.state();
            let result_id = format!("{}-{}", state.generation, state.inline.version);
            (state.host.snapshot(), state.encoding, state.open.clone(), state.inline.run_list(), result_id)
        };
        let previous: HashMap<Uri, String> =
            params.previous_result_ids.into_iter().map(|previous| (previous.uri, previous.value)).collect();
        // Every file of the workspace is checked: keep it off the async workers that answer typing.
        let items = tokio::task::spawn_blocking(move || {
            guarded("workspace diagnostics", || {
                let diagnose =
                    |path: &std::path::Path, uri: &Uri| lsp_diagnostics(&analysis, &runs, path, uri, encoding);
                super::features::workspace_diagnostics(&analysis, &open, &result_id, &previous, diagnose)
            })
            .unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        Ok(WorkspaceDiagnosticReportResult::Report(WorkspaceDiagnosticReport { items }))
    }

    async fn signature_help(&self, params: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        let position = params.text_document_position_params;
        let path = from_proto::path(&position.text_document.uri);
        let (analysis, encoding) = {
            let state = self.state();
            (state.host.snapshot(), state.encoding)
        };
        let help = guarded("signature help", || {
            let file = analysis.file(&path)?;
            let index = LineIndex::new(file.source.rope());
            let offset = from_proto::offset(&index, position.position, encoding);
            analysis.signature_help(&path, offset).map(to_proto::signature_help)
        })
        .flatten();
        Ok(help)
    }
}

impl Server {
    /// Recomputes the settings of every root from `.policy-lsp.yaml` and the client (asking it first when
    /// `pull`), then re-checks what is open.
    async fn reload_settings(&self, pull: bool) {
        if pull && let Some(settings) = super::features::pull_settings(&self.client).await {
            self.state().features.client_settings = settings;
        }
        let (open, push, refresh, tests_turned_on, lens_refresh) = {
            let mut state = self.state();
            let configs = state.features.configs(&state.roots);
            let inline = state.features.inline_tests_option() && configs.iter().all(|config| config.tests_inline);
            state.host.set_configs(configs);
            state.generation += 1;
            let turned_on = inline && !state.inline.enabled;
            if !inline && state.inline.enabled {
                state.inline.runs = Arc::new(HashMap::new());
                state.inline.pending.clear();
                state.inline.version += 1;
            }
            state.inline.enabled = inline;
            (
                state.open.keys().cloned().collect::<Vec<PathBuf>>(),
                state.push_diagnostics,
                state.features.diagnostic_refresh,
                turned_on.then(|| state.host.snapshot().paths().cloned().collect::<Vec<PathBuf>>()),
                state.inline.lens_refresh,
            )
        };
        if let Some(paths) = tests_turned_on {
            self.tests_changed(paths);
        }
        if push {
            self.publish(open).await;
        } else if refresh {
            let _ = self.client.workspace_diagnostic_refresh().await;
        }
        if lens_refresh {
            let _ = self.client.code_lens_refresh().await;
        }
    }
}
