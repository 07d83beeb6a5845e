//! The CSV exports as a spreadsheet user sees them: every stored user field in `users.csv`,
//! unpriced SKUs marked rather than costing 0.00, `?format=excel` (BOM, the regional list and
//! decimal separators), and a tenant of several chunks streamed whole.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::json;
use tenantgraph::domain::{AssignedLicense, User, UserId};
use uuid::Uuid;

use crate::support::csv_body::csv_table;
use crate::support::demo;
use crate::support::snapshot::{self, TenantSnapshot, direct_assignments};
use crate::support::{TestApp, backends};

const SET_PRICE: &str = r#"mutation($t: ID!, $s: ID!, $p: Decimal!, $c: String!, $f: Date!) {
    setLicensePrice(input: {tenantId: $t, skuId: $s, monthlyUnitPrice: $p, currency: $c,
        effectiveFrom: $f}) { skuId } }"#;

/// A CSV body as header and rows, read with `delimiter`.
async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// What `users.csv` must say of `u`, column by column (seen times apart).
fn expected_cells(
    u: &User,
    users: &HashMap<UserId, &User>,
    licenses: &[&AssignedLicense],
    part_numbers: &HashMap<Uuid, String>,
) -> Vec<(String, String)> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut cells = vec![
        ("user_id".to_owned(), u.id.to_string()),
        ("display_name".to_owned(), u.display_name.clone()),
        ("given_name".to_owned(), text(&u.given_name)),
        ("surname".to_owned(), text(&u.surname)),
        (
            "user_principal_name".to_owned(),
            u.user_principal_name.clone(),
        ),
        ("mail".to_owned(), text(&u.mail)),
        ("user_type".to_owned(), text(&u.user_type)),
        ("job_title".to_owned(), text(&u.job_title)),
        ("department".to_owned(), text(&u.department)),
        ("company_name".to_owned(), text(&u.company_name)),
        ("office_location".to_owned(), text(&u.office_location)),
        ("street_address".to_owned(), text(&u.street_address)),
        ("city".to_owned(), text(&u.city)),
        ("state".to_owned(), text(&u.state)),
        ("postal_code".to_owned(), text(&u.postal_code)),
        ("country".to_owned(), text(&u.country)),
        ("preferred_language".to_owned(), text(&u.preferred_language)),
        ("usage_location".to_owned(), text(&u.usage_location)),
        (
            "account_enabled".to_owned(),
            u.account_enabled.map(|b| b.to_string()).unwrap_or_default(),
        ),
    ];
    for (i, a) in u.extension_attributes.iter().enumerate() {
        cells.push((format!("extension_attribute_{}", i + 1), text(a)));
    }
    let (manager_id, manager_type, manager_name) = match (&u.manager_id, &u.manager_contact) {
        (Some(m), _) => (m.to_string(), "USER", users[m].display_name.clone()),
        (None, Some(c)) => (
            c.id.to_string(),
            "CONTACT",
            c.display_name.clone().unwrap_or_default(),
        ),
        (None, None) => (String::new(), "", String::new()),
    };
    cells.push(("manager_id".to_owned(), manager_id));
    cells.push(("manager_type".to_owned(), manager_type.to_owned()));
    cells.push(("manager_name".to_owned(), manager_name));
    let mut held: Vec<(String, String)> = licenses
        .iter()
        .map(|l| (part_numbers[&l.sku_id.uuid()].clone(), l.sku_id.to_string()))
        .collect();
    held.sort();
    let (names, ids): (Vec<String>, Vec<String>) = held.into_iter().unzip();
    cells.push(("licenses".to_owned(), names.join(";")));
    cells.push(("license_sku_ids".to_owned(), ids.join(";")));
    cells
}

#[tokio::test]
async fn users_csv_carries_every_imported_field_of_each_user() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (snapshot, _) = demo::data().into_iter().next().unwrap();
        let tenant = snapshot.tenant.id;
        let (status, body) = get(&app, &format!("/export/tenants/{tenant}/users.csv"), &[]).await;
        assert_eq!(status, 200);
        let (header, rows) = csv_table(&body, b',');
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("no column {name}: {header:?}"))
        };
        let by_id: HashMap<UserId, &User> = snapshot.users.iter().map(|u| (u.id, u)).collect();
        let part_numbers: HashMap<Uuid, String> = snapshot
            .subscriptions
            .iter()
            .map(|s| (s.sku_id.uuid(), s.sku_part_number.clone()))
            .collect();
        let mut checked_manager = false;
        let mut checked_attributes = false;
        for u in &snapshot.users {
            let row = rows
                .iter()
                .find(|r| r[col("user_id")] == u.id.to_string())
                .unwrap_or_else(|| panic!("user {} missing", u.id));
            let held: Vec<&AssignedLicense> = snapshot
                .licenses
                .iter()
                .filter(|l| l.user_id == u.id)
                .collect();
            for (name, value) in expected_cells(u, &by_id, &held, &part_numbers) {
                assert_eq!(row[col(&name)], value, "{name} of {}", u.id);
            }
            for seen in ["first_seen_at", "last_seen_at"] {
                chrono::DateTime::parse_from_rfc3339(&row[col(seen)]).unwrap();
            }
            checked_manager |= u.manager_id.is_some();
            checked_attributes |= u.extension_attributes[1].is_some();
        }
        assert!(
            checked_manager && checked_attributes,
            "the data set has both"
        );
    }
}

#[tokio::test]
async fn a_sku_without_a_price_is_marked_unpriced_rather_than_costing_nothing() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (snapshot, _) = demo::data().into_iter().next().unwrap();
        let tenant = snapshot.tenant.id;
        let assigned: Vec<Uuid> = {
            let mut skus: Vec<Uuid> = snapshot.licenses.iter().map(|l| l.sku_id.uuid()).collect();
            skus.sort();
            skus.dedup();
            skus
        };
        assert!(assigned.len() >= 2, "two assigned SKUs: {assigned:?}");
        let priced = assigned[0];
        app.data(
            SET_PRICE,
            json!({ "t": tenant.to_string(), "s": priced, "p": "12.50", "c": "EUR",
                    "f": "2026-01-01" }),
        )
        .await;
        let (_, body) = get(
            &app,
            &format!("/export/tenants/{tenant}/cost-report.csv"),
            &[],
        )
        .await;
        let (header, rows) = csv_table(&body, b',');
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let assigned_rows: Vec<&Vec<String>> = rows
            .iter()
            .filter(|r| r[col("section")] == "TOTAL_ASSIGNED")
            .collect();
        let sku_row = |sku: Uuid| {
            assigned_rows
                .iter()
                .find(|r| r[col("sku_id")] == sku.to_string())
                .unwrap()
        };
        let priced_row = sku_row(priced);
        assert_eq!(priced_row[col("priced")], "true");
        assert_eq!(priced_row[col("unit_price")], "12.50");
        assert!(!priced_row[col("cost")].is_empty());
        let unpriced_row = sku_row(assigned[1]);
        assert_eq!(
            (
                unpriced_row[col("priced")].as_str(),
                unpriced_row[col("unit_price")].as_str(),
                unpriced_row[col("cost")].as_str()
            ),
            ("false", "", ""),
            "no amount rather than 0.00"
        );
        // The total counts what is priced and says that it is partial.
        let total = assigned_rows
            .iter()
            .find(|r| r[col("sku_id")].is_empty())
            .unwrap();
        assert_eq!(total[col("priced")], "partly");
        assert_eq!(total[col("cost")], priced_row[col("cost")]);
    }
}

#[tokio::test]
async fn excel_format_has_a_bom_and_the_separators_of_the_locale() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let (snapshot, _) = demo::data().into_iter().next().unwrap();
        let tenant = snapshot.tenant.id;
        let sku = snapshot.licenses[0].sku_id;
        app.data(
            SET_PRICE,
            json!({ "t": tenant.to_string(), "s": sku, "p": "12.50", "c": "EUR",
                    "f": "2026-01-01" }),
        )
        .await;
        let bom = "\u{feff}".as_bytes();
        for (query, headers, delimiter, price) in [
            ("?format=excel&locale=de-DE", vec![], b';', "12,50"),
            (
                "?format=excel",
                vec![("Accept-Language", "fr-FR,fr;q=0.9")],
                b';',
                "12,50",
            ),
            (
                "?format=excel&locale=en-US",
                vec![("Accept-Language", "de")],
                b',',
                "12.50",
            ),
            ("?format=excel&locale=de-CH", vec![], b';', "12.50"),
            ("?format=excel", vec![], b',', "12.50"),
        ] {
            let (status, body) = get(
                &app,
                &format!("/export/tenants/{tenant}/cost-report.csv{query}"),
                &headers,
            )
            .await;
            assert_eq!(status, 200, "{query}");
            assert!(body.starts_with(bom), "{query}: a UTF-8 BOM first");
            let (header, rows) = csv_table(&body[bom.len()..], delimiter);
            assert_eq!(
                header[0], "section",
                "{query}: split on {}",
                delimiter as char
            );
            let col = |name: &str| header.iter().position(|h| h == name).unwrap();
            let row = rows
                .iter()
                .find(|r| r[col("sku_id")] == sku.to_string())
                .unwrap();
            assert_eq!(row[col("unit_price")], price, "{query}");

            let (status, body) = get(
                &app,
                &format!("/export/tenants/{tenant}/users.csv{query}"),
                &headers,
            )
            .await;
            assert_eq!(status, 200, "{query}");
            assert!(body.starts_with(bom), "{query}");
            assert_eq!(
                body.windows(bom.len()).filter(|w| *w == bom).count(),
                1,
                "one BOM, at the start"
            );
            let (header, rows) = csv_table(&body[bom.len()..], delimiter);
            assert_eq!(header[0], "user_id", "{query}");
            assert!(!rows.is_empty());
        }
        let (status, plain) = get(
            &app,
            &format!("/export/tenants/{tenant}/users.csv"),
            &[("Accept-Language", "de-DE")],
        )
        .await;
        assert_eq!(status, 200);
        assert!(plain.starts_with(b"user_id,"), "plain CSV unless asked");
        let (status, _) = get(
            &app,
            &format!("/export/tenants/{tenant}/users.csv?format=xlsx"),
            &[],
        )
        .await;
        assert_eq!(status, 400);
    }
}

/// The first demo tenant with `n` users: the demo users cloned under new ids, each keeping the
/// licenses of the user it copies.
fn tenant_of(n: usize) -> TenantSnapshot {
    let (mut snapshot, _) = demo::data().into_iter().next().unwrap();
    let originals = std::mem::take(&mut snapshot.users);
    let licenses = std::mem::take(&mut snapshot.licenses);
    for i in 0..n {
        let mut user = originals[i % originals.len()].clone();
        let from = user.id;
        user.id = UserId(Uuid::from_u128(
            0x7e57_0000_0000_0000_0000_0000_0000_0000 + i as u128,
        ));
        user.manager_id = None;
        user.user_principal_name = format!("{i}.{}", user.user_principal_name);
        for l in licenses.iter().filter(|l| l.user_id == from) {
            let mut l = l.clone();
            l.user_id = user.id;
            snapshot.licenses.push(l);
        }
        snapshot.users.push(user);
    }
    snapshot.assignments = direct_assignments(&snapshot.licenses);
    snapshot
}

#[tokio::test]
async fn every_user_of_a_tenant_of_several_chunks_is_exported_exactly_once() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        // 2,000 users a chunk: two full chunks and a part.
        let snapshot = tenant_of(4_321);
        snapshot::replace_tenant(&app.store, &snapshot, Utc::now())
            .await
            .unwrap();
        let tenant = snapshot.tenant.id;
        let (status, body) = get(&app, &format!("/export/tenants/{tenant}/users.csv"), &[]).await;
        assert_eq!(status, 200);
        let (header, rows) = csv_table(&body, b',');
        assert_eq!(header[0], "user_id");
        let mut seen: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(seen.len(), 4_321, "one row per (unallocated) user");
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 4_321, "no user twice");
        let mut expected: Vec<String> = snapshot.users.iter().map(|u| u.id.to_string()).collect();
        expected.sort();
        assert_eq!(seen, expected);
    }
}
