//! The catalogue of diagnostic codes: what each means, why it matters and an example, for `policy-lsp explain`
//! and for documentation links.

/// Documentation of one diagnostic code.
pub struct LintDoc {
    pub code: &'static str,
    pub summary: &'static str,
    pub why: &'static str,
    pub example: &'static str,
}

pub const LINTS: &[LintDoc] = &[
    LintDoc {
        code: "yaml/syntax",
        summary: "The YAML does not parse.",
        why: "Kubernetes, kyverno and gator reject the whole file; nothing after the error is checked reliably.",
        example: "spec:\n  rules\n    - name: x   # `rules` needs a `:`",
    },
    LintDoc {
        code: "yaml/duplicate-key",
        summary: "A mapping sets the same key twice.",
        why: "sigs.k8s.io/yaml rejects duplicate keys; other parsers silently keep the last one, hiding the first.",
        example: "metadata:\n  name: a\n  name: b",
    },
    LintDoc {
        code: "yaml/unknown-anchor",
        summary: "An alias refers to an anchor that is not defined before it.",
        why: "The document does not parse in any YAML reader.",
        example: "a: *missing",
    },
    LintDoc {
        code: "yaml/alias-limit",
        summary: "Aliases expand to too many nodes.",
        why: "A \"billion laughs\" document exhausts memory in tools that expand aliases; it is never legitimate.",
        example: "a: &a [x, x]\nb: &b [*a, *a]\n# ... repeated",
    },
    LintDoc {
        code: "yaml/too-deep",
        summary: "Nesting is deeper than the supported limit.",
        why: "No real manifest is that deep; such input is hostile and would exhaust the stack.",
        example: "[[[[[[ ... ]]]]]]",
    },
    LintDoc {
        code: "yaml/too-many-documents",
        summary: "A file holds more documents than are parsed (10,000); the rest is not checked.",
        why: "Real streams hold hundreds of documents; a hundred thousand would take seconds and gigabytes to check.",
        example: "---\na: 1\n---\na: 2\n# ... 10,000 times",
    },
    LintDoc {
        code: "yaml/too-long",
        summary: "A document is longer than 32,767 lines.",
        why: "The parser loses count of lines there: findings further down point at the nearest earlier place.",
        example: "data:\n  key-1: a\n  # ... 40,000 lines",
    },
    LintDoc {
        code: "yaml/complex-key",
        summary: "A mapping key is a list or a mapping.",
        why: "JSON, and so Kubernetes, only has string keys.",
        example: "? [a, b]\n: value",
    },
    LintDoc {
        code: "yaml/extra-document",
        summary: "Content follows a `...` end marker without a `---`.",
        why: "Readers disagree on such streams; a `---` line makes the document boundary explicit.",
        example: "a: 1\n...\nb: 2",
    },
    LintDoc {
        code: "yaml/helm-template",
        summary: "A Helm chart template: a file under a chart's `templates/`, or with Go template directives where YAML expects syntax.",
        why: "Its YAML exists only after `helm template`; checked as it stands it would show errors that are not there. Lint the rendered output instead: `helm template CHART | policy-lsp lint -`.",
        example: "{{- if .Values.policies.requireLabels.enabled }}\napiVersion: kyverno.io/v1\nkind: ClusterPolicy",
    },
    LintDoc {
        code: "schema/unknown-field",
        summary: "A key that the kind's schema does not define.",
        why: "The API server prunes unknown fields and the Kyverno CLI rejects them: a misspelt key silently does nothing.",
        example: "spec:\n  validationFailureActon: Enforce",
    },
    LintDoc {
        code: "schema/type",
        summary: "A value of the wrong type.",
        why: "The API server rejects the object.",
        example: "spec:\n  background: \"maybe\"",
    },
    LintDoc {
        code: "schema/enum",
        summary: "A value outside the allowed set.",
        why: "The API server rejects the object, or the policy silently behaves differently.",
        example: "spec:\n  validationFailureAction: Enforse",
    },
    LintDoc {
        code: "schema/const",
        summary: "A value that must be one exact value.",
        why: "apiVersion and kind identify the schema; a mismatch means the document is not what it claims.",
        example: "kind: ClusterPolicy",
    },
    LintDoc {
        code: "schema/required",
        summary: "A required field is missing.",
        why: "The API server rejects the object.",
        example: "spec:\n  rules:\n    - match: {}   # `name` is required",
    },
    LintDoc {
        code: "schema/constraint",
        summary: "A value breaks a length, range, count or pattern limit.",
        why: "The API server rejects the object.",
        example: "metadata:\n  name: a-name-that-is-longer-than-sixty-three-characters-is-not-valid-here",
    },
    LintDoc {
        code: "schema/one-of",
        summary: "Exactly one (or at least one) of several fields must be set.",
        why: "Kyverno cannot tell which form is meant.",
        example: "context:\n  - name: x   # needs one of configMap, apiCall, variable, ...",
    },
    LintDoc {
        code: "schema/not",
        summary: "A combination of fields that is not allowed.",
        why: "The API server rejects the object.",
        example: "",
    },
    LintDoc {
        code: "schema/duplicate-entry",
        summary: "Two list entries share the same key (or are identical in a set).",
        why: "Server-side apply merges such entries by key; duplicates are rejected.",
        example: "containers:\n  - name: a\n  - name: a",
    },
    LintDoc {
        code: "schema/deprecated",
        summary: "A deprecated field.",
        why: "It still works but will be removed; the message names its replacement.",
        example: "spec:\n  validationFailureAction: Enforce   # use rules[].validate.failureAction",
    },
    LintDoc {
        code: "schema/deprecated-version",
        summary: "A deprecated apiVersion.",
        why: "It will stop being served; move to the version the message names.",
        example: "apiVersion: kyverno.io/v2beta1",
    },
    LintDoc {
        code: "schema/unknown-kind",
        summary: "An apiVersion/kind pair that the bundled schemas do not serve.",
        why: "The API server has no such type: usually a wrong version or a misspelt kind.",
        example: "apiVersion: kyverno.io/v1\nkind: ClusterPolicyy",
    },
    LintDoc {
        code: "schema/cluster-scoped",
        summary: "`metadata.namespace` on a cluster-scoped kind.",
        why: "It is ignored, which usually means the author expected a namespaced kind.",
        example: "kind: ClusterPolicy\nmetadata:\n  namespace: team-a",
    },
    LintDoc {
        code: "test/missing-file",
        summary: "A test or suite names a file that does not exist.",
        why: "`kyverno test` and `gator verify` fail to load the test.",
        example: "policies:\n  - ../policy.yml   # the file is policy.yaml",
    },
    LintDoc {
        code: "test/outside-workspace",
        summary: "A test names a file outside the workspace.",
        why: "Test files come from pull requests; reading files outside the repository would leak the machine's files into reports.",
        example: "policies:\n  - ../../../../etc/passwd",
    },
    LintDoc {
        code: "test/remote-reference",
        summary: "A test references a URL.",
        why: "policy-lsp works offline and does not fetch it, so the test cannot run here.",
        example: "policies:\n  - https://example.com/policy.yaml",
    },
    LintDoc {
        code: "test/legacy-format",
        summary: "A Kyverno test, values or user info file in the format before Kyverno 1.11 (no apiVersion and kind, or a top-level `name`).",
        why: "Current `kyverno test` stops on it with \"uses a deprecated schema — please migrate to the latest format\".",
        example: "name: require-labels   # no apiVersion, no kind\npolicies: [policy.yaml]\nresources: [resources.yaml]",
    },
    LintDoc {
        code: "test/unknown-policy",
        summary: "A result names a policy that the listed policy files do not define.",
        why: "The expectation can never be checked.",
        example: "results:\n  - policy: require-label   # the policy is require-labels",
    },
    LintDoc {
        code: "test/unknown-rule",
        summary: "A result names a rule that the policy does not have.",
        why: "kyverno reports such a result as excluded, so it passes whatever was expected.",
        example: "results:\n  - policy: require-labels\n    rule: check-label   # the rule is check-labels",
    },
    LintDoc {
        code: "test/embedded-never-matches",
        summary: "A test embedded beside its policy can never match what it names.",
        why: "A result whose resource is of a kind the rule does not match is reported as skipped whatever it expects, so the case tests nothing; an embedded Test without a policy in its file tests nothing at all.",
        example: "results:\n  - policy: require-labels\n    rule: pods-only      # matches Pod\n    resources: [my-service]   # a Service in this file",
    },
    LintDoc {
        code: "test/unknown-resource",
        summary: "A result names a resource that the listed resource files do not define.",
        why: "The expectation can never be checked.",
        example: "resources:\n  - badpod   # the resource is bad-pod",
    },
    LintDoc {
        code: "test/kind-mismatch",
        summary: "A suite pairs a constraint with a template of another kind.",
        why: "gator rejects the test: a constraint must be an instance of its template.",
        example: "template: template.yaml   # defines K8sRequiredLabels\nconstraint: constraint.yaml   # kind: K8sAllowedRepos",
    },
    LintDoc {
        code: "rego/compile",
        summary: "Rego in a ConstraintTemplate does not parse or compile: a syntax error, an undefined function or an unsafe variable.",
        why: "Gatekeeper rejects the template, so none of its constraints are enforced.",
        example: "rego: |\n  package k8s\n  violation[{\"msg\": msg}] { msg := undefined_function(input) }",
    },
    LintDoc {
        code: "config/unknown-field",
        summary: "A setting in `.policy-lsp.yaml` that policy-lsp does not know.",
        why: "It is ignored, so what it was meant to change does not happen; usually a typo.",
        example: "lint:\n  disabel: [schema/deprecated]   # `disable`",
    },
    LintDoc {
        code: "config/invalid",
        summary: "A setting in `.policy-lsp.yaml` with a value of the wrong shape (or a glob that does not parse).",
        why: "The setting is ignored; the rest of the file still applies.",
        example: "lint:\n  severity:\n    schema/deprecated: loud   # error, warning, info, hint or off",
    },
    LintDoc {
        code: "config/unknown-code",
        summary: "`.policy-lsp.yaml` names a diagnostic code that does not exist.",
        why: "Nothing is disabled or re-graded; usually a typo in the code.",
        example: "lint:\n  disable: [schema/deprecation]   # `schema/deprecated`",
    },
    LintDoc {
        code: "jmespath/syntax",
        summary: "A JMESPath expression in `{{ }}` (or in `foreach.list` or a context `jmesPath`) does not parse, calls an unknown function or passes the wrong number of arguments.",
        why: "Kyverno fails the rule with an error when it substitutes the variable, on every resource the rule matches.",
        example: "message: \"{{ to_uper(request.object.metadata.name) }}\"   # to_upper",
    },
];

/// The documentation of a code, if it exists.
pub fn lint_doc(code: &str) -> Option<&'static LintDoc> {
    LINTS.iter().find(|lint| lint.code == code)
}
