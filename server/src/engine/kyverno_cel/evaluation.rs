//! The expression lists every CEL policy kind shares, evaluated for one request: the base activation,
//! `variables`, `matchConditions`, `validations` with their messages, audit annotations and `mutations`.
//! Above `request` and below the policy kinds (`mod.rs`, `admission`, `authorization`, `exceptions`).

use serde_json::Value;

use super::apply;
use super::request::{Note, Outcome, Request, Status, request_value};
use crate::engine::cel::{Activation, CompileError, Services, Val, compile_cached};

/// The base activation: `object`, `oldObject`, `request`, `namespaceObject`, `params`.
pub(super) fn base_activation(request: &Request, params: Option<&Value>) -> Activation {
    let mut activation = Activation::new();
    activation.bind_json("object", &request.object);
    activation.bind_json("oldObject", &request.old_object);
    activation.bind_json("request", &request_value(request));
    activation.bind_json("namespaceObject", request.namespace_object.as_ref().unwrap_or(&Value::Null));
    activation.bind_json("params", params.unwrap_or(&Value::Null));
    activation
}

/// Evaluates `spec.variables` (or a rule's `variables`) in order; a failing variable keeps its error and
/// raises it only when read, as Kyverno evaluates variables lazily.
pub(super) fn bind_variables(
    activation: &mut Activation,
    variables: Option<&Value>,
    services: &Services,
) -> Result<(), String> {
    let mut bound: Vec<(Val, Val)> = Vec::new();
    activation.bind("variables", Val::map(Vec::new()));
    for variable in variables.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let name = variable.get("name").and_then(Value::as_str).unwrap_or("");
        let expression = variable.get("expression").and_then(Value::as_str).unwrap_or("");
        let value = match compile_cached(expression) {
            Ok(program) => match program.evaluate(activation, services) {
                Ok(value) => value,
                Err(error) => Val::Error(format!("variable {name}: {error}").into()),
            },
            Err(errors) => {
                return Err(format!("variable {name}: {}", compile_message(&errors)));
            }
        };
        bound.push((Val::string(name), value));
        activation.bind("variables", Val::map(bound.clone()));
    }
    // Kyverno resolves variables on demand, so one may read a variable declared after it. Variables that
    // failed are tried again with every other variable bound, until a pass changes nothing.
    let items = variables.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for _ in 0..items.len() {
        let mut changed = false;
        for (index, variable) in items.iter().enumerate() {
            if !matches!(bound.get(index), Some((_, Val::Error(_)))) {
                continue;
            }
            let expression = variable.get("expression").and_then(Value::as_str).unwrap_or("");
            if let Ok(value) = run(expression, activation, services) {
                bound[index].1 = value;
                activation.bind("variables", Val::map(bound.clone()));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(())
}

pub(super) fn compile_message(errors: &[CompileError]) -> String {
    errors
        .iter()
        .map(|error| format!("{}:{}: {}", error.line, error.column, error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Evaluates one expression to a value, with compile errors as messages.
pub(super) fn run(expression: &str, activation: &Activation, services: &Services) -> Result<Val, String> {
    let program = compile_cached(expression).map_err(|errors| compile_message(&errors))?;
    program.evaluate(activation, services)
}

/// Evaluates `matchConditions`: `Ok(None)` when all hold, `Ok(Some(pointer))` for the first false one.
pub(super) fn match_conditions(
    conditions: Option<&Value>,
    base: &str,
    activation: &Activation,
    services: &Services,
) -> Result<Option<String>, (String, String)> {
    let mut first_error = None;
    for (index, condition) in
        conditions.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().iter().enumerate()
    {
        let pointer = format!("{base}/{index}/expression");
        let expression = condition.get("expression").and_then(Value::as_str).unwrap_or("");
        match run(expression, activation, services) {
            Ok(Val::Bool(true)) => {}
            Ok(Val::Bool(false)) => return Ok(Some(pointer)),
            Ok(other) => {
                first_error
                    .get_or_insert((format!("matchCondition must return bool, got {}", other.type_name()), pointer));
            }
            Err(error) => {
                first_error.get_or_insert((error, pointer));
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(None),
    }
}

/// Whose semantics a list of validations follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// The Kubernetes validator (`k8s.io/apiserver/pkg/admission/plugin/policy/validating/validator.go`),
    /// behind ValidatingAdmissionPolicy and `validate.cel`: a result other than `true` denies, and the
    /// message falls back to `failed expression: ...`.
    Kubernetes,
    /// Kyverno's ValidatingPolicy compiler (`pkg/cel/policies/vpol/compiler/policy.go`,
    /// `evaluateWithData`): a result that is not a boolean is an error, and the message falls back to
    /// `CEL expression validation failed at index N`.
    Kyverno,
}

/// Evaluates a list of validations (`expression`, `message`, `messageExpression`): the first failure wins.
pub(super) fn run_validations(
    validations: Option<&Value>,
    base: &str,
    activation: &Activation,
    services: &Services,
    flavor: Flavor,
) -> Outcome {
    let items = validations.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, validation) in items.iter().enumerate() {
        let pointer = format!("{base}/{index}/expression");
        let expression = validation.get("expression").and_then(Value::as_str).unwrap_or("");
        let denied = match run(expression, activation, services) {
            Ok(Val::Bool(true)) => false,
            Ok(Val::Bool(false)) => true,
            Ok(_) if flavor == Flavor::Kubernetes => true,
            Ok(other) => {
                return Outcome::new(
                    Status::Error,
                    format!("validation must return bool, got {}", other.type_name()),
                    Some(pointer),
                );
            }
            Err(error) => return Outcome::new(Status::Error, error, Some(pointer)),
        };
        if denied {
            let message = match flavor {
                Flavor::Kubernetes => validation_message(validation, activation, services, expression),
                Flavor::Kyverno => kyverno_validation_message(validation, index, activation, services),
            };
            return Outcome::new(Status::Fail, message, Some(pointer));
        }
    }
    Outcome::new(Status::Pass, "", None)
}

/// The message of a denied validation as the Kubernetes validator composes it: the `messageExpression`
/// when it gives a non-blank single-line string, else `message`, else the expression itself.
pub(super) fn validation_message(
    validation: &Value,
    activation: &Activation,
    services: &Services,
    expression: &str,
) -> String {
    if let Some(message_expression) = validation.get("messageExpression").and_then(Value::as_str)
        && let Ok(Val::String(text)) = run(message_expression, activation, services)
        && !text.trim().is_empty()
        && !text.contains('\n')
    {
        return text.trim().to_string();
    }
    if let Some(message) = validation.get("message").and_then(Value::as_str).filter(|text| !text.trim().is_empty()) {
        return message.trim().to_string();
    }
    format!("failed expression: {}", expression.trim())
}

/// The message of a failed validation of a Kyverno CEL policy: a `messageExpression` wins even when it
/// fails (its error becomes the message), then `message`, then the index of the validation.
fn kyverno_validation_message(
    validation: &Value,
    index: usize,
    activation: &Activation,
    services: &Services,
) -> String {
    let mut message = validation.get("message").and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(message_expression) = validation.get("messageExpression").and_then(Value::as_str)
        && !message_expression.is_empty()
    {
        message = match run(message_expression, activation, services) {
            Ok(Val::String(text)) => text.to_string(),
            Ok(other) => format!("failed to convert message expression to string: got {}", other.type_name()),
            Err(error) => format!("failed to evaluate message expression: {error}"),
        };
    }
    if message.is_empty() { format!("CEL expression validation failed at index {index}") } else { message }
}

/// One evaluated `auditAnnotations` entry of a Kyverno CEL policy.
pub(super) struct Annotation {
    key: String,
    value: String,
    pointer: String,
}

/// Evaluates `auditAnnotations` the way Kyverno's CEL policies do (`evaluateAuditAnnotations` in
/// `pkg/cel/policies/{vpol,mpol,gpol}/compiler/policy.go`): an empty string publishes nothing, an
/// expression that fails or gives anything but a string (null included) is an error of the policy.
pub(super) fn kyverno_annotations(
    annotations: Option<&Value>,
    activation: &Activation,
    services: &Services,
) -> Result<Vec<Annotation>, Box<Outcome>> {
    let mut out = Vec::new();
    for (index, annotation) in
        annotations.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().iter().enumerate()
    {
        let key = annotation.get("key").and_then(Value::as_str).unwrap_or("").to_string();
        let pointer = format!("/spec/auditAnnotations/{index}/valueExpression");
        let expression = annotation.get("valueExpression").and_then(Value::as_str).unwrap_or("");
        match run(expression, activation, services) {
            Ok(Val::String(text)) if text.is_empty() => {}
            Ok(Val::String(text)) => out.push(Annotation { key, value: text.to_string(), pointer }),
            Ok(other) => {
                return Err(Box::new(Outcome::new(
                    Status::Error,
                    format!(
                        "failed to convert auditAnnotation '{key}' expression: type conversion error from '{}' to 'string'",
                        other.type_name()
                    ),
                    Some(pointer),
                )));
            }
            Err(error) => {
                return Err(Box::new(Outcome::new(
                    Status::Error,
                    format!("failed to evaluate auditAnnotation '{key}': {error}"),
                    Some(pointer),
                )));
            }
        }
    }
    Ok(out)
}

/// Publishes evaluated annotations on an outcome: each becomes a note at its expression, and, as
/// Kyverno's report results read rule properties (`pkg/utils/report/results.go`,
/// `ToPolicyReportResult`), an annotation keyed `message`, or `passMessage`/`failMessage`/... for the
/// outcome's status, replaces the message `kyverno test` prints.
pub(super) fn publish_annotations(outcome: &mut Outcome, annotations: Vec<Annotation>) {
    let status_key = match outcome.status {
        Status::Pass => "passMessage",
        Status::Fail => "failMessage",
        Status::Error => "errorMessage",
        Status::Skip => "skipMessage",
    };
    for key in [status_key, "message"] {
        if let Some(annotation) = annotations.iter().find(|annotation| annotation.key == key) {
            outcome.message = annotation.value.clone();
        }
    }
    for annotation in annotations {
        outcome.notes.push(Note {
            pointer: annotation.pointer,
            message: format!("audit annotation {}: {}", annotation.key, annotation.value),
        });
    }
}

/// Evaluates `auditAnnotations` the way the Kubernetes validator does for ValidatingAdmissionPolicy and
/// `validate.cel`: a value (trimmed) is published, empty or null publishes nothing, and a failure is
/// recorded beside the decision without changing it (Kyverno reads only the decisions).
pub(crate) fn kubernetes_annotations(
    annotations: Option<&Value>,
    base: &str,
    activation: &Activation,
    services: &Services,
) -> Vec<Note> {
    let mut notes = Vec::new();
    for (index, annotation) in
        annotations.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().iter().enumerate()
    {
        let key = annotation.get("key").and_then(Value::as_str).unwrap_or("");
        let pointer = format!("{base}/{index}/valueExpression");
        let expression = annotation.get("valueExpression").and_then(Value::as_str).unwrap_or("");
        let message = match run(expression, activation, services) {
            Ok(Val::String(text)) if text.trim().is_empty() => continue,
            Ok(Val::String(text)) => format!("audit annotation {key}: {}", text.trim()),
            Ok(Val::Null) => continue,
            Ok(other) => format!(
                "audit annotation {key} failed (the result is unchanged): valueExpression resulted in unsupported return type {}; it must be a string or null",
                other.type_name()
            ),
            Err(error) => format!("audit annotation {key} failed (the result is unchanged): {error}"),
        };
        notes.push(Note { pointer, message });
    }
    notes
}

/// Whether a policy says `failurePolicy: Ignore`: then a matchCondition (or an exception's condition)
/// that cannot be evaluated means "does not match" instead of an error.
pub(super) fn ignores_failures(policy: &Value) -> bool {
    policy.pointer("/spec/failurePolicy").and_then(Value::as_str) == Some("Ignore")
}

/// Applies `mutations` (JSON patches and apply configurations built by CEL) in order, each seeing the
/// object as the previous one left it. `Err` is the error message with the failing mutation's pointer.
pub(super) fn apply_mutations(
    mutations: Option<&Value>,
    object: &Value,
    activation: &mut Activation,
    services: &Services,
) -> Result<Value, (String, String)> {
    let mut current = object.clone();
    for (index, mutation) in
        mutations.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().iter().enumerate()
    {
        activation.bind_json("object", &current);
        let patch_type = mutation.get("patchType").and_then(Value::as_str).unwrap_or("");
        let pointer = format!("/spec/mutations/{index}");
        if patch_type == "JSONPatch" || mutation.get("jsonPatch").is_some() {
            let expression_pointer = format!("{pointer}/jsonPatch/expression");
            let expression = mutation.pointer("/jsonPatch/expression").and_then(Value::as_str).unwrap_or("");
            match run(expression, activation, services) {
                Ok(Val::List(operations)) => {
                    current = apply::json_patch(&current, &operations).map_err(|error| (error, expression_pointer))?;
                }
                Ok(other) => {
                    return Err((format!("jsonPatch must return a list, got {}", other.type_name()), pointer));
                }
                Err(error) => return Err((error, expression_pointer)),
            }
        } else {
            let expression_pointer = format!("{pointer}/applyConfiguration/expression");
            let expression = mutation.pointer("/applyConfiguration/expression").and_then(Value::as_str).unwrap_or("");
            match run(expression, activation, services) {
                Ok(value @ Val::Map(_)) => current = apply::apply_configuration(&current, &value.to_json()),
                Ok(other) => {
                    return Err((
                        format!("applyConfiguration must return an object, got {}", other.type_name()),
                        pointer,
                    ));
                }
                Err(error) => return Err((error, expression_pointer)),
            }
        }
    }
    activation.bind_json("object", &current);
    Ok(current)
}
