//! The real file system behind the `FileSource` trait, and the directory walk of `lint` and `test`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::testrun::FileSource;

/// Files larger than this are refused with a diagnostic instead of being read (hostile input).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads files from disk.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskFiles;

impl FileSource for DiskFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, String> {
        read_text(path).map(Arc::from)
    }

    /// Policies that call `time_now()` and friends see the real clock, as kyverno test does.
    fn current_time(&self) -> Option<String> {
        Some(chrono::Utc::now().to_rfc3339())
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        let entries = std::fs::read_dir(path).ok()?;
        let mut paths: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
        paths.sort();
        Some(paths)
    }
}

/// Reads a UTF-8 text file, with a sentence saying what is wrong otherwise.
pub fn read_text(path: &Path) -> Result<String, String> {
    let metadata = std::fs::metadata(path).map_err(|error| format!("{}: {error}", path.display()))?;
    if metadata.is_dir() {
        return Err(format!("{} is a directory", path.display()));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(format!("{} is {} bytes, over the {MAX_FILE_BYTES}-byte limit", path.display(), metadata.len()));
    }
    let bytes = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        format!("{} is not valid UTF-8 (first bad byte at offset {offset})", path.display())
    })
}

/// Directories never walked: version control, dependencies, build output, and chainsaw e2e folders (their
/// YAML files are partial assertion objects, not manifests).
fn skip_directory(name: &str) -> bool {
    matches!(name, ".git" | "node_modules" | "target" | ".venv") || name.starts_with(".chainsaw-test")
}

/// The YAML files under the given paths (files given explicitly are kept whatever their extension), sorted.
pub fn walk_yaml_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|error| format!("{}: {error}", path.display()))?;
        if metadata.is_dir() {
            walk_directory(path, &mut files);
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk_directory(directory: &Path, files: &mut Vec<PathBuf>) {
    let mut stack = vec![directory.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            // `file_type` does not follow symlinks, so a link cycle cannot make the walk loop.
            let Ok(file_type) = entry.file_type() else { continue };
            let name = entry.file_name().to_string_lossy().to_string();
            if file_type.is_dir() {
                if !skip_directory(&name) {
                    stack.push(path);
                }
            } else if file_type.is_file() && (name.ends_with(".yaml") || name.ends_with(".yml")) {
                files.push(path);
            }
        }
    }
}
