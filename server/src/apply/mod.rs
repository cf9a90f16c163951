//! `policy-lsp apply`: plain manifests judged by a repository's policies, as `kyverno apply` and
//! `gator test` judge them, through the same engines the test runners use.
//!
//! Each manifest is one CREATE admission request. Kyverno policies of every kind run through
//! [`crate::engine::chain`] (in the order the Kyverno CLI's processor runs them, generate rules
//! reporting what they would create); Gatekeeper constraints review every manifest with all the
//! manifests as `data.inventory`, as `gator test` does. Results name places as (file, document, JSON
//! pointer); the front ends turn them into lines, diagnostics and reports. What needs a registry, a
//! cluster or the network comes back `unsupported` with the reason, never as a guess.

pub mod gatekeeper;
pub mod kyverno;
pub mod load;
mod types;

pub use types::{
    ApplyReport, ApplyResult, Manifest, ManifestOutcome, Mutation, Options, PolicyDocument, ResourceId, RuleKind,
    Status, Summary,
};

use crate::testrun::Problem;

/// The policies of an apply run, sorted by framework and ready to judge manifests: compiled once, used
/// for every manifest (and, in the editor, for every edit of a manifest until a policy changes).
#[derive(Clone, Debug)]
pub struct PreparedPolicies {
    pub kyverno: kyverno::Prepared,
    pub gatekeeper: gatekeeper::Prepared,
    /// Problems found while preparing (templates that do not compile, constraints without a template).
    pub problems: Vec<Problem>,
    pub audit_warn: bool,
}

impl PreparedPolicies {
    /// Sorts the documents by kind and prepares each framework; documents of other kinds are ignored.
    pub fn new(documents: &[PolicyDocument], extra_exceptions: &[PolicyDocument], options: &Options) -> Self {
        let mut problems = Vec::new();
        let kyverno = kyverno::Prepared::new(documents, extra_exceptions, options, &mut problems);
        let gatekeeper = gatekeeper::Prepared::new(documents, &mut problems);
        PreparedPolicies { kyverno, gatekeeper, problems, audit_warn: options.audit_warn }
    }

    /// How many policies judge manifests: Kyverno policies and Gatekeeper constraints.
    pub fn policy_count(&self) -> usize {
        self.kyverno.policy_count() + self.gatekeeper.constraint_count()
    }
}

/// Judges the manifest at `index`. Manifests are independent (apart from the Gatekeeper inventory, which
/// `inventory` holds), so a front end may judge them in parallel and in any order.
pub fn judge(
    policies: &PreparedPolicies,
    manifests: &[Manifest],
    inventory: &gatekeeper::ManifestInventory,
    index: usize,
) -> ManifestOutcome {
    let manifest = &manifests[index];
    let mut outcome = kyverno::judge(&policies.kyverno, manifest, index, policies.audit_warn);
    outcome.results.extend(gatekeeper::judge(&policies.gatekeeper, manifest, index, inventory));
    outcome
}

/// Runs everything in order on one thread: the editor's path, and the reference for the CLI.
pub fn apply(policies: &PreparedPolicies, manifests: Vec<Manifest>) -> ApplyReport {
    let mut problems = policies.problems.clone();
    let inventory = gatekeeper::ManifestInventory::new(&manifests, &mut problems);
    let outcomes: Vec<ManifestOutcome> =
        (0..manifests.len()).map(|index| judge(policies, &manifests, &inventory, index)).collect();
    assemble(policies, manifests, outcomes, problems)
}

/// Puts per-manifest outcomes (in manifest order) into one report.
pub fn assemble(
    policies: &PreparedPolicies,
    manifests: Vec<Manifest>,
    outcomes: Vec<ManifestOutcome>,
    problems: Vec<Problem>,
) -> ApplyReport {
    let mut report = ApplyReport { policy_count: policies.policy_count(), problems, ..ApplyReport::default() };
    for (index, outcome) in outcomes.into_iter().enumerate() {
        report.results.extend(outcome.results);
        if let Some((mutated, applied)) = outcome.mutated {
            report.mutations.push(Mutation { manifest: index, mutated, policies: applied });
        }
    }
    report.manifests = manifests;
    report
}
