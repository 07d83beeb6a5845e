//! Retention: how long the audit log's entries and the history's ended intervals are kept.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::SettingsError;

/// Audit log entries are kept 7 years (7 × 365 + 2 leap days) unless set.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 2557;

/// History intervals are kept 3 years after they ended unless set.
pub const DEFAULT_HISTORY_RETENTION_DAYS: u32 = 1095;

/// The retention settings as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditSection {
    /// Days audit log entries are kept; 0 keeps them forever.
    pub audit_retention_days: u32,
    /// Days history intervals are kept after their last day; 0 keeps them forever.
    pub history_retention_days: u32,
}

impl Default for AuditSection {
    fn default() -> Self {
        AuditSection {
            audit_retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
            history_retention_days: DEFAULT_HISTORY_RETENTION_DAYS,
        }
    }
}

impl AuditSection {
    /// How long audit log entries are kept; `None` keeps them forever. Every number of days is
    /// usable.
    pub(super) fn check(&self) -> Result<Option<Duration>, SettingsError> {
        Ok((self.audit_retention_days > 0)
            .then(|| Duration::from_secs(u64::from(self.audit_retention_days) * 86_400)))
    }

    /// Days history intervals are kept after their last day; `None` keeps them forever.
    pub(super) fn history_retention_days(&self) -> Option<u32> {
        (self.history_retention_days > 0).then_some(self.history_retention_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_retention_is_seven_years_unless_set_and_zero_keeps_forever() {
        let days = |section: AuditSection| section.check().unwrap().map(|d| d.as_secs() / 86_400);
        assert_eq!(days(AuditSection::default()), Some(2557));
        assert_eq!(
            days(AuditSection {
                audit_retention_days: 0,
                ..AuditSection::default()
            }),
            None
        );
    }

    #[test]
    fn history_is_kept_three_years_unless_set_and_zero_keeps_forever() {
        assert_eq!(AuditSection::default().history_retention_days(), Some(1095));
        let forever = AuditSection {
            history_retention_days: 0,
            ..AuditSection::default()
        };
        assert_eq!(forever.history_retention_days(), None);
    }
}
