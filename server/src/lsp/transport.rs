//! The bytes from the client, checked before tower-lsp-server's transport reads them. That transport
//! stops reading, and so the server exits, at the first message it cannot decode: a body that is not
//! JSON, JSON that is not a JSON-RPC message, a `Content-Length` that is not a number, an unsupported
//! `Content-Type`. Here every message is re-framed after its body parses as a JSON-RPC request,
//! notification or response; anything else is dropped with a line on stderr, and the server goes on.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tower_lsp_server::jsonrpc::{Request, Response};

/// The largest message accepted (a `didOpen` of a file near the CLI's 64 MiB limit, JSON-escaped).
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// The longest header line read before the line is treated as garbage.
const MAX_HEADER_LINE: u64 = 8 << 10;

/// Copies the well-formed messages of `input` to `output` until `input` ends (the client went away) or
/// `output` is closed (the server stopped).
pub async fn forward_checked<R, W>(input: R, mut output: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(input);
    loop {
        let Some(length) = read_headers(&mut reader).await else { return };
        let length = match length {
            Ok(length) => length,
            Err(problem) => {
                eprintln!("policy-lsp: dropped a message: {problem}");
                continue;
            }
        };
        if length > MAX_MESSAGE_BYTES {
            eprintln!("policy-lsp: dropped a message of {length} bytes, over the {MAX_MESSAGE_BYTES}-byte limit");
            let skipped = tokio::io::copy(&mut (&mut reader).take(length as u64), &mut tokio::io::sink()).await;
            if skipped.map_or(true, |count| count < length as u64) {
                return;
            }
            continue;
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        if !is_json_rpc(&body) {
            let start = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
            eprintln!("policy-lsp: dropped a message that is not JSON-RPC 2.0: {start:?}");
            continue;
        }
        let header = format!("Content-Length: {length}\r\n\r\n");
        let written = async {
            output.write_all(header.as_bytes()).await?;
            output.write_all(&body).await?;
            output.flush().await
        };
        if written.await.is_err() {
            return;
        }
    }
}

/// Reads one header block: `None` at the end of input, else the body length or why it is unusable.
async fn read_headers<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<Result<usize, String>> {
    let mut length: Option<Result<usize, String>> = None;
    let mut seen_header = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut *reader).take(MAX_HEADER_LINE).read_until(b'\n', &mut line).await.ok()?;
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

/// Whether a body is what the transport decodes: a JSON-RPC 2.0 request, notification or response.
fn is_json_rpc(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok()
        && (serde_json::from_slice::<Request>(body).is_ok() || serde_json::from_slice::<Response>(body).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(input: &[u8]) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        let mut output = Vec::new();
        runtime.block_on(forward_checked(input, &mut output));
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
            "X-Nothing: 1\r\n\r\n".to_string(),
            frame(good),
        ]
        .concat();
        assert_eq!(forward(input.as_bytes()), [frame(good), frame(response), frame(good)].concat());
    }

    #[test]
    fn a_message_cut_short_ends_the_stream() {
        let input = "Content-Length: 100\r\n\r\n{\"jsonrpc\": \"2.0\"";
        assert_eq!(forward(input.as_bytes()), "");
    }
}
