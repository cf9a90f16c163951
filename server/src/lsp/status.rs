//! `policy-lsp/status`: what the server is doing and how many policy files it holds, for an editor's
//! status item (indexing with a count, then ready; hidden where the workspace holds no policy). The
//! editor learns it from the server, which has scanned the workspace, instead of scanning it a second
//! time. Sent only to clients that ask for it with the experimental capability `policyLspStatus`, as
//! other clients would log a method they do not know.

use crossbeam_channel::Sender;
use lsp_server::{Message, Notification};

use super::state::{ServerState, Session, StatusParams};

/// The notification's method.
pub const METHOD: &str = "policy-lsp/status";

/// A scan starts: the state is "indexing" until it is loaded.
pub fn scan_started(session: &mut Session) {
    session.status.scans_running += 1;
    let indexing = StatusParams { state: ServerState::Indexing, files: 0, policy_files: 0 };
    if session.client.status_notifications
        && session.status.last_sent.is_none_or(|last| last.state != ServerState::Indexing)
    {
        session.status.last_sent = Some(indexing);
        send(&session.sender, indexing);
    }
}

/// A scan's files are loaded.
pub fn scan_loaded(session: &mut Session) {
    session.status.scans_running = session.status.scans_running.saturating_sub(1);
}

/// The sender to give a scan worker, so it can say how many files it found before it reads them.
pub fn sender_for_scan(session: &Session) -> Option<Sender<Message>> {
    session.client.status_notifications.then(|| session.sender.clone())
}

/// From a scan worker: the walk found `files` YAML and Rego files, which are being read now.
pub fn send_indexing(sender: &Sender<Message>, files: usize) {
    send(sender, StatusParams { state: ServerState::Indexing, files, policy_files: 0 });
}

/// Once no scan runs: "ready" with the counts of the files the analysis holds, sent when they changed
/// (and worked out again only when a file changed since the last time).
pub fn update(session: &mut Session) {
    let status = &session.status;
    if !session.client.status_notifications || !status.active || status.scans_running > 0 {
        return;
    }
    if status.counted_generation == Some(session.generation) {
        return;
    }
    session.status.counted_generation = Some(session.generation);
    let analysis = session.host.snapshot();
    let params = StatusParams {
        state: ServerState::Ready,
        files: analysis.file_count(),
        policy_files: analysis.policy_file_count(),
    };
    if session.status.last_sent != Some(params) {
        session.status.last_sent = Some(params);
        send(&session.sender, params);
    }
}

fn send(sender: &Sender<Message>, params: StatusParams) {
    let _ = sender.send(Message::Notification(Notification::new(METHOD.to_string(), params)));
}
