//! Completion in test files at `$0` cursors: paths relative to the test, policy, rule and resource names
//! and kinds from the listed files, expected results; gator Suite paths.

use crate::support::analysis_with_cursor;
use expect_test::{Expect, expect};

/// Renders the completion labels (with detail) at the cursor.
fn check(fixture: &str, expect: Expect) {
    let (analysis, path, offset) = analysis_with_cursor(fixture);
    let rendered: Vec<String> = analysis
        .completions(&path, offset)
        .iter()
        .map(|item| match &item.detail {
            Some(detail) => format!("{} ({detail}) {:?}", item.label, item.kind),
            None => format!("{} {:?}", item.label, item.kind),
        })
        .collect();
    expect.assert_eq(&rendered.join("\n"));
}

/// A policy, resources and a test beside them; the test's body is appended by each case.
const FILES: &str = r#"
#- /repo/policies/require-labels.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-labels
spec:
  rules:
    - name: check-team
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        pattern:
          metadata:
            labels:
              team: "?*"
    - name: check-namespace
      match:
        any:
          - resources:
              kinds: [Namespace]
      validate:
        pattern:
          metadata:
            labels:
              owner: "?*"
---
apiVersion: kyverno.io/v1
kind: Policy
metadata:
  name: local
  namespace: apps
spec:
  rules: []
#- /repo/resources/pods.yaml
apiVersion: v1
kind: Pod
metadata:
  name: good-pod
  namespace: apps
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
#- /repo/resources/notes.txt
not yaml
"#;

fn with_test(test: &str) -> String {
    format!("{FILES}#- /repo/tests/kyverno-test.yaml\n{}", crate::support::trim_indent(test))
}

#[test]
fn policy_paths_relative_to_the_test() {
    check(
        &with_test(
            r#"
            apiVersion: cli.kyverno.io/v1alpha1
            kind: Test
            metadata:
              name: t
            policies:
              - ../$0
            "#,
        ),
        expect![[r#"
            ../policies/ Folder
            ../resources/ Folder
            ../tests/ Folder"#]],
    );
    check(
        &with_test(
            r#"
            apiVersion: cli.kyverno.io/v1alpha1
            kind: Test
            metadata:
              name: t
            resources: [../resources/$0]
            "#,
        ),
        expect!["../resources/pods.yaml File"],
    );
}

#[test]
fn policy_names_from_the_listed_files() {
    check(
        &with_test(
            r#"
            apiVersion: cli.kyverno.io/v1alpha1
            kind: Test
            metadata:
              name: t
            policies: [../policies/require-labels.yaml]
            resources: [../resources/pods.yaml]
            results:
              - policy: $0
            "#,
        ),
        expect![[r#"
            apps/local (Policy) Value
            local (Policy) Value
            require-labels (ClusterPolicy) Value"#]],
    );
}

#[test]
fn rule_names_of_the_result_policy_with_autogen_rules() {
    check(
        &with_test(
            r#"
            apiVersion: cli.kyverno.io/v1alpha1
            kind: Test
            metadata:
              name: t
            policies: [../policies/require-labels.yaml]
            resources: [../resources/pods.yaml]
            results:
              - policy: local
                rule: x
              - policy: require-labels
                rule: $0
                resources: [good-pod]
            "#,
        ),
        expect![[r#"
            check-team (rule of require-labels) Value
            autogen-check-team (autogen rule for Deployments and other Pod controllers) Value
            autogen-cronjob-check-team (autogen rule for CronJobs) Value
            check-namespace (rule of require-labels) Value"#]],
    );
}

#[test]
fn resource_names_kinds_and_results() {
    let test = |cursor_line: &str| {
        with_test(&format!(
            "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [../policies/require-labels.yaml]\nresources: [../resources/pods.yaml]\nresults:\n  - policy: require-labels\n    rule: check-team\n{cursor_line}\n"
        ))
    };
    check(
        &test("    resources:\n      - $0"),
        expect![[r#"
            good-pod (Pod in apps) Value
            web (Deployment) Value"#]],
    );
    check(
        &test("    kind: $0"),
        expect![[r#"
            Deployment (apps/v1) Kind
            Pod (v1) Kind"#]],
    );
    check(
        &test("    result: $0"),
        expect![[r#"
            pass Value
            fail Value
            skip Value
            error Value
            warn Value"#]],
    );
}

#[test]
fn gator_suite_paths() {
    check(
        r#"
        #- /lib/template.yaml
        apiVersion: templates.gatekeeper.sh/v1
        kind: ConstraintTemplate
        metadata:
          name: k8srequiredlabels
        #- /lib/samples/constraint.yaml
        apiVersion: constraints.gatekeeper.sh/v1beta1
        kind: K8sRequiredLabels
        metadata:
          name: c
        #- /lib/samples/example_allowed.yaml
        apiVersion: v1
        kind: Namespace
        metadata:
          name: ok
        #- /lib/suite.yaml
        apiVersion: test.gatekeeper.sh/v1alpha1
        kind: Suite
        tests:
          - name: t
            template: template.yaml
            constraint: samples/constraint.yaml
            cases:
              - name: allowed
                object: samples/ex$0
        "#,
        expect!["samples/example_allowed.yaml File"],
    );
}
