//! The workspace's policies judging the manifests open in the editor, as `policy-lsp apply` judges them:
//! which files are manifests, the policies prepared once from every policy file the analysis holds (and
//! reused until one of them changes), one manifest file judged into a [`ManifestVerdict`], and the
//! verdict's failures as diagnostics on the offending field with the rule as related place.

use std::collections::BTreeSet;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::index;
use super::inline_tests::locate;
use super::manifest_preview::{self, MutatedManifest, MutationPreview};
use super::types::HoverResult;
use super::workspace::{FileFacts, Workspace};
use crate::apply::load::Loader;
use crate::apply::{self, ApplyReport, Options, PolicyDocument, PreparedPolicies, Status};
use crate::base::{Code, Diagnostic, RelatedInformation, Severity, TextRange};
use crate::model::{ADMISSION_POLICY_BINDING_KINDS, DocumentInfo, DocumentKind, KUBERNETES_ADMISSION_POLICY_KINDS};
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
    /// What the mutating policies change, per object they change.
    pub previews: Vec<MutationPreview>,
}

/// Whether a document is a policy `apply` reads: the kinds above, and Kubernetes' own admission policies
/// with their bindings (classified as plain resources, since clusters admit them like any object), so
/// the editor's policy set is the one `policy-lsp apply` loads from the same files.
fn is_policy_document(info: &DocumentInfo) -> bool {
    POLICY_KINDS.contains(&info.kind)
        || (info.group() == "admissionregistration.k8s.io"
            && (KUBERNETES_ADMISSION_POLICY_KINDS.contains(&info.kind_name.as_str())
                || ADMISSION_POLICY_BINDING_KINDS.contains(&info.kind_name.as_str())))
}

fn is_policy_file(facts: &FileFacts) -> bool {
    facts.documents.iter().any(|document| is_policy_document(&document.info))
}

/// The policy files the workspace knows (less those the settings exclude) with the hashes of their texts,
/// in no particular order.
fn policy_paths(workspace: &Workspace) -> impl Iterator<Item = (&PathBuf, u64)> {
    index::all_where(workspace, is_policy_file)
        .filter(|(path, _)| !workspace.is_excluded(path))
        .map(|(path, facts)| (path, facts.fingerprint))
}

/// How many files hold policies, less the excluded ones: the index's count (kept until the index changes)
/// corrected by the loaded files, so that a count after each keystroke costs a look at the open files only.
pub(super) fn policy_file_count(workspace: &Workspace) -> usize {
    let counts = |path: &Path, facts: &FileFacts| is_policy_file(facts) && !workspace.is_excluded(path);
    let indexed = *workspace
        .indexed_policy_count
        .get_or_init(|| workspace.index.iter().filter(|(path, facts)| counts(path, facts)).count());
    let mut count = indexed as isize;
    for path in workspace.files.keys() {
        count -= workspace.index.get(path).is_some_and(|facts| counts(path, facts)) as isize;
        count += index::facts(workspace, path).is_some_and(|facts| counts(path, &facts)) as isize;
    }
    count.max(0) as usize
}

/// The policy files with the hashes of their texts, sorted by path so that a fingerprint and the
/// policies' order are stable.
fn policy_files(workspace: &Workspace) -> Vec<(PathBuf, u64)> {
    let mut found: Vec<(PathBuf, u64)> = policy_paths(workspace).map(|(path, hash)| (path.clone(), hash)).collect();
    found.sort();
    found
}

/// Whether `path` holds policies (a change there re-judges the open manifests).
pub(super) fn holds_policies(workspace: &Workspace, path: &Path) -> bool {
    index::facts(workspace, path).is_some_and(|facts| is_policy_file(&facts))
}

/// Whether `path` is a manifest to judge: Kubernetes objects only, not a policy, test or template file,
/// not a Helm chart template (its YAML exists only after rendering) and not a fixture a test names (the
/// inline test results speak for those, and fixtures are meant to fail).
pub(super) fn is_manifest(workspace: &Workspace, path: &Path) -> bool {
    let Some(file) = workspace.file(path) else { return false };
    file.holds(DocumentKind::Resource)
        && !file
            .documents
            .iter()
            .any(|info| is_policy_document(info) || NOT_MANIFEST_KINDS.contains(&info.kind))
        && !workspace.is_excluded(path)
        && super::file_roles::helm_template(workspace, path, file.source.segments()).is_none()
        && index::test_files(workspace, Some(path)).is_empty()
}

/// The fingerprint of the workspace's policy files, cheap beside preparing them.
pub(super) fn policies_fingerprint(workspace: &Workspace) -> u64 {
    let mut hasher = DefaultHasher::new();
    for (path, text_hash) in policy_files(workspace) {
        path.hash(&mut hasher);
        text_hash.hash(&mut hasher);
    }
    hasher.finish()
}

/// Every policy of the workspace, prepared once for all the manifests judged until one changes.
pub(super) fn prepare_policies(workspace: &Workspace) -> WorkspacePolicies {
    let files: Vec<PathBuf> = policy_files(workspace).into_iter().map(|(path, _)| path).collect();
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
    let previews = manifest_preview::previews(&report);
    Some(ManifestVerdict { manifest_file: path.to_path_buf(), report, previews })
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

/// The hover on the `kind:` line of an object of a judged manifest file (see [`manifest_preview`]).
pub(super) fn manifest_hover(
    workspace: &Workspace,
    verdicts: &[Arc<ManifestVerdict>],
    path: &Path,
    offset: usize,
) -> Option<HoverResult> {
    verdicts
        .iter()
        .filter(|verdict| verdict.manifest_file == path)
        .find_map(|verdict| manifest_preview::object_hover(workspace, &verdict.report, &verdict.previews, offset))
}

/// The file as the mutating policies would leave it, from its verdict (see [`manifest_preview`]).
pub(super) fn mutated_manifest(
    workspace: &Workspace,
    verdicts: &[Arc<ManifestVerdict>],
    path: &Path,
) -> Option<MutatedManifest> {
    let verdict = verdicts.iter().find(|verdict| verdict.manifest_file == path)?;
    manifest_preview::mutated_manifest(workspace, path, &verdict.report, &verdict.previews)
}

/// A summary above a manifest object's `kind:` line: how many policies apply to it and how many fail,
/// or the mutations the policies make to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestLens {
    pub range: TextRange,
    pub title: String,
    /// The lens opens the mutation preview ([`crate::ide::PREVIEW_MUTATIONS_COMMAND`]) when clicked.
    pub previews_mutations: bool,
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
            lenses.push(ManifestLens { range, title, previews_mutations: false });
            if let Some(preview) = verdict.previews.iter().find(|preview| preview.manifest == index) {
                let changes =
                    if preview.changes == 1 { "1 change".to_string() } else { format!("{} changes", preview.changes) };
                let title = format!("Preview mutations ({changes})");
                lenses.push(ManifestLens { range, title, previews_mutations: true });
            }
        }
    }
    lenses
}
