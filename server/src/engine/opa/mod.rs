//! Plain Rego files as OPA reads them: modules with their Rego version, a run's modules and data compiled
//! together, `opa test`'s discovery and verdicts, and `opa eval`'s JSON output. It evaluates through
//! regorus with the OPA-compatibility rewrite, checks and built-ins of `engine::gatekeeper`.
//!
//! Everything here is pure: texts and values in, values and byte ranges out.

mod bundle;
mod data;
mod eval;
mod module;
mod tester;

pub use bundle::{
    Bundle, CompileProblem, CompiledBundle, ModuleFinding, RunLimits, TestCase, check, compile, discover_tests,
};
pub use data::merge_data_file;
pub use eval::{EvalOutput, errors_document, evaluate};
pub use module::{
    Import, Module, ParseFailure, RegoVersion, Rule, RuleKind, SKIP_TEST_PREFIX, TEST_PREFIX, VersionSetting,
    imports_rego_v1, parse_module,
};
pub use tester::{TestRun, TestVerdict};

#[cfg(test)]
mod tests;
