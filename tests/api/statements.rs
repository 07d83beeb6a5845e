//! SQL statements per request stay constant in the page size (DataLoaders batch every relation).
//! Counted without the read cache, which `read_cache.rs` counts with.

use crate::support::snapshot::{TenantSnapshot, replace_tenant};
use chrono::{SubsecRound, Utc};
use serde_json::json;
use tenantgraph::domain::{
    AssignedBy, AssignedLicense, ContactId, GroupId, LicenseAssignment, LicenseAssignmentState,
    ManagerContact, PrepaidUnits, ServicePlan, ServicePlanId, SkuId, Subscription, Tenant,
    TenantId, User, UserId,
};
use uuid::Uuid;

use crate::support::{TestApp, backends};

/// A tenant of `n` users: 25 managers (reporting to the first), everyone else reporting to one
/// of them but every 50th (from the 10th) to an organizational contact, each user with one or
/// two of three SKUs, some with a disabled plan. See [`big_tenant_assignments`] for how the
/// licenses are assigned.
pub(crate) fn big_tenant(n: usize) -> TenantSnapshot {
    let now = Utc::now();
    let tenant_id = TenantId(Uuid::new_v4());
    let skus: Vec<SkuId> = (0..3).map(|_| SkuId(Uuid::new_v4())).collect();
    let plan = ServicePlanId(Uuid::new_v4());
    let users: Vec<User> = (0..n)
        .map(|i| User {
            id: UserId(Uuid::new_v4()),
            tenant_id,
            display_name: format!("User {i:05}"),
            given_name: Some("User".into()),
            surname: Some(format!("{i:05}")),
            user_principal_name: format!("user{i:05}@big.example"),
            mail: Some(format!("user{i:05}@big.example")),
            user_type: Some("Member".into()),
            account_enabled: Some(true),
            job_title: None,
            department: Some(["Sales", "Finance", "IT"][i % 3].into()),
            company_name: None,
            office_location: None,
            street_address: None,
            city: None,
            state: None,
            postal_code: None,
            country: None,
            preferred_language: None,
            usage_location: Some("CH".into()),
            extension_attributes: Default::default(),
            manager_id: None,
            manager_contact: None,
            first_seen_at: now,
            last_seen_at: now,
            deleted_at: None,
        })
        .collect();
    let manager_ids: Vec<UserId> = users.iter().take(25).map(|u| u.id).collect();
    let users: Vec<User> = users
        .into_iter()
        .enumerate()
        .map(|(i, mut u)| {
            if i % 50 == 9 {
                u.manager_contact = Some(ManagerContact {
                    id: ContactId(Uuid::from_u128(0xC0)),
                    display_name: Some("Interim (extern)".into()),
                    mail: Some("interim@contractor.example".into()),
                });
            } else if i >= 25 {
                u.manager_id = Some(manager_ids[i % 25]);
            } else if i > 0 {
                u.manager_id = Some(manager_ids[0]);
            }
            u
        })
        .collect();
    let mut licenses = Vec::new();
    for (i, u) in users.iter().enumerate() {
        licenses.push(AssignedLicense {
            user_id: u.id,
            tenant_id,
            sku_id: skus[i % 2],
            disabled_plans: if i % 7 == 0 { vec![plan] } else { vec![] },
        });
        if i % 4 == 0 {
            licenses.push(AssignedLicense {
                user_id: u.id,
                tenant_id,
                sku_id: skus[2],
                disabled_plans: vec![],
            });
        }
    }
    let subscriptions = skus
        .iter()
        .enumerate()
        .map(|(i, sku)| Subscription {
            tenant_id,
            sku_id: *sku,
            sku_part_number: ["SPE_E3", "SPE_E5", "MCOEV"][i].into(),
            capability_status: "Enabled".into(),
            applies_to: "User".into(),
            prepaid: PrepaidUnits {
                enabled: n as i64,
                ..PrepaidUnits::default()
            },
            consumed_units: licenses.iter().filter(|l| l.sku_id == *sku).count() as i64,
            subscription_ids: vec![],
            billing: tenantgraph::domain::SkuBilling::Partner,
            unknown: false,
            updated_at: now,
        })
        .collect();
    let service_plans = skus
        .iter()
        .map(|sku| ServicePlan {
            tenant_id,
            sku_id: *sku,
            service_plan_id: plan,
            name: "EXCHANGE_S_ENTERPRISE".into(),
            provisioning_status: "Success".into(),
            applies_to: "User".into(),
        })
        .collect();
    let assignments = big_tenant_assignments(&users, &licenses, skus[2]);
    TenantSnapshot {
        tenant: Tenant {
            id: tenant_id,
            customer_id: None,
            name: "Big Tenant".into(),
            default_domain: Some("big.example".into()),
            created_at: now,
            updated_at: now,
            last_import_at: None,
        },
        subscriptions,
        service_plans,
        users,
        licenses,
        assignments,
    }
}

/// The licensing group of a big tenant's assignments.
pub(crate) const BIG_TENANT_GROUP: GroupId = GroupId(Uuid::from_u128(0x6e0f_a11c));

/// How a big tenant's licenses are assigned: user `i`'s first SKU only through
/// [`BIG_TENANT_GROUP`] when `i % 3 == 0`, both directly and through it when `i % 5 == 0`, else
/// directly; other SKUs directly. Users `i % 11 == 0` without `extra` also have a group
/// assignment of `extra` that failed with `CountViolation`.
pub(crate) fn big_tenant_assignments(
    users: &[User],
    licenses: &[AssignedLicense],
    extra: SkuId,
) -> Vec<LicenseAssignment> {
    let entry = |user: &User, sku, by, state: &str, error: Option<&str>| LicenseAssignment {
        user_id: user.id,
        tenant_id: user.tenant_id,
        detail: LicenseAssignmentState {
            sku_id: sku,
            assigned_by: by,
            state: state.to_owned(),
            error: error.map(str::to_owned),
            disabled_plans: Vec::new(),
            last_updated: Some(user.first_seen_at.trunc_subsecs(0)),
        },
    };
    let group = AssignedBy::Group(BIG_TENANT_GROUP);
    let mut out = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let held: Vec<&AssignedLicense> =
            licenses.iter().filter(|l| l.user_id == user.id).collect();
        for (n, license) in held.iter().enumerate() {
            let active = |by| entry(user, license.sku_id, by, "Active", None);
            if n > 0 || (i % 3 != 0) {
                out.push(active(AssignedBy::Direct));
            }
            if n == 0 && (i % 3 == 0 || i % 5 == 0) {
                out.push(active(group));
            }
        }
        if i % 11 == 0 && held.iter().all(|l| l.sku_id != extra) {
            out.push(entry(user, extra, group, "Error", Some("CountViolation")));
        }
    }
    out
}

const USERS_PAGE: &str = r#"query($id: ID!, $first: Int) { tenant(id: $id) { name users(first: $first) {
  totalCount edges { node { displayName department manager { displayName }
  managerContact { id displayName }
  licenses { disabledServicePlans { name } subscription { skuPartNumber unassigned }
    assignedBy { assignedBy state error } }
  licenseAssignments { skuId assignedBy state error lastUpdated } } } } } }"#;

#[tokio::test]
async fn statements_per_users_page_are_the_same_for_10_and_500_users() {
    for backend in backends() {
        let app = TestApp::uncached(backend).await;
        let snapshot = big_tenant(600);
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let id = snapshot.tenant.id.to_string();

        let (small, small_count) = app
            .counted(USERS_PAGE, json!({ "id": id, "first": 10 }))
            .await;
        assert!(small.get("errors").is_none(), "{small}");
        let edges = small["data"]["tenant"]["users"]["edges"]
            .as_array()
            .unwrap();
        assert_eq!(edges.len(), 10);
        let contact_managed = &edges[9]["node"];
        assert_eq!(contact_managed["displayName"], "User 00009");
        assert_eq!(
            contact_managed["managerContact"]["displayName"],
            "Interim (extern)"
        );
        assert!(contact_managed["manager"].is_null(), "{contact_managed}");
        let (large, large_count) = app
            .counted(USERS_PAGE, json!({ "id": id, "first": 500 }))
            .await;
        assert!(large.get("errors").is_none(), "{large}");
        let edges = large["data"]["tenant"]["users"]["edges"]
            .as_array()
            .unwrap();
        assert_eq!(edges.len(), 500);
        // The managers come with the page's statement: user 0 has none, every 50th from the
        // 10th a contact, users 1 to 24 report to user 0, the others to user `i % 25`.
        for (i, edge) in edges.iter().enumerate() {
            let manager = &edge["node"]["manager"];
            let expected = match i {
                0 => None,
                _ if i % 50 == 9 => None,
                1..25 => Some("User 00000".to_owned()),
                _ => Some(format!("User {:05}", i % 25)),
            };
            assert_eq!(
                manager["displayName"].as_str(),
                expected.as_deref(),
                "user {i}"
            );
        }
        let by_group = BIG_TENANT_GROUP.to_string();
        let assigned_by = |e: &serde_json::Value| -> Vec<String> {
            e["node"]["licenses"][0]["assignedBy"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["assignedBy"].as_str().unwrap().to_owned())
                .collect()
        };
        for (kind, sources) in [
            ("direct", vec!["DIRECT".to_owned()]),
            ("group", vec![by_group.clone()]),
            ("both", vec!["DIRECT".to_owned(), by_group.clone()]),
        ] {
            assert!(
                edges.iter().any(|e| assigned_by(e) == sources),
                "a license assigned {kind}"
            );
        }
        assert!(edges.iter().any(|e| {
            e["node"]["licenseAssignments"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["error"] == "CountViolation")
        }));
        let batches = app.metrics.render();
        assert_eq!(
            small_count, large_count,
            "statements for 10 vs 500 users on {backend:?}: {batches}"
        );
        // tenant, users page (with the managers and manager contacts), totalCount, licenses,
        // subscriptions, service plans, license assignments (read once for `assignedBy` and
        // `licenseAssignments`)
        assert_eq!(large_count, 7, "{backend:?}");
    }
}

#[tokio::test]
async fn fields_beyond_a_users_summary_take_one_more_statement_for_any_page_size() {
    for backend in backends() {
        let app = TestApp::uncached(backend).await;
        let mut snapshot = big_tenant(600);
        for (i, user) in snapshot.users.iter_mut().enumerate() {
            user.city = Some(format!("City {i:05}"));
            user.extension_attributes[2] = Some(format!("CC-{i:05}"));
        }
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let id = snapshot.tenant.id.to_string();
        let q = r#"query($id: ID!, $first: Int) { tenant(id: $id) { users(first: $first) {
          edges { node { displayName surname city usageLocation firstSeenAt
          extensionAttributes { extensionAttribute3 } manager { displayName city } } } } } }"#;
        let mut counts = Vec::new();
        for first in [10, 500] {
            let (body, count) = app.counted(q, json!({ "id": id, "first": first })).await;
            assert!(body.get("errors").is_none(), "{body}");
            let edges = body["data"]["tenant"]["users"]["edges"].as_array().unwrap();
            assert_eq!(edges.len(), first);
            for edge in edges {
                let node = &edge["node"];
                // "User 00042" is user 42 of the snapshot.
                let i = &node["displayName"].as_str().unwrap()[5..];
                assert_eq!(node["surname"], i, "{node}");
                assert_eq!(node["city"], format!("City {i}"), "{node}");
                assert_eq!(node["usageLocation"], "CH");
                assert_eq!(
                    node["extensionAttributes"]["extensionAttribute3"],
                    format!("CC-{i}")
                );
                assert!(node["firstSeenAt"].is_string(), "{node}");
                // The first user has no manager, every 50th from the 10th a contact.
                let n: usize = i.parse().unwrap();
                if n != 0 && n % 50 != 9 {
                    assert!(
                        node["manager"]["city"]
                            .as_str()
                            .is_some_and(|c| c.starts_with("City ")),
                        "{node}"
                    );
                }
            }
            counts.push(count);
        }
        assert_eq!(counts[0], counts[1], "{backend:?}");
        // tenant, users page with its managers, the users' other columns (read ahead with the
        // page; the managers sort first, so theirs are among them)
        assert_eq!(counts[1], 3, "{backend:?}");
    }
}

#[tokio::test]
async fn nested_user_lists_under_many_parents_share_one_statement() {
    for backend in backends() {
        let app = TestApp::uncached(backend).await;
        let snapshot = big_tenant(200);
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let q = r#"query($id: ID!) { tenant(id: $id) { users(first: 25) { edges { node {
            displayName
            directReports(first: 3) { totalCount edges { node { displayName manager { displayName } } } }
            } } } } }"#;
        let (body, count) = app
            .counted(q, json!({ "id": snapshot.tenant.id.to_string() }))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        let edges = body["data"]["tenant"]["users"]["edges"].as_array().unwrap();
        let managers_with_reports = edges
            .iter()
            .filter(|e| e["node"]["directReports"]["totalCount"].as_u64().unwrap() > 0)
            .count();
        assert_eq!(managers_with_reports, 25, "the 25 managers sort first");
        for edge in edges {
            let reports = &edge["node"]["directReports"];
            assert!(reports["edges"].as_array().unwrap().len() <= 3);
            for report in reports["edges"].as_array().unwrap() {
                assert_eq!(
                    report["node"]["manager"]["displayName"], edge["node"]["displayName"],
                    "{report}"
                );
            }
        }
        // tenant, users page, report pages with their managers (one windowed statement),
        // report counts
        assert_eq!(count, 4, "{backend:?}");
    }
}

#[tokio::test]
async fn entities_lookup_is_one_statement_per_type() {
    for backend in backends() {
        let app = TestApp::uncached(backend).await;
        let snapshot = big_tenant(50);
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let reps: Vec<_> = snapshot
            .users
            .iter()
            .take(20)
            .map(|u| json!({ "__typename": "User", "id": u.id.to_string() }))
            .collect();
        let q = r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on User { displayName } } }"#;
        let (body, count) = app.counted(q, json!({ "r": reps })).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["_entities"].as_array().unwrap().len(), 20);
        assert_eq!(count, 1, "{backend:?}");
    }
}
