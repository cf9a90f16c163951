//! The workspace diagnostics pull: per-file result ids, and the request held while nothing changed.
//!
//! Each file has its own result id (see `ResultIds`), moved on when the file or what its diagnostics depend
//! on changes, so a pull after an edit re-computes and re-sends the edited file and its dependents and
//! answers "unchanged" for the others. VS Code's client asks for `workspace/diagnostic` again 2 s after every
//! answer: answering "unchanged" at once would keep the connection busy for as long as the editor idles.
//! The protocol lets a server keep the request open until it has something new, so a request whose previous
//! result ids all name the current state is parked here and answered (on a worker, like any other) once a
//! change moves one of them on; the client's `$/cancelRequest` and `shutdown` answer it at once.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use ls_types::WorkspaceDiagnosticParams;
use ls_types::request::{Request as _, WorkspaceDiagnosticRequest};
use lsp_server::{ErrorCode, Request, RequestId, Response, ResponseError};
use serde_json::json;

use super::from_proto;
use super::state::{ParkedPull, Session};
use crate::ide::Analysis;

/// The files a workspace pull reports, in order: every YAML file the analysis holds.
pub fn reported_paths(analysis: &Analysis) -> Vec<&PathBuf> {
    let mut paths: Vec<&PathBuf> = analysis
        .paths()
        .filter(|path| path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml"))
        .collect();
    paths.sort();
    paths
}

/// The result ids a client sent, by the path of their file.
pub fn previous_ids(params: &WorkspaceDiagnosticParams) -> HashMap<PathBuf, String> {
    params
        .previous_result_ids
        .iter()
        .map(|previous| (from_proto::path(&previous.uri), previous.value.clone()))
        .collect()
}

/// A file changed (its text, or whether it is open): its id, and those of its dependents once they are
/// worked out (see `settle`), move on.
pub fn file_changed(session: &mut Session, path: PathBuf) {
    if !session.client.push_diagnostics {
        session.pull_changed.push(path);
    }
}

/// Something any file's diagnostics may depend on changed: every id moves on.
pub fn everything_changed(session: &mut Session) {
    session.result_ids.touch_all();
    session.pull_changed.clear();
}

/// Background results (inline test runs, manifest verdicts) of these files were replaced.
pub fn results_replaced(session: &mut Session, paths: &[PathBuf]) {
    if !paths.is_empty() {
        session.result_ids.touch(paths.iter().cloned());
    }
}

/// Moves on the ids of the files changed since the last call and of every file that depends on one of them,
/// worked out against the current state (once per burst of keystrokes, and before a pull is looked at).
pub fn settle(session: &mut Session) {
    if session.pull_changed.is_empty() {
        return;
    }
    let mut changed = std::mem::take(&mut session.pull_changed);
    // A burst of keystrokes names its file once per keystroke.
    changed.sort();
    changed.dedup();
    let analysis = session.host.snapshot();
    let mut touched: Vec<PathBuf> = changed.clone();
    for path in &changed {
        touched.extend(analysis.dependents(path, analysis.paths(), &session.tests.run_list));
    }
    drop(analysis);
    session.result_ids.touch(touched);
}

/// The result id of the empty report that tells the client a file it holds results for is gone (deleted,
/// or closed and never saved): the client sends it back, and a file with that id needs nothing more.
pub const GONE_RESULT_ID: &str = "gone";

/// Whether the client's ids name the current diagnostics of every file a pull reports, and the others are
/// known to be gone. An open file the client sent no id for counts as unchanged: the client pulls its
/// diagnostics document by document, and VS Code's client leaves open files out of a workspace pull's ids,
/// so without this every pull while a file is open would be answered at once and asked again 2 s later.
fn all_unchanged(session: &Session, previous: &HashMap<PathBuf, String>) -> bool {
    let analysis = session.host.snapshot();
    let reported: HashSet<&PathBuf> = reported_paths(&analysis).into_iter().collect();
    reported.iter().all(|path| match previous.get(*path) {
        Some(id) => *id == session.result_ids.of(path),
        None => session.open.contains_key(*path),
    }) && previous.iter().all(|(path, id)| reported.contains(path) || id == GONE_RESULT_ID)
}

/// Parks a `workspace/diagnostic` request that would be answered with nothing but "unchanged"; gives
/// every other request back to be handled.
pub fn park_if_unchanged(session: &mut Session, request: Request) -> Option<Request> {
    if request.method != WorkspaceDiagnosticRequest::METHOD {
        return Some(request);
    }
    let Ok(params) = serde_json::from_value::<WorkspaceDiagnosticParams>(request.params.clone()) else {
        return Some(request);
    };
    settle(session);
    let previous = previous_ids(&params);
    // No previous ids: the client has nothing yet, and must get every file's report.
    if previous.is_empty() || !all_unchanged(session, &previous) {
        return Some(request);
    }
    let changes = session.result_ids.changes;
    if let Some(older) = session.parked_pull.replace(ParkedPull { request, previous, changes }) {
        // A client has one workspace pull open at a time; an older one is stale, and the client may ask
        // again whenever it likes (`retriggerRequest: false` keeps VS Code's client from reporting it).
        answer_cancelled(session, older.request.id, ErrorCode::ServerCancelled);
    }
    None
}

/// The parked request, once the id of a file it reports has moved on (to be handled as if it came now).
pub fn release_if_changed(session: &mut Session) -> Option<Request> {
    settle(session);
    let parked = session.parked_pull.as_ref()?;
    if parked.changes == session.result_ids.changes {
        return None;
    }
    if all_unchanged(session, &parked.previous) {
        // Only files it does not report moved on (a Rego file with no YAML test reading it): stay parked.
        let changes = session.result_ids.changes;
        if let Some(parked) = session.parked_pull.as_mut() {
            parked.changes = changes;
        }
        return None;
    }
    session.parked_pull.take().map(|parked| parked.request)
}

/// Answers the parked request when the client cancels it; whether it was the one.
pub fn cancel(session: &mut Session, id: &RequestId) -> bool {
    if session.parked_pull.as_ref().is_none_or(|parked| parked.request.id != *id) {
        return false;
    }
    session.parked_pull = None;
    answer_cancelled(session, id.clone(), ErrorCode::RequestCanceled);
    true
}

/// Answers the parked request before the server shuts down.
pub fn shut_down(session: &mut Session) {
    if let Some(parked) = session.parked_pull.take() {
        answer_cancelled(session, parked.request.id, ErrorCode::ServerCancelled);
    }
}

fn answer_cancelled(session: &Session, id: RequestId, code: ErrorCode) {
    let error = ResponseError {
        code: code as i32,
        message: "cancelled".to_string(),
        data: Some(json!({ "retriggerRequest": false })),
    };
    session.respond(Response { id, response_result: Err(error) });
}
