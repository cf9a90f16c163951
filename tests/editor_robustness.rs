//! Completion, hover and signature help answer at every position of awkward documents (multi-byte text,
//! half-typed lines, unclosed braces and quotes) without panicking.

use crate::support::{analysis_of, parse_fixture};

/// Asks for completion, hover and signature help at every character boundary of every fixture file.
fn check(fixture: &str) {
    let files = parse_fixture(fixture);
    let analysis = analysis_of(&files);
    for file in &files {
        for offset in (0..=file.text.len()).filter(|offset| file.text.is_char_boundary(*offset)) {
            let _ = analysis.completions(&file.path, offset);
            let _ = analysis.hover(&file.path, offset);
            let _ = analysis.signature_help(&file.path, offset);
        }
    }
}

#[test]
fn policy_with_multi_byte_text_and_broken_expressions() {
    check(
        r#"
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
                      kinds: [Pod, apps/v1/Deployment, "*"]
              context:
                - name: cm
                  configMap: {name: x, namespace: "{{ request.namespace }}"}
              preconditions:
                all:
                  - key: "{{ to_upper('é😀', request.object.metadata.name) | [0] }}"
                    operator: Equals
                    value: '{{ request.object.metadata.labels."app.kubernetes.io/name" || ''x'' }}'
              validate:
                message: "héllo {{ request.object.spec.containers[?name == 'ü'].image | join(', ', @) "
                foreach:
                  - list: "request.object.spec.[initContainers, containers][]"
                    foreach:
                      - list: element.ports
                        pattern:
                          =(containerPort): ">=1 & <=65535 | 😀*"
                anyPattern:
                  - spec:
                      X(hostNetwork): true
                      containers:
                        - (name): "?*"
                          ^(env):
                            - name: "{{ element.
              mutate:
                patchStrategicMerge:
                  metadata:
                    +(annotations):
                      note: >-
                        {{ time_now_utc() }} {{ regex_match('^[a-z]+$', 
              generate:
                kind: ConfigMap
                apiVersion: v1
                data:
                  data:
                    key: "{{
        "#,
    );
}

#[test]
fn test_files_with_odd_references() {
    check(
        r#"
        #- /repo/policy.yaml
        apiVersion: kyverno.io/v1
        kind: Policy
        metadata:
          name: pé
          namespace: ns
        spec:
          rules:
            - name: r😀
        #- /repo/kyverno-test.yaml
        apiVersion: cli.kyverno.io/v1alpha1
        kind: Test
        metadata:
          name: t
        policies: [policy.yaml, ../outside.yaml, https://example.com/p.yaml, "", ./]
        resources:
          - 
          - ü/
        results:
          - policy: ns/pé
            rule: 
            resources: [a, 
            kind:
            result: pa
        #- /repo/suite.yaml
        apiVersion: test.gatekeeper.sh/v1alpha1
        kind: Suite
        tests:
          - template: 
            cases:
              - object: ./../
                inventory: [
        "#,
    );
}
