//! Reading tenants, users, SKUs and cost groups through GraphQL.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::{TestApp, backends, demo_data, first_error_code};

const ALL_USERS: &str = r#"query($id: ID!, $after: String, $first: Int, $order: UserOrder, $filter: UserFilterInput) {
  tenant(id: $id) { users(first: $first, after: $after, orderBy: $order, filter: $filter) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id displayName userPrincipalName } } } } }"#;

async fn walk_users(app: &TestApp, tenant: &str, first: i64, order: Value) -> (Vec<Value>, u64) {
    let mut after = Value::Null;
    let mut seen = Vec::new();
    loop {
        let data = app
            .data(
                ALL_USERS,
                json!({ "id": tenant, "after": after, "first": first, "order": order }),
            )
            .await;
        let users = &data["tenant"]["users"];
        let total = users["totalCount"].as_u64().unwrap();
        assert_eq!(users["pageInfo"]["hasPreviousPage"], !after.is_null());
        for edge in users["edges"].as_array().unwrap() {
            seen.push(edge["node"].clone());
        }
        if !users["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return (seen, total);
        }
        after = users["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn paging_through_users_returns_each_present_user_exactly_once_in_order() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (snapshot, _) = &demo_data()[0];
        let tenant = snapshot.tenant.id.to_string();
        let (users, total) = walk_users(&app, &tenant, 7, json!(null)).await;
        assert_eq!(total as usize, snapshot.users.len());
        assert_eq!(users.len(), snapshot.users.len(), "{backend:?}");
        let ids: HashSet<_> = users
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), users.len(), "no user twice");

        let (descending, _) = walk_users(
            &app,
            &tenant,
            50,
            json!({ "field": "DISPLAY_NAME", "direction": "DESC" }),
        )
        .await;
        let mut reversed = users.clone();
        reversed.reverse();
        assert_eq!(
            descending, reversed,
            "DESC is the exact reverse of ASC on {backend:?}"
        );

        let (by_upn, _) = walk_users(
            &app,
            &tenant,
            500,
            json!({ "field": "USER_PRINCIPAL_NAME" }),
        )
        .await;
        let upns: Vec<_> = by_upn
            .iter()
            .map(|u| u["userPrincipalName"].as_str().unwrap().to_owned())
            .collect();
        let mut sorted = upns.clone();
        sorted.sort();
        if backend == crate::support::Backend::Sqlite {
            // SQLite compares bytes; PostgreSQL uses the database's collation.
            assert_eq!(upns, sorted);
        }
        assert_eq!(by_upn.len(), users.len());
    }
}

#[tokio::test]
async fn tenants_list_pages_and_searches() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let q = r#"query($after: String, $search: String) { tenants(first: 3, after: $after, search: $search) {
            totalCount pageInfo { hasNextPage endCursor } edges { node { id name defaultDomain } } } }"#;
        let first = app.data(q, json!({})).await;
        assert_eq!(first["tenants"]["totalCount"], 4);
        assert_eq!(first["tenants"]["edges"].as_array().unwrap().len(), 3);
        assert_eq!(first["tenants"]["pageInfo"]["hasNextPage"], true);
        let rest = app
            .data(
                q,
                json!({ "after": first["tenants"]["pageInfo"]["endCursor"] }),
            )
            .await;
        assert_eq!(rest["tenants"]["edges"].as_array().unwrap().len(), 1);
        assert_eq!(rest["tenants"]["pageInfo"]["hasNextPage"], false);

        let found = app.data(q, json!({ "search": "CONTOSO" })).await;
        assert_eq!(found["tenants"]["totalCount"], 1);
        assert_eq!(
            found["tenants"]["edges"][0]["node"]["name"],
            "Contoso Retail GmbH"
        );
        let by_domain = app.data(q, json!({ "search": "fabrikameng" })).await;
        assert_eq!(
            by_domain["tenants"]["edges"][0]["node"]["name"],
            "Fabrikam Engineering Ltd"
        );
        let wildcard = app.data(q, json!({ "search": "%" })).await;
        assert_eq!(
            wildcard["tenants"]["totalCount"], 0,
            "LIKE wildcards are matched literally"
        );
    }
}

#[tokio::test]
async fn unknown_tenant_id_returns_null_and_malformed_id_is_bad_user_input() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let q = "query($id: ID!) { tenant(id: $id) { name } }";
        let unknown = app
            .data(q, json!({ "id": "00000000-0000-4000-8000-000000000000" }))
            .await;
        assert_eq!(unknown["tenant"], Value::Null);
        let malformed = app.post(q, json!({ "id": "contoso" })).await;
        assert_eq!(first_error_code(&malformed), "BAD_USER_INPUT");
        assert!(
            malformed["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("id: tenant id must be a GUID")
        );
    }
}

#[tokio::test]
async fn page_size_above_the_cap_negative_or_a_bad_cursor_is_bad_user_input() {
    let app = TestApp::demo(crate::support::Backend::Sqlite).await;
    let tenant = demo_data()[0].0.tenant.id.to_string();
    for (first, after) in [
        (json!(501), json!(null)),
        (json!(-1), json!(null)),
        (json!(5), json!("bm9wZQ")),
    ] {
        let body = app
            .post(
                ALL_USERS,
                json!({ "id": tenant, "first": first, "after": after }),
            )
            .await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    let body = app
        .post(ALL_USERS, json!({ "id": tenant, "first": 900 }))
        .await;
    assert_eq!(
        body["errors"][0]["message"],
        "first must be between 0 and 500, got 900"
    );

    // A cursor of the display-name order can't be used with the UPN order.
    let data = app
        .data(ALL_USERS, json!({ "id": tenant, "first": 2 }))
        .await;
    let cursor = data["tenant"]["users"]["pageInfo"]["endCursor"].clone();
    let body = app
        .post(
            ALL_USERS,
            json!({ "id": tenant, "after": cursor, "order": { "field": "USER_PRINCIPAL_NAME" } }),
        )
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn user_is_found_only_under_its_own_tenant() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let data = demo_data();
        let user = &data[0].0.users[3];
        let q = "query($t: ID!, $id: ID!) { user(tenantId: $t, id: $id) { id displayName tenant { name } } }";
        let found = app
            .data(
                q,
                json!({ "t": user.tenant_id.to_string(), "id": user.id.to_string() }),
            )
            .await;
        assert_eq!(found["user"]["displayName"], user.display_name.as_str());
        assert_eq!(
            found["user"]["tenant"]["name"],
            data[0].0.tenant.name.as_str()
        );
        let other = app
            .data(
                q,
                json!({ "t": data[1].0.tenant.id.to_string(), "id": user.id.to_string() }),
            )
            .await;
        assert_eq!(other["user"], Value::Null);
    }
}

#[tokio::test]
async fn user_exposes_every_stored_field_with_manager_reports_and_licenses() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let data = demo_data();
        let snapshot = &data[0].0;
        let user = snapshot
            .users
            .iter()
            .find(|u| u.manager_id.is_some() && u.extension_attributes[6].is_some())
            .unwrap();
        let manager = snapshot
            .users
            .iter()
            .find(|u| Some(u.id) == user.manager_id)
            .unwrap();
        let q = r#"query($t: ID!, $id: ID!) { user(tenantId: $t, id: $id) {
            displayName givenName surname userPrincipalName mail userType accountEnabled jobTitle department
            companyName officeLocation streetAddress city state postalCode country preferredLanguage usageLocation
            extensionAttributes { extensionAttribute1 extensionAttribute2 extensionAttribute7 extensionAttribute15 }
            manager { id displayName directReports(first: 500) { totalCount edges { node { id } } } }
            licenses { skuId disabledServicePlanIds subscription { skuPartNumber } } } }"#;
        let got = app
            .data(
                q,
                json!({ "t": user.tenant_id.to_string(), "id": user.id.to_string() }),
            )
            .await;
        let u = &got["user"];
        assert_eq!(u["city"], user.city.as_deref().unwrap());
        assert_eq!(u["postalCode"], user.postal_code.as_deref().unwrap());
        assert_eq!(u["usageLocation"], user.usage_location.as_deref().unwrap());
        assert_eq!(
            u["extensionAttributes"]["extensionAttribute1"],
            user.extension_attributes[0].as_deref().unwrap()
        );
        assert_eq!(
            u["extensionAttributes"]["extensionAttribute7"],
            user.extension_attributes[6].as_deref().unwrap()
        );
        assert_eq!(
            u["extensionAttributes"]["extensionAttribute15"],
            Value::Null
        );
        assert_eq!(u["manager"]["displayName"], manager.display_name.as_str());
        let reports = snapshot
            .users
            .iter()
            .filter(|r| r.manager_id == Some(manager.id))
            .count();
        assert_eq!(u["manager"]["directReports"]["totalCount"], reports);
        assert_eq!(
            u["manager"]["directReports"]["edges"]
                .as_array()
                .unwrap()
                .len(),
            reports
        );
        let licenses = snapshot
            .licenses
            .iter()
            .filter(|l| l.user_id == user.id)
            .count();
        assert_eq!(u["licenses"].as_array().unwrap().len(), licenses);
    }
}

#[tokio::test]
async fn user_filters_select_department_type_sku_and_search() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let data = demo_data();
        let snapshot = &data[0].0;
        let tenant = snapshot.tenant.id.to_string();
        let count = |filter: Value| {
            let app = &app;
            let tenant = tenant.clone();
            async move {
                let d = app
                    .data(
                        ALL_USERS,
                        json!({ "id": tenant, "first": 0, "filter": filter }),
                    )
                    .await;
                d["tenant"]["users"]["totalCount"].as_u64().unwrap() as usize
            }
        };
        let sales = snapshot
            .users
            .iter()
            .filter(|u| u.department.as_deref() == Some("Sales"))
            .count();
        assert_eq!(count(json!({ "department": "Sales" })).await, sales);
        let guests = snapshot
            .users
            .iter()
            .filter(|u| u.user_type.as_deref() == Some("Guest"))
            .count();
        assert!(guests > 0);
        assert_eq!(count(json!({ "userType": "Guest" })).await, guests);
        let sku = snapshot.subscriptions[0].sku_id;
        let holders = snapshot.licenses.iter().filter(|l| l.sku_id == sku).count();
        assert_eq!(count(json!({ "skuId": sku.to_string() })).await, holders);
        let name = &snapshot.users[5].display_name;
        let needle = name.split(' ').next_back().unwrap().to_uppercase();
        let expected = snapshot
            .users
            .iter()
            .filter(|u| {
                let n = needle.to_lowercase();
                u.display_name.to_lowercase().contains(&n)
                    || u.user_principal_name.to_lowercase().contains(&n)
                    || u.mail
                        .as_deref()
                        .is_some_and(|m| m.to_lowercase().contains(&n))
            })
            .count();
        if needle.is_ascii() {
            assert_eq!(
                count(json!({ "search": needle })).await,
                expected,
                "search {needle}"
            );
        }
        let bad = app
            .post(
                ALL_USERS,
                json!({ "id": tenant, "filter": { "skuId": "E3" } }),
            )
            .await;
        assert_eq!(first_error_code(&bad), "BAD_USER_INPUT");
        assert!(
            bad["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("filter.skuId")
        );
    }
}

#[tokio::test]
async fn subscriptions_report_purchased_assigned_and_negative_unassigned() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let data = demo_data();
        let snapshot = &data[1].0;
        let q = r#"query($id: ID!) { tenant(id: $id) {
            consumption { purchased assigned unassigned overAssignedSkus }
            subscriptions { id skuId skuPartNumber purchased enabled warning suspended lockedOut assigned
              unassigned overAssigned capabilityStatus servicePlans { name provisioningStatus }
              assignedUsers(first: 500) { totalCount edges { node { id } } } } } }"#;
        let got = app
            .data(q, json!({ "id": snapshot.tenant.id.to_string() }))
            .await;
        let subs = got["tenant"]["subscriptions"].as_array().unwrap();
        assert_eq!(subs.len(), snapshot.subscriptions.len());
        let over = subs
            .iter()
            .find(|s| s["overAssigned"] == true)
            .expect("one over-assigned SKU");
        assert!(over["unassigned"].as_i64().unwrap() < 0);
        for s in subs {
            assert_eq!(
                s["unassigned"].as_i64().unwrap(),
                s["purchased"].as_i64().unwrap() - s["assigned"].as_i64().unwrap()
            );
            assert_eq!(
                s["assignedUsers"]["totalCount"], s["assigned"],
                "consumed units match holders"
            );
            assert_eq!(
                s["assignedUsers"]["edges"].as_array().unwrap().len() as i64,
                s["assigned"].as_i64().unwrap()
            );
            assert_eq!(s["capabilityStatus"], "ENABLED");
            assert!(!s["servicePlans"].as_array().unwrap().is_empty());
        }
        let c = &got["tenant"]["consumption"];
        assert_eq!(c["overAssignedSkus"], 1);
        assert_eq!(
            c["purchased"].as_i64().unwrap() - c["assigned"].as_i64().unwrap(),
            c["unassigned"].as_i64().unwrap()
        );
    }
}

#[tokio::test]
async fn cost_groups_form_a_tree() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let data = demo_data();
        let (snapshot, groups) = &data[0];
        let q = r#"query($id: ID!) { tenant(id: $id) { costGroups { id name code parent { id } children { name parent { name } } } } }"#;
        let got = app
            .data(q, json!({ "id": snapshot.tenant.id.to_string() }))
            .await;
        let list = got["tenant"]["costGroups"].as_array().unwrap();
        assert_eq!(list.len(), groups.len());
        let root = list.iter().find(|g| g["parent"].is_null()).unwrap();
        assert_eq!(root["children"].as_array().unwrap().len(), groups.len() - 1);
        assert_eq!(root["children"][0]["parent"]["name"], root["name"]);
    }
}

#[tokio::test]
async fn a_page_of_plain_user_fields_answers_as_field_by_field_resolution_does() {
    // The selection a page's users are written from in one pass: the summary's fields, aliases,
    // `__typename`, the manager, the manager contact and the licenses with their SKU. (The demo
    // has no contact managers; `manager_contacts` reads them, one user at a time, the same way.)
    let plain = r#"
        __typename id tenantId name: displayName userPrincipalName mail userType accountEnabled
        jobTitle department managerId deletedAt
        manager { __typename id displayName userType }
        managerContact { __typename id displayName mail }
        licenses { __typename skuId disabledServicePlanIds
          subscription { __typename id tenantId skuId skuPartNumber } }"#;
    let page = |node: &str| {
        format!(
            r#"query($id: ID!) {{ tenant(id: $id) {{ users(first: 500) {{
                edges {{ node {{ {node} }} }} }} }} }}"#
        )
    };
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (snapshot, _) = &demo_data()[0];
        let variables = json!({ "id": snapshot.tenant.id.to_string() });
        let one_pass = app.post_text(&page(plain), variables.clone()).await;
        let parsed: Value = serde_json::from_str(&one_pass).unwrap();
        assert!(parsed.get("errors").is_none(), "{parsed:#}");
        let users = parsed["data"]["tenant"]["users"]["edges"]
            .as_array()
            .unwrap();
        assert_eq!(users.len(), snapshot.users.len(), "{backend:?}");
        for (what, node) in [("has a manager", "manager"), ("has licenses", "licenses")] {
            let found = users.iter().any(|u| {
                let v = &u["node"][node];
                !v.is_null() && v.as_array().is_none_or(|l| !l.is_empty())
            });
            assert!(found, "the demo tenant has a user that {what}");
        }
        // Each of these sends every user of the page down the field-by-field path: a directive,
        // a fragment, a key selected twice. The response must not change by a byte.
        for per_field in [
            plain.replacen("mail", "mail @include(if: true)", 1),
            format!("... on User {{ {plain} }}"),
            format!("{plain} id"),
        ] {
            let text = app.post_text(&page(&per_field), variables.clone()).await;
            assert_eq!(text, one_pass, "{backend:?}: {per_field}");
        }
    }
}
