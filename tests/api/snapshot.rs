//! Writing a tenant's snapshot: atomic, soft-deleting, restoring.

use chrono::{Duration, Utc};
use serde_json::json;
use tenantgraph::domain::{AssignedLicense, SkuId};
use tenantgraph::store::snapshot::replace_tenant;
use uuid::Uuid;

use crate::statements::big_tenant;
use crate::support::{TestApp, backends};

const COUNTS: &str = r#"query($id: ID!) { tenant(id: $id) { userCount
  all: users(first: 0, filter: { includeDeleted: true }) { totalCount } } }"#;

#[tokio::test]
async fn users_missing_upstream_are_soft_deleted_and_restored_under_the_same_id() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let mut snapshot = big_tenant(30);
        let t0 = Utc::now() - Duration::hours(2);
        replace_tenant(&app.store, &snapshot, t0).await.unwrap();
        let id = snapshot.tenant.id.to_string();

        let gone = snapshot.users.pop().unwrap();
        snapshot.licenses.retain(|l| l.user_id != gone.id);
        for sub in &mut snapshot.subscriptions {
            sub.consumed_units = snapshot
                .licenses
                .iter()
                .filter(|l| l.sku_id == sub.sku_id)
                .count() as i64;
        }
        let counts = replace_tenant(&app.store, &snapshot, t0 + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(counts.users_soft_deleted, 1);
        let got = app.data(COUNTS, json!({ "id": id })).await;
        assert_eq!(got["tenant"]["userCount"], 29);
        assert_eq!(
            got["tenant"]["all"]["totalCount"], 30,
            "the deleted user is kept"
        );
        let q =
            "query($t: ID!, $id: ID!) { user(tenantId: $t, id: $id) { deletedAt firstSeenAt } }";
        let deleted = app
            .data(q, json!({ "t": id, "id": gone.id.to_string() }))
            .await;
        assert!(deleted["user"]["deletedAt"].is_string());

        snapshot.users.push(gone.clone());
        replace_tenant(&app.store, &snapshot, t0 + Duration::hours(2))
            .await
            .unwrap();
        let back = app
            .data(q, json!({ "t": id, "id": gone.id.to_string() }))
            .await;
        assert!(back["user"]["deletedAt"].is_null(), "restored");
        let first_seen =
            chrono::DateTime::parse_from_rfc3339(back["user"]["firstSeenAt"].as_str().unwrap())
                .unwrap();
        assert!(
            (first_seen.timestamp() - t0.timestamp()).abs() <= 1,
            "first seen kept on {backend:?}"
        );
        assert_eq!(
            app.data(COUNTS, json!({ "id": id })).await["tenant"]["userCount"],
            30
        );
    }
}

#[tokio::test]
async fn a_failing_snapshot_leaves_the_stored_tenant_exactly_as_it_was() {
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

        // A new run renames everything and drops users, but one license names an unknown SKU:
        // the foreign key fails on the last statement and the whole write must roll back.
        let mut broken = snapshot.clone();
        broken.tenant.name = "Renamed".into();
        broken.users.truncate(10);
        for u in &mut broken.users {
            u.display_name = format!("Changed {}", u.display_name);
        }
        broken
            .licenses
            .retain(|l| broken.users.iter().any(|u| u.id == l.user_id));
        broken.licenses.push(AssignedLicense {
            user_id: broken.users[0].id,
            tenant_id: broken.tenant.id,
            sku_id: SkuId(Uuid::new_v4()),
            disabled_plans: vec![],
        });
        let err = replace_tenant(&app.store, &broken, Utc::now())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("conflict"), "{err} on {backend:?}");

        let after = app.data(q, json!({ "id": id })).await;
        assert_eq!(before, after, "{backend:?}");
    }
}

#[tokio::test]
async fn concurrent_tenant_writes_wait_for_each_other_instead_of_failing() {
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
        }
    }
}
