//! `policy-lsp merge`: joins the outputs of `lint --shard` or `test --shard` runs into one document on
//! stdout, and exits as the unsharded command would on the merged results.

use std::path::PathBuf;

use super::status::ExitStatus;
use super::test_exit::{ExitPolicy, exit_status};
use crate::report::merge::{Input, MergeFormat, Merged, detect, merge};

/// The `--format` values of `merge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArgument {
    Json,
    Sarif,
    Junit,
}

pub struct MergeOptions {
    pub inputs: Vec<PathBuf>,
    /// The format of every input; detected from the content when absent.
    pub format: Option<FormatArgument>,
    /// As `lint --deny-warnings`: lint warnings fail the merged run too.
    pub deny_warnings: bool,
    /// As `test --strict` and `test --allow-unsupported`.
    pub policy: ExitPolicy,
}

pub fn run(options: MergeOptions) -> ExitStatus {
    let mut texts = Vec::new();
    for path in &options.inputs {
        match std::fs::read_to_string(path) {
            Ok(text) => texts.push((path.display().to_string(), text)),
            Err(error) => {
                eprintln!("error: {}: {error}", path.display());
                return ExitStatus::UsageError;
            }
        }
    }
    let inputs: Vec<Input<'_>> = texts.iter().map(|(name, text)| Input { name, text }).collect();
    let format = match options.format {
        Some(FormatArgument::Json) => MergeFormat::Json,
        Some(FormatArgument::Sarif) => MergeFormat::Sarif,
        Some(FormatArgument::Junit) => MergeFormat::Junit,
        None => match detected_format(&inputs) {
            Ok(format) => format,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitStatus::UsageError;
            }
        },
    };
    let merged = match merge(format, &inputs) {
        Ok(merged) => merged,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitStatus::UsageError;
        }
    };
    match merged {
        Merged::Lint { text, summary } => {
            print!("{text}");
            eprintln!(
                "merged {} report{}: {} error{}, {} warning{}",
                inputs.len(),
                plural(inputs.len()),
                summary.errors,
                plural(summary.errors),
                summary.warnings,
                plural(summary.warnings)
            );
            if summary.errors > 0 || (options.deny_warnings && summary.warnings > 0) {
                ExitStatus::Failure
            } else {
                ExitStatus::Success
            }
        }
        Merged::Test { text, summary } => {
            print!("{text}");
            let (status, reasons) = exit_status(&summary, options.policy);
            for reason in reasons {
                eprintln!("{reason}");
            }
            status
        }
    }
}

/// The one format of all inputs, read from their content.
fn detected_format(inputs: &[Input<'_>]) -> Result<MergeFormat, String> {
    let mut first: Option<(MergeFormat, &str)> = None;
    for input in inputs {
        let Some(format) = detect(input.text) else {
            return Err(format!(
                "{}: neither JSON, SARIF nor JUnit XML (is it the text output? shards need --output json, sarif or \
                 junit)",
                input.name
            ));
        };
        match first {
            None => first = Some((format, input.name)),
            Some((known, name)) if known != format => {
                return Err(format!(
                    "{} is {} but {name} is {}: merge outputs of one format",
                    input.name,
                    format_name(format),
                    format_name(known)
                ));
            }
            Some(_) => {}
        }
    }
    first.map(|(format, _)| format).ok_or_else(|| "no input to merge".to_string())
}

fn format_name(format: MergeFormat) -> &'static str {
    match format {
        MergeFormat::Json => "JSON",
        MergeFormat::Sarif => "SARIF",
        MergeFormat::Junit => "JUnit XML",
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
