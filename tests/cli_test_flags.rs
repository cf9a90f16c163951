//! `policy-lsp test` as a drop-in for `kyverno test` and `gator verify`: their flags, their exit codes, and
//! the network-only flags refused with the offline alternative.

use crate::cli::{check, run, write_fixture};
use crate::inline_tests::OWNER_SUITE;
use expect_test::expect;

/// A Kyverno test whose two results agree with the policy, and a third entry naming a rule the policy does
/// not have (kyverno reports it as excluded, which passes).
const KYVERNO_TESTS: &str = r#"
#- /k/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  rules:
    - name: check-team
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: "label team is required"
        pattern:
          metadata:
            labels:
              team: "?*"
#- /k/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: no-team
spec:
  containers:
    - name: c
      image: nginx:1.27
---
apiVersion: v1
kind: Pod
metadata:
  name: with-team
  labels:
    team: a
spec:
  containers:
    - name: c
      image: nginx:1.27
#- /k/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-team
policies: [policy.yaml]
resources: [resources.yaml]
results:
  - policy: require-team
    rule: check-team
    resources: [no-team]
    result: fail
  - policy: require-team
    rule: check-team
    resources: [with-team]
    result: pass
  - policy: require-team
    rule: check-tema
    resources: [with-team]
    result: pass
"#;

/// The `(policy, resource, outcome)` of each result of a JSON run.
fn json_results(stdout: &str) -> Vec<(String, String, String)> {
    let report: serde_json::Value = serde_json::from_str(stdout).expect("one JSON document");
    report["results"]
        .as_array()
        .expect("a results list")
        .iter()
        .map(|result| {
            let field = |name: &str| result[name].as_str().unwrap_or_default().to_string();
            (field("policy"), field("resource"), field("outcome"))
        })
        .collect()
}

#[test]
fn problems_kyverno_tolerates_are_warnings_and_strict_fails_on_them() {
    let directory = write_fixture("flags-strict", KYVERNO_TESTS);
    let (code, stdout, stderr) = run(&directory, &["test", "k"], None);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout
            .contains("k/kyverno-test.yaml:17:5: warning: results[2]: policy `require-team` has no rule `check-tema`"),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning: 1 test-file problem that kyverno tolerates (--strict fails on them)"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&directory, &["test", "k", "--strict"], None);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("error: 1 test-file warning that --strict fails on"), "{stderr}");
    let (_, stdout, _) = run(&directory, &["test", "k", "--output", "json"], None);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["summary"]["warnings"], 1);
    assert_eq!(report["summary"]["errors"], 0);
    assert_eq!(report["problems"][0]["severity"], "warning");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn no_test_files_pass_with_a_warning_unless_tests_are_required() {
    // A .rego file without `test_` rules is a policy, not a folder of Rego tests.
    let fixture = "#- /empty/readme.yaml\na: b\n#- /empty/policy.rego\npackage empty\n\nallow := true\n";
    let directory = write_fixture("flags-require-tests", fixture);
    let (code, stdout, stderr) = run(&directory, &["test", "empty"], None);
    assert_eq!((code, stdout.as_str()), (Some(0), ""));
    assert!(stderr.starts_with("warning: no Kyverno test files"), "{stderr}");
    assert!(stderr.contains("or Rego tests (`test_` rules in .rego files)"), "{stderr}");
    // A JSON run still prints one (empty) document.
    let (code, stdout, _) = run(&directory, &["test", "empty", "--output", "json"], None);
    assert_eq!(code, Some(0));
    assert_eq!(json_results(&stdout), vec![]);
    let (code, _, stderr) = run(&directory, &["test", "empty", "--require-tests"], None);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("(--require-tests)"), "{stderr}");
    // A path that does not exist stays a usage error.
    let (code, _, _) = run(&directory, &["test", "missing"], None);
    assert_eq!(code, Some(2));
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn the_test_case_selector_keeps_the_results_its_globs_match() {
    let directory = write_fixture("flags-selector", KYVERNO_TESTS);
    let (code, stdout, _) =
        run(&directory, &["test", "k", "-t", "policy=require-*,resource=with-*", "--output", "json"], None);
    assert_eq!(code, Some(0));
    let expected = vec![
        ("require-team".to_string(), "with-team".to_string(), "pass".to_string()),
        ("require-team".to_string(), "with-team".to_string(), "pass".to_string()),
    ];
    assert_eq!(json_results(&stdout), expected);
    let (_, stdout, _) = run(&directory, &["test", "k", "--test-case-selector", "rule=check-team", "-o", "json"], None);
    assert_eq!(json_results(&stdout).len(), 2);
    let (_, stdout, _) = run(&directory, &["test", "k", "-t", "policy=other", "-o", "json"], None);
    assert_eq!(json_results(&stdout), vec![]);
    // A selector kyverno would only print an error for is refused, so a typo cannot widen a CI job.
    let (code, _, stderr) = run(&directory, &["test", "k", "-t", "polcy=require-team"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("`polcy` is not a field; use policy, rule or resource"), "{stderr}");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn output_format_and_file_name_take_kyverno_spellings() {
    let directory = write_fixture("flags-output", KYVERNO_TESTS);
    let (code, stdout, _) = run(&directory, &["test", "k", "-o", "yaml"], None);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("summary:\n  passed: 3\n  failed: 0\n"), "{stdout}");
    let (_, stdout, _) = run(&directory, &["test", "k", "--output-format", "junit"], None);
    assert!(stdout.starts_with("<?xml"), "{stdout}");
    let (_, stdout, _) = run(&directory, &["test", "k", "-o", "markdown"], None);
    assert!(stdout.starts_with("## policy-lsp test"), "{stdout}");
    let (code, _, _) = run(&directory, &["test", "k", "-o", "sarif"], None);
    assert_eq!(code, Some(2));
    // `-f` names the test files; none is called so here.
    let (code, _, stderr) = run(&directory, &["test", "k", "-f", "policy-test.yaml"], None);
    assert_eq!(code, Some(0));
    assert!(stderr.contains("named `policy-test.yaml`"), "{stderr}");
    let (with_flag, plain) =
        (run(&directory, &["test", "k", "--remove-color"], None), run(&directory, &["test", "k"], None));
    assert_eq!(with_flag, plain);
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn fail_only_lists_the_results_that_did_not_pass() {
    let directory = write_fixture("flags-fail-only", KYVERNO_TESTS);
    check(
        &directory,
        &["test", "k", "--fail-only", "-t", "rule=check-team"],
        0,
        expect![[r#"

            Loading test k/kyverno-test.yaml ...
              (no results to show: every result passed)

            Test Summary: 2 tests passed and 0 tests failed
        "#]],
    );
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn gator_run_selects_tests_and_cases_and_verbose_lists_passing_cases() {
    let directory = write_fixture("flags-gator-run", OWNER_SUITE);
    let (code, stdout, _) = run(&directory, &["test", "w", "--run", "//^owned$", "-v"], None);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.starts_with("    --- PASS: owner-label/owned\nok\tw/required-label.yaml\t"), "{stdout}");
    let (code, stdout, _) = run(&directory, &["test", "w", "-r", "orphan"], None);
    assert_eq!(code, Some(1));
    assert!(stdout.starts_with("    --- FAIL: owner-label/orphan\n"), "{stdout}");
    let (code, _, stderr) = run(&directory, &["test", "w", "-r", "a//b//c"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("has more than one `//`"), "{stderr}");
    let _ = std::fs::remove_dir_all(&directory);
}

/// A folder of Rego unit tests beside the gator suite: one test passes, one fails.
const OWNER_REGO_TESTS: &str = r#"
#- /w/rego/owner_test.rego
package owner

import rego.v1

test_owned_namespace if {
	true
}

test_orphan_namespace if {
	false
}
"#;

#[test]
fn one_run_filter_and_one_verbose_flag_serve_gator_cases_and_rego_tests() {
    let directory = write_fixture("flags-run-rego", &format!("{OWNER_SUITE}{OWNER_REGO_TESTS}"));
    // A single regex: gator's cases by test or case name, Rego tests by `data.<package>.<name>`.
    let (code, stdout, _) = run(&directory, &["test", "w", "-r", "orphan"], None);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("    --- FAIL: owner-label/orphan\n"), "{stdout}");
    assert!(stdout.contains("data.owner.test_orphan_namespace: FAIL"), "{stdout}");
    assert!(!stdout.contains("test_owned_namespace"), "{stdout}");
    assert!(stdout.contains("FAIL: 1/1\n"), "{stdout}");
    // `-v` lists the passing gator case and the passing Rego test.
    let (code, stdout, _) = run(&directory, &["test", "w", "--run", "owned", "-v"], None);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("    --- PASS: owner-label/owned\n"), "{stdout}");
    assert!(stdout.contains("data.owner.test_owned_namespace: PASS"), "{stdout}");
    assert!(stdout.contains("PASS: 1/1\n"), "{stdout}");
    // Without `-v` neither passing line is printed.
    let (code, stdout, _) = run(&directory, &["test", "w", "--run", "owned"], None);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(!stdout.contains("--- PASS") && !stdout.contains(": PASS ("), "{stdout}");
    // gator's `TEST//CASE` is one regex to `opa test --run`, which no `data.<package>.<name>` contains.
    let (code, stdout, _) = run(&directory, &["test", "w", "--run", "//^owned$", "--output", "json"], None);
    assert_eq!(code, Some(0), "{stdout}");
    let document: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    let frameworks: Vec<&str> = document["results"]
        .as_array()
        .expect("a results array")
        .iter()
        .map(|result| result["framework"].as_str().expect("a framework"))
        .collect();
    assert_eq!(frameworks, ["gatekeeper"], "{stdout}");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn gator_trace_and_native_validation_flags_are_accepted_as_gator_spells_them() {
    let directory = write_fixture("flags-gator-trace", OWNER_SUITE);
    // `gator verify -t PATH`: the value has no `=`, so it is the path and `-t` is gator's --trace.
    let (code, stdout, stderr) = run(&directory, &["test", "-t", "w/...", "-r", "//orphan"], None);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stderr.contains("warning: --trace: the Rego engine (regorus) records no evaluation trace"), "{stderr}");
    let (code, _, _) = run(&directory, &["test", "w", "--enable-k8s-native-validation", "-r", "//^owned$"], None);
    assert_eq!(code, Some(0));
    let (code, _, stderr) = run(&directory, &["test", "w", "--enable-k8s-native-validation=false"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("there is no Rego-only mode"), "{stderr}");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn flags_that_need_the_network_are_refused_with_the_offline_alternative() {
    let directory = write_fixture("flags-network", KYVERNO_TESTS);
    let (code, _, stderr) = run(&directory, &["test", "k", "-b", "main"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("clone the repository (git clone --branch main URL) and pass its folder"), "{stderr}");
    let (code, _, stderr) = run(&directory, &["test", "https://github.com/kyverno/policies/main"], None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("reads local files only and never clones"), "{stderr}");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn unsupported_results_fail_the_run_unless_allowed() {
    // With `--registry` kyverno would fetch the image's configuration, which policy-lsp cannot do offline.
    let fixture = r#"
#- /r/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: image-user
spec:
  rules:
    - name: check-user
      match:
        any:
          - resources:
              kinds: [Pod]
      context:
        - name: imageData
          imageRegistry:
            reference: "{{ request.object.spec.containers[0].image }}"
      validate:
        message: "images must not run as root"
        deny:
          conditions:
            any:
              - key: "{{ imageData.configData.config.User || '' }}"
                operator: Equals
                value: ""
#- /r/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  containers:
    - name: c
      image: nginx:1.27
#- /r/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: image-user
policies: [policy.yaml]
resources: [resources.yaml]
results:
  - policy: image-user
    rule: check-user
    resources: [app]
    result: pass
"#;
    let directory = write_fixture("flags-unsupported", fixture);
    let (code, stdout, stderr) = run(&directory, &["test", "r", "--registry", "-o", "json"], None);
    assert_eq!(json_results(&stdout), vec![("image-user".to_string(), "app".to_string(), "unsupported".to_string())]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("error: 1 unsupported result that policy-lsp cannot check offline"), "{stderr}");
    let (code, _, stderr) = run(&directory, &["test", "r", "--registry", "--allow-unsupported"], None);
    assert_eq!(code, Some(0));
    assert!(
        stderr.contains("warning: 1 unsupported result left unchecked, accepted by --allow-unsupported"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&directory);
}
