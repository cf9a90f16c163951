//! Tests of the OPA engine: `opa test`'s verdicts on test rules written here, and `opa eval`'s output.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;

/// Compiles the modules (`(name, text)`) with `data`, runs every test, and lists `name: verdict` lines,
/// or the compile problems.
fn run_tests(modules: &[(&str, &str)], data: Value) -> String {
    run_tests_with(modules, data, RunLimits::default())
}

fn run_tests_with(modules: &[(&str, &str)], data: Value, limits: RunLimits) -> String {
    let mut parsed = Vec::new();
    for (name, text) in modules {
        match parse_module(name, text, VersionSetting::Auto) {
            Ok(module) => parsed.push(module),
            Err(failure) => return format!("{name}: parse error at {:?}: {}", failure.range, failure.message),
        }
    }
    let bundle = Bundle { modules: parsed, data };
    let mut compiled = match compile(&bundle, limits) {
        Ok(compiled) => compiled,
        Err(problems) => {
            return problems
                .iter()
                .map(|problem| {
                    let module = problem.module.map_or("the run", |index| modules[index].0);
                    format!("{module} {:?}: {}", problem.range, problem.message)
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
    };
    let tests = compiled.tests.clone();
    tests
        .iter()
        .map(|test| {
            let run = compiled.run_test(test);
            let verdict = match run.verdict {
                TestVerdict::Pass => "pass".to_string(),
                TestVerdict::Fail { actual } => format!("fail ({actual})"),
                TestVerdict::Error { message } => format!("error ({message})"),
                TestVerdict::Skipped => "skipped".to_string(),
            };
            let output = if run.output.is_empty() { String::new() } else { format!(" printed {:?}", run.output) };
            format!("{}: {verdict}{output}", test.full_name())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const POLICY: &str = r#"package k8s.labels

violation[{"msg": msg}] {
  not input.review.object.metadata.labels[input.parameters.label]
  msg := sprintf("missing label %v", [input.parameters.label])
}
"#;

#[test]
fn test_rules_pass_fail_and_skip_as_opa_reads_them() {
    let tests = r#"package k8s.labels

test_missing_label_is_a_violation {
  count(violation) == 1 with input as {"review": {"object": {"metadata": {}}}, "parameters": {"label": "team"}}
}

test_present_label_passes {
  count(violation) == 0 with input as {"review": {"object": {"metadata": {"labels": {"team": "a"}}}}, "parameters": {"label": "team"}}
}

test_wrong_expectation {
  count(violation) == 2 with input as {"review": {"object": {"metadata": {}}}, "parameters": {"label": "team"}}
}

test_not_a_boolean = 7

todo_test_later {
  false
}
"#;
    expect_test::expect![[r#"
        data.k8s.labels.test_missing_label_is_a_violation: pass
        data.k8s.labels.test_present_label_passes: pass
        data.k8s.labels.test_wrong_expectation: fail (undefined)
        data.k8s.labels.test_not_a_boolean: fail (7)
        data.k8s.labels.todo_test_later: skipped"#]]
    .assert_eq(&run_tests(&[("src.rego", POLICY), ("src_test.rego", tests)], json!({})));
}

#[test]
fn a_repeated_test_name_runs_each_definition_on_its_own() {
    // Folded into one rule, the second body would make the first pass too.
    let tests = "package p\ntest_twice { false }\ntest_twice { true }\ntest_twice { 1 == 2 }\n";
    expect_test::expect![[r#"
        data.p.test_twice: fail (undefined)
        data.p.test_twice#01: pass
        data.p.test_twice#02: fail (undefined)"#]]
    .assert_eq(&run_tests(&[("p_test.rego", tests)], json!({})));
}

#[test]
fn with_mocks_input_data_and_functions() {
    let policy = r#"package authz
import rego.v1

allow if {
  input.user in data.admins
  approved(input.user)
}

approved(user) if startswith(user, "a")
"#;
    let tests = r#"package authz_test
import rego.v1
import data.authz

test_admin_allowed if {
  authz.allow with input as {"user": "alice"} with data.admins as ["alice"]
}

test_function_mocked if {
  authz.allow with input as {"user": "bob"} with data.admins as ["bob"] with authz.approved as true
}

test_builtin_mocked if {
  authz.allow with input as {"user": "bob"} with data.admins as ["bob"] with startswith as mock_startswith
}

mock_startswith(_, _) := true

test_data_from_files if {
  not authz.allow with input as {"user": "alice"}
}
"#;
    expect_test::expect![[r#"
        data.authz_test.test_admin_allowed: pass
        data.authz_test.test_function_mocked: pass
        data.authz_test.test_builtin_mocked: pass
        data.authz_test.test_data_from_files: pass"#]]
    .assert_eq(&run_tests(&[("authz.rego", policy), ("authz_test.rego", tests)], json!({"admins": ["carol"]})));
}

#[test]
fn a_folder_that_does_not_compile_runs_nothing() {
    let tests = "package p\ntest_a { undefined_helper(1) }\ntest_b { x }\n";
    expect_test::expect![[r#"
        p_test.rego 19..35: undefined function undefined_helper
        p_test.rego 50..51: var x is unsafe"#]]
    .assert_eq(&run_tests(&[("p_test.rego", tests)], json!({})));
    let arity = "package p\ntest_a { count([1], 2, 3) }\n";
    expect_test::expect!["p_test.rego 19..24: count takes 1 argument, not 3"]
        .assert_eq(&run_tests(&[("p_test.rego", arity)], json!({})));
}

#[test]
fn an_error_in_evaluation_is_an_error_and_print_output_is_kept() {
    let tests = "package p\nimport rego.v1\ntest_conflict if {\n  print(\"checking\")\n  x := {\"a\": 1}\n  object.get(x, \"a\", 0) == 1\n  conflict == 1\n}\nconflict := 1\nconflict := 2\n";
    let found = run_tests(&[("p_test.rego", tests)], json!({}));
    assert!(found.starts_with("data.p.test_conflict: error ("), "{found}");
    assert!(found.ends_with("printed [\"checking\"]"), "{found}");
}

#[test]
fn a_test_that_runs_past_its_timeout_is_an_error() {
    let tests = "package p\nimport rego.v1\ntest_slow if {\n  count([x | some x in numbers.range(1, 900000); x % 7 == 0]) > 0\n  count([y | some y in numbers.range(1, 900000); y % 11 == 0]) > 0\n}\n";
    let found = run_tests_with(&[("p_test.rego", tests)], json!({}), RunLimits { timeout: Duration::from_millis(1) });
    expect_test::expect!["data.p.test_slow: error (the evaluation ran past the 0.001s timeout and was cancelled)"]
        .assert_eq(&found);
}

#[test]
fn partial_object_tests_pass_when_every_case_does() {
    let tests = "package p\nimport rego.v1\ntest_cases[name] := result if {\n  some name, result in {\"one\": true, \"two\": 1 == 1}\n}\ntest_bad_cases[name] := result if {\n  some name, result in {\"one\": true, \"two\": false}\n}\n";
    expect_test::expect![[r#"
        data.p.test_cases: pass
        data.p.test_bad_cases: fail ({"one":true,"two":false})"#]]
    .assert_eq(&run_tests(&[("p_test.rego", tests)], json!({})));
}

/// Evaluates `query` over one module and an input, as `opa eval` prints it.
fn eval(module: &str, input: Option<Value>, query: &str) -> String {
    let parsed = parse_module("policy.rego", module, VersionSetting::Auto).expect("the module parses");
    let mut compiled =
        compile(&Bundle { modules: vec![parsed], data: json!({}) }, RunLimits::default()).expect("it compiles");
    let output = evaluate(&mut compiled, input, query);
    format!("defined={} failed={}\n{}", output.defined, output.failed, output.document)
}

#[test]
fn eval_answers_in_opa_eval_json() {
    let input = json!({"review": {"object": {"metadata": {"labels": {}}}}, "parameters": {"label": "team"}});
    expect_test::expect![[r#"
        defined=true failed=false
        {"result":[{"expressions":[{"value":[{"msg":"missing label team"}],"text":"data.k8s.labels.violation","location":{"row":1,"col":1}}]}]}"#]]
    .assert_eq(&eval(POLICY, Some(input), "data.k8s.labels.violation"));
    expect_test::expect![[r#"
        defined=false failed=false
        {}"#]]
    .assert_eq(&eval(POLICY, None, "data.k8s.labels.nothing"));
    expect_test::expect![[r#"
        defined=true failed=false
        {"result":[{"expressions":[{"value":true,"text":"x := 1 + 2","location":{"row":1,"col":1}}],"bindings":{"x":3}}]}"#]]
    .assert_eq(&eval(POLICY, None, "x := 1 + 2"));
}
