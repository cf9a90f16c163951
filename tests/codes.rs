//! The table of diagnostic codes: every code is documented, its string is unique and parses back, every group
//! can be disabled and re-graded in `.policy-lsp.yaml`, and `policy-lsp explain` answers for all of them.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;

use expect_test::{Expect, expect};
use policy_lsp::base::{Code, Diagnostic, Group, Reported, Severity, TextRange};
use policy_lsp::ide::Config;
use policy_lsp::ide::explain::explain;

/// The settings of a `.policy-lsp.yaml` text, and the problems reported on it as `severity[code] message`.
fn read_settings(text: &str) -> (Config, Vec<String>) {
    let documents = policy_lsp::syntax::parse_file(text);
    let (config, problems) = Config::from_document(PathBuf::from("/repo"), &documents[0].parsed, documents[0].start);
    let problems = problems
        .iter()
        .map(|problem| format!("{}[{}] {}", problem.severity.as_str(), problem.code, problem.message))
        .collect();
    (config, problems)
}

/// What the settings do to one diagnostic of `code` at its default severity: `None` when it is dropped.
fn apply(config: &Config, code: Code) -> Option<Severity> {
    let diagnostic = Diagnostic::new(code, TextRange::new(0, 1), "a finding");
    config.apply(vec![diagnostic]).first().map(|diagnostic| diagnostic.severity)
}

/// Checks the problems reported on a settings file.
fn check_settings(text: &str, expect: Expect) {
    let (_, problems) = read_settings(text);
    expect.assert_eq(&problems.iter().map(|problem| format!("{problem}\n")).collect::<String>());
}

/// Runs `policy-lsp explain QUERY` and checks its exit code and output (stdout, then stderr).
fn check_explain_command(query: &str, expect_code: i32, expect: Expect) {
    let output = Command::new(crate::support::POLICY_LSP).args(["explain", query]).output().expect("runs");
    assert_eq!(output.status.code(), Some(expect_code));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    expect.assert_eq(&format!("{stdout}{stderr}"));
}

#[test]
fn every_code_is_documented_in_sentences_with_an_example() {
    for code in Code::ALL {
        for (part, text) in [("summary", code.summary()), ("why", code.why())] {
            assert!(text.len() > 15, "{code}: the {part} is too short to say anything: {text:?}");
            // Sentences may start with a name written in lower case (`gator`, `apiVersion`), but they end.
            assert!(text.ends_with('.'), "{code}: the {part} is not a sentence: {text:?}");
        }
        assert!(!code.example().trim().is_empty(), "{code} has no example");
    }
    for group in Group::ALL {
        assert!(group.summary().ends_with('.'), "group {group} has no summary sentence");
    }
}

#[test]
fn code_and_group_strings_are_unique_and_parse_back() {
    let mut seen = HashSet::new();
    for code in Code::ALL {
        assert!(seen.insert(code.as_str()), "{code} is listed twice");
        assert_eq!(code.as_str().parse::<Code>(), Ok(*code));
        assert_eq!(code.to_string(), code.as_str());
        assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
    }
    for group in Group::ALL {
        assert!(seen.insert(group.as_str()), "group {group} has the name of a code");
        assert_eq!(group.as_str().parse::<Group>(), Ok(*group));
    }
    assert!("schema/unknown".parse::<Code>().is_err());
    assert!("schema".parse::<Code>().is_err());
}

/// The strings are a public contract (JSON, SARIF, JUnit, users' settings): this list only grows.
#[test]
fn the_codes_and_their_default_severities() {
    let listed: String = Group::ALL
        .iter()
        .map(|group| {
            let codes: Vec<String> =
                group.codes().map(|code| format!("{} ({})", code.as_str(), code.default_severity().as_str())).collect();
            format!("{group} [{:?}]: {}\n", group.reported(), codes.join(", "))
        })
        .collect();
    expect![[r#"
        yaml [Diagnostic]: yaml/syntax (error), yaml/duplicate-key (error), yaml/unknown-anchor (error), yaml/alias-limit (error), yaml/too-deep (error), yaml/too-many-documents (error), yaml/too-long (warning), yaml/complex-key (error), yaml/extra-document (error), yaml/invalid-character (error), yaml/helm-template (info)
        schema [Diagnostic]: schema/unknown-field (error), schema/type (error), schema/enum (error), schema/const (error), schema/required (error), schema/constraint (error), schema/one-of (error), schema/not (error), schema/duplicate-entry (error), schema/refused-policy (error), schema/deprecated (warning), schema/deprecated-version (warning), schema/unknown-kind (error), schema/cluster-scoped (warning)
        cel [Diagnostic]: cel/compile (error)
        jmespath [Diagnostic]: jmespath/syntax (error)
        rego [Diagnostic]: rego/compile (error), rego/deprecated (warning), rego/stale-template (warning)
        test [Diagnostic]: test/missing-file (error), test/outside-workspace (error), test/remote-reference (warning), test/legacy-format (error), test/unknown-policy (error), test/unknown-rule (warning), test/no-results (warning), test/embedded-never-matches (warning), test/unknown-resource (error), test/kind-mismatch (error), test/failed (error), test/error (error), test/unsupported (warning)
        config [Diagnostic]: config/unknown-field (warning), config/invalid (error), config/unknown-code (warning)
        file [Diagnostic]: file/unreadable (error)
        kyverno-test [TestRun]: kyverno-test/unreadable (error), kyverno-test/no-test (error), kyverno-test/no-results (warning), kyverno-test/unknown-key (error), kyverno-test/no-policies (error), kyverno-test/missing-file (error), kyverno-test/yaml (error), kyverno-test/invalid-payload (error), kyverno-test/unsupported-combination (error), kyverno-test/global-context (error), kyverno-test/missing-policy (error), kyverno-test/unknown-policy (error), kyverno-test/unknown-rule (warning), kyverno-test/no-resources (warning), kyverno-test/unknown-resource (error), kyverno-test/ignored-resource (warning)
        gatekeeper [TestRun]: gatekeeper/unreadable-suite (error), gatekeeper/invalid-yaml (error), gatekeeper/missing-file (error), gatekeeper/missing-template (error), gatekeeper/missing-constraint (error), gatekeeper/missing-object (error), gatekeeper/missing-assertions (error), gatekeeper/multiple-objects (error), gatekeeper/invalid-template (error), gatekeeper/invalid-constraint (error), gatekeeper/constraint-kind-mismatch (error), gatekeeper/invalid-expansion (error)
        opa-test [TestRun]: opa-test/compile (error), opa-test/data (error), opa-test/unreadable (error)
        apply [TestRun]: apply/unreadable (error), apply/yaml (error), apply/not-an-object (error), apply/no-policies (error), apply/no-resources (error), apply/invalid-values (error), apply/invalid-policy (error), apply/invalid-template (error), apply/invalid-constraint (error), apply/missing-template (error)
        policy [Diagnostic]: policy/violation (error), policy/error (error), policy/unsupported (info)
    "#]]
    .assert_eq(&listed);
}

#[test]
fn every_diagnostic_group_can_be_disabled_and_regraded_by_group_or_code() {
    for group in Group::ALL.iter().filter(|group| group.reported() == Reported::Diagnostic) {
        for pattern in [group.as_str().to_string(), format!("{group}/*")] {
            let (disabled, problems) = read_settings(&format!("lint:\n  disable: [\"{pattern}\"]\n"));
            assert_eq!(problems, Vec::<String>::new(), "disable {pattern}");
            let (regraded, problems) = read_settings(&format!("lint:\n  severity:\n    \"{pattern}\": hint\n"));
            assert_eq!(problems, Vec::<String>::new(), "severity of {pattern}");
            for code in group.codes() {
                assert_eq!(apply(&disabled, code), None, "{pattern} disables {code}");
                assert_eq!(apply(&regraded, code), Some(Severity::Hint), "{pattern} re-grades {code}");
            }
        }
        for code in group.codes() {
            // The code's own entry wins over its group's.
            let text = format!("lint:\n  severity:\n    {group}: off\n    {code}: info\n");
            let (config, problems) = read_settings(&text);
            assert_eq!(problems, Vec::<String>::new(), "{code}");
            assert_eq!(apply(&config, code), Some(Severity::Info), "{code}");
            let other = group.codes().find(|other| *other != code);
            assert_eq!(other.and_then(|other| apply(&config, other)), None, "{group}: off covers the rest");
            let (config, problems) = read_settings(&format!("lint:\n  disable: [{code}]\n"));
            assert_eq!(problems, Vec::<String>::new(), "{code}");
            assert_eq!(apply(&config, code), None, "{code}");
            assert_eq!(other.map(|other| apply(&config, other)), other.map(|other| Some(other.default_severity())));
        }
    }
}

#[test]
fn test_run_codes_are_known_to_the_settings_but_left_alone() {
    for group in Group::ALL.iter().filter(|group| group.reported() == Reported::TestRun) {
        for pattern in std::iter::once(group.as_str().to_string()).chain(group.codes().map(|code| code.to_string())) {
            let (_, problems) = read_settings(&format!("lint:\n  disable: [\"{pattern}\"]\n"));
            assert_eq!(
                problems,
                [format!(
                    "warning[config/unknown-code] `{pattern}` names problems of `policy-lsp test`, which always fail \
                     the run; `lint` settings do not change them"
                )]
            );
        }
    }
}

#[test]
fn unknown_codes_in_settings_get_a_did_you_mean() {
    check_settings(
        r#"
lint:
  disable: [jmespath/syntx, kyverno-test/missing-fil, jmespth, nothing/here]
  severity:
    schema/enums: error
"#,
        expect![[r#"
            warning[config/unknown-code] `jmespath/syntx` is not a diagnostic code; did you mean `jmespath/syntax`?
            warning[config/unknown-code] `kyverno-test/missing-fil` is not a diagnostic code; did you mean `kyverno-test/missing-file`?
            warning[config/unknown-code] `jmespth` is not a diagnostic code; did you mean `jmespath`?
            warning[config/unknown-code] `nothing/here` is not a diagnostic code; codes look like `schema/deprecated` (groups: yaml, schema, cel, jmespath, rego, test, config, file, policy)
            warning[config/unknown-code] `schema/enums` is not a diagnostic code; did you mean `schema/enum`?
        "#]],
    );
}

#[test]
fn explain_answers_for_every_code_and_group() {
    for code in Code::ALL {
        let text = explain(code.as_str()).unwrap_or_else(|message| panic!("{code}: {message}"));
        assert!(text.starts_with(&format!("{code}: {}", code.summary())), "{text}");
        assert!(text.contains(code.why()) && text.contains(code.example()), "{text}");
    }
    for group in Group::ALL {
        let text = explain(group.as_str()).unwrap_or_else(|message| panic!("{group}: {message}"));
        assert_eq!(explain(&format!("{group}/*")), Ok(text.clone()));
        for code in group.codes() {
            assert!(text.contains(&format!("  {code} ")), "{group} lists {code}:\n{text}");
        }
    }
}

#[test]
fn explain_a_code_on_the_command_line() {
    check_explain_command(
        "jmespath/syntax",
        0,
        expect![[r#"
            jmespath/syntax: A JMESPath expression in `{{ }}`, in `foreach.list` or in a context `jmesPath` does not parse, calls an unknown function or passes the wrong number of arguments.

            Why: Kyverno fails the rule with an error when it substitutes the variable, on every resource that the rule matches.

            Example:
            message: "{{ to_uper(request.object.metadata.name) }}"   # to_upper

            Reported as error by default; `lint.disable` and `lint.severity` in .policy-lsp.yaml turn it off or re-grade it, by code or by its group `jmespath`.
        "#]],
    );
    check_explain_command(
        "gatekeeper/missing-assertions",
        0,
        expect![[r#"
            gatekeeper/missing-assertions: A case of a Suite has no assertions.

            Why: gator requires at least one assertion, so the case fails with an error.

            Example:
            cases:
              - name: bad-pod
                object: bad-pod.yaml   # `assertions` is missing

            Reported by `policy-lsp test` when a test cannot run; it always fails the run.
        "#]],
    );
}

#[test]
fn explain_a_group_or_a_typo_on_the_command_line() {
    check_explain_command(
        "cel",
        0,
        expect![[r#"
            cel: CEL expressions in Kyverno policies and Gatekeeper templates.

              cel/compile  A CEL expression does not parse, uses an unknown variable or function, or calls a function with the wrong number of arguments.

            `policy-lsp explain CODE` says more about each.
        "#]],
    );
    check_explain_command(
        "schema/enm",
        2,
        expect![[r#"
            error: unknown code `schema/enm`; did you mean `schema/enum`?
        "#]],
    );
    check_explain_command(
        "warning",
        2,
        expect![[r#"
            error: unknown code `warning`; codes look like `schema/unknown-field`, and `explain GROUP` lists a group (yaml, schema, cel, jmespath, rego, test, config, file, kyverno-test, gatekeeper, opa-test, apply, policy)
        "#]],
    );
}
