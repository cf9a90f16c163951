//! `--changed-since <git-ref>` for `lint` and `test`: the changed set comes from git (the one subprocess
//! the CLI runs), and the run keeps the changed files and everything that depends on them, found with the
//! analysis' cross-file references.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rayon::prelude::*;

use crate::ide::AnalysisHost;
use crate::syntax::SourceFile;
use crate::vfs::{DiskFiles, absolute_path, read_text};

/// The flag, shared by `lint` and `test`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ChangedFlags {
    /// Check only what changed since a git ref (committed since, staged, unstaged and untracked files)
    /// and what depends on it: tests and suites that list a changed file, constraints of a changed
    /// template.
    #[arg(long, value_name = "GIT_REF")]
    pub changed_since: Option<String>,
}

/// The files git reports changed between `reference` and the working tree of the repository holding
/// `directory`, plus the untracked files it does not ignore; absolute. Deleted and renamed-away paths are
/// included: a test that lists one is affected.
pub fn changed_files(reference: &str, directory: &Path) -> Result<Vec<PathBuf>, String> {
    // A ref that starts with `-` would be read as an option by git.
    if reference.is_empty() || reference.starts_with('-') {
        return Err(format!("`{reference}` is not a git ref"));
    }
    let top_level = git(directory, &["rev-parse", "--show-toplevel"])
        .map_err(|message| format!("--changed-since needs a git repository: {message}"))?;
    let top_level = PathBuf::from(top_level.trim_end_matches(['\n', '\r']));
    git(&top_level, &["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{reference}^{{commit}}")])
        .map_err(|_| {
            format!("--changed-since: `{reference}` is not a commit of the git repository at {}", top_level.display())
        })?;
    // `--no-renames`: a renamed file is its old path (deleted) and its new one (added), and both matter.
    let differing = git(&top_level, &["diff", "--name-only", "--no-renames", "-z", reference, "--"])?;
    let untracked = git(&top_level, &["ls-files", "--others", "--exclude-standard", "-z"])?;
    let mut changed: Vec<PathBuf> = differing
        .split('\0')
        .chain(untracked.split('\0'))
        .filter(|relative| !relative.is_empty())
        .map(|relative| absolute_path(&top_level.join(relative)))
        .collect();
    changed.sort();
    changed.dedup();
    Ok(changed)
}

/// Runs git in `directory` and returns its standard output, or what it said on failure.
fn git(directory: &Path, arguments: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(directory)
        .args(arguments)
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(if said.is_empty() { format!("git {} failed", arguments.join(" ")) } else { said });
    }
    String::from_utf8(output.stdout).map_err(|_| "git printed a path that is not UTF-8".to_string())
}

/// The directory git is asked about: the first path given (a file's folder), else the current one.
pub fn git_directory(paths: &[PathBuf]) -> PathBuf {
    match paths.first() {
        Some(path) if path.is_dir() => path.clone(),
        Some(path) => {
            path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
        }
        None => PathBuf::from("."),
    }
}

/// Which of the walked `files` a change affects, and which others their checks read.
pub struct Affected {
    /// The walked files to check (in walk order).
    pub files: Vec<PathBuf>,
    /// The walked files the checks of `files` may read from the analysis besides them: templates (they
    /// govern constraints anywhere), tests, suites and constraints, and the neighbours of each checked file
    /// (a Chainsaw test beside a file decides how it is read).
    pub context: Vec<PathBuf>,
}

/// Narrows the walked `files` to those a change of `changed` affects. Only files that can depend on
/// another file are parsed for the dependency index, picked by a cheap look at their text (a test file's
/// name, or an apiVersion group of tests, suites, templates or constraints), so the cost on a large
/// repository is one read of each file rather than a full analysis.
pub fn affected(files: &[PathBuf], changed: &[PathBuf], roots: &[PathBuf], kyverno_file_name: &str) -> Affected {
    let changed_set: HashSet<&PathBuf> = changed.iter().collect();
    let candidates: Vec<(PathBuf, SourceFile)> = files
        .par_iter()
        .filter_map(|path| {
            let key = absolute_path(path);
            let text = read_text(path).ok()?;
            let named_test = path.file_name().is_some_and(|name| name == kyverno_file_name);
            let related =
                named_test || changed_set.contains(&key) || DEPENDENCY_GROUPS.iter().any(|group| text.contains(group));
            related.then(|| (key, SourceFile::new_without_trees(&text)))
        })
        .collect();
    let context_keys: HashSet<PathBuf> = candidates.iter().map(|(key, _)| key.clone()).collect();
    let mut host = AnalysisHost::new(Arc::new(DiskFiles::within(roots)));
    for (key, source) in candidates {
        host.set_source(key, source);
    }
    let affected: HashSet<PathBuf> = host.snapshot().affected_by(changed).into_iter().collect();
    let folders: HashSet<&Path> = affected.iter().filter_map(|path| path.parent()).collect();
    let mut selected = Vec::new();
    let mut context = Vec::new();
    for path in files {
        let key = absolute_path(path);
        if affected.contains(&key) {
            selected.push(path.clone());
        } else if context_keys.contains(&key) || key.parent().is_some_and(|folder| folders.contains(folder)) {
            context.push(path.clone());
        }
    }
    Affected { files: selected, context }
}

/// apiVersion groups of the documents that depend on other files (Kyverno Tests, gator Suites,
/// constraints) or that other files depend on without listing them (templates govern constraints by kind).
const DEPENDENCY_GROUPS: &[&str] =
    &["cli.kyverno.io", "test.gatekeeper.sh", "templates.gatekeeper.sh", "constraints.gatekeeper.sh"];
