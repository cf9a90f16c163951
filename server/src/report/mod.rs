//! Output formats for the CLI: one renderer per format, all fed by the same located data.

pub mod apply;
pub mod lint;
pub mod merge;
pub mod test;

/// A diagnostic placed in a file, with 1-based lines and columns (columns count Unicode characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocatedDiagnostic {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub severity: crate::base::Severity,
    pub code: crate::base::Code,
    pub message: String,
}

/// One file's diagnostics and the source lines that code frames quote.
#[derive(Clone, Debug)]
pub struct FileReport {
    /// The path as reached from the path the user gave.
    pub path: String,
    pub lines: Vec<String>,
    pub diagnostics: Vec<LocatedDiagnostic>,
}

/// A JSON document as the machine-readable renderers print it: pretty, with a final newline.
pub fn pretty_json(document: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

/// Escapes text for XML attribute and element content.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            control if (control as u32) < 0x20 && !matches!(control, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            other => out.push(other),
        }
    }
    out
}

/// Escapes a GitHub workflow command's message (`%`, CR, LF).
pub fn github_escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a GitHub workflow command's property value (also `:` and `,`).
pub fn github_escape_property(text: &str) -> String {
    github_escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
