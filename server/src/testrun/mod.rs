//! Test runs for Kyverno Test files, gator Suites and Rego unit tests (`opa test`): one `TestReport` shape
//! feeds every output format.
//!
//! Runners reach files through [`FileSource`], so the language server can serve unsaved buffers and the
//! CLI real files. Runners never map positions: they name places as (file, document index, JSON pointer)
//! and the `ide`/`report` layers turn those into line and column.

pub mod diff;
pub mod gatekeeper;
pub mod kyverno;
pub mod opa;
mod types;

use std::path::Path;

pub use types::{
    FileError, FileSource, Framework, Outcome, Problem, Related, SourceRef, Subject, TestReport, TestResult,
};

/// The flags of a run, per framework.
#[derive(Clone, Copy, Default)]
pub struct RunOptions<'a> {
    pub kyverno: kyverno::RunOptions,
    pub opa: opa::OpaOptions<'a>,
}

/// Runs one test file with the runner of its framework: a Kyverno Test file through `kyverno test`'s
/// semantics, a gator Suite through `gator verify`'s, a folder of Rego unit tests (`test_file` names the
/// folder) through `opa test`'s, each with its flags in `options`. The one place that maps a framework to
/// its runner, for the CLI, the editor's inline runs and its `runTests` command alike.
pub fn run(files: &dyn FileSource, test_file: &Path, framework: Framework, options: RunOptions<'_>) -> TestReport {
    match framework {
        Framework::Kyverno => kyverno::run_test_file_with(files, test_file, options.kyverno),
        Framework::Gatekeeper => gatekeeper::run_suite_file(files, test_file),
        Framework::Opa => opa::run_folder(files, test_file, &options.opa),
    }
}
