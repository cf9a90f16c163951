//! Diagnostics in editor-neutral terms: a stable code, a severity, a byte range and a message.

use std::path::PathBuf;

use super::TextRange;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Severity {
    Error,
    Warning,
    Info,
    Hint,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Hint => "hint",
        }
    }
}

/// A secondary place that explains a diagnostic, possibly in another file.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RelatedInformation {
    /// `None` means the file of the diagnostic itself.
    pub file: Option<PathBuf>,
    pub range: TextRange,
    pub message: String,
}

/// A machine-applicable fix: replace a range of the diagnostic's file with new text.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Fix {
    pub title: String,
    pub range: TextRange,
    pub replacement: String,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Diagnostic {
    /// A stable identifier such as `schema/unknown-field`, documented in `ide::lints`.
    pub code: &'static str,
    pub severity: Severity,
    pub range: TextRange,
    pub message: String,
    pub related: Vec<RelatedInformation>,
    /// A quick fix, when the right edit is known (a did-you-mean).
    pub fix: Option<Fix>,
}

impl Diagnostic {
    pub fn new(code: &'static str, severity: Severity, range: TextRange, message: impl Into<String>) -> Diagnostic {
        Diagnostic { code, severity, range, message: message.into(), related: Vec::new(), fix: None }
    }

    pub fn error(code: &'static str, range: TextRange, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, Severity::Error, range, message)
    }

    pub fn warning(code: &'static str, range: TextRange, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, Severity::Warning, range, message)
    }

    pub fn with_fix(mut self, fix: Fix) -> Diagnostic {
        self.fix = Some(fix);
        self
    }

    pub fn with_related(mut self, related: RelatedInformation) -> Diagnostic {
        self.related.push(related);
        self
    }
}
