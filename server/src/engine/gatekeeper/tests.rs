//! Unit tests of the Gatekeeper engine, each through one `check`-style helper per feature.

#[test]
fn scratch_dump() {
    let text = std::fs::read_to_string("/work/shared/corpus/gatekeeper-library/general/horizontalpodautoscaler/template.yaml").unwrap();
    let docs = crate::syntax::parse_file(&text);
    let code = super::rego_code(&docs[0].value).unwrap();
    let module = super::prepare_module("rego", &code.rego, false).ok().unwrap();
    println!("{}", module.rewritten.text);
}

#[test]
fn scratch_eval() {
    let text = std::fs::read_to_string("/work/shared/corpus/gatekeeper-library/general/horizontalpodautoscaler/template.yaml").unwrap();
    let docs = crate::syntax::parse_file(&text);
    let code = super::rego_code(&docs[0].value).unwrap();
    let module = super::prepare_module("rego", &code.rego, false).ok().unwrap();
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    engine.add_policy("rego".into(), module.rewritten.text.clone()).unwrap();
    let input = serde_json::json!({"parameters": {"minimumReplicaSpread": 1, "enforceScaleTargetRef": true, "ranges": [{"min_replicas": 3, "max_replicas": 6}]},
      "review": {"kind": {"kind": "HorizontalPodAutoscaler"}, "object": {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "x", "namespace": "default"}, "spec": {"minReplicas": 2, "maxReplicas": 7}}}});
    engine.set_input(regorus::Value::from(input));
    for query in ["data.k8shorizontalpodautoscaler.input_replica_limit(input.review.object)", "data.k8shorizontalpodautoscaler.value_within_range(input.parameters.ranges[0], 2, 7)",
        "not data.k8shorizontalpodautoscaler.input_replica_limit(input.review.object)", "data.k8shorizontalpodautoscaler.violation", "count(input.parameters.ranges) > 0"] {
        println!("{query}: {:?}", engine.eval_query(query.into(), false).map(|r| serde_json::to_string(&r).unwrap()));
    }
}
