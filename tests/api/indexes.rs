//! Every lookup the API makes is served by an index: the SQL a query mix executes is explained
//! on SQLite and no stored table may be read by a full scan.

use crate::support::snapshot::replace_tenant;
use chrono::Utc;
use serde_json::json;

use crate::statements::big_tenant;
use crate::support::{Backend, TestApp, demo_data};

const MIX: &[&str] = &[
    r#"query($t: ID!) { tenant(id: $t) { userCount consumption { purchased }
        costGroups { children { name } parent { name } }
        users(first: 20, orderBy: { field: USER_PRINCIPAL_NAME, direction: DESC }) { totalCount edges { node {
          manager { displayName } directReports(first: 5) { totalCount edges { node { id } } }
          licenses { disabledServicePlans { name } subscription { skuPartNumber servicePlans { name }
            assignedUsers(first: 5) { totalCount edges { node { id } } } } } } } } } }"#,
    r#"query($t: ID!, $sku: ID!) { tenant(id: $t) {
        sales: users(first: 10, filter: { department: "Sales" }) { totalCount edges { node { id } } }
        holders: users(first: 10, filter: { skuId: $sku, search: "user" }) { totalCount edges { node { id } } }
        guests: users(first: 10, filter: { userType: "Guest", includeDeleted: true }) { totalCount } } }"#,
    r#"query($t: ID!, $sku: ID!) { tenant(id: $t) {
        failing: users(first: 10, filter: { licenseError: true }) { totalCount edges { node {
          licenseAssignments { skuId assignedBy state error subscription { skuPartNumber } } } } }
        working: users(first: 10, filter: { licenseError: false }) { totalCount }
        viaGroup: users(first: 10, filter: { onlyThroughGroup: true, skuId: $sku }) { totalCount
          edges { node { licenses { assignedBy { assignedBy } } } } }
        anyViaGroup: users(first: 10, filter: { onlyThroughGroup: true }) { totalCount }
        notViaGroup: users(first: 10, filter: { onlyThroughGroup: false, department: "IT" }) { totalCount } } }"#,
    r#"query($u: ID!, $t: ID!) { user(tenantId: $t, id: $u) { displayName tenant { name } } }"#,
    r#"{ tenants(first: 10, search: "big") { totalCount edges { node { subscriptions { skuId } } } } }"#,
    r#"query($dt: ID!, $g: ID!) { tenant(id: $dt) {
        inGroup: users(first: 10, filter: { costGroupId: $g }) { totalCount edges { node { id } } }
        unallocated: users(first: 10, filter: { unallocated: true }) { totalCount edges { node { id } } }
        licensePrices { monthlyUnitPrice } subscriptions { price { currency } }
        costGroups { members(first: 5) { totalCount edges { node { user { id } percent } } }
          single: children { members(first: 2) { totalCount } } } } }"#,
];

fn full_scans(plan: &[String]) -> Vec<String> {
    const TABLES: [&str; 9] = [
        "users",
        "user_allocations",
        "license_prices",
        "user_licenses",
        "user_license_assignments",
        "subscriptions",
        "service_plans",
        "cost_groups",
        "tenants",
    ];
    plan.iter()
        .filter(|line| {
            let line = line.trim();
            TABLES
                .iter()
                .any(|t| line == format!("SCAN {t}") || line.starts_with(&format!("SCAN {t} ")))
                && !line.contains("USING")
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn every_statement_of_the_query_mix_uses_an_index() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let snapshot = big_tenant(300);
    replace_tenant(&app.store, &snapshot, Utc::now())
        .await
        .unwrap();
    crate::support::demo::seed(&app.store).await;
    let (demo, groups) = &demo_data()[0];
    let vars = json!({
        "dt": demo.tenant.id.to_string(),
        "g": groups[0].id.to_string(),
        "t": snapshot.tenant.id.to_string(),
        "u": snapshot.users[40].id.to_string(),
        "sku": snapshot.subscriptions[0].sku_id.to_string(),
    });
    let mut explained = 0;
    for query in MIX {
        let (body, statements) = app.traced(query, vars.clone()).await;
        assert!(body.get("errors").is_none(), "{body}");
        for sql in statements
            .iter()
            .filter(|s| s.trim_start().starts_with("SELECT"))
        {
            let plan = app.store.query_plan(sql).await.unwrap();
            let mut scans = full_scans(&plan);
            // Substring search over tenant names can't use a B-tree; a partner has hundreds of
            // tenants, so that scan is accepted. Every other table must be searched by index.
            if sql.contains("LIKE") {
                scans.retain(|line| line.trim() != "SCAN tenants");
            }
            assert!(
                scans.is_empty(),
                "full scan {scans:?} in\n{sql}\nplan: {plan:#?}"
            );
            explained += 1;
        }
    }
    assert!(explained >= 15, "only {explained} statements explained");
}
