//! Base vocabulary shared by every layer: byte ranges, line/column conversion, diagnostics and their codes.

mod code;
mod diagnostic;
mod line_index;
mod severity;
mod text_range;

pub use code::{Code, Group, Reported, UnknownCode};
pub use diagnostic::{Diagnostic, Fix, RelatedInformation};
pub use line_index::{LineCol, LineIndex, PositionEncoding, line_and_column};
pub use severity::Severity;
pub use text_range::TextRange;
