//! Operations hardening (issue 13): `/metrics` on its own listener with labels no caller can
//! spoil, client addresses taken from forwarding headers of trusted proxies only, and the audit
//! log pruned past its retention in batches, on every backend.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, EntityTrait, PaginatorTrait};
use serde_json::json;
use tenantgraph::config::api::ApiSettings;
use tenantgraph::config::auth::AuthSettings;
use tenantgraph::config::rate_limits::{Bucket, RateLimits};
use tenantgraph::server::audit_retention::prune_once;
use tenantgraph::store::audit::prune_audit_entries;
use tenantgraph::store::entities::{audit_log, tenant};

use crate::support::{Backend, TestApp, backends, recording_store, test_api};

const SECRET: &str = "operations-test-secret-0123456789abcdef";

/// A token for `oid` with `roles`, valid for ten minutes.
fn token(oid: &str, roles: &[&str]) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({ "exp": now + 600, "nbf": now - 10, "oid": oid, "roles": roles });
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn hs256_app(api: ApiSettings) -> TestApp {
    TestApp::with_api_and_auth(
        Backend::Sqlite,
        api,
        AuthSettings::hs256(SECRET.to_owned().into()),
    )
    .await
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_and_not_on_the_api() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let public = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    assert_ne!(app.metrics_addr.port(), app.addr.port());
    let scraped = app.scrape_metrics().await;
    assert!(
        scraped.contains("tenantgraph_db_statements_total"),
        "{scraped}"
    );
    // The metrics listener serves nothing else.
    let graphql = format!("http://{}/graphql", app.metrics_addr);
    let other = app.client.get(graphql).send().await.unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn operation_names_from_readers_cannot_push_an_administrators_operation_into_other() {
    let app = hs256_app(test_api()).await;
    let send = |bearer: String, name: String| {
        let request = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(bearer)
            .json(&json!({ "operationName": name,
                "query": format!("query {name} {{ __typename }}") }));
        async move {
            assert_eq!(request.send().await.unwrap().status(), 200);
        }
    };
    let reader = token("reader-1", &["reader"]);
    for i in 0..205 {
        send(reader.clone(), format!("Spam{i}")).await;
    }
    send(token("admin-1", &["partner_admin"]), "Dashboard".to_owned()).await;
    let scraped = app.scrape_metrics().await;
    assert!(
        scraped.contains(
            "tenantgraph_graphql_requests_total{operation=\"Dashboard\",outcome=\"ok\"} 1"
        ),
        "{scraped}"
    );
    assert!(!scraped.contains("operation=\"Spam"), "{scraped}");
    assert!(
        scraped
            .contains("tenantgraph_graphql_requests_total{operation=\"other\",outcome=\"ok\"} 205"),
        "{scraped}"
    );
}

/// Sends `GET /graphql` without a token and with `forwarded` as the `Forwarded` header;
/// returns the status (401 while the address's bucket holds a request, then 429).
async fn anonymous_get(app: &TestApp, forwarded: &str) -> u16 {
    app.client
        .get(app.url("/graphql?query=%7B__typename%7D"))
        .header("x-requested-with", "test")
        .header("forwarded", forwarded)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Clients without a valid token may send 2 requests at once; proxies in `trusted` are
/// believed.
async fn limited_app(trusted: &[&str]) -> TestApp {
    hs256_app(ApiSettings {
        rate_limits: RateLimits {
            principal: None,
            unauthenticated: Bucket::new(1, 2),
        },
        trusted_proxies: trusted.iter().map(|n| n.parse().unwrap()).collect(),
        ..test_api()
    })
    .await
}

#[tokio::test]
async fn rate_limits_ignore_an_untrusted_peers_forwarded_header_and_use_a_trusted_proxys() {
    // Untrusted: three different claimed addresses are one client, the peer.
    let app = limited_app(&[]).await;
    let statuses = [
        anonymous_get(&app, "for=198.51.100.1").await,
        anonymous_get(&app, "for=198.51.100.2").await,
        anonymous_get(&app, "for=198.51.100.3").await,
    ];
    assert_eq!(statuses, [401, 401, 429]);

    // Trusted (the test client connects from loopback): each forwarded address is a client.
    let app = limited_app(&["127.0.0.0/8"]).await;
    let statuses = [
        anonymous_get(&app, "for=198.51.100.1").await,
        anonymous_get(&app, "for=198.51.100.2").await,
        anonymous_get(&app, "for=198.51.100.3").await,
    ];
    assert_eq!(statuses, [401, 401, 401]);
    let statuses = [
        anonymous_get(&app, "for=198.51.100.4").await,
        anonymous_get(&app, "for=198.51.100.4").await,
        anonymous_get(&app, "for=198.51.100.4").await,
    ];
    assert_eq!(statuses, [401, 401, 429]);
}

/// Writes `count` audit log entries of `tenant_id` recorded `age` ago.
async fn audit_entries(
    db: &sea_orm::DatabaseConnection,
    tenant_id: uuid::Uuid,
    count: usize,
    age: chrono::Duration,
) {
    let at = (Utc::now() - age).trunc_subsecs(6);
    let rows = (0..count).map(|i| audit_log::ActiveModel {
        id: NotSet,
        tenant_id: Set(tenant_id),
        at: Set(at),
        actor: Set("retention-test".to_owned()),
        action: Set("createCostGroup".to_owned()),
        subject_type: Set("costGroup".to_owned()),
        subject_id: Set(format!("group-{i}")),
        before: Set(None),
        after: Set(Some(json!({ "name": "Sales" }))),
        effective_from: Set(None),
    });
    audit_log::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await
        .unwrap();
}

#[tokio::test]
async fn audit_entries_past_their_retention_are_removed_in_batches_and_recent_ones_kept() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let db = sea_orm::Database::connect(app.store.url()).await.unwrap();
        let tenant_id = tenant::Entity::find().one(&db).await.unwrap().unwrap().id;
        // The demo data's own entries are recent.
        let recent = audit_log::Entity::find().count(&db).await.unwrap() + 5;
        audit_entries(&db, tenant_id, 25, chrono::Duration::days(40)).await;
        audit_entries(&db, tenant_id, 5, chrono::Duration::days(20)).await;
        let days = |n: u64| Duration::from_secs(n * 86_400);

        // Retention 0 keeps everything and runs no statement.
        let before = app.metrics.statements_total();
        let prune = prune_once(&app.store, Duration::ZERO, Utc::now(), 10)
            .await
            .unwrap();
        assert_eq!((prune.removed, prune.batches), (0, 0), "{backend:?}");
        assert_eq!(app.metrics.statements_total(), before);
        assert_eq!(
            audit_log::Entity::find().count(&db).await.unwrap(),
            recent + 25
        );

        // 30 days: the 25 entries of 40 days ago go, 10 a statement; the recent ones stay.
        let before = app.metrics.statements_total();
        let prune = prune_once(&app.store, days(30), Utc::now(), 10)
            .await
            .unwrap();
        assert_eq!((prune.removed, prune.batches), (25, 3), "{backend:?}");
        assert_eq!(app.metrics.statements_total() - before, 3);
        assert_eq!(audit_log::Entity::find().count(&db).await.unwrap(), recent);

        // Nothing more is past 30 days: one statement finds nothing.
        let prune = prune_once(&app.store, days(30), Utc::now(), 10)
            .await
            .unwrap();
        assert_eq!((prune.removed, prune.batches), (0, 1), "{backend:?}");
        assert_eq!(audit_log::Entity::find().count(&db).await.unwrap(), recent);
        db.close().await.unwrap();
    }
}

#[tokio::test]
async fn the_audit_log_retention_finds_old_entries_through_an_index() {
    let app = TestApp::demo(Backend::Sqlite).await;
    let db = sea_orm::Database::connect(app.store.url()).await.unwrap();
    let tenant_id = tenant::Entity::find().one(&db).await.unwrap().unwrap().id;
    // Enough entries that SQLite's planner does not prefer reading the table to an index.
    for day in 1..=40 {
        audit_entries(&db, tenant_id, 50, chrono::Duration::days(day)).await;
    }
    let (store, statements) = recording_store(&app.store).await;
    let cutoff = Utc::now() - chrono::Duration::days(100);
    let prune = prune_audit_entries(&store, cutoff, 1_000).await.unwrap();
    assert_eq!((prune.removed, prune.batches), (0, 1));
    let delete = statements.lock().unwrap().pop().unwrap();
    let plan = app.store.query_plan(&delete).await.unwrap();
    assert!(
        plan.iter()
            .all(|line| !line.contains("SCAN audit_log") && !line.contains("TEMP B-TREE")),
        "{delete}\n{plan:#?}"
    );
    assert!(
        plan.iter().any(|line| line.contains("idx_audit_log_at")),
        "{delete}\n{plan:#?}"
    );
}
