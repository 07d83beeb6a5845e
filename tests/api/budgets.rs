//! Cost group budgets through the API on every backend: set for a month or from a month on,
//! read against the chargeback of the group's subtree with a forecast and a status, rolled up
//! the tree, removed, audited, refused by name, and kept within the caller's tenants.

use std::str::FromStr;

use chrono::{Datelike, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::chargeback::{Scenario, scenario};
use crate::security::{call, claims, hs_token, hs256};
use crate::support::{TestApp, backends, first_error_code};

const SET: &str = r#"mutation($g: ID!, $m: String, $f: String, $a: Decimal!, $c: String!,
    $t: [Decimal!]) {
    setCostGroupBudget(input: { costGroupId: $g, month: $m, fromMonth: $f, amount: $a,
        currency: $c, thresholds: $t }) { id } }"#;
const REMOVE: &str = r#"mutation($g: ID!, $m: String, $f: String) {
    removeCostGroupBudget(costGroupId: $g, month: $m, fromMonth: $f) { id } }"#;
const BUDGETS: &str = r#"query($t: ID!, $m: String!) { tenant(id: $t) { costGroups { id name
    budget(month: $m) { costGroupId month source period { month singleMonth } amount currency
        thresholds actual forecast remaining actualPercent forecastPercent
        forecastOverThresholds billedDays daysInMonth status } } } }"#;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap_or_else(|| panic!("not a decimal: {v}"))).unwrap()
}

fn set(g: Uuid, month: Option<&str>, from: Option<&str>, amount: &str, t: Value) -> Value {
    json!({ "g": g.to_string(), "m": month, "f": from, "a": amount, "c": "EUR", "t": t })
}

/// Each group's budget for `month`, by group id.
async fn budgets(app: &TestApp, s: &Scenario, month: &str) -> Vec<(Uuid, Value)> {
    let data = app
        .data(BUDGETS, json!({ "t": s.tenant.to_string(), "m": month }))
        .await;
    data["tenant"]["costGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                Uuid::parse_str(g["id"].as_str().unwrap()).unwrap(),
                g["budget"].clone(),
            )
        })
        .collect()
}

fn of(all: &[(Uuid, Value)], g: Uuid) -> Value {
    all.iter().find(|(id, _)| *id == g).unwrap().1.clone()
}

#[tokio::test]
async fn budgets_are_read_against_the_chargeback_of_their_subtree_and_roll_up_the_tree() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        // March 2025: Sales 22.00, Finance 34.00, Company (no users of its own) 56.00.
        app.data(SET, set(s.sales, None, Some("2025-01"), "30", Value::Null))
            .await;
        let march = budgets(&app, &s, "2025-03").await;
        let sales = of(&march, s.sales);
        assert_eq!(sales["source"], "SET", "{sales}");
        assert_eq!(
            sales["period"],
            json!({ "month": "2025-01", "singleMonth": false })
        );
        assert_eq!(
            sales["amount"], "30.00",
            "money shows the currency's minor units"
        );
        assert_eq!(sales["thresholds"], json!(["80", "100"]));
        assert_eq!(
            (dec(&sales["actual"]), dec(&sales["forecast"])),
            (dec(&json!("22")), dec(&json!("22")))
        );
        assert_eq!(dec(&sales["remaining"]), Decimal::from(8));
        assert_eq!(dec(&sales["actualPercent"]), dec(&json!("73.33")));
        assert_eq!(
            (sales["billedDays"].as_i64(), sales["daysInMonth"].as_i64()),
            (Some(31), Some(31))
        );
        assert_eq!(sales["status"], "UNDER");
        assert!(of(&march, s.finance).is_null(), "no budget under Finance");
        assert!(
            budgets(&app, &s, "2024-12")
                .await
                .iter()
                .all(|(_, b)| b.is_null())
        );

        // A budget for March only wins over the one from January on: 22 passes 80 % of 25.
        app.data(SET, set(s.sales, Some("2025-03"), None, "25", Value::Null))
            .await;
        let sales = of(&budgets(&app, &s, "2025-03").await, s.sales);
        assert_eq!(
            (sales["amount"].as_str(), sales["status"].as_str()),
            (Some("25.00"), Some("AT_RISK"))
        );
        assert_eq!(sales["forecastOverThresholds"], json!(["80"]));
        assert_eq!(
            of(&budgets(&app, &s, "2025-04").await, s.sales)["amount"],
            "30.00"
        );

        // Finance is over; Company rolls up its children's 25 + 30 against its subtree's 56.
        app.data(
            SET,
            set(s.finance, None, Some("2025-03"), "30", json!(["50", "90"])),
        )
        .await;
        let march = budgets(&app, &s, "2025-03").await;
        assert_eq!(of(&march, s.finance)["status"], "OVER");
        let company = of(&march, s.company);
        assert_eq!(company["source"], "ROLLED_UP", "{company}");
        assert!(company["period"].is_null());
        assert_eq!(
            (dec(&company["amount"]), dec(&company["actual"])),
            (Decimal::from(55), Decimal::from(56))
        );
        assert_eq!(company["thresholds"], json!(["50", "80", "90", "100"]));
        assert_eq!(company["status"], "OVER");
        // February: only Sales' budget from January on is in force under Company.
        assert_eq!(
            dec(&of(&budgets(&app, &s, "2025-02").await, s.company)["amount"]),
            Decimal::from(30)
        );
        // Company's own budget replaces the roll-up.
        app.data(
            SET,
            set(s.company, Some("2025-03"), None, "100", Value::Null),
        )
        .await;
        let company = of(&budgets(&app, &s, "2025-03").await, s.company);
        assert_eq!(
            (company["source"].as_str(), company["status"].as_str()),
            (Some("SET"), Some("UNDER"))
        );

        // Removing March's budget brings back the one from January on; removing it twice is
        // not found.
        let remove = json!({ "g": s.sales.to_string(), "m": "2025-03" });
        app.data(REMOVE, remove.clone()).await;
        assert_eq!(
            of(&budgets(&app, &s, "2025-03").await, s.sales)["amount"],
            "30.00"
        );
        let again = app.post(REMOVE, remove).await;
        assert_eq!(first_error_code(&again), "NOT_FOUND", "{again}");

        // Each change is audited with the period in its subject.
        let log = app
            .data(
                r#"query($t: ID!) { auditLog(tenantId: $t, first: 20) { edges { node {
                    action subjectType subjectId } } } }"#,
                json!({ "t": s.tenant.to_string() }),
            )
            .await;
        let entries: Vec<(String, String)> = log["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["node"]["subjectType"] == "costGroupBudget")
            .map(|e| {
                let n = &e["node"];
                (
                    n["action"].as_str().unwrap().to_owned(),
                    n["subjectId"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(entries.len(), 5, "{entries:?}");
        assert!(entries.contains(&(
            "removeCostGroupBudget".to_owned(),
            format!("{}@2025-03", s.sales)
        )));
        assert!(entries.contains(&(
            "setCostGroupBudget".to_owned(),
            format!("{}@2025-01+", s.sales)
        )));

        // A budget in another currency than the month's prices cannot be compared.
        let chf = json!({ "g": s.finance.to_string(), "m": "2025-04", "f": null, "a": "10", "c": "CHF", "t": null });
        app.data(SET, chf).await;
        let conflict = app
            .post(
                BUDGETS,
                json!({ "t": s.tenant.to_string(), "m": "2025-04" }),
            )
            .await;
        assert_eq!(first_error_code(&conflict), "CONFLICT", "{conflict}");
        assert!(
            conflict.to_string().contains("set the budget in EUR"),
            "{conflict}"
        );
    }
}

#[tokio::test]
async fn bad_budgets_are_refused_by_name_and_leave_nothing_behind() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let g = s.sales;
        let cases = [
            (
                set(g, Some("2025-03"), Some("2025-03"), "10", Value::Null),
                "BAD_USER_INPUT",
                "exactly one",
            ),
            (
                set(g, None, None, "10", Value::Null),
                "BAD_USER_INPUT",
                "exactly one",
            ),
            (
                set(g, Some("2025-3"), None, "10", Value::Null),
                "BAD_USER_INPUT",
                "input.month",
            ),
            (
                set(g, Some("2025-03"), None, "10.001", Value::Null),
                "BAD_USER_INPUT",
                "at most 2 decimals",
            ),
            (
                set(g, Some("2025-03"), None, "-5", Value::Null),
                "BAD_USER_INPUT",
                "amount",
            ),
            (
                set(g, Some("2025-03"), None, "10", json!(["0"])),
                "BAD_USER_INPUT",
                "thresholds",
            ),
            (
                set(g, Some("2025-03"), None, "10", json!(["80", "80.0"])),
                "BAD_USER_INPUT",
                "thresholds",
            ),
            (
                json!({ "g": g.to_string(), "m": "2025-03", "a": "10", "c": "EURO" }),
                "BAD_USER_INPUT",
                "input.currency",
            ),
            (
                set(Uuid::new_v4(), Some("2025-03"), None, "10", Value::Null),
                "NOT_FOUND",
                "cost group",
            ),
        ];
        for (variables, code, names) in cases {
            let refused = app.post(SET, variables.clone()).await;
            assert_eq!(first_error_code(&refused), code, "{variables}: {refused}");
            assert!(
                refused.to_string().contains(names),
                "{variables}: {refused}"
            );
        }
        assert!(
            budgets(&app, &s, "2025-03")
                .await
                .iter()
                .all(|(_, b)| b.is_null())
        );
    }
}

#[tokio::test]
async fn the_month_in_progress_is_forecast_to_its_end_at_its_daily_rate() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        // User 0 has been in Finance since March 2025 at 62.00 a month: every whole month costs
        // 62.00, so the month so far forecasts about that.
        let month = format!("{:04}-{:02}", Utc::now().year(), Utc::now().month());
        app.data(
            SET,
            set(s.finance, None, Some("2025-03"), "50", Value::Null),
        )
        .await;
        let finance = of(&budgets(&app, &s, &month).await, s.finance);
        let today = i64::from(Utc::now().day());
        assert_eq!(finance["billedDays"].as_i64(), Some(today), "{finance}");
        let forecast = dec(&finance["forecast"]);
        assert!(
            (forecast - Decimal::from(62)).abs() <= dec(&json!("0.10")),
            "{finance}"
        );
        let actual = dec(&finance["actual"]);
        let expected = if actual > Decimal::from(50) {
            "OVER"
        } else {
            "AT_RISK"
        };
        assert_eq!(finance["status"], expected, "{finance}");
        assert_eq!(finance["forecastOverThresholds"], json!(["80", "100"]));
    }
}

#[tokio::test]
async fn budgets_cost_the_same_statements_for_eight_groups_and_for_thirteen() {
    for backend in backends() {
        let app = TestApp::uncached(backend).await;
        let s = scenario(&app).await;
        let plain = r#"query($t: ID!, $m: String!) { tenant(id: $t) { costGroups { id name } } }"#;
        let vars = json!({ "t": s.tenant.to_string(), "m": "2025-03" });
        let mut extra = Vec::new();
        let mut baseline = None;
        // Round 0 reads the scenario's groups, written without configuration versions; rounds
        // 1 and 2 read 8 and 13 groups made through the API.
        for round in 0..3 {
            for g in [s.sales, s.finance, s.company]
                .into_iter()
                .chain(extra.iter().copied())
            {
                app.data(SET, set(g, None, Some("2025-01"), "40", Value::Null))
                    .await;
            }
            let (_, without) = app.counted(plain, vars.clone()).await;
            let (answer, with) = app.counted(BUDGETS, vars.clone()).await;
            assert!(answer["errors"].is_null(), "{answer}");
            let groups = answer["data"]["tenant"]["costGroups"].as_array().unwrap();
            let with_budget = groups
                .iter()
                .filter(|g| g["budget"]["status"].is_string())
                .count();
            assert_eq!(with_budget, 3 + extra.len(), "{answer}");
            // What the budgets add: their rows and the month's chargeback, once.
            let added = with - without;
            if round > 0 {
                assert_eq!(
                    *baseline.get_or_insert(added),
                    added,
                    "round {round}: statements grew"
                );
            }
            for n in 0..5 {
                let created = app
                    .data(
                        r#"mutation($t: ID!, $n: String!, $p: ID) {
                            createCostGroup(input: {tenantId: $t, name: $n, parentId: $p}) { id } }"#,
                        json!({ "t": s.tenant.to_string(), "n": format!("Team {round}-{n}"),
                            "p": s.company.to_string() }),
                    )
                    .await;
                let id = created["createCostGroup"]["id"].as_str().unwrap();
                extra.push(Uuid::parse_str(id).unwrap());
            }
        }
    }
}

#[tokio::test]
async fn budgets_are_set_by_allocators_of_the_tenant_only() {
    for backend in backends() {
        let app = TestApp::with_auth(backend, hs256(), None).await;
        let s = scenario(&app).await;
        let token = |name: &str, role: &str, tenant: Uuid| {
            hs_token(&claims(
                name,
                json!({ "roles": [role], "tenants": [tenant.to_string()] }),
            ))
        };
        let variables = set(s.sales, Some("2025-03"), None, "10", Value::Null);
        let reader = token("reader", "reader", s.tenant);
        let (_, refused) = call(&app, Some(&reader), SET, variables.clone()).await;
        assert_eq!(first_error_code(&refused), "FORBIDDEN", "{refused}");
        let stranger = token("allocator-b", "allocator", s.other);
        let (_, hidden) = call(&app, Some(&stranger), SET, variables.clone()).await;
        assert_eq!(first_error_code(&hidden), "NOT_FOUND", "{hidden}");
        let allocator = token("allocator-a", "allocator", s.tenant);
        let (_, done) = call(&app, Some(&allocator), SET, variables).await;
        assert!(done.get("errors").is_none(), "{done}");
        let (_, read) = call(
            &app,
            Some(&reader),
            BUDGETS,
            json!({ "t": s.tenant.to_string(), "m": "2025-03" }),
        )
        .await;
        let groups = read["data"]["tenant"]["costGroups"].as_array().unwrap();
        let sales = groups
            .iter()
            .find(|g| g["id"] == s.sales.to_string())
            .unwrap();
        assert_eq!(sales["budget"]["status"], "OVER", "{read}");
    }
}

#[tokio::test]
async fn a_month_no_budget_is_for_is_answered_without_reading_its_chargeback() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        app.data(SET, set(s.sales, Some("2025-03"), None, "30", Value::Null))
            .await;
        let vars = |m: &str| json!({ "t": s.tenant.to_string(), "m": m });
        let (april, sql) = app.traced(BUDGETS, vars("2025-04")).await;
        let groups = april["data"]["tenant"]["costGroups"].as_array().unwrap();
        assert!(groups.iter().all(|g| g["budget"].is_null()), "{april}");
        assert!(
            !sql.iter().any(|q| q.contains("license_deltas")),
            "April has no budget: {sql:#?}"
        );
        let (march, sql) = app.traced(BUDGETS, vars("2025-03")).await;
        assert_eq!(
            of(&budgets(&app, &s, "2025-03").await, s.sales)["source"],
            "SET"
        );
        assert!(march["errors"].is_null(), "{march}");
        assert!(sql.iter().any(|q| q.contains("license_deltas")), "{sql:#?}");
    }
}

#[tokio::test]
async fn renaming_a_cost_group_leaves_the_budgets_unread_and_moving_one_evaluates_them() {
    const UPDATE: &str = r#"mutation($g: ID!, $i: UpdateCostGroupInput!) {
        updateCostGroup(id: $g, input: $i) { id name parent { id } } }"#;
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        app.data(
            SET,
            set(s.company, None, Some("2025-01"), "40", Value::Null),
        )
        .await;
        let budget_statements = |sql: &[String]| {
            sql.iter()
                .filter(|q| q.contains("cost_group_budgets"))
                .count()
        };
        // A new name, code and description move no amount: no budget is read, so no chargeback
        // is computed under the tenant's lock.
        let input = json!({ "name": "Finanzen", "code": "CC-F", "description": "Finance" });
        let (answer, sql) = app
            .traced(UPDATE, json!({ "g": s.finance.to_string(), "i": input }))
            .await;
        assert!(answer["errors"].is_null(), "{answer}");
        assert_eq!(answer["data"]["updateCostGroup"]["name"], "Finanzen");
        assert_eq!(budget_statements(&sql), 0, "{sql:#?}");
        // Naming the parent it has is no move either.
        let input = json!({ "parentId": s.company.to_string() });
        let (answer, sql) = app
            .traced(UPDATE, json!({ "g": s.finance.to_string(), "i": input }))
            .await;
        assert!(answer["errors"].is_null(), "{answer}");
        assert_eq!(budget_statements(&sql), 0, "{sql:#?}");
        // Moving Finance out of Company changes Company's subtree: its budget is evaluated.
        let input = json!({ "moveToRoot": true });
        let (answer, sql) = app
            .traced(UPDATE, json!({ "g": s.finance.to_string(), "i": input }))
            .await;
        assert!(answer["errors"].is_null(), "{answer}");
        assert!(
            answer["data"]["updateCostGroup"]["parent"].is_null(),
            "{answer}"
        );
        assert!(budget_statements(&sql) > 0, "{sql:#?}");
    }
}
