//! The open manifests judged by the workspace's policies, in the background like the inline tests and on
//! the same thread. Changes queue the paths they touched; a round re-judges the open manifests among them,
//! or every open manifest when the policy files changed (the policies are prepared again only then, and
//! kept for the rounds after). As with the test rounds, a round hands its remaining manifests to the next
//! one once a newer change arrives (after judging at least one), so typing never waits on a verdict.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::state::Session;
use super::task::Task;
use super::test_rounds;
use super::workers::guarded;
use crate::ide::{ManifestVerdict, WorkspacePolicies};

/// Queues changed paths for the next round.
pub fn queue(session: &mut Session, paths: impl IntoIterator<Item = PathBuf>) {
    session.manifests.pending.extend(paths);
}

/// Starts a round when paths wait and none runs.
pub fn start(session: &mut Session) {
    let manifests = &mut session.manifests;
    if manifests.round_running || manifests.pending.is_empty() || session.shutdown_requested {
        return;
    }
    let mut changed = std::mem::take(&mut manifests.pending);
    changed.sort();
    changed.dedup();
    manifests.round_running = true;
    let cached = manifests.policies.clone();
    let analysis = session.host.snapshot();
    let open: Vec<PathBuf> = session.open_paths();
    let generation = session.generation;
    let shared_generation = session.shared_generation.clone();
    let task_sender = session.task_sender.clone();
    session.workers.tests.spawn(move || {
        // With no manifest open there is nothing to judge: the policies are neither fingerprinted nor
        // prepared (that reads every policy file of the workspace), so typing in a policy costs no
        // whole-workspace work here; they are prepared when a manifest opens.
        if !open.iter().any(|path| analysis.is_manifest(path)) {
            let _ = task_sender.send(Task::ManifestRound {
                policies: None,
                done: Vec::new(),
                left: Vec::new(),
                gone: changed,
            });
            return;
        }
        let fingerprint = analysis.policies_fingerprint();
        let policies_changed = cached.as_ref().map(|policies| policies.fingerprint) != Some(fingerprint);
        let policies = match cached {
            Some(policies) if !policies_changed => Some(policies),
            _ => guarded("policies for the manifests", || Arc::new(analysis.prepare_policies())),
        };
        let judged: Vec<PathBuf> = if policies_changed { open.clone() } else { changed.clone() };
        let mut targets: Vec<PathBuf> = Vec::new();
        let mut gone: Vec<PathBuf> = Vec::new();
        for path in judged {
            if open.contains(&path) && analysis.is_manifest(&path) {
                targets.push(path);
            } else {
                gone.push(path);
            }
        }
        let mut done: Vec<Arc<ManifestVerdict>> = Vec::new();
        let mut left: Vec<PathBuf> = Vec::new();
        if let Some(policies) = &policies {
            for path in targets {
                let moved_on = shared_generation.load(Ordering::SeqCst) != generation;
                if moved_on && !done.is_empty() {
                    left.push(path);
                    continue;
                }
                match guarded("manifest verdict", || analysis.judge_manifest(&path, policies)) {
                    Some(Some(verdict)) => done.push(Arc::new(verdict)),
                    _ => gone.push(path),
                }
            }
        }
        let _ = task_sender.send(Task::ManifestRound { policies, done, left, gone });
    });
}

/// Takes a round's verdicts: they replace the old ones of their manifests, manifests that are no longer
/// open or no longer manifests lose theirs, and the open ones concerned are re-published.
pub fn finished(
    session: &mut Session,
    policies: Option<Arc<WorkspacePolicies>>,
    done: Vec<Arc<ManifestVerdict>>,
    left: Vec<PathBuf>,
    gone: Vec<PathBuf>,
) {
    let manifests = &mut session.manifests;
    manifests.round_running = false;
    if policies.is_some() {
        manifests.policies = policies;
    }
    let mut touched: Vec<PathBuf> = gone.clone();
    touched.extend(done.iter().map(|verdict| verdict.manifest_file.clone()));
    for path in &gone {
        manifests.verdicts.remove(path);
    }
    for verdict in done {
        manifests.verdicts.insert(verdict.manifest_file.clone(), verdict);
    }
    manifests.verdict_list = manifests.verdicts.values().cloned().collect();
    manifests.pending.extend(left);
    // Diagnostics computed before these verdicts must not be published after them.
    session.tests.version += 1;
    test_rounds::announce(session, touched);
}
