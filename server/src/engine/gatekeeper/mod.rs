//! Gatekeeper engine: ConstraintTemplates and constraints evaluated through regorus, with
//! Gatekeeper's semantics (the constraint framework's hook, the admission target's review and
//! matching, data.inventory) and OPA's reading of Rego where regorus differs (see `rewrite`).
//!
//! Everything here is pure: values in, values and JSON pointers out.

mod checks;
mod code;
pub mod deprecated;
mod diagnostics;
mod expansion;
mod input;
pub mod lexer;
pub(crate) mod limits;
mod matching;
mod parameters;
mod parse;
pub(crate) mod recursion;
pub(crate) mod rewrite;
mod safety;
pub(crate) mod sprintf;

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::{Value, json};

pub use code::{RegoCode, rego_code};
pub(crate) use diagnostics::{CheckInput, check_modules};
pub use diagnostics::{RegoDiagnostic, RegoSource, rego_diagnostics};
pub use expansion::{ExpansionError, Resultant, expand, expansion_templates};
pub use input::{GATOR_ENFORCEMENT_POINT, Review, build_inventory, build_review, is_admission_review};

use input::acts_for_gator;
pub use matching::{selector_matches, wildcard_matches};
pub use parameters::SchemaError;
pub use parse::MAX_REGO_NESTING;
pub(crate) use parse::{ParseError, PreparedModule, new_engine, prepare_module, reported_message};

use crate::model::KubernetesObject;

/// The only target Gatekeeper's admission templates use.
pub const ADMISSION_TARGET: &str = "admission.k8s.gatekeeper.sh";

/// The ConstraintTemplate versions Gatekeeper serves.
pub const TEMPLATE_API_VERSIONS: &[&str] =
    &["templates.gatekeeper.sh/v1", "templates.gatekeeper.sh/v1beta1", "templates.gatekeeper.sh/v1alpha1"];

/// Limits that apply to every evaluation.
#[derive(Debug, Clone, Copy)]
pub struct EvaluationOptions {
    /// Wall-clock limit for one evaluation of a template against one object.
    pub time_limit: Duration,
}

impl Default for EvaluationOptions {
    fn default() -> Self {
        EvaluationOptions { time_limit: Duration::from_secs(10) }
    }
}

/// Why a template was rejected, with the place in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub pointer: String,
    pub message: String,
}

/// Why a constraint was rejected. Only `Schema` errors satisfy a gator `invalid: true` test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintError {
    /// `spec.parameters` (or another field) fails the generated constraint schema.
    Schema(Vec<SchemaError>),
    /// Wrong kind, group, version or name.
    Invalid { pointer: String, message: String },
}

impl ConstraintError {
    pub fn message(&self) -> String {
        match self {
            ConstraintError::Schema(errors) => {
                let listed: Vec<String> =
                    errors.iter().map(|error| format!("{}: {}", error.pointer, error.message)).collect();
                format!("schema validation failed: {}", listed.join("; "))
            }
            ConstraintError::Invalid { message, .. } => message.clone(),
        }
    }

    pub fn pointer(&self) -> String {
        match self {
            ConstraintError::Schema(errors) => errors.first().map(|error| error.pointer.clone()).unwrap_or_default(),
            ConstraintError::Invalid { pointer, .. } => pointer.clone(),
        }
    }
}

/// How a template's code can be evaluated here.
#[derive(Debug, Clone)]
enum TemplateCode {
    Rego {
        engine: Box<regorus::Engine>,
        violation_query: String,
    },
    /// Only `K8sNativeValidation` (CEL) code: evaluated by a later engine.
    CelOnly,
}

/// A ConstraintTemplate ready to review objects.
#[derive(Debug, Clone)]
pub struct CompiledTemplate {
    /// `spec.crd.spec.names.kind`: the kind of its constraints.
    pub kind: String,
    /// Whether the template also carries CEL code; gator evaluates it in preference to Rego.
    pub has_cel: bool,
    /// The `source` of the `K8sNativeValidation` code block, evaluated by `engine::kyverno_cel`.
    cel_source: Option<Value>,
    parameters_schema: Option<Value>,
    code: TemplateCode,
}

/// One violation, as the constraint framework reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub message: String,
    pub details: Value,
}

/// The result of reviewing one object against one constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewOutcome {
    Evaluated(Vec<Violation>),
    /// The template needs an engine that is not implemented; the reason says which.
    Unsupported(String),
}

fn has_cel_code(template: &Value) -> bool {
    template.pointer("/spec/targets/0/code").and_then(Value::as_array).is_some_and(|codes| {
        codes.iter().any(|code| code.get("engine").and_then(Value::as_str) == Some("K8sNativeValidation"))
    })
}

/// The `source` of the template's `K8sNativeValidation` code block.
fn cel_source(template: &Value) -> Option<Value> {
    let codes = template.pointer("/spec/targets/0/code").and_then(Value::as_array)?;
    let code = codes.iter().find(|code| code.get("engine").and_then(Value::as_str) == Some("K8sNativeValidation"))?;
    code.get("source").cloned()
}

/// Runs the CEL code of a template on a review, as gator's K8sNativeValidation driver does.
fn review_with_cel(source: &Value, constraint: &Value, review: &Value, namespace: Option<&Value>) -> Vec<Violation> {
    let request = crate::engine::kyverno_cel::Request {
        operation: review.get("operation").and_then(Value::as_str).unwrap_or("").to_string(),
        object: review.get("object").cloned().unwrap_or(Value::Null),
        old_object: review.get("oldObject").cloned().unwrap_or(Value::Null),
        user_info: review.get("userInfo").cloned().unwrap_or_else(|| json!({})),
        namespace_object: namespace.cloned(),
        ..Default::default()
    };
    match crate::engine::kyverno_cel::gatekeeper_validate(source, constraint, &request) {
        Ok(violations) => violations
            .into_iter()
            .map(|violation| Violation { message: violation.message, details: json!({}) })
            .collect(),
        Err(error) => vec![Violation { message: error, details: json!({}) }],
    }
}

/// Checks a ConstraintTemplate the way the constraint framework does and compiles its Rego.
pub fn compile_template(template: &Value, options: EvaluationOptions) -> Result<CompiledTemplate, TemplateError> {
    let error = |pointer: &str, message: String| TemplateError { pointer: pointer.to_string(), message };
    if template.kind() != "ConstraintTemplate" {
        return Err(error("/kind", "the template file does not hold a ConstraintTemplate".to_string()));
    }
    // gator converts the template through the constraint framework's scheme, which serves these
    // versions only (`pkg/gator/reader`, `ToTemplate`); any other is refused, not evaluated.
    let api_version = template.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if !TEMPLATE_API_VERSIONS.contains(&api_version) {
        return Err(error(
            "/apiVersion",
            format!(
                "no kind \"ConstraintTemplate\" is registered for version {api_version:?}; templates use {}",
                TEMPLATE_API_VERSIONS.join(", ")
            ),
        ));
    }
    let kind = template
        .pointer("/spec/crd/spec/names/kind")
        .and_then(Value::as_str)
        .filter(|kind| !kind.is_empty())
        .ok_or_else(|| error("/spec/crd/spec/names", "spec.crd.spec.names.kind is missing".to_string()))?;
    let name = template.name();
    if name != kind.to_lowercase() {
        return Err(error(
            "/metadata/name",
            format!("the template's name {name:?} must be the lowercase kind {:?}", kind.to_lowercase()),
        ));
    }
    let targets = template.pointer("/spec/targets").and_then(Value::as_array);
    match targets.map(Vec::len) {
        Some(1) => {}
        Some(0) | None => {
            return Err(error("/spec/targets", "a ConstraintTemplate must specify one target".to_string()));
        }
        Some(_) => {
            return Err(error("/spec/targets", "multi-target templates are not supported".to_string()));
        }
    }
    let target_name = template.pointer("/spec/targets/0/target").and_then(Value::as_str).unwrap_or("");
    if target_name != ADMISSION_TARGET {
        return Err(error(
            "/spec/targets/0/target",
            format!("unknown target {target_name:?}; expected {ADMISSION_TARGET:?}"),
        ));
    }
    let parameters_schema = template.pointer("/spec/crd/spec/validation/openAPIV3Schema").cloned();
    let has_cel = has_cel_code(template);
    let Some(code) = rego_code(template) else {
        if has_cel {
            return Ok(CompiledTemplate {
                kind: kind.to_string(),
                has_cel,
                cel_source: cel_source(template),
                parameters_schema,
                code: TemplateCode::CelOnly,
            });
        }
        return Err(error("/spec/targets/0", "the target has no Rego code".to_string()));
    };
    // A template with both Rego and CEL still compiles its Rego (errors are reported), but reviews run the
    // CEL code, as gator's driver order puts K8sNativeValidation first.
    let (engine, violation_query) =
        build_engine(&code, options).map_err(|(pointer, message)| error(&pointer, message))?;
    // OPA's compiler rejects what regorus would only fail on when a rule runs (an undefined function,
    // an unsafe variable): Gatekeeper refuses such a template, so none of its cases are evaluated.
    if let Some(problem) = diagnostics::rego_diagnostics(template).into_iter().find(|problem| problem.rejects_template)
    {
        return Err(error(
            &problem.pointer,
            format!(
                "the Rego does not compile: line {}, column {}: {}",
                problem.line + 1,
                problem.column + 1,
                problem.message
            ),
        ));
    }
    Ok(CompiledTemplate {
        kind: kind.to_string(),
        has_cel,
        cel_source: cel_source(template),
        parameters_schema,
        code: TemplateCode::Rego { engine: Box::new(engine), violation_query },
    })
}

fn package_path(ast: &Value) -> Option<String> {
    fn walk(expression: &Value, parts: &mut Vec<String>) -> Option<()> {
        if let Some(var) = expression.get("Var") {
            parts.push(var.get("value")?.as_str()?.to_string());
            return Some(());
        }
        if let Some(reference) = expression.get("RefDot") {
            walk(reference.get("refr")?, parts)?;
            parts.push(reference.get("field")?.get(1)?.as_str()?.to_string());
            return Some(());
        }
        if let Some(reference) = expression.get("RefBrack") {
            walk(reference.get("refr")?, parts)?;
            let index = reference.get("index")?;
            let value = index.get("String").or_else(|| index.get("RawString"))?.get("value")?.as_str()?;
            parts.push(value.to_string());
            return Some(());
        }
        None
    }
    let mut parts = Vec::new();
    walk(ast.pointer("/package/refr")?, &mut parts)?;
    Some(parts.iter().map(|part| format!("[{}]", Value::String(part.clone()))).collect())
}

fn build_engine(code: &RegoCode, options: EvaluationOptions) -> Result<(regorus::Engine, String), (String, String)> {
    let mut engine = new_engine(code.rego_v1);
    let entry = prepare_module("rego", &code.rego, code.rego_v1)
        .map_err(|error| (code.rego_pointer.clone(), format!("invalid Rego: {}", error.message)))?;
    if let Some(problem) = checks::framework_problems(&entry.ast, false).first() {
        return Err((code.rego_pointer.clone(), problem.message.clone()));
    }
    let package =
        package_path(&entry.ast).ok_or_else(|| (code.rego_pointer.clone(), "the Rego has no package".to_string()))?;
    if !rewrite::rule_names(&entry.ast).iter().any(|name| name == "violation") {
        return Err((code.rego_pointer.clone(), "the Rego must define a `violation` rule".to_string()));
    }
    let mut libs = Vec::new();
    for (index, (lib, pointer)) in code.libs.iter().enumerate() {
        let name = format!("libs[{index}]");
        let module = prepare_module(&name, lib, code.rego_v1)
            .map_err(|error| (pointer.clone(), format!("invalid Rego in {name}: {}", error.message)))?;
        if let Some(problem) = checks::framework_problems(&module.ast, true).first() {
            return Err((pointer.clone(), format!("{name}: {}", problem.message)));
        }
        libs.push((name, pointer, module));
    }
    let mut modules = vec![(&entry.ast, entry.rewritten.text.as_str())];
    modules.extend(libs.iter().map(|(_, _, module)| (&module.ast, module.rewritten.text.as_str())));
    if let Some(call) = recursion::recursive_calls(&modules).first() {
        let pointer = if call.module == 0 { &code.rego_pointer } else { libs[call.module - 1].1 };
        return Err((pointer.clone(), call.message.clone()));
    }
    engine
        .add_policy("rego".to_string(), entry.rewritten.text.clone())
        .map_err(|error| (code.rego_pointer.clone(), reported_message(&error.to_string())))?;
    for (name, pointer, module) in libs {
        engine
            .add_policy(name, module.rewritten.text.clone())
            .map_err(|error| (pointer.clone(), reported_message(&error.to_string())))?;
    }
    add_opa_builtins(&mut engine, code.rego_v1).map_err(|error| (code.rego_pointer.clone(), error.to_string()))?;
    // Gatekeeper runs OPA with non-strict built-in errors: a failing built-in is undefined.
    engine.set_strict_builtin_errors(false);
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: options.time_limit,
        check_interval: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
    });
    Ok((engine, format!("data{package}.violation")))
}

/// Registers the built-ins whose regorus versions differ from OPA's or can run without bound (extensions
/// take precedence over built-ins): every engine that evaluates user Rego gets them.
pub(crate) fn add_opa_builtins(engine: &mut regorus::Engine, rego_v1: bool) -> anyhow::Result<()> {
    // Rego v0 still has OPA's deprecated built-ins; regorus has none of them.
    if !rego_v1 {
        deprecated::register(engine)?;
    }
    // OPA's sprintf prints `%!v(MISSING)` where regorus's fails.
    engine.add_extension("sprintf".to_string(), 2, Box::new(sprintf::sprintf_extension))?;
    // Ranges are built in one allocation, before the execution timer can step in: bounded here.
    engine.add_extension("numbers.range".to_string(), 2, Box::new(limits::numbers_range))?;
    engine.add_extension("numbers.range_step".to_string(), 3, Box::new(limits::numbers_range_step))?;
    engine.add_extension("json.marshal".to_string(), 1, Box::new(limits::json_marshal))?;
    engine.add_extension("yaml.marshal".to_string(), 1, Box::new(limits::yaml_marshal))?;
    Ok(())
}

/// Validates a constraint against its template (frameworks' `ValidateCR` plus the parameter schema).
pub fn check_constraint(template: &CompiledTemplate, constraint: &Value) -> Result<(), ConstraintError> {
    let invalid = |pointer: &str, message: String| ConstraintError::Invalid { pointer: pointer.to_string(), message };
    let name = constraint.name();
    if !is_dns_subdomain(name) {
        return Err(invalid(
            "/metadata/name",
            format!("invalid constraint name {name:?}: it must be a DNS-1123 subdomain"),
        ));
    }
    let kind = constraint.kind();
    if kind != template.kind {
        return Err(invalid(
            "/kind",
            format!("wrong kind {kind:?} for constraint {name:?}; the template wants {:?}", template.kind),
        ));
    }
    let (group, version) = constraint.group_and_version();
    if group != "constraints.gatekeeper.sh" {
        return Err(invalid(
            "/apiVersion",
            format!("unsupported group {group:?}; constraints use \"constraints.gatekeeper.sh\""),
        ));
    }
    if !matches!(version, "v1alpha1" | "v1beta1") {
        return Err(invalid(
            "/apiVersion",
            format!("unsupported version {version:?}; supported versions are v1alpha1 and v1beta1"),
        ));
    }
    let mut errors = Vec::new();
    if let Some(spec) = constraint.get("spec") {
        if !spec.is_object() && !spec.is_null() {
            errors.push(SchemaError { pointer: "/spec".to_string(), message: "must be an object".to_string() });
        }
        if let (Some(parameters), Some(schema)) = (spec.get("parameters"), &template.parameters_schema) {
            parameters::validate(parameters, schema, "/spec/parameters", &mut errors);
        }
        if let Some(action) = spec.get("enforcementAction")
            && !action.is_string()
        {
            errors.push(SchemaError {
                pointer: "/spec/enforcementAction".to_string(),
                message: "must be a string".to_string(),
            });
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(ConstraintError::Schema(errors)) }
}

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The objects a review reads as `data.inventory`, converted for the Rego engine once so that many
/// reviews (every manifest of an `apply` run against every constraint) share them.
#[derive(Debug, Clone)]
pub struct Inventory {
    objects: Vec<Value>,
    data: regorus::Value,
}

impl Inventory {
    /// The inventory of `objects`; an object without apiVersion or kind is an error, as in Gatekeeper.
    pub fn new(objects: &[Value]) -> Result<Inventory, String> {
        let tree = build_inventory(objects)?;
        Ok(Inventory { objects: objects.to_vec(), data: regorus::Value::from(json!({"inventory": tree})) })
    }

    /// The Namespace object named `name`, which namespace selectors match against.
    fn namespace(&self, name: &str) -> Option<&Value> {
        if name.is_empty() {
            return None;
        }
        self.objects.iter().find(|candidate| {
            candidate.get("kind").and_then(Value::as_str) == Some("Namespace")
                && candidate.get("apiVersion").and_then(Value::as_str).is_some_and(|version| !version.contains('/'))
                && candidate.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
        })
    }
}

/// Whether a Gatekeeper mutator (`mutations.gatekeeper.sh` Assign, AssignMetadata, ModifySet,
/// AssignImage) would act on an object at admission: its `applyTo` names the object's group, version and
/// kind (AssignMetadata has none and applies to every kind) and its `spec.match` matches.
pub fn mutator_applies(mutator: &Value, object: &Value, inventory: &Inventory) -> bool {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    if let Some(apply_to) = mutator.pointer("/spec/applyTo").and_then(Value::as_array) {
        let lists = |entry: &Value, field: &str, wanted: &str| {
            entry
                .get(field)
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(|item| item.as_str() == Some(wanted)))
        };
        let named = apply_to.iter().any(|entry| {
            lists(entry, "groups", group) && lists(entry, "versions", version) && lists(entry, "kinds", kind)
        });
        if !named {
            return false;
        }
    }
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let target = matching::Matchable { object, namespace: inventory.namespace(namespace), source: "Original" };
    matching::matches(mutator.pointer("/spec/match"), &target).unwrap_or(true)
}

/// Reviews one object (or AdmissionReview) against a constraint, with the inventory objects.
///
/// `Err` means gator would report an error for the case (for example an unreadable review); an
/// evaluation error of the Rego counts as a violation, as in Gatekeeper.
pub fn review(
    template: &CompiledTemplate,
    constraint: &Value,
    object: &Value,
    inventory_objects: &[Value],
) -> Result<ReviewOutcome, String> {
    review_with_expansion(template, constraint, object, inventory_objects, &[])
}

/// gator's review with an expansion: the object itself, then every object its ExpansionTemplates
/// generate (reviewed as `Generated`), whose violations are prefixed `[Implied by <template>]`.
/// An AdmissionReview is not expanded, as in gator.
pub fn review_with_expansion(
    template: &CompiledTemplate,
    constraint: &Value,
    object: &Value,
    inventory_objects: &[Value],
    expansion_templates: &[Value],
) -> Result<ReviewOutcome, String> {
    // An unreadable object is reported before an unusable inventory, as gator meets them.
    build_review(object)?;
    let inventory = Inventory::new(inventory_objects)?;
    Ok(review_in(template, constraint, object, &inventory, expansion_templates)?
        .unwrap_or(ReviewOutcome::Evaluated(Vec::new())))
}

/// [`review_with_expansion`] against a prepared inventory, telling apart a constraint that does not
/// apply: `None` when it matches neither the object nor anything its expansion generates (or does not
/// act for gator), so a caller can report only the constraints that judged the object.
pub fn review_in(
    template: &CompiledTemplate,
    constraint: &Value,
    object: &Value,
    inventory: &Inventory,
    expansion_templates: &[Value],
) -> Result<Option<ReviewOutcome>, String> {
    let outcome = review_from_source(template, constraint, object, inventory, "Original")?;
    if expansion_templates.is_empty() || is_admission_review(object) {
        return Ok(outcome);
    }
    let mut matched = outcome.is_some();
    let mut violations = match outcome {
        Some(ReviewOutcome::Evaluated(violations)) => violations,
        Some(unsupported @ ReviewOutcome::Unsupported(_)) => return Ok(Some(unsupported)),
        None => Vec::new(),
    };
    let name = object.name();
    let resultants = expansion::expand(object, expansion_templates)
        .map_err(|error| format!("expanding resource {name}: {error}"))?;
    for resultant in resultants {
        match review_from_source(template, constraint, &resultant.object, inventory, "Generated")? {
            Some(ReviewOutcome::Evaluated(generated)) => {
                matched = true;
                violations.extend(generated.into_iter().map(|violation| Violation {
                    message: format!("[Implied by {}] {}", resultant.template_name, violation.message),
                    details: violation.details,
                }));
            }
            Some(unsupported @ ReviewOutcome::Unsupported(_)) => return Ok(Some(unsupported)),
            None => {}
        }
    }
    Ok(matched.then_some(ReviewOutcome::Evaluated(violations)))
}

/// One review; `None` when the constraint does not apply to the object.
fn review_from_source(
    template: &CompiledTemplate,
    constraint: &Value,
    object: &Value,
    inventory: &Inventory,
    source: &str,
) -> Result<Option<ReviewOutcome>, String> {
    let built = build_review(object)?;
    if !acts_for_gator(constraint) {
        return Ok(None);
    }
    let namespace = inventory.namespace(&built.namespace);
    let match_spec = constraint.pointer("/spec/match");
    let mut matched = false;
    let mut any_object = false;
    for field in ["object", "oldObject"] {
        let Some(candidate) = built.review.get(field).filter(|value| value.is_object()) else {
            continue;
        };
        any_object = true;
        let target = matching::Matchable { object: candidate, namespace, source };
        match matching::matches(match_spec, &target) {
            Ok(true) => {
                matched = true;
                break;
            }
            Ok(false) => {}
            Err(error) => {
                let name = candidate.name();
                return Ok(Some(ReviewOutcome::Evaluated(vec![Violation {
                    message: format!("unable to match constraints: error matching {name}: {error}"),
                    details: json!({}),
                }])));
            }
        }
    }
    if !any_object {
        return Ok(Some(ReviewOutcome::Evaluated(vec![Violation {
            message: "unable to match constraints: neither object nor old object are defined".to_string(),
            details: json!({}),
        }])));
    }
    if !matched {
        return Ok(None);
    }
    if let Some(source) = &template.cel_source {
        return Ok(Some(ReviewOutcome::Evaluated(review_with_cel(source, constraint, &built.review, namespace))));
    }
    let (engine, query) = match &template.code {
        TemplateCode::Rego { engine, violation_query } => (engine, violation_query),
        TemplateCode::CelOnly => {
            return Ok(Some(ReviewOutcome::Unsupported(
                "the template has only K8sNativeValidation (CEL) code, which this engine does not evaluate yet"
                    .to_string(),
            )));
        }
    };
    let mut review_value = built.review;
    if let Value::Object(map) = &mut review_value {
        map.insert("namespaceObject".into(), Value::Null);
    }
    let parameters = constraint
        .pointer("/spec/parameters")
        .filter(|parameters| !parameters.is_null())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let input = json!({"review": review_value, "parameters": parameters});
    Ok(Some(ReviewOutcome::Evaluated(evaluate(engine, query, input, &inventory.data)?)))
}

/// Runs the template's `violation` rule the way the constraint framework's hook does: a response
/// counts when it has a `msg`; the time limit was set on the engine when the template was compiled.
fn evaluate(
    engine: &regorus::Engine,
    query: &str,
    input: Value,
    inventory: &regorus::Value,
) -> Result<Vec<Violation>, String> {
    let mut engine = engine.clone();
    let failure = |message: String| vec![Violation { message, details: json!({}) }];
    if let Err(error) = engine.add_data(inventory.clone()) {
        return Ok(failure(error.to_string()));
    }
    engine.set_input(regorus::Value::from(input));
    let results = match engine.eval_query(query.to_string(), false) {
        Ok(results) => results,
        Err(error) => return Ok(failure(reported_message(&error.to_string()))),
    };
    let Some(value) =
        results.result.first().and_then(|result| result.expressions.first()).map(|expression| &expression.value)
    else {
        return Ok(Vec::new());
    };
    if let Err(error) = limits::check_size(value, "the violations") {
        return Ok(failure(error.to_string()));
    }
    let responses: Value = serde_json::to_value(value).unwrap_or(Value::Null);
    let mut violations = Vec::new();
    for response in responses.as_array().into_iter().flatten() {
        let Some(message) = response.get("msg") else {
            continue;
        };
        // The framework reads `msg` as a string; anything else fails the whole review.
        let Value::String(message) = message else {
            return Err(format!("a violation's msg must be a string, found {message}"));
        };
        let message = message.clone();
        let details = response.get("details").cloned().unwrap_or_else(|| json!({}));
        let violation = Violation { message, details };
        // The framework's hook collects responses in a set, so identical ones count once.
        if !violations.contains(&violation) {
            violations.push(violation);
        }
    }
    Ok(violations)
}

#[cfg(test)]
mod tests;
