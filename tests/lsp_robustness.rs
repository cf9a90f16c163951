//! The language server under a misbehaving client, through the real binary over stdio: malformed
//! JSON-RPC, unknown methods, out-of-range positions, requests for documents it never saw, edits with
//! ranges past the text (the server's text must stay what the client believes), a long test run while
//! the user types (and another one cancelled), and a client that disappears without `shutdown`. (Before
//! `lsp::transport`, the first undecodable message made the server exit.)

use std::time::{Duration, Instant};

use crate::support::lsp_client::LspClient;
use serde_json::{Value, json};

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

fn position(line: u64, character: u64) -> Value {
    json!({"line": line, "character": character})
}

/// Every diagnostic as `line:column-line:column code message`.
fn summary(diagnostics: &[Value]) -> Vec<String> {
    let mut lines: Vec<String> = diagnostics
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
        .collect();
    lines.sort();
    lines
}

/// Proves the server is alive and in order: a request answered after everything sent before it.
fn assert_alive(client: &mut LspClient) {
    let response = client.request("workspace/symbol", json!({"query": "zzz-nothing"}));
    assert!(response.get("error").is_none(), "the server stopped answering: {response}");
}

/// A ConfigMap whose extra top-level keys each get an unknown-field warning naming the key and its
/// place, so the diagnostics show the document's text.
const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\naaa: 1\nbbb: 2 # 😀 é\n";

/// A (line, UTF-16 column) position.
type Place = (usize, usize);

/// Applies an LSP edit to a string the way the protocol says (UTF-16 columns, a column past the line
/// end means the line end, a line past the end means the end of the text), as the client sees it.
fn apply_as_client(text: &mut String, start: Place, end: Place, inserted: &str) {
    let offset = |text: &str, (line, column): Place| -> usize {
        let mut line_start = 0;
        for _ in 0..line {
            match text[line_start..].find('\n') {
                Some(newline) => line_start += newline + 1,
                None => return text.len(),
            }
        }
        let line_end = text[line_start..].find('\n').map_or(text.len(), |newline| line_start + newline);
        let mut units = 0;
        for (index, character) in text[line_start..line_end].char_indices() {
            if units + character.len_utf16() > column {
                return line_start + index;
            }
            units += character.len_utf16();
        }
        line_end
    };
    let (start, end) = (offset(text, start), offset(text, end));
    text.replace_range(start.min(end)..end.max(start), inserted);
}

#[test]
fn edits_past_the_text_never_lose_or_misplace_an_edit() {
    let mut client = LspClient::start();
    client.initialize(&["utf-16"], None);
    let uri = "file:///work/robust/probe.yaml";
    open(&mut client, uri, CONFIG_MAP, 1);
    client.diagnostics(uri, 1);

    let mut believed = CONFIG_MAP.to_string();
    let mut last = Vec::new();
    let edits: Vec<(Place, Place, &str)> = vec![
        // Inside a key.
        ((4, 1), (4, 1), "x"),
        // A column far past the end of its line: the end of that line.
        ((4, 9_999), (4, 9_999), "\nccc: 3"),
        // A line far past the end of the text: the end of the text.
        ((9_999, 0), (9_999, 5), "ddd: 4\n"),
        // A range given backwards.
        ((7, 3), (7, 0), "eee"),
        // Columns counted in UTF-16 after an emoji (two units) and an é (one).
        ((6, 12), (6, 13), "É"),
        // A column inside the emoji's surrogate pair.
        ((6, 10), (6, 10), "!"),
        // A range that starts past the end of its line and ends on a later line.
        ((0, 500), (1, 0), "\n"),
        // Replace everything from a real position to far past the end.
        ((8, 0), (u32::MAX as usize, u32::MAX as usize), "fff: 5\n"),
    ];
    for (index, (start, end, inserted)) in edits.iter().enumerate() {
        let version = index as i64 + 2;
        change(
            &mut client,
            uri,
            version,
            json!([{"range": {"start": position(start.0 as u64, start.1 as u64), "end": position(end.0 as u64, end.1 as u64)}, "text": inserted}]),
        );
        apply_as_client(&mut believed, *start, *end, inserted);
        let edited = summary(&client.diagnostics(uri, version));
        // A document opened with the text the client believes must have the same diagnostics.
        let witness = format!("file:///work/robust/witness-{version}.yaml");
        open(&mut client, &witness, &believed, 1);
        let expected = summary(&client.diagnostics(&witness, 1));
        assert_eq!(edited, expected, "after edit {index} the server's text differs from {believed:?}");
        last = edited;
    }
    let keys: Vec<String> = last.iter().filter_map(|line| line.split('`').nth(1).map(str::to_string)).collect();
    assert!(keys.contains(&"axaa".to_string()) && keys.contains(&"ccc".to_string()), "{keys:?} for {believed:?}");
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn malformed_messages_are_answered_or_dropped_and_the_server_goes_on() {
    let mut client = LspClient::start();
    client.initialize(&["utf-16"], None);

    // A body that is not JSON has no id to answer: it is dropped (with a line on stderr).
    client.send_raw(b"Content-Length: 9\r\n\r\n{not json");
    assert_alive(&mut client);

    // JSON that is not a JSON-RPC message.
    client.send(json!([1, 2, 3]));
    client.send(json!({"jsonrpc": "2.0"}));
    assert_alive(&mut client);

    // Parameters of the wrong types: a request gets InvalidParams, a notification is dropped.
    let response = client.request("textDocument/hover", json!({"textDocument": 5, "position": "here"}));
    assert_eq!(response["error"]["code"], -32602, "{response}");
    client.notify("textDocument/didChange", json!({"textDocument": {"uri": 7}, "contentChanges": "x"}));
    client.notify("textDocument/didOpen", json!(null));
    let response = client.request("textDocument/completion", json!({"position": {"line": -1, "character": "a"}}));
    assert_eq!(response["error"]["code"], -32602, "{response}");
    assert_alive(&mut client);

    // Unknown methods: a request gets MethodNotFound, a notification is ignored.
    let response = client.request("policyLsp/doesNotExist", json!({"a": 1}));
    assert_eq!(response["error"]["code"], -32601, "{response}");
    client.notify("policyLsp/alsoUnknown", json!({}));
    client.notify("$/somethingOptional", json!({}));
    assert_alive(&mut client);

    // A header that is not a number, then a valid message.
    client.send_raw(b"Content-Length: lots\r\n\r\n{}");
    client.send_raw(b"Content-Type: text/plain\r\n\r\n");
    assert_alive(&mut client);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn requests_for_unknown_documents_and_positions_out_of_range_are_answered() {
    let mut client = LspClient::start();
    client.initialize(&["utf-16"], None);
    let known = "file:///work/robust/known.yaml";
    open(&mut client, known, CONFIG_MAP, 1);
    client.diagnostics(known, 1);
    let closed = "file:///work/robust/closed.yaml";
    open(&mut client, closed, CONFIG_MAP, 1);
    client.diagnostics(closed, 1);
    client.notify("textDocument/didClose", json!({"textDocument": {"uri": closed}}));
    // An edit to the closed document is dropped (it is no longer the client's to edit).
    change(&mut client, closed, 2, json!([{"text": "kind: ["}]));

    let far = position(u32::MAX as u64, u32::MAX as u64);
    for uri in
        [known, closed, "file:///work/robust/never-opened.yaml", "untitled:Untitled-1", "http://example.com/x.yaml"]
    {
        for (method, params) in [
            ("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": far})),
            ("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": far})),
            ("textDocument/definition", json!({"textDocument": {"uri": uri}, "position": position(3, 10_000)})),
            ("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}})),
            ("textDocument/foldingRange", json!({"textDocument": {"uri": uri}})),
            ("textDocument/diagnostic", json!({"textDocument": {"uri": uri}})),
            (
                "textDocument/codeAction",
                json!({"textDocument": {"uri": uri}, "range": {"start": far, "end": position(0, 0)}, "context": {"diagnostics": []}}),
            ),
        ] {
            let started = Instant::now();
            let response = client.request(method, params);
            assert!(
                response.get("error").is_none() || response["error"]["code"] == -32601,
                "{method} {uri}: {response}"
            );
            assert!(started.elapsed() < Duration::from_secs(5), "{method} {uri} took {:?}", started.elapsed());
        }
    }
    let response = client.request(
        "workspace/executeCommand",
        json!({"command": "policy-lsp.runTests", "arguments": [{"uri": "file:///work/robust/never-opened.yaml"}]}),
    );
    assert!(response.get("error").is_none(), "{response}");
    assert_alive(&mut client);
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn a_burst_of_edits_ends_with_diagnostics_for_the_last_version_only_in_order() {
    let mut client = LspClient::start();
    client.initialize(&["utf-16"], None);
    let uri = "file:///work/robust/burst.yaml";
    open(&mut client, uri, CONFIG_MAP, 1);
    client.diagnostics(uri, 1);
    let mut believed = CONFIG_MAP.to_string();
    for version in 2..=101 {
        change(
            &mut client,
            uri,
            version,
            json!([{"range": {"start": position(4, 0), "end": position(4, 0)}, "text": "k"}]),
        );
        apply_as_client(&mut believed, (4, 0), (4, 0), "k");
    }
    let last = client.diagnostics(uri, 101);
    let key = format!("{}aaa", "k".repeat(100));
    assert!(summary(&last).iter().any(|line| line.contains(&format!("`{key}`"))), "{:?}", summary(&last));
    // Versions published for the document never go backwards.
    assert_alive(&mut client);
    let versions: Vec<i64> = client
        .backlog
        .iter()
        .filter(|message| message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri)
        .filter_map(|message| message["params"]["version"].as_i64())
        .collect();
    assert!(versions.windows(2).all(|pair| pair[0] <= pair[1]), "{versions:?}");
    eprintln!("burst of 100 edits: {} intermediate publications", versions.len());
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn typing_stays_responsive_while_a_long_test_run_evaluates() {
    let directory = std::env::temp_dir().join(format!("policy-lsp-robust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    // A template whose Rego runs until the evaluation time limit (10 s) stops it.
    std::fs::write(
        directory.join("template.yaml"),
        "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8sslow\nspec:\n  crd:\n    spec:\n      names:\n        kind: K8sSlow\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      rego: |\n        package k8sslow\n        import future.keywords.in\n        violation[{\"msg\": \"never\"}] {\n          n := count([x | some a in numbers.range(1, 1000); some b in numbers.range(1, 1000); some c in numbers.range(1, 1000); x := a * b * c; x < 0])\n          n > 0\n        }\n",
    )
    .unwrap();
    std::fs::write(
        directory.join("constraint.yaml"),
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sSlow\nmetadata:\n  name: slow\n",
    )
    .unwrap();
    std::fs::write(directory.join("pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n").unwrap();
    let suite = "apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\nmetadata:\n  name: slow\ntests:\n  - name: slow\n    template: template.yaml\n    constraint: constraint.yaml\n    cases:\n      - name: p\n        object: pod.yaml\n        assertions:\n          - violations: no\n";
    std::fs::write(directory.join("suite.yaml"), suite).unwrap();
    let root = format!("file://{}", directory.display());

    let mut client = LspClient::start();
    client.initialize(&["utf-16"], Some(&root));
    let suite_uri = format!("{root}/suite.yaml");
    open(&mut client, &suite_uri, suite, 1);
    client.diagnostics(&suite_uri, 1);
    let uri = format!("{root}/probe.yaml");
    open(&mut client, &uri, CONFIG_MAP, 1);
    client.diagnostics(&uri, 1);

    // Start the test run without waiting for its answer.
    client.send(json!({"jsonrpc": "2.0", "id": 9000, "method": "workspace/executeCommand",
        "params": {"command": "policy-lsp.runTests", "arguments": [{"uri": suite_uri}]}}));
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    for version in 2..=21 {
        change(
            &mut client,
            &uri,
            version,
            json!([{"range": {"start": position(4, 0), "end": position(4, 0)}, "text": "z"}]),
        );
        client.diagnostics(&uri, version);
        let hover =
            client.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": position(1, 2)}));
        assert!(hover.get("error").is_none(), "{hover}");
    }
    let typing = started.elapsed();
    eprintln!("20 edits with diagnostics and hovers during a test run: {typing:?}");
    assert!(typing < Duration::from_secs(5), "typing waited for the test run: {typing:?}");
    // A second run, cancelled at once: answered as cancelled without waiting for the evaluation.
    client.send(json!({"jsonrpc": "2.0", "id": 9001, "method": "workspace/executeCommand",
        "params": {"command": "policy-lsp.runTests", "arguments": [{"uri": suite_uri}]}}));
    let cancelled_at = Instant::now();
    client.notify("$/cancelRequest", json!({"id": 9001}));
    let cancelled = client.wait_for(|message| message["id"] == 9001);
    assert_eq!(cancelled["error"]["code"], -32800, "{cancelled}");
    assert!(cancelled_at.elapsed() < Duration::from_secs(2), "the cancellation waited: {:?}", cancelled_at.elapsed());
    let report = client.wait_for(|message| message["id"] == 9000);
    let text = report.to_string();
    assert!(text.contains("time limit"), "{text}");
    assert_eq!(client.shutdown(), Some(0));
}

#[test]
fn a_client_that_disappears_without_shutdown_ends_the_server() {
    let mut client = LspClient::start();
    client.initialize(&["utf-16"], None);
    open(&mut client, "file:///work/robust/left.yaml", CONFIG_MAP, 1);
    client.diagnostics("file:///work/robust/left.yaml", 1);
    // Half a message, then the pipe closes as when the editor crashes.
    client.send_raw(b"Content-Length: 500\r\n\r\n{\"jsonrpc\": \"2.0\", \"method\": \"textDoc");
    let started = Instant::now();
    let status = client.close_and_wait(Duration::from_secs(10));
    eprintln!("the server exited {:?} after its client disappeared", started.elapsed());
    // Exit code 1: the protocol's code for an exit without a preceding `shutdown`.
    assert_eq!(status, Some(1));
}
