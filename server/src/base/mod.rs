//! Base vocabulary shared by every layer: byte ranges, line/column conversion, diagnostics and their codes.

mod code;
mod diagnostic;
mod line_index;
mod text_range;

pub use code::{Code, Group, Reported, UnknownCode};
pub use diagnostic::{Diagnostic, Fix, RelatedInformation, Severity};
pub use line_index::{LineCol, LineIndex, PositionEncoding, line_and_column};
pub use text_range::TextRange;
