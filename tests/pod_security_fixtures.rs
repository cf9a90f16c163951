//! The podSecurity checks against the upstream Pod Security Admission fixtures (opt-in: set
//! POLICY_LSP_UPSTREAM to the folder holding `kubernetes/pod-security/fixtures`). Pods under `pass/`
//! must pass at their level and Pods under `fail/` must fail.

use std::path::Path;

use policy_lsp::engine::kyverno::{self as engine, Request, RuleStatus};
use serde_json::json;

fn status(level: &str, pod: &serde_json::Value) -> RuleStatus {
    let policy = json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": "pss", "annotations": {"pod-policies.kyverno.io/autogen-controllers": "none"}},
        "spec": {"rules": [{
            "name": "pss",
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"podSecurity": {"level": level, "version": "latest"}}
        }]}
    });
    let responses = engine::validate(&policy, pod, &Request::default());
    responses.first().map(|response| response.status).unwrap_or(RuleStatus::Skip)
}

#[test]
fn upstream_pod_security_fixtures() {
    let Ok(root) = std::env::var("POLICY_LSP_UPSTREAM") else {
        eprintln!("POLICY_LSP_UPSTREAM is not set: skipping the pod security fixtures");
        return;
    };
    let base = Path::new(&root).join("kubernetes/pod-security/fixtures");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for level in ["baseline", "restricted"] {
        for (folder, expected) in [("pass", RuleStatus::Pass), ("fail", RuleStatus::Fail)] {
            let directory = base.join(level).join("v1.35").join(folder);
            let Ok(entries) = std::fs::read_dir(&directory) else {
                continue;
            };
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                for document in policy_lsp::syntax::parse_file(&text) {
                    if document.value.get("kind").and_then(|kind| kind.as_str()) != Some("Pod") {
                        continue;
                    }
                    checked += 1;
                    let actual = status(level, &document.value);
                    if actual != expected {
                        wrong.push(format!("{level}/{folder}/{}: {actual:?}", entry.file_name().to_string_lossy()));
                    }
                }
            }
        }
    }
    println!("pod security fixtures: {} of {checked} agree", checked - wrong.len());
    assert!(checked > 0, "no fixtures found under {}", base.display());
    assert!(wrong.is_empty(), "disagreements:\n{}", wrong.join("\n"));
}
