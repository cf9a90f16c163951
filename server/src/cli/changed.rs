//! `--changed-since <git-ref>` for `lint` and `test`: the changed set comes from git (the one subprocess
//! the CLI runs), and the run keeps the changed files and everything that depends on them, found with the
//! analysis' cross-file references.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rayon::prelude::*;

use serde_json::Value;

use crate::ide::{AnalysisHost, normalize_path};
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
    // Committed since the ref: a diff of two trees, which reads no working file. Staged, unstaged and
    // untracked: one `git status`, which looks at each working file once (a diff against the ref and a
    // listing of untracked files looked twice). `--no-renames`: a renamed file is its old path (deleted)
    // and its new one (added), and both matter.
    let committed = git(&top_level, &["diff", "--name-only", "--no-renames", "-z", reference, "HEAD", "--"])?;
    let status = git(
        &top_level,
        &["status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=all", "--ignore-submodules"],
    )?;
    // Each status entry is two status letters, a space and the path from the top level.
    let working = status.split('\0').filter_map(|entry| entry.get(3..));
    let mut changed: Vec<PathBuf> = committed
        .split('\0')
        .chain(working)
        .filter(|relative| !relative.is_empty())
        .map(|relative| absolute_path(&top_level.join(relative)))
        .collect();
    changed.sort();
    changed.dedup();
    Ok(changed)
}

/// Starts [`changed_files`] on a thread of its own, so git looks at the working tree while the command
/// walks and reads it; `None` without `--changed-since`.
pub fn start(flags: &ChangedFlags, paths: &[PathBuf]) -> Option<std::thread::JoinHandle<Result<Vec<PathBuf>, String>>> {
    let reference = flags.changed_since.clone()?;
    let directory = git_directory(paths);
    Some(std::thread::spawn(move || changed_files(&reference, &directory)))
}

/// Waits for the changed files of [`start`].
pub fn finish(handle: std::thread::JoinHandle<Result<Vec<PathBuf>, String>>) -> Result<Vec<PathBuf>, String> {
    handle.join().unwrap_or_else(|_| Err("the git query stopped unexpectedly".to_string()))
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

/// Which of the walked `files` a change affects.
pub struct Affected {
    /// The walked files to check (in walk order).
    pub files: Vec<PathBuf>,
    /// The constraint templates (path and text) when a file to check holds a constraint, which its
    /// template governs wherever it is; empty otherwise, as no other check reads a template it does not
    /// name.
    pub templates: Vec<(PathBuf, String)>,
}

/// A walked file that can take part in a dependency, with its text.
struct Candidate {
    walked: PathBuf,
    key: PathBuf,
    text: String,
    /// A Kyverno Test or gator Suite may list other files.
    lists_files: bool,
    /// Constraints depend on the template of their kind.
    holds_constraint: bool,
    holds_template: bool,
}

/// Narrows the walked `files` to those a change of `changed` affects: the changed files, the tests and
/// suites whose path entries take one in, the constraints of a changed template's kind, transitively, as
/// [`crate::ide::Analysis::affected_by`] decides.
///
/// Each file is read once and only the texts that can take part in a dependency are kept (a test file's
/// name, or an apiVersion group of tests, suites, templates or constraints). Parsing them all cost seconds
/// on a large tree, so the closure grows in rounds and parses only the files a cheap look at their text
/// cannot rule out: a test that takes in a path spells the path's file name or one of its folders' names,
/// or ends an entry with `.`/`..`; a constraint of a kind spells the kind.
pub fn affected(files: &[PathBuf], changed: &[PathBuf], roots: &[PathBuf], kyverno_file_name: &str) -> Affected {
    let changed_set: HashSet<PathBuf> = changed.iter().map(|path| normalize_path(path)).collect();
    let candidates: Vec<Candidate> = files
        .par_iter()
        .filter_map(|path| {
            let key = absolute_path(path);
            let text = read_text(path).ok()?;
            let named_test = path.file_name().is_some_and(|name| name == kyverno_file_name);
            let lists_files = named_test || text.contains("cli.kyverno.io") || text.contains("test.gatekeeper.sh");
            let holds_constraint = text.contains("constraints.gatekeeper.sh");
            let holds_template = text.contains("templates.gatekeeper.sh");
            let related = lists_files || holds_constraint || holds_template || changed_set.contains(&key);
            related.then_some(Candidate {
                walked: path.clone(),
                key,
                text,
                lists_files,
                holds_constraint,
                holds_template,
            })
        })
        .collect();
    let mut host = AnalysisHost::new(Arc::new(DiskFiles::within(roots)));
    let mut loaded = vec![false; candidates.len()];
    let first: Vec<usize> =
        (0..candidates.len()).filter(|&index| changed_set.contains(&candidates[index].key)).collect();
    load(&mut host, &candidates, &mut loaded, &first);
    let by_key: HashMap<&Path, usize> =
        candidates.iter().enumerate().map(|(index, candidate)| (candidate.key.as_path(), index)).collect();
    let mut known: HashSet<PathBuf> = changed_set.clone();
    let mut frontier: Vec<PathBuf> = changed_set.iter().cloned().collect();
    let mut affected: Vec<PathBuf> = Vec::new();
    while !frontier.is_empty() {
        let names: HashSet<String> = frontier
            .iter()
            .flat_map(|path| path.components())
            .filter_map(|component| match component {
                Component::Normal(name) => Some(name.to_string_lossy().to_string()),
                _ => None,
            })
            .collect();
        let kinds: HashSet<String> = frontier
            .iter()
            .filter_map(|path| by_key.get(path.as_path()))
            .filter(|&&index| candidates[index].holds_template)
            .flat_map(|&index| template_kinds(&candidates[index].text))
            .collect();
        let chosen: Vec<usize> = (0..candidates.len())
            .into_par_iter()
            .filter(|&index| !loaded[index])
            .filter(|&index| {
                let candidate = &candidates[index];
                let text = candidate.text.as_str();
                (candidate.lists_files
                    && (names.iter().any(|name| text.contains(name.as_str())) || has_dot_ended_entry(text)))
                    || (candidate.holds_constraint && kinds.iter().any(|kind| text.contains(kind.as_str())))
            })
            .collect();
        load(&mut host, &candidates, &mut loaded, &chosen);
        affected = host.snapshot().affected_by(changed);
        frontier = affected.iter().filter(|path| !known.contains(*path)).cloned().collect();
        known.extend(frontier.iter().cloned());
    }
    let affected: HashSet<PathBuf> = affected.into_iter().collect();
    let selected: Vec<usize> =
        (0..candidates.len()).filter(|index| affected.contains(&candidates[*index].key)).collect();
    let needs_templates = selected.iter().any(|&index| candidates[index].holds_constraint);
    let templates = if needs_templates {
        candidates
            .iter()
            .filter(|candidate| candidate.holds_template)
            .map(|candidate| (candidate.walked.clone(), candidate.text.clone()))
            .collect()
    } else {
        Vec::new()
    };
    // Candidates are in walk order, and every affected file that exists is one.
    Affected { files: selected.into_iter().map(|index| candidates[index].walked.clone()).collect(), templates }
}

/// Parses the `chosen` candidates in parallel and loads them into the analysis.
fn load(host: &mut AnalysisHost, candidates: &[Candidate], loaded: &mut [bool], chosen: &[usize]) {
    let sources: Vec<(PathBuf, SourceFile)> = chosen
        .par_iter()
        .map(|&index| (candidates[index].key.clone(), SourceFile::new_without_trees(&candidates[index].text)))
        .collect();
    for (key, source) in sources {
        host.set_source(key, source);
    }
    for &index in chosen {
        loaded[index] = true;
    }
}

/// The kinds the ConstraintTemplates of a file define.
fn template_kinds(text: &str) -> Vec<String> {
    crate::syntax::parse_file(text)
        .iter()
        .filter(|document| document.value.get("kind").and_then(Value::as_str) == Some("ConstraintTemplate"))
        .filter_map(|document| document.value.pointer("/spec/crd/spec/names/kind")?.as_str().map(String::from))
        .collect()
}

/// Whether a text holds a path entry whose last step is `.` or `..` (`.`, `../..`, `tests/..`): such an
/// entry takes in a folder without spelling its name, so the file's references cannot be ruled out by
/// name. Errs on the side of yes (an ellipsis at the end of a sentence counts).
fn has_dot_ended_entry(text: &str) -> bool {
    let bytes = text.as_bytes();
    let is_delimiter = |byte: u8| {
        byte.is_ascii_whitespace() || matches!(byte, b'"' | b'\'' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b':')
    };
    let mut index = 0;
    while let Some(offset) = bytes[index..].iter().position(|byte| *byte == b'.') {
        let start = index + offset;
        let mut end = start;
        while end < bytes.len() && bytes[end] == b'.' {
            end += 1;
        }
        let mut after = end;
        while after < bytes.len() && bytes[after] == b'/' {
            after += 1;
        }
        let bounded_before = start == 0 || is_delimiter(bytes[start - 1]) || bytes[start - 1] == b'/';
        let bounded_after = after == bytes.len() || is_delimiter(bytes[after]);
        if bounded_before && bounded_after && end - start <= 2 {
            return true;
        }
        index = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_dot_ended_entry;

    #[test]
    fn dot_ended_entries_are_found() {
        for text in ["resources: [.]", "- ..\n", "policies:\n  - ../..\n", "- 'tests/..'", "- ./\n"] {
            assert!(has_dot_ended_entry(text), "{text:?}");
        }
        for text in ["- ../policy.yaml\n", "message: a label is required.\n", "- ./resource.yaml", "- x...\n"] {
            assert!(!has_dot_ended_entry(text), "{text:?}");
        }
    }
}
