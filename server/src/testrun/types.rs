//! The shapes every test run shares: how a runner reaches files ([`FileSource`], [`FileError`]) and the
//! [`TestReport`] it returns. They sit below the runners and the `run` that picks one, so that neither
//! imports the other's parent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::base::{Code, TextRange};

/// How a runner reaches files.
pub trait FileSource: Sync {
    /// The text of a file, or why it cannot be read.
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError>;
    /// The entries of a directory, or `None` when `path` is not a directory.
    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>>;
    /// The parsed documents of a file. Sources that already hold parsed files (the editor's analysis)
    /// hand them out instead of parsing again; the rest parse what `read` gives.
    fn documents(&self, path: &Path) -> Result<Vec<crate::syntax::Document>, FileError> {
        self.read(path).map(|text| crate::syntax::parse_file(&text))
    }
    /// The current time, for policies that read the clock (`time.now()` in CEL, `time_now()` and friends
    /// in Kyverno's JMESPath). The engines never read the clock: the front end's source answers it, at each
    /// run, so a long-running language server sees the time advance. `None` (sources without a clock, as in
    /// tests) leaves JMESPath time functions failing with a message and CEL at a fixed date.
    fn current_time(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// Why a file cannot be read. The front ends' sources tell these cases apart so that callers decide by the
/// case (a file outside the workspace is its own diagnostic) rather than by the wording of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    /// Nothing exists at the path.
    NotFound { path: PathBuf },
    /// The path resolves (symbolic links included) outside every workspace root.
    OutsideWorkspace { path: PathBuf, roots: Vec<PathBuf> },
    /// The file is larger than the front end reads.
    TooLarge { path: PathBuf, bytes: u64, limit: u64 },
    /// The path names a directory, not a file.
    Directory { path: PathBuf },
    /// The bytes are not UTF-8; `offset` is the first bad byte.
    NotUtf8 { path: PathBuf, offset: usize },
    /// Any other failure of the operating system, with its own message.
    Io { path: PathBuf, message: String },
}

impl FileError {
    /// The path that could not be read.
    pub fn path(&self) -> &Path {
        match self {
            FileError::NotFound { path }
            | FileError::OutsideWorkspace { path, .. }
            | FileError::TooLarge { path, .. }
            | FileError::Directory { path }
            | FileError::NotUtf8 { path, .. }
            | FileError::Io { path, .. } => path,
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path().display();
        match self {
            FileError::NotFound { .. } => write!(formatter, "{path} does not exist"),
            FileError::OutsideWorkspace { roots, .. } => {
                let roots: Vec<String> = roots.iter().map(|root| root.display().to_string()).collect();
                write!(
                    formatter,
                    "{path} is outside the workspace ({}); policy-lsp does not read files outside it",
                    roots.join(", ")
                )
            }
            FileError::TooLarge { bytes, limit, .. } => {
                write!(formatter, "{path} is {bytes} bytes, over the {limit}-byte limit")
            }
            FileError::Directory { .. } => write!(formatter, "{path} is a directory"),
            FileError::NotUtf8 { offset, .. } => {
                write!(formatter, "{path} is not valid UTF-8 (first bad byte at offset {offset})")
            }
            FileError::Io { message, .. } => write!(formatter, "{path}: {message}"),
        }
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

impl Problem {
    /// Whether the real tool runs on despite the problem and passes the test file when its results agree:
    /// `kyverno test` skips a Test without results (`commands/test/command.go` continues past an empty
    /// results list), reports a result naming a rule the policy lacks as excluded, which passes, and
    /// checks nothing for a result with no resource to check (`commands/test/output.go`). Every other
    /// problem stops or fails the real run. `policy-lsp test` prints these as warnings and fails on them
    /// only under `--strict`.
    pub fn tolerated(&self) -> bool {
        matches!(
            self.code,
            Code::KyvernoTestNoResults
                | Code::KyvernoTestUnknownRule
                | Code::KyvernoTestNoResources
                | Code::KyvernoTestIgnoredResource
        )
    }
}

/// Everything one test file produced.
#[derive(Serialize, Clone, Debug, Default)]
pub struct TestReport {
    pub results: Vec<TestResult>,
    pub problems: Vec<Problem>,
}
