//! What an offline evaluation could not answer: the first thing it needed that only a registry, a
//! cluster or the network holds, so a test result built on it is reported `unsupported` instead of
//! pass or fail.

use std::sync::{Arc, Mutex};

/// Shared by the clones of one evaluation's context: a library call deep inside a `foreach` or a CEL
/// comprehension records the gap where the caller that builds the rule response can read it.
#[derive(Clone, Debug, Default)]
pub struct OfflineGaps(Arc<Mutex<Option<String>>>);

impl OfflineGaps {
    /// A recorder of its own, not shared with earlier clones.
    pub fn new() -> Self {
        OfflineGaps::default()
    }

    /// Records `reason` (a sentence naming what was needed) unless an earlier gap was recorded.
    pub fn note(&self, reason: impl Into<String>) {
        let mut first = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if first.is_none() {
            *first = Some(reason.into());
        }
    }

    /// The first gap recorded, if any.
    pub fn first(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}
