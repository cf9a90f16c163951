//! The stdio transport: a reader thread that frames the client's bytes into messages and a writer thread
//! that frames the server's. The reader is ours, not `lsp-server`'s, because that one ends at the first
//! message it cannot decode; here a body that is not JSON, JSON that is not a JSON-RPC 2.0 message, a
//! `Content-Length` that is not a number or a header block without one is dropped with a line on stderr,
//! and the server goes on. The reader ends when the client closes its end of the pipe.

use std::io::{BufRead, BufReader, Read};

use crossbeam_channel::{Receiver, Sender};
use lsp_server::Message;
use serde_json::Value;

/// The largest message accepted (a `didOpen` of a file near the CLI's 64 MiB limit, JSON-escaped).
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// The longest header line read before the line is treated as garbage.
const MAX_HEADER_LINE: u64 = 8 << 10;

/// The two ends the main loop talks through: messages from the client, and messages to it.
pub struct Connection {
    pub sender: Sender<Message>,
    pub receiver: Receiver<Message>,
}

/// Starts the reader (stdin) and writer (stdout) threads. The reader's channel is unbounded so the main
/// loop can see that more messages wait (a burst of keystrokes) and check only the last state.
pub fn stdio() -> Connection {
    let (reader_sender, receiver) = crossbeam_channel::unbounded();
    let (sender, writer_receiver) = crossbeam_channel::unbounded::<Message>();
    std::thread::Builder::new()
        .name("policy-lsp reader".to_string())
        .spawn(move || {
            let stdin = std::io::stdin();
            read_messages(stdin.lock(), &reader_sender);
        })
        .expect("the reader thread starts");
    std::thread::Builder::new()
        .name("policy-lsp writer".to_string())
        .spawn(move || {
            let stdout = std::io::stdout();
            let mut stdout = stdout.lock();
            for message in writer_receiver {
                if message.write(&mut stdout).is_err() {
                    return;
                }
            }
        })
        .expect("the writer thread starts");
    Connection { sender, receiver }
}

/// Sends every well-formed message of `input` until it ends (the client went away) or nobody listens.
pub fn read_messages(input: impl Read, sender: &Sender<Message>) {
    let mut reader = BufReader::new(input);
    loop {
        let Some(length) = read_headers(&mut reader) else { return };
        let length = match length {
            Ok(length) => length,
            Err(problem) => {
                eprintln!("policy-lsp: dropped a message: {problem}");
                continue;
            }
        };
        if length > MAX_MESSAGE_BYTES {
            eprintln!("policy-lsp: dropped a message of {length} bytes, over the {MAX_MESSAGE_BYTES}-byte limit");
            let skipped = std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink());
            if skipped.map_or(true, |count| count < length as u64) {
                return;
            }
            continue;
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        match decode(&body) {
            Some(message) => {
                if sender.send(message).is_err() {
                    return;
                }
            }
            None => {
                let start = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
                eprintln!("policy-lsp: dropped a message that is not JSON-RPC 2.0: {start:?}");
            }
        }
    }
}

/// Reads one header block: `None` at the end of input, else the body length or why it is unusable.
fn read_headers(reader: &mut impl BufRead) -> Option<Result<usize, String>> {
    let mut length: Option<Result<usize, String>> = None;
    let mut seen_header = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut *reader).take(MAX_HEADER_LINE).read_until(b'\n', &mut line).ok()?;
        if read == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if seen_header {
                break;
            }
            continue;
        }
        seen_header = true;
        // A header may follow the rest of a body that was cut short, on the same line.
        let header = text.find("Content-Length:").map_or(text, |start| &text[start..]);
        if let Some(value) = header.strip_prefix("Content-Length:") {
            length = Some(value.trim().parse::<usize>().map_err(|_| format!("bad Content-Length header {value:?}")));
        }
    }
    Some(length.unwrap_or_else(|| Err("a header block without Content-Length".to_string())))
}

/// A body as a JSON-RPC 2.0 request, notification or response; `None` for anything else (a request whose
/// id is neither a 32-bit number nor a string too, rather than mistaking it for a notification).
fn decode(body: &[u8]) -> Option<Message> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return None;
    }
    let is_request = object.contains_key("id") && object.contains_key("method");
    let message: Message = serde_json::from_value(value).ok()?;
    match message {
        Message::Notification(_) if is_request => None,
        message => Some(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(input: &[u8]) -> String {
        let (sender, receiver) = crossbeam_channel::unbounded();
        read_messages(input, &sender);
        drop(sender);
        let mut output = Vec::new();
        for message in receiver {
            message.write(&mut output).expect("written to memory");
        }
        String::from_utf8(output).expect("UTF-8")
    }

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[test]
    fn well_formed_messages_pass_and_malformed_ones_are_dropped() {
        let good = r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let response = r#"{"jsonrpc":"2.0","id":7,"result":null}"#;
        let input = [
            frame("{not json"),
            frame(good),
            "Content-Length: lots\r\n\r\n{}".to_string(),
            frame("[1, 2, 3]"),
            "Content-Type: application/vscode-jsonrpc; charset=latin1\r\n".to_string() + &frame(response),
            frame(r#"{"jsonrpc":"1.0","method":"x"}"#),
            frame(r#"{"jsonrpc":"2.0","id":1099511627776,"method":"x"}"#),
            "X-Nothing: 1\r\n\r\n".to_string(),
            frame(good),
        ]
        .concat();
        // Messages are written back as `lsp-server` frames them (its own key order).
        let shutdown = frame(r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#);
        let reply = frame(r#"{"jsonrpc":"2.0","id":7,"result":null}"#);
        assert_eq!(forward(input.as_bytes()), [shutdown.clone(), reply, shutdown].concat());
    }

    #[test]
    fn a_message_cut_short_ends_the_stream() {
        let input = "Content-Length: 100\r\n\r\n{\"jsonrpc\": \"2.0\"";
        assert_eq!(forward(input.as_bytes()), "");
    }
}
