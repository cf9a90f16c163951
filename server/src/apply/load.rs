//! What an apply run reads, through [`FileSource`] so the editor can serve unsaved buffers: the files
//! under policy and resource paths, their documents (`kind: List` items included), and the values, user
//! info and exceptions files. Whatever cannot be read or used becomes a [`Problem`] with its place.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::types::{Manifest, Options, PolicyDocument, ResourceId};
use crate::base::Code;
use crate::model::CLUSTER_SCOPED_KINDS;
use crate::testrun::{FileSource, Problem, SourceRef};

/// Directory walks stop this deep (a link cycle or a hostile tree cannot make them run away).
const MAX_DEPTH: usize = 32;

/// The API groups of the policy kinds: a file in a policy directory that does not parse is reported
/// only when it names one of them (a Helm template beside the policies is not YAML, and not a policy).
const POLICY_GROUPS: &[&str] =
    &["kyverno.io/", "gatekeeper.sh/", "admissionregistration.k8s.io/", "policies.kyverno.io/"];

/// Reads files, walks directories and leaves out what the settings exclude.
pub struct Loader<'a> {
    pub files: &'a dyn FileSource,
    /// Whether a file found by walking a directory is excluded (`.policy-lsp.yaml`); files named
    /// explicitly are always read.
    pub excluded: &'a dyn Fn(&Path) -> bool,
    pub problems: Vec<Problem>,
}

impl Loader<'_> {
    fn problem(&mut self, file: &Path, document: usize, pointer: &str, code: Code, message: String) {
        let at = SourceRef::yaml(file.to_path_buf(), document, pointer.to_string());
        self.problems.push(Problem { at, code, message });
    }

    /// The files a path stands for: the file itself (whatever its extension), or the `.yaml`, `.yml`
    /// and `.json` files under a directory, sorted, without version control, dependency and test-fixture
    /// folders. `None` when the path does not exist (a problem is recorded).
    fn files_under(&mut self, path: &Path) -> Option<Vec<PathBuf>> {
        if self.files.list_dir(path).is_none() {
            if let Err(error) = self.files.read(path) {
                self.problem(path, 0, "", Code::ApplyUnreadable, format!("cannot read {}: {error}", path.display()));
                return None;
            }
            return Some(vec![path.to_path_buf()]);
        }
        let mut found = Vec::new();
        self.walk(path, 0, &mut found);
        Some(found)
    }

    fn walk(&mut self, directory: &Path, depth: usize, found: &mut Vec<PathBuf>) {
        if depth > MAX_DEPTH {
            return;
        }
        let mut entries = self.files.list_dir(directory).unwrap_or_default();
        entries.sort();
        for entry in entries {
            let name = entry.file_name().map(|name| name.to_string_lossy().to_string()).unwrap_or_default();
            if self.files.list_dir(&entry).is_some() {
                if !skipped_directory(&name) && !(self.excluded)(&entry) {
                    self.walk(&entry, depth + 1, found);
                }
            } else if (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json"))
                && !(self.excluded)(&entry)
            {
                found.push(entry);
            }
        }
    }

    /// The non-empty documents of a file, read with YAML 1.1 rules as Kubernetes reads them. A document
    /// that does not parse is a problem, unless `quiet` says the file only might have held something.
    fn documents(&mut self, file: &Path, quiet: bool) -> Vec<(usize, Value)> {
        let documents = match self.files.documents(file) {
            Ok(documents) => documents,
            Err(error) => {
                self.problem(file, 0, "", Code::ApplyUnreadable, format!("cannot read {}: {error}", file.display()));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (index, document) in documents.iter().enumerate() {
            if !document.errors.is_empty() {
                let mentions_policies =
                    || self.files.read(file).is_ok_and(|text| POLICY_GROUPS.iter().any(|group| text.contains(group)));
                if !quiet || mentions_policies() {
                    let message = format!("{} is not valid YAML: {}", file.display(), document.error_text());
                    self.problem(file, index, "", Code::ApplyYaml, message);
                }
                continue;
            }
            if !document.value.is_null() {
                out.push((index, document.yaml11_value()));
            }
        }
        out
    }

    /// Every document of the files under the policy paths (and the items of List documents); the caller
    /// picks the kinds it knows.
    pub fn policy_documents(&mut self, paths: &[PathBuf]) -> Vec<PolicyDocument> {
        let mut out = Vec::new();
        for path in paths {
            let explicit = self.files.list_dir(path).is_none();
            for file in self.files_under(path).unwrap_or_default() {
                for (index, value) in self.documents(&file, !explicit) {
                    let at = SourceRef::yaml(file.clone(), index, String::new());
                    match list_items(&value) {
                        Some(items) => out.extend(items.iter().enumerate().map(|(position, item)| PolicyDocument {
                            value: item.clone(),
                            at: SourceRef { pointer: format!("/items/{position}"), ..at.clone() },
                        })),
                        None => out.push(PolicyDocument { value, at }),
                    }
                }
            }
        }
        out
    }

    /// The Kubernetes objects under the resource paths, in order: each document, or each item of a
    /// `kind: List` document.
    pub fn manifests(&mut self, paths: &[PathBuf]) -> Vec<Manifest> {
        let mut out = Vec::new();
        for path in paths {
            for file in self.files_under(path).unwrap_or_default() {
                for (index, value) in self.documents(&file, false) {
                    let at = SourceRef::yaml(file.clone(), index, String::new());
                    match list_items(&value) {
                        Some(items) => {
                            for (position, item) in items.iter().enumerate() {
                                let item_at = SourceRef { pointer: format!("/items/{position}"), ..at.clone() };
                                self.push_manifest(item.clone(), item_at, &mut out);
                            }
                        }
                        None => self.push_manifest(value, at, &mut out),
                    }
                }
            }
        }
        out
    }

    fn push_manifest(&mut self, object: Value, at: SourceRef, out: &mut Vec<Manifest>) {
        match resource_id(&object) {
            Some(id) => out.push(Manifest { id, at, object }),
            None => {
                let message = format!(
                    "this document of {} is not a Kubernetes object: it needs `apiVersion` and `kind`",
                    at.file.display()
                );
                self.problems.push(Problem { at, code: Code::ApplyNotAnObject, message });
            }
        }
    }

    /// The first non-empty document of a file that must hold one mapping (a values or user info file).
    pub fn single_document(&mut self, path: &Path, what: &str) -> Value {
        let code = if what == "values" { Code::ApplyInvalidValues } else { Code::ApplyUnreadable };
        match self.documents(path, false).into_iter().next() {
            Some((_, value @ Value::Object(_))) => value,
            Some((index, _)) => {
                self.problem(path, index, "", code, format!("the {what} file {} is not a mapping", path.display()));
                Value::Null
            }
            None => Value::Null,
        }
    }

    /// The PolicyExceptions of the `--exceptions` paths (both kinds).
    pub fn exceptions(&mut self, paths: &[PathBuf]) -> Vec<PolicyDocument> {
        self.policy_documents(paths)
            .into_iter()
            .filter(|document| document.value.get("kind").and_then(Value::as_str) == Some("PolicyException"))
            .collect()
    }
}

/// Reads `--set key=value` arguments as the Kyverno CLI does (`cmd/cli/kubectl-kyverno/variables/parse.go`),
/// but refuses what it would silently drop: an argument without exactly one `=`, an empty key or value,
/// a key under `request.object.` (the manifest itself is the object) and a key set twice.
pub fn parse_set(arguments: &[String], problems: &mut Vec<Problem>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for argument in arguments {
        let refuse = |problems: &mut Vec<Problem>, why: &str| {
            problems.push(Problem {
                at: SourceRef::yaml(PathBuf::new(), 0, String::new()),
                code: Code::ApplyInvalidValues,
                message: format!("--set {argument:?}: {why}"),
            });
        };
        let parts: Vec<&str> = argument.trim().split('=').collect();
        let [key, value] = parts.as_slice() else {
            refuse(problems, "expected exactly one `key=value`");
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            refuse(problems, "the key and the value must not be empty");
        } else if key.contains("request.object.") {
            refuse(problems, "fields of request.object come from the manifest itself and cannot be set");
        } else if out.iter().any(|(known, _)| known == key) {
            refuse(problems, "the key is set twice");
        } else {
            out.push((key.to_string(), value.to_string()));
        }
    }
    out
}

/// The files of `--values-file`, `--userinfo` and `--context-file`.
#[derive(Clone, Copy, Debug, Default)]
pub struct OptionFiles<'a> {
    pub values: Option<&'a Path>,
    pub user_info: Option<&'a Path>,
    pub context: Option<&'a Path>,
}

/// Options from the values, `--set`, user info and context arguments; `--values-file` and `--set` together are
/// refused, as `kyverno apply` refuses them.
pub fn options(loader: &mut Loader<'_>, files: &OptionFiles<'_>, set: &[String]) -> Options {
    let mut options = Options::default();
    if files.values.is_some() && !set.is_empty() {
        loader.problems.push(Problem {
            at: SourceRef::yaml(PathBuf::new(), 0, String::new()),
            code: Code::ApplyInvalidValues,
            message: "pass values either with --values-file or with --set, not both (kyverno apply refuses both)"
                .to_string(),
        });
    }
    if let Some(path) = files.values {
        options.values = loader.single_document(path, "values");
    }
    options.set = parse_set(set, &mut loader.problems);
    if let Some(path) = files.user_info {
        options.user_info = loader.single_document(path, "user info");
    }
    if let Some(path) = files.context {
        options.context = loader.single_document(path, "context");
    }
    options.now = loader.files.current_time();
    options
}

/// The items of a `kind: List` (or `PodList`, ...) document.
fn list_items(value: &Value) -> Option<&Vec<Value>> {
    let kind = value.get("kind").and_then(Value::as_str)?;
    if !kind.ends_with("List") {
        return None;
    }
    value.get("items").and_then(Value::as_array)
}

/// The identity of a Kubernetes object, with `default` for the namespace of a namespaced kind without
/// one; `None` for a document without `apiVersion` and `kind`.
pub fn resource_id(object: &Value) -> Option<ResourceId> {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string();
    let (api_version, kind) = (text("/apiVersion"), text("/kind"));
    if api_version.is_empty() || kind.is_empty() {
        return None;
    }
    let mut namespace = text("/metadata/namespace");
    if namespace.is_empty() && !CLUSTER_SCOPED_KINDS.contains(&kind.as_str()) {
        namespace = "default".to_string();
    }
    let mut name = text("/metadata/name");
    if name.is_empty() {
        name = text("/metadata/generateName");
    }
    Some(ResourceId { api_version, kind, namespace, name })
}

/// Folders a directory walk leaves alone: version control, dependencies, and the fixtures of policy
/// tests (their resources are test inputs, and their exceptions would exempt real manifests).
fn skipped_directory(name: &str) -> bool {
    matches!(name, ".git" | "node_modules" | "target" | ".venv" | ".kyverno-test") || name.starts_with(".chainsaw-test")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_arguments_are_read_like_the_kyverno_cli_and_mistakes_are_refused() {
        let mut problems = Vec::new();
        let arguments: Vec<String> =
            ["team=web", " env = prod ", "a=b=c", "=x", "request.object.metadata.name=x", "team=api", "flag"]
                .iter()
                .map(|argument| argument.to_string())
                .collect();
        let parsed = parse_set(&arguments, &mut problems);
        assert_eq!(parsed, vec![("team".to_string(), "web".to_string()), ("env".to_string(), "prod".to_string())]);
        let messages: Vec<&str> = problems.iter().map(|problem| problem.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "--set \"a=b=c\": expected exactly one `key=value`",
                "--set \"=x\": the key and the value must not be empty",
                "--set \"request.object.metadata.name=x\": fields of request.object come from the manifest itself and cannot be set",
                "--set \"team=api\": the key is set twice",
                "--set \"flag\": expected exactly one `key=value`",
            ]
        );
    }

    #[test]
    fn a_namespaced_kind_without_a_namespace_is_in_default() {
        let id = |object: Value| resource_id(&object).map(|id| id.display());
        assert_eq!(
            id(serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}})).as_deref(),
            Some("default/Pod/web")
        );
        assert_eq!(
            id(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})).as_deref(),
            Some("Namespace/team")
        );
        assert_eq!(id(serde_json::json!({"metadata": {"name": "web"}})), None);
    }
}
