//! Conformance run over the Kyverno policies corpus (opt-in: set POLICY_LSP_CORPUS to the corpus root).
//!
//! Every `kyverno-test.yaml` under `<root>/kyverno-policies` is run; a tuple (one resource of one
//! results entry) agrees when its outcome is Pass. ClusterPolicy/Policy tuples are the yardstick; CEL
//! tuples are counted apart. Prints agreement per top-level folder and a final `kyverno-agreement:` line.
//!
//! Each test file's folder is also a unit of `kyverno test <folder>`, which exits 0 upstream for every one
//! of them except where kyverno's strict decoding rejects the test file (`kyverno-test/unknown-key`):
//! `kyverno-exit-codes:` counts the folders where the exit code `policy-lsp test` picks is upstream's.
//! Folders whose test files name files left out of the corpus are not comparable and are counted apart.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::corpus::{find_kyverno_tests, print_disagreement, print_folder_line};
use policy_lsp::base::Code;
use policy_lsp::cli::ExitStatus;
use policy_lsp::cli::test_exit::{ExitPolicy, exit_status};
use policy_lsp::report::test::TestSummary;
use policy_lsp::testrun::{Outcome, kyverno::run_test_file};
use policy_lsp::vfs::DiskFiles;

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
    let tests = find_kyverno_tests(&corpus);
    let filter = std::env::var("POLICY_LSP_CORPUS_FILTER").unwrap_or_default();
    let verbose = std::env::var("POLICY_LSP_CORPUS_VERBOSE").is_ok();
    let mut per_folder: BTreeMap<String, Tally> = BTreeMap::new();
    let (mut exits_agree, mut exits_compared, mut exits_not_comparable) = (0, 0, 0);
    for test in &tests {
        let relative = test.strip_prefix(&corpus).unwrap_or(test);
        if !relative.to_string_lossy().contains(&filter) {
            continue;
        }
        let folder =
            relative.components().next().map(|part| part.as_os_str().to_string_lossy().to_string()).unwrap_or_default();
        let report = run_test_file(&DiskFiles::default(), test);
        let tally = per_folder.entry(folder).or_default();
        let files_missing = report.problems.iter().any(|problem| problem.code == Code::KyvernoTestMissingFile);
        if files_missing {
            exits_not_comparable += 1;
        } else {
            let tool_fails = report.problems.iter().any(|problem| problem.code == Code::KyvernoTestUnknownKey);
            let mut summary = TestSummary::default();
            summary.add(&report);
            let we_fail = exit_status(&summary, ExitPolicy::default()).0 != ExitStatus::Success;
            exits_compared += 1;
            if we_fail == tool_fails {
                exits_agree += 1;
            } else {
                eprintln!(
                    "EXIT DIFFERS {}: policy-lsp test exits {}, kyverno test {}",
                    relative.display(),
                    u8::from(we_fail),
                    u8::from(tool_fails)
                );
            }
        }
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
            } else if verbose {
                print_disagreement(relative, result, !filter.is_empty());
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
            print_folder_line(folder, tally.agreed, tally.total);
        }
        agreed += tally.agreed;
        total += tally.total;
        cel += tally.cel;
    }
    println!("tuples of the CEL policy-kind folders (counted by tests/corpus_cel.rs): {cel}");
    println!("tuples whose test files reference files missing from the corpus: {missing}");
    println!("kyverno-agreement: {agreed}/{total}");
    println!(
        "kyverno-exit-codes: {exits_agree}/{exits_compared} ({exits_not_comparable} folders name files missing from the corpus)"
    );
    assert!(total + cel > 0, "the corpus run found zero cases under {}", corpus.display());
}
