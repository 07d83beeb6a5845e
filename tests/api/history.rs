//! History: the date each import observed (`import --as-of`), which only moves forward per
//! tenant, against the simulator over real HTTP, on SQLite and PostgreSQL.

use chrono::{Duration, Utc};
use serde_json::json;
use tenantgraph::domain::{ImportTrigger, RunStatus, TenantId};

use crate::importer::{importer_for, simulator};
use crate::support::{TestApp, backends};

#[tokio::test]
async fn imports_record_the_date_they_observed_and_never_go_back_before_it() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 30).await;
        let tenant = TenantId(sim.tenant_ids()[0]);
        let importer = importer_for(&app.store, &sim).await;
        let today = Utc::now().date_naive();
        let as_of = |date| {
            let importer = importer.clone();
            async move {
                importer
                    .run_all_as_of(ImportTrigger::Cli, None, None, date)
                    .await
                    .unwrap()
            }
        };
        let runs_query = r#"query($t: ID!) { importRuns(tenantId: $t, first: 10) {
            edges { node { observedOn status } } } }"#;
        let observed = || async {
            let data = app
                .data(runs_query, json!({ "t": tenant.to_string() }))
                .await;
            data["importRuns"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["observedOn"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };

        let first = today - Duration::days(10);
        let summary = as_of(Some(first)).await;
        assert_eq!(summary.runs.len(), 1);
        assert_eq!(summary.runs[0].status, RunStatus::Succeeded);
        assert_eq!(summary.runs[0].observed_on, first);
        assert_eq!(observed().await, [first.to_string()]);

        // An earlier date is refused before anything is read or written.
        sim.set_day(1);
        let refused = as_of(Some(first - Duration::days(1))).await;
        assert!(refused.runs.is_empty(), "{refused:?}");
        assert_eq!(refused.skipped, [tenant]);
        assert_eq!(observed().await, [first.to_string()]);

        // The same day again, then the import's own date.
        let again = as_of(Some(first)).await;
        assert_eq!(again.runs[0].status, RunStatus::Succeeded);
        let now = as_of(None).await;
        assert_eq!(now.runs[0].observed_on, today);
        let mut dates = observed().await;
        dates.sort();
        assert_eq!(
            dates,
            [first.to_string(), first.to_string(), today.to_string()]
        );
        sim.stop().await;
    }
}
