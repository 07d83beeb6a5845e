//! License optimization: after how many days without a sign-in a user counts as inactive.

use serde::{Deserialize, Serialize};

use super::SettingsError;

/// Users with no sign-in for 90 days count as inactive unless set.
pub const DEFAULT_INACTIVE_DAYS: u32 = 90;

/// Longest inactivity window accepted (10 years): Microsoft keeps sign-ins since April 2020.
const MAX_INACTIVE_DAYS: u32 = 3650;

/// The optimization settings as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptimizationSection {
    /// Days without a sign-in after which an enabled, licensed user is `INACTIVE`.
    pub inactive_days: u32,
}

impl Default for OptimizationSection {
    fn default() -> Self {
        OptimizationSection {
            inactive_days: DEFAULT_INACTIVE_DAYS,
        }
    }
}

impl OptimizationSection {
    /// The inactivity window in days: 1 to 3650.
    pub(super) fn check(&self) -> Result<u32, SettingsError> {
        if (1..=MAX_INACTIVE_DAYS).contains(&self.inactive_days) {
            Ok(self.inactive_days)
        } else {
            Err(SettingsError::new(
                "inactive_days",
                format!(
                    "expected a number of days from 1 to {MAX_INACTIVE_DAYS}, got {}",
                    self.inactive_days
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactivity_is_ninety_days_unless_set_and_zero_is_refused() {
        assert_eq!(OptimizationSection::default().check().unwrap(), 90);
        let err = OptimizationSection { inactive_days: 0 }
            .check()
            .unwrap_err();
        assert!(err.to_string().contains("inactive_days"), "{err}");
        assert!(err.to_string().contains("got 0"), "{err}");
    }
}
