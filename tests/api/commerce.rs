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

#[tokio::test]
async fn idle_seats_of_free_skus_leave_the_cost_report_unless_asked_for() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 60).await;
        let tenant_id = sim.tenant_ids()[0].to_string();
        import_all(&importer_for(&app.store, &sim).await).await;
        let query = r#"query($id: ID!) { tenant(id: $id) {
            subscriptions { skuId skuPartNumber billing unassigned appliesTo }
            paid: costReport { unassigned { skus { skuId licenses } } }
            all: costReport(unassignedBilling: [PARTNER, FREE, TRIAL, OTHER]) {
              unassigned { skus { skuId licenses } } } } }"#;
        let data = app.data(query, json!({ "id": tenant_id })).await;
        let tenant = &data["tenant"];
        let idle = |report: &str| -> Vec<(String, i64)> {
            let mut skus: Vec<(String, i64)> = tenant[report]["unassigned"]["skus"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let licenses = s["licenses"].as_str().unwrap().parse().unwrap();
                    (s["skuId"].as_str().unwrap().to_owned(), licenses)
                })
                .collect();
            skus.sort();
            skus
        };
        // What each line should hold, from the SKUs the same answer shows.
        let expected = |paid_only: bool| -> Vec<(String, i64)> {
            let mut skus: Vec<(String, i64)> = tenant["subscriptions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["appliesTo"] == "User" && s["unassigned"].as_i64().unwrap() > 0)
                .filter(|s| !paid_only || s["billing"] == "PARTNER" || s["billing"] == "OTHER")
                .map(|s| {
                    let id = s["skuId"].as_str().unwrap().to_owned();
                    (id, s["unassigned"].as_i64().unwrap())
                })
                .collect();
            skus.sort();
            skus
        };
        assert_eq!(idle("paid"), expected(true), "{tenant}");
        assert_eq!(idle("all"), expected(false), "{tenant}");
        let flow = sku(tenant, "FLOW_FREE")["skuId"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(idle("all").iter().any(|(id, n)| *id == flow && *n > 9_000));
        assert!(idle("paid").iter().all(|(id, _)| *id != flow));

        // The CSV export takes the same choice.
        let csv = |params: &str| {
            let url = app.url(&format!(
                "/export/tenants/{tenant_id}/cost-report.csv{params}"
            ));
            let client = app.client.clone();
            async move {
                let response = client.get(url).send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        let idle_row_of_flow = |body: &str| {
            body.lines()
                .any(|l| l.starts_with("UNASSIGNED,") && l.contains(&flow))
        };
        let (status, paid) = csv("").await;
        assert_eq!(status, 200, "{paid}");
        assert!(!idle_row_of_flow(&paid), "{paid}");
        let (status, all) = csv("?unassignedBilling=PARTNER,FREE,TRIAL,OTHER").await;
        assert_eq!(status, 200, "{all}");
        assert!(idle_row_of_flow(&all), "{all}");
        let (status, refused) = csv("?unassignedBilling=PARTNER,GRATIS").await;
        assert_eq!(status, 400);
        assert!(
            refused.contains("unassignedBilling") && refused.contains("GRATIS"),
            "{refused}"
        );
        sim.stop().await;
    }
}

#[tokio::test]
async fn renewals_billing_and_commerce_entities_stay_within_the_callers_tenants() {
    use crate::security::{call, claims, hs_token, hs256};
    for backend in backends() {
        let app = TestApp::with_auth(backend, hs256(), None).await;
        let sim = simulator(2, 40).await;
        import_all(&importer_for(&app.store, &sim).await).await;
        let [a, b] = [0, 1].map(|i| sim.tenant_ids()[i].to_string());
        let admin = hs_token(&claims("admin", json!({ "roles": ["partner_admin"] })));
        let scoped = hs_token(&claims(
            "allocator-a",
            json!({ "roles": ["allocator"], "tenants": [a] }),
        ));
        let renewals = r#"{ renewals(within: 3650, first: 500) {
            edges { node { id tenantId } } } }"#;
        let ids_of = |body: &Value, tenant: &str| -> Vec<Value> {
            body["data"]["renewals"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["node"]["tenantId"] == tenant)
                .map(|e| e["node"]["id"].clone())
                .collect()
        };
        let (_, everything) = call(&app, Some(&admin), renewals, json!({})).await;
        let (of_a, of_b) = (ids_of(&everything, &a), ids_of(&everything, &b));
        assert!(!of_a.is_empty() && !of_b.is_empty(), "{everything}");
        let (status, seen) = call(&app, Some(&scoped), renewals, json!({})).await;
        assert_eq!(status, 200, "{seen}");
        assert_eq!(ids_of(&seen, &a), of_a, "{seen}");
        assert_eq!(
            seen["data"]["renewals"]["edges"].as_array().unwrap().len(),
            of_a.len(),
            "only A's renewals: {seen}"
        );
        // B's commerce subscription is not an entity for A's allocator.
        let (_, entities) = call(
            &app,
            Some(&scoped),
            r#"query($r: [_Any!]!) { _entities(representations: $r) {
                ... on CommerceSubscription { id } } }"#,
            json!({ "r": [{ "__typename": "CommerceSubscription", "id": of_a[0] },
                          { "__typename": "CommerceSubscription", "id": of_b[0] }] }),
        )
        .await;
        assert_eq!(
            entities["data"]["_entities"][0]["id"], of_a[0],
            "{entities}"
        );
        assert!(entities["data"]["_entities"][1].is_null(), "{entities}");
        // Nor can A's allocator reclassify one of B's SKUs.
        let (_, skus) = call(
            &app,
            Some(&admin),
            r#"query($t: ID!) { tenant(id: $t) { subscriptions { skuId } } }"#,
            json!({ "t": b }),
        )
        .await;
        let sku_of_b = skus["data"]["tenant"]["subscriptions"][0]["skuId"].clone();
        let (_, refused) = call(
            &app,
            Some(&scoped),
            r#"mutation($t: ID!, $s: ID!) { setSkuBilling(tenantId: $t, skuId: $s, billing: FREE) { billing } }"#,
            json!({ "t": b, "s": sku_of_b }),
        )
        .await;
        assert_eq!(first_error_code(&refused), "NOT_FOUND", "{refused}");
        sim.stop().await;
    }
}
