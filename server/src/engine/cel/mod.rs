//! The CEL engine: compiles expressions with the `cel` crate's parser, checks names and arities over its
//! AST (the crate has no type checker), and evaluates them with our own interpreter under a step budget.
//!
//! Why an interpreter of our own over the crate's AST: the crate's interpreter has no cost budget (a
//! policy could hang the editor), and Kubernetes semantics for optional chaining, two-variable
//! comprehensions and the library types are easier to keep exact over plain JSON-shaped values.

pub mod authorization;
pub mod catalog;
pub mod check;
pub mod docs;
pub mod eval;
pub mod functions;
pub mod library;
pub mod value;

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::ast::{IdedExpr, SourceInfo};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::model::KubernetesObject;

pub use eval::DEFAULT_STEP_BUDGET;
pub use value::Val;

/// A compile or check error with its place inside the expression text (1-based line and column in
/// characters, plus the character offset) so the editor can land on the exact spot in a YAML scalar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// A parsed expression, ready to evaluate many times.
#[derive(Debug)]
pub struct Program {
    pub source: String,
    expr: IdedExpr,
    source_info: Arc<SourceInfo>,
}

/// The variables one evaluation sees.
#[derive(Clone, Debug, Default)]
pub struct Activation {
    pub variables: HashMap<String, Val>,
}

impl Activation {
    pub fn new() -> Self {
        Activation::default()
    }

    pub fn bind(&mut self, name: &str, value: Val) {
        self.variables.insert(name.to_string(), value);
    }

    pub fn bind_json(&mut self, name: &str, value: &Value) {
        self.variables.insert(name.to_string(), Val::from_json(value));
    }
}

/// What Kyverno's libraries read from outside the expression, served from test files (never the network).
#[derive(Clone, Debug, Default)]
pub struct Services {
    /// Objects of the fake cluster for `resource.Get` and `resource.List`.
    pub cluster_objects: Vec<Value>,
    /// Image data by reference for `image.GetMetadata`.
    pub image_data: Map<String, Value>,
    /// Global context entries by name for `globalContext.Get`.
    pub global_context: Map<String, Value>,
    /// Mocked HTTP responses: (method, url, response); an empty method answers any method.
    pub http_mocks: Vec<(String, String, Value)>,
    /// The time `time.now()` answers, handed down from the front end's clock for each run (the engines
    /// never read the clock); `None` answers [`FIXED_NOW_NANOS`].
    pub now: Option<DateTime<Utc>>,
    /// Where a library call records that it needed a registry or the network (an image's metadata
    /// not in the test's context file, an HTTP call without a mocked response).
    pub offline_gaps: crate::engine::offline::OfflineGaps,
    /// The namespace of a Namespaced policy, which its `resource` functions read; empty otherwise.
    pub policy_namespace: String,
    /// The request is admitted to a live cluster whose objects are not known here (`apply`): what
    /// `resource.Get`, `resource.List` and `globalContext.Get` would read from it is an offline gap.
    pub live_cluster: bool,
}

impl Services {
    /// The time `time.now()` answers, in nanoseconds since the epoch.
    pub fn now_nanos(&self) -> i128 {
        self.now.map_or(FIXED_NOW_NANOS, |now| {
            i128::from(now.timestamp()) * 1_000_000_000 + i128::from(now.timestamp_subsec_nanos())
        })
    }

    /// Objects of the fake cluster with the given apiVersion, plural resource name and namespace.
    pub fn find_resource(&self, api_version: &str, resource: &str, namespace: &str, name: Option<&str>) -> Vec<&Value> {
        self.cluster_objects
            .iter()
            .filter(|object| {
                let object_version = object.api_version();
                let kind = object.kind();
                let object_namespace = object.namespace();
                let object_name = object.name();
                (api_version.is_empty() || object_version == api_version)
                    && plural_of(kind) == resource.to_ascii_lowercase()
                    && (namespace.is_empty()
                        || object_namespace == namespace
                        || object_namespace.is_empty() && namespace == "default")
                    && name.is_none_or(|wanted| wanted == object_name)
            })
            .collect()
    }
}

/// The lowercase plural resource name Kubernetes derives from a kind.
pub fn plural_of(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s') || lower.ends_with("x") || lower.ends_with("ch") || lower.ends_with("sh") {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y').filter(|stem| !stem.ends_with(['a', 'e', 'o', 'u'])) {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

impl Program {
    /// Parses `source`. Errors carry the line and column inside the expression.
    pub fn compile(source: &str) -> Result<Program, Vec<CompileError>> {
        let parser = cel::Env::default().with_optional_support(true).parser().enable_ident_escape_syntax(true);
        // The parser is generated by ANTLR and may panic on pathological input; a panic must not take
        // down the server, so it becomes a compile error.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse_with_source_info(source)));
        match parsed {
            Ok(Ok((expr, source_info))) => {
                Ok(Program { source: source.to_string(), expr, source_info: Arc::new(source_info) })
            }
            Ok(Err(errors)) => Err(errors
                .errors
                .iter()
                .map(|error| {
                    let line = error.pos.0.max(1) as usize;
                    // The crate reports 1-based columns already.
                    let column = error.pos.1.max(1) as usize;
                    CompileError { message: error.msg.clone(), line, column, offset: offset_of(source, line, column) }
                })
                .collect()),
            Err(_) => Err(vec![CompileError {
                message: "the expression could not be parsed".to_string(),
                line: 1,
                column: 1,
                offset: 0,
            }]),
        }
    }

    /// Compiles and checks names and arities against what `environment` declares.
    pub fn compile_checked(source: &str, environment: &catalog::Environment) -> Result<Program, Vec<CompileError>> {
        let program = Program::compile(source)?;
        let errors = check::check(&program, environment);
        if errors.is_empty() { Ok(program) } else { Err(errors) }
    }

    pub fn expr(&self) -> &IdedExpr {
        &self.expr
    }

    /// The 1-based line and column and the character offset where the node with `id` starts.
    pub fn position_of(&self, id: u64) -> (usize, usize, usize) {
        let start = self.source_info.offset_for(id).map_or(0, |(start, _)| start as usize);
        let mut line = 1;
        let mut column = 1;
        for (index, character) in self.source.chars().enumerate() {
            if index == start {
                break;
            }
            if character == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        (line, column, start)
    }

    /// Evaluates with the default step budget.
    pub fn evaluate(&self, activation: &Activation, services: &Services) -> Result<Val, String> {
        self.evaluate_with_budget(activation, services, DEFAULT_STEP_BUDGET)
    }

    pub fn evaluate_with_budget(
        &self,
        activation: &Activation,
        services: &Services,
        budget: u64,
    ) -> Result<Val, String> {
        let interpreter = eval::Interpreter::new(activation, services, budget);
        interpreter.eval(&self.expr)
    }
}

/// What `time.now()` answers when the caller has no clock (2026-01-01T00:00:00Z, in nanoseconds since the
/// epoch), so that evaluations without one are reproducible.
pub const FIXED_NOW_NANOS: i128 = 1_767_225_600 * 1_000_000_000;

/// Compiles through a process-wide cache: policies evaluate the same expressions for every resource,
/// and parsing costs more than evaluating. The cache is bounded; when full it starts over.
pub fn compile_cached(source: &str) -> Result<Arc<Program>, Vec<CompileError>> {
    use std::collections::HashMap as Cache;
    use std::sync::{Mutex, OnceLock};
    const LIMIT: usize = 4096;
    static CACHE: OnceLock<Mutex<Cache<String, Arc<Program>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Cache::new()));
    if let Some(found) = cache.lock().ok().and_then(|map| map.get(source).cloned()) {
        return Ok(found);
    }
    let program = Arc::new(Program::compile(source)?);
    if let Ok(mut map) = cache.lock() {
        if map.len() >= LIMIT {
            map.clear();
        }
        map.insert(source.to_string(), program.clone());
    }
    Ok(program)
}

/// The character offset of a 1-based line and column.
fn offset_of(source: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, text) in source.split('\n').enumerate() {
        if index + 1 == line {
            return offset + column.saturating_sub(1);
        }
        offset += text.chars().count() + 1;
    }
    offset
}

/// Compiles and evaluates one expression: a convenience for tests and one-off callers.
pub fn evaluate_source(source: &str, activation: &Activation, services: &Services) -> Result<Val, String> {
    let program = Program::compile(source).map_err(|errors| {
        errors
            .iter()
            .map(|error| format!("{}:{}: {}", error.line, error.column, error.message))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    program.evaluate(activation, services)
}

#[cfg(test)]
mod tests;
