//! Diagnostics of one file: YAML syntax, schema validation per document, and cross-file references.

use std::path::Path;

use super::config::{self, Config};
use super::schema_lookup::constraint_parameters_schema;
use super::types::span_range;
use super::workspace::{FileData, Workspace};
use super::{file_roles, test_file_checks};
use crate::base::{Code, Diagnostic, Fix, RelatedInformation, Severity, TextRange};
use crate::model::{DocumentInfo, DocumentKind, YamlVersion};
use crate::schema::{self, Reader, SchemaError, SchemaNode, Target, UnknownFields, ValidationOptions};
use crate::syntax::Segment;

/// Every diagnostic of a file: syntax, schema, cross-file references; filtered and re-graded by the file's
/// `.policy-lsp.yaml` (nothing for an excluded file).
pub(super) fn diagnostics(workspace: &Workspace, path: &Path) -> Vec<Diagnostic> {
    let Some(file) = workspace.file(path) else { return Vec::new() };
    let config = workspace.config_for(path);
    if config.is_some_and(|config| config.is_excluded(path)) {
        return Vec::new();
    }
    let mut found = if crate::testrun::opa::is_rego_file(path) {
        super::rego_file::rego_file_diagnostics(workspace, path, &file.source.text())
    } else {
        file_diagnostics(workspace, path, file)
    };
    if config::is_config_file(path)
        && let Some(segment) = file.source.segments().first()
    {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        found.extend(Config::from_document(base, &segment.parsed, segment.start).1);
        found.sort_by_key(|diagnostic| (diagnostic.range.start, diagnostic.range.end));
    }
    match config {
        Some(config) => config.apply(found),
        None => found,
    }
}

fn file_diagnostics(workspace: &Workspace, path: &Path, file: &FileData) -> Vec<Diagnostic> {
    if let Some(range) = file_roles::helm_template(workspace, path, file.source.segments()) {
        let message = "a Helm chart template: its YAML exists only after rendering, so it is not checked here; \
                       lint the rendered output with `helm template CHART | policy-lsp lint -`";
        return vec![Diagnostic::new(Code::YamlHelmTemplate, range, message)];
    }
    let mut diagnostics = Vec::new();
    for (index, segment) in file.source.segments().iter().enumerate() {
        let info = &file.documents[index];
        if let Some(problem) = file_roles::legacy_test_problem(path, &segment.parsed.value) {
            // On the old `name` key when there is one, else on the document's first key.
            let first_key =
                segment.parsed.source_map.iter().filter_map(|(_, span)| span.key).min_by_key(|key| key.start);
            let key = segment.parsed.source_map.get("/name").and_then(|span| span.key).or(first_key);
            let range = key.unwrap_or_else(|| TextRange::empty(0)).shifted(segment.start);
            diagnostics.push(Diagnostic::new(Code::TestLegacyFormat, range, problem));
        }
        let partial = file_roles::chainsaw_partial(workspace, path, &segment.parsed.value);
        // Tests, suites and constraints are checked against other files, and so is whether a Chainsaw
        // test names a document as an assertion: nothing about them is cached.
        let depends_on_other_files = partial
            || matches!(info.kind, DocumentKind::KyvernoTest | DocumentKind::GatorSuite | DocumentKind::Constraint);
        if depends_on_other_files {
            document_diagnostics(workspace, path, segment, info, partial, &mut diagnostics);
            test_file_checks::reference_diagnostics(workspace, path, segment, info, &mut diagnostics);
            continue;
        }
        let local = file.local_diagnostics(index, || {
            let mut found = Vec::new();
            document_diagnostics(workspace, path, segment, info, false, &mut found);
            found.into_iter().map(|diagnostic| shift(diagnostic, |offset| offset - segment.start)).collect()
        });
        diagnostics.extend(local.iter().cloned().map(|diagnostic| shift(diagnostic, |offset| offset + segment.start)));
        // Outside the cache: it reads the `src.rego` the template was generated from.
        if info.kind == DocumentKind::ConstraintTemplate {
            super::generated_template::stale_template_diagnostics(workspace, path, segment, &mut diagnostics);
        }
    }
    diagnostics.sort_by_key(|diagnostic| (diagnostic.range.start, diagnostic.range.end));
    diagnostics
}

/// What one document says about itself: syntax, schema and embedded languages.
fn document_diagnostics(
    workspace: &Workspace,
    path: &Path,
    segment: &Segment,
    info: &DocumentInfo,
    partial: bool,
    out: &mut Vec<Diagnostic>,
) {
    for error in &segment.parsed.errors {
        // Each code's default severity applies: a document too long for exact positions is still read in
        // full, so `yaml/too-long` is a warning, every other syntax error an error.
        let mut diagnostic = Diagnostic::new(error.code, error.range.shifted(segment.start), error.message.clone());
        if let Some((related, what)) = error.related {
            diagnostic = diagnostic.with_related(RelatedInformation {
                file: None,
                range: related.shifted(segment.start),
                message: what.to_string(),
            });
        }
        out.push(diagnostic);
    }
    schema_diagnostics(workspace, path, segment, info, partial, out);
    if info.kind == DocumentKind::KyvernoPolicy {
        // Kyverno reads YAML 1.1: `background: off` is false there. Converted only when such a scalar is
        // there (rarely): this runs on every keystroke.
        let yaml11 = info.yaml_version() == YamlVersion::V1_1 && !segment.parsed.yaml11_booleans.is_empty();
        let value = match yaml11 {
            true => std::borrow::Cow::Owned(segment.parsed.yaml11_value()),
            false => std::borrow::Cow::Borrowed(&segment.parsed.value),
        };
        let rejections = crate::engine::kyverno::policy_validation::rejections(&value);
        for rejection in rejections.into_iter().filter(|rejection| !rejection.already_linted) {
            let range = span_range(segment, &rejection.pointer, Target::Value);
            let message = format!("Kyverno refuses this policy: {}", rejection.message);
            out.push(Diagnostic::new(Code::SchemaRefusedPolicy, range, message));
        }
    }
    super::cel::cel_diagnostics(segment, out);
    super::jmespath::jmespath_diagnostics(segment, info, out);
    super::rego_diagnostics::embedded_diagnostics(segment, info, out);
}

/// Moves every range of a diagnostic (its own, its same-file related places, its fix) by `map`.
fn shift(mut diagnostic: Diagnostic, map: impl Fn(usize) -> usize) -> Diagnostic {
    let move_range = |range: TextRange| TextRange::new(map(range.start), map(range.end));
    diagnostic.range = move_range(diagnostic.range);
    for related in diagnostic.related.iter_mut().filter(|related| related.file.is_none()) {
        related.range = move_range(related.range);
    }
    if let Some(fix) = diagnostic.fix.as_mut() {
        fix.range = move_range(fix.range);
    }
    diagnostic
}

fn schema_diagnostics(
    workspace: &Workspace,
    path: &Path,
    segment: &Segment,
    info: &DocumentInfo,
    partial: bool,
    out: &mut Vec<Diagnostic>,
) {
    let parsed = &segment.parsed;
    // No schema is bundled for Chainsaw's own kinds, and Chainsaw checks them itself.
    if matches!(info.kind, DocumentKind::Other | DocumentKind::Chainsaw) {
        return;
    }
    let registry = schema::registry();
    let Some(entry) = registry.lookup(&info.api_version, &info.kind_name) else {
        unknown_kind(info, segment, out);
        return;
    };
    if entry.deprecated {
        let message = entry
            .deprecation_warning
            .clone()
            .unwrap_or_else(|| format!("{} {} is deprecated", entry.api_version, entry.kind));
        let range = span_range(segment, "/apiVersion", Target::Value);
        out.push(Diagnostic::new(Code::SchemaDeprecatedVersion, range, message));
    }
    if !entry.namespaced && info.namespace.is_some() && info.kind != DocumentKind::Constraint {
        let range = span_range(segment, "/metadata/namespace", Target::Key);
        let message = format!("{} is cluster-scoped: `metadata.namespace` is ignored", info.kind_name);
        out.push(Diagnostic::new(Code::SchemaClusterScoped, range, message));
    }
    let plain_resource = info.kind == DocumentKind::Resource;
    let options = ValidationOptions {
        unknown_field_severity: match entry.unknown_fields {
            UnknownFields::Error => Severity::Error,
            UnknownFields::Warning => Severity::Warning,
        },
        violation_severity: if plain_resource { Severity::Warning } else { Severity::Error },
        // The Kyverno CLI decodes its own files into Go structs without a schema
        // (`cmd/cli/kubectl-kyverno/test/load.go`, `values/load.go`).
        reader: if info.group() == "cli.kyverno.io" { Reader::GoStruct } else { Reader::ApiServer },
        yaml11_booleans: if info.yaml_version() == YamlVersion::V1_1 { &parsed.yaml11_booleans } else { &[] },
    };
    let errors = if info.kind == DocumentKind::Constraint {
        let Some(root) = registry.root(entry) else { return };
        let mut constraint_schema = root.value.clone();
        if let Some(parameters) = constraint_parameters_schema(workspace, path, &info.kind_name)
            && let Some(slot) = constraint_schema.pointer_mut("/properties/spec/properties/parameters")
        {
            *slot = parameters;
        }
        schema::validate(registry, SchemaNode { file: root.file, value: &constraint_schema }, &parsed.value, &options)
    } else {
        let Some(root) = registry.root(entry) else { return };
        schema::validate(registry, root, &parsed.value, &options)
    };
    let has_syntax_errors = !parsed.errors.is_empty();
    for error in errors {
        // A half-typed document is missing fields only because the parser dropped them, and a Chainsaw
        // assertion names only the fields it compares.
        if (has_syntax_errors || partial) && error.code == Code::SchemaRequired {
            continue;
        }
        // Chainsaw's expression keys (`(conditions[?type == 'Ready'])`, `~.(containers)`) are no fields.
        if partial && error.pointer.split('/').any(|segment| segment.starts_with(['(', '~'])) {
            continue;
        }
        let missing = (error.code == Code::SchemaRequired).then(|| (error.pointer.clone(), error.suggestion.clone()));
        let mut diagnostic = schema_error_diagnostic(segment, error);
        if let Some((pointer, Some(name))) = missing
            && let Some(fix) = super::yaml_edits::missing_field_fix(workspace, path, info, segment, &pointer, &name)
        {
            diagnostic = diagnostic.with_fix(fix);
        }
        out.push(diagnostic);
    }
}

fn unknown_kind(info: &DocumentInfo, segment: &Segment, out: &mut Vec<Diagnostic>) {
    let registry = schema::registry();
    let group = info.group();
    let versions = registry.versions_of(&info.kind_name);
    if !versions.is_empty() {
        let range = span_range(segment, "/apiVersion", Target::Value);
        let message = format!(
            "{} is not served as `{}`; use one of {}",
            info.kind_name,
            info.api_version,
            versions.iter().map(|version| format!("`{version}`")).collect::<Vec<_>>().join(", ")
        );
        // Plain resources are test fixtures, and testing a policy against a removed API version is legitimate.
        let severity = if info.kind == DocumentKind::Resource { Severity::Warning } else { Severity::Error };
        out.push(Diagnostic::new(Code::SchemaUnknownKind, range, message).with_severity(severity));
        return;
    }
    if group.is_empty() || !registry.knows_group(group) || group == "constraints.gatekeeper.sh" {
        return;
    }
    let kinds: Vec<&str> = registry
        .entries()
        .iter()
        .filter(|entry| entry.api_version == info.api_version)
        .map(|entry| entry.kind.as_str())
        .collect();
    let suggestion = schema::closest(&info.kind_name, kinds.iter().copied());
    let message = match suggestion {
        Some(suggestion) => {
            format!("unknown kind `{}` in {}; did you mean `{suggestion}`?", info.kind_name, info.api_version)
        }
        None => format!("unknown kind `{}` in {}", info.kind_name, info.api_version),
    };
    let range = span_range(segment, "/kind", Target::Value);
    // The Kyverno CLI decodes values, userinfo and context files by where a test references them and never
    // checks their kind, so a wrong kind there still works: worth a warning, not an error.
    if group == "cli.kyverno.io" {
        let message = format!("{message}; the Kyverno CLI does not check the kind of the files a test references");
        out.push(Diagnostic::new(Code::SchemaUnknownKind, range, message).with_severity(Severity::Warning));
        return;
    }
    // In a policy engine's own group the kind is a policy mistyped, which the CRDs reject. Elsewhere a
    // kind no API serves is a test fixture as often as a mistake: gator reviews made-up kinds for
    // expansion templates, and `kyverno test` any object it is given.
    let policy_group = matches!(group, "kyverno.io" | "policies.kyverno.io") || group.ends_with("gatekeeper.sh");
    let severity = if policy_group { Severity::Error } else { Severity::Warning };
    out.push(Diagnostic::new(Code::SchemaUnknownKind, range, message).with_severity(severity));
}

fn schema_error_diagnostic(segment: &Segment, error: SchemaError) -> Diagnostic {
    let range = span_range(segment, &error.pointer, error.target);
    let fix = match (error.code, &error.suggestion) {
        (Code::SchemaUnknownField | Code::SchemaEnum | Code::SchemaConst, Some(suggestion)) => {
            // Replace only a plain token: a quoted or multi-line value keeps its own form.
            let text = segment.text.get(range.start - segment.start..range.end - segment.start).unwrap_or("");
            (!text.is_empty() && !text.contains(['\n', '"', '\''])).then(|| Fix {
                title: format!("Change to `{suggestion}`"),
                range,
                replacement: suggestion.clone(),
            })
        }
        _ => None,
    };
    let diagnostic = Diagnostic::new(error.code, range, error.message).with_severity(error.severity);
    match fix {
        Some(fix) => diagnostic.with_fix(fix),
        None => diagnostic,
    }
}
