//! Pure policy engines: values and JSON pointers in, results with JSON pointers out.

pub mod archive;
pub mod cel;
pub mod chain;
pub mod digest;
pub mod gatekeeper;
pub mod kyverno;
pub mod kyverno_cel;
pub mod offline;
pub mod opa;
pub mod signature;
pub mod units;
