//! Fuzz target: the Kyverno pattern engine (anchors, operators, wildcards, quantities, durations) and a
//! whole validate rule built around the pattern. The input is two JSON values, the resource and then the
//! pattern; anything else is matched as text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_lsp::engine::kyverno::pattern::{
    match_pattern, parse_duration, parse_quantity, validate_value, wildcard_match,
};
use policy_lsp::engine::kyverno::{Request, validate};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_duration(&text);
    let _ = parse_quantity(&text);
    if let Some((pattern, subject)) = text.split_once('\n') {
        let _ = wildcard_match(pattern, subject);
    }
    let mut values = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    let (Some(Ok(resource)), Some(Ok(pattern))) = (values.next(), values.next()) else { return };
    let _ = match_pattern(&resource, &pattern);
    let _ = validate_value(&resource, &pattern);
    let policy = json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": "fuzz"},
        "spec": {"rules": [
            {"name": "pattern", "match": {"any": [{"resources": {"kinds": ["*"]}}]},
             "validate": {"message": "m", "pattern": pattern}},
            {"name": "any-pattern", "match": {"any": [{"resources": {"kinds": ["*"]}}]},
             "validate": {"message": "m", "anyPattern": [pattern, {"metadata": {"name": "?*"}}]}},
            {"name": "deny", "match": {"any": [{"resources": {"kinds": ["*"]}}]},
             "validate": {"message": "m", "deny": {"conditions": {"any": [
                 {"key": "{{ request.object.metadata.name }}", "operator": "AnyIn", "value": pattern}]}}}}
        ]}
    });
    let resource = match resource {
        Value::Object(mut map) => {
            map.entry("kind").or_insert(json!("Pod"));
            map.entry("apiVersion").or_insert(json!("v1"));
            Value::Object(map)
        }
        other => json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": other}),
    };
    let _ = validate(&policy, &resource, &Request::default());
});
