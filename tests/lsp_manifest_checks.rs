//! Manifests judged by the workspace's policies, end to end over stdio: an open Deployment gets the
//! violation on the offending field with the rule as related place, an unsaved fix of the manifest clears
//! it, and an unsaved edit of the policy re-judges the open manifest; the edit-to-result latency is printed.

use std::path::PathBuf;
use std::time::Instant;

use crate::lsp_inline_tests::{codes, diagnostics_until, open, start};
use serde_json::json;

const POLICY: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  rules:
    - name: team-label
      match:
        any:
          - resources:
              kinds: [Deployment]
      validate:
        failureAction: Enforce
        message: "a team label is required"
        pattern:
          metadata:
            labels:
              team: "?*"
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
"#;

fn workspace() -> PathBuf {
    let root = std::env::temp_dir().join(format!("policy-lsp-manifests-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::create_dir_all(root.join("apps")).unwrap();
    std::fs::write(root.join("policies/require-team.yaml"), POLICY).unwrap();
    std::fs::write(root.join("apps/web.yaml"), DEPLOYMENT).unwrap();
    root
}

#[test]
fn an_open_manifest_shows_the_policies_it_violates_and_follows_edits() {
    let root = workspace();
    let (mut client, root_uri) = start(&root);
    let manifest_uri = format!("{root_uri}/apps/web.yaml");
    let policy_uri = format!("{root_uri}/policies/require-team.yaml");

    open(&mut client, &manifest_uri, DEPLOYMENT);
    let diagnostics = diagnostics_until(&mut client, &manifest_uri, |found| codes(found).contains(&"policy/violation"));
    let violation = diagnostics.iter().find(|diagnostic| diagnostic["code"] == "policy/violation").unwrap();
    // On `labels`, where the missing `team` label belongs, with the rule as related place.
    assert_eq!(violation["range"]["start"]["line"], 4, "{violation}");
    assert_eq!(violation["severity"], 1, "{violation}");
    assert_eq!(
        violation["message"],
        "require-team/team-label: validation error: a team label is required. rule team-label failed at path /metadata/labels/team/"
    );
    let related = &violation["relatedInformation"][0]["location"];
    assert_eq!(related["uri"], policy_uri.as_str());
    assert_eq!(related["range"]["start"]["line"], 6);
    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": manifest_uri}}));
    let lens = &lenses["result"][0];
    assert_eq!(
        (&lens["range"]["start"]["line"], &lens["command"]["title"]),
        (&json!(1), &json!("1 policy applies: 1 fails"))
    );

    // An unsaved fix of the manifest: the label is added, the violation goes.
    let started = Instant::now();
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": manifest_uri, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 5, "character": 4}, "end": {"line": 5, "character": 12}}, "text": "team: web"}]
        }),
    );
    diagnostics_until(&mut client, &manifest_uri, |found| !codes(found).contains(&"policy/violation"));
    eprintln!("manifest edit to verdict: {:?}", started.elapsed());

    // An unsaved edit of the policy now requires an `owner` label: the open manifest is judged again.
    open(&mut client, &policy_uri, POLICY);
    let started = Instant::now();
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": policy_uri, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 17, "character": 14}, "end": {"line": 17, "character": 18}}, "text": "owner"}]
        }),
    );
    let diagnostics = diagnostics_until(&mut client, &manifest_uri, |found| codes(found).contains(&"policy/violation"));
    eprintln!("policy edit to verdict: {:?}", started.elapsed());
    let violation = diagnostics.iter().find(|diagnostic| diagnostic["code"] == "policy/violation").unwrap();
    assert!(violation["message"].as_str().unwrap().ends_with("failed at path /metadata/labels/owner/"), "{violation}");

    assert_eq!(client.shutdown(), Some(0));
    let _ = std::fs::remove_dir_all(&root);
}
