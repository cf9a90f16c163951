//! Conformance over the gatekeeper-library corpus: every gator case must agree with its assertions.
//! Opt-in: set `POLICY_LSP_CORPUS` to the corpus root (the folder holding `gatekeeper-library`).

use std::path::{Path, PathBuf};

use policy_lsp::cli::ExitStatus;
use policy_lsp::cli::test_exit::{ExitPolicy, exit_status};
use policy_lsp::engine::gatekeeper::rego_diagnostics;
use policy_lsp::report::test::TestSummary;
use policy_lsp::testrun::gatekeeper::run_suite_file;
use policy_lsp::testrun::{FileSource, Outcome};
use policy_lsp::vfs::DiskFiles;

fn find_named(files: &dyn FileSource, directory: &Path, file_name: &str, found: &mut Vec<PathBuf>) {
    let Some(mut entries) = files.list_dir(directory) else {
        return;
    };
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            find_named(files, &entry, file_name, found);
        } else if entry.file_name().is_some_and(|name| name == file_name) {
            found.push(entry);
        }
    }
}

fn find_suites(files: &dyn FileSource, directory: &Path, found: &mut Vec<PathBuf>) {
    let Some(mut entries) = files.list_dir(directory) else {
        return;
    };
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            find_suites(files, &entry, found);
        } else if entry.file_name().is_some_and(|name| name == "suite.yaml") {
            found.push(entry);
        }
    }
}

#[test]
fn gatekeeper_library_agrees() {
    let Ok(root) = std::env::var("POLICY_LSP_CORPUS") else {
        println!("POLICY_LSP_CORPUS is not set: skipping the gatekeeper-library conformance run");
        return;
    };
    let library = Path::new(&root).join("gatekeeper-library");
    let files = DiskFiles::default();
    let mut suites = Vec::new();
    find_suites(&files, &library, &mut suites);
    let mut agreed = 0;
    let mut total = 0;
    // gator verify passes every suite of the library upstream: the exit code `policy-lsp test` picks for each.
    let mut exits_agree = 0;
    let started = std::time::Instant::now();
    for suite in &suites {
        let report = run_suite_file(&files, suite);
        let suite_agreed = report.results.iter().filter(|result| result.outcome == Outcome::Pass).count();
        let suite_total = report.results.len();
        let name = suite.strip_prefix(&library).unwrap_or(suite).display().to_string();
        println!("{name}: {suite_agreed}/{suite_total}");
        for result in report.results.iter().filter(|result| result.outcome != Outcome::Pass) {
            println!(
                "  {:?} {:?}: expected {} actual {} ({})",
                result.outcome, result.subject, result.expected, result.actual, result.reason
            );
        }
        for problem in &report.problems {
            println!("  problem {} at {}: {}", problem.code, problem.at.pointer, problem.message);
        }
        agreed += suite_agreed;
        total += suite_total;
        let mut summary = TestSummary::default();
        summary.add(&report);
        if exit_status(&summary, ExitPolicy::default()).0 == ExitStatus::Success {
            exits_agree += 1;
        } else {
            println!("  EXIT DIFFERS: policy-lsp test exits 1, gator verify 0");
        }
    }
    println!("suites: {}, time: {:?}", suites.len(), started.elapsed());
    // The library's templates are valid Rego: any diagnostic on them is a false alarm.
    let mut templates = Vec::new();
    find_named(&files, &library, "template.yaml", &mut templates);
    let mut false_alarms = 0;
    for template in &templates {
        let Ok(text) = files.read(template) else {
            continue;
        };
        for document in policy_lsp::syntax::parse_file(&text) {
            for diagnostic in rego_diagnostics(&document.value) {
                false_alarms += 1;
                println!(
                    "  diagnostic in {} ({}) {}:{}: {}",
                    template.display(),
                    diagnostic.pointer,
                    diagnostic.line,
                    diagnostic.column,
                    diagnostic.message
                );
            }
        }
    }
    println!("templates checked for Rego diagnostics: {}, false alarms: {false_alarms}", templates.len());
    println!("gatekeeper-agreement: {agreed}/{total}");
    println!("gatekeeper-exit-codes: {exits_agree}/{}", suites.len());
    assert!(total > 0, "the corpus run found no gator cases under {}", library.display());
    assert_eq!(agreed, total, "not every gator case agrees");
    assert_eq!(false_alarms, 0, "valid library templates got Rego diagnostics");
}
