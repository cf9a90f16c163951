//! The inline tests' background job. Changes queue the paths they touched; when the messages waiting have
//! been applied and no round runs, one round starts on the test thread with the newest snapshot and re-runs
//! only the tests those paths affect. Everything queued while it runs becomes the next round, and a round
//! hands its remaining test files to the next one as soon as a newer change arrives (after at least one
//! run, so steady typing still makes progress): typing never waits on a test run.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ls_types::request::{CodeLensRefresh, WorkspaceDiagnosticRefresh};

use super::state::{Outgoing, Session};
use super::task::Task;
use super::workers::guarded;
use super::{publish, workspace_pull};
use crate::ide::InlineRun;

/// Queues changed paths for the next round.
pub fn queue(session: &mut Session, paths: impl IntoIterator<Item = PathBuf>) {
    if session.tests.enabled {
        session.tests.pending.extend(paths);
    }
}

/// Starts a round when paths wait and none runs.
pub fn start(session: &mut Session) {
    let tests = &mut session.tests;
    if !tests.enabled || tests.round_running || tests.pending.is_empty() || session.shutdown_requested {
        return;
    }
    let mut changed = std::mem::take(&mut tests.pending);
    changed.sort();
    changed.dedup();
    tests.round_running = true;
    let analysis = session.host.snapshot();
    let runs = tests.run_list.clone();
    let generation = session.generation;
    let shared_generation = session.shared_generation.clone();
    let task_sender = session.task_sender.clone();
    session.workers.tests.spawn(move || {
        let affected = analysis.affected_tests(&changed, &runs);
        let mut done: Vec<Arc<InlineRun>> = Vec::new();
        let mut left: Vec<PathBuf> = Vec::new();
        for (path, framework) in &affected {
            let moved_on = shared_generation.load(Ordering::SeqCst) != generation;
            if moved_on && !done.is_empty() {
                left.push(path.clone());
                continue;
            }
            if let Some(run) = guarded("test run", || analysis.run_inline_test(path, *framework)) {
                done.push(Arc::new(run));
            }
        }
        // Test files among the changed paths that are no longer tests lose their results.
        let gone: Vec<PathBuf> = changed
            .iter()
            .filter(|path| {
                runs.iter().any(|run| run.test_file == **path) && !affected.iter().any(|(test, _)| test == *path)
            })
            .cloned()
            .collect();
        let _ = task_sender.send(Task::TestRound { done, left, gone });
    });
}

/// Takes a round's results: new runs replace old ones, the open test files they concern are re-published,
/// and clients that re-ask for lenses or pulled diagnostics are told to.
pub fn finished(session: &mut Session, done: Vec<Arc<InlineRun>>, left: Vec<PathBuf>, gone: Vec<PathBuf>) {
    session.tests.round_running = false;
    if !session.tests.enabled {
        return;
    }
    let mut touched: Vec<PathBuf> = gone.clone();
    touched.extend(done.iter().flat_map(|run| run.result_files()));
    session.tests.update(&gone, done);
    session.tests.pending.extend(left);
    announce(session, touched);
}

/// After background results changed: the open documents among `touched` are re-published, and clients
/// that re-ask for lenses or pulled diagnostics are told to.
pub fn announce(session: &mut Session, touched: Vec<PathBuf>) {
    workspace_pull::results_replaced(session, &touched);
    let open_documents: Vec<PathBuf> = touched.into_iter().filter(|path| session.open.contains_key(path)).collect();
    publish::mark(session, open_documents);
    let client = session.client.clone();
    if !client.push_diagnostics && client.diagnostic_refresh {
        session.send_request::<WorkspaceDiagnosticRefresh>((), Outgoing::Ignored);
    }
    if client.lens_refresh {
        session.send_request::<CodeLensRefresh>((), Outgoing::Ignored);
    }
}
