//! Lists of kinds that several layers decide by: which kinds are policies of which engine, which kinds
//! Kyverno's autogen covers, and which built-in kinds have no namespace.

/// Kyverno's own policy kinds in `kyverno.io` (rules with match/validate/mutate/generate/verifyImages).
pub const KYVERNO_POLICY_KINDS: &[&str] = &["ClusterPolicy", "Policy"];

/// The Kyverno policy kinds in `policies.kyverno.io` (CEL-based).
pub const KYVERNO_CEL_POLICY_KINDS: &[&str] = &[
    "ValidatingPolicy",
    "MutatingPolicy",
    "GeneratingPolicy",
    "DeletingPolicy",
    "ImageValidatingPolicy",
    "NamespacedValidatingPolicy",
    "NamespacedMutatingPolicy",
    "NamespacedGeneratingPolicy",
    "NamespacedDeletingPolicy",
    "NamespacedImageValidatingPolicy",
];

/// Kubernetes' own CEL admission policies (`admissionregistration.k8s.io`), which the Kyverno CLI also tests.
pub const KUBERNETES_ADMISSION_POLICY_KINDS: &[&str] = &["ValidatingAdmissionPolicy", "MutatingAdmissionPolicy"];

/// The bindings of Kubernetes admission policies, which travel with the policies in a test.
pub const ADMISSION_POLICY_BINDING_KINDS: &[&str] =
    &["ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicyBinding"];

/// Whether a policy kind is evaluated with CEL: the `policies.kyverno.io` kinds and Kubernetes' admission
/// policies.
pub fn is_cel_policy_kind(kind: &str) -> bool {
    KYVERNO_CEL_POLICY_KINDS.contains(&kind) || KUBERNETES_ADMISSION_POLICY_KINDS.contains(&kind)
}

/// The Pod controllers of Kyverno's autogen, in the order Kyverno lists them (the default of
/// `pod-policies.kyverno.io/autogen-controllers` and of CEL policies' `autogen.podControllers`).
pub const POD_CONTROLLER_KINDS: &[&str] =
    &["DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController", "CronJob"];

/// Built-in kinds without a namespace; every other resource without one lands in `default`.
pub const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "APIService",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "RuntimeClass",
    "IngressClass",
    "ComponentStatus",
    "CertificateSigningRequest",
    "ClusterPolicy",
    "ClusterCleanupPolicy",
    "TokenReview",
    "SelfSubjectAccessReview",
    "SubjectAccessReview",
    "SelfSubjectRulesReview",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "IPAddress",
    "ServiceCIDR",
    "DeviceClass",
    "ResourceSlice",
];

/// Whether the Kyverno CLI loads a policy kind in this apiVersion (the GroupVersionKinds its policy
/// loader knows, `cmd/cli/kubectl-kyverno/policy/load.go`).
pub fn is_served_policy_version(api_version: &str, kind: &str) -> bool {
    let versions: &[&str] = match kind {
        "ClusterPolicy" | "Policy" => &["kyverno.io/v1", "kyverno.io/v2beta1"],
        "ValidatingPolicy" | "ImageValidatingPolicy" | "GeneratingPolicy" | "DeletingPolicy" | "MutatingPolicy" => {
            &["policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1"]
        }
        "NamespacedValidatingPolicy"
        | "NamespacedImageValidatingPolicy"
        | "NamespacedGeneratingPolicy"
        | "NamespacedDeletingPolicy"
        | "NamespacedMutatingPolicy" => &["policies.kyverno.io/v1beta1", "policies.kyverno.io/v1"],
        "ValidatingAdmissionPolicy" | "ValidatingAdmissionPolicyBinding" => &["admissionregistration.k8s.io/v1"],
        "MutatingAdmissionPolicy" | "MutatingAdmissionPolicyBinding" => &[
            "admissionregistration.k8s.io/v1",
            "admissionregistration.k8s.io/v1beta1",
            "admissionregistration.k8s.io/v1alpha1",
        ],
        _ => return true,
    };
    versions.contains(&api_version)
}
