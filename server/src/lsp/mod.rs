//! The language server: the only module that knows the protocol. It owns the analysis host, applies edits in
//! order, publishes versioned diagnostics and answers requests from snapshots under a panic guard.

mod commands;
mod features;
mod from_proto;
mod inline;
mod server;
mod to_proto;
mod transport;

use std::process::ExitCode;

/// Runs the server over stdio until the client says `exit`.
pub fn run() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            // 2, as the CLI's usage and I/O errors: the server never ran.
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        // The client's bytes reach the transport through a check that drops malformed messages (see
        // `transport`); when the client goes away, the pipe closes and the server ends.
        let (checked, transport_input) = tokio::io::duplex(1 << 16);
        tokio::spawn(transport::forward_checked(tokio::io::stdin(), checked));
        let stdout = tokio::io::stdout();
        let (service, socket) = tower_lsp_server::LspService::new(server::Server::new);
        tower_lsp_server::Server::new(transport_input, stdout, socket).serve(service).await;
    });
    // Background work (a workspace scan, a pending request to the client) must not keep the process alive
    // after `exit`.
    runtime.shutdown_background();
    // The protocol asks for exit code 0 only when `shutdown` came before `exit`.
    if server::shutdown_requested() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
