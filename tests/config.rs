//! `.policy-lsp.yaml`: its own diagnostics (unknown settings, wrong shapes, unknown codes) and its effect
//! on the diagnostics of the files below it (excluded files, disabled codes, severity overrides).

use std::path::{Path, PathBuf};

use crate::support::{line_and_column, parse_fixture};
use expect_test::{Expect, expect};
use policy_lsp::ide::Config;

/// Loads the fixture with the settings of its `/repo/.policy-lsp.yaml` (laid under the editor settings
/// `editor`, when given) and renders the diagnostics of every file, plus whether tests run inline.
fn check(fixture: &str, editor: Option<serde_json::Value>, expect: Expect) {
    let files = parse_fixture(fixture);
    let mut host = crate::support::host_of(&files);
    let config_path = Path::new("/repo/.policy-lsp.yaml");
    let mut config = match files.iter().find(|file| file.path == config_path) {
        Some(file) => {
            let documents = policy_lsp::syntax::parse_file(&file.text);
            Config::from_document(PathBuf::from("/repo"), &documents[0].parsed, documents[0].start).0
        }
        None => Config::empty(PathBuf::from("/repo")),
    };
    if let Some(editor) = editor {
        config = config.with_settings(&editor);
    }
    host.set_configs(vec![config]);
    let analysis = host.snapshot();
    let mut rendered = String::new();
    for file in &files {
        let inline = analysis.config_for(&file.path).map(|config| config.tests_inline);
        rendered.push_str(&format!("{} (tests inline: {inline:?})\n", file.path.display()));
        for diagnostic in analysis.diagnostics(&file.path) {
            let (line, column) = line_and_column(&file.text, diagnostic.range.start);
            rendered.push_str(&format!(
                "  {}:{} {}[{}] {}\n",
                line + 1,
                column + 1,
                diagnostic.severity.as_str(),
                diagnostic.code,
                diagnostic.message
            ));
        }
    }
    expect.assert_eq(&rendered);
}

const FILES: &str = r#"
#- /repo/policies/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: p
spec:
  validationFailureAction: Enforce
  rules:
    - name: r
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: m
        deny: {}
        unknownKey: 1
#- /repo/vendor/upstream/policy.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: vendored
spec:
  rules: {}
#- /repo/policies/app.generated.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: x
datta: {}
"#;

#[test]
fn settings_filter_and_regrade_diagnostics() {
    check(
        &format!(
            "{}{FILES}",
            r#"
#- /repo/.policy-lsp.yaml
exclude:
  - vendor/
  - "*.generated.yaml"
lint:
  disable: [schema/deprecated]
  severity:
    schema: warning
    schema/unknown-field: info
tests:
  inline: false
"#
        ),
        None,
        expect![[r#"
            /repo/.policy-lsp.yaml (tests inline: Some(false))
            /repo/policies/policy.yaml (tests inline: Some(false))
              16:9 info[schema/unknown-field] unknown field `unknownKey`; expected one of `allowExistingViolations`, `anyPattern`, `assert`, `cel`, `deny`, `failureAction`, `failureActionOverrides`, `foreach`, `manifests`, `message`, `pattern` or `podSecurity`
            /repo/vendor/upstream/policy.yaml (tests inline: Some(false))
            /repo/policies/app.generated.yaml (tests inline: Some(false))
        "#]],
    );
}

#[test]
fn without_settings_everything_is_reported() {
    check(
        FILES,
        None,
        expect![[r#"
            /repo/policies/policy.yaml (tests inline: Some(true))
              6:3 warning[schema/deprecated] `validationFailureAction` is deprecated: set `validate.failureAction` in each rule instead
              16:9 error[schema/unknown-field] unknown field `unknownKey`; expected one of `allowExistingViolations`, `anyPattern`, `assert`, `cel`, `deny`, `failureAction`, `failureActionOverrides`, `foreach`, `manifests`, `message`, `pattern` or `podSecurity`
            /repo/vendor/upstream/policy.yaml (tests inline: Some(true))
              6:10 error[schema/type] expected a list, found a mapping
            /repo/policies/app.generated.yaml (tests inline: Some(true))
              5:1 warning[schema/unknown-field] unknown field `datta`; did you mean `data`?
        "#]],
    );
}

#[test]
fn editor_settings_add_to_the_file() {
    check(
        &format!(
            "{}{FILES}",
            r#"
#- /repo/.policy-lsp.yaml
exclude: [vendor]
lint:
  severity:
    schema/unknown-field: hint
"#
        ),
        Some(serde_json::json!({
            "exclude": ["policies/*.generated.yaml"],
            "lint": {"disable": ["schema/deprecated"], "severity": {"schema/unknown-field": "off"}},
            "tests": {"inline": false}
        })),
        expect![[r#"
            /repo/.policy-lsp.yaml (tests inline: Some(false))
            /repo/policies/policy.yaml (tests inline: Some(false))
            /repo/vendor/upstream/policy.yaml (tests inline: Some(false))
            /repo/policies/app.generated.yaml (tests inline: Some(false))
        "#]],
    );
}

#[test]
fn problems_in_the_settings_file() {
    check(
        r#"
#- /repo/.policy-lsp.yaml
exclude: "vendor/"
exlude: [a]
lint:
  disable: [schema/deprecation, 3, nothing/here, rego]
  severity:
    schema/enum: loud
    test/unknown-rule: error
tests:
  inline: maybe
kubernetesVersion: "1.30"
"#,
        None,
        expect![[r#"
            /repo/.policy-lsp.yaml (tests inline: Some(true))
              1:10 error[config/invalid] expected a list of strings
              2:1 warning[config/unknown-field] unknown setting `exlude`; did you mean `exclude`?
              4:13 warning[config/unknown-code] `schema/deprecation` is not a diagnostic code; did you mean `schema/deprecated`?
              4:33 error[config/invalid] expected a string
              4:36 warning[config/unknown-code] `nothing/here` is not a diagnostic code; codes look like `schema/deprecated` (groups: yaml, schema, cel, jmespath, rego, test, config, file, policy)
              6:18 error[config/invalid] `loud` is not one of error, warning, info, hint, off
              9:11 error[config/invalid] expected `true` or `false`
              10:1 warning[config/unknown-field] unknown setting `kubernetesVersion`; known here: exclude, lint, tests, rego
        "#]],
    );
}

const EMBEDDED_LANGUAGES: &str = r#"
#- /repo/policies/policy.yaml
apiVersion: kyverno.io/v1
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
        failureAction: Enforce
        message: "{{ to_uper(request.object.metadata.name) }}"
        cel:
          expressions:
            - expression: "object.spec.replicas <= "
"#;

#[test]
fn every_group_of_lint_codes_is_configurable() {
    check(
        EMBEDDED_LANGUAGES,
        None,
        expect![[r#"
            /repo/policies/policy.yaml (tests inline: Some(true))
              14:22 error[jmespath/syntax] unknown JMESPath function `to_uper`; did you mean `to_upper`?
              17:52 error[cel/compile] Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}
        "#]],
    );
    // `jmespath` was missing from the groups the settings knew. Every group of the code table is accepted
    // now, and a code that only `policy-lsp test` reports is named as such.
    check(
        &format!(
            "{}{EMBEDDED_LANGUAGES}",
            r#"
#- /repo/.policy-lsp.yaml
lint:
  disable: [jmespath, gatekeeper/missing-file]
  severity:
    cel: info
"#
        ),
        None,
        expect![[r#"
            /repo/.policy-lsp.yaml (tests inline: Some(true))
              2:23 warning[config/unknown-code] `gatekeeper/missing-file` names problems of `policy-lsp test`, which always fail the run; `lint` settings do not change them
            /repo/policies/policy.yaml (tests inline: Some(true))
              17:52 info[cel/compile] Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}
        "#]],
    );
}
