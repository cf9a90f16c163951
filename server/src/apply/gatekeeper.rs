//! Gatekeeper constraints on manifests, as `gator test` reviews them (`pkg/gator/test/test.go` upstream):
//! templates first, then their constraints, every manifest added as `data.inventory`, each manifest
//! reviewed (and what ExpansionTemplates generate from it), and a violation enforcing only when the
//! constraint's action for gator is `deny` (`cmd/gator/test/test.go`, `enforceableFailure`).

use serde_json::Value;

use super::types::{ApplyResult, Manifest, PolicyDocument, RuleKind, Status};
use crate::base::Code;
use crate::engine::gatekeeper::{
    self, CompiledTemplate, ConstraintError, EvaluationOptions, ExpansionError, GATOR_ENFORCEMENT_POINT, Inventory,
    ReviewOutcome,
};
use crate::testrun::{Framework, Problem, Related, SourceRef};

/// A compiled ConstraintTemplate and where it is written.
#[derive(Clone, Debug)]
struct Template {
    compiled: CompiledTemplate,
    at: SourceRef,
}

/// A constraint that its template accepted.
#[derive(Clone, Debug)]
struct Constraint {
    value: Value,
    at: SourceRef,
    /// The index of its template in [`Prepared::templates`].
    template: usize,
}

/// The Gatekeeper side of an apply run: compiled templates, the constraints that fit them, and what
/// changes objects before they are reviewed (ExpansionTemplates, mutators).
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    templates: Vec<Template>,
    constraints: Vec<Constraint>,
    expansion_templates: Vec<Value>,
    /// Why expansion cannot be followed (mutators among the expansion's inputs), when it cannot.
    expansion_unsupported: Option<String>,
    /// Gatekeeper mutators: at admission they change objects before validation.
    mutators: Vec<PolicyDocument>,
}

impl Prepared {
    /// Compiles the templates and checks each constraint against its template, as gator adds them;
    /// what gator would refuse becomes a problem.
    pub fn new(documents: &[PolicyDocument], problems: &mut Vec<Problem>) -> Prepared {
        let mut prepared = Prepared::default();
        let group_of = |document: &Value| {
            let api_version = document.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            api_version.rsplit_once('/').map_or(String::new(), |(group, _)| group.to_string())
        };
        let kind_of = |document: &Value| document.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let mut expansion_inputs = Vec::new();
        for document in documents {
            let (group, kind) = (group_of(&document.value), kind_of(&document.value));
            match (group.as_str(), kind.as_str()) {
                ("templates.gatekeeper.sh", "ConstraintTemplate") => {
                    match gatekeeper::compile_template(&document.value, EvaluationOptions::default()) {
                        Ok(compiled) => prepared.templates.push(Template { compiled, at: document.at.clone() }),
                        Err(error) => problems.push(Problem {
                            at: SourceRef { pointer: error.pointer.clone(), ..document.at.clone() },
                            code: Code::ApplyInvalidTemplate,
                            message: format!(
                                "ConstraintTemplate {} does not compile: {}",
                                name_of(&document.value),
                                error.message
                            ),
                        }),
                    }
                }
                ("expansion.gatekeeper.sh", "ExpansionTemplate") => expansion_inputs.push(document.value.clone()),
                ("mutations.gatekeeper.sh", _) => {
                    expansion_inputs.push(document.value.clone());
                    prepared.mutators.push(document.clone());
                }
                _ => {}
            }
        }
        match gatekeeper::expansion_templates(&expansion_inputs) {
            Ok(templates) => prepared.expansion_templates = templates,
            Err(ExpansionError::Invalid(message)) => {
                let at = documents
                    .iter()
                    .find(|document| group_of(&document.value) == "expansion.gatekeeper.sh")
                    .map(|document| document.at.clone());
                if let Some(at) = at {
                    problems.push(Problem { at, code: Code::ApplyInvalidTemplate, message });
                }
            }
            Err(ExpansionError::Unsupported(reason)) => {
                prepared.expansion_templates = expansion_inputs
                    .iter()
                    .filter(|document| group_of(document) == "expansion.gatekeeper.sh")
                    .cloned()
                    .collect();
                prepared.expansion_unsupported = Some(reason);
            }
        }
        for document in documents {
            if group_of(&document.value) != "constraints.gatekeeper.sh" {
                continue;
            }
            let kind = kind_of(&document.value);
            let Some(template) = prepared.templates.iter().position(|template| template.compiled.kind == kind) else {
                problems.push(Problem {
                    at: SourceRef { pointer: "/kind".to_string(), ..document.at.clone() },
                    code: Code::ApplyMissingTemplate,
                    message: format!(
                        "constraint {} is of kind {kind}, which no ConstraintTemplate among the policies defines",
                        name_of(&document.value)
                    ),
                });
                continue;
            };
            match gatekeeper::check_constraint(&prepared.templates[template].compiled, &document.value) {
                Ok(()) => prepared.constraints.push(Constraint {
                    value: document.value.clone(),
                    at: document.at.clone(),
                    template,
                }),
                Err(error) => {
                    let pointer = match &error {
                        ConstraintError::Schema(_) | ConstraintError::Invalid { .. } => error.pointer(),
                    };
                    problems.push(Problem {
                        at: SourceRef { pointer, ..document.at.clone() },
                        code: Code::ApplyInvalidConstraint,
                        message: format!("constraint {}: {}", name_of(&document.value), error.message()),
                    });
                }
            }
        }
        prepared
    }

    pub fn constraint_count(&self) -> usize {
        self.constraints.len()
    }
}

/// Every manifest as `data.inventory`, built once per run, as gator adds all its objects as data.
#[derive(Clone, Debug)]
pub struct ManifestInventory {
    inventory: Result<Inventory, String>,
}

impl ManifestInventory {
    pub fn new(manifests: &[Manifest], problems: &mut Vec<Problem>) -> ManifestInventory {
        let objects: Vec<Value> = manifests.iter().map(|manifest| manifest.object.clone()).collect();
        let inventory = Inventory::new(&objects);
        if let (Err(message), Some(first)) = (&inventory, manifests.first()) {
            problems.push(Problem {
                at: first.at.clone(),
                code: Code::ApplyNotAnObject,
                message: format!("the manifests cannot be Gatekeeper's inventory: {message}"),
            });
        }
        ManifestInventory { inventory }
    }
}

/// Reviews one manifest against every constraint.
pub fn judge(
    prepared: &Prepared,
    manifest: &Manifest,
    index: usize,
    inventory: &ManifestInventory,
) -> Vec<ApplyResult> {
    let mut results = Vec::new();
    if prepared.constraints.is_empty() {
        return results;
    }
    let inventory = match &inventory.inventory {
        Ok(inventory) => inventory,
        Err(message) => {
            for constraint in &prepared.constraints {
                results.push(result(prepared, constraint, index, Status::Error, message.clone()));
            }
            return results;
        }
    };
    for mutator in &prepared.mutators {
        if gatekeeper::mutator_applies(&mutator.value, &manifest.object, inventory) {
            let reason = format!(
                "Gatekeeper mutator {} ({}) changes this object at admission before any constraint reviews it, \
                 and Gatekeeper mutation is not evaluated here",
                name_of(&mutator.value),
                mutator.value.get("kind").and_then(Value::as_str).unwrap_or("")
            );
            for constraint in &prepared.constraints {
                results.push(result(prepared, constraint, index, Status::Unsupported, reason.clone()));
            }
            return results;
        }
    }
    if let Some(reason) = &prepared.expansion_unsupported
        && gatekeeper::expand(&manifest.object, &prepared.expansion_templates).is_ok_and(|found| !found.is_empty())
    {
        for constraint in &prepared.constraints {
            results.push(result(prepared, constraint, index, Status::Unsupported, reason.clone()));
        }
        return results;
    }
    for constraint in &prepared.constraints {
        let template = &prepared.templates[constraint.template].compiled;
        let reviewed = gatekeeper::review_in(
            template,
            &constraint.value,
            &manifest.object,
            inventory,
            &prepared.expansion_templates,
        );
        let deny = enforcement_of(&constraint.value).1;
        match reviewed {
            Ok(None) => {}
            Ok(Some(ReviewOutcome::Evaluated(violations))) if violations.is_empty() => {
                results.push(result(prepared, constraint, index, Status::Pass, String::new()));
            }
            Ok(Some(ReviewOutcome::Evaluated(violations))) => {
                let status = if deny { Status::Fail } else { Status::Warn };
                for violation in violations {
                    results.push(result(prepared, constraint, index, status, violation.message));
                }
            }
            Ok(Some(ReviewOutcome::Unsupported(reason))) => {
                results.push(result(prepared, constraint, index, Status::Unsupported, reason));
            }
            Err(message) => results.push(result(prepared, constraint, index, Status::Error, message)),
        }
    }
    results
}

fn result(
    prepared: &Prepared,
    constraint: &Constraint,
    manifest: usize,
    status: Status,
    message: String,
) -> ApplyResult {
    let template = &prepared.templates[constraint.template];
    let kind = constraint.value.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    ApplyResult {
        framework: Framework::Gatekeeper,
        policy: name_of(&constraint.value).to_string(),
        rule: Some(kind),
        rule_kind: RuleKind::Validate,
        manifest,
        status,
        message,
        enforcement: enforcement_of(&constraint.value).0,
        policy_at: Some(SourceRef { pointer: "/metadata/name".to_string(), ..constraint.at.clone() }),
        resource_pointer: None,
        related: vec![Related {
            at: SourceRef { pointer: "/metadata/name".to_string(), ..template.at.clone() },
            message: format!("the ConstraintTemplate of {}", template.compiled.kind),
        }],
        generated: Vec::new(),
        category: String::new(),
        severity: String::new(),
        source: "gatekeeper".to_string(),
    }
}

/// The constraint's action for gator, as shown, and whether it denies: `spec.enforcementAction` (deny when
/// unset), or for `scoped`, the actions of the `scopedEnforcementActions` that name gator's enforcement
/// point or `*`.
fn enforcement_of(constraint: &Value) -> (String, bool) {
    let action = constraint
        .pointer("/spec/enforcementAction")
        .and_then(Value::as_str)
        .filter(|action| !action.is_empty())
        .unwrap_or("deny");
    if !action.eq_ignore_ascii_case("scoped") {
        return (action.to_string(), action == "deny");
    }
    let actions: Vec<&str> = constraint
        .pointer("/spec/scopedEnforcementActions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|entry| {
            entry.get("enforcementPoints").and_then(Value::as_array).is_some_and(|points| {
                points.iter().any(|point| {
                    let name = point.get("name").and_then(Value::as_str).unwrap_or("");
                    name == "*" || name == GATOR_ENFORCEMENT_POINT
                })
            })
        })
        .filter_map(|entry| entry.get("action").and_then(Value::as_str))
        .collect();
    (actions.join(","), actions.contains(&"deny"))
}

fn name_of(document: &Value) -> &str {
    document.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_deny_enforces_and_scoped_actions_are_those_for_gator() {
        let of = |spec: Value| enforcement_of(&json!({"spec": spec}));
        assert_eq!(of(json!({})), ("deny".to_string(), true));
        assert_eq!(of(json!({"enforcementAction": "warn"})), ("warn".to_string(), false));
        assert_eq!(of(json!({"enforcementAction": "foo"})), ("foo".to_string(), false));
        let scoped = of(json!({"enforcementAction": "scoped", "scopedEnforcementActions": [
            {"action": "warn", "enforcementPoints": [{"name": "validation.gatekeeper.sh"}]},
            {"action": "deny", "enforcementPoints": [{"name": "gator.gatekeeper.sh"}]},
        ]}));
        assert_eq!(scoped, ("deny".to_string(), true));
    }
}
