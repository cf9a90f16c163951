//! Tests of the CEL policy kinds on small policies written here.

use serde_json::{Value, json};

use super::{
    Request, Status, gatekeeper_validate, generating_policy, mutating_policy, mutating_policy_target, validate_cel,
    validating_policy,
};

fn pod(name: &str, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "c", "image": image}]}})
}

fn deployment(image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
           "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

fn request(object: Value) -> Request {
    Request { object, ..Request::default() }
}

fn validating(spec: Value) -> Value {
    json!({"apiVersion": "policies.kyverno.io/v1alpha1", "kind": "ValidatingPolicy", "metadata": {"name": "p"}, "spec": spec})
}

fn pods_only() -> Value {
    json!({"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}]})
}

/// Runs a ValidatingPolicy and renders `status: message @ pointer`, or `not applicable`.
fn check_validating(policy: &Value, object: Value, expect: &str) {
    let rendered = match validating_policy(policy, &request(object)) {
        Some(outcome) => {
            format!("{}: {} @ {}", outcome.status.as_str(), outcome.message, outcome.pointer.unwrap_or_default())
        }
        None => "not applicable".to_string(),
    };
    assert_eq!(rendered, expect);
}

#[test]
fn validating_policy_results() {
    let policy = validating(json!({
        "matchConstraints": pods_only(),
        "matchConditions": [{"name": "web", "expression": "object.metadata.?labels.?app.orValue('') == 'web'"}],
        "variables": [{"name": "images", "expression": "object.spec.containers.map(c, c.image)"}],
        "validations": [
            {"expression": "variables.images.all(i, !i.endsWith(':latest'))", "messageExpression": "'latest tag in ' + object.metadata.name"},
            {"expression": "variables.images.all(i, i.contains('/'))", "message": "images need a registry"}
        ]
    }));
    check_validating(&policy, pod("ok", "ghcr.io/app:1"), "pass:  @ ");
    check_validating(
        &policy,
        pod("bad", "ghcr.io/app:latest"),
        "fail: latest tag in bad @ /spec/validations/0/expression",
    );
    check_validating(&policy, pod("bare", "app:1"), "fail: images need a registry @ /spec/validations/1/expression");
    let mut unlabeled = pod("x", "app:1");
    unlabeled["metadata"]["labels"] = json!({});
    check_validating(&policy, unlabeled, "skip: a matchCondition is false @ /spec/matchConditions/0/expression");
    check_validating(
        &policy,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}),
        "not applicable",
    );
}

#[test]
fn validating_policy_errors_and_lazy_variables() {
    let policy = validating(json!({
        "matchConstraints": pods_only(),
        "variables": [{"name": "broken", "expression": "object.spec.nothere"}],
        "validations": [{"expression": "true || variables.broken"}, {"expression": "variables.broken == 1"}]
    }));
    check_validating(
        &policy,
        pod("p", "a"),
        "error: variable broken: no such key: nothere @ /spec/validations/1/expression",
    );
}

#[test]
fn autogen_presents_controllers_as_pods() {
    let spec = json!({"matchConstraints": pods_only(), "validations": [{"expression": "object.spec.containers.all(c, c.image != 'bad')", "message": "bad image"}]});
    let policy = validating(spec.clone());
    check_validating(&policy, deployment("bad"), "fail: bad image @ /spec/validations/0/expression");
    check_validating(&policy, deployment("good"), "pass:  @ ");
    let mut only_cronjobs = spec;
    only_cronjobs["autogen"] = json!({"podControllers": {"controllers": ["cronjobs"]}});
    check_validating(&validating(only_cronjobs), deployment("bad"), "not applicable");
}

#[test]
fn mutating_policy_apply_configuration_and_json_patch() {
    let policy = json!({"kind": "MutatingPolicy", "metadata": {"name": "m"}, "spec": {
    "matchConstraints": pods_only(),
    "mutations": [
        {"patchType": "ApplyConfiguration", "applyConfiguration": {"expression":
            "Object{metadata: Object.metadata{labels: {'team': 'a'}}, spec: Object.spec{containers: [Object.spec.containers{name: 'c', imagePullPolicy: 'Always'}]}}"}},
        {"patchType": "JSONPatch", "jsonPatch": {"expression":
            "[JSONPatch{op: 'add', path: '/metadata/annotations', value: {}}, JSONPatch{op: 'add', path: '/metadata/annotations/' + jsonpatch.escapeKey('x/y'), value: 'z'}]"}}
    ]}});
    let outcome = mutating_policy(&policy, &request(pod("p", "img"))).expect("the policy applies to pods");
    assert_eq!(outcome.status, Status::Pass);
    assert_eq!(
        outcome.patched,
        Some(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web", "team": "a"}, "annotations": {"x/y": "z"}},
            "spec": {"containers": [{"name": "c", "image": "img", "imagePullPolicy": "Always"}]}}))
    );
    let patched =
        mutating_policy(&policy, &request(deployment("img"))).and_then(|outcome| outcome.patched).unwrap_or_default();
    assert_eq!(patched.pointer("/spec/template/spec/containers/0/imagePullPolicy"), Some(&json!("Always")));
}

#[test]
fn generating_policy_collects_applied_objects() {
    let policy = json!({"kind": "GeneratingPolicy", "metadata": {"name": "g"}, "spec": {
        "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}]},
        "variables": [{"name": "name", "expression": "object.metadata.name + '-pdb'"}],
        "generate": [{"expression": "generator.Apply(object.metadata.namespace, [{'kind': 'PodDisruptionBudget', 'metadata': {'name': variables.name}}])"}]}});
    let outcome = generating_policy(&policy, &request(deployment("x"))).expect("the policy applies to deployments");
    assert_eq!(
        outcome.generated,
        vec![json!({"kind": "PodDisruptionBudget", "metadata": {"name": "d-pdb", "namespace": "default"}})]
    );
}

#[test]
fn validate_cel_rule_with_params() {
    let cel = json!({
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
        "paramRef": {"name": "limits", "namespace": "default"},
        "expressions": [{"expression": "object.spec.containers.size() <= int(params.data.max)", "message": "too many containers"}]
    });
    let mut with_params = request(pod("p", "a"));
    with_params.resources = vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "limits", "namespace": "default"}, "data": {"max": "0"}}),
    ];
    let outcome = validate_cel(&cel, "/spec/rules/0/validate/cel", &with_params);
    assert_eq!((outcome.status, outcome.message.as_str()), (Status::Fail, "too many containers"));
    let missing = validate_cel(&cel, "/cel", &request(pod("p", "a")));
    assert_eq!((missing.status, missing.message.as_str()), (Status::Error, "no params found for ConfigMap limits"));
}

#[test]
fn gatekeeper_k8s_native_validation() {
    let source = json!({
        "variables": [{"name": "images", "expression": "variables.anyObject.spec.containers.map(c, c.image)"}],
        "validations": [{"expression": "variables.images.all(i, variables.params.repos.exists(r, i.startsWith(r)))",
                         "messageExpression": "'image not allowed, allowed: ' + variables.params.repos.join(', ')"}]
    });
    let constraint = json!({"kind": "K8sAllowedRepos", "spec": {"parameters": {"repos": ["ghcr.io/"]}}});
    let violations = gatekeeper_validate(&source, &constraint, &request(pod("p", "docker.io/x"))).unwrap_or_default();
    let messages: Vec<&str> = violations.iter().map(|violation| violation.message.as_str()).collect();
    assert_eq!(messages, ["image not allowed, allowed: ghcr.io/"]);
    let allowed = gatekeeper_validate(&source, &constraint, &request(pod("p", "ghcr.io/x"))).unwrap_or_default();
    assert!(allowed.is_empty());
}

#[test]
fn deleting_policy_conditions_and_admission_policies_without_autogen() {
    let deleting = json!({"kind": "DeletingPolicy", "metadata": {"name": "d"}, "spec": {
        "matchConstraints": pods_only(),
        "conditions": [{"name": "old-image", "expression": "object.spec.containers.exists(c, c.image.endsWith(':old'))"}]}});
    let status = |object: Value| super::deleting_policy(&deleting, &request(object)).map(|outcome| outcome.status);
    assert_eq!(status(pod("p", "a:old")), Some(Status::Pass));
    assert_eq!(status(pod("p", "a:new")), Some(Status::Fail));
    let mut admission = validating(json!({"matchConstraints": pods_only(), "validations": [{"expression": "false"}]}));
    admission["kind"] = json!("ValidatingAdmissionPolicy");
    check_validating(&admission, deployment("x"), "not applicable");
    check_validating(&admission, pod("p", "x"), "fail: failed expression: false @ /spec/validations/0/expression");
}

#[test]
fn variables_may_read_variables_declared_later() {
    let policy = validating(json!({
        "matchConstraints": pods_only(),
        "variables": [
            {"name": "first", "expression": "variables.second + 1"},
            {"name": "second", "expression": "object.spec.containers.size()"}
        ],
        "validations": [{"expression": "variables.first == 2", "message": "one container expected"}]
    }));
    check_validating(&policy, pod("p", "a"), "pass:  @ ");
}

#[test]
fn match_conditions_may_read_variables() {
    let policy = validating(json!({
        "matchConstraints": pods_only(),
        "variables": [{"name": "isWeb", "expression": "object.metadata.?labels.?app.orValue('') == 'web'"}],
        "matchConditions": [{"name": "web", "expression": "variables.isWeb"}],
        "validations": [{"expression": "false", "message": "web pods are checked"}]
    }));
    check_validating(&policy, pod("p", "a"), "fail: web pods are checked @ /spec/validations/0/expression");
}

#[test]
fn mutate_existing_targets_are_selected_then_patched() {
    let policy = |target_constraints: Value| {
        json!({"kind": "MutatingPolicy", "metadata": {"name": "m"}, "spec": {
            "evaluation": {"mutateExisting": {"enabled": true}},
            "matchConstraints": pods_only(),
            "targetMatchConstraints": target_constraints,
            "targetMatchConditions": [{"name": "unlocked", "expression": "!has(object.metadata.labels)"}],
            "mutations": [{"patchType": "ApplyConfiguration", "applyConfiguration": {
                "expression": "Object{metadata: Object.metadata{annotations: {'by': request.kind.kind}}}"}}]}})
    };
    let target = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}});
    let trigger = request(pod("p", "nginx"));
    let render = |outcome: Option<super::Outcome>| match outcome {
        Some(outcome) => format!(
            "{}: {} @ {} -> {}",
            outcome.status.as_str(),
            outcome.message,
            outcome.pointer.unwrap_or_default(),
            outcome.patched.map(|patched| patched.to_string()).unwrap_or_default()
        ),
        None => "not selected".to_string(),
    };
    // Without resource rules of its own, the policy's matchConstraints (pods) select targets.
    assert_eq!(render(mutating_policy_target(&policy(json!({})), &trigger, &target)), "not selected");
    let by_rules = policy(
        json!({"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["DELETE"], "resources": ["configmaps"]}]}),
    );
    assert_eq!(
        render(mutating_policy_target(&by_rules, &trigger, &target)),
        r#"pass:  @  -> {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default","annotations":{"by":"Pod"}}}"#
    );
    let locked = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default", "labels": {"l": "x"}}});
    assert_eq!(
        render(mutating_policy_target(&by_rules, &trigger, &locked)),
        "skip: a targetMatchCondition is false @ /spec/targetMatchConditions/0/expression -> "
    );
    let by_expression = policy(
        json!({"expression": "{'items': [{'metadata': {'name': 'c', 'namespace': object.metadata.namespace}}]}"}),
    );
    assert!(render(mutating_policy_target(&by_expression, &trigger, &target)).starts_with("pass"));
    let not_a_map = policy(json!({"expression": "[object]"}));
    assert_eq!(
        render(mutating_policy_target(&not_a_map, &trigger, &target)),
        "error: output type of the target selector expression must be a map, got list @ /spec/targetMatchConstraints/expression -> "
    );
}

#[test]
fn generator_apply_inside_macros_sees_the_variables_they_bind() {
    // Kyverno evaluates the whole generate expression and keeps what every `generator.Apply` call reached,
    // so a call per element of a comprehension generates one object per element.
    let policy = json!({"kind": "GeneratingPolicy", "metadata": {"name": "g"}, "spec": {
        "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}]},
        "variables": [{"name": "suffixes", "expression": "['a', 'b']"}],
        "generate": [{"expression": "variables.suffixes.all(suffix, generator.Apply(object.metadata.namespace, [{'kind': 'ConfigMap', 'metadata': {'name': object.metadata.name + '-' + suffix}}]))"}]}});
    let outcome = generating_policy(&policy, &request(deployment("x"))).expect("the policy applies to deployments");
    assert_eq!(
        outcome.generated,
        vec![
            json!({"kind": "ConfigMap", "metadata": {"name": "d-a", "namespace": "default"}}),
            json!({"kind": "ConfigMap", "metadata": {"name": "d-b", "namespace": "default"}}),
        ]
    );
}
