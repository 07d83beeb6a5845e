//! The `serve --demo` data set: the built-in Microsoft simulator on a loopback port, and its
//! tenants imported through the real importer over a past of about two months, so history,
//! license changes and last month's chargeback show movement on first start. Members are named
//! in their tenants' verified custom domains, the last tenant's imports fail on a Conditional
//! Access policy, and the imported tenants get cost groups, rules and prices from the first
//! import day on, written through the store functions the mutations use, and budgets for three
//! of the groups that show each budget status.

use chrono::{Days, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::config::Settings;
use crate::config::secrets::SecretsSection;
use crate::config::upstream::UpstreamSection;
use crate::domain::allocation::{
    AllocationRule, Attribute, Condition, Currency, Operator, Price, Share,
};
use crate::domain::budget::{Budget, BudgetPeriod};
use crate::domain::chargeback::Month;
use crate::domain::{AllocationRuleId, CostGroupId, ImportTrigger, TenantId, TenantScope};
use crate::importer::Importer;
use crate::simulator::{self, Fault, RunningSimulator, TenantSelector};
use crate::store::allocation::NewCostGroup;
use crate::store::{self, Store, history, import_runs};

/// Tenants of the demo simulator: four imported, and [`BLOCKED_TENANT`].
const TENANTS: usize = 5;
/// The 0-based position of the tenant whose Conditional Access policy refuses the partner's
/// tokens (AADSTS53003), so its imports fail with a reason and what to do.
const BLOCKED_TENANT: usize = 4;
/// The 0-based position of the tenant without Entra ID P1/P2: Graph refuses its sign-in
/// activity, so its imports succeed with `INACTIVE` marked unavailable.
const NO_PREMIUM_TENANT: usize = 3;
/// Who the audit log names for the demo's sample allocation.
pub const DEMO_ACTOR: &str = "demo";
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
        custom_domains: true,
        faults: vec![
            (
                TenantSelector::Index(BLOCKED_TENANT),
                Fault::ConditionalAccess,
            ),
            (
                TenantSelector::Index(NO_PREMIUM_TENANT),
                Fault::SignInActivityRefused,
            ),
        ],
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
/// first; the simulator stays on today's day afterwards. On a fresh database, the sample
/// allocation ([`seed_allocation`]) is written after the first day's import, dated that day.
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
    let mut seeded = None;
    for (n, &(day, date)) in days.iter().enumerate() {
        sim.set_day(day);
        let summary = importer
            .run_all_as_of(ImportTrigger::Demo, None, None, Some(date))
            .await
            .map_err(|e| format!("demo import of {date} failed: {e}"))?;
        runs += summary.runs.len();
        failed += summary.runs.iter().filter(|r| r.reason.is_some()).count();
        if n == 0 && last.is_none() {
            // In Partner Center order, so the first tenant's prices are always in CHF.
            let imported: Vec<TenantId> = sim
                .tenant_ids()
                .into_iter()
                .map(TenantId)
                .filter(|t| {
                    summary
                        .runs
                        .iter()
                        .any(|r| r.tenant_id == *t && r.reason.is_none())
                })
                .collect();
            let groups = history::dated(date, seed_allocation(store, &imported, date))
                .await
                .map_err(|e| format!("demo allocation could not be written: {e}"))?;
            seeded = Some((date, groups));
        }
    }
    if let Some((first, groups)) = seeded {
        seed_budgets(store, &groups, first, Utc::now().date_naive())
            .await
            .map_err(|e| format!("demo budgets could not be written: {e}"))?;
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

/// A cost group of the sample allocation: name, code, the parent's position in
/// [`COST_GROUPS`], and the conditions of its rule (rules run in this order).
type GroupSpec = (
    &'static str,
    &'static str,
    Option<usize>,
    &'static [(Attribute, Operator, &'static [&'static str])],
);

/// The sample cost groups, each with one rule; users no rule matches (sales staff, whom the
/// README's tour allocates, users without a department, guests, shared mailboxes) stay
/// unallocated.
const COST_GROUPS: [GroupSpec; 4] = [
    (
        "IT",
        "CC-4000",
        None,
        &[(Attribute::Department, Operator::Equals, &["IT"])],
    ),
    (
        "IT Infrastruktur",
        "CC-4100",
        Some(0),
        &[(
            Attribute::Department,
            Operator::Equals,
            &["IT Infrastruktur"],
        )],
    ),
    (
        "Verwaltung",
        "CC-1000",
        None,
        &[(
            Attribute::Department,
            Operator::In,
            &[
                "Geschäftsleitung",
                "Finance",
                "Λογιστήριο",
                "Ressources humaines",
            ],
        )],
    ),
    (
        "Bau",
        "CC-5000",
        None,
        &[(Attribute::Department, Operator::Equals, &["Bau"])],
    ),
];

/// Monthly unit prices of the simulator's paid SKUs, in minor units (cents); free SKUs stay
/// unpriced.
const PRICES: [(&str, i64); 5] = [
    ("SPE_E5", 5700),
    ("SPE_E3", 3600),
    ("MCOEV", 800),
    ("EXCHANGESTANDARD", 400),
    ("POWER_BI_PRO", 1400),
];

/// The currency of the `n`-th imported tenant's prices (one per tenant): Swiss francs for the
/// first (Alpenhof Demo AG, `alpenhof-demo.ch`), euros for the others.
fn currency_code(n: usize) -> &'static str {
    if n == 0 { "CHF" } else { "EUR" }
}

/// Writes the sample allocation of `tenants` (cost groups from `from`, one rule each, prices
/// from `from`), as [`DEMO_ACTOR`], through the store functions the mutations use, so that the
/// audit log records each change. Returns each tenant's groups in [`COST_GROUPS`] order.
async fn seed_allocation(
    store: &Store,
    tenants: &[TenantId],
    from: NaiveDate,
) -> Result<Vec<SeededTenant>, String> {
    let mut seeded = Vec::with_capacity(tenants.len());
    let scope = TenantScope::All;
    let err = |e: store::error::StoreError| e.to_string();
    let subscriptions = store::subscriptions::list_subscriptions_of_tenants(store, tenants)
        .await
        .map_err(err)?;
    for (n, &tenant_id) in tenants.iter().enumerate() {
        let mut ids: Vec<CostGroupId> = Vec::new();
        for &(name, code, parent, conditions) in &COST_GROUPS {
            let new = NewCostGroup {
                tenant_id,
                parent_id: parent.and_then(|p| ids.get(p).copied()),
                name: name.to_owned(),
                code: Some(code.to_owned()),
                description: None,
            };
            let group =
                store::allocation::create_cost_group(store, &scope, DEMO_ACTOR, new, Some(from))
                    .await
                    .map_err(err)?;
            ids.push(group.id);
            let rule = AllocationRule {
                id: AllocationRuleId(uuid::Uuid::new_v4()),
                tenant_id,
                targets: vec![Share::whole(group.id)],
                priority: 0,
                enabled: true,
                conditions: conditions
                    .iter()
                    .map(|&(attribute, operator, values)| Condition {
                        attribute,
                        operator,
                        values: values.iter().map(|v| (*v).to_owned()).collect(),
                        case_sensitive: false,
                    })
                    .collect(),
            };
            store::allocation::create_rule(store, &scope, DEMO_ACTOR, rule, None)
                .await
                .map_err(err)?;
        }
        let currency = Currency::parse(currency_code(n)).map_err(|e| e.to_string())?;
        for sub in subscriptions.iter().filter(|s| s.tenant_id == tenant_id) {
            let Some(&(_, cents)) = PRICES.iter().find(|(p, _)| *p == sub.sku_part_number) else {
                continue;
            };
            let price = Price::new(sub.sku_id, Decimal::new(cents, 2), currency, from)
                .map_err(|e| e.to_string())?;
            store::allocation::set_price(store, &scope, tenant_id, DEMO_ACTOR.to_owned(), price)
                .await
                .map_err(err)?;
        }
        seeded.push(SeededTenant {
            tenant_id,
            currency,
            groups: ids,
        });
    }
    Ok(seeded)
}

/// A tenant [`seed_allocation`] wrote: its prices' currency and its groups in [`COST_GROUPS`]
/// order.
struct SeededTenant {
    tenant_id: TenantId,
    currency: Currency,
    groups: Vec<CostGroupId>,
}

/// The sample budgets: a group's position in [`COST_GROUPS`] and its budget as a percentage of
/// what its subtree cost last month, so that the demo shows each status: IT's forecast runs
/// over its budget, Bau's passes 80 % of it, Verwaltung's stays under.
const BUDGETS: [(usize, i64); 3] = [(0, 90), (3, 105), (2, 150)];

/// Writes [`BUDGETS`] for the groups of `seeded`, from the month of `first` (the first import
/// day) on, as [`DEMO_ACTOR`] through the store function the mutation uses, measured against
/// last month's chargeback as of `today`. A group that cost nothing last month gets none.
async fn seed_budgets(
    store: &Store,
    seeded: &[SeededTenant],
    first: NaiveDate,
    today: NaiveDate,
) -> Result<(), String> {
    let scope = TenantScope::All;
    let last_month = Month::of(Month::of(today).first_day() - Days::new(1));
    for tenant in seeded {
        let Some(charge) =
            store::chargeback::find_chargeback(store, &scope, tenant.tenant_id, last_month, today)
                .await
                .map_err(|e| e.to_string())?
        else {
            continue;
        };
        for &(position, percent) in &BUDGETS {
            let Some(&group) = tenant.groups.get(position) else {
                continue;
            };
            let Some(cost) = charge
                .chargeback
                .groups
                .iter()
                .find(|g| g.group_id == group)
            else {
                continue;
            };
            let amount = (cost.subtree.amount() * Decimal::new(percent, 2))
                .round_dp(tenant.currency.minor_units());
            if amount <= Decimal::ZERO {
                continue;
            }
            let budget = Budget::new(
                group,
                BudgetPeriod::From(Month::of(first)),
                amount,
                tenant.currency,
                None,
            )
            .map_err(|e| e.to_string())?;
            store::allocation::set_budget(store, &scope, DEMO_ACTOR, &budget)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
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
