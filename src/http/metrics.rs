//! `/metrics` in Prometheus' text format.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use chrono::Utc;

use rust_decimal::prelude::ToPrimitive;

use crate::metrics::{BudgetRatio, Metrics, TenantImportHealth};
use crate::store::{Store, alerts, import_queries};

/// `GET /metrics`: every metric, with the pool gauges and the import health (read from the
/// store, so every replica reports the same) read at scrape time.
pub async fn metrics(metrics: web::Data<Arc<Metrics>>, store: web::Data<Store>) -> HttpResponse {
    let (open, idle) = store.pool_usage();
    metrics.record_pool(open, idle);
    refresh_import_health(&metrics, &store).await;
    refresh_budget_ratios(&metrics, &store).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

/// Sets the per-tenant import gauges and the refresh token's age from the store. A store
/// failure leaves the previous values and is logged: the scrape still answers.
async fn refresh_import_health(metrics: &Metrics, store: &Store) {
    match import_queries::import_health(store).await {
        Ok(tenants) => {
            let ids: Vec<String> = tenants.iter().map(|(id, _)| id.to_string()).collect();
            metrics.set_import_health(tenants.iter().zip(&ids).map(|((_, runs), id)| {
                TenantImportHealth {
                    tenant: id,
                    last_success_unix: runs
                        .last_success
                        .as_ref()
                        .and_then(|run| run.finished_at)
                        .map(|at| at.timestamp_millis() as f64 / 1000.0),
                    last_status: runs.last_run.as_ref().map(|run| run.status.as_str()),
                    last_reason: runs
                        .last_run
                        .as_ref()
                        .and_then(|run| run.reason)
                        .map(|reason| reason.code()),
                }
            }));
        }
        Err(err) => tracing::warn!(error = %err, "import health not read for /metrics"),
    }
    match import_queries::refresh_tokens_rotated_at(store).await {
        Ok(rotations) => {
            let now = Utc::now();
            metrics.set_refresh_token_ages(rotations.iter().map(|(client, at)| {
                (
                    client.as_str(),
                    (now - *at).num_milliseconds() as f64 / 1000.0,
                )
            }));
        }
        Err(err) => tracing::warn!(error = %err, "refresh token age not read for /metrics"),
    }
}

/// Sets the budget gauges from each budget's latest evaluation. A store failure leaves the
/// previous values and is logged.
async fn refresh_budget_ratios(metrics: &Metrics, store: &Store) {
    match alerts::list_budget_standings(store).await {
        Ok(standings) => {
            let labels: Vec<(String, String)> = standings
                .iter()
                .map(|s| (s.tenant_id.to_string(), s.cost_group_id.to_string()))
                .collect();
            let ratio = |part: rust_decimal::Decimal, whole: rust_decimal::Decimal| {
                if whole.is_zero() {
                    0.0
                } else {
                    (part / whole).to_f64().unwrap_or(0.0)
                }
            };
            metrics.set_budget_ratios(standings.iter().zip(&labels).map(|(s, (t, g))| {
                BudgetRatio {
                    tenant: t,
                    cost_group: g,
                    month: &s.month,
                    actual: ratio(s.actual, s.amount),
                    forecast: ratio(s.forecast, s.amount),
                }
            }));
        }
        Err(err) => tracing::warn!(error = %err, "budget standings not read for /metrics"),
    }
}
