//! Shared pieces of the opt-in corpus conformance runs: finding test files, and printing disagreements
//! and per-folder figures in one format.

use std::path::{Path, PathBuf};

use policy_lsp::testrun::{Subject, TestResult};

/// Every `kyverno-test.yaml` under `directory`, sorted.
pub fn find_kyverno_tests(directory: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![directory.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().and_then(|name| name.to_str()) == Some("kyverno-test.yaml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// One disagreeing Kyverno tuple on stderr; the whole message when the run is filtered to a few tests.
pub fn print_disagreement(relative: &Path, result: &TestResult, filtered: bool) {
    let Subject::Kyverno { policy, rule, resource, .. } = &result.subject else { return };
    let message: String = if filtered { result.message.clone() } else { result.message.chars().take(300).collect() };
    eprintln!(
        "DISAGREE {} | {policy} / {} / {resource}: expected {} got {} ({}) {message}",
        relative.display(),
        rule.as_deref().unwrap_or("-"),
        result.expected,
        result.actual,
        result.reason,
    );
}

/// `folder   agreed/total   percent`.
pub fn print_folder_line(folder: &str, agreed: usize, total: usize) {
    println!("{folder:<28} {agreed:>5}/{total:<5} {:6.2}%", 100.0 * agreed as f64 / total as f64);
}
