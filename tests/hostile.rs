//! Hostile input: what a pull request could put in front of the CLI or the editor. Every input is
//! generated here (alias bombs, 100,000-level nesting, a 50 MB file, 100,000 documents, runaway Rego,
//! CEL and JMESPath, huge regular expressions, invalid UTF-8 and NUL bytes on disk). Each case must end
//! with its specific diagnostic or error, within a deadline and on a thread with a 2 MiB stack (the
//! size of the worker threads that run analyses), never with a hang, a panic or an abort.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use policy_lsp::base::Diagnostic;
use policy_lsp::engine::cel::{Activation, Program, Services};
use policy_lsp::engine::gatekeeper::{EvaluationOptions, ReviewOutcome, compile_template, review};
use policy_lsp::engine::kyverno::variables::JsonContext;
use policy_lsp::ide::AnalysisHost;
use serde_json::{Value, json};

/// Runs `work` on a thread with a 2 MiB stack and fails the test when it takes longer than `seconds`.
fn within<T: Send + 'static>(what: &str, seconds: u64, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = channel();
    let started = Instant::now();
    std::thread::Builder::new()
        .name(what.to_string())
        .stack_size(2 << 20)
        .spawn(move || {
            let _ = sender.send(work());
        })
        .expect("a thread starts");
    match receiver.recv_timeout(Duration::from_secs(seconds)) {
        Ok(value) => {
            eprintln!("hostile: {what}: {:.2?}", started.elapsed());
            value
        }
        Err(error) => panic!("{what} did not finish within {seconds} s ({error}): a hang or a crash of its thread"),
    }
}

/// The diagnostics of one in-memory file.
fn diagnostics_of(text: String) -> Vec<Diagnostic> {
    let path = PathBuf::from("/work/hostile.yaml");
    let mut host = AnalysisHost::new(Arc::new(crate::support::MemoryFiles::default()));
    host.set_file(path.clone(), &text);
    host.snapshot().diagnostics(&path)
}

fn codes(diagnostics: &[Diagnostic]) -> Vec<&'static str> {
    diagnostics.iter().map(|diagnostic| diagnostic.code.as_str()).collect()
}

fn find<'a>(diagnostics: &'a [Diagnostic], code: &str) -> &'a Diagnostic {
    diagnostics
        .iter()
        .find(|diagnostic| diagnostic.code.as_str() == code)
        .unwrap_or_else(|| panic!("no {code} among {:?}", codes(diagnostics)))
}

/// A fresh directory for files written to disk.
fn scratch_directory(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("policy-lsp-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("temporary directory");
    directory
}

/// Runs the CLI with a deadline; a run past it is killed and fails the test.
fn run_cli(what: &str, seconds: u64, directory: &Path, arguments: &[&str]) -> Output {
    let started = Instant::now();
    let mut child = Command::new(crate::support::POLICY_LSP)
        .args(arguments)
        .current_dir(directory)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut stdout = stdout;
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut bytes);
        bytes
    });
    let deadline = started + Duration::from_secs(seconds);
    loop {
        if child.try_wait().expect("the child can be polled").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: the CLI did not finish within {seconds} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut output = child.wait_with_output().expect("the child ends");
    output.stdout = reader.join().expect("stdout is read");
    eprintln!("hostile: {what} (CLI): {:.2?}", started.elapsed());
    output
}

fn lint_json(what: &str, seconds: u64, directory: &Path, file: &str) -> Value {
    let output = run_cli(what, seconds, directory, &["lint", file, "--output", "json"]);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!("{what}: not JSON ({error}); stderr: {}", String::from_utf8_lossy(&output.stderr))
    })
}

fn json_codes(report: &Value) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .expect("a diagnostics array")
        .iter()
        .map(|diagnostic| diagnostic["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

// ---- YAML ----

#[test]
fn billion_laughs_stop_at_the_alias_budget() {
    let mut text = String::from(
        "lol0: &lol0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for level in 1..10 {
        let previous = format!("*lol{}", level - 1);
        text.push_str(&format!("lol{level}: &lol{level} [{}]\n", vec![previous; 10].join(", ")));
    }
    let diagnostics = within("billion laughs (10^10 nodes)", 20, move || diagnostics_of(text));
    let diagnostic = find(&diagnostics, "yaml/alias-limit");
    assert!(diagnostic.message.contains("alias bomb"), "{}", diagnostic.message);
}

#[test]
fn nesting_a_hundred_thousand_levels_deep_is_refused() {
    let flow_sequences = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let flow_mappings = format!("a: {}x{}\n", "{a: ".repeat(100_000), "}".repeat(100_000));
    let block_items = format!("a:\n{}x\n", "- ".repeat(100_000));
    for (name, text) in
        [("flow sequences", flow_sequences), ("flow mappings", flow_mappings), ("block items", block_items)]
    {
        let diagnostics = within(&format!("100,000 levels of {name}"), 20, move || diagnostics_of(text));
        let diagnostic = find(&diagnostics, "yaml/too-deep");
        assert!(diagnostic.message.contains("deeper than"), "{name}: {}", diagnostic.message);
    }
}

#[test]
fn a_fifty_megabyte_file_is_linted_to_its_last_line() {
    let directory = scratch_directory("large");
    // 500 ConfigMaps of about 100 KB each, and a misspelt field at the very end.
    let mut text = String::new();
    let mut document = 0;
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: large-{document}\ndata:\n"));
        for line in 0..1_000 {
            text.push_str(&format!("  key-{line}: \"{}\"\n", "x".repeat(80)));
        }
        document += 1;
    }
    text.push_str("bogusField: true\n");
    let last_line = text.lines().count();
    std::fs::write(directory.join("large.yaml"), &text).expect("written");
    // The debug binary takes about 7 s on two cores; the deadline leaves room for a busy machine.
    let report = lint_json("a 50 MB file", 60, &directory, "large.yaml");
    assert_eq!(json_codes(&report), ["schema/unknown-field"], "{report}");
    assert_eq!(report["diagnostics"][0]["line"], last_line, "{report}");

    // Past the size limit a file is refused without being read (a sparse file: nothing is written).
    let oversized = std::fs::File::create(directory.join("oversized.yaml")).expect("created");
    oversized.set_len(policy_lsp::vfs::MAX_FILE_BYTES + 1).expect("sized");
    let report = lint_json("a file over the size limit", 20, &directory, "oversized.yaml");
    assert_eq!(json_codes(&report), ["file/unreadable"]);
    assert!(report.to_string().contains("over the 67108864-byte limit"), "{report}");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn a_document_longer_than_the_parser_counts_is_read_in_full_with_a_warning() {
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: long\ndata:\n");
    for line in 0..40_000 {
        text.push_str(&format!("  key-{line}: value\n"));
    }
    let (diagnostics, keys) = within("a 40,000-line document", 30, move || {
        let source = policy_lsp::syntax::SourceFile::new_without_trees(&text);
        let keys = source.segments()[0].parsed.value["data"].as_object().map_or(0, |data| data.len());
        (diagnostics_of(text), keys)
    });
    assert_eq!(keys, 40_000);
    assert_eq!(codes(&diagnostics), ["yaml/too-long"]);
    assert_eq!(diagnostics[0].severity, policy_lsp::base::Severity::Warning);
}

#[test]
fn a_stream_of_a_hundred_thousand_documents_stops_at_the_document_limit() {
    let directory = scratch_directory("documents");
    let mut text = String::new();
    for index in 0..100_000 {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web-{index}\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n"
        ));
    }
    std::fs::write(directory.join("stream.yaml"), &text).expect("written");
    let report = lint_json("100,000 documents", 60, &directory, "stream.yaml");
    assert_eq!(json_codes(&report), ["yaml/too-many-documents"]);
    let diagnostic = &report["diagnostics"][0];
    assert_eq!(diagnostic["line"], 9 * policy_lsp::syntax::MAX_DOCUMENTS + 1, "{diagnostic}");
    assert!(diagnostic["message"].as_str().unwrap_or_default().contains("more than 10000 documents"), "{diagnostic}");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn invalid_utf8_and_nul_bytes_on_disk() {
    let directory = scratch_directory("bytes");
    std::fs::write(directory.join("latin1.yaml"), b"apiVersion: v1\nkind: ConfigMap\ndata:\n  name: caf\xe9\n")
        .unwrap();
    std::fs::write(directory.join("nul.yaml"), b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\x00b\n")
        .unwrap();
    let report = lint_json("invalid UTF-8", 20, &directory, "latin1.yaml");
    assert_eq!(json_codes(&report), ["file/unreadable"]);
    assert!(report.to_string().contains("is not valid UTF-8 (first bad byte at offset 48)"), "{report}");
    let report = lint_json("a NUL byte", 20, &directory, "nul.yaml");
    assert_eq!(json_codes(&report), ["yaml/invalid-character"]);
    assert_eq!((&report["diagnostics"][0]["line"], &report["diagnostics"][0]["column"]), (&json!(4), &json!(10)));
}

// ---- JMESPath ----

fn query(expression: String) -> Result<Value, String> {
    let context = JsonContext::new(json!({"request": {"object": {"metadata": {"name": "web"}}}}));
    context.query(&expression).map_err(|error| error.to_string())
}

#[test]
fn runaway_jmespath_stops_at_the_step_limit() {
    // Every `[@, @]` doubles the value: forty of them would build 2^40 nodes.
    let doubling = format!("request{}", ".[@, @]".repeat(40));
    let error = within("JMESPath doubling", 20, move || query(doubling)).unwrap_err();
    assert!(error.contains("JMESPath step limit"), "{error}");
    // The same through projections and flattening, and through a function that serialises its argument.
    let flattening = format!("[request]{}", " | [@, @][]".repeat(40));
    let error = within("JMESPath flattening", 20, move || query(flattening)).unwrap_err();
    assert!(error.contains("JMESPath step limit"), "{error}");
    let serialised = format!("length(to_string(request{}))", ".[@, @]".repeat(40));
    let error = within("JMESPath to_string", 20, move || query(serialised)).unwrap_err();
    assert!(error.contains("JMESPath step limit"), "{error}");
    // A string that grows by replacement at every position.
    let growing = format!(
        "length({})",
        (0..6).fold("'abcdefghij'".to_string(), |inner, _| format!("replace_all({inner}, '', {inner})"))
    );
    let error = within("JMESPath replace_all growth", 20, move || query(growing)).unwrap_err();
    assert!(error.contains("is longer than 16777216 bytes"), "{error}");
    // Small queries still work.
    assert_eq!(query("request.object.metadata.name".to_string()), Ok(json!("web")));
    assert_eq!(query("length(request.[@, @].[@, @][])".to_string()), Ok(json!(4)));
}

#[test]
fn jmespath_expressions_too_deep_for_the_parser_are_refused() {
    let parentheses = format!("{}@{}", "(".repeat(100_000), ")".repeat(100_000));
    let error = within("JMESPath 100,000 parentheses", 20, move || query(parentheses)).unwrap_err();
    assert!(error.contains("nests brackets deeper than 32 levels"), "{error}");
    let chain = format!("request{}", ".a".repeat(100_000));
    let error = within("JMESPath 100,000-field chain", 20, move || query(chain)).unwrap_err();
    assert!(error.contains("more than 512 operators"), "{error}");
    let negations = format!("{}@", "!".repeat(100_000));
    let error = within("JMESPath 100,000 negations", 20, move || query(negations)).unwrap_err();
    assert!(error.contains("more than 512 operators"), "{error}");
    // Right at the limits, on a 2 MiB stack: parsed and evaluated.
    let deep = format!("{}request{}", "(".repeat(32), ")".repeat(32));
    assert!(within("JMESPath 32 parentheses", 20, move || query(deep)).is_ok());
    let long = format!("request{}", ".a".repeat(500));
    let outcome = within("JMESPath 500-field chain", 20, move || query(long));
    assert_eq!(outcome, Err("Unknown key \"a\" in path".to_string()));
}

#[test]
fn a_runaway_jmespath_condition_fails_its_kyverno_test_with_the_limit() {
    let directory = scratch_directory("jmespath-test");
    let expression = format!("length(to_string(request.object{}))", ".[@, @]".repeat(40));
    let policy = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: runaway\nspec:\n  rules:\n    - name: grow\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      validate:\n        failureAction: Enforce\n        message: grows\n        deny:\n          conditions:\n            any:\n              - key: \"{{{{ {expression} }}}}\"\n                operator: GreaterThan\n                value: 0\n"
    );
    std::fs::write(directory.join("policy.yaml"), policy).unwrap();
    std::fs::write(
        directory.join("resources.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: c\n      image: nginx\n",
    )
    .unwrap();
    std::fs::write(
        directory.join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n  - policy: runaway\n    rule: grow\n    kind: Pod\n    resources: [web]\n    result: pass\n",
    )
    .unwrap();
    let output =
        run_cli("a runaway JMESPath condition in a Kyverno test", 60, &directory, &["test", ".", "--output", "json"]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(output.status.code(), Some(1), "{report}");
    let result = &report["results"][0];
    assert_eq!(result["actual"], "error", "{result}");
    assert!(result["message"].as_str().unwrap_or_default().contains("JMESPath step limit"), "{result}");
}

// ---- CEL ----

#[test]
fn runaway_cel_stops_at_the_cost_limit() {
    let digits = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]";
    // Seven nested comprehensions over ten elements: 10^7 steps.
    let mut expression = "true".to_string();
    for variable in ["a", "b", "c", "d", "e", "f", "g"] {
        expression = format!("{digits}.all({variable}, {expression})");
    }
    let outcome = within("CEL nested comprehensions", 20, move || {
        let program = Program::compile(&expression).map_err(|errors| format!("{errors:?}"))?;
        program.evaluate(&Activation::new(), &Services::default())
    });
    let error = outcome.unwrap_err();
    assert!(error.contains("actual cost limit exceeded"), "{error}");
    // A string doubled at every step: 2^41 bytes at the end.
    let doubling = format!("['ab']{}", ".map(s, s + s)".repeat(40));
    let outcome = within("CEL string doubling", 20, move || {
        let program = Program::compile(&doubling).map_err(|errors| format!("{errors:?}"))?;
        program.evaluate(&Activation::new(), &Services::default())
    });
    let error = outcome.unwrap_err();
    assert!(error.contains("actual cost limit exceeded"), "{error}");
}

#[test]
fn cel_nested_a_hundred_thousand_levels_is_a_compile_error() {
    let expression = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let outcome = within("CEL 100,000 parentheses", 20, move || Program::compile(&expression).map(|_| ()));
    let errors = outcome.unwrap_err();
    assert!(!errors.is_empty());
}

// ---- Rego ----

fn template(rego: &str) -> Value {
    json!({
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": "k8shostile"},
        "spec": {
            "crd": {"spec": {"names": {"kind": "K8sHostile"}}},
            "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": rego}]
        }
    })
}

/// Compiles a template and reviews a Pod with it, under `time_limit`.
fn review_pod(rego: &str, time_limit: Duration) -> Result<ReviewOutcome, String> {
    let compiled = compile_template(&template(rego), EvaluationOptions { time_limit })
        .map_err(|error| format!("{}: {}", error.pointer, error.message))?;
    let constraint =
        json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sHostile", "metadata": {"name": "c"}});
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}});
    review(&compiled, &constraint, &pod, &[])
}

fn violation_messages(outcome: Result<ReviewOutcome, String>) -> String {
    match outcome {
        Ok(ReviewOutcome::Evaluated(violations)) => {
            violations.iter().map(|violation| violation.message.clone()).collect::<Vec<_>>().join("\n")
        }
        Ok(other) => format!("{other:?}"),
        Err(message) => message,
    }
}

#[test]
fn runaway_rego_stops_at_the_time_limit() {
    // A billion iterations of a comprehension that never yields.
    let rego = "package k8shostile\nimport future.keywords.in\nviolation[{\"msg\": \"never\"}] {\n  n := count([x | some a in numbers.range(1, 1000); some b in numbers.range(1, 1000); some c in numbers.range(1, 1000); x := a * b * c; x < 0])\n  n > 0\n}\n";
    let outcome = within("Rego billion-step comprehension", 30, move || {
        violation_messages(review_pod(rego, Duration::from_secs(2)))
    });
    assert!(outcome.contains("execution exceeded the time limit") || outcome.contains("time limit"), "{outcome}");
}

#[test]
fn rego_ranges_that_would_exhaust_memory_are_an_error() {
    let rego = "package k8shostile\nviolation[{\"msg\": \"big\"}] {\n  count(numbers.range(0, 1000000000000)) > 0\n}\n";
    let outcome = within("Rego numbers.range(0, 1e12)", 20, move || {
        violation_messages(review_pod(rego, Duration::from_secs(10)))
    });
    assert!(outcome.contains("more than the 1000000 policy-lsp evaluates"), "{outcome}");
}

#[test]
fn rego_rule_recursion_is_an_error() {
    let rego = "package k8shostile\nr := x {\n  x := r + 1\n}\nviolation[{\"msg\": \"loop\"}] {\n  r > 0\n}\n";
    let outcome =
        within("Rego rule recursion", 20, move || violation_messages(review_pod(rego, Duration::from_secs(10))));
    // regorus notices a rule that depends on itself while evaluating; the error counts as a violation.
    assert_eq!(outcome, "recursion detected when evaluating rule:");
}

#[test]
fn rego_nested_past_the_parser_limit_is_refused() {
    let rego = format!(
        "package k8shostile\nviolation[{{\"msg\": \"deep\"}}] {{\n  x := {}1{}\n  x != 1\n}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let outcome =
        within("Rego 100,000 brackets", 20, move || violation_messages(review_pod(&rego, Duration::from_secs(10))));
    assert!(outcome.contains("nest deeper than 13 levels"), "{outcome}");
    // Found by the rego fuzz target: braces after an unterminated raw string, which the probe that
    // locates a parse error inside a rule body handed to the parser on their own (hours of parsing).
    let rego = format!("package`{}~\0\0>++00\n  \u{1}\0\u{1}n:= \"many\"\n}}\n", "{".repeat(22));
    let outcome = within("Rego braces after a raw string", 20, move || {
        violation_messages(review_pod(&rego, Duration::from_secs(10)))
    });
    assert!(outcome.starts_with("/spec/targets/0/rego: invalid Rego"), "{outcome}");
}

#[test]
fn sprintf_widths_past_a_million_are_not_padded() {
    let rego = "package k8shostile\nviolation[{\"msg\": msg}] {\n  msg := sprintf(\"%999999999999d|\", [1])\n}\n";
    let outcome =
        within("Rego sprintf width", 20, move || violation_messages(review_pod(rego, Duration::from_secs(10))));
    // Go's fmt prints exactly this: it gives up on the directive and lists the unused argument.
    assert_eq!(outcome, "%!(NOVERB)%!(EXTRA int=1)");
}

// ---- Regular expressions and wildcards ----

/// A pattern whose compiled program is far past any size limit: 100^3 copies of `a`.
const HUGE_REGEX: &str = "((a{100}){100}){100}";

#[test]
fn huge_regular_expressions_are_errors() {
    let error =
        within("JMESPath regex_match with a huge pattern", 20, || query(format!("regex_match('{HUGE_REGEX}', 'aaa')")))
            .unwrap_err();
    assert!(error.contains("exceeds size limit"), "{error}");

    // A query that compiles a new pattern for every element of a list runs out of budget.
    let numbers: Vec<String> = (0..1_000).map(|number| number.to_string()).collect();
    let compiling =
        format!("map(&regex_match(join('', [to_string(@), '(a{{10}}){{50}}']), 'a'), `[{}]`)", numbers.join(", "));
    let error = within("JMESPath compiling 1,000 patterns", 20, move || query(compiling)).unwrap_err();
    assert!(error.contains("JMESPath step limit"), "{error}");

    let outcome = within("CEL matches() with a huge pattern", 20, || {
        let program =
            Program::compile(&format!("'aaa'.matches('{HUGE_REGEX}')")).map_err(|errors| format!("{errors:?}"))?;
        program.evaluate(&Activation::new(), &Services::default())
    });
    let error = outcome.unwrap_err();
    assert!(error.contains("exceeds size limit"), "{error}");

    // regorus reports the failing `regex.match` as an evaluation error, which Gatekeeper turns into a
    // violation carrying the message.
    let rego = format!(
        "package k8shostile\nviolation[{{\"msg\": \"matched\"}}] {{\n  regex.match(\"{HUGE_REGEX}\", \"aaa\")\n}}\n"
    );
    let outcome = within("Rego regex.match with a huge pattern", 20, move || {
        violation_messages(review_pod(&rego, Duration::from_secs(10)))
    });
    assert!(outcome.contains("exceeded size limit"), "{outcome}");
}

#[test]
fn long_wildcard_patterns_match_in_bounded_time() {
    use policy_lsp::engine::kyverno::pattern::wildcard_match;
    // The worst case of star backtracking: many stars and a text that almost matches at every start.
    let pattern = format!("{}b", "*a".repeat(1_000));
    let text = "a".repeat(100_000);
    let matched =
        within("wildcard of 1,000 stars against 100,000 characters", 20, move || wildcard_match(&pattern, &text));
    assert!(!matched);
}

#[test]
fn recursive_rego_functions_are_refused_before_they_run() {
    let rego = "package k8shostile\nf(x) = y {\n  y := g(x)\n}\ng(x) = y {\n  y := f(x)\n}\nviolation[{\"msg\": \"loop\"}] {\n  f(1)\n}\n";
    let outcome =
        within("Rego mutual recursion", 20, move || violation_messages(review_pod(rego, Duration::from_secs(10))));
    assert_eq!(
        outcome,
        "/spec/targets/0/rego: function f is recursive (f -> g -> f); Rego does not allow recursion, OPA rejects the template"
    );
    let diagnostics = within("Rego recursion in the editor", 20, move || {
        policy_lsp::engine::gatekeeper::rego_diagnostics(&template(rego))
    });
    assert!(diagnostics.iter().any(|diagnostic| diagnostic.message.contains("is recursive")), "{diagnostics:?}");
}

#[test]
fn long_rego_expressions_do_not_overflow_the_stack() {
    let rego = format!(
        "package k8shostile\nviolation[{{\"msg\": \"sum\"}}] {{\n  x := {}\n  x < 0\n}}\n",
        vec!["1"; 100_000].join(" + ")
    );
    let outcome =
        within("Rego 100,000-term sum", 30, move || violation_messages(review_pod(&rego, Duration::from_secs(10))));
    // regorus's parser refuses an expression this long (its own nesting limit).
    assert_eq!(outcome, "/spec/targets/0/rego: invalid Rego: this statement does not parse as a Rego expression");
}

// ---- No network, no escape from the workspace ----

fn rule_messages(policy: Value) -> Vec<String> {
    use policy_lsp::engine::kyverno::{Request, validate};
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "registry.example.com/app:1.0"}]}});
    validate(&policy, &pod, &Request::default())
        .into_iter()
        .map(|response| format!("{}: {}", response.status.as_str(), response.message))
        .collect()
}

fn kyverno_policy(context: Value, key: &str) -> Value {
    json!({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "offline"},
        "spec": {"rules": [{"name": "reads-outside", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "context": [context],
            "validate": {"message": "denied", "deny": {"conditions": {"any": [
                {"key": key, "operator": "Equals", "value": false}]}}}}]}
    })
}

#[test]
fn calls_that_need_the_network_say_they_were_not_made() {
    // A Kyverno apiCall to an external service, with no mocked response.
    let api_call = json!({"name": "verdict", "apiCall": {"method": "POST", "service": {"url": "https://10.255.255.1/check"}, "data": []}});
    let messages =
        within("Kyverno apiCall", 20, move || rule_messages(kyverno_policy(api_call, "{{ verdict.allowed }}")));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].starts_with("error: "), "{messages:?}");
    assert!(
        messages[0].contains(
            "context entry `verdict` was not loaded: its apiCall (https://10.255.255.1/check) needs a cluster or the network, and policy-lsp makes no network calls"
        ),
        "{messages:?}"
    );

    // An imageRegistry lookup with no image data in the test.
    let registry = json!({"name": "image", "imageRegistry": {"reference": "registry.example.com/app:1.0"}});
    let messages = within("Kyverno imageRegistry", 20, move || {
        rule_messages(kyverno_policy(registry, "{{ image.configData.config.User }}"))
    });
    assert!(
        messages[0].contains(
            "looking up registry.example.com/app:1.0 needs registry access, and policy-lsp makes no network calls"
        ),
        "{messages:?}"
    );

    // CEL's http library, with no mocked response.
    let outcome = within("CEL http.Get", 20, || {
        let program =
            Program::compile("http.Get('https://10.255.255.1/data')").map_err(|errors| format!("{errors:?}"))?;
        program.evaluate(&Activation::new(), &Services::default())
    });
    assert_eq!(
        outcome.unwrap_err(),
        "http.get \"https://10.255.255.1/data\" needs the network: mock it under the test's apiCallResponses"
    );

    // Rego's http.send answers undefined at once (an unroutable address would hang a real request).
    let rego = "package k8shostile\nviolation[{\"msg\": \"reached\"}] {\n  response := http.send({\"method\": \"GET\", \"url\": \"http://10.255.255.1/\"})\n  response.status_code == 200\n}\n";
    let outcome = within("Rego http.send", 20, move || violation_messages(review_pod(rego, Duration::from_secs(10))));
    assert_eq!(outcome, "");
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_out_of_the_workspace_is_not_followed() {
    let directory = scratch_directory("symlink");
    let outside = directory.join("outside");
    let workspace = directory.join("workspace");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(workspace.join(".git")).unwrap();
    std::fs::write(outside.join("secret.yaml"), "apiVersion: v1\nkind: Secret\nmetadata:\n  name: do-not-read\n")
        .unwrap();
    std::os::unix::fs::symlink(outside.join("secret.yaml"), workspace.join("link.yaml")).unwrap();
    std::fs::write(
        workspace.join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [link.yaml]\nresources: [link.yaml]\nresults:\n  - policy: p\n    rule: r\n    kind: Pod\n    resources: [do-not-read]\n    result: pass\n",
    )
    .unwrap();
    let report = lint_json("a symbolic link out of the workspace", 20, &workspace, "kyverno-test.yaml");
    assert_eq!(json_codes(&report), ["test/outside-workspace", "test/outside-workspace"], "{report}");
    let output = run_cli("a test through a symbolic link", 20, &workspace, &["test", ".", "--output", "json"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("Secret"), "{text}");
}

#[test]
fn cel_values_that_share_parts_cannot_blow_up() {
    // Each step puts the previous list in a new one twice: 2^40 leaves, shared, in forty steps.
    let shared = format!("['ab']{}", ".map(x, [x, x])".repeat(40));
    let comparing = format!("{shared} == {shared}");
    let outcome = within("CEL comparing shared lists", 20, move || {
        let program = Program::compile(&comparing).map_err(|errors| format!("{errors:?}"))?;
        program.evaluate(&Activation::new(), &Services::default())
    });
    let error = outcome.unwrap_err();
    assert!(error.contains("actual cost limit exceeded"), "{error}");
}

#[test]
fn rego_values_that_share_parts_are_not_serialised_past_the_size_limit() {
    // Forty statements build 2^40 elements: serialising them is one built-in call the timer never stops.
    let mut body = String::from("  x0 := [\"ab\", \"ab\"]\n");
    for level in 1..=40 {
        body.push_str(&format!("  x{level} := [x{}, x{}]\n", level - 1, level - 1));
    }
    for (what, head, last) in [
        ("json.marshal", "{\"msg\": \"big\"}", "count(json.marshal(x40)) > 0"),
        ("yaml.marshal", "{\"msg\": \"big\"}", "count(yaml.marshal(x40)) > 0"),
        ("sprintf", "{\"msg\": msg}", "msg := sprintf(\"%v\", [x40])"),
        ("the violations", "{\"msg\": \"big\", \"details\": x40}", "true"),
    ] {
        let rego = format!("package k8shostile\nviolation[{head}] {{\n{body}  {last}\n}}\n");
        let outcome = within(&format!("Rego {what} of a shared value"), 30, move || {
            violation_messages(review_pod(&rego, Duration::from_secs(10)))
        });
        assert!(outcome.contains(&format!("{what}: the value has more than 1000000 elements")), "{what}: {outcome}");
    }
}

#[test]
fn hover_and_completion_beside_a_syntax_error_that_ends_after_a_multi_byte_character() {
    // Found by the fuzz smoke: a syntax error whose range ends right after `é` made the line of its last
    // byte be looked up in the middle of that character.
    let text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-labels # \u{e9}\n  \
                annotations:\n    policies.kyverno.io/title: \"Require Labels \u{1f600}\"\nspec:\n  rules:\n    \
                - name: check\n      match:\n        any:\n          - resources:\n              kinds: [Pod]\n      \
                validate:\n    abels # \u{e9}\n  annotations:\n";
    let path = PathBuf::from("/work/hostile.yaml");
    let mut host = AnalysisHost::new(Arc::new(crate::support::MemoryFiles::default()));
    host.set_file(path.clone(), text);
    let analysis = host.snapshot();
    assert!(!analysis.diagnostics(&path).is_empty(), "the broken line is reported");
    for offset in (0..=text.len()).filter(|offset| text.is_char_boundary(*offset)) {
        let _ = analysis.hover(&path, offset);
        let _ = analysis.completions(&path, offset);
    }
}
