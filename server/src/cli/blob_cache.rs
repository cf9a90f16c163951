//! What `--changed-since` learnt of each git blob it read: whether the text can take part in a dependency
//! (it names the API group of a Kyverno Test or gator Suite, of a constraint, or of a template). Kept in the
//! user's cache folder between runs and keyed by blob id, so it never goes stale and serves every
//! repository: a file git holds unchanged whose blob is known to take part in nothing is not read again.
//! On a large tree that spares most of the reads of a run (two thirds of the files of the benchmark's tree).

use std::collections::HashMap;
use std::path::PathBuf;

use crate::vfs::{cache_file, read_cache, write_cache};

/// The first line of the cache file: the format, changed whenever what the flags mean changes.
const HEADER: &[u8] = b"policy-lsp blob-flags 1\n";
/// A record: the first 16 bytes of the blob id, then the flags.
const RECORD: usize = 17;
/// Past this many blobs, the file keeps only those of the latest run (17 bytes each: 17 MB at most).
const MAX_BLOBS: usize = 1 << 20;

/// The text names a Kyverno Test's or a gator Suite's API group.
pub const LISTS_FILES: u8 = 1;
/// The text names the constraints' API group.
pub const HOLDS_CONSTRAINT: u8 = 2;
/// The text names the templates' API group.
pub const HOLDS_TEMPLATE: u8 = 4;

/// A git object id, cut to its first 16 bytes: collisions among the blobs of a repository at that length
/// are as unlikely as a broken disk.
pub type BlobKey = u128;

/// The key of a blob id as git prints it (40 or 64 hexadecimal digits); `None` for anything else.
pub fn blob_key(hex: &str) -> Option<BlobKey> {
    if !matches!(hex.len(), 40 | 64) || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    BlobKey::from_str_radix(&hex[..32], 16).ok()
}

/// The flags of the blobs seen before, and where they are kept.
pub struct BlobCache {
    path: Option<PathBuf>,
    known: HashMap<BlobKey, u8>,
}

impl BlobCache {
    /// The cache of the user's cache folder (empty when there is none, or it cannot be read).
    pub fn load() -> BlobCache {
        let path = cache_file("blob-flags");
        let known = path.as_deref().and_then(read_cache).map(|bytes| parse(&bytes)).unwrap_or_default();
        BlobCache { path, known }
    }

    /// A cache that keeps nothing (no `--changed-since` run, or no git index to key it by).
    pub fn none() -> BlobCache {
        BlobCache { path: None, known: HashMap::new() }
    }

    /// The flags of a blob when it was read before.
    pub fn flags(&self, key: BlobKey) -> Option<u8> {
        self.known.get(&key).copied()
    }

    /// Adds what this run learnt (blobs whose text on disk is theirs) and writes the file when that is new.
    /// A cache that cannot be written is no error: the next run reads the files again.
    pub fn save(mut self, learned: impl IntoIterator<Item = (BlobKey, u8)>) {
        let Some(path) = self.path.take() else { return };
        let learned: Vec<(BlobKey, u8)> =
            learned.into_iter().filter(|(key, flags)| self.known.get(key) != Some(flags)).collect();
        if learned.is_empty() {
            return;
        }
        if self.known.len() + learned.len() > MAX_BLOBS {
            self.known.clear();
        }
        self.known.extend(learned);
        let _ = write_cache(&path, &serialize(&self.known));
    }
}

fn parse(bytes: &[u8]) -> HashMap<BlobKey, u8> {
    let Some(records) = bytes.strip_prefix(HEADER) else { return HashMap::new() };
    if records.len() % RECORD != 0 {
        // Cut short or not ours: read again rather than trust any of it.
        return HashMap::new();
    }
    records
        .chunks_exact(RECORD)
        .map(|record| {
            let mut key = [0; 16];
            key.copy_from_slice(&record[..16]);
            (BlobKey::from_be_bytes(key), record[16])
        })
        .collect()
}

fn serialize(known: &HashMap<BlobKey, u8>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER.len() + known.len() * RECORD);
    bytes.extend_from_slice(HEADER);
    for (key, flags) in known {
        bytes.extend_from_slice(&key.to_be_bytes());
        bytes.push(*flags);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_come_from_full_ids_only() {
        let id = "5d7f0a3ed0b8e3d06e1c3c3b4a0d1f2e3c4b5a69";
        assert_eq!(blob_key(id), Some(0x5d7f0a3ed0b8e3d06e1c3c3b4a0d1f2e));
        assert_eq!(blob_key(&id.repeat(2)[..64]), Some(0x5d7f0a3ed0b8e3d06e1c3c3b4a0d1f2e));
        assert_eq!(blob_key(&id[..39]), None);
        assert_eq!(blob_key(&id.replace('5', "g")), None);
    }

    #[test]
    fn the_file_reads_back_and_a_damaged_one_is_ignored() {
        let known: HashMap<BlobKey, u8> = [(1, 0), (u128::MAX, LISTS_FILES | HOLDS_TEMPLATE)].into_iter().collect();
        let bytes = serialize(&known);
        assert_eq!(parse(&bytes), known);
        assert!(parse(&bytes[..bytes.len() - 1]).is_empty(), "a record cut short");
        assert!(parse(b"policy-lsp blob-flags 0\n").is_empty(), "another format");
    }
}
