//! Cross-file checks of test files: Kyverno Test and gator Suite paths that do not exist, and policy, rule
//! and resource names that the referenced files do not define.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::types::{normalize_path, span_range};
use super::workspace::Workspace;
use crate::base::{Code, Diagnostic, Severity};
use crate::model::{DocumentInfo, DocumentKind, POD_CONTROLLER_KINDS, classify};
use crate::schema::Target;
use crate::syntax::{ParsedDocument, Segment, parse_file};
use crate::testrun::FileError;

pub(super) fn reference_diagnostics(
    workspace: &Workspace,
    path: &Path,
    segment: &Segment,
    info: &DocumentInfo,
    out: &mut Vec<Diagnostic>,
) {
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let checker = Checker { workspace, path, base_dir, segment, parsed: &segment.parsed };
    match info.kind {
        DocumentKind::KyvernoTest => checker.kyverno_test(out),
        DocumentKind::GatorSuite => checker.gator_suite(out),
        _ => {}
    }
}

struct Checker<'a> {
    workspace: &'a Workspace,
    path: &'a Path,
    base_dir: PathBuf,
    segment: &'a Segment,
    parsed: &'a ParsedDocument,
}

/// A loaded document of a referenced file.
pub(super) struct Loaded {
    value: Value,
    info: DocumentInfo,
}

impl Checker<'_> {
    fn diagnostic(&self, code: Code, pointer: &str, message: String) -> Diagnostic {
        Diagnostic::new(code, span_range(self.segment, pointer, Target::Value), message)
    }

    fn resolve(&self, reference: &str) -> PathBuf {
        normalize_path(&self.base_dir.join(reference))
    }

    /// Checks that a referenced path exists; returns the documents of the file(s) it names.
    fn check_path(&self, pointer: &str, allow_dir: bool, out: &mut Vec<Diagnostic>) -> Option<Vec<Loaded>> {
        let reference = self.parsed.value.pointer(pointer)?.as_str()?;
        if reference.starts_with("http://") || reference.starts_with("https://") {
            let message =
                format!("`{reference}` is a remote reference: policy-lsp works offline and does not fetch it");
            out.push(self.diagnostic(Code::TestRemoteReference, pointer, message));
            return None;
        }
        let resolved = self.resolve(reference);
        if let Some(documents) = self.workspace.loaded_documents(&resolved) {
            return Some(documents);
        }
        match self.workspace.disk.read(&resolved) {
            Ok(text) => return Some(load_documents(&text)),
            Err(error @ FileError::OutsideWorkspace { .. }) => {
                out.push(self.diagnostic(Code::TestOutsideWorkspace, pointer, error.to_string()));
                return None;
            }
            Err(_) => {}
        }
        if allow_dir && self.workspace.is_dir(&resolved) {
            return Some(self.load_dir(&resolved));
        }
        // Chainsaw e2e folders are often left out when policies are packaged or copied; say so, as a warning.
        let in_chainsaw_folder = resolved
            .components()
            .any(|component| component.as_os_str().to_string_lossy().starts_with(".chainsaw-test"));
        // A repository that ships its policies as a Helm chart renders them for its tests (`helm template` into
        // the file the test names, removed afterwards): the policy is missing only until then.
        let rendering_chart = if pointer.starts_with("/policies/") { self.nearby_helm_chart() } else { None };
        let (severity, message) = if in_chainsaw_folder {
            let message = format!(
                "`{reference}` does not exist (looked for {}); it belongs to a chainsaw e2e folder that is not present here, so this test cannot load it",
                resolved.display()
            );
            (Severity::Warning, message)
        } else if let Some(chart) = rendering_chart {
            let message = format!(
                "`{reference}` does not exist (looked for {}); this repository has a Helm chart ({}), so the policy is \
                 probably rendered there before the test runs: render it (`helm template`) to check the test",
                resolved.display(),
                chart.display()
            );
            (Severity::Warning, message)
        } else {
            (Severity::Error, format!("`{reference}` does not exist (looked for {})", resolved.display()))
        };
        out.push(self.diagnostic(Code::TestMissingFile, pointer, message).with_severity(severity));
        None
    }

    /// The `Chart.yaml` of a Helm chart in a folder above the test, or in a folder beside one of them (a
    /// repository's `chart/`), looking no further than the workspace.
    fn nearby_helm_chart(&self) -> Option<PathBuf> {
        for folder in self.base_dir.ancestors() {
            // The disk answers `None` outside the workspace, where the search stops.
            let entries = self.workspace.disk.list_dir(folder)?;
            let charts = std::iter::once(folder.to_path_buf()).chain(entries);
            if let Some(manifest) =
                charts.map(|chart| chart.join("Chart.yaml")).find(|manifest| self.workspace.read(manifest).is_some())
            {
                return Some(manifest);
            }
        }
        None
    }

    fn load_dir(&self, directory: &Path) -> Vec<Loaded> {
        let mut documents = Vec::new();
        let mut stack = vec![directory.to_path_buf()];
        let mut visited = 0;
        while let Some(current) = stack.pop() {
            visited += 1;
            if visited > 1000 {
                break;
            }
            for entry in self.workspace.disk.list_dir(&current).unwrap_or_default() {
                let is_yaml = entry.extension().is_some_and(|extension| extension == "yaml" || extension == "yml");
                if is_yaml {
                    if let Some(loaded) = self.workspace.loaded_documents(&entry) {
                        documents.extend(loaded);
                    } else if let Some(text) = self.workspace.read(&entry) {
                        documents.extend(load_documents(&text));
                    }
                } else if self.workspace.disk.list_dir(&entry).is_some() {
                    stack.push(entry);
                }
            }
        }
        documents
    }

    fn kyverno_test(&self, out: &mut Vec<Diagnostic>) {
        let value = &self.parsed.value;
        let mut policies = Vec::new();
        let mut policies_known = true;
        for (index, _) in array(value, "policies").iter().enumerate() {
            match self.check_path(&format!("/policies/{index}"), true, out) {
                Some(documents) => policies.extend(documents),
                None => policies_known = false,
            }
        }
        let mut resources = Vec::new();
        let mut resources_known = true;
        for (index, _) in array(value, "resources").iter().enumerate() {
            match self.check_path(&format!("/resources/{index}"), true, out) {
                Some(documents) => resources.extend(documents),
                None => resources_known = false,
            }
        }
        for key in ["exceptions", "clusterResources", "paramResources"] {
            for (index, _) in array(value, key).iter().enumerate() {
                self.check_path(&format!("/{key}/{index}"), true, out);
            }
        }
        // A mutate-existing result names the target it patches, from `targetResources`.
        let mut targets = Vec::new();
        let mut targets_known = true;
        for (index, _) in array(value, "targetResources").iter().enumerate() {
            match self.check_path(&format!("/targetResources/{index}"), true, out) {
                Some(documents) => targets.extend(documents),
                None => targets_known = false,
            }
        }
        for (index, _) in array(value, "jsonPayloads").iter().enumerate() {
            self.check_path(&format!("/jsonPayloads/{index}"), false, out);
        }
        for key in ["context", "jsonPayload"] {
            self.check_path(&format!("/{key}"), false, out);
        }
        // Values and user infos in the format before Kyverno 1.11 stop `kyverno test`
        // (`cmd/cli/kubectl-kyverno/deprecations/check.go`, `CheckValues` and `CheckUserInfo`).
        for (key, kind) in [("variables", "Values"), ("userinfo", "UserInfo")] {
            let pointer = format!("/{key}");
            let Some(documents) = self.check_path(&pointer, false, out) else { continue };
            let legacy = documents.first().is_some_and(|document| {
                ["apiVersion", "kind"]
                    .iter()
                    .any(|field| document.value.get(*field).and_then(Value::as_str).is_none_or(str::is_empty))
            });
            if legacy {
                let message = format!(
                    "`kyverno test` refuses this file: it has no apiVersion and kind (the format before Kyverno 1.11); \
                     add `apiVersion: cli.kyverno.io/v1alpha1` and `kind: {kind}` to it"
                );
                out.push(self.diagnostic(Code::TestLegacyFormat, &pointer, message));
            }
        }
        // A test embedded beside its policy leaves out `policies` / `resources`: its own file fills them in.
        let embedded_policies = value.get("policies").is_none();
        let embedded_resources = value.get("resources").is_none();
        if embedded_policies {
            policies = self.own_documents(|info| info.kind.is_kyverno_policy());
        }
        if embedded_resources {
            resources = self.own_documents(|info| {
                !info.kind.is_kyverno_policy()
                    && !matches!(
                        info.kind,
                        DocumentKind::KyvernoTest
                            | DocumentKind::KyvernoValues
                            | DocumentKind::KyvernoUserInfo
                            | DocumentKind::KyvernoContext
                            | DocumentKind::KyvernoPolicyException
                            | DocumentKind::Other
                    )
            });
        }
        let policies_source = if embedded_policies { "this file" } else { "the files listed under `policies`" };
        let resources_source = match (embedded_resources, targets.is_empty()) {
            (true, _) => "this file",
            (false, true) => "the files listed under `resources`",
            (false, false) => "the files listed under `resources` and `targetResources`",
        };
        if embedded_policies && policies.is_empty() {
            let message = "this Test lists no `policies` and its file holds no policy to fill them in".to_string();
            out.push(self.diagnostic(Code::TestEmbeddedNeverMatches, "/kind", message).with_severity(Severity::Error));
        }
        let check_policies = policies_known && (embedded_policies || !array(value, "policies").is_empty());
        let check_resources =
            resources_known && targets_known && (embedded_resources || !array(value, "resources").is_empty());
        let all_policy_names: HashSet<String> = policies.iter().flat_map(policy_names).collect();
        let mut resource_names: HashSet<String> =
            resources.iter().chain(targets.iter()).flat_map(resource_names).collect();
        // Results name JSON payloads as the test lists them.
        resource_names.extend(
            array(value, "jsonPayloads")
                .iter()
                .chain(value.get("jsonPayload"))
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
        if array(value, "results").is_empty() {
            // kyverno skips a Test that has nothing to check (`commands/test/command.go`), and passes.
            let pointer = if value.get("results").is_some() { "/results" } else { "/kind" };
            let message = "this Test has no `results`: `kyverno test` skips it and checks nothing".to_string();
            out.push(self.diagnostic(Code::TestNoResults, pointer, message));
        }
        for (index, result) in array(value, "results").iter().enumerate() {
            let result_pointer = format!("/results/{index}");
            if check_policies && let Some(policy) = result.get("policy").and_then(Value::as_str) {
                match policies.iter().find(|loaded| policy_names(loaded).iter().any(|name| name == policy)) {
                    None if !all_policy_names.contains(policy) => {
                        let message = format!("policy `{policy}` is not defined in {policies_source}");
                        out.push(self.diagnostic(
                            Code::TestUnknownPolicy,
                            &format!("{result_pointer}/policy"),
                            message,
                        ));
                    }
                    Some(loaded) => self.check_rule(loaded, result, &result_pointer, out),
                    None => {}
                }
            }
            if check_resources {
                for (resource_index, resource) in
                    result.get("resources").and_then(Value::as_array).into_iter().flatten().enumerate()
                {
                    let Some(resource) = resource.as_str() else { continue };
                    if !resource_names.contains(resource) {
                        let message = format!("resource `{resource}` is not defined in {resources_source}");
                        let pointer = format!("{result_pointer}/resources/{resource_index}");
                        out.push(self.diagnostic(Code::TestUnknownResource, &pointer, message));
                    }
                }
            }
            if embedded_policies || embedded_resources {
                self.check_embedded_match(result, &result_pointer, &policies, &resources, out);
            }
        }
    }

    /// The documents of the test's own file that `keep` accepts (it never accepts the Test itself).
    fn own_documents(&self, keep: impl Fn(&DocumentInfo) -> bool) -> Vec<Loaded> {
        self.workspace
            .loaded_documents(self.path)
            .unwrap_or_default()
            .into_iter()
            .filter(|loaded| keep(&loaded.info))
            .collect()
    }

    /// For a test embedded beside its policy: flags a result whose resources the named rule can never
    /// match, because the rule's `match` names other kinds. Such a result is reported as skipped by
    /// kyverno whatever it expects, so it never tests anything.
    fn check_embedded_match(
        &self,
        result: &Value,
        result_pointer: &str,
        policies: &[Loaded],
        resources: &[Loaded],
        out: &mut Vec<Diagnostic>,
    ) {
        let Some(policy_name) = result.get("policy").and_then(Value::as_str) else { return };
        let Some(policy) = policies.iter().find(|loaded| policy_names(loaded).iter().any(|name| name == policy_name))
        else {
            return;
        };
        if policy.info.kind != DocumentKind::KyvernoPolicy {
            return;
        }
        let wanted_rule = result.get("rule").and_then(Value::as_str);
        let rules: Vec<&Value> = policy
            .value
            .pointer("/spec/rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|rule| wanted_rule.is_none_or(|wanted| rule.get("name").and_then(Value::as_str) == Some(wanted)))
            .collect();
        let Some(kinds) = rules.iter().map(|rule| matched_kinds(rule)).try_fold(Vec::new(), |mut all, kinds| {
            all.extend(kinds?);
            Some(all)
        }) else {
            return;
        };
        if rules.is_empty() || kinds.is_empty() {
            return;
        }
        for (resource_index, reference) in
            result.get("resources").and_then(Value::as_array).into_iter().flatten().enumerate()
        {
            let Some(reference) = reference.as_str() else { continue };
            let Some(resource) =
                resources.iter().find(|loaded| resource_names(loaded).iter().any(|name| name == reference))
            else {
                continue;
            };
            let kind = resource.info.kind_name.as_str();
            if kinds.iter().any(|matched| kind_matches(matched, kind)) {
                continue;
            }
            let rule_text = match wanted_rule {
                Some(rule) => format!("rule `{rule}`"),
                None => format!("policy `{policy_name}`"),
            };
            let message = format!(
                "`{reference}` is a {kind}, but {rule_text} matches only {}: this result can never match, and kyverno reports it skipped whatever it expects",
                kinds.join(", ")
            );
            out.push(self.diagnostic(
                Code::TestEmbeddedNeverMatches,
                &format!("{result_pointer}/resources/{resource_index}"),
                message,
            ));
        }
    }

    fn check_rule(&self, policy: &Loaded, result: &Value, result_pointer: &str, out: &mut Vec<Diagnostic>) {
        let Some(rule) = result.get("rule").and_then(Value::as_str) else {
            return;
        };
        if policy.info.kind != DocumentKind::KyvernoPolicy {
            return;
        }
        let rules: Vec<&str> = policy
            .value
            .pointer("/spec/rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|rule| rule.get("name").and_then(Value::as_str))
            .collect();
        let base_rule = rule.strip_prefix("autogen-cronjob-").or_else(|| rule.strip_prefix("autogen-")).unwrap_or(rule);
        if rules.contains(&rule) || rules.contains(&base_rule) {
            return;
        }
        // kyverno reports a result for an unknown rule as excluded (it passes whatever was expected), so this
        // is a warning: the expectation is never checked.
        let suggestion = crate::schema::closest(rule, rules.iter().copied());
        let mut message = format!(
            "rule `{rule}` is not in policy `{}`; kyverno never checks this result",
            policy.info.name.as_deref().unwrap_or("")
        );
        if let Some(suggestion) = suggestion {
            message.push_str(&format!("; did you mean `{suggestion}`?"));
        }
        out.push(self.diagnostic(Code::TestUnknownRule, &format!("{result_pointer}/rule"), message));
    }

    fn gator_suite(&self, out: &mut Vec<Diagnostic>) {
        for (test_index, test) in array(&self.parsed.value, "tests").iter().enumerate() {
            let test_pointer = format!("/tests/{test_index}");
            let template = self.check_path(&format!("{test_pointer}/template"), false, out);
            let constraint = self.check_path(&format!("{test_pointer}/constraint"), false, out);
            self.check_path(&format!("{test_pointer}/expansion"), false, out);
            let template_kind = template.as_ref().and_then(|documents| {
                documents.iter().find_map(|document| {
                    document.value.pointer("/spec/crd/spec/names/kind")?.as_str().map(str::to_string)
                })
            });
            let constraint_kind = constraint
                .as_ref()
                .and_then(|documents| documents.first())
                .map(|document| document.info.kind_name.clone());
            if let (Some(template_kind), Some(constraint_kind)) = (template_kind, constraint_kind)
                && template_kind != constraint_kind
            {
                let message =
                    format!("the constraint is a `{constraint_kind}` but the template defines `{template_kind}`");
                out.push(self.diagnostic(Code::TestKindMismatch, &format!("{test_pointer}/constraint"), message));
            }
            for (case_index, case) in test.get("cases").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let case_pointer = format!("{test_pointer}/cases/{case_index}");
                self.check_path(&format!("{case_pointer}/object"), false, out);
                for (inventory_index, _) in
                    case.get("inventory").and_then(Value::as_array).into_iter().flatten().enumerate()
                {
                    self.check_path(&format!("{case_pointer}/inventory/{inventory_index}"), false, out);
                }
            }
        }
    }
}

impl Workspace {
    /// The non-empty documents of a file the workspace holds, without parsing it again.
    fn loaded_documents(&self, path: &Path) -> Option<Vec<Loaded>> {
        let file = self.files.get(path)?;
        Some(
            file.source
                .segments()
                .iter()
                .zip(&file.documents)
                .filter(|(segment, _)| !segment.parsed.value.is_null())
                .map(|(segment, info)| Loaded { value: segment.parsed.value.clone(), info: info.clone() })
                .collect(),
        )
    }
}

/// The kinds a rule's `match` names, or `None` when it matches without naming kinds (by selectors
/// alone), so nothing can be concluded.
fn matched_kinds(rule: &Value) -> Option<Vec<String>> {
    let matcher = rule.get("match")?;
    let mut blocks: Vec<&Value> = Vec::new();
    for key in ["any", "all"] {
        blocks.extend(array(matcher, key).iter());
    }
    if blocks.is_empty() {
        blocks.push(matcher);
    }
    let mut kinds = Vec::new();
    for block in blocks {
        let named: Vec<String> = block
            .pointer("/resources/kinds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        if named.is_empty() {
            return None;
        }
        kinds.extend(named);
    }
    Some(kinds)
}

/// Whether a `kinds:` entry (`Kind`, `group/version/Kind`, `Kind/subresource`, wildcards) takes a resource
/// of `kind`, counting the Pod controllers that Kyverno's autogen adds to Pod rules.
fn kind_matches(entry: &str, kind: &str) -> bool {
    let entry = entry.split('/').rfind(|part| part.chars().next().is_some_and(char::is_uppercase) || *part == "*");
    let Some(entry) = entry else { return true };
    if entry == "*" || entry.contains('*') || entry.contains('?') || entry == kind {
        return true;
    }
    entry == "Pod" && POD_CONTROLLER_KINDS.contains(&kind)
}

fn array<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn load_documents(text: &str) -> Vec<Loaded> {
    parse_file(text)
        .into_iter()
        .filter(|document| !document.value.is_null())
        .map(|document| {
            let info = classify(&document.value);
            Loaded { value: document.value.clone(), info }
        })
        .collect()
}

/// The names a test result may use for a policy: `name`, and `namespace/name` for namespaced kinds.
fn policy_names(policy: &Loaded) -> Vec<String> {
    let Some(name) = policy.info.name.clone() else { return Vec::new() };
    match &policy.info.namespace {
        Some(namespace) => vec![format!("{namespace}/{name}"), name],
        None => vec![name],
    }
}

/// The names a test result may use for a resource: `name` and `namespace/name` (the namespace defaults to
/// `default`, as kyverno does).
fn resource_names(resource: &Loaded) -> Vec<String> {
    let Some(name) = resource.info.name.clone() else { return Vec::new() };
    let namespace = resource.info.namespace.clone().unwrap_or_else(|| "default".to_string());
    vec![format!("{namespace}/{name}"), name]
}
