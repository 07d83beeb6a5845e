//! `/metrics` in Prometheus' text format.

use std::sync::Arc;

use actix_web::{HttpResponse, web};

use crate::metrics::Metrics;
use crate::store::Store;

/// `GET /metrics`: every metric, with the pool gauges read at scrape time.
pub async fn metrics(metrics: web::Data<Arc<Metrics>>, store: web::Data<Store>) -> HttpResponse {
    let (open, idle) = store.pool_usage();
    metrics.record_pool(open, idle);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}
