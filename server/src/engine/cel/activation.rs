//! What one evaluation reads from outside the expression: the variables bound to it (`Activation`) and the
//! offline stand-ins for Kyverno's libraries (`Services`: the fake cluster, image data, mocked HTTP, the
//! clock handed down from the front end).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::value::Val;
use crate::model::KubernetesObject;

/// The variables one evaluation sees.
#[derive(Clone, Debug, Default)]
pub struct Activation {
    pub variables: HashMap<String, Val>,
}

impl Activation {
    pub fn new() -> Self {
        Activation::default()
    }

    pub fn bind(&mut self, name: &str, value: Val) {
        self.variables.insert(name.to_string(), value);
    }

    pub fn bind_json(&mut self, name: &str, value: &Value) {
        self.variables.insert(name.to_string(), Val::from_json(value));
    }
}

/// What Kyverno's libraries read from outside the expression, served from test files (never the network).
#[derive(Clone, Debug, Default)]
pub struct Services {
    /// Objects of the fake cluster for `resource.Get` and `resource.List`.
    pub cluster_objects: Vec<Value>,
    /// Image data by reference for `image.GetMetadata`.
    pub image_data: Map<String, Value>,
    /// Global context entries by name for `globalContext.Get`.
    pub global_context: Map<String, Value>,
    /// Mocked HTTP responses: (method, url, response); an empty method answers any method.
    pub http_mocks: Vec<(String, String, Value)>,
    /// The time `time.now()` answers, handed down from the front end's clock for each run (the engines
    /// never read the clock); `None` answers [`FIXED_NOW_NANOS`].
    pub now: Option<DateTime<Utc>>,
    /// Where a library call records that it needed a registry or the network (an image's metadata
    /// not in the test's context file, an HTTP call without a mocked response).
    pub offline_gaps: crate::engine::offline::OfflineGaps,
    /// The namespace of a Namespaced policy, which its `resource` functions read; empty otherwise.
    pub policy_namespace: String,
    /// The request is admitted to a live cluster whose objects are not known here (`apply`): what
    /// `resource.Get`, `resource.List` and `globalContext.Get` would read from it is an offline gap.
    pub live_cluster: bool,
}

impl Services {
    /// The time `time.now()` answers, in nanoseconds since the epoch.
    pub fn now_nanos(&self) -> i128 {
        self.now.map_or(FIXED_NOW_NANOS, |now| {
            i128::from(now.timestamp()) * 1_000_000_000 + i128::from(now.timestamp_subsec_nanos())
        })
    }

    /// Objects of the fake cluster with the given apiVersion, plural resource name and namespace.
    pub fn find_resource(&self, api_version: &str, resource: &str, namespace: &str, name: Option<&str>) -> Vec<&Value> {
        self.cluster_objects
            .iter()
            .filter(|object| {
                let object_version = object.api_version();
                let kind = object.kind();
                let object_namespace = object.namespace();
                let object_name = object.name();
                (api_version.is_empty() || object_version == api_version)
                    && plural_of(kind) == resource.to_ascii_lowercase()
                    && (namespace.is_empty()
                        || object_namespace == namespace
                        || object_namespace.is_empty() && namespace == "default")
                    && name.is_none_or(|wanted| wanted == object_name)
            })
            .collect()
    }
}

/// The lowercase plural resource name Kubernetes derives from a kind.
pub fn plural_of(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s') || lower.ends_with("x") || lower.ends_with("ch") || lower.ends_with("sh") {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y').filter(|stem| !stem.ends_with(['a', 'e', 'o', 'u'])) {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

/// What `time.now()` answers when the caller has no clock (2026-01-01T00:00:00Z, in nanoseconds since the
/// epoch), so that evaluations without one are reproducible.
pub const FIXED_NOW_NANOS: i128 = 1_767_225_600 * 1_000_000_000;
