//! The background job behind inline test results. Edits queue the paths they touched and wake one worker;
//! the worker re-runs only the tests those paths affect, from the newest snapshot, off the async threads.
//! Work coalesces (everything queued while a round runs becomes the next round) and is cancelled between
//! test files when a newer edit arrives, so typing never waits on a test run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use tower_lsp_server::ls_types::{CodeLens, Command, Location, Uri};

use super::server::{Server, guarded};
use super::to_proto;
use crate::base::{LineIndex, PositionEncoding, TextRange};
use crate::ide::Analysis;
use crate::ide::{InlineRun, RUN_TESTS_COMMAND};

/// What the server keeps about inline tests.
pub(super) struct InlineState {
    /// The newest run of each test file.
    pub runs: Arc<HashMap<PathBuf, Arc<InlineRun>>>,
    /// Paths changed since the worker last looked.
    pub pending: Vec<PathBuf>,
    /// Off when the user turned inline tests off.
    pub enabled: bool,
    /// Whether the client re-asks for code lenses when told to (`workspace/codeLens/refresh`).
    pub lens_refresh: bool,
    /// Whether the client re-pulls diagnostics when told to (`workspace/diagnostic/refresh`).
    pub diagnostic_refresh: bool,
    /// Bumped whenever `runs` changes, so diagnostics computed from older runs are never sent after newer.
    pub version: u64,
}

impl Default for InlineState {
    fn default() -> InlineState {
        InlineState {
            runs: Arc::new(HashMap::new()),
            pending: Vec::new(),
            enabled: true,
            lens_refresh: false,
            diagnostic_refresh: false,
            version: 0,
        }
    }
}

impl InlineState {
    pub fn run_list(&self) -> Vec<Arc<InlineRun>> {
        self.runs.values().cloned().collect()
    }
}

impl Server {
    /// Queues changed paths for the inline test worker and wakes it.
    pub(super) fn tests_changed(&self, paths: impl IntoIterator<Item = PathBuf>) {
        {
            let mut state = self.state();
            if !state.inline.enabled {
                return;
            }
            state.inline.pending.extend(paths);
        }
        self.tests_wakeup.notify_one();
    }

    /// Starts the worker; it lives as long as the runtime.
    pub(super) fn spawn_test_worker(&self) {
        let server = self.clone_handle();
        tokio::spawn(async move { server.test_worker().await });
    }

    async fn test_worker(self) {
        loop {
            self.tests_wakeup.notified().await;
            while self.test_round().await {}
        }
    }

    /// One round: runs the tests affected by everything queued so far. Returns whether work may remain.
    async fn test_round(&self) -> bool {
        let (analysis, changed, runs, generation) = {
            let mut state = self.state();
            if state.shut_down || state.inline.pending.is_empty() {
                return false;
            }
            let mut changed = std::mem::take(&mut state.inline.pending);
            changed.sort();
            changed.dedup();
            (state.host.snapshot(), changed, state.inline.runs.clone(), state.generation)
        };
        let state_handle = self.state.clone();
        let round = tokio::task::spawn_blocking(move || {
            let run_list: Vec<Arc<InlineRun>> = runs.values().cloned().collect();
            let affected = analysis.affected_tests(&changed, &run_list);
            let mut done: Vec<Arc<InlineRun>> = Vec::new();
            let mut left: Vec<PathBuf> = Vec::new();
            for (path, framework) in &affected {
                // A newer edit makes the rest of this round stale: requeue it and let the next round start
                // from the newer snapshot (after at least one run, so steady typing still makes progress).
                let moved_on = state_handle.lock().map(|state| state.generation != generation).unwrap_or(true);
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
                .filter(|path| runs.contains_key(*path) && !affected.iter().any(|(test, _)| test == *path))
                .cloned()
                .collect();
            (done, left, gone)
        })
        .await;
        let Ok((done, left, gone)) = round else { return true };
        let (open_tests, lens_refresh, diagnostic_refresh, push) = {
            let mut state = self.state();
            let runs = Arc::make_mut(&mut state.inline.runs);
            for path in &gone {
                runs.remove(path);
            }
            let mut touched: Vec<PathBuf> = gone.clone();
            for run in done {
                touched.push(run.test_file.clone());
                runs.insert(run.test_file.clone(), run);
            }
            state.inline.pending.extend(left);
            state.inline.version += 1;
            let open_tests: Vec<PathBuf> = touched.into_iter().filter(|path| state.open.contains_key(path)).collect();
            (open_tests, state.inline.lens_refresh, state.inline.diagnostic_refresh, state.push_diagnostics)
        };
        if push {
            self.publish(open_tests).await;
        }
        // Refreshes are requests: a client that is slow to answer (or never does) must not hold up the next
        // round, so they are sent beside the worker.
        if (!push && diagnostic_refresh) || lens_refresh {
            let client = self.client.clone();
            tokio::spawn(async move {
                if !push && diagnostic_refresh {
                    let _ = client.workspace_diagnostic_refresh().await;
                }
                if lens_refresh {
                    let _ = client.code_lens_refresh().await;
                }
            });
        }
        true
    }
}

/// The code lenses of a file from the current runs.
pub(super) fn code_lenses(
    analysis: &Analysis,
    runs: &[Arc<InlineRun>],
    path: &Path,
    encoding: PositionEncoding,
) -> Vec<CodeLens> {
    let Some(file) = analysis.file(path) else { return Vec::new() };
    let index = LineIndex::new(file.source.rope());
    analysis
        .test_lenses(path, runs)
        .into_iter()
        .filter_map(|lens| {
            let uri = Uri::from_file_path(&lens.test_file)?;
            Some(CodeLens {
                range: to_proto::range(&index, lens.range, encoding),
                command: Some(Command {
                    title: lens.title,
                    command: RUN_TESTS_COMMAND.to_string(),
                    arguments: Some(vec![json!({ "uri": uri.as_str() })]),
                }),
                data: None,
            })
        })
        .collect()
}

/// A place in another file as a protocol location, from the analysis or, for files it does not hold, the
/// text it can read.
pub(super) fn locate_in(
    analysis: &Analysis,
    path: &Path,
    range: TextRange,
    encoding: PositionEncoding,
) -> Option<Location> {
    let uri = Uri::from_file_path(path)?;
    let range = match analysis.file(path) {
        Some(file) => to_proto::range(&LineIndex::new(file.source.rope()), range, encoding),
        None => {
            let text = analysis.read(path)?;
            let rope = ropey::Rope::from_str(&text);
            to_proto::range(&LineIndex::new(&rope), range, encoding)
        }
    };
    Some(Location { uri, range })
}
