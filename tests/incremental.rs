//! Differential test of incremental parsing: after every edit of random edit sequences, the incremental
//! per-document trees, values, errors and source maps equal a fresh parse of the same text.

use policy_lsp::base::TextRange;
use policy_lsp::syntax::SourceFile;

const BASE: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-labels # é\n  annotations:\n    policies.kyverno.io/title: \"Require Labels 😀\"\nspec:\n  rules:\n    - name: check\n      match:\n        any:\n          - resources:\n              kinds: [Pod, Deployment]\n      validate:\n        message: |\n          multi\n          line\n        pattern:\n          metadata:\n            labels:\n              team: \"?*\"\n---\napiVersion: v1\nkind: Pod\nmetadata: &meta\n  name: web\nspec:\n  containers:\n    - name: c\n      image: 'nginx:1.25'\n---\nanchors: *meta\nlist: [a, {b: c}]\r\nwindows: line\r\n";

const INSERTIONS: &[&str] = &[
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
    "  ",
    "key: value\n",
    "...\n",
    "\t",
];

/// A small deterministic generator, so failures reproduce.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Applies `steps` random edits from `seed`, comparing the incremental state with a fresh parse after each.
fn check(seed: u64, steps: usize) {
    let mut random = Random(seed);
    let mut text = BASE.to_string();
    let mut incremental = SourceFile::new(&text);
    // Half the sequences start without trees, as files opened in the editor do.
    if seed.is_multiple_of(2) {
        incremental.drop_trees();
    }
    for step in 0..steps {
        let start = floor_char_boundary(&text, random.below(text.len() + 1));
        let end = floor_char_boundary(&text, start + random.below(6)).max(start);
        let insertion = if random.below(3) == 0 { "" } else { INSERTIONS[random.below(INSERTIONS.len())] };
        text.replace_range(start..end, insertion);
        incremental.apply_edit(TextRange::new(start, end), insertion);
        let fresh = SourceFile::new(&text);
        let context = format!("seed {seed}, step {step}, edit {start}..{end} -> {insertion:?}\n{text}");
        assert_eq!(incremental.text(), text, "rope diverged: {context}");
        assert_same(&incremental, &fresh, &context);
    }
}

fn assert_same(incremental: &SourceFile, fresh: &SourceFile, context: &str) {
    let left = incremental.segments();
    let right = fresh.segments();
    assert_eq!(left.len(), right.len(), "document count: {context}");
    for (index, (left, right)) in left.iter().zip(right).enumerate() {
        assert_eq!(left.start, right.start, "document {index} start: {context}");
        assert_eq!(left.text, right.text, "document {index} text: {context}");
        assert_eq!(left.parsed.value, right.parsed.value, "document {index} value: {context}");
        assert_eq!(left.parsed.errors, right.parsed.errors, "document {index} errors: {context}");
        let mut left_map: Vec<_> =
            left.parsed.source_map.iter().map(|(pointer, span)| (pointer.to_string(), *span)).collect();
        let mut right_map: Vec<_> =
            right.parsed.source_map.iter().map(|(pointer, span)| (pointer.to_string(), *span)).collect();
        left_map.sort_by(|a, b| a.0.cmp(&b.0));
        right_map.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(left_map, right_map, "document {index} source map: {context}");
        // A document never edited since its trees were dropped has none; every other tree must match.
        if let Some(left_tree) = left.tree.as_ref() {
            let right_tree = right.tree.as_ref().map(|tree| tree.root_node().to_sexp());
            assert_eq!(Some(left_tree.root_node().to_sexp()), right_tree, "document {index} tree: {context}");
        }
    }
}

#[test]
fn random_edit_sequences_match_a_fresh_parse() {
    for seed in 1..=40u64 {
        check(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), 60);
    }
}

#[test]
fn typing_inside_one_document_reparses_only_that_document() {
    let mut file = SourceFile::new(BASE);
    let offset = BASE.find("require-labels").unwrap() + 3;
    let stats = file.apply_edit(TextRange::empty(offset), "x");
    assert_eq!((stats.incremental, stats.fresh), (1, 0));
}

#[test]
fn typing_a_document_marker_splits_the_document() {
    let mut file = SourceFile::new(BASE);
    assert_eq!(file.segments().len(), 3);
    let offset = BASE.find("spec:").unwrap();
    file.apply_edit(TextRange::empty(offset), "---\n");
    assert_eq!(file.segments().len(), 4);
    assert_eq!(file.segments()[1].parsed.value["spec"]["rules"][0]["name"], "check");
}

/// Diagnostics cached per document and carried over edits equal those of a fresh analysis after every edit.
#[test]
fn cached_diagnostics_match_a_fresh_analysis() {
    use policy_lsp::ide::{AnalysisHost, TextEdit};
    use std::path::Path;
    use std::sync::Arc;

    let text_base = format!("{BASE}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndatta: {{}}\n");
    for seed in 1..=8u64 {
        let mut random = Random(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let mut text = text_base.clone();
        let path = Path::new("/work/cached.yaml");
        let mut host = AnalysisHost::new(Arc::new(crate::support::MemoryFiles::default()));
        host.set_file(path.to_path_buf(), &text);
        // Fill the caches before editing.
        let _ = host.snapshot().diagnostics(path);
        for step in 0..40 {
            let start = floor_char_boundary(&text, random.below(text.len() + 1));
            let end = floor_char_boundary(&text, start + random.below(6)).max(start);
            let insertion = if random.below(3) == 0 { "" } else { INSERTIONS[random.below(INSERTIONS.len())] };
            text.replace_range(start..end, insertion);
            host.apply_edits(path, &[TextEdit { range: TextRange::new(start, end), text: insertion.to_string() }]);
            let mut fresh = AnalysisHost::new(Arc::new(crate::support::MemoryFiles::default()));
            fresh.set_file(path.to_path_buf(), &text);
            assert_eq!(
                host.snapshot().diagnostics(path),
                fresh.snapshot().diagnostics(path),
                "seed {seed}, step {step}: {text}"
            );
        }
    }
}

/// Applies fixed edits (byte ranges, clamped like the server's) and compares with a fresh parse after each.
fn check_edits(initial: &str, edits: &[(usize, usize, &str)]) {
    let mut text = initial.to_string();
    let mut incremental = SourceFile::new(&text);
    for (step, &(start, end, insertion)) in edits.iter().enumerate() {
        incremental.apply_edit(TextRange::new(start, end), insertion);
        let clamped_start = floor_char_boundary(&text, start);
        let clamped_end = floor_char_boundary(&text, end).max(clamped_start);
        text.replace_range(clamped_start..clamped_end, insertion);
        assert_eq!(incremental.text(), text, "rope diverged at step {step}");
        assert_same(&incremental, &SourceFile::new(&text), &format!("step {step}: {text:?}"));
    }
}

#[test]
fn fuzz_found_edit_sequences_match_a_fresh_parse() {
    check_edits(
        "q",
        &[
            (0, 2, "*a"),
            (2, 12, "kind: ClusterPolicy\n"),
            (0, 5, "&a "),
            (2, 14, "*a"),
            (10, 20, "apiVersion: kyverno.io/v1\n"),
            (35, 44, "<<: *a\n"),
        ],
    );
}
