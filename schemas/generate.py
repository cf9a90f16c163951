#!/usr/bin/env python3
"""Generate the JSON Schemas that policy-lsp embeds, from the upstream CRDs and the Kubernetes swagger.

Run from the repository root:

    python3 schemas/generate.py [UPSTREAM_DIR]           # write schemas/**.json
    python3 schemas/generate.py --check [UPSTREAM_DIR]   # exit 1 if the committed files are stale

UPSTREAM_DIR defaults to ../shared/upstream. Needs python3 and PyYAML; nothing else.
The conversion rules and the reasons for them are in schemas/README.md.
"""

import argparse
import hashlib
import json
import os
import re
import sys

import yaml

SCHEMAS_DIR = os.path.dirname(os.path.abspath(__file__))

K8S_FILE = "kubernetes/definitions.json"
SHARED_FILE = "shared.json"
CONSTRAINT_FILE = "gatekeeper/constraint.json"
SUITE_FILE = "gator/Suite.json"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
OBJECT_META_REF = K8S_FILE + "#/$defs/" + OBJECT_META

# CRD files users write. Status objects, reports and Kyverno's internal UpdateRequest are left out.
CRD_FILES = [
    "kyverno/crds/kyverno.io/kyverno.io_cleanuppolicies.yaml",
    "kyverno/crds/kyverno.io/kyverno.io_clustercleanuppolicies.yaml",
    "kyverno/crds/kyverno.io/kyverno.io_clusterpolicies.yaml",
    "kyverno/crds/kyverno.io/kyverno.io_globalcontextentries.yaml",
    "kyverno/crds/kyverno.io/kyverno.io_policies.yaml",
    "kyverno/crds/kyverno.io/kyverno.io_policyexceptions.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_deletingpolicies.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_generatingpolicies.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_imagevalidatingpolicies.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_mutatingpolicies.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_namespaceddeletingpolicies.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_namespacedgeneratingpolicies.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_namespacedimagevalidatingpolicies.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_namespacedmutatingpolicies.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_namespacedvalidatingpolicies.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_policyexceptions.yaml",
    "kyverno/crds/policies.kyverno.io/policies.kyverno.io_validatingpolicies.yaml",
    "kyverno/cli-crds/cli.kyverno.io_clusterresources.yaml",
    "kyverno/cli-crds/cli.kyverno.io_contexts.yaml",
    "kyverno/cli-crds/cli.kyverno.io_tests.yaml",
    "kyverno/cli-crds/cli.kyverno.io_userinfoes.yaml",
    "kyverno/cli-crds/cli.kyverno.io_values.yaml",
    "gatekeeper/crds/assign-customresourcedefinition.yaml",
    "gatekeeper/crds/assignimage-customresourcedefinition.yaml",
    "gatekeeper/crds/assignmetadata-customresourcedefinition.yaml",
    "gatekeeper/crds/config-customresourcedefinition.yaml",
    "gatekeeper/crds/connection-customresourcedefinition.yaml",
    "gatekeeper/crds/constrainttemplate-customresourcedefinition.yaml",
    "gatekeeper/crds/expansiontemplate-customresourcedefinition.yaml",
    "gatekeeper/crds/modifyset-customresourcedefinition.yaml",
    "gatekeeper/crds/provider-customresourcedefinition.yaml",
    "gatekeeper/crds/syncset-customresourcedefinition.yaml",
]
MATCH_FILE = "gatekeeper/match/match.gatekeeper.sh_matchcrd.yaml"
SWAGGER_FILE = "kubernetes/openapi/swagger-1.36.json"

# Built-in kinds that exist only as API request/response bodies; nobody writes them as manifests.

# The keywords the Rust validator understands. Anything else in an input is an error of this script.
PASSED_THROUGH = {
    "type", "properties", "additionalProperties", "items", "required", "enum", "const", "pattern",
    "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "uniqueItems",
    "oneOf", "anyOf", "allOf", "not", "$ref", "description", "default", "format", "deprecated",
    "x-kubernetes-list-map-keys", "x-kubernetes-validations",
    # How lists and maps merge: strategic merge patch (Kyverno's patchStrategicMerge) reads the patch
    # strategy and merge key, server-side apply (MutatingPolicy apply configurations) the list type.
    "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy", "x-kubernetes-list-type",
}
# Kubernetes extensions whose meaning is encoded in plain keywords (or that concern nothing policy-lsp
# evaluates), so they are dropped after the conversion.
DROPPED_EXTENSIONS = {
    "nullable", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource", "x-kubernetes-map-type", "x-kubernetes-unions",
    "x-kubernetes-group-version-kind",
    # OpenAPI annotations that appear in hand-written (ConstraintTemplate parameter) schemas.
    "example", "title", "externalDocs",
}

# Swagger definitions replaced wholesale: their swagger form is wrong or too narrow for manifests.
ANY_OF_INT_STRING = [{"type": "integer"}, {"type": "string"}]
SPECIAL_DEFINITIONS = {
    # The API takes `port: 80` and `port: http` alike.
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"anyOf": ANY_OF_INT_STRING},
    # Quantities are written `cpu: 1` as often as `cpu: "500m"`.
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"anyOf": [{"type": "string"}, {"type": "number"}]},
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": {"type": "string", "format": "date-time"},
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": {"type": "string", "format": "date-time"},
    # Arbitrary embedded objects and arbitrary JSON values: never strict.
    "io.k8s.apimachinery.pkg.runtime.RawExtension": {"type": "object"},
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": {},
}

# Allowed values the 1.36 swagger states only in prose (or not at all), for value completion and
# typo diagnostics. (definition, property): values. For array properties the enum goes on `items`.
# `prose` False marks entries whose values come from the API's validation code rather than the
# description; every other entry is checked against the description text when generating.
BUILTIN_ENUMS = [
    ("io.k8s.api.core.v1.Container", "imagePullPolicy", ["Always", "Never", "IfNotPresent"], True),
    ("io.k8s.api.core.v1.EphemeralContainer", "imagePullPolicy", ["Always", "Never", "IfNotPresent"], True),
    ("io.k8s.api.core.v1.Container", "terminationMessagePolicy", ["File", "FallbackToLogsOnError"], True),
    ("io.k8s.api.core.v1.EphemeralContainer", "terminationMessagePolicy", ["File", "FallbackToLogsOnError"], True),
    ("io.k8s.api.core.v1.PodSpec", "restartPolicy", ["Always", "OnFailure", "Never"], True),
    ("io.k8s.api.core.v1.PodSpec", "dnsPolicy", ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"], True),
    ("io.k8s.api.core.v1.PodSpec", "preemptionPolicy", ["Never", "PreemptLowerPriority"], True),
    ("io.k8s.api.core.v1.ContainerPort", "protocol", ["TCP", "UDP", "SCTP"], True),
    ("io.k8s.api.core.v1.ServicePort", "protocol", ["TCP", "UDP", "SCTP"], True),
    ("io.k8s.api.core.v1.EndpointPort", "protocol", ["TCP", "UDP", "SCTP"], True),
    ("io.k8s.api.discovery.v1.EndpointPort", "protocol", ["TCP", "UDP", "SCTP"], True),
    ("io.k8s.api.networking.v1.NetworkPolicyPort", "protocol", ["TCP", "UDP", "SCTP"], True),
    ("io.k8s.api.core.v1.ServiceSpec", "type", ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"], True),
    ("io.k8s.api.core.v1.ServiceSpec", "externalTrafficPolicy", ["Cluster", "Local"], True),
    ("io.k8s.api.core.v1.ServiceSpec", "internalTrafficPolicy", ["Cluster", "Local"], True),
    ("io.k8s.api.core.v1.ServiceSpec", "sessionAffinity", ["ClientIP", "None"], True),
    ("io.k8s.api.core.v1.ServiceSpec", "ipFamilyPolicy", ["SingleStack", "PreferDualStack", "RequireDualStack"], True),
    ("io.k8s.api.core.v1.ServiceSpec", "ipFamilies", ["IPv4", "IPv6"], True),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "accessModes",
     ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"], False),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "accessModes",
     ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"], False),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "volumeMode", ["Filesystem", "Block"], False),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "volumeMode", ["Filesystem", "Block"], False),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "persistentVolumeReclaimPolicy", ["Retain", "Delete", "Recycle"], True),
    ("io.k8s.api.apps.v1.DeploymentStrategy", "type", ["Recreate", "RollingUpdate"], True),
    ("io.k8s.api.apps.v1.DaemonSetUpdateStrategy", "type", ["RollingUpdate", "OnDelete"], True),
    ("io.k8s.api.apps.v1.StatefulSetUpdateStrategy", "type", ["RollingUpdate", "OnDelete"], False),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "podManagementPolicy", ["OrderedReady", "Parallel"], True),
    ("io.k8s.api.batch.v1.CronJobSpec", "concurrencyPolicy", ["Allow", "Forbid", "Replace"], True),
    ("io.k8s.api.batch.v1.JobSpec", "completionMode", ["NonIndexed", "Indexed"], True),
    ("io.k8s.api.batch.v1.JobSpec", "podReplacementPolicy", ["TerminatingOrFailed", "Failed"], True),
    ("io.k8s.api.core.v1.Toleration", "operator", ["Exists", "Equal", "Lt", "Gt"], True),
    ("io.k8s.api.core.v1.Toleration", "effect", ["NoSchedule", "PreferNoSchedule", "NoExecute"], True),
    ("io.k8s.api.core.v1.Taint", "effect", ["NoSchedule", "PreferNoSchedule", "NoExecute"], True),
    ("io.k8s.api.core.v1.NodeSelectorRequirement", "operator", ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"], True),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", "operator", ["In", "NotIn", "Exists", "DoesNotExist"], True),
    ("io.k8s.api.core.v1.SeccompProfile", "type", ["RuntimeDefault", "Unconfined", "Localhost"], True),
    ("io.k8s.api.core.v1.AppArmorProfile", "type", ["RuntimeDefault", "Unconfined", "Localhost"], True),
    ("io.k8s.api.core.v1.HostPathVolumeSource", "type",
     ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"], False),
    ("io.k8s.api.core.v1.SecurityContext", "procMount", ["Default", "Unmasked"], False),
    ("io.k8s.api.core.v1.PodSecurityContext", "fsGroupChangePolicy", ["OnRootMismatch", "Always"], True),
    ("io.k8s.api.core.v1.PodSecurityContext", "seLinuxChangePolicy", ["MountOption", "Recursive"], True),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "whenUnsatisfiable", ["DoNotSchedule", "ScheduleAnyway"], True),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "nodeAffinityPolicy", ["Honor", "Ignore"], True),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "nodeTaintsPolicy", ["Honor", "Ignore"], True),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", "policyTypes", ["Ingress", "Egress"], True),
    ("io.k8s.api.networking.v1.HTTPIngressPath", "pathType", ["Exact", "Prefix", "ImplementationSpecific"], True),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "unhealthyPodEvictionPolicy", ["IfHealthyBudget", "AlwaysAllow"], True),
    ("io.k8s.api.rbac.v1.Subject", "kind", ["User", "Group", "ServiceAccount"], True),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "failurePolicy", ["Ignore", "Fail"], True),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "failurePolicy", ["Ignore", "Fail"], True),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "sideEffects", ["None", "NoneOnDryRun"], True),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "sideEffects", ["None", "NoneOnDryRun"], True),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "matchPolicy", ["Exact", "Equivalent"], True),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "matchPolicy", ["Exact", "Equivalent"], True),
    ("io.k8s.api.admissionregistration.v1.RuleWithOperations", "operations", ["CREATE", "UPDATE", "DELETE", "CONNECT", "*"], True),
    ("io.k8s.api.admissionregistration.v1.RuleWithOperations", "scope", ["Cluster", "Namespaced", "*"], True),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "failurePolicy", ["Ignore", "Fail"], True),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec", "validationActions", ["Deny", "Warn", "Audit"], True),
    ("io.k8s.api.autoscaling.v2.MetricSpec", "type", ["ContainerResource", "External", "Object", "Pods", "Resource"], True),
    ("io.k8s.api.autoscaling.v2.MetricTarget", "type", ["Utilization", "Value", "AverageValue"], True),
    ("io.k8s.api.autoscaling.v2.HPAScalingPolicy", "type", ["Pods", "Percent"], False),
    ("io.k8s.api.autoscaling.v2.HPAScalingRules", "selectPolicy", ["Max", "Min", "Disabled"], False),
]

# `required` lists of the Kyverno CLI CRDs that the CLI itself does not honour. Its CRDs are
# generated from Go structs, and fields without `omitempty` come out as required even when the
# CLI fills them in itself. (group, kind, JSON pointer into the converted schema): replacement.
REQUIRED_OVERRIDES = {
    # registry, repository and resolvedImage are derived from `image` by the CLI.
    ("cli.kyverno.io", "Context", "/properties/spec/properties/images/items"): ["image"],
}

# Neither CRDs nor the swagger can mark a field deprecated, but their descriptions say so in a few
# fixed phrasings ("Deprecated, use ...", "... Deprecated: X is deprecated", "This field is
# deprecated"). Such nodes get `deprecated: true`, for a strike-through or hint in the editor.
DEPRECATED_TEXT = re.compile(r"^\s*Deprecated\b|(?:^|[.\n]\s*)Deprecated[:.,]|\bThis field is deprecated\b")

# A subtree shared by several CRD schemas moves to shared.json when its JSON is at least this big.
SHARE_MIN_BYTES = 512


# ---------------------------------------------------------------------------------------------
# Conversion of one OpenAPI node (CRD openAPIV3Schema or swagger v2 definition) to JSON Schema.

class Converter:
    def __init__(self, ref_map, where):
        self.ref_map = ref_map
        self.where = where

    def node(self, node, path, in_combinator=False):
        """Convert one schema node. `in_combinator` is true under oneOf/anyOf/allOf/not, where a
        branch only adds constraints and must not close the object with additionalProperties."""
        if not isinstance(node, dict):
            raise SystemExit(f"{self.where}{path}: schema node is not a mapping")
        out = {}
        for key, value in node.items():
            if key == "properties":
                out[key] = {name: self.node(sub, f"{path}/properties/{name}") for name, sub in value.items()}
            elif key == "items":
                out[key] = self.node(value, path + "/items")
            elif key == "additionalProperties":
                out[key] = self.node(value, path + "/additionalProperties") if isinstance(value, dict) else value
            elif key in ("oneOf", "anyOf", "allOf"):
                out[key] = [self.node(sub, f"{path}/{key}/{i}", True) for i, sub in enumerate(value)]
            elif key == "not":
                out[key] = self.node(value, path + "/not", True)
            elif key == "$ref":
                out[key] = self.ref_map(value)
            elif key in PASSED_THROUGH:
                out[key] = value
            elif key in DROPPED_EXTENSIONS:
                pass
            else:
                raise SystemExit(f"{self.where}{path}: unhandled keyword {key!r}; teach generate.py about it")

        preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
        if node.get("x-kubernetes-int-or-string") is True and "type" not in out and "anyOf" not in out:
            out["anyOf"] = list(ANY_OF_INT_STRING)
        if node.get("x-kubernetes-list-type") == "set":
            out["uniqueItems"] = True
        if node.get("x-kubernetes-embedded-resource") is True:
            props = out.setdefault("properties", {})
            props.setdefault("apiVersion", {"type": "string"})
            props.setdefault("kind", {"type": "string"})
            props.setdefault("metadata", {"$ref": self.ref_map(OBJECT_META_REF)})
            out["required"] = list(dict.fromkeys(list(out.get("required", [])) + ["apiVersion", "kind"]))
        if node.get("nullable") is True:
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = list(out["enum"]) + [None]
        if not in_combinator and "properties" in out and "additionalProperties" not in out and not preserve:
            out["additionalProperties"] = False
        if DEPRECATED_TEXT.search(out.get("description", "")):
            out["deprecated"] = True
        return out


# ---------------------------------------------------------------------------------------------
# Kubernetes built-in kinds.

def builtin_scopes(swagger):
    """Namespaced when any API path for the kind has a {namespace} segment, else Cluster."""
    scopes = {}
    for path, item in swagger.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            gvk = operation.get("x-kubernetes-group-version-kind")
            if not gvk:
                continue
            key = (gvk["group"], gvk["version"], gvk["kind"])
            namespaced = "{namespace}" in path
            scopes[key] = scopes.get(key, False) or namespaced
    return scopes


def convert_swagger(swagger):
    def ref_map(ref):
        if ref.startswith("#/definitions/"):
            return "#/$defs/" + ref[len("#/definitions/"):]
        if ref == OBJECT_META_REF:
            return "#/$defs/" + OBJECT_META
        raise SystemExit(f"swagger: unexpected $ref {ref}")

    defs = {}
    for name, definition in swagger["definitions"].items():
        if name in SPECIAL_DEFINITIONS:
            converted = dict(SPECIAL_DEFINITIONS[name])
            if "description" in definition:
                converted["description"] = definition["description"]
        else:
            converted = Converter(ref_map, f"swagger {name}").node(definition, "")
        defs[name] = converted

    for definition, prop, values, from_prose in BUILTIN_ENUMS:
        target = defs[definition]["properties"][prop]
        if from_prose:
            text = target.get("description", "")
            missing = [v for v in values if v and v not in text]
            if missing:
                raise SystemExit(f"enum overlay {definition}.{prop}: {missing} not in the description")
        if target.get("type") == "array":
            target = target["items"]
        if target.get("type") != "string" or "enum" in target:
            raise SystemExit(f"enum overlay {definition}.{prop}: target is not a plain string")
        target["enum"] = list(values)

    scopes = builtin_scopes(swagger)
    entries = []
    for name, definition in swagger["definitions"].items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            kind = gvk["kind"]
            group, version = gvk["group"], gvk["version"]
            key = (group, version, kind)
            deprecated = bool(defs[name].get("deprecated", False))
            entries.append({
                "apiVersion": f"{group}/{version}" if group else version,
                "kind": kind,
                "file": K8S_FILE,
                "pointer": "/$defs/" + name,
                "scope": "Namespaced" if scopes.get(key, True) else "Cluster",
                "deprecated": deprecated,
                "deprecationWarning": None,
                # Plain resources are mostly test fixtures for kyverno test and gator verify,
                # which never validate them; see README.md.
                "unknownFields": "warning",
            })
    return {"$defs": defs}, entries


# ---------------------------------------------------------------------------------------------
# CRDs.

def crd_ref_map(ref):
    if ref == OBJECT_META_REF:
        return ref
    raise SystemExit(f"CRD: unexpected $ref {ref}")


def is_opaque(node):
    return (node.get("type") == "object" and "properties" not in node
            and "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"))


def patch_opaque(node):
    """Give the opaque `{type: object}` nodes of the Kyverno CLI CRDs their real meaning:
    embedded namespace metadata is ObjectMeta, and Kyverno's `Any` type holds any value."""
    if not isinstance(node, dict):
        return
    for key in ("properties",):
        for name, sub in list(node.get(key, {}).items()):
            if isinstance(sub, dict) and is_opaque(sub):
                text = sub.get("description", "")
                if name == "metadata" and text.startswith("Standard object's metadata"):
                    node[key][name] = {"$ref": OBJECT_META_REF, "description": text}
                elif text.startswith("Any can be any type"):
                    node[key][name] = {"description": text}
            else:
                patch_opaque(sub)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            patch_opaque(node[key])
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(key, []):
            patch_opaque(sub)


def convert_crd_version(crd, version):
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    where = f"{group}/{version['name']} {kind}"
    source = json.loads(json.dumps(version["schema"]["openAPIV3Schema"]))
    props = source.get("properties", {})
    props.pop("metadata", None)
    has_status_subresource = "status" in (version.get("subresources") or {})
    status = props.pop("status", None) if has_status_subresource else None
    patch_opaque(source)

    schema = Converter(crd_ref_map, where).node(source, "")
    props = schema.setdefault("properties", {})
    api_version = f"{group}/{version['name']}"
    for name, value in (("apiVersion", api_version), ("kind", kind)):
        prop = props.setdefault(name, {"type": "string"})
        prop.pop("enum", None)
        prop["const"] = value
    props["metadata"] = {"$ref": OBJECT_META_REF}
    if status is not None:
        # With the status subresource the API server ignores `status` on create and update,
        # so it is never worth validating in a manifest.
        props["status"] = {"description": status.get("description", "Status is set by the controller.")}
    schema["required"] = list(dict.fromkeys(["apiVersion", "kind"] + list(schema.get("required", []))))
    for (o_group, o_kind, pointer), required in REQUIRED_OVERRIDES.items():
        if (o_group, o_kind) == (group, kind):
            node = schema
            for part in pointer.strip("/").split("/"):
                node = node[part]
            node["required"] = list(required)
    schema["additionalProperties"] = False
    return schema


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def convert_crds(upstream):
    files, entries = {}, []
    for rel in CRD_FILES:
        for crd in load_yaml_docs(os.path.join(upstream, rel)):
            spec = crd["spec"]
            group, kind = spec["group"], spec["names"]["kind"]
            for version in spec["versions"]:
                if not version.get("served", False):
                    continue
                out = f"{group}/{version['name']}/{kind}.json"
                files[out] = convert_crd_version(crd, version)
                entries.append({
                    "apiVersion": f"{group}/{version['name']}",
                    "kind": kind,
                    "file": out,
                    "pointer": "",
                    "scope": spec["scope"],
                    "deprecated": bool(version.get("deprecated", False)),
                    "deprecationWarning": version.get("deprecationWarning"),
                    "unknownFields": "error",
                })
    return files, entries


# ---------------------------------------------------------------------------------------------
# Gatekeeper constraints and gator Suites: no upstream schema, so they are built here.

ENFORCEMENT_POINTS_TEXT = (
    "Enforcement points: `validation.gatekeeper.sh` (admission webhook), `audit.gatekeeper.sh` (audit), "
    "`gator.gatekeeper.sh` (gator CLI), `vap.k8s.io` (generated ValidatingAdmissionPolicy), `*` (all)."
)


def constraint_schema(upstream, k8s_defs):
    match_crd = load_yaml_docs(os.path.join(upstream, MATCH_FILE))[0]
    match_source = match_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["embeddedMatch"]
    match = Converter(crd_ref_map, "constraint match").node(match_source, "")

    # ObjectMeta with the extra rule the constraint CRD adds: metadata.name is at most 63 characters.
    # It is a copy rather than a $ref with sibling constraints, so every $ref in these files has
    # annotation siblings only.
    def cross(node):
        if isinstance(node, dict):
            return {k: (K8S_FILE + v if k == "$ref" else cross(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [cross(v) for v in node]
        return node

    meta = cross(k8s_defs[OBJECT_META])
    meta["properties"]["name"]["maxLength"] = 63
    meta["description"] = ("Standard object metadata. A constraint's name must be a DNS-1123 subdomain "
                           "of at most 63 characters.")

    return {
        "description": ("A Gatekeeper constraint: an instance of a ConstraintTemplate. Its kind is the "
                        "template's spec.crd.spec.names.kind and its spec.parameters follow the template's "
                        "spec.crd.spec.validation.openAPIV3Schema."),
        "type": "object",
        "required": ["apiVersion", "kind"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {
                "type": "string",
                "enum": ["constraints.gatekeeper.sh/v1beta1", "constraints.gatekeeper.sh/v1alpha1"],
                "description": "Constraints are served as constraints.gatekeeper.sh/v1beta1 and v1alpha1; "
                               "Gatekeeper rejects any other version.",
            },
            "kind": {"type": "string", "description": "The kind named by the ConstraintTemplate (spec.crd.spec.names.kind)."},
            "metadata": meta,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "description": "What the constraint applies to, how it is enforced and its parameters.",
                "properties": {
                    "match": dict(match, description=match_source.get(
                        "description", "Selects the objects this constraint applies to.")),
                    "enforcementAction": {
                        "type": "string",
                        "enum": ["deny", "dryrun", "warn", "scoped"],
                        "default": "deny",
                        "description": ("What happens on a violation: `deny` rejects the request, `warn` admits it "
                                        "with a warning, `dryrun` only records it in audit, `scoped` uses "
                                        "scopedEnforcementActions per enforcement point."),
                    },
                    "scopedEnforcementActions": {
                        "type": "array",
                        "description": ("Per enforcement point actions, used when enforcementAction is `scoped`. "
                                        + ENFORCEMENT_POINTS_TEXT),
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "action": {
                                    "type": "string",
                                    "enum": ["deny", "dryrun", "warn"],
                                    "description": "The action taken at the listed enforcement points.",
                                },
                                "enforcementPoints": {
                                    "type": "array",
                                    "description": "Where the action applies. " + ENFORCEMENT_POINTS_TEXT,
                                    "items": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "properties": {"name": {"type": "string", "description": ENFORCEMENT_POINTS_TEXT}},
                                    },
                                },
                            },
                        },
                    },
                    "parameters": {
                        "description": ("Values for the template's parameters. Their schema is the template's "
                                        "spec.crd.spec.validation.openAPIV3Schema."),
                    },
                },
            },
            "status": {"description": "Set by Gatekeeper; ignored when the constraint is applied."},
        },
    }


def suite_schema():
    def obj(description, properties):
        return {"type": "object", "additionalProperties": False, "description": description, "properties": properties}

    def path_string(what):
        return {"type": "string", "description": f"Path to {what}, relative to the directory of this Suite file."}

    skip = {"type": "boolean", "description": "When true, gator skips this and reports it as skipped."}
    assertion = obj(
        "An expectation about the violations of the case's object. Only violations whose message matches "
        "`message` (when given) are counted.",
        {
            "violations": {
                "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "enum": ["yes", "no"]}],
                "default": "yes",
                "description": ("How many violations are expected: an exact non-negative count, `yes` (at least one) "
                                "or `no` (none). Defaults to `yes`."),
            },
            "message": {
                "type": "string",
                "description": ("A regular expression (Go RE2 syntax, case-sensitive). Only violations whose message "
                                "matches it are counted."),
            },
        },
    )
    case = obj(
        "One object reviewed against the test's constraint, with the violations expected.",
        {
            "name": {"type": "string", "description": "Name of the case, shown in gator's output."},
            "object": path_string("the object under review (it may also be an AdmissionReview)"),
            "inventory": {
                "type": "array",
                "items": path_string("an object loaded into data.inventory"),
                "description": "Objects made visible to referential constraints as data.inventory.",
            },
            "assertions": {
                "type": "array",
                "items": assertion,
                "description": "Expected results. When empty, the case expects no violations at all.",
            },
            "skip": skip,
        },
    )
    test = obj(
        "A ConstraintTemplate, one constraint of it, and the cases checked against them.",
        {
            "name": {"type": "string", "description": "Name of the test, shown in gator's output."},
            "template": path_string("the ConstraintTemplate file"),
            "constraint": path_string("the constraint file; its kind must be the template's kind"),
            "expansion": path_string("an ExpansionTemplate file applied to the objects under review"),
            "cases": {"type": "array", "items": case, "description": "The objects to review and what to expect."},
            "invalid": {
                "type": "boolean",
                "description": "Expect the constraint to be rejected by its template (for example bad parameters). "
                               "Used instead of cases.",
            },
            "skip": skip,
        },
    )
    return {
        "description": ("A gator test suite (`gator verify`). gator decodes it leniently: unknown fields are "
                        "ignored, so they are reported as warnings only."),
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind"],
        "properties": {
            "apiVersion": {"type": "string", "const": "test.gatekeeper.sh/v1alpha1",
                           "description": "gator reads any version of test.gatekeeper.sh; the documented one is v1alpha1."},
            "kind": {"type": "string", "const": "Suite", "description": "A gator test suite."},
            "metadata": {"$ref": OBJECT_META_REF,
                         "description": "Conventional object metadata. gator does not read it."},
            "tests": {"type": "array", "items": test, "description": "The tests of this suite."},
            "skip": dict(skip, description="When true, gator skips the whole suite."),
        },
    }


# ---------------------------------------------------------------------------------------------
# Factoring identical subtrees out of the CRD schemas into shared.json.

def canonical(node):
    return json.dumps(node, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


USE_SITE_KEYS = ("description", "deprecated")


def share_key(node):
    """Subtrees are shared when equal apart from their own description, which stays at the use site
    as a sibling of the $ref (hover shows the use site's text)."""
    return canonical({k: v for k, v in node.items() if k not in USE_SITE_KEYS})


def child_slots(node):
    """(container, key, label) for every sub-schema of a node, in a stable order."""
    slots = []
    for name in sorted(node.get("properties", {})):
        slots.append((node["properties"], name, name))
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            slots.append((node, key, "[]" if key == "items" else "{" + key + "}"))
    for key in ("oneOf", "anyOf", "allOf"):
        for i in range(len(node.get(key, []))):
            slots.append((node[key], i, f"{key}{i}"))
    return slots


def factor_shared(files):
    """Move subtrees that occur more than once (and are big enough to pay for a $ref) into
    shared.json. Runs to a fixed point so that shared subtrees nested in other shared subtrees
    are factored too. Returns the $defs of shared.json; edits `files` in place."""
    shared = {}          # def name -> body
    key_to_name = {}

    def ref_for(name, where_file):
        return ("#/$defs/" if where_file == SHARED_FILE else SHARED_FILE + "#/$defs/") + name

    while True:
        counts = {}

        def count(node):
            for container, slot, _ in child_slots(node):
                sub = container[slot]
                if "$ref" in sub and len(sub) <= 2:
                    continue
                key = share_key(sub)
                counts[key] = counts.get(key, 0) + 1
                count(sub)

        forest = [(SHARED_FILE, name, body) for name, body in sorted(shared.items())]
        forest += [(path, "", body) for path, body in sorted(files.items())]
        for _, _, body in forest:
            count(body)

        changed = False

        def walk(node, where_file, label):
            nonlocal changed
            for container, slot, child_label in child_slots(node):
                sub = container[slot]
                key = share_key(sub)
                big = len(key) >= SHARE_MIN_BYTES
                if big and (key in key_to_name or counts.get(key, 0) >= 2):
                    name = key_to_name.get(key)
                    if name is None:
                        name = unique_name(join_label(label, child_label), shared, key)
                        key_to_name[key] = name
                        shared[name] = json.loads(key)
                    replacement = {"$ref": ref_for(name, where_file)}
                    for use_site_key in USE_SITE_KEYS:
                        if use_site_key in sub:
                            replacement[use_site_key] = sub[use_site_key]
                    container[slot] = replacement
                    changed = True
                else:
                    walk(sub, where_file, join_label(label, child_label))

        for where_file, name, body in forest:
            walk(body, where_file, name or file_label(where_file))
        if not changed:
            return shared


def join_label(label, child):
    if not label:
        return child
    return label + child if child.startswith(("[", "{")) else label + "." + child


def file_label(path):
    parts = path[:-len(".json")].split("/")
    return f"{parts[-1]}.{parts[-2]}" if len(parts) == 3 else parts[-1]


def unique_name(label, shared, key):
    name = label.replace("/", ".")
    if name in shared:
        name = f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    return name


# ---------------------------------------------------------------------------------------------
# Output.

def dump(obj):
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def generate(upstream):
    with open(os.path.join(upstream, SWAGGER_FILE), encoding="utf-8") as handle:
        swagger = json.load(handle)
    k8s, builtin_entries = convert_swagger(swagger)
    files, crd_entries = convert_crds(upstream)
    files[CONSTRAINT_FILE] = constraint_schema(upstream, k8s["$defs"])
    files[SUITE_FILE] = suite_schema()

    unshared = sum(len(dump(body)) for body in files.values())
    shared = factor_shared(files)
    files[SHARED_FILE] = {"$defs": shared}
    files[K8S_FILE] = k8s

    entries = crd_entries + builtin_entries
    for version in ("v1beta1", "v1alpha1"):
        entries.append({
            "apiVersion": f"constraints.gatekeeper.sh/{version}", "kind": "*", "file": CONSTRAINT_FILE,
            "pointer": "", "scope": "Cluster", "deprecated": False, "deprecationWarning": None,
            "unknownFields": "error",
        })
    entries.append({
        "apiVersion": "test.gatekeeper.sh/v1alpha1", "kind": "Suite", "file": SUITE_FILE, "pointer": "",
        "scope": "Namespaced", "deprecated": False, "deprecationWarning": None, "unknownFields": "warning",
    })
    entries.sort(key=lambda e: (e["apiVersion"], e["kind"]))
    files["index.json"] = {"schemas": entries}

    keywords = audit(files)
    outputs = {path: dump(body) for path, body in files.items()}
    stats = {
        "crd_bytes_before_sharing": unshared,
        "crd_bytes_after_sharing": sum(len(v) for p, v in outputs.items() if p not in (K8S_FILE, "index.json")),
        "shared_defs": len(shared),
        "keywords": sorted(keywords),
        "entries": len(entries),
    }
    return outputs, stats


# Annotations a `$ref` may carry: they describe or say how the place merges, never constrain the value.
REF_SIBLINGS = {"description", "default", "deprecated", "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy",
                "x-kubernetes-list-type"}


def audit(files):
    """Fail loudly if the output uses a keyword the Rust validator does not know, has a $ref that
    does not resolve, or puts a constraint next to a $ref. Returns the keywords used."""
    used = set()

    def resolve(ref, here):
        target, _, pointer = ref.partition("#")
        node = files.get(target or here)
        if node is None:
            raise SystemExit(f"{here}: $ref {ref} names a missing file")
        for part in pointer.strip("/").split("/") if pointer else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise SystemExit(f"{here}: $ref {ref} does not resolve")
            node = node[part]

    def walk(node, here, where):
        if not isinstance(node, dict):
            raise SystemExit(f"{here}{where}: schema is not an object")
        for key, value in node.items():
            used.add(key)
            if key not in PASSED_THROUGH:
                raise SystemExit(f"{here}{where}: emitted keyword {key!r} is outside the agreed set")
        if "$ref" in node:
            resolve(node["$ref"], here)
            extra = set(node) - REF_SIBLINGS - {"$ref"}
            if extra:
                raise SystemExit(f"{here}{where}: $ref has constraining siblings {sorted(extra)}")
        for name, sub in node.get("properties", {}).items():
            walk(sub, here, f"{where}/properties/{name}")
        for key in ("items", "additionalProperties", "not"):
            if isinstance(node.get(key), dict):
                walk(node[key], here, f"{where}/{key}")
        for key in ("oneOf", "anyOf", "allOf"):
            for i, sub in enumerate(node.get(key, [])):
                walk(sub, here, f"{where}/{key}/{i}")

    for path, body in files.items():
        if path == "index.json":
            continue
        if "$defs" in body:
            for name, sub in body["$defs"].items():
                walk(sub, path, "/$defs/" + name)
        else:
            walk(body, path, "")
    for entry in files["index.json"]["schemas"]:
        resolve(entry["file"] + "#" + entry["pointer"], "index.json")
    return used


def existing_outputs():
    found = {}
    for root, _, names in os.walk(SCHEMAS_DIR):
        for name in names:
            if name.endswith(".json"):
                full = os.path.join(root, name)
                with open(full, "rb") as handle:
                    found[os.path.relpath(full, SCHEMAS_DIR).replace(os.sep, "/")] = handle.read()
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("upstream", nargs="?", default="../shared/upstream")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed schemas differ from a fresh run")
    args = parser.parse_args()

    outputs, stats = generate(args.upstream)
    current = existing_outputs()
    # kyaml/ is generated by kyaml/generate.py from kustomize's compiled-in OpenAPI, not from upstream/.
    stale = sorted(p for p in current if p not in outputs and not p.startswith("kyaml/"))
    differing = sorted(p for p, data in outputs.items() if current.get(p) != data)

    if args.check:
        for path in differing:
            print(f"schemas/{path}: {'missing' if path not in current else 'differs from a fresh generation'}")
        for path in stale:
            print(f"schemas/{path}: not produced by generate.py")
        if differing or stale:
            print("run: python3 schemas/generate.py", file=sys.stderr)
            return 1
        print(f"schemas/: {len(outputs)} files up to date")
        return 0

    for path in stale:
        os.remove(os.path.join(SCHEMAS_DIR, path))
    for path in differing:
        full = os.path.join(SCHEMAS_DIR, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as handle:
            handle.write(outputs[path])
    total = sum(len(v) for v in outputs.values())
    print(f"schemas/: {len(outputs)} files, {total} bytes; {len(differing)} written, {len(stale)} removed; "
          f"CRD schemas {stats['crd_bytes_before_sharing']} -> {stats['crd_bytes_after_sharing']} bytes "
          f"with {stats['shared_defs']} shared definitions; {stats['entries']} index entries")
    print("keywords: " + " ".join(stats["keywords"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
