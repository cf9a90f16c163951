//! End-to-end tests of the editor features inside policies over stdio: JMESPath completion, hover,
//! signature help and diagnostics; pattern completion and anchor hover; test-file completion.

use crate::support::lsp_client::LspClient;
use serde_json::{Value, json};

fn open(client: &mut LspClient, uri: &str, text: &str) {
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}),
    );
}

/// The position of the `$0` marker in `text` (ASCII fixtures: characters are UTF-16 units) and the text
/// without it.
fn cursor(text: &str) -> (Value, String) {
    let offset = text.find("$0").expect("a `$0` marker");
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let character = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1);
    (json!({"line": line, "character": character}), text.replacen("$0", "", 1))
}

fn labels(response: &Value) -> Vec<String> {
    response["result"]
        .as_array()
        .map(|items| items.iter().map(|item| item["label"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

const POLICY: &str = "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: p
spec:
  rules:
    - name: r
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: \"{{ request.object.spec.hostNe$0 }} {{ to_upper(request.object.metadata.name) }}\"
        deny: {}
";

#[test]
fn jmespath_completion_hover_signature_help_and_diagnostics() {
    let mut client = LspClient::start();
    let capabilities = client.initialize(&["utf-16"], None)["capabilities"].clone();
    assert_eq!(capabilities["signatureHelpProvider"]["triggerCharacters"], json!(["(", ","]));
    assert!(capabilities["completionProvider"]["triggerCharacters"].as_array().unwrap().contains(&json!(".")));
    let (position, text) = cursor(POLICY);
    let uri = "file:///work/jmespath.yaml";
    open(&mut client, uri, &text);
    assert_eq!(client.diagnostics(uri, 1), Vec::<Value>::new());

    let completion =
        client.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": position}));
    assert_eq!(labels(&completion), ["hostNetwork"]);
    let edit = &completion["result"][0]["textEdit"];
    assert_eq!(edit["range"]["start"]["character"], 41, "{edit}");
    assert_eq!(edit["range"]["end"]["character"], 47, "{edit}");

    // Hover on `to_upper` (line 12, inside the second variable).
    let column = text.lines().nth(12).unwrap().find("to_upper").unwrap() + 2;
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 12, "character": column}}),
    );
    let markdown = hover["result"]["contents"]["value"].as_str().unwrap_or_default();
    assert!(markdown.contains("to_upper(string text) -> string"), "{markdown}");

    // Signature help right after `to_upper(`.
    let column = text.lines().nth(12).unwrap().find("to_upper(").unwrap() + "to_upper(".len();
    let help = client.request(
        "textDocument/signatureHelp",
        json!({"textDocument": {"uri": uri}, "position": {"line": 12, "character": column}}),
    );
    assert_eq!(help["result"]["signatures"][0]["label"], "to_upper(string text) -> string", "{help}");
    assert_eq!(help["result"]["activeParameter"], 0);

    // A typo in a function name is reported on the name.
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": text.replace("to_upper", "to_uper")}]}),
    );
    let diagnostics = client.diagnostics(uri, 2);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0]["code"], "jmespath/syntax");
    assert_eq!(diagnostics[0]["range"]["start"], json!({"line": 12, "character": 54}));
    assert_eq!(client.shutdown(), Some(0));
}

const PATTERN: &str = "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: p
spec:
  rules:
    - name: r
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        pattern:
          spec:
            =(securityContext):
              runAsNonRoot: true
            containers:
              - (name): \"*\"
                imagePullPol$0
";

#[test]
fn pattern_completion_and_anchor_hover() {
    let mut client = LspClient::start();
    client.initialize(&["utf-16"], None);
    let (position, text) = cursor(PATTERN);
    let uri = "file:///work/pattern.yaml";
    open(&mut client, uri, &text);
    client.diagnostics(uri, 1);

    let completion =
        client.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": position}));
    assert_eq!(labels(&completion), ["imagePullPolicy"]);
    let item = &completion["result"][0];
    // Without snippet support the first choice is written out.
    assert_eq!(item["textEdit"]["newText"], "imagePullPolicy: Always");
    assert!(item["documentation"]["value"].as_str().unwrap_or_default().contains("Image pull policy"), "{item}");

    // Accept the item, then hover on the `=(` of `=(securityContext)` (line 14).
    let accepted = text.replace("imagePullPol\n", "imagePullPolicy: Always\n");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": accepted}]}),
    );
    assert_eq!(client.diagnostics(uri, 2), Vec::<Value>::new());
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 14, "character": 13}}),
    );
    let markdown = hover["result"]["contents"]["value"].as_str().unwrap_or_default();
    assert!(markdown.starts_with("**Equality anchor** `=(key)`"), "{markdown}");
    assert!(markdown.contains("**`securityContext`**"), "{markdown}");
    assert_eq!(hover["result"]["range"]["start"], json!({"line": 14, "character": 12}));
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn test_file_completion_reads_the_workspace() {
    let root = std::env::temp_dir().join(format!("policy-lsp-test-completion-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::write(root.join("policies/require-team.yaml"), POLICY.replace("$0", "")).unwrap();
    std::fs::write(root.join("policies/other.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
        .unwrap();
    let mut client = LspClient::start();
    let root_uri = format!("file://{}", root.display());
    client.initialize(&["utf-16"], Some(&root_uri));
    client.wait_for(|message| message["method"] == "$/progress" && message["params"]["value"]["kind"] == "end");

    let test = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies:\n  - policies/$0\nresults:\n  - policy: p\n    rule: r\n";
    let (position, text) = cursor(test);
    let uri = format!("{root_uri}/kyverno-test.yaml");
    open(&mut client, &uri, &text);
    let completion =
        client.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": position}));
    assert_eq!(labels(&completion), ["policies/other.yaml", "policies/require-team.yaml"]);
    assert_eq!(completion["result"][0]["kind"], 17, "a file");

    // With the policy file listed, `policy:` offers its name and `rule:` its rules.
    let listed = text.replace("  - policies/\n", "  - policies/require-team.yaml\n");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": listed}]}),
    );
    let line = listed.lines().position(|line| line.contains("policy: p")).unwrap();
    let completion = client.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 12}}),
    );
    assert_eq!(labels(&completion), ["p"]);
    let completion = client.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": {"line": line + 1, "character": 10}}),
    );
    assert_eq!(labels(&completion), ["r", "autogen-r", "autogen-cronjob-r"]);
    assert_eq!(client.shutdown(), Some(0));
    let _ = std::fs::remove_dir_all(&root);
}
