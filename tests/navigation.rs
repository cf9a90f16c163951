//! Go-to-definition and find-references at `$0` cursors: Kyverno Test results to policies, rules and
//! resources and back, test and suite paths to files, constraint kinds and templates, Kyverno context
//! entries and their `{{ }}` uses. Expected places are annotated `# ^^^ def` (definitions) and
//! `# ^^^ ref` (references, without the declaration) under the lines they point at.

use crate::support::{
    Annotation, FixtureFile, analysis_of, indexed_host_of, line_and_column, parse_fixture, render_annotations,
};

/// Compares the definitions and references at the cursor with the `def` and `ref` annotations, with every
/// file loaded (the command line) and with only the cursor's file loaded and the others known by their
/// index facts (the language server after its scan): both find the same places.
fn check(fixture: &str) {
    let files = parse_fixture(fixture);
    let with_cursor = files.iter().find(|file| file.cursor.is_some()).expect("a `$0` cursor");
    check_with(&files, &analysis_of(&files));
    check_with(&files, &indexed_host_of(&files, &with_cursor.path).snapshot());
}

fn check_with(files: &[FixtureFile], analysis: &policy_lsp::ide::Analysis) {
    let with_cursor = files.iter().find(|file| file.cursor.is_some()).expect("a `$0` cursor");
    let (path, offset) = (with_cursor.path.clone(), with_cursor.cursor.unwrap_or_default());
    let definitions = analysis.definition(&path, offset);
    let references = analysis.references(&path, offset, false).unwrap_or_default();
    let mut actual_text = String::new();
    let mut expected_text = String::new();
    for file in files {
        let mut actual: Vec<Annotation> = Vec::new();
        for (label, locations) in [("def", &definitions), ("ref", &references)] {
            for location in locations.iter().filter(|location| location.path == file.path) {
                let (line, start_column) = line_and_column(&file.text, location.range.start);
                let (_, end_column) = line_and_column(&file.text, location.range.end);
                // An annotation at column 0 is written `#^`, which the fixture reader takes as two wide.
                let least = if start_column == 0 { 2 } else { start_column + 1 };
                actual.push(Annotation {
                    line,
                    start_column,
                    end_column: end_column.max(least),
                    text: label.to_string(),
                });
            }
        }
        actual.sort();
        let mut expected = file.annotations.clone();
        expected.sort();
        actual_text.push_str(&format!("#- {}\n{}", file.path.display(), render_annotations(&file.text, &actual)));
        expected_text.push_str(&format!("#- {}\n{}", file.path.display(), render_annotations(&file.text, &expected)));
    }
    assert_eq!(actual_text, expected_text);
}

const POLICY: &str = r#"
#- /repo/team/policy.yaml
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
        failureAction: Enforce
        pattern:
          metadata:
            labels:
              team: "?*"
"#;

#[test]
fn result_policy_to_the_policy_and_every_result_naming_it() {
    check(&format!(
        "{}{}",
        POLICY.replace("  name: require-team\n", "  name: require-team\n#       ^^^^^^^^^^^^ def\n"),
        r#"
#- /repo/team/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: team
policies:
  - policy.yaml
resources:
  - resources.yaml
results:
  - policy: require-$0team
#           ^^^^^^^^^^^^ ref
    rule: check-team
    kind: Pod
    resources: [good]
    result: pass
#- /repo/team/.kyverno-test/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: team-again
policies:
  - ../
results:
  - policy: require-team
#           ^^^^^^^^^^^^ ref
    rule: check-team
    kind: Pod
    resources: [bad]
    result: fail
#- /repo/other/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: same-name-other-policy
policies:
  - policy.yaml
results:
  - policy: require-team
    rule: check-team
    kind: Pod
    resources: [x]
    result: pass
"#
    ));
}

#[test]
fn policy_name_to_the_results_of_tests_listing_its_file() {
    check(&format!(
        "{}{}",
        POLICY.replace("  name: require-team\n", "  name: require$0-team\n#       ^^^^^^^^^^^^ def\n"),
        r#"
#- /repo/team/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: team
policies:
  - ./policy.yaml
results:
  - policy: require-team
#           ^^^^^^^^^^^^ ref
    rule: check-team
    kind: Pod
    resources: [good]
    result: pass
  - policy: require-teams
    rule: check-team
    kind: Pod
    resources: [good]
    result: pass
"#
    ));
}

#[test]
fn result_rule_to_the_rule_and_autogen_results() {
    check(&format!(
        "{}{}",
        POLICY.replace("    - name: check-team\n", "    - name: check-team\n#           ^^^^^^^^^^ def\n"),
        r#"
#- /repo/team/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: team
policies:
  - policy.yaml
results:
  - policy: require-team
    rule: check-$0team
#         ^^^^^^^^^^ ref
    kind: Pod
    resources: [good]
    result: pass
  - policy: require-team
    rule: autogen-check-team
#         ^^^^^^^^^^^^^^^^^^ ref
    kind: Deployment
    resources: [web]
    result: pass
  - policy: other
    rule: check-team
    kind: Pod
    resources: [good]
    result: pass
"#
    ));
}

#[test]
fn result_resource_to_the_resource_document_and_back() {
    let test = r#"
#- /repo/team/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: team
policies:
  - policy.yaml
resources:
  - resources.yaml
results:
  - policy: require-team
    rule: check-team
    kind: Pod
    resources:
      - go$0od
#       ^^^^ ref
      - default/bad
    result: pass
  - policy: require-team
    rule: check-team
    kind: Pod
    resources: [default/good]
#               ^^^^^^^^^^^^ ref
    result: pass
#- /repo/team/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: good
#       ^^^^ def
---
apiVersion: v1
kind: Pod
metadata:
  name: bad
"#;
    check(&format!("{POLICY}{test}"));
    // From the resource's own name, the same results.
    check(&format!(
        "{POLICY}{}",
        test.replace("      - go$0od\n", "      - good\n").replace("  name: good\n", "  name: go$0od\n")
    ));
}

#[test]
fn test_paths_to_their_files() {
    check(&format!(
        "{}{}",
        POLICY.replace("apiVersion: kyverno.io/v1\n", "apiVersion: kyverno.io/v1\n#^ def\n"),
        r#"
#- /repo/team/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: team
policies:
  - poli$0cy.yaml
#   ^^^^^^^^^^^ ref
results: []
#- /repo/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: all
policies:
  - team/policy.yaml
#   ^^^^^^^^^^^^^^^^ ref
  - team
results: []
"#
    ));
}

const TEMPLATE: &str = r#"
#- /repo/owner/template.yaml
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
        violation[{"msg": "owner is required"}] { not input.review.object.metadata.labels.owner }
"#;

#[test]
fn suite_paths_and_constraint_kinds() {
    check(&format!(
        "{}{}",
        TEMPLATE
            .replace("apiVersion: templates.gatekeeper.sh/v1\n", "apiVersion: templates.gatekeeper.sh/v1\n#^ def\n"),
        r#"
#- /repo/owner/suite.yaml
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: owner
    template: templ$0ate.yaml
#             ^^^^^^^^^^^^^ ref
    constraint: constraint.yaml
    cases: []
"#
    ));
    check(&format!(
        "{}{}",
        TEMPLATE.replace(
            "        kind: K8sRequiredOwner\n",
            "        kind: K8sRequiredOwner\n#             ^^^^^^^^^^^^^^^^ def\n"
        ),
        r#"
#- /repo/owner/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequired$0Owner
#     ^^^^^^^^^^^^^^^^ ref
metadata:
  name: owner
#- /repo/other/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredOwner
#     ^^^^^^^^^^^^^^^^ ref
metadata:
  name: owner-again
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: labels
"#
    ));
}

#[test]
fn template_kind_lists_its_constraints() {
    check(&format!(
        "{}{}",
        TEMPLATE.replace(
            "        kind: K8sRequiredOwner\n",
            "        kind: K8sRequired$0Owner\n#             ^^^^^^^^^^^^^^^^ def\n"
        ),
        r#"
#- /repo/owner/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredOwner
#     ^^^^^^^^^^^^^^^^ ref
metadata:
  name: owner
"#
    ));
}

const CONTEXT_POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: limits
spec:
  rules:
    - name: check-limits
      context:
        - name: limits
#               ^^^^^^ def
          configMap:
            name: limits
            namespace: "{{ request.namespace }}"
        - name: maximum
          variable:
            jmesPath: limits.data.max
#                     ^^^^^^ ref
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: "at most {{ limits.data.max }} replicas, not {{request.object.spec.replicas}}"
#                            ^^^^^^ ref
        foreach:
          - list: request.object.spec.containers
            context:
              - name: limits
                variable:
                  value: 3
            deny:
              conditions:
                any:
                  - key: "{{ limits }}"
                    operator: GreaterThan
                    value: "{{ maximum }}"
    - name: other-rule
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: "{{ limits }}"
        deny: {}
"#;

#[test]
fn context_entry_uses_in_its_scope() {
    // From a use: the declaration, and every use that resolves to it (the foreach's own `limits` and the
    // other rule's `limits` do not).
    check(&CONTEXT_POLICY.replace(
        "        message: \"at most {{ limits.data.max }} replicas",
        "        message: \"at most {{ lim$0its.data.max }} replicas",
    ));
    // From the declaration itself.
    check(&CONTEXT_POLICY.replace("        - name: limits\n#", "        - name: lim$0its\n#"));
}

#[test]
fn foreach_context_shadows_the_rule_context() {
    check(
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: limits
spec:
  rules:
    - name: check-limits
      context:
        - name: limits
          variable:
            value: 1
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        foreach:
          - list: request.object.spec.containers
            context:
              - name: limits
#                     ^^^^^^ def
                variable:
                  value: 3
            deny:
              conditions:
                any:
                  - key: "{{ length(lim$0its) }}"
#                                   ^^^^^^ ref
                    operator: GreaterThan
                    value: "{{ element.name }}"
"#,
    );
}

#[test]
fn nothing_to_navigate_from_plain_values() {
    check(&POLICY.replace("failureAction: Enforce", "failureAction: Enf$0orce"));
}
