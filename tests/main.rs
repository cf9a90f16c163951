//! The integration tests of policy-lsp, one module per feature, in one binary (one link instead of one per
//! file). Run one module with `cargo test --test integration MODULE::`; the corpus conformance modules
//! are opt-in through `POLICY_LSP_CORPUS` (see .ci/ratchet.sh).

mod cel_completion;
mod cel_diagnostics;
mod cel_policies;
mod cel_spec;
mod changed_since;
mod cli;
mod cli_apply;
mod cli_test_flags;
mod clock;
mod code_actions;
mod codes;
mod completion;
mod config;
mod corpus_apply;
mod corpus_cel;
mod corpus_gatekeeper;
mod corpus_kyverno;
mod corpus_opa;
mod corpus_real_world;
mod diagnostics;
mod editor_robustness;
mod hostile;
mod incremental;
mod inline_tests;
mod jmespath_completion;
mod jmespath_diagnostics;
mod kyverno_test_runner;
mod lsp_completion_e2e;
mod lsp_e2e;
mod lsp_editor_features;
pub(crate) mod lsp_inline_tests;
mod lsp_manifest_checks;
mod lsp_rego;
mod lsp_robustness;
mod manifest_checks;
mod navigation;
mod pattern_completion;
mod pod_security_fixtures;
mod rego_cli;
mod rego_lint;
mod semantic_tokens;
mod shard;
mod support;
mod test_file_completion;
mod tidy;
