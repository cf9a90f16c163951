//! Conformance run of the CEL tuples of the Kyverno policies corpus (opt-in: set POLICY_LSP_CORPUS to the
//! corpus root). CEL tuples are those of the `*-cel` (validate.cel in ClusterPolicy), `*-vpol`, `*-mpol`,
//! `*-gpol`, `*-dpol` and `*-ivpol` folders. Prints agreement per top-level folder and a final
//! `cel-agreement:` line; fails when it finds no case.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::corpus::{find_kyverno_tests, print_disagreement, print_folder_line};
use policy_lsp::testrun::{Outcome, kyverno::run_test_file};
use policy_lsp::vfs::DiskFiles;

const CEL_SUFFIXES: &[&str] = &["-cel", "-vpol", "-mpol", "-gpol", "-dpol", "-ivpol"];

#[derive(Default)]
struct Tally {
    agreed: usize,
    total: usize,
    missing_files: usize,
}

#[test]
fn cel_corpus_agreement() {
    let Ok(root) = std::env::var("POLICY_LSP_CORPUS") else {
        eprintln!("POLICY_LSP_CORPUS is not set: skipping the CEL corpus conformance run");
        return;
    };
    let corpus = Path::new(&root).join("kyverno-policies");
    let tests = find_kyverno_tests(&corpus);
    let filter = std::env::var("POLICY_LSP_CORPUS_FILTER").unwrap_or_default();
    let verbose = std::env::var("POLICY_LSP_CORPUS_VERBOSE").is_ok();
    let mut per_folder: BTreeMap<String, Tally> = BTreeMap::new();
    for test in &tests {
        let relative = test.strip_prefix(&corpus).unwrap_or(test);
        let folder =
            relative.components().next().map(|part| part.as_os_str().to_string_lossy().to_string()).unwrap_or_default();
        if !CEL_SUFFIXES.iter().any(|suffix| folder.ends_with(suffix)) || !relative.to_string_lossy().contains(&filter)
        {
            continue;
        }
        let report = run_test_file(&DiskFiles::default(), test);
        let tally = per_folder.entry(folder).or_default();
        let files_missing = report.problems.iter().any(|problem| problem.code.as_str() == "kyverno-test/missing-file");
        for result in &report.results {
            if files_missing {
                tally.missing_files += 1;
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
    let mut missing = 0;
    for (folder, tally) in &per_folder {
        missing += tally.missing_files;
        if tally.total > 0 {
            print_folder_line(folder, tally.agreed, tally.total);
        }
        agreed += tally.agreed;
        total += tally.total;
    }
    println!("CEL tuples whose test files reference files missing from the corpus: {missing}");
    println!("cel-agreement: {agreed}/{total}");
    assert!(total > 0, "the CEL corpus run found zero cases under {}", corpus.display());
}

fn find_yaml(directory: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            find_yaml(&path, out);
        } else if path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| extension == "yaml" || extension == "yml")
        {
            out.push(path);
        }
    }
}

/// Every CEL expression of the corpus policies and templates compiles without a finding: the editor's
/// checks raise no false alarm on real policies. Prints the count and each finding.
#[test]
fn cel_corpus_expressions_compile_cleanly() {
    let Ok(root) = std::env::var("POLICY_LSP_CORPUS") else {
        eprintln!("POLICY_LSP_CORPUS is not set: skipping the CEL expression check");
        return;
    };
    let mut files = Vec::new();
    find_yaml(Path::new(&root), &mut files);
    files.sort();
    let mut findings = 0;
    let mut documents = 0;
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for document in policy_lsp::syntax::parse_file(&text) {
            let found = policy_lsp::engine::kyverno_cel::diagnostics::expression_diagnostics(&document.value);
            documents += 1;
            for finding in found {
                findings += 1;
                println!("{} {} +{}: {}", file.display(), finding.pointer, finding.offset, finding.message);
            }
        }
    }
    println!("cel-expression-findings: {findings} in {documents} documents");
    assert!(documents > 0, "no documents under {root}");
    assert_eq!(findings, 0, "CEL checks flagged expressions of real policies");
}
