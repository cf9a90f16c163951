//! The modules and data of one OPA run compiled together, as `opa test` and `opa eval` load them: the
//! compile-time checks OPA's compiler makes, the renaming of duplicate test names, and one regorus engine
//! that evaluates queries and tests over all of it.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::Value;

use super::module::{Module, RuleKind};
use crate::base::TextRange;
use crate::engine::gatekeeper::rewrite::Insertion;
use crate::engine::gatekeeper::{CheckInput, add_opa_builtins, check_modules, reported_message};

/// What one run evaluates: parsed modules (in the order OPA lists them, by file name) and the data
/// document the data files make.
pub struct Bundle {
    pub modules: Vec<Module>,
    pub data: Value,
}

/// Limits of a run.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// Wall-clock limit of one test or one query (`opa test --timeout`, 5 seconds by default).
    pub timeout: Duration,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits { timeout: Duration::from_secs(5) }
    }
}

/// Why a bundle does not compile: the module (when it is one module's fault), where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileProblem {
    pub module: Option<usize>,
    pub range: TextRange,
    pub message: String,
}

/// One test rule definition, as `opa test` names and runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCase {
    /// The index of its module in the bundle.
    pub module: usize,
    /// `data.k8s.labels`.
    pub package: String,
    /// The rule's name under the package, with `#01`, `#02` for the second and later definitions of the
    /// same name, as OPA's runner renames them (`test_missing_label#01`).
    pub name: String,
    /// A `todo_test_` rule: reported as skipped, never run.
    pub skip: bool,
    /// The rule's head, then its whole definition, in the module's text.
    pub name_range: TextRange,
    pub range: TextRange,
    /// `test_x[note] if ...`: every key of the object is a test case of its own.
    pub partial_object: bool,
    query: String,
}

impl TestCase {
    /// `data.k8s.labels.test_missing_label`, the name `opa test --run` matches.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.package, self.name)
    }
}

/// A bundle ready to evaluate.
pub struct CompiledBundle {
    pub(super) engine: regorus::Engine,
    pub tests: Vec<TestCase>,
    /// The modules' names, which regorus puts in front of what `print` writes.
    pub(super) module_names: Vec<String>,
}

/// The suffix that makes a duplicate test's rule name unique for regorus; reported as OPA's `#NN`.
const DUPLICATE_MARK: &str = "__policy_lsp_duplicate_";

/// What OPA's compiler finds in a module compiled with others, at byte offsets of the module's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleFinding {
    /// The index of the module in the checked list.
    pub module: usize,
    pub range: TextRange,
    pub message: String,
    /// A deprecated built-in called in Rego v0: OPA compiles it, so it is a warning, not an error.
    pub deprecated: bool,
}

/// Checks modules compiled together as OPA's compiler does (undefined functions, argument counts,
/// recursion, unsafe variables, deprecated built-ins), without evaluating anything.
pub fn check(modules: &[Module]) -> Vec<ModuleFinding> {
    let inputs: Vec<CheckInput<'_>> = modules
        .iter()
        .map(|module| CheckInput { module: &module.prepared, rego_v1: module.version.is_v1(), framework: None })
        .collect();
    check_modules(&inputs, &BTreeSet::new())
        .into_iter()
        .map(|finding| ModuleFinding {
            module: finding.module,
            range: TextRange::new(finding.start, finding.end),
            message: finding.message,
            deprecated: finding.deprecated,
        })
        .collect()
}

/// Compiles a bundle as OPA's compiler would, or says why it refuses it.
pub fn compile(bundle: &Bundle, limits: RunLimits) -> Result<CompiledBundle, Vec<CompileProblem>> {
    // A deprecated built-in in Rego v0 is a warning of the editor; OPA compiles it.
    let findings: Vec<ModuleFinding> =
        check(&bundle.modules).into_iter().filter(|finding| !finding.deprecated).collect();
    if !findings.is_empty() {
        return Err(findings
            .into_iter()
            .map(|finding| CompileProblem {
                module: Some(finding.module),
                range: finding.range,
                message: finding.message,
            })
            .collect());
    }
    let (tests, renames) = tests_and_renames(&bundle.modules);
    let functions = package_functions(&bundle.modules);
    let mut engine = regorus::Engine::new();
    for (index, module) in bundle.modules.iter().enumerate() {
        let mut rewritten = module.prepared.rewritten.clone();
        let mut insertions = renames.get(&index).cloned().unwrap_or_default();
        insertions.extend(qualified_local_calls(module, &functions));
        rewritten.apply(insertions);
        engine.set_rego_v0(!module.version.is_v1());
        if let Err(error) = engine.add_policy(module.name.clone(), rewritten.text.clone()) {
            return Err(vec![CompileProblem {
                module: Some(index),
                range: TextRange::empty(0),
                message: reported_message(&error.to_string()),
            }]);
        }
    }
    let whole_run = |message: String| vec![CompileProblem { module: None, range: TextRange::empty(0), message }];
    // The deprecated built-ins exist for the v0 modules (a v1 module that calls one did not compile).
    let all_v1 = bundle.modules.iter().all(|module| module.version.is_v1());
    add_opa_builtins(&mut engine, all_v1).map_err(|error| whole_run(error.to_string()))?;
    // `opa test` and `opa eval` turn a failing built-in into undefined unless told to raise its errors.
    engine.set_strict_builtin_errors(false);
    engine.add_data(regorus::Value::from(bundle.data.clone())).map_err(|error| whole_run(error.to_string()))?;
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: limits.timeout,
        check_interval: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
    });
    engine.set_gather_prints(true);
    // Analysing the modules (rule dependencies, scheduling) happens before the first query: make it happen
    // now, so that what it rejects is a compile problem of the run, not an error of one test.
    if let Err(error) = engine.eval_query("true".to_string(), false) {
        return Err(whole_run(reported_message(&error.to_string())));
    }
    let _ = engine.take_prints();
    let module_names = bundle.modules.iter().map(|module| module.name.clone()).collect();
    Ok(CompiledBundle { engine, tests, module_names })
}

/// The test rules of every module in OPA's order (modules as given, rules as written), with OPA's names.
pub fn discover_tests(modules: &[Module]) -> Vec<TestCase> {
    tests_and_renames(modules).0
}

/// The test rules of every module, and the renamings that give the second and later definitions of a
/// name their own rule.
fn tests_and_renames(modules: &[Module]) -> (Vec<TestCase>, BTreeMap<usize, Vec<Insertion>>) {
    let mut tests = Vec::new();
    let mut renames: BTreeMap<usize, Vec<Insertion>> = BTreeMap::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, module) in modules.iter().enumerate() {
        let package = module.package_path();
        for rule in &module.rules {
            let Some((name, name_index)) = rule.test_name() else { continue };
            let path = &rule.path[..=name_index];
            let key = format!("{package}.{}", path.join("."));
            let count = seen.entry(key).or_insert(0);
            let mut shown = path.join(".");
            let mut query_path = path.to_vec();
            // OPA's runner renames only `test_` rules; a repeated `todo_test_` stays one rule.
            if *count > 0
                && name.starts_with(super::module::TEST_PREFIX)
                && let Some(end) = rule.part_ends.get(name_index)
            {
                shown.push_str(&format!("#{count:02}"));
                if let Some(last) = query_path.last_mut() {
                    last.push_str(&format!("{DUPLICATE_MARK}{count:02}"));
                }
                renames
                    .entry(index)
                    .or_default()
                    .push(Insertion { offset: *end, text: format!("{DUPLICATE_MARK}{count:02}") });
            }
            *count += 1;
            tests.push(TestCase {
                module: index,
                package: package.clone(),
                name: shown,
                skip: rule.is_skipped_test(),
                name_range: rule.name_range,
                range: rule.range,
                partial_object: rule.kind == RuleKind::PartialObject,
                query: reference(&module.package, &query_path),
            });
        }
    }
    (tests, renames)
}

/// The functions each package defines, by `data.` path of the package.
fn package_functions(modules: &[Module]) -> BTreeMap<String, BTreeSet<String>> {
    let mut functions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in modules {
        for rule in &module.rules {
            if let (RuleKind::Function(_), [name]) = (rule.kind, rule.path.as_slice()) {
                functions.entry(module.package_path()).or_default().insert(name.clone());
            }
        }
    }
    functions
}

/// Calls of the package's own functions by their bare name, and `with` targets naming them, written out
/// in full (`data.k8s.labels.f`). A test in another package mocks such a function by its full path, and
/// OPA replaces the function wherever it is called; regorus matches a `with` replacement against the
/// call as written, so the calls must be written the way the mock is.
fn qualified_local_calls(module: &Module, functions: &BTreeMap<String, BTreeSet<String>>) -> Vec<Insertion> {
    let package = module.package_path();
    let Some(own) = functions.get(&package) else { return Vec::new() };
    let is_identifier = |part: &String| {
        part.chars().next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && part.chars().all(|character| character.is_ascii_alphanumeric() || character == '_')
    };
    if !module.package.iter().all(is_identifier) {
        return Vec::new();
    }
    let aliases: BTreeSet<&str> = module.imports.iter().map(|import| import.alias.as_str()).collect();
    let mut offsets = Vec::new();
    collect_bare_names(&module.prepared.ast, &mut offsets);
    offsets
        .into_iter()
        .filter(|(name, _)| own.contains(name) && !aliases.contains(name.as_str()))
        .map(|(_, offset)| Insertion { offset, text: format!("{package}.") })
        .collect()
}

/// The bare names (a single variable) that calls and `with` targets use, with where each starts.
fn collect_bare_names(value: &Value, found: &mut Vec<(String, usize)>) {
    match value {
        Value::Object(map) => {
            let targets = map.get("Call").and_then(|call| call.get("fcn")).into_iter().chain(
                map.get("with_mods")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|with| with.get("refr")),
            );
            for target in targets {
                if let Some(var) = target.get("Var")
                    && let Some(name) = var.get("value").and_then(Value::as_str)
                    && let Some(start) = var.pointer("/span/start").and_then(Value::as_u64)
                {
                    found.push((name.to_string(), start as usize));
                }
            }
            for child in map.values() {
                collect_bare_names(child, found);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_bare_names(item, found);
            }
        }
        _ => {}
    }
}

/// `data["k8s"]["labels"]["test_x"]`: a reference any package or rule name can be written in.
fn reference(package: &[String], path: &[String]) -> String {
    let mut text = String::from("data");
    for part in package.iter().chain(path) {
        text.push('[');
        text.push_str(&Value::String(part.clone()).to_string());
        text.push(']');
    }
    text
}

impl CompiledBundle {
    /// The query that evaluates a test.
    pub(super) fn test_query(test: &TestCase) -> &str {
        &test.query
    }

    /// What `print` wrote since the last call, as OPA shows it: without the `file:line: ` regorus puts in
    /// front.
    pub(super) fn take_output(&mut self) -> Vec<String> {
        let printed = self.engine.take_prints().unwrap_or_default();
        printed
            .into_iter()
            .map(|line| {
                for name in &self.module_names {
                    if let Some(rest) = line.strip_prefix(name.as_str()).and_then(|rest| rest.strip_prefix(':'))
                        && let Some((number, text)) = rest.split_once(": ")
                        && number.bytes().all(|byte| byte.is_ascii_digit())
                    {
                        return text.to_string();
                    }
                }
                line
            })
            .collect()
    }
}
