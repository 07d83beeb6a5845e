//! Allocation rules through GraphQL, on every backend: writes, the allocation they produce,
//! refusals that write nothing, the audit log, and statements per request.

use serde_json::{Value, json};
use tenantgraph::domain::{CostGroup, TenantId, TenantScope, User};
use tenantgraph::store::audit::list_audit_entries;

use crate::support::{TestApp, backends, demo_data, first_error_code};

const RULE_FIELDS: &str = "id tenantId priority enabled costGroup { id name } \
    conditions { attribute operator values caseSensitive }";

fn create_query() -> String {
    format!(
        "mutation($input: CreateAllocationRuleInput!) {{ createAllocationRule(input: $input) \
         {{ {RULE_FIELDS} }} }}"
    )
}

fn update_query() -> String {
    format!(
        "mutation($id: ID!, $input: UpdateAllocationRuleInput!) {{ \
         updateAllocationRule(id: $id, input: $input) {{ {RULE_FIELDS} }} }}"
    )
}

const DELETE: &str = "mutation($id: ID!) { deleteAllocationRule(id: $id) }";
const REORDER: &str = "mutation($tenant: ID!, $ids: [ID!]!) { \
    reorderAllocationRules(tenantId: $tenant, ruleIds: $ids) { id priority } }";
const STATE: &str = r#"query($id: ID!) { tenant(id: $id) {
    allocationRules { id priority enabled costGroup { id } conditions { attribute operator values caseSensitive } }
    costGroups { id rules { id } }
    users(first: 500) { nodes { id allocation { source rule { id } stale
        shares { percent costGroup { id } } } } } } }"#;

/// The first two demo tenants: ids, cost groups and users.
struct Demo {
    tenant: String,
    groups: Vec<CostGroup>,
    users: Vec<User>,
    other_tenant: String,
    other_groups: Vec<CostGroup>,
}

fn demo() -> Demo {
    let data = demo_data();
    Demo {
        tenant: data[0].0.tenant.id.to_string(),
        groups: data[0].1.clone(),
        users: data[0].0.users.clone(),
        other_tenant: data[1].0.tenant.id.to_string(),
        other_groups: data[1].1.clone(),
    }
}

impl Demo {
    fn group(&self, name: &str) -> String {
        self.groups
            .iter()
            .find(|g| g.name == name)
            .unwrap()
            .id
            .to_string()
    }

    /// Ids of the present users matching `test`.
    fn users_where(&self, test: impl Fn(&User) -> bool) -> Vec<String> {
        self.users
            .iter()
            .filter(|u| u.deleted_at.is_none() && test(u))
            .map(|u| u.id.to_string())
            .collect()
    }
}

fn condition(attribute: &str, operator: &str, values: &[&str]) -> Value {
    json!({ "attribute": attribute, "operator": operator, "values": values })
}

/// Creates a rule and returns it; the mutation must succeed.
async fn create(app: &TestApp, tenant: &str, group: &str, conditions: Value) -> Value {
    let input = json!({ "tenantId": tenant, "costGroupId": group, "conditions": conditions });
    app.data(&create_query(), json!({ "input": input })).await["createAllocationRule"].clone()
}

/// Rules, cost groups' rules and every user's allocation of `tenant`, as the API returns them.
async fn state(app: &TestApp, tenant: &str) -> Value {
    app.data(STATE, json!({ "id": tenant })).await["tenant"].clone()
}

/// The allocation of each user in `state`, by user id.
fn allocations(state: &Value) -> std::collections::HashMap<String, Value> {
    state["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                u["allocation"].clone(),
            )
        })
        .collect()
}

/// Asserts that exactly `users` are placed in `group` by `rule`, and everyone else is not
/// placed by any rule.
fn assert_placed(state: &Value, users: &[String], rule: &str, group: &str) {
    let allocations = allocations(state);
    for user in users {
        let a = &allocations[user];
        assert_eq!(a["source"], "RULE", "{user}: {a}");
        assert_eq!(a["rule"]["id"], rule, "{user}: {a}");
        assert_eq!(a["stale"], false);
        assert_eq!(
            a["shares"],
            json!([{ "percent": "100", "costGroup": { "id": group } }]),
            "{user}"
        );
    }
    let placed = allocations
        .values()
        .filter(|a| a["rule"]["id"] == rule)
        .count();
    assert_eq!(placed, users.len());
}

fn assert_unallocated(state: &Value, users: &[String]) {
    let allocations = allocations(state);
    for user in users {
        assert_eq!(
            allocations[user],
            json!({ "source": "UNALLOCATED", "rule": null, "stale": false, "shares": [] }),
            "{user}"
        );
    }
}

/// The audit log of `tenant`, oldest first: (action, subject id).
async fn audit(app: &TestApp, tenant: &str) -> Vec<(String, String, Value, Value)> {
    let tenant: TenantId = tenant.parse().unwrap();
    let mut entries = list_audit_entries(&app.store, &TenantScope::All, tenant, None, 1000)
        .await
        .unwrap();
    entries.reverse();
    entries
        .into_iter()
        .map(|e| {
            (
                e.change.action,
                e.change.subject_id,
                e.change.before.unwrap_or(Value::Null),
                e.change.after.unwrap_or(Value::Null),
            )
        })
        .collect()
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn a_created_rule_places_matching_users_and_reads_back() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let sales = d.group("Sales");
        let rule = create(
            &app,
            &d.tenant,
            &sales,
            json!([condition("DEPARTMENT", "EQUALS", &["sALES"])]),
        )
        .await;
        assert_eq!(rule["tenantId"], d.tenant.as_str());
        assert_eq!(rule["priority"], 0);
        assert_eq!(rule["enabled"], true);
        assert_eq!(rule["costGroup"]["name"], "Sales");
        assert_eq!(
            rule["conditions"],
            json!([{ "attribute": "DEPARTMENT", "operator": "EQUALS", "values": ["sALES"],
                "caseSensitive": false }])
        );
        let id = rule["id"].as_str().unwrap();

        let placed = state(&app, &d.tenant).await;
        assert_eq!(placed["allocationRules"][0]["id"], id);
        let group_rules = placed["costGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == sales.as_str())
            .unwrap();
        assert_eq!(group_rules["rules"], json!([{ "id": id }]));
        let in_sales = d.users_where(|u| u.department.as_deref() == Some("Sales"));
        assert!(!in_sales.is_empty());
        assert_placed(&placed, &in_sales, id, &sales);
        assert_unallocated(
            &placed,
            &d.users_where(|u| u.department.as_deref() != Some("Sales")),
        );

        // Omitted values, caseSensitive and enabled take their defaults; the rule goes last.
        let input = json!({ "tenantId": d.tenant, "costGroupId": d.groups[0].id.to_string(),
            "conditions": [{ "attribute": "JOB_TITLE", "operator": "IS_EMPTY" }] });
        let untitled =
            app.data(&create_query(), json!({ "input": input })).await["createAllocationRule"]
                .clone();
        assert_eq!(untitled["priority"], 1);
        assert_eq!(untitled["enabled"], true);
        assert_eq!(untitled["conditions"][0]["values"], json!([]));
        assert_eq!(untitled["conditions"][0]["caseSensitive"], false);
        let guests = d.users_where(|u| u.job_title.is_none());
        assert!(!guests.is_empty());
        assert_placed(
            &state(&app, &d.tenant).await,
            &guests,
            untitled["id"].as_str().unwrap(),
            &d.groups[0].id.to_string(),
        );

        let log = audit(&app, &d.tenant).await;
        assert_eq!(log.len(), 2, "{log:?}");
        assert_eq!(log[0].0, "createAllocationRule");
        assert_eq!(log[0].1, id);
        assert_eq!(log[0].2, Value::Null);
        assert_eq!(log[0].3["costGroupId"], sales.as_str());
        assert_eq!(log[0].3["conditions"][0]["values"], json!(["sALES"]));
    }
}

#[tokio::test]
async fn the_first_matching_rule_wins_and_reordering_changes_the_winner() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let (all, sales) = (d.groups[0].id.to_string(), d.group("Sales"));
        let swiss = create(
            &app,
            &d.tenant,
            &all,
            json!([condition("COUNTRY", "IN", &["CH", "LI"])]),
        )
        .await;
        let selling = create(
            &app,
            &d.tenant,
            &sales,
            json!([condition("DEPARTMENT", "EQUALS", &["Sales"])]),
        )
        .await;
        assert_eq!(selling["priority"], 1);
        let (swiss, selling) = (
            swiss["id"].as_str().unwrap(),
            selling["id"].as_str().unwrap(),
        );
        let is_swiss = |u: &User| u.country.as_deref() == Some("CH");
        let is_sales = |u: &User| u.department.as_deref() == Some("Sales");
        let swiss_sales = d.users_where(|u| is_swiss(u) && is_sales(u));
        assert!(!swiss_sales.is_empty());

        let before = state(&app, &d.tenant).await;
        assert_placed(&before, &d.users_where(is_swiss), swiss, &all);
        assert_placed(
            &before,
            &d.users_where(|u| !is_swiss(u) && is_sales(u)),
            selling,
            &sales,
        );

        let body = app
            .data(
                REORDER,
                json!({ "tenant": d.tenant, "ids": [selling, swiss] }),
            )
            .await;
        assert_eq!(
            body["reorderAllocationRules"],
            json!([{ "id": selling, "priority": 0 }, { "id": swiss, "priority": 1 }])
        );
        let after = state(&app, &d.tenant).await;
        let rules: Vec<&Value> = after["allocationRules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["id"])
            .collect();
        assert_eq!(rules, [selling, swiss]);
        assert_placed(&after, &d.users_where(is_sales), selling, &sales);
        assert_placed(
            &after,
            &d.users_where(|u| is_swiss(u) && !is_sales(u)),
            swiss,
            &all,
        );

        let log = audit(&app, &d.tenant).await;
        assert_eq!(log.len(), 3, "{log:?}");
        assert_eq!(log[2].0, "reorderAllocationRules");
        assert_eq!(log[2].1, d.tenant);
        assert_eq!(log[2].2[0]["id"], swiss);
        assert_eq!(log[2].3[0]["id"], selling);
        assert_eq!(log[2].3[0]["priority"], 0);
    }
}

#[tokio::test]
async fn disabled_rules_do_not_match_and_updates_and_deletes_reevaluate() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let (sales, finance) = (d.group("Sales"), d.group("Finance"));
        let in_sales = d.users_where(|u| u.department.as_deref() == Some("Sales"));
        let in_finance = d.users_where(|u| u.department.as_deref() == Some("Finance"));
        let input = json!({ "tenantId": d.tenant, "costGroupId": sales, "enabled": false,
            "conditions": [condition("DEPARTMENT", "EQUALS", &["Sales"])] });
        let rule =
            app.data(&create_query(), json!({ "input": input })).await["createAllocationRule"]
                .clone();
        assert_eq!(rule["enabled"], false);
        let id = rule["id"].as_str().unwrap();
        assert_unallocated(&state(&app, &d.tenant).await, &in_sales);

        let update = |input: Value| {
            let app = &app;
            async move {
                app.data(&update_query(), json!({ "id": id, "input": input }))
                    .await["updateAllocationRule"]
                    .clone()
            }
        };
        let rule = update(json!({ "enabled": true })).await;
        assert_eq!(rule["enabled"], true);
        assert_eq!(rule["conditions"][0]["values"], json!(["Sales"]));
        assert_placed(&state(&app, &d.tenant).await, &in_sales, id, &sales);

        let rule = update(json!({ "costGroupId": finance })).await;
        assert_eq!(rule["costGroup"]["name"], "Finance");
        assert_placed(&state(&app, &d.tenant).await, &in_sales, id, &finance);

        let case_sensitive = json!([{ "attribute": "DEPARTMENT", "operator": "MATCHES",
            "values": ["^Fin"], "caseSensitive": true }]);
        let rule = update(json!({ "conditions": case_sensitive })).await;
        assert_eq!(rule["conditions"][0]["caseSensitive"], true);
        assert_eq!(rule["costGroup"]["name"], "Finance");
        let now = state(&app, &d.tenant).await;
        assert_placed(&now, &in_finance, id, &finance);
        assert_unallocated(&now, &in_sales);

        let body = app.data(DELETE, json!({ "id": id })).await;
        assert_eq!(body["deleteAllocationRule"], id);
        let now = state(&app, &d.tenant).await;
        assert_eq!(now["allocationRules"], json!([]));
        assert_unallocated(&now, &in_finance);

        let actions: Vec<String> = audit(&app, &d.tenant)
            .await
            .into_iter()
            .map(|(action, subject, ..)| {
                assert_eq!(subject, id);
                action
            })
            .collect();
        assert_eq!(
            actions,
            [
                "createAllocationRule",
                "updateAllocationRule",
                "updateAllocationRule",
                "updateAllocationRule",
                "deleteAllocationRule"
            ]
        );
        let log = audit(&app, &d.tenant).await;
        assert_eq!(log[1].2["enabled"], false);
        assert_eq!(log[1].3["enabled"], true);
        assert_eq!(log[4].3, Value::Null);
    }
}

#[tokio::test]
async fn invalid_rule_input_is_refused_naming_the_field_and_writes_nothing() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let sales = d.group("Sales");
        let foreign_group = d.other_groups[1].id.to_string();
        let unknown = uuid::Uuid::new_v4().to_string();
        let rule = create(
            &app,
            &d.tenant,
            &sales,
            json!([condition("DEPARTMENT", "EQUALS", &["Sales"])]),
        )
        .await;
        let id = rule["id"].as_str().unwrap().to_owned();
        let before = state(&app, &d.tenant).await;
        let other_before = state(&app, &d.other_tenant).await;
        let log_before = audit(&app, &d.tenant).await;

        let good = json!([condition("DEPARTMENT", "EQUALS", &["Sales"])]);
        let create_input = |tenant: &str, group: &str, conditions: Value| {
            json!({ "input": { "tenantId": tenant, "costGroupId": group,
                "conditions": conditions } })
        };
        let cases: Vec<(String, Value, &str, &str)> = vec![
            (
                create_query(),
                create_input(&d.tenant, &sales, json!([])),
                "BAD_USER_INPUT",
                "input.conditions: must not be empty",
            ),
            (
                create_query(),
                create_input(
                    &d.tenant,
                    &sales,
                    json!([
                        condition("CITY", "IS_EMPTY", &[]),
                        condition("MAIL", "MATCHES", &["("])
                    ]),
                ),
                "BAD_USER_INPUT",
                r#"input.conditions[1].values: MATCHES pattern "(" is not a valid regex"#,
            ),
            (
                create_query(),
                create_input(
                    &d.tenant,
                    &sales,
                    json!([condition("CITY", "EQUALS", &["Bern", "Zürich"])]),
                ),
                "BAD_USER_INPUT",
                "input.conditions[0].values: EQUALS takes exactly one value, got 2",
            ),
            (
                create_query(),
                create_input(
                    &d.tenant,
                    &sales,
                    json!([condition("REPORTS_TO", "CONTAINS", &["x"])]),
                ),
                "BAD_USER_INPUT",
                "input.conditions[0].operator: CONTAINS cannot be used with reportsTo",
            ),
            (
                create_query(),
                create_input(&d.tenant, &foreign_group, good.clone()),
                "NOT_FOUND",
                "input.costGroupId",
            ),
            (
                create_query(),
                create_input(&d.tenant, &unknown, good.clone()),
                "NOT_FOUND",
                "input.costGroupId",
            ),
            (
                create_query(),
                create_input(&unknown, &sales, good.clone()),
                "NOT_FOUND",
                "tenant",
            ),
            (
                create_query(),
                create_input("not-a-guid", &sales, good.clone()),
                "BAD_USER_INPUT",
                "input.tenantId",
            ),
            (
                create_query(),
                create_input(&d.tenant, "nope", good.clone()),
                "BAD_USER_INPUT",
                "input.costGroupId",
            ),
            (
                update_query(),
                json!({ "id": id, "input": { "conditions": [] } }),
                "BAD_USER_INPUT",
                "input.conditions: must not be empty",
            ),
            (
                update_query(),
                json!({ "id": id, "input": { "conditions": [condition("COUNTRY", "IN", &["CH", ""])] } }),
                "BAD_USER_INPUT",
                "input.conditions[0].values[1]: must not be empty",
            ),
            (
                update_query(),
                json!({ "id": id, "input": { "costGroupId": foreign_group } }),
                "NOT_FOUND",
                "input.costGroupId",
            ),
            (
                update_query(),
                json!({ "id": unknown, "input": { "enabled": false } }),
                "NOT_FOUND",
                "allocation rule",
            ),
            (
                DELETE.to_owned(),
                json!({ "id": unknown }),
                "NOT_FOUND",
                "allocation rule",
            ),
            (
                DELETE.to_owned(),
                json!({ "id": "x" }),
                "BAD_USER_INPUT",
                "id",
            ),
        ];
        for (query, variables, code, text) in cases {
            let body = app.post(&query, variables.clone()).await;
            assert_eq!(first_error_code(&body), code, "{variables}: {body:#}");
            assert!(
                message(&body).starts_with(text) || message(&body).contains(text),
                "{variables}: {body:#}"
            );
        }
        assert_eq!(state(&app, &d.tenant).await, before);
        assert_eq!(state(&app, &d.other_tenant).await, other_before);
        assert_eq!(audit(&app, &d.tenant).await, log_before);
        assert!(audit(&app, &d.other_tenant).await.is_empty());
    }
}

#[tokio::test]
async fn a_reorder_must_list_each_rule_of_the_tenant_once() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let conditions = json!([condition("DEPARTMENT", "EQUALS", &["Sales"])]);
        let a = create(&app, &d.tenant, &d.group("Sales"), conditions.clone()).await;
        let b = create(&app, &d.tenant, &d.group("Finance"), conditions.clone()).await;
        let foreign = create(
            &app,
            &d.other_tenant,
            &d.other_groups[1].id.to_string(),
            conditions,
        )
        .await;
        let (a, b, foreign) = (
            a["id"].as_str().unwrap(),
            b["id"].as_str().unwrap(),
            foreign["id"].as_str().unwrap(),
        );
        let before = state(&app, &d.tenant).await;
        let log_before = audit(&app, &d.tenant).await;

        let cases = [
            (json!([a]), format!("missing: {b}")),
            (json!([a, b, a]), format!("duplicated: {a}")),
            (json!([b, a, foreign]), format!("unknown: {foreign}")),
            (json!([]), format!("missing: {a}, {b}")),
        ];
        for (ids, text) in cases {
            let body = app
                .post(REORDER, json!({ "tenant": d.tenant, "ids": ids }))
                .await;
            assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body:#}");
            assert!(message(&body).starts_with("ruleIds must list"), "{body:#}");
            assert!(message(&body).contains(&text), "{text}: {body:#}");
        }
        let body = app
            .post(REORDER, json!({ "tenant": d.tenant, "ids": [a, "bad"] }))
            .await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body:#}");
        assert!(message(&body).starts_with("ruleIds[1]"), "{body:#}");
        let unknown = uuid::Uuid::new_v4().to_string();
        let body = app
            .post(REORDER, json!({ "tenant": unknown, "ids": [] }))
            .await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "{body:#}");

        assert_eq!(state(&app, &d.tenant).await, before);
        assert_eq!(audit(&app, &d.tenant).await, log_before);
    }
}

#[tokio::test]
async fn allocations_of_a_users_page_take_the_same_statements_for_10_and_100_users() {
    for backend in backends() {
        let app = TestApp::demo_uncached(backend).await;
        let d = demo();
        for (group, department) in [("Sales", "Sales"), ("Finance", "Finance")] {
            create(
                &app,
                &d.tenant,
                &d.group(group),
                json!([condition("DEPARTMENT", "EQUALS", &[department])]),
            )
            .await;
        }
        let q = r#"query($id: ID!, $first: Int) { tenant(id: $id) { users(first: $first) {
            nodes { allocation { source stale rule { id priority }
                shares { percent costGroup { name } } } } } } }"#;
        let (small, small_count) = app.counted(q, json!({ "id": d.tenant, "first": 10 })).await;
        assert!(small.get("errors").is_none(), "{small}");
        let (large, large_count) = app
            .counted(q, json!({ "id": d.tenant, "first": 100 }))
            .await;
        assert!(large.get("errors").is_none(), "{large}");
        let placed = large["data"]["tenant"]["users"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["allocation"]["source"] == "RULE")
            .count();
        assert!(placed > 10, "{placed}");
        assert_eq!(small_count, large_count, "{backend:?}");
        // tenant, users page, allocations (stored rows, then overrides of the users placed
        // nowhere), rules, cost groups
        assert_eq!(large_count, 6, "{backend:?}");
    }
}
