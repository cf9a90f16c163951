//! The CLI as users run it: `lint` and `test` on fixture directories, every output format, exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

use expect_test::{Expect, expect};

pub(crate) fn write_fixture(name: &str, fixture: &str) -> PathBuf {
    crate::support::write_fixture_directory(&format!("cli-{name}"), fixture)
}

/// Runs the binary in `directory`, feeding `stdin` when given; returns the exit code, stdout and stderr.
pub(crate) fn run(directory: &Path, arguments: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    run_in(directory, arguments, stdin, &[])
}

/// Runs the binary in `directory` with more environment variables.
pub(crate) fn run_with_env(
    directory: &Path,
    arguments: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    run_in(directory, arguments, None, env)
}

fn run_in(
    directory: &Path,
    arguments: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(crate::support::POLICY_LSP)
        .args(arguments)
        .envs(env.iter().copied())
        .current_dir(directory)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.unwrap_or_default().as_bytes()).expect("stdin is writable");
    }
    let output = child.wait_with_output().expect("the binary ends");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

/// Runs the binary in `directory` and checks exit code and stdout.
pub(crate) fn check(directory: &Path, arguments: &[&str], expect_code: i32, expect: Expect) {
    let (code, stdout, stderr) = run(directory, arguments, None);
    assert_eq!(code, Some(expect_code), "stdout:\n{stdout}\nstderr:\n{stderr}");
    expect.assert_eq(&stdout);
}

const BROKEN_POLICY: &str = r#"
#- /policies/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: demo
spec:
  rules:
    - name: check
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        failureAction: Enforse
        message: "é😀 needed"
        pattern:
          metadata:
            labels:
              team: "?*"
"#;

#[test]
fn lint_text_shows_code_frames_and_fails() {
    let directory = write_fixture("lint-text", BROKEN_POLICY);
    check(
        &directory,
        &["lint", "policies"],
        1,
        expect![[r#"
            policies/policy.yaml:13:24: error[schema/enum]: `Enforse` is not one of Audit, Enforce; did you mean `Enforce`?
               |
            13 |         failureAction: Enforse
               |                        ^^^^^^^

            Checked 1 file: 1 error, 0 warnings.
        "#]],
    );
}

#[test]
fn lint_json_is_one_document() {
    let directory = write_fixture("lint-json", BROKEN_POLICY);
    check(
        &directory,
        &["lint", "policies", "--output", "json"],
        1,
        expect![[r#"
            {
              "diagnostics": [
                {
                  "file": "policies/policy.yaml",
                  "line": 13,
                  "column": 24,
                  "end_line": 13,
                  "end_column": 31,
                  "severity": "error",
                  "code": "schema/enum",
                  "message": "`Enforse` is not one of Audit, Enforce; did you mean `Enforce`?"
                }
              ],
              "summary": {
                "files": 1,
                "errors": 1,
                "warnings": 0,
                "infos": 0,
                "hints": 0
              }
            }
        "#]],
    );
}

#[test]
fn lint_github_annotations() {
    let directory = write_fixture("lint-github", BROKEN_POLICY);
    check(
        &directory,
        &["lint", "policies", "--output", "github"],
        1,
        expect![[r#"
            ::error file=policies/policy.yaml,line=13,col=24,endLine=13,endColumn=31,title=schema/enum::`Enforse` is not one of Audit, Enforce; did you mean `Enforce`?
        "#]],
    );
}

#[test]
fn lint_sarif_names_rules_and_regions() {
    let directory = write_fixture("lint-sarif", BROKEN_POLICY);
    let output = Command::new(crate::support::POLICY_LSP)
        .args(["lint", "policies", "--output", "sarif"])
        .current_dir(&directory)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "schema/enum");
    assert_eq!(run["results"][0]["level"], "error");
    assert_eq!(run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 13);
    assert_eq!(
        run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "policies/policy.yaml"
    );
}

#[test]
fn lint_clean_files_exit_zero_and_missing_paths_exit_two() {
    let directory = write_fixture(
        "lint-clean",
        "#- /ok.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  a: b\n",
    );
    check(
        &directory,
        &["lint", "ok.yaml"],
        0,
        expect![[r#"
        Checked 1 file: 0 errors, 0 warnings.
    "#]],
    );
    check(&directory, &["lint", "does-not-exist"], 2, expect![[""]]);
}

const FAILING_TEST: &str = r#"
#- /t/policy.yaml
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
#- /t/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: no-team
spec:
  containers:
    - name: c
      image: nginx:1.27
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-team
policies: [policy.yaml]
resources: [resources.yaml]
results:
  - policy: require-team
    rule: check-team
    kind: Pod
    resources: [no-team]
    result: pass
"#;

#[test]
fn test_text_reports_a_failing_expectation() {
    let directory = write_fixture("test-text", FAILING_TEST);
    check(
        &directory,
        &["test", "t", "--detailed-results"],
        1,
        expect![[r#"

            Loading test t/kyverno-test.yaml ...
            ┌────┬──────────────┬────────────┬────────────────────────┬────────┬─────────────────────┬────────────────────────────────────────────────────────────────────────────────────────────┐
            │ ID │ POLICY       │ RULE       │ RESOURCE               │ RESULT │ REASON              │ MESSAGE                                                                                    │
            ├────┼──────────────┼────────────┼────────────────────────┼────────┼─────────────────────┼────────────────────────────────────────────────────────────────────────────────────────────┤
            │ 1  │ require-team │ check-team │ v1/Pod/default/no-team │ Fail   │ Want pass, got fail │ validation error: label team is required. rule check-team failed at path /metadata/labels/ │
            └────┴──────────────┴────────────┴────────────────────────┴────────┴─────────────────────┴────────────────────────────────────────────────────────────────────────────────────────────┘

            Test Summary: 0 tests passed and 1 tests failed
        "#]],
    );
}

#[test]
fn test_json_contract() {
    let directory = write_fixture("test-json", FAILING_TEST);
    let output = Command::new(crate::support::POLICY_LSP)
        .args(["test", "t", "--output", "json"])
        .current_dir(&directory)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    let result = &report["results"][0];
    assert_eq!(result["file"], "t/kyverno-test.yaml");
    assert_eq!(result["framework"], "kyverno");
    assert_eq!(result["policy"], "require-team");
    assert_eq!(result["rule"], "check-team");
    assert_eq!(result["resource"], "no-team");
    assert_eq!(result["kind"], "Pod");
    assert_eq!(result["expected"], "pass");
    assert_eq!(result["actual"], "fail");
    assert_eq!(result["outcome"], "fail");
    assert_eq!(report["summary"]["failed"], 1);
    assert_eq!(report["summary"]["passed"], 0);
}

#[test]
fn a_test_that_cannot_run_counts_among_the_json_errors() {
    // The policies file is missing: kyverno stops the test, so the summary must not read "0 errors".
    let fixture = format!(
        "{FAILING_TEST}\n#- /t2/kyverno-test.yaml\napiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {{name: t2}}\npolicies: [gone.yaml]\nresources: []\nresults: []\n"
    );
    let directory = write_fixture("test-cannot-run", &fixture);
    let output = Command::new(crate::support::POLICY_LSP)
        .args(["test", "t2", "--output", "json"])
        .current_dir(&directory)
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(report["summary"]["passed"], 0);
    assert_eq!(report["summary"]["problems"], 1);
    assert_eq!(report["summary"]["errors"], 1);
}

#[test]
fn test_junit_is_well_formed_and_github_points_at_the_entry() {
    let directory = write_fixture("test-junit", FAILING_TEST);
    let junit = Command::new(crate::support::POLICY_LSP)
        .args(["test", "t", "--output", "junit"])
        .current_dir(&directory)
        .output()
        .unwrap();
    let junit = String::from_utf8_lossy(&junit.stdout);
    assert!(junit.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"), "{junit}");
    assert_eq!(junit.matches("<testsuite ").count(), 1);
    assert_eq!(junit.matches("<failure ").count(), 1);
    assert!(junit.trim_end().ends_with("</testsuites>"));
    check(
        &directory,
        &["test", "t", "--output", "github"],
        1,
        expect![[r#"
            ::error file=t/kyverno-test.yaml,line=11,title=fail v1/Pod/default/no-team::expected pass, got fail: Want pass, got fail validation error: label team is required. rule check-team failed at path /metadata/labels/
            0 passed, 1 failed
        "#]],
    );
}

#[test]
fn test_timings_go_to_stderr_beside_parse_only_of_the_files_read() {
    let directory = write_fixture("test-timings", FAILING_TEST);
    let run = |arguments: &[&str]| {
        Command::new(crate::support::POLICY_LSP).args(arguments).current_dir(&directory).output().unwrap()
    };
    let plain = run(&["test", "t"]);
    let timed = run(&["test", "t", "--timings"]);
    assert_eq!(timed.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&timed.stdout), String::from_utf8_lossy(&plain.stdout));
    let stderr = String::from_utf8_lossy(&timed.stderr);
    let timings: Vec<&str> = stderr.lines().filter(|line| line.starts_with("timings:")).collect();
    // Durations, the ratio and the number of reads (existence checks included) vary; the rest does not.
    let masked = regex::Regex::new(r"\d+ ms|\d+\.\dx|read \d+ times").unwrap();
    let masked: Vec<String> = timings.iter().map(|line| masked.replace_all(line, "_").to_string()).collect();
    expect![[r#"
        timings: walk _ (3 YAML files), discover _ (1 test files), run _, render _; total _
        timings: parse only (read and parse once each of the 3 files the run _, 0.0 MB, 3 documents) _; total / parse only = _"#]]
    .assert_eq(&masked.join("\n"));
}

#[test]
fn recorded_reads_count_each_file_once_however_it_was_spelled() {
    use policy_lsp::testrun::FileSource;
    use policy_lsp::vfs::{DiskFiles, RecordingFiles};
    let directory = write_fixture("recording", FAILING_TEST);
    let recording = RecordingFiles::new(DiskFiles::default());
    for path in ["t/policy.yaml", "t/../t/policy.yaml", "t/./resources.yaml", "t/missing.yaml"] {
        let _ = recording.read(&directory.join(path));
    }
    let read: Vec<PathBuf> = recording.files_read();
    assert_eq!(read, vec![directory.join("t/policy.yaml"), directory.join("t/resources.yaml")]);
    assert_eq!(recording.reads(), 3);
}

#[test]
fn test_files_cannot_read_outside_the_workspace() {
    let directory = write_fixture(
        "outside",
        r#"
#- /outside/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: do-not-read
#- /repo/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: escape
policies:
  - ../outside/secret.yaml
resources:
  - ../outside/secret.yaml
results:
  - policy: p
    rule: r
    kind: Pod
    resources: [do-not-read]
    result: pass
"#,
    );
    let output = Command::new(crate::support::POLICY_LSP)
        .args(["lint", "repo", "--output", "json"])
        .current_dir(&directory)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let codes: Vec<&str> =
        report["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["test/outside-workspace", "test/outside-workspace"]);
    let output = Command::new(crate::support::POLICY_LSP)
        .args(["test", "repo", "--output", "json"])
        .current_dir(&directory)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(!report.contains("Secret"), "the outside file's content must not be read: {report}");
    assert_eq!(output.status.code(), Some(1));
}

const CONFIGURED_REPOSITORY: &str = r#"
#- /.git/HEAD
ref: refs/heads/main
#- /.policy-lsp.yaml
exclude: [vendor]
lint:
  disable: [schema/enum]
  severity:
    schema/deprecated: error
#- /policies/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: demo
spec:
  validationFailureAction: Enforce
  rules:
    - name: check
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        failureAction: Enforse
        pattern:
          metadata:
            labels:
              team: "?*"
#- /policies/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: labelled
  labels:
    team: a
spec:
  containers:
    - name: c
      image: nginx:1.27
#- /policies/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: demo
policies: [policy.yaml]
resources: [resources.yaml]
results:
  - policy: demo
    rule: check
    kind: Pod
    resources: [labelled]
    result: pass
#- /vendor/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: vendored
policies: policy.yaml
results:
  - policy: nothing
    kind: Pod
    resources: [x]
    result: pass
"#;

#[test]
fn lint_honours_the_repository_settings() {
    let directory = write_fixture("lint-settings", CONFIGURED_REPOSITORY);
    // From a subdirectory the settings still come from the repository root.
    check(
        &directory.join("policies"),
        &["lint", "."],
        1,
        expect![[r#"
            ./policy.yaml:6:3: error[schema/deprecated]: `validationFailureAction` is deprecated: set `validate.failureAction` in each rule instead
              |
            6 |   validationFailureAction: Enforce
              |   ^^^^^^^^^^^^^^^^^^^^^^^

            Checked 3 files: 1 error, 0 warnings.
        "#]],
    );
    // Excluded files are skipped by the walk, but linted when named.
    check(
        &directory,
        &["lint", "vendor/kyverno-test.yaml"],
        1,
        expect![[r#"
            vendor/kyverno-test.yaml:5:11: error[schema/type]: expected a list, found the string `policy.yaml`
              |
            5 | policies: policy.yaml
              |           ^^^^^^^^^^^

            vendor/kyverno-test.yaml:9:17: error[test/unknown-resource]: resource `x` is not defined in this file
              |
            9 |     resources: [x]
              |                 ^

            Checked 1 file: 2 errors, 0 warnings.
        "#]],
    );
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn lint_settings_govern_files_that_cannot_be_read() {
    let directory = write_fixture(
        "lint-unreadable",
        r#"
#- /.git/HEAD
ref: refs/heads/main
#- /.policy-lsp.yaml
lint:
  severity:
    file: warning
"#,
    );
    std::fs::write(directory.join("latin1.yaml"), b"apiVersion: v1\nkind: ConfigMap\ndata:\n  name: caf\xe9\n")
        .unwrap();
    check(
        &directory,
        &["lint", "latin1.yaml"],
        0,
        expect![[r#"
        latin1.yaml:1:1: warning[file/unreadable]: latin1.yaml is not valid UTF-8 (first bad byte at offset 48)
        Checked 1 file: 0 errors, 1 warning.
    "#]],
    );
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn test_skips_excluded_test_files() {
    let directory = write_fixture("test-settings", CONFIGURED_REPOSITORY);
    check(
        &directory,
        &["test", "."],
        0,
        expect![[r#"

        Loading test ./policies/kyverno-test.yaml ...
        ┌────┬────────┬───────┬─────────────────────────┬────────┬────────┐
        │ ID │ POLICY │ RULE  │ RESOURCE                │ RESULT │ REASON │
        ├────┼────────┼───────┼─────────────────────────┼────────┼────────┤
        │ 1  │ demo   │ check │ v1/Pod/default/labelled │ Pass   │ Ok     │
        └────┴────────┴───────┴─────────────────────────┴────────┴────────┘

        Test Summary: 1 tests passed and 0 tests failed
    "#]],
    );
    let _ = std::fs::remove_dir_all(&directory);
}

const HELM_CHART: &str = r#"
#- /chart/Chart.yaml
apiVersion: v2
name: policies
version: 1.0.0
#- /chart/values.yaml
requireLabels: true
#- /chart/templates/require-labels.yaml
{{- if .Values.requireLabels }}
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-labels
  labels:
    {{- include "policies.labels" . | nindent 4 }}
spec:
  rules: {{ toYaml .Values.rules | nindent 4 }}
{{- end }}
#- /chart/templates/tests/plain.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: test-runner
  namespace: {{ .Release.Namespace }}
"#;

#[test]
fn helm_chart_templates_are_recognised_and_not_checked() {
    let directory = write_fixture("helm", HELM_CHART);
    check(
        &directory,
        &["lint", "chart"],
        0,
        expect![[r#"
            chart/templates/require-labels.yaml:1:1: info[yaml/helm-template]: a Helm chart template: its YAML exists only after rendering, so it is not checked here; lint the rendered output with `helm template CHART | policy-lsp lint -`
              |
            1 | {{- if .Values.requireLabels }}
              | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

            chart/templates/tests/plain.yaml:5:14: info[yaml/helm-template]: a Helm chart template: its YAML exists only after rendering, so it is not checked here; lint the rendered output with `helm template CHART | policy-lsp lint -`
              |
            5 |   namespace: {{ .Release.Namespace }}
              |              ^^^^^^^^^^^^^^^^^^^^^^^^

            Checked 4 files: 0 errors, 0 warnings.
        "#]],
    );
}

#[test]
fn lint_reads_rendered_output_from_standard_input() {
    let directory = write_fixture("stdin", "#- /empty/.keep\n");
    let rendered = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  background: maybe\n  rules: []\n";
    let (code, stdout, _) = run(&directory, &["lint", "-"], Some(rendered));
    assert_eq!(code, Some(1), "{stdout}");
    expect![[r#"
        <stdin>:6:15: error[schema/type]: expected a boolean, found the string `maybe`
          |
        6 |   background: maybe
          |               ^^^^^

        Checked 1 file: 1 error, 0 warnings.
    "#]]
    .assert_eq(&stdout);
}

#[test]
fn lint_of_a_folder_with_nothing_to_check_warns_and_passes_unless_files_are_required() {
    let directory = write_fixture("empty", "#- /policies/README.md\nNothing here yet.\n");
    let (code, stdout, stderr) = run(&directory, &["lint", "policies"], None);
    assert_eq!((code, stdout.as_str()), (Some(0), "Checked 0 files: 0 errors, 0 warnings.\n"));
    assert_eq!(stderr, "warning: no YAML or .rego files to check under policies\n");
    let (code, _, stderr) = run(&directory, &["lint", "policies", "--require-files"], None);
    assert_eq!(code, Some(1));
    assert_eq!(stderr, "warning: no YAML or .rego files to check under policies\n");
}
