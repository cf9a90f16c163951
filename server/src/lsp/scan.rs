//! The workspace scan: every YAML file under the workspace folders (less what `exclude` leaves out) is read
//! and parsed on a background worker, in batches on every core, and only its cross-file facts are kept
//! (the index): a closed file's text and syntax are dropped as soon as its facts are taken, so memory does
//! not grow with files nobody has open. Each batch joins the analysis on the main loop, so requests are
//! answered between batches from the index built so far; open documents keep the text the client sent.

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::Sender;
use rayon::prelude::*;

use ls_types::notification::Progress;
use ls_types::request::WorkDoneProgressCreate;
use ls_types::{
    ProgressParams, ProgressParamsValue, ProgressToken, WorkDoneProgress, WorkDoneProgressBegin,
    WorkDoneProgressCreateParams, WorkDoneProgressEnd, WorkDoneProgressReport,
};

use super::state::{Outgoing, ScanProgress, Session};
use super::task::Task;
use super::workers::guarded;
use super::{manifest_rounds, publish, test_rounds};
use crate::ide::{Analysis, FileFacts, facts_of_text, normalize_path};
use crate::vfs::{read_text, walk_yaml_files};

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
    let analysis = session.host.snapshot();
    let tasks = session.task_sender.clone();
    session.workers.background.spawn(move || {
        let files = guarded("workspace scan", || index(&analysis, &roots, &tasks, scan)).unwrap_or_default();
        // Sent whatever happened, so the progress report always ends.
        let _ = tasks.send(Task::Scanned { scan, files });
    });
}

/// Reads and indexes the files under `roots`, sending the facts batch by batch; returns how many files
/// were indexed.
fn index(settings: &Analysis, roots: &[PathBuf], tasks: &Sender<Task>, scan: Option<u64>) -> usize {
    let mut files = walk_yaml_files(roots).unwrap_or_default();
    // `exclude` in .policy-lsp.yaml keeps vendored or generated trees out of the index.
    files.retain(|path| !settings.is_excluded(&normalize_path(path)));
    let total = files.len();
    let mut indexed = 0;
    for (batch_number, batch) in files.chunks(FILES_PER_BATCH).enumerate() {
        let facts: Vec<(PathBuf, Arc<FileFacts>)> = batch
            .par_iter()
            .filter_map(|path| {
                let text = read_text(path).ok()?;
                let path = normalize_path(path);
                let facts = guarded("indexing a file", || facts_of_text(&path, &text))?;
                Some((path, Arc::new(facts)))
            })
            .collect();
        indexed += facts.len();
        let done = (batch_number * FILES_PER_BATCH + batch.len()).min(total);
        if tasks.send(Task::Indexed { scan, facts, done, total }).is_err() {
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
    done: usize,
    total: usize,
) {
    session.host.index_files(facts);
    session.bump_generation();
    if let Some(scan) = scan
        && session.scans.get(&scan) == Some(&ScanProgress::Begun)
    {
        let report = WorkDoneProgressReport {
            cancellable: None,
            message: Some(format!("{done}/{total} YAML files")),
            percentage: Some((done * 100 / total.max(1)) as u32),
        };
        send_progress(session, WorkDoneProgress::Report(report));
    }
}

/// The scan is over: re-runs the tests and re-checks the open documents; the progress report ends (or,
/// when the client has not created its token yet, ends as soon as it does).
pub fn finished(session: &mut Session, scan: Option<u64>, count: usize) {
    session.bump_generation();
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

fn send_progress_begin(session: &Session) {
    let begin = WorkDoneProgressBegin {
        title: "Indexing policies".to_string(),
        cancellable: None,
        message: None,
        percentage: Some(0),
    };
    send_progress(session, WorkDoneProgress::Begin(begin));
}

fn send_progress_end(session: &Session, files: usize) {
    let end = WorkDoneProgressEnd { message: Some(format!("Indexed {files} YAML files")) };
    send_progress(session, WorkDoneProgress::End(end));
}

fn send_progress(session: &Session, value: WorkDoneProgress) {
    let params = ProgressParams {
        token: ProgressToken::String(SCAN_TOKEN.to_string()),
        value: ProgressParamsValue::WorkDone(value),
    };
    session.notify::<Progress>(params);
}
