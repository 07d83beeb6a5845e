//! Import runs through GraphQL: `Tenant.importStatus`, `importRuns`, `importRun`, the
//! `triggerImport` mutation and the `importProgress` subscription over WebSocket.

use chrono::Utc;
use serde_json::{Value, json};
use tenantgraph::config::Settings;
use tenantgraph::config::importer::ImporterSection;
use tenantgraph::config::secrets::SecretsSection;
use tenantgraph::config::upstream::UpstreamSection;
use tenantgraph::domain::{
    FailureReason, ImportCounts, ImportMode, ImportRun, ImportTrigger, RunStatus, Tenant, TenantId,
};
use tenantgraph::store::Store;
use tenantgraph::store::import_runs::{self, NewRun, RunEnd};
use uuid::Uuid;

use crate::support::{Socket, TestApp, backends, first_error_code, read_json, ws_connect};

/// Stores tenants named `Tenant 000`, `Tenant 001`, ... and returns their ids.
pub(crate) async fn tenants(store: &Store, n: usize) -> Vec<TenantId> {
    let now = Utc::now();
    let tenants: Vec<Tenant> = (0..n)
        .map(|i| Tenant {
            id: TenantId(Uuid::new_v4()),
            customer_id: None,
            name: format!("Tenant {i:03}"),
            default_domain: None,
            created_at: now,
            updated_at: now,
            last_import_at: None,
        })
        .collect();
    import_runs::upsert_discovered_tenants(store, &tenants, false)
        .await
        .unwrap();
    tenants.into_iter().map(|t| t.id).collect()
}

/// Starts a run of `tenant_id` holding its lease.
pub(crate) async fn start(store: &Store, tenant_id: TenantId) -> ImportRun {
    import_runs::start_run(
        store,
        &NewRun {
            tenant_id,
            trigger: ImportTrigger::Schedule,
            scheduled_for: None,
            holder: "test-holder".to_owned(),
            lease: chrono::Duration::seconds(120),
            observed_on: None,
        },
    )
    .await
    .unwrap()
    .unwrap()
}

/// Runs `tenant_id` once, ending with `reason` (failed) or successfully when `None`.
pub(crate) async fn run(
    store: &Store,
    tenant_id: TenantId,
    reason: Option<FailureReason>,
) -> ImportRun {
    let run = start(store, tenant_id).await;
    let end = RunEnd {
        status: if reason.is_some() {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        },
        mode: Some(ImportMode::Full),
        reason,
        upstream_code: reason.map(|_| "AADSTS53003".to_owned()),
        upstream_message: reason.map(|_| "blocked by policy".to_owned()),
        remediation: None,
        warnings: Vec::new(),
        counts: ImportCounts {
            users_added: 3,
            pages: 2,
            ..ImportCounts::default()
        },
    };
    import_runs::finish_run(store, &run, &end).await.unwrap();
    import_runs::find_run(store, run.id).await.unwrap().unwrap()
}

/// Importer settings whose upstream is a closed port, failing fast.
pub(crate) fn unreachable_upstream(tenant_id: TenantId) -> Settings {
    let closed = "http://127.0.0.1:9".to_owned();
    Settings {
        upstream: UpstreamSection {
            login_url: closed.clone(),
            partner_center_url: closed.clone(),
            graph_url: closed,
            client_id: Some("00000000-0000-0000-0000-00000000c11d".to_owned()),
            client_secret: Some("test-secret".to_owned()),
            refresh_token: Some("test-refresh-token".to_owned()),
            ..UpstreamSection::default()
        },
        secrets: SecretsSection {
            secret_key: Some(crate::support::SECRET_KEY.to_owned()),
            ..SecretsSection::default()
        },
        importer: ImporterSection {
            import_tenants: Some(tenant_id.to_string()),
            import_max_attempts: 1,
            import_retry_base_ms: 1,
            ..ImporterSection::default()
        },
        ..Settings::default()
    }
}

/// Opens a graphql-transport-ws connection to `app` and subscribes to `query` (id `s`).
async fn subscribe(app: &TestApp, query: &str, variables: Value) -> Socket {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let mut socket = ws_connect(app.addr, json!({})).await;
    let subscribe = json!({ "id": "s", "type": "subscribe",
        "payload": { "query": query, "variables": variables } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    socket
}

const STATUS: &str = r#"query($id: ID!) { tenant(id: $id) { importStatus {
  status reason remediation lastSuccessAt
  lastRun { id status reason upstreamCode remediation usersAdded pages durationMs tenant { id } }
  lastSuccess { id status finishedAt } } } }"#;

#[tokio::test]
async fn import_status_shows_the_last_run_its_reason_and_the_last_success() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let ids = tenants(&app.store, 2).await;
        let ok = run(&app.store, ids[0], None).await;
        let failed = run(
            &app.store,
            ids[0],
            Some(FailureReason::ConditionalAccessBlocked),
        )
        .await;

        let data = app.data(STATUS, json!({ "id": ids[0].to_string() })).await;
        let status = &data["tenant"]["importStatus"];
        assert_eq!(status["status"], "FAILED", "{backend:?}");
        assert_eq!(status["reason"], "CONDITIONAL_ACCESS_BLOCKED");
        assert_eq!(
            status["remediation"],
            FailureReason::ConditionalAccessBlocked.remediation()
        );
        let last = &status["lastRun"];
        assert_eq!(last["id"], failed.id.to_string());
        assert_eq!(last["upstreamCode"], "AADSTS53003");
        assert_eq!(last["usersAdded"], 3);
        assert_eq!(last["pages"], 2);
        assert!(last["durationMs"].as_i64().unwrap() >= 0);
        assert_eq!(last["tenant"]["id"], ids[0].to_string());
        assert_eq!(status["lastSuccess"]["id"], ok.id.to_string());
        assert_eq!(status["lastSuccess"]["status"], "SUCCEEDED");
        assert_eq!(status["lastSuccessAt"], status["lastSuccess"]["finishedAt"]);
        assert!(!status["lastSuccessAt"].is_null());

        let never = app.data(STATUS, json!({ "id": ids[1].to_string() })).await;
        let never = &never["tenant"]["importStatus"];
        assert!(never["lastRun"].is_null() && never["lastSuccess"].is_null());
        assert!(never["status"].is_null() && never["remediation"].is_null());
    }
}

const RUNS: &str = r#"query($tenant: ID!, $first: Int, $after: String) {
  importRuns(tenantId: $tenant, first: $first, after: $after) {
    pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id trigger status } } }"#;

#[tokio::test]
async fn import_runs_page_newest_first_with_cursors() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let ids = tenants(&app.store, 2).await;
        let mut created = Vec::new();
        for i in 0..5 {
            let reason = (i % 2 == 1).then_some(FailureReason::Throttled);
            created.push(run(&app.store, ids[0], reason).await.id.to_string());
        }
        run(&app.store, ids[1], None).await;
        created.reverse();

        let mut seen = Vec::new();
        let mut after = Value::Null;
        for expected_next in [true, true, false] {
            let data = app
                .data(
                    RUNS,
                    json!({ "tenant": ids[0].to_string(), "first": 2, "after": after }),
                )
                .await;
            let runs = &data["importRuns"];
            assert_eq!(
                runs["pageInfo"]["hasNextPage"], expected_next,
                "{backend:?}: {runs}"
            );
            for node in runs["nodes"].as_array().unwrap() {
                assert_eq!(node["trigger"], "SCHEDULE");
                seen.push(node["id"].as_str().unwrap().to_owned());
            }
            after = runs["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(seen, created, "newest first on {backend:?}");

        let unknown = app
            .data(RUNS, json!({ "tenant": Uuid::new_v4().to_string() }))
            .await;
        assert_eq!(unknown["importRuns"]["nodes"], json!([]));

        let bad = app
            .post(
                RUNS,
                json!({ "tenant": ids[0].to_string(), "after": "garbage" }),
            )
            .await;
        assert_eq!(first_error_code(&bad), "BAD_USER_INPUT");
        let too_many = app
            .post(RUNS, json!({ "tenant": ids[0].to_string(), "first": 501 }))
            .await;
        assert_eq!(first_error_code(&too_many), "BAD_USER_INPUT");
    }
}

#[tokio::test]
async fn import_run_by_id_returns_the_run_or_null_when_unknown() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let ids = tenants(&app.store, 1).await;
        let failed = run(&app.store, ids[0], Some(FailureReason::MfaRequired)).await;
        let q = r#"query($id: ID!) { importRun(id: $id) { id tenantId trigger mode status reason
            upstreamMessage startedAt finishedAt } }"#;
        let data = app.data(q, json!({ "id": failed.id.to_string() })).await;
        let found = &data["importRun"];
        assert_eq!(found["id"], failed.id.to_string(), "{backend:?}");
        assert_eq!(found["tenantId"], ids[0].to_string());
        assert_eq!(found["mode"], "FULL");
        assert_eq!(found["status"], "FAILED");
        assert_eq!(found["reason"], "MFA_REQUIRED");
        assert_eq!(found["upstreamMessage"], "blocked by policy");

        let data = app
            .data(q, json!({ "id": Uuid::new_v4().to_string() }))
            .await;
        assert!(data["importRun"].is_null());
    }
}

const TRIGGER: &str =
    r#"mutation($id: ID!) { triggerImport(tenantId: $id) { id tenantId trigger status } }"#;

#[tokio::test]
async fn trigger_import_of_an_unknown_tenant_is_not_found() {
    for backend in backends() {
        let unknown = TenantId(Uuid::new_v4());
        let app = TestApp::with_importer(backend, unreachable_upstream(unknown)).await;
        let body = app
            .post(TRIGGER, json!({ "id": unknown.to_string() }))
            .await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "{backend:?}: {body}");
    }
}

#[tokio::test]
async fn trigger_import_without_configured_imports_is_a_conflict() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let ids = tenants(&app.store, 1).await;
        let body = app.post(TRIGGER, json!({ "id": ids[0].to_string() })).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{backend:?}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("imports are not configured"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn trigger_import_while_a_run_holds_the_lease_is_a_conflict() {
    for backend in backends() {
        let app =
            TestApp::with_importer(backend, unreachable_upstream(TenantId(Uuid::new_v4()))).await;
        let ids = tenants(&app.store, 1).await;
        start(&app.store, ids[0]).await;
        let body = app.post(TRIGGER, json!({ "id": ids[0].to_string() })).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{backend:?}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(&ids[0].to_string()), "{message}");
    }
}

const PROGRESS: &str = r#"subscription($id: ID!) { importProgress(runId: $id) {
  runId tenantId phase pages users status reason run { status finishedAt } } }"#;

#[tokio::test]
async fn triggered_import_runs_and_its_progress_reports_the_failure_over_websocket() {
    for backend in backends() {
        let tenant_id = TenantId(Uuid::new_v4());
        let app = TestApp::with_importer(backend, unreachable_upstream(tenant_id)).await;
        import_runs::upsert_discovered_tenants(
            &app.store,
            &[Tenant {
                id: tenant_id,
                customer_id: None,
                name: "Unreachable".to_owned(),
                default_domain: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
                last_import_at: None,
            }],
            false,
        )
        .await
        .unwrap();

        let data = app
            .data(TRIGGER, json!({ "id": tenant_id.to_string() }))
            .await;
        let started = &data["triggerImport"];
        assert_eq!(started["status"], "RUNNING", "{backend:?}");
        assert_eq!(started["trigger"], "MANUAL");
        assert_eq!(started["tenantId"], tenant_id.to_string());
        let run_id = started["id"].as_str().unwrap().to_owned();

        let mut socket = subscribe(&app, PROGRESS, json!({ "id": run_id })).await;

        let mut reports = Vec::new();
        let deadline = std::time::Duration::from_secs(60);
        loop {
            let message = tokio::time::timeout(deadline, read_json(&mut socket))
                .await
                .expect("importProgress ends within a minute");
            match message["type"].as_str() {
                Some("next") => reports.push(message["payload"].clone()),
                Some("complete") => break,
                _ => panic!("unexpected message on {backend:?}: {message}"),
            }
        }
        let last = &reports.last().expect("at least one report")["data"]["importProgress"];
        assert_eq!(last["runId"], run_id, "{backend:?}");
        assert_eq!(last["tenantId"], tenant_id.to_string());
        assert_eq!(last["phase"], "FINISHED", "{reports:?}");
        assert_eq!(last["status"], "FAILED");
        assert_eq!(last["reason"], "UPSTREAM_UNAVAILABLE");
        assert_eq!(last["run"]["status"], "FAILED");
        assert!(!last["run"]["finishedAt"].is_null());
        for report in &reports[..reports.len() - 1] {
            assert_ne!(report["data"]["importProgress"]["phase"], "FINISHED");
        }
    }
}

#[tokio::test]
async fn import_progress_of_an_unknown_run_is_not_found() {
    let app = TestApp::empty(crate::support::Backend::Sqlite).await;
    let q = r#"subscription($id: ID!) { importProgress(runId: $id) { phase } }"#;
    // Over HTTP a subscription is refused before it runs; the resolver is reached over WebSocket.
    let mut socket = subscribe(&app, q, json!({ "id": Uuid::new_v4().to_string() })).await;
    let message = read_json(&mut socket).await;
    let code = match message["type"].as_str() {
        Some("next") => message["payload"]["errors"][0]["extensions"]["code"].clone(),
        Some("error") => message["payload"][0]["extensions"]["code"].clone(),
        _ => panic!("unexpected {message}"),
    };
    assert_eq!(code, "NOT_FOUND", "{message}");
}

const STATUS_PAGE: &str =
    r#"{ tenants(first: 50) { nodes { name importStatus { lastRun { status } } } } }"#;

#[tokio::test]
async fn import_status_of_a_tenants_page_costs_the_same_statements_for_3_and_40_tenants() {
    for backend in backends() {
        let mut counts = Vec::new();
        for n in [3, 40] {
            let app = TestApp::uncached(backend).await;
            for (i, id) in tenants(&app.store, n).await.into_iter().enumerate() {
                run(&app.store, id, None).await;
                if i % 2 == 0 {
                    run(&app.store, id, Some(FailureReason::Throttled)).await;
                }
            }
            let (body, count) = app.counted(STATUS_PAGE, json!({})).await;
            assert!(body.get("errors").is_none(), "{body}");
            let nodes = body["data"]["tenants"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), n);
            assert_eq!(nodes[0]["importStatus"]["lastRun"]["status"], "FAILED");
            assert_eq!(nodes[1]["importStatus"]["lastRun"]["status"], "SUCCEEDED");
            counts.push(count);
        }
        assert_eq!(counts[0], counts[1], "{backend:?}");
        // the tenants page, the import status of every tenant on it
        assert_eq!(counts[1], 2, "{backend:?}");
    }
}

#[tokio::test]
async fn import_progress_of_a_run_of_another_replica_follows_the_store_until_it_ends() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let ids = tenants(&app.store, 1).await;
        let elsewhere = start(&app.store, ids[0]).await;

        let mut socket = subscribe(
            &app,
            "subscription($id: ID!) { importProgress(runId: $id) { phase status reason } }",
            json!({ "id": elsewhere.id.to_string() }),
        )
        .await;
        let first = read_json(&mut socket).await;
        assert_eq!(first["type"], "next", "{backend:?}: {first}");
        assert_eq!(
            first["payload"]["data"]["importProgress"]["status"],
            "RUNNING"
        );

        let end = RunEnd {
            status: RunStatus::Failed,
            mode: None,
            reason: Some(FailureReason::Throttled),
            upstream_code: Some("429".to_owned()),
            upstream_message: None,
            remediation: None,
            warnings: Vec::new(),
            counts: ImportCounts::default(),
        };
        import_runs::finish_run(&app.store, &elsewhere, &end)
            .await
            .unwrap();
        let deadline = std::time::Duration::from_secs(30);
        let last = tokio::time::timeout(deadline, read_json(&mut socket))
            .await
            .expect("the store is polled every second");
        let progress = &last["payload"]["data"]["importProgress"];
        assert_eq!(progress["phase"], "FINISHED", "{backend:?}: {last}");
        assert_eq!(progress["status"], "FAILED");
        assert_eq!(progress["reason"], "THROTTLED");
        let complete = read_json(&mut socket).await;
        assert_eq!(complete["type"], "complete");
    }
}
