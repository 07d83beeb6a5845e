//! License prices through GraphQL, on every backend: history, the price in force on a date,
//! replacing a day's price, and refused prices.

use serde_json::{Value, json};
use tenantgraph::domain::{TenantId, TenantScope};
use tenantgraph::store::audit;

use crate::support::{TestApp, backends, demo_data, first_error_code};

const SET: &str = r#"mutation($input: SetLicensePriceInput!) { setLicensePrice(input: $input) {
    skuId monthlyUnitPrice currency effectiveFrom createdAt } }"#;
const HISTORY: &str = r#"query($t: ID!, $sku: ID) { tenant(id: $t) {
    licensePrices(skuId: $sku) { skuId monthlyUnitPrice currency effectiveFrom } } }"#;
const IN_FORCE: &str = r#"query($t: ID!, $on: Date) { tenant(id: $t) { subscriptions {
    skuId price(asOf: $on) { monthlyUnitPrice effectiveFrom } today: price { monthlyUnitPrice } } } }"#;

/// The first demo tenant's id and two of its SKUs, and a SKU only the second tenant has.
fn demo() -> (String, String, String, String) {
    let data = demo_data();
    let skus: Vec<String> = data[0]
        .0
        .subscriptions
        .iter()
        .map(|s| s.sku_id.to_string())
        .collect();
    let foreign = data[1]
        .0
        .subscriptions
        .iter()
        .map(|s| s.sku_id.to_string())
        .find(|s| !skus.contains(s))
        .unwrap();
    (
        data[0].0.tenant.id.to_string(),
        skus[0].clone(),
        skus[1].clone(),
        foreign,
    )
}

fn price(tenant: &str, sku: &str, amount: &str, currency: &str, from: &str) -> Value {
    json!({ "input": { "tenantId": tenant, "skuId": sku, "monthlyUnitPrice": amount,
        "currency": currency, "effectiveFrom": from } })
}

/// The price in force of `sku` on `on` (and today), from `LicenseSubscription.price`.
async fn in_force(app: &TestApp, tenant: &str, sku: &str, on: &str) -> (Value, Value) {
    let data = app.data(IN_FORCE, json!({ "t": tenant, "on": on })).await;
    let sub = data["tenant"]["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuId"] == sku)
        .unwrap()
        .clone();
    (sub["price"].clone(), sub["today"].clone())
}

#[tokio::test]
async fn price_history_is_kept_and_the_price_in_force_follows_the_date() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, sku, other_sku, _) = demo();
        let set = app
            .data(SET, price(&tenant, &sku, "30.50", "CHF", "2026-01-01"))
            .await;
        // The price keeps the scale it was given.
        assert_eq!(set["setLicensePrice"]["monthlyUnitPrice"], "30.50");
        assert_eq!(set["setLicensePrice"]["effectiveFrom"], "2026-01-01");
        assert!(set["setLicensePrice"]["createdAt"].is_string());
        app.data(SET, price(&tenant, &sku, "32", "CHF", "2026-07-01"))
            .await;
        app.data(SET, price(&tenant, &sku, "28.123456", "CHF", "2025-01-01"))
            .await;
        app.data(SET, price(&tenant, &other_sku, "0", "CHF", "2026-03-01"))
            .await;

        let data = app.data(HISTORY, json!({ "t": tenant, "sku": sku })).await;
        let history: Vec<(&str, &str)> = data["tenant"]["licensePrices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["effectiveFrom"].as_str().unwrap(),
                    p["monthlyUnitPrice"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            history,
            [
                ("2025-01-01", "28.123456"),
                ("2026-01-01", "30.50"),
                ("2026-07-01", "32.00")
            ],
            "{backend:?}"
        );
        let all = app.data(HISTORY, json!({ "t": tenant })).await;
        assert_eq!(all["tenant"]["licensePrices"].as_array().unwrap().len(), 4);

        for (on, expected) in [
            ("2024-12-31", None),
            ("2025-01-01", Some("28.123456")),
            ("2026-06-30", Some("30.50")),
            ("2026-07-01", Some("32.00")),
        ] {
            let (got, _) = in_force(&app, &tenant, &sku, on).await;
            assert_eq!(
                got["monthlyUnitPrice"].as_str(),
                expected,
                "{on} on {backend:?}"
            );
        }
        let (_, today) = in_force(&app, &tenant, &other_sku, "2026-01-01").await;
        assert!(today.is_null() || today["monthlyUnitPrice"] == "0.00");
    }
}

#[tokio::test]
async fn setting_a_price_for_the_same_day_replaces_it_and_is_audited() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, sku, _, _) = demo();
        app.data(SET, price(&tenant, &sku, "10", "EUR", "2026-01-01"))
            .await;
        app.data(SET, price(&tenant, &sku, "12.75", "EUR", "2026-01-01"))
            .await;
        let data = app.data(HISTORY, json!({ "t": tenant })).await;
        let prices = data["tenant"]["licensePrices"].as_array().unwrap();
        assert_eq!(prices.len(), 1, "{backend:?}");
        assert_eq!(prices[0]["monthlyUnitPrice"], "12.75");

        // The only price may change currency when replaced.
        app.data(SET, price(&tenant, &sku, "11", "CHF", "2026-01-01"))
            .await;

        let tenant_id: TenantId = tenant.parse().unwrap();
        let entries = audit::list_audit_entries(&app.store, &TenantScope::All, tenant_id, None, 10)
            .await
            .unwrap();
        assert_eq!(entries.len(), 3);
        let latest = &entries[1].change;
        assert_eq!(latest.action, "setLicensePrice");
        assert_eq!(latest.subject_type, "licensePrice");
        assert_eq!(latest.subject_id, format!("{sku}@2026-01-01"));
        assert_eq!(
            latest.before.as_ref().unwrap()["monthlyUnitPrice"],
            json!("10")
        );
        assert_eq!(
            latest.after.as_ref().unwrap()["monthlyUnitPrice"],
            json!("12.75")
        );
        assert!(entries[2].change.before.is_none());
    }
}

#[tokio::test]
async fn bad_prices_are_refused_naming_the_field() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, sku, other_sku, foreign) = demo();
        app.data(SET, price(&tenant, &sku, "10", "CHF", "2026-01-01"))
            .await;
        let cases = [
            (
                price(&tenant, &sku, "-1", "CHF", "2026-02-01"),
                "BAD_USER_INPUT",
                "input.monthlyUnitPrice must be 0 or more",
            ),
            (
                price(&tenant, &sku, "1.1234567", "CHF", "2026-02-01"),
                "BAD_USER_INPUT",
                "input.monthlyUnitPrice must have at most 6 decimal places",
            ),
            (
                price(&tenant, &sku, "1000000000.01", "CHF", "2026-02-01"),
                "BAD_USER_INPUT",
                "input.monthlyUnitPrice must be at most 1000000000",
            ),
            (
                price(&tenant, &sku, "10", "XYZ", "2026-02-01"),
                "BAD_USER_INPUT",
                "input.currency must be an active ISO 4217 code",
            ),
            (
                price(&tenant, &foreign, "10", "CHF", "2026-02-01"),
                "NOT_FOUND",
                "input.skuId",
            ),
            (
                price(&tenant, &other_sku, "10", "EUR", "2026-02-01"),
                "CONFLICT",
                "input.currency must be CHF",
            ),
            (
                price(&tenant, "nope", "10", "CHF", "2026-02-01"),
                "BAD_USER_INPUT",
                "input.skuId",
            ),
        ];
        for (vars, code, message) in cases {
            let body = app.post(SET, vars).await;
            assert_eq!(first_error_code(&body), code, "{body:#}");
            let got = body["errors"][0]["message"].as_str().unwrap();
            assert!(
                got.starts_with(message),
                "{got:?} should start with {message:?}"
            );
        }
        let data = app.data(HISTORY, json!({ "t": tenant })).await;
        assert_eq!(
            data["tenant"]["licensePrices"].as_array().unwrap().len(),
            1,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_non_numeric_decimal_or_date_is_refused_naming_the_argument() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (tenant, sku, _, _) = demo();
        // async-graphql parses scalars before any resolver runs: the message names the scalar
        // and the input type (not the field); the server adds `BAD_USER_INPUT`.
        for (vars, scalar) in [
            (price(&tenant, &sku, "abc", "CHF", "2026-01-01"), "Decimal"),
            (price(&tenant, &sku, "10", "CHF", "2026-13-01"), "Date"),
        ] {
            let body = app.post(SET, vars).await;
            let got = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(
                got.contains(&format!("Failed to parse \"{scalar}\"")),
                "{body:#}"
            );
            assert!(got.contains("SetLicensePriceInput"), "{body:#}");
            assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body:#}");
            assert!(body["data"].is_null(), "{body:#}");
        }
        // Inline in the document, the same.
        let q = format!(
            r#"mutation {{ setLicensePrice(input: {{ tenantId: "{tenant}", skuId: "{sku}",
                monthlyUnitPrice: "abc", currency: "CHF", effectiveFrom: "2026-01-01" }}) {{ skuId }} }}"#
        );
        let body = app.post(&q, json!({})).await;
        let got = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(got.contains("Failed to parse \"Decimal\""), "{body:#}");
        assert!(got.contains("SetLicensePriceInput"), "{body:#}");
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body:#}");
        let data = app.data(HISTORY, json!({ "t": tenant })).await;
        assert_eq!(data["tenant"]["licensePrices"], json!([]), "{backend:?}");
    }
}
