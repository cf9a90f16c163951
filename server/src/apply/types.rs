//! The values of an apply run, below the preparing and judging in `apply/mod.rs` and its framework
//! modules: manifests and policy documents with their places, results and their statuses, the report, and
//! the options the command line adds.

use serde::Serialize;
use serde_json::Value;

use crate::testrun::{Framework, Problem, Related, SourceRef};

/// The verdict of one policy (rule, constraint) on one manifest.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// A failure that does not block admission: an audit policy under `--audit-warn`, a policy scored
    /// `false`, a Gatekeeper constraint whose action is not `deny`.
    Warn,
    Error,
    /// The rule matched but did not apply (preconditions, an exception).
    Skip,
    /// The rule needs what only a registry, a cluster or the network could answer: reported, never passed.
    Unsupported,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Error => "error",
            Status::Skip => "skip",
            Status::Unsupported => "unsupported",
        }
    }

    /// Whether the status fails a run: a failure, an error, or a result that could not be known.
    pub fn fails_run(self) -> bool {
        matches!(self, Status::Fail | Status::Error | Status::Unsupported)
    }
}

/// Which Kubernetes object a manifest is.
#[derive(Serialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    /// The manifest's namespace, or `default` for a namespaced kind without one; empty for cluster-scoped
    /// kinds.
    pub namespace: String,
    pub name: String,
}

impl ResourceId {
    /// `namespace/Kind/name` (`Kind/name` without a namespace), as `kyverno apply` names resources.
    pub fn display(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.namespace, self.kind, self.name)
        }
    }
}

/// One object among the manifests: a document, or an item of a `kind: List` document.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub id: ResourceId,
    /// Where it is written: the pointer is empty for a whole document, `/items/N` for a List item.
    pub at: SourceRef,
    /// The object as written.
    pub object: Value,
}

impl Manifest {
    /// A place inside the manifest, from a pointer relative to the object.
    pub fn place(&self, pointer: &str) -> SourceRef {
        SourceRef { pointer: format!("{}{pointer}", self.at.pointer), ..self.at.clone() }
    }
}

/// A policy-side document (a policy, a binding, an exception, a template, a constraint) and where it is.
#[derive(Clone, Debug)]
pub struct PolicyDocument {
    pub value: Value,
    pub at: SourceRef,
}

/// What kind of rule produced a result.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "camelCase")]
pub enum RuleKind {
    Validate,
    Mutate,
    Generate,
    VerifyImages,
}

/// One result: one rule (or CEL policy, or Gatekeeper violation) on one manifest.
#[derive(Clone, Debug)]
pub struct ApplyResult {
    pub framework: Framework,
    /// The policy's name (`namespace/name` for a namespaced Kyverno Policy); for Gatekeeper, the
    /// constraint's name.
    pub policy: String,
    /// The rule; `None` for the rule-less CEL kinds; for Gatekeeper, the constraint's kind.
    pub rule: Option<String>,
    pub rule_kind: RuleKind,
    /// The index of the manifest in [`ApplyReport::manifests`].
    pub manifest: usize,
    pub status: Status,
    pub message: String,
    /// The action the policy takes on a failure: `Enforce`/`Audit` (Kyverno), the validation actions of
    /// a ValidatingPolicy or admission policy binding, a constraint's `enforcementAction`.
    pub enforcement: String,
    /// The rule (or the policy) in its file.
    pub policy_at: Option<SourceRef>,
    /// The field of the manifest the failure is about, relative to the object, when the engine knows it.
    pub resource_pointer: Option<String>,
    /// Other places that explain the result (the pattern node or CEL expression that decided it).
    pub related: Vec<Related>,
    /// What a generate rule would create.
    pub generated: Vec<Value>,
    /// Report metadata from the policy's annotations: `policies.kyverno.io/category` and `severity`.
    pub category: String,
    pub severity: String,
    /// The CEL kinds' report source (`KyvernoValidatingPolicy`, ...), `kyverno` or `gatekeeper`.
    pub source: String,
}

/// A manifest the mutating policies changed, with the object they left.
#[derive(Clone, Debug)]
pub struct Mutation {
    pub manifest: usize,
    pub mutated: Value,
    /// The policies whose mutations applied, in order.
    pub policies: Vec<String>,
}

/// Everything an apply run found.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    pub manifests: Vec<Manifest>,
    pub results: Vec<ApplyResult>,
    pub mutations: Vec<Mutation>,
    /// Policies and manifests that could not be loaded or used.
    pub problems: Vec<Problem>,
    /// How many policies (Kyverno policies and Gatekeeper constraints) were applied.
    pub policy_count: usize,
}

/// Counts of results by status.
#[derive(Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub error: usize,
    pub skip: usize,
    pub unsupported: usize,
}

impl Summary {
    pub fn of<'r>(results: impl IntoIterator<Item = &'r ApplyResult>) -> Summary {
        let mut summary = Summary::default();
        for result in results {
            summary.add(result.status);
        }
        summary
    }

    pub fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Warn => self.warn += 1,
            Status::Error => self.error += 1,
            Status::Skip => self.skip += 1,
            Status::Unsupported => self.unsupported += 1,
        }
    }
}

/// What the command line adds to the policies: the values the Kyverno CLI reads from its flags.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The Values document (`--values-file`), or `Null`.
    pub values: Value,
    /// `--set key=value`, in order.
    pub set: Vec<(String, String)>,
    /// The RequestInfo document (`--userinfo`), or `Null`.
    pub user_info: Value,
    /// A Kyverno CLI Context document (`--context-file`): the cluster objects CEL's `resource` functions
    /// read and the image data `image.GetMetadata` answers, or `Null`.
    pub context: Value,
    /// Failures of audit policies are warnings (`--audit-warn`).
    pub audit_warn: bool,
    /// The current time (RFC 3339) for policies that read the clock.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

/// What one manifest came to.
#[derive(Clone, Debug, Default)]
pub struct ManifestOutcome {
    pub results: Vec<ApplyResult>,
    /// The object after the mutating policies, when they changed it, and the policies that did.
    pub mutated: Option<(Value, Vec<String>)>,
}
