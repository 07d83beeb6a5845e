//! Persisted documents (issue 5, item 6): automatic persisted queries by SHA-256 hash over POST
//! and GET, checked against the limits each time, and the trusted documents mode that runs only
//! the operations of a manifest.

use serde_json::{Value, json};
use tenantgraph::config::Settings;
use tenantgraph::config::api::ApiSettings;
use tenantgraph::config::graphql::TrustedDocuments;
use tenantgraph::graphql::persisted::sha256_hex;

use crate::support::{Backend, TestApp, first_error_code};

const TENANTS: &str = "{ tenants(first: 5) { totalCount } }";

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn get(app: &TestApp, params: &[(&str, String)]) -> (u16, Value) {
    let url = url::Url::parse_with_params(&app.url("/graphql"), params).unwrap();
    let response = app
        .client
        .get(url)
        .header("X-Requested-With", "test")
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_query_sent_once_with_its_hash_then_runs_by_the_hash_alone() {
    let app = TestApp::demo(Backend::Sqlite).await;
    let hash = sha256_hex(TENANTS);
    let (status, body) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(status, 200);
    assert_eq!(
        first_error_code(&body),
        "PERSISTED_QUERY_NOT_FOUND",
        "{body}"
    );
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let (_, body) = post(
        &app,
        json!({ "query": TENANTS, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(body["data"]["tenants"]["totalCount"], 4, "{body}");
    let (_, body) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(body["data"]["tenants"]["totalCount"], 4, "{body}");
    let (status, body) = get(&app, &[("extensions", persisted(&hash).to_string())]).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["tenants"]["totalCount"], 4, "{body}");
}

#[tokio::test]
async fn a_hash_that_does_not_match_the_query_is_bad_user_input() {
    let app = TestApp::demo(Backend::Sqlite).await;
    let (_, body) = post(
        &app,
        json!({ "query": TENANTS, "extensions": persisted(&sha256_hex("{ other }")) }),
    )
    .await;
    assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
}

#[tokio::test]
async fn a_persisted_document_is_checked_against_the_limits_each_time() {
    let api = ApiSettings {
        limits: tenantgraph::config::graphql::OperationLimits {
            max_depth: 3,
            ..ApiSettings::default().limits
        },
        ..crate::support::test_api()
    };
    let app = TestApp::with_api(Backend::Sqlite, api).await;
    let deep = "{ tenants { edges { node { users { edges { node { id } } } } } } }";
    let hash = sha256_hex(deep);
    for body in [
        json!({ "query": deep, "extensions": persisted(&hash) }),
        json!({ "extensions": persisted(&hash) }),
    ] {
        let (_, answer) = post(&app, body).await;
        assert_eq!(
            first_error_code(&answer),
            "OPERATION_LIMIT_EXCEEDED",
            "{answer}"
        );
    }
}

#[tokio::test]
async fn a_persisted_mutation_is_refused_over_get() {
    let app = TestApp::demo(Backend::Sqlite).await;
    let mutation = "mutation { deleteCostGroup(id: \"00000000-0000-4000-8000-000000000000\") }";
    let hash = sha256_hex(mutation);
    let (_, body) = post(
        &app,
        json!({ "query": mutation, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND", "{body}");
    let (status, _) = get(&app, &[("extensions", persisted(&hash).to_string())]).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn with_the_cache_off_persisted_queries_are_not_supported() {
    let api = ApiSettings {
        apq_cache_size: 0,
        ..crate::support::test_api()
    };
    let app = TestApp::with_api(Backend::Sqlite, api).await;
    let (_, body) = post(
        &app,
        json!({ "query": TENANTS, "extensions": persisted(&sha256_hex(TENANTS)) }),
    )
    .await;
    assert_eq!(
        first_error_code(&body),
        "PERSISTED_QUERY_NOT_SUPPORTED",
        "{body}"
    );
    let (_, body) = post(&app, json!({ "query": TENANTS })).await;
    assert_eq!(body["data"]["tenants"]["totalCount"], 0, "{body}");
}

/// A server in trusted documents mode with a manifest of one query, read from a file in the
/// format the Client Portal build writes.
async fn trusted_app() -> (TestApp, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.json");
    let id = sha256_hex(TENANTS);
    std::fs::write(
        &path,
        json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": id, "body": TENANTS, "name": "Tenants", "type": "query" }],
        })
        .to_string(),
    )
    .unwrap();
    let mut settings = Settings::default();
    settings.graphql.graphql_trusted_documents = Some(path.display().to_string());
    let api = settings.check().unwrap().api;
    assert_eq!(
        api.trusted_documents.as_ref().map(|t| t.documents.len()),
        Some(1)
    );
    (TestApp::with_api(Backend::Sqlite, api).await, id)
}

#[tokio::test]
async fn trusted_documents_mode_runs_manifest_operations_by_hash_or_identical_text() {
    let (app, id) = trusted_app().await;
    let (_, body) = post(&app, json!({ "extensions": persisted(&id) })).await;
    assert_eq!(body["data"]["tenants"]["totalCount"], 0, "{body}");
    let (_, body) = post(&app, json!({ "query": TENANTS })).await;
    assert_eq!(body["data"]["tenants"]["totalCount"], 0, "{body}");
    let (_, body) = get(&app, &[("query", TENANTS.to_owned())]).await;
    assert_eq!(body["data"]["tenants"]["totalCount"], 0, "{body}");
}

#[tokio::test]
async fn trusted_documents_mode_refuses_every_other_document() {
    let (app, _) = trusted_app().await;
    let other = "{ tenants(first: 6) { totalCount } }";
    let (_, body) = post(&app, json!({ "query": other })).await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("trusted documents only"),
        "{body}"
    );
    // Not even when it comes with its own hash, as automatic persisted queries would send it.
    let (_, body) = post(
        &app,
        json!({ "query": other, "extensions": persisted(&sha256_hex(other)) }),
    )
    .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
    let (_, body) = post(&app, json!({ "extensions": persisted(&sha256_hex(other)) })).await;
    assert_eq!(
        first_error_code(&body),
        "PERSISTED_QUERY_NOT_FOUND",
        "{body}"
    );
    let (_, body) = post(&app, json!({ "query": "{ __schema { types { name } } }" })).await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
}

#[test]
fn a_manifest_that_does_not_parse_stops_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.json");
    std::fs::write(&path, "[1, 2]").unwrap();
    let err = TrustedDocuments::load(&path).unwrap_err();
    assert!(err.contains("apollo-persisted-query-manifest"), "{err}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tenantgraph"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "TENANTGRAPH_DATABASE_URL",
            format!("sqlite://{}/x.db?mode=rwc", dir.path().display()),
        )
        .env("TENANTGRAPH_GRAPHQL_TRUSTED_DOCUMENTS", &path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TENANTGRAPH_GRAPHQL_TRUSTED_DOCUMENTS"),
        "{stderr}"
    );
}
