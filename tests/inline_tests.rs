//! Tests inline: code lenses, diagnostics on failing expectations and result hovers, computed from runs
//! on the editor's buffers; embedded tests; and that only the runs an edit affects are redone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::support::{Annotation, MemoryFiles, line_and_column, parse_fixture, render_annotations};
use expect_test::{Expect, expect};
use policy_lsp::ide::{Analysis, AnalysisHost, InlineRun};

/// Runs every test file of the fixture, then renders each file with its lenses above their lines
/// (`>> title`) and the inline test diagnostics under theirs.
fn check(fixture: &str, expect: Expect) {
    let files = parse_fixture(fixture);
    let analysis = crate::support::analysis_of(&files);
    let runs = run_all(&analysis);
    let mut out = String::new();
    for file in &files {
        let lenses = analysis.test_lenses(&file.path, &runs);
        let diagnostics = analysis.test_diagnostics(&file.path, &runs);
        if lenses.is_empty() && diagnostics.is_empty() {
            continue;
        }
        out.push_str(&format!("#- {}\n", file.path.display()));
        let annotations: Vec<Annotation> = diagnostics
            .iter()
            .map(|diagnostic| {
                let (line, start_column) = line_and_column(&file.text, diagnostic.range.start);
                let (_, end_column) = line_and_column(&file.text, diagnostic.range.end);
                let related: Vec<String> = diagnostic
                    .related
                    .iter()
                    .map(|related| {
                        let name = related.file.as_deref().unwrap_or(&file.path).display().to_string();
                        format!("{name} ({})", related.message)
                    })
                    .collect();
                let mut text = format!("{}[{}]: {}", diagnostic.severity.as_str(), diagnostic.code, diagnostic.message);
                if !related.is_empty() {
                    text.push_str(&format!(" | related: {}", related.join(", ")));
                }
                Annotation { line, start_column, end_column: end_column.max(start_column + 1), text }
            })
            .collect();
        let rendered = render_annotations(&file.text, &annotations);
        for (index, line) in rendered.lines().enumerate() {
            let _ = index;
            out.push_str(line);
            out.push('\n');
        }
        // Lenses are listed after the file, by line, to keep the rendering unambiguous.
        let mut lens_lines: Vec<(usize, String)> = lenses
            .iter()
            .map(|lens| (line_and_column(&file.text, lens.range.start).0 + 1, lens.title.clone()))
            .collect();
        lens_lines.sort();
        for (line, title) in lens_lines {
            out.push_str(&format!(">> line {line}: {title}\n"));
        }
    }
    expect.assert_eq(&out);
}

fn run_all(analysis: &Analysis) -> Vec<Arc<InlineRun>> {
    analysis
        .test_files(None)
        .into_iter()
        .map(|(path, framework)| Arc::new(analysis.run_inline_test(&path, framework)))
        .collect()
}

const POLICY: &str = r#"
#- /w/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  rules:
    - name: team-label
      match:
        any:
          - resources:
              kinds:
                - Pod
      validate:
        failureAction: Enforce
        message: "a team label is required"
        pattern:
          metadata:
            labels:
              team: "?*"
#- /w/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: labelled
  labels:
    team: payments
---
apiVersion: v1
kind: Pod
metadata:
  name: bare
"#;

#[test]
fn lenses_and_diagnostics_for_a_test_with_a_failing_expectation() {
    check(
        &format!(
            "{POLICY}{}",
            r#"
#- /w/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-team
policies:
  - policy.yaml
resources:
  - resources.yaml
results:
  - policy: require-team
    rule: team-label
    resources:
      - labelled
    result: pass
  - policy: require-team
    rule: team-label
    resources:
      - bare
      - labelled
    result: fail
"#
        ),
        expect![[r##"
            #- /w/policy.yaml
            apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata:
              name: require-team
            spec:
              rules:
                - name: team-label
                  match:
                    any:
                      - resources:
                          kinds:
                            - Pod
                  validate:
                    failureAction: Enforce
                    message: "a team label is required"
                    pattern:
                      metadata:
                        labels:
                          team: "?*"
            >> line 4: ✓ 2 passed  ✗ 1 failed · kyverno-test.yaml
            >> line 7: ✓ 2 passed  ✗ 1 failed
            #- /w/kyverno-test.yaml
            apiVersion: cli.kyverno.io/v1alpha1
            kind: Test
            metadata:
              name: require-team
            policies:
              - policy.yaml
            resources:
              - resources.yaml
            results:
              - policy: require-team
                rule: team-label
                resources:
                  - labelled
                result: pass
              - policy: require-team
                rule: team-label
                resources:
                  - bare
                  - labelled
            #       ^^^^^^^^ error[test/failed]: require-team/team-label on labelled: expected fail, got pass: validation rule 'team-label' passed. | related: /w/policy.yaml (the policy node that decided the result)
                result: fail
            >> line 2: ▶ Run tests  ✓ 2 passed  ✗ 1 failed
            >> line 10: ✓ 1 passed
            >> line 15: ✓ 1 passed  ✗ 1 failed
        "##]],
    );
}

#[test]
fn a_failing_pattern_points_at_the_pattern_node_and_the_resource_value() {
    check(
        &format!(
            "{POLICY}{}",
            r#"
#- /w/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-team
policies:
  - policy.yaml
resources:
  - resources.yaml
results:
  - policy: require-team
    rule: team-label
    resources:
      - bare
    result: pass
"#
        ),
        expect![[r##"
            #- /w/policy.yaml
            apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata:
              name: require-team
            spec:
              rules:
                - name: team-label
                  match:
                    any:
                      - resources:
                          kinds:
                            - Pod
                  validate:
                    failureAction: Enforce
                    message: "a team label is required"
                    pattern:
                      metadata:
                        labels:
                          team: "?*"
            >> line 4: ✗ 1 failed · kyverno-test.yaml
            >> line 7: ✗ 1 failed
            #- /w/kyverno-test.yaml
            apiVersion: cli.kyverno.io/v1alpha1
            kind: Test
            metadata:
              name: require-team
            policies:
              - policy.yaml
            resources:
              - resources.yaml
            results:
              - policy: require-team
                rule: team-label
                resources:
                  - bare
            #       ^^^^ error[test/failed]: require-team/team-label on bare: expected pass, got fail: validation error: a team label is required. rule team-label failed at path /metadata/labels/ | related: /w/policy.yaml (the policy node that decided the result), /w/resources.yaml (the resource value that failed)
                result: pass
            >> line 2: ▶ Run tests  ✗ 1 failed
            >> line 10: ✗ 1 failed
        "##]],
    );
}

#[test]
fn an_embedded_test_runs_against_its_own_file() {
    check(
        r#"
#- /w/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: no-latest
spec:
  rules:
    - name: pinned-images
      match:
        any:
          - resources:
              kinds:
                - Pod
      validate:
        failureAction: Enforce
        message: "pin the image"
        pattern:
          spec:
            containers:
              - image: "!*:latest"
---
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: no-latest
results:
  - policy: no-latest
    rule: pinned-images
    resources:
      - floating
    result: fail
  - policy: no-latest
    rule: pinned-images
    resources:
      - pinned
    result: fail
---
apiVersion: v1
kind: Pod
metadata:
  name: floating
spec:
  containers:
    - name: app
      image: nginx:latest
---
apiVersion: v1
kind: Pod
metadata:
  name: pinned
spec:
  containers:
    - name: app
      image: nginx:1.27.3
"#,
        expect![[r##"
            #- /w/policy.yaml
            apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata:
              name: no-latest
            spec:
              rules:
                - name: pinned-images
                  match:
                    any:
                      - resources:
                          kinds:
                            - Pod
                  validate:
                    failureAction: Enforce
                    message: "pin the image"
                    pattern:
                      spec:
                        containers:
                          - image: "!*:latest"
            ---
            apiVersion: cli.kyverno.io/v1alpha1
            kind: Test
            metadata:
              name: no-latest
            results:
              - policy: no-latest
                rule: pinned-images
                resources:
                  - floating
                result: fail
              - policy: no-latest
                rule: pinned-images
                resources:
                  - pinned
            #       ^^^^^^ error[test/failed]: no-latest/pinned-images on pinned: expected fail, got pass: validation rule 'pinned-images' passed. | related: /w/policy.yaml (the policy node that decided the result)
                result: fail
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: floating
            spec:
              containers:
                - name: app
                  image: nginx:latest
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: pinned
            spec:
              containers:
                - name: app
                  image: nginx:1.27.3
            >> line 4: ✓ 1 passed  ✗ 1 failed · policy.yaml
            >> line 7: ✓ 1 passed  ✗ 1 failed
            >> line 22: ▶ Run tests  ✓ 1 passed  ✗ 1 failed
            >> line 26: ✓ 1 passed
            >> line 31: ✗ 1 failed
        "##]],
    );
}

/// A gator Suite embedded in its template's file: the case `owned` passes, `orphan` expects no violation and
/// gets one. The CLI's flag tests run it too.
pub const OWNER_SUITE: &str = r#"
#- /w/required-label.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sneedsowner
spec:
  crd:
    spec:
      names:
        kind: K8sNeedsOwner
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sneedsowner

        violation[{"msg": msg}] {
          not input.review.object.metadata.labels.owner
          msg := "an owner label is required"
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sNeedsOwner
metadata:
  name: namespaces-need-owner
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Namespace"]
---
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
metadata:
  name: owner
tests:
  - name: owner-label
    cases:
      - name: owned
        assertions:
          - violations: no
      - name: orphan
        assertions:
          - violations: no
---
apiVersion: v1
kind: Namespace
metadata:
  name: owned
  labels:
    owner: team-a
---
apiVersion: v1
kind: Namespace
metadata:
  name: orphan
"#;

#[test]
fn an_embedded_gator_suite_takes_template_constraint_and_objects_from_its_file() {
    check(
        OWNER_SUITE,
        expect![[r##"
            #- /w/required-label.yaml
            apiVersion: templates.gatekeeper.sh/v1
            kind: ConstraintTemplate
            metadata:
              name: k8sneedsowner
            spec:
              crd:
                spec:
                  names:
                    kind: K8sNeedsOwner
              targets:
                - target: admission.k8s.gatekeeper.sh
                  rego: |
                    package k8sneedsowner

                    violation[{"msg": msg}] {
                      not input.review.object.metadata.labels.owner
                      msg := "an owner label is required"
                    }
            ---
            apiVersion: constraints.gatekeeper.sh/v1beta1
            kind: K8sNeedsOwner
            metadata:
              name: namespaces-need-owner
            spec:
              match:
                kinds:
                  - apiGroups: [""]
                    kinds: ["Namespace"]
            ---
            apiVersion: test.gatekeeper.sh/v1alpha1
            kind: Suite
            metadata:
              name: owner
            tests:
              - name: owner-label
                cases:
                  - name: owned
                    assertions:
                      - violations: no
                  - name: orphan
            #       ^^^^^^^^^^^^ error[test/failed]: owner-label / orphan: expected violations: no, got 1 violations: ["an owner label is required"]: got 1 violations but want none: got messages ["an owner label is required"]
                    assertions:
                      - violations: no
            ---
            apiVersion: v1
            kind: Namespace
            metadata:
              name: owned
              labels:
                owner: team-a
            ---
            apiVersion: v1
            kind: Namespace
            metadata:
              name: orphan
            >> line 4: ✓ 1 passed  ✗ 1 failed · required-label.yaml
            >> line 23: ✓ 1 passed  ✗ 1 failed · required-label.yaml
            >> line 31: ▶ Run tests  ✓ 1 passed  ✗ 1 failed
            >> line 37: ✓ 1 passed
            >> line 40: ✗ 1 failed
        "##]],
    );
}

#[test]
fn a_mutation_that_differs_from_the_expected_resource_shows_a_diff_in_the_hover() {
    let fixture = r#"
#- /w/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: add-env
spec:
  rules:
    - name: env-label
      match:
        any:
          - resources:
              kinds:
                - Pod
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              env: staging
#- /w/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  containers:
    - name: web
      image: nginx:1.27.3
#- /w/patched.yaml
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels:
    env: production
spec:
  containers:
    - name: web
      image: nginx:1.27.3
#- /w/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: add-env
policies:
  - policy.yaml
resources:
  - resources.yaml
results:
  - policy: add-env
    rule: env-label
    resources:
      - shop/web
    patchedResources: patched.yaml
    kind: Pod
    res$0ult: pass
"#;
    let (analysis, path, offset) = crate::support::analysis_with_cursor(fixture);
    let runs = run_all(&analysis);
    let hover = analysis.test_result_hover(&path, offset, &runs).expect("a hover on the results entry");
    expect![[r#"
        **Test results** — ✗ 1 failed

        ✗ `add-env` / `env-label` on `v1/Pod/shop/web`: expected **pass**, got **fail**

          - reason: Resource diff

        ```diff
        --- expected
        +++ actual
          ...
          kind: Pod
          metadata:
            labels:
        -     env: production
        +     env: staging
            name: web
            namespace: shop
          spec:
          ...
        ```

    "#]]
    .assert_eq(&hover.markdown);
}

/// A host over in-memory files, for edits.
fn host_of(fixture: &str) -> (AnalysisHost, Vec<PathBuf>) {
    let files = parse_fixture(fixture);
    let mut memory = MemoryFiles::default();
    for file in &files {
        memory.files.insert(file.path.clone(), file.text.clone());
    }
    let mut host = AnalysisHost::new(Arc::new(memory));
    for file in &files {
        host.set_file(file.path.clone(), &file.text);
    }
    (host, files.into_iter().map(|file| file.path).collect())
}

#[test]
fn only_the_runs_an_edit_affects_are_redone() {
    let fixture = format!(
        "{POLICY}{}",
        r#"
#- /w/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-team
policies:
  - policy.yaml
resources:
  - resources.yaml
results:
  - policy: require-team
    rule: team-label
    resources:
      - bare
    result: fail
#- /other/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: unrelated
spec:
  rules: []
#- /other/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: unrelated
policies:
  - policy.yaml
results: []
"#
    );
    let (mut host, _) = host_of(&fixture);
    let analysis = host.snapshot();
    let runs = run_all(&analysis);
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|run| analysis.is_current(run)));

    // Editing the resources file concerns the /w test only, through what its run read.
    let resources = Path::new("/w/resources.yaml");
    let text = analysis.read(resources).unwrap();
    let at = text.find("payments").unwrap();
    host.apply_edits(
        resources,
        &[policy_lsp::ide::TextEdit { range: policy_lsp::base::TextRange::new(at, at + 8), text: "billing".into() }],
    );
    let after = host.snapshot();
    let affected = after.affected_tests(&[resources.to_path_buf()], &runs);
    let names: Vec<String> = affected.iter().map(|(path, _)| path.display().to_string()).collect();
    assert_eq!(names, ["/w/kyverno-test.yaml"]);
    let stale: Vec<String> =
        runs.iter().filter(|run| !after.is_current(run)).map(|run| run.test_file.display().to_string()).collect();
    assert_eq!(stale, ["/w/kyverno-test.yaml"]);
}

#[test]
fn repository_settings_govern_inline_test_diagnostics() {
    let fixture = format!(
        "{POLICY}{}",
        r#"
#- /w/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-team
policies: [policy.yaml]
resources: [resources.yaml]
results:
  - policy: require-team
    rule: team-label
    resources: [bare]
    result: pass
"#
    );
    let (mut host, _) = host_of(&fixture);
    let settings = serde_json::json!({"lint": {"severity": {"test/failed": "warning"}}});
    host.set_configs(vec![policy_lsp::ide::config::Config::empty(PathBuf::from("/w")).with_settings(&settings)]);
    let analysis = host.snapshot();
    let runs = run_all(&analysis);
    let found: Vec<String> = analysis
        .test_diagnostics(Path::new("/w/kyverno-test.yaml"), &runs)
        .iter()
        .map(|diagnostic| format!("{} {}", diagnostic.severity.as_str(), diagnostic.code))
        .collect();
    assert_eq!(found, ["warning test/failed"]);
}
