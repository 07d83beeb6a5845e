//! Cost reports, CSV exports, the audit log and deleting cost groups that are in use, through
//! the API on every backend. Money is compared as decimals parsed from the API's strings.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::csv_body::csv_table;
use crate::support::{TestApp, backends, first_error_code};

const CREATE_GROUP: &str = r#"mutation($t: ID!, $n: String!, $p: ID) {
    createCostGroup(input: {tenantId: $t, name: $n, parentId: $p}) { id } }"#;
const CREATE_RULE: &str = r#"mutation($t: ID!, $g: ID!, $d: String!) {
    createAllocationRule(input: {tenantId: $t, costGroupId: $g,
        conditions: [{attribute: DEPARTMENT, operator: EQUALS, values: [$d]}]}) { id } }"#;
const SET_ALLOCATION: &str = r#"mutation($t: ID!, $u: ID!, $s: [AllocationShareInput!]!) {
    setUserAllocation(tenantId: $t, userId: $u, shares: $s) { id } }"#;
const SET_PRICE: &str = r#"mutation($t: ID!, $s: ID!, $p: Decimal!, $c: String!, $f: Date!) {
    setLicensePrice(input: {tenantId: $t, skuId: $s, monthlyUnitPrice: $p, currency: $c,
        effectiveFrom: $f}) { skuId } }"#;
const LINE: &str = "users licenses cost exactCost skus { skuId licenses unitPrice cost exactCost }";

fn report_query() -> String {
    format!(
        r#"query($t: ID!, $asOf: Date) {{ tenant(id: $t) {{ costReport(asOf: $asOf) {{
        asOf currency costGroups {{ costGroup {{ id name }} own {{ {LINE} }} withDescendants {{ {LINE} }} }}
        unallocated {{ {LINE} }} unassigned {{ {LINE} }} assigned {{ {LINE} }} }} }} }}"#
    )
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("not a decimal string: {v}")),
    )
    .unwrap()
}

/// The demo tenant used here: its id, its users (id, department, license count) and SKU ids.
struct Tenant {
    id: String,
    users: Vec<(String, Option<String>, usize)>,
    skus: Vec<String>,
}

async fn tenant(app: &TestApp) -> Tenant {
    let data = app
        .data(
            r#"{ tenants(first: 1) { edges { node { id subscriptions { skuId }
                users(first: 500) { edges { node { id department licenses { skuId } } } } } } } }"#,
            json!({}),
        )
        .await;
    let node = &data["tenants"]["edges"][0]["node"];
    Tenant {
        id: node["id"].as_str().unwrap().to_owned(),
        users: node["users"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let n = &e["node"];
                (
                    n["id"].as_str().unwrap().to_owned(),
                    n["department"].as_str().map(str::to_owned),
                    n["licenses"].as_array().unwrap().len(),
                )
            })
            .collect(),
        skus: node["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["skuId"].as_str().unwrap().to_owned())
            .collect(),
    }
}

async fn group(app: &TestApp, t: &str, name: &str, parent: Option<&str>) -> String {
    let data = app
        .data(CREATE_GROUP, json!({ "t": t, "n": name, "p": parent }))
        .await;
    data["createCostGroup"]["id"].as_str().unwrap().to_owned()
}

async fn report(app: &TestApp, t: &str, as_of: Option<&str>) -> Value {
    let data = app
        .data(&report_query(), json!({ "t": t, "asOf": as_of }))
        .await;
    data["tenant"]["costReport"].clone()
}

/// A tenant with groups Sales (a root) and Sales/Inside (its child), a rule sending the most
/// common department to Sales, a user split 33.33/66.67 across both, and awkward prices on every
/// SKU. Returns (tenant, sales, inside, split user).
async fn allocated(app: &TestApp) -> (Tenant, String, String, String) {
    let t = tenant(app).await;
    let sales = group(app, &t.id, "Sales", None).await;
    let inside = group(app, &t.id, "Inside", Some(&sales)).await;
    let mut departments: Vec<&str> = t.users.iter().filter_map(|u| u.1.as_deref()).collect();
    departments.sort_unstable();
    let top = departments
        .chunk_by(|a, b| a == b)
        .max_by_key(|c| c.len())
        .unwrap()[0]
        .to_owned();
    app.data(CREATE_RULE, json!({ "t": t.id, "g": sales, "d": top }))
        .await;
    let split = t.users.iter().find(|u| u.2 > 0).unwrap().0.clone();
    let shares = json!([{ "costGroupId": sales, "percent": "33.33" },
        { "costGroupId": inside, "percent": "66.67" }]);
    app.data(
        SET_ALLOCATION,
        json!({ "t": t.id, "u": split, "s": shares }),
    )
    .await;
    for (i, sku) in t.skus.iter().enumerate() {
        let price = format!("{}.{:02}", 3 + i * 7, (i * 37 + 13) % 100);
        app.data(
            SET_PRICE,
            json!({ "t": t.id, "s": sku, "p": price, "c": "EUR", "f": "2026-01-01" }),
        )
        .await;
    }
    (t, sales, inside, split)
}

fn line_cost(line: &Value) -> Decimal {
    dec(&line["cost"])
}

#[tokio::test]
async fn cost_groups_and_unallocated_add_up_to_every_assigned_license_to_the_cent() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (t, sales, inside, _) = allocated(&app).await;
        let r = report(&app, &t.id, Some("2026-11-01")).await;
        assert_eq!(r["currency"], "EUR");
        let groups = r["costGroups"].as_array().unwrap();
        let own: Decimal = groups.iter().map(|g| line_cost(&g["own"])).sum();
        let assigned = line_cost(&r["assigned"]);
        assert!(assigned > Decimal::ZERO);
        assert_eq!(own + line_cost(&r["unallocated"]), assigned);
        // Per SKU as well, in presented cents and in licenses.
        for sku in r["assigned"]["skus"].as_array().unwrap() {
            let id = &sku["skuId"];
            let of = |line: &Value, field: &str| -> Decimal {
                line["skus"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| &s["skuId"] == id)
                    .map(|s| dec(&s[field]))
                    .sum()
            };
            let mut cost = of(&r["unallocated"], "cost");
            let mut licenses = of(&r["unallocated"], "licenses");
            for g in groups {
                cost += of(&g["own"], "cost");
                licenses += of(&g["own"], "licenses");
            }
            assert_eq!(cost, dec(&sku["cost"]), "cost of SKU {id}");
            assert_eq!(licenses, dec(&sku["licenses"]), "licenses of SKU {id}");
        }
        // Every license of a present user is counted once.
        let licenses: usize = t.users.iter().map(|u| u.2).sum();
        assert_eq!(dec(&r["assigned"]["licenses"]), Decimal::from(licenses));
        // The subtree of Sales holds Inside; the split user counts once there.
        let find = |id: &str| groups.iter().find(|g| g["costGroup"]["id"] == id).unwrap();
        let (s, i) = (find(&sales), find(&inside));
        assert_eq!(
            line_cost(&s["withDescendants"]),
            line_cost(&s["own"]) + line_cost(&i["own"])
        );
        assert_eq!(
            s["withDescendants"]["users"].as_u64().unwrap(),
            s["own"]["users"].as_u64().unwrap() + i["own"]["users"].as_u64().unwrap() - 1
        );
        assert_eq!(i["own"]["users"], 1);
    }
}

#[tokio::test]
async fn cost_group_cost_matches_its_report_line() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (t, sales, _, _) = allocated(&app).await;
        let r = report(&app, &t.id, None).await;
        let line = r["costGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["costGroup"]["id"] == sales.as_str())
            .unwrap()
            .clone();
        let q = r#"query($t: ID!) { tenant(id: $t) { costGroups { id
            own: cost { users cost currency } all: cost(includeDescendants: true) { users cost } } } }"#;
        let data = app.data(q, json!({ "t": t.id })).await;
        let g = data["tenant"]["costGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == sales.as_str())
            .unwrap()
            .clone();
        assert_eq!(g["own"]["cost"], line["own"]["cost"]);
        assert_eq!(g["own"]["users"], line["own"]["users"]);
        assert_eq!(g["own"]["currency"], "EUR");
        assert_eq!(g["all"]["cost"], line["withDescendants"]["cost"]);
    }
}

#[tokio::test]
async fn a_new_allocation_shows_in_the_very_next_report() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (t, _, inside, split) = allocated(&app).await;
        let inside_users = |r: &Value| {
            r["costGroups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["costGroup"]["id"] == inside.as_str())
                .unwrap()["own"]["users"]
                .as_u64()
                .unwrap()
        };
        let before = report(&app, &t.id, None).await;
        let other = t
            .users
            .iter()
            .find(|u| u.0 != split && u.2 > 0)
            .unwrap()
            .0
            .clone();
        let shares = json!([{ "costGroupId": inside, "percent": "100" }]);
        app.data(
            SET_ALLOCATION,
            json!({ "t": t.id, "u": other, "s": shares }),
        )
        .await;
        let after = report(&app, &t.id, None).await;
        assert_eq!(inside_users(&after), inside_users(&before) + 1);
        assert_eq!(after["assigned"]["cost"], before["assigned"]["cost"]);
    }
}

#[tokio::test]
async fn unassigned_licenses_are_listed_with_their_cost_and_the_price_in_force_is_used() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let t = tenant(&app).await;
        let subs = app
            .data(
                r#"query($t: ID!) { tenant(id: $t) { subscriptions { skuId unassigned appliesTo } } }"#,
                json!({ "t": t.id }),
            )
            .await;
        let spare = subs["tenant"]["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["unassigned"].as_i64().unwrap() > 0 && s["appliesTo"] == "User")
            .expect("a demo SKU with unassigned licenses")
            .clone();
        let sku = spare["skuId"].as_str().unwrap();
        let spare_count = Decimal::from(spare["unassigned"].as_i64().unwrap());
        for (price, from) in [("10.00", "2026-01-01"), ("12.50", "2026-07-01")] {
            app.data(
                SET_PRICE,
                json!({ "t": t.id, "s": sku, "p": price, "c": "CHF", "f": from }),
            )
            .await;
        }
        for (as_of, price) in [("2026-03-31", "10.00"), ("2026-07-01", "12.50")] {
            let r = report(&app, &t.id, Some(as_of)).await;
            assert_eq!(r["asOf"], as_of);
            let line = r["unassigned"]["skus"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["skuId"] == sku)
                .unwrap()
                .clone();
            assert_eq!(dec(&line["licenses"]), spare_count);
            assert_eq!(dec(&line["unitPrice"]), Decimal::from_str(price).unwrap());
            assert_eq!(
                dec(&line["cost"]),
                spare_count * Decimal::from_str(price).unwrap()
            );
        }
        // Before the first price, the SKU has none and costs nothing.
        let r = report(&app, &t.id, Some("2025-12-31")).await;
        assert!(r["currency"].is_null());
        assert_eq!(dec(&r["unassigned"]["cost"]), Decimal::ZERO);
    }
}

#[tokio::test]
async fn csv_exports_carry_the_same_totals_and_users_as_the_api() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (t, sales, _, split) = allocated(&app).await;
        let r = report(&app, &t.id, Some("2026-11-01")).await;

        let response = app
            .client
            .get(app.url(&format!(
                "/export/tenants/{}/cost-report.csv?asOf=2026-11-01",
                t.id
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let (header, rows) = csv_table(response.text().await.unwrap().as_bytes(), b',');
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let total = |section: &str, group: &str| -> Decimal {
            rows.iter()
                .filter(|row| {
                    row[col("section")] == section
                        && row[col("cost_group_id")] == group
                        && row[col("sku_id")].is_empty()
                })
                .map(|row| Decimal::from_str(&row[col("cost")]).unwrap())
                .sum()
        };
        assert_eq!(total("TOTAL_ASSIGNED", ""), line_cost(&r["assigned"]));
        assert_eq!(total("UNALLOCATED", ""), line_cost(&r["unallocated"]));
        let sales_line = r["costGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["costGroup"]["id"] == sales.as_str())
            .unwrap()["own"]
            .clone();
        assert_eq!(total("COST_GROUP", &sales), line_cost(&sales_line));

        let text = app
            .get_text(&format!("/export/tenants/{}/users.csv", t.id))
            .await;
        let (header, rows) = csv_table(text.as_bytes(), b',');
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let users: std::collections::HashSet<&str> =
            rows.iter().map(|r| r[col("user_id")].as_str()).collect();
        assert_eq!(users.len(), t.users.len());
        let split_rows: Vec<&Vec<String>> =
            rows.iter().filter(|r| r[col("user_id")] == split).collect();
        assert_eq!(split_rows.len(), 2, "one row per share of the split user");
        assert!(split_rows.iter().all(|r| r[col("source")] == "OVERRIDE"));
        let mut percents: Vec<&str> = split_rows
            .iter()
            .map(|r| r[col("percent")].as_str())
            .collect();
        percents.sort_unstable();
        assert_eq!(percents, ["33.33", "66.67"]);
        assert!(rows.iter().any(|r| r[col("source")] == "RULE"));
        assert!(rows.iter().any(|r| r[col("source")] == "UNALLOCATED"));
    }
}

#[tokio::test]
async fn exports_of_unknown_or_malformed_tenants_are_refused() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        for (path, status) in [
            (
                "/export/tenants/00000000-0000-0000-0000-000000000001/users.csv",
                404,
            ),
            (
                "/export/tenants/00000000-0000-0000-0000-000000000001/cost-report.csv",
                404,
            ),
            ("/export/tenants/not-a-guid/cost-report.csv", 400),
        ] {
            let res = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), status, "{path}");
        }
        let t = tenant(&app).await;
        let res = app
            .client
            .get(app.url(&format!(
                "/export/tenants/{}/cost-report.csv?asOf=yesterday",
                t.id
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains("asOf"));
    }
}

const AUDIT: &str = r#"query($t: ID!, $first: Int, $after: String) { auditLog(tenantId: $t, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { at actor action subjectType subjectId before after } } } }"#;

#[tokio::test]
async fn every_allocation_change_is_in_the_audit_log_and_refused_ones_are_not() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (t, sales, _, split) = allocated(&app).await;
        let bad = json!([{ "costGroupId": sales, "percent": "33.33" }]);
        let body = app
            .post(SET_ALLOCATION, json!({ "t": t.id, "u": split, "s": bad }))
            .await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT");

        let data = app.data(AUDIT, json!({ "t": t.id, "first": 500 })).await;
        let entries: Vec<Value> = data["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        let actions: Vec<&str> = entries
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        // Newest first: prices, then the split, the rule and the two groups.
        let n = t.skus.len();
        assert_eq!(actions.len(), 4 + n, "{actions:?}");
        assert!(actions[..n].iter().all(|a| *a == "setLicensePrice"));
        assert_eq!(
            &actions[n..],
            [
                "setUserAllocation",
                "createAllocationRule",
                "createCostGroup",
                "createCostGroup"
            ]
        );
        let split_entry = &entries[n];
        assert_eq!(split_entry["actor"], "anonymous");
        assert_eq!(split_entry["subjectType"], "override");
        assert_eq!(split_entry["subjectId"], split.as_str());
        assert!(split_entry["before"].is_null());
        assert!(split_entry["after"].to_string().contains("66.67"));
        let created = entries.last().unwrap();
        assert_eq!(created["after"]["name"], "Sales");

        // Paging: two at a time, newest first, no entry twice.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let data = app
                .data(AUDIT, json!({ "t": t.id, "first": 2, "after": after }))
                .await;
            let conn = &data["auditLog"];
            for e in conn["edges"].as_array().unwrap() {
                seen.push(e["node"]["action"].as_str().unwrap().to_owned());
            }
            if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
        assert_eq!(seen, actions);
    }
}

#[tokio::test]
async fn deleting_a_group_in_use_is_refused_unless_its_members_and_rules_are_reassigned() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (t, sales, inside, split) = allocated(&app).await;
        let delete = r#"mutation($id: ID!, $to: ID) { deleteCostGroup(id: $id, reassignTo: $to) }"#;
        let body = app.post(delete, json!({ "id": sales })).await;
        assert_eq!(first_error_code(&body), "CONFLICT");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("1 child group(s)"), "{message}");
        assert!(message.contains("1 allocation rule(s)"), "{message}");
        let before = report(&app, &t.id, None).await;

        // Sales into Marketing: Inside moves under Marketing, the rule targets Marketing and the
        // split user's Sales share goes there.
        let marketing = group(&app, &t.id, "Marketing", None).await;
        app.data(delete, json!({ "id": sales, "to": marketing }))
            .await;
        let audit = app.data(AUDIT, json!({ "t": t.id, "first": 1 })).await;
        let entry = &audit["auditLog"]["edges"][0]["node"];
        assert_eq!(entry["action"], "deleteCostGroup");
        assert_eq!(entry["before"]["name"], "Sales");
        let moved = &entry["before"]["reassigned"];
        assert_eq!(moved["reassignTo"], marketing.as_str());
        assert_eq!(
            (&moved["children"], &moved["rules"], &moved["overrides"]),
            (&json!(1), &json!(1), &json!(1)),
            "{entry}"
        );
        assert!(entry["after"].is_null());
        let q = r#"query($t: ID!, $u: ID!) { tenant(id: $t) { allocationRules { costGroup { id } }
            costGroups { id parent { id } } }
            user(tenantId: $t, id: $u) { allocation { source shares { costGroup { id } percent } } } }"#;
        let data = app.data(q, json!({ "t": t.id, "u": split })).await;
        assert_eq!(
            data["tenant"]["allocationRules"][0]["costGroup"]["id"],
            marketing.as_str()
        );
        let moved = data["tenant"]["costGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == inside.as_str())
            .unwrap()
            .clone();
        assert_eq!(moved["parent"]["id"], marketing.as_str());
        let shares: Vec<(String, Decimal)> = data["user"]["allocation"]["shares"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["costGroup"]["id"].as_str().unwrap().to_owned(),
                    dec(&s["percent"]),
                )
            })
            .collect();
        assert_eq!(
            shares,
            [
                (inside.clone(), Decimal::from_str("66.67").unwrap()),
                (marketing.clone(), Decimal::from_str("33.33").unwrap())
            ]
        );

        // A second delete merges a share into one the user already has: Inside into Marketing.
        app.data(delete, json!({ "id": inside, "to": marketing }))
            .await;
        let data = app.data(q, json!({ "t": t.id, "u": split })).await;
        let shares = data["user"]["allocation"]["shares"].as_array().unwrap();
        assert_eq!(shares.len(), 1);
        assert_eq!(shares[0]["costGroup"]["id"], marketing.as_str());
        assert_eq!(dec(&shares[0]["percent"]), Decimal::ONE_HUNDRED);

        let after = report(&app, &t.id, None).await;
        let groups = after["costGroups"].as_array().unwrap();
        assert_eq!(
            groups.len(),
            before["costGroups"].as_array().unwrap().len() - 1
        );
        assert_eq!(after["assigned"]["cost"], before["assigned"]["cost"]);
        assert_eq!(after["unallocated"]["cost"], before["unallocated"]["cost"]);
    }
}

const PREVIEW: &str = r#"query($t: ID!, $rules: [AllocationRuleInput!]!) {
    previewAllocation(tenantId: $t, rules: $rules) { changedUsers
        changes(first: 500) { user { id department } before { source shares { costGroup { id } } }
            after { source shares { costGroup { id } percent } } afterRuleIndex }
        report { costGroups { costGroup { id } own { users } } unallocated { users } assigned { cost } } } }"#;

#[tokio::test]
async fn a_preview_lists_who_would_move_and_writes_nothing() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (t, sales, inside, split) = allocated(&app).await;
        let before = report(&app, &t.id, None).await;
        let rules_before = app
            .data(
                r#"query($t: ID!) { tenant(id: $t) { allocationRules { id priority } } }"#,
                json!({ "t": t.id }),
            )
            .await;
        let audit_before = app.data(AUDIT, json!({ "t": t.id, "first": 500 })).await;

        // Proposed: everyone with a department goes to Inside (the split user stays split).
        let rules = json!([{ "costGroupId": inside,
            "conditions": [{ "attribute": "DEPARTMENT", "operator": "IS_EMPTY" }], "enabled": false },
            { "costGroupId": inside,
            "conditions": [{ "attribute": "DEPARTMENT", "operator": "MATCHES", "values": [".+"] }] }]);
        let data = app
            .data(PREVIEW, json!({ "t": t.id, "rules": rules }))
            .await;
        let p = &data["previewAllocation"];
        let with_department: Vec<&String> = t
            .users
            .iter()
            .filter(|u| u.1.as_deref().is_some_and(|d| !d.is_empty()) && u.0 != split)
            .map(|u| &u.0)
            .collect();
        let changes = p["changes"].as_array().unwrap();
        // Everyone with a department not already in Inside moves there.
        assert_eq!(p["changedUsers"].as_u64().unwrap() as usize, changes.len());
        assert_eq!(changes.len(), with_department.len());
        for c in changes {
            assert!(with_department.contains(&&c["user"]["id"].as_str().unwrap().to_owned()));
            assert_eq!(c["after"]["source"], "RULE");
            assert_eq!(c["afterRuleIndex"], 1);
            assert_eq!(c["after"]["shares"][0]["costGroup"]["id"], inside.as_str());
        }
        let inside_users = p["report"]["costGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["costGroup"]["id"] == inside.as_str())
            .unwrap()["own"]["users"]
            .as_u64()
            .unwrap();
        assert_eq!(inside_users as usize, with_department.len() + 1);
        assert_eq!(p["report"]["assigned"]["cost"], before["assigned"]["cost"]);

        // Nothing was written.
        assert_eq!(report(&app, &t.id, None).await, before);
        let rules_after = app
            .data(
                r#"query($t: ID!) { tenant(id: $t) { allocationRules { id priority } } }"#,
                json!({ "t": t.id }),
            )
            .await;
        assert_eq!(rules_after, rules_before);
        assert_eq!(
            app.data(AUDIT, json!({ "t": t.id, "first": 500 })).await,
            audit_before
        );

        // Bad input names the rule and field; a group of another tenant is not found.
        let bad = json!([{ "costGroupId": sales, "conditions": [{ "attribute": "DEPARTMENT",
            "operator": "MATCHES", "values": ["("] }] }]);
        let body = app.post(PREVIEW, json!({ "t": t.id, "rules": bad })).await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("rules[0].conditions[0]"), "{message}");
        let other = app
            .data(
                r#"{ tenants(first: 2) { edges { node { id } } } }"#,
                json!({}),
            )
            .await["tenants"]["edges"][1]["node"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let foreign = group(&app, &other, "Elsewhere", None).await;
        let rules = json!([{ "costGroupId": foreign,
            "conditions": [{ "attribute": "DEPARTMENT", "operator": "IS_EMPTY" }] }]);
        let body = app
            .post(PREVIEW, json!({ "t": t.id, "rules": rules }))
            .await;
        assert_eq!(first_error_code(&body), "NOT_FOUND");
    }
}

#[tokio::test]
async fn overrides_adjusted_user_by_user_report_what_a_full_evaluation_reports() {
    const CLEAR: &str =
        r#"mutation($t: ID!, $u: ID!) { clearUserAllocation(tenantId: $t, userId: $u) { id } }"#;
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (t, sales, inside, split) = allocated(&app).await;
        // Pins, splits, replacements and clears over the first users, each re-evaluating only
        // its user and adjusting the stored tally.
        for (i, user) in t.users.iter().take(12).enumerate() {
            let shares = match i % 3 {
                0 => json!([{ "costGroupId": inside, "percent": "100" }]),
                1 => json!([{ "costGroupId": sales, "percent": "12.5" },
                    { "costGroupId": inside, "percent": "87.5" }]),
                _ => json!([{ "costGroupId": sales, "percent": "100" }]),
            };
            app.data(
                SET_ALLOCATION,
                json!({ "t": t.id, "u": user.0, "s": shares }),
            )
            .await;
        }
        for user in t.users.iter().take(12).step_by(4) {
            app.data(CLEAR, json!({ "t": t.id, "u": user.0 })).await;
        }
        app.data(CLEAR, json!({ "t": t.id, "u": split })).await;
        let incremental = report(&app, &t.id, Some("2026-11-01")).await;

        let tenant_id: tenantgraph::domain::TenantId = t.id.parse().unwrap();
        tenantgraph::store::allocation::evaluate_tenant(&app.store, tenant_id)
            .await
            .unwrap();
        let full = report(&app, &t.id, Some("2026-11-01")).await;
        assert_eq!(incremental, full, "{backend:?}");
    }
}
