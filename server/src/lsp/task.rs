//! What the workers report back to the main loop, which alone changes the session: diagnostics to
//! publish, inline test rounds and workspace scans. (Answers to requests go to the client directly.)

use std::path::PathBuf;
use std::sync::Arc;

use ls_types::{self as lsp, Uri};

use crate::ide::{FileFacts, InlineRun, ManifestVerdict, RegoFacts, WorkspacePolicies};

/// What a worker reports back to the main loop.
pub enum Task {
    /// Diagnostics computed for open documents, to publish if they are still current.
    Diagnostics(Vec<Publication>),
    /// One round of inline tests: new runs, test files whose turn passed to the next round, and test
    /// files that are no longer tests.
    TestRound { done: Vec<Arc<InlineRun>>, left: Vec<PathBuf>, gone: Vec<PathBuf> },
    /// One round of manifest verdicts: the policies it judged with (`None` when preparing them failed),
    /// new verdicts, manifests whose turn passed to the next round, and paths that lost their verdicts.
    ManifestRound {
        policies: Option<Arc<WorkspacePolicies>>,
        done: Vec<Arc<ManifestVerdict>>,
        left: Vec<PathBuf>,
        gone: Vec<PathBuf>,
    },
    /// A batch of a workspace scan: the facts of the YAML files and of the `.rego` modules read so far, and
    /// how far the scan got.
    Indexed {
        scan: Option<u64>,
        facts: Vec<(PathBuf, Arc<FileFacts>)>,
        rego: Vec<(PathBuf, RegoFacts)>,
        done: usize,
        total: usize,
    },
    /// The end of a workspace scan, with the number of files indexed.
    Scanned { scan: Option<u64>, files: usize },
}

/// Diagnostics of one open document, from one state of the files and of the test runs.
pub struct Publication {
    pub path: PathBuf,
    pub uri: Uri,
    pub version: i32,
    pub generation: u64,
    pub runs_version: u64,
    pub diagnostics: Vec<lsp::Diagnostic>,
}
