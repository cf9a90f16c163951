//! The real file system behind the `FileSource` trait, with the system clock, and the directory walk of
//! `lint`, `test` and the language server's workspace scan.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::testrun::{FileError, FileSource};

/// Files larger than this are refused with a diagnostic instead of being read (hostile input).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads files from disk, only inside the workspace roots when there are any: a test file from a pull
/// request that names `../../../etc/passwd` gets a problem, never the file's content.
#[derive(Clone, Debug, Default)]
pub struct DiskFiles {
    /// Canonical workspace roots; empty means no restriction.
    roots: Vec<PathBuf>,
}

impl DiskFiles {
    pub fn within(roots: &[PathBuf]) -> DiskFiles {
        let mut roots: Vec<PathBuf> = roots.iter().filter_map(|root| std::fs::canonicalize(root).ok()).collect();
        roots.sort();
        roots.dedup();
        DiskFiles { roots }
    }

    /// Refuses paths that resolve (symbolic links included) outside every root.
    fn check_inside(&self, path: &Path) -> Result<(), FileError> {
        if self.roots.is_empty() {
            return Ok(());
        }
        let resolved = std::fs::canonicalize(path).map_err(|error| io_error(path, &error))?;
        if self.roots.iter().any(|root| resolved.starts_with(root)) {
            return Ok(());
        }
        Err(FileError::OutsideWorkspace { path: path.to_path_buf(), roots: self.roots.clone() })
    }
}

/// The workspace root of a path given on the command line: the enclosing git repository, else the
/// directory itself (or a file's directory).
pub fn workspace_root(path: &Path) -> PathBuf {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let start =
        if absolute.is_dir() { absolute.clone() } else { absolute.parent().map(Path::to_path_buf).unwrap_or_default() };
    let mut current = Some(start.as_path());
    while let Some(directory) = current {
        if directory.join(".git").exists() {
            return directory.to_path_buf();
        }
        current = directory.parent();
    }
    start
}

impl FileSource for DiskFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        self.check_inside(path)?;
        read_text(path).map(Arc::from)
    }

    /// Policies that read the clock see the real one, read at each run, as kyverno test does.
    fn current_time(&self) -> Option<DateTime<Utc>> {
        Some(Utc::now())
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        self.check_inside(path).ok()?;
        let entries = std::fs::read_dir(path).ok()?;
        let mut paths: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
        paths.sort();
        Some(paths)
    }
}

/// `DiskFiles` that remembers which files were read, so `test --timings` can time parsing exactly the
/// files a run touched.
#[derive(Debug, Default)]
pub struct RecordingFiles {
    inner: DiskFiles,
    read: Mutex<BTreeSet<PathBuf>>,
    reads: AtomicUsize,
}

impl RecordingFiles {
    pub fn new(inner: DiskFiles) -> RecordingFiles {
        RecordingFiles { inner, read: Mutex::default(), reads: AtomicUsize::new(0) }
    }

    /// Every file read successfully so far, once each, sorted. The runners join relative references onto
    /// test-file directories, so one file may have been read under several spellings: they count once.
    pub fn files_read(&self) -> Vec<PathBuf> {
        let read = self.read.lock().map(|read| read.clone()).unwrap_or_default();
        let distinct: BTreeSet<PathBuf> = read.iter().map(|path| crate::ide::normalize_path(path)).collect();
        distinct.into_iter().collect()
    }

    /// How many successful reads there were, a file read twice counting twice.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }
}

impl FileSource for RecordingFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        let text = self.inner.read(path)?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut read) = self.read.lock() {
            read.insert(path.to_path_buf());
        }
        Ok(text)
    }

    fn current_time(&self) -> Option<DateTime<Utc>> {
        self.inner.current_time()
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        self.inner.list_dir(path)
    }
}

/// Reads a UTF-8 text file of at most [`MAX_FILE_BYTES`].
pub fn read_text(path: &Path) -> Result<String, FileError> {
    // One lookup of the path (the open) and the size from the open file: a large tree is read file by file,
    // and a second lookup of each path cost as much as the reading.
    let mut file = std::fs::File::open(path).map_err(|error| io_error(path, &error))?;
    let metadata = file.metadata().map_err(|error| io_error(path, &error))?;
    if metadata.is_dir() {
        return Err(FileError::Directory { path: path.to_path_buf() });
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge { path: path.to_path_buf(), bytes: metadata.len(), limit: MAX_FILE_BYTES });
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|error| io_error(path, &error))?;
    String::from_utf8(bytes)
        .map_err(|error| FileError::NotUtf8 { path: path.to_path_buf(), offset: error.utf8_error().valid_up_to() })
}

/// Reads a file of at most [`MAX_FILE_BYTES`] into `buffer` (cleared first), for scans that look at every
/// file of a large tree and keep few: the caller reuses one buffer, and the file is read without asking its
/// size first (`File`'s own `read_to_end` looks it up and seeks), so a small file costs an open, two reads
/// and a close. The bytes are not checked to be UTF-8 (see [`read_text`] for a file to keep).
pub fn read_into(path: &Path, buffer: &mut Vec<u8>) -> Result<(), FileError> {
    buffer.clear();
    let mut file = std::fs::File::open(path).map_err(|error| io_error(path, &error))?;
    let read = std::io::Read::read_to_end(&mut std::io::Read::take(&mut file, MAX_FILE_BYTES + 1), buffer)
        .map_err(|error| io_error(path, &error))?;
    if read as u64 > MAX_FILE_BYTES {
        buffer.clear();
        let bytes = file.metadata().map_or(read as u64, |metadata| metadata.len());
        return Err(FileError::TooLarge { path: path.to_path_buf(), bytes, limit: MAX_FILE_BYTES });
    }
    Ok(())
}

/// An operating-system error as a file error: a missing file is `NotFound`, the rest keep the system's
/// message.
fn io_error(path: &Path, error: &std::io::Error) -> FileError {
    match error.kind() {
        std::io::ErrorKind::NotFound => FileError::NotFound { path: path.to_path_buf() },
        _ => FileError::Io { path: path.to_path_buf(), message: error.to_string() },
    }
}

/// The absolute, normalised form of a path (relative paths are taken from the current directory): the key
/// files are known by, so that references between them resolve.
pub fn absolute_path(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|directory| directory.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    crate::ide::normalize_path(&absolute)
}

/// Directories never walked: version control, dependencies, build output, and chainsaw e2e folders (their
/// YAML files are partial assertion objects, not manifests).
fn skip_directory(name: &str) -> bool {
    matches!(name, ".git" | "node_modules" | "target" | ".venv") || name.starts_with(".chainsaw-test")
}

/// The YAML files under the given paths (files given explicitly are kept whatever their extension), sorted.
pub fn walk_yaml_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FileError> {
    walk_files(paths, is_yaml_name)
}

/// The YAML and Rego files under the given paths (files given explicitly are kept whatever their
/// extension), sorted: what `lint` checks and `test` looks for tests in.
pub fn walk_policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FileError> {
    walk_files(paths, |name| is_yaml_name(name) || name.ends_with(".rego"))
}

fn is_yaml_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

fn walk_files(paths: &[PathBuf], wanted: fn(&str) -> bool) -> Result<Vec<PathBuf>, FileError> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|error| io_error(path, &error))?;
        if metadata.is_dir() {
            walk_directory(path, wanted, &mut files);
        } else {
            files.push(path.clone());
        }
    }
    // One folder's walk is in path order already (sorting a large tree's paths again took a tenth of a
    // `--changed-since` run).
    if paths.len() > 1 {
        files.sort();
        files.dedup();
    }
    Ok(files)
}

/// Adds the wanted files under `directory` in path order (the order of sorted `Path`s: a folder's files
/// and subfolders by name, a subfolder's files before the next name), depth first with each folder's
/// entries sorted.
fn walk_directory(directory: &Path, wanted: fn(&str) -> bool, files: &mut Vec<PathBuf>) {
    // The folders being walked, each with its entries still to visit (a file, or a folder to go into).
    let mut open: Vec<(PathBuf, std::vec::IntoIter<(std::ffi::OsString, bool)>)> =
        vec![(directory.to_path_buf(), sorted_entries(directory, wanted).into_iter())];
    while let Some((folder, entries)) = open.last_mut() {
        let Some((name, is_folder)) = entries.next() else {
            open.pop();
            continue;
        };
        let path = folder.join(name);
        if is_folder {
            let entries = sorted_entries(&path, wanted).into_iter();
            open.push((path, entries));
        } else {
            files.push(path);
        }
    }
}

/// The wanted files and the folders to walk of one folder, by name (`true` for a folder).
fn sorted_entries(directory: &Path, wanted: fn(&str) -> bool) -> Vec<(std::ffi::OsString, bool)> {
    let Ok(entries) = std::fs::read_dir(directory) else { return Vec::new() };
    let mut kept: Vec<(std::ffi::OsString, bool)> = entries
        .flatten()
        .filter_map(|entry| {
            // `file_type` does not follow symlinks, so a link cycle cannot make the walk loop.
            let file_type = entry.file_type().ok()?;
            let name = entry.file_name();
            let keep = match file_type.is_dir() {
                true => !skip_directory(&name.to_string_lossy()),
                false => file_type.is_file() && wanted(&name.to_string_lossy()),
            };
            keep.then_some((name, file_type.is_dir()))
        })
        .collect();
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn the_walk_lists_files_in_path_order() {
        let root = std::env::temp_dir().join(format!("policy-lsp-walk-order-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        // Names whose byte order differs from path order (`-` and `.` sort before `/`), a skipped folder,
        // and files the walk does not want.
        let files = [
            "a.yaml",
            "a/z.yaml",
            "a-b/c.yml",
            "a/b/c.rego",
            "a/b.yaml",
            "B.yaml",
            "a/.chainsaw-test/x.yaml",
            "notes.txt",
            ".git/x.yaml",
        ];
        for file in files {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "a: 1\n").unwrap();
        }
        let walked = super::walk_policy_files(std::slice::from_ref(&root)).unwrap();
        let mut sorted: Vec<PathBuf> = ["a.yaml", "a/z.yaml", "a-b/c.yml", "a/b/c.rego", "a/b.yaml", "B.yaml"]
            .iter()
            .map(|file| root.join(file))
            .collect();
        sorted.sort();
        assert_eq!(walked, sorted);
        let _ = std::fs::remove_dir_all(&root);
    }
}
