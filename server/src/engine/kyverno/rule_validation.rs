//! Kyverno's policy validation of each rule beyond its variables (`pkg/validation/policy` and the API types'
//! `Validate`): JSON patches, match and exclude blocks (and an exclude that leaves nothing to match),
//! conditions, context entries, podSecurity exclusions, the validate, mutate and generate factories' checks,
//! image verifications and their attestors, a namespaced Policy's mutate targets, labels written as strings,
//! and what a policy without admission processing may hold. Each is a check the CRD schema does not express, after which Kyverno's
//! webhook refuses the policy and the CLI skips it. Only what needs no cluster; reported as JSON pointers.

use serde_json::Value;

use super::policy_variables::{Refusal, visit_strings};
use super::variables::{check_expression, variable_ranges};
use crate::model::CLUSTER_SCOPED_KINDS;

/// The names Kyverno gives its own variables: a context entry may not take one (nor a name below one).
const PREDEFINED: &[&str] =
    &["images", "request", "serviceAccountName", "serviceAccountNamespace", "element", "elementIndex"];

/// The context entry types, of which an entry has exactly one.
const ENTRY_TYPES: &[&str] = &["configMap", "apiCall", "globalReference", "imageRegistry", "variable"];

/// The policy whose rules are checked: whether it is a namespaced Policy, and the namespace its file gives it.
#[derive(Clone, Copy, Default)]
pub struct Scope<'policy> {
    pub namespaced: bool,
    /// `metadata.namespace` as written; unknown when the file leaves it to `kubectl apply -n`.
    pub namespace: Option<&'policy str>,
}

/// Why Kyverno refuses the rules of `spec` (of a namespaced Policy when `scope` says so), each reason where
/// it is.
pub fn rule_rejections(spec: &Value, scope: Scope, out: &mut Vec<Refusal>) {
    let namespaced = scope.namespaced;
    let background = spec.get("background").and_then(Value::as_bool).unwrap_or(true);
    let rules = spec.get("rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let admission = spec.get("admission").and_then(Value::as_bool).unwrap_or(true);
    for (index, rule) in rules.iter().enumerate() {
        let base = format!("/spec/rules/{index}");
        if let Some(patch) = rule.pointer("/mutate/patchesJson6902").and_then(Value::as_str) {
            out.extend(json_patch_refusal(patch, index, &format!("{base}/mutate/patchesJson6902")));
        }
        match_refusals(rule, &base, namespaced, out);
        if let Some(found) = match_exclude_conflict(rule, &base) {
            out.push(found);
        }
        pod_security_refusals(rule, &base, out);
        validate_refusals(rule, &base, out);
        out.extend(mutate_refusal(rule, &base));
        out.extend(generate_refusal(rule, &base));
        generate_target_refusals(rule, &base, scope, out);
        out.extend(label_refusal(rule, &base));
        condition_refusals(rule, &base, out);
        element_refusals(rule, &base, out);
        context_refusals(rule, &base, out);
        verify_images_refusals(rule, &base, spec, out);
        out.extend(wildcard_kind_refusal(rule, &base, background));
        if namespaced && let Some(namespace) = scope.namespace {
            target_namespace_refusals(rule, &base, namespace, out);
        }
        if !admission {
            let operation = ["mutate", "generate", "verifyImages"].into_iter().find(|key| holds(rule, key));
            if let Some(operation) = operation {
                out.push(refusal(
                    format!("{base}/{operation}"),
                    "disabling admission processing (spec.admission: false) is only allowed with validation rules"
                        .to_string(),
                ));
            }
        }
    }
}

/// Whether a rule's `key` holds something (`HasMutate` and the others compare with the empty value).
fn holds(rule: &Value, key: &str) -> bool {
    match rule.get(key) {
        Some(Value::Object(map)) => map.values().any(|value| !value.is_null()),
        Some(Value::Array(items)) => !items.is_empty(),
        _ => false,
    }
}

fn refusal(pointer: String, message: String) -> Refusal {
    Refusal { pointer, message, already_linted: false }
}

/// `validateJSONPatchPathForForwardSlash` then `validateJSONPatch`: the patch, its variables replaced, must
/// be a YAML list of operations, each with a path starting with `/`, a known `op`, and a value when the op
/// takes one.
fn json_patch_refusal(patch: &str, index: usize, pointer: &str) -> Option<Refusal> {
    let reject = |message: String| Some(refusal(pointer.to_string(), message));
    let mut replaced = patch.to_string();
    for range in variable_ranges(patch).into_iter().rev() {
        replaced.replace_range(range, "kyvernojsonpatchvariable");
    }
    let documents = crate::syntax::parse_file(&replaced);
    let value = match documents.first() {
        None => Value::Null,
        Some(document) if !document.errors.is_empty() => {
            return reject(format!(
                "path must begin with a forward slash: spec.rules[{index}]: the patch is not YAML: {}",
                document.error_text()
            ));
        }
        Some(document) => document.yaml11_value(),
    };
    let operations = match &value {
        Value::Null => return None,
        Value::Array(items) if items.iter().all(Value::is_object) => items,
        _ => {
            return reject(format!(
                "path must begin with a forward slash: spec.rules[{index}]: the patch is not a list of operations"
            ));
        }
    };
    for operation in operations {
        match operation.get("path") {
            Some(Value::String(path)) if path.starts_with('/') => {}
            Some(Value::String(path)) => {
                return reject(format!("path must begin with a forward slash: spec.rules[{index}]: {path}"));
            }
            _ => {
                return reject(format!(
                    "path must begin with a forward slash: spec.rules[{index}]: an operation has no path"
                ));
            }
        }
    }
    for operation in operations {
        let op = operation.get("op").and_then(Value::as_str).unwrap_or("unknown");
        if !matches!(op, "add" | "remove" | "replace" | "move" | "copy" | "test") {
            return reject(format!("unexpected kind: spec.rules[{index}]: {op}"));
        }
        // A `null` value decodes as no value at all.
        let needs_value = !matches!(op, "remove" | "move" | "copy");
        if needs_value && operation.get("value").is_none_or(Value::is_null) {
            return reject(format!("invalid value: spec.rules[{index}]: the `{op}` operation has no value"));
        }
    }
    None
}

/// The condition operators Kyverno knows (`ConditionOperators`, compared as written: `equals` is not one),
/// the deprecated `Equal`, `NotEqual`, `In` and `NotIn` among them.
const OPERATORS: &[&str] = &[
    "Equal",
    "Equals",
    "NotEqual",
    "NotEquals",
    "In",
    "AnyIn",
    "AllIn",
    "NotIn",
    "AnyNotIn",
    "AllNotIn",
    "GreaterThanOrEquals",
    "GreaterThan",
    "LessThanOrEquals",
    "LessThan",
    "DurationGreaterThanOrEquals",
    "DurationGreaterThan",
    "DurationLessThanOrEquals",
    "DurationLessThan",
];

/// The fields of a resource description that select something (`ResourceDescription` upstream).
const RESOURCE_FIELDS: &[&str] =
    &["kinds", "name", "names", "namespaces", "annotations", "selector", "namespaceSelector", "operations"];

/// `MatchResources.Validate` for `match` and `exclude`, and `validateResources` and the kinds check of
/// `Validate` for `match`: no `any` beside `all` nor beside a description of its own; subjects and roles
/// well formed; a description without `name` beside `names` and with a selector that selects; each entry of
/// `match` describing resources, kinds among them.
fn match_refusals(rule: &Value, base: &str, namespaced: bool, out: &mut Vec<Refusal>) {
    for block in ["match", "exclude"] {
        let Some(filter) = rule.get(block).filter(|filter| filter.is_object()) else { continue };
        let at = format!("{base}/{block}");
        let list = |group: &str| filter.get(group).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let (any, all) = (list("any"), list("all"));
        if !any.is_empty() && !all.is_empty() {
            out.push(refusal(format!("{at}/all"), format!("can't specify any and all together in {block}")));
        }
        let own = filter.get("resources").unwrap_or(&Value::Null);
        if (!any.is_empty() || !all.is_empty()) && describes(own) {
            out.push(refusal(
                format!("{at}/resources"),
                format!("can't specify any/all together with {block} resources"),
            ));
        }
        let mut entries: Vec<(String, &Value)> = Vec::new();
        entries.extend(any.iter().enumerate().map(|(index, entry)| (format!("{at}/any/{index}"), entry)));
        entries.extend(all.iter().enumerate().map(|(index, entry)| (format!("{at}/all/{index}"), entry)));
        let described_alone = entries.is_empty();
        entries.push((at.clone(), filter));
        for (position, (entry_at, entry)) in entries.iter().enumerate() {
            user_refusals(entry, entry_at, out);
            let resources = entry.get("resources").unwrap_or(&Value::Null);
            resource_refusals(resources, &format!("{entry_at}/resources"), namespaced, out);
            // In `match`, each entry (or the block itself, without entries) names kinds.
            let is_entry = position + 1 < entries.len() || described_alone;
            if block == "match" && is_entry {
                // Kinds of the wrong type are the schema's to report.
                let has_kinds = match resources.get("kinds") {
                    None | Some(Value::Null) => false,
                    Some(Value::Array(kinds)) => !kinds.is_empty(),
                    Some(_) => true,
                };
                if !describes(resources) {
                    out.push(refusal(entry_at.clone(), "match resources not specified".to_string()));
                } else if !has_kinds {
                    out.push(refusal(
                        format!("{entry_at}/resources"),
                        "at least one element must be specified in a kind block, the kind attribute is mandatory when working with the resources element".to_string(),
                    ));
                }
            }
        }
    }
}

/// `ValidateMatchExcludeConflict`: an exclude block that takes in everything the match block does leaves the
/// rule nothing to match. Both blocks listing `any` entries conflict when an exclude entry is a match entry;
/// otherwise the top-level forms are compared field by field, as upstream compares them (Go values: a list
/// or selector written empty is not an absent one, and `operations` are not compared).
fn match_exclude_conflict(rule: &Value, base: &str) -> Option<Refusal> {
    let exclude = rule.get("exclude").filter(|value| !value.is_null())?;
    let empty_map = Value::Object(serde_json::Map::new());
    let matched = rule.get("match").filter(|value| value.is_object()).unwrap_or(&empty_map);
    fn list<'value>(block: &'value Value, group: &str) -> &'value [Value] {
        block.get(group).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
    }
    if !list(exclude, "all").is_empty() || !list(matched, "all").is_empty() {
        return None;
    }
    let conflict =
        |pointer: String, message: &str| Some(refusal(pointer, format!("Rule is matching an empty set: {message}")));
    let (match_any, exclude_any) = (list(matched, "any"), list(exclude, "any"));
    if !match_any.is_empty() && !exclude_any.is_empty() {
        let position = exclude_any.iter().position(|entry| match_any.contains(entry))?;
        return conflict(format!("{base}/exclude/any/{position}"), "this exclude entry is a match entry");
    }
    if go_zero_filter(exclude) {
        return None;
    }
    let resources =
        |block: &Value| block.get("resources").filter(|value| value.is_object()).cloned().unwrap_or(empty_map.clone());
    let (match_resources, exclude_resources) = (resources(matched), resources(exclude));
    let strings = |value: &Value, key: &str| -> Vec<String> {
        list(value, key).iter().map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_string)).collect()
    };
    // Each exclude set that does not hold every value of the match set leaves something to match.
    let covers = |exclude_values: &[String], match_values: &[String]| {
        exclude_values.is_empty()
            || (!match_values.is_empty() && match_values.iter().all(|value| exclude_values.contains(value)))
    };
    for key in ["roles", "clusterRoles"] {
        if !covers(&strings(exclude, key), &strings(matched, key)) {
            return None;
        }
    }
    let subject = |value: &Value| {
        let field = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or("").to_string();
        [field("kind"), field("apiGroup"), field("name"), field("namespace")]
    };
    let exclude_subjects: Vec<_> = list(exclude, "subjects").iter().map(subject).collect();
    let match_subjects: Vec<_> = list(matched, "subjects").iter().map(subject).collect();
    if !exclude_subjects.is_empty()
        && (match_subjects.is_empty() || !match_subjects.iter().all(|subject| exclude_subjects.contains(subject)))
    {
        return None;
    }
    let name = |value: &Value| value.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    let exclude_name = name(&exclude_resources);
    if !exclude_name.is_empty() && !super::pattern::wildcard_match(&exclude_name, &name(&match_resources)) {
        return None;
    }
    let exclude_names = strings(&exclude_resources, "names");
    if !exclude_names.is_empty() {
        // A name of match that an exclude name takes in is the conflict; none is no conflict, whatever else.
        let match_names = strings(&match_resources, "names");
        let clash = match_names.iter().any(|matched_name| {
            exclude_names.iter().any(|excluded| super::pattern::wildcard_match(excluded, matched_name))
        });
        return if clash {
            conflict(format!("{base}/exclude/resources/names"), "every name it matches is excluded")
        } else {
            None
        };
    }
    for key in ["namespaces", "kinds"] {
        if !covers(&strings(&exclude_resources, key), &strings(&match_resources, key)) {
            return None;
        }
    }
    for key in ["selector", "namespaceSelector"] {
        let present = |value: &Value| value.get(key).filter(|selector| !selector.is_null()).cloned();
        match (present(&match_resources), present(&exclude_resources)) {
            (Some(match_selector), Some(exclude_selector)) => {
                let expressions =
                    |selector: &Value| list(selector, "matchExpressions").iter().map(requirement).collect::<Vec<_>>();
                let (match_expressions, exclude_expressions) =
                    (expressions(&match_selector), expressions(&exclude_selector));
                if !exclude_expressions.is_empty()
                    && (match_expressions.is_empty()
                        || !match_expressions.iter().all(|expression| exclude_expressions.contains(expression)))
                {
                    return None;
                }
                let labels = |selector: &Value| {
                    selector.get("matchLabels").and_then(Value::as_object).cloned().unwrap_or_default()
                };
                let (match_labels, exclude_labels) = (labels(&match_selector), labels(&exclude_selector));
                if !exclude_labels.is_empty()
                    && (match_labels.is_empty()
                        || match_labels.iter().any(|(label, value)| exclude_labels.get(label) != Some(value)))
                {
                    return None;
                }
            }
            (None, None) => {}
            _ => return None,
        }
    }
    let annotations = |value: &Value| value.get("annotations").filter(|annotations| !annotations.is_null()).cloned();
    match (annotations(&match_resources), annotations(&exclude_resources)) {
        (Some(match_annotations), Some(exclude_annotations)) if match_annotations != exclude_annotations => {
            return None;
        }
        (Some(_), None) | (None, Some(_)) => return None,
        _ => {}
    }
    conflict(format!("{base}/exclude"), "the exclude block takes in everything the match block does")
}

/// A label selector requirement as Go marshals it: key, operator and values (omitted when empty).
fn requirement(value: &Value) -> (String, String, Vec<Value>) {
    let field = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let values = value.get("values").and_then(Value::as_array).cloned().unwrap_or_default();
    (field("key"), field("operator"), values)
}

/// Whether a match or exclude block decodes to Go's zero `MatchResources`: nothing but empty strings and
/// absent (null) fields; a list, selector or map written empty is not zero.
fn go_zero_filter(block: &Value) -> bool {
    let Some(map) = block.as_object() else { return block.is_null() };
    map.iter().all(|(key, value)| match (key.as_str(), value) {
        (_, Value::Null) => true,
        ("resources", Value::Object(resources)) => resources.iter().all(|(key, value)| match (key.as_str(), value) {
            (_, Value::Null) => true,
            ("name", Value::String(text)) => text.is_empty(),
            _ => false,
        }),
        _ => false,
    })
}

/// The Pod Security controls that only the restricted level has (`PSS_restricted_control_names`).
const RESTRICTED_CONTROLS: &[&str] = &[
    "Volume Types",
    "Privilege Escalation",
    "Running as Non-root",
    "Running as Non-root user",
    "Seccomp",
    "Capabilities",
];
/// The controls checked per container: an exclusion names the images (`PSS_container_level_control`).
const CONTAINER_CONTROLS: &[&str] =
    &["Capabilities", "Privileged Containers", "Host Ports", "/proc Mount Type", "Privilege Escalation"];
/// The controls checked per Pod: an exclusion names no image (`PSS_pod_level_control`).
const POD_CONTROLS: &[&str] = &["Host Namespaces", "HostPath Volumes", "Sysctls", "Volume Types"];

/// `ValidatePSaControlNames` and `PodSecurityStandard.Validate`: each exclusion of `validate.podSecurity`
/// names images exactly for container controls, values exactly beside a restricted field, and at the
/// baseline level no control only the restricted level has.
fn pod_security_refusals(rule: &Value, base: &str, out: &mut Vec<Refusal>) {
    let Some(pod_security) = rule.pointer("/validate/podSecurity").filter(|value| value.is_object()) else { return };
    let baseline = pod_security.get("level").and_then(Value::as_str) == Some("baseline");
    let excludes = pod_security.get("exclude").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, exclude) in excludes.iter().enumerate() {
        let at = format!("{base}/validate/podSecurity/exclude/{index}");
        let control = exclude.get("controlName").and_then(Value::as_str).unwrap_or("");
        let listed = |key: &str| exclude.get(key).and_then(Value::as_array).is_some_and(|items| !items.is_empty());
        if CONTAINER_CONTROLS.contains(&control) && !listed("images") {
            out.push(refusal(
                format!("{at}/controlName"),
                "exclude.images must be specified for the container level control".to_string(),
            ));
        } else if POD_CONTROLS.contains(&control) && listed("images") {
            out.push(refusal(
                format!("{at}/controlName"),
                "exclude.images must not be specified for the pod level control".to_string(),
            ));
        }
        let restricted_field = exclude.get("restrictedField").and_then(Value::as_str).unwrap_or("");
        if !restricted_field.is_empty() && !listed("values") {
            out.push(refusal(at.clone(), "values is required beside restrictedField".to_string()));
        }
        if restricted_field.is_empty() && listed("values") {
            out.push(refusal(format!("{at}/values"), "restrictedField is required beside values".to_string()));
        }
        if baseline && !matches!(control, "Seccomp" | "Capabilities") && RESTRICTED_CONTROLS.contains(&control) {
            out.push(refusal(
                format!("{at}/controlName"),
                format!("Invalid control name defined at the given level: `{control}` is a control of the restricted level only"),
            ));
        }
    }
}

/// The Validate factory's checks of a `validate` rule (`pkg/policy/validate`): exactly one way to validate,
/// each `foreach` with a list and one way, pattern anchors a validation understands (an existence anchor
/// over a non-empty list), CEL expressions, parameters and audit annotations complete, and CEL preconditions
/// only beside CEL.
fn validate_refusals(rule: &Value, base: &str, out: &mut Vec<Refusal>) {
    // Only a rule that validates (`HasValidate`) is looked at.
    let Some(validate) = rule.get("validate").filter(|validate| holds(rule, "validate") && validate.is_object()) else {
        return;
    };
    let at = format!("{base}/validate");
    let set = |key: &str| validate.get(key).is_some_and(|value| !value.is_null());
    let attestors =
        validate.pointer("/manifests/attestors").and_then(Value::as_array).is_some_and(|items| !items.is_empty());
    let ways =
        ["pattern", "anyPattern", "deny", "foreach", "podSecurity", "cel"].into_iter().filter(|key| set(key)).count()
            + usize::from(attestors);
    // `assert` (kyverno-json) is not counted upstream either way here: left to the run.
    if !set("assert") {
        match ways {
            0 => out.push(refusal(
                at.clone(),
                "one of pattern, anyPattern, deny, foreach, cel must be specified".to_string(),
            )),
            1 => {}
            _ => out.push(refusal(
                at.clone(),
                "only one of pattern, anyPattern, deny, foreach, cel can be specified".to_string(),
            )),
        }
    }
    if let Some(pattern) = validate.get("pattern").filter(|value| !value.is_null()) {
        out.extend(pattern_refusal(pattern, &format!("{at}/pattern")));
    }
    match validate.get("anyPattern") {
        None | Some(Value::Null) => {}
        Some(Value::Array(patterns)) => {
            for (index, pattern) in patterns.iter().enumerate() {
                out.extend(pattern_refusal(pattern, &format!("{at}/anyPattern/{index}")));
            }
        }
        Some(_) => {
            out.push(refusal(format!("{at}/anyPattern"), "failed to deserialize anyPattern, expect array".to_string()))
        }
    }
    if let Some(items) = validate.get("foreach").and_then(Value::as_array) {
        for (index, item) in items.iter().enumerate() {
            let item_at = format!("{at}/foreach/{index}");
            if item.get("list").and_then(Value::as_str).unwrap_or("").is_empty() {
                out.push(refusal(item_at.clone(), "foreach.list is required".to_string()));
                continue;
            }
            let present = |key: &str| item.get(key).is_some_and(|value| !value.is_null());
            let nested = item.get("foreach").and_then(Value::as_array).is_some_and(|items| !items.is_empty());
            let ways =
                ["pattern", "anyPattern", "deny"].into_iter().filter(|key| present(key)).count() + usize::from(nested);
            match ways {
                0 => out.push(refusal(
                    item_at,
                    "one of pattern, anyPattern, deny, or a nested foreach must be specified".to_string(),
                )),
                1 => {}
                _ => out.push(refusal(
                    item_at,
                    "only one of pattern, anyPattern, deny, or a nested foreach can be specified".to_string(),
                )),
            }
        }
    }
    if rule.get("celPreconditions").is_some_and(|value| !value.is_null()) && !set("cel") {
        out.push(refusal(
            format!("{base}/celPreconditions"),
            "celPrecondition can only be used with validate.cel".to_string(),
        ));
    }
    if let Some(cel) = validate.get("cel").filter(|value| value.is_object()) {
        out.extend(cel_refusal(cel, &format!("{at}/cel")));
    }
}

/// The Mutate factory's checks of a `mutate` rule (`pkg/policy/mutate`): one way to patch (a foreach, a
/// strategic merge patch or a JSON patch), each foreach item one way or a nested foreach alone, and no CEL
/// preconditions.
fn mutate_refusal(rule: &Value, base: &str) -> Option<Refusal> {
    let mutate = rule.get("mutate").filter(|mutate| holds(rule, "mutate") && mutate.is_object())?;
    let at = format!("{base}/mutate");
    let merge = mutate.get("patchStrategicMerge").is_some_and(|value| !value.is_null());
    let json = mutate.get("patchesJson6902").and_then(Value::as_str).is_some_and(|text| !text.is_empty());
    let foreach = mutate.get("foreach").and_then(Value::as_array).filter(|items| !items.is_empty());
    if let Some(items) = foreach {
        if merge || json {
            return Some(refusal(
                format!("{at}/foreach"),
                "only one of `foreach`, `patchStrategicMerge`, or `patchesJson6902` is allowed".to_string(),
            ));
        }
        return mutate_foreach_refusal(items, &format!("{at}/foreach"));
    }
    if merge && json {
        return Some(refusal(
            format!("{at}/patchesJson6902"),
            "only one of `patchStrategicMerge` or `patchesJson6902` is allowed".to_string(),
        ));
    }
    if rule.get("celPreconditions").is_some_and(|value| !value.is_null()) {
        return Some(refusal(
            format!("{base}/celPreconditions"),
            "celPrecondition can only be used with validate.cel".to_string(),
        ));
    }
    None
}

/// `Generation.Validate`'s count, the generate factory's checks as the CLI runs them (no anchor in `data`,
/// no wildcard in a cloneList selector) and `validateActions`' kind check: one way to generate, and not the
/// kind the rule matches.
fn generate_refusal(rule: &Value, base: &str) -> Option<Refusal> {
    let generate = rule.get("generate").filter(|generate| holds(rule, "generate") && generate.is_object())?;
    let at = format!("{base}/generate");
    let set = |key: &str| generate.get(key).is_some_and(|value| !value.is_null());
    let clone = generate
        .get("clone")
        .and_then(Value::as_object)
        .is_some_and(|clone| clone.values().any(|value| value.as_str().is_some_and(|text| !text.is_empty())));
    let clone_list = generate.pointer("/cloneList/kinds").is_some_and(|kinds| !kinds.is_null());
    let ways = usize::from(set("data")) + usize::from(clone) + usize::from(clone_list) + usize::from(set("foreach"));
    if ways > 1 {
        return Some(refusal(
            at,
            "only one of generate patterns(data, clone, cloneList and foreach) can be specified".to_string(),
        ));
    }
    if let Some(data) = generate.get("data")
        && let Some(anchor) = first_anchor(data, &format!("{at}/data"))
    {
        return Some(refusal(anchor, "anchors not supported on generate resources".to_string()));
    }
    if let Some(selector) = generate.pointer("/cloneList/selector").filter(|selector| !selector.is_null()) {
        let text = selector.to_string();
        if text.contains('*') || text.contains('?') {
            return Some(refusal(
                format!("{at}/cloneList/selector"),
                "wildcard characters `*/?` not supported".to_string(),
            ));
        }
    }
    let kind = generate.get("kind").and_then(Value::as_str).unwrap_or("");
    let matched =
        rule.pointer("/match/resources/kinds").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if !kind.is_empty() && matched.iter().any(|matched| matched.as_str() == Some(kind)) {
        return Some(refusal(
            format!("{at}/kind"),
            "generation kind and match resource kind should not be the same".to_string(),
        ));
    }
    None
}

/// `isLabelAndAnnotationsString`: the labels and annotations a validation pattern or a strategic merge patch
/// writes under `metadata` (or `spec.template.metadata`) are strings. Upstream looks at one of the two, the
/// first its map iteration meets; where a pattern has both and only one is wrong, the outcome is left to
/// chance there, and not reported here.
fn label_refusal(rule: &Value, base: &str) -> Option<Refusal> {
    let first_map = |items: Option<&Value>, key: &str, at: &str| -> Option<(String, Value)> {
        let items = items?.as_array()?;
        items.iter().enumerate().find_map(|(index, item)| {
            item.get(key).filter(|value| value.is_object()).map(|value| (format!("{at}/{index}/{key}"), value.clone()))
        })
    };
    let mut patterns: Vec<(String, Value)> = Vec::new();
    let validate_at = format!("{base}/validate");
    if let Some(validate) = rule.get("validate").filter(|_| holds(rule, "validate")) {
        if validate.get("foreach").is_some_and(|value| !value.is_null()) {
            patterns.extend(first_map(validate.get("foreach"), "pattern", &format!("{validate_at}/foreach")));
        } else if let Some(pattern) = validate.get("pattern").filter(|value| value.is_object()) {
            patterns.push((format!("{validate_at}/pattern"), pattern.clone()));
        } else if let Some(items) = validate.get("anyPattern").and_then(Value::as_array) {
            for (index, pattern) in items.iter().enumerate().filter(|(_, pattern)| pattern.is_object()) {
                patterns.push((format!("{validate_at}/anyPattern/{index}"), pattern.clone()));
            }
        }
    } else if let Some(mutate) = rule.get("mutate").filter(|_| holds(rule, "mutate")) {
        let mutate_at = format!("{base}/mutate");
        if mutate.get("foreach").is_some_and(|value| !value.is_null()) {
            patterns.extend(first_map(mutate.get("foreach"), "patchStrategicMerge", &format!("{mutate_at}/foreach")));
        } else if let Some(patch) = mutate.get("patchStrategicMerge").filter(|value| value.is_object()) {
            patterns.push((format!("{mutate_at}/patchStrategicMerge"), patch.clone()));
        }
    }
    patterns.iter().find_map(|(at, pattern)| {
        let under_metadata = pattern.get("metadata").filter(|metadata| metadata.is_object()).map(|metadata| (format!("{at}/metadata"), metadata));
        let under_template = pattern.get("spec").map(|spec| {
            (format!("{at}/spec/template/metadata"), spec.pointer("/template/metadata").unwrap_or(&Value::Null))
        });
        let wrong: Vec<Option<String>> =
            [under_metadata, under_template].into_iter().flatten().map(|(at, metadata)| non_string_label(metadata, &at)).collect();
        // Both places looked at: refused only when both are wrong (the first, as reported).
        match wrong.as_slice() {
            [Some(first)] | [Some(first), Some(_)] => Some(first.clone()),
            _ => None,
        }
    })
    .map(|at| refusal(at, "labels and annotations supports only string values, \"use double quotes around the non string values\"".to_string()))
}

/// The first label or annotation under `metadata` whose value is not a string.
fn non_string_label(metadata: &Value, at: &str) -> Option<String> {
    ["labels", "annotations"].into_iter().find_map(|key| {
        let map = metadata.get(key)?.as_object()?;
        map.iter()
            .find(|(_, value)| !value.is_string())
            .map(|(name, _)| format!("{at}/{key}/{}", super::go_text::pointer_segment(name)))
    })
}

/// Where the first anchored key of a value is.
fn first_anchor(value: &Value, at: &str) -> Option<String> {
    match value {
        Value::Object(map) => map.iter().find_map(|(key, child)| {
            let key_at = format!("{at}/{}", super::go_text::pointer_segment(key));
            match super::pattern::parse_anchor(key) {
                Some(_) => Some(key_at),
                None => first_anchor(child, &key_at),
            }
        }),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(index, item)| first_anchor(item, &format!("{at}/{index}")))
        }
        _ => None,
    }
}

/// `validateForEach` of the Mutate factory. As upstream, the first item holding a nested foreach ends the
/// look at its list (the items after it are not checked).
fn mutate_foreach_refusal(items: &[Value], at: &str) -> Option<Refusal> {
    for (index, item) in items.iter().enumerate() {
        let item_at = format!("{at}/{index}");
        let set = |key: &str| item.get(key).is_some_and(|value| !value.is_null());
        let json = item.get("patchesJson6902").and_then(Value::as_str).is_some_and(|text| !text.is_empty());
        if let Some(nested) = item.get("foreach").and_then(Value::as_array).filter(|nested| !nested.is_empty()) {
            if set("context") || set("preconditions") || json || set("patchStrategicMerge") {
                return Some(refusal(item_at, "a nested foreach cannot contain other declarations".to_string()));
            }
            return mutate_foreach_refusal(nested, &format!("{item_at}/foreach"));
        }
        if json == set("patchStrategicMerge") {
            return Some(refusal(
                item_at,
                "only one of `patchStrategicMerge` or `patchesJson6902` is allowed".to_string(),
            ));
        }
    }
    None
}

/// `ValidatePattern`: the anchors of a validation pattern (no add-if-not-present), an existence anchor over
/// a non-empty list.
fn pattern_refusal(pattern: &Value, at: &str) -> Option<Refusal> {
    match pattern {
        Value::Object(map) => map.iter().find_map(|(key, value)| {
            let key_at = format!("{at}/{}", super::go_text::pointer_segment(key));
            match super::pattern::parse_anchor(key).map(|(kind, _)| kind) {
                Some(super::pattern::AnchorKind::AddIfNotPresent) => {
                    return Some(refusal(key_at, format!("unsupported anchor {key} in a validation pattern")));
                }
                Some(super::pattern::AnchorKind::Existence) => match value.as_array() {
                    None => {
                        return Some(refusal(key_at, "existence anchor should have value of type list".to_string()));
                    }
                    Some(items) if items.is_empty() => {
                        return Some(refusal(key_at, "existence anchor: should have at least one value".to_string()));
                    }
                    Some(_) => {}
                },
                _ => {}
            }
            pattern_refusal(value, &key_at)
        }),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(index, item)| pattern_refusal(item, &format!("{at}/{index}")))
        }
        _ => None,
    }
}

/// The checks of `validate.cel`: expressions, parameters and audit annotations complete.
fn cel_refusal(cel: &Value, at: &str) -> Option<Refusal> {
    let text = |value: Option<&Value>| value.and_then(Value::as_str).unwrap_or("").to_string();
    let reject = |pointer: String, message: &str| Some(refusal(pointer, message.to_string()));
    let expressions = cel.get("expressions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, expression) in expressions.iter().enumerate() {
        if text(expression.get("expression")).is_empty() {
            return reject(format!("{at}/expressions/{index}"), "cel.expressions.expression is required");
        }
    }
    let param_kind = cel.get("paramKind").filter(|value| !value.is_null());
    let param_ref = cel.get("paramRef").filter(|value| !value.is_null());
    if let Some(kind) = param_kind {
        if text(kind.get("apiVersion")).is_empty() {
            return reject(format!("{at}/paramKind"), "cel.paramKind.apiVersion is required");
        }
        if text(kind.get("kind")).is_empty() {
            return reject(format!("{at}/paramKind"), "cel.paramKind.kind is required");
        }
        if param_ref.is_none() {
            return reject(format!("{at}/paramKind"), "cel.paramRef is required");
        }
    }
    if let Some(reference) = param_ref {
        let named = !text(reference.get("name")).is_empty();
        let selected = reference.get("selector").is_some_and(|value| !value.is_null());
        if named == selected {
            return reject(format!("{at}/paramRef"), "one of cel.paramRef.name or cel.paramRef.selector must be set");
        }
        if reference.get("parameterNotFoundAction").is_none_or(Value::is_null) {
            return reject(format!("{at}/paramRef"), "cel.paramRef.parameterNotFoundAction is required");
        }
        if param_kind.is_none() {
            return reject(format!("{at}/paramRef"), "cel.paramKind is required");
        }
    }
    let annotations = cel.get("auditAnnotations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, annotation) in annotations.iter().enumerate() {
        if text(annotation.get("key")).is_empty() {
            return reject(format!("{at}/auditAnnotations/{index}"), "cel.auditAnnotation.key is required");
        }
        if text(annotation.get("valueExpression")).is_empty() {
            return reject(format!("{at}/auditAnnotations/{index}"), "cel.auditAnnotation.valueExpression is required");
        }
    }
    None
}

/// Whether a resource description selects by anything (Go's comparison with the empty description: an empty
/// list counts, an empty string does not).
fn describes(resources: &Value) -> bool {
    RESOURCE_FIELDS.iter().any(|key| match resources.get(*key) {
        None | Some(Value::Null) => false,
        Some(Value::String(text)) => !text.is_empty(),
        Some(_) => true,
    })
}

/// `UserInfo.Validate`: subjects of a known kind with a name (and a namespace for a service account), roles
/// as `namespace:name`.
fn user_refusals(filter: &Value, at: &str, out: &mut Vec<Refusal>) {
    let subjects = filter.get("subjects").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, subject) in subjects.iter().enumerate() {
        let subject_at = format!("{at}/subjects/{index}");
        let field = |key: &str| subject.get(key).and_then(Value::as_str).unwrap_or("");
        match field("kind") {
            "" => out.push(refusal(subject_at.clone(), "a subject needs a kind".to_string())),
            "User" | "Group" | "ServiceAccount" => {}
            other => out.push(refusal(
                format!("{subject_at}/kind"),
                format!("kind must be 'User', 'Group', or 'ServiceAccount', not '{other}'"),
            )),
        }
        if field("name").is_empty() {
            out.push(refusal(subject_at.clone(), "a subject needs a name".to_string()));
        }
        if field("kind") == "ServiceAccount" && field("namespace").is_empty() {
            out.push(refusal(subject_at, "namespace is required when Kind is ServiceAccount".to_string()));
        }
    }
    let roles = filter.get("roles").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, role) in roles.iter().enumerate() {
        let role = role.as_str().unwrap_or("");
        if role.split(':').count() != 2 {
            out.push(refusal(
                format!("{at}/roles/{index}"),
                format!("Role is expected to be in namespace:name format, not `{role}`"),
            ));
        }
    }
}

/// `ResourceDescription.Validate`.
fn resource_refusals(resources: &Value, at: &str, namespaced: bool, out: &mut Vec<Refusal>) {
    let name = resources.get("name").and_then(Value::as_str).unwrap_or("");
    let names = resources.get("names").and_then(Value::as_array).is_some_and(|names| !names.is_empty());
    if !name.is_empty() && names {
        out.push(refusal(format!("{at}/names"), "Both name and names can not be specified together".to_string()));
    }
    if let Some(selector) = resources.get("selector").filter(|selector| !selector.is_null())
        && let Some(problem) = selector_problem(selector)
    {
        out.push(refusal(format!("{at}/selector"), problem));
    }
    if namespaced && resources.get("namespaces").and_then(Value::as_array).is_some_and(|items| !items.is_empty()) {
        out.push(refusal(
            format!("{at}/namespaces"),
            "Filtering namespaces not allowed in namespaced policies".to_string(),
        ));
    }
}

/// Why a label selector selects nothing Kubernetes can read (`LabelSelectorAsSelector`, and no requirement
/// at all); none for a selector with a wildcard, which Kyverno matches by itself.
fn selector_problem(selector: &Value) -> Option<String> {
    let labels = selector.get("matchLabels").and_then(Value::as_object);
    let expressions = selector.get("matchExpressions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let wildcard = |text: &str| text.contains('*') || text.contains('?');
    let has_wildcard = labels
        .is_some_and(|labels| labels.iter().any(|(key, value)| wildcard(key) || value.as_str().is_some_and(wildcard)))
        || expressions.iter().any(|expression| {
            expression.get("key").and_then(Value::as_str).is_some_and(wildcard)
                || expression
                    .get("values")
                    .and_then(Value::as_array)
                    .is_some_and(|values| values.iter().filter_map(Value::as_str).any(wildcard))
        });
    if has_wildcard {
        return None;
    }
    for expression in expressions {
        let operator = expression.get("operator").and_then(Value::as_str).unwrap_or("");
        let values = expression.get("values").and_then(Value::as_array).map_or(0, Vec::len);
        match operator {
            "In" | "NotIn" if values == 0 => {
                return Some(format!("a selector requirement with operator {operator} needs values"));
            }
            "Exists" | "DoesNotExist" if values > 0 => {
                return Some(format!("a selector requirement with operator {operator} takes no values"));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => return Some(format!("\"{other}\" is not a valid label selector operator")),
        }
    }
    if labels.is_none_or(|labels| labels.is_empty()) && expressions.is_empty() {
        return Some("The requirements are not specified in selector".to_string());
    }
    None
}

/// The fields of a condition.
const CONDITION_KEYS: &[&str] = &["key", "operator", "value", "message"];

/// The values `{{ request.operation }}` may be compared with.
const OPERATIONS: &[&str] = &["CREATE", "UPDATE", "DELETE", "CONNECT"];

/// `validateResources`' part on conditions: a rule's preconditions and deny conditions have a key, a value
/// and an operator each, Kyverno's operators, and only admission operations beside `{{ request.operation }}`;
/// in a `foreach`, the operators.
fn condition_refusals(rule: &Value, base: &str, out: &mut Vec<Refusal>) {
    for (pointer, values_too) in [("/preconditions", true), ("/validate/deny/conditions", true)] {
        if let Some(block) = rule.pointer(pointer) {
            conditions_refusals(block, &format!("{base}{pointer}"), values_too, false, out);
        }
    }
    for (list, pointer) in [("/validate/foreach", "validate"), ("/mutate/foreach", "mutate")] {
        if let Some(items) = rule.pointer(list).and_then(Value::as_array) {
            foreach_refusals(items, &format!("{base}/{pointer}/foreach"), out);
        }
    }
}

/// The operators of the conditions of each `foreach` (nested ones too): its preconditions (typed in the CRD,
/// whose schema reports an unknown operator already) and its deny conditions.
fn foreach_refusals(items: &[Value], pointer: &str, out: &mut Vec<Refusal>) {
    for (index, item) in items.iter().enumerate() {
        let at = format!("{pointer}/{index}");
        if let Some(block) = item.get("preconditions") {
            conditions_refusals(block, &format!("{at}/preconditions"), false, true, out);
        }
        if let Some(block) = item.pointer("/deny/conditions") {
            conditions_refusals(block, &format!("{at}/deny/conditions"), false, false, out);
        }
        if let Some(nested) = item.get("foreach").and_then(Value::as_array) {
            foreach_refusals(nested, &format!("{at}/foreach"), out);
        }
    }
}

/// One block of conditions: `any` and `all` lists, or a list of conditions (the older form).
fn conditions_refusals(block: &Value, pointer: &str, values_too: bool, typed: bool, out: &mut Vec<Refusal>) {
    let mut conditions: Vec<(String, &Value)> = Vec::new();
    match block {
        Value::Array(items) => {
            conditions.extend(items.iter().enumerate().map(|(index, item)| (format!("{pointer}/{index}"), item)));
        }
        Value::Object(map) => {
            for group in ["any", "all"] {
                let items = map.get(group).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                conditions
                    .extend(items.iter().enumerate().map(|(index, item)| (format!("{pointer}/{group}/{index}"), item)));
            }
        }
        _ => {}
    }
    let present = |condition: &Value, key: &str| condition.get(key).is_some_and(|value| !value.is_null());
    if values_too {
        for (at, condition) in &conditions {
            let operator = condition.get("operator").and_then(Value::as_str).unwrap_or("");
            if !present(condition, "key") || !present(condition, "value") || operator.is_empty() {
                // A misspelt key is the usual cause: name it.
                let unknown: Vec<String> = condition
                    .as_object()
                    .map(|map| {
                        let unknown = map.keys().filter(|key| !CONDITION_KEYS.contains(&key.as_str()));
                        unknown.map(|key| format!("`{key}`")).collect()
                    })
                    .unwrap_or_default();
                let hint = match unknown.is_empty() {
                    true => String::new(),
                    false => format!(" (a condition has no {})", unknown.join(", ")),
                };
                let message = format!("entered value of `key`, `value` or `operator` is missing or misspelled{hint}");
                out.push(refusal(at.clone(), message));
                continue;
            }
            let is_operation = condition
                .get("key")
                .and_then(Value::as_str)
                .is_some_and(|key| key.replace(' ', "") == "{{request.operation}}");
            if is_operation && let Some(found) = operation_value_refusal(&condition["value"], &format!("{at}/value")) {
                out.push(found);
            }
        }
    }
    for (at, condition) in &conditions {
        let operator = condition.get("operator").and_then(Value::as_str).unwrap_or("");
        if values_too && operator.is_empty() {
            // Said as missing already.
            continue;
        }
        if !OPERATORS.contains(&operator) {
            out.push(Refusal {
                pointer: format!("{at}/operator"),
                message: format!(
                    "entered value of `operator` is invalid: `{operator}` is none of {}",
                    OPERATORS.join(", ")
                ),
                already_linted: typed,
            });
        }
    }
}

/// `validateConditionValuesKeyRequestOperation`: a value compared with `{{ request.operation }}` is an
/// admission operation, a list of them, or a single `{{ }}` variable.
fn operation_value_refusal(value: &Value, at: &str) -> Option<Refusal> {
    let unknown = |text: &str, at: String| {
        refusal(
            at,
            format!(
                "unknown value '{text}' found under the 'value' field. Only the following values are allowed: [CREATE, UPDATE, DELETE, CONNECT]"
            ),
        )
    };
    match value {
        Value::String(text) => {
            let templated = text.len() >= 4 && text.starts_with("{{") && text.ends_with("}}");
            (!templated && !OPERATIONS.contains(&text.as_str())).then(|| unknown(text, at.to_string()))
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| match item {
            Value::String(text) if OPERATIONS.contains(&text.as_str()) => None,
            Value::String(text) => Some(unknown(text, format!("{at}/{index}"))),
            _ => Some(refusal(
                format!("{at}/{index}"),
                format!("'value[{index}]' is not a string: the values are expected to be strings"),
            )),
        }),
        _ => Some(refusal(
            at.to_string(),
            "the 'value' field is expected to be a string or a list of strings".to_string(),
        )),
    }
}

/// `ValidateElementInForEach`: `element…` variables only inside a `foreach` (anywhere below a `foreach` key
/// of the rule).
fn element_refusals(rule: &Value, base: &str, out: &mut Vec<Refusal>) {
    fn check(text: &str, path: &str, base: &str, out: &mut Vec<Refusal>) {
        for range in variable_ranges(text) {
            let inner = text[range].trim_start_matches("{{").trim_end_matches("}}").trim();
            let variable = inner.strip_prefix('-').map_or(inner, str::trim);
            if variable.starts_with("element") && !path.contains("/foreach/") {
                out.push(refusal(
                    format!("{base}{path}"),
                    format!("variable '{variable}' present outside of foreach at path {path}"),
                ));
                return;
            }
        }
    }
    visit_strings(rule, &mut String::new(), &|_| false, &mut |text, path| check(text, path, base, out));
}

/// `validateRuleContext`: each context entry of the rule is named (not after one of Kyverno's variables) and
/// has exactly one type, complete; a rule validating with CEL has none.
fn context_refusals(rule: &Value, base: &str, out: &mut Vec<Refusal>) {
    let entries = rule.get("context").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if entries.is_empty() {
        return;
    }
    if rule.pointer("/validate/cel").is_some_and(|cel| !cel.is_null()) {
        out.push(refusal(
            format!("{base}/context"),
            "context variables are not supported for CEL expressions in validate rules".to_string(),
        ));
        return;
    }
    for (position, entry) in entries.iter().enumerate() {
        let at = format!("{base}/context/{position}");
        let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            // The schema requires the key: only an empty name is news.
            let already_linted = entry.get("name").is_none();
            out.push(Refusal {
                pointer: at,
                message: "a name is required for context entries".to_string(),
                already_linted,
            });
            continue;
        }
        if let Some(predefined) =
            PREDEFINED.iter().find(|predefined| name == **predefined || name.starts_with(&format!("{predefined}.")))
        {
            out.push(refusal(
                format!("{at}/name"),
                format!("entry name {name} is invalid as it conflicts with a pre-defined variable {predefined}"),
            ));
            continue;
        }
        let types: Vec<&str> =
            ENTRY_TYPES.iter().copied().filter(|key| entry.get(*key).is_some_and(|value| !value.is_null())).collect();
        let [kind] = types.as_slice() else {
            out.push(refusal(
                at,
                "exactly one of configMap or apiCall or imageRegistry or variable is required for context entries"
                    .to_string(),
            ));
            continue;
        };
        let body = &entry[*kind];
        let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or("");
        // The schema requires each of these keys: only an empty value is news.
        let missing = |key: &str, field: &str, what: &str| {
            let message = format!("a {key} is required for {what} context entry");
            Some(Refusal { pointer: format!("{at}/{kind}"), message, already_linted: body.get(field).is_none() })
        };
        let found = match *kind {
            "configMap" if text("name").is_empty() => missing("name", "name", "configMap"),
            "configMap" if text("namespace").is_empty() => {
                Some(refusal(format!("{at}/{kind}"), "a namespace is required for configMap context entry".to_string()))
            }
            "apiCall"
                if !text("urlPath").is_empty() && body.get("service").is_some_and(|service| !service.is_null()) =>
            {
                Some(refusal(
                    format!("{at}/apiCall/urlPath"),
                    "a URLPath cannot be used for service API calls".to_string(),
                ))
            }
            "globalReference" if text("name").is_empty() => missing("name", "name", "globalReference"),
            "imageRegistry" if text("reference").is_empty() => missing("ref", "reference", "imageRegistry"),
            "variable" => variable_refusal(body, &at),
            _ => None,
        };
        if let Some(found) = found {
            out.push(found);
            continue;
        }
        // The JMESPath of the entry parses, unless it holds a variable (its value is not known before).
        let jmes_path = text("jmesPath");
        if !jmes_path.is_empty()
            && variable_ranges(jmes_path).is_empty()
            && let Err((_, reason)) = check_expression(jmes_path)
        {
            out.push(Refusal {
                pointer: format!("{at}/{kind}/jmesPath"),
                message: format!("failed to parse JMESPath {jmes_path}: {reason}"),
                already_linted: true,
            });
        }
    }
}

/// `validateVariable`: a variable entry has a value or a JMESPath, and a default only beside a JMESPath.
fn variable_refusal(variable: &Value, at: &str) -> Option<Refusal> {
    let jmes_path = variable.get("jmesPath").and_then(Value::as_str).unwrap_or("");
    let has_value = variable.get("value").is_some_and(|value| !value.is_null());
    if !has_value && jmes_path.is_empty() {
        return Some(refusal(
            format!("{at}/variable"),
            "a variable must define a value or a jmesPath expression".to_string(),
        ));
    }
    if variable.get("default").is_some_and(|value| !value.is_null()) && jmes_path.is_empty() {
        return Some(refusal(
            format!("{at}/variable/default"),
            "a variable must define a default value only when a jmesPath expression is defined".to_string(),
        ));
    }
    None
}

/// `ValidateMutationRuleTargetNamespace`: a namespaced Policy's mutate targets name no namespace but its own
/// (compared as written: a variable is not its namespace either).
fn target_namespace_refusals(rule: &Value, base: &str, namespace: &str, out: &mut Vec<Refusal>) {
    let targets = rule.pointer("/mutate/targets").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (index, target) in targets.iter().enumerate() {
        let target_namespace = target.get("namespace").and_then(Value::as_str).unwrap_or("");
        if !target_namespace.is_empty() && target_namespace != namespace {
            out.push(refusal(
                format!("{base}/mutate/targets/{index}/namespace"),
                format!(
                    "a Policy's mutate targets may only be in its own namespace `{namespace}` (or leave the field out)"
                ),
            ));
        }
    }
}

/// `validateWildcard`, run on each kinds list of match and exclude in upstream's order: a rule matching any
/// kind (`*`) lists no other kind, runs without background scans, does not generate, verify images or
/// validate with a foreach, and looks at nothing but the resource's metadata.
fn wildcard_kind_refusal(rule: &Value, base: &str, background: bool) -> Option<Refusal> {
    let mut lists: Vec<(String, &Vec<Value>)> = Vec::new();
    for block in ["match", "exclude"] {
        for group in ["any", "all"] {
            let entries = rule
                .pointer(&format!("/{block}/{group}"))
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (index, entry) in entries.iter().enumerate() {
                if let Some(kinds) = entry.pointer("/resources/kinds").and_then(Value::as_array) {
                    lists.push((format!("{base}/{block}/{group}/{index}/resources/kinds"), kinds));
                }
            }
        }
        if let Some(kinds) = rule.pointer(&format!("/{block}/resources/kinds")).and_then(Value::as_array) {
            lists.push((format!("{base}/{block}/resources/kinds"), kinds));
        }
    }
    let (pointer, kinds) = lists.into_iter().find(|(_, kinds)| kinds.iter().any(|kind| kind.as_str() == Some("*")))?;
    let reject = |message: &str| Some(refusal(pointer.clone(), message.to_string()));
    if background {
        return reject(
            "wildcard policy not allowed in background mode. Set spec.background=false to disable background mode for this policy rule",
        );
    }
    if kinds.len() > 1 {
        return reject("wildcard policy can not deal with more than one kind");
    }
    let foreach_validation = rule.pointer("/validate/foreach").is_some_and(|value| !value.is_null());
    if holds(rule, "generate") || holds(rule, "verifyImages") || foreach_validation {
        return reject("wildcard policy does not support rule type");
    }
    const METADATA_ONLY: &str =
        "policy can only deal with the metadata field of the resource if the rule does not match any kind";
    if holds(rule, "validate") {
        let validate = &rule["validate"];
        let has_patterns =
            ["pattern", "anyPattern"].iter().any(|key| validate.get(key).is_some_and(|value| !value.is_null()));
        if has_patterns && !only_metadata(rule) {
            return reject(METADATA_ONLY);
        }
        // Only the older form of deny conditions (a plain list) is looked at, as upstream looks.
        if let Some(conditions) = validate.pointer("/deny/conditions").and_then(Value::as_array) {
            let allowed = |key: &str| {
                key.contains("request.object.metadata.")
                    || (WILDCARD_ALLOWED_VARIABLE.is_match(key) && !key.contains("request.object.spec"))
            };
            let refused = conditions.iter().any(|condition| {
                let key = condition.get("key").and_then(Value::as_str).unwrap_or("");
                !allowed(key)
            });
            if refused {
                return reject(METADATA_ONLY);
            }
        }
    }
    if holds(rule, "mutate") && !only_metadata(rule) {
        return reject(METADATA_ONLY);
    }
    None
}

/// `wildCardAllowedVariables`: a variable of the request or of the service account.
static WILDCARD_ALLOWED_VARIABLE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\{\{\s*(request\.|serviceAccountName|serviceAccountNamespace)[^{}]*\}\}")
        .expect("a valid pattern")
});

/// `ruleOnlyDealsWithResourceMetaData`: strategic merge patches, JSON patch paths, patterns and any-patterns
/// that touch only `metadata`.
fn only_metadata(rule: &Value) -> bool {
    let metadata_keys = |value: Option<&Value>| {
        value.and_then(Value::as_object).is_none_or(|map| map.keys().all(|key| key == "metadata"))
    };
    if !metadata_keys(rule.pointer("/mutate/patchStrategicMerge")) || !metadata_keys(rule.pointer("/validate/pattern"))
    {
        return false;
    }
    // `jsonpatch.DecodePatch` on the text as written: a patch written in YAML decodes to no operation.
    if let Some(patch) =
        rule.pointer("/mutate/patchesJson6902").and_then(Value::as_str).filter(|patch| !patch.is_empty())
    {
        let operations = serde_json::from_str::<Value>(patch).ok();
        let paths_outside = operations.as_ref().and_then(Value::as_array).is_some_and(|operations| {
            operations
                .iter()
                .any(|operation| !operation.get("path").and_then(Value::as_str).unwrap_or("").starts_with("/metadata"))
        });
        if paths_outside {
            return false;
        }
    }
    match rule.pointer("/validate/anyPattern") {
        None | Some(Value::Null) => true,
        Some(Value::Array(patterns)) => patterns.iter().all(|pattern| metadata_keys(Some(pattern))),
        // Not a list: upstream fails to read it and answers no.
        Some(_) => false,
    }
}

/// `GeneratePattern.Validate` and `ValidateCloneList` for the rule's generate block (each foreach item when
/// it has them), as `kyverno test` and `kyverno apply` run them: offline, with no cluster to say which kinds
/// are cluster-scoped, every target is taken as namespaced. So a target needs a kind, a name, an apiVersion
/// and a namespace; a clone list needs its namespace; and a namespaced Policy generates and clones only in
/// its own namespace (when its file names it).
fn generate_target_refusals(rule: &Value, base: &str, scope: Scope, out: &mut Vec<Refusal>) {
    let Some(generate) = rule.get("generate").filter(|generate| holds(rule, "generate") && generate.is_object()) else {
        return;
    };
    let at = format!("{base}/generate");
    match generate.get("foreach").and_then(Value::as_array) {
        Some(items) => {
            for (index, item) in items.iter().enumerate() {
                generate_pattern_refusals(item, &format!("{at}/foreach/{index}"), scope, out);
            }
        }
        None => generate_pattern_refusals(generate, &at, scope, out),
    }
}

fn generate_pattern_refusals(pattern: &Value, at: &str, scope: Scope, out: &mut Vec<Refusal>) {
    let text = |pointer: &str| pattern.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    let (kind, namespace) = (text("/kind"), text("/namespace"));
    if scope.namespaced
        && let Some(policy_namespace) = scope.namespace
    {
        if namespace != policy_namespace {
            out.push(refusal(
                format!("{at}/namespace"),
                format!(
                    "target resource scope mismatched: a namespaced policy cannot generate resources in other namespaces, expected: {policy_namespace}, received: {namespace}"
                ),
            ));
        } else if !text("/clone/name").is_empty() && text("/clone/namespace") != policy_namespace {
            out.push(refusal(
                format!("{at}/clone/namespace"),
                format!(
                    "target resource scope mismatched: a namespaced policy cannot clone resources from other namespaces, expected: {policy_namespace}, received: {}",
                    text("/clone/namespace")
                ),
            ));
        }
    }
    if !kind.is_empty() && namespace.is_empty() {
        let message = if CLUSTER_SCOPED_KINDS.contains(&kind) {
            format!(
                "target namespace must be set for a namespaced resource: kyverno test and kyverno apply, which have no cluster to tell them that {kind} is cluster-scoped, skip this policy (a cluster accepts it)"
            )
        } else {
            "target namespace must be set for a namespaced resource".to_string()
        };
        out.push(refusal(format!("{at}/namespace"), message));
    }
    let clone_kinds =
        pattern.pointer("/cloneList/kinds").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if clone_kinds.is_empty() {
        for (key, name) in [("kind", "kind"), ("name", "name"), ("apiVersion", "apiVersion")] {
            if text(&format!("/{key}")).is_empty() {
                out.push(refusal(format!("{at}/{key}"), format!("{name} can not be empty")));
            }
        }
        return;
    }
    let clone_namespace = text("/cloneList/namespace");
    if scope.namespaced
        && let Some(policy_namespace) = scope.namespace
        && clone_namespace != policy_namespace
    {
        out.push(refusal(
            format!("{at}/cloneList/namespace"),
            format!(
                "a namespaced policy cannot clone resources from other namespace, expected: {policy_namespace}, received: {clone_namespace}"
            ),
        ));
    }
    if clone_namespace.is_empty() {
        out.push(refusal(
            format!("{at}/cloneList/namespace"),
            "namespace is required for namespaced target resources".to_string(),
        ));
    }
}

/// The signature algorithms a static key may name (`signatureAlgorithmMap`; empty means sha256).
const SIGNATURE_ALGORITHMS: &[&str] = &["", "sha224", "sha256", "sha384", "sha512"];

/// `ImageVerification.Validate` for each `verifyImages` entry: an image reference, attestor sets with
/// entries (no more required than listed), each attestor exactly one of keys, certificates, keyless or a
/// nested set, each complete; no keys or keyless for Notary; and no digest mutation under Audit. The
/// deprecated `image`/`key`/`issuer` fields count as Kyverno converts them.
fn verify_images_refusals(rule: &Value, base: &str, spec: &Value, out: &mut Vec<Refusal>) {
    let entries = rule.get("verifyImages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    // One flag for the rule, as upstream keeps it: an entry's failureAction also holds for the entries
    // after it that set none.
    let mut audit = !is_enforce(spec.get("validationFailureAction"));
    for (index, verification) in entries.iter().enumerate() {
        let at = format!("{base}/verifyImages/{index}");
        let text = |key: &str| verification.get(key).and_then(Value::as_str).unwrap_or("");
        if let Some(action) = verification.get("failureAction").filter(|action| !action.is_null()) {
            audit = !is_enforce(Some(action));
        }
        // Only a digest mutation the policy asks for: the CRD's default (true) is applied by a cluster's
        // API server, not by the CLI, which reads the field as written.
        if audit && verification.get("mutateDigest") == Some(&Value::Bool(true)) {
            out.push(refusal(
                format!("{at}/mutateDigest"),
                "mutateDigest must be set to false for ‘Audit’ failure action".to_string(),
            ));
        }
        let references =
            verification.get("imageReferences").and_then(Value::as_array).is_some_and(|items| !items.is_empty());
        if !references && text("image").is_empty() {
            out.push(refusal(at.clone(), "an image reference is required".to_string()));
        }
        let attestations =
            verification.get("attestations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (attestation_index, attestation) in attestations.iter().enumerate() {
            let sets = attestation.get("attestors").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            for (set_index, set) in sets.iter().enumerate() {
                attestor_set_refusals(
                    set,
                    &format!("{at}/attestations/{attestation_index}/attestors/{set_index}"),
                    out,
                );
            }
        }
        let sets = verification.get("attestors").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for (set_index, set) in sets.iter().enumerate() {
            attestor_set_refusals(set, &format!("{at}/attestors/{set_index}"), out);
        }
        // `Convert` turns the deprecated key or issuer into one more attestor set, kept only when the
        // entry has no attestations (they are put back as written).
        // `Convert` leaves an entry alone unless it has the deprecated image, key or issuer; then annotations,
        // a key or an issuer make an attestor.
        let deprecated = ["image", "key", "issuer"].iter().any(|key| !text(key).is_empty());
        let attestor_fields =
            !text("key").is_empty() || !text("issuer").is_empty() || holds(verification, "annotations");
        if deprecated && attestor_fields && attestations.is_empty() {
            let attestor = if !text("key").is_empty() {
                serde_json::json!({"keys": {"publicKeys": text("key")}})
            } else if !text("issuer").is_empty() {
                serde_json::json!({"keyless": {"issuer": text("issuer"), "roots": text("roots")}})
            } else {
                serde_json::json!({})
            };
            let mut converted = Vec::new();
            attestor_set_refusals(&serde_json::json!({"entries": [attestor]}), &at, &mut converted);
            // Reported at the deprecated field the attestor came from.
            let field = if !text("key").is_empty() {
                "key"
            } else if !text("issuer").is_empty() {
                "issuer"
            } else {
                "annotations"
            };
            out.extend(converted.into_iter().map(|found| refusal(format!("{at}/{field}"), found.message)));
        }
        if text("type") == "Notary" {
            for set in sets {
                for attestor in set.get("entries").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
                    for (key, name) in [("keyless", "Keyless"), ("keys", "Keys")] {
                        if attestor.get(key).is_some_and(|value| !value.is_null()) {
                            out.push(refusal(
                                format!("{at}/attestors"),
                                format!("{name} field is not allowed for type notary"),
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// `ValidationFailureAction.Enforce`: only `Enforce` and the older `enforce` enforce; anything else audits.
fn is_enforce(action: Option<&Value>) -> bool {
    matches!(action.and_then(Value::as_str), Some("Enforce" | "enforce"))
}

/// `validateAttestorSet`: entries, no count above their number, and each attestor valid.
fn attestor_set_refusals(set: &Value, at: &str, out: &mut Vec<Refusal>) {
    let entries = set.get("entries").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if let Some(count) = set.get("count").and_then(Value::as_i64)
        && count > entries.len() as i64
    {
        out.push(refusal(at.to_string(), "count cannot exceed the number of entries".to_string()));
    }
    if entries.is_empty() {
        out.push(refusal(at.to_string(), "an entry is required".to_string()));
    }
    for (index, attestor) in entries.iter().enumerate() {
        attestor_refusals(attestor, &format!("{at}/entries/{index}"), out);
    }
}

/// `Attestor.Validate`: exactly one of keys, certificates, keyless and a nested attestor set, each with what
/// it needs.
fn attestor_refusals(attestor: &Value, at: &str, out: &mut Vec<Refusal>) {
    let present = |key: &str| attestor.get(key).filter(|value| !value.is_null());
    let kinds =
        ["keys", "certificates", "keyless", "attestor"].into_iter().filter(|key| present(key).is_some()).count();
    if kinds != 1 {
        out.push(refusal(at.to_string(), "keys, certificates, keyless, or a nested attestor is required".to_string()));
    }
    let text = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(keys) = present("keys") {
        let secret = keys.get("secret").is_some_and(|value| !value.is_null());
        if text(keys, "publicKeys").is_empty() && text(keys, "kms").is_empty() && !secret {
            out.push(refusal(format!("{at}/keys"), "a public key, kms key or secret is required".to_string()));
        }
        if !text(keys, "publicKeys").is_empty()
            && !SIGNATURE_ALGORITHMS.contains(&text(keys, "signatureAlgorithm").as_str())
        {
            out.push(refusal(format!("{at}/keys"), "invalid signature algorithm provided".to_string()));
        }
    }
    if let Some(certificates) = present("certificates")
        && text(certificates, "cert").is_empty()
        && text(certificates, "certChain").is_empty()
    {
        out.push(refusal(format!("{at}/certificates"), "cert or certChain required".to_string()));
    }
    if let Some(keyless) = present("keyless") {
        let rekor = keyless.get("rekor").filter(|value| !value.is_null());
        if rekor.is_none() && text(keyless, "roots").is_empty() {
            out.push(refusal(format!("{at}/keyless"), "either Rekor URL or roots are required".to_string()));
        }
        if rekor.is_some_and(|rekor| text(rekor, "url").is_empty()) {
            out.push(refusal(format!("{at}/keyless"), "an URL is required".to_string()));
        }
    }
    if let Some(nested) = present("attestor") {
        if nested.is_object() {
            attestor_set_refusals(nested, &format!("{at}/attestor"), out);
        } else {
            out.push(refusal(format!("{at}/attestor"), "failed to unmarshal attestor set: not an object".to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(spec: Value, expect: &[&str]) {
        let mut out = Vec::new();
        rule_rejections(&spec, Scope::default(), &mut out);
        let found: Vec<String> =
            out.into_iter().map(|refusal| format!("{} {}", refusal.pointer, refusal.message)).collect();
        assert_eq!(found, expect);
    }

    fn patch(text: &str) -> Value {
        json!({"rules": [{"name": "p", "mutate": {"patchesJson6902": text}}]})
    }

    #[test]
    fn json_patches_are_lists_of_operations_with_absolute_paths_and_values() {
        check(patch("- op: add\n  path: /metadata/labels/team\n  value: {{ request.object.kind }}\n"), &[]);
        check(patch("- op: remove\n  path: /spec/hostNetwork\n"), &[]);
        check(patch(""), &[]);
        check(
            patch("- op: add\n  path: metadata/labels/team\n  value: x\n"),
            &[
                "/spec/rules/0/mutate/patchesJson6902 path must begin with a forward slash: spec.rules[0]: metadata/labels/team",
            ],
        );
        check(
            patch("- op: ad\n  path: /metadata/labels/team\n  value: x\n"),
            &["/spec/rules/0/mutate/patchesJson6902 unexpected kind: spec.rules[0]: ad"],
        );
        check(
            patch("- op: replace\n  path: /spec/replicas\n"),
            &[
                "/spec/rules/0/mutate/patchesJson6902 invalid value: spec.rules[0]: the `replace` operation has no value",
            ],
        );
        check(
            patch("op: add\npath: /x\nvalue: 1\n"),
            &[
                "/spec/rules/0/mutate/patchesJson6902 path must begin with a forward slash: spec.rules[0]: the patch is not a list of operations",
            ],
        );
    }

    #[test]
    fn context_entries_are_named_typed_and_complete() {
        let spec = |entry: Value| json!({"rules": [{"name": "c", "context": [entry], "validate": {"deny": {}}}]});
        check(spec(json!({"name": "count", "variable": {"jmesPath": "length(@)"}})), &[]);
        check(spec(json!({"name": "settings", "configMap": {"name": "s", "namespace": "kyverno"}})), &[]);
        check(
            spec(json!({"name": "request.count", "variable": {"value": 1}})),
            &[
                "/spec/rules/0/context/0/name entry name request.count is invalid as it conflicts with a pre-defined variable request",
            ],
        );
        check(
            spec(json!({"name": "both", "variable": {"value": 1}, "configMap": {"name": "s", "namespace": "n"}})),
            &[
                "/spec/rules/0/context/0 exactly one of configMap or apiCall or imageRegistry or variable is required for context entries",
            ],
        );
        check(
            spec(json!({"name": "settings", "configMap": {"name": "s"}})),
            &["/spec/rules/0/context/0/configMap a namespace is required for configMap context entry"],
        );
        check(
            spec(json!({"name": "v", "variable": {"default": 1}})),
            &["/spec/rules/0/context/0/variable a variable must define a value or a jmesPath expression"],
        );
        check(
            spec(json!({"name": "v", "variable": {"value": 1, "default": 2}})),
            &[
                "/spec/rules/0/context/0/variable/default a variable must define a default value only when a jmesPath expression is defined",
            ],
        );
        check(
            spec(json!({"name": "call", "apiCall": {"urlPath": "/api/v1/pods", "service": {"url": "https://x"}}})),
            &["/spec/rules/0/context/0/apiCall/urlPath a URLPath cannot be used for service API calls"],
        );
        let cel = json!({"rules": [{"name": "c", "context": [{"name": "v", "variable": {"value": 1}}],
            "validate": {"cel": {"expressions": [{"expression": "true"}]}}}]});
        check(
            cel,
            &["/spec/rules/0/context context variables are not supported for CEL expressions in validate rules"],
        );
    }

    #[test]
    fn conditions_have_a_key_a_value_and_an_operator_kyverno_knows() {
        let spec = |conditions: Value| json!({"rules": [{"name": "c", "preconditions": {"all": conditions}, "validate": {"deny": {}}}]});
        check(
            spec(json!([
                {"key": "{{ request.operation }}", "operator": "In", "value": ["CREATE", "UPDATE"]},
                {"key": "{{ request.operation }}", "operator": "Equals", "value": "{{ settings.data.operation }}"},
                {"key": "{{ request.object.spec.replicas }}", "operator": "GreaterThan", "value": 3}
            ])),
            &[],
        );
        check(
            spec(json!([
                {"key": "{{ request.object.metadata.name }}", "operator": "Equals", "values": "x"},
                {"key": "{{request.operation}}", "operator": "AnyIn", "value": ["CREATE", "UPDATES"]},
                {"key": "a", "operator": "equals", "value": "a"}
            ])),
            &[
                "/spec/rules/0/preconditions/all/0 entered value of `key`, `value` or `operator` is missing or misspelled (a condition has no `values`)",
                "/spec/rules/0/preconditions/all/1/value/1 unknown value 'UPDATES' found under the 'value' field. Only the following values are allowed: [CREATE, UPDATE, DELETE, CONNECT]",
                "/spec/rules/0/preconditions/all/2/operator entered value of `operator` is invalid: `equals` is none of Equal, Equals, NotEqual, NotEquals, In, AnyIn, AllIn, NotIn, AnyNotIn, AllNotIn, GreaterThanOrEquals, GreaterThan, LessThanOrEquals, LessThan, DurationGreaterThanOrEquals, DurationGreaterThan, DurationLessThanOrEquals, DurationLessThan",
            ],
        );
        // In a foreach only the operators are checked.
        let foreach = json!({"rules": [{"name": "f", "validate": {"foreach": [{"list": "x",
            "deny": {"conditions": [{"key": "a", "operator": "Exists"}]}}]}}]});
        let mut out = Vec::new();
        rule_rejections(&foreach, Scope::default(), &mut out);
        let pointers: Vec<&str> = out.iter().map(|refusal| refusal.pointer.as_str()).collect();
        assert_eq!(pointers, ["/spec/rules/0/validate/foreach/0/deny/conditions/0/operator"]);
    }

    #[test]
    fn match_entries_describe_resources_by_kind_and_users_in_form() {
        let spec = |rule: Value| json!({"rules": [rule]});
        let rule = |filter: Value| json!({"name": "m", "match": filter, "validate": {"deny": {}}});
        check(
            spec(rule(
                json!({"any": [{"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"app": "web"}}}}]}),
            )),
            &[],
        );
        check(spec(rule(json!({"resources": {"kinds": ["Pod"]}}))), &[]);
        check(
            spec(rule(
                json!({"any": [{"resources": {"namespaces": ["prod"]}}, {"subjects": [{"kind": "ServiceAccount", "name": "ci"}]}]}),
            )),
            &[
                "/spec/rules/0/match/any/0/resources at least one element must be specified in a kind block, the kind attribute is mandatory when working with the resources element",
                "/spec/rules/0/match/any/1/subjects/0 namespace is required when Kind is ServiceAccount",
                "/spec/rules/0/match/any/1 match resources not specified",
            ],
        );
        check(
            spec(rule(json!({"any": [{"resources": {"kinds": ["Pod"], "name": "a", "names": ["b"], "selector": {}}}],
                             "all": [{"resources": {"kinds": ["Pod"]}, "roles": ["admin"]}]}))),
            &[
                "/spec/rules/0/match/all can't specify any and all together in match",
                "/spec/rules/0/match/any/0/resources/names Both name and names can not be specified together",
                "/spec/rules/0/match/any/0/resources/selector The requirements are not specified in selector",
                "/spec/rules/0/match/all/0/roles/0 Role is expected to be in namespace:name format, not `admin`",
            ],
        );
        // An exclude block needs no kinds; a selector with a wildcard is Kyverno's own to match.
        let mut excluded = rule(json!({"any": [{"resources": {"kinds": ["Pod"]}}]}));
        excluded["exclude"] = json!({"any": [{"resources": {"selector": {"matchLabels": {"tier": "*"}}}}]});
        check(spec(excluded), &[]);
    }

    #[test]
    fn an_exclude_entry_equal_to_a_match_entry_and_pod_security_exclusions_are_refused() {
        let entry = json!({"resources": {"kinds": ["Pod"]}});
        check(
            json!({"rules": [{"name": "e", "match": {"any": [entry.clone()]}, "exclude": {"any": [entry]}, "validate": {"deny": {}}}]}),
            &["/spec/rules/0/exclude/any/0 Rule is matching an empty set: this exclude entry is a match entry"],
        );
        let pod_security = json!({"rules": [{"name": "p", "validate": {"podSecurity": {"level": "baseline", "version": "latest", "exclude": [
            {"controlName": "Host Ports"},
            {"controlName": "Running as Non-root"},
            {"controlName": "Capabilities", "images": ["nginx"]},
            {"controlName": "HostPath Volumes", "restrictedField": "spec.volumes[*].hostPath", "values": ["/var"]}
        ]}}}]});
        check(
            pod_security,
            &[
                "/spec/rules/0/validate/podSecurity/exclude/0/controlName exclude.images must be specified for the container level control",
                "/spec/rules/0/validate/podSecurity/exclude/1/controlName Invalid control name defined at the given level: `Running as Non-root` is a control of the restricted level only",
            ],
        );
    }

    #[test]
    fn a_namespaced_policys_mutate_targets_stay_in_its_namespace() {
        let spec = json!({"rules": [{"name": "t", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
            "mutate": {"targets": [
                {"apiVersion": "v1", "kind": "Secret", "namespace": "team-a"},
                {"apiVersion": "v1", "kind": "Secret", "namespace": "team-b"},
                {"apiVersion": "v1", "kind": "Secret", "namespace": "{{ request.namespace }}"},
                {"apiVersion": "v1", "kind": "Secret"}
            ], "patchStrategicMerge": {"metadata": {"labels": {"a": "b"}}}}}]});
        let mut out = Vec::new();
        rule_rejections(&spec, Scope { namespaced: true, namespace: Some("team-a") }, &mut out);
        let found: Vec<String> = out.iter().map(|refusal| refusal.pointer.clone()).collect();
        assert_eq!(found, ["/spec/rules/0/mutate/targets/1/namespace", "/spec/rules/0/mutate/targets/2/namespace"]);
        // Without a namespace in the file (`kubectl apply -n`), or for a ClusterPolicy, nothing is known.
        let mut out = Vec::new();
        rule_rejections(&spec, Scope { namespaced: true, namespace: None }, &mut out);
        rule_rejections(&spec, Scope { namespaced: false, namespace: Some("team-a") }, &mut out);
        assert!(out.is_empty(), "{:?}", out.iter().map(|refusal| &refusal.message).collect::<Vec<_>>());
    }

    #[test]
    fn a_rule_matching_any_kind_looks_at_metadata_only_without_background_scans() {
        let rule = |background: bool, body: Value| {
            let mut rule = json!({"name": "w", "match": {"any": [{"resources": {"kinds": ["*"]}}]}});
            rule.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
            json!({"background": background, "rules": [rule]})
        };
        let at = "/spec/rules/0/match/any/0/resources/kinds";
        let labels = json!({"validate": {"message": "m", "pattern": {"metadata": {"labels": {"team": "?*"}}}}});
        check(rule(false, labels.clone()), &[]);
        check(
            rule(true, labels),
            &[&format!(
                "{at} wildcard policy not allowed in background mode. Set spec.background=false to disable background mode for this policy rule"
            )],
        );
        let metadata_only = format!(
            "{at} policy can only deal with the metadata field of the resource if the rule does not match any kind"
        );
        check(rule(false, json!({"validate": {"message": "m", "pattern": {"spec": {"x": 1}}}})), &[&metadata_only]);
        check(
            rule(false, json!({"validate": {"message": "m", "anyPattern": [{"metadata": {}}, {"spec": {}}]}})),
            &[&metadata_only],
        );
        check(
            rule(false, json!({"mutate": {"patchesJson6902": r#"[{"op": "add", "path": "/spec/x", "value": 1}]"#}})),
            &[&metadata_only],
        );
        // Upstream decodes the patch as JSON only: one written in YAML has no operation to look at.
        check(rule(false, json!({"mutate": {"patchesJson6902": "- op: add\n  path: /spec/x\n  value: 1\n"}})), &[]);
        check(
            rule(
                false,
                json!({"mutate": {"patchesJson6902": "- op: add\n  path: /metadata/labels/x\n  value: \"1\"\n"}}),
            ),
            &[],
        );
        check(
            rule(
                false,
                json!({"validate": {"message": "m", "deny": {"conditions": [
                {"key": "{{ request.object.spec.replicas }}", "operator": "Equals", "value": 1}]}}}),
            ),
            &[&metadata_only],
        );
        check(
            rule(
                false,
                json!({"validate": {"message": "m", "deny": {"conditions": [
                {"key": "{{ request.operation }}", "operator": "Equals", "value": "DELETE"}]}}}),
            ),
            &[],
        );
        check(
            rule(
                false,
                json!({"validate": {"message": "m", "foreach": [{"list": "request.object.metadata.labels", "deny": {}}]}}),
            ),
            &[&format!("{at} wildcard policy does not support rule type")],
        );
    }

    #[test]
    fn a_top_level_exclude_that_takes_in_the_whole_match_is_refused() {
        let rule = |matched: Value, exclude: Value| json!({"rules": [{"name": "e", "match": matched, "exclude": exclude, "validate": {"deny": {}}}]});
        let whole = &[
            "/spec/rules/0/exclude Rule is matching an empty set: the exclude block takes in everything the match block does",
        ];
        let pods = json!({"resources": {"kinds": ["Pod"], "namespaces": ["prod"]}});
        // Excluding every Pod, or every Pod of the namespaces matched, leaves nothing.
        check(rule(pods.clone(), json!({"resources": {"kinds": ["Pod"]}})), whole);
        check(
            rule(pods.clone(), json!({"resources": {"kinds": ["Pod", "Service"], "namespaces": ["prod", "dev"]}})),
            whole,
        );
        // Excluding some of it leaves the rest.
        check(rule(pods.clone(), json!({"resources": {"kinds": ["Pod"], "namespaces": ["dev"]}})), &[]);
        check(
            rule(pods.clone(), json!({"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"app": "x"}}}})),
            &[],
        );
        check(rule(pods.clone(), json!({"clusterRoles": ["admin"]})), &[]);
        check(rule(pods.clone(), json!({})), &[]);
        check(rule(pods.clone(), json!({"all": [{"resources": {"kinds": ["Pod"]}}]})), &[]);
        // Names: a match name an exclude name takes in is the conflict, decided before kinds.
        let named = json!({"resources": {"kinds": ["Pod"], "names": ["web-1", "db"]}});
        check(
            rule(named.clone(), json!({"resources": {"names": ["web-*"]}})),
            &["/spec/rules/0/exclude/resources/names Rule is matching an empty set: every name it matches is excluded"],
        );
        check(rule(named, json!({"resources": {"kinds": ["Pod"], "names": ["api-*"]}})), &[]);
        // Selectors compare when both have one; annotations must be equal.
        let labelled = json!({"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"app": "x"}}}});
        check(
            rule(labelled.clone(), json!({"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"app": "x"}}}})),
            whole,
        );
        check(rule(labelled, json!({"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"app": "y"}}}})), &[]);
        // Upstream compares Go values: an exclude of `any` entries beside a top-level match has no
        // top-level field, and an empty list is not an absent one, so both take in the whole match.
        check(rule(pods.clone(), json!({"any": [{"resources": {"namespaces": ["kube-system"]}}]})), whole);
        check(rule(pods, json!({"any": []})), whole);
    }

    #[test]
    fn a_validate_rule_validates_one_way_with_patterns_it_understands() {
        let spec = |validate: Value| json!({"rules": [{"name": "v", "validate": validate}]});
        check(spec(json!({"message": "m", "pattern": {"metadata": {"=(labels)": {"^(team)": ["a"]}}}})), &[]);
        check(
            spec(json!({"message": "m"})),
            &["/spec/rules/0/validate one of pattern, anyPattern, deny, foreach, cel must be specified"],
        );
        check(
            spec(json!({"pattern": {"spec": {"+(hostNetwork)": false}}, "deny": {}})),
            &[
                "/spec/rules/0/validate only one of pattern, anyPattern, deny, foreach, cel can be specified",
                "/spec/rules/0/validate/pattern/spec/+(hostNetwork) unsupported anchor +(hostNetwork) in a validation pattern",
            ],
        );
        check(
            spec(json!({"anyPattern": [{"spec": {"^(containers)": []}}]})),
            &[
                "/spec/rules/0/validate/anyPattern/0/spec/^(containers) existence anchor: should have at least one value",
            ],
        );
        check(
            spec(json!({"foreach": [{"list": "request.object.spec.containers"}, {"deny": {}}]})),
            &[
                "/spec/rules/0/validate/foreach/0 one of pattern, anyPattern, deny, or a nested foreach must be specified",
                "/spec/rules/0/validate/foreach/1 foreach.list is required",
            ],
        );
        check(
            spec(
                json!({"cel": {"expressions": [{"expression": "true"}], "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}}}),
            ),
            &["/spec/rules/0/validate/cel/paramKind cel.paramRef is required"],
        );
        let mut preconditions = spec(json!({"deny": {}}));
        preconditions["rules"][0]["celPreconditions"] = json!([{"name": "x", "expression": "true"}]);
        check(preconditions, &["/spec/rules/0/celPreconditions celPrecondition can only be used with validate.cel"]);
    }

    #[test]
    fn a_mutate_rule_patches_one_way() {
        let spec = |mutate: Value| json!({"rules": [{"name": "m", "mutate": mutate}]});
        check(spec(json!({"patchStrategicMerge": {"metadata": {}}})), &[]);
        check(
            spec(json!({"patchStrategicMerge": {"metadata": {}}, "patchesJson6902": "- op: remove\n  path: /x\n"})),
            &["/spec/rules/0/mutate/patchesJson6902 only one of `patchStrategicMerge` or `patchesJson6902` is allowed"],
        );
        check(
            spec(
                json!({"foreach": [{"list": "x", "patchStrategicMerge": {}, "patchesJson6902": "- op: remove\n  path: /x\n"}]}),
            ),
            &["/spec/rules/0/mutate/foreach/0 only one of `patchStrategicMerge` or `patchesJson6902` is allowed"],
        );
        check(
            spec(
                json!({"foreach": [{"list": "x", "context": [], "foreach": [{"list": "y", "patchStrategicMerge": {}}]}]}),
            ),
            &["/spec/rules/0/mutate/foreach/0 a nested foreach cannot contain other declarations"],
        );
        let mut cel = spec(json!({"patchStrategicMerge": {"metadata": {}}}));
        cel["rules"][0]["celPreconditions"] = json!([{"name": "x", "expression": "true"}]);
        check(cel, &["/spec/rules/0/celPreconditions celPrecondition can only be used with validate.cel"]);
    }

    #[test]
    fn a_generate_rule_generates_one_way_without_anchors_nor_its_own_kind() {
        let spec = |generate: Value| json!({"rules": [{"name": "g", "match": {"resources": {"kinds": ["Namespace"]}}, "generate": generate}]});
        check(
            spec(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "n", "data": {"data": {"a": "b"}}}),
            ),
            &[],
        );
        check(
            spec(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "n", "data": {}, "clone": {"namespace": "n", "name": "c"}}),
            ),
            &[
                "/spec/rules/0/generate only one of generate patterns(data, clone, cloneList and foreach) can be specified",
            ],
        );
        check(
            spec(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "n", "data": {"metadata": {"+(labels)": {}}}}),
            ),
            &["/spec/rules/0/generate/data/metadata/+(labels) anchors not supported on generate resources"],
        );
        check(
            spec(json!({"apiVersion": "v1", "kind": "Namespace", "name": "c", "data": {}})),
            &[
                "/spec/rules/0/generate/kind generation kind and match resource kind should not be the same",
                "/spec/rules/0/generate/namespace target namespace must be set for a namespaced resource: kyverno test and kyverno apply, which have no cluster to tell them that Namespace is cluster-scoped, skip this policy (a cluster accepts it)",
            ],
        );
    }

    #[test]
    fn generate_targets_are_complete_and_namespaced_as_the_cli_sees_them() {
        let spec = |generate: Value| json!({"rules": [{"name": "g", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]}, "generate": generate}]});
        let at = "/spec/rules/0/generate";
        check(
            spec(
                json!({"apiVersion": "v1", "kind": "Secret", "name": "s", "namespace": "{{ request.object.metadata.name }}", "data": {}}),
            ),
            &[],
        );
        check(
            spec(json!({"kind": "Secret", "data": {}})),
            &[
                &format!("{at}/namespace target namespace must be set for a namespaced resource"),
                &format!("{at}/name name can not be empty"),
                &format!("{at}/apiVersion apiVersion can not be empty"),
            ],
        );
        // Each foreach item is a target of its own.
        check(
            spec(
                json!({"foreach": [{"list": "request.object.metadata.labels", "apiVersion": "v1", "kind": "ConfigMap", "name": "c", "data": {}}]}),
            ),
            &[&format!("{at}/foreach/0/namespace target namespace must be set for a namespaced resource")],
        );
        check(
            spec(
                json!({"namespace": "n", "cloneList": {"kinds": ["v1/Secret"], "selector": {"matchLabels": {"a": "b"}}}}),
            ),
            &[&format!("{at}/cloneList/namespace namespace is required for namespaced target resources")],
        );
        // A namespaced Policy generates and clones in its own namespace only.
        let namespaced = |generate: Value| {
            let mut out = Vec::new();
            rule_rejections(&spec(generate), Scope { namespaced: true, namespace: Some("team-a") }, &mut out);
            out.into_iter().map(|found| found.pointer).collect::<Vec<_>>()
        };
        assert_eq!(
            namespaced(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "team-a", "clone": {"namespace": "team-a", "name": "c"}})
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            namespaced(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "team-b", "data": {}})
            ),
            [format!("{at}/namespace")]
        );
        assert_eq!(
            namespaced(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "team-a", "clone": {"namespace": "base", "name": "c"}})
            ),
            [format!("{at}/clone/namespace")]
        );
    }

    #[test]
    fn labels_and_annotations_in_patterns_and_patches_are_strings() {
        let mutate = |patch: Value| json!({"rules": [{"name": "l", "mutate": {"patchStrategicMerge": patch}}]});
        check(mutate(json!({"metadata": {"labels": {"team": "a", "count": "1"}}})), &[]);
        check(
            mutate(json!({"metadata": {"labels": {"enabled": true}}})),
            &[
                "/spec/rules/0/mutate/patchStrategicMerge/metadata/labels/enabled labels and annotations supports only string values, \"use double quotes around the non string values\"",
            ],
        );
        check(
            mutate(json!({"spec": {"template": {"metadata": {"annotations": {"replicas": 2}}}}})),
            &[
                "/spec/rules/0/mutate/patchStrategicMerge/spec/template/metadata/annotations/replicas labels and annotations supports only string values, \"use double quotes around the non string values\"",
            ],
        );
        // Both places, one wrong: upstream's outcome depends on its map order.
        check(mutate(json!({"metadata": {"labels": {"enabled": true}}, "spec": {"replicas": 1}})), &[]);
    }

    #[test]
    fn element_variables_stand_inside_a_foreach_only() {
        let rule = |message: &str| {
            json!({"rules": [{"name": "f", "validate": {"message": message,
                "foreach": [{"list": "request.object.spec.containers", "deny": {"conditions": {"any": [
                    {"key": "{{ element.image }}", "operator": "Equals", "value": "nginx"}]}}}]}}]})
        };
        check(rule("containers are checked"), &[]);
        check(
            rule("{{ element.name }} uses nginx"),
            &[
                "/spec/rules/0/validate/message variable 'element.name' present outside of foreach at path /validate/message",
            ],
        );
    }

    #[test]
    fn without_admission_only_validation_is_allowed() {
        let spec = json!({"admission": false, "rules": [
            {"name": "v", "validate": {"deny": {}}},
            {"name": "m", "mutate": {"patchStrategicMerge": {"metadata": {}}}}
        ]});
        check(
            spec,
            &[
                "/spec/rules/1/mutate disabling admission processing (spec.admission: false) is only allowed with validation rules",
            ],
        );
    }

    #[test]
    fn image_verifications_name_images_and_complete_attestors() {
        let verify = |spec_action: &str, entry: Value| json!({"validationFailureAction": spec_action, "rules": [{"name": "i", "verifyImages": [entry]}]});
        let keyed = json!({"entries": [{"keys": {"publicKeys": "-----BEGIN PUBLIC KEY-----"}}]});
        check(verify("Enforce", json!({"imageReferences": ["ghcr.io/*"], "attestors": [keyed]})), &[]);
        // A digest mutation is refused under Audit, the policy's or the entry's own.
        check(
            verify("Audit", json!({"imageReferences": ["*"], "mutateDigest": true, "attestors": [keyed]})),
            &["/spec/rules/0/verifyImages/0/mutateDigest mutateDigest must be set to false for ‘Audit’ failure action"],
        );
        check(
            verify(
                "Audit",
                json!({"imageReferences": ["*"], "mutateDigest": true, "failureAction": "Enforce", "attestors": [keyed]}),
            ),
            &[],
        );
        check(
            verify(
                "Enforce",
                json!({"imageReferences": ["*"], "mutateDigest": true, "failureAction": "Audit", "attestors": [keyed]}),
            ),
            &["/spec/rules/0/verifyImages/0/mutateDigest mutateDigest must be set to false for ‘Audit’ failure action"],
        );
        check(
            verify("Enforce", json!({"attestors": [keyed]})),
            &["/spec/rules/0/verifyImages/0 an image reference is required"],
        );
        check(verify("Enforce", json!({"image": "ghcr.io/app", "key": "-----BEGIN PUBLIC KEY-----"})), &[]);
        // Annotations alone, without the deprecated image, key or issuer, are not converted.
        check(
            verify("Enforce", json!({"imageReferences": ["*"], "annotations": {"a": "b"}, "attestors": [keyed]})),
            &[],
        );
        // An entry's failureAction holds for the entries after it too.
        let two = json!({"validationFailureAction": "Enforce", "rules": [{"name": "i", "verifyImages": [
            {"imageReferences": ["*"], "failureAction": "Audit", "mutateDigest": false, "attestors": [keyed]},
            {"imageReferences": ["*"], "mutateDigest": true, "attestors": [keyed]}
        ]}]});
        check(
            two,
            &["/spec/rules/0/verifyImages/1/mutateDigest mutateDigest must be set to false for ‘Audit’ failure action"],
        );
        // Attestor sets and attestors, each with what it needs.
        check(
            verify(
                "Enforce",
                json!({"imageReferences": ["*"], "attestors": [
                    {"count": 2, "entries": [{"keys": {"publicKeys": "k", "signatureAlgorithm": "md5"}}]},
                    {"entries": []},
                    {"entries": [{"keys": {}, "certificates": {"cert": "c"}}, {"certificates": {}}]},
                    {"entries": [{"keyless": {"issuer": "i"}}, {"keyless": {"rekor": {"ignoreTlog": true}}}]},
                    {"entries": [{"attestor": {"entries": [{"keyless": {"roots": "r"}}]}}, {"attestor": {}}]}
                ]}),
            ),
            &[
                "/spec/rules/0/verifyImages/0/attestors/0 count cannot exceed the number of entries",
                "/spec/rules/0/verifyImages/0/attestors/0/entries/0/keys invalid signature algorithm provided",
                "/spec/rules/0/verifyImages/0/attestors/1 an entry is required",
                "/spec/rules/0/verifyImages/0/attestors/2/entries/0 keys, certificates, keyless, or a nested attestor is required",
                "/spec/rules/0/verifyImages/0/attestors/2/entries/0/keys a public key, kms key or secret is required",
                "/spec/rules/0/verifyImages/0/attestors/2/entries/1/certificates cert or certChain required",
                "/spec/rules/0/verifyImages/0/attestors/3/entries/0/keyless either Rekor URL or roots are required",
                "/spec/rules/0/verifyImages/0/attestors/3/entries/1/keyless an URL is required",
                "/spec/rules/0/verifyImages/0/attestors/4/entries/1/attestor an entry is required",
            ],
        );
        // The deprecated issuer becomes a keyless attestor, which needs roots (or a Rekor URL).
        check(
            verify("Enforce", json!({"image": "ghcr.io/app", "issuer": "https://token.actions.githubusercontent.com"})),
            &["/spec/rules/0/verifyImages/0/issuer either Rekor URL or roots are required"],
        );
        check(
            verify("Enforce", json!({"imageReferences": ["*"], "type": "Notary", "attestors": [keyed]})),
            &["/spec/rules/0/verifyImages/0/attestors Keys field is not allowed for type notary"],
        );
        check(
            verify(
                "Enforce",
                json!({"imageReferences": ["*"], "type": "Notary", "attestors": [{"entries": [{"certificates": {"cert": "c"}}]}]}),
            ),
            &[],
        );
    }
}
