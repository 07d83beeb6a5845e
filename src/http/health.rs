//! `/healthz` (the process answers) and `/readyz` (the store answers and is migrated).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::store::Store;

/// `GET /healthz`: 200 while the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the store answers and every migration is applied, else 503 with the
/// reason.
pub async fn readyz(store: web::Data<Store>) -> HttpResponse {
    match store.is_ready().await {
        Ok(true) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Ok(false) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not ready", "reason": "migrations pending" })),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "not ready", "reason": "store unreachable" }))
        }
    }
}
