//! `--changed-since <git-ref>` for `lint` and `test`: the changed set comes from git (the one subprocess
//! the CLI runs), and the run keeps the changed files and everything that depends on them, found with the
//! analysis' cross-file references.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock};
use std::thread;

use rayon::prelude::*;
use regex::Regex;
use regex::bytes::Regex as BytesRegex;
use serde_json::Value;

use super::blob_cache::{BlobCache, BlobKey, HOLDS_CONSTRAINT, HOLDS_TEMPLATE, LISTS_FILES, blob_key};
use crate::ide::{AnalysisHost, Config, normalize_path};
use crate::syntax::SourceFile;
use crate::vfs::{DiskFiles, absolute_path, walk_policy_files};

/// The flag, shared by `lint` and `test`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ChangedFlags {
    /// Check only what changed since a git ref (committed since, staged, unstaged and untracked files)
    /// and what depends on it: tests and suites that list a changed file, constraints of a changed
    /// template.
    #[arg(long, value_name = "GIT_REF")]
    pub changed_since: Option<String>,
}

/// The files a `--changed-since` run looks at and those it checks.
pub struct ChangedRun {
    /// Every file the run looks at, as the walk of the paths lists them, sorted, less the excluded ones.
    pub files: Vec<PathBuf>,
    pub affected: Affected,
}

/// A `--changed-since` run: the paths walked, git asked what changed, and the files narrowed to those a
/// change affects; `None` without the flag.
pub fn run(
    flags: &ChangedFlags,
    paths: &[PathBuf],
    configs: &[Config],
    kyverno_file_name: &str,
) -> Option<Result<ChangedRun, String>> {
    let reference = flags.changed_since.clone()?;
    Some(run_since(&reference, paths, configs, kyverno_file_name))
}

/// The changed files are those committed since `reference`, those `git status` finds staged or changed
/// in the working tree, and the untracked files that git does not ignore. Those last come from the walk
/// (a walked file of the repository that git's index does not hold), not from git: `git status` finding
/// untracked files walks the tree a second time, which took two thirds of git's time on a large tree.
/// The walked files are read while git works, but for those git holds whose blob an earlier run found to
/// take part in no dependency (see [`BlobCache`]).
fn run_since(
    reference: &str,
    paths: &[PathBuf],
    configs: &[Config],
    kyverno_file_name: &str,
) -> Result<ChangedRun, String> {
    let top_level = repository_of(reference, &git_directory(paths))?;
    let roots: Vec<PathBuf> = paths.iter().map(|path| crate::vfs::workspace_root(path)).collect();
    let (walked, read, changes, tracked, cache) = thread::scope(|scope| {
        let tracked = scope.spawn(|| tracked_files(&top_level));
        let changes = scope.spawn(|| git_changes(reference, &top_level));
        let walked = walk_policy_files(paths).map(|files| {
            let files = crate::vfs::drop_excluded(files, paths, configs);
            // One look at the current directory, not one per file (a large tree has tens of thousands).
            let directory = std::env::current_dir().unwrap_or_default();
            let absolute = |walked: &Path| normalize_path(&directory.join(walked));
            files.into_par_iter().map(|walked| (absolute(&walked), walked)).collect::<Vec<Listed>>()
        });
        // `git ls-files` answers long before the walk ends.
        let tracked = finish(tracked);
        let cache = if tracked.is_ok() { BlobCache::load() } else { BlobCache::none() };
        let read = walked.as_ref().ok().map(|walked| {
            let in_index: Vec<InIndex> = match &tracked {
                Ok(tracked) => walked.par_iter().map(|(key, _)| tracked.entry(&top_level, key)).collect(),
                Err(_) => Vec::new(),
            };
            // Whether each file can take part in a dependency, found while git looks at the working tree.
            let read = read_candidates(walked, &in_index, kyverno_file_name, &cache);
            (read, in_index)
        });
        (walked, read, finish(changes), tracked, cache)
    });
    let walked = walked.map_err(|error| error.to_string())?;
    let (changes, _) = (changes?, tracked?);
    let ((mut candidates, learned), in_index) = read.unwrap_or_default();
    let mut changed = changes;
    changed.extend(untracked(&top_level, &walked, &in_index)?);
    changed.sort();
    changed.dedup();
    // What was learnt holds for the blobs of the files git holds unchanged: their text on disk is the blob's.
    if !learned.is_empty() {
        let changed_set: HashSet<&PathBuf> = changed.iter().collect();
        let unchanged = learned.into_iter().filter(|(index, ..)| !changed_set.contains(&walked[*index].0));
        cache.save(unchanged.map(|(_, key, flags)| (key, flags)));
    }
    // A changed file that nothing depends on was not kept while reading (the changed set came later).
    let held: HashSet<&PathBuf> = candidates.iter().map(|candidate| &candidate.key).collect();
    let missing: HashSet<&PathBuf> = changed.iter().filter(|key| !held.contains(key)).collect();
    if !missing.is_empty() {
        let read: Vec<Candidate> = walked
            .par_iter()
            .filter(|(key, _)| missing.contains(key))
            .filter_map(|(key, walked)| candidate(walked, key.clone(), kyverno_file_name, Read::Changed).0)
            .collect();
        candidates.extend(read);
        // The candidates are in walk order, and so are those read again: one merge.
        candidates.sort_by(|left, right| left.walked.cmp(&right.walked));
    }
    let affected = affected_among(candidates, &changed, &roots);
    Ok(ChangedRun { files: walked.into_iter().map(|(_, walked)| walked).collect(), affected })
}

/// Whether git's index holds a walked file.
#[derive(Clone, Copy, Default)]
enum InIndex {
    /// No: an untracked file, unless git ignores it.
    #[default]
    No,
    /// Yes, with the key of its blob when git compares the working copy with it.
    Yes { blob: Option<BlobKey> },
    /// Outside the repository, or in a submodule: git's index says nothing of it.
    Elsewhere,
}

/// A walked file's absolute path, and the path as the walk lists it.
type Listed = (PathBuf, PathBuf);

/// The walked files that git's index does not hold (see [`InIndex`]) and that git does not ignore: the
/// untracked files `git status` would list.
fn untracked(top_level: &Path, walked: &[Listed], in_index: &[InIndex]) -> Result<Vec<PathBuf>, String> {
    let unknown: Vec<&PathBuf> = walked
        .iter()
        .zip(in_index)
        .filter(|(_, entry)| matches!(entry, InIndex::No))
        .map(|((key, _), _)| key)
        .collect();
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    // `check-ignore` prints the paths among its input that git ignores.
    let input: String = unknown.iter().map(|key| format!("{}\0", key.display())).collect();
    let ignored = git_with_input(top_level, &["check-ignore", "-z", "--stdin"], Some(&input))?;
    let ignored: HashSet<PathBuf> =
        ignored.split('\0').filter(|path| !path.is_empty()).map(|path| absolute_path(&top_level.join(path))).collect();
    Ok(unknown.into_iter().filter(|key| !ignored.contains(*key)).cloned().collect())
}

/// The files committed since `reference`: a diff of two trees, which reads no working file.
/// `--no-renames`: a renamed file is its old path (deleted) and its new one (added), and both matter.
fn committed_since(reference: &str, top_level: &Path) -> Result<Vec<PathBuf>, String> {
    let committed = git(top_level, &["diff", "--name-only", "--no-renames", "-z", reference, "HEAD", "--"])?;
    let committed = committed.split('\0').filter(|relative| !relative.is_empty());
    Ok(committed.map(|relative| absolute_path(&top_level.join(relative))).collect())
}

/// The paths of `git status --porcelain=v1 -z` entries, absolute: deleted ones too, as a test that lists
/// one is affected.
fn status_paths<'s>(top_level: &'s Path, status: &'s str) -> impl Iterator<Item = PathBuf> + 's {
    // Each status entry is two status letters, a space and the path from the top level.
    status
        .split('\0')
        .filter_map(|entry| entry.get(3..))
        .filter(|relative| !relative.is_empty())
        .map(move |relative| absolute_path(&top_level.join(relative)))
}

/// What git's index holds: its regular files and links (paths from the top level, as git writes them) with
/// their blob's key (none for a file git is told not to compare with its working copy: assume-unchanged or
/// skip-worktree), and the folders of its submodules.
struct Tracked {
    files: HashMap<String, Option<BlobKey>>,
    submodules: Vec<PathBuf>,
}

impl Tracked {
    /// What the index holds of a walked file (by its absolute path) of the repository at `top_level`.
    fn entry(&self, top_level: &Path, key: &Path) -> InIndex {
        // By bytes: `Path::strip_prefix` goes component by component, and a large tree has many files.
        let (key_bytes, top_bytes) = (key.as_os_str().as_encoded_bytes(), top_level.as_os_str().as_encoded_bytes());
        let Some(relative) = key_bytes.strip_prefix(top_bytes) else { return InIndex::Elsewhere };
        let relative = match relative.strip_prefix(std::path::MAIN_SEPARATOR_STR.as_bytes()) {
            Some(below) => below,
            None if top_bytes.ends_with(std::path::MAIN_SEPARATOR_STR.as_bytes()) => relative,
            // `/repo-other/x` beside `/repo`.
            None => return InIndex::Elsewhere,
        };
        // Not UTF-8: the index listing is read as UTF-8 text, so it can hold no such path to compare with.
        let Ok(relative) = std::str::from_utf8(relative) else { return InIndex::Elsewhere };
        // git writes `/` between folders on every system.
        let found = match std::path::MAIN_SEPARATOR {
            '/' => self.files.get(relative),
            separator => self.files.get(&relative.replace(separator, "/")),
        };
        match found {
            Some(blob) => InIndex::Yes { blob: *blob },
            None if self.submodules.iter().any(|submodule| key.starts_with(submodule)) => InIndex::Elsewhere,
            None => InIndex::No,
        }
    }
}

/// The index of the repository at `top_level`.
fn tracked_files(top_level: &Path) -> Result<Tracked, String> {
    // `-s`: each entry's mode (submodules are 160000) and blob; `-v`: a tag, lowercase for assume-unchanged
    // and `S` for skip-worktree entries.
    let listing = git(top_level, &["ls-files", "-z", "-s", "-v", "--cached"])?;
    let mut tracked = Tracked { files: HashMap::new(), submodules: Vec::new() };
    for entry in listing.split('\0') {
        let Some((meta, relative)) = entry.split_once('\t') else { continue };
        let mut fields = meta.split(' ');
        let (tag, mode, blob) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        if mode == "160000" {
            tracked.submodules.push(absolute_path(&top_level.join(relative)));
        } else {
            let compared = tag.len() == 1 && tag != "S" && tag.bytes().all(|byte| byte.is_ascii_uppercase());
            tracked.files.insert(relative.to_string(), compared.then(|| blob_key(blob)).flatten());
        }
    }
    Ok(tracked)
}

/// What git says changed since `reference` in the repository at `top_level`, untracked files aside: the
/// files committed since, staged or changed in the working tree (deleted ones too).
fn git_changes(reference: &str, top_level: &Path) -> Result<Vec<PathBuf>, String> {
    let mut changed = committed_since(reference, top_level)?;
    let status = git(
        top_level,
        &["status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=no", "--ignore-submodules"],
    )?;
    changed.extend(status_paths(top_level, &status));
    Ok(changed)
}

/// The top level of the git repository holding `directory`, once `reference` is known to be one of its
/// commits.
fn repository_of(reference: &str, directory: &Path) -> Result<PathBuf, String> {
    // A ref that starts with `-` would be read as an option by git.
    if reference.is_empty() || reference.starts_with('-') {
        return Err(format!("`{reference}` is not a git ref"));
    }
    let top_level = git(directory, &["rev-parse", "--show-toplevel"])
        .map_err(|message| format!("--changed-since needs a git repository: {message}"))?;
    let top_level = absolute_path(Path::new(top_level.trim_end_matches(['\n', '\r'])));
    git(&top_level, &["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{reference}^{{commit}}")])
        .map_err(|_| {
            format!("--changed-since: `{reference}` is not a commit of the git repository at {}", top_level.display())
        })?;
    Ok(top_level)
}

/// Waits for a git query of a scoped thread.
fn finish<T>(handle: thread::ScopedJoinHandle<'_, Result<T, String>>) -> Result<T, String> {
    handle.join().unwrap_or_else(|_| Err("the git query stopped unexpectedly".to_string()))
}

/// Runs git in `directory` and returns its standard output, or what it said on failure.
fn git(directory: &Path, arguments: &[&str]) -> Result<String, String> {
    git_with_input(directory, arguments, None)
}

/// Runs git in `directory`, with `input` on its standard input when there is one; its standard output, or
/// what it said on failure.
fn git_with_input(directory: &Path, arguments: &[&str], input: Option<&str>) -> Result<String, String> {
    let mut command = Command::new("git");
    command.arg("-C").arg(directory).args(arguments).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = command.spawn().map_err(|error| format!("cannot run git: {error}"))?;
    // Written from a thread of its own: git answers as it reads, and a full pipe each way would stall both.
    let writer = match (input, child.stdin.take()) {
        (Some(input), Some(mut stdin)) => {
            let input = input.to_string();
            Some(thread::spawn(move || stdin.write_all(input.as_bytes())))
        }
        _ => None,
    };
    let output = child.wait_with_output().map_err(|error| format!("cannot run git: {error}"))?;
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    // `check-ignore` exits with 1 when it ignores none of the paths it was given.
    let ignored_none = arguments.first() == Some(&"check-ignore") && output.status.code() == Some(1);
    if !output.status.success() && !ignored_none {
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
    /// The folders its entries ending in `.` or `..` name (see [`dot_ended_entries`]), resolved against
    /// its folder: a changed path under one may be taken in.
    dot_ended_folders: Vec<PathBuf>,
    /// Constraints depend on the template of their kind.
    holds_constraint: bool,
    holds_template: bool,
}

/// What `read_candidates` learnt: for a walked file (its index) git holds, its blob's key and flags.
type Learned = (usize, BlobKey, u8);

/// The walked `files` that can take part in a dependency, read in parallel, and what their reading taught
/// of their blobs.
fn read_candidates(
    files: &[Listed],
    in_index: &[InIndex],
    kyverno_file_name: &str,
    cache: &BlobCache,
) -> (Vec<Candidate>, Vec<Learned>) {
    let read: Vec<(Option<Candidate>, Option<Learned>)> = files
        .par_iter()
        .enumerate()
        .map(|(index, (key, walked))| {
            let blob = match in_index.get(index) {
                Some(InIndex::Yes { blob }) => *blob,
                _ => None,
            };
            let known = blob.and_then(|blob| cache.flags(blob));
            let (candidate, flags) = candidate(walked, key.clone(), kyverno_file_name, Read::Unchanged { known });
            let learned = blob.zip(flags).filter(|_| known.is_none()).map(|(blob, flags)| (index, blob, flags));
            (candidate, learned)
        })
        .collect();
    let (mut candidates, mut learned) = (Vec::new(), Vec::new());
    for (candidate, learnt) in read {
        candidates.extend(candidate);
        learned.extend(learnt);
    }
    (candidates, learned)
}

/// Why a walked file is looked at.
#[derive(Clone, Copy)]
enum Read {
    /// While git works: kept only when it can take part in a dependency. `known`: its blob's flags from an
    /// earlier run, when git holds it (the file is not read when they say it takes part in nothing: should
    /// it have changed since, it is read again as a changed file).
    Unchanged { known: Option<u8> },
    /// A changed file: kept whatever it holds.
    Changed,
}

/// The strings that make a file a test or suite (which lists files), a constraint or a template.
static RELATED: LazyLock<BytesRegex> = LazyLock::new(|| {
    BytesRegex::new(r"cli\.kyverno\.io|test\.gatekeeper\.sh|constraints\.gatekeeper\.sh|templates\.gatekeeper\.sh")
        .expect("a valid pattern")
});

/// The largest buffer a reader thread keeps between files.
const READ_BUFFER_KEPT: usize = 1 << 20;

thread_local! {
    /// The bytes of the file a reader thread looks at: most files are read, looked at and dropped, and
    /// one buffer per thread spares an allocation (and fresh pages) per file. Borrowed only while one
    /// file is read and scanned, with nothing inside that could run another file's scan on this thread.
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A walked file with its text when it can take part in a dependency, or when it changed; and the flags of
/// its text when it was read. A changed file that cannot be read (not UTF-8, too large, gone) is kept with
/// no text, so that the check that follows reads it again and reports why.
fn candidate(path: &Path, key: PathBuf, kyverno_file_name: &str, read: Read) -> (Option<Candidate>, Option<u8>) {
    let named_test = path.file_name().is_some_and(|name| name == kyverno_file_name);
    let changed = matches!(read, Read::Changed);
    if let Read::Unchanged { known: Some(0) } = read
        && !named_test
    {
        return (None, None);
    }
    let mut flags = None;
    let text = READ_BUFFER.with_borrow_mut(|buffer| {
        crate::vfs::read_into(path, buffer).ok()?;
        // One pass over the bytes for the four strings (most files hold none).
        let mut found_flags = 0;
        for found in RELATED.find_iter(buffer) {
            found_flags |= match found.as_bytes() {
                b"constraints.gatekeeper.sh" => HOLDS_CONSTRAINT,
                b"templates.gatekeeper.sh" => HOLDS_TEMPLATE,
                _ => LISTS_FILES,
            };
        }
        flags = Some(found_flags);
        let related = named_test || found_flags != 0 || changed;
        let text = related.then(|| std::str::from_utf8(buffer).ok().map(str::to_string)).flatten();
        // A rare large file must not keep its pages for the rest of the run on every thread.
        if buffer.capacity() > READ_BUFFER_KEPT {
            *buffer = Vec::new();
        }
        text
    });
    let found_flags = flags.unwrap_or(0);
    let lists_files = named_test || found_flags & LISTS_FILES != 0;
    let (holds_constraint, holds_template) = (found_flags & HOLDS_CONSTRAINT != 0, found_flags & HOLDS_TEMPLATE != 0);
    let Some(text) = text else {
        let kept = changed.then(|| Candidate {
            walked: path.to_path_buf(),
            key,
            text: String::new(),
            lists_files: false,
            dot_ended_folders: Vec::new(),
            holds_constraint: false,
            holds_template: false,
        });
        return (kept, flags);
    };
    // Asked of every test in every round of the closure: found once.
    let folder = key.parent().unwrap_or(Path::new("/"));
    let dot_ended_folders = match lists_files {
        true => dot_ended_entries(&text).into_iter().map(|entry| normalize_path(&folder.join(entry))).collect(),
        false => Vec::new(),
    };
    let candidate = Candidate {
        walked: path.to_path_buf(),
        key,
        dot_ended_folders,
        text,
        lists_files,
        holds_constraint,
        holds_template,
    };
    (Some(candidate), flags)
}

/// Narrows `candidates` (in walk order) to those a change of `changed` affects: the changed files, the
/// tests and suites whose path entries take one in, the constraints of a changed template's kind,
/// transitively, as [`crate::ide::Analysis::affected_by`] decides.
///
/// Each file is read once and only the texts that can take part in a dependency are kept (a test file's
/// name, or an apiVersion group of tests, suites, templates or constraints). Parsing them all cost seconds
/// on a large tree, so the closure grows in rounds and parses only the files a cheap look at their text
/// cannot rule out: a test that takes in a path spells the path's file name or one of its folders' names,
/// or has an entry ending in `.`/`..` that names a folder holding the path; a constraint of a kind spells
/// the kind.
fn affected_among(candidates: Vec<Candidate>, changed: &[PathBuf], roots: &[PathBuf]) -> Affected {
    let changed_set: HashSet<PathBuf> = changed.iter().map(|path| normalize_path(path)).collect();
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
        // One pass over each text for all the names (and kinds) at once.
        let (names, kinds) = (AnyOf::new(&names), AnyOf::new(&kinds));
        let chosen: Vec<usize> = (0..candidates.len())
            .into_par_iter()
            .filter(|&index| !loaded[index])
            .filter(|&index| {
                let candidate = &candidates[index];
                let text = candidate.text.as_str();
                let under_a_dot_ended_folder = || {
                    candidate
                        .dot_ended_folders
                        .iter()
                        .any(|folder| frontier.iter().any(|path| path.starts_with(folder)))
                };
                (candidate.lists_files && (names.is_match(text) || under_a_dot_ended_folder()))
                    || (candidate.holds_constraint && kinds.is_match(text))
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

/// Finds any of a set of words in a text, in one pass.
struct AnyOf {
    words: Vec<String>,
    /// The words as one pattern; `None` when there are none or the pattern is too large to build (then
    /// each word is looked for in turn).
    pattern: Option<Regex>,
}

impl AnyOf {
    fn new(words: &HashSet<String>) -> AnyOf {
        let words: Vec<String> = words.iter().cloned().collect();
        let alternatives: Vec<String> = words.iter().map(|word| regex::escape(word)).collect();
        let pattern = (!words.is_empty()).then(|| Regex::new(&alternatives.join("|")).ok()).flatten();
        AnyOf { words, pattern }
    }

    fn is_match(&self, text: &str) -> bool {
        match &self.pattern {
            Some(pattern) => pattern.is_match(text),
            None => self.words.iter().any(|word| text.contains(word.as_str())),
        }
    }
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

/// The path entries of a text whose last step is `.` or `..` (`.`, `../..`, `tests/..`), as written: such
/// an entry takes in a folder without spelling its name, so the file's references cannot be ruled out by
/// name. Errs on the side of more (an ellipsis at the end of a sentence counts).
fn dot_ended_entries(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let is_delimiter = |byte: u8| {
        byte.is_ascii_whitespace() || matches!(byte, b'"' | b'\'' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b':')
    };
    let mut entries = Vec::new();
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
            // The whole entry: back to the delimiter before it (`tests/..` as well as `..`).
            let entry_start = bytes[..start].iter().rposition(|byte| is_delimiter(*byte)).map_or(0, |at| at + 1);
            entries.push(&text[entry_start..end]);
        }
        index = end;
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::dot_ended_entries;

    #[test]
    fn dot_ended_entries_are_found() {
        let cases: [(&str, &[&str]); 9] = [
            ("resources: [.]", &["."]),
            ("- ..\n", &[".."]),
            ("policies:\n  - ../..\n", &["../.."]),
            ("- 'tests/..'", &["tests/.."]),
            ("- ./\n", &["."]),
            ("- ../policy.yaml\n", &[]),
            ("message: a label is required.\n", &[]),
            ("- ./resource.yaml", &[]),
            ("- x...\n", &[]),
        ];
        for (text, expect) in cases {
            assert_eq!(dot_ended_entries(text), expect, "{text:?}");
        }
    }
}
