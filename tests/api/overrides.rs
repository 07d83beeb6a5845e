//! Overrides through GraphQL, on every backend: pins and splits in `CostGroup.members` and the
//! users filter, validation, tenant boundaries, audit entries, and overrides kept across
//! re-imports and for users deleted upstream.

use crate::support::snapshot::{TenantSnapshot, replace_tenant};
use chrono::Utc;
use serde_json::{Value, json};
use tenantgraph::domain::{TenantId, TenantScope, UserId};
use tenantgraph::store::{allocation, audit};

use crate::support::{TestApp, backends, demo_data, first_error_code};

const SET: &str = r#"mutation($t: ID!, $u: ID!, $shares: [AllocationShareInput!]!) {
    setUserAllocation(tenantId: $t, userId: $u, shares: $shares) { id displayName } }"#;
const CLEAR: &str = r#"mutation($t: ID!, $u: ID!) {
    clearUserAllocation(tenantId: $t, userId: $u) { id } }"#;
const MEMBERS: &str = r#"query($t: ID!) { tenant(id: $t) { costGroups { id
    members(first: 500) { totalCount edges { node { user { id } percent source } } } } } }"#;
const FILTERED: &str = r#"query($t: ID!, $g: ID) { tenant(id: $t) {
    inGroup: users(first: 500, filter: { costGroupId: $g }) { totalCount edges { node { id } } }
    unallocated: users(first: 500, filter: { unallocated: true }) { totalCount edges { node { id } } }
    allocated: users(first: 500, filter: { unallocated: false }) { totalCount } } }"#;

/// The first demo tenant: its id, two of its users, three of its cost groups.
struct Demo {
    snapshot: TenantSnapshot,
    tenant: String,
    users: Vec<String>,
    groups: Vec<String>,
}

fn demo(index: usize) -> Demo {
    let (snapshot, groups) = demo_data().swap_remove(index);
    assert!(groups.len() >= 3, "demo tenant {index} has 3 cost groups");
    Demo {
        tenant: snapshot.tenant.id.to_string(),
        users: snapshot.users.iter().map(|u| u.id.to_string()).collect(),
        groups: groups.iter().map(|g| g.id.to_string()).collect(),
        snapshot,
    }
}

fn share(group: &str, percent: &str) -> Value {
    json!({ "costGroupId": group, "percent": percent })
}

/// Members of every group of `tenant`, as (group, user, percent, source), sorted.
async fn members(app: &TestApp, tenant: &str) -> Vec<(String, String, String, String)> {
    let data = app.data(MEMBERS, json!({ "t": tenant })).await;
    let mut out = Vec::new();
    for group in data["tenant"]["costGroups"].as_array().unwrap() {
        let edges = group["members"]["edges"].as_array().unwrap();
        assert_eq!(group["members"]["totalCount"], edges.len());
        for edge in edges {
            let node = &edge["node"];
            out.push((
                group["id"].as_str().unwrap().to_owned(),
                node["user"]["id"].as_str().unwrap().to_owned(),
                node["percent"].as_str().unwrap().to_owned(),
                node["source"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out.sort();
    out
}

/// Pins `user` of `tenant` to `group`; the mutation must succeed.
async fn pin(app: &TestApp, tenant: &str, user: &str, group: &str) {
    let vars = json!({ "t": tenant, "u": user, "shares": [share(group, "100")] });
    app.data(SET, vars).await;
}

/// Re-imports the demo tenant without `user`, which is soft-deleted.
async fn delete_upstream(app: &TestApp, d: &Demo, user: &str) -> UserId {
    let user: UserId = user.parse().unwrap();
    let mut snapshot = d.snapshot.clone();
    snapshot.users.retain(|u| u.id != user);
    snapshot.licenses.retain(|l| l.user_id != user);
    replace_tenant(&app.store, &snapshot, Utc::now())
        .await
        .unwrap();
    user
}

/// Users of `tenant` placed in a group by an override.
async fn overridden(app: &TestApp, tenant: &str) -> Vec<String> {
    let mut users: Vec<String> = members(app, tenant)
        .await
        .into_iter()
        .filter(|m| m.3 == "OVERRIDE")
        .map(|m| m.1)
        .collect();
    users.sort();
    users
}

fn ids(list: &Value) -> Vec<&str> {
    list["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect()
}

async fn audit_entries(app: &TestApp, tenant: &str) -> Vec<Entry> {
    let tenant: TenantId = tenant.parse().unwrap();
    audit::list_audit_entries(&app.store, &TenantScope::All, tenant, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| Entry {
            action: e.change.action,
            subject_id: e.change.subject_id,
            before: e.change.before,
            after: e.change.after,
        })
        .collect()
}

/// The parts of an audit entry these tests compare.
#[derive(Debug, PartialEq)]
struct Entry {
    action: String,
    subject_id: String,
    before: Option<Value>,
    after: Option<Value>,
}

#[tokio::test]
async fn a_pin_and_a_split_show_up_in_members_and_the_users_filter() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo(0);
        let (pinned, split) = (&d.users[0], &d.users[1]);
        let (a, b, c) = (&d.groups[0], &d.groups[1], &d.groups[2]);
        let before = app.data(FILTERED, json!({ "t": d.tenant, "g": a })).await;
        let unallocated_before = before["tenant"]["unallocated"]["totalCount"]
            .as_u64()
            .unwrap();

        let set = app
            .data(
                SET,
                json!({ "t": d.tenant, "u": pinned, "shares": [share(a, "100")] }),
            )
            .await;
        assert_eq!(set["setUserAllocation"]["id"], pinned.as_str());
        let shares = [share(a, "33.33"), share(b, "33.33"), share(c, "33.34")];
        app.data(SET, json!({ "t": d.tenant, "u": split, "shares": shares }))
            .await;

        let got: Vec<_> = members(&app, &d.tenant)
            .await
            .into_iter()
            .filter(|m| m.1 == *pinned || m.1 == *split)
            .collect();
        let mut expected = vec![
            (a.clone(), pinned.clone(), "100".into(), "OVERRIDE".into()),
            (a.clone(), split.clone(), "33.33".into(), "OVERRIDE".into()),
            (b.clone(), split.clone(), "33.33".into(), "OVERRIDE".into()),
            (c.clone(), split.clone(), "33.34".into(), "OVERRIDE".into()),
        ];
        expected.sort();
        assert_eq!(got, expected, "{backend:?}");

        let after = app.data(FILTERED, json!({ "t": d.tenant, "g": a })).await;
        let in_group = ids(&after["tenant"]["inGroup"]);
        assert!(in_group.contains(&pinned.as_str()) && in_group.contains(&split.as_str()));
        let in_b = app.data(FILTERED, json!({ "t": d.tenant, "g": b })).await;
        assert!(!ids(&in_b["tenant"]["inGroup"]).contains(&pinned.as_str()));
        let unallocated = ids(&after["tenant"]["unallocated"]);
        assert!(!unallocated.contains(&pinned.as_str()));
        assert_eq!(
            after["tenant"]["unallocated"]["totalCount"],
            unallocated_before - 2,
            "{backend:?}"
        );
        assert_eq!(
            after["tenant"]["allocated"]["totalCount"].as_u64().unwrap() + unallocated_before - 2,
            d.users.len() as u64
        );
    }
}

#[tokio::test]
async fn a_new_override_replaces_the_old_and_clearing_returns_the_user_to_unallocated() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo(0);
        let user = &d.users[2];
        let (a, b) = (&d.groups[0], &d.groups[1]);
        let vars = |shares: Value| json!({ "t": d.tenant, "u": user, "shares": shares });
        app.data(SET, vars(json!([share(a, "100")]))).await;
        app.data(SET, vars(json!([share(a, "25.5"), share(b, "74.50")])))
            .await;
        let mine: Vec<_> = members(&app, &d.tenant)
            .await
            .into_iter()
            .filter(|m| m.1 == *user)
            .map(|m| (m.0, m.2))
            .collect();
        let mut expected = vec![
            (a.clone(), "25.5".to_owned()),
            (b.clone(), "74.5".to_owned()),
        ];
        expected.sort();
        assert_eq!(mine, expected, "{backend:?}");

        let cleared = app.data(CLEAR, json!({ "t": d.tenant, "u": user })).await;
        assert_eq!(cleared["clearUserAllocation"]["id"], user.as_str());
        assert!(members(&app, &d.tenant).await.iter().all(|m| m.1 != *user));
        let filtered = app.data(FILTERED, json!({ "t": d.tenant, "g": a })).await;
        assert!(ids(&filtered["tenant"]["unallocated"]).contains(&user.as_str()));

        // Clearing again succeeds and records nothing.
        app.data(CLEAR, json!({ "t": d.tenant, "u": user })).await;
        let entries = audit_entries(&app, &d.tenant).await;
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "clearUserAllocation",
                "setUserAllocation",
                "setUserAllocation"
            ],
            "{backend:?}"
        );
        assert!(entries.iter().all(|e| e.subject_id == *user));
        let replaced = &entries[1];
        assert_eq!(
            replaced.before,
            Some(json!({ "shares": [{ "costGroupId": a, "percent": "100" }] }))
        );
        assert_eq!(
            replaced.after,
            Some(json!({ "shares": [
                { "costGroupId": a, "percent": "25.5" },
                { "costGroupId": b, "percent": "74.5" }] }))
        );
        assert_eq!(entries[0].before, replaced.after);
        assert_eq!(entries[0].after, None);
    }
}

#[tokio::test]
async fn invalid_shares_are_refused_naming_the_field_and_nothing_is_written() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo(0);
        let user = &d.users[3];
        let (a, b, c) = (&d.groups[0], &d.groups[1], &d.groups[2]);
        let before = members(&app, &d.tenant).await;
        let cases = [
            (
                json!([share(a, "33.33"), share(b, "33.33"), share(c, "33.33")]),
                "shares must sum to exactly 100, got 99.99",
            ),
            (
                json!([share(a, "50"), share(b, "0"), share(c, "50")]),
                "shares[1].percent must be greater than 0",
            ),
            (
                json!([share(a, "33.333"), share(b, "66.667")]),
                "shares[0].percent must have at most 2 decimal places",
            ),
            (
                json!([share(a, "50"), share(a, "50")]),
                "shares[1].costGroupId",
            ),
            (json!([]), "shares must not be empty"),
            (
                json!([share(a, "50"), share("nope", "50")]),
                "shares[1].costGroupId: cost group id must be a GUID",
            ),
        ];
        for (shares, message) in cases {
            let body = app
                .post(SET, json!({ "t": d.tenant, "u": user, "shares": shares }))
                .await;
            assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body:#}");
            let got = body["errors"][0]["message"].as_str().unwrap();
            assert!(got.contains(message), "{got:?} lacks {message:?}");
        }
        assert_eq!(members(&app, &d.tenant).await, before, "{backend:?}");
        assert!(audit_entries(&app, &d.tenant).await.is_empty());
    }
}

#[tokio::test]
async fn a_cost_group_or_user_of_another_tenant_is_not_found() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (d, other) = (demo(0), demo(1));
        let user = &d.users[4];
        let cases = [
            (
                json!({ "t": d.tenant, "u": user,
                    "shares": [share(&d.groups[0], "50"), share(&other.groups[0], "50")] }),
                "shares[1].costGroupId",
            ),
            (
                json!({ "t": d.tenant, "u": other.users[0],
                    "shares": [share(&d.groups[0], "100")] }),
                "userId",
            ),
            (
                json!({ "t": other.tenant, "u": user,
                    "shares": [share(&other.groups[0], "100")] }),
                "userId",
            ),
        ];
        for (vars, field) in cases {
            let body = app.post(SET, vars).await;
            assert_eq!(first_error_code(&body), "NOT_FOUND", "{body:#}");
            let got = body["errors"][0]["message"].as_str().unwrap();
            assert!(got.starts_with(field), "{got:?} should name {field}");
        }
        let body = app
            .post(CLEAR, json!({ "t": d.tenant, "u": other.users[0] }))
            .await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "{body:#}");
        assert!(audit_entries(&app, &d.tenant).await.is_empty());
        assert!(
            members(&app, &d.tenant)
                .await
                .iter()
                .all(|m| m.3 != "OVERRIDE")
        );
    }
}

#[tokio::test]
async fn overrides_survive_re_imports_and_are_kept_for_users_deleted_upstream() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo(0);
        let (kept, gone) = (&d.users[5], &d.users[6]);
        let group = &d.groups[0];
        for user in [kept, gone] {
            pin(&app, &d.tenant, user, group).await;
        }

        // A re-import without `gone`: it is soft-deleted, its override kept but no member.
        let gone_id = delete_upstream(&app, &d, gone).await;
        assert_eq!(
            overridden(&app, &d.tenant).await,
            std::slice::from_ref(kept),
            "{backend:?}"
        );
        let stored = allocation::list_allocations_of_users(&app.store, &[gone_id])
            .await
            .unwrap();
        assert_eq!(stored.len(), 1, "the override of {gone} is kept");
        assert!(stored[0].stale);
        assert_eq!(stored[0].shares[0].cost_group.to_string(), *group);

        // No new override for a deleted user.
        let body = app
            .post(
                SET,
                json!({ "t": d.tenant, "u": gone, "shares": [share(group, "100")] }),
            )
            .await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "{body:#}");

        // Back upstream: the kept override applies again.
        replace_tenant(&app.store, &d.snapshot, Utc::now())
            .await
            .unwrap();
        let mut expected = vec![kept.clone(), gone.clone()];
        expected.sort();
        assert_eq!(overridden(&app, &d.tenant).await, expected, "{backend:?}");
    }
}

#[tokio::test]
async fn the_override_of_a_deleted_user_can_be_cleared() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo(0);
        let gone = &d.users[7];
        pin(&app, &d.tenant, gone, &d.groups[0]).await;
        let gone_id = delete_upstream(&app, &d, gone).await;
        app.data(CLEAR, json!({ "t": d.tenant, "u": gone })).await;
        let stored = allocation::list_allocations_of_users(&app.store, &[gone_id])
            .await
            .unwrap();
        assert!(stored.is_empty(), "{backend:?}: {stored:?}");
    }
}

#[tokio::test]
async fn members_of_every_group_take_one_statement_for_pages_and_one_for_counts() {
    for backend in backends() {
        let app = TestApp::demo_uncached(backend).await;
        let d = demo(0);
        for (i, user) in d.users.iter().take(12).enumerate() {
            pin(&app, &d.tenant, user, &d.groups[i % 3]).await;
        }
        let q = r#"query($t: ID!) { tenant(id: $t) { costGroups {
            members(first: 2) { totalCount pageInfo { hasNextPage endCursor }
              edges { node { user { displayName } percent source } } } } } }"#;
        let (body, count) = app.counted(q, json!({ "t": d.tenant })).await;
        assert!(body.get("errors").is_none(), "{body}");
        let groups = body["data"]["tenant"]["costGroups"].as_array().unwrap();
        let full: Vec<&Value> = groups
            .iter()
            .filter(|g| g["members"]["totalCount"] == 4)
            .collect();
        assert_eq!(full.len(), 3, "{body:#}");
        for g in &full {
            assert_eq!(g["members"]["edges"].as_array().unwrap().len(), 2);
            assert_eq!(g["members"]["pageInfo"]["hasNextPage"], true);
        }
        // tenant, cost groups, member pages (one windowed statement), member counts
        assert_eq!(count, 4, "{backend:?}");

        // The next page of one group follows the cursor, by user id.
        let q = r#"query($t: ID!, $after: String) { tenant(id: $t) { costGroups { id
            members(first: 3, after: $after) { pageInfo { hasNextPage endCursor }
              edges { node { user { id } } } } } } }"#;
        let page = |body: &Value| -> (Vec<String>, Value, bool) {
            let group = body["tenant"]["costGroups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["id"] == d.groups[0].as_str())
                .unwrap()
                .clone();
            let members = &group["members"];
            (
                members["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["node"]["user"]["id"].as_str().unwrap().to_owned())
                    .collect(),
                members["pageInfo"]["endCursor"].clone(),
                members["pageInfo"]["hasNextPage"].as_bool().unwrap(),
            )
        };
        let first = app.data(q, json!({ "t": d.tenant })).await;
        let (head, cursor, more) = page(&first);
        assert!(more);
        let second = app.data(q, json!({ "t": d.tenant, "after": cursor })).await;
        let (tail, _, more) = page(&second);
        assert!(!more);
        let all: Vec<String> = head.into_iter().chain(tail).collect();
        let mut expected: Vec<String> = d.users.iter().take(12).step_by(3).cloned().collect();
        expected.sort();
        assert_eq!(all, expected, "pages in user id order on {backend:?}");
    }
}

#[tokio::test]
async fn an_override_wins_over_a_matching_rule_until_cleared() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo(0);
        let user = d
            .snapshot
            .users
            .iter()
            .find(|u| u.department.is_some())
            .unwrap();
        let (id, department) = (user.id.to_string(), user.department.clone().unwrap());
        let (a, b) = (&d.groups[0], &d.groups[1]);
        let rule = r#"mutation($input: CreateAllocationRuleInput!) {
            createAllocationRule(input: $input) { id } }"#;
        let condition = json!({ "attribute": "DEPARTMENT", "operator": "EQUALS",
            "values": [department] });
        let input = json!({ "tenantId": d.tenant, "costGroupId": b, "conditions": [condition] });
        app.data(rule, json!({ "input": input })).await;
        let placed = |members: Vec<(String, String, String, String)>| -> Vec<(String, String)> {
            members
                .into_iter()
                .filter(|m| m.1 == id)
                .map(|m| (m.0, m.3))
                .collect()
        };
        let by_rule = vec![(b.clone(), "RULE".to_owned())];
        assert_eq!(
            placed(members(&app, &d.tenant).await),
            by_rule,
            "{backend:?}"
        );

        pin(&app, &d.tenant, &id, a).await;
        assert_eq!(
            placed(members(&app, &d.tenant).await),
            [(a.clone(), "OVERRIDE".to_owned())],
            "{backend:?}"
        );
        let q =
            r#"query($t: ID!, $u: ID!) { user(tenantId: $t, id: $u) { allocation { source } } }"#;
        let got = app.data(q, json!({ "t": d.tenant, "u": id })).await;
        assert_eq!(got["user"]["allocation"]["source"], "OVERRIDE");

        app.data(CLEAR, json!({ "t": d.tenant, "u": id })).await;
        assert_eq!(
            placed(members(&app, &d.tenant).await),
            by_rule,
            "{backend:?}"
        );
    }
}
