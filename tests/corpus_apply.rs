//! Held-out agreement of `apply` with the corpus's own tests (opt-in: set POLICY_LSP_CORPUS to the corpus
//! root). For each kyverno/policies unit, the unit's policies (with its exceptions, values and user info)
//! are applied to its test resources, and every validate expectation of its `kyverno-test.yaml` (pass,
//! fail or skip per policy, rule and resource) is compared with what apply reports; a rule apply reports
//! nothing for (it does not match the resource) agrees only with `skip`. For each gatekeeper-library
//! suite, each case without inventory applies the test's template and constraint to the case's object
//! alone, and agrees when apply finds violations exactly when the case's assertions expect some. Prints
//! per-folder figures and an `apply-agreement: N/M` line; POLICY_LSP_CORPUS_VERBOSE=1 lists disagreements.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::corpus::{find_kyverno_tests, print_folder_line};
use policy_lsp::apply::{self, ApplyReport, Options, PreparedPolicies, Status, load::Loader};
use policy_lsp::engine::kyverno::policy_rules;
use policy_lsp::testrun::FileSource;
use policy_lsp::vfs::DiskFiles;
use serde_json::Value;

/// What an apply run is given.
struct Inputs {
    policies: Vec<PathBuf>,
    resources: Vec<PathBuf>,
    exceptions: Vec<PathBuf>,
    values: Value,
    user_info: Value,
    /// A Kyverno CLI Context document (`--context-file`).
    context: Value,
}

fn run_apply(files: &dyn FileSource, inputs: &Inputs) -> ApplyReport {
    let excluded = |_: &Path| false;
    let mut loader = Loader { files, excluded: &excluded, problems: Vec::new() };
    let documents = loader.policy_documents(&inputs.policies);
    let exceptions = loader.exceptions(&inputs.exceptions);
    let manifests = loader.manifests(&inputs.resources);
    let options = Options {
        values: inputs.values.clone(),
        user_info: inputs.user_info.clone(),
        context: inputs.context.clone(),
        now: files.current_time(),
        ..Options::default()
    };
    let policies = PreparedPolicies::new(&documents, &exceptions, &options);
    let mut report = apply::apply(&policies, manifests);
    report.problems.extend(loader.problems);
    report
}

#[derive(Default)]
struct Tally {
    agreed: usize,
    total: usize,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The first document of a file, with YAML 1.1 rules (Kubernetes objects, Kyverno CLI files) or 1.2
/// rules (gator suites, where `violations: yes` is the string "yes").
fn first_document(files: &dyn FileSource, path: &Path, yaml11: bool) -> Value {
    files
        .documents(path)
        .ok()
        .and_then(|documents| {
            documents
                .into_iter()
                .map(|document| if yaml11 { document.yaml11_value() } else { document.value.clone() })
                .find(|value| !value.is_null())
        })
        .unwrap_or(Value::Null)
}

/// Whether `rule` of `policy` validates (or the policy is a validating CEL kind).
fn is_validate_rule(policy: &Value, rule: &str) -> bool {
    let kind = policy.get("kind").and_then(Value::as_str).unwrap_or("");
    match kind {
        "ClusterPolicy" | "Policy" => policy_rules(policy).iter().any(|candidate| {
            let name = candidate.get("name").and_then(Value::as_str).unwrap_or("");
            let named = name == rule || name == format!("autogen-{rule}") || name == format!("autogen-cronjob-{rule}");
            named && candidate.get("validate").is_some()
        }),
        "ValidatingPolicy" | "NamespacedValidatingPolicy" | "ValidatingAdmissionPolicy" => true,
        _ => false,
    }
}

/// Compares one Kyverno test file's validate expectations with apply.
fn kyverno_unit(files: &dyn FileSource, test_path: &Path, tally: &mut Tally, verbose: bool, label: &str) {
    let base = test_path.parent().unwrap_or(Path::new("")).to_path_buf();
    let Ok(documents) = files.documents(test_path) else { return };
    for test in documents.iter().map(|document| document.yaml11_value()) {
        if test.get("kind").and_then(Value::as_str) != Some("Test") {
            continue;
        }
        let join = |key: &str| strings(test.get(key)).iter().map(|path| base.join(path)).collect::<Vec<_>>();
        let single = |key: &str| {
            test.get(key)
                .and_then(Value::as_str)
                .map(|path| first_document(files, &base.join(path), true))
                .unwrap_or(Value::Null)
        };
        let values = match test.get("values") {
            Some(values) if !values.is_null() => values.clone(),
            _ => single("variables"),
        };
        let inputs = Inputs {
            policies: join("policies"),
            resources: join("resources"),
            exceptions: join("exceptions"),
            values,
            user_info: single("userinfo"),
            context: single("context"),
        };
        if inputs.policies.is_empty() || inputs.resources.is_empty() {
            continue;
        }
        let report = run_apply(files, &inputs);
        let excluded = |_: &Path| false;
        let mut loader = Loader { files, excluded: &excluded, problems: Vec::new() };
        let policy_documents = loader.policy_documents(&inputs.policies);
        for entry in test.get("results").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let policy_field = entry.get("policy").and_then(Value::as_str).unwrap_or("");
            let policy_name = policy_field.rsplit('/').next().unwrap_or("");
            let rule = entry.get("rule").and_then(Value::as_str).unwrap_or("");
            let expected = entry.get("result").or_else(|| entry.get("status")).and_then(Value::as_str).unwrap_or("");
            let Some(policy) = policy_documents
                .iter()
                .map(|document| &document.value)
                .find(|value| value.pointer("/metadata/name").and_then(Value::as_str) == Some(policy_name))
            else {
                continue;
            };
            let rule_based = matches!(policy.get("kind").and_then(Value::as_str), Some("ClusterPolicy" | "Policy"));
            if !is_validate_rule(policy, if rule_based { rule } else { "" }) || (rule_based && rule.is_empty()) {
                continue;
            }
            for resource in strings(entry.get("resources")) {
                let (namespace, name) = match resource.split_once('/') {
                    Some((namespace, name)) => (Some(namespace.to_string()), name.to_string()),
                    None => (None, resource.clone()),
                };
                let manifests: Vec<usize> = report
                    .manifests
                    .iter()
                    .enumerate()
                    .filter(|(_, manifest)| {
                        manifest.id.name == name
                            && namespace.as_ref().is_none_or(|wanted| *wanted == manifest.id.namespace)
                    })
                    .map(|(index, _)| index)
                    .collect();
                if manifests.is_empty() {
                    continue;
                }
                for index in manifests {
                    let found: Vec<Status> = report
                        .results
                        .iter()
                        .filter(|result| result.manifest == index)
                        .filter(|result| result.policy.rsplit('/').next() == Some(policy_name))
                        .filter(|result| {
                            !rule_based
                                || result.rule.as_deref().is_some_and(|actual| {
                                    actual == rule
                                        || actual == format!("autogen-{rule}")
                                        || actual == format!("autogen-cronjob-{rule}")
                                })
                        })
                        .map(|result| result.status)
                        .collect();
                    let actual = match found.as_slice() {
                        [] => "none".to_string(),
                        statuses => {
                            let worst = statuses.iter().max_by_key(|status| match status {
                                Status::Skip => 0,
                                Status::Pass => 1,
                                Status::Warn => 2,
                                Status::Fail => 3,
                                Status::Error => 4,
                                Status::Unsupported => 5,
                            });
                            worst.map_or("none", |status| status.as_str()).to_string()
                        }
                    };
                    let agrees = actual == expected || (actual == "none" && expected == "skip");
                    tally.total += 1;
                    if agrees {
                        tally.agreed += 1;
                    } else if verbose {
                        eprintln!(
                            "DISAGREE {label} | {policy_name} / {rule} / {resource}: expected {expected} got {actual}"
                        );
                    }
                }
            }
        }
    }
}

/// Whether a gator case's assertions expect violations.
fn expects_violations(case: &Value) -> bool {
    strings_or_values(case.get("assertions")).iter().any(|assertion| match assertion.get("violations") {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text == "yes",
        Some(Value::Number(number)) => number.as_u64().is_some_and(|count| count > 0),
        Some(_) => false,
    })
}

fn strings_or_values(value: Option<&Value>) -> Vec<Value> {
    value.and_then(Value::as_array).cloned().unwrap_or_default()
}

/// Compares one gator suite's cases without inventory with apply.
fn gatekeeper_suite(files: &dyn FileSource, suite_path: &Path, tally: &mut Tally, verbose: bool, label: &str) {
    let base = suite_path.parent().unwrap_or(Path::new("")).to_path_buf();
    let suite = first_document(files, suite_path, false);
    for test in strings_or_values(suite.get("tests")) {
        let path = |key: &str| test.get(key).and_then(Value::as_str).map(|relative| base.join(relative));
        let (Some(template), Some(constraint)) = (path("template"), path("constraint")) else { continue };
        let mut policies = vec![template, constraint];
        policies.extend(path("expansion"));
        for case in strings_or_values(test.get("cases")) {
            let has_inventory = case.get("inventory").and_then(Value::as_array).is_some_and(|items| !items.is_empty());
            let Some(object) = case.get("object").and_then(Value::as_str) else { continue };
            if has_inventory || case.get("skip").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let inputs = Inputs {
                policies: policies.clone(),
                resources: vec![base.join(object)],
                exceptions: Vec::new(),
                values: Value::Null,
                user_info: Value::Null,
                context: Value::Null,
            };
            let report = run_apply(files, &inputs);
            let violated = report.results.iter().any(|result| matches!(result.status, Status::Fail | Status::Warn));
            let expected = expects_violations(&case);
            tally.total += 1;
            if violated == expected && report.results.iter().all(|result| result.status != Status::Unsupported) {
                tally.agreed += 1;
            } else if verbose {
                let case_name = case.get("name").and_then(Value::as_str).unwrap_or("");
                let statuses: Vec<String> = report
                    .results
                    .iter()
                    .map(|result| format!("{} {}", result.status.as_str(), result.message))
                    .chain(report.problems.iter().map(|problem| format!("problem {}", problem.message)))
                    .collect();
                eprintln!("DISAGREE {label} | {case_name}: expected violations {expected}, got {statuses:?}");
            }
        }
    }
}

fn find_named(directory: &Path, file_name: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else { return };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            find_named(&entry, file_name, found);
        } else if entry.file_name().is_some_and(|name| name == file_name) {
            found.push(entry);
        }
    }
}

#[test]
fn apply_agrees_with_the_corpus_tests() {
    let Ok(root) = std::env::var("POLICY_LSP_CORPUS") else {
        eprintln!("POLICY_LSP_CORPUS is not set: skipping the apply agreement run");
        return;
    };
    let verbose = std::env::var("POLICY_LSP_CORPUS_VERBOSE").is_ok();
    let filter = std::env::var("POLICY_LSP_CORPUS_FILTER").unwrap_or_default();
    let files = DiskFiles::default();
    let mut per_folder: BTreeMap<String, Tally> = BTreeMap::new();
    let kyverno = Path::new(&root).join("kyverno-policies");
    for test in find_kyverno_tests(&kyverno) {
        let relative = test.strip_prefix(&kyverno).unwrap_or(&test).to_path_buf();
        if !relative.to_string_lossy().contains(&filter) {
            continue;
        }
        let folder = relative.components().next().map(|part| part.as_os_str().to_string_lossy().to_string());
        let tally = per_folder.entry(format!("kyverno/{}", folder.unwrap_or_default())).or_default();
        kyverno_unit(&files, &test, tally, verbose, &relative.display().to_string());
    }
    let library = Path::new(&root).join("gatekeeper-library");
    let mut suites = Vec::new();
    find_named(&library, "suite.yaml", &mut suites);
    for suite in suites {
        let relative = suite.strip_prefix(&library).unwrap_or(&suite).to_path_buf();
        if !relative.to_string_lossy().contains(&filter) {
            continue;
        }
        let folder: Vec<String> =
            relative.components().take(2).map(|part| part.as_os_str().to_string_lossy().to_string()).collect();
        let tally = per_folder.entry(format!("gatekeeper/{}", folder.join("/"))).or_default();
        gatekeeper_suite(&files, &suite, tally, verbose, &relative.display().to_string());
    }
    let (mut agreed, mut total) = (0, 0);
    for (folder, tally) in &per_folder {
        if tally.total > 0 {
            print_folder_line(folder, tally.agreed, tally.total);
        }
        agreed += tally.agreed;
        total += tally.total;
    }
    println!("apply-agreement: {agreed}/{total}");
    assert!(total > 0, "the corpus run found no cases");
}

/// One `gator test` invocation of gatekeeper's `test/gator/test/test.bats` and what the suite expects of it.
struct GatorBatsCase {
    /// The bats test's name.
    name: &'static str,
    /// The `--filename` arguments, relative to `test/fixtures`: gator reads templates, constraints and
    /// objects from the same files, so apply gets them both as policy paths and as resources.
    files: &'static [&'static str],
    /// A manifest file gator reads from standard input, relative to `test/fixtures`.
    stdin: Option<&'static str>,
    /// Whether gator exits non-zero.
    fails: bool,
    /// A violation message the suite checks for in the output.
    message: Option<&'static str>,
}

const PROBES: &str = "Container <tomcat> in your <Pod> <test-pod1> has no <readinessProbe>";

/// The `gator test` cases of test.bats that name their inputs as files (the ones that feed policies on
/// standard input, pull OCI images or check gator's own flag handling have no apply counterpart).
const GATOR_BATS_CASES: &[GatorBatsCase] = &[
    GatorBatsCase {
        name: "manifest with no violations included as flag returns 0 exit status",
        files: &["manifests/with-policies/no-violations.yaml"],
        stdin: None,
        fails: false,
        message: None,
    },
    GatorBatsCase {
        name: "manifest with violations included as flag returns 1 exit status",
        files: &["manifests/with-policies/with-violations.yaml"],
        stdin: None,
        fails: true,
        message: Some(PROBES),
    },
    GatorBatsCase {
        name: "manifest with rego v1 template and violations included as flag returns 1 exit status",
        files: &["manifests/with-policies/with-violations-rego-v1.yaml"],
        stdin: None,
        fails: true,
        message: None,
    },
    GatorBatsCase {
        name: "multiple files passed in flags is supported",
        files: &["manifests/no-policies/with-violations.yaml", "policies/default"],
        stdin: None,
        fails: true,
        message: Some(PROBES),
    },
    GatorBatsCase {
        name: "stdin and flag are supported in combination",
        files: &["policies/default"],
        stdin: Some("manifests/no-policies/with-violations.yaml"),
        fails: true,
        message: Some(PROBES),
    },
    GatorBatsCase {
        name: "correctly returns no violations from objects in a filesystem",
        files: &["policies/default", "manifests/no-policies/no-violations.yaml"],
        stdin: None,
        fails: false,
        message: None,
    },
    GatorBatsCase {
        name: "correctly finds violations from objects in a filesystem",
        files: &["policies/default", "manifests/no-policies/with-violations.yaml"],
        stdin: None,
        fails: true,
        message: None,
    },
    GatorBatsCase {
        name: "disallows invalid template",
        files: &["manifests/invalid-resources/template.yaml"],
        stdin: None,
        fails: true,
        message: None,
    },
    GatorBatsCase {
        name: "disallows invalid constraint",
        files: &["manifests/invalid-resources/constraint.yaml"],
        stdin: None,
        fails: true,
        message: None,
    },
    GatorBatsCase {
        name: "correctly ingests files of different extensions, skipping bad extensions",
        files: &["manifests/different-extensions"],
        stdin: None,
        fails: true,
        message: Some(PROBES),
    },
    GatorBatsCase {
        name: "enforcementAction=deny causes 1 exit status and violations output",
        files: &[
            "policies/default/template_k8srequiredprobes.yaml",
            "policies/enforcement_action/k8srequiredprobes/deny.yaml",
            "manifests/no-policies/with-violations.yaml",
        ],
        stdin: None,
        fails: true,
        message: Some(PROBES),
    },
    GatorBatsCase {
        name: "enforcementAction=[anything else] causes 0 exit status and violations output",
        files: &[
            "policies/default/template_k8srequiredprobes.yaml",
            "policies/enforcement_action/k8srequiredprobes/foo.yaml",
            "manifests/no-policies/with-violations.yaml",
        ],
        stdin: None,
        fails: false,
        message: Some(PROBES),
    },
    GatorBatsCase {
        name: "referential data causes violation",
        files: &["policies/default", "manifests/referential-data"],
        stdin: None,
        fails: true,
        message: Some("ingress host conflicts with an existing ingress <example-host.example.com>"),
    },
];

/// Runs the CLI as `gator test` is run in gatekeeper's test.bats and compares the exit status (failing or
/// not) and the violation message the suite looks for. Prints `apply-gator-bats: N/M`.
#[test]
fn apply_agrees_with_gators_bats_suite() {
    let Ok(root) = std::env::var("POLICY_LSP_CORPUS") else {
        eprintln!("POLICY_LSP_CORPUS is not set: skipping the gator bats comparison");
        return;
    };
    let fixtures = Path::new(&root).join("real-world/gator-tests/test/fixtures");
    let mut agreed = 0;
    for case in GATOR_BATS_CASES {
        let mut command = std::process::Command::new(crate::support::POLICY_LSP);
        command.arg("apply").args(case.files).arg("--output").arg("json").current_dir(&fixtures);
        for file in case.files {
            command.arg("--resource").arg(file);
        }
        let input = match case.stdin {
            Some(file) => {
                command.arg("--resource").arg("-");
                std::fs::File::open(fixtures.join(file)).map(std::process::Stdio::from).expect("the stdin fixture")
            }
            None => std::process::Stdio::null(),
        };
        let output = command.stdin(input).output().expect("the binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let failed = output.status.code() != Some(0);
        let message_found = case.message.is_none_or(|message| stdout.contains(message));
        if failed == case.fails && message_found {
            agreed += 1;
        } else {
            eprintln!(
                "DISAGREE gator bats | {}: expected failing {}, got exit {:?}; message found {message_found}\n{stdout}",
                case.name,
                case.fails,
                output.status.code()
            );
        }
    }
    println!("apply-gator-bats: {agreed}/{}", GATOR_BATS_CASES.len());
}
