//! The language server: the only module that knows the protocol. A main loop owns the session and applies
//! the client's notifications in order; requests are answered from snapshots on worker threads; diagnostics
//! are published, versioned, from the main loop.
//!
//! How a request flows: `transport` frames it from stdin -> `main_loop` hands it to `dispatch`, which
//! decodes the parameters, takes a `state::Snapshot` and runs the handler from `handlers::request` on a
//! worker under a panic guard (with the document's line index and the cursor's offset for requests about a
//! document) -> the handler asks `ide::Analysis` and converts with `to_proto`/`from_proto` -> the worker
//! sends the answer, unless a `$/cancelRequest` reached the main loop first (which then answers it).

mod capabilities;
mod config;
mod dispatch;
mod ext;
mod from_proto;
mod handlers;
mod main_loop;
mod manifest_rounds;
mod progress;
mod publish;
mod scan;
mod state;
mod status;
mod task;
mod test_rounds;
mod to_proto;
mod transport;
mod workers;
mod workspace_pull;

use std::process::ExitCode;

/// Runs the server over stdio until the client says `exit` (or goes away).
pub fn run() -> ExitCode {
    main_loop::run(transport::stdio())
}
