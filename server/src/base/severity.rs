//! How serious a diagnostic is: the four levels of the editor protocol, from error to hint. It sits apart
//! from `diagnostic` because the code table (`code`) gives every code a default severity and diagnostics
//! carry codes: both use it, and neither needs the other for it.

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Severity {
    Error,
    Warning,
    Info,
    Hint,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Hint => "hint",
        }
    }
}
