//! History: the date each import observed (`import --as-of`), which only moves forward per
//! tenant, against the simulator over real HTTP, on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde_json::json;
use tenantgraph::domain::{ImportTrigger, RunStatus, TenantId};

use crate::importer::{importer_for, simulator, store_db};
use crate::support::{TestApp, backends};

#[tokio::test]
async fn imports_record_the_date_they_observed_and_never_go_back_before_it() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 30).await;
        let tenant = TenantId(sim.tenant_ids()[0]);
        let importer = importer_for(&app.store, &sim).await;
        let today = Utc::now().date_naive();
        let as_of = |date| {
            let importer = importer.clone();
            async move {
                importer
                    .run_all_as_of(ImportTrigger::Cli, None, None, date)
                    .await
                    .unwrap()
            }
        };
        let runs_query = r#"query($t: ID!) { importRuns(tenantId: $t, first: 10) {
            edges { node { observedOn status } } } }"#;
        let observed = || async {
            let data = app
                .data(runs_query, json!({ "t": tenant.to_string() }))
                .await;
            data["importRuns"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["observedOn"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };

        let first = today - Duration::days(10);
        let summary = as_of(Some(first)).await;
        assert_eq!(summary.runs.len(), 1);
        assert_eq!(summary.runs[0].status, RunStatus::Succeeded);
        assert_eq!(summary.runs[0].observed_on, first);
        assert_eq!(observed().await, [first.to_string()]);

        // An earlier date is refused before anything is read or written.
        sim.set_day(1);
        let refused = as_of(Some(first - Duration::days(1))).await;
        assert!(refused.runs.is_empty(), "{refused:?}");
        assert_eq!(refused.skipped, [tenant]);
        assert_eq!(observed().await, [first.to_string()]);

        // The same day again, then the import's own date.
        let again = as_of(Some(first)).await;
        assert_eq!(again.runs[0].status, RunStatus::Succeeded);
        let now = as_of(None).await;
        assert_eq!(now.runs[0].observed_on, today);
        let mut dates = observed().await;
        dates.sort();
        assert_eq!(
            dates,
            [first.to_string(), first.to_string(), today.to_string()]
        );
        sim.stop().await;
    }
}

/// Each SKU's counts as `tenant.subscriptions` shows them now: id → (purchased, assigned,
/// suspended, billing).
async fn sku_counts(app: &TestApp, tenant: TenantId) -> BTreeMap<String, (i64, i64, i64, String)> {
    let data = app
        .data(
            r#"query($t: ID!) { tenant(id: $t) { subscriptions {
                skuId purchased assigned suspended billing } } }"#,
            json!({ "t": tenant.to_string() }),
        )
        .await;
    data["tenant"]["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let n = |k: &str| s[k].as_i64().unwrap();
            let id = s["skuId"].as_str().unwrap().to_owned();
            let billing = s["billing"].as_str().unwrap().to_owned();
            (id, (n("purchased"), n("assigned"), n("suspended"), billing))
        })
        .collect()
}

const HISTORY: &str = r#"query($t: ID!, $from: Date!, $to: Date!, $g: HistoryGranularity!,
    $b: [SkuBilling!]!) { tenant(id: $t) {
      consumptionHistory(from: $from, to: $to, granularity: $g, billing: $b) {
        skuId skuPartNumber billing
        points { date purchased assigned unassigned suspended minAssigned maxAssigned } } } }"#;

async fn sku_history_rows(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    tenantgraph::store::entities::sku_count_history::Entity::find()
        .count(&store_db(&app.store).await)
        .await
        .unwrap()
}

/// Twenty days ago, ten days ago and today.
fn three_dates(today: chrono::NaiveDate) -> [chrono::NaiveDate; 3] {
    [
        today - Duration::days(20),
        today - Duration::days(10),
        today,
    ]
}

/// Imports the simulator's day `index * 10` as observed on `date`.
async fn import_day(
    importer: &std::sync::Arc<tenantgraph::importer::Importer>,
    sim: &tenantgraph::simulator::RunningSimulator,
    index: usize,
    date: chrono::NaiveDate,
) {
    sim.set_day(index as u32 * 10);
    let summary = importer
        .run_all_as_of(ImportTrigger::Cli, None, None, Some(date))
        .await
        .unwrap();
    assert_eq!(summary.runs[0].status, RunStatus::Succeeded, "{summary:?}");
}

#[tokio::test]
async fn consumption_history_shows_each_day_what_the_import_before_it_observed() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 60).await;
        let tenant = TenantId(sim.tenant_ids()[0]);
        let importer = importer_for(&app.store, &sim).await;
        let today = Utc::now().date_naive();
        let dates = three_dates(today);
        let mut seen = Vec::new();
        for (day, date) in dates.iter().enumerate() {
            import_day(&importer, &sim, day, *date).await;
            seen.push(sku_counts(&app, tenant).await);
        }
        assert_ne!(
            seen[0], seen[2],
            "the simulated tenant changed over 20 days"
        );

        let all = json!(["PARTNER", "FREE", "TRIAL", "OTHER"]);
        let vars = |from: chrono::NaiveDate, g: &str, b: &serde_json::Value| {
            json!({ "t": tenant.to_string(), "from": from.to_string(),
                    "to": today.to_string(), "g": g, "b": b })
        };
        let data = app
            .data(HISTORY, vars(today - Duration::days(30), "DAY", &all))
            .await;
        let series = data["tenant"]["consumptionHistory"].as_array().unwrap();
        assert_eq!(series.len(), seen[2].len(), "{data}");
        for s in series {
            let id = s["skuId"].as_str().unwrap();
            let points = s["points"].as_array().unwrap();
            // Nothing before the first import; one point a day from it to today.
            assert_eq!(points.len(), 21, "{s}");
            assert_eq!(points[0]["date"], dates[0].to_string());
            for p in points {
                let date: chrono::NaiveDate = p["date"].as_str().unwrap().parse().unwrap();
                let import = dates.iter().rposition(|d| *d <= date).unwrap();
                let (purchased, assigned, suspended, _) = &seen[import][id];
                assert_eq!(p["purchased"], *purchased, "{id} {date}");
                assert_eq!(p["assigned"], *assigned, "{id} {date}");
                assert_eq!(p["suspended"], *suspended, "{id} {date}");
                assert_eq!(p["unassigned"], purchased - assigned, "{id} {date}");
            }
        }

        // By month: the last day's counts, the least and most assigned of the month's days.
        let months = app
            .data(HISTORY, vars(today - Duration::days(30), "MONTH", &all))
            .await;
        for s in months["tenant"]["consumptionHistory"].as_array().unwrap() {
            let id = s["skuId"].as_str().unwrap();
            let days = series.iter().find(|d| d["skuId"] == id).unwrap()["points"]
                .as_array()
                .unwrap();
            let last = s["points"].as_array().unwrap().last().unwrap();
            assert_eq!(last["date"], today.to_string());
            assert_eq!(last["assigned"], seen[2][id].1);
            let month = &today.to_string()[..7];
            let assigned: Vec<i64> = days
                .iter()
                .filter(|p| p["date"].as_str().unwrap().starts_with(month))
                .map(|p| p["assigned"].as_i64().unwrap())
                .collect();
            assert_eq!(last["minAssigned"], *assigned.iter().min().unwrap());
            assert_eq!(last["maxAssigned"], *assigned.iter().max().unwrap());
        }

        // Paid SKUs only by default: the free SKU's series is left out.
        let paid = app
            .data(
                r#"query($t: ID!, $from: Date!, $to: Date!) { tenant(id: $t) {
                    consumptionHistory(from: $from, to: $to) { skuId } } }"#,
                json!({ "t": tenant.to_string(), "from": dates[0].to_string(),
                        "to": today.to_string() }),
            )
            .await;
        let paid_ids: Vec<&str> = paid["tenant"]["consumptionHistory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["skuId"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = seen[2]
            .iter()
            .filter(|(_, (_, _, _, b))| b == "PARTNER" || b == "OTHER")
            .map(|(id, _)| id.as_str())
            .collect();
        let mut sorted = paid_ids.clone();
        sorted.sort();
        assert_eq!(sorted, expected);
        assert!(paid_ids.len() < seen[2].len(), "a free SKU is left out");

        // An unchanged tenant adds no history; a range too long is refused, naming the limit.
        let rows = sku_history_rows(&app).await;
        importer
            .run_all_as_of(ImportTrigger::Cli, None, None, Some(today))
            .await
            .unwrap();
        assert_eq!(sku_history_rows(&app).await, rows);
        let body = app
            .post(HISTORY, vars(today - Duration::days(500), "DAY", &all))
            .await;
        assert_eq!(crate::support::first_error_code(&body), "BAD_USER_INPUT");
        assert!(body.to_string().contains("400 days"), "{body}");
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_changed_allocation_keeps_the_one_it_replaced_with_the_days_it_held() {
    use sea_orm::EntityTrait;
    use tenantgraph::store::entities::{allocation_history, user_allocation};
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 40).await;
        let tenant = TenantId(sim.tenant_ids()[0]);
        let importer = importer_for(&app.store, &sim).await;
        let today = Utc::now().date_naive();
        let first = today - Duration::days(5);
        let group = |name: &str| {
            let app = &app;
            let name = name.to_owned();
            async move {
                let data = app
                    .data(
                        r#"mutation($t: ID!, $n: String!) {
                            createCostGroup(input: { tenantId: $t, name: $n }) { id } }"#,
                        json!({ "t": tenant.to_string(), "n": name }),
                    )
                    .await;
                data["createCostGroup"]["id"].as_str().unwrap().to_owned()
            }
        };
        importer
            .run_all_as_of(ImportTrigger::Cli, None, None, Some(first))
            .await
            .unwrap();
        let (a, b) = (group("A").await, group("B").await);
        let rule = app
            .data(
                r#"mutation($t: ID!, $g: ID!) { createAllocationRule(input: { tenantId: $t,
                    costGroupId: $g, conditions: [{ attribute: USER_TYPE, operator: EQUALS,
                    values: ["Member"] }] }) { id } }"#,
                json!({ "t": tenant.to_string(), "g": a }),
            )
            .await["createAllocationRule"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // Rows placed by the rule today, taken as placed since the first import.
        {
            use sea_orm::sea_query::Expr;
            user_allocation::Entity::update_many()
                .col_expr(user_allocation::Column::AllocatedFrom, Expr::value(first))
                .exec(&store_db(&app.store).await)
                .await
                .unwrap();
        }
        let placed = user_allocation::Entity::find()
            .all(&store_db(&app.store).await)
            .await
            .unwrap();
        assert!(!placed.is_empty());
        assert!(
            placed.iter().all(|r| r.allocated_from == Some(first)),
            "{placed:?}"
        );
        assert!(
            allocation_history::Entity::find()
                .all(&store_db(&app.store).await)
                .await
                .unwrap()
                .is_empty()
        );

        // Moving the rule's users to B today ends their days in A.
        app.data(
            r#"mutation($r: ID!, $g: ID!) { updateAllocationRule(id: $r, input: { costGroupId: $g }) { id } }"#,
            json!({ "r": rule, "g": b }),
        )
        .await;
        let history = allocation_history::Entity::find()
            .all(&store_db(&app.store).await)
            .await
            .unwrap();
        assert_eq!(history.len(), placed.len());
        for h in &history {
            assert_eq!((h.valid_from, h.valid_to), (Some(first), today));
            assert_eq!(h.cost_group_id.to_string(), a);
        }
        let now = user_allocation::Entity::find()
            .all(&store_db(&app.store).await)
            .await
            .unwrap();
        assert!(
            now.iter()
                .all(|r| r.allocated_from == Some(today) && r.cost_group_id.to_string() == b)
        );

        // A second change the same day replaces today's rows without a day of history.
        app.data(
            r#"mutation($r: ID!, $g: ID!) { updateAllocationRule(id: $r, input: { costGroupId: $g }) { id } }"#,
            json!({ "r": rule, "g": a }),
        )
        .await;
        let again = allocation_history::Entity::find()
            .all(&store_db(&app.store).await)
            .await
            .unwrap();
        assert_eq!(again.len(), history.len());
        sim.stop().await;
    }
}

/// Each user's licenses as `users` shows them now (deleted users included): user → sorted
/// (SKU, sorted disabled plans).
async fn holdings_now(
    app: &TestApp,
    tenant: TenantId,
) -> BTreeMap<String, Vec<(String, Vec<String>)>> {
    let data = app
        .data(
            r#"query($t: ID!) { tenant(id: $t) { users(first: 500, filter: { includeDeleted: true }) {
                edges { node { id licenses { skuId disabledServicePlanIds } } } } } }"#,
            json!({ "t": tenant.to_string() }),
        )
        .await;
    data["tenant"]["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let node = &e["node"];
            let mut held: Vec<(String, Vec<String>)> = node["licenses"]
                .as_array()
                .unwrap()
                .iter()
                .map(holding)
                .collect();
            held.sort();
            (node["id"].as_str().unwrap().to_owned(), held)
        })
        .collect()
}

fn holding(l: &serde_json::Value) -> (String, Vec<String>) {
    let mut plans: Vec<String> = l["disabledServicePlanIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    plans.sort();
    (l["skuId"].as_str().unwrap().to_owned(), plans)
}

#[tokio::test]
async fn license_history_holds_on_each_import_date_what_that_import_saw() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 60).await;
        let tenant = TenantId(sim.tenant_ids()[0]);
        let importer = importer_for(&app.store, &sim).await;
        let today = Utc::now().date_naive();
        let dates = three_dates(today);
        let mut seen = Vec::new();
        for (day, date) in dates.iter().enumerate() {
            import_day(&importer, &sim, day, *date).await;
            seen.push(holdings_now(&app, tenant).await);
        }
        assert_ne!(seen[0], seen[2], "licenses moved over 20 days");

        let query = r#"query($t: ID!) { tenant(id: $t) { users(first: 500, filter: { includeDeleted: true }) {
            edges { node { id licenseHistory { skuId disabledServicePlanIds validFrom validTo } } } } } }"#;
        let data = app.data(query, json!({ "t": tenant.to_string() })).await;
        let mut ended = 0;
        for e in data["tenant"]["users"]["edges"].as_array().unwrap() {
            let id = e["node"]["id"].as_str().unwrap();
            let intervals = e["node"]["licenseHistory"].as_array().unwrap();
            ended += intervals.iter().filter(|h| !h["validTo"].is_null()).count();
            for (i, date) in dates.iter().enumerate() {
                let day = date.to_string();
                let mut held: Vec<(String, Vec<String>)> = intervals
                    .iter()
                    .filter(|h| h["validFrom"].as_str().is_some_and(|f| f <= day.as_str()))
                    .filter(|h| h["validTo"].as_str().is_none_or(|t| day.as_str() < t))
                    .map(holding)
                    .collect();
                held.sort();
                let expected = seen[i].get(id).cloned().unwrap_or_default();
                assert_eq!(held, expected, "user {id} on {day}: {intervals:?}");
            }
        }
        assert!(ended > 0, "some licenses ended: {data}");
        sim.stop().await;
    }
}

#[tokio::test]
async fn retention_removes_intervals_that_ended_before_the_cutoff_and_keeps_the_rest() {
    use tenantgraph::server::history_retention::prune_once;
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 60).await;
        let tenant = TenantId(sim.tenant_ids()[0]);
        let importer = importer_for(&app.store, &sim).await;
        let today = Utc::now().date_naive();
        for (day, date) in three_dates(today).iter().enumerate() {
            import_day(&importer, &sim, day, *date).await;
        }
        let query = r#"query($t: ID!) { tenant(id: $t) { users(first: 500, filter: { includeDeleted: true }) {
            edges { node { id licenseHistory { skuId validFrom validTo } } } } } }"#;
        let intervals = || async {
            let data = app.data(query, json!({ "t": tenant.to_string() })).await;
            let mut all: Vec<(String, String, String, Option<String>)> = Vec::new();
            for e in data["tenant"]["users"]["edges"].as_array().unwrap() {
                for h in e["node"]["licenseHistory"].as_array().unwrap() {
                    all.push((
                        e["node"]["id"].as_str().unwrap().to_owned(),
                        h["skuId"].as_str().unwrap().to_owned(),
                        h["validFrom"].as_str().unwrap_or_default().to_owned(),
                        h["validTo"].as_str().map(str::to_owned),
                    ));
                }
            }
            all.sort();
            all
        };
        let before = intervals().await;
        // Kept 5 days: what ended ten days ago goes, what ended today stays.
        let cutoff = (today - Duration::days(5)).to_string();
        let (old, kept): (Vec<_>, Vec<_>) = before
            .iter()
            .cloned()
            .partition(|(_, _, _, to)| to.as_deref().is_some_and(|to| to <= cutoff.as_str()));
        assert!(!old.is_empty(), "licenses ended ten days ago");
        assert!(
            kept.iter().any(|(_, _, _, to)| to.is_some()),
            "licenses ended today"
        );

        let prune = prune_once(&app.store, 5, today, 3).await.unwrap();
        assert!(prune.removed >= old.len() as u64, "{prune:?}");
        assert!(prune.batches as usize > old.len() / 3, "{prune:?}");
        assert_eq!(intervals().await, kept, "{backend:?}");
        // The license day counts no longer count what went: a later change counted from a day
        // before the cutoff finds what they were made of.
        crate::effective_dates::assert_counts_kept(&app, tenant.uuid(), "pruning").await;
        // Nothing left to remove; the tenant's SKU counts in force are still read.
        assert_eq!(
            prune_once(&app.store, 5, today, 3).await.unwrap().removed,
            0
        );
        assert!(!sku_counts(&app, tenant).await.is_empty());
        sim.stop().await;
    }
}
