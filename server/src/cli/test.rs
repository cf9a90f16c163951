//! `policy-lsp test`: finds Kyverno Test files, gator Suites and folders of Rego unit tests, runs them in
//! parallel through the shared runners, times each file, places results and problems on lines, and renders
//! them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::locate::Locator;
use super::status::{ExitStatus, OutputFormat};
use super::test_exit::{ExitPolicy, exit_status};
use super::test_flags::{CompatibilityFlags, Format, resolve};
use crate::engine::opa::{RunLimits, VersionSetting};
use crate::ide::Config;
use crate::model::DocumentKind;
use crate::report::test::{
    TestRun, TestSummary, TextOptions, render_github, render_json, render_junit, render_markdown, render_text,
    render_yaml,
};
use crate::testrun::opa::{OpaOptions, has_test_rules, is_rego_file};
use crate::testrun::{FileSource, Framework, TestReport, gatekeeper, kyverno};
use crate::vfs::{DiskFiles, RecordingFiles, absolute_path, read_text, walk_policy_files};

pub struct TestOptions {
    pub paths: Vec<PathBuf>,
    pub output: OutputFormat,
    /// The name of Kyverno test files (kyverno's `--file-name`).
    pub file_name: String,
    pub detailed_results: bool,
    pub fail_only: bool,
    /// Print where the time went, and the time it takes just to read and parse the files the run read.
    pub timings: bool,
    /// kyverno's `--registry`: imageRegistry context entries would be fetched from registries.
    pub registry: bool,
    /// The flags of `kyverno test` and `gator verify`: selection (`--run` for Rego tests too), formats,
    /// verbosity, exit-code policy.
    pub compatibility: CompatibilityFlags,
    /// The timeout of one Rego test (`opa test --timeout`).
    pub rego_timeout: Option<Duration>,
    /// `--v0-compatible` or `--v1-compatible`.
    pub rego_version: Option<VersionSetting>,
    pub changed: super::changed::ChangedFlags,
    /// `--shard i/n`: run only the tests of this shard's folders.
    pub shard: Option<super::shard::Shard>,
}

/// The `opa test` options of a run (`-v` is the command's one `--verbose`, a rendering choice).
#[derive(Clone, Debug, Default)]
pub struct RegoTestOptions {
    /// Run only the Rego tests whose `data.<package>.<name>` matches (`opa test --run`).
    pub run: Option<regex::Regex>,
    /// The timeout of one Rego test (`opa test --timeout`, 5 seconds by default).
    pub timeout: Option<Duration>,
    /// `--v0-compatible` or `--v1-compatible`: the version of Rego files without `import rego.v1`, over
    /// the `rego.version` of `.policy-lsp.yaml`.
    pub version: Option<VersionSetting>,
}

/// A test file found by discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovered {
    pub path: PathBuf,
    pub framework: Framework,
}

pub fn run(options: TestOptions) -> ExitStatus {
    let started = Instant::now();
    let flags = &options.compatibility;
    let resolved = match resolve(flags, &options.paths, options.output) {
        Ok(resolved) => resolved,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitStatus::UsageError;
        }
    };
    if resolved.format == Format::Own(OutputFormat::Sarif) {
        eprintln!("error: `test` does not support --output sarif; use json, yaml, junit, github or markdown");
        return ExitStatus::UsageError;
    }
    for warning in &resolved.warnings {
        eprintln!("warning: {warning}");
    }
    // One `--run` serves every framework: the Rego runner skips the tests it leaves out, as `opa test` does.
    let rego = RegoTestOptions {
        run: resolved.selection.rego.clone(),
        timeout: options.rego_timeout,
        version: options.rego_version,
    };
    let paths = if resolved.paths.is_empty() { vec![PathBuf::from(".")] } else { resolved.paths.clone() };
    let roots: Vec<PathBuf> = paths.iter().map(|path| crate::vfs::workspace_root(path)).collect();
    let configs = crate::vfs::read_configs(&roots);
    // With --changed-since, git lists the files (and says which changed) in place of a walk.
    let files = match super::changed::run(&options.changed, &paths, &configs, &options.file_name) {
        None => match walk_policy_files(&paths) {
            Ok(files) => crate::vfs::drop_excluded(files, &paths, &configs),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitStatus::UsageError;
            }
        },
        Some(Ok(run)) => run.affected.files,
        Some(Err(message)) => {
            eprintln!("error: {message}");
            return ExitStatus::UsageError;
        }
    };
    let walked = started.elapsed();
    let discovered = discover(&files, &options.file_name);
    let found = discovered.len();
    let discovered = match options.shard {
        Some(shard) => discovered.into_iter().filter(|test| shard.holds_folder(test.folder(), &roots)).collect(),
        None => discovered,
    };
    let discovered_at = started.elapsed();
    if let Some(shard) = options.shard
        && discovered.is_empty()
        && found > 0
    {
        // Another shard runs them; `merge` still needs this shard's (empty) document.
        eprintln!("shard {} holds none of the {found} tests found", shard.label());
        if resolved.format != Format::Own(OutputFormat::Text) {
            print!("{}", render(resolved.format, &[], &options));
        }
        return ExitStatus::Success;
    }
    if let Some(reference) = &options.changed.changed_since
        && discovered.is_empty()
    {
        // Nothing any test reads changed: a clean run, not a mistyped path. A machine-readable format still
        // gets its one (empty) document, which `merge` and CI steps read.
        eprintln!("no test file is affected by the changes since {reference}");
        if resolved.format != Format::Own(OutputFormat::Text) {
            print!("{}", render(resolved.format, &[], &options));
        }
        return ExitStatus::Success;
    }
    if discovered.is_empty() {
        // As `kyverno test` and `gator verify`: finding nothing to run is a success unless tests are required.
        let severity = if flags.require_tests { "error" } else { "warning" };
        eprintln!(
            "{severity}: no Kyverno test files (named `{}`), gator Suites or Rego tests (`test_` rules in .rego \
             files) found under {}{}",
            options.file_name,
            paths.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", "),
            if flags.require_tests { " (--require-tests)" } else { "; nothing was checked" }
        );
        // A machine-readable format still gets its one (empty) document.
        if resolved.format != Format::Own(OutputFormat::Text) {
            print!("{}", render(resolved.format, &[], &options));
        }
        return if flags.require_tests { ExitStatus::Failure } else { ExitStatus::Success };
    }
    let folders = discovered.iter().filter(|test| test.framework == Framework::Opa).count();
    let test_files = discovered.len() - folders;
    let mut described = Vec::new();
    if test_files > 0 {
        described.push(format!("{test_files} test file{}", if test_files == 1 { "" } else { "s" }));
    }
    if folders > 0 {
        described.push(format!("{folders} folder{} of Rego tests", if folders == 1 { "" } else { "s" }));
    }
    eprintln!("Running {} ...", described.join(" and "));
    let disk = DiskFiles::within(&roots);
    // Only a timed run remembers what it read: the parse-only yardstick needs the list.
    let recording = options.timings.then(|| RecordingFiles::new(disk.clone()));
    let files_source: &dyn FileSource = match &recording {
        Some(recording) => recording,
        None => &disk,
    };
    let origin = Instant::now();
    let clock = move || origin.elapsed();
    let settings = RunSettings {
        kyverno: kyverno::RunOptions { registry_access: options.registry },
        rego: &rego,
        configs: &configs,
        clock: Some(&clock),
    };
    let mut runs = run_tests_with_settings(files_source, &discovered, &settings);
    resolved.selection.apply(&mut runs);
    let ran_at = started.elapsed();
    let rendered = render(resolved.format, &runs, &options);
    print!("{rendered}");
    if let Some(recording) = &recording {
        let phases = Phases { walk: walked, discover: discovered_at, run: ran_at, total: started.elapsed() };
        print_timings(&phases, files.len(), discovered.len(), recording);
    }
    let policy = ExitPolicy { strict: flags.strict, allow_unsupported: flags.allow_unsupported };
    let (status, reasons) = exit_status(&TestSummary::of(&runs), policy);
    for reason in reasons {
        eprintln!("{reason}");
    }
    status
}

/// The runs in the chosen format (`--output sarif` is refused before the run).
fn render(format: Format, runs: &[TestRun], options: &TestOptions) -> String {
    match format {
        Format::Own(OutputFormat::Text | OutputFormat::Sarif) => {
            let text_options = TextOptions {
                detailed_results: options.detailed_results,
                fail_only: options.fail_only,
                verbose: options.compatibility.verbose,
            };
            render_text(runs, text_options)
        }
        Format::Own(OutputFormat::Json) => render_json(runs),
        Format::Yaml => render_yaml(runs),
        Format::Own(OutputFormat::Junit) => render_junit(runs),
        Format::Own(OutputFormat::Github) => render_github(runs),
        Format::Own(OutputFormat::Markdown) => render_markdown(runs),
    }
}

impl Discovered {
    /// The folder the test lives in, which `--shard` splits by: a test file's folder (its resources and
    /// policies are usually beside it), or the folder of Rego tests itself.
    pub fn folder(&self) -> &Path {
        match self.framework {
            Framework::Opa => &self.path,
            Framework::Kyverno | Framework::Gatekeeper => self.path.parent().unwrap_or(Path::new("")),
        }
    }
}

/// Kyverno test files by name; gator Suites by content (gator reads every YAML file and keeps the Suites);
/// the folders whose `.rego` files define `test_` rules, each run as `opa test` runs a folder.
pub fn discover(files: &[PathBuf], kyverno_file_name: &str) -> Vec<Discovered> {
    let mut discovered: Vec<Discovered> = files
        .par_iter()
        .filter(|path| !is_rego_file(path))
        .filter_map(|path| {
            if path.file_name().is_some_and(|name| name == kyverno_file_name) {
                return Some(Discovered { path: path.clone(), framework: Framework::Kyverno });
            }
            let text = read_text(path).ok()?;
            let maybe_suite = text.contains("test.gatekeeper.sh") && text.contains("Suite");
            let maybe_embedded_test = text.contains("cli.kyverno.io") && text.contains("Test");
            if !maybe_suite && !maybe_embedded_test {
                return None;
            }
            let documents = crate::syntax::parse_file(&text);
            if maybe_suite && documents.iter().any(|document| gatekeeper::is_suite(&document.value)) {
                return Some(Discovered { path: path.clone(), framework: Framework::Gatekeeper });
            }
            // A Kyverno Test embedded in a policy's own file runs whatever the file is called.
            let kinds: Vec<DocumentKind> =
                documents.iter().map(|document| crate::model::classify(&document.value).kind).collect();
            (kinds.contains(&DocumentKind::KyvernoTest) && kinds.iter().any(DocumentKind::is_kyverno_policy))
                .then(|| Discovered { path: path.clone(), framework: Framework::Kyverno })
        })
        .collect();
    let mut folders: Vec<PathBuf> = files
        .par_iter()
        .filter(|path| is_rego_file(path))
        .filter(|path| read_text(path).is_ok_and(|text| has_test_rules(&text)))
        .filter_map(|path| path.parent().map(Path::to_path_buf))
        .collect();
    folders.sort();
    folders.dedup();
    discovered.extend(folders.into_iter().map(|path| Discovered { path, framework: Framework::Opa }));
    discovered
}

/// What a run needs beyond the files: the Rego options, the settings of each root, and the clock that
/// times Rego tests one by one.
pub struct RunSettings<'a> {
    pub kyverno: kyverno::RunOptions,
    pub rego: &'a RegoTestOptions,
    pub configs: &'a [Config],
    pub clock: Option<&'a (dyn Fn() -> Duration + Sync)>,
}

impl RunSettings<'_> {
    /// The Rego version of a folder's files that do not say: the command line's, else its root's settings.
    fn rego_version(&self, folder: &Path) -> VersionSetting {
        if let Some(version) = self.rego.version {
            return version;
        }
        let key = absolute_path(folder);
        self.configs
            .iter()
            .filter(|config| key.starts_with(&config.base))
            .max_by_key(|config| config.base.components().count())
            .map_or(VersionSetting::Auto, |config| config.rego_version)
    }
}

/// Runs each discovered file, in parallel, keeping the discovery order.
pub fn run_tests(discovered: &[Discovered], roots: &[PathBuf]) -> Vec<TestRun> {
    run_tests_with(&DiskFiles::within(roots), discovered)
}

/// Runs each discovered file, reading through `files`, in parallel, keeping the discovery order.
pub fn run_tests_with(files: &dyn FileSource, discovered: &[Discovered]) -> Vec<TestRun> {
    run_tests_with_options(files, discovered, kyverno::RunOptions::default())
}

/// Runs each discovered file with the given Kyverno options, reading through `files`, in parallel,
/// keeping the discovery order.
pub fn run_tests_with_options(
    files: &dyn FileSource,
    discovered: &[Discovered],
    kyverno_options: kyverno::RunOptions,
) -> Vec<TestRun> {
    let rego = RegoTestOptions::default();
    let settings = RunSettings { kyverno: kyverno_options, rego: &rego, configs: &[], clock: None };
    run_tests_with_settings(files, discovered, &settings)
}

/// Runs each discovered file or folder with `settings`, reading through `files`, in parallel, keeping the
/// discovery order.
pub fn run_tests_with_settings(
    files: &dyn FileSource,
    discovered: &[Discovered],
    settings: &RunSettings<'_>,
) -> Vec<TestRun> {
    discovered
        .par_iter()
        .map(|test| {
            let absolute = absolute_path(&test.path);
            let started = Instant::now();
            let limits = settings.rego.timeout.map(|timeout| RunLimits { timeout }).unwrap_or_default();
            let opa = OpaOptions {
                run: settings.rego.run.as_ref(),
                limits,
                version: settings.rego_version(&absolute),
                clock: settings.clock,
            };
            let options = crate::testrun::RunOptions { kyverno: settings.kyverno, opa };
            let report = crate::testrun::run(files, &absolute, test.framework, options);
            let duration = started.elapsed();
            let disk = DiskFiles::default();
            let mut locator = Locator::new(&disk);
            let result_lines = report
                .results
                .iter()
                .map(|result| result.location.as_ref().and_then(|at| locator.locate(at)).map(|(line, _)| line))
                .collect();
            let problem_locations = problem_locations(&mut locator, &absolute, test.framework, &report);
            TestRun {
                path: test.path.display().to_string(),
                framework: test.framework,
                report,
                duration,
                result_lines,
                problem_locations,
            }
        })
        .collect()
}

/// What reading and parsing a set of files found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOnly {
    pub files: usize,
    pub bytes: usize,
    pub documents: usize,
}

/// Reads and parses each file once, in parallel, as the runners parse them and nothing more: the yardstick
/// `test --timings` compares a test run with.
pub fn parse_only(paths: &[PathBuf]) -> ParseOnly {
    paths
        .par_iter()
        .filter_map(|path| read_text(path).ok())
        .map(|text| ParseOnly { files: 1, bytes: text.len(), documents: crate::syntax::parse_file(&text).len() })
        .reduce(ParseOnly::default, |left, right| ParseOnly {
            files: left.files + right.files,
            bytes: left.bytes + right.bytes,
            documents: left.documents + right.documents,
        })
}

/// Elapsed times since `run` started, at the end of each phase.
struct Phases {
    walk: Duration,
    discover: Duration,
    run: Duration,
    total: Duration,
}

fn print_timings(phases: &Phases, walked: usize, discovered: usize, recording: &RecordingFiles) {
    let files_read = recording.files_read();
    let parse_started = Instant::now();
    let parsed = parse_only(&files_read);
    let parse = parse_started.elapsed();
    let milliseconds = |duration: Duration| duration.as_secs_f64() * 1000.0;
    eprintln!(
        "timings: walk {:.0} ms ({walked} YAML files), discover {:.0} ms ({discovered} test files), run {:.0} ms, \
         render {:.0} ms; total {:.0} ms",
        milliseconds(phases.walk),
        milliseconds(phases.discover - phases.walk),
        milliseconds(phases.run - phases.discover),
        milliseconds(phases.total - phases.run),
        milliseconds(phases.total),
    );
    eprintln!(
        "timings: parse only (read and parse once each of the {} files the run read {} times, {:.1} MB, {} \
         documents) {:.0} ms; total / parse only = {:.1}x",
        parsed.files,
        recording.reads(),
        parsed.bytes as f64 / 1e6,
        parsed.documents,
        milliseconds(parse),
        phases.total.as_secs_f64() / parse.as_secs_f64().max(1e-9),
    );
}

fn problem_locations(
    locator: &mut Locator<'_>,
    test_path: &Path,
    framework: Framework,
    report: &TestReport,
) -> Vec<(u32, u32, String)> {
    report
        .problems
        .iter()
        .map(|problem| {
            let (line, column) = locator.locate(&problem.at).unwrap_or((1, 1));
            // A Rego folder's problems are rendered on their own file, which the renderer names.
            let own_file = problem.at.file == test_path || framework == Framework::Opa;
            let message = if own_file || problem.at.file.as_os_str().is_empty() {
                format!("{} [{}]", problem.message, problem.code)
            } else {
                format!("{}:{line}:{column}: {} [{}]", problem.at.file.display(), problem.message, problem.code)
            };
            (line, column, message)
        })
        .collect()
}
