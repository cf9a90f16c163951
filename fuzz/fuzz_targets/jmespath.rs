//! Fuzz target: Kyverno's JMESPath (`{{ }}` expressions with Kyverno's functions and the step budget).
//! The first line is the expression; the rest, when it is JSON, is the context document (else a small
//! admission request). Any expression must end with a value or an error, never a panic or a hang.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_lsp::engine::kyverno::jmespath_functions::ClockGuard;
use policy_lsp::engine::kyverno::variables::{JsonContext, substitute_string};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (expression, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let root = serde_json::from_str::<Value>(rest).unwrap_or_else(|_| {
        json!({"request": {"operation": "CREATE", "object": {
            "kind": "Pod",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "1"}},
            "spec": {"containers": [{"name": "a", "image": "nginx:1.25"}, {"name": "b", "image": "busybox"}]}
        }}})
    });
    let _clock = ClockGuard::set(chrono::DateTime::from_timestamp(1_767_225_600, 0));
    let context = JsonContext::new(root);
    let _ = context.query(expression);
    // The same expression the way a policy embeds it, through the substitution loop.
    let _ = substitute_string(&format!("x-{{{{ {expression} }}}}"), &context, "/spec/x");
});
