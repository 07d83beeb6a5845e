//! Reads kept across query operations (`TENANTGRAPH_GRAPHQL_READ_CACHE_MB`): a repeated page is
//! answered after one statement, and any commit, by this server or another process, is seen by
//! the next operation.

use chrono::Utc;
use serde_json::{Value, json};
use tenantgraph::config::store::StoreSettings;
use tenantgraph::store::Store;

use crate::statements::big_tenant;
use crate::support::snapshot::replace_tenant;
use crate::support::{TestApp, backends};

const PAGE: &str = r#"query($id: ID!) { tenant(id: $id) { name userCount
    subscriptions { skuPartNumber assigned holders: unassigned }
    users(first: 20) { totalCount edges { node { id displayName department manager { displayName }
      licenses { subscription { skuPartNumber } } allocation { source } } } } } }"#;

fn first_user(body: &Value) -> &Value {
    &body["data"]["tenant"]["users"]["edges"][0]["node"]
}

/// The fewest statements `PAGE` takes when asked again and again, up to 10 s, each answer equal
/// to `expected`. On PostgreSQL the data version is the cluster's snapshot, which any write in
/// any database of it moves, and other tests write beside this one: a repeated page is kept
/// only between two of their transactions. SQLite's version is its own file's.
async fn fewest_statements_repeated(app: &TestApp, vars: &Value, expected: &Value) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut fewest = u64::MAX;
    while fewest > 1 && std::time::Instant::now() < deadline {
        let (again, count) = app.counted(PAGE, vars.clone()).await;
        assert_eq!(&again, expected);
        fewest = fewest.min(count);
    }
    fewest
}

#[tokio::test]
async fn a_repeated_page_costs_one_statement_and_another_process_s_import_is_seen_at_once() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let mut snapshot = big_tenant(50);
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let vars = json!({ "id": snapshot.tenant.id.to_string() });

        let (first, first_count) = app.counted(PAGE, vars.clone()).await;
        assert!(first.get("errors").is_none(), "{first}");
        assert_eq!(first_user(&first)["displayName"], "User 00000");
        // The data version alone: the tenant, its counts and the page with what it read ahead
        // are kept.
        assert_eq!(
            fewest_statements_repeated(&app, &vars, &first).await,
            1,
            "{backend:?}"
        );
        assert!(first_count >= 5, "{backend:?}: {first_count}");

        // Another pool on the same database, as another process would commit an import.
        let other = Store::connect(&StoreSettings::for_url(app.store.url()), None)
            .await
            .unwrap();
        snapshot.users[0].display_name = "Aaron Renamed".into();
        snapshot.users[0].department = Some("Legal".into());
        let mut added = snapshot.users[1].clone();
        added.id = tenantgraph::domain::UserId(uuid::Uuid::new_v4());
        added.display_name = "Zoe Added".into();
        added.user_principal_name = "zoe.added@big.example".into();
        snapshot.users.push(added);
        replace_tenant(&other, &snapshot, Utc::now()).await.unwrap();
        other.close().await.unwrap();

        let (after, after_count) = app.counted(PAGE, vars.clone()).await;
        let user = first_user(&after);
        assert_eq!(user["displayName"], "Aaron Renamed", "{backend:?}: {after}");
        assert_eq!(user["department"], "Legal");
        let tenant = &after["data"]["tenant"];
        assert_eq!(tenant["userCount"], 51, "{backend:?}: {after}");
        assert_eq!(tenant["users"]["totalCount"], 51);
        assert_eq!(after_count, first_count, "{backend:?}");
        assert_eq!(
            fewest_statements_repeated(&app, &vars, &after).await,
            1,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_mutation_is_seen_by_the_next_query_and_never_answers_from_kept_reads() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let snapshot = big_tenant(30);
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let tenant = snapshot.tenant.id.to_string();
        let vars = json!({ "id": tenant });
        let before = app.post(PAGE, vars.clone()).await;
        assert_eq!(first_user(&before)["allocation"]["source"], "UNALLOCATED");
        let user = first_user(&before)["id"].as_str().unwrap().to_owned();

        let created = app
            .post(
                r#"mutation($t: ID!) { createCostGroup(input: { tenantId: $t, name: "Legal" }) { id } }"#,
                json!({ "t": tenant }),
            )
            .await;
        let group = created["data"]["createCostGroup"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"));
        // The mutation's own answer reads what it wrote, though the page was kept before it.
        let set = app
            .post(
                r#"mutation($t: ID!, $u: ID!, $g: ID!) {
                    setUserAllocation(tenantId: $t, userId: $u, shares: [{ costGroupId: $g, percent: "100" }]) {
                      allocation { source } tenant { users(first: 20) { edges { node { allocation { source } } } } } } }"#,
                json!({ "t": tenant, "u": user, "g": group }),
            )
            .await;
        assert!(set.get("errors").is_none(), "{set}");
        let answered = &set["data"]["setUserAllocation"];
        assert_eq!(answered["allocation"]["source"], "OVERRIDE");
        assert_eq!(
            answered["tenant"]["users"]["edges"][0]["node"]["allocation"]["source"], "OVERRIDE",
            "{backend:?}: {set}"
        );

        let after = app.post(PAGE, vars).await;
        assert_eq!(
            first_user(&after)["allocation"]["source"],
            "OVERRIDE",
            "{backend:?}: {after}"
        );
    }
}

#[tokio::test]
async fn with_the_cache_off_every_page_reads_its_statements_again() {
    for backend in backends() {
        let app = TestApp::uncached(backend).await;
        let snapshot = big_tenant(20);
        replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let vars = json!({ "id": snapshot.tenant.id.to_string() });
        let (first, first_count) = app.counted(PAGE, vars.clone()).await;
        let (again, again_count) = app.counted(PAGE, vars).await;
        assert_eq!(again, first);
        assert_eq!(again_count, first_count, "{backend:?}");
        assert!(first_count >= 4, "{backend:?}: {first_count}");
    }
}
