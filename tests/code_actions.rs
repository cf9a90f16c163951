//! Code actions at `$0` cursors, rendered as the files they produce: moving the deprecated
//! `validationFailureAction(Overrides)` into the rules, adding missing required fields, and creating test
//! skeletons for a policy or a template.

use crate::support::{FixtureFile, analysis_of, parse_fixture};
use expect_test::{Expect, expect};
use policy_lsp::ide::{FileChange, TextEdit};

/// Renders every action at the cursor (diagnostic fixes included) with the text of each file it writes,
/// then the diagnostics of those files once the action is applied (`test/*` codes of a file that now
/// refers to files the fixture lacks included), so an action that leaves the files broken shows it.
fn check(fixture: &str, expect: Expect) {
    let files = parse_fixture(fixture);
    let analysis = analysis_of(&files);
    let with_cursor = files.iter().find(|file| file.cursor.is_some()).expect("a `$0` cursor");
    let (path, offset) = (with_cursor.path.clone(), with_cursor.cursor.unwrap_or_default());
    let range = policy_lsp::base::TextRange::empty(offset);
    let mut actions: Vec<(String, Vec<FileChange>)> = Vec::new();
    for diagnostic in analysis.diagnostics(&path) {
        let Some(fix) = diagnostic.fix else { continue };
        if diagnostic.range.end < offset || diagnostic.range.start > offset {
            continue;
        }
        let edit = TextEdit { range: fix.range, text: fix.replacement };
        actions.push((format!("fix: {}", fix.title), vec![FileChange::Edit { path: path.clone(), edits: vec![edit] }]));
    }
    for action in analysis.code_actions(&path, range) {
        let fixes = action.diagnostic.as_ref().map(|diagnostic| format!(" (fixes {})", diagnostic.code));
        actions.push((format!("{:?}: {}{}", action.kind, action.title, fixes.unwrap_or_default()), action.changes));
    }
    let mut rendered = String::new();
    for (title, changes) in actions {
        rendered.push_str(&format!("== {title}\n"));
        let mut after: Vec<FixtureFile> = files
            .iter()
            .map(|file| FixtureFile {
                path: file.path.clone(),
                text: file.text.clone(),
                annotations: Vec::new(),
                cursor: None,
            })
            .collect();
        let mut written = Vec::new();
        for change in changes {
            let (path, text) = match change {
                FileChange::Edit { path, edits } => {
                    let original = &files.iter().find(|file| file.path == path).expect("edited file").text;
                    let text = apply(original, &edits);
                    rendered.push_str(&format!("-- edit {}\n{text}", path.display()));
                    (path, text)
                }
                FileChange::Create { path, text } => {
                    rendered.push_str(&format!("-- create {}\n{text}", path.display()));
                    (path, text)
                }
            };
            after.retain(|file| file.path != path);
            after.push(FixtureFile { path: path.clone(), text, annotations: Vec::new(), cursor: None });
            written.push(path);
        }
        let analysis_after = analysis_of(&after);
        for path in written {
            for diagnostic in analysis_after.diagnostics(&path) {
                rendered.push_str(&format!(
                    "-- after: {} {}[{}] {}\n",
                    path.display(),
                    diagnostic.severity.as_str(),
                    diagnostic.code,
                    diagnostic.message
                ));
            }
        }
    }
    expect.assert_eq(&rendered);
}

/// Applies non-overlapping edits, last first.
fn apply(text: &str, edits: &[TextEdit]) -> String {
    let mut sorted = edits.to_vec();
    sorted.sort_by_key(|edit| std::cmp::Reverse(edit.range.start));
    let mut out = text.to_string();
    for edit in sorted {
        out.replace_range(edit.range.start..edit.range.end, &edit.text);
    }
    out
}

#[test]
fn spec_failure_action_moves_into_each_validate_rule() {
    check(
        r#"
        #- /repo/policy.yaml
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          validationFailureAction: enf$0orce
          validationFailureActionOverrides:
            - action: Audit
              namespaces:
                - dev
          background: true
          rules:
            - name: team
              match:
                any:
                  - resources:
                      kinds: [Pod]
              validate:
                message: team label
                pattern:
                  metadata:
                    labels:
                      team: "?*"
            - name: already-set
              match:
                any:
                  - resources:
                      kinds: [Pod]
              validate: {failureAction: Audit, deny: {}}
            - name: add-label
              match:
                any:
                  - resources:
                      kinds: [Pod]
              mutate:
                patchStrategicMerge:
                  metadata:
                    labels:
                      team: x
            - name: images
              match:
                any:
                  - resources:
                      kinds: [Pod]
              verifyImages:
                - imageReferences: ["ghcr.io/*"]
                  attestors: []
        #- /repo/.kyverno-test/kyverno-test.yaml
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Test
        "#,
        expect![[r#"
            == QuickFix: Move `validationFailureAction` and its overrides into each rule's `validate` (fixes schema/deprecated)
            -- edit /repo/policy.yaml
            apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata:
              name: p
            spec:
              background: true
              rules:
                - name: team
                  match:
                    any:
                      - resources:
                          kinds: [Pod]
                  validate:
                    failureAction: Enforce
                    failureActionOverrides:
                      - action: Audit
                        namespaces:
                          - dev
                    message: team label
                    pattern:
                      metadata:
                        labels:
                          team: "?*"
                - name: already-set
                  match:
                    any:
                      - resources:
                          kinds: [Pod]
                  validate: {failureActionOverrides: [{"action":"Audit","namespaces":["dev"]}], failureAction: Audit, deny: {}}
                - name: add-label
                  match:
                    any:
                      - resources:
                          kinds: [Pod]
                  mutate:
                    patchStrategicMerge:
                      metadata:
                        labels:
                          team: x
                - name: images
                  match:
                    any:
                      - resources:
                          kinds: [Pod]
                  verifyImages:
                    - failureAction: Enforce
                      imageReferences: ["ghcr.io/*"]
                      attestors: []
        "#]],
    );
}

#[test]
fn missing_required_fields_are_added_with_placeholders() {
    check(
        r#"
        #- /repo/policy.yaml
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          rules:
            - $0match:
                any:
                  - resources:
                      kinds: [Pod]
              validate:
                message: m
                deny: {}
        #- /repo/.kyverno-test/kyverno-test.yaml
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Test
        "#,
        expect![[r#"
            == fix: Add missing field `name`
            -- edit /repo/policy.yaml
            apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata:
              name: p
            spec:
              rules:
                - name: ""
                  match:
                    any:
                      - resources:
                          kinds: [Pod]
                  validate:
                    message: m
                    deny: {}
        "#]],
    );
    check(
        r#"
        #- /repo/test.yaml
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Test
        metadata:
          name: t
        policies: [policy.yaml]
        resources: [pod.yaml]
        results:
          - polic$0y: p
            resources: [x]
        #- /repo/policy.yaml
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: p
        spec:
          rules: []
        #- /repo/pod.yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: x
        "#,
        expect![[r#"
            == fix: Add missing field `kind`
            -- edit /repo/test.yaml
            apiVersion: cli.kyverno.io/v1alpha1
            kind: Test
            metadata:
              name: t
            policies: [policy.yaml]
            resources: [pod.yaml]
            results:
              - kind: ""
                policy: p
                resources: [x]
            -- after: /repo/test.yaml warning[schema/required] missing required field `result`
            == fix: Add missing field `result`
            -- edit /repo/test.yaml
            apiVersion: cli.kyverno.io/v1alpha1
            kind: Test
            metadata:
              name: t
            policies: [policy.yaml]
            resources: [pod.yaml]
            results:
              - result: pass
                policy: p
                resources: [x]
            -- after: /repo/test.yaml warning[schema/required] missing required field `kind`
        "#]],
    );
}

#[test]
fn kyverno_test_skeleton_beside_the_policy() {
    check(
        r#"
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
                      kinds: [apps/v1/Deployment, Pod]
              validate:
                failureAction: Enforce
                pattern:
                  metadata:
                    labels:
                      team: "?*"
            - name: no-latest
              match:
                all:
                  - resources:
                      kinds: [Pod]
              validate:
                failureAction: Audit
                deny: {}
        ---
        apiVersion: policies.kyverno.io/v1
        kind: ValidatingPolicy
        metadata:
          name: no-host-network
        spec:
          matchConstraints:
            resourceRules:
              - apiGroups: [""]
                apiVersions: [v1]
                operations: [CREATE]
                resources: [pods]
          validations:
            - expression: "true"
        $0"#,
        expect![[r#"
            == Source: Create a Kyverno test skeleton (.kyverno-test/kyverno-test.yaml)
            -- create /repo/team/.kyverno-test/kyverno-test.yaml
            apiVersion: cli.kyverno.io/v1alpha1
            kind: Test
            metadata:
              name: require-team
            policies:
              - ../policy.yaml
            resources:
              - resource.yaml
            results:
              - policy: require-team
                rule: check-team
                kind: Deployment
                resources:
                  - example-deployment
                result: pass
              - policy: require-team
                rule: no-latest
                kind: Pod
                resources:
                  - example-pod
                result: pass
              - policy: no-host-network
                isValidatingPolicy: true
                kind: Pod
                resources:
                  - example-pod
                result: pass
            -- create /repo/team/.kyverno-test/resource.yaml
            # Resources the policy accepts; add ones it rejects, with `fail` results in kyverno-test.yaml.
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: example-deployment
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: example-pod
        "#]],
    );
}

#[test]
fn no_skeleton_when_the_test_exists() {
    check(
        r#"
        #- /repo/team/policy.yaml
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: $0require-team
        spec:
          rules: []
        #- /repo/team/.kyverno-test/kyverno-test.yaml
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Test
        metadata:
          name: existing
        "#,
        expect![[""]],
    );
}

#[test]
fn gator_suite_skeleton_beside_the_template() {
    check(
        r#"
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
                violation[{"msg": "owner"}] { not input.review.object.metadata.labels.owner }$0
        #- /repo/owner/samples/example_allowed.yaml
        apiVersion: v1
        kind: Pod
        metadata:
          name: mine
        "#,
        expect![[r#"
            == Source: Create a gator test suite skeleton (suite.yaml)
            -- create /repo/owner/suite.yaml
            apiVersion: test.gatekeeper.sh/v1alpha1
            kind: Suite
            metadata:
              name: k8srequiredowner
            tests:
              - name: k8srequiredowner
                template: template.yaml
                constraint: samples/constraint.yaml
                cases:
                  - name: example-allowed
                    object: samples/example_allowed.yaml
                    assertions:
                      - violations: no
                  - name: example-disallowed
                    object: samples/example_disallowed.yaml
                    assertions:
                      - violations: yes
            -- create /repo/owner/samples/constraint.yaml
            apiVersion: constraints.gatekeeper.sh/v1beta1
            kind: K8sRequiredOwner
            metadata:
              name: k8srequiredowner-example
            spec:
              match:
                kinds:
                  - apiGroups: [""]
                    kinds: ["Pod"]
            -- create /repo/owner/samples/example_disallowed.yaml
            # Edit this object so the constraint rejects it.
            apiVersion: v1
            kind: Pod
            metadata:
              name: example-disallowed
            spec:
              containers:
                - name: main
                  image: registry.example.com/app:1.0.0
        "#]],
    );
}
