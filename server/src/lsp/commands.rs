//! `workspace/executeCommand` handlers: `policy-lsp.runTests` runs the tests of a file (or those that
//! name it) or of the whole workspace, on unsaved buffers, and answers with the CLI's JSON contract.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::ide::Analysis;
use crate::report::test::{TestRun, render_json};
use crate::testrun::{FileSource, Framework, gatekeeper, kyverno};

pub const RUN_TESTS: &str = "policy-lsp.runTests";

/// Files as the editor sees them: open buffers first, then the disk.
struct EditorFiles {
    analysis: Analysis,
}

impl FileSource for EditorFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, String> {
        self.analysis.read(path).ok_or_else(|| format!("{} does not exist", path.display()))
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        self.analysis.list_dir(path)
    }

    fn current_time(&self) -> Option<String> {
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
            let report = match framework {
                Framework::Kyverno => kyverno::run_test_file(&files, &path),
                Framework::Gatekeeper => gatekeeper::run_suite_file(&files, &path),
                Framework::Opa => crate::testrun::opa::run_folder(&files, &path, &Default::default()),
            };
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
