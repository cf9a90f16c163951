//! Test runs for Kyverno Test files, gator Suites and Rego unit tests (`opa test`): one `TestReport` shape
//! feeds every output format.
//!
//! Runners reach files through [`FileSource`], so the language server can serve unsaved buffers and the
//! CLI real files. Runners never map positions: they name places as (file, document index, JSON pointer)
//! and the `ide`/`report` layers turn those into line and column.

pub mod diff;
pub mod kyverno;
pub mod opa;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::base::{Code, TextRange};

pub mod gatekeeper;

/// How a runner reaches files.
pub trait FileSource: Sync {
    /// The text of a file, or a sentence saying why it cannot be read.
    fn read(&self, path: &Path) -> Result<Arc<str>, String>;
    /// The entries of a directory, or `None` when `path` is not a directory.
    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>>;
    /// The parsed documents of a file. Sources that already hold parsed files (the editor's analysis)
    /// hand them out instead of parsing again; the rest parse what `read` gives.
    fn documents(&self, path: &Path) -> Result<Vec<crate::syntax::Document>, String> {
        self.read(path).map(|text| crate::syntax::parse_file(&text))
    }
    /// The current time (RFC 3339) for policies that read the clock (`time_now()` in Kyverno's
    /// JMESPath). Runners below the front ends never read the clock themselves; `None` makes such
    /// expressions fail with a message instead.
    fn current_time(&self) -> Option<String> {
        None
    }
}

/// Which tool's semantics a result follows.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    Kyverno,
    Gatekeeper,
    /// Rego unit tests, with `opa test` semantics.
    Opa,
}

/// Whether the actual result met the expectation.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Error,
    /// The case needs a feature that is not implemented: reported loudly, never counted as a pass.
    Unsupported,
    /// The test file itself marks the case `skip: true` (gator keeps such cases in its output).
    Skipped,
}

/// A place in a file: in YAML, the document index in a multi-document stream and a JSON pointer inside it;
/// in a file that is not YAML (a `.rego` module), a byte range of its text.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SourceRef {
    pub file: PathBuf,
    pub document: usize,
    pub pointer: String,
    /// The byte range in a file that is not YAML (then `document` is 0 and `pointer` empty).
    #[serde(skip)]
    pub span: Option<TextRange>,
}

impl SourceRef {
    /// A place in document `document` of a YAML file.
    pub fn yaml(file: impl Into<PathBuf>, document: usize, pointer: impl Into<String>) -> SourceRef {
        SourceRef { file: file.into(), document, pointer: pointer.into(), span: None }
    }

    /// A byte range of a file that is not YAML.
    pub fn text(file: impl Into<PathBuf>, span: TextRange) -> SourceRef {
        SourceRef { file: file.into(), document: 0, pointer: String::new(), span: Some(span) }
    }
}

/// Extra places that explain a result (the failing pattern node, the resource value).
#[derive(Serialize, Clone, Debug)]
pub struct Related {
    pub at: SourceRef,
    pub message: String,
}

/// What a result is about: framework-specific identifiers, flattened into the JSON contract.
#[derive(Serialize, Clone, Debug)]
#[serde(untagged)]
pub enum Subject {
    Kyverno {
        policy: String,
        /// `None` for rule-less (CEL) policy kinds; serialised as `null`.
        rule: Option<String>,
        /// The resource as written in the test file (`name` or `ns/name`).
        resource: String,
        kind: Option<String>,
    },
    Gatekeeper {
        test: String,
        /// `None` for a test-level result (for example `invalid: true`).
        case: Option<String>,
    },
    /// A Rego test rule: its package (`data.k8s.labels`) and its name as `opa test` reports it
    /// (`test_missing_label`, `test_missing_label#01` for a second definition of the name).
    Opa { package: String, test: String },
}

/// One entry of the JSON contract: one resource of a Kyverno `results` entry, or one gator case.
#[derive(Serialize, Clone, Debug)]
pub struct TestResult {
    pub file: PathBuf,
    pub framework: Framework,
    #[serde(flatten)]
    pub subject: Subject,
    pub expected: String,
    pub actual: String,
    pub outcome: Outcome,
    pub reason: String,
    pub message: String,
    /// The entry in the test file this result belongs to (for diagnostics and code lenses).
    #[serde(skip)]
    pub location: Option<SourceRef>,
    /// The resource as `apiVersion/Kind/namespace/name`, when it was found (for kyverno-style tables).
    #[serde(skip)]
    pub resource_id: Option<String>,
    #[serde(skip)]
    pub related: Vec<Related>,
    /// For a mutated or generated resource that differs from the expected one: a unified diff of the
    /// two, expected first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// How long the result took, when the runner times its results one by one (Rego tests, as `opa test`
    /// prints them).
    #[serde(skip)]
    pub duration: Option<Duration>,
}

/// A mistake in a test file or in a file it references (a missing path, an unknown policy name, ...).
#[derive(Serialize, Clone, Debug)]
pub struct Problem {
    pub at: SourceRef,
    pub code: Code,
    pub message: String,
}

/// Everything one test file produced.
#[derive(Serialize, Clone, Debug, Default)]
pub struct TestReport {
    pub results: Vec<TestResult>,
    pub problems: Vec<Problem>,
}
