//! What Graph and Partner Center requests share: the echoed request ids, each service's error
//! and throttling bodies, and admission (bearer token, latency, counted 429/503/504 faults).

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use serde_json::json;
use uuid::Uuid;

use super::{header, pause};
use crate::simulator::faults::Transient;
use crate::simulator::{Resource, Shared, lock};

/// Graph's content type of JSON answers.
pub(super) const GRAPH_CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false";

/// Which error body format a service uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    Graph,
    PartnerCenter,
}

/// Per-request echo data.
pub(super) struct Ctx {
    api: Api,
    request_id: String,
    client_request_id: String,
    correlation_id: Option<String>,
}

impl Ctx {
    pub(super) fn new(req: &HttpRequest, api: Api) -> Ctx {
        match api {
            Api::Graph => Ctx {
                api,
                request_id: Uuid::new_v4().to_string(),
                client_request_id: header(req, "client-request-id")
                    .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned),
                correlation_id: None,
            },
            Api::PartnerCenter => Ctx {
                api,
                request_id: header(req, "MS-RequestId")
                    .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned),
                client_request_id: String::new(),
                correlation_id: header(req, "MS-CorrelationId").map(str::to_owned),
            },
        }
    }

    pub(super) fn builder(&self, status: StatusCode) -> HttpResponseBuilder {
        let mut builder = HttpResponse::build(status);
        match self.api {
            Api::Graph => {
                builder
                    .insert_header(("request-id", self.request_id.as_str()))
                    .insert_header(("client-request-id", self.client_request_id.as_str()));
            }
            Api::PartnerCenter => {
                builder.insert_header(("MS-RequestId", self.request_id.as_str()));
                if let Some(id) = &self.correlation_id {
                    builder.insert_header(("MS-CorrelationId", id.as_str()));
                }
            }
        }
        builder
    }

    /// A Graph error (reference §3) or a Partner Center error body (§2.1).
    pub(super) fn error(&self, status: StatusCode, code: &str, message: &str) -> HttpResponse {
        let body = match self.api {
            Api::Graph => json!({"error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "request-id": self.request_id,
                    "client-request-id": self.client_request_id,
                }
            }}),
            Api::PartnerCenter => json!({
                "code": code.parse::<u64>().map_or_else(|_| json!(code), |n| json!(n)),
                "description": message,
                "data": [],
                "source": "PartnerFD",
            }),
        };
        self.builder(status)
            .insert_header((CONTENT_TYPE, "application/json; charset=utf-8"))
            .body(body.to_string())
    }

    fn transient(&self, transient: Transient) -> HttpResponse {
        match transient {
            Transient::Throttle { retry_after_secs } => {
                let mut builder = self.builder(StatusCode::TOO_MANY_REQUESTS);
                builder
                    .insert_header((RETRY_AFTER, retry_after_secs.to_string()))
                    .insert_header((CONTENT_TYPE, "application/json"));
                match self.api {
                    Api::Graph => {
                        builder.insert_header(("x-ms-throttle-scope", "Tenant_Application/ReadWrite"));
                        let body = json!({"error": {
                            "code": "TooManyRequests",
                            "message": "Too many requests; retry later.",
                            "innerError": {
                                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                                "request-id": self.request_id,
                                "client-request-id": self.client_request_id,
                            }
                        }});
                        builder.body(body.to_string())
                    }
                    Api::PartnerCenter => builder.body(
                        json!({
                            "statusCode": 429,
                            "message": format!("Rate limit is exceeded. Try again in {retry_after_secs} seconds."),
                        })
                        .to_string(),
                    ),
                }
            }
            Transient::Unavailable => self.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry later.",
            ),
            Transient::GatewayTimeout => self.error(
                StatusCode::GATEWAY_TIMEOUT,
                "GatewayTimeout",
                "The gateway did not receive a response in time.",
            ),
            Transient::Unauthorized => self.error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            ),
        }
    }

    pub(super) fn json(&self, body: Vec<u8>) -> HttpResponse {
        let content_type = match self.api {
            Api::Graph => GRAPH_CONTENT_TYPE,
            Api::PartnerCenter => "application/json; charset=utf-8",
        };
        self.builder(StatusCode::OK)
            .insert_header((CONTENT_TYPE, content_type))
            .body(body)
    }
}

/// Authenticates, applies latency and the counted 429/503/504 faults; returns the token's
/// tenant or the response to send instead.
pub(super) async fn admit(
    state: &Shared,
    req: &HttpRequest,
    ctx: &Ctx,
) -> Result<Uuid, HttpResponse> {
    pause(state.config.latency).await;
    let resource = match ctx.api {
        Api::Graph => Resource::Graph,
        Api::PartnerCenter => Resource::PartnerCenter,
    };
    let token = header(req, "authorization").and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let grant = token.and_then(|t| lock(&state.tokens).access.get(t).copied());
    let tenant = match grant {
        Some(g) if g.resource == resource && g.expires > Instant::now() => g.tenant,
        _ => {
            return Err(match ctx.api {
                Api::Graph => ctx.error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "Access token is empty, expired or not valid for Microsoft Graph.",
                ),
                Api::PartnerCenter => ctx.error(
                    StatusCode::UNAUTHORIZED,
                    "800001",
                    "Partner token is missing, expired or not valid for Partner Center.",
                ),
            });
        }
    };
    let (latency, transient) = {
        let mut faults = lock(&state.faults);
        let latency = faults.latency(tenant, &state.customers);
        (latency, faults.take_transient(tenant, &state.customers))
    };
    pause(latency).await;
    if let Some(transient) = transient {
        state.count(Some(tenant), |c| c.faults_injected += 1);
        return Err(ctx.transient(transient));
    }
    Ok(tenant)
}
