//! `policy-lsp apply` as CI runs it: Kyverno policies and Gatekeeper constraints judging manifests, in
//! every output format, with its exit codes, standard input, and what only a live cluster could answer.

use std::io::Write as _;
use std::process::{Command, Stdio};

use expect_test::expect;

use crate::cli::{check, write_fixture};

/// A Kyverno policy that blocks admission, an audit one, a mutation that the audit policy sees the result
/// of, a Gatekeeper constraint, and two Deployments: `web` passes everything, `batch` fails three ways.
const WORKSPACE: &str = r#"
#- /policies/require-team.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  validationFailureAction: Enforce
  rules:
    - name: check-team
      match:
        any:
          - resources:
              kinds: [Deployment]
      validate:
        message: "the label team is required"
        pattern:
          metadata:
            labels:
              team: "?*"
#- /policies/default-env.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: default-env
spec:
  rules:
    - name: add-env
      match:
        any:
          - resources:
              kinds: [Deployment]
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              +(env): dev
#- /policies/no-dev.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: no-dev
spec:
  validationFailureAction: Audit
  rules:
    - name: env-not-dev
      match:
        any:
          - resources:
              kinds: [Deployment]
      validate:
        message: "env must not be dev"
        pattern:
          metadata:
            labels:
              env: "!dev"
#- /policies/replica-limit.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sreplicalimit
spec:
  crd:
    spec:
      names:
        kind: K8sReplicaLimit
      validation:
        openAPIV3Schema:
          type: object
          properties:
            max:
              type: integer
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sreplicalimit

        violation[{"msg": msg}] {
          input.review.object.spec.replicas > input.parameters.max
          msg := sprintf("%v replicas, at most %v", [input.review.object.spec.replicas, input.parameters.max])
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sReplicaLimit
metadata:
  name: at-most-three
spec:
  match:
    kinds:
      - apiGroups: [apps]
        kinds: [Deployment]
  parameters:
    max: 3
#- /manifests/apps.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    team: store
    env: prod
spec:
  replicas: 2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: batch
spec:
  replicas: 5
"#;

#[test]
fn apply_text_lists_failures_and_blocks() {
    let directory = write_fixture("apply-text", WORKSPACE);
    check(
        &directory,
        &["apply", "policies", "--resource", "manifests"],
        1,
        expect![[r#"
        Applying 4 policies to 2 resources...
        manifests/apps.yaml:14:1: fail[no-dev/env-not-dev]: default/Deployment/batch: validation error: env must not be dev. rule env-not-dev failed at path /metadata/labels/env/
        manifests/apps.yaml:14:1: fail[require-team/check-team]: default/Deployment/batch: validation error: the label team is required. rule check-team failed at path /metadata/labels/team/
        manifests/apps.yaml:13:1: fail[at-most-three/K8sReplicaLimit]: default/Deployment/batch: 5 replicas, at most 3

        pass: 4, fail: 3, warn: 0, error: 0, skip: 1, unsupported: 0
    "#]],
    );
}

#[test]
fn apply_text_shows_the_mutated_manifest() {
    let directory = write_fixture("apply-mutated", WORKSPACE);
    check(
        &directory,
        &["apply", "policies/default-env.yaml", "--resource", "manifests", "--show-mutated"],
        0,
        expect![[r#"
            Applying 1 policy to 2 resources...
            ---
            # manifests/apps.yaml:13: default/Deployment/batch as mutated by default-env
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: batch
              namespace: default
              labels:
                env: dev
            spec:
              replicas: 5

            pass: 1, fail: 0, warn: 0, error: 0, skip: 1, unsupported: 0
        "#]],
    );
}

/// A mutation that writes strings YAML 1.1 reads as other types (`yes`, `0755`): Kubernetes reads
/// manifests as YAML 1.1, so the mutated manifest keeps them quoted.
const MUTATES_TO_AMBIGUOUS_STRINGS: &str = r#"
#- /policies/flags.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: flags
spec:
  rules:
    - name: add-flags
      match:
        any:
          - resources:
              kinds: [ConfigMap]
      mutate:
        patchStrategicMerge:
          data:
            enabled: "yes"
            mode: "0755"
#- /manifests/config.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  plain: text
"#;

#[test]
fn apply_text_keeps_yaml_1_1_ambiguous_strings_quoted_in_the_mutated_manifest() {
    let directory = write_fixture("apply-mutated-quoting", MUTATES_TO_AMBIGUOUS_STRINGS);
    check(
        &directory,
        &["apply", "policies", "--resource", "manifests", "--show-mutated"],
        0,
        expect![[r#"
            Applying 1 policy to 1 resource...
            ---
            # manifests/config.yaml:2: default/ConfigMap/settings as mutated by flags
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
              namespace: default
            data:
              plain: text
              enabled: "yes"
              mode: "0755"

            pass: 1, fail: 0, warn: 0, error: 0, skip: 0, unsupported: 0
        "#]],
    );
}

#[test]
fn apply_json() {
    let directory = write_fixture("apply-json", WORKSPACE);
    check(
        &directory,
        &["apply", "policies", "--resource", "manifests", "--output", "json"],
        1,
        expect![[r#"
        {
          "results": [
            {
              "framework": "kyverno",
              "policy": "default-env",
              "rule": "add-env",
              "ruleType": "mutate",
              "resource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "file": "manifests/apps.yaml",
                "line": 2
              },
              "result": "skip",
              "message": "no patches applied",
              "enforcement": "Audit",
              "line": 2,
              "column": 1
            },
            {
              "framework": "kyverno",
              "policy": "no-dev",
              "rule": "env-not-dev",
              "ruleType": "validate",
              "resource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "file": "manifests/apps.yaml",
                "line": 2
              },
              "result": "pass",
              "message": "validation rule 'env-not-dev' passed.",
              "enforcement": "Audit",
              "line": 2,
              "column": 1
            },
            {
              "framework": "kyverno",
              "policy": "require-team",
              "rule": "check-team",
              "ruleType": "validate",
              "resource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "file": "manifests/apps.yaml",
                "line": 2
              },
              "result": "pass",
              "message": "validation rule 'check-team' passed.",
              "enforcement": "Enforce",
              "line": 2,
              "column": 1
            },
            {
              "framework": "gatekeeper",
              "policy": "at-most-three",
              "rule": "K8sReplicaLimit",
              "ruleType": "validate",
              "resource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
                "file": "manifests/apps.yaml",
                "line": 2
              },
              "result": "pass",
              "message": "",
              "enforcement": "deny",
              "line": 2,
              "column": 1
            },
            {
              "framework": "kyverno",
              "policy": "default-env",
              "rule": "add-env",
              "ruleType": "mutate",
              "resource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "default",
                "name": "batch",
                "file": "manifests/apps.yaml",
                "line": 13
              },
              "result": "pass",
              "message": "resource patched",
              "enforcement": "Audit",
              "line": 13,
              "column": 1
            },
            {
              "framework": "kyverno",
              "policy": "no-dev",
              "rule": "env-not-dev",
              "ruleType": "validate",
              "resource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "default",
                "name": "batch",
                "file": "manifests/apps.yaml",
                "line": 13
              },
              "result": "fail",
              "message": "validation error: env must not be dev. rule env-not-dev failed at path /metadata/labels/env/",
              "enforcement": "Audit",
              "line": 14,
              "column": 1
            },
            {
              "framework": "kyverno",
              "policy": "require-team",
              "rule": "check-team",
              "ruleType": "validate",
              "resource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "default",
                "name": "batch",
                "file": "manifests/apps.yaml",
                "line": 13
              },
              "result": "fail",
              "message": "validation error: the label team is required. rule check-team failed at path /metadata/labels/team/",
              "enforcement": "Enforce",
              "line": 14,
              "column": 1
            },
            {
              "framework": "gatekeeper",
              "policy": "at-most-three",
              "rule": "K8sReplicaLimit",
              "ruleType": "validate",
              "resource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "default",
                "name": "batch",
                "file": "manifests/apps.yaml",
                "line": 13
              },
              "result": "fail",
              "message": "5 replicas, at most 3",
              "enforcement": "deny",
              "line": 13,
              "column": 1
            }
          ],
          "summary": {
            "pass": 4,
            "fail": 3,
            "warn": 0,
            "error": 0,
            "skip": 1,
            "unsupported": 0
          },
          "mutations": [
            {
              "resource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "default",
                "name": "batch",
                "file": "manifests/apps.yaml",
                "line": 13
              },
              "policies": [
                "default-env"
              ],
              "mutated": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                  "name": "batch",
                  "namespace": "default",
                  "labels": {
                    "env": "dev"
                  }
                },
                "spec": {
                  "replicas": 5
                }
              }
            }
          ],
          "problems": []
        }
    "#]],
    );
}

#[test]
fn apply_sarif_places_failures_on_manifest_lines() {
    let directory = write_fixture("apply-sarif", WORKSPACE);
    check(
        &directory,
        &["apply", "policies", "--resource", "manifests", "--output", "sarif"],
        1,
        expect![[r#"
        {
          "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
          "version": "2.1.0",
          "runs": [
            {
              "tool": {
                "driver": {
                  "name": "policy-lsp",
                  "version": "0.1.0",
                  "rules": [
                    {
                      "id": "policy/at-most-three/K8sReplicaLimit",
                      "shortDescription": {
                        "text": "A Gatekeeper constraint that the manifest violates."
                      }
                    },
                    {
                      "id": "policy/no-dev/env-not-dev",
                      "shortDescription": {
                        "text": "A Kyverno policy rule that the manifest does not satisfy."
                      }
                    },
                    {
                      "id": "policy/require-team/check-team",
                      "shortDescription": {
                        "text": "A Kyverno policy rule that the manifest does not satisfy."
                      }
                    }
                  ]
                }
              },
              "columnKind": "unicodeCodePoints",
              "results": [
                {
                  "ruleId": "policy/no-dev/env-not-dev",
                  "ruleIndex": 1,
                  "level": "error",
                  "message": {
                    "text": "fail: validation error: env must not be dev. rule env-not-dev failed at path /metadata/labels/env/ (default/Deployment/batch)"
                  },
                  "locations": [
                    {
                      "physicalLocation": {
                        "artifactLocation": {
                          "uri": "manifests/apps.yaml"
                        },
                        "region": {
                          "startLine": 14,
                          "startColumn": 1
                        }
                      }
                    }
                  ]
                },
                {
                  "ruleId": "policy/require-team/check-team",
                  "ruleIndex": 2,
                  "level": "error",
                  "message": {
                    "text": "fail: validation error: the label team is required. rule check-team failed at path /metadata/labels/team/ (default/Deployment/batch)"
                  },
                  "locations": [
                    {
                      "physicalLocation": {
                        "artifactLocation": {
                          "uri": "manifests/apps.yaml"
                        },
                        "region": {
                          "startLine": 14,
                          "startColumn": 1
                        }
                      }
                    }
                  ]
                },
                {
                  "ruleId": "policy/at-most-three/K8sReplicaLimit",
                  "ruleIndex": 0,
                  "level": "error",
                  "message": {
                    "text": "fail: 5 replicas, at most 3 (default/Deployment/batch)"
                  },
                  "locations": [
                    {
                      "physicalLocation": {
                        "artifactLocation": {
                          "uri": "manifests/apps.yaml"
                        },
                        "region": {
                          "startLine": 13,
                          "startColumn": 1
                        }
                      }
                    }
                  ]
                }
              ]
            }
          ]
        }
    "#]],
    );
}

#[test]
fn apply_github_annotations() {
    let directory = write_fixture("apply-github", WORKSPACE);
    check(
        &directory,
        &["apply", "policies", "--resource", "manifests", "--output", "github"],
        1,
        expect![[r#"
        ::error file=manifests/apps.yaml,line=14,col=1,title=fail policy/no-dev/env-not-dev::default/Deployment/batch: validation error: env must not be dev. rule env-not-dev failed at path /metadata/labels/env/
        ::error file=manifests/apps.yaml,line=14,col=1,title=fail policy/require-team/check-team::default/Deployment/batch: validation error: the label team is required. rule check-team failed at path /metadata/labels/team/
        ::error file=manifests/apps.yaml,line=13,col=1,title=fail policy/at-most-three/K8sReplicaLimit::default/Deployment/batch: 5 replicas, at most 3
        pass: 4, fail: 3, warn: 0, error: 0, skip: 1, unsupported: 0
    "#]],
    );
}

#[test]
fn apply_junit() {
    let directory = write_fixture("apply-junit", WORKSPACE);
    check(
        &directory,
        &["apply", "policies", "--resource", "manifests", "--output", "junit"],
        1,
        expect![[r#"
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites name="policy-lsp apply" tests="8" failures="3" errors="0" skipped="1">
          <testsuite name="at-most-three" tests="2" failures="1" errors="0" skipped="0">
            <testcase classname="at-most-three/K8sReplicaLimit" name="shop/Deployment/web"/>
            <testcase classname="at-most-three/K8sReplicaLimit" name="default/Deployment/batch"><failure message="5 replicas, at most 3">5 replicas, at most 3</failure></testcase>
          </testsuite>
          <testsuite name="default-env" tests="2" failures="0" errors="0" skipped="1">
            <testcase classname="default-env/add-env" name="shop/Deployment/web"><skipped message="skip: no patches applied"/></testcase>
            <testcase classname="default-env/add-env" name="default/Deployment/batch"/>
          </testsuite>
          <testsuite name="no-dev" tests="2" failures="1" errors="0" skipped="0">
            <testcase classname="no-dev/env-not-dev" name="shop/Deployment/web"/>
            <testcase classname="no-dev/env-not-dev" name="default/Deployment/batch"><failure message="validation error: env must not be dev. rule env-not-dev failed at path /metadata/labels/env/">validation error: env must not be dev. rule env-not-dev failed at path /metadata/labels/env/</failure></testcase>
          </testsuite>
          <testsuite name="require-team" tests="2" failures="1" errors="0" skipped="0">
            <testcase classname="require-team/check-team" name="shop/Deployment/web"/>
            <testcase classname="require-team/check-team" name="default/Deployment/batch"><failure message="validation error: the label team is required. rule check-team failed at path /metadata/labels/team/">validation error: the label team is required. rule check-team failed at path /metadata/labels/team/</failure></testcase>
          </testsuite>
        </testsuites>
    "#]],
    );
}

#[test]
fn apply_policy_report() {
    let directory = write_fixture("apply-policy-report", WORKSPACE);
    let output = Command::new(crate::support::POLICY_LSP)
        .args(["apply", "policies", "--resource", "manifests", "--output", "policy-report"])
        .current_dir(&directory)
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    // The timestamp is the time of the run: checked to be a time, then masked.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let masked: Vec<String> = stdout
        .lines()
        .map(|line| match line.trim_start().strip_prefix("seconds: ") {
            Some(seconds) => {
                assert!(seconds.parse::<i64>().is_ok_and(|seconds| seconds > 1_700_000_000), "{line}");
                line.replace(seconds, "<now>")
            }
            None => line.to_string(),
        })
        .collect();
    expect![[r#"
        apiVersion: wgpolicyk8s.io/v1alpha2
        kind: ClusterPolicyReport
        metadata:
          name: merged
        summary:
          pass: 4
          fail: 3
          warn: 0
          error: 0
          skip: 1
        results:
          - source: kyverno
            policy: default-env
            message: no patches applied
            result: skip
            scored: true
            timestamp:
              seconds: <now>
              nanos: 0
            resources:
              - apiVersion: apps/v1
                kind: Deployment
                namespace: shop
                name: web
            rule: add-env
            properties:
              enforcement: Audit
          - source: kyverno
            policy: no-dev
            message: "validation rule 'env-not-dev' passed."
            result: pass
            scored: true
            timestamp:
              seconds: <now>
              nanos: 0
            resources:
              - apiVersion: apps/v1
                kind: Deployment
                namespace: shop
                name: web
            rule: env-not-dev
            properties:
              enforcement: Audit
          - source: kyverno
            policy: require-team
            message: "validation rule 'check-team' passed."
            result: pass
            scored: true
            timestamp:
              seconds: <now>
              nanos: 0
            resources:
              - apiVersion: apps/v1
                kind: Deployment
                namespace: shop
                name: web
            rule: check-team
            properties:
              enforcement: Enforce
          - source: gatekeeper
            policy: at-most-three
            message: ""
            result: pass
            scored: true
            timestamp:
              seconds: <now>
              nanos: 0
            resources:
              - apiVersion: apps/v1
                kind: Deployment
                namespace: shop
                name: web
            rule: K8sReplicaLimit
            properties:
              enforcement: deny
          - source: kyverno
            policy: default-env
            message: resource patched
            result: pass
            scored: true
            timestamp:
              seconds: <now>
              nanos: 0
            resources:
              - apiVersion: apps/v1
                kind: Deployment
                namespace: default
                name: batch
            rule: add-env
            properties:
              enforcement: Audit
          - source: kyverno
            policy: no-dev
            message: "validation error: env must not be dev. rule env-not-dev failed at path /metadata/labels/env/"
            result: fail
            scored: true
            timestamp:
              seconds: <now>
              nanos: 0
            resources:
              - apiVersion: apps/v1
                kind: Deployment
                namespace: default
                name: batch
            rule: env-not-dev
            properties:
              enforcement: Audit
          - source: kyverno
            policy: require-team
            message: "validation error: the label team is required. rule check-team failed at path /metadata/labels/team/"
            result: fail
            scored: true
            timestamp:
              seconds: <now>
              nanos: 0
            resources:
              - apiVersion: apps/v1
                kind: Deployment
                namespace: default
                name: batch
            rule: check-team
            properties:
              enforcement: Enforce
          - source: gatekeeper
            policy: at-most-three
            message: 5 replicas, at most 3
            result: fail
            scored: true
            timestamp:
              seconds: <now>
              nanos: 0
            resources:
              - apiVersion: apps/v1
                kind: Deployment
                namespace: default
                name: batch
            rule: K8sReplicaLimit
            properties:
              enforcement: deny
    "#]]
    .assert_eq(&(masked.join("\n") + "\n"));
}

#[test]
fn apply_audit_warn_passes_when_only_audit_policies_fail() {
    let directory = write_fixture("apply-audit-warn", WORKSPACE);
    check(
        &directory,
        &["apply", "policies/default-env.yaml", "policies/no-dev.yaml", "--resource", "manifests", "--audit-warn"],
        0,
        expect![[r#"
            Applying 2 policies to 2 resources...
            manifests/apps.yaml:14:1: warn[no-dev/env-not-dev]: default/Deployment/batch: validation error: env must not be dev. rule env-not-dev failed at path /metadata/labels/env/

            pass: 2, fail: 0, warn: 1, error: 0, skip: 1, unsupported: 0
        "#]],
    );
}

#[test]
fn apply_missing_resource_is_a_usage_error() {
    let directory = write_fixture("apply-missing", WORKSPACE);
    check(
        &directory,
        &["apply", "policies", "--resource", "nowhere.yaml"],
        2,
        expect![[r#"
        nowhere.yaml:1:1: error[apply/unreadable]: cannot read nowhere.yaml: nowhere.yaml does not exist
        Applying 4 policies to 0 resources...

        pass: 0, fail: 0, warn: 0, error: 0, skip: 0, unsupported: 0
    "#]],
    );
}

#[test]
fn apply_reads_manifests_from_standard_input() {
    let directory = write_fixture("apply-stdin", WORKSPACE);
    let mut child = Command::new(crate::support::POLICY_LSP)
        .args(["apply", "policies/require-team.yaml", "--resource", "-", "--output", "github"])
        .current_dir(&directory)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let manifest = "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: piped\n";
    child.stdin.take().expect("stdin is piped").write_all(manifest.as_bytes()).expect("stdin takes the manifest");
    let output = child.wait_with_output().expect("the binary finishes");
    assert_eq!(output.status.code(), Some(1));
    expect![[r#"
        ::error file=<stdin>,line=6,col=5,title=fail policy/require-team/check-team::default/Deployment/piped: validation error: the label team is required. rule check-team failed at path /metadata/labels/
        pass: 0, fail: 1, warn: 0, error: 0, skip: 0, unsupported: 0
    "#]].assert_eq(&String::from_utf8_lossy(&output.stdout));
}

/// Context entries and CEL functions that read the cluster cannot be answered offline: the results that
/// need them are `unsupported`, unless a values file gives the entry (whole, or a field of it).
const LIVE_CLUSTER: &str = r#"
#- /policies/quota.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: namespace-quota
spec:
  validationFailureAction: Enforce
  rules:
    - name: few-deployments
      match:
        any:
          - resources:
              kinds: [Deployment]
      context:
        - name: deploymentCount
          apiCall:
            urlPath: "/apis/apps/v1/namespaces/{{ request.namespace }}/deployments"
            jmesPath: "items | length(@)"
      validate:
        message: "at most 2 Deployments in a namespace"
        deny:
          conditions:
            any:
              - key: "{{ deploymentCount }}"
                operator: GreaterThanOrEquals
                value: 2
#- /policies/config.yaml
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: allowed-registries
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE]
        resources: [deployments]
  validations:
    - expression: >-
        resource.Get("v1", "configmaps", "platform", "registries").data.allowed == "all"
      message: "registries are limited"
#- /policies/replicas.yaml
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: replica-ceiling
spec:
  validationFailureAction: Enforce
  rules:
    - name: ceiling
      match:
        any:
          - resources:
              kinds: [Deployment]
      context:
        - name: limits
          configMap:
            name: replica-limits
            namespace: platform
      validate:
        message: "at most {{ limits.data.max }} replicas"
        deny:
          conditions:
            any:
              - key: "{{ request.object.spec.replicas }}"
                operator: GreaterThan
                value: "{{ limits.data.max }}"
#- /values.yaml
apiVersion: cli.kyverno.io/v1alpha1
kind: Value
policies:
  - name: namespace-quota
    rules:
      - name: few-deployments
        values:
          deploymentCount: 3
  - name: replica-ceiling
    resources:
      - name: app
        values:
          limits.data.max: 2
#- /manifests/app.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: shop
spec:
  replicas: 1
"#;

#[test]
fn apply_reports_what_needs_the_cluster_as_unsupported() {
    let directory = write_fixture("apply-live-cluster", LIVE_CLUSTER);
    check(
        &directory,
        &["apply", "policies", "--resource", "manifests"],
        1,
        expect![[r#"
        Applying 3 policies to 1 resource...
        manifests/app.yaml:2:1: unsupported[namespace-quota/few-deployments]: shop/Deployment/app: context entry `deploymentCount` reads an API call's answer from the cluster, which is not known here: give its value in the values file
        manifests/app.yaml:2:1: unsupported[replica-ceiling/ceiling]: shop/Deployment/app: context entry `limits` reads a ConfigMap from the cluster, which is not known here: give its value in the values file
        manifests/app.yaml:2:1: unsupported[allowed-registries]: shop/Deployment/app: resource.Get("v1", "configmaps", "platform", "registries") reads the cluster, which is not known here: give the object in a context file

        pass: 0, fail: 0, warn: 0, error: 0, skip: 0, unsupported: 3
    "#]],
    );
}

#[test]
fn apply_takes_cluster_answers_from_the_values_file() {
    let directory = write_fixture("apply-live-cluster-values", LIVE_CLUSTER);
    check(
        &directory,
        &[
            "apply",
            "policies/quota.yaml",
            "policies/replicas.yaml",
            "--resource",
            "manifests",
            "--values-file",
            "values.yaml",
        ],
        1,
        expect![[r#"
            Applying 2 policies to 1 resource...
            manifests/app.yaml:2:1: fail[namespace-quota/few-deployments]: shop/Deployment/app: at most 2 Deployments in a namespace

            pass: 1, fail: 1, warn: 0, error: 0, skip: 0, unsupported: 0
        "#]],
    );
}

/// Manifests that are not what they claim never make apply panic: each becomes a problem with its place,
/// or an object judged as written.
const HOSTILE_MANIFESTS: &str = r#"
#- /manifests/odd.yaml
apiVersion: v1
kind: List
items: 5
---
apiVersion: v1
kind: List
items:
  - 3
  - kind: Deployment
  - apiVersion: apps/v1
    kind: Deployment
    metadata: [not, a, map]
---
- a list
- at the top
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: &anchor x
  labels: *anchor
spec: {replicas: "many", template: null}
---
: : :
"#;

#[test]
fn apply_survives_hostile_manifests() {
    let mut fixture = String::from(HOSTILE_MANIFESTS);
    fixture.push_str(WORKSPACE.split("#- /manifests/apps.yaml").next().expect("the policies"));
    let directory = write_fixture("apply-hostile", &fixture);
    for output in ["text", "json", "sarif", "github", "junit", "policy-report"] {
        let result = Command::new(crate::support::POLICY_LSP)
            .args(["apply", "policies", "--resource", "manifests", "--output", output])
            .current_dir(&directory)
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!stderr.contains("panicked"), "--output {output}: {stderr}");
        // The documents that are not objects are input problems (exit 2), and the objects among them are
        // still judged.
        assert_eq!(result.status.code(), Some(2), "--output {output}");
        if output == "text" {
            let stdout = String::from_utf8_lossy(&result.stdout);
            assert!(stdout.contains("manifests/odd.yaml:9:5: error[apply/not-an-object]"), "{stdout}");
            assert!(stdout.contains("fail[require-team/check-team]: default/Deployment/x"), "{stdout}");
        }
    }
}

#[test]
fn a_policy_kyverno_refuses_is_skipped_with_an_error() {
    // `kyverno apply` validates each ClusterPolicy first: an invalid one judges nothing and counts an error.
    let fixture = format!(
        "#- /policies/who.yaml\n{}{}",
        crate::support::USER_VARIABLE_POLICY,
        "#- /manifests/pod.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers: [{name: c, image: nginx}]\n"
    );
    let directory = write_fixture("apply-refused", &fixture);
    check(
        &directory,
        &["apply", "policies", "--resource", "manifests"],
        1,
        expect![[r#"
            policies/who.yaml:14:7: error[apply/invalid-policy]: policy `who` is invalid and skipped: only select variables are allowed in background mode; set spec.background: false to disable background mode: the variable `{{ request.userInfo.username }}` reads the requesting user
            Applying 0 policies to 1 resource...

            pass: 0, fail: 0, warn: 0, error: 0, skip: 0, unsupported: 0
        "#]],
    );
}
