//! A minimal JSON-RPC client that drives the real `policy-lsp serve` binary over stdio.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct LspClient {
    child: Child,
    /// `None` once closed (a client that went away).
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications and server requests seen while waiting for something else.
    pub backlog: Vec<Value>,
    /// Results for requests from the server, by method (`workspace/configuration`); `None` leaves the
    /// request unanswered. Other requests are answered with `null`.
    pub answers: std::collections::HashMap<String, Option<Value>>,
}

const TIMEOUT: Duration = Duration::from_secs(20);

impl LspClient {
    pub fn start() -> LspClient {
        let mut child = Command::new(super::POLICY_LSP)
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the policy-lsp binary starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, incoming) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 {
                        return;
                    }
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    if let Some(value) = header.strip_prefix("Content-Length: ") {
                        length = value.parse::<usize>().ok();
                    }
                }
                let Some(length) = length else { return };
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let Ok(message) = serde_json::from_slice::<Value>(&body) else { return };
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        LspClient { child, stdin: Some(stdin), incoming, next_id: 1, backlog: Vec::new(), answers: Default::default() }
    }

    fn stdin(&mut self) -> &mut ChildStdin {
        self.stdin.as_mut().expect("the client's end of the pipe is open")
    }

    pub fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).expect("serialisable");
        let stdin = self.stdin();
        write!(stdin, "Content-Length: {}\r\n\r\n", body.len()).expect("server reads stdin");
        stdin.write_all(&body).expect("server reads stdin");
        stdin.flush().expect("server reads stdin");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin();
        stdin.write_all(bytes).expect("server reads stdin");
        stdin.flush().expect("server reads stdin");
    }

    /// Closes the pipe to the server without `shutdown`/`exit`, as a crashed editor does, and waits up to
    /// `timeout` for the server to exit; returns its exit code (`None` if it did not exit in time).
    pub fn close_and_wait(mut self, timeout: Duration) -> Option<i32> {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response, answering server requests on the way.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        self.response(id)
    }

    /// Sends a request without waiting for its response; returns its id.
    pub fn send_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Waits for the response to the request with `id`.
    pub fn response(&mut self, id: i64) -> Value {
        self.wait_for(|message| message.get("id") == Some(&json!(id)) && message.get("method").is_none())
    }

    /// Every message the server sends within `duration` (its requests answered as `wait_for` does), kept
    /// in the backlog too: for checking that the server stays quiet.
    pub fn messages_within(&mut self, duration: Duration) -> Vec<Value> {
        let deadline = Instant::now() + duration;
        let mut seen = Vec::new();
        while let Some(remaining) = deadline.checked_duration_since(Instant::now()) {
            match self.incoming.recv_timeout(remaining) {
                Ok(message) => {
                    seen.push(message.clone());
                    if message.get("method").is_some() && message.get("id").is_some() {
                        self.send(json!({"jsonrpc": "2.0", "id": message["id"].clone(), "result": null}));
                    }
                    self.backlog.push(message);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => panic!("server closed its output; backlog: {:#?}", self.backlog),
            }
        }
        seen
    }

    /// Waits for a message matching `predicate` (checking the backlog first).
    pub fn wait_for(&mut self, predicate: impl Fn(&Value) -> bool) -> Value {
        if let Some(position) = self.backlog.iter().position(&predicate) {
            return self.backlog.remove(position);
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(remaining) {
                Ok(message) => {
                    if message.get("method").is_some() && message.get("id").is_some() {
                        // A request from the server (registerCapability, progress create): accept it.
                        let id = message["id"].clone();
                        let method = message["method"].as_str().unwrap_or("");
                        match self.answers.get(method).cloned() {
                            Some(Some(result)) => self.send(json!({"jsonrpc": "2.0", "id": id, "result": result})),
                            Some(None) => {}
                            None => self.send(json!({"jsonrpc": "2.0", "id": id, "result": null})),
                        }
                    }
                    if predicate(&message) {
                        return message;
                    }
                    self.backlog.push(message);
                }
                Err(RecvTimeoutError::Timeout) => panic!("timed out; backlog: {:#?}", self.backlog),
                Err(RecvTimeoutError::Disconnected) => panic!("server closed its output; backlog: {:#?}", self.backlog),
            }
        }
    }

    /// Waits for `publishDiagnostics` of `uri` with `version`.
    pub fn diagnostics(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let message = self.wait_for(|message| {
            message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == uri
                && message["params"]["version"] == version
        });
        message["params"]["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    pub fn initialize(&mut self, encodings: &[&str], root: Option<&str>) -> Value {
        let result = self.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": root,
                "capabilities": {
                    "general": {"positionEncodings": encodings},
                    "window": {"workDoneProgress": true},
                    "textDocument": {"publishDiagnostics": {"versionSupport": true, "relatedInformation": true}},
                    "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}, "workspaceFolders": true}
                },
                "workspaceFolders": root.map(|root| json!([{"uri": root, "name": "root"}])),
            }),
        );
        self.notify("initialized", json!({}));
        result["result"].clone()
    }

    /// Shuts down politely and returns the exit code.
    pub fn shutdown(mut self) -> Option<i32> {
        let response = self.request("shutdown", Value::Null);
        assert!(response.get("error").is_none(), "shutdown failed: {response}");
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        None
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
