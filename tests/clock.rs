//! The clock reaches the engines through the file source, at each run: CEL's `time.now()` and Kyverno
//! JMESPath's `time_now_utc()` answer the time the front end's source gives (the disk source reads the
//! system clock at every run, so a language server that runs for days sees the time advance).

use std::path::Path;

use chrono::DateTime;
use expect_test::{Expect, expect};
use policy_lsp::testrun::RunOptions;
use policy_lsp::testrun::{Framework, Subject};

use crate::support::{MemoryFiles, parse_fixture};

/// Two policies that pass before 2030 and fail after: one in CEL, one in JMESPath.
const BEFORE_2030: &str = r#"
#- /t/policies.yaml
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: cel-before-2030
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "time.now() < timestamp('2030-01-01T00:00:00Z')"
    message: it is 2030 or later
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: jmespath-before-2030
spec:
  rules:
  - name: check
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: it is 2030 or later
      deny:
        conditions:
          any:
          - key: "{{ time_before(time_now_utc(), '2030-01-01T00:00:00Z') }}"
            operator: Equals
            value: false
#- /t/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers: [{name: c, image: nginx}]
#- /t/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: t
policies: [policies.yaml]
resources: [resources.yaml]
results:
- {policy: cel-before-2030, kind: Pod, resources: [web], result: pass}
- {policy: jmespath-before-2030, rule: check, kind: Pod, resources: [web], result: pass}
"#;

/// Runs the fixture's test with the source's clock at `now` (RFC 3339; `None` for a source without a
/// clock) and renders one line per result.
fn check(now: Option<&str>, expect: Expect) {
    let mut files = MemoryFiles {
        now: now.map(|text| DateTime::parse_from_rfc3339(text).expect("an RFC 3339 time").to_utc()),
        ..MemoryFiles::default()
    };
    for file in parse_fixture(BEFORE_2030) {
        files.files.insert(file.path, file.text);
    }
    let test_file = Path::new("/t/kyverno-test.yaml");
    let report = policy_lsp::testrun::run(&files, test_file, Framework::Kyverno, RunOptions::default());
    let mut lines: Vec<String> = report
        .results
        .iter()
        .filter_map(|result| match &result.subject {
            Subject::Kyverno { policy, .. } => {
                Some(format!("{policy}: {} -> {:?}: {}", result.actual, result.outcome, result.message))
            }
            Subject::Gatekeeper { .. } | Subject::Opa { .. } => None,
        })
        .collect();
    lines.extend(report.problems.iter().map(|problem| format!("problem {}: {}", problem.code, problem.message)));
    expect.assert_eq(&(lines.join("\n") + "\n"));
}

#[test]
fn both_engines_read_the_time_of_the_source() {
    check(
        Some("2029-12-31T23:59:59Z"),
        expect![[r#"
            cel-before-2030: pass -> Pass: 
            jmespath-before-2030: pass -> Pass: validation rule 'check' passed.
        "#]],
    );
}

#[test]
fn a_later_run_sees_a_later_time() {
    check(
        Some("2030-01-01T00:00:01Z"),
        expect![[r#"
            cel-before-2030: fail -> Fail: it is 2030 or later
            jmespath-before-2030: fail -> Fail: it is 2030 or later
        "#]],
    );
}

/// Without a clock, CEL answers a fixed date (2026-01-01, so runs are reproducible) and JMESPath's time
/// functions fail with a message.
#[test]
fn without_a_clock() {
    check(
        None,
        expect![[r#"
            cel-before-2030: pass -> Pass: 
            jmespath-before-2030: error -> Fail: failed to check deny conditions: failed to substitute variables in condition key: failed to resolve time_before(time_now_utc(), '2030-01-01T00:00:00Z') at path : JMESPath query failed: Parse error: JMESPath function 'time_now_utc': the current time was not provided by the caller, so time functions cannot read it (line 0, column 24)
            time_before(time_now_utc(), '2030-01-01T00:00:00Z')
                                    ^

        "#]],
    );
}
