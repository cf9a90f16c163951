//! The variables Kyverno's policy validation lets a ClusterPolicy or Policy rule use (`hasInvalidVariables`
//! in `pkg/validation/policy`): none in `match`, `exclude`, patchesJson6902 paths and image references, and
//! elsewhere only Kyverno's own (`request.…`, `element`, `@`, `images`, function calls, and more when the
//! policy is not in background mode or the rule mutates existing resources) or a name the rule's context
//! defines. Upstream substitutes the rule against a mock context that answers exactly that; a variable it
//! does not answer makes the webhook refuse the policy, and `kyverno test` and `kyverno apply` skip it.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::pattern::wildcard_match;
use super::variables::{check_expression, variable_ranges};

/// `allowedVariables*` upstream, matched anywhere in the variable (not anchored), by background mode and by
/// whether the rule mutates existing resources (`target.` then).
static ALLOWED: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    [
        r"request|serviceAccountName|serviceAccountNamespace|element|elementIndex|@|images|image|([a-z_0-9]+\()[^{}]",
        r"request\.|element|elementIndex|@|images|images\.|image\.|([a-z_0-9]+\()[^{}]",
        r"request\.|serviceAccountName|serviceAccountNamespace|element|elementIndex|@|images|images\.|image\.|target\.|([a-z_0-9]+\()[^{}]",
        r"request\.|element|elementIndex|@|images|images\.|image\.|target\.|([a-z_0-9]+\()[^{}]",
    ]
    .map(|pattern| Regex::new(pattern).expect("a valid pattern"))
});

/// `regexVariables` of the forbidden-section check: any `{{ }}`, escaped or not.
static ANY_VARIABLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{[^{}]*\}\}").expect("a valid pattern"));

/// The keys of a ClusterPolicy rule (`ClusterPolicy.v1.spec.rules[]` in the CRD): those Kyverno decodes
/// (others never reach its validation: the CRD refuses them first).
pub(super) const RULE_KEYS: &[&str] = &[
    "celPreconditions",
    "context",
    "exclude",
    "generate",
    "imageExtractors",
    "match",
    "mutate",
    "name",
    "preconditions",
    "reportProperties",
    "skipBackgroundRequests",
    "validate",
    "verifyImages",
];

/// Why Kyverno refuses a rule, and where: a JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub pointer: String,
    pub message: String,
    /// A lint of its own already reports it, at its character (a JMESPath that does not parse).
    pub already_linted: bool,
}

/// Why Kyverno refuses the variables of the rules of `spec`, in background mode or not.
pub fn variable_rejections(spec: &Value, background: bool, out: &mut Vec<Refusal>) {
    let rules = spec.get("rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, rule) in rules.iter().enumerate() {
        let base = format!("/spec/rules/{index}");
        let name = rule.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(rejection) = forbidden_section(rule, &base, name) {
            out.push(rejection);
            continue;
        }
        // Image verification substitutes attestations and registry data of its own: left to the run, which
        // reports it as unsupported offline.
        if rule.get("verifyImages").and_then(Value::as_array).is_some_and(|items| !items.is_empty()) {
            continue;
        }
        // `Targets != nil`: an empty list counts.
        let targets = rule.pointer("/mutate/targets").filter(|targets| !targets.is_null());
        if let Some(rejection) = targets.and_then(|targets| target_rejection(rule, targets, background, &base)) {
            out.push(rejection);
            continue;
        }
        let mock = Mock { allowed: allowed(background, targets.is_some()), patterns: context_patterns(rule) };
        let mut pointer = base.clone();
        for key in RULE_KEYS {
            let Some(value) = rule.get(*key) else { continue };
            pointer.push('/');
            pointer.push_str(key);
            mock.walk(value, &mut pointer, &mut |at, (error, already_linted)| {
                let message = format!("variable substitution failed for rule `{name}`: {error}");
                out.push(Refusal { pointer: at.to_string(), message, already_linted });
            });
            pointer.truncate(base.len());
        }
    }
}

fn allowed(background: bool, target: bool) -> &'static Regex {
    &ALLOWED[usize::from(background) + 2 * usize::from(target)]
}

/// `ruleForbiddenSectionsHaveVariables`: the first section of a rule that may hold no variable and does.
fn forbidden_section(rule: &Value, base: &str, name: &str) -> Option<Refusal> {
    let mutate = rule.get("mutate");
    // A patch without variables has none in its paths either: it is parsed only when it holds one (its
    // operations are parsed again, variables replaced, by rule_validation's own check).
    let patch = mutate.and_then(|mutate| mutate.get("patchesJson6902")).and_then(Value::as_str);
    if let Some(patch) = patch.filter(|patch| !variable_ranges(patch).is_empty()) {
        // Only a patch that parses is looked at (one that does not fails the rule when it runs).
        let documents = crate::syntax::parse_file(patch);
        let operations =
            documents.first().filter(|document| document.errors.is_empty()).map(|document| document.value.clone());
        let paths_have_variables = operations.as_ref().and_then(Value::as_array).is_some_and(|operations| {
            operations.iter().any(|operation| {
                operation.get("path").and_then(Value::as_str).is_some_and(|path| !variable_ranges(path).is_empty())
            })
        });
        if paths_have_variables {
            return Some(Refusal {
                pointer: format!("{base}/mutate/patchesJson6902"),
                message: format!("rule `{name}` should not have variables in the path of a patchesJson6902 operation"),
                already_linted: false,
            });
        }
    }
    for section in ["exclude", "match"] {
        if let Some(at) = rule
            .get(section)
            .and_then(|value| first_string(value, &format!("{base}/{section}"), &|text| ANY_VARIABLE.is_match(text)))
        {
            return Some(Refusal {
                pointer: at,
                message: format!("rule `{name}` should not have variables in the {section} section"),
                already_linted: false,
            });
        }
    }
    let images = rule.get("verifyImages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (position, verification) in images.iter().enumerate() {
        let mut references: Vec<(String, &str)> = Vec::new();
        // `Convert` turns the deprecated `image` into one reference.
        if let Some(image) = verification.get("image").and_then(Value::as_str) {
            references.push((format!("{base}/verifyImages/{position}/image"), image));
        }
        let listed =
            verification.get("imageReferences").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (item, reference) in listed.iter().enumerate() {
            if let Some(reference) = reference.as_str() {
                references.push((format!("{base}/verifyImages/{position}/imageReferences/{item}"), reference));
            }
        }
        if let Some((at, _)) = references.into_iter().find(|(_, reference)| !variable_ranges(reference).is_empty()) {
            return Some(Refusal {
                pointer: at,
                message: format!("rule `{name}` should not have variables in image references"),
                already_linted: false,
            });
        }
    }
    None
}

/// The first string or key under `value` for which `test` holds, by pointer.
fn first_string(value: &Value, pointer: &str, test: &dyn Fn(&str) -> bool) -> Option<String> {
    match value {
        Value::String(text) => test(text).then(|| pointer.to_string()),
        Value::Object(map) => map.iter().find_map(|(key, child)| {
            let at = format!("{pointer}/{}", super::go_text::pointer_segment(key));
            if test(key) { Some(at) } else { first_string(child, &at, test) }
        }),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(index, child)| first_string(child, &format!("{pointer}/{index}"), test))
        }
        _ => None,
    }
}

/// Each mutate target's resource spec, with the rule's context entries and preconditions, is substituted as
/// in a rule that mutates no existing resource (so `target.` is not allowed there).
fn target_rejection(rule: &Value, targets: &Value, background: bool, base: &str) -> Option<Refusal> {
    let targets = targets.as_array().map(Vec::as_slice).unwrap_or_default();
    let context = rule.get("context").cloned().unwrap_or(Value::Null);
    let mock = Mock { allowed: allowed(background, false), patterns: entry_patterns(&context) };
    for (index, target) in targets.iter().enumerate() {
        let mut first: Option<(String, Failure)> = None;
        let mut record = |at: &str, error: Failure| {
            if first.is_none() {
                first = Some((at.to_string(), error));
            }
        };
        for key in ["context", "preconditions"] {
            if let Some(value) = rule.get(key) {
                mock.walk(value, &mut format!("{base}/{key}"), &mut record);
            }
        }
        for key in ["apiVersion", "kind", "namespace", "name", "uid", "selector"] {
            if let Some(value) = target.get(key) {
                mock.walk(value, &mut format!("{base}/mutate/targets/{index}/{key}"), &mut record);
            }
        }
        if let Some((at, (error, already_linted))) = first {
            let message = format!("invalid variables defined at mutate.targets[{index}]: {error}");
            return Some(Refusal { pointer: at, message, already_linted });
        }
    }
    None
}

/// The wildcard patterns of the names a rule's context entries define (`buildContext`): its own entries and
/// those of the top-level foreach of validate, mutate and generate and of mutate targets.
fn context_patterns(rule: &Value) -> Vec<String> {
    let mut patterns = entry_patterns(rule.get("context").unwrap_or(&Value::Null));
    for pointer in ["/validate/foreach", "/mutate/foreach", "/mutate/targets", "/generate/foreach"] {
        for item in rule.pointer(pointer).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            patterns.extend(entry_patterns(item.get("context").unwrap_or(&Value::Null)));
        }
    }
    patterns
}

/// `addContextVariables`: an API call, global reference, image registry or variable entry defines its name
/// and everything below it; a ConfigMap entry its `data` and `metadata` only.
fn entry_patterns(entries: &Value) -> Vec<String> {
    let mut patterns = Vec::new();
    for entry in entries.as_array().map(Vec::as_slice).unwrap_or_default() {
        let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
        let present = |key: &str| entry.get(key).is_some_and(|value| !value.is_null());
        if ["apiCall", "globalReference", "imageRegistry", "variable"].into_iter().any(present) {
            patterns.push(format!("{name}*"));
        }
        if present("configMap") {
            patterns.extend(["data", "metadata", "data.*", "metadata.*"].map(|below| format!("{name}.{below}")));
        }
    }
    patterns
}

/// Calls `visit` with every string and key under `value` (a key before its value, both at the value's
/// pointer), as Kyverno's substitution visits them; `skip` leaves a subtree out by its pointer.
pub(super) fn visit_strings(
    value: &Value,
    pointer: &mut String,
    skip: &dyn Fn(&str) -> bool,
    visit: &mut dyn FnMut(&str, &str),
) {
    match value {
        Value::String(text) => visit(text, pointer),
        Value::Object(map) => {
            for (key, child) in map {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&super::go_text::pointer_segment(key));
                if !skip(pointer) {
                    visit(key, pointer);
                    visit_strings(child, pointer, skip, visit);
                }
                pointer.truncate(length);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&index.to_string());
                visit_strings(child, pointer, skip, visit);
                pointer.truncate(length);
            }
        }
        _ => {}
    }
}

/// Why the mock context refuses a variable, and whether a lint of its own says so already.
type Failure = (String, bool);

/// The mock context of the validation: it answers a variable it allows, and refuses the others.
struct Mock {
    allowed: &'static Regex,
    patterns: Vec<String>,
}

impl Mock {
    /// Every key and string under `value`, as substitution visits them; `refuse` gets where and why.
    fn walk(&self, value: &Value, pointer: &mut String, refuse: &mut dyn FnMut(&str, Failure)) {
        visit_strings(value, pointer, &|_| false, &mut |text, at| self.substitute(text, at, refuse));
    }

    /// Substitutes the variables of one string as the engine does (inner ones first: each answered variable
    /// becomes `null`, which may complete an outer one), refusing the first it does not allow.
    fn substitute(&self, text: &str, at: &str, refuse: &mut dyn FnMut(&str, Failure)) {
        let mut value = text.to_string();
        for _ in 0..32 {
            let ranges = variable_ranges(&value);
            if ranges.is_empty() {
                return;
            }
            for range in ranges.iter().rev() {
                let inner = value[range.clone()].trim_start_matches("{{").trim_end_matches("}}").trim();
                let expression = inner.strip_prefix('-').map_or(inner, str::trim);
                if let Err(error) = self.query(expression) {
                    refuse(at, error);
                    return;
                }
                value.replace_range(range.clone(), "null");
            }
        }
    }

    /// `MockContext.Query`.
    fn query(&self, expression: &str) -> Result<(), Failure> {
        // `{{ @ }}` reads the resource at the pattern's place: `request.object…`.
        if expression == "@" {
            return Ok(());
        }
        if expression.is_empty() {
            return Err(("an empty variable `{{ }}`".to_string(), false));
        }
        if let Err((_, reason)) = check_expression(expression) {
            return Err((format!("invalid JMESPath query `{expression}`: {reason}"), true));
        }
        // Quotes go first (`"my-map".data` is `my-map.data`).
        let unquoted = expression.replace('"', "");
        if self.allowed.is_match(&unquoted) || self.patterns.iter().any(|pattern| wildcard_match(pattern, &unquoted)) {
            return Ok(());
        }
        let defined = match self.patterns.is_empty() {
            true => "the rule's context defines none".to_string(),
            false => format!("the rule's context defines {}", self.patterns.join(", ")),
        };
        Err((
            format!(
                "`{unquoted}` is neither one of Kyverno's variables (request fields, element, elementIndex, @, images, a function call) nor a name of the rule's context ({defined})"
            ),
            false,
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(rule: Value, background: bool, expect: &[&str]) {
        let mut out = Vec::new();
        variable_rejections(&json!({"rules": [rule]}), background, &mut out);
        let found: Vec<String> =
            out.into_iter().map(|rejection| format!("{} {}", rejection.pointer, rejection.message)).collect();
        assert_eq!(found, expect);
    }

    fn validate(message: &str) -> Value {
        json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "context": [{"name": "labelCount", "variable": {"jmesPath": "length(request.object.metadata.labels)"}},
                        {"name": "settings", "configMap": {"name": "s", "namespace": "kyverno"}}],
            "validate": {"message": message, "deny": {}}})
    }

    #[test]
    fn kyverno_variables_and_the_rule_context_are_allowed() {
        for message in [
            "{{ request.object.metadata.name }}",
            "{{ labelCount }} labels, {{ labelCount.extra }}",
            "{{ settings.data.limit }} {{ \"settings\".data }}",
            "{{ element.name }} {{ elementIndex }} {{ @ }} {{ images.containers }}",
            "{{ to_upper(something) }} {{ time_now_utc() }}",
            "{{ request.object.metadata.labels.\"app.kubernetes.io/name\" || 'none' }}",
            "\\{{ not a variable }}",
        ] {
            check(validate(message), true, &[]);
        }
    }

    #[test]
    fn other_variables_are_refused() {
        check(
            validate("{{ labelcount }}"),
            true,
            &[
                "/spec/rules/0/validate/message variable substitution failed for rule `r`: `labelcount` is neither one of Kyverno's variables (request fields, element, elementIndex, @, images, a function call) nor a name of the rule's context (the rule's context defines labelCount*, settings.data, settings.metadata, settings.data.*, settings.metadata.*)",
            ],
        );
        // A ConfigMap entry defines its data and metadata only.
        let refused = |message: &str, background: bool| {
            let mut out = Vec::new();
            variable_rejections(&json!({"rules": [validate(message)]}), background, &mut out);
            !out.is_empty()
        };
        assert!(refused("{{ settings }}", true));
        assert!(refused("{{ settings.kind }}", true));
        // `request` alone and the service account only outside background mode.
        assert!(refused("{{ request }}", true));
        assert!(!refused("{{ request }}", false));
        assert!(!refused("{{ serviceAccountName }}", false));
        assert!(refused("{{ target.metadata.name }}", true));
        // Inner variables first: `{{ labelCount.{{ nope }} }}` refuses `nope`.
        assert!(refused("{{ labelCount.{{ nope }} }}", true));
        assert!(refused("{{ request.object.metadata.name | }}", true), "a JMESPath syntax error");
    }

    #[test]
    fn match_exclude_patch_paths_and_image_references_hold_no_variable() {
        let mut rule = validate("ok");
        rule["exclude"] = json!({"any": [{"resources": {"namespaces": ["{{ request.namespace }}"]}}]});
        check(
            rule,
            true,
            &[
                "/spec/rules/0/exclude/any/0/resources/namespaces/0 rule `r` should not have variables in the exclude section",
            ],
        );
        let patch = json!({"name": "m", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "mutate": {"patchesJson6902": "- op: add\n  path: /metadata/labels/{{ request.object.kind }}\n  value: x\n"}});
        check(
            patch,
            true,
            &[
                "/spec/rules/0/mutate/patchesJson6902 rule `m` should not have variables in the path of a patchesJson6902 operation",
            ],
        );
        let value_only = json!({"name": "m", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "mutate": {"patchesJson6902": "- op: add\n  path: /metadata/labels/team\n  value: \"{{ request.object.kind }}\"\n"}});
        check(value_only, true, &[]);
        let images = json!({"name": "v", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "verifyImages": [{"imageReferences": ["ghcr.io/{{ request.namespace }}/*"]}]});
        check(
            images,
            true,
            &["/spec/rules/0/verifyImages/0/imageReferences/0 rule `v` should not have variables in image references"],
        );
    }

    #[test]
    fn mutate_targets_allow_target_in_the_patch_but_not_in_the_target() {
        let rule = json!({"name": "t", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
            "mutate": {"targets": [{"apiVersion": "v1", "kind": "Secret", "name": "{{ request.object.metadata.name }}",
                                    "context": [{"name": "found", "variable": {"value": 1}}]}],
                       "patchStrategicMerge": {"metadata": {"labels": {"from": "{{ target.metadata.name }}-{{ found }}"}}}}});
        check(rule.clone(), true, &[]);
        let mut named_by_target = rule;
        named_by_target["mutate"]["targets"][0]["name"] = json!("{{ target.metadata.name }}");
        check(
            named_by_target,
            true,
            &[
                "/spec/rules/0/mutate/targets/0/name invalid variables defined at mutate.targets[0]: `target.metadata.name` is neither one of Kyverno's variables (request fields, element, elementIndex, @, images, a function call) nor a name of the rule's context (the rule's context defines none)",
            ],
        );
    }
}
