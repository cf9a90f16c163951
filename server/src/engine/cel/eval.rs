//! The CEL interpreter: walks the parser's AST with a step budget, CEL's error-absorbing logic operators,
//! optional values, and the comprehension macros (one- and two-variable) expanded at evaluation time.

use std::sync::Arc;

use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, LiteralValue, operators};

use super::catalog;
use super::functions;
use super::names::{TYPE_NAMES, ident_name, is_ident, qualified_name, qualified_path, root_of};
use super::runtime::{EvalResult, Interpreter, check_value, optional_index, optional_select, select_field};
use super::value::{Val, values_equal};

impl<'a> Interpreter<'a> {
    pub fn eval(&self, expr: &IdedExpr) -> EvalResult {
        self.step()?;
        match &expr.expr {
            Expr::Unspecified => Err("unspecified expression".to_string()),
            Expr::Literal(literal) => Ok(literal_value(literal)),
            Expr::Ident(name) => self.ident(name),
            Expr::Select(select) => {
                if select.test {
                    return self.has(&select.operand, &select.field);
                }
                if let Some(path) = qualified_path(expr) {
                    return self.resolve_qualified(&path);
                }
                let operand = self.eval(&select.operand)?;
                select_field(&operand, &select.field)
            }
            Expr::List(list) => {
                let mut items = Vec::with_capacity(list.elements.len());
                for (index, element) in list.elements.iter().enumerate() {
                    let value = self.eval(element)?;
                    if list.optional_indices.contains(&index) {
                        match value {
                            Val::Optional(Some(inner)) => items.push((*inner).clone()),
                            Val::Optional(None) => {}
                            other => {
                                return Err(format!(
                                    "optional list element must be optional, got {}",
                                    other.type_name()
                                ));
                            }
                        }
                    } else {
                        items.push(check_value(value)?);
                    }
                }
                self.charge_contents(items.iter())?;
                Ok(Val::list(items))
            }
            Expr::Map(map) => {
                let mut entries: Vec<(Val, Val)> = Vec::with_capacity(map.entries.len());
                for entry in &map.entries {
                    let EntryExpr::MapEntry(entry) = &entry.expr else {
                        return Err("unexpected struct field in a map literal".to_string());
                    };
                    let key = self.eval(&entry.key)?;
                    if !matches!(key, Val::String(_) | Val::Int(_) | Val::Uint(_) | Val::Bool(_)) {
                        return Err(format!("unsupported key type: {}", key.type_name()));
                    }
                    let value = self.eval(&entry.value)?;
                    let value = if entry.optional {
                        match value {
                            Val::Optional(Some(inner)) => (*inner).clone(),
                            Val::Optional(None) => continue,
                            other => {
                                return Err(format!("optional map entry must be optional, got {}", other.type_name()));
                            }
                        }
                    } else {
                        check_value(value)?
                    };
                    if entries.iter().any(|(existing, _)| values_equal(existing, &key)) {
                        return Err(format!("Failed with repeated key: {}", key.display()));
                    }
                    entries.push((key, value));
                }
                self.charge_contents(entries.iter().map(|(_, value)| value))?;
                Ok(Val::map(entries))
            }
            Expr::Struct(structure) => {
                // Kubernetes apply configurations (`Object{...}`) and `JSONPatch{...}` are read as plain maps.
                let mut entries: Vec<(Val, Val)> = Vec::with_capacity(structure.entries.len());
                for entry in &structure.entries {
                    let EntryExpr::StructField(field) = &entry.expr else {
                        return Err("unexpected map entry in an object literal".to_string());
                    };
                    let value = self.eval(&field.value)?;
                    let value = if field.optional {
                        match value {
                            Val::Optional(Some(inner)) => (*inner).clone(),
                            Val::Optional(None) => continue,
                            other => check_value(other)?,
                        }
                    } else {
                        check_value(value)?
                    };
                    entries.push((Val::string(field.field.as_str()), value));
                }
                self.charge_contents(entries.iter().map(|(_, value)| value))?;
                Ok(Val::map(entries))
            }
            Expr::Comprehension(comprehension) => {
                // The parser used here expands no macros, so this only appears for hand-built ASTs.
                let range = self.eval(&comprehension.iter_range)?;
                let items = iteration_items(&range)?;
                let mut accumulator = self.eval(&comprehension.accu_init)?;
                for item in items {
                    let bindings = vec![
                        (comprehension.accu_var.clone(), accumulator.clone()),
                        (comprehension.iter_var.clone(), item),
                    ];
                    let (condition, next) = self.with_bindings(bindings, || {
                        let condition = self.eval(&comprehension.loop_cond);
                        let next = self.eval(&comprehension.loop_step);
                        (condition, next)
                    });
                    accumulator = next?;
                    if let Ok(Val::Bool(false)) = condition {
                        break;
                    }
                }
                let bindings = vec![(comprehension.accu_var.clone(), accumulator)];
                self.with_bindings(bindings, || self.eval(&comprehension.result))
            }
            Expr::Call(call) => self.call(expr, call),
        }
    }

    /// `a.b.c` made only of names: CEL resolves it to the variable named by the longest dotted prefix
    /// (`a.b.c`, then `a.b`, then `a`), then selects the remaining fields from that variable's value, as
    /// cel-spec's qualified-identifier cases (fields.textproto, namespace.textproto) require. A variable
    /// bound by a macro shadows every dotted name that starts with it.
    fn resolve_qualified(&self, path: &[&str]) -> EvalResult {
        let locally_bound = self.scopes.borrow().iter().any(|(bound, _)| bound == path[0]);
        let longest = if locally_bound { 1 } else { path.len() };
        for prefix_length in (1..=longest).rev() {
            let Some(value) = self.lookup(&path[..prefix_length].join(".")) else { continue };
            let mut value = check_value(value)?;
            for field in &path[prefix_length..] {
                value = select_field(&value, field)?;
            }
            return Ok(value);
        }
        Err(format!("undeclared reference to '{}'", path.join(".")))
    }

    fn ident(&self, name: &str) -> EvalResult {
        match self.lookup(name) {
            Some(value) => check_value(value),
            None if TYPE_NAMES.contains(&name) => Ok(Val::Type(name.into())),
            None => Err(format!("undeclared reference to '{name}'")),
        }
    }

    fn has(&self, operand: &IdedExpr, field: &str) -> EvalResult {
        let value = self.eval(operand)?;
        match value {
            Val::Map(_) => Ok(Val::Bool(value.field(field).is_some())),
            Val::Optional(None) => Ok(Val::Bool(false)),
            Val::Optional(Some(inner)) => Ok(Val::Bool(inner.field(field).is_some())),
            Val::Null => Err(format!("no such key: {field}")),
            other => Err(format!("invalid type for field selection: {}", other.type_name())),
        }
    }

    fn call(&self, whole: &IdedExpr, call: &CallExpr) -> EvalResult {
        let name = call.func_name.as_str();
        let args = &call.args;
        match (name, call.target.as_deref(), args.len()) {
            (operators::LOGICAL_AND, None, 2) => return self.logic(args, false),
            (operators::LOGICAL_OR, None, 2) => return self.logic(args, true),
            (operators::CONDITIONAL, None, 3) => {
                return match self.eval(&args[0])? {
                    Val::Bool(true) => self.eval(&args[1]),
                    Val::Bool(false) => self.eval(&args[2]),
                    other => Err(format!("no matching overload for '_?_:_' applied to '({}, ...)'", other.type_name())),
                };
            }
            (operators::HAS, None, 1) => {
                return match &args[0].expr {
                    Expr::Select(select) => self.has(&select.operand, &select.field),
                    _ => Err("invalid argument to has() macro".to_string()),
                };
            }
            (operators::OPT_SELECT, None, 2) => {
                let operand = self.eval(&args[0])?;
                let Expr::Literal(LiteralValue::String(field)) = &args[1].expr else {
                    return Err("optional selection needs a field name".to_string());
                };
                return optional_select(&operand, field.inner());
            }
            (operators::OPT_INDEX, None, 2) => {
                let operand = self.eval(&args[0])?;
                let index = self.eval(&args[1])?;
                return optional_index(&operand, &index);
            }
            ("bind", Some(target), 3) if is_ident(target, "cel") => {
                let Some(variable) = ident_name(&args[0]) else {
                    return Err("cel.bind() needs a variable name".to_string());
                };
                let value = self.eval(&args[1])?;
                return self.with_bindings(vec![(variable.to_string(), value)], || self.eval(&args[2]));
            }
            _ => {}
        }
        if let Some(target) = call.target.as_deref() {
            if let Some(result) = self.macro_call(name, target, args) {
                return result;
            }
            // `sets.contains(...)`, `resource.get(...)`: a qualified function or a library variable's,
            // rather than a method, unless the name is bound to a value of the expression's own.
            if let Some(namespace) = qualified_name(target)
                && let Some(function) = catalog::qualified_function(&namespace, name)
                && self.lookup(root_of(&namespace)).is_none_or(|value| {
                    matches!(value, Val::Object(ref object) if matches!(object.as_ref(), super::value::Object::Library(_)))
                })
            {
                let values = self.eval_args(args)?;
                return functions::call_global(self, &catalog::dispatch_name(&namespace, function), values);
            }
            let receiver = self.eval(target)?;
            let values = self.eval_args(args)?;
            return functions::call_member(self, name, receiver, values);
        }
        let _ = whole;
        let values = self.eval_args(args)?;
        match name {
            operators::EQUALS => Ok(Val::Bool(values_equal(&values[0], &values[1]))),
            operators::NOT_EQUALS => Ok(Val::Bool(!values_equal(&values[0], &values[1]))),
            _ => functions::call_global(self, name, values),
        }
    }

    fn eval_args(&self, args: &[IdedExpr]) -> Result<Vec<Val>, String> {
        let mut values = Vec::with_capacity(args.len());
        for argument in args {
            values.push(self.eval(argument)?);
        }
        Ok(values)
    }

    /// `&&` and `||` are commutative over errors: a deciding operand wins over an error on the other side.
    fn logic(&self, args: &[IdedExpr], is_or: bool) -> EvalResult {
        let deciding = is_or;
        let left = self.eval(&args[0]);
        if let Ok(Val::Bool(flag)) = left
            && flag == deciding
        {
            return Ok(Val::Bool(deciding));
        }
        let right = self.eval(&args[1]);
        if let Ok(Val::Bool(flag)) = right
            && flag == deciding
        {
            return Ok(Val::Bool(deciding));
        }
        let operator = if is_or { "_||_" } else { "_&&_" };
        match (left, right) {
            (Ok(Val::Bool(_)), Ok(Val::Bool(_))) => Ok(Val::Bool(!deciding)),
            (Err(error), _) => Err(error),
            (_, Err(error)) => Err(error),
            (Ok(a), Ok(b)) => Err(format!(
                "no matching overload for '{operator}' applied to '({}, {})'",
                a.type_name(),
                b.type_name()
            )),
        }
    }

    /// The macros: calls whose arguments are evaluated per element rather than once.
    fn macro_call(&self, name: &str, target: &IdedExpr, args: &[IdedExpr]) -> Option<EvalResult> {
        let is_macro = matches!(
            (name, args.len()),
            ("all" | "exists" | "exists_one" | "existsOne" | "map" | "filter", 2)
                | ("all" | "exists" | "exists_one" | "existsOne" | "map", 3)
                | ("transformList" | "transformMap" | "transformMapEntry", 3 | 4)
                | ("sortBy" | "optMap" | "optFlatMap", 2)
        );
        if !is_macro {
            return None;
        }
        let variables: Vec<&str> = args.iter().filter_map(ident_name).collect();
        // A macro names its loop variables as plain identifiers.
        let first = ident_name(&args[0])?;
        Some(self.run_macro(name, target, args, first, variables.get(1).copied()))
    }

    fn run_macro(
        &self,
        name: &str,
        target: &IdedExpr,
        args: &[IdedExpr],
        first: &str,
        second_ident: Option<&str>,
    ) -> EvalResult {
        let range = self.eval(target)?;
        if name == "optMap" || name == "optFlatMap" {
            let Val::Optional(inner) = range else {
                return Err(format!("{name}() needs an optional, got {}", range.type_name()));
            };
            let Some(inner) = inner else {
                return Ok(Val::Optional(None));
            };
            let result = self.with_bindings(vec![(first.to_string(), (*inner).clone())], || self.eval(&args[1]))?;
            return if name == "optMap" {
                Ok(Val::Optional(Some(Arc::new(result))))
            } else {
                match result {
                    Val::Optional(_) => Ok(result),
                    other => Err(format!("optFlatMap() must return an optional, got {}", other.type_name())),
                }
            };
        }
        // Two-variable forms: `all(i, v, p)` over a list binds index and value; over a map, key and value.
        let two_variables = matches!(
            (name, args.len()),
            ("all" | "exists" | "exists_one" | "existsOne" | "transformList" | "transformMap" | "transformMapEntry", 3)
                | ("transformList" | "transformMap" | "transformMapEntry", 4)
        ) && !(name == "map" || name == "filter");
        let two_variables = two_variables && second_ident.is_some() && ident_name(&args[1]).is_some();
        let pairs: Vec<(Val, Val)> = match &range {
            Val::List(items) => {
                items.iter().enumerate().map(|(index, item)| (Val::Int(index as i64), item.clone())).collect()
            }
            Val::Map(entries) => entries.iter().map(|(key, value)| (key.clone(), value.clone())).collect(),
            other => {
                return Err(format!("cannot iterate over {} in {name}()", other.type_name()));
            }
        };
        let is_map = matches!(range, Val::Map(_));
        let body_index = if two_variables { 2 } else { 1 };
        let bind = |key: &Val, value: &Val| -> Vec<(String, Val)> {
            if two_variables {
                vec![(first.to_string(), key.clone()), (second_ident.unwrap_or_default().to_string(), value.clone())]
            } else {
                // One-variable macros over a map range over its keys.
                let item = if is_map { key.clone() } else { value.clone() };
                vec![(first.to_string(), item)]
            }
        };
        match name {
            "all" | "exists" => {
                let deciding = name == "exists";
                let mut error = None;
                for (key, value) in &pairs {
                    match self.with_bindings(bind(key, value), || self.eval(&args[body_index])) {
                        Ok(Val::Bool(flag)) if flag == deciding => return Ok(Val::Bool(deciding)),
                        Ok(Val::Bool(_)) => {}
                        Ok(other) => {
                            error.get_or_insert(format!(
                                "no matching overload for '{name}' predicate of type {}",
                                other.type_name()
                            ));
                        }
                        Err(message) => {
                            if message.contains("cost limit") {
                                return Err(message);
                            }
                            error.get_or_insert(message);
                        }
                    }
                }
                match error {
                    Some(message) => Err(message),
                    None => Ok(Val::Bool(!deciding)),
                }
            }
            "exists_one" | "existsOne" => {
                let mut count = 0;
                for (key, value) in &pairs {
                    match self.with_bindings(bind(key, value), || self.eval(&args[body_index]))? {
                        Val::Bool(true) => count += 1,
                        Val::Bool(false) => {}
                        other => {
                            return Err(format!(
                                "no matching overload for 'exists_one' predicate of type {}",
                                other.type_name()
                            ));
                        }
                    }
                }
                Ok(Val::Bool(count == 1))
            }
            "map" => {
                let mut out = Vec::with_capacity(pairs.len());
                for (key, value) in &pairs {
                    let bindings = bind(key, value);
                    if args.len() == 3 {
                        let keep = self.with_bindings(bindings.clone(), || self.eval(&args[1]))?;
                        if !matches!(keep, Val::Bool(true)) {
                            if matches!(keep, Val::Bool(false)) {
                                continue;
                            }
                            return Err("map() filter must be a bool".to_string());
                        }
                        out.push(self.with_bindings(bindings, || self.eval(&args[2]))?);
                    } else {
                        out.push(self.with_bindings(bindings, || self.eval(&args[1]))?);
                    }
                }
                Ok(Val::list(out))
            }
            "filter" => {
                let mut out = Vec::new();
                for (key, value) in &pairs {
                    match self.with_bindings(bind(key, value), || self.eval(&args[1]))? {
                        Val::Bool(true) => out.push(if is_map { key.clone() } else { value.clone() }),
                        Val::Bool(false) => {}
                        other => {
                            return Err(format!(
                                "no matching overload for 'filter' predicate of type {}",
                                other.type_name()
                            ));
                        }
                    }
                }
                Ok(Val::list(out))
            }
            "sortBy" => {
                let Val::List(items) = &range else {
                    return Err("sortBy() needs a list".to_string());
                };
                let mut keyed = Vec::with_capacity(items.len());
                for item in items.iter() {
                    let key = self.with_bindings(vec![(first.to_string(), item.clone())], || self.eval(&args[1]))?;
                    keyed.push((key, item.clone()));
                }
                functions::check_sortable(keyed.iter().map(|(key, _)| key))?;
                keyed.sort_by(|(a, _), (b, _)| functions::order(a, b).unwrap_or(std::cmp::Ordering::Equal));
                Ok(Val::list(keyed.into_iter().map(|(_, item)| item).collect()))
            }
            "transformList" | "transformMap" | "transformMapEntry" => {
                if !two_variables {
                    return Err(format!("{name}() needs two variable names"));
                }
                let mut list_out = Vec::new();
                let mut map_out: Vec<(Val, Val)> = Vec::new();
                for (key, value) in &pairs {
                    let bindings = bind(key, value);
                    if args.len() == 4 {
                        let keep = self.with_bindings(bindings.clone(), || self.eval(&args[2]))?;
                        match keep {
                            Val::Bool(true) => {}
                            Val::Bool(false) => continue,
                            _ => return Err(format!("{name}() filter must be a bool")),
                        }
                    }
                    let result = self.with_bindings(bindings, || self.eval(&args[args.len() - 1]))?;
                    match name {
                        "transformList" => list_out.push(result),
                        "transformMap" => map_out.push((key.clone(), result)),
                        _ => {
                            let Val::Map(entries) = result else {
                                return Err("transformMapEntry() must return a map".to_string());
                            };
                            for (entry_key, entry_value) in entries.iter() {
                                if map_out.iter().any(|(existing, _)| values_equal(existing, entry_key)) {
                                    return Err(format!("insert failed: key {} already exists", entry_key.display()));
                                }
                                map_out.push((entry_key.clone(), entry_value.clone()));
                            }
                        }
                    }
                }
                if name == "transformList" { Ok(Val::list(list_out)) } else { Ok(Val::map(map_out)) }
            }
            _ => Err(format!("unknown macro {name}")),
        }
    }
}

fn literal_value(literal: &LiteralValue) -> Val {
    match literal {
        LiteralValue::Boolean(flag) => Val::Bool(**flag),
        LiteralValue::Bytes(bytes) => Val::Bytes(bytes.inner().to_vec().into()),
        LiteralValue::Double(float) => Val::Double(**float),
        LiteralValue::Int(integer) => Val::Int(**integer),
        LiteralValue::Null => Val::Null,
        LiteralValue::String(text) => Val::String(text.inner().into()),
        LiteralValue::UInt(unsigned) => Val::Uint(**unsigned),
    }
}

/// The items a comprehension walks: list elements or map keys.
fn iteration_items(range: &Val) -> Result<Vec<Val>, String> {
    match range {
        Val::List(items) => Ok(items.as_ref().clone()),
        Val::Map(entries) => Ok(entries.iter().map(|(key, _)| key.clone()).collect()),
        other => Err(format!("cannot iterate over {}", other.type_name())),
    }
}
