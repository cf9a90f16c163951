//! Fuzz target: YAML text to the value model. Any text must parse without a panic, and everything the
//! parse reports (document ranges, source-map spans, syntax errors, diagnostics, symbols, folds) must
//! point inside the text, on character boundaries.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use policy_lsp::base::{PositionEncoding, TextRange};
use policy_lsp::ide::AnalysisHost;
use policy_lsp::syntax::{SourceFile, parse_file};
use policy_lsp::testrun::{FileError, FileSource};

struct NoFiles;

impl FileSource for NoFiles {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        Err(FileError::NotFound { path: path.to_path_buf() })
    }

    fn list_dir(&self, _: &Path) -> Option<Vec<PathBuf>> {
        None
    }
}

fn assert_inside(text: &str, range: TextRange, what: &str) {
    assert!(
        range.start <= range.end && range.end <= text.len(),
        "{what} {range:?} outside a text of {} bytes",
        text.len()
    );
    assert!(
        text.is_char_boundary(range.start) && text.is_char_boundary(range.end),
        "{what} {range:?} splits a character"
    );
}

fuzz_target!(|data: &[u8]| {
    // Files that are not UTF-8 never reach the parser (the CLI and the server refuse them first).
    let Ok(text) = std::str::from_utf8(data) else { return };
    let source = SourceFile::new(text);
    assert_eq!(source.text(), text);
    for segment in source.segments() {
        let document = TextRange::new(segment.start, segment.start + segment.text.len());
        assert_inside(text, document, "document");
        for (_, span) in segment.parsed.source_map.iter() {
            assert_inside(&segment.text, span.value, "source-map value");
            if let Some(key) = span.key {
                assert_inside(&segment.text, key, "source-map key");
            }
        }
        for error in &segment.parsed.errors {
            assert_inside(&segment.text, error.range, "syntax error");
        }
        let _ = serde_json::to_string(&segment.parsed.value).expect("values serialise");
    }
    let documents = parse_file(text);
    assert_eq!(documents.len(), source.segments().len());

    let path = PathBuf::from("/fuzz/file.yaml");
    let mut host = AnalysisHost::new(Arc::new(NoFiles));
    host.set_file(path.clone(), text);
    let analysis = host.snapshot();
    for diagnostic in analysis.diagnostics(&path) {
        assert_inside(text, diagnostic.range, diagnostic.code.as_str());
    }
    for symbol in analysis.document_symbols(&path) {
        assert_inside(text, symbol.range, "symbol");
    }
    for fold in analysis.folding_ranges(&path) {
        assert_inside(text, fold, "fold");
    }
    // Completion and hover at a few places, as an editor would ask while typing.
    for offset in [0, text.len() / 3, text.len() / 2, text.len()] {
        let offset = (0..=offset).rev().find(|&offset| text.is_char_boundary(offset)).unwrap_or(0);
        let _ = analysis.completions(&path, offset);
        let _ = analysis.hover(&path, offset);
        let _ = analysis.definition(&path, offset);
        let _ = analysis.line_col(&path, offset, PositionEncoding::Utf16);
    }
});
