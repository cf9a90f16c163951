//! `validate.manifests`: signed YAML manifests, verified offline with the public keys the policy
//! carries, as Kyverno's `validateManifestHandler` (`pkg/engine/handlers/validation/validate_manifest.go`)
//! does through sigstore's k8s-manifest-sigstore (`pkg/k8smanifest/verify_resource.go`, `verify.go`).
//!
//! The signer puts the manifest in the resource's `<domain>/message` annotation (base64 of gzip of the
//! YAML itself or of a tar.gz holding it) and base64 signatures of the un-gzipped message in
//! `<domain>/signature`, `<domain>/signature_1`, ... The resource must match the manifest of its kind and
//! name once ignored fields are dropped, and a signature must verify with the entry's key. Keyless
//! entries, certificates, Rekor bundles, image-held manifests and dry runs need the network or a cluster:
//! their results are `unsupported`.

pub mod diff;

use base64::Engine as _;
use std::collections::BTreeMap;

use serde_json::Value;

use self::diff::{Difference, drop_ignored, match_pattern};
use super::response::{RuleResponse, RuleStatus, RuleType};
use crate::engine::{archive, signature};
use crate::model::KubernetesObject;

const DEFAULT_DOMAIN: &str = "cosign.sigstore.dev";

/// Verifies `resource` (the request's object) against the rule's `manifests` block.
pub fn verify(rule_name: &str, manifests: &Value, resource: &Value) -> RuleResponse {
    let response = |status, message: String| RuleResponse::new(rule_name, RuleType::Validation, status, message);
    let verifier = match Verifier::new(manifests, resource) {
        Ok(verifier) => verifier,
        Err(reason) => return unsupported(rule_name, reason),
    };
    let mut verified = Vec::new();
    for (index, set) in
        manifests.get("attestors").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().iter().enumerate()
    {
        match verifier.attestor_set(set, &format!(".attestors[{index}]")) {
            Entry::Verified(message) => verified.push(message),
            Entry::Failed(message) => return response(RuleStatus::Fail, message),
            Entry::Error(message) => {
                return response(RuleStatus::Error, format!("error occurred during manifest verification: {message}"));
            }
            Entry::Unsupported(reason) => return unsupported(rule_name, reason),
        }
    }
    response(RuleStatus::Pass, format!("verified manifest signatures; {}", verified.join(",")))
}

fn unsupported(rule_name: &str, reason: String) -> RuleResponse {
    let reason = format!("validate.manifests: {reason}: not verified offline");
    let mut response = RuleResponse::new(rule_name, RuleType::Validation, RuleStatus::Error, reason.clone());
    response.unsupported = Some(reason);
    response
}

/// What one attestor (or attestor set) concluded.
#[derive(Clone, Debug, PartialEq)]
enum Entry {
    Verified(String),
    /// Not verified: no message or signature, or the resource differs from the signed manifest.
    Failed(String),
    /// The verification itself failed (no signature verifies, a key that does not load, ...): Kyverno
    /// reports the rule as an error.
    Error(String),
    /// Needs what offline evaluation does not have.
    Unsupported(String),
}

/// The parts of the verification shared by every attestor: the resource and its ignored fields.
struct Verifier<'a> {
    resource: &'a Value,
    domain: String,
    ignore_fields: Vec<String>,
    dry_run: bool,
}

impl<'a> Verifier<'a> {
    fn new(manifests: &Value, resource: &'a Value) -> Result<Self, String> {
        let domain = manifests
            .get("annotationDomain")
            .and_then(Value::as_str)
            .filter(|domain| !domain.is_empty())
            .unwrap_or(DEFAULT_DOMAIN)
            .to_string();
        if manifests.get("repository").and_then(Value::as_str).is_some_and(|repository| !repository.is_empty()) {
            return Err("manifests kept in an OCI image (repository) need registry access".to_string());
        }
        if annotations(resource).contains_key(&format!("{domain}/resourceBundleRef")) {
            return Err("a manifest kept in an OCI image (resourceBundleRef) needs registry access".to_string());
        }
        let dry_run = manifests.pointer("/dryRun/enable").and_then(Value::as_bool).unwrap_or(false);
        let ignore_fields = ignore_fields(manifests, resource, &domain);
        Ok(Verifier { resource, domain, ignore_fields, dry_run })
    }

    /// `verifyManifestAttestorSet`: entries are tried in order until `count` of them (all, when unset)
    /// verify; errors win over failures when too few verify.
    fn attestor_set(&self, set: &Value, path: &str) -> Entry {
        let entries =
            expand_static_keys(set.get("entries").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default());
        let required = match set.get("count").and_then(Value::as_u64) {
            Some(count) if count > 0 => count as usize,
            _ => entries.len(),
        };
        let (mut verified, mut failed, mut errors, mut unknown) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (index, entry) in entries.iter().enumerate() {
            let entry_path = format!("{path}.entries[{index}]");
            let result = match entry.get("attestor") {
                Some(nested) if !nested.is_null() => self.attestor_set(nested, &format!("{entry_path}.attestor")),
                _ => self.attestor(entry, &entry_path),
            };
            match result {
                Entry::Verified(message) => verified.push(message),
                Entry::Failed(message) => failed.push(message),
                Entry::Error(message) => errors.push(message),
                Entry::Unsupported(reason) => unknown.push(reason),
            }
            if verified.len() >= required {
                return Entry::Verified(format!(
                    "manifest verification succeeded; verifiedCount {}; requiredCount {required}; message {}",
                    verified.len(),
                    verified.join(",")
                ));
            }
        }
        // An entry that could not be checked might have verified: the set's result is not known.
        if let Some(reason) = unknown.into_iter().next() {
            return Entry::Unsupported(reason);
        }
        if !errors.is_empty() {
            return Entry::Error(errors.join("; "));
        }
        Entry::Failed(format!(
            "manifest verification failed; verifiedCount {}; requiredCount {required}; message {}",
            verified.len(),
            failed.join(",")
        ))
    }

    /// `k8sVerifyResource` for one attestor with a static key.
    fn attestor(&self, entry: &Value, path: &str) -> Entry {
        if let Some(expected) = entry.get("annotations").and_then(Value::as_object) {
            let actual = annotations(self.resource);
            for (key, value) in expected {
                let found = actual.get(key).map(String::as_str).unwrap_or("");
                if value.as_str() != Some(found) {
                    return Entry::Error(format!(
                        "annotations mismatch: {found} does not match expected value {} for key {key}",
                        value.as_str().unwrap_or("")
                    ));
                }
            }
        }
        if entry.get("repository").and_then(Value::as_str).is_some_and(|repository| !repository.is_empty()) {
            return Entry::Unsupported("manifests kept in an OCI image (repository) need registry access".to_string());
        }
        let key = match entry.get("keys") {
            Some(keys) if !keys.is_null() => keys.get("publicKeys").and_then(Value::as_str).unwrap_or(""),
            _ if entry.get("certificates").is_some_and(|value| !value.is_null()) => {
                return Entry::Unsupported("certificate attestors need Rekor and Fulcio".to_string());
            }
            _ => return Entry::Unsupported("keyless attestors need Fulcio and Rekor".to_string()),
        };
        let path = format!("{path}.keys");
        let key = match load_key(key) {
            Ok(key) => key,
            Err(KeyLoad::Unsupported(reason)) => return Entry::Unsupported(reason),
            Err(KeyLoad::Error(message)) => Some(Err(message)),
        };
        self.verify_resource(key, &path)
    }

    /// `VerifyResource` with the blob fetcher and verifier: the manifest is found in the message, matched
    /// with the resource, then a signature is checked. `key` is `None` for keyless verification.
    fn verify_resource(&self, key: Option<Result<signature::PublicKey, String>>, path: &str) -> Entry {
        let annotations = annotations(self.resource);
        let Some(message) = annotations.get(&format!("{}/message", self.domain)) else {
            return Entry::Failed(format!("{path}: YAML manifest not found for this resource: message not found"));
        };
        let Ok(compressed) = base64::engine::general_purpose::STANDARD.decode(message) else {
            return Entry::Error(format!("{path}: failed to decode base64 message in the annotation"));
        };
        // Go's `GzipDecompress` gives its input back when it is not gzip.
        let signed = archive::gunzip(&compressed).unwrap_or(compressed);
        let documents = match manifests_in(&signed) {
            Ok(documents) => documents,
            Err(message) => {
                return Entry::Error(format!("{path}: failed to read YAMLs in the gzipped message: {message}"));
            }
        };
        let (candidates, scored) = match find_manifests(&documents, self.resource) {
            Candidates::Known(candidates) => (candidates, false),
            Candidates::Scored(candidates) => (candidates, true),
        };
        if candidates.is_empty() {
            return Entry::Failed(format!(
                "{path}: YAML manifest not found for this resource: failed to find a YAML manifest in the gzipped message"
            ));
        }
        let mut first_difference = None;
        let mut matched = false;
        for candidate in &candidates {
            let remaining = self.remaining_differences(candidate);
            if remaining.is_empty() {
                matched = true;
                break;
            }
            first_difference.get_or_insert(remaining);
        }
        if matched && scored {
            return Entry::Unsupported(format!(
                "the signed message holds several manifests of kind {} and none named {}; k8s-manifest-sigstore \
                 picks candidates among them by a score whose ties depend on Go's map order",
                self.resource.kind(),
                self.resource.name()
            ));
        }
        let signature = self.check_signatures(key, &annotations, &signed);
        match signature {
            Entry::Verified(_) if matched => Entry::Verified("singed by a valid signer: ".to_string()),
            // Kyverno then dry-runs the manifest on the cluster and compares the result.
            Entry::Verified(_) if self.dry_run => {
                Entry::Unsupported("the dry run of the manifest (dryRun.enable) needs a cluster".to_string())
            }
            Entry::Verified(_) => Entry::Failed(format!(
                "{path}: failed to verify signature. diff found; {}",
                describe(&first_difference.unwrap_or_default())
            )),
            Entry::Failed(message) => Entry::Failed(format!("{path}: {message}")),
            Entry::Error(message) => Entry::Error(format!("{path}: failed to verify signature: {message}")),
            unsupported => unsupported,
        }
    }

    /// The differences left once ignored fields and an unset manifest namespace are set aside.
    fn remaining_differences(&self, manifest: &Value) -> Vec<Difference> {
        let items = drop_ignored(diff::differences(manifest, self.resource), &self.ignore_fields);
        // A manifest without a namespace matches a resource in any namespace.
        items.into_iter().filter(|item| !(item.key == "metadata.namespace" && item.before.is_none())).collect()
    }

    /// The blob signature verifier: each signature annotation in turn, the first that verifies wins.
    fn check_signatures(
        &self,
        key: Option<Result<signature::PublicKey, String>>,
        annotations: &BTreeMap<String, String>,
        signed: &[u8],
    ) -> Entry {
        let mut signatures = Vec::new();
        for index in 0..=annotations.len() {
            let name = if index == 0 { "signature".to_string() } else { format!("signature_{index}") };
            let Some(signature) = annotations.get(&format!("{}/{name}", self.domain)) else { break };
            let suffix = if index == 0 { String::new() } else { format!("_{index}") };
            let has = |base: &str| annotations.contains_key(&format!("{}/{base}{suffix}", self.domain));
            if has("certificate") || has("bundle") {
                return Entry::Unsupported("signatures with a certificate or a Rekor bundle need Rekor".to_string());
            }
            signatures.push(signature);
        }
        if signatures.is_empty() {
            return Entry::Failed("signature not found".to_string());
        }
        let key = match key {
            None => return Entry::Unsupported("keyless signatures need Fulcio and Rekor".to_string()),
            Some(Err(message)) => return Entry::Error(message),
            Some(Ok(key)) => key,
        };
        for encoded in &signatures {
            if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(encoded.trim())
                && signature::verify_sha256(&key, signed, &raw)
            {
                return Entry::Verified(String::new());
            }
        }
        Entry::Error(format!("verification failed for {} signature", signatures.len()))
    }
}

enum KeyLoad {
    Unsupported(String),
    Error(String),
}

/// How Kyverno hands `publicKeys` to k8s-manifest-sigstore: a PEM public key through an environment
/// variable; anything else is a key reference (a secret, a KMS key, a file) cosign resolves itself.
fn load_key(text: &str) -> Result<Option<Result<signature::PublicKey, String>>, KeyLoad> {
    if text.is_empty() {
        // No key: k8s-manifest-sigstore falls back to keyless verification.
        return Ok(None);
    }
    if text.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        return Err(KeyLoad::Unsupported("PGP keys are not verified offline".to_string()));
    }
    if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        return match signature::parse_pem_public_key(text) {
            Ok(key) => Ok(Some(Ok(key))),
            Err(signature::KeyError::Unsupported(reason)) => Err(KeyLoad::Unsupported(reason)),
            Err(signature::KeyError::Invalid(reason)) => {
                Err(KeyLoad::Error(format!("failed to judge signature type from public key configuration: {reason}")))
            }
        };
    }
    if text.contains("-----BEGIN") {
        // PEM text that does not start the value (a second key of one `publicKeys` after Kyverno splits it
        // keeps its leading newline) is read as a file path, which cannot exist.
        return Err(KeyLoad::Error("failed to judge signature type from public key configuration".to_string()));
    }
    Err(KeyLoad::Unsupported(format!("the key reference `{text}` needs a cluster, a KMS or a file outside the test")))
}

/// `ExpandStaticKeys`: an entry whose `publicKeys` holds several PEM keys becomes one entry per key, each
/// piece ending at `-----END PUBLIC KEY-----` (so every piece after the first starts with the newline
/// that separated them).
fn expand_static_keys(entries: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for entry in entries {
        let keys = entry.pointer("/keys/publicKeys").and_then(Value::as_str).unwrap_or("");
        const END: &str = "-----END PUBLIC KEY-----";
        let pieces: Vec<String> =
            keys.split_inclusive(END).filter(|piece| piece.ends_with(END)).map(str::to_string).collect();
        if pieces.len() > 1 {
            for piece in pieces {
                let mut copy = entry.clone();
                copy["keys"]["publicKeys"] = Value::String(piece);
                out.push(copy);
            }
        } else {
            out.push(entry.clone());
        }
    }
    out
}

/// The resource's annotations when all are strings (Go's `GetAnnotations` gives none otherwise).
fn annotations(resource: &Value) -> BTreeMap<String, String> {
    let Some(map) = resource.pointer("/metadata/annotations").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(key, value)| value.as_str().map(|text| (key.clone(), text.to_string())))
        .collect::<Option<BTreeMap<String, String>>>()
        .unwrap_or_default()
}

/// `GetYAMLsInArtifact`: the message is YAML itself, or a tar.gz whose `.yaml`/`.yml` files that hold a
/// Kubernetes object are read in path order. Returns every document.
fn manifests_in(signed: &[u8]) -> Result<Vec<Value>, String> {
    if let Some(documents) = std::str::from_utf8(signed).ok().and_then(yaml_documents).filter(|found| !found.is_empty())
    {
        return Ok(documents);
    }
    let tarball = archive::gunzip(signed).ok_or("gzip.NewReader() failed while decompressing tar gz")?;
    let mut files: Vec<(Vec<String>, String)> = Vec::new();
    for file in archive::tar_files(&tarball)? {
        if file.name.starts_with("..") {
            continue;
        }
        let is_yaml = file.name.ends_with(".yaml") || file.name.ends_with(".yml");
        let Ok(text) = String::from_utf8(file.contents) else { continue };
        let holds_object = yaml_documents(&text)
            .and_then(|documents| documents.into_iter().next())
            .is_some_and(|first| !first.kind().is_empty());
        if is_yaml && holds_object {
            let components: Vec<String> =
                file.name.split('/').filter(|part| !part.is_empty() && *part != ".").map(str::to_string).collect();
            // A later file of the same path replaces an earlier one.
            files.retain(|(path, _)| *path != components);
            files.push((components, text));
        }
    }
    // The files are walked directory by directory in name order.
    files.sort_by(|left, right| left.0.cmp(&right.0));
    Ok(files.iter().filter_map(|(_, text)| yaml_documents(text)).flatten().collect())
}

/// The documents of a YAML stream up to the first one that does not parse, with YAML 1.1 booleans as
/// Go's YAML reader reads them; `None` when the first does not parse.
fn yaml_documents(text: &str) -> Option<Vec<Value>> {
    let mut documents = Vec::new();
    for document in crate::syntax::parse_file(text) {
        if !document.errors.is_empty() {
            break;
        }
        let mut value = document.value.clone();
        for pointer in &document.yaml11_booleans {
            if let Some(slot) = value.pointer_mut(pointer)
                && let Some(text) = slot.as_str()
            {
                let truthy = matches!(text, "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON");
                *slot = Value::Bool(truthy);
            }
        }
        if !value.is_null() {
            documents.push(value);
        }
    }
    if documents.is_empty() && !text.trim().is_empty() { None } else { Some(documents) }
}

/// The manifests a resource is compared with (`FindManifestYAML`).
enum Candidates {
    /// The manifests of the resource's kind with its group and name, narrowed by namespace when several
    /// share them; or the only manifest of its kind.
    Known(Vec<Value>),
    /// Several manifests of the kind and none with the name: k8s-manifest-sigstore then scores them by
    /// shared values in an order Go's maps randomise, so which are tried is only known to be irrelevant
    /// when none of them matches.
    Scored(Vec<Value>),
}

fn find_manifests(documents: &[Value], resource: &Value) -> Candidates {
    let of_kind: Vec<&Value> = documents.iter().filter(|document| document.kind() == resource.kind()).collect();
    let group = |value: &Value| group_of(value.api_version());
    let same_name: Vec<&Value> = of_kind
        .iter()
        .copied()
        .filter(|document| group(document) == group(resource) && document.name() == resource.name())
        .collect();
    if group(resource).is_some() && !same_name.is_empty() {
        let same_namespace = same_name.iter().find(|document| document.namespace() == resource.namespace());
        let chosen = if same_name.len() == 1 { same_name[0] } else { same_namespace.copied().unwrap_or(same_name[0]) };
        return Candidates::Known(vec![chosen.clone()]);
    }
    let all: Vec<Value> = of_kind.into_iter().cloned().collect();
    if all.len() > 1 { Candidates::Scored(all) } else { Candidates::Known(all) }
}

/// The API group of an apiVersion (`apps/v1` is `apps`, `v1` the core group); `None` when it does not
/// parse (more than one `/`).
fn group_of(api_version: &str) -> Option<String> {
    match api_version.split('/').collect::<Vec<_>>().as_slice() {
        [_] => Some(String::new()),
        [group, _] => Some(group.to_string()),
        _ => None,
    }
}

/// The fields ignored for this resource: the policy's, then k8s-manifest-sigstore's defaults
/// (`pkg/k8smanifest/resources/default-config.yaml`), Kyverno's (`pkg/engine/resources/default-config.yaml`)
/// and the signature annotations of the domain, each list applying when one of its objects matches.
fn ignore_fields(manifests: &Value, resource: &Value, domain: &str) -> Vec<String> {
    let (group, version) = match resource.api_version().split_once('/') {
        Some((group, version)) => (group.to_string(), version.to_string()),
        None => (String::new(), resource.api_version().to_string()),
    };
    let reference = [group.as_str(), version.as_str(), resource.kind(), resource.name(), resource.namespace()];
    let matches = |objects: &[[&str; 5]]| {
        objects.is_empty()
            || objects
                .iter()
                .any(|object| object.iter().zip(reference.iter()).all(|(pattern, value)| match_pattern(pattern, value)))
    };
    let mut fields = Vec::new();
    for binding in manifests.get("ignoreFields").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let objects: Vec<[&str; 5]> = binding
            .get("objects")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|object| {
                let field = |name: &str| object.get(name).and_then(Value::as_str).unwrap_or("");
                [field("group"), field("version"), field("kind"), field("name"), field("namespace")]
            })
            .collect();
        if matches(&objects) {
            let listed = binding.get("fields").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            fields.extend(listed.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    for (kinds, listed) in DEFAULT_IGNORE_FIELDS {
        let objects: Vec<[&str; 5]> = kinds.iter().map(|(group, kind)| [*group, "", *kind, "", ""]).collect();
        if matches(&objects) {
            fields.extend(listed.iter().map(|field| field.to_string()));
        }
    }
    for base in ["message", "signature", "certificate", "bundle", "resourceBundleRef"] {
        fields.push(format!("metadata.annotations.{domain}/{base}*"));
    }
    fields
}

/// Fields ignored for the objects a list of (group, kind) patterns matches.
type IgnoreList = (&'static [(&'static str, &'static str)], &'static [&'static str]);

/// The default ignored fields of k8s-manifest-sigstore, then Kyverno's, as ((group, kind) objects, fields).
const DEFAULT_IGNORE_FIELDS: &[IgnoreList] = &[
    (
        &[("", "*")],
        &[
            "metadata.annotations.cosign.sigstore.dev/resourceBundleRef",
            "metadata.annotations.cosign.sigstore.dev/signature",
            "metadata.annotations.cosign.sigstore.dev/message",
            "metadata.annotations.cosign.sigstore.dev/certificate",
            "metadata.annotations.cosign.sigstore.dev/bundle",
        ],
    ),
    (
        &[("", "*")],
        &[
            "metadata.managedFields.*",
            "metadata.resourceVersion",
            "metadata.selfLink",
            "metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
            "metadata.annotations.namespace",
            "metadata.creationTimestamp",
            "metadata.generation",
            "metadata.uid",
            "metadata.finalizers",
            "metadata.labels.app.kubernetes.io/instance",
            "status",
        ],
    ),
    (&[("", "ServiceAccount")], &["secrets.*.name", "imagePullSecrets.*.name"]),
    (&[("", "Service")], &["spec.ports.*.nodePort", "spec.clusterIP", "spec.clusterIPs.0"]),
    (&[("", "Deployment")], &["metadata.annotations.deployment.kubernetes.io/revision"]),
    (&[("", "DaemonSet")], &["metadata.annotations.deprecated.daemonset.template.generation"]),
    (&[("route.openshift.io", "Route")], &["spec.host"]),
    // Kyverno's own list.
    (
        &[("", "*")],
        &[
            "metadata.namespace",
            "spec.containers.*.imagePullPolicy",
            "spec.containers.*.terminationMessagePath",
            "spec.containers.*.terminationMessagePolicy",
            "spec.dnsPolicy",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.terminationGracePeriodSeconds",
            "metadata.labels.app.kubernetes.io/instance",
            "metadata.managedFields.*",
            "metadata.resourceVersion",
            "metadata.selfLink",
            "metadata.annotations.control-plane.alpha.kubernetes.io/leader",
            "metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
            "metadata.finalizers*",
            "metadata.annotations.namespace",
            "metadata.annotations.deprecated.daemonset.template.generation",
            "metadata.creationTimestamp",
            "metadata.uid",
            "metadata.generation",
            "status",
            "metadata.annotations.deployment.kubernetes.io/revision",
        ],
    ),
    (
        &[("", "Pod")],
        &[
            "spec.volumes.*.name",
            "spec.volumes.*.projected.*",
            "spec.volumes.*.configMap.defaultMode",
            "spec.containers.*.volumeMounts.*",
            "spec.tolerations.*",
            "spec.enableServiceLinks",
            "spec.preemptionPolicy",
            "spec.priority",
            "spec.serviceAccount",
        ],
    ),
    (
        &[("", "Deployment")],
        &[
            "spec.progressDeadlineSeconds",
            "spec.revisionHistoryLimit",
            "spec.strategy.*",
            "spec.template.metadata.creationTimestamp",
            "spec.containers.*.ports.*.protocol",
            "spec.containers.*.resources",
            "spec.securityContext",
        ],
    ),
    (&[("", "CustomResourceDefinition")], &["spec.conversion.strategy", "spec.names.listKind"]),
    (
        &[("", "Service")],
        &[
            "spec.ports.*.nodePort",
            "spec.clusterIP",
            "spec.clusterIPs.0",
            "spec.sessionAffinity",
            "spec.type",
            "spec.ipFamilies.*",
            "spec.ipFamilyPolicy",
            "spec.internalTrafficPolicy",
        ],
    ),
    (
        &[("", "ClusterPolicy"), ("", "Policy")],
        &[
            "metadata.annotations.pod-policies.kyverno.io/autogen-controllers",
            "spec.failurePolicy",
            "spec.background",
            "spec.validationFailureAction",
        ],
    ),
    (&[("", "ServiceAccount")], &["secrets.*.name", "imagePullSecrets.*.name"]),
];

/// The differences as k8s-manifest-sigstore prints them: `{"items":[{"key":...,"values":{...}}]}`.
fn describe(items: &[Difference]) -> String {
    let items: Vec<Value> = items
        .iter()
        .map(|item| {
            // Go marshals the values map with its keys sorted: `after` first.
            serde_json::json!({"key": item.key, "values": {
                "after": item.after.clone().unwrap_or(Value::Null),
                "before": item.before.clone().unwrap_or(Value::Null),
            }})
        })
        .collect();
    serde_json::json!({ "items": items }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Made for these tests with Python's `cryptography`: two P-256 keys; a message holding a tar.gz with
    // `bundle/settings.yaml` (a ConfigMap `settings` with `data.mode: strict`), signed by each key; and a
    // message holding the same YAML gzipped directly, signed by key A.
    const KEY_A: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVpJBomKQREYtHz7sPp17a8WRMwII
Hu21aqXjWIZrpf45k3qIhiRMYSQ9E4lGMZ26UCbUY3ziOYbEtt5MuarAHg==
-----END PUBLIC KEY-----";
    const KEY_B: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWoPHyI2b78nVcbPPRfyVuPJfv5bq
1kjk0SR1f55Y9+/U7EmxSXc372xf/QZ6w8Z9w6vA68xLx4g/9+qV4V0+4w==
-----END PUBLIC KEY-----";
    const TAR_MESSAGE: &str = "H4sIAAAAAAACA5Pv5mDw9hXLZvr/9tJGvkMKAg2JafOa1C9MMpm1wWr3rsUJzjpXRLIe3e72ffUgZ9eP+tOx/55Os/Y/+bVudq2mYmnl5y0bxe2vhezeNjf9q6302u/za9+Zbola4bYm4dTRvq97fvh/k/OrO5Po4Wa7ZU/rkx4rnpdSuxbvPf2iu3RbhPJUL7OqxdP8J3r3NVc/N2rznsjEgAw29InXTZ12hUGDgQEAyAYZtacAAAA=";
    const TAR_SIGNED_BY_A: &str =
        "MEYCIQCx44Lkv2OHieHGyoTZMjmzdtqF2kv5epUuz66Xd5Hq/gIhALna6ThCAYYi6ZGCM2ezmho40Fm4UL7lqHJvKEzyFD5A";
    const TAR_SIGNED_BY_B: &str =
        "MEUCIQCgPDSRkARBycZGTnx7Srkale8jGyDn/kjmP5R2kz0OhAIgG9A4NjsR8gqsViRrcNCTWkmhipkb4qZTUSSaSbDFK2s=";
    const YAML_MESSAGE: &str = "H4sIAAAAAAACAzXIMQ6AMAgAwJ1X8AVXVmdXd1KwIQZoWuL7jYM3Hg87dS7LIHw2uC2EcM+4rB88wLVYuJgAMdiVcGmVRV/wt6d8XdNawQsHJASUTwAAAA==";
    const YAML_SIGNED_BY_A: &str =
        "MEYCIQDClD0wbHm4cZdJd0dbr99V67hi9CF6QeEIdfS+yschtwIhAN2lBq285IWN2h1kaa2RqeAcT/g3ByQz2LgUfR/zH2ad";

    /// The ConfigMap as deployed: the signed manifest plus the annotations and what the cluster adds.
    fn config_map(mode: &str, annotations: &[(&str, &str)]) -> Value {
        let annotations: Map<String, Value> = annotations
            .iter()
            .map(|(key, value)| (format!("cosign.sigstore.dev/{key}"), Value::String(value.to_string())))
            .collect();
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "prod", "uid": "1234", "annotations": annotations},
            "data": {"mode": mode}
        })
    }

    fn keys(keys: &[&str]) -> Value {
        json!(keys.iter().map(|key| json!({"keys": {"publicKeys": key}})).collect::<Vec<_>>())
    }

    fn check(manifests: Value, resource: Value, expect: expect_test::Expect) {
        let response = verify("signed", &manifests, &resource);
        let status = if response.unsupported.is_some() { "unsupported" } else { response.status.as_str() };
        expect.assert_eq(&format!("{status}: {}", response.message));
    }

    use serde_json::Map;

    #[test]
    fn a_resource_signed_by_the_key_passes() {
        let signed = config_map("strict", &[("message", TAR_MESSAGE), ("signature", TAR_SIGNED_BY_A)]);
        check(
            json!({"attestors": [{"entries": keys(&[KEY_A])}]}),
            signed,
            expect_test::expect![[
                r#"pass: verified manifest signatures; manifest verification succeeded; verifiedCount 1; requiredCount 1; message singed by a valid signer: "#
            ]],
        );
        let plain = config_map("strict", &[("message", YAML_MESSAGE), ("signature", YAML_SIGNED_BY_A)]);
        check(
            json!({"attestors": [{"entries": keys(&[KEY_A])}]}),
            plain,
            expect_test::expect![[
                r#"pass: verified manifest signatures; manifest verification succeeded; verifiedCount 1; requiredCount 1; message singed by a valid signer: "#
            ]],
        );
    }

    #[test]
    fn a_tampered_resource_fails_with_the_difference() {
        let tampered = config_map("lax", &[("message", TAR_MESSAGE), ("signature", TAR_SIGNED_BY_A)]);
        check(
            json!({"attestors": [{"entries": keys(&[KEY_A])}]}),
            tampered.clone(),
            expect_test::expect![[
                r#"fail: manifest verification failed; verifiedCount 0; requiredCount 1; message .attestors[0].entries[0].keys: failed to verify signature. diff found; {"items":[{"key":"data.mode","values":{"after":"lax","before":"strict"}}]}"#
            ]],
        );
        // The policy may ignore the field.
        check(
            json!({"ignoreFields": [{"objects": [{"kind": "ConfigMap"}], "fields": ["data.mode"]}],
                   "attestors": [{"entries": keys(&[KEY_A])}]}),
            tampered,
            expect_test::expect![[
                r#"pass: verified manifest signatures; manifest verification succeeded; verifiedCount 1; requiredCount 1; message singed by a valid signer: "#
            ]],
        );
    }

    #[test]
    fn a_signature_by_another_key_is_an_error() {
        let signed = config_map("strict", &[("message", TAR_MESSAGE), ("signature", TAR_SIGNED_BY_A)]);
        check(
            json!({"attestors": [{"entries": keys(&[KEY_B])}]}),
            signed.clone(),
            expect_test::expect![[
                r#"error: error occurred during manifest verification: .attestors[0].entries[0].keys: failed to verify signature: verification failed for 1 signature"#
            ]],
        );
        // One of two keys is enough when `count` says so.
        check(
            json!({"attestors": [{"count": 1, "entries": keys(&[KEY_B, KEY_A])}]}),
            signed,
            expect_test::expect![[
                r#"pass: verified manifest signatures; manifest verification succeeded; verifiedCount 1; requiredCount 1; message singed by a valid signer: "#
            ]],
        );
    }

    #[test]
    fn every_entry_must_verify_when_no_count_is_given() {
        let both = config_map(
            "strict",
            &[("message", TAR_MESSAGE), ("signature", TAR_SIGNED_BY_A), ("signature_1", TAR_SIGNED_BY_B)],
        );
        check(
            json!({"attestors": [{"entries": keys(&[KEY_A, KEY_B])}]}),
            both,
            expect_test::expect![[
                r#"pass: verified manifest signatures; manifest verification succeeded; verifiedCount 2; requiredCount 2; message singed by a valid signer: ,singed by a valid signer: "#
            ]],
        );
        let one = config_map("strict", &[("message", TAR_MESSAGE), ("signature", TAR_SIGNED_BY_A)]);
        check(
            json!({"attestors": [{"entries": keys(&[KEY_A, KEY_B])}]}),
            one,
            expect_test::expect![[
                r#"error: error occurred during manifest verification: .attestors[0].entries[1].keys: failed to verify signature: verification failed for 1 signature"#
            ]],
        );
    }

    #[test]
    fn unsigned_resources_fail() {
        check(
            json!({"attestors": [{"entries": keys(&[KEY_A])}]}),
            config_map("strict", &[]),
            expect_test::expect![[
                r#"fail: manifest verification failed; verifiedCount 0; requiredCount 1; message .attestors[0].entries[0].keys: YAML manifest not found for this resource: message not found"#
            ]],
        );
        check(
            json!({"attestors": [{"entries": keys(&[KEY_A])}]}),
            config_map("strict", &[("message", TAR_MESSAGE)]),
            expect_test::expect![[
                r#"fail: manifest verification failed; verifiedCount 0; requiredCount 1; message .attestors[0].entries[0].keys: signature not found"#
            ]],
        );
    }

    #[test]
    fn what_needs_the_network_is_unsupported() {
        let signed = config_map("strict", &[("message", TAR_MESSAGE), ("signature", TAR_SIGNED_BY_A)]);
        check(
            json!({"attestors": [{"entries": [{"keyless": {"subject": "me", "issuer": "https://issuer"}}]}]}),
            signed.clone(),
            expect_test::expect![[
                r#"unsupported: validate.manifests: keyless attestors need Fulcio and Rekor: not verified offline"#
            ]],
        );
        check(
            json!({"attestors": [{"entries": [{"keys": {"publicKeys": "k8s://kyverno/signing-key"}}]}]}),
            signed.clone(),
            expect_test::expect![[
                r#"unsupported: validate.manifests: the key reference `k8s://kyverno/signing-key` needs a cluster, a KMS or a file outside the test: not verified offline"#
            ]],
        );
        let tampered = config_map("lax", &[("message", TAR_MESSAGE), ("signature", TAR_SIGNED_BY_A)]);
        check(
            json!({"dryRun": {"enable": true}, "attestors": [{"entries": keys(&[KEY_A])}]}),
            tampered,
            expect_test::expect![[
                r#"unsupported: validate.manifests: the dry run of the manifest (dryRun.enable) needs a cluster: not verified offline"#
            ]],
        );
        // A known result stays known: the count is reached before the keyless entry matters.
        check(
            json!({"attestors": [{"count": 1, "entries": [{"keyless": {"subject": "me"}}, {"keys": {"publicKeys": KEY_A}}]}]}),
            signed,
            expect_test::expect![[
                r#"pass: verified manifest signatures; manifest verification succeeded; verifiedCount 1; requiredCount 1; message singed by a valid signer: "#
            ]],
        );
    }
}
