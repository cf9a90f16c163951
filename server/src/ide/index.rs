//! The cross-file index: the [`FileFacts`] of every known file (computed once per loaded file, kept
//! alone for files nobody has open), and the looks across the workspace made from them: which files are
//! tests and what they name. Providers filter the workspace by facts first and load only the few files
//! that match, so neither memory nor a request grows with the files that have nothing to do with it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::types::normalize_path;
use super::workspace::{DocumentFacts, FileData, FileFacts, Workspace};
use crate::model::{DocumentInfo, DocumentKind, classify};
use crate::syntax::{SourceFile, quick_values};
use crate::testrun::Framework;

/// Test path fields that name one file or directory each (Kyverno Test lists and single values).
pub(super) const TEST_PATH_LISTS: &[&str] =
    &["policies", "resources", "exceptions", "clusterResources", "targetResources", "paramResources"];
pub(super) const TEST_PATH_VALUES: &[&str] = &["variables", "userinfo", "context"];

/// The facts of a file read from disk, for the index of files nobody has open. libyaml reads the
/// values alone (the facts need no syntax tree or source map); a file it cannot read as the full parse
/// would goes the full way, so its documents and values are those the file has once loaded.
pub fn facts_of_text(path: &Path, text: &str) -> FileFacts {
    match quick_values(text) {
        Some(values) => {
            let documents = values.iter().map(|value| document_facts(path, classify(value), value)).collect();
            FileFacts { documents, fingerprint: fingerprint(text) }
        }
        None => compute(path, &FileData::new(SourceFile::new_without_trees(text))),
    }
}

/// The facts of a known file: cached on a loaded one, from the index for the others.
pub(super) fn facts(workspace: &Workspace, path: &Path) -> Option<Arc<FileFacts>> {
    match workspace.file(path) {
        Some(file) => Some(file.facts(|| compute(path, file))),
        None => workspace.indexed(path).cloned(),
    }
}

/// Every known file whose facts pass `wanted`: the loaded ones, then the indexed ones not loaded. The
/// facts are asked first, so an index of many files costs a look at each one's facts, and a path lookup
/// (hashing the path) only for the few that pass: done on every keystroke (which tests name the file),
/// a lookup for each of 50,000 files was most of a keystroke's time.
pub(super) fn all_where<'w>(
    workspace: &'w Workspace,
    wanted: impl Fn(&FileFacts) -> bool + Clone + 'w,
) -> impl Iterator<Item = (&'w PathBuf, Arc<FileFacts>)> + 'w {
    let loaded = workspace.files.iter().map(|(path, file)| (path, file.facts(|| compute(path, file))));
    let wanted_loaded = wanted.clone();
    let loaded = loaded.filter(move |(_, facts)| wanted_loaded(facts));
    let indexed = workspace.index.iter().filter(move |(path, facts)| wanted(facts) && workspace.file(path).is_none());
    loaded.chain(indexed.map(|(path, facts)| (path, facts.clone())))
}

/// Whether one of a file's documents is of `kind`, by its facts.
pub(super) fn holds(facts: &FileFacts, kind: DocumentKind) -> bool {
    facts.documents.iter().any(|document| document.info.kind == kind)
}

fn compute(path: &Path, file: &FileData) -> FileFacts {
    let documents = file
        .source
        .segments()
        .iter()
        .zip(&file.documents)
        .map(|(segment, info)| document_facts(path, info.clone(), &segment.parsed.value))
        .collect();
    FileFacts { documents, fingerprint: fingerprint(&file.source.text()) }
}

fn fingerprint(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

fn document_facts(path: &Path, info: DocumentInfo, value: &Value) -> DocumentFacts {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut strings = Vec::new();
    if matches!(info.kind, DocumentKind::KyvernoTest | DocumentKind::GatorSuite) {
        collect_strings(value, &mut strings, 0);
    }
    let defines_kind = (info.kind == DocumentKind::ConstraintTemplate)
        .then(|| value.pointer("/spec/crd/spec/names/kind")?.as_str().map(str::to_string))
        .flatten();
    let references = path_entries(&info.kind, value)
        .into_iter()
        .filter_map(|(key, pointer)| Some((key, resolve(&base, value.pointer(&pointer)?.as_str()?)?)))
        .collect();
    let rego_packages = if info.kind == DocumentKind::ConstraintTemplate {
        super::template_rego::main_rego_packages(value).into_iter().map(|(_, package)| package.into()).collect()
    } else {
        Vec::new()
    };
    DocumentFacts { info, defines_kind, rego_packages, references, strings }
}

/// Every string value of a test document, depth-bounded.
fn collect_strings(value: &Value, out: &mut Vec<Box<str>>, depth: usize) {
    if depth > 64 {
        return;
    }
    match value {
        Value::String(text) => out.push(text.as_str().into()),
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, out, depth + 1)),
        Value::Object(map) => map.values().for_each(|item| collect_strings(item, out, depth + 1)),
        _ => {}
    }
}

/// The pointers of a test's or suite's path entries, with the key each is listed under.
pub(super) fn path_entries(kind: &DocumentKind, value: &Value) -> Vec<(&'static str, String)> {
    match kind {
        DocumentKind::KyvernoTest => kyverno_test_path_pointers(value),
        DocumentKind::GatorSuite => suite_path_pointers(value),
        _ => Vec::new(),
    }
}

fn kyverno_test_path_pointers(value: &Value) -> Vec<(&'static str, String)> {
    let mut pointers = Vec::new();
    for key in TEST_PATH_LISTS {
        let count = value.get(*key).and_then(Value::as_array).map_or(0, Vec::len);
        pointers.extend((0..count).map(|index| (*key, format!("/{key}/{index}"))));
    }
    pointers.extend(TEST_PATH_VALUES.iter().map(|key| (*key, format!("/{key}"))));
    pointers
}

fn suite_path_pointers(value: &Value) -> Vec<(&'static str, String)> {
    let mut pointers = Vec::new();
    for (test_index, test) in value.get("tests").and_then(Value::as_array).into_iter().flatten().enumerate() {
        for key in ["template", "constraint", "expansion"] {
            pointers.push((key, format!("/tests/{test_index}/{key}")));
        }
        for (case_index, case) in test.get("cases").and_then(Value::as_array).into_iter().flatten().enumerate() {
            pointers.push(("object", format!("/tests/{test_index}/cases/{case_index}/object")));
            let inventory = case.get("inventory").and_then(Value::as_array).map_or(0, Vec::len);
            pointers.extend(
                (0..inventory)
                    .map(|index| ("inventory", format!("/tests/{test_index}/cases/{case_index}/inventory/{index}"))),
            );
        }
    }
    pointers
}

/// A path entry resolved against the test's directory (URLs and empty entries left out).
pub(super) fn resolve(base: &Path, reference: &str) -> Option<PathBuf> {
    if reference.starts_with("http://") || reference.starts_with("https://") || reference.is_empty() {
        return None;
    }
    Some(normalize_path(&base.join(reference)))
}

/// The framework of a file's tests: Kyverno for a Test, Gatekeeper for a gator Suite.
fn framework_of(facts: &FileFacts) -> Option<Framework> {
    facts.documents.iter().find_map(|document| match document.info.kind {
        DocumentKind::KyvernoTest => Some(Framework::Kyverno),
        DocumentKind::GatorSuite => Some(Framework::Gatekeeper),
        _ => None,
    })
}

/// Test files the workspace knows (Kyverno Tests and gator Suites) that concern `path`: the file itself
/// when it is one, else the tests near it whose values name the file; all of them when `path` is `None`.
/// Rego unit tests are named by their folder (`opa test` runs a folder at once).
pub(super) fn test_files(workspace: &Workspace, path: Option<&Path>) -> Vec<(PathBuf, Framework)> {
    if let Some(path) = path
        && let Some(framework) = facts(workspace, path).and_then(|facts| framework_of(&facts))
    {
        return vec![(path.to_path_buf(), framework)];
    }
    // A `.rego` file (or a folder of them) is tested as `opa test` tests it: its folder at once.
    if let Some(path) = path
        && let Some(folder) = workspace.rego_test_folder(path)
    {
        return vec![(folder, Framework::Opa)];
    }
    let file_name = path.and_then(Path::file_name).map(|name| name.to_string_lossy().to_string());
    let loaded = workspace.files.iter().map(|(path, file)| (path, file.facts(|| compute(path, file))));
    // Only the tests near the file can name it: the index hands those over without a look at the others.
    let indexed: Vec<(&PathBuf, &Arc<FileFacts>)> = match path.and_then(Path::parent) {
        Some(directory) if file_name.is_some() => workspace.indexed_tests_near(directory),
        _ => workspace.indexed_tests().collect(),
    };
    let indexed = indexed.into_iter().map(|(path, facts)| (path, facts.clone()));
    let mut found: Vec<(PathBuf, Framework)> = loaded
        .chain(indexed)
        .filter_map(|(test_path, facts)| {
            let framework = framework_of(&facts)?;
            if let Some(name) = &file_name {
                let directory = path.and_then(Path::parent)?;
                let near = test_path.starts_with(directory) || directory.starts_with(test_path.parent()?);
                if !near {
                    return None;
                }
                let mut strings = facts.documents.iter().flat_map(|document| &document.strings);
                if !strings.any(|text| text.contains(name.as_str())) {
                    return None;
                }
            }
            Some((test_path.clone(), framework))
        })
        .collect();
    if path.is_none() {
        found.extend(workspace.rego_test_folders().into_iter().map(|folder| (folder, Framework::Opa)));
    }
    found.sort_by(|left, right| left.0.cmp(&right.0));
    found
}
