//! The bundled JSON Schemas (embedded from `schemas/`), parsed lazily per file, and their index by
//! apiVersion and kind.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::model::group_of;

include!(concat!(env!("OUT_DIR"), "/embedded_schemas.rs"));

/// How strictly unknown fields are reported for a kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UnknownFields {
    Error,
    Warning,
}

/// One entry of `schemas/index.json`.
#[derive(Clone, Debug)]
pub struct SchemaEntry {
    pub api_version: String,
    pub kind: String,
    pub file: String,
    pub pointer: String,
    pub namespaced: bool,
    pub deprecated: bool,
    pub deprecation_warning: Option<String>,
    pub unknown_fields: UnknownFields,
}

impl SchemaEntry {
    /// Whether objects of this kind are what a policy matches or a test names: not lists, and not the
    /// API's own envelopes (Status, DeleteOptions, WatchEvent, discovery documents), which the index
    /// knows so that no document of a served kind is called unknown.
    pub fn is_object_kind(&self) -> bool {
        const ENVELOPES: &[&str] =
            &["Status", "DeleteOptions", "WatchEvent", "APIGroup", "APIGroupList", "APIResourceList", "APIVersions"];
        let list = self.kind.ends_with("List") && self.file.starts_with("kubernetes/");
        !list && !ENVELOPES.contains(&self.kind.as_str())
    }
}

/// The embedded schema files and the index over them.
pub struct Registry {
    files: HashMap<&'static str, (usize, &'static str)>,
    parsed: Vec<OnceLock<Value>>,
    entries: Vec<SchemaEntry>,
    by_api_version_kind: HashMap<(String, String), usize>,
}

/// The process-wide registry of bundled schemas.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::new(SCHEMA_FILES))
}

impl Registry {
    fn new(files: &'static [(&'static str, &'static str)]) -> Registry {
        let files: HashMap<&'static str, (usize, &'static str)> =
            files.iter().enumerate().map(|(index, &(name, text))| (name, (index, text))).collect();
        let parsed = (0..files.len()).map(|_| OnceLock::new()).collect();
        let mut registry = Registry { files, parsed, entries: Vec::new(), by_api_version_kind: HashMap::new() };
        let index = registry.file("index.json").cloned().unwrap_or(Value::Null);
        for entry in index.get("schemas").and_then(Value::as_array).into_iter().flatten() {
            let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
            let schema_entry = SchemaEntry {
                api_version: text("apiVersion"),
                kind: text("kind"),
                file: text("file"),
                pointer: text("pointer"),
                namespaced: entry.get("scope").and_then(Value::as_str) == Some("Namespaced"),
                deprecated: entry.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
                deprecation_warning: entry.get("deprecationWarning").and_then(Value::as_str).map(str::to_string),
                unknown_fields: if entry.get("unknownFields").and_then(Value::as_str) == Some("warning") {
                    UnknownFields::Warning
                } else {
                    UnknownFields::Error
                },
            };
            let key = (schema_entry.api_version.clone(), schema_entry.kind.clone());
            registry.by_api_version_kind.insert(key, registry.entries.len());
            registry.entries.push(schema_entry);
        }
        registry
    }

    /// A parsed schema file, by its path relative to `schemas/`.
    pub fn file(&self, name: &str) -> Option<&Value> {
        let &(index, text) = self.files.get(name)?;
        Some(self.parsed[index].get_or_init(|| serde_json::from_str(text).unwrap_or(Value::Null)))
    }

    pub fn entries(&self) -> &[SchemaEntry] {
        &self.entries
    }

    /// The schema entry for an apiVersion and kind (constraints match the `*` kind of their group version).
    pub fn lookup(&self, api_version: &str, kind: &str) -> Option<&SchemaEntry> {
        let index = self
            .by_api_version_kind
            .get(&(api_version.to_string(), kind.to_string()))
            .or_else(|| self.by_api_version_kind.get(&(api_version.to_string(), "*".to_string())))?;
        self.entries.get(*index)
    }

    /// The apiVersions under which a kind is known, for "did you mean" on a wrong version.
    pub fn versions_of(&self, kind: &str) -> Vec<&str> {
        self.entries.iter().filter(|entry| entry.kind == kind).map(|entry| entry.api_version.as_str()).collect()
    }

    /// Whether any bundled schema belongs to this API group.
    pub fn knows_group(&self, group: &str) -> bool {
        self.entries.iter().any(|entry| group_of(&entry.api_version) == group)
    }

    /// The root schema node of an entry.
    pub fn root(&self, entry: &SchemaEntry) -> Option<SchemaNode<'_>> {
        let file = self.file(&entry.file)?;
        let node = if entry.pointer.is_empty() { file } else { file.pointer(&entry.pointer)? };
        Some(SchemaNode { file: self.file_name(&entry.file)?, value: node })
    }

    fn file_name(&self, name: &str) -> Option<&'static str> {
        self.files.get_key_value(name).map(|(key, _)| *key)
    }

    /// Follows a `$ref` written in `from_file`: `#/pointer` (same file) or `path#/pointer`.
    pub fn resolve<'a>(&'a self, from_file: &'a str, reference: &str) -> Option<SchemaNode<'a>> {
        let (file_part, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let file_name = if file_part.is_empty() { from_file } else { self.file_name(file_part)? };
        let file = self.file(file_name)?;
        let value = if pointer.is_empty() { file } else { file.pointer(pointer)? };
        Some(SchemaNode { file: file_name, value })
    }
}

/// A schema node and the file it lives in (so its relative `$ref`s resolve).
#[derive(Clone, Copy, Debug)]
pub struct SchemaNode<'a> {
    pub file: &'a str,
    pub value: &'a Value,
}
