//! Fuzz target: incremental document sync. The input is a starting text plus a sequence of edits; after
//! every edit the incrementally maintained file (rope, per-document trees, values, errors, source maps)
//! must equal a fresh parse of the same text, and the analysis host's cached diagnostics must equal
//! those of a host that saw the final text at once.
//!
//! Input layout: two bytes give the length of the starting text, then the text, then edits of
//! `start (2 bytes) | removed length (1 byte) | kind (1 byte)`; a kind below 0x80 inserts a YAML
//! fragment from the table below, otherwise `kind & 0x0f` raw bytes follow as the inserted text.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use policy_lsp::base::TextRange;
use policy_lsp::ide::{AnalysisHost, TextEdit};
use policy_lsp::syntax::SourceFile;
use policy_lsp::testrun::{FileError, FileSource};

const FRAGMENTS: &[&str] = &[
    "a",
    "x: 1",
    ":",
    " ",
    "\n",
    "- ",
    "---\n",
    "\n---\n",
    "-",
    "é",
    "😀",
    "\r\n",
    "\"",
    "'",
    "#",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "|",
    ">-\n",
    "  ",
    "key: value\n",
    "...\n",
    "\t",
    "apiVersion: kyverno.io/v1\n",
    "kind: ClusterPolicy\n",
    "spec:\n  rules:\n  - name: r\n",
    "<<: *a\n",
    "? ",
    "!!str ",
    "%YAML 1.2\n",
    "\0",
    "\u{feff}",
    "{{ request.object }}",
    "rego: |\n  package x\n",
    "expression: object.x > 1\n",
];

const MAX_EDITS: usize = 64;

struct NoFiles;

impl FileSource for NoFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        Err(FileError::NotFound { path: path.to_path_buf() })
    }

    fn list_dir(&self, _: &Path) -> Option<Vec<PathBuf>> {
        None
    }
}

fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn assert_same(incremental: &SourceFile, fresh: &SourceFile, context: &dyn Fn() -> String) {
    let (left, right) = (incremental.segments(), fresh.segments());
    assert_eq!(left.len(), right.len(), "document count: {}", context());
    for (index, (left, right)) in left.iter().zip(right).enumerate() {
        assert_eq!(left.start, right.start, "document {index} start: {}", context());
        assert_eq!(left.text, right.text, "document {index} text: {}", context());
        assert_eq!(left.parsed.value, right.parsed.value, "document {index} value: {}", context());
        assert_eq!(left.parsed.errors, right.parsed.errors, "document {index} errors: {}", context());
        let mut left_map: Vec<_> =
            left.parsed.source_map.iter().map(|(pointer, span)| (pointer.to_string(), *span)).collect();
        let mut right_map: Vec<_> =
            right.parsed.source_map.iter().map(|(pointer, span)| (pointer.to_string(), *span)).collect();
        left_map.sort_by(|a, b| a.0.cmp(&b.0));
        right_map.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(left_map, right_map, "document {index} source map: {}", context());
        if let Some(left_tree) = left.tree.as_ref() {
            let right_tree = right.tree.as_ref().map(|tree| tree.root_node().to_sexp());
            assert_eq!(Some(left_tree.root_node().to_sexp()), right_tree, "document {index} tree: {}", context());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let initial_length = (u16::from_le_bytes([data[0], data[1]]) as usize % 4096).min(data.len() - 2);
    let mut text = String::from_utf8_lossy(&data[2..2 + initial_length]).into_owned();
    let mut rest = &data[2 + initial_length..];

    let mut incremental = SourceFile::new(&text);
    if data[0] % 2 == 0 {
        incremental.drop_trees();
    }
    let path = PathBuf::from("/fuzz/file.yaml");
    let mut host = AnalysisHost::new(Arc::new(NoFiles));
    host.set_file(path.clone(), &text);
    // The language server computes diagnostics between edits, which fills the per-document cache.
    let _ = host.snapshot().diagnostics(&path);

    let mut edits = 0;
    while rest.len() >= 4 && edits < MAX_EDITS {
        edits += 1;
        let start = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        let removed = rest[2] as usize % 16;
        let kind = rest[3];
        rest = &rest[4..];
        let inserted = if kind < 0x80 {
            FRAGMENTS[kind as usize % FRAGMENTS.len()].to_string()
        } else {
            let length = ((kind & 0x0f) as usize).min(rest.len());
            let inserted = String::from_utf8_lossy(&rest[..length]).into_owned();
            rest = &rest[length..];
            inserted
        };
        // Offsets past the end or inside a character are clamped, as the language server does.
        let range_start = start % (text.len() + 2);
        let range_end = range_start + removed;
        incremental.apply_edit(TextRange::new(range_start, range_end), &inserted);
        host.apply_edits(&path, &[TextEdit { range: TextRange::new(range_start, range_end), text: inserted.clone() }]);
        let clamped_start = floor_boundary(&text, range_start);
        let clamped_end = floor_boundary(&text, range_end).max(clamped_start);
        text.replace_range(clamped_start..clamped_end, &inserted);

        assert_eq!(incremental.text(), text, "rope diverged after edit {edits}");
        let fresh = SourceFile::new(&text);
        assert_same(&incremental, &fresh, &|| format!("after edit {edits}: {text:?}"));
        if edits % 8 == 0 {
            let _ = host.snapshot().diagnostics(&path);
        }
    }

    let mut fresh_host = AnalysisHost::new(Arc::new(NoFiles));
    fresh_host.set_file(path.clone(), &text);
    assert_eq!(host.snapshot().read(&path).as_deref(), Some(text.as_str()), "host text diverged");
    assert_eq!(
        host.snapshot().diagnostics(&path),
        fresh_host.snapshot().diagnostics(&path),
        "cached diagnostics differ from a fresh analysis of {text:?}"
    );
});
