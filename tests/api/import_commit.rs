//! The commit of an import (`store::import_commit`): a refused commit writes nothing, and
//! commits of several tenants at once wait for each other instead of failing.

use chrono::Utc;
use serde_json::json;
use tenantgraph::domain::{AssignedLicense, SkuId};
use uuid::Uuid;

use crate::statements::big_tenant;
use crate::support::snapshot::replace_tenant;
use crate::support::{TestApp, backends};

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
