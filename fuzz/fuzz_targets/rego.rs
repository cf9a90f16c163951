//! Fuzz target: the Rego wrapper. The input is the Rego of a ConstraintTemplate: the editor's checks
//! (rewrite, parse, unsafe variables, framework rules) and, when it compiles, a review of a Pod under a
//! short time limit. Nothing may panic or run past the limit.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use policy_lsp::engine::gatekeeper::{EvaluationOptions, compile_template, rego_diagnostics, review};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(rego) = std::str::from_utf8(data) else { return };
    let template = json!({
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": "k8sfuzz"},
        "spec": {
            "crd": {"spec": {"names": {"kind": "K8sFuzz"}}},
            "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": rego}]
        }
    });
    let _ = rego_diagnostics(&template);
    let options = EvaluationOptions { time_limit: Duration::from_millis(500) };
    let Ok(compiled) = compile_template(&template, options) else { return };
    let constraint = json!({
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sFuzz",
        "metadata": {"name": "fuzz"},
        "spec": {"parameters": {"labels": ["app"], "max": 2}}
    });
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default",
        "labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}});
    let _ = review(&compiled, &constraint, &pod, &[pod.clone()]);
});
