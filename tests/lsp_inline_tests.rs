//! Tests inline, end to end over stdio: a test file's failing expectation becomes a diagnostic with related
//! places, the policy gets code lenses, an unsaved edit of the policy re-runs the test in the background,
//! a hover explains the result, and the inline results agree with `policy-lsp test` on the same files.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::lsp_client::LspClient;
use serde_json::{Value, json};

const POLICY: &str = r#"apiVersion: kyverno.io/v1
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
        message: "a team label is required"
        pattern:
          metadata:
            labels:
              team: "?*"
"#;

const RESOURCES: &str = r#"apiVersion: v1
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

/// `bare` is expected to pass, which the policy does not allow: one failing expectation.
const TEST: &str = r#"apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-team
policies: [policy.yaml]
resources: [resources.yaml]
results:
  - policy: require-team
    rule: check-team
    kind: Pod
    resources: [labelled]
    result: pass
  - policy: require-team
    rule: check-team
    kind: Pod
    resources: [bare]
    result: pass
"#;

fn workspace(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("policy-lsp-inline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("policy.yaml"), POLICY).unwrap();
    std::fs::write(root.join("resources.yaml"), RESOURCES).unwrap();
    std::fs::write(root.join("kyverno-test.yaml"), TEST).unwrap();
    root
}

/// Starts the server on `root` and waits for the end of its workspace scan; returns the root's URI.
pub(crate) fn start(root: &Path) -> (LspClient, String) {
    let mut client = LspClient::start();
    let root_uri = format!("file://{}", root.display());
    let result = client.request(
        "initialize",
        json!({
            "processId": null,
            "rootUri": root_uri,
            "capabilities": {
                "textDocument": {"publishDiagnostics": {"versionSupport": true, "relatedInformation": true}},
                "workspace": {"codeLens": {"refreshSupport": true}, "workspaceFolders": true},
                "window": {"workDoneProgress": true}
            },
            "workspaceFolders": [{"uri": root_uri, "name": "root"}],
        }),
    );
    assert_eq!(result["result"]["capabilities"]["codeLensProvider"]["resolveProvider"], false);
    client.notify("initialized", json!({}));
    client.wait_for(|message| message["method"] == "$/progress" && message["params"]["value"]["kind"] == "end");
    (client, root_uri)
}

pub(crate) fn open(client: &mut LspClient, uri: &str, text: &str) {
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}),
    );
}

/// Waits for diagnostics of `uri` that satisfy `done`, skipping earlier publications.
pub(crate) fn diagnostics_until(client: &mut LspClient, uri: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    loop {
        let message = client.wait_for(|message| {
            message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri
        });
        let diagnostics = message["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
        if done(&diagnostics) {
            return diagnostics;
        }
    }
}

pub(crate) fn codes(diagnostics: &[Value]) -> Vec<&str> {
    diagnostics.iter().filter_map(|diagnostic| diagnostic["code"].as_str()).collect()
}

pub(crate) fn lens_titles(client: &mut LspClient, uri: &str) -> Vec<(u64, String)> {
    let response = client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}}));
    let mut titles: Vec<(u64, String)> = response["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|lens| {
            assert_eq!(lens["command"]["command"], "policy-lsp.runTests");
            (lens["range"]["start"]["line"].as_u64().unwrap(), lens["command"]["title"].as_str().unwrap().to_string())
        })
        .collect();
    titles.sort();
    titles
}

#[test]
fn failing_expectations_lenses_and_background_re_runs() {
    let root = workspace("rerun");
    let (mut client, root_uri) = start(&root);
    let test_uri = format!("{root_uri}/kyverno-test.yaml");
    let policy_uri = format!("{root_uri}/policy.yaml");

    open(&mut client, &test_uri, TEST);
    let diagnostics = diagnostics_until(&mut client, &test_uri, |found| codes(found).contains(&"test/failed"));
    let failed = diagnostics.iter().find(|diagnostic| diagnostic["code"] == "test/failed").unwrap();
    // On `bare` in the second results entry, with the pattern node and the resource as related places.
    assert_eq!(failed["range"]["start"]["line"], 15, "{failed}");
    assert_eq!(
        failed["message"],
        "require-team/check-team on bare: expected pass, got fail: validation error: a team label is required. rule check-team failed at path /metadata/labels/"
    );
    let related: Vec<String> = failed["relatedInformation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|related| {
            let uri = related["location"]["uri"].as_str().unwrap();
            let file = uri.rsplit('/').next().unwrap();
            format!("{file}:{}", related["location"]["range"]["start"]["line"])
        })
        .collect();
    assert_eq!(related, ["policy.yaml:17", "resources.yaml:9"]);

    assert_eq!(
        lens_titles(&mut client, &test_uri),
        [(1, "▶ Run tests  ✓ 1 passed  ✗ 1 failed".to_string()), (7, "✓ 1 passed".into()), (12, "✗ 1 failed".into())]
    );
    open(&mut client, &policy_uri, POLICY);
    // The policy's lenses come from the same run.
    let mut titles = lens_titles(&mut client, &policy_uri);
    for _ in 0..50 {
        if !titles.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        titles = lens_titles(&mut client, &policy_uri);
    }
    assert_eq!(
        titles,
        [(3, "✓ 1 passed  ✗ 1 failed · kyverno-test.yaml".to_string()), (6, "✓ 1 passed  ✗ 1 failed".into())]
    );

    // The hover on the failing entry explains it.
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": test_uri}, "position": {"line": 13, "character": 6}}),
    );
    let markdown = hover["result"]["contents"]["value"].as_str().unwrap_or_default().to_string();
    assert!(
        markdown.contains("✗ `require-team` / `check-team` on `v1/Pod/default/bare`: expected **pass**, got **fail**"),
        "{markdown}"
    );

    // An unsaved edit makes the labels optional: the test is re-run in the background and passes.
    // Only what the server sends from now on counts.
    client.backlog.retain(|message| {
        message["method"] != "textDocument/publishDiagnostics" && message["method"] != "workspace/codeLens/refresh"
    });
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": policy_uri, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 16, "character": 12}, "end": {"line": 16, "character": 18}}, "text": "=(labels)"}]
        }),
    );
    let diagnostics = diagnostics_until(&mut client, &test_uri, |found| !codes(found).contains(&"test/failed"));
    assert_eq!(codes(&diagnostics), Vec::<&str>::new());
    client.wait_for(|message| message["method"] == "workspace/codeLens/refresh");
    assert_eq!(lens_titles(&mut client, &test_uri)[0].1, "▶ Run tests  ✓ 2 passed");

    assert_eq!(client.shutdown(), Some(0));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn inline_results_match_the_cli() {
    let root = workspace("cli");
    let (mut client, root_uri) = start(&root);
    let test_uri = format!("{root_uri}/kyverno-test.yaml");
    open(&mut client, &test_uri, TEST);
    diagnostics_until(&mut client, &test_uri, |found| codes(found).contains(&"test/failed"));
    let inline = lens_titles(&mut client, &test_uri);
    assert_eq!(client.shutdown(), Some(0));

    let output = Command::new(crate::support::POLICY_LSP)
        .args(["test", "--output", "json"])
        .arg(&root)
        .output()
        .expect("the CLI runs");
    let report: Value = serde_json::from_slice(&output.stdout).expect("json output");
    let passed = report["summary"]["passed"].as_u64().unwrap();
    let failed = report["summary"]["failed"].as_u64().unwrap();
    assert_eq!((passed, failed), (1, 1), "{report}");
    assert_eq!(inline[0].1, format!("▶ Run tests  ✓ {passed} passed  ✗ {failed} failed"));
    let _ = std::fs::remove_dir_all(&root);
}
