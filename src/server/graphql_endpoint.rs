//! `/graphql` over HTTP: JSON POST and GET with query parameters. Parses requests itself so that
//! malformed ones get HTTP 400 with a GraphQL-shaped error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use tracing_actix_web::RequestId;

use crate::auth::Authenticator;
use crate::domain::{Principal, Role};
use crate::graphql::error::{ApiError, Limit};
use crate::graphql::persisted;
use crate::graphql::{self, ApiExecutor, TransportRefusal};
use crate::http::body::{BodyError, read_body};
use crate::http::refusal::Refusal;
use crate::http::{authn, forwarded};
use crate::metrics::{Metrics, Namer, Outcome};
use crate::rate_limit::{Caller, RateLimiter};

/// What the handler needs, shared by every worker.
pub struct GraphqlState {
    /// The schema (built once) with its limits and per-operation loaders.
    pub executor: ApiExecutor,
    /// Metrics to record into.
    pub metrics: Arc<Metrics>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Operations per batched POST; `None` when batching is off.
    pub max_batch: Option<usize>,
    /// Checks the bearer token of every request and WebSocket connection.
    pub auth: Arc<Authenticator>,
    /// Request rates per caller, over HTTP and WebSocket.
    pub limits: Arc<RateLimiter>,
    /// How long a WebSocket connection may stay without `connection_init`.
    pub ws_init_timeout: Duration,
}

/// Counts a refused request in the metrics and turns its error into the HTTP refusal.
fn refused(state: &GraphqlState, request_id: &RequestId, error: ApiError) -> Refusal {
    state
        .metrics
        .record_request(None, Namer::Caller, Outcome::Rejected, Duration::ZERO);
    Refusal::with_request_id(error, request_id)
}

/// Whether a request carries what a browser only sends after a CORS preflight: a JSON content
/// type or one of the preflight headers. Requests without it could come from any web page.
fn has_preflight_marker(req: &HttpRequest) -> bool {
    let headers = req.headers();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json);
    json || ["x-requested-with", "apollo-require-preflight"]
        .iter()
        .any(|name| headers.get(*name).is_some_and(|v| !v.is_empty()))
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "application/graphql-response+json"
}

/// `POST /graphql` with a JSON body `{query, operationName?, variables?, extensions?}`, or an
/// array of them when batching is on.
pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<GraphqlState>,
    request_id: RequestId,
) -> Result<HttpResponse, Refusal> {
    post_body(&req, payload, &state, &request_id)
        .await
        .map_err(|error| refused(&state, &request_id, error))
}

async fn post_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &GraphqlState,
    request_id: &RequestId,
) -> Result<HttpResponse, ApiError> {
    let principal = authn::reader(req, &state.auth, &state.limits).await?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // text/plain, form and multipart bodies are what a cross-site form or script can send
    // without a preflight: only JSON is read.
    if !is_json(content_type) {
        return Err(ApiError::BadUserInput(format!(
            "Content-Type must be application/json, got {:?} (other types are refused as \
             cross-site request forgery protection)",
            content_type.chars().take(80).collect::<String>()
        )));
    }
    let body = match read_body(req, payload, state.max_body_bytes).await {
        Ok(body) => body,
        Err(BodyError::TooLarge(size)) => {
            return Err(ApiError::PayloadTooLarge(Limit::new(
                "request body size in bytes",
                size,
                state.max_body_bytes as u64,
            )));
        }
        Err(BodyError::Read(err)) => {
            return Err(ApiError::BadUserInput(format!(
                "request body could not be read: {err}"
            )));
        }
    };
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|err| ApiError::BadUserInput(format!("request body is not valid JSON: {err}")))?;
    if let serde_json::Value::Array(items) = value {
        let caller = Caller::of(&principal, forwarded::client_address(req));
        // The request took one from the caller's bucket; the batch's other operations too.
        let extra = u32::try_from(items.len().saturating_sub(1)).unwrap_or(u32::MAX);
        if state.max_batch.is_some_and(|max| items.len() <= max) {
            state
                .limits
                .check_n(&caller, extra)
                .map_err(|l| ApiError::from(&l))?;
        }
        return batch(items, state, &principal, request_id).await;
    }
    let request: async_graphql::Request = serde_json::from_value(value).map_err(|err| {
        ApiError::BadUserInput(format!("request body is not a GraphQL request: {err}"))
    })?;
    let media = ResponseMedia::accepted_by(req);
    answer(request, state, principal, request_id, false, media).await
}

/// A JSON array of operations: run one after the other when batching is on and the batch is
/// within its limit.
async fn batch(
    items: Vec<serde_json::Value>,
    state: &GraphqlState,
    principal: &Principal,
    request_id: &RequestId,
) -> Result<HttpResponse, ApiError> {
    let Some(max) = state.max_batch else {
        return Err(ApiError::BadUserInput(
            "batched operations are not enabled; send one operation per request".to_owned(),
        ));
    };
    if items.len() > max {
        return Err(ApiError::PayloadTooLarge(Limit::new(
            "batched operations",
            items.len(),
            max as u64,
        )));
    }
    let mut requests = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<async_graphql::Request>(item) {
            Ok(request) if !request.query.trim().is_empty() || persisted::has_hash(&request) => {
                requests.push(request)
            }
            Ok(_) => {
                return Err(ApiError::BadUserInput(format!(
                    "operation {index} of the batch has no query"
                )));
            }
            Err(err) => {
                return Err(ApiError::BadUserInput(format!(
                    "operation {index} of the batch is not a GraphQL request: {err}"
                )));
            }
        }
    }
    let mut responses = Vec::with_capacity(requests.len());
    for request in requests {
        match execute(request, state, principal.clone(), request_id, false).await {
            Ok(response) => responses.push(response),
            Err(TransportRefusal::MutationOverGet) => {
                return Err(ApiError::BadUserInput(
                    "mutations are only accepted over POST".to_owned(),
                ));
            }
        }
    }
    let bodies: Vec<ResponseBody<'_>> = responses.iter().map(ResponseBody::of).collect();
    respond(&bodies)
}

/// `GET /graphql?query=…&operationName=…&variables=…`: queries only, and only with a preflight
/// marker (see [`has_preflight_marker`]).
pub async fn get(
    req: HttpRequest,
    state: web::Data<GraphqlState>,
    request_id: RequestId,
) -> Result<HttpResponse, Refusal> {
    get_query(&req, &state, &request_id)
        .await
        .map_err(|error| refused(&state, &request_id, error))
}

async fn get_query(
    req: &HttpRequest,
    state: &GraphqlState,
    request_id: &RequestId,
) -> Result<HttpResponse, ApiError> {
    let principal = authn::reader(req, &state.auth, &state.limits).await?;
    if !has_preflight_marker(req) {
        return Err(ApiError::BadUserInput(
            "GET /graphql needs an X-Requested-With or Apollo-Require-Preflight header \
             (cross-site request forgery protection)"
                .to_owned(),
        ));
    }
    let request = async_graphql::http::parse_query_string(req.query_string()).map_err(|err| {
        ApiError::BadUserInput(format!("query string is not a GraphQL request: {err}"))
    })?;
    let media = ResponseMedia::accepted_by(req);
    answer(request, state, principal, request_id, true, media).await
}

/// The media type of a single operation's response (GraphQL over HTTP, "Body").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseMedia {
    /// `application/json`: every GraphQL response with status 200.
    Json,
    /// `application/graphql-response+json`, when the client prefers it: a request that fails
    /// before execution gets status 400.
    GraphqlResponse,
}

impl ResponseMedia {
    const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

    /// `GraphqlResponse` when `Accept` names it before `application/json` (or without it);
    /// otherwise, and without `Accept`, `Json`.
    fn accepted_by(req: &HttpRequest) -> ResponseMedia {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let position = |media: &str| {
            accept.split(',').position(|item| {
                item.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case(media))
            })
        };
        match (
            position(Self::GRAPHQL_RESPONSE),
            position("application/json"),
        ) {
            (Some(ours), Some(json)) if ours < json => ResponseMedia::GraphqlResponse,
            (Some(_), None) => ResponseMedia::GraphqlResponse,
            _ => ResponseMedia::Json,
        }
    }
}

/// Runs one operation and answers it as `media`; with `read_only` (GET) a mutation gets 405.
async fn answer(
    request: async_graphql::Request,
    state: &GraphqlState,
    principal: Principal,
    request_id: &RequestId,
    read_only: bool,
    media: ResponseMedia,
) -> Result<HttpResponse, ApiError> {
    if request.query.trim().is_empty() && !persisted::has_hash(&request) {
        return Err(ApiError::BadUserInput("request has no query".to_owned()));
    }
    match execute(request, state, principal, request_id, read_only).await {
        Ok(response) => {
            let body = ResponseBody::of(&response);
            match media {
                ResponseMedia::Json => respond(&body),
                ResponseMedia::GraphqlResponse => {
                    let mut answer = respond(&body)?;
                    answer.headers_mut().insert(
                        header::CONTENT_TYPE,
                        header::HeaderValue::from_static(ResponseMedia::GRAPHQL_RESPONSE),
                    );
                    // A request that failed before execution is the client's error.
                    if body.data.is_none() {
                        *answer.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
                    }
                    Ok(answer)
                }
            }
        }
        Err(TransportRefusal::MutationOverGet) => Err(ApiError::MethodNotAllowed(
            "mutations are only accepted over POST; GET runs queries only".to_owned(),
        )),
    }
}

/// Runs one operation and records it in the metrics.
async fn execute(
    request: async_graphql::Request,
    state: &GraphqlState,
    principal: Principal,
    request_id: &RequestId,
    read_only: bool,
) -> Result<async_graphql::Response, TransportRefusal> {
    let started = Instant::now();
    let operation = request.operation_name.clone();
    // Only partner administrators' names may become new metric labels (see `Namer`).
    let namer = if principal.roles.contains(&Role::PartnerAdmin) {
        Namer::PartnerAdmin
    } else {
        Namer::Caller
    };
    let mut response = state
        .executor
        .execute_http(request, principal, read_only)
        .await?;
    graphql::tag_internal_errors(&mut response, &request_id.to_string());
    let outcome = if response.errors.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Errors
    };
    state
        .metrics
        .record_request(operation.as_deref(), namer, outcome, started.elapsed());
    Ok(response)
}

/// A response as the GraphQL spec words it: without `data` when the request failed before
/// execution (it does not parse or validate, a variable does not fit, a limit refused it), with
/// `data` (`null` when a non-null root field failed) once execution began.
#[derive(serde::Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

impl<'a> ResponseBody<'a> {
    fn of(response: &'a async_graphql::Response) -> Self {
        // Execution errors carry the path of their field; errors raised before execution carry
        // none, and leave no data.
        let before_execution = response.data == async_graphql::Value::Null
            && !response.errors.is_empty()
            && response.errors.iter().all(|e| e.path.is_empty());
        ResponseBody {
            data: (!before_execution).then_some(&response.data),
            errors: &response.errors,
            extensions: &response.extensions,
        }
    }
}

fn respond<T: serde::Serialize>(response: &T) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(response).map_err(|err| {
        ApiError::Internal(format!("GraphQL response could not be serialized: {err}"))
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}
