//! Group-based licensing against the Microsoft simulator over real HTTP, on SQLite and
//! PostgreSQL: how each license is assigned (`User.licenseAssignments`,
//! `AssignedLicense.assignedBy`), the `licenseError` and `onlyThroughGroup` user filters, delta
//! imports (which do not track a change of the assignments alone) and failed imports.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use migrations::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use tenantgraph::config::store::StoreSettings;
use tenantgraph::domain::{FailureReason, ImportMode, RunStatus, TenantId};
use tenantgraph::importer::Importer;
use tenantgraph::simulator::{Fault, RunningSimulator, SimLicenseState, SimUser, TenantSelector};
use tenantgraph::store::{Store, import_runs, license_assignments};
use uuid::Uuid;

use crate::importer::{import_all, importer_for, run_of, simulator};
use crate::support::{Backend, TestApp, backends, database};

/// A server on `backend` whose store holds a first import of a simulator of `tenants` tenants
/// of `users` users each.
async fn imported(
    backend: Backend,
    tenants: usize,
    users: usize,
) -> (TestApp, RunningSimulator, Arc<Importer>) {
    let app = TestApp::empty(backend).await;
    let sim = simulator(tenants, users).await;
    let importer = importer_for(&app.store, &sim).await;
    import_all(&importer).await;
    (app, sim, importer)
}

/// One assignment, as the API shows it or as Graph reported it: (SKU, assigned by, state,
/// error, last updated, disabled plans).
type Assignment = (
    String,
    String,
    String,
    Option<String>,
    Option<DateTime<Utc>>,
    Vec<String>,
);

const USERS: &str = r#"query($id: ID!, $after: String) { tenant(id: $id) {
  users(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id
    licenses { skuId assignedBy { skuId assignedBy state error lastUpdated disabledServicePlanIds } }
    licenseAssignments { skuId assignedBy state error lastUpdated disabledServicePlanIds
      subscription { skuPartNumber } } } } } } }"#;

/// Every present user of `tenant` as the API shows it, by id, read page by page.
async fn users_of(app: &TestApp, tenant: Uuid) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(USERS, json!({ "id": tenant.to_string(), "after": after }))
            .await;
        let users = &data["tenant"]["users"];
        for edge in users["edges"].as_array().unwrap() {
            let node = edge["node"].clone();
            out.insert(node["id"].as_str().unwrap().to_owned(), node);
        }
        if users["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = users["pageInfo"]["endCursor"].clone();
    }
}

fn shown(list: &Value) -> Vec<Assignment> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["skuId"].as_str().unwrap().to_owned(),
                a["assignedBy"].as_str().unwrap().to_owned(),
                a["state"].as_str().unwrap().to_owned(),
                a["error"].as_str().map(str::to_owned),
                a["lastUpdated"]
                    .as_str()
                    .map(|t| DateTime::parse_from_rfc3339(t).unwrap().to_utc()),
                a["disabledServicePlanIds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn reported(states: &[SimLicenseState]) -> Vec<Assignment> {
    states
        .iter()
        .map(|s| {
            (
                s.sku_id.to_string(),
                s.assigned_by_group
                    .map_or("DIRECT".to_owned(), |g| g.to_string()),
                s.state.clone(),
                (s.error != "None").then(|| s.error.clone()),
                Some(s.last_updated),
                s.disabled_plans.iter().map(Uuid::to_string).collect(),
            )
        })
        .collect()
}

/// Asserts that the API shows each present user's assignments as Graph reported them in `sim`'s
/// `expected` (by user id), in Graph's order, and each license's `assignedBy` as the
/// assignments of its SKU.
fn assert_assignments(users: &HashMap<String, Value>, expected: &HashMap<String, &SimUser>) {
    assert_eq!(users.len(), expected.len());
    for (id, node) in users {
        let want = reported(&expected[id].license_states);
        assert_eq!(shown(&node["licenseAssignments"]), want, "user {id}");
        for license in node["licenses"].as_array().unwrap() {
            let sku = license["skuId"].as_str().unwrap();
            let of_sku: Vec<Assignment> = want.iter().filter(|a| a.0 == sku).cloned().collect();
            assert_eq!(shown(&license["assignedBy"]), of_sku, "user {id} SKU {sku}");
        }
    }
}

fn by_id(users: &[SimUser]) -> HashMap<String, &SimUser> {
    users.iter().map(|u| (u.id.to_string(), u)).collect()
}

fn sku_of(sim: &RunningSimulator, tenant: Uuid, part_number: &str) -> String {
    sim.snapshot(tenant)
        .unwrap()
        .skus
        .iter()
        .find(|s| s.sku_part_number == part_number)
        .unwrap_or_else(|| panic!("{part_number} in {tenant}"))
        .sku_id
        .to_string()
}

#[tokio::test]
async fn an_import_shows_how_each_license_is_assigned_failed_group_assignments_included() {
    for backend in backends() {
        let (app, sim, _) = imported(backend, 2, 230).await;
        let (mut count_violations, mut by_group, mut direct) = (0, 0, 0);
        for tenant in sim.tenant_ids() {
            let snapshot = sim.snapshot(tenant).unwrap();
            let expected = by_id(&snapshot.users);
            let users = users_of(&app, tenant).await;
            assert_assignments(&users, &expected);
            let e3 = sku_of(&sim, tenant, "SPE_E3");
            for (id, node) in &users {
                let held: HashSet<&str> = node["licenses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["skuId"].as_str().unwrap())
                    .collect();
                for a in node["licenseAssignments"].as_array().unwrap() {
                    if a["error"] == "CountViolation" {
                        // A failed group assignment: shown, but its SKU is not held and it
                        // names the group and the SKU.
                        count_violations += 1;
                        assert_eq!(a["state"], "Error", "{node}");
                        let sku = a["skuId"].as_str().unwrap();
                        assert!(!held.contains(sku), "{id} holds {sku}: {node}");
                        assert_eq!(a["subscription"]["skuPartNumber"], "EXCHANGESTANDARD");
                        let group = expected[id]
                            .license_states
                            .iter()
                            .find(|s| s.error == "CountViolation")
                            .and_then(|s| s.assigned_by_group)
                            .unwrap();
                        assert_eq!(a["assignedBy"], group.to_string());
                    }
                }
                let e3_license = node["licenses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|l| l["skuId"] == e3.as_str());
                let Some(e3_license) = e3_license else {
                    continue;
                };
                let sources: Vec<&str> = e3_license["assignedBy"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["assignedBy"].as_str().unwrap())
                    .collect();
                match sources[..] {
                    ["DIRECT"] => direct += 1,
                    [group] => {
                        by_group += 1;
                        assert!(group.parse::<Uuid>().is_ok(), "{group}");
                    }
                    _ => {}
                }
            }
        }
        assert!(
            count_violations > 0 && by_group > 0 && direct > 0,
            "{count_violations} count violations, E3 by group {by_group}, direct {direct}"
        );
        sim.stop().await;
    }
}

/// The ids `filter` selects in `tenant`, read 7 at a time through the cursors, and the list's
/// `totalCount`.
async fn filtered(app: &TestApp, tenant: Uuid, filter: Value) -> (HashSet<String>, u64) {
    let q = r#"query($id: ID!, $f: UserFilterInput, $after: String) { tenant(id: $id) {
      users(first: 7, after: $after, filter: $f) { totalCount pageInfo { hasNextPage endCursor }
        edges { node { id } } } } }"#;
    let (mut ids, mut pages) = (HashSet::new(), 0);
    let mut after = Value::Null;
    loop {
        let data = app
            .data(
                q,
                json!({ "id": tenant.to_string(), "f": filter, "after": after }),
            )
            .await;
        let users = &data["tenant"]["users"];
        for edge in users["edges"].as_array().unwrap() {
            assert!(
                ids.insert(edge["node"]["id"].as_str().unwrap().to_owned()),
                "a user listed twice with {filter}"
            );
        }
        pages += 1;
        if users["pageInfo"]["hasNextPage"] != true {
            assert_eq!(pages, ids.len().div_ceil(7).max(1), "{filter}");
            return (ids, users["totalCount"].as_u64().unwrap());
        }
        after = users["pageInfo"]["endCursor"].clone();
    }
}

/// Whether `user` holds `sku` (in `assignedLicenses`) with no direct assignment of it.
fn only_through_groups(user: &SimUser, sku: Uuid) -> bool {
    let of_sku = || user.license_states.iter().filter(|s| s.sku_id == sku);
    user.licenses.iter().any(|l| l.sku_id == sku)
        && of_sku().any(|s| s.assigned_by_group.is_some())
        && of_sku().all(|s| s.assigned_by_group.is_some())
}

#[tokio::test]
async fn the_license_filters_select_exactly_the_users_graph_reports_and_page_with_cursors() {
    for backend in backends() {
        let (app, sim, _) = imported(backend, 2, 230).await;
        let mut nonempty = [0; 3];
        for tenant in sim.tenant_ids() {
            let users = sim.snapshot(tenant).unwrap().users;
            let ids = |keep: &dyn Fn(&SimUser) -> bool| -> HashSet<String> {
                users
                    .iter()
                    .filter(|u| keep(u))
                    .map(|u| u.id.to_string())
                    .collect()
            };
            let everyone = ids(&|_| true);
            let e3 = sku_of(&sim, tenant, "SPE_E3");
            let e3_id: Uuid = e3.parse().unwrap();
            let cases = [
                (
                    json!({ "licenseError": true }),
                    ids(&|u| {
                        u.license_states.iter().any(|s| {
                            s.error != "None" || ["Error", "ActiveWithError"].contains(&&*s.state)
                        })
                    }),
                ),
                (
                    json!({ "onlyThroughGroup": true, "skuId": e3 }),
                    ids(&|u| only_through_groups(u, e3_id)),
                ),
                (
                    json!({ "onlyThroughGroup": true }),
                    ids(&|u| u.licenses.iter().any(|l| only_through_groups(u, l.sku_id))),
                ),
            ];
            for (n, (filter, want)) in cases.into_iter().enumerate() {
                let (got, total) = filtered(&app, tenant, filter.clone()).await;
                assert_eq!(got, want, "{filter} in {tenant}");
                assert_eq!(total, want.len() as u64, "{filter}");
                nonempty[n] += usize::from(!want.is_empty());
                // `false` selects the other users (of the SKU's holders, with `skuId`).
                let mut negated = filter.clone();
                let key = if n == 0 {
                    "licenseError"
                } else {
                    "onlyThroughGroup"
                };
                negated[key] = json!(false);
                let (others, _) = filtered(&app, tenant, negated.clone()).await;
                let universe = if n == 1 {
                    ids(&|u| u.licenses.iter().any(|l| l.sku_id == e3_id))
                } else {
                    everyone.clone()
                };
                assert_eq!(
                    others,
                    universe.difference(&want).cloned().collect(),
                    "{negated}"
                );
            }
        }
        assert_eq!(
            nonempty,
            [1, 2, 2],
            "cases with users to find, over the tenants"
        );
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_delta_import_updates_the_assignments_it_is_sent_and_the_next_full_listing_the_rest() {
    for backend in backends() {
        let (app, sim, importer) = imported(backend, 1, 400).await;
        let tenant = sim.tenant_ids()[0];
        let day0 = sim.snapshot(tenant).unwrap().users;
        sim.set_day(1);
        let day1 = by_id(&sim.snapshot(tenant).unwrap().users)
            .into_keys()
            .collect::<HashSet<_>>();
        sim.set_day(3);
        let day3 = sim.snapshot(tenant).unwrap().users;
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.mode, Some(ImportMode::Delta), "{run:?}");

        // Delta sends a user who changed in anything it tracks, with the assignments; a user
        // whose assignments alone changed is not sent and keeps the stored ones (Graph's user:
        // delta does not track licenseAssignmentStates).
        let before = by_id(&day0);
        let tracked = |u: &SimUser| SimUser {
            license_states: Vec::new(),
            ..u.clone()
        };
        let mut expected: HashMap<String, &SimUser> = HashMap::new();
        let (mut relicensed, mut stale) = (0, 0);
        for user in &day3 {
            let id = user.id.to_string();
            match before.get(&id) {
                Some(old) if day1.contains(&id) && tracked(old) == tracked(user) => {
                    stale += usize::from(old.license_states != user.license_states);
                    expected.insert(id, old);
                }
                Some(old) => {
                    relicensed += usize::from(old.licenses != user.licenses);
                    expected.insert(id, user);
                }
                None => {
                    expected.insert(id, user);
                }
            }
        }
        assert!(relicensed > 0 && stale > 0, "{relicensed} {stale}");
        let users = users_of(&app, tenant).await;
        // Users gone on day 1 and back since may or may not be sent: compare the others.
        let settled: HashMap<String, Value> = users
            .into_iter()
            .filter(|(id, _)| day1.contains(id) || !before.contains_key(id))
            .collect();
        expected.retain(|id, _| settled.contains_key(id));
        assert_assignments(&settled, &expected);

        // A full listing (the stored delta link refused) corrects every user.
        sim.set_faults(vec![(TenantSelector::All, Fault::DeltaTokenExpired)]);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.mode, Some(ImportMode::Full), "{run:?}");
        assert_assignments(&users_of(&app, tenant).await, &by_id(&day3));
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_failed_import_leaves_the_assignments_as_they_were() {
    for backend in backends() {
        let (app, sim, importer) = imported(backend, 2, 230).await;
        let tenant = sim.tenant_ids()[1];
        let before = users_of(&app, tenant).await;
        let day0 = sim.snapshot(tenant).unwrap().users;

        // Day 3 in full (the delta link refused), but the third page is broken.
        sim.set_day(3);
        let day3 = sim.snapshot(tenant).unwrap().users;
        let old = by_id(&day0);
        assert!(
            day3.iter().any(|u| old
                .get(&u.id.to_string())
                .is_some_and(|o| o.license_states != u.license_states)),
            "day 3 changes assignments"
        );
        sim.set_faults(vec![
            (TenantSelector::All, Fault::DeltaTokenExpired),
            (TenantSelector::All, Fault::MalformedPage { page: 2 }),
        ]);
        let runs = import_all(&importer).await;
        let run = run_of(&runs, tenant);
        assert_eq!(run.status, RunStatus::Failed, "{run:?}");
        assert_eq!(run.reason, Some(FailureReason::InvalidUpstreamData));
        assert_eq!(users_of(&app, tenant).await, before);
        assert_assignments(&before, &old);
        sim.stop().await;
    }
}

#[tokio::test]
async fn upgrading_drops_delta_links_taken_without_license_assignment_states() {
    for backend in backends() {
        let db = database(backend).await;
        let conn = Database::connect(&db.url).await.unwrap();
        // The store as the previous release left it, with a tenant continuing by delta.
        migrations::Migrator::up(&conn, Some(13)).await.unwrap();
        let tenant = Uuid::new_v4();
        let now = match backend {
            Backend::Sqlite => "'2026-12-01T02:00:00+00:00'",
            Backend::Postgres => "TIMESTAMPTZ '2026-12-01T02:00:00Z'",
        };
        let uuid = |id: Uuid| match backend {
            Backend::Sqlite => format!("'{id}'"),
            Backend::Postgres => format!("UUID '{id}'"),
        };
        for sql in [
            format!(
                "INSERT INTO tenants (id, name, created_at, updated_at) VALUES ({}, 'T', {now}, {now})",
                uuid(tenant)
            ),
            format!(
                "INSERT INTO tenant_import_states (tenant_id, delta_link, delta_link_at, updated_at) \
                 VALUES ({}, 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=old', {now}, {now})",
                uuid(tenant)
            ),
        ] {
            conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql))
                .await
                .unwrap();
        }
        migrations::Migrator::up(&conn, None).await.unwrap();
        conn.close().await.unwrap();
        let store = Store::connect(&StoreSettings::for_url(&db.url), None)
            .await
            .unwrap();
        let basis = import_runs::import_basis(&store, TenantId(tenant))
            .await
            .unwrap();
        assert_eq!(basis.delta_link, None, "{backend:?}");
        assert!(!basis.initial_delta_next, "the next run lists the users");
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn upgrading_keeps_every_license_assignment_and_their_order() {
    for backend in backends() {
        let db = database(backend).await;
        let conn = Database::connect(&db.url).await.unwrap();
        migrations::Migrator::up(&conn, None).await.unwrap();
        let store = Store::connect(&StoreSettings::for_url(&db.url), None)
            .await
            .unwrap();
        let snapshot = crate::statements::big_tenant(40);
        crate::support::snapshot::replace_tenant(&store, &snapshot, Utc::now())
            .await
            .unwrap();
        let users: Vec<_> = snapshot.users.iter().map(|u| u.id).collect();
        let list = || license_assignments::list_license_assignments_of_users(&store, &users);
        let before = list().await.unwrap();
        assert_eq!(before.len(), snapshot.assignments.len(), "{backend:?}");
        // Back to the layout of migration 18 (assignments keyed by user, then position), with
        // the rows copied across, and up again.
        let applied = migrations::Migrator::get_applied_migrations(&conn)
            .await
            .unwrap()
            .len() as u32;
        migrations::Migrator::down(&conn, Some(applied - 18))
            .await
            .unwrap();
        assert_eq!(list().await.unwrap(), before, "{backend:?} at 18");
        migrations::Migrator::up(&conn, None).await.unwrap();
        conn.close().await.unwrap();
        let after = list().await.unwrap();
        assert_eq!(after, before, "{backend:?}");
        // Failed assignments came across too.
        let in_error = after.iter().filter(|a| a.detail.is_in_error()).count();
        assert!(in_error > 0, "{backend:?}");
        store.close().await.unwrap();
    }
}
