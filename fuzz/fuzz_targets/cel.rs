//! Fuzz target: CEL. Any text must compile to a program or to errors with positions inside the text, and
//! a program must evaluate to a value or an error within the step budget, never a panic or a hang.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_lsp::engine::cel::catalog::KUBERNETES_ADMISSION;
use policy_lsp::engine::cel::check::check;
use policy_lsp::engine::cel::{Activation, Program, Services};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let program = match Program::compile(source) {
        Ok(program) => program,
        Err(errors) => {
            for error in errors {
                assert!(error.line >= 1 && error.column >= 1, "{error:?}");
            }
            return;
        }
    };
    let _ = check(&program, &KUBERNETES_ADMISSION);
    let mut activation = Activation::new();
    activation.bind_json(
        "object",
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "a", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}),
    );
    activation.bind_json("oldObject", &json!(null));
    activation.bind_json("request", &json!({"operation": "CREATE", "userInfo": {"username": "u"}}));
    activation.bind_json("params", &json!({"max": 3, "names": ["a", "b"]}));
    activation.bind_json("variables", &json!({}));
    let _ = program.evaluate_with_budget(&activation, &Services::default(), 200_000);
});
