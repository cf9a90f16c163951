//! The workspace diagnostics pull, held while nothing changed. VS Code's client asks for
//! `workspace/diagnostic` again 2 s after every answer: answering "unchanged" at once would keep the
//! connection busy for as long as the editor idles. The protocol lets a server keep the request open until
//! it has something new, so a request whose previous result ids all name the current state is parked here
//! and answered (on a worker, like any other) once a change makes the state newer; the client's
//! `$/cancelRequest` and `shutdown` answer it at once.

use ls_types::WorkspaceDiagnosticParams;
use ls_types::request::{Request as _, WorkspaceDiagnosticRequest};
use lsp_server::{ErrorCode, Request, RequestId, Response, ResponseError};
use serde_json::json;

use super::state::{ParkedPull, Session};

/// Parks a `workspace/diagnostic` request that would be answered with nothing but "unchanged"; gives
/// every other request back to be handled.
pub fn park_if_unchanged(session: &mut Session, request: Request) -> Option<Request> {
    if request.method != WorkspaceDiagnosticRequest::METHOD {
        return Some(request);
    }
    let Ok(params) = serde_json::from_value::<WorkspaceDiagnosticParams>(request.params.clone()) else {
        return Some(request);
    };
    let result_id = session.result_id();
    let previous = &params.previous_result_ids;
    // No previous ids: the client has nothing yet, and must get every file's report.
    if previous.is_empty() || previous.iter().any(|previous| previous.value != result_id) {
        return Some(request);
    }
    if let Some(older) = session.parked_pull.replace(ParkedPull { request, result_id }) {
        // A client has one workspace pull open at a time; an older one is stale, and the client may ask
        // again whenever it likes (`retriggerRequest: false` keeps VS Code's client from reporting it).
        answer_cancelled(session, older.request.id, ErrorCode::ServerCancelled);
    }
    None
}

/// The parked request, once the state has moved on from what it named (to be handled as if it came now).
pub fn release_if_changed(session: &mut Session) -> Option<Request> {
    let changed = session.parked_pull.as_ref().is_some_and(|parked| parked.result_id != session.result_id());
    if !changed {
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
