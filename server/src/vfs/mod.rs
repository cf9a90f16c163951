//! The front ends' one I/O boundary: files and directories on disk (confined to the workspace roots, with a
//! size limit), `.policy-lsp.yaml` settings, and the clock, all served below through the [`FileSource`]
//! trait and reported with [`FileError`]s, and the user's cache folder. `cli` and `lsp` both read the
//! outside world through here; the layers below never touch it.
//!
//! [`FileSource`]: crate::testrun::FileSource
//! [`FileError`]: crate::testrun::FileError

mod cache;
mod config;
mod disk;

pub use cache::{CACHE_DIR_VARIABLE, cache_file, read_cache, write_cache};
pub use config::{drop_excluded, is_excluded, read_config, read_configs};
pub use disk::{
    DiskFiles, MAX_FILE_BYTES, RecordingFiles, absolute_path, read_into, read_text, walk_policy_files, walk_yaml_files,
    workspace_root,
};
