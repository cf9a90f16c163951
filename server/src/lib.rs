//! policy-lsp: a language server and CI tool for Kyverno and Gatekeeper admission policies.
//!
//! The modules are layered one way, from bottom to top (see `tests/tidy.rs`):
//! `base` -> `syntax` -> `model` -> `schema` / `engine` -> `testrun` -> `ide` -> `report` -> `lsp` / `cli`.
//! Only `lsp` and `cli` touch files, threads, the clock or the environment.

pub mod base;
pub mod syntax;
pub mod model;
pub mod schema;
pub mod engine;
pub mod testrun;
pub mod ide;
pub mod report;
pub mod lsp;
pub mod cli;
