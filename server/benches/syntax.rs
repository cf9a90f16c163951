//! Criterion benchmark of the syntax layer: parsing a multi-document policy file whole, and reparsing it
//! after a one-character edit in the middle (what the server does per keystroke), on policies generated here.

use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use policy_lsp::base::TextRange;
use policy_lsp::syntax::{SourceFile, parse_file};

/// One ClusterPolicy of the kind found in policy repositories: annotations, a block-scalar description,
/// a pattern with anchors, a deny rule with JMESPath, a foreach and a mutate rule.
fn policy(index: usize) -> String {
    format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: bench-policy-{index}
  annotations:
    policies.kyverno.io/title: Bench Policy {index}
    policies.kyverno.io/category: Pod Security Standards (Baseline)
    policies.kyverno.io/severity: medium
    policies.kyverno.io/subject: Pod
    policies.kyverno.io/description: >-
      Containers must not run privileged, must not add capabilities beyond the allowed set, and must pin
      their images. This policy checks every container, init container and ephemeral container.
spec:
  validationFailureAction: Audit
  background: true
  rules:
    - name: no-latest-{index}
      match:
        any:
          - resources:
              kinds:
                - Pod
      exclude:
        any:
          - resources:
              namespaces:
                - kube-system
      validate:
        message: "Images must be pinned to a version, not `latest` ({index})."
        pattern:
          spec:
            =(initContainers):
              - image: "!*:latest"
            containers:
              - image: "!*:latest"
                =(securityContext):
                  =(privileged): "false"
    - name: capabilities-{index}
      match:
        any:
          - resources:
              kinds:
                - Pod
      preconditions:
        all:
          - key: "{{{{ request.operation || 'BACKGROUND' }}}}"
            operator: NotEquals
            value: DELETE
      validate:
        message: >-
          Any capabilities added beyond the allowed list (AUDIT_WRITE, CHOWN, KILL) are disallowed.
        deny:
          conditions:
            all:
              - key: "{{{{ request.object.spec.[ephemeralContainers, initContainers, containers][].securityContext.capabilities.add[] }}}}"
                operator: AnyNotIn
                value:
                  - AUDIT_WRITE
                  - CHOWN
                  - KILL
    - name: host-ports-{index}
      match:
        any:
          - resources:
              kinds:
                - Pod
      validate:
        message: Use of host ports is disallowed.
        foreach:
          - list: request.object.spec.containers
            pattern:
              =(ports):
                - =(hostPort): 0
    - name: pull-policy-{index}
      match:
        any:
          - resources:
              kinds:
                - Pod
      mutate:
        patchStrategicMerge:
          spec:
            containers:
              - (image): "*:latest"
                imagePullPolicy: Always
"#
    )
}

fn policies(count: usize) -> String {
    (0..count).map(policy).collect::<Vec<_>>().join("---\n")
}

fn bench(criterion: &mut Criterion) {
    let one = policies(1);
    let many = policies(24);
    let one_lines = one.lines().count();
    let many_lines = many.lines().count();

    criterion.bench_function(&format!("parse one policy ({one_lines} lines)"), |bencher| {
        bencher.iter(|| SourceFile::new(&one))
    });
    criterion.bench_function(&format!("parse 24 policies ({many_lines} lines, SourceFile::new)"), |bencher| {
        bencher.iter(|| SourceFile::new(&many))
    });
    criterion.bench_function(&format!("parse 24 policies ({many_lines} lines, parse_file)"), |bencher| {
        bencher.iter(|| parse_file(&many))
    });

    // Typing one letter into a message in the middle document: only that document is reparsed, from its
    // old tree; the others keep their trees and values.
    let file = SourceFile::new(&many);
    let middle = many.len() / 2;
    let message = middle + many[middle..].find("message: ").expect("a message after the middle") + "message: ".len();
    let at = TextRange::new(message + 3, message + 3);
    let stats = file.clone().apply_edit(at, "x");
    assert_eq!((stats.incremental, stats.fresh), (1, 0), "the edit reparses one document incrementally");
    criterion.bench_function(
        &format!("reparse after a one-character edit ({many_lines} lines, trees kept)"),
        |bencher| {
            bencher.iter_batched(
                || file.clone(),
                |mut file| {
                    file.apply_edit(at, "x");
                    file
                },
                BatchSize::SmallInput,
            )
        },
    );
}

fn config() -> Criterion {
    // Microseconds to milliseconds per iteration: a second of warm-up and three of measurement are plenty.
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group!(name = benches; config = config(); targets = bench);
criterion_main!(benches);
