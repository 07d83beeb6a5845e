//! The monthly chargeback through the API on every backend: days billed to the cost groups in
//! force each day, prices in force each day, rounding that adds up, closing and reopening a
//! month, the CSV and FOCUS exports, their guards and tenant isolation. History rows are
//! written directly (a past month cannot be imported today), the rest goes through the API.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tenantgraph::store::entities::{
    allocation_history, cost_group, import_run, license_history, license_price, sku_count_history,
    subscription, user, user_allocation, user_license,
};
use uuid::Uuid;

use crate::importer::store_db;
use crate::support::csv_body::csv_records;
use crate::support::{TestApp, backends, first_error_code};

const LINE: &str = "licenseDays amount exactAmount skus { skuId licenseDays amount }";

fn query() -> String {
    format!(
        r#"query($t: ID!, $m: String!) {{ tenant(id: $t) {{ chargeback(month: $m) {{
        month currency firstDay lastDay closed closedAt closedBy
        costGroups {{ costGroupId costGroup {{ name }} own {{ {LINE} }} withDescendants {{ {LINE} }} }}
        unallocated {{ {LINE} }} unassigned {{ {LINE} }} total {{ {LINE} }} }} }} }}"#
    )
}

const SET_PRICE: &str = r#"mutation($t: ID!, $s: ID!, $p: Decimal!, $f: Date!) {
    setLicensePrice(input: {tenantId: $t, skuId: $s, monthlyUnitPrice: $p, currency: "EUR",
        effectiveFrom: $f}) { skuId } }"#;
const CLOSE: &str = r#"mutation($t: ID!, $m: String!) { closeChargeback(tenantId: $t, month: $m) {
    month closed closedAt total { amount } } }"#;
const REOPEN: &str = r#"mutation($t: ID!, $m: String!, $r: String!) {
    reopenChargeback(tenantId: $t, month: $m, reason: $r) { closed total { amount } } }"#;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap_or_else(|| panic!("not a decimal: {v}"))).unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A demo tenant whose history is replaced by a known March 2025.
pub(crate) struct Scenario {
    pub(crate) tenant: Uuid,
    pub(crate) other: Uuid,
    pub(crate) sku: Uuid,
    users: Vec<Uuid>,
    pub(crate) sales: Uuid,
    pub(crate) finance: Uuid,
    pub(crate) company: Uuid,
}

async fn group(db: &DatabaseConnection, tenant: Uuid, name: &str, parent: Option<Uuid>) -> Uuid {
    let id = Uuid::new_v4();
    let now = chrono::Utc::now();
    cost_group::Entity::insert(cost_group::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant),
        parent_id: Set(parent),
        name: Set(name.to_owned()),
        code: Set(Some(format!("CC-{name}"))),
        description: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await
    .unwrap();
    id
}

async fn holding(db: &DatabaseConnection, s: &Scenario, user: usize, from: &str, to: Option<&str>) {
    match to {
        None => user_license::Entity::insert(user_license::ActiveModel {
            user_id: Set(s.users[user]),
            sku_id: Set(s.sku),
            tenant_id: Set(s.tenant),
            disabled_plans: Set(json!([])),
            held_from: Set(Some(day(from))),
        })
        .exec_without_returning(db)
        .await
        .unwrap(),
        Some(to) => license_history::Entity::insert(license_history::ActiveModel {
            id: NotSet,
            tenant_id: Set(s.tenant),
            user_id: Set(s.users[user]),
            sku_id: Set(s.sku),
            disabled_plans: Set(json!([])),
            valid_from: Set(Some(day(from))),
            valid_to: Set(day(to)),
        })
        .exec_without_returning(db)
        .await
        .unwrap(),
    };
}

/// `user`'s share of `group` from `from` (`None`: before history) to `to` (`None`: in force).
async fn share(
    db: &DatabaseConnection,
    s: &Scenario,
    user: usize,
    group: Uuid,
    percent: &str,
    from: Option<&str>,
    to: Option<&str>,
) {
    match to {
        None => user_allocation::Entity::insert(user_allocation::ActiveModel {
            user_id: Set(s.users[user]),
            cost_group_id: Set(group),
            tenant_id: Set(s.tenant),
            percent: Set(percent.to_owned()),
            source: Set("OVERRIDE".to_owned()),
            rule_id: Set(None),
            allocated_from: Set(from.map(day)),
        })
        .exec_without_returning(db)
        .await
        .unwrap(),
        Some(to) => allocation_history::Entity::insert(allocation_history::ActiveModel {
            id: NotSet,
            tenant_id: Set(s.tenant),
            user_id: Set(s.users[user]),
            cost_group_id: Set(group),
            valid_from: Set(from.map(day)),
            valid_to: Set(day(to)),
            percent: Set(percent.to_owned()),
            source: Set("OVERRIDE".to_owned()),
            rule_id: Set(None),
        })
        .exec_without_returning(db)
        .await
        .unwrap(),
    };
}

async fn price(db: &DatabaseConnection, s: &Scenario, amount: &str, from: &str) {
    license_price::Entity::insert(license_price::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(s.tenant),
        sku_id: Set(s.sku),
        effective_from: Set(day(from)),
        monthly_unit_price: Set(amount.to_owned()),
        currency: Set("EUR".to_owned()),
        created_at: Set(chrono::Utc::now()),
    })
    .exec_without_returning(db)
    .await
    .unwrap();
}

/// The demo's first tenant with its history replaced: imports observed from 2025-01-01; one
/// SKU at 31.00 EUR a month (1.00 a day in March) until 2025-03-16, then 62.00; 3 idle seats
/// all along; cost groups Company > {Sales, Finance}; in March 2025:
/// - user 0 holds the SKU all month, in Sales until the 14th, then in Finance;
/// - user 1 holds it from the 1st to the 10th (9 days), in Sales;
/// - user 2 is given it on the 20th and is in no cost group.
pub(crate) async fn scenario(app: &TestApp) -> Scenario {
    crate::support::demo::seed(&app.store).await;
    let db = store_db(&app.store).await;
    let mut tenants: Vec<Uuid> = user::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.tenant_id)
        .collect();
    tenants.sort();
    tenants.dedup();
    let (tenant, other) = (tenants[0], tenants[1]);
    let users: Vec<Uuid> = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .order_by_asc(user::Column::Id)
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .take(4)
        .map(|u| u.id)
        .collect();
    let sku = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant))
        .order_by_asc(subscription::Column::SkuId)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    user_license::Entity::delete_many()
        .filter(user_license::Column::TenantId.eq(tenant))
        .exec(&db)
        .await
        .unwrap();
    user_allocation::Entity::delete_many()
        .filter(user_allocation::Column::TenantId.eq(tenant))
        .exec(&db)
        .await
        .unwrap();
    sku_count_history::Entity::delete_many()
        .filter(sku_count_history::Column::TenantId.eq(tenant))
        .exec(&db)
        .await
        .unwrap();
    import_run::Entity::update_many()
        .col_expr(
            import_run::Column::ObservedOn,
            sea_orm::sea_query::Expr::value(day("2025-01-01")),
        )
        .filter(import_run::Column::TenantId.eq(tenant))
        .exec(&db)
        .await
        .unwrap();
    sku_count_history::Entity::insert(sku_count_history::ActiveModel {
        tenant_id: Set(tenant),
        sku_id: Set(sku.sku_id),
        valid_from: Set(day("2025-01-01")),
        valid_to: Set(None),
        sku_part_number: Set(sku.sku_part_number.clone()),
        applies_to: Set("User".to_owned()),
        prepaid_enabled: Set(5),
        prepaid_warning: Set(0),
        prepaid_suspended: Set(0),
        prepaid_locked_out: Set(0),
        consumed_units: Set(2),
        billing: Set("PARTNER".to_owned()),
    })
    .exec_without_returning(&db)
    .await
    .unwrap();
    let company = group(&db, tenant, "Company", None).await;
    let sales = group(&db, tenant, "Sales", Some(company)).await;
    let finance = group(&db, tenant, "Finance", Some(company)).await;
    let s = Scenario {
        tenant,
        other,
        sku: sku.sku_id,
        users,
        sales,
        finance,
        company,
    };
    price(&db, &s, "31", "2025-01-01").await;
    price(&db, &s, "62", "2025-03-16").await;
    holding(&db, &s, 0, "2025-01-01", None).await;
    share(&db, &s, 0, sales, "100", None, Some("2025-03-14")).await;
    share(&db, &s, 0, finance, "100", Some("2025-03-14"), None).await;
    holding(&db, &s, 1, "2025-02-01", Some("2025-03-10")).await;
    share(&db, &s, 1, sales, "100", None, None).await;
    holding(&db, &s, 2, "2025-03-20", None).await;
    count_history(app, &s).await;
    s
}

/// Counts the history written straight into the tables above, as a migrated store's is.
pub(crate) async fn count_history(app: &TestApp, s: &Scenario) {
    tenantgraph::store::history::license_deltas::rebuild(
        &app.store,
        tenantgraph::domain::TenantId(s.tenant),
    )
    .await
    .unwrap();
}

async fn chargeback(app: &TestApp, tenant: Uuid, month: &str) -> Value {
    app.data(&query(), json!({ "t": tenant.to_string(), "m": month }))
        .await["tenant"]["chargeback"]
        .clone()
}

fn group_line<'a>(c: &'a Value, id: Uuid, which: &str) -> &'a Value {
    let g = c["costGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["costGroupId"] == id.to_string())
        .unwrap_or_else(|| panic!("group {id} missing: {c}"));
    &g[which]
}

/// The cost groups' own lines, unallocated and unassigned add up to the total, per SKU too.
fn assert_adds_up(c: &Value) {
    let mut lines: Vec<&Value> = c["costGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["own"])
        .collect();
    lines.extend([&c["unallocated"], &c["unassigned"]]);
    let sum: Decimal = lines.iter().map(|l| dec(&l["amount"])).sum();
    assert_eq!(sum, dec(&c["total"]["amount"]), "{c}");
    for sku in c["total"]["skus"].as_array().unwrap() {
        let of_sku: Decimal = lines
            .iter()
            .flat_map(|l| l["skus"].as_array().unwrap())
            .filter(|s| s["skuId"] == sku["skuId"])
            .map(|s| dec(&s["amount"]))
            .sum();
        assert_eq!(of_sku, dec(&sku["amount"]), "{c}");
    }
}

#[tokio::test]
async fn each_day_is_billed_to_the_cost_group_of_that_day_at_that_days_price() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let c = chargeback(&app, s.tenant, "2025-03").await;
        assert_eq!(c["month"], "2025-03");
        assert_eq!(c["currency"], "EUR");
        assert_eq!(
            (c["firstDay"].as_str(), c["lastDay"].as_str()),
            (Some("2025-03-01"), Some("2025-03-31"))
        );
        assert_eq!(c["closed"], false);
        // User 0: Sales the 1st to the 13th at 1.00 a day, Finance the 14th and 15th at 1.00
        // and the 16th to the 31st at 2.00; user 1: Sales 9 days at 1.00.
        let sales = group_line(&c, s.sales, "own");
        assert_eq!(
            (dec(&sales["licenseDays"]), dec(&sales["amount"])),
            (Decimal::from(22), Decimal::from(22))
        );
        let finance = group_line(&c, s.finance, "own");
        assert_eq!(
            (dec(&finance["licenseDays"]), dec(&finance["amount"])),
            (Decimal::from(18), Decimal::from(34))
        );
        let company = group_line(&c, s.company, "withDescendants");
        assert_eq!(
            (dec(&company["licenseDays"]), dec(&company["amount"])),
            (Decimal::from(40), Decimal::from(56))
        );
        assert_eq!(
            dec(&group_line(&c, s.company, "own")["amount"]),
            Decimal::ZERO
        );
        // User 2, from the 20th: 12 days at 2.00, in no cost group.
        assert_eq!(
            (
                dec(&c["unallocated"]["licenseDays"]),
                dec(&c["unallocated"]["amount"])
            ),
            (Decimal::from(12), Decimal::from(24))
        );
        // 3 idle seats: 15 days at 1.00 and 16 at 2.00 each.
        assert_eq!(
            (
                dec(&c["unassigned"]["licenseDays"]),
                dec(&c["unassigned"]["amount"])
            ),
            (Decimal::from(93), Decimal::from(141))
        );
        assert_eq!(dec(&c["total"]["amount"]), Decimal::from(221));
        assert_eq!(c["total"]["skus"][0]["skuId"], s.sku.to_string());
        assert_adds_up(&c);

        // February: user 1 held it all month (28 days at 31/28 a day), user 0 too.
        let feb = chargeback(&app, s.tenant, "2025-02").await;
        assert_eq!(
            dec(&group_line(&feb, s.sales, "own")["licenseDays"]),
            Decimal::from(56)
        );
        assert_eq!(
            dec(&group_line(&feb, s.sales, "own")["amount"]),
            Decimal::from(62)
        );
        assert_adds_up(&feb);
        sleep_free_teardown(app).await;
    }
}

/// Nothing to wait for; dropping the app drops its database.
async fn sleep_free_teardown(_app: TestApp) {}

#[tokio::test]
async fn months_before_history_in_the_future_or_malformed_have_defined_answers() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        // Before the first import: no day is billed, every line is empty.
        let before = chargeback(&app, s.tenant, "2024-12").await;
        assert!(
            before["firstDay"].is_null() && before["lastDay"].is_null(),
            "{before}"
        );
        assert_eq!(dec(&before["total"]["amount"]), Decimal::ZERO);
        assert_eq!(before["total"]["skus"], json!([]));
        // A month that has not begun: the same.
        let future = chargeback(&app, s.tenant, "2999-01").await;
        assert!(future["firstDay"].is_null(), "{future}");
        assert_eq!(dec(&future["total"]["amount"]), Decimal::ZERO);
        // The current month is billed up to today.
        let today = chrono::Utc::now().date_naive();
        let now = chargeback(&app, s.tenant, &today.format("%Y-%m").to_string()).await;
        assert_eq!(now["lastDay"], today.to_string(), "{now}");
        for bad in ["2025-13", "2025-3", "March", "2025-03-01", "", "1999-12"] {
            let body = app
                .post(&query(), json!({ "t": s.tenant.to_string(), "m": bad }))
                .await;
            assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{bad}: {body}");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("YYYY-MM"), "{message}");
        }
    }
}

#[tokio::test]
async fn split_users_are_rounded_so_that_lines_add_up_to_the_cent() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let db = store_db(&app.store).await;
        // User 3 split in three all March, at 10.00 a month from the 18th: remainders
        // everywhere.
        holding(&db, &s, 3, "2025-01-01", None).await;
        for (g, p) in [
            (s.sales, "33.33"),
            (s.finance, "33.33"),
            (s.company, "33.34"),
        ] {
            share(&db, &s, 3, g, p, None, None).await;
        }
        price(&db, &s, "10", "2025-03-18").await;
        count_history(&app, &s).await;
        let c = chargeback(&app, s.tenant, "2025-03").await;
        assert_adds_up(&c);
        let total = dec(&c["total"]["amount"]);
        let exact = dec(&c["total"]["exactAmount"]);
        assert!(
            (total - exact).abs() <= Decimal::new(1, 2),
            "{total} vs {exact}"
        );
        assert_eq!(total.scale(), 2, "{total}");
    }
}

#[tokio::test]
async fn a_closed_month_stays_as_it_was_refuses_prices_inside_it_and_reopens() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let t = s.tenant.to_string();
        let before = chargeback(&app, s.tenant, "2025-03").await;
        let closed = app.data(CLOSE, json!({ "t": t, "m": "2025-03" })).await;
        assert_eq!(closed["closeChargeback"]["closed"], true);
        assert_eq!(
            closed["closeChargeback"]["total"]["amount"],
            before["total"]["amount"]
        );
        let again = app.post(CLOSE, json!({ "t": t, "m": "2025-03" })).await;
        assert_eq!(first_error_code(&again), "CONFLICT", "{again}");

        // History changes after closing: user 0's license is gone, a group is deleted.
        let db = store_db(&app.store).await;
        user_license::Entity::delete_many()
            .filter(user_license::Column::UserId.eq(s.users[0]))
            .exec(&db)
            .await
            .unwrap();
        count_history(&app, &s).await;
        let after = chargeback(&app, s.tenant, "2025-03").await;
        assert_eq!(after["closed"], true);
        assert!(after["closedAt"].is_string());
        for key in ["costGroups", "unallocated", "unassigned", "total"] {
            assert_eq!(after[key], before[key], "{key}");
        }
        // An open month does change.
        let feb = chargeback(&app, s.tenant, "2025-02").await;
        assert_eq!(
            dec(&group_line(&feb, s.sales, "own")["licenseDays"]),
            Decimal::from(28)
        );

        // A price that would be in force on a day of March is refused, naming the month;
        // one from April on is not.
        let sku = s.sku.to_string();
        for from in ["2025-03-20", "2025-02-01", "2025-03-31"] {
            let refused = app
                .post(SET_PRICE, json!({ "t": t, "s": sku, "p": "99", "f": from }))
                .await;
            assert_eq!(first_error_code(&refused), "CONFLICT", "{from}: {refused}");
            assert!(
                refused["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("2025-03"),
                "{refused}"
            );
        }
        let prices = license_price::Entity::find()
            .filter(license_price::Column::TenantId.eq(s.tenant))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(prices.len(), 2, "refused prices are not written");
        app.data(
            SET_PRICE,
            json!({ "t": t, "s": sku, "p": "99", "f": "2025-04-01" }),
        )
        .await;
        // Before the March price of the 16th took over, but the earlier one stays in force in
        // March: refused too.
        let refused = app
            .post(
                SET_PRICE,
                json!({ "t": t, "s": sku, "p": "5", "f": "2025-01-15" }),
            )
            .await;
        assert_eq!(first_error_code(&refused), "CONFLICT", "{refused}");

        let empty = app
            .post(REOPEN, json!({ "t": t, "m": "2025-03", "r": " " }))
            .await;
        assert_eq!(first_error_code(&empty), "BAD_USER_INPUT", "{empty}");
        let reopened = app
            .data(
                REOPEN,
                json!({ "t": t, "m": "2025-03", "r": "license removal was late" }),
            )
            .await;
        assert_eq!(reopened["reopenChargeback"]["closed"], false);
        // User 0's 31 days are gone: 221 - 13 - 34 = 174.
        assert_eq!(
            dec(&reopened["reopenChargeback"]["total"]["amount"]),
            Decimal::from(174)
        );
        let not_closed = app
            .post(REOPEN, json!({ "t": t, "m": "2025-03", "r": "again" }))
            .await;
        assert_eq!(first_error_code(&not_closed), "NOT_FOUND", "{not_closed}");
        let log = app
            .data(
                r#"query($t: ID!) { auditLog(tenantId: $t, first: 20) { edges { node {
                    action subjectId after } } } }"#,
                json!({ "t": t }),
            )
            .await;
        let actions: Vec<(String, String)> = log["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["node"]["action"].as_str().unwrap().to_owned(),
                    e["node"]["subjectId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        assert!(
            actions.contains(&("closeChargeback".to_owned(), "2025-03".to_owned())),
            "{log}"
        );
        assert!(
            actions.contains(&("reopenChargeback".to_owned(), "2025-03".to_owned())),
            "{log}"
        );
        assert!(
            log.to_string().contains("license removal was late"),
            "{log}"
        );

        // A month that has not ended cannot be closed.
        let today = chrono::Utc::now().date_naive();
        let current = app
            .post(
                CLOSE,
                json!({ "t": t, "m": today.format("%Y-%m").to_string() }),
            )
            .await;
        assert_eq!(first_error_code(&current), "BAD_USER_INPUT", "{current}");
    }
}

fn column(rows: &[Vec<String>], name: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no {name}: {:?}", rows[0]))
}

#[tokio::test]
async fn the_chargeback_and_focus_exports_list_the_months_charges() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        let body = app
            .get_text(&format!(
                "/export/tenants/{}/chargeback.csv?month=2025-03",
                s.tenant
            ))
            .await;
        let r = csv_records(body.as_bytes(), b',');
        let (section, path, sku, amount, days) = (
            column(&r, "section"),
            column(&r, "cost_group_path"),
            column(&r, "sku_id"),
            column(&r, "amount"),
            column(&r, "license_days"),
        );
        let find = |sec: &str, p: &str, with_sku: bool| {
            r.iter()
                .find(|row| {
                    row[section] == sec && row[path] == p && row[sku].is_empty() != with_sku
                })
                .unwrap_or_else(|| panic!("{sec} {p}: {body}"))
        };
        assert_eq!(
            find("COST_GROUP", "Company / Sales", false)[amount],
            "22.00"
        );
        assert_eq!(find("COST_GROUP", "Company / Finance", true)[days], "18");
        assert_eq!(find("UNALLOCATED", "", false)[amount], "24.00");
        assert_eq!(find("UNASSIGNED", "", false)[amount], "141.00");
        assert_eq!(find("TOTAL", "", false)[amount], "221.00");

        let body = app
            .get_text(&format!(
                "/export/tenants/{}/focus.csv?month=2025-03",
                s.tenant
            ))
            .await;
        let f = csv_records(body.as_bytes(), b',');
        for name in [
            "BilledCost",
            "EffectiveCost",
            "ListCost",
            "BillingCurrency",
            "BillingPeriodStart",
            "BillingPeriodEnd",
            "ChargePeriodStart",
            "ChargePeriodEnd",
            "ChargeCategory",
            "SkuId",
            "ConsumedQuantity",
            "ConsumedUnit",
            "Tags",
            "ServiceName",
            "SubAccountId",
        ] {
            column(&f, name);
        }
        let billed = column(&f, "BilledCost");
        let total: Decimal = f[1..]
            .iter()
            .map(|row| Decimal::from_str(&row[billed]).unwrap())
            .sum();
        assert_eq!(total, Decimal::from(221));
        let tags = column(&f, "Tags");
        let sales_row = f[1..]
            .iter()
            .find(|row| row[tags].contains("Company / Sales"))
            .unwrap_or_else(|| panic!("{body}"));
        let tag: Value = serde_json::from_str(&sales_row[tags]).unwrap();
        assert_eq!(tag["costGroupId"], s.sales.to_string());
        assert_eq!(sales_row[billed], "22.00");
        assert_eq!(sales_row[column(&f, "BillingCurrency")], "EUR");
        assert_eq!(
            sales_row[column(&f, "BillingPeriodStart")],
            "2025-03-01T00:00:00Z"
        );
        assert_eq!(
            sales_row[column(&f, "BillingPeriodEnd")],
            "2025-04-01T00:00:00Z"
        );
        assert_eq!(sales_row[column(&f, "SkuId")], s.sku.to_string());

        for (path, status) in [
            (format!("/export/tenants/{}/chargeback.csv", s.tenant), 400),
            (
                format!("/export/tenants/{}/focus.csv?month=2025-3", s.tenant),
                400,
            ),
            (
                "/export/tenants/00000000-0000-0000-0000-000000000001/focus.csv?month=2025-03"
                    .to_owned(),
                404,
            ),
            (
                "/export/tenants/not-a-guid/chargeback.csv?month=2025-03".to_owned(),
                400,
            ),
        ] {
            let response = app.client.get(app.url(&path)).send().await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{path}");
        }
    }
}

#[tokio::test]
async fn chargebacks_and_their_exports_stay_within_the_callers_tenants() {
    use crate::security::{claims, hs_token, hs256};
    for backend in backends() {
        let app = TestApp::with_auth(backend, hs256(), None).await;
        let s = scenario(&app).await;
        let of_other = hs_token(&claims(
            "reader-b",
            json!({ "roles": ["reader"], "tenants": [s.other.to_string()] }),
        ));
        let of_tenant = hs_token(&claims(
            "allocator-a",
            json!({ "roles": ["allocator"], "tenants": [s.tenant.to_string()] }),
        ));
        for file in ["chargeback.csv", "focus.csv"] {
            let path = format!("/export/tenants/{}/{file}?month=2025-03", s.tenant);
            let anonymous = app.client.get(app.url(&path)).send().await.unwrap();
            assert_eq!(anonymous.status(), 401, "{file}");
            let other = app
                .client
                .get(app.url(&path))
                .bearer_auth(&of_other)
                .send()
                .await
                .unwrap();
            assert_eq!(other.status(), 404, "{file}");
            let own = app
                .client
                .get(app.url(&path))
                .bearer_auth(&of_tenant)
                .send()
                .await
                .unwrap();
            assert_eq!(own.status(), 200, "{file}");
        }
        let (_, seen) = crate::security::call(
            &app,
            Some(&of_other),
            &query(),
            json!({ "t": s.tenant.to_string(), "m": "2025-03" }),
        )
        .await;
        assert!(seen["data"]["tenant"].is_null(), "{seen}");
        // Closing needs allocator; reopening needs partner_admin.
        let t = s.tenant.to_string();
        let (_, closed) = crate::security::call(
            &app,
            Some(&of_tenant),
            CLOSE,
            json!({ "t": t, "m": "2025-03" }),
        )
        .await;
        assert_eq!(
            closed["data"]["closeChargeback"]["closed"], true,
            "{closed}"
        );
        let (_, refused) = crate::security::call(
            &app,
            Some(&of_tenant),
            REOPEN,
            json!({ "t": t, "m": "2025-03", "r": "x" }),
        )
        .await;
        assert_eq!(first_error_code(&refused), "FORBIDDEN", "{refused}");
        let (_, hidden) = crate::security::call(
            &app,
            Some(&of_other),
            CLOSE,
            json!({ "t": t, "m": "2025-02" }),
        )
        .await;
        assert_eq!(first_error_code(&hidden), "NOT_FOUND", "{hidden}");
        let admin = hs_token(&claims("admin", json!({ "roles": ["partner_admin"] })));
        let (_, reopened) = crate::security::call(
            &app,
            Some(&admin),
            REOPEN,
            json!({ "t": t, "m": "2025-03", "r": "x" }),
        )
        .await;
        assert_eq!(
            reopened["data"]["reopenChargeback"]["closed"], false,
            "{reopened}"
        );
    }
}

/// A tenant of `n` users imported today with a price for each SKU and a cost group that a rule
/// fills with the Sales department; returns the tenant id.
async fn priced_tenant(app: &TestApp, n: usize) -> String {
    priced_snapshot(app, n).await.0
}

/// [`priced_tenant`], with what was imported.
async fn priced_snapshot(
    app: &TestApp,
    n: usize,
) -> (String, crate::support::snapshot::TenantSnapshot) {
    use crate::statements::big_tenant;
    use crate::support::snapshot::replace_tenant;
    let snapshot = big_tenant(n);
    replace_tenant(&app.store, &snapshot, chrono::Utc::now())
        .await
        .unwrap();
    let tenant = snapshot.tenant.id.to_string();
    let today = chrono::Utc::now().date_naive().to_string();
    for sku in &snapshot.subscriptions {
        app.data(
            SET_PRICE,
            json!({ "t": tenant, "s": sku.sku_id.to_string(), "p": "12.40", "f": today }),
        )
        .await;
    }
    let group = app
        .data(
            r#"mutation($t: ID!) { createCostGroup(input: {tenantId: $t, name: "Sales"}) { id } }"#,
            json!({ "t": tenant }),
        )
        .await["createCostGroup"]["id"]
        .clone();
    app.data(
        r#"mutation($t: ID!, $g: ID!) { createAllocationRule(input: {tenantId: $t, costGroupId: $g,
            conditions: [{attribute: DEPARTMENT, operator: EQUALS, values: ["Sales"]}]}) { id } }"#,
        json!({ "t": tenant, "g": group }),
    )
    .await;
    (tenant, snapshot)
}

#[tokio::test]
async fn statements_per_chargeback_are_the_same_for_10_and_600_users() {
    for backend in backends() {
        let app = TestApp::uncached(backend).await;
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        let mut counts = Vec::new();
        for n in [10, 600] {
            let tenant = priced_tenant(&app, n).await;
            let (body, count) = app
                .counted(&query(), json!({ "t": tenant, "m": month }))
                .await;
            assert!(body.get("errors").is_none(), "{body}");
            let c = &body["data"]["tenant"]["chargeback"];
            // Every user holds a license today, a third of them in Sales.
            assert!(
                dec(&c["total"]["licenseDays"]) >= Decimal::from(n as u64),
                "{backend:?}: {c}"
            );
            assert!(
                dec(&c["costGroups"][0]["own"]["amount"]) > Decimal::ZERO,
                "{c}"
            );
            assert!(dec(&c["unallocated"]["amount"]) > Decimal::ZERO, "{c}");
            assert_adds_up(c);
            counts.push(count);
        }
        assert_eq!(counts[0], counts[1], "10 vs 600 users on {backend:?}");
        // the tenant of the query; in the chargeback's transaction the tenant again, a closed
        // month, prices, cost groups, the first import, idle seats, the licenses held counted
        // and the licenses with their shares counted; the subscriptions of the SKU lines
        assert_eq!(counts[1], 10, "{backend:?}");
    }
}

/// A tenant's chargeback reads the license day counts its commits kept, in two statements that
/// seek them by tenant and day (no table read whole, no license or share read), and places each
/// of its own licenses once, with another tenant's counts in the same tables. On SQLite, whose
/// plans the test reads.
#[tokio::test]
async fn chargeback_reads_the_license_day_counts_by_tenant_in_two_statements() {
    let app = TestApp::empty(crate::support::Backend::Sqlite).await;
    let (tenant, snapshot) = priced_snapshot(&app, 900).await;
    // Another tenant, whose user ids interleave with this one's.
    priced_tenant(&app, 300).await;
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let (body, statements) = app
        .traced(&query(), json!({ "t": tenant, "m": month }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let c = &body["data"]["tenant"]["chargeback"];
    assert_adds_up(c);
    // Imported today: one day of each license, in a cost group or unallocated.
    let held = Decimal::from(snapshot.licenses.len() as u64);
    let placed = c["costGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| dec(&g["own"]["licenseDays"]))
        .sum::<Decimal>()
        + dec(&c["unallocated"]["licenseDays"]);
    assert_eq!(placed, held, "{c}");
    assert_eq!(
        dec(&c["total"]["licenseDays"]) - dec(&c["unassigned"]["licenseDays"]),
        held
    );
    for table in [
        "user_licenses",
        "license_history",
        "user_allocations",
        "allocation_history",
    ] {
        assert!(
            !statements.iter().any(|s| s.contains(table)),
            "{table}: {statements:#?}"
        );
    }
    let reads: Vec<&String> = statements
        .iter()
        .filter(|s| s.contains("_license_deltas"))
        .collect();
    assert_eq!(reads.len(), 2, "held, then allocated: {statements:#?}");
    assert!(reads[0].contains("held_license_deltas"));
    assert!(reads[1].contains("allocated_license_deltas"));
    for sql in reads {
        let plan = app.store.query_plan(sql).await.unwrap();
        let tables: Vec<&String> = plan
            .iter()
            .filter(|line| line.starts_with("SEARCH") || line.starts_with("SCAN"))
            .collect();
        assert!(!tables.is_empty(), "{plan:#?}");
        for line in tables {
            assert!(
                line.starts_with("SEARCH") && line.contains("tenant_id=?"),
                "{sql}\n{plan:#?}"
            );
        }
    }
}

#[tokio::test]
async fn chargeback_exports_mark_days_without_a_price_and_follow_the_excel_format() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let s = scenario(&app).await;
        // Priced from the 16th only: the 1st to the 15th have no price in force.
        let db = store_db(&app.store).await;
        license_price::Entity::delete_many()
            .filter(license_price::Column::TenantId.eq(s.tenant))
            .filter(license_price::Column::EffectiveFrom.eq(day("2025-01-01")))
            .exec(&db)
            .await
            .unwrap();
        let bom = "\u{feff}";
        let body = app
            .get_text(&format!(
                "/export/tenants/{}/chargeback.csv?month=2025-03&format=excel&locale=de-AT",
                s.tenant
            ))
            .await;
        let body = body.strip_prefix(bom).expect("a UTF-8 BOM first");
        let r: Vec<Vec<String>> = csv_records(body.as_bytes(), b';');
        let (section, path, sku, amount, days, unpriced, priced) = (
            column(&r, "section"),
            column(&r, "cost_group_path"),
            column(&r, "sku_id"),
            column(&r, "amount"),
            column(&r, "license_days"),
            column(&r, "unpriced_license_days"),
            column(&r, "priced"),
        );
        let find = |sec: &str, p: &str| {
            r.iter()
                .find(|row| row[section] == sec && row[path] == p && !row[sku].is_empty())
                .unwrap_or_else(|| panic!("{sec} {p}: {body}"))
        };
        // Sales: 22 license-days, none priced: no amount rather than 0,00.
        let sales = find("COST_GROUP", "Company / Sales");
        assert_eq!(
            (
                &*sales[days],
                &*sales[unpriced],
                &*sales[priced],
                &*sales[amount]
            ),
            ("22", "22", "false", "")
        );
        // Finance: the 14th and 15th unpriced, the 16th to the 31st at 2,00 a day.
        let finance = find("COST_GROUP", "Company / Finance");
        assert_eq!(
            (
                &*finance[days],
                &*finance[unpriced],
                &*finance[priced],
                &*finance[amount]
            ),
            ("18", "2", "partly", "32,00")
        );
        let total = r
            .iter()
            .find(|row| row[section] == "TOTAL" && row[sku].is_empty())
            .unwrap();
        assert_eq!(total[priced], "partly");

        let body = app
            .get_text(&format!(
                "/export/tenants/{}/focus.csv?month=2025-03&format=excel&locale=de-AT",
                s.tenant
            ))
            .await;
        let body = body.strip_prefix(bom).expect("a UTF-8 BOM first");
        let f: Vec<Vec<String>> = csv_records(body.as_bytes(), b';');
        let (name, billed, tags) = (
            column(&f, "ResourceName"),
            column(&f, "BilledCost"),
            column(&f, "Tags"),
        );
        let row = |n: &str| f.iter().find(|row| row[name] == n).unwrap();
        let sales_tags: Value = serde_json::from_str(&row("Company / Sales")[tags]).unwrap();
        assert_eq!(sales_tags["unpricedLicenseDays"], "22");
        let finance = row("Company / Finance");
        assert_eq!(finance[billed], "32,00");
        let finance_tags: Value = serde_json::from_str(&finance[tags]).unwrap();
        assert_eq!(finance_tags["unpricedLicenseDays"], "2");
    }
}

/// An allocation change counts the license days it changed through indexes: the licenses and
/// shares that begin or end from its day on, each then its user's shares or licenses by
/// (tenant, user); no table is read whole or once per row of another, whatever the tenant's
/// size. On SQLite, whose plans the test reads.
#[tokio::test]
async fn an_allocation_change_counts_its_license_days_by_index() {
    let app = TestApp::empty(crate::support::Backend::Sqlite).await;
    let tenant = priced_tenant(&app, 600).await;
    let group = app
        .data(
            r#"mutation($t: ID!) { createCostGroup(input: {tenantId: $t, name: "Finance"}) { id } }"#,
            json!({ "t": tenant }),
        )
        .await["createCostGroup"]["id"]
        .clone();
    let (body, statements) = app
        .traced(
            r#"mutation($t: ID!, $g: ID!) { createAllocationRule(input: {tenantId: $t,
                costGroupId: $g, conditions: [{attribute: DEPARTMENT, operator: EQUALS,
                values: ["Finance"]}]}) { id } }"#,
            json!({ "t": tenant, "g": group }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let counts: Vec<&String> = statements
        .iter()
        .filter(|s| s.starts_with("INSERT INTO") && s.contains("_license_deltas"))
        .collect();
    assert_eq!(counts.len(), 2, "held, then allocated: {statements:#?}");
    for sql in counts {
        let plan = app.store.query_plan(sql).await.unwrap();
        let reads: Vec<&String> = plan
            .iter()
            .filter(|l| l.starts_with("SEARCH") || l.starts_with("SCAN"))
            .filter(|l| l.as_str() != "SCAN c")
            .collect();
        assert!(!reads.is_empty(), "{plan:#?}");
        for line in reads {
            assert!(
                line.starts_with("SEARCH") && !line.ends_with("(tenant_id=?)"),
                "{line}\n{sql}\n{plan:#?}"
            );
        }
    }
}
