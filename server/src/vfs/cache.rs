//! The user's cache folder for what a run learnt and the next may reuse (never anything a result depends
//! on that cannot be worked out again): `POLICY_LSP_CACHE_DIR` when set (empty: no cache), else the
//! platform's cache folder (`$XDG_CACHE_HOME`, `~/.cache`, `%LOCALAPPDATA%`), under `policy-lsp`.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The variable that names the cache folder, or turns the cache off when empty.
pub const CACHE_DIR_VARIABLE: &str = "POLICY_LSP_CACHE_DIR";

/// The file `name` in the cache folder; `None` when the cache is off or no folder is known.
pub fn cache_file(name: &str) -> Option<PathBuf> {
    cache_directory().map(|directory| directory.join(name))
}

fn cache_directory() -> Option<PathBuf> {
    let variable = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    if let Some(chosen) = std::env::var_os(CACHE_DIR_VARIABLE) {
        return (!chosen.is_empty()).then(|| PathBuf::from(chosen));
    }
    let base = if cfg!(windows) {
        variable("LOCALAPPDATA")
    } else {
        variable("XDG_CACHE_HOME").or_else(|| variable("HOME").map(|home| home.join(".cache")))
    };
    base.filter(|base| base.is_absolute()).map(|base| base.join("policy-lsp"))
}

/// Reads a cache file; `None` when it is missing or unreadable (a cache is only ever a shortcut).
pub fn read_cache(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// Writes a cache file whole or not at all: into a file of its own beside it, then renamed over it, so a
/// concurrent run reads either the old contents or the new.
pub fn write_cache(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let directory = path.parent().ok_or_else(|| std::io::Error::other("a cache file needs a folder"))?;
    std::fs::create_dir_all(directory)?;
    let name = path.file_name().map(|name| name.to_string_lossy().to_string()).unwrap_or_default();
    let partial = directory.join(format!(".{name}.{}.partial", std::process::id()));
    let written = std::fs::File::create(&partial).and_then(|mut file| file.write_all(bytes));
    match written.and_then(|()| std::fs::rename(&partial, path)) {
        Ok(()) => Ok(()),
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error)
        }
    }
}
