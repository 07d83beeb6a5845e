//! Licenses of SKUs that `subscribedSkus` does not list: read again once, then kept under a
//! placeholder SKU marked unknown with an `UNKNOWN_SKU` warning instead of failing the tenant,
//! against the simulator over real HTTP (`unknown-sku`, `sku-bought-late`).

use serde_json::{Value, json};
use tenantgraph::domain::{ImportMode, ImportWarningCode, RunStatus};
use tenantgraph::simulator::{Fault, ORPHANED_SKU_ID, TenantSelector};
use uuid::Uuid;

use crate::importer::{assert_matches_simulator, import_all, importer_for, run_of, simulator};
use crate::support::{TestApp, backends};

const SKUS: &str = r#"query($id: ID!) { tenant(id: $id) { subscriptions {
  skuId skuPartNumber unknown billing capabilityStatus purchased assigned unassigned
  assignedUsers(first: 5) { totalCount } } } }"#;

/// The tenant's SKUs as GraphQL serves them, by SKU id.
async fn skus_of(app: &TestApp, tenant: Uuid) -> Vec<Value> {
    let data = app.data(SKUS, json!({ "id": tenant.to_string() })).await;
    data["tenant"]["subscriptions"].as_array().unwrap().clone()
}

fn sku<'a>(skus: &'a [Value], id: &str) -> Option<&'a Value> {
    skus.iter().find(|s| s["skuId"] == id)
}

#[tokio::test]
async fn a_license_of_a_sku_subscribed_skus_never_lists_is_kept_under_an_unknown_placeholder() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(2, 60).await;
        let tenants = sim.tenant_ids();
        sim.set_faults(vec![(TenantSelector::Index(0), Fault::UnknownSku)]);
        let importer = importer_for(&app.store, &sim).await;
        let runs = import_all(&importer).await;
        let run = run_of(&runs, tenants[0]);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        let codes: Vec<_> = run.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, [ImportWarningCode::UnknownSku]);
        let orphaned = ORPHANED_SKU_ID.to_string();
        assert!(
            run.warnings[0]
                .message
                .contains(&format!("{orphaned} (1 user)")),
            "{run:?}"
        );
        // Read again once before settling for a placeholder, which is not counted as listed.
        assert_eq!(sim.stats().tenant(tenants[0]).sku_requests, 2);
        let listed = sim.snapshot(tenants[0]).unwrap().skus.len();
        assert_eq!(run.counts.skus, listed as i64);
        let skus = skus_of(&app, tenants[0]).await;
        let placeholder = sku(&skus, &orphaned).expect("a placeholder SKU");
        assert_eq!(
            placeholder,
            &json!({
                "skuId": orphaned,
                "skuPartNumber": "UNKNOWN",
                "unknown": true,
                "billing": "OTHER",
                "capabilityStatus": "UNKNOWN",
                "purchased": 0,
                "assigned": 0,
                "unassigned": 0,
                "assignedUsers": { "totalCount": 1 },
            })
        );
        assert_eq!(
            skus.iter().filter(|s| s["unknown"] == true).count(),
            1,
            "the listed SKUs are known"
        );
        // The user holds the license, and it leads to the placeholder.
        let ceo = sim.snapshot(tenants[0]).unwrap().users[0].id.to_string();
        let data = app
            .data(
                "query($t: ID!, $id: ID!) { user(tenantId: $t, id: $id) {
                   licenses { skuId subscription { unknown } } } }",
                json!({ "t": tenants[0].to_string(), "id": ceo }),
            )
            .await;
        let licenses = data["user"]["licenses"].as_array().unwrap();
        assert!(
            licenses
                .iter()
                .any(|l| l["skuId"] == orphaned.as_str() && l["subscription"]["unknown"] == true),
            "{data}"
        );
        // The warning is served with the run.
        let data = app
            .data(
                "query($id: ID!) { tenant(id: $id) { importStatus { lastRun { warnings { code message } } } } }",
                json!({ "id": tenants[0].to_string() }),
            )
            .await;
        assert_eq!(
            data["tenant"]["importStatus"]["lastRun"]["warnings"][0]["code"],
            "UNKNOWN_SKU"
        );
        // The other tenant read its SKUs once and has no placeholder.
        let other = run_of(&runs, tenants[1]);
        assert!(other.warnings.is_empty(), "{other:?}");
        assert_eq!(sim.stats().tenant(tenants[1]).sku_requests, 1);
        assert_matches_simulator(&app.store, &sim, tenants[1]).await;

        // A delta naming nobody who holds it keeps the placeholder (users still hold it) and
        // says so again, without reading the SKUs twice.
        sim.set_day(1);
        sim.reset_stats();
        let runs = import_all(&importer).await;
        let run = run_of(&runs, tenants[0]);
        assert_eq!(run.mode, Some(ImportMode::Delta), "{run:?}");
        let codes: Vec<_> = run.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, [ImportWarningCode::UnknownSku], "{run:?}");
        assert_eq!(sim.stats().tenant(tenants[0]).sku_requests, 1);
        let skus = skus_of(&app, tenants[0]).await;
        assert_eq!(sku(&skus, &orphaned).unwrap()["unknown"], true);
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_sku_bought_between_two_reads_is_found_by_reading_subscribed_skus_once_more() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 60).await;
        let tenant = sim.tenant_ids()[0];
        sim.set_faults(vec![(TenantSelector::Index(0), Fault::SkuBoughtLate)]);
        let importer = importer_for(&app.store, &sim).await;
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert!(run.warnings.is_empty(), "{run:?}");
        assert_eq!(sim.stats().tenant(tenant).sku_requests, 2, "one extra read");
        assert_matches_simulator(&app.store, &sim, tenant).await;
        let late = skus_of(&app, tenant).await;
        assert!(late.iter().all(|s| s["unknown"] == false), "{late:?}");
        // Billing is classified after the second read: as an import without the fault does.
        let plain = TestApp::empty(backend).await;
        sim.set_faults(Vec::new());
        import_all(&importer_for(&plain.store, &sim).await).await;
        assert_eq!(late, skus_of(&plain, tenant).await);
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_sku_a_delta_names_that_is_missing_twice_is_a_placeholder_until_an_import_lists_it() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 200).await;
        let tenant = sim.tenant_ids()[0];
        let importer = importer_for(&app.store, &sim).await;
        import_all(&importer).await;
        let known = skus_of(&app, tenant).await;
        // Missing from the first and the second answer of the next run.
        sim.set_day(1);
        sim.reset_stats();
        sim.set_faults(vec![
            (TenantSelector::Index(0), Fault::SkuBoughtLate),
            (TenantSelector::Index(0), Fault::SkuBoughtLate),
        ]);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert_eq!(run.mode, Some(ImportMode::Delta));
        // The delta's records hold the SKU: read again once.
        assert_eq!(sim.stats().tenant(tenant).sku_requests, 2);
        let skus = skus_of(&app, tenant).await;
        let missing: Vec<&Value> = skus.iter().filter(|s| s["unknown"] == true).collect();
        assert_eq!(missing.len(), 1, "{skus:?}");
        let missing = missing[0].clone();
        let id = missing["skuId"].as_str().unwrap();
        let before = sku(&known, id).unwrap();
        // Stored before: the part number and billing stay; nothing is counted as purchased
        // any more.
        assert_eq!(missing["skuPartNumber"], before["skuPartNumber"]);
        assert_eq!(missing["billing"], before["billing"]);
        assert_eq!(missing["purchased"], 0);
        assert_eq!(missing["capabilityStatus"], "UNKNOWN");
        // Every holder counts: those in the delta and those it did not name.
        let holders = sim
            .snapshot(tenant)
            .unwrap()
            .users
            .iter()
            .filter(|u| u.licenses.iter().any(|l| l.sku_id.to_string() == id))
            .count();
        assert!(holders > 1);
        assert_eq!(missing["assignedUsers"]["totalCount"], holders);
        let codes: Vec<_> = run.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, [ImportWarningCode::UnknownSku]);
        assert!(
            run.warnings[0]
                .message
                .contains(&format!("{id} ({holders} users)")),
            "{run:?}"
        );
        // The next import finds it listed: real data again.
        sim.set_faults(Vec::new());
        sim.set_day(2);
        let run = import_all(&importer).await.remove(0);
        assert!(run.warnings.is_empty(), "{run:?}");
        let skus = skus_of(&app, tenant).await;
        assert!(skus.iter().all(|s| s["unknown"] == false), "{skus:?}");
        assert_matches_simulator(&app.store, &sim, tenant).await;
        sim.stop().await;
    }
}
