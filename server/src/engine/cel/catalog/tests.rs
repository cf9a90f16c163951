//! The catalog holds four consumers to one table: the compile checks accept every function an
//! environment declares (each spelling, each arity) and reject the others, completion offers them, hover
//! documents them, and the interpreter evaluates each example to `true` or fails with the reason the
//! catalog gives.

use serde_json::{Value, json};

use super::*;
use crate::engine::cel::Interpreter;
use crate::engine::cel::docs::{complete, function_at, function_hover};
use crate::engine::cel::{Activation, DEFAULT_STEP_BUDGET, Program, Services, Val};

/// A self-signed certificate for `CN=acme` (RSA 1024, made with openssl for this test).
const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----
MIIB+jCCAWOgAwIBAgIUP3JJPxW3tAHrWmH/sj+4yQdX+dAwDQYJKoZIhvcNAQEL
BQAwDzENMAsGA1UEAwwEYWNtZTAeFw0yNjEyMDcwMzM3NDJaFw0zNjEyMDQwMzM3
NDJaMA8xDTALBgNVBAMMBGFjbWUwgZ8wDQYJKoZIhvcNAQEBBQADgY0AMIGJAoGB
AMrNJ4ilnll7IV/PZP+HyDigElLa5optw72aVlj2dTACHv4uRz+rWjH+wdTGGemm
1Y7/lnctNuFPdAdrRUABasYHZ+3O7Tjw7Fr8UoBFEA2EGKcSxgpE8fdjnzZhnpqq
XSIFf7waUcGvRv/RtARIvx+ImdiuVH4a7gk5ycoEJCWJAgMBAAGjUzBRMB0GA1Ud
DgQWBBSYzVUYJwqN4Oe8lGTqqi8InSofXDAfBgNVHSMEGDAWgBSYzVUYJwqN4Oe8
lGTqqi8InSofXDAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4GBAI7U
RjpauBCDcbaSib4B60hoyX3hxrzNefCAHY9vcOmkN99fLLZXFoXfGYbdPpCXKdEd
LREDslMlQCYkvvpWKMAezBYAXp+iWpGMH5JDa7dQyfzDEXy4WmjT9EH+HGyqegYR
B4jdr3cDaQvdjpU5CtMhJdQ2ZKPIFYWBXazfT/v/
-----END CERTIFICATE-----";

/// What the examples read from outside the expression.
fn services() -> Services {
    Services {
        cluster_objects: vec![json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "default"},
            "data": {"mode": "strict"}
        })],
        image_data: object(json!({"ghcr.io/acme/app:1.0": {"digest": "sha256:abc"}})),
        global_context: object(json!({"deployments": {"count": 3}})),
        http_mocks: vec![
            ("GET".to_string(), "https://api.example.com/status".to_string(), json!({"ok": true})),
            ("POST".to_string(), "https://api.example.com/check".to_string(), json!({"allowed": true})),
        ],
        now: None,
        policy_namespace: "default".to_string(),
        offline_gaps: Default::default(),
        live_cluster: false,
    }
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Every variable any environment declares, bound to something the examples can read.
fn activation() -> Activation {
    let mut activation = Activation::new();
    let bindings = json!({
        "object": {"image": "ghcr.io/acme/app:1.0", "attributes": {"header": {"Content-Type": ["text/plain"]}, "query": {"page": ["2"]}}, "ext": 1},
        "oldObject": null,
        "request": {"operation": "CREATE"},
        "namespaceObject": {},
        "params": {},
        "variables": {"certificate": CERTIFICATE},
        "authorizer": {},
        "exceptions": {},
        "images": {},
        "attestors": {"cosign": {}},
        "attestations": {"sbom": {}},
    });
    for (name, value) in object(bindings) {
        activation.bind_json(&name, &value);
    }
    activation
}

/// A call of `function` by `name` with `count` arguments, written the way the catalog says it is called.
fn call_text(function: &Function, name: &str, count: usize) -> String {
    let bound = match name {
        "cel.bind" => 1,
        _ if !function.is_macro || function.call == Call::Global => 0,
        "map" | "filter" => 1,
        _ if count >= 3 => 2,
        _ => 1,
    };
    let arguments: Vec<String> = (0..count)
        .map(|index| match name {
            "has" => "object.field".to_string(),
            "cel.bind" if index == 2 => "v0".to_string(),
            _ if index < bound => format!("v{index}"),
            _ => "object".to_string(),
        })
        .collect();
    let arguments = arguments.join(", ");
    match function.call {
        Call::Global => format!("{name}({arguments})"),
        Call::Member => format!("object.{name}({arguments})"),
        Call::Library => format!("{}.{name}({arguments})", function.library.variable().unwrap_or("?")),
    }
}

/// Whether another function of the environment answers the same call (same style, name and variable).
fn answered_elsewhere(environment: &Environment, function: &Function, name: &str, count: usize) -> bool {
    environment.functions().any(|other| {
        other.call == function.call
            && other.names.contains(&name)
            && other.accepts(count)
            && (function.call != Call::Library || other.library.variable() == function.library.variable())
    })
}

#[test]
fn the_checker_accepts_every_function_of_an_environment_with_each_spelling_and_arity() {
    let mut failures = Vec::new();
    for environment in ENVIRONMENTS {
        for function in environment.functions() {
            for name in function.names {
                let most = function.arity.1.min(function.arity.0 + 3);
                for count in [function.arity.0, most] {
                    let text = call_text(function, name, count);
                    if let Err(errors) = Program::compile_checked(&text, environment) {
                        failures.push(format!("{}: `{text}` is rejected: {errors:?}", environment.name));
                    }
                }
                if function.arity.0 > 0 && !answered_elsewhere(environment, function, name, function.arity.0 - 1) {
                    let text = call_text(function, name, function.arity.0 - 1);
                    let errors = Program::compile_checked(&text, environment).err().unwrap_or_default();
                    if !errors.iter().any(|error| error.message.contains("argument(s)")) {
                        failures.push(format!("{}: `{text}` has too few arguments but passes", environment.name));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_checker_rejects_functions_an_environment_does_not_declare() {
    let mut failures = Vec::new();
    for environment in ENVIRONMENTS {
        for function in FUNCTIONS.iter().filter(|function| !environment.has(function.library)) {
            for name in function.names {
                if environment.functions().any(|other| {
                    other.call == function.call
                        && other.names.contains(name)
                        && (function.call != Call::Library || other.library.variable() == function.library.variable())
                }) {
                    continue;
                }
                let text = call_text(function, name, function.arity.0);
                let errors = Program::compile_checked(&text, environment).err().unwrap_or_default();
                if !errors.iter().any(|error| error.message.starts_with("undeclared reference")) {
                    failures.push(format!(
                        "{}: `{text}` uses the {} but passes",
                        environment.name,
                        function.library.title()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_example_checks_in_an_environment_of_its_library_and_evaluates_as_the_catalog_says() {
    let services = services();
    let activation = activation();
    let mut failures = Vec::new();
    for function in FUNCTIONS {
        let checks_somewhere = ENVIRONMENTS.iter().any(|environment| {
            environment.has(function.library) && Program::compile_checked(function.example, environment).is_ok()
        });
        if !checks_somewhere {
            failures.push(format!("the example of {} does not check: `{}`", function.name(), function.example));
        }
        let program = Program::compile(function.example).expect("examples parse");
        let interpreter = Interpreter::new(&activation, &services, DEFAULT_STEP_BUDGET);
        let outcome = interpreter.eval(program.expr());
        let agrees = match function.offline {
            Offline::Evaluated => matches!(outcome, Ok(Val::Bool(true))),
            Offline::Unsupported(reason) => matches!(&outcome, Err(message) if message.contains(reason)),
        };
        if !agrees {
            failures.push(format!(
                "the example of {} ({:?}) disagrees: `{}` gives {outcome:?}",
                function.name(),
                function.offline,
                function.example
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn completion_offers_and_hover_documents_every_function_of_an_environment() {
    let mut failures = Vec::new();
    for environment in ENVIRONMENTS {
        for function in environment.functions() {
            let (before, label, qualifier) = match (function.call, function.name().rsplit_once('.')) {
                (Call::Global, Some((namespace, last))) => (format!("{namespace}."), last, Some(namespace)),
                (Call::Global, None) => (String::new(), function.name(), None),
                (Call::Member, _) => ("object.".to_string(), function.name(), None),
                (Call::Library, _) => {
                    let variable = function.library.variable().unwrap_or("?");
                    (format!("{variable}."), function.name(), Some(variable))
                }
            };
            let offered = complete(&before, environment, &[]);
            if !offered.iter().any(|candidate| candidate.label == label && candidate.is_function) {
                failures.push(format!("{}: completion after `{before}` does not offer {label}", environment.name));
            }
            let found = function_at(environment, qualifier, label);
            let hover = found.map(function_hover).unwrap_or_default();
            if !hover.contains(label) {
                failures.push(format!("{}: hover on {label} shows {hover:?}", environment.name));
            }
            // A global overloaded in two libraries (`math.round`) shows the first; others are exact.
            let overloaded = environment.globals(function.name()).count() > 1;
            if function.call != Call::Member
                && !overloaded
                && found.map(|found| found.signature) != Some(function.signature)
            {
                failures.push(format!("{}: hover on {before}{label} documents another function", environment.name));
            }
        }
        let offered = complete("", environment, &[]);
        for variable in environment.all_variables() {
            if !offered.iter().any(|candidate| candidate.label == variable) {
                failures.push(format!("{}: completion does not offer the variable {variable}", environment.name));
            }
            if !is_known_variable(variable) {
                failures.push(format!("{variable} has no documentation"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn policy_kinds_and_modes_choose_their_environment() {
    assert_eq!(
        policy_environment("ValidatingPolicy", "").map(|environment| environment.name),
        Some("ValidatingPolicy")
    );
    assert_eq!(policy_environment("ValidatingPolicy", "JSON"), Some(&VALIDATING_POLICY));
    assert_eq!(policy_environment("ValidatingPolicy", "Envoy"), Some(&ENVOY_POLICY));
    assert_eq!(policy_environment("ValidatingPolicy", "HTTP"), Some(&HTTP_POLICY));
    assert_eq!(policy_environment("NamespacedGeneratingPolicy", ""), Some(&NAMESPACED_GENERATING_POLICY));
    assert_eq!(policy_environment("ValidatingAdmissionPolicy", ""), Some(&KUBERNETES_ADMISSION));
    assert_eq!(policy_environment("ClusterPolicy", ""), None);
    // Only a GeneratingPolicy generates, and a Namespaced policy reads its own namespace.
    assert!(GENERATING_POLICY.has(Library::Generator) && !VALIDATING_POLICY.has(Library::Generator));
    assert!(NAMESPACED_VALIDATING_POLICY.has(Library::NamespacedResource));
    assert!(!NAMESPACED_VALIDATING_POLICY.has(Library::Resource));
}

/// A Markdown table cell: pipes escaped, so signatures such as `list|map` stay in their column.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The table of every CEL function in docs/cel-functions.md is rendered from this catalog, so it cannot
/// drift from what the checker, the editor and the interpreter do (`UPDATE_EXPECT=1` rewrites it).
#[test]
fn the_function_table_in_docs_is_rendered_from_the_catalog() {
    let mut text = String::from(
        "# CEL functions\n\n\
         Every function of the CEL libraries that Kubernetes and Kyverno declare, with the policy kinds that see\n\
         each library. Rendered from `server/src/engine/cel/catalog.rs` by the test\n\
         `the_function_table_in_docs_is_rendered_from_the_catalog` (`UPDATE_EXPECT=1` rewrites this file).\n\n\
         - **Offline**: `evaluated` when `policy-lsp` evaluates the function; otherwise the reason evaluation\n\
         \x20 reports `unsupported` (the function needs a cluster, a registry or the network, or cannot be\n\
         \x20 reproduced), so a result never rests on a guess.\n\
         - **Test**: the example the catalog tests check and evaluate in every environment that declares the\n\
         \x20 library (`true`, or the unsupported reason); edge cases and errors are unit tests in\n\
         \x20 `server/src/engine/cel/tests.rs` and beside each library's implementation.\n\n\
         ## Libraries by policy kind\n\n| Environment | Libraries |\n| --- | --- |\n",
    );
    for environment in ENVIRONMENTS {
        let libraries: Vec<&str> = environment.libraries.iter().map(|library| library.title()).collect();
        text.push_str(&format!("| {} | {} |\n", environment.name, libraries.join(", ")));
    }
    let mut libraries: Vec<Library> = Vec::new();
    for function in FUNCTIONS {
        if !libraries.contains(&function.library) {
            libraries.push(function.library);
        }
    }
    for library in libraries {
        text.push_str(&format!(
            "\n## {}\n\n| Function | Called as | Arguments | Overloads | Offline | Test |\n| --- | --- | --- | --- | --- | --- |\n",
            library.title()
        ));
        for function in FUNCTIONS.iter().filter(|function| function.library == library) {
            let names: Vec<String> = function.names.iter().map(|name| format!("`{name}`")).collect();
            let called = match function.call {
                Call::Global if function.is_macro => "macro".to_string(),
                Call::Global => "global".to_string(),
                Call::Member => "member".to_string(),
                Call::Library => format!("on `{}`", library.variable().unwrap_or("its value")),
            };
            let offline = match function.offline {
                Offline::Evaluated => "evaluated".to_string(),
                Offline::Unsupported(reason) => format!("unsupported: {reason}"),
            };
            text.push_str(&format!(
                "| {} | {} | {} | `{}` | {} | `{}` |\n",
                cell(&names.join(", ")),
                called,
                function.arity_text(),
                cell(function.signature),
                cell(&offline),
                cell(function.example),
            ));
        }
    }
    expect_test::expect_file!["../../../../../docs/cel-functions.md"].assert_eq(&text);
}
