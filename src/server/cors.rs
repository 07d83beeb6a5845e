//! CORS for browser clients on other origins: only the configured origins get
//! `Access-Control-Allow-Origin`, and only they pass a preflight. None by default.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

/// Request headers a browser client may send cross-origin.
const ALLOWED_HEADERS: &str =
    "authorization, content-type, x-requested-with, apollo-require-preflight";
/// Seconds a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE_SECS: &str = "600";

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// Allows exactly `origins` (`https://host[:port]`, no trailing slash).
    pub fn new(origins: Vec<String>) -> Self {
        CorsPolicy { origins }
    }

    /// Whether `origin` (an `Origin` header) is one of the allowed origins.
    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Whether a page of `origin` may open a WebSocket to this server, reached as `host` (the
    /// `Host` header): an allowed origin, or the server's own (GraphiQL's subscriptions).
    /// Browsers do not apply CORS to WebSockets, so this check stands in for it.
    pub fn allows_websocket(&self, origin: &str, host: Option<&str>) -> bool {
        let own = host.is_some_and(|host| {
            ["http://", "https://"].iter().any(|scheme| {
                origin
                    .strip_prefix(scheme)
                    .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
            })
        });
        own || self.allows(origin)
    }
}

/// Answers preflights and adds CORS headers to responses for allowed origins.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let allowed = req
        .app_data::<web::Data<CorsPolicy>>()
        .is_some_and(|policy| policy.allows(&origin));
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let response = if allowed {
            HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECS))
                .insert_header((header::VARY, "Origin"))
                .finish()
        } else {
            HttpResponse::build(StatusCode::FORBIDDEN)
                .insert_header((header::VARY, "Origin"))
                .finish()
        };
        return Ok(req.into_response(response));
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if allowed && let Ok(value) = HeaderValue::from_str(&origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-request-id"),
        );
    }
    Ok(response)
}
