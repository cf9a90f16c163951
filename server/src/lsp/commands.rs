//! `workspace/executeCommand` handlers: `policy-lsp.runTests` runs the tests of a file (or those that
//! name it) or of the whole workspace, on unsaved buffers, and answers with the CLI's JSON contract.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ide::Analysis;
use crate::report::test::{TestRun, render_json};
use crate::testrun::{FileError, FileSource};

pub const RUN_TESTS: &str = "policy-lsp.runTests";

/// Files as the editor sees them: open buffers first, then the disk.
struct EditorFiles {
    analysis: Analysis,
}

impl FileSource for EditorFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        self.analysis.read(path).ok_or_else(|| FileError::NotFound { path: path.to_path_buf() })
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        self.analysis.list_dir(path)
    }

    fn current_time(&self) -> Option<DateTime<Utc>> {
        self.analysis.current_time()
    }
}

/// Runs the tests for `target` (a file path) or the whole workspace and renders the JSON report.
pub fn run_tests(analysis: Analysis, target: Option<PathBuf>) -> Value {
    let tests = analysis.test_files(target.as_deref());
    let files = EditorFiles { analysis };
    let runs: Vec<TestRun> = tests
        .into_iter()
        .map(|(path, framework)| {
            let started = Instant::now();
            let report = crate::testrun::run(&files, &path, framework, Default::default());
            TestRun {
                path: path.display().to_string(),
                framework,
                duration: started.elapsed(),
                result_lines: vec![None; report.results.len()],
                problem_locations: report.problems.iter().map(|problem| (1, 1, problem.message.clone())).collect(),
                report,
            }
        })
        .collect();
    serde_json::from_str(&render_json(&runs)).unwrap_or(Value::Null)
}
