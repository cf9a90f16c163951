//! Criterion benchmark of the Kyverno engine: validate, mutate and autogen on a Pod controller with
//! policies written for the benchmark (pattern with anchors, deny with JMESPath, foreach).

use criterion::{Criterion, criterion_group, criterion_main};
use policy_lsp::engine::kyverno::{self as engine, Request};
use serde_json::{Value, json};

fn policy() -> Value {
    json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": "bench"},
        "spec": {"validationFailureAction": "Audit", "rules": [
            {"name": "no-latest", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "validate": {"message": "no latest", "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}},
            {"name": "caps", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "preconditions": {"all": [{"key": "{{ request.operation || 'BACKGROUND' }}", "operator": "NotEquals", "value": "DELETE"}]},
             "validate": {"message": "caps", "deny": {"conditions": {"all": [{
                "key": "{{ request.object.spec.[ephemeralContainers, initContainers, containers][].securityContext.capabilities.add[] }}",
                "operator": "AnyNotIn", "value": ["CHOWN", "KILL"]}]}}}},
            {"name": "privileged", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "validate": {"message": "privileged", "foreach": [{"list": "request.object.spec.containers",
                "pattern": {"=(securityContext)": {"=(privileged)": false}}}]}},
            {"name": "pull-policy", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "mutate": {"patchStrategicMerge": {"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}}}}
        ]}
    })
}

fn deployment(containers: usize) -> Value {
    let containers: Vec<Value> = (0..containers)
        .map(|index| {
            json!({"name": format!("c{index}"), "image": format!("registry.example/app{index}:1.{index}"),
                            "securityContext": {"privileged": false, "capabilities": {"add": ["CHOWN"]}}})
        })
        .collect();
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}}})
}

fn bench(criterion: &mut Criterion) {
    let policy = policy();
    let request = Request::default();
    let small = deployment(3);
    let large = deployment(50);
    criterion.bench_function("autogen rules", |bencher| bencher.iter(|| engine::policy_rules(&policy)));
    criterion.bench_function("validate deployment, 3 containers", |bencher| {
        bencher.iter(|| engine::validate(&policy, &small, &request))
    });
    criterion.bench_function("validate deployment, 50 containers", |bencher| {
        bencher.iter(|| engine::validate(&policy, &large, &request))
    });
    criterion.bench_function("mutate deployment, 3 containers", |bencher| {
        bencher.iter(|| engine::mutate(&policy, &small, &request))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
