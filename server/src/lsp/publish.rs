//! Pushed diagnostics, versioned and never going backwards. Changes mark open documents; once the messages
//! that have arrived are applied (or every few of a long stream, see `main_loop`), the main loop hands the
//! marked documents to the workers (or checks a single edited document itself), which compute their diagnostics from one snapshot, and publishes what
//! comes back only when it is still current: the document is at the version it was computed for, and
//! nothing newer (from a later state of the files or of the test runs) has been published for it.

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
use crate::ide::{Analysis, InlineRun, ManifestVerdict};
use crate::model::DocumentKind;

/// A file's diagnostics in protocol terms: its own, then the inline test results that concern it, then the
/// policies it violates when it is a manifest.
pub fn file_diagnostics(
    analysis: &Analysis,
    runs: &[Arc<InlineRun>],
    verdicts: &[Arc<ManifestVerdict>],
    path: &Path,
    uri: &Uri,
    encoding: PositionEncoding,
) -> Vec<lsp::Diagnostic> {
    // A file nobody has open is known by its facts alone: loaded from disk for as long as it is checked.
    let Some(analysis) = analysis.with_file(path) else { return Vec::new() };
    let analysis = &analysis;
    let Some(index) = analysis.line_index(path) else { return Vec::new() };
    to_proto::diagnostics(analysis, &index, encoding, uri, analysis.diagnostics_with_tests(path, runs, verdicts))
}

/// Marks documents to publish once the messages waiting have been applied (pushed diagnostics only).
pub fn mark(session: &mut Session, paths: impl IntoIterator<Item = PathBuf>) {
    if session.client.push_diagnostics {
        session.dirty.extend(paths);
    }
}

/// How many documents one worker job checks: small enough that a burst of opens is published as it goes
/// and spread over the workers, large enough that a job is worth its hand-over.
const DOCUMENTS_PER_JOB: usize = 8;

/// Computes the marked documents, then the open documents that depend on the files changed since the last
/// flush (tests that name them, constraints of a changed template). A single edited document that depends
/// on no other file is checked here at once: quicker than handing it to a worker and back, and a keystroke
/// re-checks only the document of the file it touched.
pub fn flush(session: &mut Session) {
    let marked: HashSet<PathBuf> = std::mem::take(&mut session.dirty);
    let changed: Vec<PathBuf> = std::mem::take(&mut session.changed);
    let check_here: HashSet<PathBuf> = std::mem::take(&mut session.check_here);
    if !session.client.push_diagnostics {
        return;
    }
    let marked_targets = targets(session, marked.iter().cloned().collect());
    match marked_targets.as_slice() {
        [(path, _, _)] if check_here.contains(path) && depends_on_no_other_file(session, path) => {
            let publications = compute(
                &session.host.snapshot(),
                (&session.tests.run_list, &session.manifests.verdict_list),
                session.client.encoding,
                (session.generation, session.tests.version),
                marked_targets,
            );
            apply(session, publications);
        }
        _ => spawn(session, marked_targets),
    }
    if changed.is_empty() {
        return;
    }
    // Worked out here while the workers compute the marked documents.
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
    let dependents = targets(session, dependents);
    spawn(session, dependents);
}

/// The open documents among `paths` with their URIs and versions, less those already published for the
/// current state of the files and of the test runs.
fn targets(session: &Session, paths: Vec<PathBuf>) -> Vec<(PathBuf, Uri, i32)> {
    let current = (session.generation, session.tests.version);
    paths
        .into_iter()
        .filter(|path| session.published.get(path).is_none_or(|&done| done < current))
        .filter_map(|path| session.open.get(&path).map(|open| (path, open.uri.clone(), open.version)))
        .collect()
}

/// Whether a file's diagnostics come from its own text alone: no test, suite or constraint (checked
/// against other files, perhaps read from disk) and no inline test results.
fn depends_on_no_other_file(session: &Session, path: &Path) -> bool {
    let analysis = session.host.snapshot();
    let Some(file) = analysis.file(path) else { return false };
    !file.holds(DocumentKind::KyvernoTest)
        && !file.holds(DocumentKind::GatorSuite)
        && !file.holds(DocumentKind::Constraint)
        && !session.tests.runs.contains_key(path)
}

/// Hands the documents to the request workers, a few per job.
fn spawn(session: &mut Session, targets: Vec<(PathBuf, Uri, i32)>) {
    let current = (session.generation, session.tests.version);
    for chunk in targets.chunks(DOCUMENTS_PER_JOB) {
        let chunk = chunk.to_vec();
        let analysis = session.host.snapshot();
        let runs = session.tests.run_list.clone();
        let verdicts = session.manifests.verdict_list.clone();
        let encoding = session.client.encoding;
        let tasks = session.task_sender.clone();
        session.workers.requests.spawn(move || {
            let _ = tasks.send(Task::Diagnostics(compute(&analysis, (&runs, &verdicts), encoding, current, chunk)));
        });
    }
}

/// The diagnostics of each target, from one snapshot and the background results (inline test runs and
/// manifest verdicts) of the state `current` names.
fn compute(
    analysis: &Analysis,
    (runs, verdicts): (&[Arc<InlineRun>], &[Arc<ManifestVerdict>]),
    encoding: PositionEncoding,
    current: (u64, u64),
    targets: Vec<(PathBuf, Uri, i32)>,
) -> Vec<Publication> {
    targets
        .into_iter()
        .filter_map(|(path, uri, version)| {
            let diagnostics =
                guarded("diagnostics", || file_diagnostics(analysis, runs, verdicts, &path, &uri, encoding))?;
            Some(Publication { path, uri, version, generation: current.0, runs_version: current.1, diagnostics })
        })
        .collect()
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
