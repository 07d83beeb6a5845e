//! The commit of an import (`store::import_commit`): a refused commit writes nothing, commits
//! of several tenants at once wait for each other instead of failing, and users and licenses
//! are written a thousand rows per statement.

use chrono::{Duration, Utc};
use serde_json::json;
use tenantgraph::domain::{AssignedLicense, SkuId};
use uuid::Uuid;

use crate::statements::big_tenant;
use crate::support::snapshot::replace_tenant;
use crate::support::{TestApp, backends, recording_store};

const COUNTS: &str = r#"query($id: ID!) { tenant(id: $id) { userCount
  all: users(first: 0, filter: { includeDeleted: true }) { totalCount } } }"#;

#[tokio::test]
async fn a_refused_commit_leaves_the_stored_tenant_exactly_as_it_was() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let snapshot = big_tenant(40);
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let q = r#"query($id: ID!) { tenant(id: $id) { name userCount subscriptions { skuPartNumber assigned }
            users(first: 500) { edges { node { id displayName licenses { skuId } } } } } }"#;
        let id = snapshot.tenant.id.to_string();
        let before = app.data(q, json!({ "id": id })).await;

        // A new run changes every user it keeps and drops the others, but its last user holds a
        // SKU that subscribedSkus doesn't list: the whole commit must be refused.
        let mut broken = snapshot.clone();
        broken.users.truncate(10);
        for u in &mut broken.users {
            u.display_name = format!("Changed {}", u.display_name);
        }
        broken
            .licenses
            .retain(|l| broken.users.iter().any(|u| u.id == l.user_id));
        broken.licenses.push(AssignedLicense {
            user_id: broken.users[9].id,
            tenant_id: broken.tenant.id,
            sku_id: SkuId(Uuid::new_v4()),
            disabled_plans: vec![],
        });
        let err = replace_tenant(&app.store, &broken, Utc::now())
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("which subscribedSkus does not list"),
            "{err} on {backend:?}"
        );

        let after = app.data(q, json!({ "id": id })).await;
        assert_eq!(before, after, "{backend:?}");
    }
}

#[tokio::test]
async fn concurrent_tenant_commits_wait_for_each_other_instead_of_failing() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let snapshots: Vec<_> = (0..6).map(|_| big_tenant(150)).collect();
        for round in 0..2 {
            let writes = snapshots
                .iter()
                .map(|s| replace_tenant(&app.store, s, Utc::now()));
            for result in futures_util::future::join_all(writes).await {
                assert!(result.is_ok(), "round {round} on {backend:?}: {result:?}");
            }
        }
        let got = app.data("{ tenants { totalCount } }", json!({})).await;
        assert_eq!(got["tenants"]["totalCount"], 6);
        for s in &snapshots {
            let counts = app
                .data(COUNTS, json!({ "id": s.tenant.id.to_string() }))
                .await;
            assert_eq!(counts["tenant"]["userCount"], 150);
            assert_eq!(counts["tenant"]["all"]["totalCount"], 150);
        }
    }
}

/// The user and license writes among `statements`: (new users inserted, users upserted,
/// licenses deleted, licenses inserted, users soft-deleted).
fn writes(statements: &[String]) -> [usize; 5] {
    let count = |prefix: &str| statements.iter().filter(|s| s.starts_with(prefix)).count();
    [
        count("INSERT INTO users "),
        count(r#"INSERT INTO "users" "#),
        count(r#"DELETE FROM "user_licenses" "#),
        count("INSERT INTO user_licenses "),
        count(r#"UPDATE "users" SET "deleted_at""#),
    ]
}

#[tokio::test]
async fn an_import_writes_users_and_licenses_a_thousand_rows_per_statement() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let (store, log) = recording_store(&app.store).await;
        let t0 = Utc::now() - Duration::days(3);
        let commit = async |snapshot, seen_at| {
            log.lock().unwrap().clear();
            let counts = replace_tenant(&store, snapshot, seen_at).await.unwrap();
            let statements = std::mem::take(&mut *log.lock().unwrap());
            (writes(&statements), counts)
        };
        // 2,500 users with 3,125 licenses.
        let first = big_tenant(2500);
        let (written, counts) = commit(&first, t0).await;
        assert_eq!(written, [3, 0, 0, 4, 0], "first import on {backend:?}");
        assert_eq!(counts.users_added, 2500);

        // 1,100 renamed, 500 gone (soft-deleted by the full import, with their licenses).
        let mut second = first.clone();
        for u in second.users.iter_mut().take(1100) {
            u.display_name = format!("Renamed {}", u.display_name);
        }
        second.users.truncate(2000);
        let (written, counts) = commit(&second, t0 + Duration::days(1)).await;
        assert_eq!(written, [0, 2, 1, 0, 1], "second import on {backend:?}");
        assert_eq!((counts.users_updated, counts.users_removed), (1100, 500));

        // 1,100 renamed back and 500 restored with their 625 licenses.
        let (written, counts) = commit(&first, t0 + Duration::days(2)).await;
        assert_eq!(written, [0, 2, 0, 1, 0], "third import on {backend:?}");
        assert_eq!((counts.users_updated, counts.users_restored), (1100, 500));
    }
}
