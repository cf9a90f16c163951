//! Conformance run of the CEL tuples of the Kyverno policies corpus (opt-in: set POLICY_LSP_CORPUS to the
//! corpus root). CEL tuples are those of the `*-cel` (validate.cel in ClusterPolicy), `*-vpol`, `*-mpol`,
//! `*-gpol`, `*-dpol` and `*-ivpol` folders. Prints agreement per top-level folder and a final
//! `cel-agreement:` line; fails when it finds no case.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use policy_lsp::testrun::{FileSource, Outcome, Subject, kyverno::run_test_file};

struct DiskFiles;

impl FileSource for DiskFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, String> {
        std::fs::read_to_string(path).map(Arc::from).map_err(|error| error.to_string())
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        let entries = std::fs::read_dir(path).ok()?;
        Some(entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect())
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
    let mut tests = Vec::new();
    find_tests(&corpus, &mut tests);
    tests.sort();
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
        let report = run_test_file(&DiskFiles, test);
        let tally = per_folder.entry(folder).or_default();
        let files_missing = report.problems.iter().any(|problem| problem.code == "kyverno-test/missing-file");
        for result in &report.results {
            if files_missing {
                tally.missing_files += 1;
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
