//! `.rego` files in the language server, end to end over stdio: the workspace's modules are indexed at
//! start-up and the file with the `$0` cursor is opened, then diagnostics, document symbols, definition
//! across files and imports (and between a template and its `src.rego`), hover, completion, and the test
//! rules' code lenses and failing-test diagnostics are checked against what each fixture expects.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::lsp_inline_tests::lens_titles;
use crate::support::lsp_client::LspClient;
use crate::support::{FixtureFile, line_and_column, parse_fixture, write_fixture_directory};

/// A server started on a fixture's files, with the `$0` file open.
struct Session {
    client: LspClient,
    root: PathBuf,
    uri: String,
    /// The open file's text and the cursor's line and character.
    text: String,
    position: Value,
}

impl Session {
    fn start(name: &str, fixture: &str) -> Session {
        // Tests run in parallel and several share a helper: each session gets its own folder.
        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let number = SESSIONS.fetch_add(1, Ordering::SeqCst);
        let root = write_fixture_directory(&format!("rego-lsp-{name}-{number}"), fixture);
        let files = parse_fixture(fixture);
        let open: &FixtureFile = files.iter().find(|file| file.cursor.is_some()).expect("a `$0` cursor");
        let (line, character) = line_and_column(&open.text, open.cursor.unwrap_or_default());
        let path = root.join(open.path.strip_prefix("/").unwrap_or(&open.path));
        let uri = format!("file://{}", path.display());
        let root_uri = format!("file://{}", root.display());
        let mut client = LspClient::start();
        client.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": root_uri,
                "capabilities": {
                    "textDocument": {"publishDiagnostics": {"versionSupport": true}},
                    "workspace": {"codeLens": {"refreshSupport": true}, "workspaceFolders": true},
                    "window": {"workDoneProgress": true}
                },
                "workspaceFolders": [{"uri": root_uri, "name": "root"}],
            }),
        );
        client.notify("initialized", json!({}));
        client.wait_for(|message| message["method"] == "$/progress" && message["params"]["value"]["kind"] == "end");
        let language = if path.extension().is_some_and(|extension| extension == "rego") { "rego" } else { "yaml" };
        client.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": open.text}}),
        );
        let position = json!({"line": line, "character": character});
        Session { client, root, uri, text: open.text.clone(), position }
    }

    fn request(&mut self, method: &str) -> Value {
        let params = json!({"textDocument": {"uri": self.uri}, "position": self.position});
        self.client.request(method, params)["result"].clone()
    }

    /// `path:line:character` (zero-based, the path relative to the root) of each location, sorted.
    fn places(&self, locations: &Value) -> Vec<String> {
        let mut found: Vec<String> = locations
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|location| {
                let uri = location["uri"].as_str().unwrap_or("").trim_start_matches("file://");
                let relative = Path::new(uri).strip_prefix(&self.root).unwrap_or(Path::new(uri)).display().to_string();
                let start = &location["range"]["start"];
                format!("{relative}:{}:{}", start["line"], start["character"])
            })
            .collect();
        found.sort();
        found
    }

    /// The diagnostics of the open file once `done` holds for them, as `line:character code message`.
    fn diagnostics_until(&mut self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        loop {
            let uri = self.uri.clone();
            let message = self.client.wait_for(|message| {
                message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri
            });
            let rendered: Vec<String> = message["params"]["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|diagnostic| {
                    let start = &diagnostic["range"]["start"];
                    let code = diagnostic["code"].as_str().unwrap_or("");
                    let text = diagnostic["message"].as_str().unwrap_or("");
                    format!("{}:{} {code} {text}", start["line"], start["character"])
                })
                .collect();
            if done(&rendered) {
                return rendered;
            }
        }
    }

    fn finish(self) {
        let _ = std::fs::remove_dir_all(&self.root);
        self.client.shutdown();
    }
}

fn check_definition(fixture: &str, expect: &[&str]) {
    let mut session = Session::start("definition", fixture);
    let result = session.request("textDocument/definition");
    assert_eq!(session.places(&result), expect, "definitions at the cursor of\n{fixture}");
    session.finish();
}

fn check_hover(fixture: &str, expect: &str) {
    let mut session = Session::start("hover", fixture);
    let result = session.request("textDocument/hover");
    let markdown = result["contents"]["value"].as_str().unwrap_or("").to_string();
    assert_eq!(markdown, expect, "hover at the cursor of\n{fixture}");
    session.finish();
}

/// `expect` are labels the items must include, `absent` labels they must not.
fn check_completion(fixture: &str, expect: &[&str], absent: &[&str]) {
    let mut session = Session::start("completion", fixture);
    let result = session.request("textDocument/completion");
    let labels: Vec<String> = result
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|item| item["label"].as_str().map(str::to_string))
        .collect();
    for label in expect {
        assert!(labels.iter().any(|found| found == label), "`{label}` missing from {labels:?}");
    }
    for label in absent {
        assert!(!labels.iter().any(|found| found == label), "`{label}` offered in {labels:?}");
    }
    session.finish();
}

fn check_symbols(fixture: &str, expect: &str) {
    let mut session = Session::start("symbols", fixture);
    let params = json!({"textDocument": {"uri": session.uri}});
    let result = session.client.request("textDocument/documentSymbol", params)["result"].clone();
    let mut outline = String::new();
    fn render(symbols: &Value, depth: usize, outline: &mut String) {
        for symbol in symbols.as_array().into_iter().flatten() {
            let line = symbol["selectionRange"]["start"]["line"].as_u64().unwrap_or(0);
            outline.push_str(&format!(
                "{}{} ({}) line {line}\n",
                "  ".repeat(depth),
                symbol["name"].as_str().unwrap_or(""),
                symbol["kind"]
            ));
            render(&symbol["children"], depth + 1, outline);
        }
    }
    render(&result, 0, &mut outline);
    assert_eq!(outline, expect);
    session.finish();
}

/// The open file's diagnostics once one has each expected code; `expect` is the whole list.
fn check_diagnostics(fixture: &str, expect: &[&str]) {
    let mut session = Session::start("diagnostics", fixture);
    let codes: Vec<&str> = expect.iter().filter_map(|line| line.split(' ').nth(1)).collect();
    let found = session.diagnostics_until(|found| {
        codes.iter().all(|code| found.iter().any(|line| line.split(' ').nth(1) == Some(code)))
    });
    assert_eq!(found, expect, "diagnostics of\n{}", session.text);
    session.finish();
}

const LIBRARY: &str = r#"
#- /lib/labels.rego
package lib.labels

import rego.v1

missing(object, required) := {label | some label in required; not object.metadata.labels[label]}

has_owner(object) if object.metadata.labels.owner
"#;

#[test]
fn diagnostics_of_an_open_file_are_those_of_lint_with_its_folder_compiled_together() {
    check_diagnostics(
        r#"
#- /policies/helpers.rego
package policies

import rego.v1

is_pod if input.kind == "Pod"
#- /policies/main.rego
package policies

import rego.v1

deny contains "a pod" if {
    is_pod$0
    not undefined_rule
}
"#,
        &["6:8 rego/compile var undefined_rule is unsafe"],
    );
}

#[test]
fn the_outline_lists_the_package_imports_rules_functions_and_tests() {
    check_symbols(
        r#"
#- /policies/main.rego
package policies$0

import rego.v1
import data.lib.labels as l

default allow := false

deny contains msg if {
    some name in l.missing(input, {"team"})
    msg := name
}

double(x) := 2 * x

test_deny if count(deny) == 0 with input as {}
"#,
        "package policies (4) line 0\n  rego.v1 (3) line 2\n  data.lib.labels (3) line 3\n  allow (6) line 5\n  \
         deny (6) line 7\n  double (12) line 12\n  test_deny (2) line 14\n",
    );
}

#[test]
fn definition_of_a_rule_in_the_same_package_in_another_file() {
    check_definition(
        r#"
#- /policies/helpers.rego
package policies

import rego.v1

is_pod if input.kind == "Pod"
#- /policies/main.rego
package policies

import rego.v1

deny contains "a pod" if is_$0pod
"#,
        &["policies/helpers.rego:4:0"],
    );
}

#[test]
fn definition_through_an_import_alias_and_of_the_import_itself() {
    let fixture = |cursor_line: &str| {
        format!(
            "{LIBRARY}\n#- /policies/main.rego\npackage policies\n\nimport rego.v1\n{cursor_line}\n\ndeny contains \
             \"missing\" if l.missing(input, {{\"team\"}})\nok if labels.has_owner(input)\n"
        )
    };
    check_definition(&fixture("import data.lib.labels as l\nimport data.lib.lab$0els"), &["lib/labels.rego:0:8"]);
    let fixture = format!(
        "{LIBRARY}\n#- /policies/main.rego\npackage policies\n\nimport rego.v1\nimport data.lib.labels as l\n\n\
         deny contains \"missing\" if l.miss$0ing(input, {{\"team\"}})\n"
    );
    check_definition(&fixture, &["lib/labels.rego:4:0"]);
    let fixture = format!(
        "{LIBRARY}\n#- /policies/main.rego\npackage policies\n\nimport rego.v1\n\nok if data.lib.labels.has_o$0wner(input)\n"
    );
    check_definition(&fixture, &["lib/labels.rego:6:0"]);
}

const TEMPLATE: &str = r#"
#- /library/general/requiredowner/template.yaml
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

        violation[{"msg": msg}] {
          not owned
          msg := "an owner label is required"
        }

        owned {
          data.lib.owners.has_owner(input.review.object)
        }
      libs:
        - |
          package lib.owners

          has_owner(object) {
            object.metadata.labels.owner
          }
"#;

const SOURCE: &str = r#"
#- /src/general/requiredowner/src.rego
package k8srequiredowner

violation[{"msg": msg}] {
  not owned
  msg := "an owner label is required"
}

owned {
  input.review.object.metadata.labels.owner
}
"#;

#[test]
fn definition_from_a_template_reaches_its_lib_and_its_source() {
    let template = TEMPLATE.replace("data.lib.owners.has_o", "data.lib.owners.has_o$0");
    check_definition(&format!("{template}{SOURCE}"), &["library/general/requiredowner/template.yaml:26:10"]);
    let template = TEMPLATE.replace("not owned", "not own$0ed");
    check_definition(
        &format!("{template}{SOURCE}"),
        &["library/general/requiredowner/template.yaml:19:8", "src/general/requiredowner/src.rego:7:0"],
    );
}

#[test]
fn definition_on_a_sources_package_line_reaches_the_template() {
    let source = SOURCE.replace("package k8srequired", "package k8s$0required");
    check_definition(&format!("{TEMPLATE}{source}"), &["library/general/requiredowner/template.yaml:12:16"]);
}

#[test]
fn hover_on_a_builtin_and_on_a_rule() {
    check_hover(
        "#- /p.rego\npackage p\n\nimport rego.v1\n\nn := cou$0nt([1])\n",
        "```rego\ncount(collection) -> number\n```\n\nThe number of elements of an array, set or object, or of characters of a string.",
    );
    check_hover(
        &format!(
            "{LIBRARY}\n#- /p.rego\npackage p\n\nimport rego.v1\nimport data.lib.labels\n\nok if labels.has_ow$0ner(input)\n"
        ),
        "```rego\nhas_owner(object) if object.metadata.labels.owner\n```\nfunction of 1 argument of `data.lib.labels` in `labels.rego`",
    );
}

#[test]
fn completion_offers_builtins_keywords_rules_and_imported_rules() {
    check_completion(
        &format!(
            "{LIBRARY}\n#- /policies/helpers.rego\npackage policies\n\nis_pod if input.kind == \"Pod\"\n#- /policies/main.rego\npackage policies\n\nimport rego.v1\nimport data.lib.labels\n\nlocal_rule := 1\n\ndeny contains 1 if $0\n"
        ),
        &["count", "startswith", "some", "every", "is_pod", "local_rule", "labels", "input", "data"],
        &["missing"],
    );
    check_completion(
        &format!(
            "{LIBRARY}\n#- /policies/main.rego\npackage policies\n\nimport rego.v1\nimport data.lib.labels\n\ndeny contains 1 if labels.$0\n"
        ),
        &["missing", "has_owner"],
        &["count"],
    );
    check_completion(
        &format!(
            "{LIBRARY}\n#- /policies/main.rego\npackage policies\n\nimport rego.v1\n\ndeny contains 1 if data.lib.$0\n"
        ),
        &["labels"],
        &[],
    );
}

#[test]
fn completion_of_the_reviewed_object_in_a_source_of_a_template() {
    let source = SOURCE.replace("input.review.object.metadata.labels.owner", "input.review.object.$0");
    check_completion(&format!("{TEMPLATE}{source}"), &["metadata", "spec"], &["count"]);
    let source = SOURCE.replace("input.review.object.metadata.labels.owner", "input.review.$0");
    check_completion(&format!("{TEMPLATE}{source}"), &["object", "oldObject", "operation"], &[]);
}

const TESTED: &str = r#"
#- /policies/main.rego
package policies

import rego.v1

deny contains "no team" if not input.metadata.labels.team
#- /policies/main_test.rego
package policies

import rego.v1

test_denies_without_team if {
    count(deny) == 1 with input as {"metadata": {}}
}

test_allows_with_team if {
    count(deny) == 1 with input as {"metadata": {"labels": {"team": "a"}}}
}$0
"#;

#[test]
fn test_rules_get_lenses_and_a_failing_one_a_diagnostic() {
    let mut session = Session::start("tests", TESTED);
    let found = session.diagnostics_until(|found| found.iter().any(|line| line.contains("test/failed")));
    assert_eq!(
        found,
        ["8:0 test/failed data.policies.test_allows_with_team: expected true, got undefined: the test is undefined: \
          an expression in its body does not hold"]
    );
    let uri = session.uri.clone();
    let titles = lens_titles(&mut session.client, &uri);
    assert_eq!(
        titles,
        [
            (0, "▶ Run tests  ✓ 1 passed  ✗ 1 failed".to_string()),
            (4, "✓ 1 passed".to_string()),
            (8, "✗ 1 failed".to_string())
        ]
    );
    // The lenses run the folder's tests, as `opa test` runs them: the command on the folder reports both.
    let folder = format!("file://{}", session.root.join("policies").display());
    let run = session
        .client
        .request("workspace/executeCommand", json!({"command": "policy-lsp.runTests", "arguments": [{"uri": folder}]}));
    let outcomes: Vec<&str> = run["result"]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|result| result["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["pass", "fail"], "{run}");
    // An edit that fixes the test re-runs it in the background.
    let fixed = session.text.replace(
        "count(deny) == 1 with input as {\"metadata\": {\"labels\"",
        "count(deny) == 0 with input as {\"metadata\": {\"labels\"",
    );
    let uri = session.uri.clone();
    session.client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]}),
    );
    session.diagnostics_until(|found| found.is_empty());
    session.finish();
}

#[test]
fn editing_a_src_rego_rechecks_the_open_template_generated_from_it() {
    let rego = "package k8sowner\n\nviolation[{\"msg\": msg}] {\n  not input.review.object.metadata.labels.owner\n  msg := \"an owner label is required\"\n}\n";
    let indented: String =
        rego.lines().map(|line| if line.is_empty() { "\n".to_string() } else { format!("        {line}\n") }).collect();
    let fixture = format!(
        "#- /library/general/owner/template.yaml\napiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\n\
         metadata:\n  name: k8sowner$0\nspec:\n  crd:\n    spec:\n      names:\n        kind: K8sOwner\n  targets:\n\
         \x20   - target: admission.k8s.gatekeeper.sh\n      rego: |\n{indented}\n#- /src/general/owner/src.rego\n{rego}"
    );
    let mut session = Session::start("stale-template", &fixture);
    let stale = |found: &[String]| found.iter().any(|line| line.contains("rego/stale-template"));
    let first = session.diagnostics_until(|_| true);
    assert!(!stale(&first), "the template holds its source: {first:?}");
    // The source is opened and changed in the editor, not saved: the open template is re-checked against it.
    let source_uri = format!("file://{}", session.root.join("src/general/owner/src.rego").display());
    session.client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": source_uri, "languageId": "rego", "version": 1, "text": rego}}),
    );
    let edited = rego.replace("an owner label is required", "set an owner label");
    session.client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": source_uri, "version": 2}, "contentChanges": [{"text": edited}]}),
    );
    let found = session.diagnostics_until(|found| stale(found));
    assert!(found.iter().any(|line| line.starts_with("11:6 rego/stale-template")), "{found:?}");
    session.finish();
}
