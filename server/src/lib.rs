//! policy-lsp: a language server and CI tool for Kyverno and Gatekeeper admission policies.
//!
//! The modules are layered one way, from bottom to top (see `tests/tidy.rs`):
//! `base` -> `syntax` -> `model` -> `schema` / `engine` -> `testrun` / `apply` -> `ide` -> `report` -> `lsp` / `cli`.
//! Only `lsp` and `cli` touch files, threads, the clock or the environment.

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
