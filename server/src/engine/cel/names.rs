//! How the parser's AST spells names: a plain identifier, a dotted name (`a.b.c` parses as field
//! selections), and the type names that are values. Read alike by the checker and the interpreter.

use cel::common::ast::{Expr, IdedExpr};

/// Type names that evaluate to type values when used as identifiers.
pub(crate) const TYPE_NAMES: &[&str] =
    &["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "optional_type"];

pub(crate) fn is_ident(expr: &IdedExpr, name: &str) -> bool {
    matches!(&expr.expr, Expr::Ident(ident) if ident == name)
}

pub(crate) fn ident_name(expr: &IdedExpr) -> Option<&str> {
    match &expr.expr {
        Expr::Ident(name) => Some(name.as_str()),
        _ => None,
    }
}

/// `a.b.c` as a dotted name when the expression is only identifiers and field selections.
pub(crate) fn qualified_name(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) if !select.test => {
            qualified_name(&select.operand).map(|prefix| format!("{prefix}.{}", select.field))
        }
        _ => None,
    }
}

/// The names of `a.b.c` (root first) when the expression is only an identifier and field selections.
pub(crate) fn qualified_path(expr: &IdedExpr) -> Option<Vec<&str>> {
    match &expr.expr {
        Expr::Ident(name) => Some(vec![name.as_str()]),
        Expr::Select(select) if !select.test => {
            let mut path = qualified_path(&select.operand)?;
            path.push(select.field.as_str());
            Some(path)
        }
        _ => None,
    }
}

pub(crate) fn root_of(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}
