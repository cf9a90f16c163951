//! Merge hints of the Kubernetes built-in kinds as Kyverno's `patchStrategicMerge` reads them: from the
//! Kubernetes v1.21.2 OpenAPI compiled into kustomize's kyaml (the version Kyverno pins), reduced by
//! `schemas/kyaml/generate.py` to `schemas/kyaml/merge-hints.json`. A kind or a field v1.21.2 did not have
//! has no merge strategy there (its lists are replaced), whatever newer Kubernetes says.
//!
//! The walk follows kustomize's `kyaml/openapi` (`ResourceSchema.Field`, `Elements`,
//! `PatchStrategyAndKeyList`): only the built-in kinds have a schema, a field resolves through
//! `properties` or `additionalProperties` and then its `$ref`, and an element schema exists only for a
//! node typed exactly `array`.

use serde_json::Value;

use super::registry::registry;

/// The bundled file of kyaml's merge hints.
const KYAML_MERGE_HINTS: &str = "kyaml/merge-hints.json";

/// A resolved schema node of a built-in kind, for merging.
#[derive(Clone, Copy, Debug)]
pub struct MergeSchema {
    node: &'static Value,
}

fn hints() -> Option<&'static Value> {
    registry().file(KYAML_MERGE_HINTS)
}

impl MergeSchema {
    /// The schema of a built-in kind; `None` for custom resources and kinds kyaml does not know, which
    /// kustomize has no schema for either.
    pub fn for_kind(api_version: &str, kind: &str) -> Option<MergeSchema> {
        let hints = hints()?;
        let name = hints.get("kinds")?.get(format!("{api_version}/{kind}"))?.as_str()?;
        MergeSchema::resolved(hints.get("definitions")?.get(name)?)
    }

    /// The schema for a map value that names its own kind (`apiVersion` and `kind` both set).
    pub fn for_object(value: &Value) -> Option<MergeSchema> {
        let api_version = value.get("apiVersion").and_then(Value::as_str).filter(|text| !text.is_empty())?;
        let kind = value.get("kind").and_then(Value::as_str).filter(|text| !text.is_empty())?;
        MergeSchema::for_kind(api_version, kind)
    }

    /// Follows `$ref`s until a node without one (bounded: the definitions have no cycles of refs).
    fn resolved(mut node: &'static Value) -> Option<MergeSchema> {
        for _ in 0..16 {
            let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
                return Some(MergeSchema { node });
            };
            let name = reference.strip_prefix("#/definitions/")?;
            node = hints()?.get("definitions")?.get(name)?;
        }
        None
    }

    /// The schema of a field of an object: its property, else the schema of the map's values.
    pub fn field(&self, name: &str) -> Option<MergeSchema> {
        let value = self.node;
        let found = value
            .get("properties")
            .and_then(|properties| properties.get(name))
            .or_else(|| value.get("additionalProperties").filter(|additional| additional.is_object()))?;
        MergeSchema::resolved(found)
    }

    /// The schema of the elements of a list, when the node is typed exactly `array`.
    pub fn elements(&self) -> Option<MergeSchema> {
        if self.node.get("type").and_then(Value::as_str) != Some("array") {
            return None;
        }
        MergeSchema::resolved(self.node.get("items")?)
    }

    fn extension(&self, name: &str) -> Option<&'static Value> {
        self.node.get(name)
    }

    /// The patch strategy (`merge`, `retainKeys`, `merge,retainKeys`, `replace`), or `None`.
    pub fn patch_strategy(&self) -> Option<&'static str> {
        self.extension("x-kubernetes-patch-strategy").and_then(Value::as_str)
    }

    /// Whether strategic merge patch merges this list element by element (its strategy includes `merge`).
    pub fn merges_elements(&self) -> bool {
        self.patch_strategy().is_some_and(|strategy| strategy.split(',').any(|part| part == "merge"))
    }

    /// The keys strategic merge patch matches elements by, as kustomize reads them: the list map keys
    /// when the list has them, else the patch merge key, else none (a list of scalars).
    pub fn merge_keys(&self) -> Vec<&'static str> {
        if self.patch_strategy().is_none() {
            return Vec::new();
        }
        if let Some(keys) = self.extension("x-kubernetes-list-map-keys").and_then(Value::as_array) {
            return keys.iter().filter_map(Value::as_str).collect();
        }
        self.extension("x-kubernetes-patch-merge-key").and_then(Value::as_str).into_iter().collect()
    }

    /// `x-kubernetes-list-type`: `map`, `set` or `atomic`; `None` when the schema does not say.
    pub fn list_type(&self) -> Option<&'static str> {
        self.extension("x-kubernetes-list-type").and_then(Value::as_str)
    }

    /// `x-kubernetes-list-map-keys` of a list of type `map`.
    pub fn list_map_keys(&self) -> Vec<&'static str> {
        self.extension("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_at(api_version: &str, kind: &str, path: &[&str]) -> Option<MergeSchema> {
        let mut schema = MergeSchema::for_kind(api_version, kind)?;
        for segment in path {
            schema = if *segment == "[]" { schema.elements()? } else { schema.field(segment)? };
        }
        Some(schema)
    }

    #[test]
    fn containers_merge_by_name_and_ports_by_port_and_protocol() {
        let containers = list_at("v1", "Pod", &["spec", "containers"]).expect("Pod has a schema");
        assert!(containers.merges_elements());
        assert_eq!(containers.merge_keys(), ["name"]);
        let ports = list_at("apps/v1", "Deployment", &["spec", "template", "spec", "containers", "[]", "ports"])
            .expect("the pod template reaches container ports");
        assert_eq!(ports.merge_keys(), ["containerPort", "protocol"]);
        let mounts = list_at("v1", "Pod", &["spec", "containers", "[]", "volumeMounts"]).expect("mounts");
        assert_eq!(mounts.merge_keys(), ["mountPath"]);
    }

    #[test]
    fn finalizers_merge_as_scalars_and_tolerations_are_replaced() {
        let finalizers = list_at("v1", "ConfigMap", &["metadata", "finalizers"]).expect("metadata");
        assert!(finalizers.merges_elements());
        assert!(finalizers.merge_keys().is_empty());
        let tolerations = list_at("v1", "Pod", &["spec", "tolerations"]).expect("tolerations");
        assert!(!tolerations.merges_elements());
    }

    #[test]
    fn kinds_and_fields_are_those_of_kubernetes_1_21() {
        // kyaml knows batch/v1beta1 CronJob (gone from newer Kubernetes) and merges its containers.
        let containers =
            list_at("batch/v1beta1", "CronJob", &["spec", "jobTemplate", "spec", "template", "spec", "containers"])
                .expect("kyaml's Kubernetes 1.21 has batch/v1beta1 CronJob");
        assert_eq!(containers.merge_keys(), ["name"]);
        // autoscaling/v2 came later: no schema, so its lists are replaced.
        assert!(MergeSchema::for_kind("autoscaling/v2", "HorizontalPodAutoscaler").is_none());
        // schedulingGates came later too: the Pod field has no strategy.
        assert!(list_at("v1", "Pod", &["spec", "schedulingGates"]).is_none_or(|gates| !gates.merges_elements()));
    }

    #[test]
    fn labels_resolve_through_additional_properties_and_custom_kinds_have_none() {
        assert!(list_at("v1", "Pod", &["metadata", "labels", "app"]).is_some());
        assert!(MergeSchema::for_kind("kyverno.io/v1", "ClusterPolicy").is_none());
        assert!(MergeSchema::for_kind("example.com/v1", "Widget").is_none());
    }
}
