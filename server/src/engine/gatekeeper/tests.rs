//! Unit tests of the Gatekeeper engine, each through one `check`-style helper per feature.

use expect_test::{Expect, expect};
use serde_json::Value;

use super::{EvaluationOptions, ReviewOutcome, check_constraint, compile_template, rego_diagnostics, review};

fn yaml(text: &str) -> Value {
    crate::syntax::parse_file(text).into_iter().next().map(|document| document.yaml11_value()).unwrap_or(Value::Null)
}

/// A ConstraintTemplate of kind `K8sTest` around the given Rego (and libs), with a small schema.
fn template_with(rego: &str, libs: &[&str]) -> Value {
    let indent = |text: &str, spaces: usize| {
        text.lines().map(|line| format!("{}{line}\n", " ".repeat(spaces))).collect::<String>()
    };
    let mut text = String::from(
        "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8stest\nspec:\n  crd:\n    spec:\n      names:\n        kind: K8sTest\n      validation:\n        openAPIV3Schema:\n          type: object\n          properties:\n            labels:\n              type: array\n              items:\n                type: string\n            limit:\n              type: integer\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      rego: |\n",
    );
    text.push_str(&indent(rego, 8));
    if !libs.is_empty() {
        text.push_str("      libs:\n");
        for lib in libs {
            text.push_str("        - |\n");
            text.push_str(&indent(lib, 10));
        }
    }
    yaml(&text)
}

const CONSTRAINT: &str = "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sTest\nmetadata:\n  name: test\nspec:\n  match:\n    kinds:\n      - apiGroups: [\"\"]\n        kinds: [\"Pod\"]\n  parameters:\n    labels: [\"team\"]\n";

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n  labels:\n    app: web\nspec:\n  containers:\n    - name: main\n      image: nginx\n";

/// Reviews `object` (YAML) with a template around `rego` and the standard constraint; prints the
/// violation messages, one a line.
fn check_review(rego: &str, object: &str, inventory: &[&str], expect: Expect) {
    check_review_with(template_with(rego, &[]), CONSTRAINT, object, inventory, expect);
}

fn check_review_with(template: Value, constraint: &str, object: &str, inventory: &[&str], expect: Expect) {
    let rendered = match compile_template(&template, EvaluationOptions::default()) {
        Err(error) => format!("template error at {}: {}", error.pointer, error.message),
        Ok(compiled) => {
            let inventory: Vec<Value> = inventory.iter().map(|text| yaml(text)).collect();
            match review(&compiled, &yaml(constraint), &yaml(object), &inventory) {
                Ok(ReviewOutcome::Evaluated(violations)) if violations.is_empty() => "no violations".to_string(),
                Ok(ReviewOutcome::Evaluated(violations)) => violations
                    .iter()
                    .map(|violation| format!("violation: {}", violation.message))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Ok(ReviewOutcome::Unsupported(reason)) => format!("unsupported: {reason}"),
                Err(message) => format!("error: {message}"),
            }
        }
    };
    expect.assert_eq(&rendered);
}

#[test]
fn negated_call_with_undefined_argument_is_undefined_as_in_opa() {
    // (a): OPA binds `input.parameters.missing` before the negation, so the body is undefined.
    check_review(
        "package k8stest\nallowed(x) { x == \"yes\" }\nviolation[{\"msg\": \"denied\"}] {\n  not allowed(input.parameters.missing)\n}\n",
        POD,
        &[],
        expect![["no violations"]],
    );
    // A defined argument still negates normally.
    check_review(
        "package k8stest\nallowed(x) { x == \"yes\" }\nviolation[{\"msg\": \"denied\"}] {\n  not allowed(input.parameters.labels[0])\n}\n",
        POD,
        &[],
        expect![["violation: denied"]],
    );
    // `==` is unification in OPA, so a missing operand there keeps `not` true.
    check_review(
        "package k8stest\nviolation[{\"msg\": \"no owner\"}] {\n  not input.review.object.metadata.labels.owner == \"me\"\n}\n",
        POD,
        &[],
        expect![["violation: no owner"]],
    );
    // A nested call with an undefined result is bound first too.
    check_review(
        "package k8stest\nviolation[{\"msg\": \"few\"}] {\n  not count(input.parameters.missing) > 1\n}\n",
        POD,
        &[],
        expect![["no violations"]],
    );
}

#[test]
fn line_break_before_parenthesis_ends_the_expression() {
    // (b): `limit` and `(2 + 3) > 4` are two expressions in OPA, not a call of `limit`.
    check_review(
        "package k8stest\nviolation[{\"msg\": \"spread\"}] {\n  input.parameters.labels\n  (2 + 3) > 4\n}\n",
        POD,
        &[],
        expect![["violation: spread"]],
    );
}

#[test]
fn chained_rule_bodies_are_rules_with_the_same_head() {
    // (c): each extra body is another rule with the same head, for functions and partial sets.
    check_review(
        "package k8stest\nname_of(obj) = n {\n  obj.kind == \"Pod\"\n  n := obj.metadata.name\n} {\n  obj.kind == \"Deployment\"\n  n := \"deployment\"\n}\nviolation[{\"msg\": msg}] {\n  msg := sprintf(\"first %v\", [name_of(input.review.object)])\n} {\n  msg := \"second\"\n}\n",
        POD,
        &[],
        expect![[r#"
            violation: first web
            violation: second"#]],
    );
}

#[test]
fn sprintf_prints_missing_arguments_like_go() {
    check_review(
        "package k8stest\nviolation[{\"msg\": msg}] {\n  msg := sprintf(\"%v has %v and %v\", [input.review.object.metadata.name, 2])\n}\n",
        POD,
        &[],
        expect![["violation: web has 2 and %!v(MISSING)"]],
    );
}

#[test]
fn evaluation_errors_count_as_violations() {
    check_review(
        "package k8stest\nvalue = 1 { true }\nvalue = 2 { true }\nviolation[{\"msg\": \"never\"}] {\n  value == 3\n}\n",
        POD,
        &[],
        expect![["violation: rule conflicts with rule at rego:2:1"]],
    );
}

#[test]
fn review_input_follows_gatekeeper() {
    // A plain object: no operation, empty userInfo, no oldObject; parameters from the constraint.
    check_review(
        "package k8stest\nviolation[{\"msg\": msg}] {\n  r := input.review\n  msg := sprintf(\"%v|%v|%v|%v|%v|%v|%v\", [r.kind, r.name, r.namespace, r.operation, r.userInfo, r.oldObject, input.parameters.labels])\n}\n",
        POD,
        &[],
        expect![[r#"violation: {"group": "", "kind": "Pod", "version": "v1"}|web|shop||{}|null|["team"]"#]],
    );
    // An AdmissionReview: the request is the review; DELETE reviews the old object as the object.
    let admission_review = "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  operation: DELETE\n  kind:\n    kind: Pod\n    version: v1\n  namespace: shop\n  userInfo:\n    username: alice\n  oldObject:\n    apiVersion: v1\n    kind: Pod\n    metadata:\n      name: old\n      namespace: shop\n";
    check_review(
        "package k8stest\nviolation[{\"msg\": msg}] {\n  r := input.review\n  msg := sprintf(\"%v %v %v\", [r.operation, r.userInfo.username, r.object.metadata.name])\n}\n",
        admission_review,
        &[],
        expect![["violation: DELETE alice old"]],
    );
}

#[test]
fn inventory_has_cluster_and_namespace_layout() {
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n";
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n";
    check_review(
        "package k8stest\nviolation[{\"msg\": msg}] {\n  ns := data.inventory.cluster.v1.Namespace.shop\n  svc := data.inventory.namespace.shop.v1.Service.web\n  msg := sprintf(\"%v %v\", [ns.metadata.name, svc.metadata.name])\n}\n",
        POD,
        &[namespace, service],
        expect![["violation: shop web"]],
    );
}

#[test]
fn libs_are_importable() {
    let template = template_with(
        "package k8stest\nimport data.lib.helpers.is_web\nviolation[{\"msg\": \"web\"}] {\n  is_web(input.review.object)\n}\n",
        &["package lib.helpers\nis_web(obj) {\n  obj.metadata.labels.app == \"web\"\n}\n"],
    );
    check_review_with(template, CONSTRAINT, POD, &[], expect![["violation: web"]]);
}

#[test]
fn rego_v1_source_is_read_as_v1() {
    let template = yaml(
        "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8stest\nspec:\n  crd:\n    spec:\n      names:\n        kind: K8sTest\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      code:\n        - engine: Rego\n          source:\n            version: v1\n            rego: |\n              package k8stest\n              violation contains {\"msg\": \"v1\"} if {\n                input.review.object.kind == \"Pod\"\n              }\n",
    );
    check_review_with(template, CONSTRAINT, POD, &[], expect![["violation: v1"]]);
}

#[test]
fn cel_only_templates_run_on_the_cel_engine() {
    let template = yaml(
        "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8stest\nspec:\n  crd:\n    spec:\n      names:\n        kind: K8sTest\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      code:\n        - engine: K8sNativeValidation\n          source:\n            validations:\n              - expression: \"false\"\n                message: denied by CEL\n",
    );
    check_review_with(template, CONSTRAINT, POD, &[], expect![["violation: denied by CEL"]]);
}

#[test]
fn scoped_enforcement_actions_apply_only_at_gator() {
    let rego = "package k8stest\nviolation[{\"msg\": \"denied\"}] { true }\n";
    let scoped = |point: &str| {
        format!(
            "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sTest\nmetadata:\n  name: test\nspec:\n  enforcementAction: scoped\n  scopedEnforcementActions:\n    - action: deny\n      enforcementPoints:\n        - name: {point}\n"
        )
    };
    check_review_with(
        template_with(rego, &[]),
        &scoped("validation.gatekeeper.sh"),
        POD,
        &[],
        expect![["no violations"]],
    );
    check_review_with(
        template_with(rego, &[]),
        &scoped("gator.gatekeeper.sh"),
        POD,
        &[],
        expect![["violation: denied"]],
    );
    check_review_with(template_with(rego, &[]), &scoped("\"*\""), POD, &[], expect![["violation: denied"]]);
}

/// Matches a constraint's `spec.match` (YAML) against the standard Pod, with an optional Namespace
/// in the inventory.
fn check_match(match_yaml: &str, namespace: Option<&str>, expect: Expect) {
    let constraint = format!(
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sTest\nmetadata:\n  name: test\nspec:\n  match:\n{}",
        match_yaml.lines().map(|line| format!("    {line}\n")).collect::<String>()
    );
    let inventory: Vec<&str> = namespace.into_iter().collect();
    check_review_with(
        template_with("package k8stest\nviolation[{\"msg\": \"matched\"}] { true }\n", &[]),
        &constraint,
        POD,
        &inventory,
        expect,
    );
}

#[test]
fn match_kinds_namespaces_and_names() {
    check_match("kinds:\n  - apiGroups: [\"apps\"]\n    kinds: [\"Pod\"]", None, expect![["no violations"]]);
    check_match("kinds:\n  - apiGroups: [\"*\"]\n    kinds: [\"Pod\"]", None, expect![["violation: matched"]]);
    check_match("namespaces: [\"sh*\"]", None, expect![["violation: matched"]]);
    check_match("namespaces: [\"prod\"]", None, expect![["no violations"]]);
    check_match("excludedNamespaces: [\"*op\"]", None, expect![["no violations"]]);
    check_match("name: \"we*\"", None, expect![["violation: matched"]]);
    check_match("scope: Cluster", None, expect![["no violations"]]);
    check_match("scope: Namespaced", None, expect![["violation: matched"]]);
}

#[test]
fn match_label_and_namespace_selectors() {
    check_match("labelSelector:\n  matchLabels:\n    app: web", None, expect![["violation: matched"]]);
    check_match(
        "labelSelector:\n  matchExpressions:\n    - key: app\n      operator: NotIn\n      values: [\"web\"]",
        None,
        expect![["no violations"]],
    );
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    tier: gold\n";
    check_match("namespaceSelector:\n  matchLabels:\n    tier: gold", Some(namespace), expect![["violation: matched"]]);
    check_match("namespaceSelector:\n  matchLabels:\n    tier: silver", Some(namespace), expect![["no violations"]]);
    // Without the Namespace object Gatekeeper cannot decide and rejects the object.
    check_match(
        "namespaceSelector:\n  matchLabels:\n    tier: gold",
        None,
        expect![[
            "violation: unable to match constraints: error matching web: namespace selector for namespace-scoped object but missing Namespace"
        ]],
    );
}

/// Validates a constraint (YAML) against the standard template and prints the outcome.
fn check_constraint_validation(constraint: &str, expect: Expect) {
    let Ok(compiled) = compile_template(
        &template_with("package k8stest\nviolation[{\"msg\": \"x\"}] { false }\n", &[]),
        EvaluationOptions::default(),
    ) else {
        panic!("the fixture template compiles");
    };
    let rendered = match check_constraint(&compiled, &yaml(constraint)) {
        Ok(()) => "valid".to_string(),
        Err(super::ConstraintError::Schema(errors)) => errors
            .iter()
            .map(|error| format!("schema {}: {}", error.pointer, error.message))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(super::ConstraintError::Invalid { pointer, message }) => {
            format!("invalid {pointer}: {message}")
        }
    };
    expect.assert_eq(&rendered);
}

#[test]
fn constraints_are_checked_against_the_template() {
    check_constraint_validation(CONSTRAINT, expect![["valid"]]);
    check_constraint_validation(
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sTest\nmetadata:\n  name: test\nspec:\n  parameters:\n    labels: \"team\"\n    limit: 1.5\n",
        expect![[r#"
            schema /spec/parameters/labels: must be of type array, found string
            schema /spec/parameters/limit: must be of type integer, found number"#]],
    );
    check_constraint_validation(
        "apiVersion: constraints.gatekeeper.sh/v1\nkind: K8sTest\nmetadata:\n  name: test\n",
        expect![[r#"invalid /apiVersion: unsupported version "v1"; supported versions are v1alpha1 and v1beta1"#]],
    );
    check_constraint_validation(
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sOther\nmetadata:\n  name: test\n",
        expect![[r#"invalid /kind: wrong kind "K8sOther" for constraint "test"; the template wants "K8sTest""#]],
    );
}

/// Renders the Rego diagnostics of a template as `source line:column-line:column message`.
fn check_diagnostics(rego: &str, libs: &[&str], expect: Expect) {
    let diagnostics = rego_diagnostics(&template_with(rego, libs));
    let rendered: Vec<String> = diagnostics
        .iter()
        .map(|diagnostic| {
            format!(
                "{:?} {}:{}-{}:{} {}",
                diagnostic.source,
                diagnostic.line,
                diagnostic.column,
                diagnostic.end_line,
                diagnostic.end_column,
                diagnostic.message
            )
        })
        .collect();
    expect.assert_eq(&rendered.join("\n"));
}

#[test]
fn diagnostics_report_parse_errors_at_their_place() {
    // Brackets that do not pair up are found on tokens, exactly.
    check_diagnostics(
        "package k8stest\nviolation[{\"msg\": msg}] {\n  msg := sprintf(\"%v\", [1, 2)\n}\n",
        &[],
        expect!["Rego 2:28-2:29 `)` does not close the `[` opened on line 3"],
    );
    check_diagnostics(
        "package k8stest\nviolation[{\"msg\": \"unterminated}] { true }\n",
        &[],
        expect!["Rego 1:18-1:42 unterminated string"],
    );
    // Other syntax errors inside a body land on their statement, not on the body's `{`.
    check_diagnostics(
        "package k8stest\nviolation[{\"msg\": msg}] {\n  true\n  msg := 1 +\n}\n",
        &[],
        expect!["Rego 4:0-4:1 expecting expression"],
    );
    // The place survives the pre-pass: the chained body inserts text on line 2 before the error.
    check_diagnostics(
        "package k8stest\nf(x) = y { y := 1 } { y := 2 } { y := := 3 }\nviolation[{\"msg\": msg}] { msg := f(1) }\n",
        &[],
        expect!["Rego 1:38-1:40 expecting expression"],
    );
}

#[test]
fn diagnostics_report_undefined_functions_and_unsafe_variables() {
    check_diagnostics(
        "package k8stest\nviolation[{\"msg\": msg}] {\n  missing_helper(input.review.object)\n  msg := concat(\",\", [\"a\"])\n}\n",
        &[],
        expect![["Rego 2:2-2:16 undefined function missing_helper"]],
    );
    check_diagnostics(
        "package k8stest\nviolation[{\"msg\": msg}] {\n  x == 1\n  msg := \"m\"\n}\n",
        &[],
        expect!["Rego 2:2-2:3 var x is unsafe"],
    );
    check_diagnostics(
        "package k8stest\nimport data.lib.helpers\nviolation[{\"msg\": \"m\"}] {\n  helpers.ok(input)\n  helpers.nope(input)\n}\n",
        &["package lib.helpers\nok(x) { true }\n"],
        expect![["Rego 4:2-4:14 undefined function helpers.nope"]],
    );
    check_diagnostics(
        "package k8stest\nviolation[{\"msg\": \"m\"}] { true }\n",
        &["package lib.helpers\nok(x) {\n  y := 1\n  z == y\n}\n"],
        expect!["Lib(0) 3:2-3:3 var z is unsafe"],
    );
}

#[test]
fn rego_v1_negation_without_braces_is_guarded_too() {
    let template = yaml(
        "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8stest\nspec:\n  crd:\n    spec:\n      names:\n        kind: K8sTest\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      code:\n        - engine: Rego\n          source:\n            version: v1\n            rego: |\n              package k8stest\n              allowed(x) if x == \"yes\"\n              denied if not allowed(input.parameters.missing)\n              violation contains {\"msg\": \"denied\"} if denied\n",
    );
    check_review_with(template, CONSTRAINT, POD, &[], expect![["no violations"]]);
}

#[test]
fn violation_messages_must_be_strings() {
    check_review(
        "package k8stest\nviolation[{\"msg\": 3}] { true }\n",
        POD,
        &[],
        expect![["error: a violation's msg must be a string, found 3"]],
    );
}

#[test]
fn templates_follow_the_framework_rules() {
    check_review(
        "package k8stest\nviolation[{\"msg\": \"m\"}] { data.other.x }\n",
        POD,
        &[],
        expect![
            "template error at /spec/targets/0/rego: Gatekeeper templates may read only data.lib and data.inventory, not data.other"
        ],
    );
    check_diagnostics(
        "package k8stest\nimport data.other.helpers\nviolation[{\"msg\": \"m\"}] { data.inventory.x; data.lib.y.z }\n",
        &["package helpers\nz := 1\n"],
        expect![[r#"
            Rego 1:7-1:25 Gatekeeper templates may import only libs under data.lib: data.other.helpers
            Lib(0) 0:8-0:15 a lib's package must be under `lib` (for example `package lib.helpers`), not helpers"#]],
    );
}

#[test]
fn every_unsafe_variable_is_reported() {
    check_diagnostics(
        "package k8stest\nviolation[{\"msg\": msg}] {\n  first == 1\n  msg := second\n}\n",
        &[],
        expect![[r#"
            Rego 2:2-2:7 var first is unsafe
            Rego 3:9-3:15 var second is unsafe"#]],
    );
    // Found on the AST, so a failing expression earlier in the body hides nothing, and function
    // bodies are checked without being called.
    check_diagnostics(
        "package k8stest\nviolation[{\"msg\": msg}] {\n  input.x == 1\n  msg := y\n}\n",
        &[],
        expect!["Rego 3:9-3:10 var y is unsafe"],
    );
    check_diagnostics(
        "package k8stest\nf(a) = b {\n  a == 1\n  b := y\n}\nviolation[{\"msg\": \"m\"}] { false }\n",
        &[],
        expect!["Rego 3:7-3:8 var y is unsafe"],
    );
}

#[test]
fn iteration_and_else_values_bind_variables() {
    check_diagnostics(
        "package k8stest\nfound[{\"msg\": m, \"n\": 1}] { m := \"x\" }\nviolation[{\"msg\": msg}] {\n  found[{\"msg\": msg, \"n\": 1}]\n}\nlabel := sprintf(\"%v\", [a]) {\n  a := 1\n} else := sprintf(\"%v\", [b]) {\n  b := 2\n}\n",
        &[],
        expect![[""]],
    );
}

/// Shows the OPA-compatibility pre-pass on a module and where a few rewritten offsets map back to.
fn check_rewrite(source: &str, expect: Expect) {
    let rendered = match super::prepare_module("rego", source, false) {
        Ok(module) => {
            let mappings: Vec<String> = (0..=module.rewritten.text.len())
                .step_by(10)
                .map(|offset| format!("{offset}->{}", module.rewritten.to_original(offset)))
                .collect();
            format!("{}\n-- offsets: {}", module.rewritten.text, mappings.join(" "))
        }
        Err(error) => format!("parse error at {}: {}", error.offset, error.message),
    };
    expect.assert_eq(&rendered);
}

#[test]
fn rewrite_inserts_without_moving_lines() {
    check_rewrite(
        "package p\nf(x) = 1 { x } { not g(x.y) }\nv {\n  input.a\n  (1 + 2) > 2\n}\n",
        expect![[r#"
            package p
            f(x) = 1 { x } f(x) = 1 { _ = x.y; not g(x.y) }
            v {
              input.a;
              (1 + 2) > 2
            }

            -- offsets: 0->0 10->10 20->20 30->25 40->27 50->32 60->42 70->52 80->61"#]],
    );
}

#[test]
fn compiled_templates_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<super::CompiledTemplate>();
}

#[test]
fn evaluations_stop_at_the_time_limit() {
    let template = template_with(
        "package k8stest\nviolation[{\"msg\": \"slow\"}] {\n  count([1 | numbers.range(1, 3000)[_]; numbers.range(1, 3000)[_]]) == 0\n}\n",
        &[],
    );
    let options = EvaluationOptions { time_limit: std::time::Duration::from_millis(20) };
    let Ok(compiled) = compile_template(&template, options) else {
        panic!("the fixture template compiles");
    };
    let started = std::time::Instant::now();
    let outcome = review(&compiled, &yaml(CONSTRAINT), &yaml(POD), &[]);
    let Ok(ReviewOutcome::Evaluated(violations)) = outcome else {
        panic!("the review runs: {outcome:?}");
    };
    // The time-out is an evaluation error, which counts as a violation.
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].message.contains("time"), "{}", violations[0].message);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
