//! Gatekeeper engine: ConstraintTemplates and constraints evaluated through regorus, with
//! Gatekeeper's semantics (the constraint framework's hook, the admission target's review and
//! matching, data.inventory) and OPA's reading of Rego where regorus differs (see `rewrite`).
//!
//! Everything here is pure: values in, values and JSON pointers out.

mod diagnostics;
mod lexer;
mod matching;
mod parameters;
mod rewrite;
mod sprintf;

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::{Map, Value, json};

pub use diagnostics::{RegoDiagnostic, RegoSource, rego_diagnostics};
pub use matching::{selector_matches, wildcard_matches};
pub use parameters::SchemaError;

use rewrite::RewrittenSource;

/// The only target Gatekeeper's admission templates use.
pub const ADMISSION_TARGET: &str = "admission.k8s.gatekeeper.sh";
/// The enforcement point gator reviews for (scoped enforcement actions name it).
pub const GATOR_ENFORCEMENT_POINT: &str = "gator.gatekeeper.sh";

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
    options: EvaluationOptions,
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

/// The Rego sources of a template target and where they are in the template.
#[derive(Debug, Clone)]
pub struct RegoCode {
    pub rego: String,
    pub rego_pointer: String,
    pub libs: Vec<(String, String)>,
    pub rego_v1: bool,
}

/// Finds the Rego of the template's (single) target: `targets[0].rego`/`libs` win over
/// `code[engine=Rego].source`, as in the constraint framework's conversion.
pub fn rego_code(template: &Value) -> Option<RegoCode> {
    let target = template.pointer("/spec/targets/0")?;
    if let Some(rego) = target.get("rego").and_then(Value::as_str).filter(|rego| !rego.is_empty()) {
        let libs = string_list(target.get("libs"), "/spec/targets/0/libs");
        return Some(RegoCode {
            rego: rego.to_string(),
            rego_pointer: "/spec/targets/0/rego".to_string(),
            libs,
            rego_v1: false,
        });
    }
    let codes = target.get("code").and_then(Value::as_array)?;
    let (index, code) =
        codes.iter().enumerate().find(|(_, code)| code.get("engine").and_then(Value::as_str) == Some("Rego"))?;
    let source = code.get("source")?;
    let rego = source.get("rego").and_then(Value::as_str)?;
    let base = format!("/spec/targets/0/code/{index}/source");
    Some(RegoCode {
        rego: rego.to_string(),
        rego_pointer: format!("{base}/rego"),
        libs: string_list(source.get("libs"), &format!("{base}/libs")),
        rego_v1: source.get("version").and_then(Value::as_str) == Some("v1"),
    })
}

fn string_list(value: Option<&Value>, pointer: &str) -> Vec<(String, String)> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| Some((item.as_str()?.to_string(), format!("{pointer}/{index}"))))
                .collect()
        })
        .unwrap_or_default()
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
    if template.get("kind").and_then(Value::as_str) != Some("ConstraintTemplate") {
        return Err(error("/kind", "the template file does not hold a ConstraintTemplate".to_string()));
    }
    let kind = template
        .pointer("/spec/crd/spec/names/kind")
        .and_then(Value::as_str)
        .filter(|kind| !kind.is_empty())
        .ok_or_else(|| error("/spec/crd/spec/names", "spec.crd.spec.names.kind is missing".to_string()))?;
    let name = template.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
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
        Some(_) => return Err(error("/spec/targets", "multi-target templates are not supported".to_string())),
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
                options,
            });
        }
        return Err(error("/spec/targets/0", "the target has no Rego code".to_string()));
    };
    // A template with both Rego and CEL still compiles its Rego (errors are reported), but reviews run the
    // CEL code, as gator's driver order puts K8sNativeValidation first.
    let (engine, violation_query) =
        build_engine(&code, options).map_err(|(pointer, message)| error(&pointer, message))?;
    Ok(CompiledTemplate {
        kind: kind.to_string(),
        has_cel,
        cel_source: cel_source(template),
        parameters_schema,
        code: TemplateCode::Rego { engine: Box::new(engine), violation_query },
        options,
    })
}

/// One Rego module after the OPA-compatibility rewrite, with its AST.
pub(crate) struct PreparedModule {
    pub rewritten: RewrittenSource,
    pub ast: Value,
}

/// A parse error in one module: byte offset in the original text and the message.
pub(crate) struct ParseError {
    pub offset: usize,
    pub message: String,
}

fn new_engine(rego_v1: bool) -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(!rego_v1);
    engine
}

/// Rewrites a module for OPA compatibility and parses it with regorus.
pub(crate) fn prepare_module(name: &str, text: &str, rego_v1: bool) -> Result<PreparedModule, ParseError> {
    let mut rewritten = RewrittenSource::identity(text);
    rewritten.apply(rewrite::lexical_insertions(text));
    let ast = parse_ast(name, &rewritten, rego_v1)?;
    let guards = rewrite::negation_insertions(&rewritten.text, &ast);
    if !guards.is_empty() {
        let mut guarded = rewritten.clone();
        guarded.apply(guards);
        // The guards are built from regorus's own spans; should they ever fail to parse, keep the
        // unguarded module rather than reject a valid template.
        if let Ok(guarded_ast) = parse_ast(name, &guarded, rego_v1) {
            return Ok(PreparedModule { rewritten: guarded, ast: guarded_ast });
        }
    }
    Ok(PreparedModule { rewritten, ast })
}

fn parse_ast(name: &str, rewritten: &RewrittenSource, rego_v1: bool) -> Result<Value, ParseError> {
    let mut engine = new_engine(rego_v1);
    if let Err(error) = engine.add_policy(name.to_string(), rewritten.text.clone()) {
        let text = error.to_string();
        let mut offset = reported_offset(&text, &rewritten.text).unwrap_or(0);
        let mut message = reported_message(&text);
        if let Some((inner_offset, inner_message)) = locate_error_in_body(&rewritten.text, offset, rego_v1) {
            offset = inner_offset;
            message = inner_message;
        }
        return Err(ParseError { offset: rewritten.to_original(offset), message });
    }
    let json = engine.get_ast_as_json().map_err(|error| ParseError { offset: 0, message: error.to_string() })?;
    let modules: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
    Ok(modules.pointer("/0/ast").cloned().unwrap_or(Value::Null))
}

/// regorus reports any parse error inside a rule body as "expecting }" at the body's `{`. To point at
/// the real place, parse the body alone as a query, which regorus reports precisely, and translate
/// its position back. Returns the offset in `text` and the message.
fn locate_error_in_body(text: &str, offset: usize, rego_v1: bool) -> Option<(usize, String)> {
    if text.as_bytes().get(offset) != Some(&b'{') {
        return None;
    }
    let tokens = lexer::tokenize(text);
    let mut depth = 0usize;
    let mut close = text.len();
    for token in tokens.iter().filter(|token| token.start >= offset && !token.is_trivia()) {
        match token.text(text) {
            "{" | "[" | "(" => depth += 1,
            "}" | "]" | ")" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    close = token.start;
                    break;
                }
            }
            _ => {}
        }
    }
    let body_start = offset + 1;
    let body = text.get(body_start..close)?;
    if body.trim().is_empty() {
        return None;
    }
    let mut engine = new_engine(rego_v1);
    engine.set_strict_builtin_errors(false);
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: Duration::from_millis(200),
        check_interval: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
    });
    let error = engine.eval_query(body.to_string(), false).err()?.to_string();
    let message = reported_message(&error);
    // Only syntax errors count here: the probe also evaluates the body, which may fail for other reasons.
    let is_syntax =
        ["expect", "unexpected", "invalid", "unterminated", "missing"].iter().any(|prefix| message.starts_with(prefix));
    if !is_syntax {
        return None;
    }
    let inner = reported_offset(&error, body)?;
    // regorus's query parser names no expected token when a statement is cut short.
    let message = if message.trim() == "expecting" {
        "this statement does not parse as a Rego expression".to_string()
    } else {
        message
    };
    Some((body_start + inner, message))
}

/// The byte offset of regorus's `--> file:line:column` (1-based, column in characters).
pub(crate) fn reported_offset(message: &str, text: &str) -> Option<usize> {
    let location = message.split("--> ").nth(1)?.lines().next()?;
    let mut parts = location.rsplitn(3, ':');
    let column: usize = parts.next()?.trim().parse().ok()?;
    let line: usize = parts.next()?.trim().parse().ok()?;
    let line_start = if line <= 1 { 0 } else { text.match_indices('\n').nth(line - 2).map(|(index, _)| index + 1)? };
    let line_text = text[line_start..].split('\n').next().unwrap_or("");
    let within = line_text.char_indices().nth(column.saturating_sub(1)).map_or(line_text.len(), |(index, _)| index);
    Some(line_start + within)
}

/// The sentence after `error: ` in a regorus message, or the whole message.
pub(crate) fn reported_message(message: &str) -> String {
    message
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| message.trim().to_string())
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
    let package =
        package_path(&entry.ast).ok_or_else(|| (code.rego_pointer.clone(), "the Rego has no package".to_string()))?;
    if !rewrite::rule_names(&entry.ast).iter().any(|name| name == "violation") {
        return Err((code.rego_pointer.clone(), "the Rego must define a `violation` rule".to_string()));
    }
    engine
        .add_policy("rego".to_string(), entry.rewritten.text.clone())
        .map_err(|error| (code.rego_pointer.clone(), reported_message(&error.to_string())))?;
    for (index, (lib, pointer)) in code.libs.iter().enumerate() {
        let name = format!("libs[{index}]");
        let module = prepare_module(&name, lib, code.rego_v1)
            .map_err(|error| (pointer.clone(), format!("invalid Rego in {name}: {}", error.message)))?;
        engine
            .add_policy(name, module.rewritten.text.clone())
            .map_err(|error| (pointer.clone(), reported_message(&error.to_string())))?;
    }
    // OPA's sprintf prints `%!v(MISSING)` where regorus's fails; extensions take precedence over built-ins.
    engine
        .add_extension("sprintf".to_string(), 2, Box::new(sprintf::sprintf_extension))
        .map_err(|error| (code.rego_pointer.clone(), error.to_string()))?;
    // Gatekeeper runs OPA with non-strict built-in errors: a failing built-in is undefined.
    engine.set_strict_builtin_errors(false);
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: options.time_limit,
        check_interval: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
    });
    Ok((engine, format!("data{package}.violation")))
}

/// Validates a constraint against its template (frameworks' `ValidateCR` plus the parameter schema).
pub fn check_constraint(template: &CompiledTemplate, constraint: &Value) -> Result<(), ConstraintError> {
    let invalid = |pointer: &str, message: String| ConstraintError::Invalid { pointer: pointer.to_string(), message };
    let name = constraint.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    if !is_dns_subdomain(name) {
        return Err(invalid(
            "/metadata/name",
            format!("invalid constraint name {name:?}: it must be a DNS-1123 subdomain"),
        ));
    }
    let kind = constraint.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != template.kind {
        return Err(invalid(
            "/kind",
            format!("wrong kind {kind:?} for constraint {name:?}; the template wants {:?}", template.kind),
        ));
    }
    let api_version = constraint.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
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

/// Builds `data.inventory` from objects: `cluster/<groupVersion>/<kind>/<name>` and
/// `namespace/<namespace>/<groupVersion>/<kind>/<name>`. Objects without apiVersion or kind are
/// reported as errors, as Gatekeeper does.
pub fn build_inventory(objects: &[Value]) -> Result<Value, String> {
    let mut inventory = json!({});
    for object in objects {
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            return Err(format!("resource {name} has no version"));
        }
        if kind.is_empty() {
            return Err(format!("resource {name} has no kind"));
        }
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
        let path: Vec<&str> = if namespace.is_empty() {
            vec!["cluster", api_version, kind, name]
        } else {
            vec!["namespace", namespace, api_version, kind, name]
        };
        insert_at(&mut inventory, &path, object.clone());
    }
    Ok(inventory)
}

fn insert_at(root: &mut Value, path: &[&str], value: Value) {
    let mut node = root;
    for (index, key) in path.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        if index + 1 == path.len() {
            map.insert((*key).to_string(), value);
            return;
        }
        node = map.entry((*key).to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

/// `input.review` as Gatekeeper builds it, and the objects the matcher looks at.
#[derive(Debug, Clone)]
pub struct Review {
    pub review: Value,
    /// The request's namespace (used to find the Namespace object for matching).
    pub namespace: String,
}

fn group_version_kind(object: &Value) -> Value {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    json!({
        "group": group,
        "version": version,
        "kind": object.get("kind").and_then(Value::as_str).unwrap_or(""),
    })
}

/// Whether an object is an `admission.k8s.io` AdmissionReview (gator's "open box" tests).
pub fn is_admission_review(object: &Value) -> bool {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    object.get("kind").and_then(Value::as_str) == Some("AdmissionReview")
        && api_version.rsplit_once('/').map(|(group, _)| group) == Some("admission.k8s.io")
}

/// Builds the review for an object, or for the request of an AdmissionReview. The shape follows the
/// JSON encoding of Kubernetes' AdmissionRequest, which is what the Rego sees in Gatekeeper.
pub fn build_review(object: &Value) -> Result<Review, String> {
    if !object.is_object() {
        return Err("the object under review is not a mapping".to_string());
    }
    if is_admission_review(object) {
        return admission_review_request(object);
    }
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let mut review = Map::new();
    review.insert("uid".into(), json!(""));
    review.insert("kind".into(), group_version_kind(object));
    review.insert("resource".into(), json!({"group": "", "version": "", "resource": ""}));
    if !name.is_empty() {
        review.insert("name".into(), json!(name));
    }
    if !namespace.is_empty() {
        review.insert("namespace".into(), json!(namespace));
    }
    review.insert("operation".into(), json!(""));
    review.insert("userInfo".into(), json!({}));
    review.insert("object".into(), object.clone());
    review.insert("oldObject".into(), Value::Null);
    review.insert("options".into(), Value::Null);
    Ok(Review { review: Value::Object(review), namespace: namespace.to_string() })
}

fn admission_review_request(object: &Value) -> Result<Review, String> {
    let Some(request) = object.get("request").filter(|request| request.is_object()) else {
        return Err("the AdmissionReview has no request".to_string());
    };
    let has = |field: &str| request.get(field).is_some_and(|value| !value.is_null());
    if !has("object") && !has("oldObject") {
        return Err("the AdmissionRequest has neither an \"object\" nor an \"oldObject\" to review".to_string());
    }
    let text = |field: &str| request.get(field).and_then(Value::as_str).unwrap_or("").to_string();
    let fields_of = |field: &str, names: &[&str]| {
        let source = request.get(field);
        let mut map = Map::new();
        for name in names {
            let value = source.and_then(|source| source.get(*name)).and_then(Value::as_str).unwrap_or("");
            map.insert((*name).to_string(), json!(value));
        }
        Value::Object(map)
    };
    let mut review = Map::new();
    review.insert("uid".into(), json!(text("uid")));
    review.insert("kind".into(), fields_of("kind", &["group", "version", "kind"]));
    review.insert("resource".into(), fields_of("resource", &["group", "version", "resource"]));
    for optional in ["subResource", "requestSubResource", "name", "namespace"] {
        if !text(optional).is_empty() {
            review.insert(optional.into(), json!(text(optional)));
        }
    }
    if has("requestKind") {
        review.insert("requestKind".into(), fields_of("requestKind", &["group", "version", "kind"]));
    }
    if has("requestResource") {
        review.insert("requestResource".into(), fields_of("requestResource", &["group", "version", "resource"]));
    }
    review.insert("operation".into(), json!(text("operation")));
    let mut user_info = Map::new();
    if let Some(source) = request.get("userInfo").and_then(Value::as_object) {
        for field in ["username", "uid", "groups", "extra"] {
            if let Some(value) = source.get(field).filter(|value| !is_empty_value(value)) {
                user_info.insert(field.to_string(), value.clone());
            }
        }
    }
    review.insert("userInfo".into(), Value::Object(user_info));
    let mut object_under_review = request.get("object").cloned().unwrap_or(Value::Null);
    let old_object = request.get("oldObject").cloned().unwrap_or(Value::Null);
    // On DELETE Gatekeeper reviews the old object as the object.
    if text("operation") == "DELETE" {
        if old_object.is_null() {
            return Err("oldObject cannot be nil for DELETE operations".to_string());
        }
        object_under_review = old_object.clone();
    }
    review.insert("object".into(), object_under_review);
    review.insert("oldObject".into(), old_object);
    if let Some(dry_run) = request.get("dryRun").filter(|value| !value.is_null()) {
        review.insert("dryRun".into(), dry_run.clone());
    }
    review.insert("options".into(), request.get("options").cloned().unwrap_or(Value::Null));
    Ok(Review { review: Value::Object(review), namespace: text("namespace") })
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Whether a scoped constraint acts at gator's enforcement point.
fn acts_for_gator(constraint: &Value) -> bool {
    let action = constraint.pointer("/spec/enforcementAction").and_then(Value::as_str).unwrap_or("");
    if !action.eq_ignore_ascii_case("scoped") {
        return true;
    }
    let Some(entries) = constraint.pointer("/spec/scopedEnforcementActions").and_then(Value::as_array) else {
        return false;
    };
    entries.iter().any(|entry| {
        entry.get("enforcementPoints").and_then(Value::as_array).is_some_and(|points| {
            points.iter().any(|point| {
                let name = point.get("name").and_then(Value::as_str).unwrap_or("");
                name == "*" || name == GATOR_ENFORCEMENT_POINT
            })
        })
    })
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
    let built = build_review(object)?;
    let inventory = build_inventory(inventory_objects)?;
    if !acts_for_gator(constraint) {
        return Ok(ReviewOutcome::Evaluated(Vec::new()));
    }
    let namespace = if built.namespace.is_empty() {
        None
    } else {
        inventory_objects.iter().find(|candidate| {
            candidate.get("kind").and_then(Value::as_str) == Some("Namespace")
                && candidate.get("apiVersion").and_then(Value::as_str).is_some_and(|version| !version.contains('/'))
                && candidate.pointer("/metadata/name").and_then(Value::as_str) == Some(built.namespace.as_str())
        })
    };
    let match_spec = constraint.pointer("/spec/match");
    let mut matched = false;
    let mut any_object = false;
    for field in ["object", "oldObject"] {
        let Some(candidate) = built.review.get(field).filter(|value| value.is_object()) else { continue };
        any_object = true;
        let target = matching::Matchable { object: candidate, namespace, source: "Original" };
        match matching::matches(match_spec, &target) {
            Ok(true) => {
                matched = true;
                break;
            }
            Ok(false) => {}
            Err(error) => {
                let name = candidate.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
                return Ok(ReviewOutcome::Evaluated(vec![Violation {
                    message: format!("unable to match constraints: error matching {name}: {error}"),
                    details: json!({}),
                }]));
            }
        }
    }
    if !any_object {
        return Ok(ReviewOutcome::Evaluated(vec![Violation {
            message: "unable to match constraints: neither object nor old object are defined".to_string(),
            details: json!({}),
        }]));
    }
    if !matched {
        return Ok(ReviewOutcome::Evaluated(Vec::new()));
    }
    if let Some(source) = &template.cel_source {
        return Ok(ReviewOutcome::Evaluated(review_with_cel(source, constraint, &built.review, namespace)));
    }
    let (engine, query) = match &template.code {
        TemplateCode::Rego { engine, violation_query } => (engine, violation_query),
        TemplateCode::CelOnly => {
            return Ok(ReviewOutcome::Unsupported(
                "the template has only K8sNativeValidation (CEL) code, which this engine does not evaluate yet"
                    .to_string(),
            ));
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
    Ok(ReviewOutcome::Evaluated(evaluate(engine, query, input, inventory, template.options)))
}

fn evaluate(
    engine: &regorus::Engine,
    query: &str,
    input: Value,
    inventory: Value,
    options: EvaluationOptions,
) -> Vec<Violation> {
    let mut engine = engine.clone();
    let _ = options;
    let failure = |message: String| vec![Violation { message, details: json!({}) }];
    if let Err(error) = engine.add_data(regorus::Value::from(json!({"inventory": inventory}))) {
        return failure(error.to_string());
    }
    engine.set_input(regorus::Value::from(input));
    let results = match engine.eval_query(query.to_string(), false) {
        Ok(results) => results,
        Err(error) => return failure(reported_message(&error.to_string())),
    };
    let Some(value) =
        results.result.first().and_then(|result| result.expressions.first()).map(|expression| &expression.value)
    else {
        return Vec::new();
    };
    let responses: Value = serde_json::to_value(value).unwrap_or(Value::Null);
    let mut violations = Vec::new();
    for response in responses.as_array().into_iter().flatten() {
        let Some(message) = response.get("msg") else { continue };
        let message = match message {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let details = response.get("details").cloned().unwrap_or_else(|| json!({}));
        let violation = Violation { message, details };
        // The framework's hook collects responses in a set, so identical ones count once.
        if !violations.contains(&violation) {
            violations.push(violation);
        }
    }
    violations
}

#[cfg(test)]
mod tests;
