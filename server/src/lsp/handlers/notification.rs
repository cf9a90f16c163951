//! The notifications, applied to the session on the main loop in the order the client sent them: document
//! sync, watched files, configuration, workspace folders and cancellation.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ls_types::notification::PublishDiagnostics;
use ls_types::request::{CodeLensRefresh, WorkspaceDiagnosticRefresh};
use ls_types::{
    DidChangeConfigurationParams, DidChangeTextDocumentParams, DidChangeWatchedFilesParams,
    DidChangeWorkspaceFoldersParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams, DidSaveTextDocumentParams,
    FileChangeType, PublishDiagnosticsParams,
};
use lsp_server::{ErrorCode, Response};
use serde_json::Value;

use super::lifecycle::request_settings;
use crate::base::{LineIndex, TextRange};
use crate::ide::config::is_config_file;
use crate::ide::{RegoFacts, TextEdit, facts_of_text};
use crate::lsp::config::settings_from_notification;
use crate::lsp::dispatch::cancelled_id;
use crate::lsp::from_proto;
use crate::lsp::state::{OpenDocument, Outgoing, Session};
use crate::lsp::workers::guarded;
use crate::lsp::{manifest_rounds, publish, scan, test_rounds, workspace_pull};
use crate::syntax::SourceFile;
use crate::testrun::opa::is_rego_file;
use crate::vfs::read_text;

pub fn did_open(session: &mut Session, params: DidOpenTextDocumentParams) {
    let document = params.text_document;
    let path = from_proto::path(&document.uri);
    // Trees are most of a file's memory and only edits need them: the first edit of a document parses
    // that document alone, and its tree is kept from then on.
    let source = guarded("parse", || SourceFile::new_without_trees(&document.text))
        .unwrap_or_else(|| SourceFile::new_without_trees(""));
    session.host.set_source(path.clone(), source);
    session.bump_generation();
    Arc::make_mut(&mut session.open)
        .insert(path.clone(), OpenDocument { uri: document.uri, version: document.version });
    changed(session, path);
}

pub fn did_change(session: &mut Session, params: DidChangeTextDocumentParams) {
    let path = from_proto::path(&params.text_document.uri);
    if !session.open.contains_key(&path) {
        return;
    }
    let encoding = session.client.encoding;
    for change in params.content_changes {
        // The file alone, not a snapshot of every file: a snapshot alive during the edit would make the
        // host copy its map of files.
        let Some(file) = session.host.snapshot().file(&path).cloned() else { break };
        let edit = match change.range {
            Some(range) => {
                let index = LineIndex::new(file.source.rope());
                TextEdit { range: from_proto::text_range(&index, range, encoding), text: change.text }
            }
            None => TextEdit { range: TextRange::new(0, file.source.len()), text: change.text },
        };
        let host = &mut session.host;
        let applied = catch_unwind(AssertUnwindSafe(|| host.apply_edits(&path, std::slice::from_ref(&edit))));
        if applied.is_err() {
            // Never lose an edit: rebuild the file from its text with the edit applied by hand.
            let mut text = file.source.text();
            let start = edit.range.start.min(text.len());
            let end = edit.range.end.min(text.len()).max(start);
            if text.is_char_boundary(start) && text.is_char_boundary(end) {
                text.replace_range(start..end, &edit.text);
            }
            session.host.set_file(path.clone(), &text);
        }
    }
    if let Some(open) = Arc::make_mut(&mut session.open).get_mut(&path) {
        open.version = params.text_document.version;
    }
    session.bump_generation();
    session.check_here.insert(path.clone());
    changed(session, path);
}

pub fn did_save(session: &mut Session, params: DidSaveTextDocumentParams) {
    let path = from_proto::path(&params.text_document.uri);
    if is_config_file(&path) {
        reload_settings(session);
    }
    session.changed.push(path);
}

pub fn did_close(session: &mut Session, params: DidCloseTextDocumentParams) {
    let path = from_proto::path(&params.text_document.uri);
    Arc::make_mut(&mut session.open).remove(&path);
    session.published.remove(&path);
    session.bump_generation();
    // The file stays known for cross-file checks, as it is on disk: by the facts of the saved text.
    index_from_disk(session, &path);
    session.notify::<PublishDiagnostics>(PublishDiagnosticsParams {
        uri: params.text_document.uri,
        diagnostics: Vec::new(),
        version: None,
    });
    test_rounds::queue(session, [path.clone()]);
    manifest_rounds::queue(session, [path.clone()]);
    workspace_pull::file_changed(session, path.clone());
    session.changed.push(path);
}

pub fn did_change_watched_files(session: &mut Session, params: DidChangeWatchedFilesParams) {
    let settings_changed = params.changes.iter().any(|change| is_config_file(&from_proto::path(&change.uri)));
    session.bump_generation();
    // A file appearing or disappearing can change any other's diagnostics (a test naming a missing file, a
    // chart's templates); a changed one, those of its dependents.
    if params.changes.iter().any(|change| change.typ != FileChangeType::CHANGED) {
        workspace_pull::everything_changed(session);
    }
    let mut paths = Vec::new();
    for change in params.changes {
        let path = from_proto::path(&change.uri);
        paths.push(path.clone());
        workspace_pull::file_changed(session, path.clone());
        if session.open.contains_key(&path) {
            continue;
        }
        if change.typ == FileChangeType::DELETED {
            session.host.forget_file(&path);
        } else {
            index_from_disk(session, &path);
        }
    }
    test_rounds::queue(session, paths.clone());
    manifest_rounds::queue(session, paths);
    if settings_changed {
        reload_settings(session);
        return;
    }
    let open = session.open_paths();
    publish::mark(session, open);
}

/// A file nobody has open, as it is on disk now: unloaded and known by its facts, or forgotten when it
/// cannot be read.
fn index_from_disk(session: &mut Session, path: &Path) {
    match read_text(path) {
        // A `.rego` file is known by its Rego facts (package, rules), not as YAML.
        Ok(text) if is_rego_file(path) => {
            let facts = guarded("indexing a file", || RegoFacts::of(&text)).unwrap_or_default();
            session.host.index_rego_file(path.to_path_buf(), facts);
        }
        Ok(text) => {
            let facts = guarded("indexing a file", || facts_of_text(path, &text)).unwrap_or_default();
            session.host.remove_file(path);
            session.host.index_files([(path.to_path_buf(), Arc::new(facts))]);
        }
        Err(_) => session.host.forget_file(path),
    }
}

pub fn did_change_configuration(session: &mut Session, params: DidChangeConfigurationParams) {
    match settings_from_notification(&params.settings) {
        Some(settings) => session.settings.client = settings,
        // Clients that send an empty notification expect the server to ask for the settings; the answer
        // reloads them again.
        None if session.client.pull_configuration => request_settings(session),
        None => {}
    }
    reload_settings(session);
}

pub fn did_change_workspace_folders(session: &mut Session, params: DidChangeWorkspaceFoldersParams) {
    for removed in params.event.removed {
        if let Some(path) = removed.uri.to_file_path() {
            let path = path.into_owned();
            session.roots.retain(|root| *root != path);
        }
    }
    let added: Vec<PathBuf> = params
        .event
        .added
        .iter()
        .filter_map(|folder| folder.uri.to_file_path().map(|path| path.into_owned()))
        .collect();
    session.roots.extend(added.iter().cloned());
    let configs = session.settings.configs(&session.roots);
    session.host.set_configs(configs);
    workspace_pull::everything_changed(session);
    scan::start(session, added);
}

/// `$/cancelRequest`: a request whose worker has not answered yet is answered as cancelled at once (its
/// worker skips it, or drops its answer); one already answered stays so.
pub fn cancel_request(session: &mut Session, params: Value) {
    let Some(id) = cancelled_id(params) else { return };
    if workspace_pull::cancel(session, &id) {
        return;
    }
    if let Some(claim) = session.pending_requests.remove(&id)
        && claim.cancel()
    {
        session.respond(Response::new_err(id, ErrorCode::RequestCanceled as i32, "cancelled".to_string()));
    }
}

/// Recomputes the settings of every root from `.policy-lsp.yaml` and the client, turns inline tests on or
/// off, and re-checks what is open.
pub fn reload_settings(session: &mut Session) {
    let configs = session.settings.configs(&session.roots);
    let inline = session.settings.inline_tests_option() && configs.iter().all(|config| config.tests_inline);
    session.host.set_configs(configs);
    session.bump_generation();
    workspace_pull::everything_changed(session);
    let turned_on = inline && !session.tests.enabled;
    if !inline && session.tests.enabled {
        session.tests.clear();
    }
    session.tests.enabled = inline;
    if turned_on {
        let paths: Vec<PathBuf> = session.host.snapshot().paths().cloned().collect();
        test_rounds::queue(session, paths);
    }
    let client = session.client.clone();
    if client.push_diagnostics {
        let open = session.open_paths();
        publish::mark(session, open);
    } else if client.diagnostic_refresh {
        session.send_request::<WorkspaceDiagnosticRefresh>((), Outgoing::Ignored);
    }
    if client.lens_refresh {
        session.send_request::<CodeLensRefresh>((), Outgoing::Ignored);
    }
}

/// A document changed: its tests re-run, it is re-checked, and so are the open files that depend on it.
fn changed(session: &mut Session, path: PathBuf) {
    test_rounds::queue(session, [path.clone()]);
    manifest_rounds::queue(session, [path.clone()]);
    publish::mark(session, [path.clone()]);
    workspace_pull::file_changed(session, path.clone());
    session.changed.push(path);
}
