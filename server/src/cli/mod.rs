//! Command-line front end: parses argv, runs `lint`, `test`, `apply` and `explain` and picks their exit codes;
//! hands `serve` back to the entry point, which starts the language server.

pub mod apply;
pub mod lint;
pub mod locate;
pub mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "policy-lsp",
    version,
    about = "Language server, linter and test runner for Kyverno and Gatekeeper policies"
)]
struct Arguments {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the language server over stdio.
    Serve {
        /// Accepted for clients that pass it; stdio is the only transport.
        #[arg(long)]
        stdio: bool,
    },
    /// Check policies, tests and resources: YAML syntax, schemas and cross-file references.
    Lint {
        /// Files or directories (default: the current directory); `-` reads standard input (rendered Helm
        /// output, say: `helm template chart | policy-lsp lint -`).
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// Exit with 1 on warnings too.
        #[arg(long)]
        deny_warnings: bool,
        /// Exit with 1 when a directory holds no YAML file to check (otherwise a warning).
        #[arg(long)]
        require_files: bool,
    },
    /// Run Kyverno Test files and gator Suites with kyverno test / gator verify semantics, offline.
    Test {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// The file name of Kyverno test files.
        #[arg(long, default_value = "kyverno-test.yaml")]
        file_name: String,
        /// Add the MESSAGE column to the text table.
        #[arg(long)]
        detailed_results: bool,
        /// Show only results that did not pass.
        #[arg(long)]
        fail_only: bool,
        /// Print where the time went on stderr, beside the time it takes just to read and parse the files
        /// the run read.
        #[arg(long)]
        timings: bool,
        /// As kyverno's `--registry`: imageRegistry context entries are looked up in registries, so
        /// results that read one without data in the test's context file are reported unsupported.
        #[arg(long)]
        registry: bool,
    },
    /// Judge manifests against the policies, as `kyverno apply` and `gator test` do: every manifest is a
    /// CREATE admission request; mutations apply first, in admission order, and validation sees the result.
    Apply {
        /// Policy files or directories: Kyverno policies of every kind with their bindings and exceptions,
        /// Gatekeeper templates, constraints and ExpansionTemplates (default: the current directory).
        paths: Vec<PathBuf>,
        /// Manifest files or directories (multi-document files and `kind: List` included); `-` reads
        /// standard input.
        #[arg(long = "resource", short = 'r', visible_alias = "resources", required = true)]
        resources: Vec<PathBuf>,
        /// PolicyException files or directories, besides those among the policies.
        #[arg(long = "exceptions", short = 'e', visible_alias = "exception")]
        exceptions: Vec<PathBuf>,
        /// A Kyverno CLI Values file: global values, per-policy and per-resource values, namespace labels.
        #[arg(long, short = 'f')]
        values_file: Option<PathBuf>,
        /// Variables, `key=value` (comma-separated or repeated), as `kyverno apply --set` takes them.
        #[arg(long = "set", short = 's', value_delimiter = ',')]
        set: Vec<String>,
        /// A Kyverno CLI UserInfo file: the roles and user of the admission requests.
        #[arg(long, short = 'u')]
        userinfo: Option<PathBuf>,
        /// A Kyverno CLI Context file: the cluster objects and image data CEL policies read.
        #[arg(long)]
        context_file: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = apply::ApplyFormat::Text)]
        output: apply::ApplyFormat,
        /// Failures of policies that only audit are warnings, and do not fail the run.
        #[arg(long)]
        audit_warn: bool,
        /// Print each manifest the mutating policies changed, as they leave it (text output).
        #[arg(long)]
        show_mutated: bool,
    },
    /// Explain a diagnostic code, e.g. `policy-lsp explain schema/unknown-field`, or list the codes of a group
    /// (`policy-lsp explain schema`).
    Explain { code: String },
}

/// Output formats shared by `lint` and `test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Sarif,
    Github,
    Junit,
    Markdown,
}

impl OutputFormat {
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::Json => "json",
            OutputFormat::Sarif => "sarif",
            OutputFormat::Github => "github",
            OutputFormat::Junit => "junit",
            OutputFormat::Markdown => "markdown",
        }
    }
}

/// Exit codes: 0 clean, 1 findings or failures, 2 usage or I/O errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    Failure,
    UsageError,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::UsageError => ExitCode::from(2),
        }
    }
}

/// What the command line asked for: the language server, or a command the CLI has run.
pub enum Invocation {
    Serve,
    Finished(ExitStatus),
}

/// Parses argv and runs the command it names, except `serve`, which it hands back.
pub fn main() -> Invocation {
    let arguments = match Arguments::try_parse() {
        Ok(arguments) => arguments,
        Err(error) => {
            let usage = error.use_stderr();
            let _ = error.print();
            return Invocation::Finished(if usage { ExitStatus::UsageError } else { ExitStatus::Success });
        }
    };
    let status = match arguments.command {
        Command::Serve { stdio: _ } => return Invocation::Serve,
        Command::Lint { paths, output, deny_warnings, require_files } => {
            lint::run(lint::LintOptions { paths, output, deny_warnings, require_files })
        }
        Command::Test { paths, output, file_name, detailed_results, fail_only, timings, registry } => {
            test::run(test::TestOptions { paths, output, file_name, detailed_results, fail_only, timings, registry })
        }
        Command::Apply {
            paths,
            resources,
            exceptions,
            values_file,
            set,
            userinfo,
            context_file,
            output,
            audit_warn,
            show_mutated,
        } => apply::run(apply::ApplyOptions {
            policy_paths: paths,
            resources,
            exceptions,
            values_file,
            set,
            user_info: userinfo,
            context_file,
            output,
            audit_warn,
            show_mutated,
        }),
        Command::Explain { code } => explain(&code),
    };
    Invocation::Finished(status)
}

fn explain(query: &str) -> ExitStatus {
    match crate::ide::explain::explain(query) {
        Ok(text) => {
            print!("{text}");
            ExitStatus::Success
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitStatus::UsageError
        }
    }
}
