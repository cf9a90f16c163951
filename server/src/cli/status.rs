//! What every command shares: the output formats it can print and the exit status it ends with. Kept apart
//! from `mod.rs`, which parses argv and calls the commands, so that the commands do not import their caller.

use std::process::ExitCode;

use clap::ValueEnum;

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
