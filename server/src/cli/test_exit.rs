//! The exit code of `policy-lsp test`, decided as `kyverno test` and `gator verify` decide theirs: 0 when
//! every result agrees with its expectation, 1 when one does not or a test file cannot run. Kept apart from
//! running and rendering so the corpus runs measure the same decision the command makes.

use super::status::ExitStatus;
use crate::report::test::TestSummary;

/// The choices the command line makes about what fails a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitPolicy {
    /// `--strict`: test-file problems that the real tool tolerates fail the run too.
    pub strict: bool,
    /// `--allow-unsupported`: results policy-lsp cannot decide offline do not fail the run.
    pub allow_unsupported: bool,
}

/// One kind of finding behind an exit status, for stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// Whether it fails the run (an error) or only informs (a warning).
    pub fails: bool,
    pub text: String,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: {}", if self.fails { "error" } else { "warning" }, self.text)
    }
}

/// The exit status of a run with `summary`, and the findings that decided it.
///
/// An `unsupported` result fails the run unless `--allow-unsupported`: it stands for a result nobody checked,
/// and a pass must mean the real tool would pass.
pub fn exit_status(summary: &TestSummary, policy: ExitPolicy) -> (ExitStatus, Vec<Reason>) {
    let mut reasons = Vec::new();
    let failed = summary.failed + summary.errors;
    if failed > 0 {
        reasons.push(reason(true, format!("{failed} result{} did not agree with the expectation", plural(failed))));
    }
    if summary.problems > 0 {
        reasons.push(reason(
            true,
            format!("{} test-file problem{} that the real tool fails on", summary.problems, plural(summary.problems)),
        ));
    }
    if summary.unsupported > 0 {
        if policy.allow_unsupported {
            reasons.push(reason(
                false,
                format!(
                    "{} unsupported result{} left unchecked, accepted by --allow-unsupported",
                    summary.unsupported,
                    plural(summary.unsupported)
                ),
            ));
        } else {
            reasons.push(reason(
                true,
                format!(
                    "{} unsupported result{} that policy-lsp cannot check offline (--allow-unsupported accepts them)",
                    summary.unsupported,
                    plural(summary.unsupported)
                ),
            ));
        }
    }
    if summary.warnings > 0 {
        if policy.strict {
            reasons.push(reason(
                true,
                format!("{} test-file warning{} that --strict fails on", summary.warnings, plural(summary.warnings)),
            ));
        } else {
            reasons.push(reason(
                false,
                format!(
                    "{} test-file problem{} that kyverno tolerates (--strict fails on them)",
                    summary.warnings,
                    plural(summary.warnings)
                ),
            ));
        }
    }
    let fails = reasons.iter().any(|reason| reason.fails);
    (if fails { ExitStatus::Failure } else { ExitStatus::Success }, reasons)
}

fn reason(fails: bool, text: String) -> Reason {
    Reason { fails, text }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
