//! Test support shared by the integration tests: multi-file YAML fixtures with `#- /path` headers, `$0`
//! cursors and `# ^^^ severity[code]: message` annotations, and an in-memory file source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub mod corpus;
pub mod gator_eval;
pub mod lsp_client;

use chrono::{DateTime, Utc};
use policy_lsp::testrun::{FileError, FileSource};

/// The CLI binary that the end-to-end modules run (this package's copy of `policy-lsp`, see Cargo.toml).
pub const POLICY_LSP: &str = env!("CARGO_BIN_EXE_policy-lsp-under-test");

/// A ClusterPolicy that Kyverno's own validation refuses: with background processing on (the default),
/// its message reads the requesting user.
pub const USER_VARIABLE_POLICY: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: who
spec:
  rules:
  - name: check-user
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      failureAction: Enforce
      message: "{{ request.userInfo.username }} may not"
      deny: {}
"#;

/// Files kept in memory, standing in for the disk, and a clock that stands still (none by default).
#[derive(Clone, Default)]
pub struct MemoryFiles {
    pub files: BTreeMap<PathBuf, String>,
    pub now: Option<DateTime<Utc>>,
}

impl FileSource for MemoryFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        self.files
            .get(path)
            .map(|text| Arc::from(text.as_str()))
            .ok_or_else(|| FileError::NotFound { path: path.to_path_buf() })
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        let children: Vec<PathBuf> = self
            .files
            .keys()
            .filter_map(|file| {
                let relative = file.strip_prefix(path).ok()?;
                let first = relative.components().next()?;
                Some(path.join(first))
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if children.is_empty() { None } else { Some(children) }
    }

    fn current_time(&self) -> Option<DateTime<Utc>> {
        self.now
    }
}

/// One expected annotation: zero-based line and columns (in characters) in the file without annotations.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Annotation {
    pub line: usize,
    pub start_column: usize,
    pub end_column: usize,
    pub text: String,
}

/// A parsed fixture file.
pub struct FixtureFile {
    pub path: PathBuf,
    /// The text with annotation lines and the `$0` marker removed.
    pub text: String,
    pub annotations: Vec<Annotation>,
    /// Byte offset of `$0`, if present.
    pub cursor: Option<usize>,
}

/// Splits a fixture into files. Without `#- /path` headers the whole fixture is `/work/fixture.yaml`.
pub fn parse_fixture(fixture: &str) -> Vec<FixtureFile> {
    let fixture = trim_indent(fixture);
    let mut files = Vec::new();
    let mut current_path = PathBuf::from("/work/fixture.yaml");
    let mut current_lines: Vec<&str> = Vec::new();
    let mut started = false;
    for line in fixture.split_inclusive('\n') {
        if let Some(path) = line.trim_end().strip_prefix("#- ") {
            if started || !current_lines.is_empty() {
                files.push(build_file(current_path.clone(), &current_lines));
            }
            current_path = PathBuf::from(path.trim());
            current_lines.clear();
            started = true;
            continue;
        }
        current_lines.push(line);
    }
    files.push(build_file(current_path, &current_lines));
    files
}

fn build_file(path: PathBuf, lines: &[&str]) -> FixtureFile {
    let mut text = String::new();
    let mut annotations = Vec::new();
    let mut code_line = 0usize;
    for line in lines {
        let trimmed = line.trim_end_matches(['\n', '\r']);
        if let Some(annotation) = parse_annotation(trimmed) {
            let (start_column, end_column, message) = annotation;
            annotations.push(Annotation { line: code_line.saturating_sub(1), start_column, end_column, text: message });
            continue;
        }
        text.push_str(line);
        code_line += 1;
    }
    let cursor = text.find("$0");
    if let Some(offset) = cursor {
        text.replace_range(offset..offset + 2, "");
    }
    FixtureFile { path, text, annotations, cursor }
}

/// `#  ^^^ text` -> (start, end, text). `#^` puts the first caret on column 0.
fn parse_annotation(line: &str) -> Option<(usize, usize, String)> {
    let rest = line.strip_prefix('#')?;
    let first_caret = line.find('^')?;
    if !rest[..first_caret - 1].chars().all(|character| character == ' ') {
        return None;
    }
    let start = if first_caret == 1 { 0 } else { first_caret };
    let carets = line[first_caret..].chars().take_while(|character| *character == '^').count();
    let end = first_caret + carets;
    let message = line[end..].trim().to_string();
    Some((start, end, message))
}

/// Removes the common indentation of a raw string literal and its first empty line.
pub fn trim_indent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            out.push_str(if line.ends_with('\n') { "\n" } else { "" });
        } else {
            out.push_str(&line[indent.min(line.len())..]);
        }
    }
    out
}

/// Character column of a byte offset within its line, and the line index.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (line, before[line_start..].chars().count())
}

/// Writes a `#- /path` fixture under a fresh temporary directory named after `name` (unique across the
/// test binary) and returns the directory, for tests that run the real binary on disk.
pub fn write_fixture_directory(name: &str, fixture: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("policy-lsp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for file in parse_fixture(fixture) {
        let relative = file.path.strip_prefix("/").unwrap_or(&file.path);
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("a fixture file has a folder")).expect("the folder is created");
        std::fs::write(path, file.text).expect("the fixture file is written");
    }
    root
}

/// A fresh analysis host holding every fixture file (with the same files behind its file source), for
/// tests that change files after a first snapshot.
pub fn host_of(files: &[FixtureFile]) -> policy_lsp::ide::AnalysisHost {
    let mut memory = MemoryFiles::default();
    for file in files {
        memory.files.insert(file.path.clone(), file.text.clone());
    }
    let mut host = policy_lsp::ide::AnalysisHost::new(Arc::new(memory));
    for file in files {
        host.set_file(file.path.clone(), &file.text);
    }
    host
}

/// A fresh analysis host with `open` loaded and every other fixture file known by its index facts alone,
/// as the language server holds the files nobody has open after its workspace scan.
pub fn indexed_host_of(files: &[FixtureFile], open: &Path) -> policy_lsp::ide::AnalysisHost {
    let mut memory = MemoryFiles::default();
    for file in files {
        memory.files.insert(file.path.clone(), file.text.clone());
    }
    let mut host = policy_lsp::ide::AnalysisHost::new(Arc::new(memory));
    for file in files {
        if file.path == open {
            host.set_file(file.path.clone(), &file.text);
        } else {
            let facts = policy_lsp::ide::facts_of_text(&file.path, &file.text);
            host.index_files([(file.path.clone(), Arc::new(facts))]);
        }
    }
    host
}

/// Loads every fixture file into a fresh analysis host and takes its snapshot.
pub fn analysis_of(files: &[FixtureFile]) -> policy_lsp::ide::Analysis {
    host_of(files).snapshot()
}

/// The analysis of a fixture and the file and offset of its `$0` cursor.
pub fn analysis_with_cursor(fixture: &str) -> (policy_lsp::ide::Analysis, PathBuf, usize) {
    let files = parse_fixture(fixture);
    let with_cursor = files.iter().find(|file| file.cursor.is_some()).expect("a `$0` cursor");
    let (path, cursor) = (with_cursor.path.clone(), with_cursor.cursor.unwrap_or_default());
    (analysis_of(&files), path, cursor)
}

/// Compares the diagnostics whose code passes `keep` with each fixture file's `# ^^^` annotations, showing a
/// readable diff of both rendered under their lines.
pub fn check_annotated_diagnostics(fixture: &str, keep: impl Fn(&str) -> bool) {
    let files = parse_fixture(fixture);
    let analysis = analysis_of(&files);
    for file in &files {
        let actual: Vec<Annotation> = analysis
            .diagnostics(&file.path)
            .into_iter()
            .filter(|diagnostic| keep(diagnostic.code.as_str()))
            .map(|diagnostic| {
                let (line, start_column) = line_and_column(&file.text, diagnostic.range.start);
                let (end_line, end_column) = line_and_column(&file.text, diagnostic.range.end);
                let end_column = if end_line == line { end_column } else { start_column + 1 };
                Annotation {
                    line,
                    start_column,
                    end_column: end_column.max(start_column + 1),
                    text: format!("{}[{}]: {}", diagnostic.severity.as_str(), diagnostic.code, diagnostic.message),
                }
            })
            .collect();
        assert_annotations(file, actual);
    }
}

/// Compares annotations found in a fixture file with its `# ^^^` annotations, in any order, as a readable
/// diff of both rendered under their lines.
pub fn assert_annotations(file: &FixtureFile, mut actual: Vec<Annotation>) {
    let mut expected = file.annotations.clone();
    actual.sort();
    expected.sort();
    assert_eq!(
        render_annotations(&file.text, &actual),
        render_annotations(&file.text, &expected),
        "diagnostics of {}",
        file.path.display()
    );
}

/// Renders annotations back under their lines.
pub fn render_annotations(text: &str, annotations: &[Annotation]) -> String {
    let mut out = String::new();
    for (index, line) in text.lines().enumerate() {
        out.push_str(line);
        out.push('\n');
        for annotation in annotations.iter().filter(|annotation| annotation.line == index) {
            let carets = "^".repeat(annotation.end_column - annotation.start_column);
            out.push_str(&format!(
                "#{}{carets} {}\n",
                " ".repeat(annotation.start_column.saturating_sub(1)),
                annotation.text
            ));
        }
    }
    out
}
