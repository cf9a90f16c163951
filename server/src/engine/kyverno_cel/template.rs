//! GeneratingPolicy templates (`spec.generate[].template`): a YAML text of one or more resources, with
//! `(( expression ))` placeholders evaluated as CEL when `interpolate: cel`, following Kyverno's
//! `pkg/cel/policies/gpol/template` (`template.go`, `scanner.go`) and `compiler/policy.go`
//! (`applyTemplate`):
//! - a scalar that is one placeholder and nothing else is replaced by the expression's value, which may
//!   be a map or a list; a placeholder inside a longer text must give a scalar, written into the text;
//! - `\((` writes a literal `((`; placeholders in map keys and YAML merge keys (`<<`) around
//!   placeholders are errors;
//! - every placeholder is compiled before any is evaluated, so an authoring error is reported whatever
//!   the data;
//! - without `interpolate: cel` the text is plain YAML and `((` is kept as written;
//! - each document must be a map (or a placeholder giving one); empty and null documents are skipped;
//! - a resource goes to its own `metadata.namespace`; a NamespacedGeneratingPolicy puts resources without
//!   one into its namespace and may not generate into another.

use serde::Deserialize;
use serde_json::Value;

use super::evaluation::{compile_message, run};
use crate::engine::cel::catalog::Environment;
use crate::engine::cel::library::objects_in_namespace;
use crate::engine::cel::{Activation, Program, Services, Val, compile_cached};
use crate::engine::kyverno::go_text::go_float_text;

/// The resources a template generates, with their namespaces set. `policy_namespace` is the namespace of a
/// NamespacedGeneratingPolicy, `None` for a cluster-wide one. `Err` is the message of the first error.
pub fn generated_by_template(
    template: &Value,
    policy_namespace: Option<&str>,
    activation: &Activation,
    services: &Services,
) -> Result<Vec<Value>, String> {
    let text = template.get("value").and_then(Value::as_str).unwrap_or("");
    let interpolate = template.get("interpolate").and_then(Value::as_str) == Some("cel");
    let documents = compile(text, interpolate)?;
    let mut resources = Vec::with_capacity(documents.len());
    for (index, document) in documents.iter().enumerate() {
        let rendered = render(document, interpolate, activation, services)
            .map_err(|error| format!("failed to render generation template: document {}: {error}", index + 1))?;
        if !rendered.is_object() {
            return Err(format!(
                "failed to render generation template: document {}: expected a mapping describing a resource, got {}",
                index + 1,
                crate::schema::describe_value(&rendered)
            ));
        }
        resources.push(rendered);
    }
    // Resources are generated namespace by namespace, in the order each namespace first appears.
    let mut namespaces: Vec<String> = Vec::new();
    let mut grouped: Vec<Vec<Value>> = Vec::new();
    for resource in resources {
        let mut namespace = resource.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string();
        if let Some(policy_namespace) = policy_namespace.filter(|namespace| !namespace.is_empty()) {
            if namespace.is_empty() {
                namespace = policy_namespace.to_string();
            } else if namespace != policy_namespace {
                return Err(format!(
                    "cross-namespace generation denied: a policy in namespace {policy_namespace:?} cannot generate resources into namespace {namespace:?}"
                ));
            }
        }
        match namespaces.iter().position(|known| *known == namespace) {
            Some(position) => grouped[position].push(resource),
            None => {
                namespaces.push(namespace);
                grouped.push(vec![resource]);
            }
        }
    }
    Ok(namespaces
        .iter()
        .zip(grouped)
        .flat_map(|(namespace, resources)| objects_in_namespace(Some(namespace), resources.into_iter()))
        .collect())
}

/// Parses the documents of the template and, when interpolating, checks every placeholder: its syntax,
/// its place and that its expression compiles.
fn compile(text: &str, interpolate: bool) -> Result<Vec<Value>, String> {
    let mut documents = Vec::new();
    for (index, document) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(document).map_err(|error| format!("failed to parse YAML: {error}"))?;
        if value.is_null() {
            continue;
        }
        if interpolate {
            check_placeholders(&value)?;
        }
        let splice = interpolate && value.as_str().is_some_and(is_single_placeholder);
        if !value.is_object() && !splice {
            return Err(format!("document {}: document must be a mapping describing a resource", index + 1));
        }
        documents.push(value);
    }
    if documents.is_empty() {
        return Err("template must contain at least one YAML document".to_string());
    }
    Ok(documents)
}

/// Whether a value holds a placeholder or an escape anywhere, keys included.
fn holds_placeholder(value: &Value) -> bool {
    match value {
        Value::String(text) => contains_placeholder(text) || text.contains(ESCAPE),
        Value::Array(items) => items.iter().any(holds_placeholder),
        Value::Object(map) => map.iter().any(|(key, child)| contains_placeholder(key) || holds_placeholder(child)),
        _ => false,
    }
}

fn check_placeholders(value: &Value) -> Result<(), String> {
    match value {
        Value::String(text) if contains_placeholder(text) || text.contains(ESCAPE) => {
            for segment in scan(text)? {
                if let Segment::Expression(expression) = segment {
                    compile_cached(&expression).map_err(|errors| {
                        format!("invalid placeholder expression {expression:?}: {}", compile_message(&errors))
                    })?;
                }
            }
            Ok(())
        }
        Value::Array(items) if holds_placeholder(value) => items.iter().try_for_each(check_placeholders),
        Value::Object(map) if holds_placeholder(value) => {
            for (key, child) in map {
                if contains_placeholder(key) {
                    return Err(format!(
                        "placeholders are not supported in mapping keys ({key:?}); use a whole-value placeholder on the parent field instead (e.g. `labels: (( variables.labels ))`)"
                    ));
                }
                if key == "<<" {
                    return Err("YAML merge keys are not supported in subtrees containing placeholders".to_string());
                }
                check_placeholders(child)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// One authoring error of an interpolated template, for the editor: where it is in the template text
/// (characters from its start; the first place the placeholder is written) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceholderError {
    pub offset: usize,
    pub length: usize,
    pub message: String,
}

/// The authoring errors of an interpolated template's text that need no data: YAML that does not parse,
/// malformed placeholders, placeholders in keys, and placeholder expressions that do not compile or name
/// what `environment` does not declare. Empty for a template that is not interpolated.
pub fn placeholder_errors(template: &Value, environment: &Environment) -> Vec<PlaceholderError> {
    let text = template.get("value").and_then(Value::as_str).unwrap_or("");
    if template.get("interpolate").and_then(Value::as_str) != Some("cel") {
        return Vec::new();
    }
    let mut scalars = Vec::new();
    for document in yaml_serde::Deserializer::from_str(text) {
        match Value::deserialize(document) {
            Ok(value) => collect_placeholder_scalars(&value, &mut scalars),
            // The YAML itself is the schema and syntax checks' to report; nothing to place here.
            Err(_) => return Vec::new(),
        }
    }
    let characters = |byte_offset: usize| text[..byte_offset.min(text.len())].chars().count();
    let mut out = Vec::new();
    for scalar in scalars {
        let value = match scalar {
            PlaceholderScalar::Key(key) => {
                out.push(PlaceholderError {
                    offset: characters(text.find(key.as_str()).unwrap_or(0)),
                    length: key.chars().count().max(1),
                    message: "placeholders are not supported in mapping keys; use a whole-value placeholder on the \
                              parent field instead"
                        .to_string(),
                });
                continue;
            }
            PlaceholderScalar::Value(value) => value,
        };
        let scalar_offset = text.find(value.as_str()).unwrap_or(0);
        let segments = match scan(&value) {
            Ok(segments) => segments,
            Err(message) => {
                out.push(PlaceholderError { offset: characters(scalar_offset), length: 2, message });
                continue;
            }
        };
        for segment in segments {
            let Segment::Expression(expression) = segment else { continue };
            let Err(errors) = Program::compile_checked(&expression, environment) else { continue };
            let start =
                text[scalar_offset..].find(expression.as_str()).map_or(scalar_offset, |found| scalar_offset + found);
            let expression_characters = expression.chars().count();
            for error in errors {
                out.push(PlaceholderError {
                    offset: characters(start) + error.offset.min(expression_characters),
                    length: 1,
                    message: error.message,
                });
            }
        }
    }
    out
}

/// A scalar of a template that holds a placeholder: a map key (always an error) or a value.
enum PlaceholderScalar {
    Key(String),
    Value(String),
}

fn collect_placeholder_scalars(value: &Value, out: &mut Vec<PlaceholderScalar>) {
    match value {
        Value::String(text) if contains_placeholder(text) || text.contains(ESCAPE) => {
            out.push(PlaceholderScalar::Value(text.clone()));
        }
        Value::Array(items) => items.iter().for_each(|item| collect_placeholder_scalars(item, out)),
        Value::Object(map) => {
            for (key, child) in map {
                if contains_placeholder(key) {
                    out.push(PlaceholderScalar::Key(key.clone()));
                }
                collect_placeholder_scalars(child, out);
            }
        }
        _ => {}
    }
}

/// Renders a compiled document: placeholders evaluated, everything else copied.
fn render(value: &Value, interpolate: bool, activation: &Activation, services: &Services) -> Result<Value, String> {
    if !interpolate || !holds_placeholder(value) {
        return Ok(value.clone());
    }
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (key, child) in map {
                let rendered = render(child, interpolate, activation, services)
                    .map_err(|error| format!("field {key:?}: {error}"))?;
                out.insert(key.clone(), rendered);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                render(item, interpolate, activation, services).map_err(|error| format!("item {index}: {error}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::String(text) => render_scalar(text, activation, services),
        other => Ok(other.clone()),
    }
}

fn render_scalar(text: &str, activation: &Activation, services: &Services) -> Result<Value, String> {
    let segments = scan(text)?;
    if let [Segment::Expression(expression)] = segments.as_slice() {
        return evaluate(expression, activation, services);
    }
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Literal(literal) => out.push_str(&literal),
            Segment::Expression(expression) => match evaluate(&expression, activation, services)? {
                Value::String(text) => out.push_str(&text),
                Value::Bool(flag) => out.push_str(if flag { "true" } else { "false" }),
                Value::Number(number) => out.push_str(&number_text(&number)),
                other => {
                    return Err(format!(
                        "placeholder {expression:?} embedded in a string must evaluate to a scalar, got {}; use a whole-value placeholder for structured results",
                        crate::schema::describe_value(&other)
                    ));
                }
            },
        }
    }
    Ok(Value::String(out))
}

/// Go's `%v` of the value the placeholder gave: integers in digits, doubles in Go's shortest form.
fn number_text(number: &serde_json::Number) -> String {
    match (number.as_i64(), number.as_u64()) {
        (Some(integer), _) => integer.to_string(),
        (None, Some(unsigned)) => unsigned.to_string(),
        (None, None) => go_float_text(number.as_f64().unwrap_or(0.0)),
    }
}

/// Evaluates one placeholder to a plain value, as Kyverno's `celValueToNative` converts it: an unsigned
/// integer must fit a signed 64-bit one.
fn evaluate(expression: &str, activation: &Activation, services: &Services) -> Result<Value, String> {
    match run(expression, activation, services) {
        Ok(Val::Uint(unsigned)) if unsigned > i64::MAX as u64 => Err(format!(
            "failed to convert placeholder {expression:?} result: uint value {unsigned} overflows the supported integer range"
        )),
        Ok(Val::Error(error)) => Err(format!("failed to evaluate placeholder {expression:?}: {error}")),
        Ok(value) => Ok(value.to_json()),
        Err(error) => Err(format!("failed to evaluate placeholder {expression:?}: {error}")),
    }
}

/// The escape that writes a literal `((`.
const ESCAPE: &str = "\\((";

/// A piece of a scalar: literal text or the expression of a placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Expression(String),
}

/// Whether the text has a `((` that is not escaped.
fn contains_placeholder(text: &str) -> bool {
    let mut rest = text;
    while let Some(position) = rest.find("((") {
        if rest[..position].ends_with('\\') {
            rest = &rest[position + 2..];
            continue;
        }
        return true;
    }
    false
}

fn is_single_placeholder(text: &str) -> bool {
    matches!(scan(text).as_deref(), Ok([Segment::Expression(_)]))
}

/// Splits a scalar into literal text and placeholders; `\((` is a literal `((`.
fn scan(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut index = 0;
    while index < text.len() {
        let rest = &text[index..];
        if rest.starts_with(ESCAPE) {
            literal.push_str("((");
            index += ESCAPE.len();
        } else if rest.starts_with("((") {
            let (expression, next) = scan_placeholder(text, index)?;
            if !literal.is_empty() {
                segments.push(Segment::Literal(std::mem::take(&mut literal)));
            }
            segments.push(Segment::Expression(expression));
            index = next;
        } else {
            let character = rest.chars().next().unwrap_or_default();
            literal.push(character);
            index += character.len_utf8().max(1);
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

/// Reads the placeholder opening at `start`: nested parentheses and CEL string literals (with backslash
/// escapes) do not close it. Returns the trimmed expression and the index after the closing `))`.
fn scan_placeholder(text: &str, start: usize) -> Result<(String, usize), String> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut index = start + 2;
    while index < bytes.len() {
        let byte = bytes[index];
        if let Some(open) = quote {
            if byte == b'\\' {
                index += 2;
                continue;
            }
            if byte == open {
                quote = None;
            }
            index += 1;
            continue;
        }
        match byte {
            b'"' | b'\'' => quote = Some(byte),
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b')' if bytes.get(index + 1) == Some(&b')') => {
                let expression = text[start + 2..index].trim();
                if expression.is_empty() {
                    return Err(format!("empty placeholder at offset {start}"));
                }
                return Ok((expression.to_string(), index + 2));
            }
            b')' => return Err(format!("unbalanced parenthesis in placeholder starting at offset {start}")),
            _ => {}
        }
        index += 1;
    }
    if quote.is_some() {
        return Err(format!("unterminated string literal in placeholder starting at offset {start}"));
    }
    Err(format!("unterminated placeholder starting at offset {start}: missing closing '))'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Renders a template against `object` (bound as `object`, with `variables.name` its name) and
    /// compares the generated resources, or the error, as JSON text.
    fn check(template: Value, policy_namespace: Option<&str>, expect: expect_test::Expect) {
        let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}});
        let mut activation = Activation::default();
        activation.bind_json("object", &object);
        activation.bind(
            "variables",
            Val::map(vec![
                (Val::string("name"), Val::string("team-a")),
                (Val::string("labels"), Val::from_json(&json!({"team": "a", "tier": "web"}))),
            ]),
        );
        let rendered = match generated_by_template(&template, policy_namespace, &activation, &Services::default()) {
            Ok(resources) => Value::Array(resources).to_string(),
            Err(error) => format!("error: {error}"),
        };
        expect.assert_eq(&rendered);
    }

    fn cel(text: &str) -> Value {
        json!({"interpolate": "cel", "value": text})
    }

    #[test]
    fn whole_value_placeholders_splice_values_and_embedded_ones_write_text() {
        check(
            cel(
                "kind: ConfigMap\nmetadata:\n  name: (( variables.name ))-config\n  namespace: (( object.metadata.name ))\n  labels: (( variables.labels ))\ndata:\n  count: (( size(variables.labels) ))\n  ratio: ratio-(( 2.5 * 2.0 ))-(( 1.0e7 ))\n  flag: (( true ))\n",
            ),
            None,
            expect_test::expect![[
                r#"[{"kind":"ConfigMap","metadata":{"name":"team-a-config","namespace":"team-a","labels":{"team":"a","tier":"web"}},"data":{"count":2,"ratio":"ratio-5-1e+07","flag":true}}]"#
            ]],
        );
    }

    #[test]
    fn without_interpolation_the_text_is_plain_yaml() {
        check(
            json!({"value": "kind: ConfigMap\nmetadata:\n  name: plain\n  namespace: ns\ndata:\n  note: (( kept ))\n  escaped: \\(( kept too\n---\n---\nkind: Secret\nmetadata:\n  name: s\n"}),
            None,
            expect_test::expect![[
                r#"[{"kind":"ConfigMap","metadata":{"name":"plain","namespace":"ns"},"data":{"note":"(( kept ))","escaped":"\\(( kept too"}},{"kind":"Secret","metadata":{"name":"s"}}]"#
            ]],
        );
    }

    #[test]
    fn escapes_nested_parentheses_and_quoted_closers() {
        check(
            cel(
                "kind: ConfigMap\nmetadata:\n  name: c\ndata:\n  literal: \\(( not a placeholder ))\n  nested: (( string(size((variables.name))) ))\n  quoted: (( \"))\" + ':)' ))\n",
            ),
            None,
            expect_test::expect![[
                r#"[{"kind":"ConfigMap","metadata":{"name":"c"},"data":{"literal":"(( not a placeholder ))","nested":"6","quoted":")):)"}}]"#
            ]],
        );
    }

    #[test]
    fn a_whole_document_placeholder_and_list_objects() {
        check(
            cel(
                "\"(( {'kind': 'List', 'items': [{'kind': 'ConfigMap', 'metadata': {'name': 'one'}}, {'kind': 'ConfigMap', 'metadata': {'name': 'two', 'namespace': 'x'}}]} ))\"",
            ),
            None,
            expect_test::expect![[
                r#"[{"kind":"ConfigMap","metadata":{"name":"one"}},{"kind":"ConfigMap","metadata":{"name":"two"}}]"#
            ]],
        );
    }

    #[test]
    fn a_namespaced_policy_fills_in_its_namespace_and_refuses_others() {
        check(
            cel("kind: ConfigMap\nmetadata:\n  name: (( variables.name ))\n"),
            Some("team-a"),
            expect_test::expect![[r#"[{"kind":"ConfigMap","metadata":{"name":"team-a","namespace":"team-a"}}]"#]],
        );
        check(
            cel("kind: ConfigMap\nmetadata:\n  name: c\n  namespace: other\n"),
            Some("team-a"),
            expect_test::expect![[
                r#"error: cross-namespace generation denied: a policy in namespace "team-a" cannot generate resources into namespace "other""#
            ]],
        );
    }

    #[test]
    fn authoring_errors_are_reported_before_any_evaluation() {
        check(
            cel(
                "kind: ConfigMap\nmetadata:\n  name: (( 1 / 0 ))\n---\nkind: Secret\nmetadata:\n  name: (( object.metadata. ))\n",
            ),
            None,
            expect_test::expect![[
                r#"error: invalid placeholder expression "object.metadata.": 1:17: Syntax error: no viable alternative at input '.'"#
            ]],
        );
        check(
            cel("kind: ConfigMap\nmetadata:\n  labels:\n    (( variables.name )): x\n"),
            None,
            expect_test::expect![
                "error: placeholders are not supported in mapping keys (\"(( variables.name ))\"); use a whole-value placeholder on the parent field instead (e.g. `labels: (( variables.labels ))`)"
            ],
        );
        check(
            cel("kind: ConfigMap\ndata:\n  a: (( 1 )\n"),
            None,
            expect_test::expect!["error: unbalanced parenthesis in placeholder starting at offset 0"],
        );
        check(
            cel("kind: ConfigMap\ndata:\n  a: x(( ))\n"),
            None,
            expect_test::expect!["error: empty placeholder at offset 1"],
        );
        check(
            cel("- a\n- b\n"),
            None,
            expect_test::expect!["error: document 1: document must be a mapping describing a resource"],
        );
        check(cel("---\n"), None, expect_test::expect!["error: template must contain at least one YAML document"]);
    }

    #[test]
    fn evaluation_errors_name_the_document_and_the_field() {
        check(
            cel(
                "kind: ConfigMap\nmetadata:\n  name: c\n---\nkind: ConfigMap\nmetadata:\n  name: c-(( variables.labels ))\n",
            ),
            None,
            expect_test::expect![[
                r#"error: failed to render generation template: document 2: field "metadata": field "name": placeholder "variables.labels" embedded in a string must evaluate to a scalar, got a mapping; use a whole-value placeholder for structured results"#
            ]],
        );
        check(
            cel("kind: ConfigMap\ndata:\n  big: (( 18446744073709551615u ))\n"),
            None,
            expect_test::expect![[
                r#"error: failed to render generation template: document 1: field "data": field "big": failed to convert placeholder "18446744073709551615u" result: uint value 18446744073709551615 overflows the supported integer range"#
            ]],
        );
        check(
            cel("(( [1] ))"),
            None,
            expect_test::expect![
                "error: failed to render generation template: document 1: expected a mapping describing a resource, got a list"
            ],
        );
    }
}
