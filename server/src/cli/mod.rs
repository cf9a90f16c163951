//! Command-line front end: parses argv, runs `lint`, `test` and `explain` and picks their exit codes; hands
//! `serve` back to the entry point, which starts the language server.

pub mod changed;
pub mod lint;
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
        #[command(flatten)]
        changed: changed::ChangedFlags,
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
        #[command(flatten)]
        changed: changed::ChangedFlags,
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
        Command::Lint { paths, output, deny_warnings, require_files, changed } => {
            lint::run(lint::LintOptions { paths, output, deny_warnings, require_files, changed })
        }
        Command::Test { paths, output, file_name, detailed_results, fail_only, timings, registry, changed } => {
            test::run(test::TestOptions {
                paths,
                output,
                file_name,
                detailed_results,
                fail_only,
                timings,
                registry,
                changed,
            })
        }
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
