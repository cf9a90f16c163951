//! Every diagnostic code and every test-run problem code, as data: its stable string, its group, its default
//! severity and its documentation. `policy-lsp explain`, the settings in `.policy-lsp.yaml`, the SARIF rules
//! and the editors all read this one table, so a code cannot exist without being documented and configurable.

use std::fmt;
use std::str::FromStr;

use super::Severity;

/// A family of codes: the part of a code before its `/`. Settings can name a whole group.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Group {
    Yaml,
    Schema,
    Cel,
    Jmespath,
    Rego,
    Test,
    Config,
    File,
    KyvernoTest,
    Gatekeeper,
    OpaTest,
    Apply,
    Policy,
}

/// Which output a code appears in, which decides whether the `lint` settings can change it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reported {
    /// A diagnostic of `policy-lsp lint` and of the editor: `lint.disable` and `lint.severity` apply.
    Diagnostic,
    /// A problem that `policy-lsp test` reports while loading a test (or `policy-lsp apply` while loading
    /// policies and manifests), as `kyverno test`, `gator verify`, `kyverno apply` or `gator test` would
    /// fail: it always fails the run, so the `lint` settings leave it alone.
    TestRun,
}

impl Group {
    pub const ALL: &'static [Group] = &[
        Group::Yaml,
        Group::Schema,
        Group::Cel,
        Group::Jmespath,
        Group::Rego,
        Group::Test,
        Group::Config,
        Group::File,
        Group::KyvernoTest,
        Group::Gatekeeper,
        Group::OpaTest,
        Group::Apply,
        Group::Policy,
    ];

    /// The name used in codes and settings (`schema`, `kyverno-test`).
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Yaml => "yaml",
            Group::Schema => "schema",
            Group::Cel => "cel",
            Group::Jmespath => "jmespath",
            Group::Rego => "rego",
            Group::Test => "test",
            Group::Config => "config",
            Group::File => "file",
            Group::KyvernoTest => "kyverno-test",
            Group::Gatekeeper => "gatekeeper",
            Group::OpaTest => "opa-test",
            Group::Apply => "apply",
            Group::Policy => "policy",
        }
    }

    /// One sentence on what the codes of the group are about.
    pub fn summary(self) -> &'static str {
        match self {
            Group::Yaml => {
                "The YAML itself: syntax, duplicate keys, aliases and the limits that keep hostile input harmless."
            }
            Group::Schema => {
                "A document against the schema of its kind: fields, types, allowed values and API versions."
            }
            Group::Cel => "CEL expressions in Kyverno policies and Gatekeeper templates.",
            Group::Jmespath => "JMESPath expressions in Kyverno variables, `foreach` lists and context entries.",
            Group::Rego => "Rego in Gatekeeper ConstraintTemplates and in `.rego` files.",
            Group::Test => {
                "Kyverno Test and gator Suite files as the editor and `policy-lsp lint` check them, and the results of the tests shown beside them."
            }
            Group::Config => "The settings file `.policy-lsp.yaml`.",
            Group::File => "Files that `policy-lsp lint` cannot read.",
            Group::KyvernoTest => {
                "Kyverno Test files that `policy-lsp test` cannot run, as `kyverno test` would fail on them."
            }
            Group::Gatekeeper => {
                "gator Suites that `policy-lsp test` cannot run, as `gator verify` would fail on them."
            }
            Group::OpaTest => {
                "Folders of Rego unit tests that `policy-lsp test` cannot run, as `opa test` would refuse them."
            }
            Group::Apply => {
                "Policies and manifests that `policy-lsp apply` cannot load or use, as `kyverno apply` or `gator test` would fail on them."
            }
            Group::Policy => {
                "The workspace's policies judging a manifest open in the editor, as `policy-lsp apply` judges it."
            }
        }
    }

    /// Where the codes of the group are reported.
    pub fn reported(self) -> Reported {
        match self {
            Group::KyvernoTest | Group::Gatekeeper | Group::OpaTest | Group::Apply => Reported::TestRun,
            _ => Reported::Diagnostic,
        }
    }

    /// The codes of the group, in catalogue order.
    pub fn codes(self) -> impl Iterator<Item = Code> {
        Code::ALL.iter().copied().filter(move |code| code.group() == self)
    }
}

/// The text names no code (or no group).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UnknownCode;

impl fmt::Display for UnknownCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("not a diagnostic code")
    }
}

impl std::error::Error for UnknownCode {}

/// What the table says about one code.
struct Entry {
    text: &'static str,
    group: Group,
    severity: Severity,
    summary: &'static str,
    why: &'static str,
    example: &'static str,
}

/// Declares the `Code` enum and its table in one place: each variant with its string, default severity and
/// documentation, grouped under the `Group` it belongs to.
macro_rules! codes {
    ($(
        $group:ident {
            $(
                $variant:ident = $text:literal, $severity:ident,
                summary: $summary:literal,
                why: $why:literal,
                example: $example:literal;
            )+
        }
    )+) => {
        /// A stable identifier of a diagnostic or a test-run problem. Its string (`schema/unknown-field`) is a
        /// public contract: it appears in JSON, SARIF and JUnit output and in users' `.policy-lsp.yaml`.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub enum Code {
            $($($variant,)+)+
        }

        impl Code {
            /// Every code, grouped, in catalogue order.
            pub const ALL: &'static [Code] = &[$($(Code::$variant,)+)+];

            fn entry(self) -> &'static Entry {
                match self {
                    $($(Code::$variant => &Entry {
                        text: $text,
                        group: Group::$group,
                        severity: Severity::$severity,
                        summary: $summary,
                        why: $why,
                        example: $example,
                    },)+)+
                }
            }
        }
    };
}

impl Code {
    /// The stable string, `group/name`.
    pub fn as_str(self) -> &'static str {
        self.entry().text
    }

    pub fn group(self) -> Group {
        self.entry().group
    }

    /// The severity the code is reported at unless its context says otherwise (schema violations in plain
    /// resources, which are test fixtures, are warnings) or the settings re-grade it.
    pub fn default_severity(self) -> Severity {
        self.entry().severity
    }

    /// What the code means, in one sentence.
    pub fn summary(self) -> &'static str {
        self.entry().summary
    }

    /// Why it matters: what goes wrong in the real tools or the cluster.
    pub fn why(self) -> &'static str {
        self.entry().why
    }

    /// A short YAML snippet that triggers the code.
    pub fn example(self) -> &'static str {
        self.entry().example
    }

    /// Every code string and group name: the candidates for a did-you-mean.
    pub fn names_and_groups() -> impl Iterator<Item = &'static str> {
        Code::ALL.iter().map(|code| code.as_str()).chain(Group::ALL.iter().map(|group| group.as_str()))
    }
}

/// Shows a `Code` or a `Group` as its string, and reads it back from exactly that string.
macro_rules! text_form {
    ($($name:ident),+) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;

            fn from_str(text: &str) -> Result<$name, UnknownCode> {
                $name::ALL.iter().copied().find(|item| item.as_str() == text).ok_or(UnknownCode)
            }
        }
    )+};
}

text_form!(Code, Group);

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

codes! {
    Yaml {
        YamlSyntax = "yaml/syntax", Error,
            summary: "The YAML does not parse.",
            why: "Kubernetes, Kyverno and gator reject the whole file, and nothing after the error can be checked reliably.",
            example: "spec:\n  rules\n    - name: x   # `rules` needs a `:`";
        YamlDuplicateKey = "yaml/duplicate-key", Error,
            summary: "A mapping sets the same key twice.",
            why: "sigs.k8s.io/yaml, which Kubernetes tools use, rejects duplicate keys; other parsers silently keep the last value and hide the first.",
            example: "metadata:\n  name: a\n  name: b";
        YamlUnknownAnchor = "yaml/unknown-anchor", Error,
            summary: "An alias refers to an anchor that is not defined before it.",
            why: "No YAML reader can parse the document.",
            example: "a: *missing";
        YamlAliasLimit = "yaml/alias-limit", Error,
            summary: "Aliases expand to too many nodes.",
            why: "Such a \"billion laughs\" document exhausts the memory of tools that expand aliases; it is never legitimate.",
            example: "a: &a [x, x]\nb: &b [*a, *a]\n# ... repeated";
        YamlTooDeep = "yaml/too-deep", Error,
            summary: "The nesting is deeper than the supported limit.",
            why: "No real manifest is nested that deeply; such input is hostile and would exhaust the stack, so the document is not checked.",
            example: "[[[[[[ ... ]]]]]]";
        YamlTooManyDocuments = "yaml/too-many-documents", Error,
            summary: "A file holds more documents than are parsed (10,000), so the rest is not checked.",
            why: "Real streams hold hundreds of documents; a hundred thousand would take seconds and gigabytes to check.",
            example: "---\na: 1\n---\na: 2\n# ... 10,000 times";
        YamlTooLong = "yaml/too-long", Warning,
            summary: "A document is longer than 32,767 lines.",
            why: "The parser loses count of lines beyond that point, so findings further down point at the nearest earlier place it knows.",
            example: "data:\n  key-1: a\n  # ... 40,000 lines";
        YamlComplexKey = "yaml/complex-key", Error,
            summary: "A mapping key is a list or a mapping.",
            why: "JSON, and so Kubernetes, only has string keys.",
            example: "? [a, b]\n: value";
        YamlExtraDocument = "yaml/extra-document", Error,
            summary: "Content follows a `...` end marker without a `---` line.",
            why: "YAML readers disagree on such streams; a `---` line makes the document boundary explicit.",
            example: "a: 1\n...\nb: 2";
        YamlInvalidCharacter = "yaml/invalid-character", Error,
            summary: "The text holds a NUL byte, or a byte-order mark after the start of a document.",
            why: "YAML allows only printable characters, and a byte-order mark only at the start; such a file is usually binary, corrupted or two files joined together, and Kubernetes tools reject it.",
            example: "metadata:\n  name: a\\0b   # a NUL byte inside the text";
        YamlHelmTemplate = "yaml/helm-template", Info,
            summary: "A Helm chart template: a file under a chart's `templates/`, or with Go template directives where YAML expects syntax.",
            why: "Its YAML exists only after `helm template`; checked as it stands it would show errors that are not there. Lint the rendered output instead: `helm template CHART | policy-lsp lint -`.",
            example: "{{- if .Values.policies.requireLabels.enabled }}\napiVersion: kyverno.io/v1\nkind: ClusterPolicy";
    }
    Schema {
        SchemaUnknownField = "schema/unknown-field", Error,
            summary: "A key that the schema of the kind does not define.",
            why: "The API server prunes unknown fields and the Kyverno CLI rejects them, so a misspelt key silently does nothing.",
            example: "spec:\n  validationFailureActon: Enforce";
        SchemaType = "schema/type", Error,
            summary: "A value of the wrong type.",
            why: "The API server rejects the object.",
            example: "spec:\n  background: \"maybe\"";
        SchemaEnum = "schema/enum", Error,
            summary: "A value outside the allowed set.",
            why: "The API server rejects the object, or the policy silently behaves differently.",
            example: "spec:\n  validationFailureAction: Enforse";
        SchemaConst = "schema/const", Error,
            summary: "A value that must be one exact value is something else.",
            why: "apiVersion and kind identify the schema, so a mismatch means the document is not what it claims to be.",
            example: "kind: ClusterPolicy";
        SchemaRequired = "schema/required", Error,
            summary: "A required field is missing.",
            why: "The API server rejects the object.",
            example: "spec:\n  rules:\n    - match: {}   # `name` is required";
        SchemaConstraint = "schema/constraint", Error,
            summary: "A value breaks a length, range, count or pattern limit.",
            why: "The API server rejects the object.",
            example: "metadata:\n  name: a-name-that-is-longer-than-sixty-three-characters-is-not-valid-here";
        SchemaOneOf = "schema/one-of", Error,
            summary: "Exactly one (or at least one) of several fields must be set, and that does not hold.",
            why: "Kyverno cannot tell which form is meant and rejects the policy.",
            example: "context:\n  - name: x   # needs one of configMap, apiCall, variable, ...";
        SchemaNot = "schema/not", Error,
            summary: "A combination of fields that the schema forbids.",
            why: "The API server rejects the object.",
            example: "match:\n  any:\n    - resources:\n        kinds: [Pod]\n  all:   # `any` and `all` must not both be set\n    - resources:\n        kinds: [Service]";
        SchemaDuplicateEntry = "schema/duplicate-entry", Error,
            summary: "Two list entries share the same key, or two entries of a set are identical.",
            why: "Server-side apply merges such entries by their key, so the API server rejects duplicates.",
            example: "containers:\n  - name: a\n  - name: a";
        SchemaRefusedPolicy = "schema/refused-policy", Error,
            summary: "Kyverno's own validation of a ClusterPolicy or Policy refuses it, beyond what the CRD schema says.",
            why: "Kyverno's webhook rejects the policy, and `kyverno test` and `kyverno apply` skip it as invalid: its results are reported as skipped whatever they expect.",
            example: "spec:\n  rules:\n    - validate:\n        message: \"{{ request.userInfo.username }}\"   # with background processing on (the default)";
        SchemaDeprecated = "schema/deprecated", Warning,
            summary: "A deprecated field.",
            why: "It still works but will be removed; the message names its replacement.",
            example: "spec:\n  validationFailureAction: Enforce   # use rules[].validate.failureAction";
        SchemaDeprecatedVersion = "schema/deprecated-version", Warning,
            summary: "A deprecated apiVersion.",
            why: "It will stop being served; move to the version that the message names.",
            example: "apiVersion: kyverno.io/v2beta1";
        SchemaUnknownKind = "schema/unknown-kind", Error,
            summary: "An apiVersion and kind pair that the bundled schemas do not serve.",
            why: "The API server has no such type: usually the version is wrong or the kind is misspelt.",
            example: "apiVersion: kyverno.io/v1\nkind: ClusterPolicyy";
        SchemaClusterScoped = "schema/cluster-scoped", Warning,
            summary: "`metadata.namespace` is set on a cluster-scoped kind.",
            why: "The namespace is ignored, which usually means the author expected a namespaced kind.",
            example: "kind: ClusterPolicy\nmetadata:\n  namespace: team-a";
    }
    Cel {
        CelCompile = "cel/compile", Error,
            summary: "A CEL expression does not parse, uses an unknown variable or function, or calls a function with the wrong number of arguments.",
            why: "Kyverno and Gatekeeper cannot compile the expression, so the rule or template that holds it enforces nothing until it is fixed.",
            example: "validations:\n  - expression: \"object.spec.replicas <= \"   # the comparison has no right-hand side";
    }
    Jmespath {
        JmespathSyntax = "jmespath/syntax", Error,
            summary: "A JMESPath expression in `{{ }}`, in `foreach.list` or in a context `jmesPath` does not parse, calls an unknown function or passes the wrong number of arguments.",
            why: "Kyverno fails the rule with an error when it substitutes the variable, on every resource that the rule matches.",
            example: "message: \"{{ to_uper(request.object.metadata.name) }}\"   # to_upper";
    }
    Rego {
        RegoCompile = "rego/compile", Error,
            summary: "The Rego in a ConstraintTemplate or a `.rego` file does not parse or compile: a syntax error, an undefined function or an unsafe variable.",
            why: "Gatekeeper rejects the template, so none of its constraints are enforced; `opa test` and `opa eval` refuse the file's folder.",
            example: "rego: |\n  package k8s\n  violation[{\"msg\": msg}] { msg := undefined_function(input) }";
        RegoDeprecated = "rego/deprecated", Warning,
            summary: "Rego v0 calls one of OPA's deprecated built-ins (`re_match`, `any`, `all`, `set_diff`, `net.cidr_overlap`, `cast_*`).",
            why: "Gatekeeper still accepts it in Rego v0, but Rego v1 removed it: moving the template to `version: v1` breaks it.",
            example: "rego: |\n  package k8s\n  violation[{\"msg\": \"bad name\"}] { re_match(\"^x\", input.review.object.metadata.name) }   # regex.match";
        RegoStaleTemplate = "rego/stale-template", Warning,
            summary: "A ConstraintTemplate generated from a `src/<category>/<name>/src.rego` (gatekeeper-library's layout) holds Rego that differs from that source beyond whitespace and comments.",
            why: "The source is what `opa test` tests and reviewers read; the template is what Gatekeeper enforces. When they differ, the tested Rego is not the enforced one: regenerate the template.",
            example: "# library/general/requiredlabels/template.yaml, beside src/general/requiredlabels/src.rego\nrego: |\n  package k8srequiredlabels\n  violation[{\"msg\": \"edited by hand\"}] { true }";
    }
    Test {
        TestMissingFile = "test/missing-file", Error,
            summary: "A test or suite names a file that does not exist.",
            why: "`kyverno test` and `gator verify` fail to load the test.",
            example: "policies:\n  - ../policy.yml   # the file is policy.yaml";
        TestOutsideWorkspace = "test/outside-workspace", Error,
            summary: "A test names a file outside the workspace.",
            why: "Test files come from pull requests, and reading files outside the repository would leak the machine's files into reports, so they are not read.",
            example: "policies:\n  - ../../../../etc/passwd";
        TestRemoteReference = "test/remote-reference", Warning,
            summary: "A test references a URL.",
            why: "policy-lsp works offline and does not fetch it, so the test cannot run here.",
            example: "policies:\n  - https://example.com/policy.yaml";
        TestLegacyFormat = "test/legacy-format", Error,
            summary: "A Kyverno test, values or user info file in the format before Kyverno 1.11 (no apiVersion and kind, or a top-level `name`).",
            why: "Current `kyverno test` stops on it: \"uses a deprecated schema — please migrate to the latest format\".",
            example: "name: require-labels   # no apiVersion, no kind\npolicies: [policy.yaml]\nresources: [resources.yaml]";
        TestUnknownPolicy = "test/unknown-policy", Error,
            summary: "A result names a policy that the listed policy files do not define.",
            why: "The expectation can never be checked.",
            example: "results:\n  - policy: require-label   # the policy is require-labels";
        TestUnknownRule = "test/unknown-rule", Warning,
            summary: "A result names a rule that the policy does not have.",
            why: "Kyverno reports such a result as excluded, so it passes whatever was expected.",
            example: "results:\n  - policy: require-labels\n    rule: check-label   # the rule is check-labels";
        TestNoResults = "test/no-results", Warning,
            summary: "A Kyverno Test has no `results`, or an empty list of them.",
            why: "`kyverno test` skips such a test and passes, so nothing is checked; `policy-lsp test --strict` fails on it.",
            example: "kind: Test\npolicies: [policy.yaml]\nresources: [resources.yaml]   # and no `results`";
        TestEmbeddedNeverMatches = "test/embedded-never-matches", Warning,
            summary: "A test embedded beside its policy can never match what it names.",
            why: "A result whose resource is of a kind that the rule does not match is reported as skipped whatever it expects, so the case tests nothing; an embedded Test whose file holds no policy tests nothing at all (reported as an error).",
            example: "results:\n  - policy: require-labels\n    rule: pods-only      # matches Pod\n    resources: [my-service]   # a Service in this file";
        TestUnknownResource = "test/unknown-resource", Error,
            summary: "A result names a resource that the listed resource files do not define.",
            why: "The expectation can never be checked.",
            example: "resources:\n  - badpod   # the resource is bad-pod";
        TestKindMismatch = "test/kind-mismatch", Error,
            summary: "A suite pairs a constraint with a template of another kind.",
            why: "gator rejects the test, because a constraint must be an instance of its template.",
            example: "template: template.yaml   # defines K8sRequiredLabels\nconstraint: constraint.yaml   # kind: K8sAllowedRepos";
        TestFailed = "test/failed", Error,
            summary: "An expectation of a test did not hold when the test ran in the editor.",
            why: "`kyverno test` or `gator verify` fails in the same way, so the policy or the test is wrong; the related places show the rule and the resource behind the result.",
            example: "results:\n  - policy: require-labels\n    rule: check-labels\n    resources: [good-pod]\n    result: pass   # the rule fails this pod";
        TestError = "test/error", Error,
            summary: "Evaluating a test case ended in an error instead of a verdict.",
            why: "The expectation was not checked: the test file is rejected as a whole, a case is malformed, or the engine met an error that the real tools would also report.",
            example: "kind: Test\nresult:   # an unknown key: `kyverno test` rejects the file, so every result is an error\n  - policy: require-labels";
        TestUnsupported = "test/unsupported", Warning,
            summary: "A test case uses a feature that policy-lsp does not evaluate.",
            why: "The case is neither passed nor failed here; run it with `kyverno test` or `gator verify`, which support it. A run with unsupported results fails, so nothing passes silently.",
            example: "apiVersion: policies.kyverno.io/v1alpha1\nkind: ImageValidatingPolicy   # verifying signatures needs a registry, which an offline run does not reach";
    }
    Config {
        ConfigUnknownField = "config/unknown-field", Warning,
            summary: "A setting in `.policy-lsp.yaml` that policy-lsp does not know.",
            why: "It is ignored, so what it was meant to change does not happen; usually it is a typo.",
            example: "lint:\n  disabel: [schema/deprecated]   # `disable`";
        ConfigInvalid = "config/invalid", Error,
            summary: "A setting in `.policy-lsp.yaml` has a value of the wrong shape, or a glob that does not parse.",
            why: "The setting is ignored; the rest of the file still applies.",
            example: "lint:\n  severity:\n    schema/deprecated: loud   # error, warning, info, hint or off";
        ConfigUnknownCode = "config/unknown-code", Warning,
            summary: "`.policy-lsp.yaml` names a diagnostic code or group that does not exist, or a test-run problem that the `lint` settings cannot change.",
            why: "Nothing is disabled or re-graded; usually there is a typo in the code.",
            example: "lint:\n  disable: [schema/deprecation]   # `schema/deprecated`";
    }
    File {
        FileUnreadable = "file/unreadable", Error,
            summary: "`policy-lsp lint` cannot read a file: it is missing, not valid UTF-8, larger than 64 MiB or not readable.",
            why: "Nothing in the file is checked, so a lint run that skipped it would pass without having looked at it.",
            example: "policies/policy.yaml: Permission denied (os error 13)";
    }
    KyvernoTest {
        KyvernoTestUnreadable = "kyverno-test/unreadable", Error,
            summary: "A Kyverno test file, or a file that it lists, cannot be read.",
            why: "`kyverno test` cannot load the test, so none of its results are checked.",
            example: "policies:\n  - policy.yaml   # exists but is not readable";
        KyvernoTestNoTest = "kyverno-test/no-test", Error,
            summary: "A file named like a Kyverno test holds no `kind: Test` document, or does not parse.",
            why: "`kyverno test` finds no test in it, so nothing is checked.",
            example: "# kyverno-test.yaml\napiVersion: cli.kyverno.io/v1alpha1\nkind: Tset";
        KyvernoTestNoResults = "kyverno-test/no-results", Warning,
            summary: "A Kyverno test has no `results`.",
            why: "Without results nothing is checked, yet the run would look green.",
            example: "kind: Test\npolicies: [policy.yaml]\nresources: [resources.yaml]";
        KyvernoTestUnknownKey = "kyverno-test/unknown-key", Error,
            summary: "A Kyverno test, or one of its results, has a key that the Test format does not define.",
            why: "The Kyverno CLI decodes test files strictly and rejects the whole file, so every result fails.",
            example: "kind: Test\nresult:   # `results`\n  - policy: require-labels";
        KyvernoTestNoPolicies = "kyverno-test/no-policies", Error,
            summary: "A test embedded in a file leaves out `policies`, and its file holds no policy to fill them in.",
            why: "There is nothing to evaluate, so every result fails.",
            example: "kind: Test\nresources: [resources.yaml]\nresults:\n  - policy: require-labels";
        KyvernoTestMissingFile = "kyverno-test/missing-file", Error,
            summary: "A Kyverno test lists a file or directory that does not exist, or that holds no YAML or JSON file.",
            why: "`kyverno test` fails to load the test.",
            example: "policies:\n  - ../policy.yml   # the file is policy.yaml";
        KyvernoTestYaml = "kyverno-test/yaml", Error,
            summary: "A file that a Kyverno test lists is not valid YAML.",
            why: "`kyverno test` fails to load it, so the policies or resources in it are missing from the test.",
            example: "resources:\n  - resources.yaml   # holds `metadata: {name: a`";
        KyvernoTestInvalidPayload = "kyverno-test/invalid-payload", Error,
            summary: "A JSON payload of a test does not hold exactly one top-level object.",
            why: "JSON-mode ValidatingPolicies evaluate one object per payload, so the payload cannot be checked.",
            example: "jsonPayloads:\n  - payload.json   # holds a list, or two documents";
        KyvernoTestUnsupportedCombination = "kyverno-test/unsupported-combination", Error,
            summary: "A Kyverno test combines inputs that `kyverno test` refuses to run together.",
            why: "`kyverno test` stops before evaluating anything, for example when a test with ValidatingAdmissionPolicies also lists kyverno.io PolicyExceptions.",
            example: "policies: [admission-policy.yaml]   # a ValidatingAdmissionPolicy\nexceptions: [exception.yaml]        # a kyverno.io PolicyException";
        KyvernoTestGlobalContext = "kyverno-test/global-context", Error,
            summary: "A mocked global context entry of a test cannot be built: its resource file cannot be read, or its path does not evaluate.",
            why: "Rules that read the entry see no data, so their results are not what the test means to check.",
            example: "globalContextEntries:\n  - name: deployments\n    resourceFiles: [missing.yaml]";
        KyvernoTestMissingPolicy = "kyverno-test/missing-policy", Error,
            summary: "A result of a Kyverno test names no policy.",
            why: "The result cannot be matched with any policy, so it always fails.",
            example: "results:\n  - rule: check-labels   # `policy` is missing\n    resources: [bad-pod]";
        KyvernoTestUnknownPolicy = "kyverno-test/unknown-policy", Error,
            summary: "A result names a policy that none of the loaded policies has.",
            why: "The result fails with \"policy not found\", as it does in `kyverno test`.",
            example: "results:\n  - policy: require-label   # the policy is require-labels";
        KyvernoTestUnknownRule = "kyverno-test/unknown-rule", Warning,
            summary: "A result names a rule that the policy does not have.",
            why: "Kyverno reports the result as excluded, so the expectation is never checked.",
            example: "results:\n  - policy: require-labels\n    rule: check-label   # the rule is check-labels";
        KyvernoTestNoResources = "kyverno-test/no-resources", Warning,
            summary: "A result names no resources, and the test loads none to check it against.",
            why: "Nothing is evaluated for the result, so it checks nothing.",
            example: "results:\n  - policy: require-labels\n    rule: check-labels\n    result: pass   # and the test has no `resources`";
        KyvernoTestUnknownResource = "kyverno-test/unknown-resource", Error,
            summary: "A result names only resources that none of the loaded resources, payloads or patched targets is.",
            why: "The result fails with \"resource not found\", as Kyverno's own CI expects of such a test.",
            example: "results:\n  - policy: require-labels\n    resources: [badpod]   # the resource is bad-pod";
        KyvernoTestIgnoredResource = "kyverno-test/ignored-resource", Warning,
            summary: "A result names a resource that none of the loaded resources is, beside names that are.",
            why: "`kyverno test` checks the resources the other names find and ignores this one, so it checks nothing.",
            example: "results:\n  - policy: require-labels\n    resources: [good-pod, badpod]   # the resource is bad-pod";
    }
    Gatekeeper {
        GatekeeperUnreadableSuite = "gatekeeper/unreadable-suite", Error,
            summary: "A gator Suite file cannot be read.",
            why: "`gator verify` cannot load it, so none of its tests run.",
            example: "suite.yaml: Permission denied (os error 13)";
        GatekeeperInvalidYaml = "gatekeeper/invalid-yaml", Error,
            summary: "A Suite, or a file that it names, is not valid YAML.",
            why: "`gator verify` fails to load it, so the tests that need it cannot run.",
            example: "tests:\n  - template: template.yaml   # holds `kind: [ConstraintTemplate`";
        GatekeeperMissingFile = "gatekeeper/missing-file", Error,
            summary: "A Suite names a template, constraint, object, expansion or inventory file that cannot be read.",
            why: "`gator verify` fails the test that needs the file.",
            example: "tests:\n  - template: template.yml   # the file is template.yaml";
        GatekeeperMissingTemplate = "gatekeeper/missing-template", Error,
            summary: "A test of a Suite names no template, and its own file holds none.",
            why: "A constraint cannot be added without its template, so the test fails.",
            example: "tests:\n  - name: labels\n    constraint: constraint.yaml   # `template` is missing";
        GatekeeperMissingConstraint = "gatekeeper/missing-constraint", Error,
            summary: "A test of a Suite names no constraint, and its own file holds none of the template's kind.",
            why: "Without a constraint nothing is enforced, so the test fails.",
            example: "tests:\n  - name: labels\n    template: template.yaml   # `constraint` is missing";
        GatekeeperMissingObject = "gatekeeper/missing-object", Error,
            summary: "A case of a Suite names no object to review, or its file holds several and none is named after the case.",
            why: "gator reviews exactly one object per case, so the case fails with an error.",
            example: "cases:\n  - name: bad-pod\n    assertions:\n      - violations: yes   # `object` is missing";
        GatekeeperMissingAssertions = "gatekeeper/missing-assertions", Error,
            summary: "A case of a Suite has no assertions.",
            why: "gator requires at least one assertion, so the case fails with an error.",
            example: "cases:\n  - name: bad-pod\n    object: bad-pod.yaml   # `assertions` is missing";
        GatekeeperMultipleObjects = "gatekeeper/multiple-objects", Error,
            summary: "The object file of a case holds more than one object.",
            why: "gator reviews exactly one object per case, so the case fails with an error.",
            example: "cases:\n  - name: pods\n    object: pods.yaml   # holds two documents";
        GatekeeperInvalidTemplate = "gatekeeper/invalid-template", Error,
            summary: "A ConstraintTemplate named by a Suite cannot be compiled.",
            why: "Gatekeeper and gator reject the template, so no test of it can run.",
            example: "template: template.yaml   # its Rego has no `violation` rule";
        GatekeeperInvalidConstraint = "gatekeeper/invalid-constraint", Error,
            summary: "A constraint named by a Suite does not fit its template's parameter schema.",
            why: "Gatekeeper rejects the constraint, so the test fails unless it expects the constraint to be invalid.",
            example: "spec:\n  parameters:\n    labels: team   # the template expects a list";
        GatekeeperConstraintKindMismatch = "gatekeeper/constraint-kind-mismatch", Error,
            summary: "A constraint named by a Suite is not of the kind that its template defines.",
            why: "A constraint must be an instance of its template, so gator fails the test.",
            example: "template: template.yaml       # defines K8sRequiredLabels\nconstraint: constraint.yaml   # kind: K8sAllowedRepos";
        GatekeeperInvalidExpansion = "gatekeeper/invalid-expansion", Error,
            summary: "The expansion file of a test does not hold valid ExpansionTemplates.",
            why: "gator cannot expand workloads into the resources that the constraint reviews, so the test fails.",
            example: "expansion: expansion.yaml   # an ExpansionTemplate without `spec.applyTo`";
    }
    OpaTest {
        OpaTestCompile = "opa-test/compile", Error,
            summary: "A `.rego` file of a folder with Rego tests does not parse or compile: a syntax error, an undefined function, a wrong number of arguments, an unsafe variable or recursion.",
            why: "`opa test` compiles a folder's modules together and runs none of its tests when one does not compile, so every test of the folder is an error.",
            example: "package k8s.labels\ntest_missing_label if {\n  count(violation with input as {}) == 1   # `violation` is defined nowhere\n}";
        OpaTestData = "opa-test/data", Error,
            summary: "A data file (`.json`, `.yaml`) beside the Rego tests does not hold an object, does not parse, or sets a key that another data file sets too.",
            why: "`opa test` cannot build the data document, so it runs none of the folder's tests.",
            example: "# data.json\n[\"registry.example.com\"]   # data files hold objects: {\"registries\": [...]}";
        OpaTestUnreadable = "opa-test/unreadable", Error,
            summary: "A `.rego` file of a folder with Rego tests cannot be read (not UTF-8, too large, or outside the workspace).",
            why: "`opa test` cannot load the folder, so none of its tests run.",
            example: "policies/labels_test.rego   # saved as UTF-16";
    }
    Apply {
        ApplyUnreadable = "apply/unreadable", Error,
            summary: "A path given to `policy-lsp apply` (policies, `--resource`, `--exceptions`, `--values-file`, `--userinfo`) does not exist or cannot be read.",
            why: "The policies or manifests in it would not be checked, so the run stops with exit code 2 instead of passing without them.",
            example: "policy-lsp apply policies/ --resource manifest.yml   # the file is manifest.yaml";
        ApplyYaml = "apply/yaml", Error,
            summary: "A policy or manifest file given to `policy-lsp apply` is not valid YAML.",
            why: "`kyverno apply` and `gator test` fail to load it (exit code 2 here), and nothing in it could be judged.",
            example: "metadata: {name: web   # the flow mapping is not closed";
        ApplyNotAnObject = "apply/not-an-object", Error,
            summary: "A document among the manifests is not a Kubernetes object: it has no `apiVersion` or `kind`.",
            why: "The API server, `kyverno apply` and `gator test` reject such a document, so it cannot be admitted or judged.",
            example: "name: web   # a bare mapping, without apiVersion and kind";
        ApplyNoPolicies = "apply/no-policies", Error,
            summary: "The policy paths of `policy-lsp apply` hold no Kyverno policy and no Gatekeeper constraint.",
            why: "Nothing would be checked, yet the run would pass: it stops with exit code 2 instead.",
            example: "policy-lsp apply docs/ --resource manifests/   # docs/ holds no policy";
        ApplyNoResources = "apply/no-resources", Error,
            summary: "The `--resource` paths of `policy-lsp apply` hold no Kubernetes object.",
            why: "Nothing would be judged, yet the run would pass: it stops with exit code 2 instead.",
            example: "kustomize build overlays/prod | policy-lsp apply policies/ --resource -   # the build printed nothing";
        ApplyInvalidValues = "apply/invalid-values", Error,
            summary: "The values of `policy-lsp apply` cannot be used: `--values-file` and `--set` together, a `--set` that is not `key=value`, or a values file that is not a mapping.",
            why: "`kyverno apply` refuses the same arguments, and variables the policies read would be missing.",
            example: "policy-lsp apply policies/ --resource pod.yaml --values-file values.yaml --set team=web";
        ApplyInvalidPolicy = "apply/invalid-policy", Error,
            summary: "A ClusterPolicy or Policy among the policies is refused by Kyverno's own validation.",
            why: "`kyverno apply` skips the policy and counts an error, and Kyverno's webhook would not admit it: it judges nothing.",
            example: "spec:\n  rules:\n    - validate:\n        message: \"{{ request.userInfo.username }}\"   # with background processing on (the default)";
        ApplyInvalidTemplate = "apply/invalid-template", Error,
            summary: "A ConstraintTemplate among the policies cannot be compiled.",
            why: "Gatekeeper and `gator test` reject the template, so none of its constraints judge anything.",
            example: "rego: |\n  package k8srequiredlabels\n  violation[{\"msg\": msg}] {   # never closed";
        ApplyInvalidConstraint = "apply/invalid-constraint", Error,
            summary: "A constraint among the policies does not fit its template (kind, name or parameter schema).",
            why: "Gatekeeper rejects the constraint and `gator test` stops, so it enforces nothing.",
            example: "spec:\n  parameters:\n    labels: team   # the template expects a list";
        ApplyMissingTemplate = "apply/missing-template", Error,
            summary: "A constraint among the policies has no ConstraintTemplate of its kind among them.",
            why: "A constraint cannot be added before its template: Gatekeeper rejects it and `gator test` stops.",
            example: "kind: K8sRequiredLabels   # and no template defines K8sRequiredLabels";
    }
    Policy {
        PolicyViolation = "policy/violation", Error,
            summary: "A policy of the workspace rejects the manifest: the message names the policy and rule and says why.",
            why: "The admission controller (or `policy-lsp apply` in CI) denies the object, or reports it when the policy audits; a failure the policy only warns about is shown as a warning.",
            example: "kind: Pod\nmetadata:\n  name: web   # a policy requires the label `team`";
        PolicyError = "policy/error", Error,
            summary: "A policy of the workspace could not judge the manifest: evaluating its rule ended in an error.",
            why: "Kyverno and Gatekeeper report the error instead of a verdict (and a policy that fails closed denies the object), so neither the policy nor the manifest is known to be right.",
            example: "pattern:\n  spec:\n    replicas: \"{{ divide(`1`, `0`) }}\"   # the rule errs on every Deployment";
        PolicyUnsupported = "policy/unsupported", Info,
            summary: "A policy of the workspace needs a registry, a cluster or the network to judge the manifest, which the editor does not reach.",
            why: "The result is neither a pass nor a failure: the admission controller decides it. `policy-lsp apply` reports it `unsupported` and fails the run, so nothing passes silently.",
            example: "verifyImages:\n  - imageReferences: [\"ghcr.io/*\"]   # checking signatures needs the registry";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variant name spells the string: `KyvernoTestMissingFile` is `kyverno-test/missing-file`, so a
    /// reader of either finds the other.
    #[test]
    fn variant_names_spell_their_strings() {
        for code in Code::ALL {
            let mut spelled = String::new();
            for character in format!("{code:?}").chars() {
                if character.is_ascii_uppercase() && !spelled.is_empty() {
                    spelled.push('-');
                }
                spelled.push(character.to_ascii_lowercase());
            }
            assert_eq!(spelled, code.as_str().replace('/', "-"), "{code:?}");
        }
    }

    #[test]
    fn every_code_belongs_to_the_group_its_string_names() {
        for code in Code::ALL {
            let (group, name) = code.as_str().split_once('/').expect("a code is `group/name`");
            assert_eq!(group, code.group().as_str(), "{code}");
            assert!(!name.is_empty() && !name.contains('/'), "{code}");
        }
        for group in Group::ALL {
            assert!(group.codes().next().is_some(), "group {group} has no code");
        }
    }
}
