//! Counts kept at commit time (`Tenant.userCount`, `Tenant.counts`, the unfiltered `totalCount`
//! of a tenant's and a SKU's users): after every kind of change an import makes they equal a
//! fresh count over the rows, a refused import leaves them as they were, a store that held
//! tenants before them gets them by the migration, and the tenant list reads them at a cost
//! that does not grow with the users, on SQLite and PostgreSQL.

use chrono::{Duration, Utc};
use migrations::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, Statement, Value};
use serde_json::{Value as Json, json};
use tenantgraph::domain::{AssignedLicense, SkuId, TenantId};
use tenantgraph::store::Store;
use uuid::Uuid;

use crate::statements::big_tenant;
use crate::support::snapshot::{TenantSnapshot, direct_assignments, replace_tenant};
use crate::support::{TestApp, backends};

/// Every kept figure of one tenant, as the API answers it.
const KEPT: &str = r#"query Kept($id: ID!) { tenant(id: $id) {
  userCount
  counts { users members guests enabledUsers deletedUsers allUsers licenses }
  users(first: 0) { totalCount }
  everyone: users(first: 0, filter: { includeDeleted: true }) { totalCount }
  subscriptions { skuId assignedUsers(first: 0) { totalCount } } } }"#;

/// The kept figures of `tenant`, in the order [`fresh`] counts them.
async fn kept(app: &TestApp, tenant: TenantId) -> Vec<(String, i64)> {
    let data = app.data(KEPT, json!({ "id": tenant.to_string() })).await;
    let t = &data["tenant"];
    let n = |v: &Json| v.as_i64().unwrap();
    let c = &t["counts"];
    assert_eq!(t["userCount"], c["users"]);
    assert_eq!(t["users"]["totalCount"], c["users"]);
    assert_eq!(t["everyone"]["totalCount"], c["allUsers"]);
    let mut out = vec![
        ("users".to_owned(), n(&c["users"])),
        ("members".to_owned(), n(&c["members"])),
        ("guests".to_owned(), n(&c["guests"])),
        ("enabled".to_owned(), n(&c["enabledUsers"])),
        ("deleted".to_owned(), n(&c["deletedUsers"])),
        ("all".to_owned(), n(&c["allUsers"])),
        ("licenses".to_owned(), n(&c["licenses"])),
    ];
    let mut skus: Vec<(String, i64)> = t["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                format!("sku {}", s["skuId"].as_str().unwrap()),
                n(&s["assignedUsers"]["totalCount"]),
            )
        })
        .collect();
    skus.sort();
    out.extend(skus);
    out
}

/// The same figures counted over the rows now, with SQL of their own.
async fn fresh(store: &Store, tenant: TenantId) -> Vec<(String, i64)> {
    let db = Database::connect(store.url()).await.unwrap();
    let backend = db.get_database_backend();
    let p = match backend {
        sea_orm::DatabaseBackend::Postgres => "$1",
        _ => "?1",
    };
    let count = async |sql: String| -> i64 {
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [Value::from(tenant.uuid())],
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    };
    let present = format!("FROM users WHERE tenant_id = {p} AND deleted_at IS NULL");
    let mut out = vec![
        (
            "users".to_owned(),
            count(format!("SELECT COUNT(*) {present}")).await,
        ),
        (
            "members".to_owned(),
            count(format!(
                "SELECT COUNT(*) {present} AND user_type = 'Member'"
            ))
            .await,
        ),
        (
            "guests".to_owned(),
            count(format!("SELECT COUNT(*) {present} AND user_type = 'Guest'")).await,
        ),
        (
            "enabled".to_owned(),
            count(format!(
                "SELECT COUNT(*) {present} AND account_enabled = TRUE"
            ))
            .await,
        ),
        (
            "deleted".to_owned(),
            count(format!(
                "SELECT COUNT(*) FROM users WHERE tenant_id = {p} AND deleted_at IS NOT NULL"
            ))
            .await,
        ),
        (
            "all".to_owned(),
            count(format!("SELECT COUNT(*) FROM users WHERE tenant_id = {p}")).await,
        ),
        (
            "licenses".to_owned(),
            count(format!(
                "SELECT COUNT(*) FROM user_licenses l JOIN users u ON u.id = l.user_id \
                 WHERE l.tenant_id = {p} AND u.deleted_at IS NULL"
            ))
            .await,
        ),
    ];
    let skus = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT sku_id FROM subscriptions WHERE tenant_id = {p}"),
            [Value::from(tenant.uuid())],
        ))
        .await
        .unwrap();
    let mut per_sku = Vec::new();
    for row in skus {
        let sku: Uuid = row.try_get_by_index(0).unwrap();
        let holders = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT COUNT(*) FROM user_licenses l JOIN users u ON u.id = l.user_id \
                     WHERE l.tenant_id = {p} AND l.sku_id = {} AND u.deleted_at IS NULL",
                    match backend {
                        sea_orm::DatabaseBackend::Postgres => "$2",
                        _ => "?2",
                    }
                ),
                [Value::from(tenant.uuid()), Value::from(sku)],
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        per_sku.push((format!("sku {sku}"), holders));
    }
    per_sku.sort();
    out.extend(per_sku);
    db.close().await.unwrap();
    out
}

/// Drops `user`'s license of `sku` from `snapshot`, with the assignments that granted it.
fn remove_license(snapshot: &mut TenantSnapshot, user: usize, sku: SkuId) {
    let id = snapshot.users[user].id;
    snapshot
        .licenses
        .retain(|l| !(l.user_id == id && l.sku_id == sku));
    snapshot
        .assignments
        .retain(|a| !(a.user_id == id && a.detail.sku_id == sku));
}

#[tokio::test]
async fn kept_counts_equal_a_fresh_count_after_every_kind_of_change() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let t0 = Utc::now() - Duration::days(5);
        let mut snapshot = big_tenant(60);
        let tenant = snapshot.tenant.id;
        for (i, u) in snapshot.users.iter_mut().enumerate() {
            if i % 6 == 1 {
                u.user_type = Some("Guest".into());
            }
            if i % 9 == 2 {
                u.user_type = None;
            }
            if i % 5 == 3 {
                u.account_enabled = Some(false);
            }
        }
        let check = async |what: &str, snapshot: &TenantSnapshot, day: i64| {
            replace_tenant(&app.store, snapshot, t0 + Duration::days(day))
                .await
                .unwrap();
            let kept = kept(&app, tenant).await;
            assert_eq!(
                kept,
                fresh(&app.store, tenant).await,
                "{what} on {backend:?}"
            );
            kept
        };
        let first = check("first import", &snapshot, 0).await;
        assert_eq!(first[0], ("users".to_owned(), 60));
        assert!(first.iter().all(|(_, n)| *n >= 0));

        // Users gone upstream (soft-deleted with their licenses), a license removed, a user
        // turned guest and one disabled, the SKU counts changed.
        let mut changed = snapshot.clone();
        let gone: Vec<_> = changed.users.drain(50..).collect();
        changed
            .licenses
            .retain(|l| changed.users.iter().any(|u| u.id == l.user_id));
        changed
            .assignments
            .retain(|a| changed.users.iter().any(|u| u.id == a.user_id));
        let sku = changed.licenses[0].sku_id;
        remove_license(&mut changed, 0, sku);
        changed.users[4].user_type = Some("Guest".into());
        changed.users[6].account_enabled = Some(false);
        for s in &mut changed.subscriptions {
            s.prepaid.enabled += 5;
            s.consumed_units = changed
                .licenses
                .iter()
                .filter(|l| l.sku_id == s.sku_id)
                .count() as i64;
        }
        let after = check("users removed and changed", &changed, 1).await;
        assert_eq!(after[0].1, 50);
        assert_eq!(after[4], ("deleted".to_owned(), 10));
        assert!(after[6].1 < first[6].1, "licenses fell: {after:?}");

        // A license given back and a new one of another SKU, then the gone users restored.
        let mut regained = changed.clone();
        let extra = AssignedLicense {
            user_id: regained.users[1].id,
            tenant_id: tenant,
            sku_id: regained.subscriptions[2].sku_id,
            disabled_plans: vec![],
        };
        assert!(!regained.licenses.contains(&extra));
        regained
            .assignments
            .extend(direct_assignments(std::slice::from_ref(&extra)));
        regained.licenses.push(extra);
        check("a license added", &regained, 2).await;
        let mut restored = regained.clone();
        restored.users.extend(gone);
        let ids: Vec<_> = restored.users.iter().map(|u| u.id).collect();
        restored.licenses.extend(
            snapshot
                .licenses
                .iter()
                .filter(|l| ids[50..].contains(&l.user_id))
                .cloned(),
        );
        restored.assignments.extend(
            snapshot
                .assignments
                .iter()
                .filter(|a| ids[50..].contains(&a.user_id))
                .cloned(),
        );
        for s in &mut restored.subscriptions {
            s.consumed_units = restored
                .licenses
                .iter()
                .filter(|l| l.sku_id == s.sku_id)
                .count() as i64;
        }
        let back = check("users restored", &restored, 3).await;
        assert_eq!(back[0].1, 60);
        assert_eq!(back[4], ("deleted".to_owned(), 0));
    }
}

#[tokio::test]
async fn a_refused_import_leaves_the_kept_counts_as_they_were() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let snapshot = big_tenant(40);
        let tenant = snapshot.tenant.id;
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let before = kept(&app, tenant).await;

        // Most users gone, but the last one kept holds a SKU subscribedSkus does not list: the
        // whole commit is refused after its users were written in its transaction.
        let mut broken = snapshot.clone();
        broken.users.truncate(10);
        broken
            .licenses
            .retain(|l| broken.users.iter().any(|u| u.id == l.user_id));
        broken
            .assignments
            .retain(|a| broken.users.iter().any(|u| u.id == a.user_id));
        broken.licenses.push(AssignedLicense {
            user_id: broken.users[9].id,
            tenant_id: tenant,
            sku_id: SkuId(Uuid::new_v4()),
            disabled_plans: vec![],
        });
        replace_tenant(&app.store, &broken, Utc::now())
            .await
            .unwrap_err();
        let after = kept(&app, tenant).await;
        assert_eq!(after, before, "{backend:?}");
        assert_eq!(after, fresh(&app.store, tenant).await, "{backend:?}");
    }
}

#[tokio::test]
async fn upgrading_counts_the_tenants_a_store_already_holds() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let tenants: Vec<_> = (0..3).map(|i| big_tenant(20 + 15 * i)).collect();
        let mut gone = tenants[1].clone();
        gone.users.truncate(5);
        gone.licenses
            .retain(|l| gone.users.iter().any(|u| u.id == l.user_id));
        gone.assignments
            .retain(|a| gone.users.iter().any(|u| u.id == a.user_id));
        for s in &tenants {
            replace_tenant(&app.store, s, Utc::now() - Duration::days(1))
                .await
                .unwrap();
        }
        replace_tenant(&app.store, &gone, Utc::now()).await.unwrap();
        let mut before = Vec::new();
        for s in &tenants {
            before.push(kept(&app, s.tenant.id).await);
        }
        // Back to the store before the aggregates (their tables dropped), and up again: the
        // migration counts what is there.
        let conn = Database::connect(app.store.url()).await.unwrap();
        let names: Vec<String> = migrations::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let ours = names
            .iter()
            .position(|n| n == "m20261206_000025_tenant_aggregates")
            .unwrap();
        migrations::Migrator::down(&conn, Some((names.len() - ours) as u32))
            .await
            .unwrap();
        let tables = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                match backend {
                    crate::support::Backend::Sqlite => {
                        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'tenant_aggregates'"
                    }
                    crate::support::Backend::Postgres => {
                        "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'tenant_aggregates'"
                    }
                },
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(tables, 0, "{backend:?}: the migration went down");
        migrations::Migrator::up(&conn, None).await.unwrap();
        conn.close().await.unwrap();
        for (s, before) in tenants.iter().zip(before) {
            let after = kept(&app, s.tenant.id).await;
            assert_eq!(after, before, "{backend:?}");
            assert_eq!(after, fresh(&app.store, s.tenant.id).await, "{backend:?}");
        }
        assert_eq!(kept(&app, tenants[1].tenant.id).await[4].1, 30);
    }
}

/// The tenant list a dashboard reads: counts and SKUs with their holders.
const TENANTS_LIST: &str = r#"query TenantsList { tenants(first: 50) { totalCount edges { node {
  id name userCount
  counts { users members guests enabledUsers deletedUsers allUsers licenses }
  subscriptions { skuPartNumber purchased assigned assignedUsers(first: 0) { totalCount } } } } } }"#;

#[tokio::test]
async fn the_tenant_list_reads_the_same_statements_for_10_and_500_users_and_counts_no_users() {
    for backend in backends() {
        let mut runs = Vec::new();
        for users in [10, 500] {
            let app = TestApp::uncached(backend).await;
            for _ in 0..3 {
                replace_tenant(&app.store, &big_tenant(users), Utc::now())
                    .await
                    .unwrap();
            }
            let (body, statements) = app.traced(TENANTS_LIST, json!({})).await;
            assert!(body.get("errors").is_none(), "{body}");
            let edges = body["data"]["tenants"]["edges"].as_array().unwrap();
            assert_eq!(edges.len(), 3);
            for e in edges {
                assert_eq!(e["node"]["userCount"], users, "{backend:?}");
                // One of two SKUs each, and every 4th user a third.
                assert_eq!(
                    e["node"]["counts"]["licenses"],
                    users + users.div_ceil(4),
                    "{backend:?}"
                );
            }
            for sql in &statements {
                let lower = sql.to_lowercase().replace('"', "");
                assert!(
                    !lower.contains("from users")
                        && !lower.contains("join users")
                        && !lower.contains("user_licenses"),
                    "the tenant list read users on {backend:?}: {sql}"
                );
            }
            runs.push(statements);
        }
        assert_eq!(
            runs[0].len(),
            runs[1].len(),
            "statements for 10 vs 500 users on {backend:?}: {runs:#?}"
        );
        // tenants, their count, the kept counts, the SKUs, the SKUs' holders
        assert_eq!(runs[1].len(), 5, "{backend:?}: {:#?}", runs[1]);
    }
}
