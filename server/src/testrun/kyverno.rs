//! Kyverno Test files (cli.kyverno.io/v1alpha1 Test): load what a test references, run the engine the
//! way `kyverno test` does (mutate, then validate, then generate, for every resource) and compare each
//! resource of each `results` entry with its expectation.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::types::{FileSource, Framework, Outcome, Problem, Related, SourceRef, Subject, TestReport, TestResult};
use crate::base::Code;
use crate::engine::chain::{
    self, Environment, PolicyOutcome, cel_kind_is, cel_request_for, cel_response, default_namespace,
    evaluate_check_request, evaluate_payload, evaluate_resource,
};
use crate::engine::kyverno::{self as engine, RuleResponse, RuleType};
use crate::engine::kyverno_cel;
use crate::engine::kyverno_cel::authorization::Mode as AuthorizationMode;
use crate::model::{
    ADMISSION_POLICY_BINDING_KINDS, KYVERNO_POLICY_KINDS, KubernetesObject, is_cel_policy_kind,
    is_served_policy_version,
};

const TEST_KEYS: &[&str] = &[
    "apiCallResponses",
    "apiVersion",
    "clusterResources",
    "context",
    "envoyPayloads",
    "exceptions",
    "globalContextEntries",
    "httpPayloads",
    "jsonPayload",
    "jsonPayloads",
    "kind",
    "metadata",
    "name",
    "paramResources",
    "policies",
    "resources",
    "results",
    "targetResources",
    "userinfo",
    "values",
    "variables",
];

const RESULT_KEYS: &[&str] = &[
    "cloneSourceResource",
    "failOnMissingResources",
    "generatedResource",
    "generatedResources",
    "isDeletingPolicy",
    "isGeneratingPolicy",
    "isImageValidatingPolicy",
    "isMutatingAdmissionPolicy",
    "isMutatingPolicy",
    "isValidatingAdmissionPolicy",
    "isValidatingPolicy",
    "kind",
    "operation",
    "patchedResources",
    "policy",
    "resourceSpecs",
    "resources",
    "result",
    "rule",
];

/// The cache key that stands for "evaluated as a JSON payload" instead of an operation.
const PAYLOAD_RUN: &str = "#payload";
/// The cache key of a check request's run (an index into the test's authorization payloads).
const AUTHORIZATION_RUN: &str = "#check-request";

/// A document loaded from a file referenced by the test.
#[derive(Clone, Debug)]
struct Loaded {
    value: Value,
    /// Where the document came from, so findings can point into it.
    file: PathBuf,
    document: usize,
}

/// How a Kyverno Test file is run: the `kyverno test` flags that change results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// `kyverno test --registry`: imageRegistry context entries are fetched from registries, so the
    /// results that read one (without data in the test's context file) are not known offline.
    pub registry_access: bool,
}

/// Runs one Kyverno Test file as `kyverno test` does without flags.
pub fn run_test_file(files: &dyn FileSource, test_path: &Path) -> TestReport {
    run_test_file_with(files, test_path, RunOptions::default())
}

/// Runs one Kyverno Test file with the given `kyverno test` options.
pub fn run_test_file_with(files: &dyn FileSource, test_path: &Path, options: RunOptions) -> TestReport {
    let mut runner = Runner { files, test_path, options, report: TestReport::default(), document: 0 };
    runner.run();
    runner.report
}

struct Runner<'a> {
    files: &'a dyn FileSource,
    test_path: &'a Path,
    options: RunOptions,
    report: TestReport,
    document: usize,
}

impl Runner<'_> {
    fn at(&self, pointer: impl Into<String>) -> SourceRef {
        SourceRef::yaml(self.test_path, self.document, pointer)
    }

    fn problem(&mut self, pointer: impl Into<String>, code: Code, message: impl Into<String>) {
        let at = self.at(pointer);
        self.report.problems.push(Problem { at, code, message: message.into() });
    }

    fn run(&mut self) {
        let documents = match self.files.documents(self.test_path) {
            Ok(documents) => documents,
            Err(error) => {
                self.problem(
                    "",
                    Code::KyvernoTestUnreadable,
                    format!("cannot read {}: {error}", self.test_path.display()),
                );
                return;
            }
        };
        // `kyverno test` decodes every document of a test file as a Test and runs each one
        // (`cmd/cli/kubectl-kyverno/test/load.go`, `LoadTest`): a wrong expectation in the second
        // document fails the run as surely as one in the first.
        let tests: Vec<usize> = documents
            .iter()
            .enumerate()
            .filter(|(_, document)| document.value.get("kind").and_then(Value::as_str) == Some("Test"))
            .map(|(index, _)| index)
            .collect();
        if tests.is_empty() {
            let errors: Vec<String> = documents
                .iter()
                .flat_map(|document| document.errors.iter().map(|error| error.message.clone()))
                .collect();
            let message = if errors.is_empty() {
                format!("{} holds no Kyverno Test document (kind: Test)", self.test_path.display())
            } else {
                format!("{} could not be parsed: {}", self.test_path.display(), errors.join("; "))
            };
            self.problem("", Code::KyvernoTestNoTest, message);
            return;
        }
        for index in tests {
            self.document = index;
            self.run_test_document(&documents, index);
        }
    }

    /// Runs the Test at `documents[index]`; the file's other documents fill in what an embedded
    /// Test leaves out.
    fn run_test_document(&mut self, documents: &[crate::syntax::Document], index: usize) {
        let test = documents[index].yaml11_value();
        let strict_ok = self.check_keys(&test);
        let base = self.test_path.parent().map(Path::to_path_buf).unwrap_or_default();
        let Some(results) = test.get("results").and_then(Value::as_array).cloned() else {
            self.problem("/results", Code::KyvernoTestNoResults, "the test has no `results`: nothing would be checked");
            return;
        };
        if !strict_ok {
            // The Kyverno CLI decodes test files strictly and rejects the whole file on an unknown key.
            self.reject_all(&results, "the test file has unknown keys; `kyverno test` rejects it");
            return;
        }
        // A Test embedded in a policy's own file may leave out `policies` and `resources`: the other
        // documents of its file fill them in.
        let policies = if test.get("policies").is_none() {
            self.own_documents(documents, index, OwnRole::Policies)
        } else {
            self.load_list(&test, "policies", &base, true)
        };
        if policies.is_empty() && test.get("policies").is_none() {
            self.problem(
                "",
                Code::KyvernoTestNoPolicies,
                "the test lists no `policies` and its own file holds no policy to fill them in",
            );
        }
        let (bindings, policies): (Vec<Loaded>, Vec<Loaded>) =
            policies.into_iter().partition(|loaded| ADMISSION_POLICY_BINDING_KINDS.contains(&loaded.value.kind()));
        let resources = if test.get("resources").is_none() {
            self.own_documents(documents, index, OwnRole::Resources)
        } else {
            self.load_list(&test, "resources", &base, false)
        };
        // The CLI keeps the first of resources with the same group, kind, namespace and name, and warns
        // about the others (`resource.RemoveDuplicates`, `commands/test/test.go` upstream).
        let mut seen = HashSet::new();
        let resources: Vec<Loaded> = resources
            .into_iter()
            .filter(|loaded| loaded.value.get("kind").is_some())
            .map(|mut loaded| {
                default_namespace(&mut loaded.value);
                loaded
            })
            .filter(|loaded| {
                let value = &loaded.value;
                let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or("");
                let group = api_version.rsplit_once('/').map_or("", |(group, _)| group).to_string();
                seen.insert((group, value.kind().to_string(), value.namespace().to_string(), value.name().to_string()))
            })
            .collect();
        let mut cluster_resources: Vec<Value> = Vec::new();
        for loaded in self.load_list(&test, "clusterResources", &base, false) {
            if loaded.value.kind() == "ClusterResource" {
                if let Some(items) = loaded.value.pointer("/spec/resources").and_then(Value::as_array) {
                    cluster_resources.extend(items.iter().cloned());
                }
            } else {
                cluster_resources.push(loaded.value);
            }
        }
        let target_resources: Vec<Loaded> = self
            .load_list(&test, "targetResources", &base, false)
            .into_iter()
            .filter(|loaded| loaded.value.get("kind").is_some())
            .map(|mut loaded| {
                default_namespace(&mut loaded.value);
                loaded
            })
            .collect();
        for loaded in &target_resources {
            cluster_resources.push(loaded.value.clone());
        }
        // Params for validate.cel `paramRef` (and admission policy bindings) live in the fake cluster; the
        // bindings of admission policies also pick them from this list when the test has no cluster.
        let mut param_resources = Vec::new();
        for loaded in self.load_list(&test, "paramResources", &base, false) {
            let mut value = loaded.value;
            default_namespace(&mut value);
            cluster_resources.push(value.clone());
            param_resources.push(value);
        }
        // The CLI sorts exceptions by API group: `kyverno.io` ones for ClusterPolicy rules, the
        // `policies.kyverno.io` ones for the CEL policy kinds (`cmd/cli/kubectl-kyverno/exception/load.go`).
        let (cel_exceptions, exceptions): (Vec<Value>, Vec<Value>) = self
            .load_list(&test, "exceptions", &base, false)
            .into_iter()
            .map(|loaded| loaded.value)
            .filter(|value| value.kind() == "PolicyException")
            .partition(kyverno_cel::exceptions::is_cel_exception);
        let has_admission_policy = policies.iter().any(|loaded| loaded.value.kind() == "ValidatingAdmissionPolicy");
        if has_admission_policy && !exceptions.is_empty() {
            // `kyverno test` stops before evaluating anything (`commands/test/test.go`, `runTest`).
            let message = "kyverno test rejects kyverno.io PolicyExceptions in a test with ValidatingAdmissionPolicies";
            self.problem("/exceptions", Code::KyvernoTestUnsupportedCombination, message);
            self.reject_all(&results, message);
            return;
        }
        let payloads = self.load_payloads(&test, &base);
        let authorization_payloads = self.load_authorization_payloads(&test, &base);
        let values = self.load_values(&test, &base);
        let user_info = self.load_single(&test, "userinfo", &base).unwrap_or(Value::Null);
        let mut global_context = Map::new();
        for entry in test.get("globalContextEntries").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let Some(name) = entry.get("name").and_then(Value::as_str) else {
                continue;
            };
            match self.global_context_entry(entry, &base) {
                Ok(Some(value)) => {
                    global_context.insert(name.to_string(), value);
                }
                Ok(None) => {}
                Err(message) => self.problem("/globalContextEntries", Code::KyvernoTestGlobalContext, message),
            }
        }
        // The CLI's Context file adds cluster objects and image data for imageRegistry entries.
        let mut image_data = Map::new();
        if let Some(context_file) = self.load_single(&test, "context", &base) {
            for object in
                context_file.pointer("/spec/resources").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
            {
                cluster_resources.push(object.clone());
            }
            for image in
                context_file.pointer("/spec/images").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
            {
                if let Some(reference) = image.get("image").and_then(Value::as_str) {
                    image_data.insert(reference.to_string(), image.clone());
                }
            }
        }
        let mut api_call_mocks = Vec::new();
        for mock in test.get("apiCallResponses").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let url = mock.get("url").or_else(|| mock.get("urlPath")).and_then(Value::as_str).unwrap_or("").to_string();
            api_call_mocks.push(engine::api_call::ApiCallMock {
                method: mock.get("method").and_then(Value::as_str).unwrap_or("").to_string(),
                url,
                status: mock
                    .pointer("/response/statusCode")
                    .and_then(Value::as_u64)
                    .map_or(200, |code| code.min(999) as u16),
                body: mock.pointer("/response/body").cloned().unwrap_or(Value::Null),
            });
        }
        // Kyverno's CLI answers Kubernetes apiCalls only when the test declares cluster resources.
        let has_cluster = test.get("clusterResources").and_then(Value::as_array).is_some_and(|items| !items.is_empty());
        let cluster_objects = has_cluster.then(|| {
            let mut objects: Vec<Value> = resources.iter().map(|loaded| loaded.value.clone()).collect();
            objects.extend(cluster_resources.iter().cloned());
            objects
        });
        let mut clone_sources = Vec::new();
        for entry in &results {
            if let Some(path) = entry.get("cloneSourceResource").and_then(Value::as_str)
                && let Ok(documents) = self.files.documents(&base.join(path))
            {
                clone_sources.extend(
                    documents.into_iter().map(|document| document.yaml11_value()).filter(|value| !value.is_null()).map(
                        |mut value| {
                            default_namespace(&mut value);
                            value
                        },
                    ),
                );
            }
        }
        // Clone sources for generate rules: every object the CLI's fake cluster holds plus the
        // `cloneSourceResource` files named by the results.
        let mut generate_sources: Vec<Value> = resources.iter().map(|loaded| loaded.value.clone()).collect();
        generate_sources.extend(clone_sources);
        // The CLI runs only the ClusterPolicies and Policies Kyverno's validation accepts, and reports the
        // results of the others as skipped (`runTest` in `commands/test/test.go` upstream).
        let mut refused: HashMap<String, String> = HashMap::new();
        let policies: Vec<Loaded> = policies
            .into_iter()
            .filter(|loaded| {
                if !KYVERNO_POLICY_KINDS.contains(&loaded.value.kind()) {
                    return true;
                }
                let Some(first) = engine::policy_validation::rejections(&loaded.value).into_iter().next() else {
                    return true;
                };
                refused.insert(loaded.value.name().to_string(), first.message);
                false
            })
            .collect();
        let environment = Environment {
            policies: policies.iter().map(|loaded| loaded.value.clone()).collect(),
            bindings: bindings.into_iter().map(|loaded| loaded.value).collect(),
            values,
            set_variables: Vec::new(),
            user_info,
            cluster_resources,
            exceptions,
            cel_exceptions,
            param_resources,
            has_cluster,
            global_context,
            api_call_mocks,
            cluster_objects,
            image_data,
            generate_sources,
            now: self.files.current_time(),
            registry_access: self.options.registry_access,
            live_cluster: false,
        };
        // The CLI evaluates every resource once as the values say, and once more for each operation a
        // result names; a target's responses come from all of these runs.
        let mut runs = vec![String::new()];
        for operation in results.iter().filter_map(|entry| entry.get("operation").and_then(Value::as_str)) {
            if !operation.is_empty() && !runs.iter().any(|run| run == operation) {
                runs.push(operation.to_string());
            }
        }
        let setup = Setup {
            environment,
            policies,
            refused,
            resources,
            payloads,
            target_resources,
            authorization_payloads,
            runs,
        };
        let mut cache: HashMap<(usize, String), Vec<PolicyOutcome>> = HashMap::new();
        for (entry_index, entry) in results.iter().enumerate() {
            self.check_result_keys(entry, entry_index);
            self.run_entry(entry, entry_index, &setup, &base, &mut cache);
        }
    }

    /// The mocked data of a global context entry: `data`, inline `resources` or `resourceFiles`, then
    /// `fieldPath` and `projections`, as the CLI resolves them.
    fn global_context_entry(&mut self, entry: &Value, base: &Path) -> Result<Option<Value>, String> {
        let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
        let root = if let Some(resources) = entry.get("resources").and_then(Value::as_array) {
            Value::Array(resources.clone())
        } else if let Some(files) = entry.get("resourceFiles").and_then(Value::as_array) {
            let mut items = Vec::new();
            for file in files.iter().filter_map(Value::as_str) {
                let documents = self
                    .files
                    .documents(&base.join(file))
                    .map_err(|error| format!("globalContextEntries {name:?}: cannot read {file}: {error}"))?;
                items.extend(
                    documents.into_iter().map(|document| document.yaml11_value()).filter(|value| !value.is_null()),
                );
            }
            Value::Array(items)
        } else if let Some(data) = entry.get("data") {
            data.clone()
        } else {
            return Ok(None);
        };
        let search = |path: &str, data: &Value| {
            engine::variables::JsonContext::new(data.clone()).query(path).or_else(|error| match error {
                engine::variables::VariableError::NotFound(_) => Ok(Value::Null),
                other => Err(format!("globalContextEntries {name:?}: {other}")),
            })
        };
        let root = match entry.get("fieldPath").and_then(Value::as_str).filter(|path| !path.is_empty()) {
            Some(path) => search(path, &root)?,
            None => root,
        };
        let Some(projections) = entry.get("projections").and_then(Value::as_array).filter(|items| !items.is_empty())
        else {
            return Ok(Some(root));
        };
        let mut out = Map::new();
        for projection in projections {
            let projection_name = projection.get("name").and_then(Value::as_str).unwrap_or("");
            let path = projection.get("path").and_then(Value::as_str).unwrap_or("@");
            out.insert(projection_name.to_string(), search(path, &root)?);
        }
        Ok(Some(Value::Object(out)))
    }

    /// Reports every expected result as an error: `kyverno test` rejects the whole file.
    fn reject_all(&mut self, results: &[Value], message: &str) {
        for (entry_index, entry) in results.iter().enumerate() {
            for (resource_index, resource) in resources_of(entry).iter().enumerate() {
                self.push_result(
                    entry,
                    entry_index,
                    resource_index,
                    &resource.shown,
                    Verdict::new(Outcome::Error, "error", "Invalid test file", message),
                );
            }
        }
    }

    /// Loads the test's `jsonPayloads` (and the older single `jsonPayload`): plain JSON or YAML objects
    /// that JSON-mode ValidatingPolicies (and DeletingPolicies) evaluate, named in results as written here.
    fn load_payloads(&mut self, test: &Value, base: &Path) -> Vec<Payload> {
        let mut names: Vec<(String, String)> = test
            .get("jsonPayloads")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(index, item)| Some((item.as_str()?.to_string(), format!("/jsonPayloads/{index}"))))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(name) = test.get("jsonPayload").and_then(Value::as_str).filter(|name| !name.is_empty()) {
            names.push((name.to_string(), "/jsonPayload".to_string()));
        }
        let mut payloads = Vec::new();
        for (name, pointer) in names {
            let path = base.join(&name);
            let Some(text) = self.read_payload(&path, pointer.clone()) else { continue };
            let documents: Vec<Value> = crate::syntax::parse_file(&text)
                .into_iter()
                .map(|document| document.yaml11_value())
                .filter(|value| !value.is_null())
                .collect();
            match documents.as_slice() {
                [value @ Value::Object(_)] => {
                    payloads.push(Payload { name, loaded: Loaded { value: value.clone(), file: path, document: 0 } })
                }
                _ => self.problem(
                    pointer,
                    Code::KyvernoTestInvalidPayload,
                    format!("{}: a JSON payload must hold one top-level object", path.display()),
                ),
            }
        }
        payloads
    }

    /// The test's `envoyPayloads` and `httpPayloads`: check requests for ValidatingPolicies in the Envoy
    /// and HTTP evaluation modes. The CLI stops the test when one cannot be read.
    fn load_authorization_payloads(&mut self, test: &Value, base: &Path) -> Vec<AuthorizationPayload> {
        let mut found = Vec::new();
        for (key, mode) in [("envoyPayloads", AuthorizationMode::Envoy), ("httpPayloads", AuthorizationMode::Http)] {
            for (index, item) in
                test.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().iter().enumerate()
            {
                let Some(name) = item.as_str() else { continue };
                let path = base.join(name);
                let Some(text) = self.read_payload(&path, format!("/{key}/{index}")) else { continue };
                // The CLI decodes both kinds as JSON (protojson for Envoy) and stops the test otherwise.
                match serde_json::from_str::<Value>(&text) {
                    Ok(value @ Value::Object(_)) => found.push(AuthorizationPayload {
                        payload: Payload { name: name.to_string(), loaded: Loaded { value, file: path, document: 0 } },
                        mode,
                    }),
                    _ => self.problem(
                        format!("/{key}/{index}"),
                        Code::KyvernoTestInvalidPayload,
                        format!("{}: an {} payload must be one JSON object", path.display(), mode.as_str()),
                    ),
                }
            }
        }
        found
    }

    /// The text of a payload file the test names at `pointer`; a file that cannot be read is a problem.
    fn read_payload(&mut self, path: &Path, pointer: String) -> Option<std::sync::Arc<str>> {
        match self.files.read(path) {
            Ok(text) => Some(text),
            Err(error) => {
                self.problem(pointer, Code::KyvernoTestMissingFile, format!("cannot read {}: {error}", path.display()));
                None
            }
        }
    }

    fn check_keys(&mut self, test: &Value) -> bool {
        let mut ok = true;
        if let Some(map) = test.as_object() {
            for key in map.keys() {
                if !TEST_KEYS.contains(&key.as_str()) {
                    self.problem(
                        format!("/{}", super_pointer(key)),
                        Code::KyvernoTestUnknownKey,
                        format!("unknown field `{key}` in the Test"),
                    );
                    ok = false;
                }
            }
        }
        if let Some(results) = test.get("results").and_then(Value::as_array) {
            for (index, entry) in results.iter().enumerate() {
                for key in entry.as_object().map(|map| map.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
                    // Go's JSON decoding matches field names case-insensitively (`isMUtatingPolicy` is read).
                    if !RESULT_KEYS.iter().any(|known| known.eq_ignore_ascii_case(&key)) {
                        self.problem(
                            format!("/results/{index}/{}", super_pointer(&key)),
                            Code::KyvernoTestUnknownKey,
                            format!("unknown field `{key}` in results[{index}]"),
                        );
                        ok = false;
                    }
                }
            }
        }
        ok
    }

    fn check_result_keys(&mut self, entry: &Value, index: usize) {
        if entry.get("policy").and_then(Value::as_str).is_none_or(str::is_empty) {
            self.problem(
                format!("/results/{index}"),
                Code::KyvernoTestMissingPolicy,
                format!("results[{index}] names no policy"),
            );
        }
    }

    /// Loads every document of the files (or directories) listed under `key`.
    fn load_list(&mut self, test: &Value, key: &str, base: &Path, policies_only: bool) -> Vec<Loaded> {
        let mut out = Vec::new();
        let entries = test.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        for (index, entry) in entries.iter().enumerate() {
            let Some(relative) = entry.as_str() else {
                continue;
            };
            let path = base.join(relative);
            let mut paths = Vec::new();
            collect_files(self.files, &path, &mut paths, 0);
            if paths.is_empty() {
                self.problem(
                    format!("/{key}/{index}"),
                    Code::KyvernoTestMissingFile,
                    format!("{key}[{index}]: {} does not exist or holds no YAML/JSON file", path.display()),
                );
                continue;
            }
            for file in paths {
                let documents = match self.files.documents(&file) {
                    Ok(documents) => documents,
                    Err(error) => {
                        self.problem(
                            format!("/{key}/{index}"),
                            Code::KyvernoTestUnreadable,
                            format!("cannot read {}: {error}", file.display()),
                        );
                        continue;
                    }
                };
                for (document_index, document) in documents.into_iter().enumerate() {
                    if !document.errors.is_empty() {
                        self.problem(
                            format!("/{key}/{index}"),
                            Code::KyvernoTestYaml,
                            format!("{}: {}", file.display(), document.error_text()),
                        );
                    }
                    if document.value.is_null() {
                        continue;
                    }
                    let document_value = document.yaml11_value();
                    let items = match document_value.kind() {
                        kind if kind.ends_with("List") && document_value.get("items").is_some() => {
                            document_value.get("items").and_then(Value::as_array).cloned().unwrap_or_default()
                        }
                        _ => vec![document_value],
                    };
                    for value in items {
                        let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
                        if policies_only && !is_policy_kind(kind) {
                            continue;
                        }
                        let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or("");
                        if policies_only && !is_served_policy_version(api_version, kind) {
                            // The CLI's loader skips a document of a version it does not serve, so the
                            // policy is not found (`cmd/cli/kubectl-kyverno/policy/load.go`).
                            self.problem(
                                format!("/{key}/{index}"),
                                Code::KyvernoTestUnknownPolicy,
                                format!(
                                    "{}: kyverno does not serve {kind} in {api_version:?}; the policy is not loaded",
                                    file.display()
                                ),
                            );
                            continue;
                        }
                        out.push(Loaded { value, file: file.clone(), document: document_index });
                    }
                }
            }
        }
        out
    }

    /// The documents of the test's own file that play `role`, for a Test embedded beside its policy.
    fn own_documents(&self, documents: &[crate::syntax::Document], test_index: usize, role: OwnRole) -> Vec<Loaded> {
        documents
            .iter()
            .enumerate()
            .filter(|(document_index, document)| *document_index != test_index && !document.value.is_null())
            .map(|(document_index, document)| (document_index, document.yaml11_value()))
            .filter(|(_, value)| {
                let kind = value.kind();
                let is_policy = is_policy_kind(kind);
                match role {
                    OwnRole::Policies => is_policy,
                    OwnRole::Resources => !is_policy && !is_test_input_kind(value),
                }
            })
            .map(|(document_index, value)| Loaded {
                value,
                file: self.test_path.to_path_buf(),
                document: document_index,
            })
            .collect()
    }

    fn load_single(&mut self, test: &Value, key: &str, base: &Path) -> Option<Value> {
        let relative = test.get(key).and_then(Value::as_str).filter(|text| !text.is_empty())?;
        let path = base.join(relative);
        match self.files.documents(&path) {
            Ok(documents) => {
                documents.into_iter().map(|document| document.yaml11_value()).find(|value| !value.is_null())
            }
            Err(error) => {
                self.problem(
                    format!("/{key}"),
                    Code::KyvernoTestMissingFile,
                    format!("{key}: cannot read {}: {error}", path.display()),
                );
                None
            }
        }
    }

    fn load_values(&mut self, test: &Value, base: &Path) -> Value {
        let mut values = test.get("values").cloned().unwrap_or(Value::Null);
        if let Some(file_values) = self.load_single(test, "variables", base) {
            // The inline `values` win over the file, as the CLI merges them.
            if values.is_null() {
                values = file_values;
            }
        }
        values
    }

    fn push_result(
        &mut self,
        entry: &Value,
        entry_index: usize,
        resource_index: usize,
        resource: &str,
        verdict: Verdict,
    ) {
        let policy = entry.get("policy").and_then(Value::as_str).unwrap_or("").to_string();
        let rule = entry.get("rule").and_then(Value::as_str).map(str::to_string);
        let kind = entry.get("kind").and_then(Value::as_str).map(str::to_string);
        let expected = expected_result(entry);
        let location = self.at(format!("/results/{entry_index}/resources/{resource_index}"));
        self.report.results.push(TestResult {
            file: self.test_path.to_path_buf(),
            framework: Framework::Kyverno,
            subject: Subject::Kyverno { policy, rule, resource: resource.to_string(), kind },
            expected,
            actual: verdict.actual,
            outcome: verdict.outcome,
            reason: verdict.reason,
            message: verdict.message,
            location: Some(location),
            resource_id: None,
            related: verdict.related,
            diff: verdict.diff,
            duration: None,
        });
    }

    fn run_entry(
        &mut self,
        entry: &Value,
        entry_index: usize,
        setup: &Setup,
        base: &Path,
        cache: &mut HashMap<(usize, String), Vec<PolicyOutcome>>,
    ) {
        let policy_field = entry.get("policy").and_then(Value::as_str).unwrap_or("");
        let policy_name = policy_field.rsplit('/').next().unwrap_or("");
        let rule_name = entry.get("rule").and_then(Value::as_str).unwrap_or("");
        let expected = expected_result(entry);
        let operation = entry.get("operation").and_then(Value::as_str).unwrap_or("").to_string();
        let resources = self.checked_resources(entry, entry_index, setup, base, cache);
        let policy = setup
            .policies
            .iter()
            .find(|loaded| loaded.value.pointer("/metadata/name").and_then(Value::as_str) == Some(policy_name));
        if let Some(reason) = setup.refused.get(policy_name).filter(|_| policy.is_none()) {
            let message = format!("the policy is invalid: {reason}");
            for (resource_index, resource) in resources.iter().enumerate() {
                self.push_result(
                    entry,
                    entry_index,
                    resource_index,
                    &resource.shown,
                    Verdict::new(Outcome::Pass, "skip", "Invalid policy", &message),
                );
            }
            return;
        }
        let Some(policy) = policy else {
            self.problem(
                format!("/results/{entry_index}/policy"),
                Code::KyvernoTestUnknownPolicy,
                format!("results[{entry_index}]: policy `{policy_field}` is not among the loaded policies"),
            );
            for (resource_index, resource) in resources.iter().enumerate() {
                self.push_result(
                    entry,
                    entry_index,
                    resource_index,
                    &resource.shown,
                    Verdict::new(Outcome::Fail, "not found", "Not found", "policy not found"),
                );
            }
            return;
        };
        // The CEL policy kinds have no rules: kyverno checks every response of the policy whatever rule
        // a result names (`commands/test/output.go`, `isRulelessPolicyKind`).
        let ruleless = is_cel_policy_kind(policy.value.kind());
        if !rule_name.is_empty() && !ruleless {
            let rules = engine::policy_rules(&policy.value);
            let known = rules.iter().any(|rule| {
                let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
                name == rule_name
                    || name == format!("autogen-{rule_name}")
                    || name == format!("autogen-cronjob-{rule_name}")
            });
            if !known {
                self.problem(
                    format!("/results/{entry_index}/rule"),
                    Code::KyvernoTestUnknownRule,
                    format!("results[{entry_index}]: policy `{policy_name}` has no rule `{rule_name}` (kyverno reports such results as excluded)"),
                );
            }
        }
        let rule_name = if ruleless { "" } else { rule_name };
        if resources.is_empty() {
            self.problem(
                format!("/results/{entry_index}"),
                Code::KyvernoTestNoResources,
                format!("results[{entry_index}] names no resources and the test loads none"),
            );
        }
        for (resource_index, reference) in resources.iter().enumerate() {
            let resource_name = &reference.shown;
            let matched: Vec<usize> = setup
                .resources
                .iter()
                .enumerate()
                .filter(|(_, loaded)| reference.takes_in(&loaded.value))
                .map(|(index, _)| index)
                .collect();
            // A check request is answered by the ValidatingPolicies of its evaluation mode.
            if matched.is_empty()
                && let Some(position) = setup
                    .authorization_payloads
                    .iter()
                    .position(|authorization| &authorization.payload.name == resource_name)
            {
                let payload = &setup.authorization_payloads[position].payload;
                let outcomes = cache
                    .entry((position, AUTHORIZATION_RUN.to_string()))
                    .or_insert_with(|| {
                        let authorization = &setup.authorization_payloads[position];
                        evaluate_check_request(
                            &setup.environment,
                            &authorization.payload.loaded.value,
                            authorization.mode,
                        )
                    })
                    .clone();
                let mut rows = Vec::new();
                for mut row in self.rows_for(entry, policy_name, rule_name, &expected, &outcomes, base, setup) {
                    row.links = links(&row, policy, &payload.loaded);
                    rows.push(row);
                }
                let verdict = summarize(&rows, &expected);
                self.push_result(entry, entry_index, resource_index, resource_name, verdict);
                if let Some(result) = self.report.results.last_mut() {
                    result.resource_id = Some(payload.name.clone());
                }
                continue;
            }
            // A JSON payload is named exactly as the test lists it.
            if matched.is_empty()
                && let Some(position) = setup.payloads.iter().position(|payload| &payload.name == resource_name)
            {
                let payload = &setup.payloads[position];
                let outcomes = cache
                    .entry((position, PAYLOAD_RUN.to_string()))
                    .or_insert_with(|| evaluate_payload(&setup.environment, &payload.loaded.value))
                    .clone();
                let mut rows = Vec::new();
                for mut row in self.rows_for(entry, policy_name, rule_name, &expected, &outcomes, base, setup) {
                    row.links = links(&row, policy, &payload.loaded);
                    rows.push(row);
                }
                let verdict = summarize(&rows, &expected);
                self.push_result(entry, entry_index, resource_index, resource_name, verdict);
                // kyverno's table shows a payload by the name the test gives it.
                if let Some(result) = self.report.results.last_mut() {
                    result.resource_id = Some(payload.name.clone());
                }
                continue;
            }
            if matched.is_empty() {
                if let Some(rows) =
                    self.target_rows(entry, reference, setup, base, cache).filter(|rows| !rows.is_empty())
                {
                    let verdict = summarize(&rows, &expected);
                    self.push_result(entry, entry_index, resource_index, resource_name, verdict);
                    continue;
                }
                // A name `checked_resources` found nothing for (it reported the problem).
                self.push_result(
                    entry,
                    entry_index,
                    resource_index,
                    resource_name,
                    Verdict::new(Outcome::Fail, "not found", "Not found", "resource not found"),
                );
                continue;
            }
            let first_match = matched.first().copied();
            let mut rows: Vec<Row> = Vec::new();
            for resource_position in matched {
                let outcomes = cache
                    .entry((resource_position, operation.clone()))
                    .or_insert_with(|| {
                        evaluate_resource(&setup.environment, &setup.resources[resource_position].value, &operation)
                            .outcomes
                    })
                    .clone();
                let resource_loaded = &setup.resources[resource_position];
                for mut row in self.rows_for(entry, policy_name, rule_name, &expected, &outcomes, base, setup) {
                    row.links = links(&row, policy, resource_loaded);
                    rows.push(row);
                }
            }
            // A target of the same name is checked too (the CLI looks the name up among both).
            rows.extend(self.target_rows(entry, reference, setup, base, cache).unwrap_or_default());
            let verdict = summarize(&rows, &expected);
            self.push_result(entry, entry_index, resource_index, resource_name, verdict);
            if let (Some(result), Some(first)) = (self.report.results.last_mut(), first_match) {
                result.resource_id = Some(resource_id(&setup.resources[first].value));
            }
        }
    }

    /// The resources a results entry is checked against, gathered as `printTestResult` gathers them: those
    /// its `resources` and `resourceSpecs` take in (a resource, a payload, or a target some rule patched),
    /// or every resource and payload when it names none. A name that takes in nothing beside names that
    /// do is ignored, as the CLI ignores it (a warning). When no name takes in anything the CLI checks the
    /// entry against every resource instead; policy-lsp keeps the names and fails them as not found, as
    /// Kyverno's own CI expects of its `test-fail/missing-resource` (see .ci/ratchet.txt for the doubt).
    fn checked_resources(
        &mut self,
        entry: &Value,
        entry_index: usize,
        setup: &Setup,
        base: &Path,
        cache: &mut HashMap<(usize, String), Vec<PolicyOutcome>>,
    ) -> Vec<ResourceRef> {
        let named = resources_of(entry);
        if named.is_empty() {
            return setup.every_resource_name().into_iter().map(ResourceRef::named).collect();
        }
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for (index, reference) in named.into_iter().enumerate() {
            let takes_in_something = setup.resources.iter().any(|loaded| reference.takes_in(&loaded.value))
                || (reference.api_version.is_none()
                    && (setup.payloads.iter().any(|payload| payload.name == reference.shown)
                        || setup
                            .authorization_payloads
                            .iter()
                            .any(|authorization| authorization.payload.name == reference.shown)))
                || self.target_rows(entry, &reference, setup, base, cache).is_some_and(|rows| !rows.is_empty());
            if takes_in_something {
                known.push(reference);
            } else {
                unknown.push((index, reference));
            }
        }
        let none_known = known.is_empty();
        for (index, reference) in &unknown {
            let pointer = match entry.get("resources").and_then(Value::as_array) {
                Some(items) if *index < items.len() => format!("/results/{entry_index}/resources/{index}"),
                _ => format!("/results/{entry_index}/resourceSpecs/{}", index - resources_listed(entry)),
            };
            let what = if reference.api_version.is_some() { "resource spec" } else { "resource" };
            let (code, consequence) = if none_known {
                (Code::KyvernoTestUnknownResource, "")
            } else {
                (Code::KyvernoTestIgnoredResource, " (kyverno ignores it beside the names it finds)")
            };
            self.problem(
                pointer,
                code,
                format!(
                    "results[{entry_index}]: {what} `{}` is not among the loaded resources{consequence}",
                    reference.shown
                ),
            );
        }
        if none_known { unknown.into_iter().map(|(_, reference)| reference).collect() } else { known }
    }

    /// Rows for a resource named by the results that is a mutate-existing target, built as `kyverno test`
    /// builds its `Target` map (`commands/test/test.go` and `output.go` upstream): every target the name
    /// takes in, and for each trigger every policy's response that patched it, whichever policy and rule
    /// the entry names; of a ClusterPolicy's rules, the first that patched the target is the one compared
    /// (each rule patches the target as it was loaded: patches are not cumulative). A response that
    /// patched nothing is not among them (none at all: the target is "not found" when nothing else has
    /// the name). The responses come from every run the CLI makes (the values' operation and each one a
    /// result names), whatever operation the entry names. `None` when the name takes in no target.
    fn target_rows(
        &mut self,
        entry: &Value,
        reference: &ResourceRef,
        setup: &Setup,
        base: &Path,
        cache: &mut HashMap<(usize, String), Vec<PolicyOutcome>>,
    ) -> Option<Vec<Row>> {
        let targets: Vec<&Loaded> =
            setup.target_resources.iter().filter(|loaded| reference.takes_in(&loaded.value)).collect();
        if targets.is_empty() {
            return None;
        }
        let expected = expected_result(entry);
        let mutating_policies: Vec<&Loaded> = setup
            .policies
            .iter()
            .filter(|candidate| {
                let value = &candidate.value;
                (cel_kind_is(value, "MutatingPolicy") || cel_kind_is(value, "NamespacedMutatingPolicy"))
                    && kyverno_cel::mutates_existing(value)
            })
            .collect();
        let mut rows = Vec::new();
        // Every run of every trigger, whatever operation the entry names.
        let runs = setup
            .runs
            .iter()
            .flat_map(|operation| (0..setup.resources.len()).map(move |position| (position, operation)));
        for target in targets {
            for (position, operation) in runs.clone() {
                let outcomes = cache.entry((position, operation.clone())).or_insert_with(|| {
                    evaluate_resource(&setup.environment, &setup.resources[position].value, operation).outcomes
                });
                for outcome in outcomes.iter() {
                    let Some((rule, patched)) = outcome.rules.iter().find_map(|rule| {
                        let patched = rule.patched_target.as_ref()?;
                        same_object(patched, &target.value).then_some((rule, patched))
                    }) else {
                        continue;
                    };
                    // `setup.policies` and the environment's policies are in the same (load) order.
                    let patching_policy = &setup.policies[outcome.policy];
                    let row = Row::from_rule(&patching_policy.value, rule, &expected);
                    let mut row = self.patched_target_row(entry, base, patched, row);
                    row.links = links(&row, patching_policy, target);
                    rows.push(row);
                }
                rows.extend(self.mutating_policy_target_rows(
                    entry,
                    &mutating_policies,
                    target,
                    position,
                    operation,
                    setup,
                    base,
                ));
            }
        }
        Some(rows)
    }

    /// The row of a rule that patched a target: `row` when the test names no `patchedResources` or the
    /// patched target equals the one in that file, else the failure the comparison gives.
    fn patched_target_row(&self, entry: &Value, base: &Path, patched: &Value, row: Row) -> Row {
        match self.file_check(entry, base, patched) {
            FileCheck::Holds => row,
            FileCheck::PatchedMissing => Row::fail("Resource error", "patched target not found in manifest"),
            FileCheck::Failed(failed) => failed,
        }
    }

    /// `checkResult` upstream's comparisons of the resource a rule answered with, in its order: with
    /// `patchedResources`, then with `generatedResource` (when there are no `generatedResources`) or with
    /// any of `generatedResources`. Every rule's resource is compared, whatever its type: a validate rule's
    /// resource with a `generatedResource` file too.
    fn file_check(&self, entry: &Value, base: &Path, actual: &Value) -> FileCheck {
        if let Some(path) = entry.get("patchedResources").and_then(Value::as_str) {
            match compare_with_file(self.files, &base.join(path), actual) {
                Comparison::Equal => {}
                Comparison::NotFound => return FileCheck::PatchedMissing,
                Comparison::Different(message, diff) => return FileCheck::Failed(Row::fail_with_diff(&message, diff)),
                Comparison::Error(message) => return FileCheck::Failed(Row::fail("Resource error", &message)),
            }
        }
        let generated_files: Vec<&str> = entry
            .get("generatedResources")
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let single = entry.get("generatedResource").and_then(Value::as_str).filter(|_| generated_files.is_empty());
        if let Some(path) = single {
            return match compare_with_file(self.files, &base.join(path), actual) {
                Comparison::Equal => FileCheck::Holds,
                Comparison::NotFound => FileCheck::Failed(Row::fail(
                    "Resource error",
                    &format!("failed to load GeneratedResource resource: no {} in {path}", identity(actual)),
                )),
                Comparison::Different(_, diff) => FileCheck::Failed(Row::fail_with_diff(
                    "Patched resource didn't match the generated resource in the test result",
                    diff,
                )),
                Comparison::Error(message) => FileCheck::Failed(Row::fail("Resource error", &message)),
            };
        }
        if generated_files.is_empty() {
            return FileCheck::Holds;
        }
        let (mut last_diff, mut last_error) = (None, None);
        for path in &generated_files {
            match compare_with_file(self.files, &base.join(path), actual) {
                Comparison::Equal => return FileCheck::Holds,
                Comparison::Different(_, diff) => last_diff = Some(diff),
                Comparison::NotFound => {
                    last_error =
                        Some(format!("failed to load GeneratedResources resource: no {} in {path}", identity(actual)));
                }
                Comparison::Error(message) => last_error = Some(message),
            }
        }
        match (last_diff, last_error) {
            (None, Some(error)) => FileCheck::Failed(Row::fail("Resource error", &error)),
            (diff, _) => FileCheck::Failed(Row::fail_with_diff(
                "Generated resource didn't match any of the expected generated resources in the test result",
                diff.flatten(),
            )),
        }
    }

    /// The rows of the mutate-existing MutatingPolicies run on a target for one trigger, as the CLI runs
    /// them (`processor/policy_processor.go` and the mpol engine's `Evaluate` upstream): one after the
    /// other in load order, each on the target as the ones before it left it, and every policy that
    /// patched it answers with the target as the last one left it. A policy that did not patch it gives
    /// no row, as its response is not the target's; one whose run needed what is not known offline gives
    /// an unsupported row, as whether it patched the target is not known either.
    #[allow(clippy::too_many_arguments)]
    fn mutating_policy_target_rows(
        &self,
        entry: &Value,
        mutating_policies: &[&Loaded],
        target: &Loaded,
        trigger: usize,
        operation: &str,
        setup: &Setup,
        base: &Path,
    ) -> Vec<Row> {
        let expected = expected_result(entry);
        let mut current = target.value.clone();
        let mut responses = Vec::new();
        for loaded in mutating_policies {
            let policy = &loaded.value;
            let mut cel_request =
                cel_request_for(&setup.environment, policy, &setup.resources[trigger].value, operation);
            cel_request.exceptions = kyverno_cel::exceptions::exceptions_for(policy, &setup.environment.cel_exceptions);
            let Some(outcome) = kyverno_cel::mutating_policy_target(policy, &cel_request, &current) else {
                continue;
            };
            if let Some(patched) = &outcome.patched {
                current = patched.clone();
            }
            responses.push((*loaded, cel_response(policy, RuleType::Mutation, &outcome, &cel_request)));
        }
        responses
            .into_iter()
            .filter_map(|(loaded, rule)| {
                let mut row = match &rule.unsupported {
                    Some(reason) => Row::unsupported(reason),
                    None if rule.status == engine::RuleStatus::Pass => {
                        let row = Row::from_rule(&loaded.value, &rule, &expected);
                        self.patched_target_row(entry, base, &current, row)
                    }
                    None => return None,
                };
                row.links = links(&row, loaded, target);
                Some(row)
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn rows_for(
        &mut self,
        entry: &Value,
        policy_name: &str,
        rule_name: &str,
        expected: &str,
        outcomes: &[PolicyOutcome],
        base: &Path,
        setup: &Setup,
    ) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut found_policy = false;
        for outcome in outcomes.iter().filter(|outcome| outcome.policy_name == policy_name) {
            found_policy = true;
            if let Some(reason) = &outcome.dropped {
                rows.push(Row::fail("Not found", reason));
                continue;
            }
            let mut local_rows = Vec::new();
            let mut skipped = false;
            for rule in &outcome.rules {
                let matches_rule = rule_name.is_empty()
                    || rule.name == rule_name
                    || rule.name == format!("autogen-{rule_name}")
                    || rule.name == format!("autogen-cronjob-{rule_name}");
                if !matches_rule {
                    continue;
                }
                if let Some(reason) = &rule.unsupported {
                    local_rows.push(Row::unsupported(reason));
                    continue;
                }
                let row = Row::from_rule(&setup.environment.policies[outcome.policy], rule, expected);
                if rule.rule_type != RuleType::Generation {
                    // The mutated resource for a mutation, the one it validated for a validation.
                    match self.file_check(entry, base, &outcome.patched) {
                        FileCheck::Holds => local_rows.push(row),
                        FileCheck::PatchedMissing
                            if entry.get("failOnMissingResources").and_then(Value::as_bool) != Some(true) =>
                        {
                            skipped = true;
                        }
                        FileCheck::PatchedMissing => {
                            local_rows.push(Row::fail("Resource error", "patched resource not found in manifest"));
                        }
                        FileCheck::Failed(failed) => local_rows.push(failed),
                    }
                    continue;
                }
                // A generate rule answers with a row per resource it generated, each compared with the
                // files; one that generated nothing is judged by its result alone (`checkRuleResultOnly`).
                if rule.generated.is_empty() {
                    local_rows.push(row);
                    continue;
                }
                for generated in &rule.generated {
                    local_rows.push(match self.file_check(entry, base, generated) {
                        FileCheck::Holds => row.clone(),
                        FileCheck::PatchedMissing => {
                            Row::fail("Resource error", "patched resource not found in manifest")
                        }
                        FileCheck::Failed(failed) => failed,
                    });
                }
            }
            if local_rows.is_empty() && !skipped {
                local_rows.push(Row::excluded());
            }
            rows.extend(local_rows);
        }
        if !found_policy {
            rows.push(Row::fail("Not found", "no engine response for this policy and resource"));
        }
        rows
    }
}

/// What the documents of an embedded test's own file stand in for.
#[derive(Clone, Copy)]
enum OwnRole {
    Policies,
    Resources,
}

/// Policies, and the bindings of admission policies that travel with them.
fn is_policy_kind(kind: &str) -> bool {
    KYVERNO_POLICY_KINDS.contains(&kind) || is_cel_policy_kind(kind) || ADMISSION_POLICY_BINDING_KINDS.contains(&kind)
}

/// Documents that configure a test rather than being resources under test: the CLI's own kinds
/// (Test, Values, UserInfo, Context) and policy exceptions.
fn is_test_input_kind(value: &Value) -> bool {
    let api_version = value.api_version();
    let kind = value.kind();
    api_version.starts_with("cli.kyverno.io/") || kind == "PolicyException"
}

fn super_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// What a test's results are checked against: the evaluation environment and the documents it came from.
struct Setup {
    environment: Environment,
    /// The policies as loaded, in the order of `environment.policies`, for links into their files.
    policies: Vec<Loaded>,
    resources: Vec<Loaded>,
    /// The test's JSON payloads.
    payloads: Vec<Payload>,
    /// Existing resources that mutate-existing rules patch.
    target_resources: Vec<Loaded>,
    /// The test's `envoyPayloads` and `httpPayloads`.
    authorization_payloads: Vec<AuthorizationPayload>,
    /// The operations the resources are evaluated with: the values' (empty), then each one a result names.
    runs: Vec<String>,
    /// The ClusterPolicies and Policies Kyverno's validation refuses, by name, with the first reason.
    refused: HashMap<String, String>,
}

impl Setup {
    /// What a results entry that names no resource is checked against: every resource (as `ns/name`, or
    /// `name` when cluster-scoped) and every payload.
    fn every_resource_name(&self) -> Vec<String> {
        self.resources
            .iter()
            .map(|loaded| {
                let name = loaded.value.name();
                match loaded.value.namespace() {
                    "" => name.to_string(),
                    namespace => format!("{namespace}/{name}"),
                }
            })
            .chain(self.payloads.iter().map(|payload| payload.name.clone()))
            .chain(self.authorization_payloads.iter().map(|authorization| authorization.payload.name.clone()))
            .collect()
    }
}

/// A check request of the test for the policies of one authorization mode.
#[derive(Clone, Debug)]
struct AuthorizationPayload {
    payload: Payload,
    mode: AuthorizationMode,
}

/// A JSON payload of the test, named as the test lists it.
#[derive(Clone, Debug)]
struct Payload {
    name: String,
    loaded: Loaded,
}

/// One compared rule response (one row of `kyverno test`'s table).
#[derive(Clone, Debug)]
struct Row {
    actual: String,
    ok: bool,
    unsupported: bool,
    reason: String,
    message: String,
    related: Vec<(Option<String>, Option<String>)>,
    /// Other places of the policy with what they say (evaluated audit annotations).
    notes: Vec<(String, String)>,
    /// The related places resolved to files once the row is known to belong to a resource.
    links: Vec<Related>,
    diff: Option<String>,
}

impl Row {
    /// The row of one rule response, compared as kyverno test compares it: by the status its policy
    /// report gives the response.
    fn from_rule(policy: &Value, rule: &RuleResponse, expected: &str) -> Row {
        let actual = chain::report_status(policy, rule.status).as_str().to_string();
        let ok = actual == expected;
        Row {
            reason: if ok { "Ok".to_string() } else { format!("Want {expected}, got {actual}") },
            actual,
            ok,
            unsupported: false,
            message: rule.message.clone(),
            related: vec![(rule.policy_pointer.clone(), rule.resource_pointer.clone())],
            notes: rule.notes.clone(),
            links: Vec::new(),
            diff: None,
        }
    }

    fn excluded() -> Row {
        Row {
            actual: "excluded".to_string(),
            ok: true,
            unsupported: false,
            reason: "Excluded".to_string(),
            message: "Excluded".to_string(),
            related: Vec::new(),
            notes: Vec::new(),
            links: Vec::new(),
            diff: None,
        }
    }

    fn fail(reason: &str, message: &str) -> Row {
        Row {
            actual: "fail".to_string(),
            ok: false,
            unsupported: false,
            reason: reason.to_string(),
            message: message.to_string(),
            related: Vec::new(),
            notes: Vec::new(),
            links: Vec::new(),
            diff: None,
        }
    }

    fn fail_with_diff(message: &str, diff: Option<String>) -> Row {
        Row { diff, ..Row::fail("Resource diff", message) }
    }

    fn unsupported(reason: &str) -> Row {
        // CEL is a known, separately tracked gap; other unsupported features keep their own reason.
        let label = if reason.contains("CEL") { "CEL not implemented" } else { "Unsupported" };
        Row {
            actual: "unsupported".to_string(),
            ok: false,
            unsupported: true,
            reason: label.to_string(),
            message: reason.to_string(),
            related: Vec::new(),
            notes: Vec::new(),
            links: Vec::new(),
            diff: None,
        }
    }
}

/// What one results entry's resource came to, ready to become a [`TestResult`].
struct Verdict {
    outcome: Outcome,
    actual: String,
    reason: String,
    message: String,
    related: Vec<Related>,
    diff: Option<String>,
}

impl Verdict {
    fn new(outcome: Outcome, actual: &str, reason: &str, message: &str) -> Verdict {
        Verdict {
            outcome,
            actual: actual.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
            related: Vec::new(),
            diff: None,
        }
    }
}

fn summarize(rows: &[Row], expected: &str) -> Verdict {
    if rows.is_empty() {
        // Every rule response was skipped because the patched resource is not in the manifest.
        return Verdict::new(Outcome::Pass, expected, "Skipped", "resource not found in the patched resources file");
    }
    if let Some(row) = rows.iter().find(|row| row.unsupported) {
        return Verdict::new(Outcome::Unsupported, &row.actual, &row.reason, &row.message);
    }
    let deciding = rows
        .iter()
        .find(|row| !row.ok)
        .or_else(|| rows.iter().find(|row| row.actual != "excluded"))
        .unwrap_or(&rows[0]);
    let outcome = if rows.iter().all(|row| row.ok) { Outcome::Pass } else { Outcome::Fail };
    Verdict {
        related: deciding.links.clone(),
        diff: deciding.diff.clone(),
        ..Verdict::new(outcome, &deciding.actual, &deciding.reason, &deciding.message)
    }
}

/// Resolves a row's pointers to places in the policy file and the resource file.
fn links(row: &Row, policy: &Loaded, resource: &Loaded) -> Vec<Related> {
    let mut out = Vec::new();
    for (policy_pointer, resource_pointer) in &row.related {
        if let Some(pointer) = policy_pointer {
            out.push(Related {
                at: SourceRef::yaml(policy.file.clone(), policy.document, pointer.clone()),
                message: "the policy node that decided the result".to_string(),
            });
        }
        if let Some(pointer) = resource_pointer {
            out.push(Related {
                at: SourceRef::yaml(resource.file.clone(), resource.document, pointer.clone()),
                message: "the resource value that failed".to_string(),
            });
        }
    }
    for (pointer, message) in &row.notes {
        out.push(Related {
            at: SourceRef::yaml(policy.file.clone(), policy.document, pointer.clone()),
            message: message.clone(),
        });
    }
    out
}

fn expected_result(entry: &Value) -> String {
    entry.get("result").and_then(Value::as_str).unwrap_or("").to_string()
}

/// A resource a results entry names: `name` or `ns/name` from `resources`, or a `resourceSpecs` entry,
/// which also names the apiVersion.
#[derive(Clone, Debug, PartialEq)]
struct ResourceRef {
    /// As results show it: `name`, `ns/name`, and `ns/name` (`/name` when cluster-scoped) for a spec.
    shown: String,
    /// A spec's `group/version` (`version` alone for the core group), which the resource's apiVersion must be.
    api_version: Option<String>,
}

impl ResourceRef {
    fn named(shown: String) -> ResourceRef {
        ResourceRef { shown, api_version: None }
    }

    /// `name` takes in any resource with that name; `ns/name` also checks the namespace; a spec checks
    /// the apiVersion too. The kind is ignored, as the CLI ignores it.
    fn takes_in(&self, resource: &Value) -> bool {
        resource_matches(resource, &self.shown)
            && self.api_version.as_deref().is_none_or(|api_version| resource.api_version() == api_version)
    }
}

/// How many names a results entry's `resources` list holds.
fn resources_listed(entry: &Value) -> usize {
    entry.get("resources").and_then(Value::as_array).map_or(0, Vec::len)
}

fn resources_of(entry: &Value) -> Vec<ResourceRef> {
    let mut out: Vec<ResourceRef> = entry
        .get("resources")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(|name| ResourceRef::named(name.to_string())).collect())
        .unwrap_or_default();
    // The CLI reads `resourceSpecs` only beside a `resources` list; a spec's namespace must be the
    // resource's (none for a cluster-scoped one) and its group and version the resource's apiVersion:
    // `printTestResult` in `commands/test/output.go`.
    if entry.get("resources").is_some_and(Value::is_array) {
        for spec in entry.get("resourceSpecs").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let field = |key: &str| spec.get(key).and_then(Value::as_str).unwrap_or("");
            let api_version = match field("group") {
                "" => field("version").to_string(),
                group => format!("{group}/{}", field("version")),
            };
            out.push(ResourceRef {
                shown: format!("{}/{}", field("namespace"), field("name")),
                api_version: Some(api_version),
            });
        }
    }
    out
}

/// `name` matches any resource with that name; `ns/name` also checks the namespace.
fn resource_matches(resource: &Value, reference: &str) -> bool {
    // Called for every resource of every results entry: plain lookups, as `pointer` allocates per step.
    let metadata = resource.get("metadata");
    let field = |key: &str| metadata.and_then(|metadata| metadata.get(key)).and_then(Value::as_str).unwrap_or("");
    let (name, namespace) = (field("name"), field("namespace"));
    match reference.split_once('/') {
        Some((expected_namespace, expected_name)) => expected_namespace == namespace && expected_name == name,
        None => reference == name,
    }
}

/// Whether a patched target is the target resource, as `extractPatchedTargetFromEngineResponse` upstream
/// tells: the same apiVersion, kind and name, and the same namespace when the target names one.
fn same_object(patched: &Value, target: &Value) -> bool {
    fn field<'value>(value: &'value Value, pointer: &str) -> &'value str {
        value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
    }
    let namespace = field(target, "/metadata/namespace");
    ["/apiVersion", "/kind", "/metadata/name"].iter().all(|pointer| field(patched, pointer) == field(target, pointer))
        && (namespace.is_empty() || field(patched, "/metadata/namespace") == namespace)
}

fn collect_files(files: &dyn FileSource, path: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 {
        return;
    }
    if let Some(mut entries) = files.list_dir(path) {
        entries.sort();
        for entry in entries {
            let is_yaml = entry
                .extension()
                .and_then(|extension| extension.to_str())
                .is_some_and(|extension| matches!(extension, "yaml" | "yml" | "json"));
            if files.list_dir(&entry).is_some() {
                collect_files(files, &entry, out, depth + 1);
            } else if is_yaml {
                out.push(entry);
            }
        }
        return;
    }
    if files.read(path).is_ok() {
        out.push(path.to_path_buf());
    }
}

/// How the resource a rule answered with compares with the test's expected resource files.
enum FileCheck {
    Holds,
    /// `patchedResources` holds no resource of its apiVersion, kind, namespace and name (the CLI then skips
    /// the rule's row unless `failOnMissingResources`).
    PatchedMissing,
    Failed(Row),
}

/// `apiVersion/kind namespace/name` of a resource, for messages.
fn identity(resource: &Value) -> String {
    let field = |pointer: &str| resource.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    let namespace = field("/metadata/namespace");
    let name = field("/metadata/name");
    let object = if namespace.is_empty() { name.to_string() } else { format!("{namespace}/{name}") };
    format!("{}/{} {object}", field("/apiVersion"), field("/kind"))
}

enum Comparison {
    Equal,
    NotFound,
    /// A message for tables, and a unified diff (expected first) for editors.
    Different(String, Option<String>),
    Error(String),
}

/// Compares an actual resource with the document of the same apiVersion, kind, namespace and name in a file.
fn compare_with_file(files: &dyn FileSource, path: &Path, actual: &Value) -> Comparison {
    let documents = match files.documents(path) {
        Ok(documents) => documents,
        Err(error) => return Comparison::Error(format!("failed to load resource ({error})")),
    };
    let field = |value: &Value, pointer: &str| value.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string();
    let mut candidates: Vec<Value> = Vec::new();
    for document in documents {
        if document.value.is_null() {
            continue;
        }
        let mut value = document.yaml11_value();
        default_namespace(&mut value);
        candidates.push(value);
    }
    let wanted = (field(actual, "/apiVersion"), field(actual, "/kind"), field(actual, "/metadata/name"));
    let actual_namespace = field(actual, "/metadata/namespace");
    let expected = candidates.into_iter().find(|candidate| {
        (field(candidate, "/apiVersion"), field(candidate, "/kind"), field(candidate, "/metadata/name")) == wanted
            && (actual_namespace.is_empty()
                || field(candidate, "/metadata/namespace") == actual_namespace
                || field(candidate, "/metadata/namespace").is_empty())
    });
    let Some(expected) = expected else {
        return Comparison::NotFound;
    };
    if crate::engine::kyverno::go_text::equal_as_go_json(&tidy(actual, true), &tidy(&expected, true)) {
        Comparison::Equal
    } else {
        // Shown without the label the comparison gives both sides.
        let (normalized_actual, normalized_expected) = (tidy(actual, false), tidy(&expected, false));
        Comparison::Different(
            format!(
                "Patched resource didn't match the expected resource: expected {normalized_expected}, got {normalized_actual}"
            ),
            super::diff::resource_diff(&normalized_expected, &normalized_actual),
        )
    }
}

/// Normalizes a resource for comparison as the CLI does before it compares (`getAndCompareResource` in
/// `commands/test/compare.go` upstream): the top-level labels lose their `generate.kyverno.io/` entries and
/// get `app.kubernetes.io/managed-by: kyverno` unless they name another manager (`FixupGenerateLabels`);
/// then nulls, and maps and lists left empty, are dropped, list elements too (`Tidy`). Without
/// `fix_labels` the labels stay as written (for showing a difference). Numbers keep their form for the
/// message and the diff; the comparison reads them as floats.
fn tidy(value: &Value, fix_labels: bool) -> Value {
    fn walk(value: &Value) -> Option<Value> {
        match value {
            Value::Object(map) => {
                let out: Map<String, Value> =
                    map.iter().filter_map(|(key, child)| Some((key.clone(), walk(child)?))).collect();
                if out.is_empty() { None } else { Some(Value::Object(out)) }
            }
            Value::Array(items) => {
                let out: Vec<Value> = items.iter().filter_map(walk).collect();
                if out.is_empty() { None } else { Some(Value::Array(out)) }
            }
            Value::Null => None,
            other => Some(other.clone()),
        }
    }
    let mut fixed = value.clone();
    if let Some(object) = fixed.as_object_mut().filter(|_| fix_labels) {
        let metadata = object.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Some(metadata) = metadata.as_object_mut() {
            let mut labels = Map::new();
            labels.insert("app.kubernetes.io/managed-by".to_string(), Value::String("kyverno".to_string()));
            if let Some(existing) = metadata.get("labels").and_then(Value::as_object) {
                for (key, label) in existing {
                    if !key.starts_with("generate.kyverno.io/") {
                        labels.insert(key.clone(), label.clone());
                    }
                }
            }
            metadata.insert("labels".to_string(), Value::Object(labels));
        }
    }
    walk(&fixed).unwrap_or(Value::Null)
}

/// `apiVersion/Kind/namespace/name` of a resource, as kyverno's table prints it; a resource without a
/// namespace shows `default`, the namespace kyverno gives it.
fn resource_id(resource: &Value) -> String {
    let text = |pointer: &str| resource.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    let namespace = text("/metadata/namespace");
    let namespace = if namespace.is_empty() { "default" } else { namespace };
    format!("{}/{}/{}/{}", text("/apiVersion"), text("/kind"), namespace, text("/metadata/name"))
}
