//! The flags of `kyverno test` and `gator verify` that `policy-lsp test` accepts with the same meaning, so a
//! CI job switches by changing the command name: parsing them, refusing the ones that need the network, and
//! selecting the results they ask for.

use std::collections::HashSet;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use regex::Regex;

use super::status::OutputFormat;
use crate::engine::kyverno::pattern::wildcard_match;
use crate::report::test::TestRun;
use crate::testrun::{SourceRef, Subject, TestResult};

/// The flags borrowed from the real tools, flattened into `policy-lsp test`'s own.
#[derive(Args, Clone, Debug, Default)]
pub struct CompatibilityFlags {
    /// kyverno's `-t/--test-case-selector "policy=<glob>,rule=<glob>,resource=<glob>"`: run only the results
    /// it selects. gator's `-t` (with no value, or a value without `=`) means `--trace`.
    #[arg(short = 't', long = "test-case-selector", value_name = "SELECTOR", num_args = 0..=1, default_missing_value = "")]
    pub test_case_selector: Option<String>,
    /// kyverno's `-o/--output-format`: json, yaml, markdown or junit (over `--output`).
    #[arg(short = 'o', long = "output-format", value_enum, value_name = "FORMAT")]
    pub output_format: Option<ToolFormat>,
    /// kyverno's `--remove-color`. policy-lsp never colours its output, so there is nothing to remove;
    /// accepted so command lines keep working (`NO_COLOR` likewise).
    #[arg(long)]
    pub remove_color: bool,
    /// kyverno's `--require-tests`: exit 1 when no test file is found (otherwise exit 0 with a warning).
    #[arg(long)]
    pub require_tests: bool,
    /// Fail on test-file problems that kyverno tolerates (a result naming a rule the policy lacks, a test
    /// without results, a result with no resource to check): printed as warnings otherwise.
    #[arg(long)]
    pub strict: bool,
    /// Exit 0 when the only results that did not pass are `unsupported` (they need a registry, a cluster or
    /// the network, so policy-lsp cannot tell what the real tool would say). Off by default: a run that
    /// could not check something does not pass silently.
    #[arg(long)]
    pub allow_unsupported: bool,
    /// gator's `-r/--run REGEX` and `opa test`'s `--run`: run only the gator tests and cases it selects
    /// (`TEST//CASE` matches both parts; a single regex matches either) and the Rego tests whose
    /// `data.<package>.<name>` the whole REGEX matches (so a `TEST//CASE` filter selects no Rego test).
    /// Kyverno tests are not filtered by it (use `--test-case-selector`).
    #[arg(short = 'r', long = "run", value_name = "REGEX")]
    pub run: Option<String>,
    /// gator's `-v/--verbose` and `opa test -v`: list passing gator cases and passing Rego tests too.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// gator's `--trace`: accepted, but the Rego engine records no evaluation trace; a warning says so.
    #[arg(long)]
    pub trace: bool,
    /// gator's `--enable-k8s-native-validation` (on by default, as in gator): templates' CEL code is
    /// evaluated. `=false` is refused: policy-lsp has no Rego-only mode.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub enable_k8s_native_validation: Option<bool>,
    /// kyverno's `-b/--git-branch`: refused, as test paths that are git URLs are: policy-lsp reads only local
    /// files. Clone the repository and pass the folder.
    #[arg(short = 'b', long = "git-branch", value_name = "BRANCH")]
    pub git_branch: Option<String>,
}

/// The output formats of kyverno's `--output-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ToolFormat {
    Json,
    Yaml,
    Markdown,
    Junit,
}

/// The output format of a run: `-o/--output-format` (kyverno's) when given, else `--output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Own(OutputFormat),
    Yaml,
}

/// What the flags ask for, once checked.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub paths: Vec<PathBuf>,
    pub format: Format,
    pub selection: Selection,
    /// Notes for stderr about flags accepted with a limit (`--trace`).
    pub warnings: Vec<String>,
}

/// Checks the flags and the paths; an `Err` is a usage error (exit 2) with its message.
pub fn resolve(flags: &CompatibilityFlags, paths: &[PathBuf], output: OutputFormat) -> Result<Resolved, String> {
    let mut paths = paths.to_vec();
    let mut trace = flags.trace;
    let mut kyverno = None;
    match flags.test_case_selector.as_deref() {
        None => {}
        // gator's `-t` takes no value: `-t` alone, or followed by the path to verify, is its `--trace`.
        Some(value) if !value.contains('=') => {
            trace = true;
            if !value.is_empty() {
                paths.insert(0, PathBuf::from(value));
            }
        }
        Some(selector) => kyverno = Some(KyvernoSelector::parse(selector)?),
    }
    if let Some(branch) = &flags.git_branch {
        return Err(format!(
            "--git-branch {branch}: policy-lsp reads local files only and never clones; clone the repository \
             (git clone --branch {branch} URL) and pass its folder"
        ));
    }
    for path in &mut paths {
        let text = path.to_string_lossy();
        if text.starts_with("https://") || text.starts_with("http://") {
            return Err(format!(
                "{text}: policy-lsp reads local files only and never clones; clone the repository and pass its folder"
            ));
        }
        // gator's `DIR/...` walks DIR recursively, which `policy-lsp test` does with every folder.
        if let Some(folder) = text.strip_suffix("/...") {
            *path = PathBuf::from(if folder.is_empty() { "/" } else { folder });
        }
    }
    if flags.enable_k8s_native_validation == Some(false) {
        return Err("--enable-k8s-native-validation=false: policy-lsp always evaluates the CEL code of templates, \
                    as gator does by default; there is no Rego-only mode"
            .to_string());
    }
    let (gator, rego) = match &flags.run {
        Some(filter) => (Some(GatorFilter::parse(filter)?), Some(compile_run_regex(filter)?)),
        None => (None, None),
    };
    let mut warnings = Vec::new();
    if trace {
        warnings.push(
            "--trace: the Rego engine (regorus) records no evaluation trace, so none is printed; the cases run as \
             without the flag"
                .to_string(),
        );
    }
    let format = match flags.output_format {
        Some(ToolFormat::Json) => Format::Own(OutputFormat::Json),
        Some(ToolFormat::Yaml) => Format::Yaml,
        Some(ToolFormat::Markdown) => Format::Own(OutputFormat::Markdown),
        Some(ToolFormat::Junit) => Format::Own(OutputFormat::Junit),
        None => Format::Own(output),
    };
    Ok(Resolved { paths, format, selection: Selection { kyverno, gator, rego }, warnings })
}

/// Which results a run keeps: kyverno's test-case selector for Kyverno results, `--run` read as gator reads
/// it for gator's, and `--run` read as `opa test` reads it for Rego tests.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub kyverno: Option<KyvernoSelector>,
    pub gator: Option<GatorFilter>,
    /// `--run` as one regex over `data.<package>.<name>`; the Rego runner skips the tests it leaves out
    /// (`opa test` does not run them), and [`Selection::keeps`] applies the same test to what it reports.
    pub rego: Option<Regex>,
}

impl Selection {
    /// Whether the run keeps `result`.
    pub fn keeps(&self, result: &TestResult) -> bool {
        match &result.subject {
            Subject::Kyverno { policy, rule, resource, .. } => {
                self.kyverno.as_ref().is_none_or(|selector| selector.selects(policy, rule.as_deref(), resource))
            }
            Subject::Gatekeeper { test, case } => {
                self.gator.as_ref().is_none_or(|filter| filter.selects(test, case.as_deref()))
            }
            Subject::Opa { package, test } => {
                self.rego.as_ref().is_none_or(|regex| regex.is_match(&format!("{package}.{test}")))
            }
        }
    }

    /// Drops the results the selection leaves out, with their lines, and the problems of a results entry
    /// whose every result it left out: the real tools do not look at entries they do not run.
    pub fn apply(&self, runs: &mut [TestRun]) {
        if self.kyverno.is_none() && self.gator.is_none() && self.rego.is_none() {
            return;
        }
        for run in runs {
            let results = std::mem::take(&mut run.report.results);
            let lines = std::mem::take(&mut run.result_lines);
            let mut entries_left_out = HashSet::new();
            let mut entries_kept = HashSet::new();
            for (index, result) in results.into_iter().enumerate() {
                let entry = result.location.as_ref().and_then(results_entry);
                if self.keeps(&result) {
                    entries_kept.extend(entry);
                    run.result_lines.push(lines.get(index).copied().flatten());
                    run.report.results.push(result);
                } else {
                    entries_left_out.extend(entry);
                }
            }
            let problems = std::mem::take(&mut run.report.problems);
            let locations = std::mem::take(&mut run.problem_locations);
            for (problem, location) in problems.into_iter().zip(locations) {
                let left_out = results_entry(&problem.at)
                    .is_some_and(|entry| entries_left_out.contains(&entry) && !entries_kept.contains(&entry));
                if !left_out {
                    run.report.problems.push(problem);
                    run.problem_locations.push(location);
                }
            }
        }
    }
}

/// The results entry a place is in, as (file, document, entry index), for places under `/results/N`.
fn results_entry(at: &SourceRef) -> Option<(PathBuf, usize, usize)> {
    let rest = at.pointer.strip_prefix("/results/")?;
    let index = rest.split('/').next()?.parse().ok()?;
    Some((at.file.clone(), at.document, index))
}

/// kyverno's `--test-case-selector`: a glob (`*`, `?`) per field; a field left out selects everything, and
/// so does a result that leaves the field empty (`cmd/cli/kubectl-kyverno/test/filter/filter.go`).
#[derive(Clone, Debug, Default)]
pub struct KyvernoSelector {
    policy: Option<String>,
    rule: Option<String>,
    resource: Option<String>,
}

impl KyvernoSelector {
    /// Parses `policy=...,rule=...,resource=...`. kyverno prints a malformed part and runs on without it;
    /// here it is a usage error, so a typo cannot quietly widen what a CI job checks.
    pub fn parse(text: &str) -> Result<KyvernoSelector, String> {
        let mut selector = KyvernoSelector::default();
        for part in text.split(',') {
            let Some((key, value)) = part.split_once('=').filter(|(_, value)| !value.contains('=')) else {
                return Err(format!("--test-case-selector: `{part}` is not `<key>=<value>`"));
            };
            let value = Some(value.trim().to_string());
            match key.trim() {
                "policy" => selector.policy = value,
                "rule" => selector.rule = value,
                "resource" => selector.resource = value,
                other => {
                    return Err(format!(
                        "--test-case-selector: `{other}` is not a field; use policy, rule or resource"
                    ));
                }
            }
        }
        Ok(selector)
    }

    /// Whether the selector keeps the result for `resource` of an entry naming `policy` and `rule`.
    pub fn selects(&self, policy: &str, rule: Option<&str>, resource: &str) -> bool {
        let field = |pattern: &Option<String>, value: &str| {
            value.is_empty() || pattern.as_deref().is_none_or(|pattern| wildcard_match(pattern, value))
        };
        field(&self.policy, policy) && field(&self.rule, rule.unwrap_or("")) && field(&self.resource, resource)
    }
}

/// gator's `--run`: `TEST//CASE` keeps the cases matching CASE in tests matching TEST; a single regex keeps
/// the cases whose own name or test's name it matches (`pkg/gator/verify/filter.go`).
#[derive(Clone, Debug)]
pub enum GatorFilter {
    Either(Regex),
    Both { test: Regex, case: Regex },
}

/// `--run` as `opa test` compiles it: the whole text is one regex.
fn compile_run_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|error| format!("--run: `{pattern}` is not a regex: {error}"))
}

impl GatorFilter {
    pub fn parse(text: &str) -> Result<GatorFilter, String> {
        let parts: Vec<&str> = text.split("//").collect();
        match parts.as_slice() {
            [either] => Ok(GatorFilter::Either(compile_run_regex(either)?)),
            [test, case] => Ok(GatorFilter::Both { test: compile_run_regex(test)?, case: compile_run_regex(case)? }),
            _ => Err(format!("--run: `{text}` has more than one `//`")),
        }
    }

    /// Whether the filter keeps the result of `case` in `test` (a test-level result has no case).
    pub fn selects(&self, test: &str, case: Option<&str>) -> bool {
        match self {
            GatorFilter::Either(regex) => regex.is_match(test) || case.is_some_and(|case| regex.is_match(case)),
            GatorFilter::Both { test: test_regex, case: case_regex } => {
                test_regex.is_match(test) && case.is_none_or(|case| case_regex.is_match(case))
            }
        }
    }
}
