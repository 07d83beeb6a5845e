//! The `serve --demo` data set: the built-in Microsoft simulator on a loopback port, and its
//! tenants imported through the real importer over a past of about two months, so history,
//! license changes and last month's chargeback show movement on first start.

use chrono::{Days, NaiveDate, Utc};

use crate::config::Settings;
use crate::config::secrets::SecretsSection;
use crate::config::upstream::UpstreamSection;
use crate::domain::ImportTrigger;
use crate::importer::Importer;
use crate::simulator::{self, RunningSimulator};
use crate::store::{self, Store, import_runs};

/// Tenants of the demo simulator.
const TENANTS: usize = 4;
/// Users per tenant of the demo simulator (the first page of 100 is full).
const USERS_PER_TENANT: usize = 150;

/// The days the demo imports, as days before today, oldest first: the simulator's timeline
/// (hires, leavers, department, manager and license changes each day) seen on these days, the
/// first one in the month before last, so last month is a whole month of history.
const PAST_DAYS: [u64; 8] = [59, 45, 38, 31, 24, 14, 7, 0];

/// Starts the simulator for `serve --demo` on a free loopback port and returns settings that
/// point the importer at it.
pub async fn upstream(settings: &Settings) -> Result<(Settings, RunningSimulator), String> {
    let config = simulator::SimulatorConfig {
        tenants: TENANTS,
        users_per_tenant: USERS_PER_TENANT,
        ..simulator::SimulatorConfig::default()
    };
    let sim = simulator::start(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| format!("cannot start the demo simulator: {e}"))?;
    let config = sim.config();
    let base = sim.base_url();
    let mut demo = settings.clone();
    demo.upstream = UpstreamSection {
        login_url: base.clone(),
        partner_center_url: base.clone(),
        graph_url: base,
        client_id: Some(config.client_id.clone()),
        client_secret: Some(config.client_secret.clone()),
        client_secret_file: None,
        refresh_token: Some(config.refresh_token.clone()),
        refresh_token_file: None,
        partner_tenant_id: Some(config.partner_tenant_id.to_string()),
    };
    demo.importer.import_tenants = None;
    // Without a configured key, a key for this process only: a token stored by an earlier demo
    // then can't be decrypted, and the simulator's initial token is used again.
    if !settings.secrets.has_key() {
        let key = store::secrets::generate_key().map_err(|e| e.to_string())?;
        demo.secrets = SecretsSection {
            secret_key: Some(secrecy::ExposeSecret::expose_secret(&key).to_owned()),
            ..SecretsSection::default()
        };
    }
    tracing::info!(url = %sim.base_url(), "demo: built-in Microsoft simulator started");
    Ok((demo, sim))
}

/// The simulator day and the observed date of each demo import after `last` (the latest date a
/// stored import observed, if any), for `today`: the whole past on a fresh database, today's
/// import alone on a database an earlier demo filled.
pub fn import_days(today: NaiveDate, last: Option<NaiveDate>) -> Vec<(u32, NaiveDate)> {
    let first = PAST_DAYS[0];
    PAST_DAYS
        .iter()
        .filter_map(|&ago| {
            let date = today.checked_sub_days(Days::new(ago))?;
            let day = u32::try_from(first - ago).ok()?;
            (ago == 0 || last.is_none_or(|last| date > last)).then_some((day, date))
        })
        .collect()
}

/// Imports the demo tenants on each of [`import_days`], moving the simulator to each day
/// first; the simulator stays on today's day afterwards.
pub async fn import_with_past(
    importer: &std::sync::Arc<Importer>,
    store: &Store,
    sim: &RunningSimulator,
) -> Result<(), String> {
    let last = import_runs::last_observed_dates(store)
        .await
        .map_err(|e| format!("demo import failed: {e}"))?
        .into_values()
        .max();
    let days = import_days(Utc::now().date_naive(), last);
    let (mut runs, mut failed) = (0, 0);
    for &(day, date) in &days {
        sim.set_day(day);
        let summary = importer
            .run_all_as_of(ImportTrigger::Cli, None, None, Some(date))
            .await
            .map_err(|e| format!("demo import of {date} failed: {e}"))?;
        runs += summary.runs.len();
        failed += summary.runs.iter().filter(|r| r.reason.is_some()).count();
    }
    tracing::info!(
        days = days.len(),
        runs,
        failed,
        first = %days.first().map_or(String::new(), |(_, d)| d.to_string()),
        "demo tenants imported from the built-in simulator"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_fresh_demo_imports_two_months_oldest_first_ending_today() {
        let days = import_days(date("2026-12-03"), None);
        assert_eq!(days.len(), PAST_DAYS.len());
        assert_eq!(days[0], (0, date("2026-10-05")));
        assert_eq!(*days.last().unwrap(), (59, date("2026-12-03")));
        assert!(days.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
        // The whole of last month lies after the first import.
        assert!(days[0].1 < date("2026-11-01"));
    }

    #[test]
    fn a_demo_database_imported_before_only_moves_forward() {
        let today = date("2026-12-03");
        assert_eq!(import_days(today, Some(today)), vec![(59, today)]);
        let days = import_days(today, Some(date("2026-11-25")));
        assert_eq!(days, vec![(52, date("2026-11-26")), (59, today)]);
    }
}
