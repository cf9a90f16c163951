//! End-to-end tests of the editor features over stdio: definition and references across scanned files,
//! semantic tokens, code actions (edits, fixes and file creation), settings from `.policy-lsp.yaml`,
//! `workspace/configuration` and `didChangeConfiguration`, workspace pull diagnostics (per-file result ids,
//! held while nothing changes), the status notification and the progress of a test run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::lsp_client::LspClient;
use serde_json::{Value, json};

const POLICY: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-team\nspec:\n  rules:\n    - name: check-team\n      context:\n        - name: teams\n          variable:\n            value: [a, b]\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        failureAction: Enforce\n        message: \"team must be one of {{ teams }}\"\n        pattern:\n          metadata:\n            labels:\n              team: \"?*\"\n";

const RESOURCES: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: good\n  labels:\n    team: a\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27\n";

const TEST: &str = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n  - policy: require-team\n    rule: check-team\n    kind: Pod\n    resources: [good]\n    result: pass\n";

/// A fresh directory with the given files; removed again when dropped.
struct Workspace {
    root: PathBuf,
}

impl Workspace {
    fn new(name: &str, files: &[(&str, &str)]) -> Workspace {
        let root = std::env::temp_dir().join(format!("policy-lsp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Workspace { root }
    }

    fn uri(&self, path: &str) -> String {
        format!("file://{}", self.root.join(path).display())
    }

    fn root_uri(&self) -> String {
        format!("file://{}", self.root.display())
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn open(client: &mut LspClient, uri: &str, text: &str, version: i64) {
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": version, "text": text}}),
    );
}

fn wait_for_scan(client: &mut LspClient) {
    client.wait_for(|message| message["method"] == "$/progress" && message["params"]["value"]["kind"] == "end");
}

/// `file:line:character` of each location, with the file name only.
fn places(locations: &Value) -> Vec<String> {
    let mut found: Vec<String> = locations
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|location| {
            let uri = location["uri"].as_str().unwrap_or("");
            let name = Path::new(uri).file_name().map(|name| name.to_string_lossy().to_string()).unwrap_or_default();
            let start = &location["range"]["start"];
            format!("{name}:{}:{}", start["line"], start["character"])
        })
        .collect();
    found.sort();
    found
}

#[test]
fn definition_and_references_across_scanned_files() {
    let workspace = Workspace::new(
        "navigation",
        &[("policy.yaml", POLICY), ("resources.yaml", RESOURCES), ("kyverno-test.yaml", TEST)],
    );
    let mut client = LspClient::start();
    let result = client.initialize(&["utf-16"], Some(&workspace.root_uri()));
    assert_eq!(result["capabilities"]["referencesProvider"], true);
    wait_for_scan(&mut client);

    let test_uri = workspace.uri("kyverno-test.yaml");
    let at = |uri: &str, line: u32, character: u32| json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}});
    // results[0].policy -> the policy's name; rule -> the rule; resources[0] -> the resource; a path -> the file.
    let definition = client.request("textDocument/definition", at(&test_uri, 7, 14));
    assert_eq!(places(&definition["result"]), ["policy.yaml:3:8"]);
    let definition = client.request("textDocument/definition", at(&test_uri, 8, 12));
    assert_eq!(places(&definition["result"]), ["policy.yaml:6:12"]);
    let definition = client.request("textDocument/definition", at(&test_uri, 10, 17));
    assert_eq!(places(&definition["result"]), ["resources.yaml:3:8"]);
    let definition = client.request("textDocument/definition", at(&test_uri, 5, 13));
    assert_eq!(places(&definition["result"]), ["resources.yaml:0:0"]);

    // From the policy's name: the test result naming it, and the declaration when asked for.
    let policy_uri = workspace.uri("policy.yaml");
    let mut params = at(&policy_uri, 3, 10);
    params["context"] = json!({"includeDeclaration": true});
    let references = client.request("textDocument/references", params);
    assert_eq!(places(&references["result"]), ["kyverno-test.yaml:7:12", "policy.yaml:3:8"]);

    // A context entry and its use in `{{ }}` in the same rule.
    let definition = client.request("textDocument/definition", at(&policy_uri, 17, 44));
    assert_eq!(places(&definition["result"]), ["policy.yaml:8:16"]);
    let mut params = at(&policy_uri, 8, 17);
    params["context"] = json!({"includeDeclaration": false});
    let references = client.request("textDocument/references", params);
    assert_eq!(places(&references["result"]), ["policy.yaml:17:41"]);

    // Nothing to find on a plain value.
    let mut params = at(&policy_uri, 16, 25);
    params["context"] = json!({"includeDeclaration": true});
    let references = client.request("textDocument/references", params);
    assert_eq!(references["result"], Value::Null);
    assert_eq!(client.shutdown(), Some(0));
}

/// Decodes semantic tokens into `line:character length type` with the legend's names.
fn decode_tokens(data: &Value, legend: &[Value]) -> Vec<String> {
    let numbers: Vec<u64> = data.as_array().unwrap().iter().map(|number| number.as_u64().unwrap()).collect();
    let (mut line, mut character) = (0, 0);
    numbers
        .chunks(5)
        .map(|token| {
            if token[0] > 0 {
                line += token[0];
                character = token[1];
            } else {
                character += token[1];
            }
            let name = legend[token[3] as usize].as_str().unwrap_or("?");
            let library = if token[4] & 1 == 1 { "+lib" } else { "" };
            format!("{line}:{character} {} {name}{library}", token[2])
        })
        .collect()
}

#[test]
fn semantic_tokens_of_embedded_code() {
    let mut client = LspClient::start();
    let result = client.initialize(&["utf-16"], None);
    let provider = &result["capabilities"]["semanticTokensProvider"];
    assert_eq!(provider["full"], true);
    assert_eq!(provider["range"], true);
    let legend = provider["legend"]["tokenTypes"].as_array().cloned().unwrap();
    assert_eq!(provider["legend"]["tokenModifiers"], json!(["defaultLibrary"]));

    let template = "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: owner\nspec:\n  crd:\n    spec:\n      names:\n        kind: Owner\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      rego: |\n        package owner\n        violation[{\"msg\": \"é needs an owner\"}] {\n          not input.review.object.metadata.labels.owner\n        }\n";
    let uri = "file:///work/template.yaml";
    open(&mut client, uri, template, 1);
    client.diagnostics(uri, 1);
    let tokens = client.request("textDocument/semanticTokens/full", json!({"textDocument": {"uri": uri}}));
    assert_eq!(
        decode_tokens(&tokens["result"]["data"], &legend),
        [
            "12:8 7 keyword",
            "12:16 5 namespace",
            "13:8 9 variable",
            "13:19 5 string",
            "13:26 18 string",
            "14:10 3 keyword",
            "14:14 5 variable+lib",
            "14:20 6 property",
            "14:27 6 property",
            "14:34 8 property",
            "14:43 6 property",
            "14:50 5 property"
        ]
    );
    let tokens = client.request(
        "textDocument/semanticTokens/range",
        json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 14, "character": 0}, "end": {"line": 15, "character": 0}}}),
    );
    assert_eq!(decode_tokens(&tokens["result"]["data"], &legend).len(), 7);
    assert_eq!(client.shutdown(), Some(0));
}

fn initialize_with(client: &mut LspClient, root: Option<&str>, capabilities: Value, options: Value) -> Value {
    let result = client.request(
        "initialize",
        json!({
            "processId": null,
            "rootUri": root,
            "capabilities": capabilities,
            "workspaceFolders": root.map(|root| json!([{"uri": root, "name": "root"}])),
            "initializationOptions": options,
        }),
    );
    client.notify("initialized", json!({}));
    result["result"].clone()
}

#[test]
fn code_actions_edit_fix_and_create_files() {
    let workspace = Workspace::new("actions", &[]);
    let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  validationFailureAction: Enforce\n  rules:\n    - name: r\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        message: m\n        deny: {}\n    - match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        deny: {}\n";
    let mut client = LspClient::start();
    let capabilities = json!({
        "workspace": {"workspaceEdit": {"documentChanges": true, "resourceOperations": ["create"]}},
        "textDocument": {"publishDiagnostics": {"versionSupport": true}}
    });
    let result = initialize_with(&mut client, Some(&workspace.root_uri()), capabilities, Value::Null);
    assert_eq!(
        result["capabilities"]["codeActionProvider"]["codeActionKinds"],
        json!(["quickfix", "refactor.rewrite", "source"])
    );
    let uri = workspace.uri("policy.yaml");
    open(&mut client, &uri, policy, 1);
    client.diagnostics(&uri, 1);

    let actions_at = |client: &mut LspClient, line: u32, character: u32, only: Option<Value>| {
        let mut context = json!({"diagnostics": []});
        if let Some(only) = only {
            context["only"] = only;
        }
        let response = client.request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": {"start": {"line": line, "character": character}, "end": {"line": line, "character": character}}, "context": context}),
        );
        response["result"].as_array().cloned().unwrap_or_default()
    };
    let actions = actions_at(&mut client, 5, 4, None);
    let titles: Vec<&str> = actions.iter().map(|action| action["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "Move `validationFailureAction` into each rule (`validate.failureAction`)",
            "Create a Kyverno test skeleton (.kyverno-test/kyverno-test.yaml)"
        ]
    );
    let moved = &actions[0];
    assert_eq!(moved["kind"], "quickfix");
    assert_eq!(moved["diagnostics"][0]["code"], "schema/deprecated");
    let edits = moved["edit"]["changes"][&uri].as_array().unwrap();
    assert_eq!(edits[0]["range"], json!({"start": {"line": 5, "character": 0}, "end": {"line": 6, "character": 0}}));
    assert_eq!(edits[1]["newText"], "failureAction: Enforce\n        ");
    assert_eq!(edits[1]["range"]["start"], json!({"line": 13, "character": 8}));

    let skeleton = &actions[1];
    assert_eq!(skeleton["kind"], "source");
    let operations = skeleton["edit"]["documentChanges"].as_array().unwrap();
    assert_eq!(operations[0]["kind"], "create");
    assert!(operations[0]["uri"].as_str().unwrap().ends_with("/.kyverno-test/kyverno-test.yaml"));
    assert!(operations[1]["edits"][0]["newText"].as_str().unwrap().contains("  - policy: p\n    rule: r\n"));
    assert_eq!(operations[2]["kind"], "create");
    assert!(operations[2]["uri"].as_str().unwrap().ends_with("/.kyverno-test/resource.yaml"));

    // `only` keeps quick fixes; the second rule misses its name and gets a fix adding it.
    let actions = actions_at(&mut client, 15, 8, Some(json!(["quickfix"])));
    let titles: Vec<&str> = actions.iter().map(|action| action["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Add missing field `name`"]);
    let edit = &actions[0]["edit"]["changes"][&uri][0];
    assert_eq!(edit["newText"], "name: \"\"\n      ");
    assert_eq!(edit["range"]["start"], json!({"line": 15, "character": 6}));
    assert_eq!(client.shutdown(), Some(0));

    // A client that cannot create files is not offered the skeleton.
    let mut client = LspClient::start();
    initialize_with(&mut client, None, json!({}), Value::Null);
    open(&mut client, &uri, policy, 1);
    let actions = actions_at(&mut client, 5, 4, None);
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(client.shutdown(), Some(0));
}

fn codes_and_severities(message: &Value) -> Vec<String> {
    message["params"]["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|diagnostic| format!("{} {}", diagnostic["code"].as_str().unwrap_or(""), diagnostic["severity"]))
        .collect()
}

const SETTINGS_POLICY: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  validationFailureAction: Enforce\n  rules:\n    - name: r\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        message: m\n        deny: {}\n        extra: 1\n";

#[test]
fn settings_from_the_file_the_client_and_its_changes() {
    let workspace = Workspace::new(
        "settings",
        &[(".policy-lsp.yaml", "lint:\n  disable: [schema/deprecated]\n"), ("policy.yaml", SETTINGS_POLICY)],
    );
    let mut client = LspClient::start();
    client.answers.insert(
        "workspace/configuration".to_string(),
        Some(json!([{"lint": {"severity": {"schema/unknown-field": "hint"}}}])),
    );
    let capabilities = json!({"workspace": {"configuration": true, "didChangeConfiguration": {}}});
    initialize_with(&mut client, Some(&workspace.root_uri()), capabilities, Value::Null);
    let uri = workspace.uri("policy.yaml");
    open(&mut client, &uri, SETTINGS_POLICY, 1);
    // The file disables `schema/deprecated`; the client's severity arrives through workspace/configuration.
    let graded = client.wait_for(|message| {
        message["method"] == "textDocument/publishDiagnostics"
            && codes_and_severities(message) == ["schema/unknown-field 4"]
    });
    assert_eq!(graded["params"]["version"], 1);

    // Push-style settings in didChangeConfiguration replace the client's.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"policy-lsp": {"lint": {"disable": ["schema/unknown-field"]}}}}),
    );
    client.wait_for(|message| {
        message["method"] == "textDocument/publishDiagnostics" && codes_and_severities(message).is_empty()
    });

    // The file changes on disk: its new settings apply.
    std::fs::write(workspace.root.join(".policy-lsp.yaml"), "lint:\n  severity:\n    schema: info\n").unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": workspace.uri(".policy-lsp.yaml"), "type": 2}]}),
    );
    client.wait_for(|message| {
        message["method"] == "textDocument/publishDiagnostics"
            && codes_and_severities(message) == ["schema/deprecated 3"]
    });
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn a_client_that_never_answers_configuration_does_not_block_the_server() {
    let workspace = Workspace::new(
        "silent",
        &[(".policy-lsp.yaml", "lint:\n  disable: [schema/deprecated]\n"), ("policy.yaml", SETTINGS_POLICY)],
    );
    let mut client = LspClient::start();
    client.answers.insert("workspace/configuration".to_string(), None);
    let capabilities = json!({"workspace": {"configuration": true}});
    initialize_with(
        &mut client,
        Some(&workspace.root_uri()),
        capabilities,
        json!({"lint": {"severity": {"schema/unknown-field": "warning"}}}),
    );
    let uri = workspace.uri("policy.yaml");
    open(&mut client, &uri, SETTINGS_POLICY, 1);
    let published = client.wait_for(|message| message["method"] == "textDocument/publishDiagnostics");
    // The file and the initialization options apply while the configuration request is pending.
    assert_eq!(codes_and_severities(&published), ["schema/unknown-field 2"]);
    let symbols = client.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
    assert_eq!(symbols["result"][0]["name"], "ClusterPolicy p");
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn workspace_diagnostics_in_pull_mode() {
    let broken = SETTINGS_POLICY.replace("kinds: [Pod]", "kinds: Pod");
    let workspace = Workspace::new(
        "workspace-diagnostics",
        &[("policy.yaml", broken.as_str()), ("resources.yaml", RESOURCES), ("notes.txt", "not yaml")],
    );
    let mut client = LspClient::start();
    let capabilities = json!({"textDocument": {"diagnostic": {}}, "window": {"workDoneProgress": true}});
    let result =
        initialize_with(&mut client, Some(&workspace.root_uri()), capabilities, json!({"diagnosticMode": "pull"}));
    assert_eq!(result["capabilities"]["diagnosticProvider"]["workspaceDiagnostics"], true);
    wait_for_scan(&mut client);

    let report = client.request("workspace/diagnostic", json!({"previousResultIds": []}));
    let items = report["result"]["items"].as_array().cloned().unwrap();
    let summary: Vec<String> = items
        .iter()
        .map(|item| {
            let name = Path::new(item["uri"].as_str().unwrap()).file_name().unwrap().to_string_lossy().to_string();
            let codes: Vec<&str> =
                item["items"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
            format!("{name} {} {}", item["kind"], codes.join(","))
        })
        .collect();
    assert_eq!(
        summary,
        ["policy.yaml \"full\" schema/deprecated,schema/type,schema/unknown-field", "resources.yaml \"full\" "]
    );
    // Asked again with the ids it was given and nothing changed: the request is held, and the connection
    // stays quiet (VS Code's client would otherwise ask again every 2 s for as long as the editor idles).
    let previous = result_ids(&report);
    let held = client.send_request("workspace/diagnostic", json!({"previousResultIds": previous}));
    assert_eq!(client.messages_within(Duration::from_millis(1500)), Vec::<Value>::new());
    // A change answers it, with the new state.
    let fixed = broken.replace("kinds: Pod", "kinds: [Pod]");
    open(&mut client, &workspace.uri("policy.yaml"), &fixed, 1);
    let report = client.response(held);
    let items = report["result"]["items"].as_array().cloned().unwrap();
    let policy = items.iter().find(|item| item["uri"].as_str().unwrap().ends_with("/policy.yaml")).unwrap();
    assert_eq!(policy["kind"], "full");
    assert_ne!(policy["resultId"], previous[0]["value"]);
    assert!(
        !codes_and_severities(&json!({"params": {"diagnostics": policy["items"]}}))
            .iter()
            .any(|code| code.starts_with("schema/type"))
    );
    // Held again once the background work the open started is done, then cancelled by the client: answered
    // as cancelled at once.
    let held = hold_workspace_pull(&mut client, &report);
    client.notify("$/cancelRequest", json!({"id": held}));
    assert_eq!(client.response(held)["error"]["code"], -32800);
    // A held request does not keep the server from shutting down.
    let held = hold_workspace_pull(&mut client, &report);
    let shutdown = client.send_request("shutdown", Value::Null);
    assert_eq!(client.response(held)["error"]["code"], -32802);
    assert!(client.response(shutdown).get("error").is_none());
    client.notify("exit", Value::Null);
}

#[test]
fn a_workspace_pull_without_the_open_files_ids_is_held() {
    let workspace =
        Workspace::new("workspace-pull-open", &[("policy.yaml", SETTINGS_POLICY), ("resources.yaml", RESOURCES)]);
    let mut client = LspClient::start();
    let capabilities = json!({"textDocument": {"diagnostic": {}}, "window": {"workDoneProgress": true}});
    initialize_with(&mut client, Some(&workspace.root_uri()), capabilities, json!({"diagnosticMode": "pull"}));
    wait_for_scan(&mut client);
    let uri = workspace.uri("policy.yaml");
    open(&mut client, &uri, SETTINGS_POLICY, 1);
    let document = client.request("textDocument/diagnostic", json!({"textDocument": {"uri": uri}}));
    assert_eq!(document["result"]["kind"], "full");
    // VS Code's client pulls an open file by itself and sends no id for it in workspace pulls: such a pull,
    // with every other file unchanged, is held all the same (else it is answered and asked again every 2 s).
    let mut report = client.request("workspace/diagnostic", json!({"previousResultIds": []}));
    let without_open = |report: &Value| -> Vec<Value> {
        result_ids(report).into_iter().filter(|id| id["uri"] != uri.as_str()).collect()
    };
    let mut held = None;
    for _ in 0..20 {
        let id = client.send_request("workspace/diagnostic", json!({"previousResultIds": without_open(&report)}));
        let seen = client.messages_within(Duration::from_millis(500));
        match seen.into_iter().find(|message| message["id"] == id) {
            // Background work the open started (its inline test round) may move the state on first.
            Some(answer) => report = answer,
            None => {
                held = Some(id);
                break;
            }
        }
    }
    let held = held.expect("a pull without the open file's id is held");
    client.notify("$/cancelRequest", json!({"id": held}));
    assert_eq!(client.response(held)["error"]["code"], -32800);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn a_workspace_pull_after_an_edit_sends_only_the_files_it_can_change() {
    let other = POLICY.replace("require-team", "other-policy");
    let workspace = Workspace::new(
        "workspace-diagnostics-per-file",
        &[
            ("policy.yaml", POLICY),
            ("resources.yaml", RESOURCES),
            ("kyverno-test.yaml", TEST),
            ("other.yaml", other.as_str()),
        ],
    );
    let mut client = LspClient::start();
    let capabilities = json!({"textDocument": {"diagnostic": {}}, "window": {"workDoneProgress": true}});
    initialize_with(&mut client, Some(&workspace.root_uri()), capabilities, json!({"diagnosticMode": "pull"}));
    wait_for_scan(&mut client);
    let uri = workspace.uri("policy.yaml");
    open(&mut client, &uri, POLICY, 1);
    let first = client.request("workspace/diagnostic", json!({"previousResultIds": []}));
    assert_eq!(
        report_kinds(&first),
        ["kyverno-test.yaml full", "other.yaml full", "policy.yaml full", "resources.yaml full"]
    );
    let held = hold_workspace_pull(&mut client, &first);
    // An edit of the policy: it and the test that names it are sent again, the others are unchanged.
    let edited = POLICY.replace("kinds: [Pod]", "kinds: Pod");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": edited}]}),
    );
    let report = client.response(held);
    assert_eq!(
        report_kinds(&report),
        ["kyverno-test.yaml full", "other.yaml unchanged", "policy.yaml full", "resources.yaml unchanged"]
    );
    let items = report["result"]["items"].as_array().cloned().unwrap();
    let policy = items.iter().find(|item| item["uri"] == uri.as_str()).unwrap();
    assert!(
        codes_and_severities(&json!({"params": {"diagnostics": policy["items"]}}))
            .contains(&"schema/type 1".to_string())
    );
    // The unchanged files keep the ids the client holds; the next pull with the new ids is held again.
    let before = result_ids(&first);
    for item in items.iter().filter(|item| item["kind"] == "unchanged") {
        assert!(before.contains(&json!({"uri": item["uri"], "value": item["resultId"]})), "{item}");
    }
    // A deleted file gets one empty report, which clears it in the client; the pull with its id is held.
    let held = hold_workspace_pull(&mut client, &report);
    std::fs::remove_file(workspace.root.join("other.yaml")).unwrap();
    let deleted = json!({"changes": [{"uri": workspace.uri("other.yaml"), "type": 3}]});
    client.notify("workspace/didChangeWatchedFiles", deleted);
    let report = client.response(held);
    let items = report["result"]["items"].as_array().cloned().unwrap();
    let gone = items.iter().find(|item| item["uri"] == workspace.uri("other.yaml").as_str()).unwrap();
    assert_eq!((&gone["kind"], &gone["items"]), (&json!("full"), &json!([])));
    let held = hold_workspace_pull(&mut client, &report);
    client.notify("$/cancelRequest", json!({"id": held}));
    assert_eq!(client.response(held)["error"]["code"], -32800);
    assert_eq!(client.shutdown(), Some(0));
}

/// `name kind` of each file of a workspace diagnostic report.
fn report_kinds(report: &Value) -> Vec<String> {
    let items = report["result"]["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|item| {
            let name = Path::new(item["uri"].as_str().unwrap()).file_name().unwrap().to_string_lossy().to_string();
            format!("{name} {}", item["kind"].as_str().unwrap())
        })
        .collect()
}

/// The previous result ids a client sends after a workspace diagnostic report.
fn result_ids(report: &Value) -> Vec<Value> {
    let items = report["result"]["items"].as_array().cloned().unwrap_or_default();
    items.iter().map(|item| json!({"uri": item["uri"], "value": item["resultId"]})).collect()
}

/// Pulls again with the ids of the last report until the server holds the request (background work, such
/// as the inline test round an open starts, may move the state on meanwhile); returns the held request's id.
fn hold_workspace_pull(client: &mut LspClient, report: &Value) -> i64 {
    let mut previous = result_ids(report);
    for _ in 0..20 {
        let id = client.send_request("workspace/diagnostic", json!({"previousResultIds": previous}));
        let seen = client.messages_within(Duration::from_millis(500));
        match seen.iter().find(|message| message["id"] == id) {
            Some(answer) => previous = result_ids(answer),
            None => return id,
        }
    }
    panic!("the server never held a workspace pull");
}

/// The `policy-lsp/status` notifications, as `(state, files, policy files)`.
fn statuses(messages: &[Value]) -> Vec<(String, u64, u64)> {
    messages
        .iter()
        .filter(|message| message["method"] == "policy-lsp/status")
        .map(|message| {
            let params = &message["params"];
            (
                params["state"].as_str().unwrap().to_string(),
                params["files"].as_u64().unwrap(),
                params["policyFiles"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn status_notifications_tell_indexing_and_how_many_policy_files() {
    let workspace =
        Workspace::new("status", &[("policy.yaml", POLICY), ("resources.yaml", RESOURCES), ("notes.yaml", "a: 1\n")]);
    let mut client = LspClient::start();
    let capabilities = json!({"experimental": {"policyLspStatus": true}});
    let result = initialize_with(&mut client, Some(&workspace.root_uri()), capabilities, Value::Null);
    assert_eq!(result["capabilities"]["experimental"]["policyLspStatus"], true);
    client.wait_for(|message| message["method"] == "policy-lsp/status" && message["params"]["state"] == "ready");
    let seen = statuses(&client.backlog);
    assert_eq!(seen.first(), Some(&("indexing".to_string(), 0, 0)), "{seen:?}");
    assert!(seen.contains(&("indexing".to_string(), 3, 0)), "the scan's count of YAML files: {seen:?}");
    client.backlog.clear();
    // The ready notification came last, with the counts (read again from the message just taken).
    let uri = workspace.uri("second-policy.yaml");
    open(&mut client, &uri, &POLICY.replace("require-team", "second"), 1);
    let ready = client.wait_for(|message| message["method"] == "policy-lsp/status");
    assert_eq!(statuses(&[ready]), [("ready".to_string(), 4, 2)]);
    // Nothing changed: nothing more is said.
    assert_eq!(statuses(&client.messages_within(Duration::from_millis(500))), []);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn status_notifications_only_for_clients_that_ask() {
    let workspace = Workspace::new("status-not-asked", &[("policy.yaml", POLICY)]);
    let mut client = LspClient::start();
    let capabilities = json!({"window": {"workDoneProgress": true}});
    let result = initialize_with(&mut client, Some(&workspace.root_uri()), capabilities, Value::Null);
    assert_eq!(result["capabilities"].get("experimental"), None);
    wait_for_scan(&mut client);
    let mut seen = client.messages_within(Duration::from_millis(300));
    seen.append(&mut client.backlog);
    assert_eq!(statuses(&seen), []);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn a_test_run_reports_its_progress_on_the_clients_token() {
    let workspace = Workspace::new(
        "run-progress",
        &[("policy.yaml", POLICY), ("resources.yaml", RESOURCES), ("kyverno-test.yaml", TEST)],
    );
    let mut client = LspClient::start();
    initialize_with(
        &mut client,
        Some(&workspace.root_uri()),
        json!({"window": {"workDoneProgress": true}}),
        Value::Null,
    );
    wait_for_scan(&mut client);
    let arguments = json!([{"uri": workspace.uri("kyverno-test.yaml")}]);
    let report = client.request(
        "workspace/executeCommand",
        json!({"command": "policy-lsp.runTests", "arguments": arguments, "workDoneToken": "run-1"}),
    );
    assert_eq!(report["result"]["summary"]["passed"], 1, "{report}");
    let progress: Vec<String> = client
        .backlog
        .iter()
        .filter(|message| message["method"] == "$/progress" && message["params"]["token"] == "run-1")
        .map(|message| {
            let value = &message["params"]["value"];
            format!("{} {}", value["kind"].as_str().unwrap(), value["message"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(progress, ["begin 1 test file", "report 1/1: kyverno-test.yaml", "end 1 passed, 0 failed"]);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn tests_inline_setting_turns_inline_tests_off_and_on() {
    let failing = TEST.replace("result: pass", "result: fail");
    let workspace = Workspace::new(
        "inline-setting",
        &[
            (".policy-lsp.yaml", "tests:\n  inline: false\n"),
            ("policy.yaml", POLICY),
            ("resources.yaml", RESOURCES),
            ("kyverno-test.yaml", failing.as_str()),
        ],
    );
    let mut client = LspClient::start();
    let capabilities = json!({"window": {"workDoneProgress": true}, "workspace": {"didChangeConfiguration": {}}});
    initialize_with(&mut client, Some(&workspace.root_uri()), capabilities, Value::Null);
    wait_for_scan(&mut client);
    let uri = workspace.uri("kyverno-test.yaml");
    open(&mut client, &uri, &failing, 1);
    let published = client.wait_for(|message| {
        message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri.as_str()
    });
    assert_eq!(codes_and_severities(&published), Vec::<String>::new());
    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}}));
    assert_eq!(lenses["result"], json!([]));

    // The editor's setting wins over the file's: the test runs and its failing expectation shows.
    client.notify("workspace/didChangeConfiguration", json!({"settings": {"policy-lsp": {"tests": {"inline": true}}}}));
    client.wait_for(|message| {
        message["method"] == "textDocument/publishDiagnostics"
            && message["params"]["uri"] == uri.as_str()
            && codes_and_severities(message) == ["test/failed 1"]
    });
    // And off again: the results go away.
    client
        .notify("workspace/didChangeConfiguration", json!({"settings": {"policy-lsp": {"tests": {"inline": false}}}}));
    client.wait_for(|message| {
        message["method"] == "textDocument/publishDiagnostics"
            && message["params"]["uri"] == uri.as_str()
            && codes_and_severities(message).is_empty()
    });
    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}}));
    assert_eq!(lenses["result"], json!([]));
    assert_eq!(client.shutdown(), Some(0));
}
