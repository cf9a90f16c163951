//! Pushed diagnostics, versioned and never going backwards. Changes mark open documents; once the messages
//! that have arrived are applied, the main loop hands the marked documents to a worker, which computes
//! their diagnostics from one snapshot, and publishes what comes back only when it is still current: the
//! document is at the version it was computed for, and nothing newer (from a later state of the files or
//! of the test runs) has been published for it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ls_types::notification::PublishDiagnostics;
use ls_types::{self as lsp, PublishDiagnosticsParams, Uri};

use super::state::Session;
use super::task::{Publication, Task};
use super::to_proto;
use super::workers::guarded;
use crate::base::PositionEncoding;
use crate::ide::{Analysis, InlineRun};

/// A file's diagnostics in protocol terms: its own, then the inline test results that concern it.
pub fn file_diagnostics(
    analysis: &Analysis,
    runs: &[Arc<InlineRun>],
    path: &Path,
    uri: &Uri,
    encoding: PositionEncoding,
) -> Vec<lsp::Diagnostic> {
    let Some(index) = analysis.line_index(path) else { return Vec::new() };
    to_proto::diagnostics(analysis, &index, encoding, uri, analysis.diagnostics_with_tests(path, runs))
}

/// Marks documents to publish once the messages waiting have been applied (pushed diagnostics only).
pub fn mark(session: &mut Session, paths: impl IntoIterator<Item = PathBuf>) {
    if session.client.push_diagnostics {
        session.dirty.extend(paths);
    }
}

/// Starts the computation of the marked documents, then of the open documents that depend on the files
/// changed since the last flush (tests that name them, constraints of a changed template).
pub fn flush(session: &mut Session) {
    let marked: HashSet<PathBuf> = std::mem::take(&mut session.dirty);
    let changed: Vec<PathBuf> = std::mem::take(&mut session.changed);
    if !session.client.push_diagnostics {
        return;
    }
    spawn(session, marked.iter().cloned().collect());
    if changed.is_empty() {
        return;
    }
    // Worked out here while a worker computes the marked documents.
    let analysis = session.host.snapshot();
    let runs = session.tests.run_list.clone();
    let mut dependents: Vec<PathBuf> = Vec::new();
    for path in &changed {
        for dependent in analysis.dependents(path, session.open.keys(), &runs) {
            if !marked.contains(&dependent) && !dependents.contains(&dependent) {
                dependents.push(dependent);
            }
        }
    }
    spawn(session, dependents);
}

fn spawn(session: &mut Session, paths: Vec<PathBuf>) {
    let current = (session.generation, session.tests.version);
    let targets: Vec<(PathBuf, Uri, i32)> = paths
        .into_iter()
        // Skip what was already published for this state of the files and of the test runs.
        .filter(|path| session.published.get(path).is_none_or(|&done| done < current))
        .filter_map(|path| session.open.get(&path).map(|open| (path, open.uri.clone(), open.version)))
        .collect();
    if targets.is_empty() {
        return;
    }
    let analysis = session.host.snapshot();
    let runs = session.tests.run_list.clone();
    let encoding = session.client.encoding;
    let tasks = session.task_sender.clone();
    session.workers.requests.spawn(move || {
        let publications = targets
            .into_iter()
            .filter_map(|(path, uri, version)| {
                let diagnostics = guarded("diagnostics", || file_diagnostics(&analysis, &runs, &path, &uri, encoding))?;
                Some(Publication { path, uri, version, generation: current.0, runs_version: current.1, diagnostics })
            })
            .collect();
        let _ = tasks.send(Task::Diagnostics(publications));
    });
}

/// Publishes what a worker computed, unless the client has moved past that version or something newer
/// was published meanwhile.
pub fn apply(session: &mut Session, publications: Vec<Publication>) {
    for publication in publications {
        let current_version = session.open.get(&publication.path).map(|open| open.version);
        let (last, last_runs) = session.published.get(&publication.path).copied().unwrap_or((0, 0));
        if current_version != Some(publication.version)
            || last > publication.generation
            || last_runs > publication.runs_version
        {
            continue;
        }
        session.published.insert(publication.path, (publication.generation, publication.runs_version));
        session.notify::<PublishDiagnostics>(PublishDiagnosticsParams {
            uri: publication.uri,
            diagnostics: publication.diagnostics,
            version: Some(publication.version),
        });
    }
}
