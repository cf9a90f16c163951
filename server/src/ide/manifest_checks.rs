//! The workspace's policies judging the manifests open in the editor, as `policy-lsp apply` judges them:
//! which files are manifests, the policies prepared once from every policy file the analysis holds (and
//! reused until one of them changes), one manifest file judged into a [`ManifestVerdict`], and the
//! verdict's failures as diagnostics on the offending field with the rule as related place.

use std::collections::BTreeSet;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::inline_tests::locate;
use super::workspace::{FileData, Workspace};
use crate::apply::load::Loader;
use crate::apply::{self, ApplyReport, Options, PolicyDocument, PreparedPolicies, Status};
use crate::base::{Code, Diagnostic, RelatedInformation, Severity, TextRange};
use crate::model::DocumentKind;
use crate::schema::Target;

/// The kinds a file of policies holds: a file with one of them is read as policies, never as a manifest.
const POLICY_KINDS: &[DocumentKind] = &[
    DocumentKind::KyvernoPolicy,
    DocumentKind::KyvernoCelPolicy,
    DocumentKind::KyvernoPolicyException,
    DocumentKind::ConstraintTemplate,
    DocumentKind::Constraint,
];

/// The kinds that make a file something other than a manifest to admit: tests, their values and
/// contexts, Gatekeeper's own configuration, Chainsaw steps.
const NOT_MANIFEST_KINDS: &[DocumentKind] = &[
    DocumentKind::KyvernoCleanupPolicy,
    DocumentKind::KyvernoGlobalContextEntry,
    DocumentKind::KyvernoTest,
    DocumentKind::KyvernoValues,
    DocumentKind::KyvernoUserInfo,
    DocumentKind::KyvernoContext,
    DocumentKind::KyvernoClusterResource,
    DocumentKind::GatekeeperMutator,
    DocumentKind::GatekeeperConfig,
    DocumentKind::GatekeeperExpansionTemplate,
    DocumentKind::GatekeeperOther,
    DocumentKind::GatorSuite,
    DocumentKind::Chainsaw,
];

/// The workspace's policies, prepared to judge manifests, with the fingerprint of the files they came from.
#[derive(Debug)]
pub struct WorkspacePolicies {
    /// A hash of every policy file's path and text: equal fingerprints, equal policies.
    pub fingerprint: u64,
    pub prepared: PreparedPolicies,
}

/// One manifest file judged by the workspace's policies.
#[derive(Debug)]
pub struct ManifestVerdict {
    pub manifest_file: PathBuf,
    pub report: ApplyReport,
}

fn is_policy_file(file: &FileData) -> bool {
    file.documents.iter().any(|info| POLICY_KINDS.contains(&info.kind))
}

/// The policy files the analysis holds (less those the settings exclude), in no particular order.
pub(super) fn policy_paths(workspace: &Workspace) -> impl Iterator<Item = &PathBuf> {
    workspace
        .paths()
        .filter(|path| !workspace.is_excluded(path))
        .filter(|path| workspace.file(path).is_some_and(|file| is_policy_file(file)))
}

/// The policy files the analysis holds, sorted so that a fingerprint and the policies' order are stable.
fn policy_files(workspace: &Workspace) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = policy_paths(workspace).cloned().collect();
    found.sort();
    found
}

/// Whether `path` holds policies (a change there re-judges the open manifests).
pub(super) fn holds_policies(workspace: &Workspace, path: &Path) -> bool {
    workspace.file(path).is_some_and(|file| is_policy_file(file))
}

/// Whether `path` is a manifest to judge: Kubernetes objects only, not a policy, test or template file,
/// not a Helm chart template (its YAML exists only after rendering) and not a fixture a test names (the
/// inline test results speak for those, and fixtures are meant to fail).
pub(super) fn is_manifest(workspace: &Workspace, path: &Path) -> bool {
    let Some(file) = workspace.file(path) else { return false };
    file.holds(DocumentKind::Resource)
        && !is_policy_file(file)
        && !file.documents.iter().any(|info| NOT_MANIFEST_KINDS.contains(&info.kind))
        && !workspace.is_excluded(path)
        && super::file_roles::helm_template(workspace, path, file.source.segments()).is_none()
        && workspace.test_files(Some(path)).is_empty()
}

/// The fingerprint of the workspace's policy files, cheap beside preparing them.
pub(super) fn policies_fingerprint(workspace: &Workspace) -> u64 {
    let mut hasher = DefaultHasher::new();
    for path in policy_files(workspace) {
        path.hash(&mut hasher);
        if let Some(file) = workspace.file(&path) {
            file.source.text().hash(&mut hasher);
        }
    }
    hasher.finish()
}

/// Every policy of the workspace, prepared once for all the manifests judged until one changes.
pub(super) fn prepare_policies(workspace: &Workspace) -> WorkspacePolicies {
    let files = policy_files(workspace);
    let excluded = |_: &Path| false;
    let mut loader = Loader { files: workspace, excluded: &excluded, problems: Vec::new() };
    let documents: Vec<PolicyDocument> = loader.policy_documents(&files);
    let options = Options { now: workspace.current_time(), ..Options::default() };
    WorkspacePolicies {
        fingerprint: policies_fingerprint(workspace),
        prepared: PreparedPolicies::new(&documents, &[], &options),
    }
}

/// Judges the objects of one manifest file; `None` when the file is not a manifest.
pub(super) fn judge_manifest(
    workspace: &Workspace,
    path: &Path,
    policies: &WorkspacePolicies,
) -> Option<ManifestVerdict> {
    if !is_manifest(workspace, path) {
        return None;
    }
    let excluded = |_: &Path| false;
    let mut loader = Loader { files: workspace, excluded: &excluded, problems: Vec::new() };
    let manifests = loader.manifests(&[path.to_path_buf()]);
    let report = apply::apply(&policies.prepared, manifests);
    Some(ManifestVerdict { manifest_file: path.to_path_buf(), report })
}

/// The diagnostics of a manifest file from its newest verdict: each failure on the field the result
/// names (else the object's `kind:` line), its message from the policy after the policy and rule, and the
/// rule in its file as related place. Results that need a registry or a cluster are information, never a
/// pass or a failure. Places are found in the file's current text, so a verdict a few keystrokes old
/// still lands on the fields it is about until the next one replaces it.
pub(super) fn manifest_diagnostics(
    workspace: &Workspace,
    verdicts: &[Arc<ManifestVerdict>],
    path: &Path,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for verdict in verdicts.iter().filter(|verdict| verdict.manifest_file == path) {
        for result in &verdict.report.results {
            let (code, severity) = match result.status {
                Status::Pass | Status::Skip => continue,
                Status::Fail => (Code::PolicyViolation, Severity::Error),
                Status::Warn => (Code::PolicyViolation, Severity::Warning),
                Status::Error => (Code::PolicyError, Severity::Error),
                Status::Unsupported => (Code::PolicyUnsupported, Severity::Info),
            };
            let Some(manifest) = verdict.report.manifests.get(result.manifest) else { continue };
            let range = result
                .resource_pointer
                .as_deref()
                .and_then(|pointer| locate(workspace, &manifest.place(pointer), Target::Key))
                .or_else(|| locate(workspace, &manifest.place(""), Target::Object));
            let Some(range) = range else { continue };
            let name = match &result.rule {
                Some(rule) => format!("{}/{rule}", result.policy),
                None => result.policy.clone(),
            };
            let message = if result.message.is_empty() {
                format!("{name}: {} {}", manifest.id.display(), result.status.as_str())
            } else {
                format!("{name}: {}", result.message)
            };
            let mut diagnostic = Diagnostic::new(code, range, message).with_severity(severity);
            if let Some(policy_at) = &result.policy_at
                && let Some(policy_range) = locate(workspace, policy_at, Target::Key)
            {
                diagnostic = diagnostic.with_related(RelatedInformation {
                    file: (policy_at.file != path).then(|| policy_at.file.clone()),
                    range: policy_range,
                    message: format!("the rule {name}"),
                });
            }
            out.push(diagnostic);
        }
    }
    // The repository's settings (`lint.disable`, `lint.severity`) govern these codes like any other.
    match workspace.config_for(path) {
        Some(config) => config.apply(out),
        None => out,
    }
}

/// A summary above a manifest object's `kind:` line: how many policies apply to it and how many fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestLens {
    pub range: TextRange,
    pub title: String,
}

/// One lens per judged object of a manifest file: "3 policies apply: 1 fails". A policy applies when one
/// of its rules reached a verdict on the object (a skipped rule does not count); it fails when a rule
/// failed or erred. Results a registry or a cluster would decide are counted apart, never as passes.
pub(super) fn manifest_lenses(
    workspace: &Workspace,
    verdicts: &[Arc<ManifestVerdict>],
    path: &Path,
) -> Vec<ManifestLens> {
    let mut lenses = Vec::new();
    for verdict in verdicts.iter().filter(|verdict| verdict.manifest_file == path) {
        for (index, manifest) in verdict.report.manifests.iter().enumerate() {
            let mut applying: BTreeSet<&str> = BTreeSet::new();
            let mut failing: BTreeSet<&str> = BTreeSet::new();
            let mut unsupported: BTreeSet<&str> = BTreeSet::new();
            for result in verdict.report.results.iter().filter(|result| result.manifest == index) {
                match result.status {
                    Status::Skip => continue,
                    Status::Fail | Status::Error => {
                        failing.insert(&result.policy);
                    }
                    Status::Unsupported => {
                        unsupported.insert(&result.policy);
                    }
                    Status::Pass | Status::Warn => {}
                }
                applying.insert(&result.policy);
            }
            let Some(range) = locate(workspace, &manifest.place(""), Target::Object) else { continue };
            let policies = match applying.len() {
                1 => "1 policy applies".to_string(),
                count => format!("{count} policies apply"),
            };
            let verb = if failing.len() == 1 { "fails" } else { "fail" };
            let mut title = format!("{policies}: {} {verb}", failing.len());
            if !unsupported.is_empty() {
                title.push_str(&format!(", {} not checked offline", unsupported.len()));
            }
            lenses.push(ManifestLens { range, title });
        }
    }
    lenses
}
