//! The workspace scan: every YAML file under the workspace folders (less what `exclude` leaves out) is read
//! and parsed on a background worker, so requests are answered while it indexes, and loaded into the
//! analysis on the main loop; open documents keep the text the client sent. `.rego` files are indexed by
//! their cross-file facts alone (package, rules and where they are), not kept as text.

use std::path::PathBuf;

use crossbeam_channel::Sender;
use lsp_server::Message;

use ls_types::request::WorkDoneProgressCreate;
use ls_types::{ProgressToken, WorkDoneProgressCreateParams};

use super::progress::Reporter;
use super::state::{Outgoing, ScanProgress, Session};
use super::status;
use super::task::Task;
use super::workers::guarded;
use super::{manifest_rounds, publish, test_rounds};
use crate::ide::{Analysis, RegoFacts, normalize_path};
use crate::syntax::SourceFile;
use crate::testrun::opa::is_rego_file;
use crate::vfs::{read_text, walk_policy_files};

/// The token of the scan's progress report.
const SCAN_TOKEN: &str = "policy-lsp/scan";

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
        let (files, rego) =
            guarded("workspace scan", || load(&analysis, &roots, status_sender.as_ref())).unwrap_or_default();
        let _ = tasks.send(Task::Scanned { scan, files, rego });
    });
}

/// The YAML files parsed, and the facts of the `.rego` files.
type Scanned = (Vec<(PathBuf, SourceFile)>, Vec<(PathBuf, RegoFacts)>);

fn load(settings: &Analysis, roots: &[PathBuf], status_sender: Option<&Sender<Message>>) -> Scanned {
    let mut files = walk_policy_files(roots).unwrap_or_default();
    // `exclude` in .policy-lsp.yaml keeps vendored or generated trees out of the index.
    files.retain(|path| !settings.is_excluded(&normalize_path(path)));
    if let Some(sender) = status_sender {
        status::send_indexing(sender, files.len());
    }
    let (rego_paths, yaml_paths): (Vec<PathBuf>, Vec<PathBuf>) = files.into_iter().partition(|path| is_rego_file(path));
    let yaml = yaml_paths
        .into_iter()
        .filter_map(|path| {
            let text = read_text(&path).ok()?;
            Some((normalize_path(&path), SourceFile::new_without_trees(&text)))
        })
        .collect();
    // Read from tokens, not parsed (see `RegoFacts::of`): gatekeeper-library's 116 modules add 0.9 MB.
    let rego = rego_paths
        .into_iter()
        .filter_map(|path| {
            let text = read_text(&path).ok()?;
            let path = normalize_path(&path);
            let facts = RegoFacts::of(&text);
            Some((path, facts))
        })
        .collect();
    (yaml, rego)
}

/// Loads what a scan read, then re-runs the tests and re-checks the open documents; the progress report
/// ends (or, when the client has not created its token yet, ends as soon as it does).
pub fn loaded(
    session: &mut Session,
    scan: Option<u64>,
    files: Vec<(PathBuf, SourceFile)>,
    rego: Vec<(PathBuf, RegoFacts)>,
) {
    let count = files.len();
    status::scan_loaded(session);
    for (path, source) in files {
        if !session.open.contains_key(&path) {
            session.host.set_source(path, source);
        }
    }
    for (path, facts) in rego {
        if !session.open.contains_key(&path) {
            session.host.index_rego_file(path, facts);
        }
    }
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

fn scan_progress(session: &Session) -> Reporter<'_> {
    Reporter::new(&session.sender, ProgressToken::String(SCAN_TOKEN.to_string()))
}

fn send_progress_begin(session: &Session) {
    scan_progress(session).begin("Indexing policies", None);
}

fn send_progress_end(session: &Session, files: usize) {
    scan_progress(session).end(format!("Indexed {files} YAML files"));
}
