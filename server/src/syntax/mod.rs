//! Syntax: YAML text -> documents with a JSON value each (interim loader; the incremental tree-sitter
//! layer with source maps replaces the internals while keeping `parse_file`).

/// One `---` document of a YAML stream.
#[derive(Debug, Clone)]
pub struct ParsedDocument {
    /// The document as JSON; `Null` for an empty document or one that failed to parse.
    pub value: serde_json::Value,
    /// Syntax errors, as sentences.
    pub errors: Vec<String>,
}

/// Parses every document of a YAML stream. Never fails: errors are carried in the documents.
pub fn parse_file(text: &str) -> Vec<ParsedDocument> {
    use serde::Deserialize;
    let mut documents = Vec::new();
    for document in yaml_serde::Deserializer::from_str(text) {
        match serde_json::Value::deserialize(document) {
            Ok(value) => documents.push(ParsedDocument {
                value,
                errors: Vec::new(),
            }),
            Err(error) => {
                documents.push(ParsedDocument {
                    value: serde_json::Value::Null,
                    errors: vec![error.to_string()],
                });
                break;
            }
        }
    }
    documents
}
