//! `/graphql` over HTTP: JSON POST and GET with query parameters. Parses requests itself so that
//! malformed ones get HTTP 400 with a GraphQL-shaped error.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use tracing_actix_web::RequestId;

use async_graphql::Executor;
use async_graphql_actix_web::GraphQLSubscription;

use crate::graphql::{self, ApiExecutor};
use crate::metrics::{Metrics, Outcome};

/// What the handler needs, shared by every worker.
pub struct GraphqlState {
    /// The schema (built once) with per-operation loaders.
    pub executor: ApiExecutor,
    /// Metrics to record into.
    pub metrics: Arc<Metrics>,
}

fn reject(state: &GraphqlState, message: String) -> HttpResponse {
    state
        .metrics
        .record_request(None, Outcome::Rejected, std::time::Duration::ZERO);
    HttpResponse::build(StatusCode::BAD_REQUEST).json(json!({
        "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }]
    }))
}

/// `POST /graphql` with a JSON body `{query, operationName?, variables?, extensions?}`.
pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<GraphqlState>,
    request_id: RequestId,
) -> HttpResponse {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json")
        && !content_type.starts_with("application/graphql-response+json")
    {
        return reject(
            &state,
            format!(
                "Content-Type must be application/json, got {:?}",
                content_type.chars().take(80).collect::<String>()
            ),
        );
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => return reject(&state, format!("request body is not valid JSON: {err}")),
    };
    if value.is_array() {
        return reject(
            &state,
            "batched operations are not enabled; send one operation per request".to_owned(),
        );
    }
    let request: async_graphql::Request = match serde_json::from_value(value) {
        Ok(request) => request,
        Err(err) => {
            return reject(
                &state,
                format!("request body is not a GraphQL request: {err}"),
            );
        }
    };
    run(request, &state, &request_id).await
}

/// `GET /graphql?query=…&operationName=…&variables=…`.
pub async fn get(
    req: HttpRequest,
    state: web::Data<GraphqlState>,
    request_id: RequestId,
) -> HttpResponse {
    match async_graphql::http::parse_query_string(req.query_string()) {
        Ok(request) => run(request, &state, &request_id).await,
        Err(err) => reject(
            &state,
            format!("query string is not a GraphQL request: {err}"),
        ),
    }
}

async fn run(
    request: async_graphql::Request,
    state: &GraphqlState,
    request_id: &RequestId,
) -> HttpResponse {
    if request.query.trim().is_empty() {
        return reject(state, "request has no query".to_owned());
    }
    let started = Instant::now();
    let operation = request.operation_name.clone();
    let mut response = state.executor.execute(request).await;
    graphql::tag_internal_errors(&mut response, &request_id.to_string());
    let outcome = if response.errors.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Errors
    };
    state
        .metrics
        .record_request(operation.as_deref(), outcome, started.elapsed());
    match serde_json::to_vec(&response) {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/json")
            .insert_header(("Cache-Control", "no-store"))
            .body(body),
        Err(err) => {
            tracing::error!(error = %err, "GraphQL response could not be serialized");
            HttpResponse::InternalServerError().json(json!({
                "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL_SERVER_ERROR", "requestId": request_id.to_string() } }]
            }))
        }
    }
}

/// `GET /graphql` with `Upgrade: websocket`: GraphQL over WebSocket (`graphql-transport-ws`, and
/// the older `graphql-ws`). Each operation gets its own loaders, as on HTTP.
pub async fn websocket(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<GraphqlState>,
) -> actix_web::Result<HttpResponse> {
    GraphQLSubscription::new(state.executor.clone()).start(&req, payload)
}
