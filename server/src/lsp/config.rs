//! The settings the server works with: `.policy-lsp.yaml` at each workspace root, then the editor's
//! initialization options, then what the editor sends through `workspace/configuration` or
//! `workspace/didChangeConfiguration`, each layer on top of the one before.

use std::path::PathBuf;

use serde_json::Value;

use crate::ide::config::Config;
use crate::vfs::read_config;

/// The section of `workspace/configuration` the server asks for.
pub const SETTINGS_SECTION: &str = "policy-lsp";

/// What the editor said about the settings.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Settings from `initializationOptions`.
    pub initialization: Value,
    /// Settings from `workspace/configuration` or `didChangeConfiguration`.
    pub client: Value,
}

impl Settings {
    /// The `inlineTests` initialization option (on unless the client turned it off).
    pub fn inline_tests_option(&self) -> bool {
        self.initialization.get("inlineTests").and_then(Value::as_bool).unwrap_or(true)
    }

    /// The settings of each root: its `.policy-lsp.yaml`, then the initialization options, then the
    /// client's settings on top. Without roots, the client's settings apply everywhere.
    pub fn configs(&self, roots: &[PathBuf]) -> Vec<Config> {
        let layered = |config: Config| {
            [&self.initialization, &self.client]
                .into_iter()
                .filter(|settings| settings.is_object())
                .fold(config, |config, settings| config.with_settings(settings))
        };
        if roots.is_empty() {
            return vec![layered(Config::empty(PathBuf::from("/")))];
        }
        roots.iter().map(|root| layered(read_config(root))).collect()
    }
}

/// The settings inside a `didChangeConfiguration` payload: `{"policy-lsp": {...}}`, or the VS Code
/// extension's `{"policyLsp": {"serverSettings": {...}}}`.
pub fn settings_from_notification(settings: &Value) -> Option<Value> {
    if let Some(section) = settings.get(SETTINGS_SECTION).filter(|section| section.is_object()) {
        return Some(section.clone());
    }
    let extension = settings.get("policyLsp")?;
    extension.get("serverSettings").filter(|inner| inner.is_object()).or(Some(extension)).cloned()
}

/// The client's answer to `workspace/configuration` for [`SETTINGS_SECTION`], when it said something.
pub fn settings_from_configuration(answer: &Value) -> Option<Value> {
    answer.as_array()?.first().filter(|value| value.is_object()).cloned()
}
