//! Criterion benchmark of the CEL engine: compiling a typical policy expression, evaluating it on a Pod
//! with many containers, and a whole ValidatingPolicy on a Deployment through autogen.

use criterion::{Criterion, criterion_group, criterion_main};
use policy_lsp::engine::cel::{Activation, Program, Services};
use policy_lsp::engine::kyverno_cel::{Request, validating_policy};
use serde_json::{Value, json};

const EXPRESSION: &str = "object.spec.containers.all(container, \
    container.?securityContext.?capabilities.?add.orValue([]).all(capability, \
    capability in ['AUDIT_WRITE', 'CHOWN', 'KILL', 'NET_BIND_SERVICE']) && \
    !container.image.endsWith(':latest') && quantity(container.?resources.?limits.?memory.orValue('0')).isLessThan(quantity('2Gi')))";

fn pod_spec(containers: usize) -> Value {
    let items: Vec<Value> = (0..containers)
        .map(|index| {
            json!({"name": format!("c{index}"), "image": format!("ghcr.io/app/c{index}:1.{index}"),
                   "securityContext": {"capabilities": {"add": ["CHOWN"]}},
                   "resources": {"limits": {"memory": "512Mi"}}})
        })
        .collect();
    json!({"containers": items})
}

fn benchmark(criterion: &mut Criterion) {
    criterion.bench_function("cel compile", |bench| bench.iter(|| Program::compile(EXPRESSION)));

    let program = Program::compile(EXPRESSION).ok();
    let mut activation = Activation::new();
    activation.bind_json(
        "object",
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec(20)}),
    );
    let services = Services::default();
    criterion.bench_function("cel evaluate (20 containers)", |bench| {
        bench.iter(|| program.as_ref().map(|program| program.evaluate(&activation, &services)))
    });

    let policy = json!({"apiVersion": "policies.kyverno.io/v1alpha1", "kind": "ValidatingPolicy", "metadata": {"name": "bench"},
        "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]},
                 "variables": [{"name": "containers", "expression": "object.spec.containers + object.spec.?initContainers.orValue([])"}],
                 "validations": [{"expression": EXPRESSION, "message": "bench"}]}});
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
        "spec": {"template": {"metadata": {}, "spec": pod_spec(20)}}});
    let request = Request { object: deployment, ..Request::default() };
    criterion.bench_function("ValidatingPolicy on a Deployment (autogen, cached compile + evaluate)", |bench| {
        bench.iter(|| validating_policy(&policy, &request))
    });
}

criterion_group!(benches, benchmark);
criterion_main!(benches);
