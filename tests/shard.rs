//! `lint --shard` and `test --shard` with `policy-lsp merge`: on a fixture tree, the merged outputs of the
//! shards equal the unsharded run's, in every mergeable format, and bad inputs are refused by name.

use std::path::{Path, PathBuf};

use serde_json::Value;

const TREE: &str = r#"
#- /gatekeeper/templates/required-labels.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredlabels
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredLabels
      validation:
        openAPIV3Schema:
          type: object
          properties:
            labels:
              type: array
              items:
                type: string
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredlabels
        violation[{"msg": "missing label"}] {
          required := input.parameters.labels[_]
          not input.review.object.metadata.labels[required]
        }
#- /gatekeeper/constraints/misspelt/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: must-have-owner
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: [Namespace]
  parameters:
    lables: ["owner"]
#- /gatekeeper/constraints/fine/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: must-have-team
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: [Namespace]
  parameters:
    labels: ["team"]
#- /gatekeeper/suite/suite.yaml
apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
tests:
  - name: team
    template: ../templates/required-labels.yaml
    constraint: ../constraints/fine/constraint.yaml
    cases:
      - name: labelled
        object: labelled.yaml
        assertions:
          - violations: no
      - name: unlabelled
        object: unlabelled.yaml
        assertions:
          - violations: yes
#- /gatekeeper/suite/labelled.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: labelled
  labels:
    team: platform
#- /gatekeeper/suite/unlabelled.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: unlabelled
#- /kyverno/team/policy.yaml
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
        message: a team label is required
        pattern:
          metadata:
            labels:
              team: "?*"
#- /kyverno/team/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: team
policies: [policy.yaml]
resources: [resources.yaml]
results:
  - policy: require-team
    rule: check-team
    resources: [labelled]
    kind: Pod
    result: pass
  - policy: require-team
    rule: check-team
    resources: [unlabelled]
    kind: Pod
    result: pass
#- /kyverno/team/resources.yaml
apiVersion: v1
kind: Pod
metadata:
  name: labelled
  labels:
    team: platform
spec:
  containers:
    - name: app
      image: nginx
---
apiVersion: v1
kind: Pod
metadata:
  name: unlabelled
spec:
  containers:
    - name: app
      image: nginx
#- /kyverno/owner/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-owner
spec:
  validationFailureAction: Enforse
  rules:
    - name: check-owner
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: an owner label is required
        pattern:
          metadata:
            labels:
              owner: "?*"
#- /kyverno/owner/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: owner
policies: [policy.yaml]
resources: [../shared/owned.yaml]
results:
  - policy: require-owner
    rule: check-owner
    resources: [owned]
    kind: Pod
    result: pass
  - policy: no-such-policy
    rule: check-owner
    resources: [owned]
    kind: Pod
    result: pass
#- /kyverno/shared/owned.yaml
apiVersion: v1
kind: Pod
metadata:
  name: owned
  labels:
    owner: someone
spec:
  containers:
    - name: app
      image: nginx
#- /rego/labels.rego
package labels

import rego.v1

deny contains "no team" if not input.metadata.labels.team
#- /rego/labels_test.rego
package labels

import rego.v1

test_denies_without_team if "no team" in deny with input as {"metadata": {}}

test_allows_a_team if count(deny) == 0 with input as {"metadata": {"labels": {"team": "a"}}}
#- /loose/config.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  size: 3
"#;

fn tree(name: &str) -> PathBuf {
    crate::cli::write_fixture(&format!("shard-{name}"), TREE)
}

fn run(directory: &Path, arguments: &[&str]) -> (Option<i32>, String, String) {
    crate::cli::run(directory, arguments, None)
}

/// A run's exit code and stdout.
type Outcome = (Option<i32>, String);

/// What [`sharded_and_merged`] saw: the unsharded run, the merge of the shards, and each shard's stdout.
struct Sharded {
    whole: Outcome,
    merged: Outcome,
    shards: Vec<String>,
}

/// Runs `arguments` once unsharded and once per shard of `count`, and merges the shards' outputs.
fn sharded_and_merged(root: &Path, arguments: &[&str], count: u32) -> Sharded {
    let (code, whole, stderr) = run(root, arguments);
    assert_ne!(code, Some(2), "{stderr}");
    let outputs = root.join(format!(".shards-{count}"));
    std::fs::create_dir_all(&outputs).unwrap();
    let mut shard_outputs = Vec::new();
    let mut files = Vec::new();
    for index in 1..=count {
        let shard = format!("{index}/{count}");
        let mut with_shard = arguments.to_vec();
        with_shard.extend(["--shard", &shard]);
        let (code, stdout, stderr) = run(root, &with_shard);
        assert_ne!(code, Some(2), "shard {shard}: {stderr}");
        let file = outputs.join(format!("shard-{index}.out"));
        std::fs::write(&file, &stdout).unwrap();
        files.push(file.display().to_string());
        shard_outputs.push(stdout);
    }
    let mut merge = vec!["merge"];
    merge.extend(files.iter().map(String::as_str));
    let (merged_code, merged, stderr) = run(root, &merge);
    assert_ne!(merged_code, Some(2), "merge: {stderr}");
    let _ = std::fs::remove_dir_all(&outputs);
    Sharded { whole: (code, whole), merged: (merged_code, merged), shards: shard_outputs }
}

/// JUnit with its measured times blanked out: they differ between any two runs.
fn without_times(junit: &str) -> String {
    let mut out = String::new();
    let mut rest = junit;
    while let Some(start) = rest.find(" time=\"") {
        out.push_str(&rest[..start]);
        let after = &rest[start + " time=\"".len()..];
        let end = after.find('"').expect("a closed attribute");
        out.push_str(" time=\"_\"");
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn merged_lint_shards_equal_the_unsharded_run() {
    let root = tree("lint");
    for format in ["json", "sarif"] {
        for count in [2, 3, 5] {
            let Sharded { whole: (code, whole), merged, shards } =
                sharded_and_merged(&root, &["lint", "--output", format, "."], count);
            assert_eq!(merged, (code, whole.clone()), "{format}, {count} shards");
            if format == "json" {
                // The shards split the files: each is checked by exactly one.
                let checked: u64 = shards
                    .iter()
                    .map(|shard| serde_json::from_str::<Value>(shard).unwrap()["summary"]["files"].as_u64().unwrap())
                    .sum();
                let total = serde_json::from_str::<Value>(&whole).unwrap()["summary"]["files"].as_u64().unwrap();
                assert_eq!(checked, total, "{count} shards");
            }
        }
    }
    // The cross-file check holds in whichever shard the constraint lands: its template is in another folder.
    let (_, whole, _) = run(&root, &["lint", "--output", "json", "."]);
    assert!(whole.contains("unknown field `lables`"), "{whole}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn merged_test_shards_equal_the_unsharded_run() {
    let root = tree("test");
    for count in [2, 3, 5] {
        let Sharded { whole, merged, .. } = sharded_and_merged(&root, &["test", "--output", "json", "."], count);
        assert_eq!(merged, whole, "json, {count} shards");
        let Sharded { whole, merged, .. } = sharded_and_merged(&root, &["test", "--output", "junit", "."], count);
        assert_eq!((merged.0, without_times(&merged.1)), (whole.0, without_times(&whole.1)), "junit, {count} shards");
    }
    // The run itself fails (an unlabelled Pod expected to pass, a policy that does not exist): so does the merge.
    let (code, whole, _) = run(&root, &["test", "--output", "json", "."]);
    assert_eq!(code, Some(1), "{whole}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_shard_runs_whole_folders() {
    let root = tree("folders");
    for index in 1..=4 {
        let shard = format!("{index}/4");
        let (_, stdout, _) = run(&root, &["test", "--output", "json", "--shard", &shard, "."]);
        let report: Value = serde_json::from_str(&stdout).expect("test prints JSON");
        let rego: Vec<&str> = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|result| result["file"].as_str())
            .filter(|file| file.ends_with(".rego"))
            .collect();
        // Both Rego tests of the folder run in the same shard, or neither does.
        assert!(rego.is_empty() || rego.len() == 2, "shard {shard}: {rego:?}");
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn merge_refuses_bad_inputs_by_name() {
    let root = tree("bad");
    let write = |name: &str, text: &str| {
        let path = root.join(name);
        std::fs::write(&path, text).unwrap();
        name.to_string()
    };
    let (_, lint_json, _) = run(&root, &["lint", "--output", "json", "."]);
    let (_, test_json, _) = run(&root, &["test", "--output", "json", "."]);
    let (_, junit, _) = run(&root, &["test", "--output", "junit", "."]);
    let lint = write("lint.json", &lint_json);
    let test = write("test.json", &test_json);
    let xml = write("test.xml", &junit);
    let garbled = write("garbled.json", &lint_json[..lint_json.len() / 2]);
    let text = write("lint.txt", "policies/x.yaml:1:1: error[yaml/syntax]: oops\n");
    let cut_xml = write("cut.xml", &junit[..junit.find("</testsuite>").unwrap()]);

    let refusals: [(&[&str], &str); 7] = [
        (&[&lint, &garbled], "garbled.json: not a JSON document"),
        (&[&lint, &test], "test.json is a test report but lint.json is a lint report"),
        (&[&lint, &xml], "test.xml is JUnit XML but lint.json is JSON"),
        (&[&text], "lint.txt: neither JSON, SARIF nor JUnit XML"),
        (&[&xml, &cut_xml], "cut.xml: not a JUnit XML report"),
        (&[&lint, &lint], "lint.json and lint.json both report on"),
        (&[&lint, "missing.json"], "missing.json"),
    ];
    for (inputs, expected) in refusals {
        let mut arguments = vec!["merge"];
        arguments.extend(inputs);
        let (code, stdout, stderr) = run(&root, &arguments);
        assert_eq!(code, Some(2), "{inputs:?}: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(expected), "{inputs:?}: {stderr}");
        assert_eq!(stdout, "", "nothing is printed when the inputs are refused");
    }
    // A format given on the command line is held to: JSON is not SARIF.
    let (code, _, stderr) = run(&root, &["merge", "--format", "sarif", &lint]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("lint.json: not a SARIF 2.1.0 log"), "{stderr}");
    let (code, _, stderr) = run(&root, &["lint", "--shard", "3/2", "."]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("`3/2` is not a shard"), "{stderr}");
    let _ = std::fs::remove_dir_all(&root);
}
