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

/// The policies and manifests both the editor and `policy-lsp apply` judge: [`POLICY`] and a mutate rule,
/// a ValidatingAdmissionPolicy and a MutatingAdmissionPolicy, each with its binding.
const EDITOR_AND_CLI: &str = r#"
#- /policies/add-team.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: add-team
spec:
  rules:
    - name: default-team
      match:
        any:
          - resources:
              kinds: [Deployment]
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              +(team): platform
#- /policies/replica-limit.yaml
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replica-limit
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["deployments"]
  validations:
    - expression: "object.spec.replicas <= 5"
      message: "at most five replicas"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: replica-limit-binding
spec:
  policyName: replica-limit
  validationActions: [Deny]
#- /policies/stamp.yaml
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: stamp
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["deployments"]
  mutations:
    - patchType: ApplyConfiguration
      applyConfiguration:
        expression: "Object{metadata: Object.metadata{annotations: {'stamped': 'yes'}}}"
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: stamp-binding
spec:
  policyName: stamp
#- /apps/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 10
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels:
    team: payments
spec:
  replicas: 2
"#;

/// `(policy[/rule], result)` of each line of a manifest hover's result list.
fn hover_results(markdown: &str) -> Vec<(String, String)> {
    markdown
        .lines()
        .filter_map(|line| line.strip_prefix("- "))
        .map(|line| {
            let name = line.split_once('[').and_then(|(_, rest)| rest.split_once(']')).map(|(name, _)| name);
            let result = line.split_once("**").and_then(|(_, rest)| rest.split_once("**")).map(|(result, _)| result);
            (name.unwrap_or_default().replace(" / ", "/"), result.unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn the_hover_lists_what_policy_lsp_apply_finds_and_the_mutations_preview_as_a_lens_action_and_request() {
    let fixture = format!("#- /policies/require-team.yaml\n{POLICY}{EDITOR_AND_CLI}");
    let root = crate::support::write_fixture_directory("manifest-hover", &fixture);
    let manifest_text = std::fs::read_to_string(root.join("apps/web.yaml")).unwrap();
    let (mut client, root_uri) = start(&root);
    let manifest_uri = format!("{root_uri}/apps/web.yaml");
    open(&mut client, &manifest_uri, &manifest_text);
    // The ValidatingAdmissionPolicy with its binding is among the editor's policies.
    let diagnostics = diagnostics_until(&mut client, &manifest_uri, |found| {
        found
            .iter()
            .any(|diagnostic| diagnostic["message"].as_str().is_some_and(|text| text.starts_with("replica-limit")))
    });
    let policy_codes: Vec<&str> = codes(&diagnostics).into_iter().filter(|code| code.starts_with("policy/")).collect();
    assert_eq!(policy_codes, ["policy/violation"], "{diagnostics:?}");

    // The CLI's verdicts on the same files, per object.
    let output = std::process::Command::new(crate::support::POLICY_LSP)
        .args(["apply", "policies", "--resource", "apps", "--output", "json"])
        .current_dir(&root)
        .output()
        .expect("the binary runs");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    for (line, name) in [(1, "web"), (8, "api")] {
        let hover = client.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": manifest_uri}, "position": {"line": line, "character": 8}}),
        );
        let markdown = hover["result"]["contents"]["value"].as_str().unwrap_or_default().to_string();
        let mut editor = hover_results(&markdown);
        let mut cli: Vec<(String, String)> = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|result| result["resource"]["name"] == name)
            .map(|result| {
                let policy = result["policy"].as_str().unwrap_or_default();
                let full = match result["rule"].as_str() {
                    Some(rule) => format!("{policy}/{rule}"),
                    None => policy.to_string(),
                };
                (full, result["result"].as_str().unwrap_or_default().to_string())
            })
            .collect();
        editor.sort();
        cli.sort();
        assert_eq!(editor, cli, "{name}: {markdown}");
        assert!(editor.len() == 4, "{name}: {markdown}");
    }

    // The mutation: a lens and a code action that name the preview command, and the request behind it.
    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": manifest_uri}}));
    let preview = lenses["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|lens| lens["command"]["command"] == "policy-lsp.previewMutations")
        .expect("a preview lens")
        .clone();
    assert_eq!(preview["command"]["title"], "Preview mutations (2 changes)");
    assert_eq!(preview["command"]["arguments"][0]["uri"], manifest_uri.as_str());
    assert_eq!(preview["range"]["start"]["line"], 1);
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": manifest_uri},
            "range": {"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 0}},
            "context": {"diagnostics": []}
        }),
    );
    let action = actions["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|action| action["command"] == "policy-lsp.previewMutations")
        .expect("a preview action")
        .clone();
    // The action previews the whole file: both Deployments' changes.
    assert_eq!(action["title"], "Preview mutations (3 changes)");
    let mutated = client.request("policyLsp/mutatedManifest", json!({"textDocument": {"uri": manifest_uri}}));
    // Both Deployments get the annotation, quoted: Kubernetes would read a plain `yes` as `true`.
    let stamped = "  annotations:\n    stamped: \"yes\"\n";
    let expected = manifest_text
        .replacen("  name: web\n", &format!("  name: web\n{stamped}  labels:\n    team: platform\n"), 1)
        .replacen("    team: payments\n", &format!("    team: payments\n{stamped}"), 1);
    assert_eq!(mutated["result"]["text"], expected.as_str());
    assert_eq!(mutated["result"]["changes"], 3);
    // In the order the Kyverno CLI applies them, as `apply` reports it.
    assert_eq!(mutated["result"]["policies"], json!(["add-team", "stamp"]));
    // A client without a handler of its own that sends the command to the server gets the same answer.
    let executed = client.request(
        "workspace/executeCommand",
        json!({"command": "policy-lsp.previewMutations", "arguments": [{"uri": manifest_uri}]}),
    );
    assert_eq!(executed["result"], mutated["result"]);

    assert_eq!(client.shutdown(), Some(0));
    let _ = std::fs::remove_dir_all(&root);
}
