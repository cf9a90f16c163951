//! Rego on the command line: `policy-lsp test` over folders of `.rego` unit tests (as `opa test`) and
//! `policy-lsp eval` (as `opa eval --format json`), through the real binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use expect_test::{Expect, expect};
use serde_json::{Value, json};

fn write_fixture(name: &str, fixture: &str) -> PathBuf {
    crate::support::write_fixture_directory(&format!("rego-{name}"), fixture)
}

/// Runs the binary in `directory` with `stdin`, and checks its exit code and stdout, with the durations of
/// test lines (`PASS (12.5µs)`) left out since they change from run to run.
fn check(directory: &Path, arguments: &[&str], stdin: &str, expect_code: i32, expect: Expect) {
    let mut child = Command::new(crate::support::POLICY_LSP)
        .args(arguments)
        .current_dir(directory)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().expect("stdin is piped").write_all(stdin.as_bytes()).expect("stdin takes the input");
    let output = child.wait_with_output().expect("the binary finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(expect_code), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let duration = regex::Regex::new(r": (PASS|FAIL|ERROR) \([0-9.]+(ns|µs|ms|s)\)").expect("a valid pattern");
    expect.assert_eq(&duration.replace_all(&stdout, ": $1 (…)"));
}

const DENY_PODS: &str = r#"
#- /policies/pods.rego
package pods

import rego.v1

deny contains message if {
	input.kind == "Pod"
	not input.metadata.labels.team
	message := sprintf("pod %s has no team label", [input.metadata.name])
}
#- /policies/pods_test.rego
package pods

import rego.v1

test_unlabelled_pod_is_denied if {
	count(deny) == 1 with input as {"kind": "Pod", "metadata": {"name": "web"}}
}

test_services_are_denied_too if {
	count(deny) == 1 with input as {"kind": "Service", "metadata": {"name": "web"}}
}

todo_test_namespaces if {
	false
}
#- /policies/pod.yaml
kind: Pod
metadata:
  name: web
  labels:
    app: web
"#;

#[test]
fn rego_tests_print_as_opa_test_does() {
    let directory = write_fixture("test-text", DENY_PODS);
    check(
        &directory,
        &["test", "policies"],
        "",
        1,
        expect![[r#"
            policies/pods_test.rego:9:
            data.pods.test_services_are_denied_too: FAIL (…)
              the test is undefined: an expression in its body does not hold
            policies/pods_test.rego:13:
            data.pods.todo_test_namespaces: SKIPPED
            --------------------------------------------------------------------------------
            PASS: 1/3
            FAIL: 1/3
            SKIPPED: 1/3

            Test Summary: 1 tests passed and 1 tests failed (1 skipped)
        "#]],
    );
    check(
        &directory,
        &["test", "policies", "--run", "unlabelled", "-v"],
        "",
        0,
        expect![[r#"
            policies/pods_test.rego:5:
            data.pods.test_unlabelled_pod_is_denied: PASS (…)
            --------------------------------------------------------------------------------
            PASS: 1/1

            Test Summary: 1 tests passed and 0 tests failed
        "#]],
    );
}

#[test]
fn rego_test_results_in_json_name_framework_file_package_and_test() {
    let directory = write_fixture("test-json", DENY_PODS);
    check(
        &directory,
        &["test", "policies", "--run", "services", "--output", "json"],
        "",
        1,
        expect![[r#"
            {
              "results": [
                {
                  "file": "policies/pods_test.rego",
                  "framework": "opa",
                  "package": "data.pods",
                  "test": "test_services_are_denied_too",
                  "expected": "true",
                  "actual": "undefined",
                  "outcome": "fail",
                  "reason": "the test is undefined: an expression in its body does not hold",
                  "message": ""
                }
              ],
              "summary": {
                "passed": 0,
                "failed": 1,
                "errors": 0,
                "unsupported": 0,
                "skipped": 0,
                "problems": 0,
                "warnings": 0
              },
              "problems": []
            }
        "#]],
    );
}

#[test]
fn eval_reads_the_input_from_stdin_and_prints_opa_eval_json() {
    let directory = write_fixture("eval-stdin", DENY_PODS);
    check(
        &directory,
        &["eval", "-d", "policies/pods.rego", "-i", "-", "data.pods.deny"],
        r#"{"kind": "Pod", "metadata": {"name": "<web>"}}"#,
        0,
        expect![[r#"
            {
              "result": [
                {
                  "expressions": [
                    {
                      "value": [
                        "pod \u003cweb\u003e has no team label"
                      ],
                      "text": "data.pods.deny",
                      "location": {
                        "row": 1,
                        "col": 1
                      }
                    }
                  ]
                }
              ]
            }
        "#]],
    );
}

#[test]
fn eval_takes_a_yaml_input_file_and_a_folder_of_data() {
    let directory = write_fixture("eval-file", DENY_PODS);
    check(
        &directory,
        &["eval", "-d", "policies", "-i", "policies/pod.yaml", "count(data.pods.deny)"],
        "",
        0,
        expect![[r#"
            {
              "result": [
                {
                  "expressions": [
                    {
                      "value": 1,
                      "text": "count(data.pods.deny)",
                      "location": {
                        "row": 1,
                        "col": 1
                      }
                    }
                  ]
                }
              ]
            }
        "#]],
    );
    // An undefined query is an empty document, and a failure only when asked (`--fail`).
    check(
        &directory,
        &["eval", "-d", "policies", "data.pods.allow"],
        "",
        0,
        expect![[r#"
        {}
    "#]],
    );
    check(
        &directory,
        &["eval", "-d", "policies", "--fail", "data.pods.allow"],
        "",
        1,
        expect![[r#"
        {}
    "#]],
    );
}

#[test]
fn eval_reports_rego_that_does_not_parse_as_opa_eval_does() {
    let directory = write_fixture(
        "eval-broken",
        r#"
#- /broken.rego
package broken

import rego.v1

allow if {
	input.x ==
}
"#,
    );
    check(
        &directory,
        &["eval", "-d", "broken.rego", "data.broken.allow"],
        "",
        1,
        expect![[r#"
            {
              "errors": [
                {
                  "message": "expecting expression",
                  "code": "rego_parse_error",
                  "location": {
                    "file": "broken.rego",
                    "row": 7,
                    "col": 1
                  }
                }
              ]
            }
        "#]],
    );
}

const REQUIRED_LABELS: &str = r#"
#- /src/general/requiredlabels/src.rego
package k8srequiredlabels

violation[{"msg": msg}] {
  provided := {label | input.review.object.metadata.labels[label]}
  required := {label | label := input.parameters.labels[_].key}
  missing := required - provided
  count(missing) > 0
  msg := sprintf("missing labels: %v", [missing])
}

violation[{"msg": msg}] {
  input.review.kind.kind == "Pod"
  not input.review.object.metadata.namespace
  input.parameters.requireNamespace
  msg := "the object has no namespace"
}
"#;

/// Counts the violations `policy-lsp eval` reports for `object` under `constraint`, with the input built as
/// gator builds it, over the fixture's template source.
fn gator_violations(object: Value, constraint: Value) -> usize {
    use crate::support::gator_eval::{gator_input, package_of, violations_through_eval};
    let directory = write_fixture("eval-gator", REQUIRED_LABELS);
    let source = directory.join("src/general/requiredlabels/src.rego");
    let package = package_of(&std::fs::read_to_string(&source).expect("the fixture is written")).expect("a package");
    let input = gator_input(&object, &constraint).expect("an object under review");
    violations_through_eval(&[source], &input, &package, &directory.join("scratch")).expect("eval runs")
}

#[test]
fn eval_counts_a_templates_violations_on_the_review_gator_builds() {
    let constraint = |parameters: Value| json!({"kind": "K8sRequiredLabels", "spec": {"parameters": parameters}});
    let pod = |labels: Value, namespace: Option<&str>| {
        let mut metadata = json!({"name": "web", "labels": labels});
        if let Some(namespace) = namespace {
            metadata["namespace"] = json!(namespace);
        }
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata})
    };
    let owner = json!({"labels": [{"key": "owner"}]});
    // A labelled pod in a namespace passes; without the label it is one violation.
    assert_eq!(gator_violations(pod(json!({"owner": "me"}), Some("team")), constraint(owner.clone())), 0);
    assert_eq!(gator_violations(pod(json!({}), Some("team")), constraint(owner)), 1);
    // Both rules fire: the second reads `input.review.kind` (the object's kind, as gator's review has it)
    // and the parameters.
    let both = json!({"labels": [{"key": "owner"}], "requireNamespace": true});
    assert_eq!(gator_violations(pod(json!({}), None), constraint(both)), 2);
    // Without parameters the constraint asks for nothing (`input.parameters` is `{}`).
    assert_eq!(gator_violations(pod(json!({}), None), json!({"kind": "K8sRequiredLabels"})), 0);
}
