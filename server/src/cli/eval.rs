//! `policy-lsp eval`: evaluates a Rego query as `opa eval` does, so that a live-state check such as
//! `kubectl get pods -o yaml | policy-lsp eval -d policies/ -i - data.pods.violations` runs without OPA.
//!
//! Loading follows OPA's loader (`v1/loader`): a `-d` file is a module or a data file placed at the root
//! of `data`; a `-d` folder is walked, its modules loaded and each data file placed at the path of its
//! directory below the folder. The output is the document of `opa eval --format json`, written as Go's
//! JSON encoder writes it (two-space indent, `<`, `>` and `&` escaped), or the values alone.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::status::ExitStatus;
use crate::base::line_and_column;
use crate::engine::opa::{self, Bundle, Module, RunLimits, VersionSetting, errors_document};
use crate::testrun::FileSource;
use crate::testrun::opa::{data_document, is_data_file, is_rego_file};
use crate::vfs::{DiskFiles, read_text};

pub struct EvalOptions {
    pub query: String,
    pub data: Vec<PathBuf>,
    /// A JSON or YAML file, or `-` for stdin.
    pub input: Option<PathBuf>,
    /// `json` or `values`.
    pub format: String,
    /// Exit with 1 when the query is undefined (`opa eval --fail`).
    pub fail: bool,
    /// Exit with 1 when the query is defined (`opa eval --fail-defined`).
    pub fail_defined: bool,
    pub timeout: Option<Duration>,
    pub version: Option<VersionSetting>,
}

pub fn run(options: EvalOptions) -> ExitStatus {
    if !matches!(options.format.as_str(), "json" | "values") {
        eprintln!("error: --format {}: policy-lsp eval writes `json` (as opa eval) or `values`", options.format);
        return ExitStatus::UsageError;
    }
    let input = match &options.input {
        Some(path) => match read_input(path) {
            Ok(input) => Some(input),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitStatus::UsageError;
            }
        },
        None => None,
    };
    let version = options.version.unwrap_or_else(|| {
        let roots: Vec<PathBuf> = options.data.iter().map(|path| crate::vfs::workspace_root(path)).collect();
        crate::vfs::read_configs(&roots).first().map_or(VersionSetting::Auto, |config| config.rego_version)
    });
    let loaded = match load(&options.data, version) {
        Ok(loaded) => loaded,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            return ExitStatus::UsageError;
        }
        Err(Failure::Errors(errors)) => return print_errors(&errors),
    };
    let limits = options.timeout.map(|timeout| RunLimits { timeout }).unwrap_or_default();
    let mut compiled = match opa::compile(&loaded.bundle, limits) {
        Ok(compiled) => compiled,
        Err(problems) => {
            let errors = problems
                .into_iter()
                .map(|problem| {
                    let location = problem.module.map(|index| {
                        let (row, col) = line_and_column(&loaded.bundle.modules[index].text, problem.range.start);
                        (loaded.paths[index].display().to_string(), row, col)
                    });
                    LoadError { code: "rego_compile_error", message: problem.message, location }
                })
                .collect::<Vec<_>>();
            return print_errors(&errors);
        }
    };
    let output = opa::evaluate(&mut compiled, input, &options.query);
    for line in &output.output {
        eprintln!("{line}");
    }
    if options.format == "values" && !output.failed {
        for result in output.document.get("result").and_then(Value::as_array).into_iter().flatten() {
            let values: Vec<Value> = result
                .get("expressions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|expression| expression.get("value").cloned().unwrap_or(Value::Null))
                .collect();
            print!("{}", go_json(&Value::Array(values)));
        }
    } else {
        print!("{}", go_json(&output.document));
    }
    if output.failed || (options.fail && !output.defined) || (options.fail_defined && output.defined) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

/// What `-d` loaded: the bundle and the path of each of its modules.
struct Loaded {
    bundle: Bundle,
    paths: Vec<PathBuf>,
}

/// Why loading stopped: a path that cannot be read (a usage error), or Rego and data that OPA would
/// refuse (reported in the output, as `opa eval` reports them).
enum Failure {
    Usage(String),
    Errors(Vec<LoadError>),
}

struct LoadError {
    code: &'static str,
    message: String,
    /// File, 1-based row and column.
    location: Option<(String, usize, usize)>,
}

fn load(paths: &[PathBuf], version: VersionSetting) -> Result<Loaded, Failure> {
    let roots: Vec<PathBuf> = paths.iter().map(|path| crate::vfs::workspace_root(path)).collect();
    let disk = DiskFiles::within(&roots);
    let mut modules: Vec<(PathBuf, Module)> = Vec::new();
    let mut data = json!({});
    let mut errors = Vec::new();
    for root in paths {
        let files: Vec<(PathBuf, Vec<String>)> = match disk.list_dir(root) {
            Some(_) => walk(&disk, root),
            None => vec![(root.clone(), Vec::new())],
        };
        for (path, data_path) in files {
            if is_rego_file(&path) {
                let text = disk.read(&path).map_err(|error| Failure::Usage(error.to_string()))?;
                match opa::parse_module(&path.display().to_string(), &text, version) {
                    Ok(module) => modules.push((path, module)),
                    Err(failure) => {
                        let (row, col) = line_and_column(&text, failure.range.start);
                        errors.push(LoadError {
                            code: "rego_parse_error",
                            message: failure.message,
                            location: Some((path.display().to_string(), row, col)),
                        });
                    }
                }
            } else if is_data_file(&path) {
                match data_document(&disk, &path) {
                    Ok(Some(document)) => {
                        if let Err(message) = opa::merge_data_file(&mut data, &data_path, document) {
                            errors.push(LoadError {
                                code: "load_error",
                                message: format!("{}: {message}", path.display()),
                                location: None,
                            });
                        }
                    }
                    Ok(None) => {}
                    Err(message) => errors.push(LoadError { code: "load_error", message, location: None }),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Errors(errors));
    }
    modules.sort_by(|left, right| left.0.cmp(&right.0));
    let (paths, modules): (Vec<PathBuf>, Vec<Module>) = modules.into_iter().unzip();
    Ok(Loaded { bundle: Bundle { modules, data }, paths })
}

/// Every file below a folder, with the directory names between the folder and the file (the data path
/// of a data file there). Hidden folders are left out, as OPA's loader leaves them.
fn walk(files: &dyn FileSource, root: &Path) -> Vec<(PathBuf, Vec<String>)> {
    let mut found = Vec::new();
    let mut pending = vec![(root.to_path_buf(), Vec::<String>::new())];
    while let Some((directory, prefix)) = pending.pop() {
        for entry in files.list_dir(&directory).unwrap_or_default() {
            let name = entry.file_name().map(|name| name.to_string_lossy().to_string()).unwrap_or_default();
            if files.list_dir(&entry).is_some() {
                if !name.starts_with('.') {
                    let mut inner = prefix.clone();
                    inner.push(name);
                    pending.push((entry, inner));
                }
            } else {
                found.push((entry, prefix.clone()));
            }
        }
    }
    found
}

/// The input document from a file or stdin: JSON, or YAML (one document).
fn read_input(path: &Path) -> Result<Value, String> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|error| format!("reading the input from stdin: {error}"))?;
        text
    } else {
        read_text(path).map_err(|error| error.to_string())?
    };
    let name = if path == Path::new("-") { "stdin".to_string() } else { path.display().to_string() };
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        return Ok(value);
    }
    let documents = crate::syntax::parse_file(&text);
    if let Some(error) = documents.iter().find_map(|document| document.errors.first()) {
        return Err(format!("the input {name} is neither JSON nor YAML: {}", error.message));
    }
    let mut values = documents.into_iter().map(|document| document.value.clone()).filter(|value| !value.is_null());
    let first = values.next().unwrap_or(Value::Null);
    if values.next().is_some() {
        return Err(format!("the input {name} holds several YAML documents; give one (a List for several objects)"));
    }
    Ok(first)
}

fn print_errors(errors: &[LoadError]) -> ExitStatus {
    let listed: Vec<(&str, String)> = errors.iter().map(|error| (error.code, error.message.clone())).collect();
    let mut document = errors_document(&listed);
    if let Some(entries) = document.get_mut("errors").and_then(Value::as_array_mut) {
        for (entry, error) in entries.iter_mut().zip(errors) {
            if let (Some(object), Some((file, row, col))) = (entry.as_object_mut(), &error.location) {
                object.insert("location".to_string(), json!({"file": file, "row": row, "col": col}));
            }
        }
    }
    print!("{}", go_json(&document));
    ExitStatus::Failure
}

/// JSON as Go's `encoding/json` encoder writes it for `opa eval`: indented by two spaces, a newline at the
/// end, and `<`, `>`, `&`, U+2028 and U+2029 escaped (they appear only inside strings, so replacing them
/// in the text is exact).
pub fn go_json(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let mut escaped = String::with_capacity(text.len() + 1);
    for character in text.chars() {
        match character {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            other => escaped.push(other),
        }
    }
    escaped.push('\n');
    escaped
}
