//! Criterion benchmark of whole-corpus runs through the library API the CLI uses: `lint`, `test`, and
//! "parse only" (reading and parsing, once each, the files a test run reads: the yardstick `test` is held
//! to). The corpus is the directory in POLICY_LSP_CORPUS (e.g. /work/shared/corpus) when it is set, else
//! the repository's examples/.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use policy_lsp::cli::lint::lint_workspace;
use policy_lsp::cli::test::{discover, parse_only, run_tests, run_tests_with};
use policy_lsp::vfs::{DiskFiles, RecordingFiles, walk_yaml_files, workspace_root};

const KYVERNO_TEST_FILE: &str = "kyverno-test.yaml";

/// The directory to run on and the name of the benchmark group.
fn corpus() -> (PathBuf, &'static str) {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let Some(given) = std::env::var_os("POLICY_LSP_CORPUS") else {
        eprintln!(
            "POLICY_LSP_CORPUS is not set: measuring the repository's examples/; point it at a corpus \
             directory (e.g. /work/shared/corpus) to measure that instead"
        );
        let examples = repository.join("examples");
        return (std::fs::canonicalize(&examples).unwrap_or(examples), "examples");
    };
    let given = PathBuf::from(given);
    // Benchmarks run in server/; a relative path is also tried from the repository root, where the
    // command is usually typed.
    let path = if given.is_relative() && !given.exists() { repository.join(&given) } else { given };
    assert!(path.is_dir(), "POLICY_LSP_CORPUS={} is not a directory", path.display());
    (std::fs::canonicalize(&path).unwrap_or(path), "corpus")
}

/// Walks and finds the test files, as `policy-lsp test` does before running them.
fn discovered(paths: &[PathBuf]) -> Vec<policy_lsp::cli::test::Discovered> {
    let files = walk_yaml_files(paths).expect("the corpus directory can be walked");
    discover(&files, KYVERNO_TEST_FILE)
}

fn bench(criterion: &mut Criterion) {
    let (root, group_name) = corpus();
    let paths = vec![root.clone()];
    let roots: Vec<PathBuf> = paths.iter().map(|path| workspace_root(path)).collect();
    let yaml_files = walk_yaml_files(&paths).expect("the corpus directory can be walked");
    let tests = discovered(&paths);
    assert!(!tests.is_empty(), "no test files under {}", root.display());
    let recording = RecordingFiles::new(DiskFiles::within(&roots));
    let runs = run_tests_with(&recording, &tests);
    let results: usize = runs.iter().map(|run| run.report.results.len()).sum();
    let files_read = recording.files_read();
    eprintln!(
        "{group_name}: {} ({} YAML files, {} test files, {results} results; a test run reads {} files)",
        root.display(),
        yaml_files.len(),
        tests.len(),
        files_read.len(),
    );

    let mut group = criterion.benchmark_group(group_name);
    // A whole-corpus run takes most of a second: ten flat samples keep `cargo bench` to about half a minute.
    group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(if group_name == "corpus" { 8 } else { 3 }));
    group.bench_function("lint (walk, parse, analyse every file)", |bencher| {
        // The CLI leaks the analysis at exit instead of freeing it; here it is freed outside the timing.
        bencher.iter_with_large_drop(|| {
            let files = walk_yaml_files(&paths).expect("the corpus directory can be walked");
            lint_workspace(&files, &roots)
        })
    });
    group.bench_function("test (walk, discover, run every test file)", |bencher| {
        bencher.iter_with_large_drop(|| run_tests(&discovered(&paths), &roots))
    });
    group.bench_function("parse only (read and parse once each file test reads)", |bencher| {
        bencher.iter(|| parse_only(&files_read))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
