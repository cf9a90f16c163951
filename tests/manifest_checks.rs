//! Manifests judged in the editor by the workspace's policies: which files are manifests, the diagnostics
//! on the offending field with the rule as related place, results that need a registry as information,
//! and a policy edit changing the verdict.

use std::sync::Arc;

use crate::support::{Annotation, FixtureFile, assert_annotations, line_and_column, parse_fixture};
use policy_lsp::ide::Analysis;

/// Judges every manifest of the fixture with the fixture's policies and compares each file's policy
/// diagnostics (`severity[code]: message | related: file (message)`) with its `# ^^^` annotations.
fn check(fixture: &str) {
    let files = parse_fixture(fixture);
    check_files(&crate::support::analysis_of(&files), &files);
}

fn check_files(analysis: &Analysis, files: &[FixtureFile]) {
    let policies = analysis.prepare_policies();
    let verdicts: Vec<_> =
        files.iter().filter_map(|file| analysis.judge_manifest(&file.path, &policies)).map(Arc::new).collect();
    for file in files {
        let actual: Vec<Annotation> = analysis
            .diagnostics_with_tests(&file.path, &[], &verdicts)
            .into_iter()
            .filter(|diagnostic| diagnostic.code.as_str().starts_with("policy/"))
            .map(|diagnostic| {
                let (line, start_column) = line_and_column(&file.text, diagnostic.range.start);
                let (_, end_column) = line_and_column(&file.text, diagnostic.range.end);
                let mut text = format!("{}[{}]: {}", diagnostic.severity.as_str(), diagnostic.code, diagnostic.message);
                for related in &diagnostic.related {
                    let name = related.file.as_deref().unwrap_or(&file.path).display().to_string();
                    let (related_line, _) = analysis
                        .line_index(related.file.as_deref().unwrap_or(&file.path))
                        .map(|index| {
                            let position =
                                index.line_col(related.range.start, policy_lsp::base::PositionEncoding::Utf8);
                            (position.line as usize + 1, ())
                        })
                        .unwrap_or_default();
                    text.push_str(&format!(" | related: {name}:{related_line} ({})", related.message));
                }
                Annotation { line, start_column, end_column: end_column.max(start_column + 1), text }
            })
            .collect();
        assert_annotations(file, actual);
    }
}

const REQUIRE_TEAM: &str = r#"
#- /w/policies/require-team.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  rules:
    - name: team-label
      match:
        any:
          - resources:
              kinds:
                - Deployment
      validate:
        failureAction: Enforce
        message: "a team label is required"
        pattern:
          metadata:
            labels:
              team: "?*"
"#;

#[test]
fn a_manifest_that_violates_a_policy_gets_a_diagnostic_with_the_rule_as_related_place() {
    check(&format!(
        "{REQUIRE_TEAM}{}",
        r#"
#- /w/apps/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
# ^^^^^^ error[policy/violation]: require-team/team-label: validation error: a team label is required. rule team-label failed at path /metadata/labels/team/ | related: /w/policies/require-team.yaml:7 (the rule require-team/team-label)
    app: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels:
    team: payments
"#
    ));
}

#[test]
fn a_result_that_needs_a_registry_is_information_on_the_kind_line() {
    check(
        r#"
#- /w/policies/signed-images.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: signed-images
spec:
  rules:
    - name: check-signature
      match:
        any:
          - resources:
              kinds:
                - Pod
      verifyImages:
        - imageReferences:
            - "ghcr.io/acme/*"
          attestors:
            - entries:
                - keys:
                    publicKeys: "-----BEGIN PUBLIC KEY-----"
#- /w/apps/pod.yaml
apiVersion: v1
kind: Pod
#^^^ info[policy/unsupported]: signed-images/check-signature: verifyImages checks image signatures and attestations, which needs registry access: not verified offline | related: /w/policies/signed-images.yaml:7 (the rule signed-images/check-signature)
metadata:
  name: web
spec:
  containers:
    - name: web
      image: ghcr.io/acme/web:1.0
"#,
    );
}

#[test]
fn policies_tests_and_the_fixtures_tests_name_are_not_judged() {
    check(&format!(
        "{REQUIRE_TEAM}{}",
        r#"
#- /w/policies/kyverno-test.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: require-team
policies:
  - require-team.yaml
resources:
  - fixture.yaml
results:
  - policy: require-team
    rule: team-label
    resources: [bare]
    kind: Deployment
    result: fail
#- /w/policies/fixture.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bare
"#
    ));
}

/// Editing the policy changes the verdict once the policies are prepared again from the new text.
#[test]
fn an_edited_policy_judges_the_manifest_again() {
    let fixture = format!(
        "{REQUIRE_TEAM}{}",
        r#"
#- /w/apps/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    team: payments
"#
    );
    let files = parse_fixture(&fixture);
    let mut host = crate::support::host_of(&files);
    let before = host.snapshot();
    let policy_path = std::path::Path::new("/w/policies/require-team.yaml");
    let fingerprint = before.policies_fingerprint();
    check_files(&before, &files);

    let edited = files[0].text.replace("team: \"?*\"", "owner: \"?*\"");
    host.set_file(policy_path.to_path_buf(), &edited);
    let after = host.snapshot();
    assert_ne!(after.policies_fingerprint(), fingerprint, "the edit changes the policies' fingerprint");
    let mut edited_files = parse_fixture(&fixture);
    edited_files[0].text = edited;
    let manifest = &mut edited_files[1];
    let labels_line = manifest.text.lines().position(|line| line == "  labels:").expect("a labels line");
    manifest.annotations.push(Annotation {
        line: labels_line,
        start_column: 2,
        end_column: 8,
        text: "error[policy/violation]: require-team/team-label: validation error: a team label is required. rule team-label failed at path /metadata/labels/owner/ | related: /w/policies/require-team.yaml:7 (the rule require-team/team-label)".to_string(),
    });
    check_files(&after, &edited_files);
}

/// The lenses of each manifest file of the fixture, as (file, one-based line, title).
fn lenses(fixture: &str) -> Vec<(String, usize, String)> {
    let files = parse_fixture(fixture);
    let analysis = crate::support::analysis_of(&files);
    let policies = analysis.prepare_policies();
    let mut found = Vec::new();
    for file in &files {
        let verdicts: Vec<_> = analysis.judge_manifest(&file.path, &policies).into_iter().map(Arc::new).collect();
        for lens in analysis.manifest_lenses(&file.path, &verdicts) {
            let (line, _) = line_and_column(&file.text, lens.range.start);
            found.push((file.path.display().to_string(), line + 1, lens.title));
        }
    }
    found
}

#[test]
fn each_judged_object_gets_a_lens_counting_the_policies_that_apply_and_fail() {
    let fixture = format!(
        "{REQUIRE_TEAM}{}",
        r#"
#- /w/policies/replicas.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: two-replicas
spec:
  rules:
    - name: replicas
      match:
        any:
          - resources:
              kinds:
                - Deployment
      validate:
        failureAction: Audit
        message: "at least two replicas"
        pattern:
          spec:
            replicas: ">=2"
#- /w/apps/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels:
    team: payments
spec:
  replicas: 3
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
"#
    );
    assert_eq!(
        lenses(&fixture),
        [
            ("/w/apps/web.yaml".to_string(), 2, "2 policies apply: 1 fails".to_string()),
            ("/w/apps/web.yaml".to_string(), 9, "2 policies apply: 0 fail".to_string()),
            ("/w/apps/web.yaml".to_string(), 18, "0 policies apply: 0 fail".to_string()),
        ]
    );
}

const ADD_TEAM: &str = r#"
#- /w/policies/add-team.yaml
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
              kinds:
                - Deployment
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              +(team): platform
"#;

const WEB_AND_SETTINGS: &str = r#"
#- /w/apps/web.yaml
# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: "fast"
"#;

/// The fixture's manifest at `$0` judged by its policies: the hover there, if any.
fn manifest_hover(fixture: &str) -> Option<String> {
    let files = parse_fixture(fixture);
    let analysis = crate::support::analysis_of(&files);
    let policies = analysis.prepare_policies();
    let file = files.iter().find(|file| file.cursor.is_some()).expect("a `$0` cursor");
    let verdicts: Vec<_> = analysis.judge_manifest(&file.path, &policies).into_iter().map(Arc::new).collect();
    let hover = analysis.hover_with_results(&file.path, file.cursor.unwrap_or_default(), &[], &verdicts)?;
    Some(hover.markdown.split("\n---\n").next().unwrap_or_default().to_string())
}

#[test]
fn the_hover_on_the_kind_line_lists_each_result_with_its_rule_and_the_mutations() {
    let manifest = WEB_AND_SETTINGS.replace("kind: Deployment", "kind: Deploy$0ment");
    let hover = manifest_hover(&format!("{REQUIRE_TEAM}{ADD_TEAM}{manifest}")).expect("a hover on the kind line");
    // The validation sees the mutated object, so the label the mutation adds satisfies it.
    assert_eq!(
        hover,
        "**Policies on `default/Deployment/web`**\n\n\
         - ✓ [add-team / default-team](file:///w/policies/add-team.yaml#L7): **pass** — resource patched\n\
         - ✓ [require-team / team-label](file:///w/policies/require-team.yaml#L7): **pass** — validation rule 'team-label' passed.\n\
         \n**Mutations** (1 field, by add-team)\n\n\
         ```diff\n--- written\n+++ mutated\n  ...\n+     team: platform\n  ...\n```\n"
    );
}

#[test]
fn no_policy_hover_away_from_the_kind_line_nor_on_an_object_no_policy_matches() {
    // Away from the kind line the field's own documentation answers, without the policies.
    let elsewhere = WEB_AND_SETTINGS.replace("replicas: 2", "replicas: $02");
    let field = manifest_hover(&format!("{ADD_TEAM}{elsewhere}")).unwrap_or_default();
    assert!(field.starts_with("**`replicas`**") && !field.contains("Policies on"), "{field}");
    let config_map = WEB_AND_SETTINGS.replace("kind: ConfigMap", "kind: Config$0Map");
    assert_eq!(
        manifest_hover(&format!("{ADD_TEAM}{config_map}")).as_deref(),
        Some("**Policies on `default/ConfigMap/settings`**\n\nNo policy of the workspace matches this object.\n")
    );
}

#[test]
fn the_mutated_manifest_renders_the_mutated_documents_and_keeps_the_others_as_written() {
    let files = parse_fixture(&format!("{ADD_TEAM}{WEB_AND_SETTINGS}"));
    let analysis = crate::support::analysis_of(&files);
    let policies = analysis.prepare_policies();
    let path = std::path::Path::new("/w/apps/web.yaml");
    let verdicts: Vec<_> = analysis.judge_manifest(path, &policies).into_iter().map(Arc::new).collect();
    let mutated = analysis.mutated_manifest(path, &verdicts).expect("the Deployment is mutated");
    assert_eq!(
        mutated.text,
        "# the web tier\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\n    \
         team: platform\nspec:\n  replicas: 2\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n\
         data:\n  mode: \"fast\"\n"
    );
    assert_eq!((mutated.changes, mutated.policies), (1, vec!["add-team".to_string()]));
    let titles: Vec<String> = analysis.manifest_lenses(path, &verdicts).into_iter().map(|lens| lens.title).collect();
    assert_eq!(titles, ["1 policy applies: 0 fail", "Preview mutations (1 change)", "0 policies apply: 0 fail"]);

    // Without a mutating policy there is nothing to preview and no lens offers it.
    let files = parse_fixture(&format!("{REQUIRE_TEAM}{WEB_AND_SETTINGS}"));
    let analysis = crate::support::analysis_of(&files);
    let policies = analysis.prepare_policies();
    let verdicts: Vec<_> = analysis.judge_manifest(path, &policies).into_iter().map(Arc::new).collect();
    assert_eq!(analysis.mutated_manifest(path, &verdicts), None);
    assert!(analysis.manifest_lenses(path, &verdicts).iter().all(|lens| !lens.previews_mutations));
}
