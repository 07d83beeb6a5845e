//! The audit log: how long its entries are kept.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::SettingsError;

/// Audit log entries are kept 7 years (7 × 365 + 2 leap days) unless set.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 2557;

/// The audit settings as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditSection {
    /// Days audit log entries are kept; 0 keeps them forever.
    pub audit_retention_days: u32,
}

impl Default for AuditSection {
    fn default() -> Self {
        AuditSection {
            audit_retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
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
                audit_retention_days: 0
            }),
            None
        );
    }
}
