//! User versions written by import commits, and the reads built on them: `User.history`,
//! `Tenant.users(asOf:)` and `Tenant.licenseChanges`, against the simulator over several
//! observed dates, on SQLite and PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use tenantgraph::domain::TenantId;
use tenantgraph::importer::Importer;
use tenantgraph::simulator::RunningSimulator;

use crate::importer::{import_as_of, importer_for, simulator, store_db};
use crate::support::{Backend, TestApp, backends, first_error_code};

/// The fields compared between a snapshot and a version.
const FIELDS: &str = "id displayName department jobTitle managerId accountEnabled deletedAt";

/// Twenty days ago, ten days ago and today.
fn dates() -> [NaiveDate; 3] {
    let today = Utc::now().date_naive();
    [
        today - Duration::days(20),
        today - Duration::days(10),
        today,
    ]
}

/// Imports the simulator's day `index * 10` as observed on `date`.
async fn import_day(
    importer: &std::sync::Arc<Importer>,
    sim: &RunningSimulator,
    index: usize,
    date: NaiveDate,
) {
    sim.set_day(index as u32 * 10);
    import_as_of(importer, date).await;
}

/// Every user of `tenant` as `users` shows them now, deleted ones included: id → fields.
async fn users_now(app: &TestApp, tenant: TenantId) -> BTreeMap<String, Value> {
    let query = format!(
        r#"query($t: ID!) {{ tenant(id: $t) {{ users(first: 500, filter: {{ includeDeleted: true }}) {{
            edges {{ node {{ {FIELDS} }} }} }} }} }}"#
    );
    let data = app.data(&query, json!({ "t": tenant.to_string() })).await;
    data["tenant"]["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["id"].as_str().unwrap().to_owned(),
                e["node"].clone(),
            )
        })
        .collect()
}

/// The ids of the users present (not deleted) in a snapshot.
fn present(snapshot: &BTreeMap<String, Value>) -> BTreeSet<String> {
    snapshot
        .iter()
        .filter(|(_, u)| u["deletedAt"].is_null())
        .map(|(id, _)| id.clone())
        .collect()
}

/// A snapshot's fields but `deletedAt` (a version's is the time it was seen gone).
fn fields(user: &Value) -> Value {
    let mut user = user.clone();
    user.as_object_mut().unwrap().remove("deletedAt");
    user
}

/// Imports two tenants on the three [`dates`], keeping each import's users of the first.
async fn three_imports(
    app: &TestApp,
) -> (
    RunningSimulator,
    TenantId,
    TenantId,
    Vec<BTreeMap<String, Value>>,
) {
    let sim = simulator(2, 60).await;
    let tenant = TenantId(sim.tenant_ids()[0]);
    let other = TenantId(sim.tenant_ids()[1]);
    let importer = importer_for(&app.store, &sim).await;
    let mut seen = Vec::new();
    for (i, date) in dates().iter().enumerate() {
        import_day(&importer, &sim, i, *date).await;
        seen.push(users_now(app, tenant).await);
        if i == 0 {
            assert_eq!(
                version_rows(app).await,
                0,
                "a first import writes no versions"
            );
        }
    }
    (sim, tenant, other, seen)
}

async fn version_rows(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    tenantgraph::store::entities::user_version::Entity::find()
        .count(&store_db(&app.store).await)
        .await
        .unwrap()
}

/// Every version of `user` through `User.history`, `page` at a time, newest first.
async fn history_of(app: &TestApp, tenant: TenantId, user: &str, page: i32) -> Vec<Value> {
    let query = format!(
        r#"query($t: ID!, $u: ID!, $n: Int!, $after: String) {{ user(tenantId: $t, id: $u) {{
            history(first: $n, after: $after) {{ pageInfo {{ hasNextPage endCursor }}
              edges {{ node {{ validFrom validTo change changes {{ field before after }}
                user {{ {FIELDS} }} }} }} }} }} }}"#
    );
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(
                &query,
                json!({ "t": tenant.to_string(), "u": user, "n": page, "after": after }),
            )
            .await;
        let history = &data["user"]["history"];
        for e in history["edges"].as_array().unwrap() {
            out.push(e["node"].clone());
        }
        if !history["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return out;
        }
        after = history["pageInfo"]["endCursor"].clone();
    }
}

/// The version of `versions` in force on `day`.
fn in_force<'a>(versions: &'a [Value], day: &str) -> Option<&'a Value> {
    versions.iter().find(|v| {
        v["validFrom"].as_str().is_some_and(|f| f <= day)
            && v["validTo"].as_str().is_none_or(|t| day < t)
    })
}

#[tokio::test]
async fn each_import_keeps_the_versions_it_replaced_with_their_days_and_what_changed() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let (sim, tenant, _, seen) = three_imports(&app).await;
        let dates = dates();
        let days: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        let mut department_moves = 0;
        for id in seen[2].keys() {
            let versions = history_of(&app, tenant, id, 2).await;
            assert!(!versions.is_empty(), "user {id} has a version");
            assert!(
                versions[0]["validTo"].is_null(),
                "newest first: {versions:?}"
            );
            for (i, day) in days.iter().enumerate() {
                match (in_force(&versions, day), seen[i].get(id)) {
                    (Some(v), Some(user)) => {
                        assert_eq!(fields(&v["user"]), fields(user), "user {id} on {day}");
                        assert_eq!(
                            v["user"]["deletedAt"].is_null(),
                            user["deletedAt"].is_null(),
                            "user {id} on {day}"
                        );
                    }
                    (None, None) => {}
                    other => panic!("user {id} on {day}: {other:?} in {versions:#?}"),
                }
            }
            for (i, v) in versions.iter().enumerate() {
                let change = v["change"].as_str().unwrap().to_owned();
                let older = versions.get(i + 1);
                match older {
                    None => assert_eq!(change, "ADDED", "{versions:#?}"),
                    Some(older) => {
                        assert_eq!(v["validFrom"], older["validTo"], "{versions:#?}");
                        let was = older["user"]["deletedAt"].is_null();
                        let is = v["user"]["deletedAt"].is_null();
                        let expected = match (was, is) {
                            (true, false) => "REMOVED",
                            (false, true) => "RESTORED",
                            _ => "CHANGED",
                        };
                        assert_eq!(change, expected, "{versions:#?}");
                    }
                }
                for c in v["changes"].as_array().unwrap() {
                    let older = older.unwrap();
                    let field = c["field"].as_str().unwrap();
                    if let Some(before) = older["user"].get(field) {
                        let text = |x: &Value| match x {
                            Value::Null => Value::Null,
                            Value::String(s) => Value::String(s.clone()),
                            other => Value::String(other.to_string()),
                        };
                        assert_eq!(text(before), c["before"], "{field} of {id}");
                        assert_eq!(text(&v["user"][field]), c["after"], "{field} of {id}");
                    }
                    department_moves += usize::from(field == "department");
                }
                if change == "CHANGED" {
                    assert!(!v["changes"].as_array().unwrap().is_empty(), "{v}");
                }
                *kinds.entry(change).or_default() += 1;
            }
        }
        for kind in ["ADDED", "CHANGED", "REMOVED"] {
            assert!(
                kinds.get(kind).is_some_and(|n| *n > 0),
                "{kind} in {kinds:?}"
            );
        }
        assert!(
            department_moves > 0,
            "departments moved over 20 days: {kinds:?}"
        );
        // Added after the first import: their first version starts on the import that saw them.
        let hired: Vec<String> = present(&seen[2])
            .into_iter()
            .filter(|id| !seen[0].contains_key(id))
            .collect();
        assert!(!hired.is_empty());
        for id in hired {
            let versions = history_of(&app, tenant, &id, 50).await;
            let first = versions.last().unwrap();
            assert_eq!(first["change"], "ADDED");
            assert_ne!(first["validFrom"], days[0].as_str(), "user {id}");
        }
        sim.stop().await;
    }
}

/// The ids on every page of `tenant.users(asOf:)`, `page` at a time, and the first page's
/// `totalCount`; `filter` as given.
async fn users_as_of(
    app: &TestApp,
    tenant: TenantId,
    day: NaiveDate,
    filter: Value,
    page: i32,
) -> (Vec<Value>, u64) {
    let query = format!(
        r#"query($t: ID!, $d: Date!, $f: UserFilterInput, $n: Int!, $after: String) {{
            tenant(id: $t) {{ users(asOf: $d, filter: $f, first: $n, after: $after) {{ totalCount
              pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {FIELDS} }} }} }} }} }}"#
    );
    let mut out = Vec::new();
    let mut after = Value::Null;
    let mut total = None;
    loop {
        let vars = json!({ "t": tenant.to_string(), "d": day.to_string(), "f": filter,
            "n": page, "after": after });
        let data = app.data(&query, vars).await;
        let users = &data["tenant"]["users"];
        total.get_or_insert(users["totalCount"].as_u64().unwrap());
        out.extend(
            users["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if !users["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return (out, total.unwrap_or_default());
        }
        after = users["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn users_as_of_a_day_are_those_the_import_before_it_saw() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let (sim, tenant, other, seen) = three_imports(&app).await;
        let dates = dates();
        let between = dates[0] + Duration::days(5);
        let (listed, total) = users_as_of(&app, tenant, between, Value::Null, 7).await;
        // In display name order, like `Tenant.users`; the present users of the first import.
        let mut expected: Vec<&Value> = seen[0]
            .values()
            .filter(|u| u["deletedAt"].is_null())
            .collect();
        expected.sort_by(|a, b| {
            (a["displayName"].as_str(), a["id"].as_str())
                .cmp(&(b["displayName"].as_str(), b["id"].as_str()))
        });
        let got: Vec<Value> = listed.iter().map(fields).collect();
        let want: Vec<Value> = expected.iter().map(|u| fields(u)).collect();
        assert_eq!(got, want);
        assert_eq!(total, want.len() as u64);
        assert_ne!(
            present(&seen[0]),
            present(&seen[2]),
            "the users moved between the first import and today"
        );

        // Between the second and the third import; deleted users on request.
        let later = dates[1] + Duration::days(1);
        let (all, _) =
            users_as_of(&app, tenant, later, json!({ "includeDeleted": true }), 500).await;
        let ids: BTreeSet<String> = all
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, seen[1].keys().cloned().collect::<BTreeSet<_>>());

        // A department filter reads the department of that day.
        let department = want[0]["department"].clone();
        let (in_department, _) = users_as_of(
            &app,
            tenant,
            between,
            json!({ "department": department }),
            500,
        )
        .await;
        let expected: Vec<&Value> = want
            .iter()
            .filter(|u| u["department"] == department)
            .collect();
        assert_eq!(
            in_department.iter().map(fields).collect::<Vec<_>>(),
            expected.into_iter().cloned().collect::<Vec<_>>()
        );

        // Before the first import there were no users; another tenant's never appear.
        let (before, total) =
            users_as_of(&app, tenant, dates[0] - Duration::days(1), Value::Null, 50).await;
        assert!(before.is_empty() && total == 0, "{before:?}");
        let (theirs, _) = users_as_of(&app, other, between, Value::Null, 500).await;
        assert!(!theirs.is_empty());
        assert!(
            theirs
                .iter()
                .all(|u| !seen[2].contains_key(u["id"].as_str().unwrap()))
        );

        // Filters on today's licenses or allocation are refused rather than answered with today.
        let body = app
            .post(
                r#"query($t: ID!, $d: Date!) { tenant(id: $t) {
                    users(asOf: $d, filter: { unallocated: true }) { edges { node { id } } } } }"#,
                json!({ "t": tenant.to_string(), "d": between.to_string() }),
            )
            .await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("filter.unallocated"),
            "{body}"
        );
        sim.stop().await;
    }
}

const CHANGES: &str = r#"query($t: ID!, $from: Date!, $to: Date!, $f: LicenseChangeFilter,
    $n: Int!, $after: String) { tenant(id: $t) {
      licenseChanges(from: $from, to: $to, filter: $f, first: $n, after: $after) {
        pageInfo { hasNextPage endCursor }
        edges { node { kind date userId skuId user { id } importRun { id observedOn }
          changes { field before after } } } } } }"#;

/// Every event of `tenant` over `from..=to` with `filter`, `page` at a time.
async fn changes_of(
    app: &TestApp,
    tenant: TenantId,
    (from, to): (NaiveDate, NaiveDate),
    filter: Value,
    page: i32,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let vars = json!({ "t": tenant.to_string(), "from": from.to_string(),
            "to": to.to_string(), "f": filter, "n": page, "after": after });
        let data = app.data(CHANGES, vars).await;
        let changes = &data["tenant"]["licenseChanges"];
        out.extend(
            changes["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if !changes["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return out;
        }
        after = changes["pageInfo"]["endCursor"].clone();
    }
}

/// (kind, date, user, SKU) of each event.
fn keys(events: &[Value]) -> Vec<(String, String, String, String)> {
    events
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            (s("kind"), s("date"), s("userId"), s("skuId"))
        })
        .collect()
}

#[tokio::test]
async fn license_changes_list_what_each_import_saw_with_the_run_that_saw_it() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let (sim, tenant, other, seen) = three_imports(&app).await;
        let dates = dates();
        let days: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
        let range = (dates[0], dates[2]);
        let all = changes_of(&app, tenant, range, Value::Null, 40).await;
        // Paging by 7 gives the same events in the same order.
        assert_eq!(
            keys(&changes_of(&app, tenant, range, Value::Null, 7).await),
            keys(&all)
        );

        // Each event's run is the tenant's import observed on its day.
        let runs = app
            .data(
                r#"query($t: ID!) { importRuns(tenantId: $t, first: 10) {
                    edges { node { id observedOn } } } }"#,
                json!({ "t": tenant.to_string() }),
            )
            .await;
        let run_of: BTreeMap<String, String> = runs["importRuns"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let n = &e["node"];
                (
                    n["observedOn"].as_str().unwrap().to_owned(),
                    n["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for e in &all {
            assert_eq!(
                e["importRun"]["id"].as_str(),
                run_of.get(e["date"].as_str().unwrap()).map(String::as_str),
                "{e}"
            );
            assert_eq!(e["user"]["id"], e["userId"], "{e}");
        }

        // Users: added on the first day, removed when an import no longer listed them.
        let of = |kind: &str, day: &str| -> BTreeSet<String> {
            all.iter()
                .filter(|e| e["kind"] == kind && e["date"] == day)
                .map(|e| e["userId"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(of("USER_ADDED", &days[0]), present(&seen[0]));
        let removed: BTreeSet<String> = present(&seen[0])
            .difference(&present(&seen[1]))
            .cloned()
            .collect();
        assert!(!removed.is_empty());
        assert_eq!(of("USER_REMOVED", &days[1]), removed);
        let added: BTreeSet<String> = seen[1]
            .keys()
            .filter(|id| !seen[0].contains_key(*id))
            .cloned()
            .collect();
        assert_eq!(of("USER_ADDED", &days[1]), added);
        let changed: Vec<&Value> = all.iter().filter(|e| e["kind"] == "USER_CHANGED").collect();
        assert!(!changed.is_empty());
        for e in &changed {
            let id = e["userId"].as_str().unwrap();
            let day = e["date"].as_str().unwrap();
            let i = days.iter().position(|d| d == day).unwrap();
            for c in e["changes"].as_array().unwrap() {
                if let Some(after) = seen[i][id].get(c["field"].as_str().unwrap()) {
                    assert_eq!(after.as_str(), c["after"].as_str(), "{e}");
                }
            }
            assert!(!e["changes"].as_array().unwrap().is_empty(), "{e}");
        }
        assert!(all.iter().any(|e| e["kind"] == "LICENSE_REMOVED"));

        // Filters: a SKU's license events, one user's events, some kinds.
        let sku = all
            .iter()
            .find_map(|e| e["skuId"].as_str())
            .unwrap()
            .to_owned();
        let expected: Vec<_> = keys(&all).into_iter().filter(|k| k.3 == sku).collect();
        assert_eq!(
            keys(&changes_of(&app, tenant, range, json!({ "skuId": sku }), 50).await),
            expected
        );
        let user = changed[0]["userId"].as_str().unwrap().to_owned();
        let expected: Vec<_> = keys(&all).into_iter().filter(|k| k.2 == user).collect();
        assert_eq!(
            keys(&changes_of(&app, tenant, range, json!({ "userId": user }), 50).await),
            expected
        );
        let kinds = json!({ "kinds": ["USER_REMOVED", "LICENSE_ASSIGNED"] });
        let expected: Vec<_> = keys(&all)
            .into_iter()
            .filter(|k| k.0 == "USER_REMOVED" || k.0 == "LICENSE_ASSIGNED")
            .collect();
        assert_eq!(
            keys(&changes_of(&app, tenant, range, kinds, 50).await),
            expected
        );
        // A narrower range holds only its days.
        let second = changes_of(&app, tenant, (dates[1], dates[1]), Value::Null, 500).await;
        let expected: Vec<_> = keys(&all).into_iter().filter(|k| k.1 == days[1]).collect();
        assert_eq!(keys(&second), expected);

        // Another tenant's users never appear, even when asked for by id.
        let theirs = changes_of(&app, other, range, Value::Null, 500).await;
        assert!(!theirs.is_empty());
        let ours: BTreeSet<&str> = all.iter().map(|e| e["userId"].as_str().unwrap()).collect();
        assert!(
            theirs
                .iter()
                .all(|e| !ours.contains(e["userId"].as_str().unwrap()))
        );
        let asked = changes_of(&app, other, range, json!({ "userId": user }), 50).await;
        assert!(asked.is_empty(), "{asked:?}");

        // More than 400 days, or a range that ends before it starts, is refused.
        for (from, to) in [
            (dates[2] - Duration::days(401), dates[2]),
            (dates[2], dates[0]),
        ] {
            let body = app
                .post(
                    CHANGES,
                    json!({ "t": tenant.to_string(), "from": from.to_string(),
                        "to": to.to_string(), "n": 5 }),
                )
                .await;
            assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
        }
        sim.stop().await;
    }
}

#[tokio::test]
async fn license_changes_and_user_history_take_as_many_statements_for_a_big_page_as_a_small_one() {
    for backend in backends() {
        let app = TestApp::uncached(backend).await;
        let (sim, tenant, _, seen) = three_imports(&app).await;
        let dates = dates();
        let query = r#"query($t: ID!, $from: Date!, $to: Date!, $n: Int!) { tenant(id: $t) {
            licenseChanges(from: $from, to: $to, first: $n) { edges { node {
              kind date user { displayName } subscription { skuPartNumber }
              importRun { id } changes { field } } } }
            users(first: $n, filter: { includeDeleted: true }) { edges { node {
              history(first: 5) { edges { node { validFrom change changes { field }
                user { displayName city } } } } } } } } }"#;
        let count = |n: i32| {
            let vars = json!({ "t": tenant.to_string(), "from": dates[0].to_string(),
                "to": dates[2].to_string(), "n": n });
            let app = &app;
            async move {
                let (body, statements) = app.counted(query, vars).await;
                assert!(body.get("errors").is_none(), "{body}");
                let edges = body["data"]["tenant"]["licenseChanges"]["edges"]
                    .as_array()
                    .unwrap();
                assert_eq!(edges.len(), n as usize);
                assert!(
                    edges
                        .iter()
                        .any(|e| e["node"]["kind"] == "LICENSE_ASSIGNED"),
                    "{body}"
                );
                statements
            }
        };
        assert!(seen[2].len() > 40);
        let small = count(10).await;
        let big = count(100).await;
        assert_eq!(small, big, "statements for 10 and for 100 events and users");
        sim.stop().await;
    }
}

/// On SQLite, whose plans the test reads: a page of `licenseChanges`, the first and a later
/// one, reads each source of events through an index on its day, in the page's order, and
/// sorts only the merged page, so its cost does not grow with the range's events.
#[tokio::test]
async fn license_changes_read_each_source_in_day_order_and_sort_only_the_page() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let (sim, tenant, _, _) = three_imports(&app).await;
    let dates = dates();
    let mut after = Value::Null;
    for _ in 0..2 {
        let vars = json!({ "t": tenant.to_string(), "from": dates[0].to_string(),
            "to": dates[2].to_string(), "f": null, "n": 5, "after": after });
        let (body, statements) = app.traced(CHANGES, vars).await;
        assert!(body.get("errors").is_none(), "{body}");
        let events = statements
            .iter()
            .find(|s| s.contains("UNION ALL"))
            .expect("the events statement");
        let plan = app.store.query_plan(events).await.unwrap();
        // users u, user_versions v, user_licenses l, license_history h: searched by day.
        for alias in ["u", "v", "l", "h"] {
            let reads: Vec<&String> = plan
                .iter()
                .filter(|line| {
                    let line = line.trim();
                    line.starts_with(&format!("SEARCH {alias} "))
                        || line.starts_with(&format!("SCAN {alias}"))
                })
                .collect();
            assert!(!reads.is_empty(), "no read of {alias}: {plan:#?}");
            for line in reads {
                // A later page seeks its key: a row value (day, user[, SKU]).
                let by_day = ["valid_from", "valid_to", "held_from"].iter().any(|day| {
                    line.contains(&format!("(tenant_id=? AND {day}>"))
                        || line.contains(&format!("(tenant_id=? AND ({day},"))
                });
                let seeks = after.is_null() || line.contains(",user_id") || line.contains(",id)");
                assert!(
                    line.starts_with("SEARCH") && by_day && seeks,
                    "{alias} is not read by day from the key: {line}\n{events}\n{plan:#?}"
                );
            }
        }
        let sorts = plan
            .iter()
            .filter(|line| line.trim() == "USE TEMP B-TREE FOR ORDER BY")
            .count();
        assert_eq!(sorts, 1, "only the merged page is sorted: {plan:#?}");
        after = body["data"]["tenant"]["licenseChanges"]["pageInfo"]["endCursor"].clone();
        assert!(after.is_string(), "{body}");
    }
    sim.stop().await;
}
