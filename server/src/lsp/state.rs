//! The session and its snapshots. The [`Session`] is owned by the main loop alone: every notification
//! changes it in the order the client sent them, with no lock. A [`Snapshot`] is a cheap, immutable copy of
//! what a request needs (the analysis, the negotiated encoding, the inline test runs), handed to a worker
//! thread; edits that arrive meanwhile change the session, never the snapshot.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender};
use ls_types::Uri;
use lsp_server::{Message, Notification, Request, RequestId, Response};
use serde::{Deserialize, Serialize};

use super::capabilities::ClientFeatures;
use super::config::Settings;
use super::task::Task;
use super::workers::Workers;
use crate::base::PositionEncoding;
use crate::ide::{Analysis, AnalysisHost, InlineRun, ManifestVerdict, WorkspacePolicies};
use crate::vfs::DiskFiles;

/// A document the client has open: its URI and the version it last sent.
#[derive(Clone, Debug)]
pub struct OpenDocument {
    pub uri: Uri,
    pub version: i32,
}

/// What the server keeps about inline tests.
pub struct TestState {
    /// The newest run of each test file.
    pub runs: HashMap<PathBuf, Arc<InlineRun>>,
    /// The same runs as one shared list, for snapshots.
    pub run_list: Arc<[Arc<InlineRun>]>,
    /// Paths changed since the last round started.
    pub pending: Vec<PathBuf>,
    /// Off when the user turned inline tests off.
    pub enabled: bool,
    /// Whether a round is running on the test thread (one at a time; what queues meanwhile is the next).
    pub round_running: bool,
    /// Bumped whenever `runs` or the manifest verdicts change, so diagnostics computed from older
    /// background results are never sent after newer.
    pub version: u64,
}

/// What the server keeps about the open manifests judged by the workspace's policies.
#[derive(Default)]
pub struct ManifestState {
    /// The newest verdict of each open manifest.
    pub verdicts: HashMap<PathBuf, Arc<ManifestVerdict>>,
    /// The same verdicts as one shared list, for snapshots.
    pub verdict_list: Arc<[Arc<ManifestVerdict>]>,
    /// The policies the last round prepared, reused while the policy files hold the same text.
    pub policies: Option<Arc<WorkspacePolicies>>,
    /// Paths changed since the last round started.
    pub pending: Vec<PathBuf>,
    /// Whether a round runs (on the test thread, one at a time).
    pub round_running: bool,
}

impl TestState {
    /// Replaces the runs of the given test files (`None`: the file is no longer a test) and bumps the version.
    pub fn update(&mut self, gone: &[PathBuf], done: Vec<Arc<InlineRun>>) {
        for path in gone {
            self.runs.remove(path);
        }
        for run in done {
            self.runs.insert(run.test_file.clone(), run);
        }
        self.run_list = self.runs.values().cloned().collect();
        self.version += 1;
    }

    pub fn clear(&mut self) {
        self.runs.clear();
        self.run_list = Arc::from(Vec::new());
        self.pending.clear();
        self.version += 1;
    }
}

/// Who answers a request the workers compute: the worker when it finishes first, or the main loop when a
/// `$/cancelRequest` comes first. Exactly one of them claims it, so the client gets exactly one answer.
#[derive(Debug, Default)]
pub struct RequestClaim {
    state: AtomicU8,
}

impl RequestClaim {
    const PENDING: u8 = 0;
    const ANSWERED: u8 = 1;
    const CANCELLED: u8 = 2;

    /// The worker's claim, when it has an answer.
    pub fn answer(&self) -> bool {
        self.claim(Self::ANSWERED)
    }

    /// The main loop's claim, on `$/cancelRequest`.
    pub fn cancel(&self) -> bool {
        self.claim(Self::CANCELLED)
    }

    pub fn is_cancelled(&self) -> bool {
        self.state.load(Ordering::SeqCst) == Self::CANCELLED
    }

    pub fn is_pending(&self) -> bool {
        self.state.load(Ordering::SeqCst) == Self::PENDING
    }

    fn claim(&self, outcome: u8) -> bool {
        self.state.compare_exchange(Self::PENDING, outcome, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }
}

/// Requests the server sent to the client, by what their answers are for.
#[derive(Clone, Debug)]
pub enum Outgoing {
    /// `workspace/configuration`: the answer holds the client's settings.
    Configuration,
    /// `window/workDoneProgress/create` for a scan: the progress may begin once the client answers.
    ProgressCreated { scan: u64 },
    /// A request whose answer does not matter (capability registration, refreshes).
    Ignored,
}

/// Where a workspace scan's progress report stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanProgress {
    /// Waiting for the client to create the token.
    Requested,
    /// `begin` was sent.
    Begun,
    /// The scan ended before the client created the token: `begin` and `end` go out when it does.
    Finished { files: usize },
}

/// What the server is doing, for `policy-lsp/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerState {
    /// A workspace scan runs; `files` counts the YAML and Rego files it found so far (0 before its walk ends).
    Indexing,
    /// Every scan is loaded: `files` and `policy_files` are what the analysis holds.
    Ready,
}

/// The parameters of `policy-lsp/status` (see `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusParams {
    pub state: ServerState,
    pub files: usize,
    pub policy_files: usize,
}

/// What the session keeps of `policy-lsp/status`, to send each change once.
#[derive(Debug, Default)]
pub struct StatusState {
    /// Set by `initialized`: before it the first scan has not started, and "ready" would be premature.
    pub active: bool,
    /// Scans started and not loaded yet.
    pub scans_running: usize,
    /// The generation whose counts were last worked out: counting again is needed only after a change.
    pub counted_generation: Option<u64>,
    pub last_sent: Option<StatusParams>,
}

/// A `workspace/diagnostic` request held until the state moves on from what its previous result ids named
/// (see `workspace_pull`).
pub struct ParkedPull {
    pub request: Request,
    /// The result id the client holds for each file, by path.
    pub previous: HashMap<PathBuf, String>,
    /// `ResultIds::changes` when it was parked: while that stands, nothing can have changed.
    pub changes: u64,
}

/// The result ids of pulled diagnostics, one per file, so that a pull after an edit re-computes and re-sends
/// only the files whose diagnostics can have changed. A file's id moves on when the file changes, when a
/// file it depends on changes (the same rule as for pushed diagnostics: tests naming it or read by its last
/// run, the constraints of a template), or when its inline test run or manifest verdict is replaced; every
/// id moves on when something any file may depend on changes (settings, files appearing or disappearing,
/// a scan loading files). Cheap to clone, for snapshots.
#[derive(Clone, Debug, Default)]
pub struct ResultIds {
    /// Bumped when every id moves on at once.
    epoch: u64,
    /// For each file moved on since the epoch began, the change that last moved it.
    stamps: Arc<HashMap<PathBuf, u64>>,
    /// Counts the changes, of one file or of all.
    pub changes: u64,
}

impl ResultIds {
    /// The result id of a file's diagnostics in the state these ids name.
    pub fn of(&self, path: &Path) -> String {
        format!("{}.{}", self.epoch, self.stamps.get(path).copied().unwrap_or(0))
    }

    /// Moves the ids of these files on.
    pub fn touch(&mut self, paths: impl IntoIterator<Item = PathBuf>) {
        self.changes += 1;
        let stamps = Arc::make_mut(&mut self.stamps);
        for path in paths {
            stamps.insert(path, self.changes);
        }
    }

    /// Moves every id on.
    pub fn touch_all(&mut self) {
        self.changes += 1;
        self.epoch += 1;
        self.stamps = Arc::new(HashMap::new());
    }
}

/// Everything the main loop owns.
pub struct Session {
    pub host: AnalysisHost,
    pub open: Arc<HashMap<PathBuf, OpenDocument>>,
    pub client: Arc<ClientFeatures>,
    pub settings: Settings,
    pub roots: Vec<PathBuf>,
    pub initialized: bool,
    pub shutdown_requested: bool,
    /// Bumped on every change of any file: the state that a computed result belongs to. Workers compute
    /// in parallel, so a result may arrive after one computed later; it is dropped if it is older than what
    /// was published.
    pub generation: u64,
    /// The same generation, for workers to see that their round has gone stale.
    pub shared_generation: Arc<AtomicU64>,
    /// The (generation, test runs version) that each document's last published diagnostics came from.
    pub published: HashMap<PathBuf, (u64, u64)>,
    /// Open documents whose diagnostics are to be published once the messages waiting have been applied.
    pub dirty: HashSet<PathBuf>,
    /// Documents whose next check may run on the main loop, as quicker than a hand-over to a worker: those
    /// the client just edited (a keystroke re-checks one document of a file; the others' diagnostics are
    /// cached). A first check after an open goes to a worker: it may load the schemas or a huge file.
    pub check_here: HashSet<PathBuf>,
    /// Files changed since then whose dependents (tests naming them, constraints of a template) are to be
    /// re-published too.
    pub changed: Vec<PathBuf>,
    pub tests: TestState,
    pub manifests: ManifestState,
    /// Requests given to workers, with their claims (for `$/cancelRequest`); answered ones are swept out
    /// as new ones come.
    pub pending_requests: HashMap<RequestId, Arc<RequestClaim>>,
    /// Requests the server sent, by id.
    pub outgoing: HashMap<RequestId, Outgoing>,
    pub next_outgoing_id: i32,
    /// Workspace scans whose progress is reported, by scan number.
    pub scans: HashMap<u64, ScanProgress>,
    pub next_scan: u64,
    /// A `workspace/diagnostic` request held until something changes.
    pub parked_pull: Option<ParkedPull>,
    /// The pulled diagnostics' result id of each file.
    pub result_ids: ResultIds,
    /// Files changed since the result ids were last brought up to date: their dependents are worked out
    /// once per burst of keystrokes (pull mode only).
    pub pull_changed: Vec<PathBuf>,
    /// What `policy-lsp/status` last told the client.
    pub status: StatusState,
    /// Messages to the client.
    pub sender: Sender<Message>,
    /// Results from the workers, back to the main loop.
    pub task_sender: Sender<Task>,
    pub task_receiver: Receiver<Task>,
    pub workers: Workers,
}

/// What a request is answered from.
#[derive(Clone)]
pub struct Snapshot {
    pub analysis: Analysis,
    pub client: Arc<ClientFeatures>,
    pub open: Arc<HashMap<PathBuf, OpenDocument>>,
    pub runs: Arc<[Arc<InlineRun>]>,
    pub verdicts: Arc<[Arc<ManifestVerdict>]>,
    /// The pulled diagnostics' result id of each file.
    pub result_ids: ResultIds,
    /// The channel to the client, for the progress a long request reports while it runs.
    pub sender: Sender<Message>,
}

impl Snapshot {
    pub fn encoding(&self) -> PositionEncoding {
        self.client.encoding
    }
}

impl Session {
    pub fn new(sender: Sender<Message>) -> Session {
        let (task_sender, task_receiver) = crossbeam_channel::unbounded();
        Session {
            host: AnalysisHost::new(Arc::new(DiskFiles::default())),
            open: Arc::new(HashMap::new()),
            client: Arc::new(ClientFeatures::default()),
            settings: Settings::default(),
            roots: Vec::new(),
            initialized: false,
            shutdown_requested: false,
            generation: 0,
            shared_generation: Arc::new(AtomicU64::new(0)),
            published: HashMap::new(),
            dirty: HashSet::new(),
            changed: Vec::new(),
            check_here: HashSet::new(),
            tests: TestState {
                runs: HashMap::new(),
                run_list: Arc::from(Vec::new()),
                pending: Vec::new(),
                enabled: true,
                round_running: false,
                version: 0,
            },
            manifests: ManifestState::default(),
            pending_requests: HashMap::new(),
            outgoing: HashMap::new(),
            next_outgoing_id: 1,
            scans: HashMap::new(),
            next_scan: 0,
            parked_pull: None,
            result_ids: ResultIds::default(),
            pull_changed: Vec::new(),
            status: StatusState::default(),
            sender,
            task_sender,
            task_receiver,
            workers: Workers::new(),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            analysis: self.host.snapshot(),
            client: self.client.clone(),
            open: self.open.clone(),
            runs: self.tests.run_list.clone(),
            verdicts: self.manifests.verdict_list.clone(),
            result_ids: self.result_ids.clone(),
            sender: self.sender.clone(),
        }
    }

    /// Records that some file changed: results computed before now are older than what comes next.
    pub fn bump_generation(&mut self) {
        self.generation += 1;
        self.shared_generation.store(self.generation, Ordering::SeqCst);
    }

    pub fn open_paths(&self) -> Vec<PathBuf> {
        self.open.keys().cloned().collect()
    }

    pub fn respond(&self, response: Response) {
        let _ = self.sender.send(Message::Response(response));
    }

    pub fn notify<N: ls_types::notification::Notification>(&self, params: N::Params) {
        let _ = self.sender.send(Message::Notification(Notification::new(N::METHOD.to_string(), params)));
    }

    /// Sends a request to the client; its answer is handled as `purpose` says.
    pub fn send_request<R: ls_types::request::Request>(&mut self, params: R::Params, purpose: Outgoing) {
        let id = RequestId::from(format!("policy-lsp/{}", self.next_outgoing_id));
        self.next_outgoing_id += 1;
        self.outgoing.insert(id.clone(), purpose);
        let _ = self.sender.send(Message::Request(Request::new(id, R::METHOD.to_string(), params)));
    }
}
