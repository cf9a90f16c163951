//! The workspace scan: every YAML file under the workspace folders (less what `exclude` leaves out) is read
//! and parsed on a background worker, in batches on every core, and only its cross-file facts are kept
//! (the index): a closed file's text and syntax are dropped as soon as its facts are taken, so memory does
//! not grow with files nobody has open. `.rego` files are indexed by their Rego facts alone (package, rules
//! and where they are). Each batch joins the analysis on the main loop, so requests are answered between
//! batches from the index built so far; open documents keep the text the client sent.

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::Sender;
use lsp_server::Message;
use rayon::iter::Either;
use rayon::prelude::*;

use ls_types::request::WorkDoneProgressCreate;
use ls_types::{ProgressToken, WorkDoneProgressCreateParams};

use super::progress::Reporter;
use super::state::{Outgoing, ScanProgress, Session};
use super::status;
use super::task::Task;
use super::workers::guarded;
use super::{manifest_rounds, publish, test_rounds, workspace_pull};
use crate::ide::{Analysis, FileFacts, RegoFacts, facts_of_text, normalize_path};
use crate::testrun::opa::is_rego_file;
use crate::vfs::{read_text, walk_policy_files};

/// The token of the scan's progress report.
const SCAN_TOKEN: &str = "policy-lsp/scan";

/// Files per batch: large enough that handing a batch to the main loop costs little beside indexing it,
/// small enough that requests wait for at most one batch and the progress report moves.
const FILES_PER_BATCH: usize = 1024;

/// Starts scanning `roots`, with a progress report when the client shows one.
pub fn start(session: &mut Session, roots: Vec<PathBuf>) {
    if roots.is_empty() {
        return;
    }
    let scan = begin_progress(session);
    status::scan_started(session);
    let status_sender = status::sender_for_scan(session);
    let analysis = session.host.snapshot();
    let tasks = session.task_sender.clone();
    session.workers.background.spawn(move || {
        let scanning = Scanning { settings: &analysis, tasks: &tasks, scan, status_sender: status_sender.as_ref() };
        let files = guarded("workspace scan", || index(&scanning, &roots)).unwrap_or_default();
        // Sent whatever happened, so the progress report always ends.
        let _ = tasks.send(Task::Scanned { scan, files });
    });
}

/// What a scan worker reports to: the main loop, and the client's status when it asks for one.
struct Scanning<'a> {
    settings: &'a Analysis,
    tasks: &'a Sender<Task>,
    scan: Option<u64>,
    status_sender: Option<&'a Sender<Message>>,
}

/// Reads and indexes the files under `roots`, sending the facts batch by batch; returns how many files
/// were indexed.
fn index(scanning: &Scanning<'_>, roots: &[PathBuf]) -> usize {
    let mut files = walk_policy_files(roots).unwrap_or_default();
    // `exclude` in .policy-lsp.yaml keeps vendored or generated trees out of the index.
    files.retain(|path| !scanning.settings.is_excluded(&normalize_path(path)));
    let total = files.len();
    if let Some(sender) = scanning.status_sender {
        status::send_indexing(sender, total);
    }
    let scan = scanning.scan;
    let mut indexed = 0;
    for (batch_number, batch) in files.chunks(FILES_PER_BATCH).enumerate() {
        // YAML files by their facts, `.rego` modules by theirs (read from tokens, see `RegoFacts::of`).
        let (facts, rego): (Vec<_>, Vec<_>) = batch
            .par_iter()
            .filter_map(|path| {
                let text = read_text(path).ok()?;
                let path = normalize_path(path);
                if is_rego_file(&path) {
                    let facts = guarded("indexing a file", || RegoFacts::of(&text))?;
                    return Some(Either::Right((path, facts)));
                }
                let facts = guarded("indexing a file", || facts_of_text(&path, &text))?;
                Some(Either::Left((path, Arc::new(facts))))
            })
            .partition_map(|file| file);
        indexed += facts.len() + rego.len();
        let done = (batch_number * FILES_PER_BATCH + batch.len()).min(total);
        if scanning.tasks.send(Task::Indexed { scan, facts, rego, done, total }).is_err() {
            break;
        }
    }
    indexed
}

/// Adds a batch of a scan to the index; requests from now on see it, and the progress report moves.
pub fn indexed(
    session: &mut Session,
    scan: Option<u64>,
    facts: Vec<(PathBuf, Arc<FileFacts>)>,
    rego: Vec<(PathBuf, RegoFacts)>,
    done: usize,
    total: usize,
) {
    session.host.index_files(facts);
    // An open module keeps the text the client sent.
    for (path, rego_facts) in rego {
        if !session.open.contains_key(&path) {
            session.host.index_rego_file(path, rego_facts);
        }
    }
    session.bump_generation();
    if let Some(scan) = scan
        && session.scans.get(&scan) == Some(&ScanProgress::Begun)
    {
        scan_progress(session).report(format!("{done}/{total} files"), (done * 100 / total.max(1)) as u32);
    }
}

/// The scan is over: re-runs the tests and re-checks the open documents; the progress report ends (or,
/// when the client has not created its token yet, ends as soon as it does).
pub fn finished(session: &mut Session, scan: Option<u64>, count: usize) {
    status::scan_loaded(session);
    session.bump_generation();
    workspace_pull::everything_changed(session);
    let open = session.open_paths();
    test_rounds::queue(session, open.clone());
    manifest_rounds::queue(session, open.clone());
    publish::mark(session, open);
    if let Some(scan) = scan {
        match session.scans.remove(&scan) {
            Some(ScanProgress::Begun) => send_progress_end(session, count),
            Some(ScanProgress::Requested) => {
                session.scans.insert(scan, ScanProgress::Finished { files: count });
            }
            _ => {}
        }
    }
}

/// Asks the client for a progress token, when it shows progress; returns the scan's number.
fn begin_progress(session: &mut Session) -> Option<u64> {
    if !session.client.work_done_progress {
        return None;
    }
    let scan = session.next_scan;
    session.next_scan += 1;
    session.scans.insert(scan, ScanProgress::Requested);
    let params = WorkDoneProgressCreateParams { token: ProgressToken::String(SCAN_TOKEN.to_string()) };
    session.send_request::<WorkDoneProgressCreate>(params, Outgoing::ProgressCreated { scan });
    Some(scan)
}

/// The client answered the token request: the report begins (and ends, if the scan is over already).
pub fn progress_created(session: &mut Session, scan: u64, created: bool) {
    match session.scans.remove(&scan) {
        Some(ScanProgress::Requested) if created => {
            send_progress_begin(session);
            session.scans.insert(scan, ScanProgress::Begun);
        }
        Some(ScanProgress::Finished { files }) if created => {
            send_progress_begin(session);
            send_progress_end(session, files);
        }
        _ => {}
    }
}

fn scan_progress(session: &Session) -> Reporter<'_> {
    Reporter::new(&session.sender, ProgressToken::String(SCAN_TOKEN.to_string()))
}

fn send_progress_begin(session: &Session) {
    scan_progress(session).begin("Indexing policies", None);
}

fn send_progress_end(session: &Session, files: usize) {
    scan_progress(session).end(format!("Indexed {files} files"));
}
