//! Compile-time checks the `cel` crate does not do: unknown variables, unknown functions and wrong
//! arity, each reported at the line and column of the offending node.

use cel::common::ast::{EntryExpr, Expr, IdedExpr, operators};

use super::eval::{ident_name, qualified_name};
use super::functions::{GLOBAL_FUNCTIONS, MEMBER_FUNCTIONS, is_namespaced};
use super::{CompileError, Program};

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
    operators::HAS,
];

/// (function, fewest arguments, most arguments) for calls whose arity is fixed; receivers not counted.
const ARITY: &[(&str, usize, usize)] = &[
    ("size", 0, 1),
    ("int", 1, 1),
    ("uint", 1, 1),
    ("double", 1, 1),
    ("string", 0, 1),
    ("bool", 1, 1),
    ("type", 1, 1),
    ("dyn", 1, 1),
    ("duration", 1, 1),
    ("timestamp", 1, 1),
    ("contains", 1, 1),
    ("startsWith", 1, 1),
    ("endsWith", 1, 1),
    ("matches", 1, 2),
    ("hasValue", 0, 0),
    ("value", 0, 0),
    ("orValue", 1, 1),
    ("lowerAscii", 0, 0),
    ("upperAscii", 0, 0),
    ("trim", 0, 0),
    ("split", 1, 2),
    ("replace", 2, 3),
    ("substring", 1, 2),
    ("join", 0, 1),
    ("all", 2, 3),
    ("exists", 2, 3),
    ("exists_one", 2, 2),
    ("existsOne", 2, 3),
    ("map", 2, 3),
    ("filter", 2, 2),
    ("quantity", 1, 1),
    ("isQuantity", 1, 1),
    ("url", 1, 1),
    ("isURL", 1, 1),
    ("cidr", 1, 1),
    ("isCIDR", 1, 1),
    ("isIP", 1, 1),
];

/// The names a context binds besides the caller's variables: the library namespaces.
const NAMESPACES: &[&str] = &[
    "optional",
    "sets",
    "lists",
    "math",
    "base64",
    "strings",
    "format",
    "jsonpatch",
    "cel",
    "ip",
    "resource",
    "image",
    "http",
    "globalContext",
    "json",
    "yaml",
    "time",
    "hash",
    "generator",
    "user",
];

const TYPE_NAMES: &[&str] = &["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"];

/// Checks the program against the variables in scope; an empty result means no findings.
pub fn check(program: &Program, variables: &[&str]) -> Vec<CompileError> {
    let mut checker = Checker { program, variables, scopes: Vec::new(), errors: Vec::new() };
    checker.walk(program.expr());
    checker.errors
}

struct Checker<'a> {
    program: &'a Program,
    variables: &'a [&'a str],
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

    fn known_variable(&self, name: &str) -> bool {
        self.scopes.iter().any(|bound| bound == name) || self.variables.contains(&name) || TYPE_NAMES.contains(&name)
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
        if name == operators::HAS {
            if call.args.len() != 1 || !matches!(call.args[0].expr, Expr::Select(_)) {
                self.report(expr, "invalid argument to has() macro".to_string());
            }
            call.args.iter().for_each(|argument| self.walk(argument));
            return;
        }
        if OPERATORS.contains(&name) {
            call.args.iter().for_each(|argument| self.walk(argument));
            return;
        }
        let Some(target) = call.target.as_deref() else {
            if !GLOBAL_FUNCTIONS.contains(&name) {
                self.report_at_name(expr, name, format!("undeclared reference to '{name}'"));
            }
            self.arity(expr, name, call.args.len());
            call.args.iter().for_each(|argument| self.walk(argument));
            return;
        };
        if let Some(namespace) = qualified_name(target) {
            let qualified = format!("{namespace}.{name}");
            if is_namespaced(&qualified) && !self.known_variable(&namespace) || (qualified == "cel.bind") {
                if qualified == "cel.bind" {
                    if let (Some(variable), 3) = (call.args.first().and_then(ident_name), call.args.len()) {
                        self.walk(&call.args[1]);
                        self.scopes.push(variable.to_string());
                        self.walk(&call.args[2]);
                        self.scopes.pop();
                    } else {
                        self.report(expr, "cel.bind() takes a name, a value and an expression".to_string());
                    }
                    return;
                }
                call.args.iter().for_each(|argument| self.walk(argument));
                return;
            }
            if NAMESPACES.contains(&namespace.as_str()) && !self.known_variable(&namespace) {
                self.report(expr, format!("undeclared reference to '{qualified}'"));
                return;
            }
        }
        self.walk(target);
        if !MEMBER_FUNCTIONS.contains(&name) {
            self.report_at_name(expr, name, format!("undeclared reference to '{name}'"));
        }
        self.arity(expr, name, call.args.len());
        // Macros bind their leading identifier arguments for the rest of the call.
        let bound: Vec<String> = if matches!(
            name,
            "all"
                | "exists"
                | "exists_one"
                | "existsOne"
                | "map"
                | "filter"
                | "transformList"
                | "transformMap"
                | "transformMapEntry"
                | "sortBy"
                | "optMap"
                | "optFlatMap"
        ) {
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

    fn arity(&mut self, expr: &IdedExpr, name: &str, count: usize) {
        if let Some((_, fewest, most)) = ARITY.iter().find(|(function, _, _)| *function == name)
            && (count < *fewest || count > *most)
        {
            let expected = if fewest == most { fewest.to_string() } else { format!("{fewest} to {most}") };
            self.report_at_name(expr, name, format!("'{name}' takes {expected} argument(s), found {count}"));
        }
    }
}
