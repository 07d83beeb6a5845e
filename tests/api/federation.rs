//! Federation: `_service { sdl }` and `_entities` for every entity type.

use serde_json::{Value, json};

use crate::support::{TestApp, backends, demo_data, first_error_code};

#[tokio::test]
async fn service_sdl_declares_the_four_entities() {
    let mut settings = tenantgraph::config::Settings::default();
    settings.graphql.graphql_introspection = Some(true);
    let api = settings.check().unwrap().api;
    let app = TestApp::with_api(crate::support::Backend::Sqlite, api).await;
    let data = app.data("{ _service { sdl } }", json!({})).await;
    let sdl = data["_service"]["sdl"].as_str().unwrap();
    for entity in ["Tenant", "User", "LicenseSubscription", "CostGroup"] {
        assert!(
            sdl.contains(&format!("type {entity} @key(fields: \"id\")")),
            "{entity}"
        );
    }
    assert!(sdl.contains("https://specs.apollo.dev/federation/v2"));
    assert!(
        !sdl.contains("type Subscription "),
        "no type named Subscription"
    );
}

#[tokio::test]
async fn entities_resolve_every_type_and_unknown_keys_to_null() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let data = demo_data();
        let (snapshot, groups) = &data[0];
        let sub = &snapshot.subscriptions[0];
        let reps = json!([
            { "__typename": "Tenant", "id": snapshot.tenant.id.to_string() },
            { "__typename": "User", "id": snapshot.users[0].id.to_string() },
            { "__typename": "LicenseSubscription", "id": sub.graph_id() },
            { "__typename": "CostGroup", "id": groups[0].id.to_string() },
            { "__typename": "Tenant", "id": "00000000-0000-4000-8000-000000000001" },
        ]);
        let q = r#"query($r: [_Any!]!) { _entities(representations: $r) {
            ... on Tenant { name } ... on User { displayName }
            ... on LicenseSubscription { skuPartNumber } ... on CostGroup { name } } }"#;
        let got = app.data(q, json!({ "r": reps })).await;
        let e = &got["_entities"];
        assert_eq!(e[0]["name"], snapshot.tenant.name.as_str());
        assert_eq!(e[1]["displayName"], snapshot.users[0].display_name.as_str());
        assert_eq!(e[2]["skuPartNumber"], sub.sku_part_number.as_str());
        assert_eq!(e[3]["name"], groups[0].name.as_str());
        assert_eq!(e[4], Value::Null);
    }
}

#[tokio::test]
async fn malformed_entity_key_is_bad_user_input() {
    let app = TestApp::demo(crate::support::Backend::Sqlite).await;
    let q = r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on LicenseSubscription { id } } }"#;
    let body = app
        .post(
            q,
            json!({ "r": [{ "__typename": "LicenseSubscription", "id": "nope" }] }),
        )
        .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT");
}
