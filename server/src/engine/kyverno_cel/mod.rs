//! Kyverno's CEL policy kinds, pure over JSON values: ValidatingPolicy, MutatingPolicy, GeneratingPolicy,
//! DeletingPolicy and their Namespaced forms, `validate.cel` inside ClusterPolicy, and Gatekeeper's
//! K8sNativeValidation code blocks. Findings name places as JSON pointers into the policy.

pub mod admission;
pub mod apply;
pub mod authorization;
pub mod diagnostics;
mod evaluation;
pub mod exceptions;
pub mod matching;
mod request;
pub mod template;

use serde_json::{Value, json};

use super::cel::{Activation, Interpreter, Services, Val, compile_cached};
use crate::model::KubernetesObject;
use evaluation::{
    Flavor, apply_mutations, base_activation, bind_variables, compile_message, ignores_failures,
    kubernetes_annotations, kyverno_annotations, match_conditions, publish_annotations, run, run_validations,
    validation_message,
};
pub use request::{Note, Outcome, Request, Status, autogen_controllers, pod_view, request_value};

/// Runs `validate.cel` of a ClusterPolicy or Policy rule. `pointer` is the rule's `validate/cel` pointer.
pub fn validate_cel(cel: &Value, pointer: &str, request: &Request) -> Outcome {
    let params = match find_params(cel, request) {
        Ok(params) => params,
        Err(message) => return Outcome::new(Status::Error, message, Some(format!("{pointer}/paramRef"))),
    };
    let mut activation = base_activation(request, params.as_ref());
    if let Err(error) = bind_variables(&mut activation, cel.get("variables"), &request.services) {
        return Outcome::new(Status::Error, error, Some(format!("{pointer}/variables")));
    }
    let mut outcome = run_validations(
        cel.get("expressions"),
        &format!("{pointer}/expressions"),
        &activation,
        &request.services,
        Flavor::Kubernetes,
    );
    outcome.notes = kubernetes_annotations(
        cel.get("auditAnnotations"),
        &format!("{pointer}/auditAnnotations"),
        &activation,
        &request.services,
    );
    outcome
}

/// `celPreconditions` of a rule: `Ok(true)` when every condition holds.
pub fn cel_preconditions(conditions: &Value, request: &Request) -> Result<bool, String> {
    let activation = base_activation(request, None);
    match match_conditions(Some(conditions), "", &activation, &request.services) {
        Ok(None) => Ok(true),
        Ok(Some(_)) => Ok(false),
        Err((error, _)) => Err(error),
    }
}

/// The params object for `paramKind`/`paramRef`, looked up among the test's resources.
fn find_params(cel: &Value, request: &Request) -> Result<Option<Value>, String> {
    let (Some(kind), Some(reference)) = (cel.get("paramKind"), cel.get("paramRef")) else {
        return Ok(None);
    };
    let api_version = kind.api_version();
    let kind_name = kind.kind();
    let name = reference.get("name").and_then(Value::as_str);
    let namespace = reference.get("namespace").and_then(Value::as_str);
    let found = request.resources.iter().chain(request.services.cluster_objects.iter()).find(|candidate| {
        candidate.get("apiVersion").and_then(Value::as_str) == Some(api_version)
            && candidate.get("kind").and_then(Value::as_str) == Some(kind_name)
            && name.is_none_or(|name| candidate.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
            && namespace.is_none_or(|namespace| {
                candidate.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default") == namespace
            })
    });
    match found {
        Some(params) => Ok(Some(params.clone())),
        None => {
            if reference.get("parameterNotFoundAction").and_then(Value::as_str) == Some("Allow") {
                Ok(None)
            } else {
                Err(format!("no params found for {kind_name} {}", name.unwrap_or("")))
            }
        }
    }
}

/// `matchConditions` under the policy's failure policy: with `Ignore`, an error skips the policy.
fn policy_match_conditions(
    policy: &Value,
    activation: &Activation,
    services: &Services,
) -> Result<Option<String>, (String, String)> {
    match match_conditions(policy.pointer("/spec/matchConditions"), "/spec/matchConditions", activation, services) {
        Err((_, pointer)) if ignores_failures(policy) => Ok(Some(pointer)),
        other => other,
    }
}

/// Checks the request's CEL exceptions against the request as admitted (for autogen, the controller,
/// not its pod view: Kyverno compiles exception conditions unchanged). `Err` carries the outcome that
/// replaces the policy's own.
/// The activation a ValidatingPolicy or MutatingPolicy evaluates in, once its exceptions, variables and
/// match conditions allow it to run; otherwise the outcome that ends the evaluation there.
fn policy_activation(
    policy: &Value,
    spec: &Value,
    request: &Request,
    applicable: &Request,
) -> Result<Activation, Box<Outcome>> {
    let allowed = exception_verdict(policy, request)?;
    let mut activation = base_activation(applicable, None);
    activation.bind("exceptions", allowed);
    if let Err(error) = bind_variables(&mut activation, spec.get("variables"), &applicable.services) {
        return Err(Box::new(Outcome::new(Status::Error, error, Some("/spec/variables".to_string()))));
    }
    match policy_match_conditions(policy, &activation, &applicable.services) {
        Ok(None) => Ok(activation),
        Ok(Some(pointer)) => Err(Box::new(Outcome::new(Status::Skip, "a matchCondition is false", Some(pointer)))),
        Err((error, pointer)) => Err(Box::new(Outcome::new(Status::Error, error, Some(pointer)))),
    }
}

fn exception_verdict(policy: &Value, request: &Request) -> Result<Val, Box<Outcome>> {
    if request.exceptions.is_empty() {
        return Ok(exceptions::no_exceptions());
    }
    let activation = base_activation(request, None);
    match exceptions::check(&request.exceptions, &activation, &request.services, ignores_failures(policy)) {
        exceptions::Verdict::Evaluate(allowed) => Ok(allowed),
        exceptions::Verdict::Decided(outcome) => Err(Box::new(outcome)),
    }
}

/// Whether a ValidatingPolicy evaluates plain JSON (`spec.evaluation.mode: JSON`) instead of admission
/// requests.
pub fn is_json_mode(policy: &Value) -> bool {
    policy.pointer("/spec/evaluation/mode").and_then(Value::as_str) == Some("JSON")
}

/// Runs a ValidatingPolicy (or its Namespaced form) on the request. `None` when the policy does not apply.
///
/// `spec.validationActions` (Deny, Audit, Warn) do not change the result `kyverno test` sees: the engine
/// reports a failed validation as `fail` whatever the actions (`pkg/cel/policies/vpol/engine/engine.go`,
/// `handlePolicy`), and the CLI compares results through `report.ComputePolicyReportResult(false, ...)`
/// (`cmd/cli/kubectl-kyverno/commands/test/command.go`, `compareExpectedRuleResult`), whose audit-as-warn
/// conversion is off, so a failing Audit or Warn policy is `fail`, never `warn`.
pub fn validating_policy(policy: &Value, request: &Request) -> Option<Outcome> {
    if policy.kind() == "ValidatingAdmissionPolicy" {
        return admission::validating_admission_policy(policy, request, &admission::Bindings::default());
    }
    let spec = policy.get("spec")?;
    let applicable = matching::applicable_request(policy, request)?;
    let activation = match policy_activation(policy, spec, request, &applicable) {
        Ok(activation) => activation,
        Err(outcome) => return Some(*outcome),
    };
    let mut outcome = run_validations(
        spec.get("validations"),
        "/spec/validations",
        &activation,
        &applicable.services,
        Flavor::Kyverno,
    );
    if matches!(outcome.status, Status::Pass | Status::Fail) {
        match kyverno_annotations(spec.get("auditAnnotations"), &activation, &applicable.services) {
            Ok(annotations) => publish_annotations(&mut outcome, annotations),
            Err(error) => return Some(*error),
        }
    }
    Some(outcome)
}

/// Runs a ValidatingPolicy in JSON mode on a payload (a test's JSON payload, or a resource seen as plain
/// JSON): no match constraints, `object` is the payload, and no request, old object or namespace, as in
/// `evaluateJson` of Kyverno's compiler. JSON mode compiles no audit annotations.
pub fn validating_policy_json(policy: &Value, payload: &Value, exceptions: &[Value], services: &Services) -> Outcome {
    let spec = policy.get("spec").unwrap_or(&Value::Null);
    let mut activation = Activation::new();
    activation.bind_json("object", payload);
    for name in ["oldObject", "request", "namespaceObject", "params"] {
        activation.bind(name, Val::Null);
    }
    let allowed = if exceptions.is_empty() {
        exceptions::no_exceptions()
    } else {
        match exceptions::check(exceptions, &activation, services, ignores_failures(policy)) {
            exceptions::Verdict::Evaluate(allowed) => allowed,
            exceptions::Verdict::Decided(outcome) => return outcome,
        }
    };
    activation.bind("exceptions", allowed);
    if let Err(error) = bind_variables(&mut activation, spec.get("variables"), services) {
        return Outcome::new(Status::Error, error, Some("/spec/variables".to_string()));
    }
    match policy_match_conditions(policy, &activation, services) {
        Ok(None) => {}
        Ok(Some(pointer)) => return Outcome::new(Status::Skip, "a matchCondition is false", Some(pointer)),
        Err((error, pointer)) => return Outcome::new(Status::Error, error, Some(pointer)),
    }
    run_validations(spec.get("validations"), "/spec/validations", &activation, services, Flavor::Kyverno)
}

/// Runs a MutatingPolicy on the request: the outcome carries the patched resource. `None` when the policy
/// does not apply.
pub fn mutating_policy(policy: &Value, request: &Request) -> Option<Outcome> {
    let spec = policy.get("spec")?;
    let applicable = matching::applicable_request(policy, request)?;
    let autogen_kind = (applicable.object != request.object).then(|| request.object.kind().to_string());
    let mut activation = match policy_activation(policy, spec, request, &applicable) {
        Ok(activation) => activation,
        Err(outcome) => return Some(*outcome),
    };
    let current =
        match apply_mutations(spec.get("mutations"), &applicable.object, &mut activation, &applicable.services) {
            Ok(current) => current,
            Err((error, pointer)) => return Some(Outcome::new(Status::Error, error, Some(pointer))),
        };
    // Audit annotations see the object as mutated, as in Kyverno's `evaluate`.
    let annotations = match kyverno_annotations(spec.get("auditAnnotations"), &activation, &applicable.services) {
        Ok(annotations) => annotations,
        Err(error) => return Some(*error),
    };
    let patched = match autogen_kind {
        Some(_) => matching::restore_controller(&request.object, &current),
        None => current,
    };
    let mut outcome = Outcome::new(Status::Pass, "", None);
    outcome.patched = Some(patched);
    publish_annotations(&mut outcome, annotations);
    Some(outcome)
}

/// Whether a MutatingPolicy also mutates existing resources (`spec.evaluation.mutateExisting.enabled`).
pub fn mutates_existing(policy: &Value) -> bool {
    policy.pointer("/spec/evaluation/mutateExisting/enabled").and_then(Value::as_bool) == Some(true)
}

/// Runs a mutate-existing MutatingPolicy on one existing resource for one trigger, as `kyverno test`
/// does for each trigger and each of the test's `targetResources` (`cmd/cli/kubectl-kyverno/processor/
/// policy_processor.go`, the mutateExisting block, and `pkg/cel/policies/mpol/compiler/policy.go`,
/// `EvaluateTarget`):
/// - the target is selected by `targetMatchConstraints.expression` evaluated on the trigger (a list
///   result names its `items`, another map names itself), else by the resource rules of
///   `targetMatchConstraints` (or of `matchConstraints` when it has none) with every operation allowed;
///   the trigger itself is not matched against `matchConstraints`;
/// - the policy then runs with `object` the target, no `oldObject` or `namespaceObject`, and `request`
///   the trigger's request; `targetMatchConditions` stand for `matchConditions`.
///
/// `None` when the target is not selected; a `Skip` when a target match condition is false.
pub fn mutating_policy_target(policy: &Value, trigger: &Request, target: &Value) -> Option<Outcome> {
    let spec = policy.get("spec")?;
    if !mutates_existing(policy) {
        return None;
    }
    let target_request = Request {
        operation: String::new(),
        object: target.clone(),
        old_object: Value::Null,
        namespace_object: None,
        subresource: String::new(),
        ..trigger.clone()
    };
    let expression_pointer = "/spec/targetMatchConstraints/expression";
    let expression =
        spec.pointer("/targetMatchConstraints/expression").and_then(Value::as_str).filter(|text| !text.is_empty());
    if let Some(expression) = expression {
        match selected_by_expression(expression, spec, trigger) {
            Ok(keys) if keys.contains(&namespaced_key(target)) => {}
            Ok(_) => return None,
            Err(error) => return Some(Outcome::new(Status::Error, error, Some(expression_pointer.to_string()))),
        }
    } else {
        let own = spec.get("targetMatchConstraints").filter(|constraints| {
            constraints.get("resourceRules").and_then(Value::as_array).is_some_and(|rules| !rules.is_empty())
        });
        let mut constraints = own.or_else(|| spec.get("matchConstraints")).cloned().unwrap_or(Value::Null);
        // Operations do not select targets: the background controller never checks them.
        if let Some(rules) = constraints.get_mut("resourceRules").and_then(Value::as_array_mut) {
            for rule in rules.iter_mut().filter_map(Value::as_object_mut) {
                rule.insert("operations".to_string(), json!(["*"]));
            }
        }
        if !matching::matches_resources(&constraints, &target_request) {
            return None;
        }
    }
    let allowed = match exception_verdict(policy, &target_request) {
        Ok(allowed) => allowed,
        Err(outcome) => return Some(*outcome),
    };
    let mut activation = base_activation(&target_request, None);
    activation.bind_json("request", &request_value(trigger));
    activation.bind("exceptions", allowed);
    if let Err(error) = bind_variables(&mut activation, spec.get("variables"), &trigger.services) {
        return Some(Outcome::new(Status::Error, error, Some("/spec/variables".to_string())));
    }
    match match_conditions(
        spec.get("targetMatchConditions"),
        "/spec/targetMatchConditions",
        &activation,
        &trigger.services,
    ) {
        Ok(None) => {}
        Ok(Some(pointer)) => return Some(Outcome::new(Status::Skip, "a targetMatchCondition is false", Some(pointer))),
        Err((error, pointer)) => return Some(Outcome::new(Status::Error, error, Some(pointer))),
    }
    let patched = match apply_mutations(spec.get("mutations"), target, &mut activation, &trigger.services) {
        Ok(patched) => patched,
        Err((error, pointer)) => return Some(Outcome::new(Status::Error, error, Some(pointer))),
    };
    let annotations = match kyverno_annotations(spec.get("auditAnnotations"), &activation, &trigger.services) {
        Ok(annotations) => annotations,
        Err(error) => return Some(*error),
    };
    let mut outcome = Outcome::new(Status::Pass, "", None);
    outcome.patched = Some(patched);
    publish_annotations(&mut outcome, annotations);
    Some(outcome)
}

/// `namespace/name`, or `name` for a cluster-scoped object: how the CLI keys targets.
fn namespaced_key(object: &Value) -> String {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    match object.pointer("/metadata/namespace").and_then(Value::as_str).filter(|namespace| !namespace.is_empty()) {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_string(),
    }
}

/// The keys of the targets `targetMatchConstraints.expression` selects, evaluated with only `object` (the
/// trigger) and `variables` bound, as the CLI's `discoverCELTargets` does.
fn selected_by_expression(expression: &str, spec: &Value, trigger: &Request) -> Result<Vec<String>, String> {
    let mut activation = Activation::new();
    activation.bind_json("object", &trigger.object);
    bind_variables(&mut activation, spec.get("variables"), &trigger.services)?;
    let selected = match run(expression, &activation, &trigger.services)? {
        value @ Val::Map(_) => value.to_json(),
        other => {
            return Err(format!(
                "output type of the target selector expression must be a map, got {}",
                other.type_name()
            ));
        }
    };
    Ok(match selected.get("items").and_then(Value::as_array) {
        Some(items) => items.iter().filter(|item| item.is_object()).map(namespaced_key).collect(),
        None => vec![namespaced_key(&selected)],
    })
}

/// Runs a GeneratingPolicy for a trigger: the outcome lists the generated resources.
pub fn generating_policy(policy: &Value, request: &Request) -> Option<Outcome> {
    let spec = policy.get("spec")?;
    let applicable = matching::applicable_request(policy, request)?;
    let allowed = match exception_verdict(policy, request) {
        Ok(allowed) => allowed,
        Err(outcome) => return Some(*outcome),
    };
    let mut activation = base_activation(&applicable, None);
    activation.bind("exceptions", allowed);
    if let Err(error) = bind_variables(&mut activation, spec.get("variables"), &applicable.services) {
        return Some(Outcome::new(Status::Error, error, Some("/spec/variables".to_string())));
    }
    match match_conditions(spec.get("matchConditions"), "/spec/matchConditions", &activation, &applicable.services) {
        Ok(None) => {}
        Ok(Some(pointer)) => return Some(Outcome::new(Status::Skip, "a matchCondition is false", Some(pointer))),
        Err((error, pointer)) => return Some(Outcome::new(Status::Error, error, Some(pointer))),
    }
    // A NamespacedGeneratingPolicy keeps what its templates generate inside its own namespace.
    let policy_namespace = (policy.get("kind").and_then(Value::as_str) == Some("NamespacedGeneratingPolicy"))
        .then(|| policy.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(""));
    let mut generated = Vec::new();
    for (index, generate) in
        spec.get("generate").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().iter().enumerate()
    {
        if let Some(template) = generate.get("template") {
            let pointer = format!("/spec/generate/{index}/template/value");
            match template::generated_by_template(template, policy_namespace, &activation, &applicable.services) {
                Ok(mut items) => generated.append(&mut items),
                Err(error) => return Some(Outcome::new(Status::Error, error, Some(pointer))),
            }
            continue;
        }
        let pointer = format!("/spec/generate/{index}/expression");
        let expression = generate.get("expression").and_then(Value::as_str).unwrap_or("");
        match generated_by(expression, &activation, &applicable) {
            Ok(mut items) => generated.append(&mut items),
            Err(error) => return Some(Outcome::new(Status::Error, error, Some(pointer))),
        }
    }
    let annotations = match kyverno_annotations(spec.get("auditAnnotations"), &activation, &applicable.services) {
        Ok(annotations) => annotations,
        Err(error) => return Some(*error),
    };
    let mut outcome = Outcome::new(Status::Pass, "", None);
    outcome.generated = generated;
    publish_annotations(&mut outcome, annotations);
    Some(outcome)
}

/// A generate expression calls `generator.apply(namespace, [objects])`; Kyverno evaluates the whole
/// expression and ignores its value (`pkg/cel/policies/gpol/compiler/policy.go`, `Evaluate`), so the
/// objects are those of the calls the evaluation reached.
fn generated_by(expression: &str, activation: &Activation, request: &Request) -> Result<Vec<Value>, String> {
    let program = compile_cached(expression).map_err(|errors| compile_message(&errors))?;
    let interpreter = Interpreter::new(activation, &request.services, super::cel::DEFAULT_STEP_BUDGET);
    interpreter.eval(program.expr())?;
    Ok(interpreter.take_generated())
}

/// Runs a DeletingPolicy's `conditions` on an existing resource: `Pass` when every condition holds (the
/// resource would be deleted), `Fail` on the first false one. `None` when the policy does not apply. A
/// resource without apiVersion and kind (a JSON payload) skips `matchConstraints`, as Kyverno's engine
/// does (`pkg/cel/policies/dpol/engine/engine.go`, `Handle`).
pub fn deleting_policy(policy: &Value, request: &Request) -> Option<Outcome> {
    let spec = policy.get("spec")?;
    let subject = request.subject();
    let is_payload = subject.get("apiVersion").is_none() || subject.get("kind").is_none();
    let request = if is_payload { request.clone() } else { matching::applicable_request(policy, request)? };
    let mut activation = base_activation(&request, None);
    if let Err(error) = bind_variables(&mut activation, spec.get("variables"), &request.services) {
        return Some(Outcome::new(Status::Error, error, Some("/spec/variables".to_string())));
    }
    // Kyverno's DeletingPolicy checks exceptions with the variables bound; a matching exception keeps the
    // resource, which the CLI reports as a failed deletion (`compiler/policy.go`, `Evaluate`).
    if !request.exceptions.is_empty() {
        match exceptions::check(&request.exceptions, &activation, &request.services, false) {
            exceptions::Verdict::Evaluate(_) => {}
            exceptions::Verdict::Decided(outcome) if outcome.status == Status::Error => return Some(outcome),
            exceptions::Verdict::Decided(outcome) => {
                return Some(Outcome::new(Status::Fail, format!("resource did not match: {}", outcome.message), None));
            }
        }
    }
    match match_conditions(spec.get("conditions"), "/spec/conditions", &activation, &request.services) {
        Ok(None) => Some(Outcome::new(Status::Pass, "", None)),
        Ok(Some(pointer)) => Some(Outcome::new(Status::Fail, "a deletion condition is false", Some(pointer))),
        Err((error, pointer)) => Some(Outcome::new(Status::Error, error, Some(pointer))),
    }
}

/// One violation of a Gatekeeper K8sNativeValidation template.
#[derive(Clone, Debug)]
pub struct Violation {
    pub message: String,
    /// Pointer of the failing validation inside the code block's `source`.
    pub pointer: String,
}

/// Runs the `source` of a K8sNativeValidation code block against a constraint: `params` is the
/// constraint, `variables.params` its `spec.parameters` and `variables.anyObject` the object (the old
/// object for a DELETE), as gator binds them.
pub fn gatekeeper_validate(source: &Value, constraint: &Value, request: &Request) -> Result<Vec<Violation>, String> {
    let mut activation = base_activation(request, Some(constraint));
    let any_object = if request.object.is_null() { &request.old_object } else { &request.object };
    let parameters = constraint.pointer("/spec/parameters").cloned().unwrap_or(Value::Null);
    let mut bound = vec![
        (Val::string("params"), Val::from_json(&parameters)),
        (Val::string("anyObject"), Val::from_json(any_object)),
    ];
    activation.bind("variables", Val::map(bound.clone()));
    match match_conditions(source.get("matchConditions"), "/matchConditions", &activation, &request.services) {
        Ok(None) => {}
        Ok(Some(_)) => return Ok(Vec::new()),
        Err((error, _)) => return Err(error),
    }
    for variable in source.get("variables").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let name = variable.get("name").and_then(Value::as_str).unwrap_or("");
        let expression = variable.get("expression").and_then(Value::as_str).unwrap_or("");
        let value = match run(expression, &activation, &request.services) {
            Ok(value) => value,
            Err(error) => Val::Error(format!("variable {name}: {error}").into()),
        };
        bound.push((Val::string(name), value));
        activation.bind("variables", Val::map(bound.clone()));
    }
    let mut violations = Vec::new();
    for (index, validation) in
        source.get("validations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default().iter().enumerate()
    {
        let expression = validation.get("expression").and_then(Value::as_str).unwrap_or("");
        let pointer = format!("/validations/{index}/expression");
        match run(expression, &activation, &request.services) {
            Ok(Val::Bool(true)) => {}
            Ok(Val::Bool(false)) => violations.push(Violation {
                message: validation_message(validation, &activation, &request.services, expression),
                pointer,
            }),
            Ok(other) => return Err(format!("validation must return bool, got {}", other.type_name())),
            Err(error) => return Err(error),
        }
    }
    Ok(violations)
}

#[cfg(test)]
mod tests;
