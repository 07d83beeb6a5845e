//! Split rules through GraphQL on every backend: creating and changing them, the refusals that
//! write nothing, what they cost in the cost report and its export (to the cent), the preview
//! and diagnostics of a split rule, the audit log, and moving a deleted group's share.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::csv_body::csv_table;
use crate::support::{TestApp, backends, demo_data, first_error_code};

const RULE: &str = "id costGroup { id } split targets { costGroupId percent costGroup { id } }";

fn create_query() -> String {
    format!(
        "mutation($input: CreateAllocationRuleInput!) {{ createAllocationRule(input: $input) \
         {{ {RULE} }} }}"
    )
}

fn update_query() -> String {
    format!(
        "mutation($id: ID!, $input: UpdateAllocationRuleInput!) {{ \
         updateAllocationRule(id: $id, input: $input) {{ {RULE} }} }}"
    )
}

const STATE: &str = r#"query($id: ID!) { tenant(id: $id) {
    allocationRules { id targets { costGroupId percent } }
    costGroups { id rules { id } }
    users(first: 500) { nodes { id allocation { source rule { id }
        shares { percent costGroup { id } } } } } } }"#;
const SET_PRICE: &str = r#"mutation($t: ID!, $s: ID!, $p: Decimal!) {
    setLicensePrice(input: {tenantId: $t, skuId: $s, monthlyUnitPrice: $p, currency: "EUR",
        effectiveFrom: "2026-01-01"}) { skuId } }"#;
const REPORT: &str = r#"query($t: ID!) { tenant(id: $t) { costReport {
    costGroups { costGroup { id } own { users licenses cost exactCost } }
    unallocated { cost exactCost } assigned { cost exactCost } } } }"#;
const AUDIT: &str = r#"query($t: ID!) { auditLog(tenantId: $t, first: 5) {
    edges { node { action subjectId before after } } } }"#;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap_or_else(|| panic!("not a decimal: {v}"))).unwrap()
}

/// The first demo tenant: its id, two of its groups, a group of the second tenant, the most
/// common department and the present users in it.
struct Demo {
    tenant: String,
    a: String,
    b: String,
    foreign: String,
    department: String,
    in_department: Vec<String>,
    skus: Vec<String>,
}

fn demo() -> Demo {
    let data = demo_data();
    let (snapshot, groups) = &data[0];
    let mut departments: Vec<&str> = snapshot
        .users
        .iter()
        .filter(|u| u.deleted_at.is_none())
        .filter_map(|u| u.department.as_deref())
        .collect();
    departments.sort_unstable();
    let department = departments
        .chunk_by(|a, b| a == b)
        .max_by_key(|c| c.len())
        .unwrap()[0]
        .to_owned();
    Demo {
        tenant: snapshot.tenant.id.to_string(),
        a: groups[0].id.to_string(),
        b: groups[1].id.to_string(),
        foreign: data[1].1[0].id.to_string(),
        in_department: snapshot
            .users
            .iter()
            .filter(|u| u.deleted_at.is_none() && u.department.as_deref() == Some(&department))
            .map(|u| u.id.to_string())
            .collect(),
        skus: snapshot
            .subscriptions
            .iter()
            .map(|s| s.sku_id.to_string())
            .collect(),
        department,
    }
}

fn in_department(d: &Demo) -> Value {
    json!([{ "attribute": "DEPARTMENT", "operator": "EQUALS", "values": [d.department] }])
}

fn sixty_forty(d: &Demo) -> Value {
    json!([{ "costGroupId": d.a, "percent": "60" }, { "costGroupId": d.b, "percent": "40" }])
}

/// Creates the 60/40 split rule of the most common department; it must succeed.
async fn create_split(app: &TestApp, d: &Demo) -> Value {
    let input = json!({ "tenantId": d.tenant, "targets": sixty_forty(d),
        "conditions": in_department(d) });
    app.data(&create_query(), json!({ "input": input })).await["createAllocationRule"].clone()
}

#[tokio::test]
async fn a_split_rule_places_its_users_by_percent_and_can_become_single_again() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let rule = create_split(&app, &d).await;
        assert_eq!(rule["split"], true);
        assert_eq!(
            rule["costGroup"]["id"], d.a,
            "the first target answers costGroup"
        );
        assert_eq!(
            rule["targets"],
            json!([
                { "costGroupId": d.a, "percent": "60", "costGroup": { "id": d.a } },
                { "costGroupId": d.b, "percent": "40", "costGroup": { "id": d.b } },
            ])
        );
        let id = rule["id"].as_str().unwrap().to_owned();

        let state = app.data(STATE, json!({ "id": d.tenant })).await;
        let users = state["tenant"]["users"]["nodes"].as_array().unwrap();
        let placed: Vec<&Value> = users
            .iter()
            .filter(|u| u["allocation"]["rule"]["id"] == id)
            .collect();
        assert_eq!(placed.len(), d.in_department.len());
        for u in &placed {
            assert!(
                d.in_department
                    .contains(&u["id"].as_str().unwrap().to_owned())
            );
            assert_eq!(
                u["allocation"]["shares"],
                json!([{ "percent": "60", "costGroup": { "id": d.a } },
                       { "percent": "40", "costGroup": { "id": d.b } }]),
                "{u}"
            );
        }
        // The rule is listed under both of its groups.
        for group in [&d.a, &d.b] {
            let g = state["tenant"]["costGroups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["id"] == **group)
                .unwrap();
            assert_eq!(g["rules"], json!([{ "id": id }]), "{group}");
        }

        // New percentages, then back to a single target through costGroupId.
        let input = json!({ "targets": [{ "costGroupId": d.b, "percent": "75.5" },
            { "costGroupId": d.a, "percent": "24.5" }] });
        let updated = app
            .data(&update_query(), json!({ "id": id, "input": input }))
            .await["updateAllocationRule"]
            .clone();
        assert_eq!(updated["costGroup"]["id"], d.b);
        assert_eq!(updated["targets"][0]["percent"], "75.5");
        let single = app
            .data(
                &update_query(),
                json!({ "id": id, "input": { "costGroupId": d.a } }),
            )
            .await["updateAllocationRule"]
            .clone();
        assert_eq!(single["split"], false);
        assert_eq!(
            single["targets"],
            json!([{ "costGroupId": d.a, "percent": "100", "costGroup": { "id": d.a } }])
        );

        // The audit log holds the targets before and after.
        let audit = app.data(AUDIT, json!({ "t": d.tenant })).await;
        let last = &audit["auditLog"]["edges"][0]["node"];
        assert_eq!(last["action"], "updateAllocationRule");
        assert_eq!(
            last["before"]["targets"],
            json!([{ "costGroupId": d.b, "percent": "75.5" },
                   { "costGroupId": d.a, "percent": "24.5" }])
        );
        assert_eq!(
            last["after"]["targets"],
            json!([{ "costGroupId": d.a, "percent": "100" }])
        );
        assert_eq!(last["after"]["costGroupId"], d.a);
    }
}

#[tokio::test]
async fn invalid_targets_are_refused_naming_the_field_and_write_nothing() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let existing = create_split(&app, &d).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let before = app.data(STATE, json!({ "id": d.tenant })).await;
        let audit_before = app.data(AUDIT, json!({ "t": d.tenant })).await;
        let target = |g: &str, p: &str| json!({ "costGroupId": g, "percent": p });
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                json!({ "targets": [target(&d.a, "60"), target(&d.b, "30")] }),
                "BAD_USER_INPUT",
                "input.targets: must sum to exactly 100, got 90",
            ),
            (
                json!({ "targets": [target(&d.a, "33.333"), target(&d.b, "66.667")] }),
                "BAD_USER_INPUT",
                "input.targets[0].percent: must have at most 2 decimal places, got 33.333",
            ),
            (
                json!({ "targets": [target(&d.a, "100"), target(&d.b, "0")] }),
                "BAD_USER_INPUT",
                "input.targets[1].percent: must be greater than 0, got 0",
            ),
            (
                json!({ "targets": [target(&d.a, "110"), target(&d.b, "-10")] }),
                "BAD_USER_INPUT",
                "input.targets[1].percent: must be greater than 0, got -10",
            ),
            (
                json!({ "targets": [target(&d.a, "50"), target(&d.a, "50")] }),
                "BAD_USER_INPUT",
                "input.targets[1].costGroupId:",
            ),
            (
                json!({ "targets": [] }),
                "BAD_USER_INPUT",
                "input.targets: must not be empty",
            ),
            (
                json!({ "targets": [target(&d.a, "50"), target(&d.foreign, "50")] }),
                "NOT_FOUND",
                "input.targets[1].costGroupId: cost group",
            ),
            (
                json!({ "costGroupId": d.a, "targets": [target(&d.a, "100")] }),
                "BAD_USER_INPUT",
                "input.targets: give either costGroupId (one cost group) or targets",
            ),
            (
                json!({}),
                "BAD_USER_INPUT",
                "input.costGroupId: give costGroupId (one cost group) or targets",
            ),
        ];
        for (fields, code, message) in cases {
            let mut input = json!({ "tenantId": d.tenant, "conditions": in_department(&d) });
            input
                .as_object_mut()
                .unwrap()
                .extend(fields.as_object().unwrap().clone());
            let body = app.post(&create_query(), json!({ "input": input })).await;
            assert_eq!(first_error_code(&body), code, "{fields}: {body}");
            let got = body["errors"][0]["message"].as_str().unwrap();
            assert!(got.starts_with(message), "{fields}: {got}");

            // The same targets as a change to the existing rule (but for "neither", which
            // leaves the targets as they are).
            if fields.as_object().unwrap().is_empty() {
                continue;
            }
            let body = app
                .post(&update_query(), json!({ "id": existing, "input": fields }))
                .await;
            assert_eq!(first_error_code(&body), code, "update {fields}: {body}");
            let got = body["errors"][0]["message"].as_str().unwrap();
            assert!(got.starts_with(message), "update {fields}: {got}");
        }
        assert_eq!(app.data(STATE, json!({ "id": d.tenant })).await, before);
        assert_eq!(
            app.data(AUDIT, json!({ "t": d.tenant })).await,
            audit_before
        );
    }
}

#[tokio::test]
async fn a_sixty_forty_rule_splits_the_cost_report_and_its_export_to_the_cent() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        // One awkward price on every SKU: 60 % of 10.01 is 6.006.
        for sku in &d.skus {
            app.data(SET_PRICE, json!({ "t": d.tenant, "s": sku, "p": "10.01" }))
                .await;
        }
        let without =
            app.data(REPORT, json!({ "t": d.tenant })).await["tenant"]["costReport"].clone();
        create_split(&app, &d).await;
        let r = app.data(REPORT, json!({ "t": d.tenant })).await["tenant"]["costReport"].clone();
        let own = |g: &str| {
            r["costGroups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["costGroup"]["id"] == g)
                .unwrap()["own"]
                .clone()
        };
        let (a, b) = (own(&d.a), own(&d.b));
        let moved = dec(&without["unallocated"]["exactCost"]) - dec(&r["unallocated"]["exactCost"]);
        assert!(moved > Decimal::ZERO, "{r}");
        assert_eq!(dec(&a["exactCost"]), moved * Decimal::new(6, 1), "{r}");
        assert_eq!(dec(&b["exactCost"]), moved * Decimal::new(4, 1), "{r}");
        assert_eq!(a["users"], b["users"]);
        assert_eq!(
            dec(&a["licenses"]) / Decimal::new(6, 1),
            dec(&b["licenses"]) / Decimal::new(4, 1)
        );
        // Presented amounts: each within a cent of exact, and the lines add up to the total.
        for line in [&a, &b] {
            assert!((dec(&line["cost"]) - dec(&line["exactCost"])).abs() < Decimal::new(1, 2));
        }
        let lines: Decimal = r["costGroups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| dec(&l["own"]["cost"]))
            .sum::<Decimal>()
            + dec(&r["unallocated"]["cost"]);
        assert_eq!(lines, dec(&r["assigned"]["cost"]), "{r}");
        assert_eq!(r["assigned"], without["assigned"]);

        let response = app
            .client
            .get(app.url(&format!("/export/tenants/{}/cost-report.csv", d.tenant)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (header, rows) = csv_table(response.text().await.unwrap().as_bytes(), b',');
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let exported = |group: &str| -> Decimal {
            rows.iter()
                .filter(|row| {
                    row[col("section")] == "COST_GROUP"
                        && row[col("cost_group_id")] == group
                        && row[col("sku_id")].is_empty()
                })
                .map(|row| Decimal::from_str(&row[col("cost")]).unwrap())
                .next()
                .unwrap_or_else(|| panic!("no line of {group}: {rows:?}"))
        };
        assert_eq!(exported(&d.a), dec(&a["cost"]));
        assert_eq!(exported(&d.b), dec(&b["cost"]));
    }
}

const PREVIEW: &str = r#"query($t: ID!, $rules: [AllocationRuleInput!]!) {
    previewAllocation(tenantId: $t, rules: $rules) {
        diagnostics { rules { ruleIndex verdict matchedUsers placedUsers } }
        changes(first: 500) { user { id } after { source shares { percent costGroup { id } } } } } }"#;

#[tokio::test]
async fn a_preview_and_the_diagnostics_show_what_a_split_rule_places() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let n = d.in_department.len();
        let rules = json!([{ "targets": sixty_forty(&d), "conditions": in_department(&d) }]);
        let body = app
            .post(PREVIEW, json!({ "t": d.tenant, "rules": rules }))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        let preview = &body["data"]["previewAllocation"];
        assert_eq!(
            preview["diagnostics"]["rules"],
            json!([{ "ruleIndex": 0, "verdict": "EFFECTIVE", "matchedUsers": n, "placedUsers": n }])
        );
        let changes = preview["changes"].as_array().unwrap();
        assert_eq!(changes.len(), n, "{preview}");
        for c in changes {
            assert_eq!(
                c["after"]["shares"],
                json!([{ "percent": "60", "costGroup": { "id": d.a } },
                       { "percent": "40", "costGroup": { "id": d.b } }]),
                "{c}"
            );
        }
        // A proposed split naming another tenant's group is refused, naming it.
        let rules = json!([{ "targets": [{ "costGroupId": d.a, "percent": "50" },
            { "costGroupId": d.foreign, "percent": "50" }], "conditions": in_department(&d) }]);
        let body = app
            .post(PREVIEW, json!({ "t": d.tenant, "rules": rules }))
            .await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("rules[0].targets[1].costGroupId"),
            "{body}"
        );

        // Stored, it places the same users, and explains itself with its targets.
        let id = create_split(&app, &d).await["id"].clone();
        let diagnostics = app
            .data(
                r#"query($t: ID!) { tenant(id: $t) { allocationDiagnostics {
                    rules { rule { id } verdict matchedUsers placedUsers } } } }"#,
                json!({ "t": d.tenant }),
            )
            .await;
        assert_eq!(
            diagnostics["tenant"]["allocationDiagnostics"]["rules"],
            json!([{ "rule": { "id": id }, "verdict": "EFFECTIVE", "matchedUsers": n,
                "placedUsers": n }])
        );
        let explained = app
            .data(
                r#"query($t: ID!, $u: ID!) { user(tenantId: $t, id: $u) { allocation {
                    explanation { rules { matched rule { targets { costGroupId percent } } } } } } }"#,
                json!({ "t": d.tenant, "u": d.in_department[0] }),
            )
            .await;
        let tried = explained["user"]["allocation"]["explanation"]["rules"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(tried.len(), 1);
        assert_eq!(tried[0]["matched"], true);
        assert_eq!(
            tried[0]["rule"]["targets"],
            json!([{ "costGroupId": d.a, "percent": "60" }, { "costGroupId": d.b, "percent": "40" }])
        );
    }
}

const DELETE_GROUP: &str =
    "mutation($id: ID!, $to: ID) { deleteCostGroup(id: $id, reassignTo: $to) }";

#[tokio::test]
async fn deleting_a_split_target_is_refused_or_merges_its_share_into_the_group_reassigned_to() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let d = demo();
        let id = create_split(&app, &d).await["id"].clone();
        let body = app
            .post(DELETE_GROUP, json!({ "id": d.b, "to": null }))
            .await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{body}");

        app.data(DELETE_GROUP, json!({ "id": d.b, "to": d.a }))
            .await;
        let state = app.data(STATE, json!({ "id": d.tenant })).await;
        assert_eq!(
            state["tenant"]["allocationRules"],
            json!([{ "id": id, "targets": [{ "costGroupId": d.a, "percent": "100" }] }])
        );
        let placed = state["tenant"]["users"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["allocation"]["rule"]["id"] == id)
            .map(|u| u["allocation"]["shares"].clone())
            .collect::<Vec<_>>();
        assert_eq!(placed.len(), d.in_department.len());
        assert!(
            placed
                .iter()
                .all(|s| *s == json!([{ "percent": "100", "costGroup": { "id": d.a } }]))
        );
    }
}
