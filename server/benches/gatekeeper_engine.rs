//! Criterion benchmark of the Gatekeeper engine: compiling a ConstraintTemplate through regorus (with the
//! OPA-compatibility pre-pass) and reviewing objects against a constraint, on a template written for it.

use criterion::{Criterion, criterion_group, criterion_main};
use policy_lsp::engine::gatekeeper::{EvaluationOptions, compile_template, rego_diagnostics, review};
use serde_json::{Value, json};

const REGO: &str = r#"package k8sallowedrepos

violation[{"msg": msg}] {
  container := input_containers[_]
  not strings.any_prefix_match(container.image, input.parameters.repos)
  msg := sprintf("container <%v> has an invalid image repo <%v>, allowed repos are %v", [container.name, container.image, input.parameters.repos])
}

input_containers[c] {
  c := input.review.object.spec.containers[_]
}

input_containers[c] {
  c := input.review.object.spec.initContainers[_]
}
"#;

fn template() -> Value {
    json!({
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": "k8sallowedrepos"},
        "spec": {
            "crd": {"spec": {"names": {"kind": "K8sAllowedRepos"}, "validation": {"openAPIV3Schema": {
                "type": "object", "properties": {"repos": {"type": "array", "items": {"type": "string"}}}}}}},
            "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": REGO}]
        }
    })
}

fn constraint() -> Value {
    json!({
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sAllowedRepos",
        "metadata": {"name": "repos"},
        "spec": {"match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}, "parameters": {"repos": ["registry.example/"]}}
    })
}

fn pod(containers: usize) -> Value {
    let containers: Vec<Value> = (0..containers)
        .map(|index| {
            let registry = if index % 2 == 0 { "registry.example" } else { "docker.io" };
            json!({"name": format!("c{index}"), "image": format!("{registry}/app{index}:1.0")})
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"containers": containers}})
}

fn bench(criterion: &mut Criterion) {
    let template = template();
    let constraint = constraint();
    let compiled = compile_template(&template, EvaluationOptions::default()).expect("the benchmark template compiles");
    let small = pod(2);
    let large = pod(40);
    criterion.bench_function("compile template", |bencher| {
        bencher.iter(|| compile_template(&template, EvaluationOptions::default()))
    });
    criterion.bench_function("rego diagnostics of a template", |bencher| bencher.iter(|| rego_diagnostics(&template)));
    criterion.bench_function("review pod, 2 containers", |bencher| {
        bencher.iter(|| review(&compiled, &constraint, &small, &[]))
    });
    criterion.bench_function("review pod, 40 containers", |bencher| {
        bencher.iter(|| review(&compiled, &constraint, &large, &[]))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
