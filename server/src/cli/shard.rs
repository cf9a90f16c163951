//! `--shard i/n` for `lint` and `test`: a deterministic split of the work by folder, so that CI can run
//! `n` jobs side by side and merge their outputs with `policy-lsp merge`.
//!
//! The unit of the split is a folder, chosen by a hash of its path relative to the workspace root: the
//! files of one folder stay together (a test file, its resources and the Chainsaw test or constraint
//! template beside it are read as neighbours), a file keeps its shard when unrelated files are added or
//! removed (no re-balancing of the whole list), and every job computes the same split without talking to
//! the others whatever directory the checkout lives in.

use std::path::{Component, Path, PathBuf};

use crate::vfs::absolute_path;

/// One shard of `count`: `index` is 1-based, as CI matrices count jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The flag, shared by `lint` and `test`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ShardFlags {
    /// Check only shard I of N (1-based), split by folder; `policy-lsp merge` joins the JSON, SARIF or
    /// JUnit outputs of the N runs.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
}

/// Reads `i/n` with `1 <= i <= n`.
pub fn parse_shard(text: &str) -> Result<Shard, String> {
    let malformed = || format!("`{text}` is not a shard such as 1/4 (I/N with 1 <= I <= N)");
    let (index, count) = text.split_once('/').ok_or_else(malformed)?;
    let index: u32 = index.trim().parse().map_err(|_| malformed())?;
    let count: u32 = count.trim().parse().map_err(|_| malformed())?;
    if count == 0 || index == 0 || index > count {
        return Err(malformed());
    }
    Ok(Shard { index, count })
}

impl Shard {
    /// Whether the work in `folder` belongs to this shard. `roots` are the workspace roots of the run: the
    /// folder is hashed relative to the innermost one holding it, so two checkouts at different places
    /// split alike.
    pub fn holds_folder(&self, folder: &Path, roots: &[PathBuf]) -> bool {
        // Roots are canonical (resolved links), so the folder is too; one call per folder, not per file.
        let absolute = std::fs::canonicalize(folder).unwrap_or_else(|_| absolute_path(folder));
        let root = roots
            .iter()
            .map(|root| std::fs::canonicalize(root).unwrap_or_else(|_| absolute_path(root)))
            .filter(|root| absolute.starts_with(root))
            .max_by_key(|root| root.components().count());
        let relative = match &root {
            Some(root) => absolute.strip_prefix(root).unwrap_or(&absolute),
            None => absolute.as_path(),
        };
        // Components joined with `/`, so the split does not depend on the platform's separator.
        let mut key = String::new();
        for component in relative.components() {
            if let Component::Normal(name) = component {
                if !key.is_empty() {
                    key.push('/');
                }
                key.push_str(&name.to_string_lossy());
            }
        }
        fnv1a(key.as_bytes()) % u64::from(self.count) == u64::from(self.index - 1)
    }

    /// Whether a file belongs to this shard: its folder does.
    pub fn holds_file(&self, file: &Path, roots: &[PathBuf]) -> bool {
        self.holds_folder(file.parent().unwrap_or(Path::new("")), roots)
    }

    /// `i/n`, as the flag takes it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.index, self.count)
    }
}

/// 64-bit FNV-1a: fixed by its definition, unlike the standard library's hasher, whose output may change
/// between Rust releases and would move files between shards of jobs built differently.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_index_and_count() {
        assert_eq!(parse_shard("2/5"), Ok(Shard { index: 2, count: 5 }));
        for bad in ["0/3", "4/3", "1/0", "1", "a/b", "1/2/3", ""] {
            assert!(parse_shard(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn every_folder_lands_in_exactly_one_shard() {
        let roots = [PathBuf::from("/repository")];
        for folder in ["/repository/a", "/repository/a/b", "/repository/c d", "/repository"] {
            let holders: Vec<u32> = (1..=4)
                .filter(|index| Shard { index: *index, count: 4 }.holds_folder(Path::new(folder), &roots))
                .collect();
            assert_eq!(holders.len(), 1, "{folder} is held by {holders:?}");
        }
    }

    #[test]
    fn the_split_is_relative_to_the_root() {
        let shard = |index| Shard { index, count: 7 };
        for index in 1..=7 {
            assert_eq!(
                shard(index).holds_folder(Path::new("/one/checkout/policies/x"), &[PathBuf::from("/one/checkout")]),
                shard(index).holds_folder(Path::new("/elsewhere/policies/x"), &[PathBuf::from("/elsewhere")]),
            );
        }
    }

    #[test]
    fn fnv1a_matches_its_reference_values() {
        // Published test vectors of 64-bit FNV-1a.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
