//! Unit tests of the gator Suite runner over an in-memory file source.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use expect_test::{Expect, expect};

use super::run_suite_file;
use crate::testrun::{FileError, FileSource, Subject};

/// Files from a fixture: `#- /path` starts a file, everything until the next header is its text.
struct FixtureFiles {
    files: HashMap<PathBuf, Arc<str>>,
}

impl FixtureFiles {
    fn parse(fixture: &str) -> Self {
        let mut files = HashMap::new();
        let mut current: Option<(PathBuf, String)> = None;
        for line in fixture.lines() {
            if let Some(path) = line.strip_prefix("#- ") {
                if let Some((path, text)) = current.take() {
                    files.insert(path, Arc::from(text));
                }
                current = Some((PathBuf::from(path.trim()), String::new()));
            } else if let Some((_, text)) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        if let Some((path, text)) = current {
            files.insert(path, Arc::from(text));
        }
        FixtureFiles { files }
    }
}

impl FileSource for FixtureFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        self.files.get(path).cloned().ok_or_else(|| FileError::NotFound { path: path.to_path_buf() })
    }

    fn list_dir(&self, _path: &Path) -> Option<Vec<PathBuf>> {
        None
    }
}

/// The template and constraint every fixture shares: `K8sRequiredOwner` denies Pods without an
/// `owner` label, and its parameters must hold a string `message`.
const SHARED: &str = r#"
#- /suite/template.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredowner
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredOwner
      validation:
        openAPIV3Schema:
          type: object
          properties:
            message:
              type: string
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredowner
        violation[{"msg": msg}] {
          not input.review.object.metadata.labels.owner
          msg := sprintf("%v: %v has no owner", [input.parameters.message, input.review.object.metadata.name])
        }
#- /suite/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredOwner
metadata:
  name: owner
spec:
  parameters:
    message: denied
#- /suite/bad-constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredOwner
metadata:
  name: owner
spec:
  parameters:
    message: 3
#- /suite/other-kind.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sSomethingElse
metadata:
  name: owner
#- /suite/owned.yaml
apiVersion: v1
kind: Pod
metadata:
  name: owned
  labels:
    owner: me
#- /suite/orphan.yaml
apiVersion: v1
kind: Pod
metadata:
  name: orphan
#- /suite/two.yaml
apiVersion: v1
kind: Pod
metadata:
  name: a
---
apiVersion: v1
kind: Pod
metadata:
  name: b
"#;

/// Runs `/suite/suite.yaml` from the fixture (plus the shared files) and prints one line per result
/// and per problem.
fn check(suite: &str, expect: Expect) {
    let files = FixtureFiles::parse(&format!("{SHARED}\n#- /suite/suite.yaml\n{suite}"));
    let report = run_suite_file(&files, Path::new("/suite/suite.yaml"));
    let mut lines = Vec::new();
    for result in &report.results {
        let Subject::Gatekeeper { test, case } = &result.subject else {
            continue;
        };
        let case = case.as_deref().unwrap_or("-");
        let pointer = result.location.as_ref().map(|at| at.pointer.as_str()).unwrap_or("");
        let mut line = format!(
            "{:?} {test}/{case} {pointer} expected [{}] actual [{}]",
            result.outcome, result.expected, result.actual
        );
        if !result.reason.is_empty() {
            line.push_str(&format!(" reason [{}]", result.reason));
        }
        lines.push(line);
    }
    for problem in &report.problems {
        lines.push(format!("problem {} at {}: {}", problem.code, problem.at.pointer, problem.message));
    }
    expect.assert_eq(&lines.join("\n"));
}

#[test]
fn assertions_count_violations_like_gator() {
    check(
        r#"
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: owner
    template: template.yaml
    constraint: constraint.yaml
    cases:
      - name: owned
        object: owned.yaml
        assertions:
          - violations: no
      - name: orphan
        object: orphan.yaml
        assertions:
          - violations: yes
          - violations: 1
            message: "denied: orphan"
          - violations: 0
            message: "^nothing"
      - name: wrong-expectation
        object: orphan.yaml
        assertions:
          - violations: 2
"#,
        expect![[r#"
            Pass owner/owned /tests/0/cases/0 expected [violations: no] actual [0 violations]
            Pass owner/orphan /tests/0/cases/1 expected [violations: yes; violations: 1 matching "denied: orphan"; violations: 0 matching "^nothing"] actual [1 violations: ["denied: orphan has no owner"]]
            Fail owner/wrong-expectation /tests/0/cases/2 expected [violations: 2] actual [1 violations: ["denied: orphan has no owner"]] reason [got 1 violations but want exactly 2: got messages ["denied: orphan has no owner"]]"#]],
    );
}

#[test]
fn skipped_tests_and_cases_stay_visible() {
    check(
        r#"
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: skipped-test
    skip: true
    template: template.yaml
    constraint: constraint.yaml
    cases:
      - name: a
        object: owned.yaml
        assertions:
          - violations: no
  - name: partly
    template: template.yaml
    constraint: constraint.yaml
    cases:
      - name: skipped-case
        skip: true
        object: orphan.yaml
        assertions:
          - violations: no
      - name: run
        object: orphan.yaml
        assertions:
          - violations: yes
"#,
        expect![[r#"
            Skipped skipped-test/a /tests/0/cases/0 expected [skip] actual [skipped] reason [the test is skipped]
            Skipped partly/skipped-case /tests/1/cases/0 expected [skip] actual [skipped] reason [the case is skipped]
            Pass partly/run /tests/1/cases/1 expected [violations: yes] actual [1 violations: ["denied: orphan has no owner"]]"#]],
    );
}

#[test]
fn invalid_tests_expect_a_schema_error() {
    check(
        r#"
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: rejected
    template: template.yaml
    constraint: bad-constraint.yaml
    invalid: true
  - name: accepted
    template: template.yaml
    constraint: constraint.yaml
    invalid: true
"#,
        expect![[r#"
            Pass rejected/- /tests/0 expected [invalid] actual [invalid] reason [schema validation failed: /spec/parameters/message: must be of type string, found integer]
            Fail accepted/- /tests/1 expected [invalid] actual [valid] reason [the constraint is valid but the test expects it to be rejected]"#]],
    );
}

#[test]
fn mistakes_in_the_suite_become_problems() {
    check(
        r#"
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: missing-template
    template: nowhere.yaml
    constraint: constraint.yaml
    cases:
      - name: a
        object: owned.yaml
        assertions:
          - violations: no
  - name: kind-mismatch
    template: template.yaml
    constraint: other-kind.yaml
    cases:
      - name: a
        object: owned.yaml
        assertions:
          - violations: no
  - name: case-mistakes
    template: template.yaml
    constraint: constraint.yaml
    cases:
      - name: two-objects
        object: two.yaml
        assertions:
          - violations: no
      - name: no-assertions
        object: owned.yaml
      - name: bad-count
        object: owned.yaml
        assertions:
          - violations: maybe
"#,
        expect![[r#"
            Error missing-template/a /tests/0/cases/0 expected [violations: no] actual [error] reason [the template or constraint could not be added]
            Error kind-mismatch/a /tests/1/cases/0 expected [violations: no] actual [error] reason [the template or constraint could not be added]
            Error case-mistakes/two-objects /tests/2/cases/0 expected [violations: no] actual [error] reason [invalid case]
            Error case-mistakes/no-assertions /tests/2/cases/1 expected [] actual [error] reason [invalid case]
            Error case-mistakes/bad-count /tests/2/cases/2 expected [violations: maybe] actual [error] reason [invalid assertion]
            problem gatekeeper/missing-file at /tests/0/template: cannot read /suite/nowhere.yaml: /suite/nowhere.yaml does not exist
            problem gatekeeper/constraint-kind-mismatch at /tests/1/constraint: other-kind.yaml: wrong kind "K8sSomethingElse" for constraint "owner"; the template wants "K8sRequiredOwner"
            problem gatekeeper/multiple-objects at /tests/2/cases/0/object: "two.yaml" defines 2 objects; a case reviews exactly one
            problem gatekeeper/missing-assertions at /tests/2/cases/1: the case has no assertions"#]],
    );
}

#[test]
fn expansion_reviews_the_generated_objects_too() {
    check(
        r#"
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: expanded
    template: template.yaml
    constraint: constraint.yaml
    expansion: expansion.yaml
    cases:
      - name: deployment-with-orphan-pods
        object: deployment.yaml
        assertions:
          - violations: 1
          - violations: 1
            message: "^\\[Implied by expand-deployments\\] denied: web-pod has no owner$"
  - name: mutated
    template: template.yaml
    constraint: constraint.yaml
    expansion: mutator.yaml
    cases:
      - name: a
        object: deployment.yaml
        assertions:
          - violations: no
#- /suite/expansion.yaml
apiVersion: expansion.gatekeeper.sh/v1alpha1
kind: ExpansionTemplate
metadata:
  name: expand-deployments
spec:
  applyTo:
    - groups: ["apps"]
      kinds: ["Deployment"]
      versions: ["v1"]
  templateSource: "spec.template"
  generatedGVK:
    group: ""
    version: v1
    kind: Pod
#- /suite/mutator.yaml
apiVersion: mutations.gatekeeper.sh/v1
kind: Assign
metadata:
  name: add-owner
#- /suite/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    owner: me
spec:
  template:
    metadata:
      labels:
        app: web
"#,
        expect![[r#"
            Pass expanded/deployment-with-orphan-pods /tests/0/cases/0 expected [violations: 1; violations: 1 matching "^\\[Implied by expand-deployments\\] denied: web-pod has no owner$"] actual [1 violations: ["[Implied by expand-deployments] denied: web-pod has no owner"]]
            Unsupported mutated/a /tests/1/cases/0 expected [violations: no] actual [unsupported] reason [the expansion file holds a mutator (Assign); mutation is not implemented, so the expanded objects would be wrong]"#]],
    );
}

#[test]
fn files_that_are_not_suites_are_ignored() {
    check("apiVersion: v1\nkind: ConfigMap\n", expect![[""]]);
}

#[test]
fn a_test_without_cases_passes_once_its_template_and_constraint_are_added() {
    check(
        r#"
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: no-cases
    template: template.yaml
    constraint: constraint.yaml
"#,
        expect![
            "Pass no-cases/- /tests/0 expected [valid] actual [valid] reason [the template and constraint were added; the test has no cases]"
        ],
    );
}

#[test]
fn a_template_whose_rego_does_not_compile_errors_every_case() {
    // gator refuses the template, so even a case that expects violations must not pass.
    check(
        r#"
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: broken
    template: broken-template.yaml
    constraint: constraint.yaml
    cases:
      - name: orphan
        object: orphan.yaml
        assertions:
          - violations: yes
#- /suite/broken-template.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredowner
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredOwner
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredowner
        violation[{"msg": msg}] {
          not input.review.object.metadata.labels.owner
          msg := owner_message(input.review.object)
        }
"#,
        expect![[r#"
            Error broken/orphan /tests/0/cases/0 expected [violations: yes] actual [error] reason [the template or constraint could not be added]
            problem gatekeeper/invalid-template at /tests/0/template: invalid ConstraintTemplate /suite/broken-template.yaml at /spec/targets/0/rego: the Rego does not compile: line 4, column 10: undefined function owner_message"#]],
    );
}

#[test]
fn deprecated_builtins_run_as_opa_runs_them_in_rego_v0() {
    check(
        r#"
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: deprecated
    template: deprecated-template.yaml
    constraint: constraint.yaml
    cases:
      - name: orphan
        object: orphan.yaml
        assertions:
          - violations: 1
      - name: owned
        object: owned.yaml
        assertions:
          - violations: no
#- /suite/deprecated-template.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredowner
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredOwner
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredowner
        violation[{"msg": "no owner"}] {
          re_match("^orph", input.review.object.metadata.name)
          all([true, is_string(input.review.object.metadata.name)])
          not any([input.review.object.metadata.labels.owner == "me"])
        }
"#,
        expect![[r#"
            Pass deprecated/orphan /tests/0/cases/0 expected [violations: 1] actual [1 violations: ["no owner"]]
            Pass deprecated/owned /tests/0/cases/1 expected [violations: no] actual [0 violations]"#]],
    );
}

#[test]
fn template_versions_gatekeeper_does_not_serve_are_refused() {
    check(
        r#"
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: retired
    template: v1beta2-template.yaml
    constraint: constraint.yaml
    cases:
      - name: orphan
        object: orphan.yaml
        assertions:
          - violations: yes
#- /suite/v1beta2-template.yaml
apiVersion: templates.gatekeeper.sh/v1beta2
kind: ConstraintTemplate
metadata:
  name: k8srequiredowner
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredOwner
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredowner
        violation[{"msg": "always"}] { true }
"#,
        expect![[r#"
            Error retired/orphan /tests/0/cases/0 expected [violations: yes] actual [error] reason [the template or constraint could not be added]
            problem gatekeeper/invalid-template at /tests/0/template: invalid ConstraintTemplate /suite/v1beta2-template.yaml at /apiVersion: no kind "ConstraintTemplate" is registered for version "templates.gatekeeper.sh/v1beta2"; templates use templates.gatekeeper.sh/v1, templates.gatekeeper.sh/v1beta1, templates.gatekeeper.sh/v1alpha1"#]],
    );
}

#[test]
fn objects_and_inventory_are_read_as_yaml_1_2_like_gator() {
    // gator's YAML reader keeps `yes` a string: the inventory Namespace's label equals "yes".
    check(
        r#"
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: inventory
    template: inventory-template.yaml
    constraint: constraint.yaml
    cases:
      - name: flagged-namespace
        object: orphan-in-team.yaml
        inventory: [namespace.yaml]
        assertions:
          - violations: 1
#- /suite/inventory-template.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredowner
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredOwner
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredowner
        violation[{"msg": "the namespace requires owners"}] {
          namespace := data.inventory.cluster["v1"].Namespace[input.review.object.metadata.namespace]
          namespace.metadata.labels.strict == "yes"
        }
#- /suite/orphan-in-team.yaml
apiVersion: v1
kind: Pod
metadata:
  name: orphan
  namespace: team
#- /suite/namespace.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: team
  labels:
    strict: yes
"#,
        expect![[
            r#"Pass inventory/flagged-namespace /tests/0/cases/0 expected [violations: 1] actual [1 violations: ["the namespace requires owners"]]"#
        ]],
    );
}
