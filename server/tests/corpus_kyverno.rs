//! Conformance run over the Kyverno policies corpus (opt-in: set POLICY_LSP_CORPUS to the corpus root).
//!
//! Every `kyverno-test.yaml` under `<root>/kyverno-policies` is run; a tuple (one resource of one
//! results entry) agrees when its outcome is Pass. ClusterPolicy/Policy tuples are the yardstick; CEL
//! tuples are counted apart. Prints agreement per top-level folder and a final `kyverno-agreement:` line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use policy_lsp::testrun::{FileSource, Outcome, Subject, kyverno::run_test_file};

/// Reads files from disk.
struct DiskFiles;

impl FileSource for DiskFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, String> {
        std::fs::read_to_string(path).map(Arc::from).map_err(|error| error.to_string())
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        let entries = std::fs::read_dir(path).ok()?;
        Some(entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect())
    }

    fn current_time(&self) -> Option<String> {
        Some(chrono::Utc::now().to_rfc3339())
    }
}

fn find_tests(directory: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            find_tests(&path, out);
        } else if path.file_name().and_then(|name| name.to_str()) == Some("kyverno-test.yaml") {
            out.push(path);
        }
    }
}

#[derive(Default)]
struct Tally {
    agreed: usize,
    total: usize,
    cel: usize,
    cel_unsupported: usize,
    /// Tuples of test files whose referenced files were left out of the corpus (`.chainsaw-test`).
    missing_files: usize,
}

#[test]
fn kyverno_corpus_agreement() {
    let Ok(root) = std::env::var("POLICY_LSP_CORPUS") else {
        eprintln!("POLICY_LSP_CORPUS is not set: skipping the Kyverno corpus conformance run");
        return;
    };
    let corpus = Path::new(&root).join("kyverno-policies");
    let mut tests = Vec::new();
    find_tests(&corpus, &mut tests);
    tests.sort();
    let filter = std::env::var("POLICY_LSP_CORPUS_FILTER").unwrap_or_default();
    let verbose = std::env::var("POLICY_LSP_CORPUS_VERBOSE").is_ok();
    let mut per_folder: BTreeMap<String, Tally> = BTreeMap::new();
    for test in &tests {
        let relative = test.strip_prefix(&corpus).unwrap_or(test);
        if !relative.to_string_lossy().contains(&filter) {
            continue;
        }
        let folder =
            relative.components().next().map(|part| part.as_os_str().to_string_lossy().to_string()).unwrap_or_default();
        let report = run_test_file(&DiskFiles, test);
        let tally = per_folder.entry(folder).or_default();
        let files_missing = report.problems.iter().any(|problem| problem.code == "kyverno-test/missing-file");
        for result in &report.results {
            if files_missing {
                tally.missing_files += 1;
                continue;
            }
            let cel_folder = ["-mpol", "-vpol", "-gpol"].iter().any(|suffix| {
                relative.components().next().is_some_and(|part| part.as_os_str().to_string_lossy().ends_with(suffix))
            });
            let is_cel =
                cel_folder || (result.outcome == Outcome::Unsupported && result.reason == "CEL not implemented");
            if is_cel {
                tally.cel += 1;
                tally.cel_unsupported += 1;
                continue;
            }
            tally.total += 1;
            if result.outcome == Outcome::Pass {
                tally.agreed += 1;
            } else if verbose && let Subject::Kyverno { policy, rule, resource, .. } = &result.subject {
                eprintln!(
                    "DISAGREE {} | {policy} / {} / {resource}: expected {} got {} ({}) {}",
                    relative.display(),
                    rule.as_deref().unwrap_or("-"),
                    result.expected,
                    result.actual,
                    result.reason,
                    if filter.is_empty() {
                        result.message.chars().take(300).collect::<String>()
                    } else {
                        result.message.clone()
                    }
                );
            }
        }
    }
    let mut agreed = 0;
    let mut total = 0;
    let mut cel = 0;
    let mut missing = 0;
    for (folder, tally) in &per_folder {
        missing += tally.missing_files;
        if tally.total > 0 {
            println!(
                "{folder:<28} {:>5}/{:<5} {:6.2}%",
                tally.agreed,
                tally.total,
                100.0 * tally.agreed as f64 / tally.total as f64
            );
        }
        agreed += tally.agreed;
        total += tally.total;
        cel += tally.cel;
    }
    println!("tuples of the CEL policy-kind folders (counted by tests/corpus_cel.rs): {cel}");
    println!("tuples whose test files reference files missing from the corpus: {missing}");
    println!("kyverno-agreement: {agreed}/{total}");
    assert!(total + cel > 0, "the corpus run found zero cases under {}", corpus.display());
}
