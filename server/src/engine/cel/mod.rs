//! The CEL engine: compiles expressions with the `cel` crate's parser, checks names and arities over its
//! AST (the crate has no type checker), and evaluates them with our own interpreter under a step budget.
//!
//! Why an interpreter of our own over the crate's AST: the crate's interpreter has no cost budget (a
//! policy could hang the editor), and Kubernetes semantics for optional chaining, two-variable
//! comprehensions and the library types are easier to keep exact over plain JSON-shaped values.

pub mod activation;
pub mod authorization;
pub mod catalog;
pub mod check;
pub mod docs;
pub mod eval;
pub mod functions;
pub mod library;
pub mod names;
pub mod program;
pub mod runtime;
pub mod value;

pub use activation::{Activation, FIXED_NOW_NANOS, Services, plural_of};
pub use program::{CompileError, Program, compile_cached};
pub use runtime::{DEFAULT_STEP_BUDGET, EvalResult, Interpreter};
pub use value::Val;

impl Program {
    /// Compiles and checks names and arities against what `environment` declares.
    pub fn compile_checked(source: &str, environment: &catalog::Environment) -> Result<Program, Vec<CompileError>> {
        let program = Program::compile(source)?;
        let errors = check::check(&program, environment);
        if errors.is_empty() { Ok(program) } else { Err(errors) }
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
        let interpreter = Interpreter::new(activation, services, budget);
        interpreter.eval(self.expr())
    }
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
