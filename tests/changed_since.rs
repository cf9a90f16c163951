//! `lint --changed-since` and `test --changed-since` in a temporary git repository: only the changed files
//! and what depends on them are checked, and a missing repository or an unknown ref is a usage error.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const REPOSITORY: &str = r#"
#- /policies/require-team.yaml
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
#- /policies/other.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: other
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
#- /tests/team/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: team
policies: [../../policies/require-team.yaml]
resources: [resources.yaml]
results:
  - policy: require-team
    rule: check-team
    resources: [labelled]
    kind: Pod
    result: pass
#- /tests/team/resources.yaml
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
#- /tests/other/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: other
policies: [../../policies/other.yaml]
resources: [resources.yaml]
results:
  - policy: other
    rule: check-owner
    resources: [owned]
    kind: Pod
    result: pass
#- /tests/other/resources.yaml
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
#- /gatekeeper/template.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8steam
spec:
  crd:
    spec:
      names:
        kind: K8sTeam
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8steam
        violation[{"msg": "no team"}] {
          not input.review.object.metadata.labels.team
        }
#- /gatekeeper/constraint.yaml
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sTeam
metadata:
  name: every-pod-has-a-team
"#;

/// Writes the fixture repository under a fresh temporary directory, with one commit when `commit`.
fn repository(name: &str, commit: bool) -> PathBuf {
    let root = crate::cli::write_fixture(&format!("changed-{name}"), REPOSITORY);
    if commit {
        git(&root, &["init", "--quiet"]);
        git(&root, &["add", "--all"]);
        git(&root, &["-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "--quiet", "-m", "policies"]);
    }
    root
}

fn git(directory: &Path, arguments: &[&str]) {
    let status = Command::new("git").arg("-C").arg(directory).args(arguments).status().expect("git runs");
    assert!(status.success(), "git {arguments:?} failed");
}

/// Runs the binary with the cache folder inside the repository's `.git` (so a test leaves the user's alone).
fn run(directory: &Path, arguments: &[&str]) -> (Option<i32>, String, String) {
    let cache = directory.join(".git/policy-lsp-cache");
    crate::cli::run_with_env(directory, arguments, &[("POLICY_LSP_CACHE_DIR", cache.to_str().unwrap())])
}

fn edit(root: &Path, relative: &str, from: &str, to: &str) {
    let path = root.join(relative);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{relative} holds {from}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// The number of files a JSON lint report checked, and the files its diagnostics are in.
fn linted(stdout: &str) -> (u64, Vec<String>) {
    let report: Value = serde_json::from_str(stdout).expect("lint prints JSON");
    let mut files: Vec<String> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|diagnostic| diagnostic["file"].as_str().unwrap().to_string())
        .collect();
    files.dedup();
    (report["summary"]["files"].as_u64().unwrap(), files)
}

#[test]
fn lint_checks_the_changed_files_and_the_tests_and_constraints_that_depend_on_them() {
    let root = repository("lint", true);
    // Unchanged, the whole tree reports the mistake in `other.yaml`; since HEAD, nothing changed.
    let (_, everything, _) = run(&root, &["lint", "--output", "json", "."]);
    assert_eq!(linted(&everything), (8, vec!["./policies/other.yaml".to_string()]));
    let (code, nothing, _) = run(&root, &["lint", "--changed-since", "HEAD", "--output", "json", "."]);
    assert_eq!((code, linted(&nothing)), (Some(0), (0, Vec::new())));

    edit(&root, "policies/require-team.yaml", "a team label is required", "every Pod needs a team label");
    edit(&root, "gatekeeper/template.yaml", "no team", "a Pod without a team");
    std::fs::write(root.join("policies/new.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\n")
        .unwrap();
    // An untracked file git ignores is not a change.
    std::fs::write(root.join(".gitignore"), "generated/\n").unwrap();
    std::fs::create_dir_all(root.join("generated")).unwrap();
    std::fs::write(root.join("generated/out.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: out\n")
        .unwrap();
    let (code, changed, _) = run(&root, &["lint", "--changed-since", "HEAD", "--output", "json", "."]);
    // The two edited files, the untracked one, the test that lists the policy and the constraint of the
    // template; not `other.yaml` nor its test, nor the ignored file.
    assert_eq!((code, linted(&changed)), (Some(0), (5, Vec::new())));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn test_runs_only_the_tests_that_list_a_changed_file() {
    let root = repository("test", true);
    let (code, _, stderr) = run(&root, &["test", "--changed-since", "HEAD", "."]);
    assert_eq!((code, stderr.trim()), (Some(0), "no test file is affected by the changes since HEAD"));

    edit(&root, "tests/team/resources.yaml", "team: platform", "team: payments");
    let (code, stdout, _) = run(&root, &["test", "--changed-since", "HEAD", "--output", "json", "."]);
    let report: Value = serde_json::from_str(&stdout).expect("test prints JSON");
    let files: Vec<&str> =
        report["results"].as_array().unwrap().iter().map(|result| result["file"].as_str().unwrap()).collect();
    assert_eq!((code, files), (Some(0), vec!["./tests/team/kyverno-test.yaml"]));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn outside_a_repository_or_with_an_unknown_ref_it_is_a_usage_error() {
    let plain = repository("plain", false);
    let (code, _, stderr) = run(&plain, &["lint", "--changed-since", "HEAD", "."]);
    assert_eq!(code, Some(2));
    assert!(stderr.starts_with("error: --changed-since needs a git repository"), "{stderr}");
    let _ = std::fs::remove_dir_all(&plain);

    let root = repository("unknown-ref", true);
    for command in ["lint", "test"] {
        let (code, _, stderr) = run(&root, &[command, "--changed-since", "no-such-branch", "."]);
        assert_eq!(code, Some(2));
        assert!(stderr.starts_with("error: --changed-since: `no-such-branch` is not a commit"), "{stderr}");
    }
    let (code, _, stderr) = run(&root, &["test", "--changed-since=--output", "."]);
    assert_eq!((code, stderr.trim()), (Some(2), "error: `--output` is not a git ref"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_test_that_takes_in_its_folder_with_a_dot_is_affected_by_a_file_in_it() {
    let root = repository("dotted", true);
    std::fs::create_dir_all(root.join("tests/dotted")).unwrap();
    // Neither the folder's name nor the file's is spelled: only `.` takes the file in.
    let test = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: by-folder\n\
                policies: [../../policies/require-team.yaml]\nresources: [.]\nresults: []\n";
    std::fs::write(root.join("tests/dotted/kyverno-test.yaml"), test).unwrap();
    std::fs::write(root.join("tests/dotted/pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n").unwrap();
    git(&root, &["add", "--all"]);
    git(&root, &["-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "--quiet", "-m", "dotted"]);
    edit(&root, "tests/dotted/pod.yaml", "name: p", "name: q");
    let (_, changed, _) = run(&root, &["lint", "--changed-since", "HEAD", "--output", "json", "."]);
    // The edited Pod and the test that takes in its folder.
    assert_eq!(linted(&changed).0, 2, "{changed}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_changed_file_that_cannot_be_read_is_reported_not_passed() {
    let root = repository("unreadable", true);
    // Not UTF-8: the full lint reports it, and so must the lint of what changed.
    std::fs::write(
        root.join("policies/require-team.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \xff\n",
    )
    .unwrap();
    let (code, changed, _) = run(&root, &["lint", "--changed-since", "HEAD", "--output", "json", "."]);
    let report: Value = serde_json::from_str(&changed).expect("lint prints JSON");
    let codes: Vec<(&str, &str)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|diagnostic| (diagnostic["file"].as_str().unwrap(), diagnostic["code"].as_str().unwrap()))
        .collect();
    assert_eq!(code, Some(1), "{changed}");
    assert!(codes.contains(&("./policies/require-team.yaml", "file/unreadable")), "{codes:?}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_file_known_to_take_part_in_nothing_is_read_again_once_it_changes() {
    let root = repository("blob-cache", true);
    let cache = root.join(".git/policy-lsp-cache");
    let run_cached = |arguments: &[&str]| run(&root, arguments);
    // A ConfigMap, and a constraint of a kind no template defines yet, both committed.
    std::fs::create_dir_all(root.join("later")).unwrap();
    std::fs::write(root.join("later/settings.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n")
        .unwrap();
    let constraint = "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sOwner\nmetadata:\n  name: owners\n";
    std::fs::write(root.join("later/constraint.yaml"), constraint).unwrap();
    git(&root, &["add", "--all"]);
    git(&root, &["-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "--quiet", "-m", "later"]);

    // The first run reads every file and keeps what it learnt of each blob.
    let (_, first, _) = run_cached(&["lint", "--changed-since", "HEAD~1", "--output", "json", "."]);
    assert_eq!(linted(&first).0, 2, "{first}");
    let kept = std::fs::read(cache.join("blob-flags")).expect("the cache is written");
    assert!(kept.len() > "policy-lsp blob-flags 1\n".len(), "the cache holds the blobs read");

    // The ConfigMap becomes the template of the constraint's kind: the cache knew its old blob as taking part
    // in nothing, yet the changed file is read again and its constraint is affected.
    let template = "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8sowner\n\
                    spec:\n  crd:\n    spec:\n      names:\n        kind: K8sOwner\n  targets:\n\
                    \x20   - target: admission.k8s.gatekeeper.sh\n      rego: |\n        package k8sowner\n\
                    \x20       violation[{\"msg\": \"no owner\"}] {\n          not input.review.object.metadata.labels.owner\n\
                    \x20       }\n";
    std::fs::write(root.join("later/settings.yaml"), template).unwrap();
    let (code, changed, stderr) = run_cached(&["lint", "--changed-since", "HEAD", "--output", "json", "."]);
    assert_eq!((code, linted(&changed)), (Some(0), (2, Vec::new())), "{changed}{stderr}");

    // A damaged cache is read as none.
    std::fs::write(cache.join("blob-flags"), b"policy-lsp blob-flags 1\nshort").unwrap();
    let (code, again, _) = run_cached(&["lint", "--changed-since", "HEAD", "--output", "json", "."]);
    assert_eq!((code, linted(&again)), (Some(0), (2, Vec::new())), "{again}");
    let _ = std::fs::remove_dir_all(&root);
}
