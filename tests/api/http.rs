//! The HTTP surface: request parsing, status codes, health, metrics, GraphiQL, the schema file.

use serde_json::{Value, json};

use crate::support::{Backend, TestApp, backends, read_json, ws_connect};

#[tokio::test]
async fn body_that_is_not_json_gets_400_with_a_graphql_shaped_error() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{ tenants { name } }")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
}

#[tokio::test]
async fn request_without_a_query_gets_400() {
    let app = TestApp::empty(Backend::Sqlite).await;
    for body in [
        json!({}),
        json!({ "query": "  " }),
        json!([{ "query": "{ __typename }" }]),
    ] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert!(answer["errors"][0]["message"].is_string());
    }
}

#[tokio::test]
async fn get_with_query_parameters_runs_the_query() {
    let app = TestApp::demo(Backend::Sqlite).await;
    let response = app
        .client
        .get(app.url("/graphql?query=%7B%20tenants(first%3A%201)%20%7B%20totalCount%20%7D%20%7D"))
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["tenants"]["totalCount"], 4);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        let named = json!({ "operationName": "Dashboard", "query": "query Dashboard { tenants { totalCount } }" });
        let response = app
            .client
            .post(app.url("/graphql"))
            .json(&named)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let metrics = app.scrape_metrics().await;
        assert!(
            metrics.contains(
                "tenantgraph_graphql_requests_total{operation=\"Dashboard\",outcome=\"ok\"} 1"
            ),
            "{metrics}"
        );
        assert!(metrics.contains(
            "tenantgraph_graphql_request_duration_seconds_bucket{operation=\"Dashboard\""
        ));
        assert!(metrics.contains("tenantgraph_db_pool_connections{state=\"open\"}"));
        assert!(metrics.contains("tenantgraph_db_statements_total"));
    }
}

#[tokio::test]
async fn metrics_record_dataloader_batch_sizes() {
    let app = TestApp::demo(Backend::Sqlite).await;
    app.data(
        "{ tenants { edges { node { subscriptions { skuId } } } } }",
        json!({}),
    )
    .await;
    let metrics = app.scrape_metrics().await;
    assert!(
        metrics.contains(
            "tenantgraph_dataloader_batch_size_sum{loader=\"subscriptions_of_tenant\"} 4"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn graphiql_is_served_at_the_root_with_every_file_from_the_server_itself() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "script-src 'self';",
        "connect-src 'self';",
        "default-src 'none';",
    ] {
        assert!(csp.contains(directive), "no {directive} in {csp}");
    }
    assert!(!csp.contains("http") && !csp.contains("unsafe"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("content=\"{nonce}\"")), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("<style"),
        "{html}"
    );

    let files: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.starts_with("/graphiql/"))
        .collect();
    assert_eq!(files.len(), 9, "{files:?}");
    for file in files {
        let response = app.client.get(app.url(file)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{file}");
        let expected = match file.rsplit('.').next().unwrap() {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            _ => "text/plain; charset=utf-8",
        };
        assert_eq!(response.headers()["content-type"], expected, "{file}");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{file}"
        );
        assert!(!response.bytes().await.unwrap().is_empty(), "{file}");
    }

    // Another build's files, and files that were never there.
    let base = tenantgraph::http::graphiql::asset_base();
    for missing in [
        "/graphiql/0000000000000000/graphiql.min.js".to_owned(),
        format!("{base}/graphiql.min.js.map"),
        format!("{base}/..%2FCargo.toml"),
    ] {
        let response = app.client.get(app.url(&missing)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{missing}");
    }
}

#[tokio::test]
async fn readiness_fails_while_migrations_are_pending() {
    let app = TestApp::empty(Backend::Sqlite).await;
    app.store
        .execute_raw("DELETE FROM seaql_migrations WHERE version LIKE '%cost_group'")
        .await
        .unwrap();
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["reason"], "migrations pending");
}

#[test]
fn schema_graphql_matches_the_generated_sdl() {
    let generated = tenantgraph::graphql::federation_sdl(&tenantgraph::graphql::build());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema.graphql is stale; regenerate it with `cargo run -- schema > schema.graphql`"
    );
}

#[tokio::test]
async fn queries_run_over_websocket_with_graphql_transport_ws() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let app = TestApp::demo(Backend::Sqlite).await;
    let mut socket = ws_connect(app.addr, json!({})).await;
    for id in ["1", "2"] {
        let subscribe = json!({ "id": id, "type": "subscribe",
            "payload": { "query": "{ tenants { totalCount edges { node { userCount } } } }" } });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .unwrap();
        let next = read_json(&mut socket).await;
        assert_eq!(next["type"], "next", "{next}");
        assert_eq!(next["id"], id);
        assert_eq!(next["payload"]["data"]["tenants"]["totalCount"], 4);
        let complete = read_json(&mut socket).await;
        assert_eq!(complete["type"], "complete");
    }
}
