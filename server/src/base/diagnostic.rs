//! Diagnostics in editor-neutral terms: a stable code, a severity, a byte range and a message.

use std::path::PathBuf;

use super::{Code, Severity, TextRange};

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
    /// A stable identifier such as `schema/unknown-field`, documented with the code itself.
    pub code: Code,
    pub severity: Severity,
    pub range: TextRange,
    pub message: String,
    pub related: Vec<RelatedInformation>,
    /// A quick fix, when the right edit is known (a did-you-mean).
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// A diagnostic at the code's default severity.
    pub fn new(code: Code, range: TextRange, message: impl Into<String>) -> Diagnostic {
        let severity = code.default_severity();
        Diagnostic { code, severity, range, message: message.into(), related: Vec::new(), fix: None }
    }

    /// The same diagnostic at another severity, where the context decides (a schema violation in a test
    /// fixture is a warning).
    pub fn with_severity(mut self, severity: Severity) -> Diagnostic {
        self.severity = severity;
        self
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
