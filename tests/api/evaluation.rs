//! Whole-tenant evaluations read, evaluate and write a tenant's users a chunk (5,000 users) at a
//! time, so that their memory does not grow with the tenant: a tenant spanning three chunks is
//! stored, tallied and previewed exactly as one in-memory evaluation of all of it.

use std::collections::{HashMap, HashSet};

use crate::support::snapshot::replace_tenant;
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tenantgraph::domain::allocation::{
    AllocationInput, AllocationSource, CompiledRule, Override, Share, UserAllocation, evaluate,
    tally,
};
use tenantgraph::domain::{AssignedLicense, CostGroupId, TenantScope, UserId};
use tenantgraph::store::allocation;

use crate::statements::big_tenant;
use crate::support::{TestApp, backends};

const CREATE_GROUP: &str = r#"mutation($t: ID!, $n: String!) {
    createCostGroup(input: {tenantId: $t, name: $n}) { id } }"#;
const CREATE_RULE: &str = r#"mutation($t: ID!, $g: ID!, $c: [AllocationConditionInput!]!) {
    createAllocationRule(input: {tenantId: $t, costGroupId: $g, conditions: $c}) { id } }"#;
const SET_ALLOCATION: &str = r#"mutation($t: ID!, $u: ID!, $s: [AllocationShareInput!]!) {
    setUserAllocation(tenantId: $t, userId: $u, shares: $s) { id } }"#;

/// Where each placed user is, and why: (source, shares by group).
fn placements(
    allocations: &[UserAllocation],
) -> HashMap<UserId, (AllocationSource, Vec<(CostGroupId, Decimal)>)> {
    allocations
        .iter()
        .filter(|a| !a.stale && a.source != AllocationSource::Unallocated)
        .map(|a| (a.user_id, (a.source, a.placement())))
        .collect()
}

fn condition(attribute: &str, operator: &str, value: String) -> Value {
    json!([{ "attribute": attribute, "operator": operator, "values": [value] }])
}

#[tokio::test]
async fn a_tenant_of_three_evaluation_chunks_is_allocated_as_one_evaluation_of_all_of_it() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let mut snapshot = big_tenant(12_001);
        // Runs of three equal display names, so that chunk boundaries (display name, then id)
        // fall inside them.
        for (i, user) in snapshot.users.iter_mut().enumerate() {
            user.display_name = format!("User {:05}", i / 3);
        }
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        // Every 101st user then leaves: soft-deleted by the next snapshot, which lacks them.
        let now = Utc::now();
        let mut users = snapshot.users.clone();
        for (i, user) in users.iter_mut().enumerate() {
            if i % 101 == 50 {
                user.deleted_at = Some(now);
            }
        }
        let present: HashSet<UserId> = users
            .iter()
            .filter(|u| u.deleted_at.is_none())
            .map(|u| u.id)
            .collect();
        snapshot.users.retain(|u| present.contains(&u.id));
        snapshot.licenses.retain(|l| present.contains(&l.user_id));
        let counts = replace_tenant(&app.store, &snapshot, now).await.unwrap();
        assert_eq!(counts.users_removed, 119);
        let tenant_id = snapshot.tenant.id;
        let t = tenant_id.to_string();

        let mut groups = Vec::new();
        for name in ["Sales", "Team of the fourth manager", "E5 holders"] {
            let data = app.data(CREATE_GROUP, json!({ "t": t, "n": name })).await;
            groups.push(data["createCostGroup"]["id"].as_str().unwrap().to_owned());
        }
        let manager = snapshot.users[3].id.to_string();
        let e5 = snapshot.subscriptions[1].sku_id.to_string();
        for (group, conditions) in [
            (
                &groups[0],
                condition("DEPARTMENT", "EQUALS", "Sales".into()),
            ),
            (&groups[1], condition("REPORTS_TO", "EQUALS", manager)),
            (&groups[2], condition("HAS_LICENSE_OF_SKU", "EQUALS", e5)),
        ] {
            app.data(CREATE_RULE, json!({ "t": t, "g": group, "c": conditions }))
                .await;
        }
        let group_ids: Vec<CostGroupId> = groups.iter().map(|g| g.parse().unwrap()).collect();
        let pinned = [snapshot.users[7].id, snapshot.users[9_998].id];
        app.data(
            SET_ALLOCATION,
            json!({ "t": t, "u": pinned[0].to_string(),
                "s": [{ "costGroupId": groups[2], "percent": "100" }] }),
        )
        .await;
        app.data(
            SET_ALLOCATION,
            json!({ "t": t, "u": pinned[1].to_string(), "s": [
                { "costGroupId": groups[0], "percent": "25" },
                { "costGroupId": groups[1], "percent": "75" }] }),
        )
        .await;

        // Each mutation above evaluated the tenant; another evaluation changes nothing.
        let again = allocation::evaluate_tenant(&app.store, tenant_id)
            .await
            .unwrap();
        assert_eq!(again.users, present.len(), "{backend:?}");
        assert_eq!(again.users_changed, 0, "{backend:?}");

        let rules: Vec<CompiledRule> = allocation::list_rules_of_tenants(&app.store, &[tenant_id])
            .await
            .unwrap()
            .iter()
            .map(|entry| entry.rule.compile().unwrap())
            .collect();
        assert_eq!(rules.len(), 3);
        let overrides = vec![
            Override::new(pinned[0], vec![Share::whole(group_ids[2])]).unwrap(),
            Override::new(
                pinned[1],
                vec![
                    Share {
                        cost_group: group_ids[0],
                        percent: Decimal::from(25),
                    },
                    Share {
                        cost_group: group_ids[1],
                        percent: Decimal::from(75),
                    },
                ],
            )
            .unwrap(),
        ];
        let licenses: Vec<AssignedLicense> = snapshot.licenses.clone();
        let expected = evaluate(&AllocationInput {
            users: &users,
            licenses: &licenses,
            rules: &rules,
            overrides: &overrides,
            cost_groups: &group_ids,
        });
        let expected_places = placements(&expected);
        for group in &group_ids {
            let members = expected_places
                .values()
                .filter(|(_, shares)| shares.iter().any(|(g, _)| g == group))
                .count();
            assert!(members > 100, "the case places many users in every group");
        }

        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        let stored = allocation::list_allocations_of_users(&app.store, &ids)
            .await
            .unwrap();
        assert_eq!(placements(&stored), expected_places, "{backend:?}");

        let inputs = allocation::list_report_inputs(&app.store, &TenantScope::All, &[tenant_id])
            .await
            .unwrap()
            .remove(&tenant_id)
            .unwrap();
        assert_eq!(inputs.tally, tally(&expected, &licenses), "{backend:?}");

        let preview =
            allocation::preview_allocation(&app.store, &TenantScope::All, tenant_id, &rules)
                .await
                .unwrap()
                .unwrap();
        assert!(preview.changes.is_empty(), "{backend:?}");
        assert_eq!(preview.inputs.tally, inputs.tally, "{backend:?}");
    }
}

/// The stored allocation of `tenant`: its rows (user, group, percent, source, rule) in order,
/// and its tally with decimals normalised and splits sorted.
async fn stored_allocation(
    app: &TestApp,
    tenant: tenantgraph::domain::TenantId,
) -> (Vec<(uuid::Uuid, uuid::Uuid, Decimal, String)>, Value) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use tenantgraph::store::entities::{allocation_evaluation, user_allocation};
    let db = crate::importer::store_db(&app.store).await;
    let mut rows: Vec<_> = user_allocation::Entity::find()
        .filter(user_allocation::Column::TenantId.eq(tenant.uuid()))
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let percent: Decimal = r.percent.parse().unwrap();
            (r.user_id, r.cost_group_id, percent.normalize(), r.source)
        })
        .collect();
    rows.sort();
    let mut tally = allocation_evaluation::Entity::find_by_id(tenant.uuid())
        .one(&db)
        .await
        .unwrap()
        .expect("the tenant was evaluated")
        .tally;
    for cell in tally["cells"].as_array_mut().unwrap() {
        let licenses: Decimal = cell["licenses"].as_str().unwrap().parse().unwrap();
        cell["licenses"] = json!(licenses.normalize().to_string());
    }
    let splits = tally["splits"].as_array_mut().unwrap();
    splits.sort_by_key(|s| s.to_string());
    (rows, tally)
}

#[tokio::test]
async fn imports_keep_the_allocation_that_a_whole_evaluation_gives() {
    use crate::importer::{importer_for, importer_large_from, simulator};
    use tenantgraph::domain::{ImportTrigger, RunStatus, TenantId};
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 300).await;
        let tenant = TenantId(sim.tenant_ids()[0]);
        let t = tenant.to_string();
        let listing = importer_for(&app.store, &sim).await;
        let delta = importer_large_from(&app.store, &sim, 1).await;
        let first = Utc::now().date_naive() - chrono::Duration::days(10);
        let summary = listing
            .run_all_as_of(ImportTrigger::Cli, None, None, Some(first))
            .await
            .unwrap();
        assert_eq!(summary.runs[0].status, RunStatus::Succeeded);

        // A cost group and rule per department but the first, a rule on the first user's
        // first SKU, and a split override.
        let users = app
            .data(
                "query($t: ID!) { tenant(id: $t) { users(first: 500) { nodes { id department \
                 licenses { skuId } } } } }",
                json!({ "t": t }),
            )
            .await["tenant"]["users"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        let mut departments: Vec<&str> = users
            .iter()
            .filter_map(|u| u["department"].as_str())
            .collect();
        departments.sort_unstable();
        departments.dedup();
        assert!(departments.len() > 3, "{departments:?}");
        let mut groups = Vec::new();
        for d in &departments[1..] {
            let g =
                app.data(CREATE_GROUP, json!({ "t": t, "n": d })).await["createCostGroup"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            app.data(
                CREATE_RULE,
                json!({ "t": t, "g": g, "c": condition("DEPARTMENT", "EQUALS", d.to_string()) }),
            )
            .await;
            groups.push(g);
        }
        let licensed = users
            .iter()
            .find(|u| !u["licenses"].as_array().unwrap().is_empty())
            .unwrap();
        let sku = licensed["licenses"][0]["skuId"]
            .as_str()
            .unwrap()
            .to_owned();
        app.data(
            CREATE_RULE,
            json!({ "t": t, "g": groups[0], "c": condition("HAS_LICENSE_OF_SKU", "EQUALS", sku) }),
        )
        .await;
        app.data(
            SET_ALLOCATION,
            json!({ "t": t, "u": users[5]["id"], "s": [
                { "costGroupId": groups[1], "percent": "33.33" },
                { "costGroupId": groups[2], "percent": "66.67" }] }),
        )
        .await;

        // Three imports listing the tenant in full, then three through delta rounds, each a few
        // simulated days later: users come, go, move and change licenses.
        let mut changed = 0;
        for step in 1..=6u32 {
            sim.set_day(step * 3);
            let importer = if step <= 3 { &listing } else { &delta };
            let on = first + chrono::Duration::days(i64::from(step));
            let run = importer
                .run_all_as_of(ImportTrigger::Cli, None, None, Some(on))
                .await
                .unwrap()
                .runs
                .remove(0);
            assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
            let c = run.counts;
            assert!(c.users_updated > 0, "step {step}: {c:?}");
            changed += c.users_added + c.users_removed + c.users_updated;
            let kept = stored_allocation(&app, tenant).await;
            let again = allocation::evaluate_tenant(&app.store, tenant)
                .await
                .unwrap();
            assert_eq!(again.users_changed, 0, "{backend:?} step {step}");
            assert_eq!(
                stored_allocation(&app, tenant).await,
                kept,
                "{backend:?} step {step}"
            );
        }
        assert!(changed > 30, "{changed}");
    }
}
