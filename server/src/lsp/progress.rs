//! Work-done progress (`$/progress`) for one token: `begin`, `report`s, `end`. The main loop reports the
//! workspace scan with a token it asked the client to create; a worker reports a test run with the token
//! the client sent along with the request.

use crossbeam_channel::Sender;
use ls_types::notification::{Notification as _, Progress};
use ls_types::{
    ProgressParams, ProgressParamsValue, ProgressToken, WorkDoneProgress, WorkDoneProgressBegin, WorkDoneProgressEnd,
    WorkDoneProgressReport,
};
use lsp_server::{Message, Notification};

/// Sends the progress of one piece of work to the client.
pub struct Reporter<'a> {
    sender: &'a Sender<Message>,
    token: ProgressToken,
}

impl<'a> Reporter<'a> {
    pub fn new(sender: &'a Sender<Message>, token: ProgressToken) -> Reporter<'a> {
        Reporter { sender, token }
    }

    pub fn begin(&self, title: &str, message: Option<String>) {
        let begin = WorkDoneProgressBegin { title: title.to_string(), cancellable: None, message, percentage: Some(0) };
        self.send(WorkDoneProgress::Begin(begin));
    }

    pub fn report(&self, message: String, percentage: u32) {
        let report = WorkDoneProgressReport { cancellable: None, message: Some(message), percentage: Some(percentage) };
        self.send(WorkDoneProgress::Report(report));
    }

    pub fn end(&self, message: String) {
        self.send(WorkDoneProgress::End(WorkDoneProgressEnd { message: Some(message) }));
    }

    fn send(&self, value: WorkDoneProgress) {
        let params = ProgressParams { token: self.token.clone(), value: ProgressParamsValue::WorkDone(value) };
        // A client that went away is noticed by the main loop; a lost progress note matters to no one.
        let _ = self.sender.send(Message::Notification(Notification::new(Progress::METHOD.to_string(), params)));
    }
}
