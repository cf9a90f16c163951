//! `.policy-lsp.yaml` from disk: read from a workspace root (for the command line, the enclosing git
//! repository of each path), and used to leave excluded files out of directory walks.

use std::path::{Path, PathBuf};

use super::disk::{absolute_path, read_text};
use crate::ide::config::{CONFIG_FILE_NAME, Config};
use crate::syntax::parse_file;

/// The settings of a workspace root: its `.policy-lsp.yaml`, or empty settings. Problems in the file are
/// reported when the file itself is linted.
pub fn read_config(root: &Path) -> Config {
    let root = crate::ide::normalize_path(root);
    let Ok(text) = read_text(&root.join(CONFIG_FILE_NAME)) else { return Config::empty(root) };
    match parse_file(&text).first() {
        Some(document) => Config::from_document(root, &document.parsed, document.start).0,
        None => Config::empty(root),
    }
}

/// The settings of every distinct root.
pub fn read_configs(roots: &[PathBuf]) -> Vec<Config> {
    let mut roots: Vec<PathBuf> = roots.iter().map(|root| crate::ide::normalize_path(root)).collect();
    roots.sort();
    roots.dedup();
    roots.iter().map(|root| read_config(root)).collect()
}

/// Drops walked files that a root's `exclude` covers; files named on the command line are always kept.
pub fn drop_excluded(files: Vec<PathBuf>, explicit: &[PathBuf], configs: &[Config]) -> Vec<PathBuf> {
    // Most trees exclude nothing: no path needs resolving then (a large tree has tens of thousands).
    if configs.iter().all(|config| config.exclude.is_empty()) {
        return files;
    }
    files.into_iter().filter(|file| explicit.contains(file) || !is_excluded(file, configs)).collect()
}

/// Whether the `exclude` of the innermost root holding the file covers it.
pub fn is_excluded(file: &Path, configs: &[Config]) -> bool {
    let key = absolute_path(file);
    let config = configs
        .iter()
        .filter(|config| key.starts_with(&config.base))
        .max_by_key(|config| config.base.components().count());
    config.is_some_and(|config| config.is_excluded(&key))
}
