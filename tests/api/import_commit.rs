//! The commit of an import (`store::import_commit`): a refused commit writes nothing, commits
//! of several tenants at once wait for each other instead of failing, and users, licenses and
//! license assignments are written a thousand rows per statement.

use chrono::{Duration, Utc};
use serde_json::json;
use tenantgraph::domain::{AssignedBy, AssignedLicense, SkuId};
use uuid::Uuid;

use crate::statements::{BIG_TENANT_GROUP, big_tenant};
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
            users(first: 500) { edges { node { id displayName licenses { skuId }
              licenseAssignments { skuId assignedBy state error } } } } } }"#;
        let id = snapshot.tenant.id.to_string();
        let before = app.data(q, json!({ "id": id })).await;
        assert!(
            before.to_string().contains("CountViolation"),
            "assignments stored: {before}"
        );

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
        broken
            .assignments
            .retain(|a| broken.users.iter().any(|u| u.id == a.user_id));
        for a in &mut broken.assignments {
            a.detail.assigned_by = AssignedBy::Group(BIG_TENANT_GROUP);
        }
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

/// The user, license and license assignment writes among `statements`: (new users inserted,
/// users upserted, licenses deleted, licenses inserted, assignments deleted, assignments
/// inserted, users soft-deleted).
fn writes(statements: &[String]) -> [usize; 7] {
    let count = |prefix: &str| statements.iter().filter(|s| s.starts_with(prefix)).count();
    [
        count("INSERT INTO users "),
        count(r#"INSERT INTO "users" "#),
        count(r#"DELETE FROM "user_licenses" "#),
        count("INSERT INTO user_licenses "),
        count(r#"DELETE FROM "user_license_assignments" "#),
        count("INSERT INTO user_license_assignments "),
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
        // 2,500 users with 3,125 licenses, assigned by 3,629 assignments.
        let first = big_tenant(2500);
        assert_eq!(first.assignments.len(), 3629);
        let (written, counts) = commit(&first, t0).await;
        assert_eq!(
            written,
            [3, 0, 0, 4, 0, 4, 0],
            "first import on {backend:?}"
        );
        assert_eq!(counts.users_added, 2500);

        // 1,100 renamed, 500 gone (soft-deleted by the full import, with their licenses and
        // assignments).
        let mut second = first.clone();
        for u in second.users.iter_mut().take(1100) {
            u.display_name = format!("Renamed {}", u.display_name);
        }
        second.users.truncate(2000);
        let (written, counts) = commit(&second, t0 + Duration::days(1)).await;
        assert_eq!(
            written,
            [0, 2, 1, 0, 1, 0, 1],
            "second import on {backend:?}"
        );
        assert_eq!((counts.users_updated, counts.users_removed), (1100, 500));

        // 1,100 renamed back and 500 restored with their 625 licenses and 727 assignments.
        let (written, counts) = commit(&first, t0 + Duration::days(2)).await;
        assert_eq!(
            written,
            [0, 2, 0, 1, 0, 1, 0],
            "third import on {backend:?}"
        );
        assert_eq!((counts.users_updated, counts.users_restored), (1100, 500));

        // Graph processed the assignments of 1,200 users again, their licenses unchanged: only
        // those users' assignment rows are replaced (two statements each way, 1,000 users per
        // DELETE and 1,000 rows per INSERT), and they count as updated.
        let mut fourth = first.clone();
        let changed: std::collections::HashSet<_> = fourth
            .users
            .iter()
            .skip(1000)
            .take(1200)
            .map(|u| u.id)
            .collect();
        for a in fourth
            .assignments
            .iter_mut()
            .filter(|a| changed.contains(&a.user_id))
        {
            a.detail.last_updated = Some(t0 + Duration::days(3));
        }
        let (written, counts) = commit(&fourth, t0 + Duration::days(3)).await;
        assert_eq!(
            written,
            [0, 0, 0, 0, 2, 2, 0],
            "fourth import on {backend:?}"
        );
        assert_eq!(counts.users_updated, 1200);
    }
}

/// The statements among `statements` that write rows of `users`.
fn user_writes(statements: &[String]) -> Vec<&String> {
    statements
        .iter()
        .filter(|s| {
            s.starts_with("INSERT INTO users ")
                || s.starts_with(r#"INSERT INTO "users" "#)
                || s.starts_with(r#"UPDATE "users" "#)
        })
        .collect()
}

#[tokio::test]
async fn an_import_sees_the_users_it_leaves_unchanged_without_rewriting_their_rows() {
    use chrono::{DateTime, SubsecRound};
    const SEEN: &str = r#"query($id: ID!) { tenant(id: $id) { lastImportAt
      users(first: 50, filter: { includeDeleted: true }) { edges { node { id lastSeenAt deletedAt
        history(first: 5) { nodes { validTo user { lastSeenAt } } } } } } } }"#;
    let at = |v: &serde_json::Value| {
        DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
            .unwrap()
            .to_utc()
    };
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let (store, log) = recording_store(&app.store).await;
        let t0 = Utc::now().trunc_subsecs(6) - Duration::days(3);
        let (t1, t2) = (t0 + Duration::days(1), t0 + Duration::days(2));
        let first = big_tenant(30);
        let id = first.tenant.id.to_string();
        replace_tenant(&store, &first, t0).await.unwrap();

        // The second import renames one user and leaves the other 29 as they were: it writes
        // the renamed user's row (and the day it took effect) and no other.
        let mut second = first.clone();
        second.users[0].display_name = "Renamed".to_owned();
        log.lock().unwrap().clear();
        replace_tenant(&store, &second, t1).await.unwrap();
        let statements = std::mem::take(&mut *log.lock().unwrap());
        assert_eq!(
            user_writes(&statements).len(),
            2,
            "{backend:?}: {:#?}",
            user_writes(&statements)
        );
        let got = app.data(SEEN, json!({ "id": id })).await;
        assert_eq!(at(&got["tenant"]["lastImportAt"]), t1, "{backend:?}");
        let edges = got["tenant"]["users"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 30);
        for edge in edges {
            let user = &edge["node"];
            assert_eq!(at(&user["lastSeenAt"]), t1, "{backend:?}: {user}");
            let current = &user["history"]["nodes"][0];
            assert_eq!(current["validTo"], json!(null), "{user}");
            assert_eq!(
                at(&current["user"]["lastSeenAt"]),
                t1,
                "{backend:?}: {user}"
            );
        }

        // The third drops the last user: it was last seen by the second import, the others by
        // the third.
        let mut third = second.clone();
        let gone = third.users.pop().unwrap().id.to_string();
        replace_tenant(&store, &third, t2).await.unwrap();
        let got = app.data(SEEN, json!({ "id": id })).await;
        assert_eq!(at(&got["tenant"]["lastImportAt"]), t2, "{backend:?}");
        for edge in got["tenant"]["users"]["edges"].as_array().unwrap() {
            let user = &edge["node"];
            if user["id"] == json!(gone) {
                assert_eq!(at(&user["deletedAt"]), t2, "{backend:?}: {user}");
                assert_eq!(at(&user["lastSeenAt"]), t1, "{backend:?}: {user}");
            } else {
                assert_eq!(user["deletedAt"], json!(null), "{user}");
                assert_eq!(at(&user["lastSeenAt"]), t2, "{backend:?}: {user}");
            }
        }
    }
}
