//! One place for what every request shares, so a handler is a plain function of a snapshot and its
//! parameters: matching the method, decoding the parameters (InvalidParams when they do not decode), the
//! snapshot, the worker thread, the panic guard, cancellation (`$/cancelRequest` before a worker starts
//! the request answers it at once, and the worker then skips it), and for requests about a document its line index and the byte
//! offset of the position they name. Unknown requests get MethodNotFound; unknown notifications are
//! ignored, as the protocol asks.

use std::path::PathBuf;
use std::sync::Arc;

use ls_types::request::Request as LspRequest;
use ls_types::{
    CodeActionParams, CompletionParams, DocumentDiagnosticReportResult, DocumentSymbolParams, FoldingRangeParams,
    GotoDefinitionParams, HoverParams, Position, Range, ReferenceParams, SemanticTokensParams,
    SemanticTokensRangeParams, SignatureHelpParams, Uri, WorkspaceDiagnosticReport, WorkspaceDiagnosticReportResult,
};
use lsp_server::{ErrorCode, Message, Notification, Request, RequestId, Response, ResponseError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::state::{RequestClaim, Session, Snapshot};
use super::workers::guarded;
use super::{from_proto, to_proto};
use crate::base::{LineIndex, PositionEncoding, TextRange};

/// What a handler answers when it cannot compute its result: the document is unknown, or it panicked.
pub trait EmptyAnswer {
    fn empty() -> Self;
}

impl<T> EmptyAnswer for Option<T> {
    fn empty() -> Self {
        None
    }
}

impl EmptyAnswer for DocumentDiagnosticReportResult {
    fn empty() -> Self {
        to_proto::full_document_report(Vec::new())
    }
}

impl EmptyAnswer for WorkspaceDiagnosticReportResult {
    fn empty() -> Self {
        WorkspaceDiagnosticReportResult::Report(WorkspaceDiagnosticReport { items: Vec::new() })
    }
}

/// Request parameters that name a document, and maybe a position in it.
pub trait AtDocument {
    fn uri(&self) -> &Uri;
    fn position(&self) -> Option<Position> {
        None
    }
}

macro_rules! at_document {
    ($params:ty, |$it:ident| $uri:expr) => {
        impl AtDocument for $params {
            fn uri(&self) -> &Uri {
                let $it = self;
                &$uri
            }
        }
    };
    ($params:ty, |$it:ident| $uri:expr, $position:expr) => {
        impl AtDocument for $params {
            fn uri(&self) -> &Uri {
                let $it = self;
                &$uri
            }
            fn position(&self) -> Option<Position> {
                let $it = self;
                Some($position)
            }
        }
    };
}

at_document!(
    HoverParams,
    |it| it.text_document_position_params.text_document.uri,
    it.text_document_position_params.position
);
at_document!(CompletionParams, |it| it.text_document_position.text_document.uri, it.text_document_position.position);
at_document!(
    SignatureHelpParams,
    |it| it.text_document_position_params.text_document.uri,
    it.text_document_position_params.position
);
at_document!(
    GotoDefinitionParams,
    |it| it.text_document_position_params.text_document.uri,
    it.text_document_position_params.position
);
at_document!(ReferenceParams, |it| it.text_document_position.text_document.uri, it.text_document_position.position);
at_document!(DocumentSymbolParams, |it| it.text_document.uri);
at_document!(FoldingRangeParams, |it| it.text_document.uri);
at_document!(CodeActionParams, |it| it.text_document.uri);
at_document!(super::ext::MutatedManifestParams, |it| it.text_document.uri);
at_document!(SemanticTokensParams, |it| it.text_document.uri);
at_document!(SemanticTokensRangeParams, |it| it.text_document.uri);

/// The document a request is about, as the analysis holds it.
pub struct Document<'a> {
    pub path: PathBuf,
    pub uri: Uri,
    pub index: LineIndex<'a>,
    pub encoding: PositionEncoding,
    /// The byte offset of the request's position (0 for requests without one).
    pub offset: usize,
}

impl Document<'_> {
    pub fn text_range(&self, range: Range) -> TextRange {
        from_proto::text_range(&self.index, range, self.encoding)
    }
}

/// A handler's failure, answered as a JSON-RPC error.
pub fn invalid_params(message: String) -> ResponseError {
    ResponseError { code: ErrorCode::InvalidParams as i32, message, data: None }
}

/// Which worker pool a request runs on.
#[derive(Clone, Copy)]
enum Pool {
    Requests,
    Background,
}

pub struct RequestDispatcher<'a> {
    session: &'a mut Session,
    request: Option<Request>,
}

impl<'a> RequestDispatcher<'a> {
    pub fn new(session: &'a mut Session, request: Request) -> RequestDispatcher<'a> {
        RequestDispatcher { session, request: Some(request) }
    }

    /// A request that changes the session (`initialize`, `shutdown`), answered on the main loop.
    pub fn on_session<R: LspRequest>(
        &mut self,
        handler: fn(&mut Session, R::Params) -> Result<R::Result, ResponseError>,
    ) -> &mut Self {
        let Some((id, params)) = self.parse::<R>() else { return self };
        let session = &mut *self.session;
        let response = match guarded(R::METHOD, || handler(session, params)) {
            Some(Ok(result)) => ok_response(id, result),
            Some(Err(error)) => Response { id, response_result: Err(error) },
            None => internal_error(id, R::METHOD),
        };
        self.session.respond(response);
        self
    }

    /// A request answered from a snapshot on a request worker.
    pub fn on<R: LspRequest>(
        &mut self,
        handler: fn(&Snapshot, R::Params) -> Result<R::Result, ResponseError>,
    ) -> &mut Self
    where
        R::Result: EmptyAnswer,
    {
        self.spawn::<R>(Pool::Requests, handler)
    }

    /// A request that may take seconds (test runs, every file's diagnostics), answered from a snapshot on a
    /// background worker so typing is never queued behind it.
    pub fn on_background<R: LspRequest>(
        &mut self,
        handler: fn(&Snapshot, R::Params) -> Result<R::Result, ResponseError>,
    ) -> &mut Self
    where
        R::Result: EmptyAnswer,
    {
        self.spawn::<R>(Pool::Background, handler)
    }

    /// Like [`Self::on_background`], after `prepare` tells the session what the request means for it (a
    /// test run asked for also re-runs the inline results).
    pub fn on_background_after<R: LspRequest>(
        &mut self,
        prepare: fn(&mut Session, &R::Params),
        handler: fn(&Snapshot, R::Params) -> Result<R::Result, ResponseError>,
    ) -> &mut Self
    where
        R::Result: EmptyAnswer,
    {
        let Some(request) = self.request.take_if(|request| request.method == R::METHOD) else { return self };
        let id = request.id.clone();
        match serde_json::from_value::<R::Params>(request.params.clone()) {
            Ok(params) => {
                let session = &mut *self.session;
                if guarded(R::METHOD, || prepare(session, &params)).is_none() {
                    self.session.respond(internal_error(id, R::METHOD));
                    return self;
                }
            }
            Err(error) => {
                self.session.respond(Response { id, response_result: Err(invalid_params(error.to_string())) });
                return self;
            }
        }
        self.request = Some(request);
        self.spawn::<R>(Pool::Background, handler)
    }

    /// A request about a document, answered from a snapshot with the document's line index and the
    /// offset of its position; an empty answer when the analysis does not hold the document.
    pub fn on_document<R: LspRequest>(
        &mut self,
        handler: fn(&Snapshot, &Document<'_>, R::Params) -> R::Result,
    ) -> &mut Self
    where
        R::Params: AtDocument,
        R::Result: EmptyAnswer,
    {
        self.spawn_with::<R>(Pool::Requests, move |snapshot, params| {
            let path = from_proto::path(params.uri());
            // A file nobody has open is known by its facts alone: loaded from disk for this request.
            let Some(analysis) = snapshot.analysis.with_file(&path) else { return Ok(R::Result::empty()) };
            let snapshot = &Snapshot { analysis, ..snapshot.clone() };
            let Some(index) = snapshot.analysis.line_index(&path) else { return Ok(R::Result::empty()) };
            let encoding = snapshot.encoding();
            let offset = params.position().map_or(0, |position| from_proto::offset(&index, position, encoding));
            let document = Document { path, uri: params.uri().clone(), index, encoding, offset };
            Ok(handler(snapshot, &document, params))
        })
    }

    /// Answers a request no handler took with MethodNotFound.
    pub fn finish(&mut self) {
        if let Some(request) = self.request.take() {
            self.session.respond(Response::new_err(
                request.id,
                ErrorCode::MethodNotFound as i32,
                format!("unknown method `{}`", request.method),
            ));
        }
    }

    fn spawn<R: LspRequest>(
        &mut self,
        pool: Pool,
        handler: fn(&Snapshot, R::Params) -> Result<R::Result, ResponseError>,
    ) -> &mut Self
    where
        R::Result: EmptyAnswer,
    {
        self.spawn_with::<R>(pool, handler)
    }

    fn spawn_with<R: LspRequest>(
        &mut self,
        pool: Pool,
        compute: impl FnOnce(&Snapshot, R::Params) -> Result<R::Result, ResponseError> + Send + 'static,
    ) -> &mut Self
    where
        R::Result: EmptyAnswer,
    {
        let Some((id, params)) = self.parse::<R>() else { return self };
        let snapshot = self.session.snapshot();
        let pending = &mut self.session.pending_requests;
        if pending.len() >= 64 {
            pending.retain(|_, claim| claim.is_pending());
        }
        let claim = Arc::new(RequestClaim::default());
        pending.insert(id.clone(), claim.clone());
        // The worker answers the client itself: a request's answer needs no ordering with the rest, and
        // one hop less keeps completion and hover quick.
        let client = self.session.sender.clone();
        let job = move || {
            // Cancelled before it started: the main loop has answered it already.
            if claim.is_cancelled() {
                return;
            }
            let response = match guarded(R::METHOD, || compute(&snapshot, params)) {
                Some(Ok(result)) => ok_response(id, result),
                Some(Err(error)) => Response { id, response_result: Err(error) },
                None => ok_response(id, R::Result::empty()),
            };
            if claim.answer() {
                let _ = client.send(Message::Response(response));
            }
        };
        match pool {
            Pool::Requests => self.session.workers.requests.spawn(job),
            Pool::Background => self.session.workers.background.spawn(job),
        }
        self
    }

    /// The request's parameters, when it is for `R`; parameters that do not decode are answered with
    /// InvalidParams here.
    fn parse<R: LspRequest>(&mut self) -> Option<(RequestId, R::Params)> {
        let request = self.request.take_if(|request| request.method == R::METHOD)?;
        match serde_json::from_value(request.params) {
            Ok(params) => Some((request.id, params)),
            Err(error) => {
                self.session.respond(Response {
                    id: request.id,
                    response_result: Err(invalid_params(format!("invalid parameters for {}: {error}", R::METHOD))),
                });
                None
            }
        }
    }
}

fn ok_response(id: RequestId, result: impl serde::Serialize) -> Response {
    match serde_json::to_value(result) {
        Ok(value) => Response { id, response_result: Ok(value) },
        Err(error) => Response::new_err(id, ErrorCode::InternalError as i32, error.to_string()),
    }
}

fn internal_error(id: RequestId, method: &str) -> Response {
    Response::new_err(id, ErrorCode::InternalError as i32, format!("internal error while answering {method}"))
}

pub struct NotificationDispatcher<'a> {
    session: &'a mut Session,
    notification: Option<Notification>,
}

impl<'a> NotificationDispatcher<'a> {
    pub fn new(session: &'a mut Session, notification: Notification) -> NotificationDispatcher<'a> {
        NotificationDispatcher { session, notification: Some(notification) }
    }

    /// Applies a notification to the session, on the main loop, in the order the client sent it.
    pub fn on<N: ls_types::notification::Notification>(&mut self, handler: fn(&mut Session, N::Params)) -> &mut Self
    where
        N::Params: DeserializeOwned,
    {
        let Some(notification) = self.notification.take_if(|notification| notification.method == N::METHOD) else {
            return self;
        };
        match serde_json::from_value::<N::Params>(notification.params) {
            Ok(params) => {
                let session = &mut *self.session;
                let _ = guarded(N::METHOD, || handler(session, params));
            }
            Err(error) => {
                eprintln!("policy-lsp: dropped a {} notification with invalid parameters: {error}", N::METHOD)
            }
        }
        self
    }

    /// Notifications no handler took are ignored (`$/` ones are optional by definition).
    pub fn finish(&mut self) {
        self.notification = None;
    }
}

/// The id of a `$/cancelRequest`.
pub fn cancelled_id(params: Value) -> Option<RequestId> {
    serde_json::from_value(params.get("id")?.clone()).ok()
}
