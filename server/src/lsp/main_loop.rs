//! The main loop: one thread that owns the [`Session`]. It applies the client's notifications in the order
//! they were sent, hands requests to worker threads with a snapshot (the workers answer the client), and
//! publishes diagnostics once the messages that have already arrived are applied (a burst of keystrokes is
//! checked at its last version). Workers never touch the session: they report back here.

use std::process::ExitCode;

use crossbeam_channel::select;
use lsp_server::{ErrorCode, Message, Notification, Request, Response};

use super::dispatch::{NotificationDispatcher, RequestDispatcher};
use super::ext::MutatedManifestRequest;
use super::handlers::{lifecycle, notification, request};
use super::state::{Outgoing, Session};
use super::task::Task;
use super::transport::Connection;
use super::{config, manifest_rounds, publish, scan, status, test_rounds, workspace_pull};

/// The most messages applied before the work that follows from them starts, when more keep coming.
const MESSAGES_PER_FLUSH: usize = 16;

/// Runs the server until the client sends `exit` or goes away. The exit status follows the protocol: 0
/// only when `shutdown` came first.
pub fn run(connection: Connection) -> ExitCode {
    let mut session = Session::new(connection.sender.clone());
    let tasks = session.task_receiver.clone();
    let mut handled_since_flush = 0;
    loop {
        select! {
            recv(connection.receiver) -> message => {
                let Ok(message) = message else {
                    // The client closed its end without `exit`.
                    return ExitCode::FAILURE;
                };
                match message {
                    Message::Request(request) => handle_request(&mut session, request),
                    Message::Notification(notification) if notification.method == "exit" => {
                        return if session.shutdown_requested { ExitCode::SUCCESS } else { ExitCode::FAILURE };
                    }
                    Message::Notification(notification) => handle_notification(&mut session, notification),
                    Message::Response(response) => handle_response(&mut session, response),
                }
            }
            recv(tasks) -> task => {
                if let Ok(task) = task {
                    handle_task(&mut session, task);
                }
            }
        }
        // Work that follows from changes waits until every message already received has been applied, so a
        // burst of keystrokes is checked at its last version; in a long stream (an editor opening hundreds of
        // files) every few messages, so the workers check the first files while the main loop reads on.
        handled_since_flush += 1;
        if connection.receiver.is_empty() || handled_since_flush >= MESSAGES_PER_FLUSH {
            handled_since_flush = 0;
            publish::flush(&mut session);
            test_rounds::start(&mut session);
            manifest_rounds::start(&mut session);
            status::update(&mut session);
            if let Some(request) = workspace_pull::release_if_changed(&mut session) {
                handle_request(&mut session, request);
            }
        }
    }
}

fn handle_request(session: &mut Session, request: Request) {
    if !session.initialized && request.method != "initialize" {
        session.respond(Response::new_err(
            request.id,
            ErrorCode::ServerNotInitialized as i32,
            "the server is not initialized yet".to_string(),
        ));
        return;
    }
    if session.shutdown_requested {
        session.respond(Response::new_err(
            request.id,
            ErrorCode::InvalidRequest as i32,
            "the server is shutting down".to_string(),
        ));
        return;
    }
    let Some(request) = workspace_pull::park_if_unchanged(session, request) else { return };
    use ls_types::request::*;
    RequestDispatcher::new(session, request)
        .on_session::<Initialize>(lifecycle::initialize)
        .on_session::<Shutdown>(lifecycle::shutdown)
        .on_document::<HoverRequest>(request::hover)
        .on_document::<Completion>(request::completion)
        .on_document::<SignatureHelpRequest>(request::signature_help)
        .on_document::<GotoDefinition>(request::definition)
        .on_document::<References>(request::references)
        .on_document::<DocumentSymbolRequest>(request::document_symbols)
        .on_document::<FoldingRangeRequest>(request::folding_ranges)
        .on_document::<CodeActionRequest>(request::code_actions)
        .on_document::<MutatedManifestRequest>(request::mutated_manifest)
        .on_document::<SemanticTokensFullRequest>(request::semantic_tokens_full)
        .on_document::<SemanticTokensRangeRequest>(request::semantic_tokens_range)
        .on::<CodeLensRequest>(request::code_lenses)
        .on::<DocumentDiagnosticRequest>(request::document_diagnostics)
        .on::<WorkspaceSymbolRequest>(request::workspace_symbols)
        .on_background::<WorkspaceDiagnosticRequest>(request::workspace_diagnostics)
        .on_background_after::<ExecuteCommand>(request::prepare_command, request::execute_command)
        .finish();
}

fn handle_notification(session: &mut Session, notification: Notification) {
    if notification.method == "$/cancelRequest" {
        notification::cancel_request(session, notification.params);
        return;
    }
    // Before `initialize`, notifications are dropped, as the protocol asks.
    if !session.initialized {
        return;
    }
    use ls_types::notification::*;
    NotificationDispatcher::new(session, notification)
        .on::<Initialized>(lifecycle::initialized)
        .on::<DidOpenTextDocument>(notification::did_open)
        .on::<DidChangeTextDocument>(notification::did_change)
        .on::<DidSaveTextDocument>(notification::did_save)
        .on::<DidCloseTextDocument>(notification::did_close)
        .on::<DidChangeWatchedFiles>(notification::did_change_watched_files)
        .on::<DidChangeConfiguration>(notification::did_change_configuration)
        .on::<DidChangeWorkspaceFolders>(notification::did_change_workspace_folders)
        .finish();
}

/// An answer from the client to a request the server sent.
fn handle_response(session: &mut Session, response: Response) {
    let Some(purpose) = session.outgoing.remove(&response.id) else { return };
    match purpose {
        Outgoing::Configuration => {
            if let Ok(answer) = &response.response_result
                && let Some(settings) = config::settings_from_configuration(answer)
            {
                session.settings.client = settings;
            }
            notification::reload_settings(session);
        }
        Outgoing::ProgressCreated { scan } => scan::progress_created(session, scan, response.response_result.is_ok()),
        Outgoing::Ignored => {}
    }
}

fn handle_task(session: &mut Session, task: Task) {
    match task {
        Task::Diagnostics(publications) => publish::apply(session, publications),
        Task::TestRound { done, left, gone } => test_rounds::finished(session, done, left, gone),
        Task::ManifestRound { policies, done, left, gone } => {
            manifest_rounds::finished(session, policies, done, left, gone)
        }
        Task::Indexed { scan, facts, rego, done, total } => scan::indexed(session, scan, facts, rego, done, total),
        Task::Scanned { scan, files } => scan::finished(session, scan, files),
    }
}
