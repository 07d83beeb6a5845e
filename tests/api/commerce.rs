//! Commerce subscriptions from Partner Center, joined to SKUs through Graph's directory
//! subscriptions, SKU billing and what it changes in consumption, renewals and the billing
//! override, against the simulator over real HTTP, on SQLite and PostgreSQL.

use serde_json::{Value, json};
use tenantgraph::domain::{ImportWarningCode, RunStatus};
use tenantgraph::simulator::{Fault, TenantSelector};

use crate::importer::{import_all, importer_for, simulator};
use crate::support::{TestApp, backends, first_error_code};

const TENANT: &str = r#"query($id: ID!) { tenant(id: $id) {
  consumption { purchased assigned unassigned }
  all: consumption(billing: [PARTNER, FREE, TRIAL, OTHER]) { purchased }
  subscriptions { skuId skuPartNumber billing purchased commerceSubscriptions { id quantity } }
  commerceSubscriptions { id offerId quantity status isTrial billingCycle termDuration
    commitmentEndDate autoRenew licenseSubscription { skuPartNumber } }
} }"#;

fn sku<'a>(tenant: &'a Value, part: &str) -> &'a Value {
    tenant["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuPartNumber"] == part)
        .unwrap_or_else(|| panic!("no {part} in {tenant}"))
}

#[tokio::test]
async fn commerce_subscriptions_link_to_skus_and_free_skus_leave_consumption() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(2, 80).await;
        let tenant_id = sim.tenant_ids()[0];
        let runs = import_all(&importer_for(&app.store, &sim).await).await;
        for run in &runs {
            assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
            assert!(run.warnings.is_empty(), "{run:?}");
        }
        let data = app
            .data(TENANT, json!({ "id": tenant_id.to_string() }))
            .await;
        let tenant = &data["tenant"];
        let commerce = tenant["commerceSubscriptions"].as_array().unwrap();
        assert!(!commerce.is_empty(), "{tenant}");
        // Every commerce subscription of this partner is linked to the SKU it backs, and
        // appears under that SKU.
        for c in commerce {
            let part = c["licenseSubscription"]["skuPartNumber"]
                .as_str()
                .unwrap_or_else(|| panic!("unlinked: {c}"));
            let listed = sku(tenant, part)["commerceSubscriptions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["id"] == c["id"]);
            assert!(listed, "{part} lists {c}");
        }
        let flow = sku(tenant, "FLOW_FREE");
        assert_eq!(flow["billing"], "FREE");
        assert_eq!(flow["commerceSubscriptions"], json!([]));
        assert_eq!(sku(tenant, "SPE_E3")["billing"], "PARTNER");
        // The free SKU's 10,000 units count only when asked for.
        let paid = tenant["consumption"]["purchased"].as_i64().unwrap();
        let all = tenant["all"]["purchased"].as_i64().unwrap();
        assert!(paid < 10_000, "{tenant}");
        assert!(all >= paid + 10_000, "{tenant}");
        // A federation entity by its Partner Center id.
        let id = commerce[0]["id"].clone();
        let entity = app
            .data(
                r#"query($r: [_Any!]!) { _entities(representations: $r) {
                    ... on CommerceSubscription { id offerId } } }"#,
                json!({ "r": [{ "__typename": "CommerceSubscription", "id": id },
                              { "__typename": "CommerceSubscription", "id": "unknown" }] }),
            )
            .await;
        assert_eq!(entity["_entities"][0]["id"], id);
        assert_eq!(entity["_entities"][0]["offerId"], commerce[0]["offerId"]);
        assert!(entity["_entities"][1].is_null());
        sim.stop().await;
    }
}

#[tokio::test]
async fn sku_billing_can_be_overridden_audited_and_kept_across_imports() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 60).await;
        let tenant_id = sim.tenant_ids()[0].to_string();
        let importer = importer_for(&app.store, &sim).await;
        import_all(&importer).await;
        let data = app.data(TENANT, json!({ "id": tenant_id })).await;
        let flow = sku(&data["tenant"], "FLOW_FREE")["skuId"].clone();
        let before = data["tenant"]["consumption"]["purchased"].as_i64().unwrap();
        let set = r#"mutation($t: ID!, $s: ID!, $b: SkuBilling) {
            setSkuBilling(tenantId: $t, skuId: $s, billing: $b) { skuPartNumber billing } }"#;
        let changed = app
            .data(set, json!({ "t": tenant_id, "s": flow, "b": "PARTNER" }))
            .await;
        assert_eq!(changed["setSkuBilling"]["billing"], "PARTNER");
        // A new import detects FREE again but the override stands.
        sim.set_day(1);
        import_all(&importer).await;
        let data = app.data(TENANT, json!({ "id": tenant_id })).await;
        assert_eq!(sku(&data["tenant"], "FLOW_FREE")["billing"], "PARTNER");
        let with_flow = data["tenant"]["consumption"]["purchased"].as_i64().unwrap();
        assert!(with_flow >= before + 10_000, "{before} -> {with_flow}");
        // null goes back to what the import detected.
        let cleared = app
            .data(set, json!({ "t": tenant_id, "s": flow, "b": null }))
            .await;
        assert_eq!(cleared["setSkuBilling"]["billing"], "FREE");
        let audit = app
            .data(
                r#"query($t: ID!) { auditLog(tenantId: $t, first: 10) { edges { node { action subjectId } } } }"#,
                json!({ "t": tenant_id }),
            )
            .await;
        let actions: Vec<&Value> = audit["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["node"]["action"] == "setSkuBilling")
            .collect();
        assert_eq!(actions.len(), 2, "{audit}");
        // A SKU the tenant does not have.
        let body = app
            .post(
                set,
                json!({ "t": tenant_id, "s": uuid::Uuid::new_v4().to_string(), "b": "FREE" }),
            )
            .await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "{body}");
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_refused_directory_listing_keeps_the_import_and_leaves_commerce_unlinked() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 40).await;
        let tenant_id = sim.tenant_ids()[0];
        sim.set_faults(vec![(
            TenantSelector::Index(0),
            Fault::DirectorySubscriptionsRefused,
        )]);
        let run = import_all(&importer_for(&app.store, &sim).await)
            .await
            .remove(0);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        let codes: Vec<_> = run.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, [ImportWarningCode::DirectorySubscriptionsRefused]);
        assert!(
            run.warnings[0]
                .message
                .contains("Authorization_RequestDenied"),
            "{run:?}"
        );
        let data = app
            .data(TENANT, json!({ "id": tenant_id.to_string() }))
            .await;
        let commerce = data["tenant"]["commerceSubscriptions"].as_array().unwrap();
        assert!(!commerce.is_empty());
        assert!(commerce.iter().all(|c| c["licenseSubscription"].is_null()));
        sim.stop().await;
    }
}

#[tokio::test]
async fn renewals_list_commitments_ending_soon_soonest_first_page_by_page() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(2, 40).await;
        import_all(&importer_for(&app.store, &sim).await).await;
        let query = r#"query($d: Int!, $first: Int, $after: String) {
            renewals(within: $d, first: $first, after: $after) {
              edges { cursor node { id tenantId commitmentEndDate } } pageInfo { hasNextPage } } }"#;
        let all = app.data(query, json!({ "d": 3650, "first": 500 })).await;
        let edges = all["renewals"]["edges"].as_array().unwrap().clone();
        assert!(!edges.is_empty(), "{all}");
        let ends: Vec<&str> = edges
            .iter()
            .map(|e| e["node"]["commitmentEndDate"].as_str().unwrap())
            .collect();
        let mut sorted = ends.clone();
        sorted.sort();
        assert_eq!(ends, sorted, "soonest first");
        let now = chrono::Utc::now();
        for end in &ends {
            let end = chrono::DateTime::parse_from_rfc3339(end).unwrap();
            assert!(end >= now && end <= now + chrono::Duration::days(3650));
        }
        // Paging one at a time walks the same list.
        let mut walked = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = app
                .data(query, json!({ "d": 3650, "first": 1, "after": after }))
                .await;
            let page = &page["renewals"];
            for e in page["edges"].as_array().unwrap() {
                walked.push(e["node"]["id"].clone());
                after = e["cursor"].as_str().map(str::to_owned);
            }
            if page["pageInfo"]["hasNextPage"] != true {
                break;
            }
        }
        let ids: Vec<Value> = edges.iter().map(|e| e["node"]["id"].clone()).collect();
        assert_eq!(walked, ids);
        let body = app.post(query, json!({ "d": 4000 })).await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
        sim.stop().await;
    }
}
