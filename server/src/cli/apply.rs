//! `policy-lsp apply`: loads the policies and the manifests (stdin included), judges the manifests in
//! parallel through the shared apply module, places every finding on a line, renders, and picks the exit
//! code: 2 when an input cannot be read or used, 1 when a policy that blocks admission fails (audit ones
//! too unless `--audit-warn`), an evaluation errs or cannot be known offline, or a policy is rejected;
//! 0 otherwise.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;
use rayon::prelude::*;

use super::locate::Locator;
use super::status::ExitStatus;
use crate::apply::{self, Manifest, PreparedPolicies, gatekeeper::ManifestInventory, load::Loader};
use crate::base::Code;
use crate::report::apply::{
    ApplyRun, Location, render_github, render_json, render_junit, render_policy_report, render_sarif, render_text,
};
use crate::testrun::{FileError, FileSource, Problem, SourceRef};
use crate::vfs::DiskFiles;

/// The name standing for standard input in output (`--resource -`).
pub const STDIN_NAME: &str = "<stdin>";

/// Output formats of `apply`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    Text,
    Json,
    Sarif,
    Github,
    Junit,
    PolicyReport,
}

pub struct ApplyOptions {
    pub policy_paths: Vec<PathBuf>,
    pub resources: Vec<PathBuf>,
    pub exceptions: Vec<PathBuf>,
    pub values_file: Option<PathBuf>,
    pub set: Vec<String>,
    pub user_info: Option<PathBuf>,
    pub context_file: Option<PathBuf>,
    pub output: ApplyFormat,
    pub audit_warn: bool,
    pub show_mutated: bool,
}

/// The disk, plus standard input under [`STDIN_NAME`] when `--resource -` asked for it.
struct CommandLineFiles {
    disk: DiskFiles,
    stdin: Option<Arc<str>>,
}

impl FileSource for CommandLineFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        match &self.stdin {
            Some(text) if path == Path::new(STDIN_NAME) => Ok(text.clone()),
            _ => self.disk.read(path),
        }
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        if self.stdin.is_some() && path == Path::new(STDIN_NAME) {
            return None;
        }
        self.disk.list_dir(path)
    }

    fn current_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.disk.current_time()
    }
}

/// Codes of problems that mean an input could not be read or used (exit code 2).
fn is_input_problem(code: Code) -> bool {
    matches!(
        code,
        Code::ApplyUnreadable
            | Code::ApplyYaml
            | Code::ApplyNotAnObject
            | Code::ApplyNoPolicies
            | Code::ApplyNoResources
            | Code::ApplyInvalidValues
    )
}

pub fn run(options: ApplyOptions) -> ExitStatus {
    if options.policy_paths.iter().any(|path| path == Path::new("-")) {
        eprintln!("error: standard input can hold the manifests (`--resource -`), not the policies");
        return ExitStatus::UsageError;
    }
    let reads_stdin = options.resources.iter().any(|path| path == Path::new("-"));
    let stdin = if reads_stdin {
        let mut text = String::new();
        if let Err(error) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("error: cannot read the manifests from standard input: {error}");
            return ExitStatus::UsageError;
        }
        Some(Arc::from(text))
    } else {
        None
    };
    let policy_paths =
        if options.policy_paths.is_empty() { vec![PathBuf::from(".")] } else { options.policy_paths.clone() };
    let resources: Vec<PathBuf> = options
        .resources
        .iter()
        .map(|path| if path == Path::new("-") { PathBuf::from(STDIN_NAME) } else { path.clone() })
        .collect();
    let named: Vec<&PathBuf> = policy_paths
        .iter()
        .chain(resources.iter().filter(|path| *path != Path::new(STDIN_NAME)))
        .chain(&options.exceptions)
        .chain(&options.values_file)
        .chain(&options.user_info)
        .chain(&options.context_file)
        .collect();
    let roots: Vec<PathBuf> = named.iter().map(|path| crate::vfs::workspace_root(path)).collect();
    let configs = crate::vfs::read_configs(&roots);
    let files = CommandLineFiles { disk: DiskFiles::within(&roots), stdin };
    let excluded = |path: &Path| crate::vfs::is_excluded(path, &configs);
    let mut loader = Loader { files: &files, excluded: &excluded, problems: Vec::new() };
    let option_files = apply::load::OptionFiles {
        values: options.values_file.as_deref(),
        user_info: options.user_info.as_deref(),
        context: options.context_file.as_deref(),
    };
    let apply_options = apply::load::options(&mut loader, &option_files, &options.set);
    let apply_options = apply::Options { audit_warn: options.audit_warn, ..apply_options };
    let documents = loader.policy_documents(&policy_paths);
    let exceptions = loader.exceptions(&options.exceptions);
    let manifests = loader.manifests(&resources);
    let mut problems = loader.problems;
    let policies = PreparedPolicies::new(&documents, &exceptions, &apply_options);
    let nowhere = || SourceRef::yaml(PathBuf::new(), 0, String::new());
    if policies.policy_count() == 0 && policies.problems.is_empty() {
        problems.push(Problem {
            at: nowhere(),
            code: Code::ApplyNoPolicies,
            message: format!("no Kyverno policy and no Gatekeeper constraint under {}", display_list(&policy_paths)),
        });
    }
    if manifests.is_empty() && !problems.iter().any(|problem| is_input_problem(problem.code)) {
        problems.push(Problem {
            at: nowhere(),
            code: Code::ApplyNoResources,
            message: format!("no Kubernetes object under {}", display_list(&resources)),
        });
    }
    problems.extend(policies.problems.iter().cloned());
    let inventory = ManifestInventory::new(&manifests, &mut problems);
    let outcomes: Vec<apply::ManifestOutcome> = (0..manifests.len())
        .into_par_iter()
        .map(|index| apply::judge(&policies, &manifests, &inventory, index))
        .collect();
    let report = apply::assemble(&policies, manifests, outcomes, problems);
    let timestamp = apply_options.now.map_or(0, |time| time.timestamp());
    let run = locate(report, &files, timestamp);
    let rendered = match options.output {
        ApplyFormat::Text => render_text(&run, options.show_mutated),
        ApplyFormat::Json => render_json(&run),
        ApplyFormat::Sarif => render_sarif(&run),
        ApplyFormat::Github => render_github(&run),
        ApplyFormat::Junit => render_junit(&run),
        ApplyFormat::PolicyReport => render_policy_report(&run),
    };
    print!("{rendered}");
    exit_status(&run.report)
}

/// 2 for unreadable or unusable inputs, 1 for failures, errors, unknowns and rejected policies, else 0.
pub fn exit_status(report: &apply::ApplyReport) -> ExitStatus {
    if report.problems.iter().any(|problem| is_input_problem(problem.code)) {
        return ExitStatus::UsageError;
    }
    if !report.problems.is_empty() || report.results.iter().any(|result| result.status.fails_run()) {
        return ExitStatus::Failure;
    }
    ExitStatus::Success
}

fn display_list(paths: &[PathBuf]) -> String {
    paths.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Places every result, manifest and problem on a line.
fn locate(report: apply::ApplyReport, files: &dyn FileSource, timestamp: i64) -> ApplyRun {
    let mut locator = Locator::new(files);
    let mut place = |at: &SourceRef| -> Location {
        if at.file.as_os_str().is_empty() {
            return Location { file: String::new(), line: 0, column: 0 };
        }
        let (line, column) = locator.locate(at).unwrap_or((1, 1));
        Location { file: at.file.display().to_string(), line, column }
    };
    let kind_line = |manifest: &Manifest| manifest.place("/kind");
    let manifest_locations: Vec<Location> =
        report.manifests.iter().map(|manifest| place(&kind_line(manifest))).collect();
    let result_locations = report
        .results
        .iter()
        .map(|result| {
            let manifest = &report.manifests[result.manifest];
            let at = match &result.resource_pointer {
                Some(pointer) if !pointer.is_empty() => manifest.place(pointer),
                _ => kind_line(manifest),
            };
            place(&at)
        })
        .collect();
    let problem_locations = report.problems.iter().map(|problem| place(&problem.at)).collect();
    ApplyRun { report, result_locations, manifest_locations, problem_locations, timestamp }
}
