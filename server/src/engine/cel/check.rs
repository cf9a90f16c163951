//! Compile-time checks the `cel` crate does not do: unknown variables, unknown functions and wrong
//! arity against the names one environment declares ([`catalog`]), each reported at the line and
//! column of the offending node, with the messages cel-go gives.

use cel::common::ast::{EntryExpr, Expr, IdedExpr, operators};

use super::catalog::{self, Environment, Function};
use super::names::{TYPE_NAMES, ident_name, qualified_name};
use super::program::{CompileError, Program};

const OPERATORS: &[&str] = &[
    operators::CONDITIONAL,
    operators::LOGICAL_AND,
    operators::LOGICAL_OR,
    operators::LOGICAL_NOT,
    operators::SUBSTRACT,
    operators::ADD,
    operators::MULTIPLY,
    operators::DIVIDE,
    operators::MODULO,
    operators::EQUALS,
    operators::NOT_EQUALS,
    operators::GREATER_EQUALS,
    operators::LESS_EQUALS,
    operators::GREATER,
    operators::LESS,
    operators::NEGATE,
    operators::INDEX,
    operators::OPT_INDEX,
    operators::OPT_SELECT,
    operators::NOT_STRICTLY_FALSE,
    operators::IN,
];

/// Checks the program against the names `environment` declares; an empty result means no findings.
pub fn check(program: &Program, environment: &Environment) -> Vec<CompileError> {
    let variables = environment.all_variables();
    let mut checker = Checker { program, environment, variables, scopes: Vec::new(), errors: Vec::new() };
    checker.walk(program.expr());
    checker.errors
}

struct Checker<'a> {
    program: &'a Program,
    environment: &'a Environment,
    variables: Vec<&'static str>,
    scopes: Vec<String>,
    errors: Vec<CompileError>,
}

impl Checker<'_> {
    fn report(&mut self, expr: &IdedExpr, message: String) {
        let (line, column, offset) = self.program.position_of(expr.id);
        self.errors.push(CompileError { message, line, column, offset });
    }

    /// Reports at a call's function name: the parser places calls at their `(`.
    fn report_at_name(&mut self, expr: &IdedExpr, name: &str, message: String) {
        let (line, column, offset) = self.program.position_of(expr.id);
        let before: String = self.program.source.chars().take(offset).collect();
        let width = name.chars().count();
        let (column, offset) = if before.trim_end().ends_with(name) && column > width {
            let gap = before.chars().count() - before.trim_end().chars().count();
            (column - width - gap, offset - width - gap)
        } else {
            (column, offset)
        };
        self.errors.push(CompileError { message, line, column, offset });
    }

    fn in_scope(&self, name: &str) -> bool {
        self.scopes.iter().any(|bound| bound == name)
    }

    fn known_variable(&self, name: &str) -> bool {
        self.in_scope(name) || self.variables.contains(&name) || TYPE_NAMES.contains(&name)
    }

    fn walk(&mut self, expr: &IdedExpr) {
        match &expr.expr {
            Expr::Ident(name) => {
                if !self.known_variable(name) {
                    self.report(expr, format!("undeclared reference to '{name}'"));
                }
            }
            Expr::Select(select) => self.walk(&select.operand),
            Expr::List(list) => list.elements.iter().for_each(|element| self.walk(element)),
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(entry) = &entry.expr {
                        self.walk(&entry.key);
                        self.walk(&entry.value);
                    }
                }
            }
            Expr::Struct(structure) => {
                for entry in &structure.entries {
                    if let EntryExpr::StructField(field) = &entry.expr {
                        self.walk(&field.value);
                    }
                }
            }
            Expr::Comprehension(comprehension) => {
                self.walk(&comprehension.iter_range);
                self.walk(&comprehension.accu_init);
                self.scopes.push(comprehension.iter_var.clone());
                self.scopes.push(comprehension.accu_var.clone());
                self.walk(&comprehension.loop_cond);
                self.walk(&comprehension.loop_step);
                self.walk(&comprehension.result);
                self.scopes.truncate(self.scopes.len().saturating_sub(2));
            }
            Expr::Call(call) => self.call(expr, call),
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    fn call(&mut self, expr: &IdedExpr, call: &cel::common::ast::CallExpr) {
        let name = call.func_name.as_str();
        if OPERATORS.contains(&name) {
            call.args.iter().for_each(|argument| self.walk(argument));
            return;
        }
        let Some(target) = call.target.as_deref() else {
            let overloads: Vec<Function> = self.environment.globals(name).copied().collect();
            match overloads.first() {
                Some(_) => {
                    self.arity(expr, name, call.args.len(), &overloads);
                    if name == operators::HAS
                        && !call.args.first().is_some_and(|argument| matches!(argument.expr, Expr::Select(_)))
                    {
                        self.report(expr, "invalid argument to has() macro".to_string());
                    }
                }
                None => self.report_at_name(expr, name, format!("undeclared reference to '{name}'")),
            }
            call.args.iter().for_each(|argument| self.walk(argument));
            return;
        };
        // `sets.contains(...)`, `envoy.Denied(...)` and `resource.get(...)`: the receiver names a namespace
        // or a library variable, unless a comprehension variable of the same name hides it.
        if let Some(namespace) = qualified_name(target).filter(|namespace| !self.in_scope(root_of(namespace))) {
            let qualified = format!("{namespace}.{name}");
            let overloads: Vec<Function> = self.environment.globals(&qualified).copied().collect();
            if !overloads.is_empty() {
                self.arity(expr, name, call.args.len(), &overloads);
                if qualified == "cel.bind" {
                    self.bind(expr, call);
                } else {
                    call.args.iter().for_each(|argument| self.walk(argument));
                }
                return;
            }
            if self.environment.library_of_variable(&namespace).is_some() {
                match self.environment.on_variable(&namespace, name) {
                    Some(function) => {
                        let function = *function;
                        self.arity(expr, name, call.args.len(), &[function]);
                    }
                    None => self.report_at_name(expr, name, format!("undeclared reference to '{name}'")),
                }
                call.args.iter().for_each(|argument| self.walk(argument));
                return;
            }
        }
        self.walk(target);
        let candidates: Vec<Function> = self.environment.members(name).copied().collect();
        if candidates.is_empty() {
            self.report_at_name(expr, name, format!("undeclared reference to '{name}'"));
        } else {
            self.arity(expr, name, call.args.len(), &candidates);
        }
        let is_macro = candidates.iter().any(|function| function.is_macro);
        // Macros bind their leading identifier arguments for the rest of the call: one for `map(x, f, e)`,
        // `filter` and the one-variable forms, two for the two-variable comprehensions.
        let bound: Vec<String> = if is_macro {
            let count = if call.args.len() >= 3 && !matches!(name, "map" | "filter") { 2 } else { 1 };
            call.args.iter().take(count).filter_map(ident_name).map(str::to_string).collect()
        } else {
            Vec::new()
        };
        let skip = bound.len();
        self.scopes.extend(bound);
        for argument in call.args.iter().skip(skip) {
            self.walk(argument);
        }
        self.scopes.truncate(self.scopes.len().saturating_sub(skip));
    }

    /// `cel.bind(name, value, expression)`: the name is in scope in the expression only.
    fn bind(&mut self, expr: &IdedExpr, call: &cel::common::ast::CallExpr) {
        if let (Some(variable), 3) = (call.args.first().and_then(ident_name), call.args.len()) {
            self.walk(&call.args[1]);
            self.scopes.push(variable.to_string());
            self.walk(&call.args[2]);
            self.scopes.pop();
        } else {
            self.report(expr, "cel.bind() takes a name, a value and an expression".to_string());
        }
    }

    /// Reports a call whose argument count no overload of `candidates` accepts.
    fn arity(&mut self, expr: &IdedExpr, name: &str, count: usize, candidates: &[Function]) {
        if candidates.is_empty() || candidates.iter().any(|function| function.accepts(count)) {
            return;
        }
        let fewest = candidates.iter().map(|function| function.arity.0).min().unwrap_or(0);
        let most = candidates.iter().map(|function| function.arity.1).max().unwrap_or(0);
        let expected = catalog::Function { arity: (fewest, most), ..candidates[0] }.arity_text();
        self.report_at_name(expr, name, format!("'{name}' takes {expected} argument(s), found {count}"));
    }
}

fn root_of(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}
