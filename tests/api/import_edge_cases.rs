//! Upstream situations a tenant's import works around instead of failing (a refused delta link,
//! a refused `$deltatoken=latest`, an expired page token, transient sign-in errors), and the
//! failures that get a reason of their own, against the simulator over real HTTP.

use tenantgraph::domain::{FailureReason, ImportMode, ImportWarningCode, RunStatus};
use tenantgraph::simulator::{Fault, TenantSelector};

use crate::importer::{
    assert_matches_simulator, dump_users, import_all, importer_for, run_of, simulator,
};
use crate::support::{TestApp, backends};

fn warning_codes(run: &tenantgraph::domain::ImportRun) -> Vec<ImportWarningCode> {
    run.warnings.iter().map(|w| w.code).collect()
}

#[tokio::test]
async fn a_refused_delta_link_is_dropped_and_the_tenant_imported_in_full_in_the_same_run() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 120).await;
        let tenant = sim.tenant_ids()[0];
        let importer = importer_for(&app.store, &sim).await;
        import_all(&importer).await;
        sim.set_day(1);
        sim.set_faults(vec![(
            TenantSelector::Index(0),
            Fault::DeltaLinkRefused { status: 404 },
        )]);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert_eq!(run.mode, Some(ImportMode::Full));
        assert_eq!(warning_codes(&run), [ImportWarningCode::DeltaLinkRefused]);
        assert!(
            run.warnings[0].message.contains("ResourceNotFound"),
            "{run:?}"
        );
        assert_matches_simulator(&app.store, &sim, tenant).await;
        // The link taken by that full run works the next day.
        sim.set_faults(Vec::new());
        sim.set_day(2);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.mode, Some(ImportMode::Delta), "{run:?}");
        assert!(run.warnings.is_empty(), "{run:?}");
        assert_matches_simulator(&app.store, &sim, tenant).await;
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_refused_latest_delta_token_imports_without_a_link_then_starts_a_delta_round() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 120).await;
        let tenant = sim.tenant_ids()[0];
        sim.set_faults(vec![(TenantSelector::Index(0), Fault::DeltaLatestRefused)]);
        let importer = importer_for(&app.store, &sim).await;
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert_eq!(warning_codes(&run), [ImportWarningCode::DeltaLatestRefused]);
        assert!(
            run.warnings[0].message.contains("Request_UnsupportedQuery"),
            "{run:?}"
        );
        assert_matches_simulator(&app.store, &sim, tenant).await;
        // No link was stored: the next run reads an initial delta round, not the listing,
        // and needs no `latest` token (still refused).
        sim.set_day(1);
        sim.reset_stats();
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert_eq!(run.mode, Some(ImportMode::Full));
        assert!(run.warnings.is_empty(), "{run:?}");
        let counters = sim.stats().tenant(tenant);
        assert_eq!(counters.users_pages, 0, "{counters:?}");
        assert!(counters.delta_pages >= 1, "{counters:?}");
        assert_matches_simulator(&app.store, &sim, tenant).await;
        // That round ended in a link: from now on, deltas.
        sim.set_day(2);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.mode, Some(ImportMode::Delta), "{run:?}");
        assert_matches_simulator(&app.store, &sim, tenant).await;
        sim.stop().await;
    }
}

#[tokio::test]
async fn an_expired_page_token_restarts_the_listing_once_and_a_second_one_fails_the_tenant() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(2, 250).await;
        let tenants = sim.tenant_ids();
        sim.set_faults(vec![
            (
                TenantSelector::Index(0),
                Fault::ExpiredPageToken { page: 2, count: 1 },
            ),
            (
                TenantSelector::Index(1),
                Fault::ExpiredPageToken { page: 2, count: 2 },
            ),
        ]);
        let importer = importer_for(&app.store, &sim).await;
        let runs = import_all(&importer).await;
        let restarted = run_of(&runs, tenants[0]);
        assert_eq!(restarted.status, RunStatus::Succeeded, "{restarted:?}");
        assert_eq!(
            warning_codes(restarted),
            [ImportWarningCode::PageTokenExpired]
        );
        assert_matches_simulator(&app.store, &sim, tenants[0]).await;
        let failed = run_of(&runs, tenants[1]);
        assert_eq!(failed.status, RunStatus::Failed, "{failed:?}");
        assert_eq!(failed.reason, Some(FailureReason::InvalidUpstreamData));
        assert_eq!(
            failed.upstream_code.as_deref(),
            Some("Directory_ExpiredPageToken")
        );
        assert_eq!(dump_users(&app.store, tenants[1]).await, 0);
        sim.stop().await;
    }
}

#[tokio::test]
async fn transient_sign_in_errors_are_retried_like_server_errors() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(2, 50).await;
        let tenants = sim.tenant_ids();
        sim.set_faults(vec![
            (
                TenantSelector::Index(0),
                Fault::SignInTransient {
                    count: 2,
                    code: 50033,
                },
            ),
            (
                TenantSelector::Index(1),
                Fault::SignInTransient {
                    count: 1000,
                    code: 90033,
                },
            ),
        ]);
        let importer = importer_for(&app.store, &sim).await;
        let runs = import_all(&importer).await;
        let recovered = run_of(&runs, tenants[0]);
        assert_eq!(recovered.status, RunStatus::Succeeded, "{recovered:?}");
        assert_eq!(recovered.counts.retries, 2, "{recovered:?}");
        assert_matches_simulator(&app.store, &sim, tenants[0]).await;
        let failed = run_of(&runs, tenants[1]);
        assert_eq!(failed.status, RunStatus::Failed, "{failed:?}");
        assert_eq!(failed.reason, Some(FailureReason::UpstreamUnavailable));
        assert_eq!(failed.upstream_code.as_deref(), Some("AADSTS90033"));
        sim.stop().await;
    }
}

#[tokio::test]
async fn service_account_problems_and_conditional_access_get_remediations_of_their_own() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(4, 20).await;
        let tenants = sim.tenant_ids();
        sim.set_faults(vec![
            (
                TenantSelector::Index(0),
                Fault::ServiceAccount { code: 50057 },
            ),
            (
                TenantSelector::Index(1),
                Fault::ServiceAccount { code: 530034 },
            ),
            (TenantSelector::Index(2), Fault::ConditionalAccess),
        ]);
        let importer = importer_for(&app.store, &sim).await;
        let runs = import_all(&importer).await;
        for (tenant, code) in [(tenants[0], "AADSTS50057"), (tenants[1], "AADSTS530034")] {
            let run = run_of(&runs, tenant);
            assert_eq!(
                run.reason,
                Some(FailureReason::ServiceAccountBlocked),
                "{run:?}"
            );
            assert_eq!(run.upstream_code.as_deref(), Some(code));
            let remediation = run.remediation().unwrap();
            assert!(remediation.contains("Fix the account"), "{remediation}");
            assert!(!remediation.contains("sign the"), "{remediation}");
        }
        let ca = run_of(&runs, tenants[2]);
        assert_eq!(ca.reason, Some(FailureReason::ConditionalAccessBlocked));
        let remediation = ca.remediation().unwrap();
        let partner = sim.config().partner_tenant_id.to_string();
        let policy = uuid::Uuid::from_u128(tenants[2].as_u128() ^ 0x5300_3000).to_string();
        assert!(remediation.contains(&partner), "{remediation}");
        assert!(remediation.contains(&policy), "{remediation}");
        // The stored run reads back with the same text, and GraphQL serves it.
        let data = app
            .data(
                "query($id: ID!) { tenant(id: $id) { importStatus { lastRun { reason remediation } } } }",
                serde_json::json!({ "id": tenants[2].to_string() }),
            )
            .await;
        let last = &data["tenant"]["importStatus"]["lastRun"];
        assert_eq!(last["reason"], "CONDITIONAL_ACCESS_BLOCKED");
        assert_eq!(last["remediation"].as_str(), Some(remediation));
        assert_eq!(run_of(&runs, tenants[3]).status, RunStatus::Succeeded);
        sim.stop().await;
    }
}

/// The value of the sample of `name` whose labels include every pair of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn import_health_is_in_metrics_per_tenant_with_runs_retries_and_the_token_age() {
    for backend in backends() {
        let sim = simulator(2, 40).await;
        let tenants = sim.tenant_ids();
        let app = TestApp::with_importer(backend, crate::importer::settings_for(&sim)).await;
        // A first import (another importer, as `tenantgraph import` would) finds the tenants.
        import_all(&importer_for(&app.store, &sim).await).await;
        sim.set_day(1);
        sim.set_faults(vec![
            (
                TenantSelector::Index(0),
                Fault::Throttle {
                    count: 2,
                    retry_after_secs: 0,
                },
            ),
            (TenantSelector::Index(1), Fault::ConditionalAccess),
        ]);
        for tenant in &tenants {
            app.data(
                "mutation($id: ID!) { triggerImport(tenantId: $id) { id } }",
                serde_json::json!({ "id": tenant.to_string() }),
            )
            .await;
        }
        let status = "query($id: ID!) { tenant(id: $id) { importStatus { lastRun { status } } } }";
        for tenant in &tenants {
            for _ in 0..200 {
                let data = app
                    .data(status, serde_json::json!({ "id": tenant.to_string() }))
                    .await;
                if data["tenant"]["importStatus"]["lastRun"]["status"] != "RUNNING" {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let text = app.scrape_metrics().await;
        let runs = "tenantgraph_import_runs_total";
        assert_eq!(
            sample(&text, runs, &[("status", "SUCCEEDED"), ("reason", "none")]),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                runs,
                &[
                    ("status", "FAILED"),
                    ("reason", "CONDITIONAL_ACCESS_BLOCKED")
                ]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "tenantgraph_import_upstream_retries_total",
                &[("status", "429")]
            ),
            Some(2.0)
        );
        let written = sample(&text, "tenantgraph_import_users_written_total", &[]).unwrap();
        assert!(written > 0.0, "day 1 changes users: {text}");
        // Per tenant, from the store: the last success of both (the failed one from the first
        // import) and the newest run's status and reason.
        let now = chrono::Utc::now().timestamp() as f64;
        for tenant in &tenants {
            let at = sample(
                &text,
                "tenantgraph_import_last_success_timestamp_seconds",
                &[("tenant", &tenant.to_string())],
            )
            .unwrap_or_else(|| panic!("no last success for {tenant}: {text}"));
            assert!((now - at).abs() < 600.0, "{at} vs {now}");
        }
        let last_run = "tenantgraph_import_last_run";
        let t0 = tenants[0].to_string();
        let t1 = tenants[1].to_string();
        assert_eq!(
            sample(
                &text,
                last_run,
                &[("tenant", &t0), ("status", "SUCCEEDED"), ("reason", "none")]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                last_run,
                &[
                    ("tenant", &t1),
                    ("status", "FAILED"),
                    ("reason", "CONDITIONAL_ACCESS_BLOCKED")
                ]
            ),
            Some(1.0)
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("tenantgraph_import_last_run{"))
                .count(),
            2,
            "one series per tenant"
        );
        let age = sample(
            &text,
            "tenantgraph_import_refresh_token_age_seconds",
            &[("client_id", &sim.config().client_id)],
        )
        .unwrap();
        assert!((0.0..600.0).contains(&age), "{age}");
        sim.stop().await;
    }
}
