//! End-to-end tests of the language server binary over stdio: initialize, open, versioned diagnostics,
//! incremental edits with multi-byte text and CRLF, document symbols, pull diagnostics, shutdown.

use crate::support::lsp_client::LspClient;
use serde_json::{Value, json};

const POLICY: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-team\nspec:\n  rules:\n    - name: check-team\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        failureAction: Enforse\n        pattern:\n          metadata:\n            labels:\n              team: \"?*\"\n";

fn open(client: &mut LspClient, uri: &str, text: &str, version: i64) {
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": version, "text": text}}),
    );
}

fn change(client: &mut LspClient, uri: &str, version: i64, changes: Value) {
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}),
    );
}

fn summary(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|diagnostic| {
            let range = &diagnostic["range"];
            format!(
                "{}:{}-{}:{} {} {}",
                range["start"]["line"],
                range["start"]["character"],
                range["end"]["line"],
                range["end"]["character"],
                diagnostic["code"].as_str().unwrap_or(""),
                diagnostic["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn open_edit_and_shut_down() {
    let mut client = LspClient::start();
    let result = client.initialize(&["utf-16"], None);
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(result["capabilities"]["textDocumentSync"]["change"], 2, "incremental sync");

    let uri = "file:///work/policy.yaml";
    open(&mut client, uri, POLICY, 1);
    let diagnostics = client.diagnostics(uri, 1);
    assert_eq!(
        summary(&diagnostics),
        ["12:23-12:30 schema/enum `Enforse` is not one of Audit, Enforce; did you mean `Enforce`?"]
    );

    // Fix the typo with a range edit: replace "s" (column 28) by "c".
    change(
        &mut client,
        uri,
        2,
        json!([{"range": {"start": {"line": 12, "character": 28}, "end": {"line": 12, "character": 29}}, "text": "c"}]),
    );
    assert_eq!(summary(&client.diagnostics(uri, 2)), Vec::<String>::new());

    // Break a key in another edit of the same notification sequence and check the version travels along.
    change(
        &mut client,
        uri,
        3,
        json!([{"range": {"start": {"line": 5, "character": 2}, "end": {"line": 5, "character": 7}}, "text": "rulez"}]),
    );
    let diagnostics = client.diagnostics(uri, 3);
    assert_eq!(summary(&diagnostics), ["5:2-5:7 schema/unknown-field unknown field `rulez`; did you mean `rules`?"]);

    let symbols = client.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
    let symbols = symbols["result"].as_array().cloned().unwrap_or_default();
    assert_eq!(symbols.len(), 1);
    assert_eq!(symbols[0]["name"], "ClusterPolicy require-team");

    assert_eq!(client.shutdown(), Some(0));
}

/// A YAML syntax error typed into an open policy lands on its own line, with libyaml's words, and the rest of
/// the document keeps its schema diagnostics; fixing the line leaves the schema diagnostics alone.
#[test]
fn schema_diagnostics_stay_while_a_syntax_error_is_present() {
    let mut client = LspClient::start();
    client.initialize(&["utf-16"], None);
    let uri = "file:///work/policy.yaml";
    open(&mut client, uri, POLICY, 1);
    let enum_error = |line: u32| {
        format!("{line}:23-{line}:30 schema/enum `Enforse` is not one of Audit, Enforce; did you mean `Enforce`?")
    };
    assert_eq!(summary(&client.diagnostics(uri, 1)), [enum_error(12)]);

    // A plain value holding `: ` under `metadata:`, one line inserted above the typo.
    let at_line_4 = json!({"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 0}});
    change(&mut client, uri, 2, json!([{"range": at_line_4, "text": "  annotations: team: a\n"}]));
    assert_eq!(
        summary(&client.diagnostics(uri, 2)),
        [
            "4:19-4:20 yaml/syntax mapping values are not allowed here: a `key: value` stands where a plain value or a \
             key of another indentation belongs; fix the indentation, or quote a value that holds `: `"
                .to_string(),
            enum_error(13),
        ]
    );

    // A tab in the indentation of the same line.
    let whole_line_4 = json!({"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 22}});
    change(&mut client, uri, 3, json!([{"range": whole_line_4, "text": "\tannotations: {}"}]));
    assert_eq!(
        summary(&client.diagnostics(uri, 3)),
        [
            "4:0-4:1 yaml/syntax found a tab character where indentation is expected: YAML indents with spaces only"
                .to_string(),
            enum_error(13),
        ]
    );

    let whole_line_4 = json!({"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 16}});
    change(&mut client, uri, 4, json!([{"range": whole_line_4, "text": "  annotations: {}"}]));
    assert_eq!(summary(&client.diagnostics(uri, 4)), [enum_error(13)]);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn multi_byte_text_and_crlf_in_utf16_and_utf8() {
    for (encoding, expected_column) in [("utf-16", 30), ("utf-8", 33)] {
        let mut client = LspClient::start();
        let result = client.initialize(&[encoding], None);
        assert_eq!(result["capabilities"]["positionEncoding"], encoding);
        let text = "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: x\r\n  labels: {owner: \"é😀\", bad: [1]}\r\nspec:\r\n  containers: []\r\n";
        let uri = "file:///work/pod.yaml";
        open(&mut client, uri, text, 1);
        let diagnostics = client.diagnostics(uri, 1);
        // `[1]` is a list where a string is expected: é is 1 UTF-16 unit (2 bytes), 😀 is 2 units (4 bytes).
        let found: Vec<String> =
            summary(&diagnostics).into_iter().filter(|line| line.contains("schema/type")).collect();
        assert_eq!(
            found,
            [format!("4:{expected_column}-4:{} schema/type expected a string, found a list", expected_column + 3)]
        );

        // Insert a multi-byte character before the error and check the position moves by its width.
        let before_bad = if encoding == "utf-16" { 25 } else { 28 };
        change(
            &mut client,
            uri,
            2,
            json!([{"range": {"start": {"line": 4, "character": before_bad}, "end": {"line": 4, "character": before_bad}}, "text": "ü"}]),
        );
        let diagnostics = client.diagnostics(uri, 2);
        let width = if encoding == "utf-16" { 1 } else { 2 };
        let found: Vec<String> =
            summary(&diagnostics).into_iter().filter(|line| line.contains("schema/type")).collect();
        assert_eq!(
            found,
            [format!(
                "4:{}-4:{} schema/type expected a string, found a list",
                expected_column + width,
                expected_column + width + 3
            )]
        );
        assert_eq!(client.shutdown(), Some(0));
    }
}

#[test]
fn pull_diagnostics_when_asked_for() {
    let mut client = LspClient::start();
    let result = client.request(
        "initialize",
        json!({
            "processId": null,
            "capabilities": {"textDocument": {"diagnostic": {"dynamicRegistration": false}}},
            "initializationOptions": {"diagnosticMode": "pull"},
        }),
    );
    assert_eq!(result["result"]["capabilities"]["diagnosticProvider"]["identifier"], "policy-lsp");
    client.notify("initialized", json!({}));
    let uri = "file:///work/pulled.yaml";
    open(&mut client, uri, POLICY, 1);
    let report = client.request("textDocument/diagnostic", json!({"textDocument": {"uri": uri}}));
    assert_eq!(report["result"]["kind"], "full");
    assert_eq!(report["result"]["items"][0]["code"], "schema/enum");
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn survives_unknown_methods_and_closed_documents() {
    let mut client = LspClient::start();
    client.initialize(&["utf-16"], None);
    let response = client.request("policy/doesNotExist", json!({}));
    assert_eq!(response["error"]["code"], -32601, "method not found");
    let symbols =
        client.request("textDocument/documentSymbol", json!({"textDocument": {"uri": "file:///nowhere.yaml"}}));
    assert!(symbols.get("error").is_none(), "{symbols}");
    let uri = "file:///work/x.yaml";
    open(&mut client, uri, "a: b\n", 1);
    client.diagnostics(uri, 1);
    // A position far past the end clamps instead of failing.
    change(
        &mut client,
        uri,
        2,
        json!([{"range": {"start": {"line": 99, "character": 5}, "end": {"line": 120, "character": 0}}, "text": "c: d\n"}]),
    );
    client.diagnostics(uri, 2);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn completion_hover_and_quick_fix() {
    let mut client = LspClient::start();
    let result = client.initialize(&["utf-16"], None);
    assert_eq!(result["capabilities"]["hoverProvider"], true);
    let uri = "file:///work/fixable.yaml";
    open(&mut client, uri, POLICY, 1);
    client.diagnostics(uri, 1);

    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 12, "character": 24}, "end": {"line": 12, "character": 24}}, "context": {"diagnostics": []}}),
    );
    let action = &actions["result"][0];
    assert_eq!(action["title"], "Change to `Enforce`");
    assert_eq!(action["kind"], "quickfix");
    let edit = &action["edit"]["changes"][uri][0];
    assert_eq!(edit["newText"], "Enforce");
    assert_eq!(edit["range"]["start"], json!({"line": 12, "character": 23}));
    assert_eq!(edit["range"]["end"], json!({"line": 12, "character": 30}));

    // Completion of the enum value right after `failureAction: `.
    let completion = client.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": {"line": 12, "character": 23}}),
    );
    let labels: Vec<String> = completion["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, ["Audit", "Enforce"]);

    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 12, "character": 12}}),
    );
    let markdown = hover["result"]["contents"]["value"].as_str().unwrap();
    assert!(markdown.starts_with("**`failureAction`** `string`"), "{markdown}");
    assert!(markdown.contains("Allowed: `Audit`, `Enforce`"), "{markdown}");
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn workspace_symbols_come_from_the_scanned_folder() {
    let root = std::env::temp_dir().join(format!("policy-lsp-symbols-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("policy.yaml"), POLICY).unwrap();
    // A `.rego` module nobody opens: its package and rules come from its indexed facts.
    std::fs::create_dir_all(root.join("lib")).unwrap();
    std::fs::write(root.join("lib/team.rego"), "package lib.team\n\nimport rego.v1\n\nhas_team(x) if x.team\n")
        .unwrap();
    let mut client = LspClient::start();
    let root_uri = format!("file://{}", root.display());
    client.initialize(&["utf-16"], Some(&root_uri));
    // The scan ends with a progress `end`; wait for it before asking.
    client.wait_for(|message| message["method"] == "$/progress" && message["params"]["value"]["kind"] == "end");
    let symbols = client.request("workspace/symbol", json!({"query": "team"}));
    let symbols = symbols["result"].as_array().cloned().unwrap_or_default();
    let found: Vec<String> = symbols
        .iter()
        .map(|symbol| {
            let uri = symbol["location"]["uri"].as_str().unwrap_or("");
            let file = uri.strip_prefix(&root_uri).unwrap_or(uri);
            let start = &symbol["location"]["range"]["start"];
            format!("{} {file}:{}:{}", symbol["name"].as_str().unwrap_or(""), start["line"], start["character"])
        })
        .collect();
    assert_eq!(
        found,
        [
            "ClusterPolicy require-team /policy.yaml:3:8",
            "has_team /lib/team.rego:4:0",
            "package lib.team /lib/team.rego:0:8"
        ],
    );
    assert_eq!(client.shutdown(), Some(0));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn run_tests_command_uses_unsaved_buffers() {
    let root = std::env::temp_dir().join(format!("policy-lsp-run-tests-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let policy = POLICY.replace("        failureAction: Enforse\n", "");
    std::fs::write(root.join("policy.yaml"), &policy).unwrap();
    std::fs::write(
        root.join("resources.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: no-team\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27\n",
    )
    .unwrap();
    let test = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n  - policy: require-team\n    rule: check-team\n    kind: Pod\n    resources: [no-team]\n    result: fail\n";
    std::fs::write(root.join("kyverno-test.yaml"), test).unwrap();
    let mut client = LspClient::start();
    let root_uri = format!("file://{}", root.display());
    let result = client.initialize(&["utf-16"], Some(&root_uri));
    assert_eq!(result["capabilities"]["executeCommandProvider"]["commands"][0], "policy-lsp.runTests");
    client.wait_for(|message| message["method"] == "$/progress" && message["params"]["value"]["kind"] == "end");

    let policy_uri = format!("{root_uri}/policy.yaml");
    let report = client.request(
        "workspace/executeCommand",
        json!({"command": "policy-lsp.runTests", "arguments": [{"uri": policy_uri}]}),
    );
    assert_eq!(report["result"]["summary"]["passed"], 1, "{report}");
    assert_eq!(report["result"]["results"][0]["outcome"], "pass");

    // Edit the open policy so it no longer matches Pods: the unsaved buffer decides the next run.
    open(&mut client, &policy_uri, &policy.replace("kinds: [Pod]", "kinds: [Deployment]"), 1);
    client.diagnostics(&policy_uri, 1);
    let report =
        client.request("workspace/executeCommand", json!({"command": "policy-lsp.runTests", "arguments": [{}]}));
    // The saved policy fails the pod; the edited buffer no longer matches it, which kyverno reports as excluded.
    assert_eq!(report["result"]["results"][0]["actual"], "excluded", "{report}");
    assert_eq!(client.shutdown(), Some(0));
    let _ = std::fs::remove_dir_all(&root);
}
