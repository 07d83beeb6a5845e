//! Errors of the domain: values that break the project's own rules.

use thiserror::Error;

/// A value that does not fit the domain's rules, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// An id that is not a GUID.
    #[error("{kind} must be a GUID, got {value:?}")]
    InvalidId {
        /// What kind of id it was meant to be ("tenant id", "user id", ...).
        kind: &'static str,
        /// The rejected text, shortened to 64 characters.
        value: String,
    },
    /// A page size outside 1..=max.
    #[error("first must be between 0 and {max}, got {got}")]
    InvalidPageSize {
        /// The largest page size allowed.
        max: u32,
        /// The requested size.
        got: i64,
    },
}

/// Shortens user-supplied text before it is echoed in an error message.
pub(crate) fn clip(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let mut clipped: String = value.chars().take(MAX).collect();
        clipped.push('…');
        clipped
    }
}
