//! The repository configuration, `.policy-lsp.yaml`, shared by the CLI and the language server: files to
//! leave out, diagnostic codes to turn off or re-grade, whether tests run inline, and the Rego version of
//! `.rego` files that do not say. Parsing is lenient
//! (whatever is valid applies) and every problem becomes a diagnostic on the config file itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde_json::Value;

use crate::base::{Code, Diagnostic, Group, Reported, Severity, TextRange};
use crate::engine::opa::VersionSetting;
use crate::syntax::ParsedDocument;

/// The file name looked up at the workspace root (the enclosing git repository for the CLI).
pub const CONFIG_FILE_NAME: &str = ".policy-lsp.yaml";

/// What a `lint.severity` entry does to a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeverityOverride {
    Off,
    Level(Severity),
}

/// Settings for one workspace root.
#[derive(Clone, Debug)]
pub struct Config {
    /// The directory `exclude` globs are relative to.
    pub base: PathBuf,
    pub exclude: Vec<String>,
    exclude_set: GlobSet,
    /// Codes (`schema/deprecated`) or groups (`schema`, `schema/*`) never reported.
    pub disable: Vec<String>,
    /// Codes or groups reported at another severity, or not at all.
    pub severity: BTreeMap<String, SeverityOverride>,
    /// Whether the editor shows test results inline.
    pub tests_inline: bool,
    /// `rego.version`: how `.rego` files without `import rego.v1` are read (`v0`, `v1`, or `auto`, the
    /// default: v1 when the file parses as v1, else v0).
    pub rego_version: VersionSetting,
}

impl Config {
    /// The settings when there is no file: everything on.
    pub fn empty(base: PathBuf) -> Config {
        Config {
            base,
            exclude: Vec::new(),
            exclude_set: GlobSet::empty(),
            disable: Vec::new(),
            severity: BTreeMap::new(),
            tests_inline: true,
            rego_version: VersionSetting::Auto,
        }
    }

    /// Reads a config file's parsed document. Problems become diagnostics; valid settings still apply.
    pub fn from_document(base: PathBuf, document: &ParsedDocument, start: usize) -> (Config, Vec<Diagnostic>) {
        let mut reader = Reader { document: Some((document, start)), problems: Vec::new() };
        let mut config = Config::empty(base);
        reader.overlay(&mut config, &document.value);
        (config, reader.problems)
    }

    /// The settings with editor settings (the same shape as the file) laid over them: lists are joined,
    /// single values and severities from the editor win.
    pub fn with_settings(&self, settings: &Value) -> Config {
        let mut reader = Reader { document: None, problems: Vec::new() };
        let mut config = self.clone();
        reader.overlay(&mut config, settings);
        config
    }

    /// The same settings without `exclude`, for a front end that leaves excluded files out itself and
    /// checks every file it is given (the CLI lints a file named on its command line).
    pub fn without_exclude(&self) -> Config {
        Config { exclude: Vec::new(), exclude_set: GlobSet::empty(), ..self.clone() }
    }

    /// Whether a file is left out of linting and scanning: a glob matches its path relative to `base`, or
    /// one of its directories.
    pub fn is_excluded(&self, path: &Path) -> bool {
        if self.exclude.is_empty() {
            return false;
        }
        let Ok(relative) = path.strip_prefix(&self.base) else { return false };
        relative
            .ancestors()
            .filter(|ancestor| !ancestor.as_os_str().is_empty())
            .any(|ancestor| self.exclude_set.is_match(ancestor))
    }

    /// Drops disabled codes and applies severity overrides.
    pub fn apply(&self, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
        if self.disable.is_empty() && self.severity.is_empty() {
            return diagnostics;
        }
        diagnostics
            .into_iter()
            .filter_map(|mut diagnostic| {
                if self.disable.iter().any(|pattern| code_matches(pattern, diagnostic.code)) {
                    return None;
                }
                // The most specific entry wins: an exact code over its group.
                let chosen = self
                    .severity
                    .iter()
                    .filter(|(pattern, _)| code_matches(pattern, diagnostic.code))
                    .max_by_key(|(pattern, _)| pattern.len());
                match chosen {
                    Some((_, SeverityOverride::Off)) => None,
                    Some((_, SeverityOverride::Level(severity))) => {
                        diagnostic.severity = *severity;
                        Some(diagnostic)
                    }
                    None => Some(diagnostic),
                }
            })
            .collect()
    }
}

/// Whether a pattern (`schema/deprecated`, `schema/*`, `schema`) covers a code.
fn code_matches(pattern: &str, code: Code) -> bool {
    pattern == code.as_str() || group_pattern(pattern) == Some(code.group())
}

/// What to say about a pattern that names no code and no group.
fn unknown_code_message(pattern: &str) -> String {
    if let Some(suggestion) = crate::schema::closest(pattern, Code::names_and_groups()) {
        return format!("`{pattern}` is not a diagnostic code; did you mean `{suggestion}`?");
    }
    let groups: Vec<&str> = Group::ALL
        .iter()
        .filter(|group| group.reported() == Reported::Diagnostic)
        .map(|group| group.as_str())
        .collect();
    format!("`{pattern}` is not a diagnostic code; codes look like `schema/deprecated` (groups: {})", groups.join(", "))
}

/// The group a pattern names as a whole (`schema` or `schema/*`).
fn group_pattern(pattern: &str) -> Option<Group> {
    pattern.strip_suffix("/*").unwrap_or(pattern).parse().ok()
}

struct Reader<'a> {
    /// The config file's document, for placing problems; `None` for editor settings.
    document: Option<(&'a ParsedDocument, usize)>,
    problems: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn problem(&mut self, code: Code, pointer: &str, key: bool, message: String) {
        let Some((document, start)) = self.document else { return };
        let Some((_, span)) = document.source_map.nearest(pointer) else { return };
        let range = if key { span.key_or_value() } else { span.value_or_key() };
        let range = if range.is_empty() { TextRange::new(range.start, range.start + 1) } else { range };
        self.problems.push(Diagnostic::new(code, range.shifted(start), message));
    }

    fn unknown_keys(&mut self, map: &serde_json::Map<String, Value>, pointer: &str, known: &[&str]) {
        for key in map.keys().filter(|key| !known.contains(&key.as_str())) {
            let mut message = format!("unknown setting `{key}`; known here: {}", known.join(", "));
            if let Some(suggestion) = crate::schema::closest(key, known.iter().copied()) {
                message = format!("unknown setting `{key}`; did you mean `{suggestion}`?");
            }
            self.problem(Code::ConfigUnknownField, &format!("{pointer}/{key}"), true, message);
        }
    }

    fn strings(&mut self, value: &Value, pointer: &str) -> Vec<(usize, String)> {
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| match item {
                    Value::String(text) => Some((index, text.clone())),
                    _ => {
                        let message = "expected a string".to_string();
                        self.problem(Code::ConfigInvalid, &format!("{pointer}/{index}"), false, message);
                        None
                    }
                })
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.problem(Code::ConfigInvalid, pointer, false, "expected a list of strings".to_string());
                Vec::new()
            }
        }
    }

    /// Warns about a `lint` entry that changes nothing: a code or group that does not exist (with a
    /// did-you-mean), or one reported by the test runner, which these settings do not govern.
    fn check_code(&mut self, pattern: &str, pointer: &str, key: bool) {
        let group = group_pattern(pattern).or_else(|| pattern.parse::<Code>().ok().map(Code::group));
        let message = match group {
            Some(group) if group.reported() == Reported::Diagnostic => return,
            Some(_) => format!(
                "`{pattern}` names problems of `policy-lsp test`, which always fail the run; `lint` settings do not \
                 change them"
            ),
            None => unknown_code_message(pattern),
        };
        self.problem(Code::ConfigUnknownCode, pointer, key, message);
    }

    fn overlay(&mut self, config: &mut Config, root: &Value) {
        let Some(map) = root.as_object() else {
            if !root.is_null() {
                self.problem(Code::ConfigInvalid, "", false, "expected a mapping of settings".to_string());
            }
            return;
        };
        self.unknown_keys(map, "", &["exclude", "lint", "tests", "rego"]);
        if let Some(exclude) = map.get("exclude") {
            let mut builder = GlobSetBuilder::new();
            for pattern in &config.exclude {
                if let Some(glob) = glob_of(pattern) {
                    builder.add(glob);
                }
            }
            for (index, pattern) in self.strings(exclude, "/exclude") {
                match glob_of(&pattern) {
                    Some(glob) => {
                        builder.add(glob);
                        config.exclude.push(pattern);
                    }
                    None => {
                        let message = format!("`{pattern}` is not a valid glob");
                        self.problem(Code::ConfigInvalid, &format!("/exclude/{index}"), false, message);
                    }
                }
            }
            config.exclude_set = builder.build().unwrap_or_else(|_| GlobSet::empty());
        }
        if let Some(lint) = map.get("lint") {
            match lint.as_object() {
                Some(lint_map) => {
                    self.unknown_keys(lint_map, "/lint", &["disable", "severity"]);
                    if let Some(disable) = lint_map.get("disable") {
                        for (index, code) in self.strings(disable, "/lint/disable") {
                            self.check_code(&code, &format!("/lint/disable/{index}"), false);
                            if !config.disable.contains(&code) {
                                config.disable.push(code);
                            }
                        }
                    }
                    if let Some(severity) = lint_map.get("severity") {
                        self.severities(config, severity);
                    }
                }
                None if lint.is_null() => {}
                None => self.problem(Code::ConfigInvalid, "/lint", false, "expected a mapping".to_string()),
            }
        }
        if let Some(tests) = map.get("tests") {
            match tests.as_object() {
                Some(tests_map) => {
                    self.unknown_keys(tests_map, "/tests", &["inline"]);
                    match tests_map.get("inline") {
                        Some(Value::Bool(inline)) => config.tests_inline = *inline,
                        Some(Value::String(text)) if matches!(text.as_str(), "on" | "off") => {
                            config.tests_inline = text == "on";
                        }
                        None | Some(Value::Null) => {}
                        Some(_) => {
                            let message = "expected `true` or `false`".to_string();
                            self.problem(Code::ConfigInvalid, "/tests/inline", false, message);
                        }
                    }
                }
                None if tests.is_null() => {}
                None => self.problem(Code::ConfigInvalid, "/tests", false, "expected a mapping".to_string()),
            }
        }
        if let Some(rego) = map.get("rego") {
            match rego.as_object() {
                Some(rego_map) => {
                    self.unknown_keys(rego_map, "/rego", &["version"]);
                    match rego_map.get("version").map(|version| (version, version.as_str())) {
                        Some((_, Some("v0"))) => config.rego_version = VersionSetting::V0,
                        Some((_, Some("v1"))) => config.rego_version = VersionSetting::V1,
                        Some((_, Some("auto"))) => config.rego_version = VersionSetting::Auto,
                        None | Some((Value::Null, _)) => {}
                        Some((version, _)) => {
                            let message = format!("`{}` is not one of v0, v1, auto", compact(version));
                            self.problem(Code::ConfigInvalid, "/rego/version", false, message);
                        }
                    }
                }
                None if rego.is_null() => {}
                None => self.problem(Code::ConfigInvalid, "/rego", false, "expected a mapping".to_string()),
            }
        }
    }

    fn severities(&mut self, config: &mut Config, value: &Value) {
        let Some(entries) = value.as_object() else {
            if !value.is_null() {
                let message = "expected a mapping from code to error, warning, info, hint or off".to_string();
                self.problem(Code::ConfigInvalid, "/lint/severity", false, message);
            }
            return;
        };
        for (code, level) in entries {
            let pointer = format!("/lint/severity/{}", code.replace('~', "~0").replace('/', "~1"));
            self.check_code(code, &pointer, true);
            let chosen = match level.as_str() {
                Some("error") => SeverityOverride::Level(Severity::Error),
                Some("warning") => SeverityOverride::Level(Severity::Warning),
                Some("info") => SeverityOverride::Level(Severity::Info),
                Some("hint") => SeverityOverride::Level(Severity::Hint),
                Some("off") => SeverityOverride::Off,
                _ => {
                    let message = format!("`{}` is not one of error, warning, info, hint, off", compact(level));
                    self.problem(Code::ConfigInvalid, &pointer, false, message);
                    continue;
                }
            };
            config.severity.insert(code.clone(), chosen);
        }
    }
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A gitignore-like glob: a pattern without `/` matches at any depth; a trailing `/` is dropped (every
/// pattern also covers what is below a matching directory).
fn glob_of(pattern: &str) -> Option<globset::Glob> {
    let trimmed = pattern.trim().trim_start_matches("./").trim_end_matches('/');
    if trimmed.is_empty() {
        return None;
    }
    let anchored = match trimmed.strip_prefix('/') {
        Some(rooted) => rooted.to_string(),
        None if trimmed.contains('/') => trimmed.to_string(),
        None => format!("**/{trimmed}"),
    };
    GlobBuilder::new(&anchored).literal_separator(true).build().ok()
}

/// Whether a path is a config file.
pub fn is_config_file(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name == CONFIG_FILE_NAME)
}
