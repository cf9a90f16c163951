//! policy-lsp: a language server and CI tool for Kyverno and Gatekeeper admission policies.
//!
//! The modules are layered one way, from bottom to top (see `tests/tidy.rs`):
//! `base` -> `syntax` -> `model` -> `schema` / `engine` -> `testrun` / `apply` -> `ide` -> `report` -> `vfs` -> `lsp` / `cli`.
//! Only the front ends (`vfs`, `lsp` and `cli`) touch files, threads, the clock or the environment, and `lsp`
//! and `cli` do not use each other: [`main`] hands argv to one or the other.

pub mod apply;
pub mod base;
pub mod cli;
pub mod engine;
pub mod ide;
pub mod lsp;
pub mod model;
pub mod report;
pub mod schema;
pub mod syntax;
pub mod testrun;
pub mod vfs;

/// The binary's entry point: the CLI parses argv and runs its commands; `serve` starts the language server.
pub fn main() -> std::process::ExitCode {
    match cli::main() {
        cli::Invocation::Serve => lsp::run(),
        cli::Invocation::Finished(status) => status.into(),
    }
}
