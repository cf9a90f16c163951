//! Conformance over the real tools' own test suites (opt-in: set POLICY_LSP_CORPUS to the corpus root):
//! Kyverno's CLI suite (`real-world/kyverno-cli-tests`, run upstream with `kyverno test`) and gator's
//! (`real-world/gator-tests`, run upstream with `gator verify`).
//!
//! Every `Test` document of every file counts, one tuple per resource of each results entry (one per
//! case for gator). A tuple agrees when our outcome is the real tool's: upstream CI passes every folder
//! except the test-fail folders it expects to fail, and a test whose files kyverno cannot load fails.
//! `unsupported` is counted apart and never agrees; anything else is a wrong result. Each folder also
//! compares the exit code `policy-lsp test <folder>` picks (the CLI's own decision, `cli::test_exit`) with
//! what upstream CI expects of `kyverno test <folder>`, by default and with `--allow-unsupported`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::corpus::{find_kyverno_tests, print_disagreement};
use policy_lsp::base::Code;
use policy_lsp::cli::ExitStatus;
use policy_lsp::cli::test_exit::{ExitPolicy, exit_status};
use policy_lsp::report::test::TestSummary;
use policy_lsp::testrun::Outcome;
use policy_lsp::testrun::gatekeeper::{is_suite, run_suite_file};
use policy_lsp::testrun::kyverno::{RunOptions, run_test_file_with};
use policy_lsp::vfs::DiskFiles;

/// The folders upstream CI runs expecting `kyverno test` to fail (`.github/workflows/check-cli-tests.yaml`).
const EXPECTED_FAILURES: &[&str] =
    &["test-fail/missing-policy", "test-fail/missing-rule", "test-fail/missing-resource"];

/// The folders upstream CI runs with `kyverno test --registry` (the Makefile's `test-cli-local-registry`
/// and `test-cli-local-scenarios`).
const WITH_REGISTRY: &[&str] = &["registry", "scenarios_to_cli"];

#[derive(Default)]
struct Tally {
    agreed: usize,
    unsupported: usize,
    wrong: usize,
    /// The counts `policy-lsp test <folder>` decides its exit code by.
    summary: TestSummary,
    /// Whether `kyverno test` (or `gator verify`) fails on the folder.
    tool_fails: bool,
}

impl Tally {
    fn total(&self) -> usize {
        self.agreed + self.unsupported + self.wrong
    }

    /// Whether `policy-lsp test <folder>` exits non-zero under `policy`.
    fn we_fail(&self, policy: ExitPolicy) -> bool {
        exit_status(&self.summary, policy).0 != ExitStatus::Success
    }
}

/// `--allow-unsupported`: the exit code when unsupported results are accepted.
const ALLOW_UNSUPPORTED: ExitPolicy = ExitPolicy { strict: false, allow_unsupported: true };

/// The unit upstream CI runs `kyverno test` on: the top-level folder, or the test-fail sub-folder.
fn unit_of(relative: &Path) -> String {
    let parts: Vec<String> = relative.components().map(|part| part.as_os_str().to_string_lossy().to_string()).collect();
    match parts.as_slice() {
        [first, second, _, ..] if first == "test-fail" => format!("{first}/{second}"),
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

fn print_tally(name: &str, tally: &Tally) {
    let total = tally.total();
    let percent = if total == 0 { 100.0 } else { 100.0 * tally.agreed as f64 / total as f64 };
    // Unsupported results fail our run on purpose (nothing passes silently): such a folder's exit code
    // differs from upstream's for that reason alone.
    let we_fail = tally.we_fail(ExitPolicy::default());
    let exit = match (we_fail == tally.tool_fails, tally.unsupported > 0) {
        (true, _) => "agrees",
        (false, true) => "differs: unsupported results fail the run",
        (false, false) => "DIFFERS",
    };
    println!(
        "{name:<36} {:>4}/{total:<4} {percent:6.2}%  unsupported {:>3}  wrong {:>3}  exit {} (upstream {}) {exit}",
        tally.agreed,
        tally.unsupported,
        tally.wrong,
        if we_fail { 1 } else { 0 },
        if tally.tool_fails { 1 } else { 0 },
    );
}

/// Prints the per-folder lines and the summary figures `<prefix>-agreement`, `<prefix>-supported`,
/// `<prefix>-exit-codes` and `<prefix>-exit-codes-allow-unsupported`; returns the number of wrong results.
fn print_summary(prefix: &str, per_unit: &BTreeMap<String, Tally>) -> usize {
    let (mut agreed, mut unsupported, mut wrong, mut exits_agree, mut allowed_exits_agree) = (0, 0, 0, 0, 0);
    for (unit, tally) in per_unit {
        print_tally(unit, tally);
        agreed += tally.agreed;
        unsupported += tally.unsupported;
        wrong += tally.wrong;
        exits_agree += usize::from(tally.we_fail(ExitPolicy::default()) == tally.tool_fails);
        allowed_exits_agree += usize::from(tally.we_fail(ALLOW_UNSUPPORTED) == tally.tool_fails);
    }
    let total = agreed + unsupported + wrong;
    println!("{prefix}-agreement: {agreed}/{total}");
    println!("{prefix}-supported: {}/{total} ({unsupported} unsupported, {wrong} wrong)", total - unsupported);
    println!("{prefix}-exit-codes: {exits_agree}/{}", per_unit.len());
    println!("{prefix}-exit-codes-allow-unsupported: {allowed_exits_agree}/{}", per_unit.len());
    wrong
}

#[test]
fn kyverno_cli_suite_agrees() {
    let Ok(root) = std::env::var("POLICY_LSP_CORPUS") else {
        eprintln!("POLICY_LSP_CORPUS is not set: skipping the Kyverno CLI suite conformance run");
        return;
    };
    // POLICY_LSP_KYVERNO_CLI_TESTS points the run at another copy of the suite (a whole upstream checkout).
    let suite = std::env::var("POLICY_LSP_KYVERNO_CLI_TESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(&root).join("real-world/kyverno-cli-tests"));
    let verbose = std::env::var("POLICY_LSP_CORPUS_VERBOSE").is_ok();
    let tests = find_kyverno_tests(&suite);
    assert!(!tests.is_empty(), "no kyverno-test.yaml under {}", suite.display());
    let mut per_unit: BTreeMap<String, Tally> = BTreeMap::new();
    for test in &tests {
        let relative = test.strip_prefix(&suite).unwrap_or(test);
        let unit = unit_of(relative);
        let top = unit.split('/').next().unwrap_or("");
        let options = RunOptions { registry_access: WITH_REGISTRY.contains(&top) };
        let report = run_test_file_with(&DiskFiles::default(), test, options);
        // `kyverno test` stops with an error when a file a test names cannot be loaded
        // (`commands/test/test.go`, `runTest`: "failed to load policies/resources").
        let unloadable = report.problems.iter().any(|problem| problem.code == Code::KyvernoTestMissingFile);
        let tool_fails = EXPECTED_FAILURES.contains(&unit.as_str()) || unloadable;
        let tally = per_unit.entry(unit).or_default();
        tally.tool_fails |= tool_fails;
        tally.summary.add(&report);
        for result in &report.results {
            let failed = matches!(result.outcome, Outcome::Fail | Outcome::Error);
            let passed = matches!(result.outcome, Outcome::Pass | Outcome::Skipped);
            if result.outcome == Outcome::Unsupported {
                tally.unsupported += 1;
                if verbose {
                    eprintln!("UNSUPPORTED {} | {}", relative.display(), result.message);
                }
            } else if (tool_fails && failed) || (!tool_fails && passed) {
                tally.agreed += 1;
            } else {
                tally.wrong += 1;
                print_disagreement(relative, result, false);
            }
        }
    }
    let wrong = print_summary("kyverno-cli", &per_unit);
    assert_eq!(wrong, 0, "results that differ from kyverno's (see DISAGREE lines)");
}

/// Files under `directory` that hold a gator Suite, sorted (gator verify reads every YAML file).
fn find_suites(directory: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else { return };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            find_suites(&path, found);
            continue;
        }
        let is_yaml = path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml");
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        if is_yaml && policy_lsp::syntax::parse_file(&text).iter().any(|document| is_suite(&document.value)) {
            found.push(path);
        }
    }
}

#[test]
fn gator_suites_agree() {
    let Ok(root) = std::env::var("POLICY_LSP_CORPUS") else {
        eprintln!("POLICY_LSP_CORPUS is not set: skipping the gator suite conformance run");
        return;
    };
    let tests = Path::new(&root).join("real-world/gator-tests");
    let mut suites = Vec::new();
    find_suites(&tests, &mut suites);
    assert!(!suites.is_empty(), "no gator Suite under {}", tests.display());
    let mut per_unit: BTreeMap<String, Tally> = BTreeMap::new();
    for suite in &suites {
        let relative = suite.strip_prefix(&tests).unwrap_or(suite);
        let report = run_suite_file(&DiskFiles::default(), suite);
        // gator's CI runs `gator verify` on each suite folder and expects it to pass.
        let tally = per_unit.entry(relative.display().to_string()).or_default();
        tally.summary.add(&report);
        for result in &report.results {
            match result.outcome {
                Outcome::Pass | Outcome::Skipped => tally.agreed += 1,
                Outcome::Unsupported => tally.unsupported += 1,
                Outcome::Fail | Outcome::Error => {
                    tally.wrong += 1;
                    eprintln!("DISAGREE {} | {:?}: {}", relative.display(), result.subject, result.message);
                }
            }
        }
    }
    let wrong = print_summary("gator", &per_unit);
    assert_eq!(wrong, 0, "results that differ from gator's (see DISAGREE lines)");
}
