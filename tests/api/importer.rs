//! The importer against the Microsoft simulator over real HTTP, on SQLite and PostgreSQL.

use std::sync::Arc;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tenantgraph::config::Settings;
use tenantgraph::config::importer::ImporterSection;
use tenantgraph::config::secrets::SecretsSection;
use tenantgraph::config::store::StoreSettings;
use tenantgraph::config::upstream::UpstreamSection;
use tenantgraph::domain::{
    FailureReason, ImportMode, ImportRun, ImportTrigger, RunStatus, TenantId,
};
use tenantgraph::importer::Importer;
use tenantgraph::simulator::{self, Fault, RunningSimulator, SimulatorConfig, TenantSelector};
use tenantgraph::store::entities::{
    import_run, service_plan, subscription, user, user_license, user_license_assignment,
};
use tenantgraph::store::{Store, import_runs};
use uuid::Uuid;

use crate::support::{SECRET_KEY, TestApp, backends, keyring};

pub(crate) async fn simulator(tenants: usize, users: usize) -> RunningSimulator {
    simulator::start(
        SimulatorConfig {
            tenants,
            users_per_tenant: users,
            seed: 7,
            ..SimulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// Settings pointing the importer at `sim`, with fast retries.
pub(crate) fn settings_for(sim: &RunningSimulator) -> Settings {
    let config = sim.config();
    Settings {
        upstream: UpstreamSection {
            login_url: sim.base_url(),
            partner_center_url: sim.base_url(),
            graph_url: sim.base_url(),
            client_id: Some(config.client_id.clone()),
            client_secret: Some(config.client_secret.clone()),
            refresh_token: Some(config.refresh_token.clone()),
            partner_tenant_id: Some(config.partner_tenant_id.to_string()),
            ..UpstreamSection::default()
        },
        secrets: SecretsSection {
            secret_key: Some(SECRET_KEY.to_owned()),
            ..SecretsSection::default()
        },
        importer: ImporterSection {
            import_max_attempts: 4,
            import_retry_base_ms: 1,
            import_retry_cap_secs: 1,
            import_lease_secs: 30,
            ..ImporterSection::default()
        },
        ..Settings::default()
    }
}

/// Imports every tenant of `importer`'s simulator as of `date`; each run must succeed.
pub(crate) async fn import_as_of(importer: &Arc<Importer>, date: chrono::NaiveDate) {
    let summary = importer
        .run_all_as_of(ImportTrigger::Cli, None, None, Some(date))
        .await
        .unwrap();
    assert!(
        summary
            .runs
            .iter()
            .all(|r| r.status == RunStatus::Succeeded),
        "{summary:?}"
    );
}

pub(crate) async fn importer_for(store: &Store, sim: &RunningSimulator) -> Arc<Importer> {
    Importer::new(
        store.clone(),
        settings_for(sim).check().unwrap().importer().unwrap(),
    )
    .await
    .unwrap()
}

/// An importer for `sim` that reads tenants of `users` stored users or more through a delta
/// round instead of a listing.
pub(crate) async fn importer_large_from(
    store: &Store,
    sim: &RunningSimulator,
    users: u64,
) -> Arc<Importer> {
    let mut settings = settings_for(sim);
    settings.importer.import_large_tenant_users = users;
    Importer::new(store.clone(), settings.check().unwrap().importer().unwrap())
        .await
        .unwrap()
}

pub(crate) async fn import_all(importer: &Arc<Importer>) -> Vec<ImportRun> {
    importer
        .run_all(ImportTrigger::Cli, None, None)
        .await
        .unwrap()
        .runs
}

pub(crate) fn run_of(runs: &[ImportRun], tenant: Uuid) -> &ImportRun {
    runs.iter()
        .find(|r| r.tenant_id == TenantId(tenant))
        .unwrap_or_else(|| panic!("no run for tenant {tenant}"))
}

/// Everything stored for a tenant, as JSON, for "exactly as it was" comparisons.
async fn dump(store: &Store, tenant: Uuid) -> Value {
    let db = store_db(store).await;
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .order_by_asc(user::Column::Id)
        .all(&db)
        .await
        .unwrap();
    let licenses = user_license::Entity::find()
        .filter(user_license::Column::TenantId.eq(tenant))
        .order_by_asc(user_license::Column::UserId)
        .order_by_asc(user_license::Column::SkuId)
        .all(&db)
        .await
        .unwrap();
    let assignments = user_license_assignment::Entity::find()
        .filter(user_license_assignment::Column::TenantId.eq(tenant))
        .order_by_asc(user_license_assignment::Column::UserId)
        .order_by_asc(user_license_assignment::Column::Position)
        .all(&db)
        .await
        .unwrap();
    assert!(!assignments.is_empty(), "{tenant} has license assignments");
    let skus = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant))
        .order_by_asc(subscription::Column::SkuId)
        .all(&db)
        .await
        .unwrap();
    let plans = service_plan::Entity::find()
        .filter(service_plan::Column::TenantId.eq(tenant))
        .order_by_asc(service_plan::Column::SkuId)
        .order_by_asc(service_plan::Column::ServicePlanId)
        .all(&db)
        .await
        .unwrap();
    json!({
        "users": format!("{users:?}"),
        "licenses": format!("{licenses:?}"),
        "assignments": format!("{assignments:?}"),
        "skus": format!("{skus:?}"),
        "plans": format!("{plans:?}"),
    })
}

/// A second connection to the same database (the store's own is crate-private).
pub(crate) async fn store_db(store: &Store) -> sea_orm::DatabaseConnection {
    sea_orm::Database::connect(store.url()).await.unwrap()
}

/// Asserts the stored present users, licenses and SKUs of `tenant` equal the simulator's
/// current data, field by field.
pub(crate) async fn assert_matches_simulator(store: &Store, sim: &RunningSimulator, tenant: Uuid) {
    let expected = sim.snapshot(tenant).unwrap();
    let db = store_db(store).await;
    let stored: Vec<user::Model> = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::DeletedAt.is_null())
        .order_by_asc(user::Column::Id)
        .all(&db)
        .await
        .unwrap();
    let mut want = expected.users.clone();
    want.sort_by_key(|u| u.id);
    assert_eq!(stored.len(), want.len(), "present users of {tenant}");
    for (got, want) in stored.iter().zip(&want) {
        assert_eq!(got.id, want.id);
        let display = want
            .display_name
            .clone()
            .unwrap_or_else(|| want.user_principal_name.clone());
        assert_eq!(got.display_name, display, "displayName of {}", want.id);
        assert_eq!(got.user_principal_name, want.user_principal_name);
        assert_eq!(got.given_name, want.given_name, "givenName of {}", want.id);
        assert_eq!(got.surname, want.surname);
        assert_eq!(got.mail, want.mail);
        assert_eq!(got.user_type, want.user_type);
        assert_eq!(got.account_enabled, want.account_enabled);
        assert_eq!(got.job_title, want.job_title, "jobTitle of {}", want.id);
        assert_eq!(got.department, want.department, "department of {}", want.id);
        assert_eq!(got.company_name, want.company_name);
        assert_eq!(got.office_location, want.office_location);
        assert_eq!(got.street_address, want.street_address);
        assert_eq!(got.city, want.city);
        assert_eq!(got.state, want.state);
        assert_eq!(got.postal_code, want.postal_code);
        assert_eq!(got.country, want.country);
        assert_eq!(got.preferred_language, want.preferred_language);
        assert_eq!(got.usage_location, want.usage_location);
        assert_eq!(got.manager_id, want.manager_id, "manager of {}", want.id);
        let contact = want.manager_contact.as_ref();
        assert_eq!(
            got.manager_contact_id,
            contact.map(|c| c.id),
            "manager contact of {}",
            want.id
        );
        // A contact a delta named by id only has no names until a listing brings them.
        if got.manager_contact_name.is_some() || got.manager_contact_mail.is_some() {
            assert_eq!(
                got.manager_contact_name.as_deref(),
                contact.map(|c| c.display_name.as_str())
            );
            assert_eq!(
                got.manager_contact_mail.as_deref(),
                contact.map(|c| c.mail.as_str())
            );
        }
        let attributes: Vec<Option<String>> = (1..=15)
            .map(|n| {
                got.extension_attributes[format!("extensionAttribute{n}")]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(
            attributes,
            want.extension_attributes.to_vec(),
            "extension attributes of {}",
            want.id
        );
    }
    let mut got_licenses: Vec<(Uuid, Uuid, Vec<Uuid>)> = user_license::Entity::find()
        .filter(user_license::Column::TenantId.eq(tenant))
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| {
            let mut plans: Vec<Uuid> = serde_json::from_value(l.disabled_plans).unwrap();
            plans.sort();
            (l.user_id, l.sku_id, plans)
        })
        .collect();
    got_licenses.sort();
    let mut want_licenses: Vec<(Uuid, Uuid, Vec<Uuid>)> = want
        .iter()
        .flat_map(|u| {
            u.licenses.iter().map(move |l| {
                let mut plans = l.disabled_plans.clone();
                plans.sort();
                (u.id, l.sku_id, plans)
            })
        })
        .collect();
    want_licenses.sort();
    assert_eq!(got_licenses, want_licenses, "licenses of {tenant}");
    let skus = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(skus.len(), expected.skus.len());
    for sku in &expected.skus {
        let got = skus.iter().find(|s| s.sku_id == sku.sku_id).unwrap();
        assert_eq!(got.sku_part_number, sku.sku_part_number);
        assert_eq!(got.consumed_units, sku.consumed_units);
        assert_eq!(got.prepaid_enabled, sku.enabled);
        assert_eq!(got.prepaid_warning, sku.warning);
        assert_eq!(got.prepaid_suspended, sku.suspended);
        assert_eq!(got.capability_status, sku.capability_status);
        assert_eq!(got.applies_to, sku.applies_to);
    }
}

#[tokio::test]
async fn full_import_equals_the_simulator_data_field_by_field() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(2, 230).await;
        let importer = importer_for(&app.store, &sim).await;
        let runs = import_all(&importer).await;
        assert_eq!(runs.len(), 2);
        for tenant in sim.tenant_ids() {
            let run = run_of(&runs, tenant);
            assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
            assert_eq!(run.mode, Some(ImportMode::Full));
            assert_matches_simulator(&app.store, &sim, tenant).await;
            // 230 users with managers expanded: 3 pages of at most 100, one SKU page, one
            // delta request for the link to continue from, the commerce subscriptions
            // (Partner Center, asked as the partner) with the directory subscriptions that link
            // them (Graph), and one page of sign-in activity (up to 500 users a page).
            let counters = sim.stats().tenant(tenant);
            assert_eq!(counters.users_pages, 3);
            assert_eq!(counters.directory_requests, 1);
            assert_eq!(counters.sign_in_pages, 1);
            assert_eq!(run.counts.pages, 8);
            assert_eq!(run.counts.users_added, 230);
            let skus = sim.snapshot(tenant).unwrap().skus;
            assert_eq!(run.counts.skus, skus.len() as i64);
            let assigned: i64 = skus.iter().map(|s| s.consumed_units).sum();
            assert_eq!(run.counts.licenses, assigned);
        }
        assert_eq!(
            sim.stats().total.subscription_requests,
            2,
            "one per customer"
        );
        // Tenant names come from Partner Center.
        let data = app
            .data(
                "query($id: ID!) { tenant(id: $id) { name defaultDomain userCount } }",
                json!({ "id": sim.tenant_ids()[0].to_string() }),
            )
            .await;
        let expected = sim.snapshot(sim.tenant_ids()[0]).unwrap();
        assert_eq!(data["tenant"]["name"], expected.name.as_str());
        assert_eq!(data["tenant"]["userCount"], 230);
        sim.stop().await;
    }
}

#[tokio::test]
async fn every_failure_reason_is_recorded_with_upstream_code_and_remediation() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(10, 120).await;
        let cases = [
            (
                Fault::ConditionalAccess,
                FailureReason::ConditionalAccessBlocked,
                "AADSTS53003",
            ),
            (
                Fault::MfaRequired,
                FailureReason::MfaRequired,
                "AADSTS50076",
            ),
            (
                Fault::ConsentMissing,
                FailureReason::ConsentMissing,
                "AADSTS65001",
            ),
            (
                Fault::RefreshTokenExpired,
                FailureReason::RefreshTokenExpired,
                "AADSTS700082",
            ),
            (
                Fault::TenantNotFound,
                FailureReason::TenantNotFound,
                "AADSTS90002",
            ),
            (
                Fault::NoDelegatedAccess,
                FailureReason::NoDelegatedAccess,
                "Authorization_RequestDenied",
            ),
            (
                Fault::Throttle {
                    count: 1000,
                    retry_after_secs: 0,
                },
                FailureReason::Throttled,
                "429",
            ),
            (
                Fault::Unavailable { count: 1000 },
                FailureReason::UpstreamUnavailable,
                "503",
            ),
            (
                Fault::MalformedPage { page: 2 },
                FailureReason::InvalidUpstreamData,
                "",
            ),
        ];
        sim.set_faults(
            cases
                .iter()
                .enumerate()
                .map(|(i, (fault, _, _))| (TenantSelector::Index(i), fault.clone()))
                .collect(),
        );
        let importer = importer_for(&app.store, &sim).await;
        let runs = import_all(&importer).await;
        let tenants = sim.tenant_ids();
        for (i, (_, reason, code)) in cases.iter().enumerate() {
            let run = run_of(&runs, tenants[i]);
            assert_eq!(run.status, RunStatus::Failed, "{run:?}");
            assert_eq!(run.reason, Some(*reason), "{run:?}");
            assert_eq!(run.upstream_code.as_deref().unwrap_or(""), *code, "{run:?}");
            assert!(run.remediation().is_some());
            assert_eq!(
                dump_users(&app.store, tenants[i]).await,
                0,
                "a failed first import writes no users"
            );
        }
        let ca = run_of(&runs, tenants[0]);
        let message = ca.upstream_message.as_deref().unwrap();
        assert!(
            message.contains("Conditional Access policies:"),
            "{message}"
        );
        assert!(ca.remediation().unwrap().contains("Service provider users"));
        // The tenant without a fault was imported in spite of the nine failures.
        assert_eq!(run_of(&runs, tenants[9]).status, RunStatus::Succeeded);
        assert_matches_simulator(&app.store, &sim, tenants[9]).await;
        // Import status through the API.
        let data = app
            .data(
                "query($id: ID!) { tenant(id: $id) { userCount } }",
                json!({ "id": tenants[0].to_string() }),
            )
            .await;
        assert_eq!(data["tenant"]["userCount"], 0);
        sim.stop().await;
    }
}

pub(crate) async fn dump_users(store: &Store, tenant: Uuid) -> usize {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .all(&store_db(store).await)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn throttling_503_bursts_and_a_dropped_connection_end_in_success_with_identical_data() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(2, 150).await;
        sim.set_faults(vec![
            (
                TenantSelector::Index(0),
                Fault::Throttle {
                    count: 3,
                    retry_after_secs: 0,
                },
            ),
            (
                TenantSelector::Index(0),
                Fault::DropConnection { page: 1, count: 1 },
            ),
            (TenantSelector::Index(1), Fault::Unavailable { count: 2 }),
            (TenantSelector::Index(1), Fault::GatewayTimeout { count: 1 }),
        ]);
        let importer = importer_for(&app.store, &sim).await;
        let runs = import_all(&importer).await;
        for tenant in sim.tenant_ids() {
            let run = run_of(&runs, tenant);
            assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
            assert!(run.counts.retries >= 3, "retries were counted: {run:?}");
            assert_matches_simulator(&app.store, &sim, tenant).await;
        }
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_failed_or_aborted_run_leaves_the_previous_data_identical() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 260).await;
        let tenant = sim.tenant_ids()[0];
        let importer = importer_for(&app.store, &sim).await;
        assert_eq!(import_all(&importer).await[0].status, RunStatus::Succeeded);
        let before = dump(&app.store, tenant).await;

        // A malformed third page on the next day: nothing of the new day is kept. The delta
        // link is dropped too, so the run lists users in full and meets the bad page.
        sim.set_day(1);
        sim.set_faults(vec![
            (TenantSelector::All, Fault::DeltaTokenExpired),
            (TenantSelector::All, Fault::MalformedPage { page: 2 }),
        ]);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(
            run.reason,
            Some(FailureReason::InvalidUpstreamData),
            "{run:?}"
        );
        assert_eq!(dump(&app.store, tenant).await, before);

        // A run aborted while reading pages: the task is dropped mid-import. Each upstream
        // response takes a second, so the run is still seconds from committing when this test,
        // even slow to see the progress event, aborts it.
        sim.set_faults(vec![(
            TenantSelector::All,
            Fault::Latency(std::time::Duration::from_secs(1)),
        )]);
        let mut progress = importer.progress().subscribe_all();
        let task = tokio::spawn({
            let importer = importer.clone();
            async move { importer.run_all(ImportTrigger::Cli, None, None).await }
        });
        loop {
            let event = progress.recv().await.unwrap();
            if event.phase == tenantgraph::importer::progress::Phase::Users {
                break;
            }
        }
        task.abort();
        let _ = task.await;
        assert_eq!(dump(&app.store, tenant).await, before);

        // Its run stays RUNNING until its lease runs out; then the next run records it as
        // INTERRUPTED and imports normally.
        app.store
            .execute_raw("UPDATE tenant_import_states SET lease_expires_at = NULL")
            .await
            .unwrap();
        sim.set_faults(vec![]);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert_matches_simulator(&app.store, &sim, tenant).await;
        let interrupted = import_run::Entity::find()
            .filter(import_run::Column::Reason.eq(FailureReason::Interrupted.code()))
            .all(&store_db(&app.store).await)
            .await
            .unwrap();
        assert_eq!(interrupted.len(), 1);
        sim.stop().await;
    }
}

#[tokio::test]
async fn day_to_day_changes_via_delta_and_via_full_import_reach_the_same_state() {
    for backend in backends() {
        let by_delta = TestApp::empty(backend).await;
        let in_full = TestApp::empty(backend).await;
        let sim = simulator(2, 300).await;
        let delta_importer = importer_for(&by_delta.store, &sim).await;
        let full_importer = importer_for(&in_full.store, &sim).await;
        import_all(&delta_importer).await;
        for day in 1..=3 {
            sim.set_day(day);
            let runs = import_all(&delta_importer).await;
            for run in &runs {
                assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
                assert_eq!(run.mode, Some(ImportMode::Delta), "{run:?}");
            }
        }
        let runs = import_all(&full_importer).await;
        for tenant in sim.tenant_ids() {
            assert_eq!(run_of(&runs, tenant).mode, Some(ImportMode::Full));
            assert_matches_simulator(&by_delta.store, &sim, tenant).await;
            assert_matches_simulator(&in_full.store, &sim, tenant).await;
        }
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_leaver_is_soft_deleted_and_restored_under_the_same_id_on_return() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 400).await;
        let tenant = sim.tenant_ids()[0];
        let importer = importer_for(&app.store, &sim).await;
        import_all(&importer).await;
        let day0: Vec<Uuid> = sim
            .snapshot(tenant)
            .unwrap()
            .users
            .iter()
            .map(|u| u.id)
            .collect();
        sim.set_day(1);
        let run = import_all(&importer).await.remove(0);
        let day1: Vec<Uuid> = sim
            .snapshot(tenant)
            .unwrap()
            .users
            .iter()
            .map(|u| u.id)
            .collect();
        let leavers: Vec<Uuid> = day0
            .iter()
            .copied()
            .filter(|id| !day1.contains(id))
            .collect();
        assert!(!leavers.is_empty());
        assert_eq!(run.counts.users_removed, leavers.len() as i64, "{run:?}");
        let db = store_db(&app.store).await;
        let first_seen = user::Entity::find_by_id(leavers[0])
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert!(
            first_seen.deleted_at.is_some(),
            "a leaver is soft-deleted, not erased"
        );

        sim.set_day(2);
        let run = import_all(&importer).await.remove(0);
        let day2: Vec<Uuid> = sim
            .snapshot(tenant)
            .unwrap()
            .users
            .iter()
            .map(|u| u.id)
            .collect();
        let returned: Vec<Uuid> = leavers
            .iter()
            .copied()
            .filter(|id| day2.contains(id))
            .collect();
        assert!(
            !returned.is_empty(),
            "the simulator brings a leaver back the next day"
        );
        assert_eq!(run.counts.users_restored, returned.len() as i64, "{run:?}");
        let back = user::Entity::find_by_id(returned[0])
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back.deleted_at, None);
        let before = user::Entity::find_by_id(returned[0])
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(before.first_seen_at, back.first_seen_at);
        assert_matches_simulator(&app.store, &sim, tenant).await;
        sim.stop().await;
    }
}

#[tokio::test]
async fn an_expired_delta_link_falls_back_to_a_full_import() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 120).await;
        let tenant = sim.tenant_ids()[0];
        let importer = importer_for(&app.store, &sim).await;
        import_all(&importer).await;
        // Nine days later the saved link is past Graph's seven-day window.
        sim.set_day(9);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert_eq!(run.mode, Some(ImportMode::Full));
        assert_matches_simulator(&app.store, &sim, tenant).await;
        // The next day continues by delta again.
        sim.set_day(10);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.mode, Some(ImportMode::Delta), "{run:?}");
        assert_matches_simulator(&app.store, &sim, tenant).await;
        sim.stop().await;
    }
}

#[tokio::test]
async fn two_importers_on_one_database_import_each_tenant_of_a_slot_once() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(6, 60).await;
        sim.set_faults(vec![(
            TenantSelector::All,
            Fault::Latency(std::time::Duration::from_millis(20)),
        )]);
        let other_store = Store::connect(&StoreSettings::for_url(app.store.url()), None)
            .await
            .unwrap();
        let a = importer_for(&app.store, &sim).await;
        let b = importer_for(&other_store, &sim).await;
        let slot = chrono::Utc::now();
        let (ra, rb) = tokio::join!(
            a.run_all(ImportTrigger::Schedule, Some(slot), None),
            b.run_all(ImportTrigger::Schedule, Some(slot), None)
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(
            ra.runs.len() + rb.runs.len(),
            6,
            "each tenant ran exactly once"
        );
        assert_eq!(ra.skipped.len() + rb.skipped.len(), 6);
        let runs = import_run::Entity::find()
            .all(&store_db(&app.store).await)
            .await
            .unwrap();
        for tenant in sim.tenant_ids() {
            let of_tenant: Vec<_> = runs.iter().filter(|r| r.tenant_id == tenant).collect();
            assert_eq!(of_tenant.len(), 1, "tenant {tenant}");
            assert_eq!(of_tenant[0].status, "SUCCEEDED");
        }
        sim.stop().await;
    }
}

#[tokio::test]
async fn the_rotated_refresh_token_is_kept_for_the_next_run() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 10).await;
        let importer = importer_for(&app.store, &sim).await;
        import_all(&importer).await;
        let db = store_db(&app.store).await;
        let kept = tenantgraph::store::entities::partner_credential::Entity::find()
            .all(&db)
            .await
            .unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].refresh_token, "", "kept encrypted only");
        let keys = keyring(SECRET_KEY, None);
        assert_eq!(kept[0].key_id.as_deref(), Some(keys.current_key_id()));
        let client_id = &sim.config().client_id;
        let fingerprint = &kept[0].configured_fingerprint;
        let stored = import_runs::find_refresh_token(&app.store, &keys, client_id, fingerprint)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(stored.expose_secret(), sim.config().refresh_token);
        assert!(stored.expose_secret().starts_with("sim-rt-"));
        let stored = import_runs::find_refresh_token(&app.store, &keys, client_id, "other")
            .await
            .unwrap();
        assert!(
            stored.is_none(),
            "a newly configured token wins over older rotations"
        );
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_large_tenant_is_read_through_a_delta_round_with_managers_from_manager_delta() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 1200).await;
        let tenant = sim.tenant_ids()[0];
        let importer = importer_large_from(&app.store, &sim, 1000).await;
        // The first import can't know the size: it lists 100 users a page with managers.
        import_all(&importer).await;
        assert_eq!(sim.stats().tenant(tenant).users_pages, 12);
        // Once the delta link has expired, the next full import knows the tenant is large.
        sim.set_day(9);
        sim.reset_stats();
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert_eq!(run.mode, Some(ImportMode::Full));
        let stats = sim.stats().tenant(tenant);
        assert_eq!(stats.users_pages, 0, "no /users listing");
        assert!(stats.delta_pages >= 2, "a delta round: {stats:?}");
        assert_matches_simulator(&app.store, &sim, tenant).await;
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_revoked_access_token_is_renewed_once_and_the_import_goes_on() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(2, 50).await;
        let tenants = sim.tenant_ids();
        // Tenant 0: one 401 (renewed, then served). Tenant 1: two in a row (a fresh token is
        // refused too, so the tenant fails instead of renewing forever).
        sim.set_faults(vec![
            (TenantSelector::Index(0), Fault::RevokedToken { count: 1 }),
            (TenantSelector::Index(1), Fault::RevokedToken { count: 2 }),
        ]);
        let importer = importer_for(&app.store, &sim).await;
        let runs = import_all(&importer).await;
        let renewed = run_of(&runs, tenants[0]);
        assert_eq!(renewed.status, RunStatus::Succeeded, "{renewed:?}");
        assert_eq!(
            sim.stats().tenant(tenants[0]).tokens_issued,
            2,
            "one renewal"
        );
        assert_matches_simulator(&app.store, &sim, tenants[0]).await;
        let refused = run_of(&runs, tenants[1]);
        assert_eq!(refused.status, RunStatus::Failed, "{refused:?}");
        assert_eq!(
            refused.upstream_code.as_deref(),
            Some("InvalidAuthenticationToken")
        );
        assert_eq!(sim.stats().tenant(tenants[1]).tokens_issued, 2);
        sim.stop().await;
    }
}

#[tokio::test]
async fn each_import_re_evaluates_the_allocation_and_keeps_overrides_of_leavers() {
    const ALLOCATIONS: &str = r#"query($t: ID!) { tenant(id: $t) {
        users(first: 500, filter: {includeDeleted: true}) { edges { node { id deletedAt
            allocation { source stale shares { costGroup { name } percent } } } } }
        costReport { assigned { licenses } } } }"#;
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 300).await;
        let tenant = sim.tenant_ids()[0];
        let importer = importer_for(&app.store, &sim).await;
        import_all(&importer).await;
        let t = tenant.to_string();

        // A group and a rule for every department of day 0.
        let mut departments: Vec<String> = sim
            .snapshot(tenant)
            .unwrap()
            .users
            .iter()
            .filter_map(|u| u.department.clone())
            .collect();
        departments.sort();
        departments.dedup();
        for d in &departments {
            let g = app
                .data(
                    r#"mutation($t: ID!, $n: String!) { createCostGroup(input: {tenantId: $t, name: $n}) { id } }"#,
                    json!({ "t": t, "n": d }),
                )
                .await["createCostGroup"]["id"]
                .clone();
            app.data(
                r#"mutation($t: ID!, $g: ID!, $d: String!) { createAllocationRule(input: {tenantId: $t,
                    costGroupId: $g, conditions: [{attribute: DEPARTMENT, operator: EQUALS, values: [$d]}]}) { id } }"#,
                json!({ "t": t, "g": g, "d": d }),
            )
            .await;
        }
        // Pin every user who leaves on day 1 to the first department's group.
        let day0 = sim.snapshot(tenant).unwrap().users;
        sim.set_day(1);
        let day1: Vec<Uuid> = sim
            .snapshot(tenant)
            .unwrap()
            .users
            .iter()
            .map(|u| u.id)
            .collect();
        sim.set_day(0);
        let leavers: Vec<Uuid> = day0
            .iter()
            .map(|u| u.id)
            .filter(|id| !day1.contains(id))
            .collect();
        assert!(!leavers.is_empty(), "the simulator has leavers on day 1");
        let first_group = app
            .data(
                r#"query($t: ID!) { tenant(id: $t) { costGroups { id name } } }"#,
                json!({ "t": t }),
            )
            .await["tenant"]["costGroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == departments[0].as_str())
            .unwrap()["id"]
            .clone();
        for leaver in &leavers {
            app.data(
                r#"mutation($t: ID!, $u: ID!, $g: ID!) { setUserAllocation(tenantId: $t, userId: $u,
                    shares: [{costGroupId: $g, percent: "100"}]) { id } }"#,
                json!({ "t": t, "u": leaver.to_string(), "g": first_group }),
            )
            .await;
        }

        for day in 1..=3 {
            sim.set_day(day);
            let runs = import_all(&importer).await;
            assert_eq!(run_of(&runs, tenant).status, RunStatus::Succeeded);
            let snapshot = sim.snapshot(tenant).unwrap();
            let data = app.data(ALLOCATIONS, json!({ "t": t })).await;
            for edge in data["tenant"]["users"]["edges"].as_array().unwrap() {
                let node = &edge["node"];
                let id: Uuid = node["id"].as_str().unwrap().parse().unwrap();
                let allocation = &node["allocation"];
                if leavers.contains(&id) {
                    // Kept through every import; stale while the user is gone.
                    assert_eq!(allocation["source"], "OVERRIDE", "day {day}");
                    assert_eq!(
                        allocation["stale"],
                        node["deletedAt"].is_string(),
                        "day {day}"
                    );
                    continue;
                }
                if node["deletedAt"].is_string() {
                    assert_eq!(allocation["source"], "UNALLOCATED");
                    continue;
                }
                let user = snapshot.users.iter().find(|u| u.id == id).unwrap();
                match user
                    .department
                    .as_deref()
                    .filter(|d| departments.iter().any(|x| x == d))
                {
                    Some(d) => {
                        assert_eq!(allocation["source"], "RULE", "day {day}: {user:?}");
                        assert_eq!(allocation["shares"][0]["costGroup"]["name"], d);
                    }
                    None => assert_eq!(allocation["source"], "UNALLOCATED", "day {day}: {user:?}"),
                }
            }
            let licenses = data["tenant"]["costReport"]["assigned"]["licenses"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap();
            let expected: usize = snapshot.users.iter().map(|u| u.licenses.len()).sum();
            assert_eq!(licenses as usize, expected, "day {day}");
        }
        sim.stop().await;
    }
}
