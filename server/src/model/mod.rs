//! Model: what each YAML document is (by apiVersion and kind), with typed views over the parts the editor
//! and the engines care about.

use serde_json::Value;

mod kinds;
mod object;

pub use kinds::{
    ADMISSION_POLICY_BINDING_KINDS, CLUSTER_SCOPED_KINDS, KUBERNETES_ADMISSION_POLICY_KINDS, KYVERNO_CEL_POLICY_KINDS,
    KYVERNO_POLICY_KINDS, POD_CONTROLLER_KINDS, is_cel_policy_kind, is_served_policy_version,
};
pub use object::{KubernetesObject, group_of};

/// What a document is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    /// Kyverno `ClusterPolicy` / `Policy` (kyverno.io).
    KyvernoPolicy,
    /// One of the `policies.kyverno.io` CEL policy kinds.
    KyvernoCelPolicy,
    KyvernoPolicyException,
    KyvernoCleanupPolicy,
    KyvernoGlobalContextEntry,
    /// `cli.kyverno.io` Test.
    KyvernoTest,
    KyvernoValues,
    KyvernoUserInfo,
    KyvernoContext,
    KyvernoClusterResource,
    ConstraintTemplate,
    /// A Gatekeeper constraint (`constraints.gatekeeper.sh/*`): an instance of a ConstraintTemplate.
    Constraint,
    GatekeeperMutator,
    GatekeeperConfig,
    GatekeeperExpansionTemplate,
    /// Other Gatekeeper kinds (Provider, SyncSet, Connection).
    GatekeeperOther,
    /// gator `Suite` (test.gatekeeper.sh).
    GatorSuite,
    /// A Chainsaw end-to-end test document (chainsaw.kyverno.io: Test, StepTemplate, Configuration).
    Chainsaw,
    /// Any other Kubernetes object.
    Resource,
    /// Not a Kubernetes object (no apiVersion/kind), or an empty document.
    Other,
}

impl DocumentKind {
    /// A policy the Kyverno test runner evaluates: ClusterPolicy/Policy or a CEL policy kind.
    pub fn is_kyverno_policy(&self) -> bool {
        matches!(self, DocumentKind::KyvernoPolicy | DocumentKind::KyvernoCelPolicy)
    }
}

/// How YAML scalars are typed by the tool that reads a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YamlVersion {
    /// Kubernetes and the Kyverno CLI (sigs.k8s.io/yaml): `yes`/`no`/`on`/`off` are booleans.
    V1_1,
    /// gator reads suites with YAML 1.2: `violations: no` is the string "no".
    V1_2,
}

/// A classified document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentInfo {
    pub kind: DocumentKind,
    pub api_version: String,
    pub kind_name: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

impl DocumentInfo {
    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }

    pub fn yaml_version(&self) -> YamlVersion {
        if self.kind == DocumentKind::GatorSuite { YamlVersion::V1_2 } else { YamlVersion::V1_1 }
    }

    /// A label for outlines: `ClusterPolicy require-labels`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{} {name}", self.kind_name),
            None => self.kind_name.clone(),
        }
    }
}

/// Classifies a document by its apiVersion and kind.
pub fn classify(value: &Value) -> DocumentInfo {
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    let api_version = value.api_version().to_string();
    let kind_name = value.kind().to_string();
    let name = text("/metadata/name").or_else(|| text("/name"));
    let namespace = text("/metadata/namespace");
    let group = group_of(&api_version);
    let kind = if api_version.is_empty() || kind_name.is_empty() {
        DocumentKind::Other
    } else {
        match (group, kind_name.as_str()) {
            ("kyverno.io", "ClusterPolicy" | "Policy") => DocumentKind::KyvernoPolicy,
            ("kyverno.io" | "policies.kyverno.io", "PolicyException") => DocumentKind::KyvernoPolicyException,
            ("kyverno.io", "CleanupPolicy" | "ClusterCleanupPolicy") => DocumentKind::KyvernoCleanupPolicy,
            ("kyverno.io", "GlobalContextEntry") => DocumentKind::KyvernoGlobalContextEntry,
            ("policies.kyverno.io", kind) if KYVERNO_CEL_POLICY_KINDS.contains(&kind) => DocumentKind::KyvernoCelPolicy,
            ("cli.kyverno.io", "Test") => DocumentKind::KyvernoTest,
            ("cli.kyverno.io", "Values") => DocumentKind::KyvernoValues,
            ("cli.kyverno.io", "UserInfo") => DocumentKind::KyvernoUserInfo,
            ("cli.kyverno.io", "Context") => DocumentKind::KyvernoContext,
            ("cli.kyverno.io", "ClusterResource") => DocumentKind::KyvernoClusterResource,
            ("templates.gatekeeper.sh", "ConstraintTemplate") => DocumentKind::ConstraintTemplate,
            ("constraints.gatekeeper.sh", _) => DocumentKind::Constraint,
            ("mutations.gatekeeper.sh", _) => DocumentKind::GatekeeperMutator,
            ("config.gatekeeper.sh", "Config") => DocumentKind::GatekeeperConfig,
            ("expansion.gatekeeper.sh", "ExpansionTemplate") => DocumentKind::GatekeeperExpansionTemplate,
            ("externaldata.gatekeeper.sh" | "syncset.gatekeeper.sh" | "connection.gatekeeper.sh", _) => {
                DocumentKind::GatekeeperOther
            }
            ("test.gatekeeper.sh", "Suite") => DocumentKind::GatorSuite,
            ("chainsaw.kyverno.io", _) => DocumentKind::Chainsaw,
            _ => DocumentKind::Resource,
        }
    };
    DocumentInfo { kind, api_version, kind_name, name, namespace }
}

/// A named child for outlines: a policy's rules, a suite's tests and cases, a test's results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPart {
    pub name: String,
    /// JSON pointer of the part inside its document.
    pub pointer: String,
    pub detail: Option<String>,
    pub children: Vec<NamedPart>,
}

/// The outline of a document: rules of a Kyverno policy, tests and cases of a gator Suite, results of a
/// Kyverno Test, validations of a CEL policy.
pub fn outline(info: &DocumentInfo, value: &Value) -> Vec<NamedPart> {
    match info.kind {
        DocumentKind::KyvernoPolicy => named_items(value, "/spec/rules", "name", |rule| {
            ["validate", "mutate", "generate", "verifyImages"]
                .iter()
                .find(|key| rule.get(**key).is_some())
                .map(|key| key.to_string())
        }),
        DocumentKind::KyvernoCelPolicy => named_items(value, "/spec/validations", "message", |_| None),
        DocumentKind::GatorSuite => {
            let mut tests = named_items(value, "/tests", "name", |_| None);
            for test in &mut tests {
                test.children = named_items(value, &format!("{}/cases", test.pointer), "name", |_| None);
            }
            tests
        }
        DocumentKind::KyvernoTest => named_items(value, "/results", "policy", |result| {
            result.get("result").and_then(Value::as_str).map(str::to_string)
        })
        .into_iter()
        .map(|mut part| {
            if let Some(rule) = value.pointer(&format!("{}/rule", part.pointer)).and_then(Value::as_str) {
                part.name = format!("{} / {rule}", part.name);
            }
            part
        })
        .collect(),
        _ => Vec::new(),
    }
}

fn named_items(
    value: &Value,
    pointer: &str,
    name_key: &str,
    detail: impl Fn(&Value) -> Option<String>,
) -> Vec<NamedPart> {
    let Some(items) = value.pointer(pointer).and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| NamedPart {
            name: item.get(name_key).and_then(Value::as_str).map_or_else(|| format!("#{index}"), str::to_string),
            pointer: format!("{pointer}/{index}"),
            detail: detail(item),
            children: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: Value, expect: DocumentKind) {
        assert_eq!(classify(&value).kind, expect, "{value}");
    }

    #[test]
    fn classifies_by_api_version_and_kind() {
        check(json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy"}), DocumentKind::KyvernoPolicy);
        check(
            json!({"apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy"}),
            DocumentKind::KyvernoCelPolicy,
        );
        check(
            json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sRequiredLabels"}),
            DocumentKind::Constraint,
        );
        check(json!({"apiVersion": "test.gatekeeper.sh/v1alpha1", "kind": "Suite"}), DocumentKind::GatorSuite);
        check(json!({"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Test"}), DocumentKind::KyvernoTest);
        check(json!({"apiVersion": "v1", "kind": "Pod"}), DocumentKind::Resource);
        check(json!({"apiVersion": "chainsaw.kyverno.io/v1alpha1", "kind": "Test"}), DocumentKind::Chainsaw);
        check(json!({"hello": "world"}), DocumentKind::Other);
    }
}
