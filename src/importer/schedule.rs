//! The daily import inside `serve`: sleeps until the next cron slot (UTC), then imports every
//! tenant with that slot, so each replica that wakes for it skips tenants another one took.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Importer;
use crate::domain::ImportTrigger;

/// The next slot of `cron` strictly after `after`.
pub fn next_slot(cron: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    croner::Cron::from_str(cron)
        .ok()?
        .find_next_occurrence(&after, false)
        .ok()
}

/// Runs the schedule until the task is dropped. The expression was checked by `config`.
pub async fn run(importer: Arc<Importer>, cron: String) {
    loop {
        let now = Utc::now();
        let Some(slot) = next_slot(&cron, now) else {
            tracing::error!(schedule = %cron, "the import schedule has no next slot; scheduling stops");
            return;
        };
        tracing::info!(next = %slot, "next scheduled import");
        let wait = (slot - now).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        match importer
            .run_all(ImportTrigger::Schedule, Some(slot), None)
            .await
        {
            Ok(summary) => tracing::info!(
                runs = summary.runs.len(),
                skipped = summary.skipped.len(),
                failed = summary.runs.iter().filter(|r| r.reason.is_some()).count(),
                "scheduled import finished"
            ),
            Err(err) => tracing::error!(
                reason = err.reason().code(),
                error = %err,
                "scheduled import could not list the tenants"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_runs_at_two_utc() {
        let after = DateTime::parse_from_rfc3339("2026-11-27T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let next = next_slot("0 2 * * *", after).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-11-28T02:00:00+00:00");
    }
}
