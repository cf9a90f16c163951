//! Command-line front end: parses argv, runs `lint`, `test`, `apply`, `eval`, `merge` and `explain` and picks their exit
//! codes; hands `serve` back to the entry point, which starts the language server.

pub mod apply;
mod blob_cache;
pub mod changed;
pub mod eval;
pub mod lint;
pub mod locate;
pub mod merge;
pub mod shard;
pub mod status;
pub mod test;
pub mod test_exit;
pub mod test_flags;

pub use status::{ExitStatus, OutputFormat};

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

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
        /// Exit with 1 when a directory holds no YAML or .rego file to check (otherwise a warning).
        #[arg(long)]
        require_files: bool,
        #[command(flatten)]
        changed: changed::ChangedFlags,
        #[command(flatten)]
        shard: shard::ShardFlags,
    },
    /// Run Kyverno Test files, gator Suites and Rego unit tests with kyverno test / gator verify / opa test
    /// semantics, offline.
    Test {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// The file name of Kyverno test files (kyverno's `-f/--file-name`).
        #[arg(short = 'f', long, default_value = "kyverno-test.yaml")]
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
        compatibility: test_flags::CompatibilityFlags,
        #[command(flatten)]
        changed: changed::ChangedFlags,
        #[command(flatten)]
        shard: shard::ShardFlags,
        /// The timeout of one Rego test, such as `5s` or `500ms` (default 5s).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<Duration>,
        #[command(flatten)]
        rego_version: RegoVersionArguments,
    },
    /// Evaluate a Rego query against data (`-d`, .rego and data files or folders) and an input (`-i FILE`,
    /// `-i -` for stdin), printing what `opa eval --format json` prints.
    Eval {
        /// The query, such as `data.k8s.labels.violation`.
        query: String,
        /// Rego and data files, or folders to load recursively.
        #[arg(short, long = "data", value_name = "PATH")]
        data: Vec<PathBuf>,
        /// The input document: a JSON or YAML file, or `-` for stdin.
        #[arg(short, long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Output format: `json` (as `opa eval --format json`) or `values` (the expressions' values).
        #[arg(short, long, value_name = "FORMAT", default_value = "json")]
        format: String,
        /// Exit with 1 when the query is undefined.
        #[arg(long)]
        fail: bool,
        /// Exit with 1 when the query is defined.
        #[arg(long, conflicts_with = "fail")]
        fail_defined: bool,
        /// The timeout of the evaluation, such as `5s` (default 5s).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<Duration>,
        #[command(flatten)]
        rego_version: RegoVersionArguments,
    },
    /// Judge manifests against the policies, as `kyverno apply` and `gator test` do: every manifest is a
    /// CREATE admission request, run through the policies in the order `kyverno apply` runs them.
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
    /// Merge the outputs of `lint --shard` or `test --shard` runs (JSON, SARIF or JUnit XML) into the one
    /// document an unsharded run prints, and exit as it would on the merged results.
    Merge {
        /// The shards' output files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The format of the inputs (default: read from their content).
        #[arg(long, value_enum)]
        format: Option<merge::FormatArgument>,
        /// Exit with 1 on lint warnings too (as `lint --deny-warnings`).
        #[arg(long)]
        deny_warnings: bool,
        /// As `test --strict`: test-file warnings fail the merged run.
        #[arg(long)]
        strict: bool,
        /// As `test --allow-unsupported`: unsupported results do not fail the merged run.
        #[arg(long)]
        allow_unsupported: bool,
    },
    /// Explain a diagnostic code, e.g. `policy-lsp explain schema/unknown-field`, or list the codes of a group
    /// (`policy-lsp explain schema`).
    Explain { code: String },
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
        Command::Lint { paths, output, deny_warnings, require_files, changed, shard } => {
            lint::run(lint::LintOptions { paths, output, deny_warnings, require_files, changed, shard: shard.shard })
        }
        Command::Test {
            paths,
            output,
            file_name,
            detailed_results,
            fail_only,
            timings,
            registry,
            compatibility,
            changed,
            shard,
            timeout,
            rego_version,
        } => test::run(test::TestOptions {
            paths,
            output,
            file_name,
            detailed_results,
            fail_only,
            timings,
            registry,
            compatibility,
            rego_timeout: timeout,
            rego_version: rego_version.setting(),
            changed,
            shard: shard.shard,
        }),
        Command::Eval { query, data, input, format, fail, fail_defined, timeout, rego_version } => {
            eval::run(eval::EvalOptions {
                query,
                data,
                input,
                format,
                fail,
                fail_defined,
                timeout,
                version: rego_version.setting(),
            })
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
        Command::Merge { inputs, format, deny_warnings, strict, allow_unsupported } => {
            merge::run(merge::MergeOptions {
                inputs,
                format,
                deny_warnings,
                policy: test_exit::ExitPolicy { strict, allow_unsupported },
            })
        }
        Command::Explain { code } => explain(&code),
    };
    Invocation::Finished(status)
}

/// The Rego version flags of `test` and `eval`, as `opa test` and `opa eval` take them.
#[derive(clap::Args)]
struct RegoVersionArguments {
    /// Read `.rego` files without `import rego.v1` as Rego v0 (OPA 0.x syntax).
    #[arg(long, conflicts_with = "v1_compatible")]
    v0_compatible: bool,
    /// Read every `.rego` file as Rego v1 (OPA 1.x syntax).
    #[arg(long)]
    v1_compatible: bool,
}

impl RegoVersionArguments {
    /// The Rego version the command line asks for, if any.
    fn setting(&self) -> Option<crate::engine::opa::VersionSetting> {
        use crate::engine::opa::VersionSetting;
        if self.v0_compatible {
            Some(VersionSetting::V0)
        } else if self.v1_compatible {
            Some(VersionSetting::V1)
        } else {
            None
        }
    }
}

/// A duration as Go's flags write it (`5s`, `500ms`, `1m30s`), read by the engine's reader of Go
/// durations; a negative one is refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::engine::kyverno::pattern::parse_duration(text)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| format!("`{text}` is not a duration such as 5s or 500ms (units: ns, us, ms, s, m, h)"))
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
