//! The identity fields of a Kubernetes object held as JSON (`apiVersion`, `kind`, `metadata.name`,
//! `metadata.namespace`), read in one place instead of by string lookups at every use.

use serde_json::Value;

/// The group of an apiVersion (`""` for the core group's `v1`).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// Read access to the identity of a Kubernetes object. A field that is absent or not a string reads as
/// `""`: the engines treat "no namespace" and "empty namespace" alike, as Kubernetes does.
pub trait KubernetesObject {
    /// `apiVersion`, as `group/version` or just `version` for the core group.
    fn api_version(&self) -> &str;
    fn kind(&self) -> &str;
    /// `metadata.name`.
    fn name(&self) -> &str;
    /// `metadata.namespace`.
    fn namespace(&self) -> &str;

    /// The API group (`""` for the core group).
    fn group(&self) -> &str {
        group_of(self.api_version())
    }

    /// The API group and version: `("apps", "v1")`, `("", "v1")` for the core group. Split at the last
    /// `/`, as [`group_of`] does.
    fn group_and_version(&self) -> (&str, &str) {
        let api_version = self.api_version();
        api_version.rsplit_once('/').unwrap_or(("", api_version))
    }
}

impl KubernetesObject for Value {
    fn api_version(&self) -> &str {
        text_at(self.get("apiVersion"))
    }

    fn kind(&self) -> &str {
        text_at(self.get("kind"))
    }

    fn name(&self) -> &str {
        text_at(self.pointer("/metadata/name"))
    }

    fn namespace(&self) -> &str {
        text_at(self.pointer("/metadata/namespace"))
    }
}

fn text_at(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_identity_fields_and_empty_text_for_missing_or_mistyped_ones() {
        let deployment =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}});
        assert_eq!(
            (deployment.api_version(), deployment.kind(), deployment.name(), deployment.namespace()),
            ("apps/v1", "Deployment", "web", "shop")
        );
        assert_eq!((deployment.group(), deployment.group_and_version()), ("apps", ("apps", "v1")));

        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 7}});
        assert_eq!((pod.group(), pod.group_and_version(), pod.name(), pod.namespace()), ("", ("", "v1"), "", ""));
        assert_eq!((json!([]).kind(), json!(null).api_version()), ("", ""));
    }
}
