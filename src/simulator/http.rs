//! The simulator's routes: Entra's token endpoint, Partner Center customers and subscriptions,
//! Graph users, users/delta and subscribedSkus, with the injected faults.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::StreamExt;
use serde_json::{Value, json};
use uuid::Uuid;

use super::SimUser;
use super::data::{DayCtx, UserState, World};
use super::faults::{Fault, PageFault, Transient};
use super::wire::{self, DEFAULT_FIELDS, Field, Mode, PageToken};
use super::{AccessGrant, Resource, Shared, lock};

const GRAPH_CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false";
const GRAPH_SCOPE_PREFIX: &str = "https://graph.microsoft.com/";
const GRAPH_GRANTED_SCOPE: &str = "https://graph.microsoft.com/LicenseAssignment.Read.All https://graph.microsoft.com/User.Read.All";
const PC_SCOPES: &[&str] = &[
    "https://api.partnercenter.microsoft.com/user_impersonation",
    "https://api.partnercenter.microsoft.com/.default",
];
/// Delta tokens for directory objects last 7 days (reference §5).
const DELTA_TOKEN_MAX_AGE_DAYS: u32 = 7;
/// `$expand` caps a users page at 100 (reference §4.3).
const EXPAND_PAGE_CAP: usize = 100;
const DEFAULT_TOP: usize = 100;
const DEFAULT_PC_PAGE_SIZE: usize = 40;

type Data = web::Data<Shared>;

/// Registers every route; paths of the three services don't overlap.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/{tenant}/oauth2/v2.0/token", web::post().to(token))
        .route("/v1/customers", web::get().to(customers))
        .route(
            "/v1/customers/{id}/subscriptions",
            web::get().to(subscriptions),
        )
        .route("/v1.0/users", web::get().to(users))
        .route("/v1.0/users/delta", web::get().to(users_delta))
        .route("/v1.0/subscribedSkus", web::get().to(subscribed_skus));
}

fn now_stamp() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string()
}

async fn pause(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of a query option, with or without its `$` (Graph accepts both).
fn option<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| {
            let key = k.strip_prefix('$').unwrap_or(k);
            key.eq_ignore_ascii_case(name)
        })
        .map(|(_, v)| v.as_str())
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

// ---------------------------------------------------------------------------------------------
// Entra token endpoint
// ---------------------------------------------------------------------------------------------

/// An AADSTS error body (reference §1.5).
fn aad_error(
    status: StatusCode,
    error: &str,
    code: u32,
    text: &str,
    suberror: Option<&str>,
    claims: Option<String>,
) -> HttpResponse {
    let trace_id = Uuid::new_v4();
    let correlation_id = Uuid::new_v4();
    let timestamp = now_stamp();
    let mut body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {text} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    if let Some(suberror) = suberror {
        body["suberror"] = json!(suberror);
    }
    if let Some(claims) = claims {
        body["claims"] = json!(claims);
    }
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "application/json; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store, no-cache"))
        .body(body.to_string())
}

fn token_fault_response(fault: &Fault, tenant: Uuid, client_id: &str) -> HttpResponse {
    let bad = StatusCode::BAD_REQUEST;
    match fault {
        Fault::ConditionalAccess => {
            let policy = Uuid::from_u128(tenant.as_u128() ^ 0x5300_3000);
            let claims =
                json!({"access_token": {"capolids": {"essential": true, "values": [policy]}}});
            aad_error(
                bad,
                "invalid_grant",
                53003,
                "Token issuance was refused because a Conditional Access policy blocks this sign-in.",
                Some("message_only"),
                Some(claims.to_string()),
            )
        }
        Fault::MfaRequired => aad_error(
            bad,
            "interaction_required",
            50076,
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access this resource.",
            None,
            None,
        ),
        Fault::RefreshTokenExpired => aad_error(
            bad,
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity. The token was issued on 2024-11-20T08:00:00Z and was inactive for 90.00:00:00.",
            Some("bad_token"),
            None,
        ),
        Fault::ConsentMissing => aad_error(
            bad,
            "invalid_grant",
            65001,
            &format!(
                "The user or administrator has not consented to use the application with ID '{client_id}'. Send an interactive authorization request for this user and resource."
            ),
            Some("consent_required"),
            None,
        ),
        _ => tenant_not_found(&tenant.to_string()),
    }
}

fn tenant_not_found(tenant: &str) -> HttpResponse {
    aad_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
        None,
        None,
    )
}

/// `POST /{tenant}/oauth2/v2.0/token`: refresh-token redemption (reference §1.2–1.5).
async fn token(state: Data, path: web::Path<String>, body: Bytes) -> HttpResponse {
    pause(state.config.latency).await;
    let tenant_text = path.into_inner();
    let tenant = Uuid::parse_str(&tenant_text).ok();
    state.count(tenant, |c| c.token_requests += 1);
    let Some(tenant) =
        tenant.filter(|t| *t == state.config.partner_tenant_id || state.customers.contains(t))
    else {
        return tenant_not_found(&tenant_text);
    };
    let (latency, fault) = {
        let faults = lock(&state.faults);
        (
            faults.latency(tenant, &state.customers),
            faults.token_fault(tenant, &state.customers),
        )
    };
    pause(latency).await;
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "refresh_token" {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type: only refresh_token is simulated.",
            None,
            None,
        );
    }
    if field("client_id") != state.config.client_id
        || field("client_secret") != state.config.client_secret
    {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                field("client_id")
            ),
            None,
            None,
        );
    }
    if let Some(fault) = fault {
        state.count(Some(tenant), |c| c.faults_injected += 1);
        return token_fault_response(&fault, tenant, &state.config.client_id);
    }
    if !lock(&state.tokens).refresh.contains(field("refresh_token")) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            None,
            None,
        );
    }
    let scopes: Vec<&str> = field("scope")
        .split_whitespace()
        .filter(|s| !matches!(*s, "offline_access" | "openid" | "profile" | "email"))
        .collect();
    let graph = scopes.iter().any(|s| s.starts_with(GRAPH_SCOPE_PREFIX));
    let pc = scopes.iter().any(|s| PC_SCOPES.contains(s));
    let unknown = scopes
        .iter()
        .any(|s| !s.starts_with(GRAPH_SCOPE_PREFIX) && !PC_SCOPES.contains(s));
    let resource = match (graph, pc, unknown) {
        (true, false, false) => Resource::Graph,
        (false, true, false) => Resource::PartnerCenter,
        _ => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                70011,
                &format!(
                    "The provided request must include a 'scope' input parameter naming exactly one resource. The provided value for the input parameter 'scope' is not valid: '{}'.",
                    field("scope")
                ),
                None,
                None,
            );
        }
    };
    let is_partner = tenant == state.config.partner_tenant_id;
    match resource {
        Resource::Graph if !state.customers.contains(&tenant) => {
            return tenant_not_found(&tenant_text);
        }
        Resource::PartnerCenter if !is_partner => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                70011,
                "Partner Center tokens are issued only by the partner tenant.",
                None,
                None,
            );
        }
        _ => {}
    }
    let access_token = format!(
        "sim-at-{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    );
    let refresh_token = format!("sim-rt-{}", Uuid::new_v4().simple());
    let lifetime = state.config.access_token_lifetime;
    {
        let mut tokens = lock(&state.tokens);
        let now = Instant::now();
        // Forget long-expired access tokens so a long benchmark doesn't grow the map forever.
        if tokens.access.len() > 10_000 {
            tokens.access.retain(|_, grant| grant.expires > now);
        }
        tokens.access.insert(
            access_token.clone(),
            AccessGrant {
                tenant,
                resource,
                expires: now + lifetime,
            },
        );
        tokens.refresh.insert(refresh_token.clone());
    }
    state.count(Some(tenant), |c| c.tokens_issued += 1);
    let scope = match resource {
        Resource::Graph => GRAPH_GRANTED_SCOPE,
        Resource::PartnerCenter => PC_SCOPES[0],
    };
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store, no-cache"))
        .body(
            json!({
                "token_type": "Bearer",
                "scope": scope,
                "expires_in": lifetime.as_secs(),
                "ext_expires_in": lifetime.as_secs(),
                "access_token": access_token,
                "refresh_token": refresh_token,
            })
            .to_string(),
        )
}

// ---------------------------------------------------------------------------------------------
// Common request handling for Graph and Partner Center
// ---------------------------------------------------------------------------------------------

/// Which error body format a service uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Graph,
    PartnerCenter,
}

/// Per-request echo data.
struct Ctx {
    api: Api,
    request_id: String,
    client_request_id: String,
    correlation_id: Option<String>,
}

impl Ctx {
    fn new(req: &HttpRequest, api: Api) -> Ctx {
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

    fn builder(&self, status: StatusCode) -> HttpResponseBuilder {
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
    fn error(&self, status: StatusCode, code: &str, message: &str) -> HttpResponse {
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

    fn json(&self, body: Vec<u8>) -> HttpResponse {
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
async fn admit(state: &Shared, req: &HttpRequest, ctx: &Ctx) -> Result<Uuid, HttpResponse> {
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

/// Graph's 403 for a tenant under the `NoDelegatedAccess` fault.
fn denied(state: &Shared, ctx: &Ctx, tenant: Uuid) -> Option<HttpResponse> {
    let denied = lock(&state.faults).has(tenant, &state.customers, |f| {
        matches!(f, Fault::NoDelegatedAccess)
    });
    denied.then(|| {
        state.count(Some(tenant), |c| c.faults_injected += 1);
        ctx.error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    })
}

fn bad_request(ctx: &Ctx, message: &str) -> HttpResponse {
    ctx.error(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

/// Serves a users or delta page, spoiled when a page fault applies.
fn serve_page(state: &Shared, ctx: &Ctx, tenant: Uuid, page: u32, body: Vec<u8>) -> HttpResponse {
    let fault = lock(&state.faults).take_page_fault(tenant, &state.customers, page);
    match fault {
        None => ctx.json(body),
        Some(PageFault::Malformed) => {
            state.count(Some(tenant), |c| c.faults_injected += 1);
            let mut cut = body.len() / 2;
            while cut > 0 && (body[cut] & 0xC0) == 0x80 {
                cut -= 1;
            }
            ctx.json(body[..cut].to_vec())
        }
        Some(PageFault::Drop) => {
            state.count(Some(tenant), |c| c.faults_injected += 1);
            let full = body.len() as u64;
            let head = Bytes::from(body[..body.len() / 2].to_vec());
            // Send the first half with the full Content-Length, pause so it reaches the
            // client, then fail the stream: actix aborts the connection mid-body.
            let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(head)]).chain(
                futures_util::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "simulated connection drop",
                    ))
                }),
            );
            ctx.builder(StatusCode::OK)
                .insert_header((CONTENT_TYPE, GRAPH_CONTENT_TYPE))
                .body(SizedStream::new(full, stream))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Graph /users
// ---------------------------------------------------------------------------------------------

/// Parses `$expand=manager[($select=...)]` into the manager's properties (the default set
/// without a nested `$select`); the error is the message for a 400.
fn parse_expand(value: &str) -> Result<Vec<Field>, String> {
    let value = value.trim();
    let (name, inner) = match value.split_once('(') {
        Some((name, rest)) => (
            name.trim(),
            Some(rest.strip_suffix(')').ok_or("unbalanced parentheses")?),
        ),
        None => (value, None),
    };
    if !name.eq_ignore_ascii_case("manager") {
        return Err(format!(
            "Could not find a navigation property named '{name}' on type 'microsoft.graph.user'."
        ));
    }
    match inner {
        None => Ok(DEFAULT_FIELDS.to_vec()),
        Some(inner) => {
            let select = inner
                .split(';')
                .find_map(|part| {
                    let (k, v) = part.split_once('=')?;
                    let k = k.trim();
                    k.trim_start_matches('$')
                        .eq_ignore_ascii_case("select")
                        .then_some(v)
                })
                .ok_or_else(|| format!("Unsupported nested query option in '{value}'."))?;
            wire::parse_select(select).map_err(|p| {
                format!("Could not find a property named '{p}' on type 'microsoft.graph.user'.")
            })
        }
    }
}

fn context_url(base: &str, fields: &[Field], manager: Option<&[Field]>) -> String {
    let mut text = format!("{base}/v1.0/$metadata#users({}", wire::select_text(fields));
    if let Some(m) = manager {
        text.push_str(&format!(",manager({})", wire::select_text(m)));
    }
    text.push(')');
    text
}

/// The request's query without its `$skiptoken`, plus a new one.
fn next_link(req: &HttpRequest, path: &str, token: &str) -> String {
    let mut parts: Vec<&str> = req
        .query_string()
        .split('&')
        .filter(|part| {
            let key = part.split('=').next().unwrap_or_default();
            let key = key.replace("%24", "$");
            !part.is_empty()
                && !key
                    .trim_start_matches('$')
                    .eq_ignore_ascii_case("skiptoken")
        })
        .collect();
    let skip = format!("$skiptoken={token}");
    parts.push(&skip);
    format!("{}{path}?{}", base_url(req), parts.join("&"))
}

/// The common start of every Graph route: authenticate and apply faults, refuse a tenant
/// without delegated access, and find the token's tenant; or the response to send instead.
async fn graph_tenant(
    state: &Shared,
    req: &HttpRequest,
    ctx: &Ctx,
) -> Result<(Uuid, usize), HttpResponse> {
    let tenant = admit(state, req, ctx).await?;
    if let Some(response) = denied(state, ctx, tenant) {
        return Err(response);
    }
    match state.world.tenant_index(tenant) {
        Some(index) => Ok((tenant, index)),
        None => Err(bad_request(
            ctx,
            "The token's tenant has no directory here.",
        )),
    }
}

/// `GET /v1.0/users` (reference §4).
async fn users(state: Data, req: HttpRequest) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::Graph);
    let (tenant, tenant_index) = match graph_tenant(&state, &req, &ctx).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let pairs = query_pairs(&req);
    let fields = match option(&pairs, "select") {
        Some(list) => match wire::parse_select(list) {
            Ok(f) => f,
            Err(p) => {
                return bad_request(
                    &ctx,
                    &format!(
                        "Could not find a property named '{p}' on type 'microsoft.graph.user'."
                    ),
                );
            }
        },
        None => DEFAULT_FIELDS.to_vec(),
    };
    let manager_fields = match option(&pairs, "expand") {
        Some(value) => match parse_expand(value) {
            Ok(f) => Some(f),
            Err(message) => return bad_request(&ctx, &message),
        },
        None => None,
    };
    let top = match option(&pairs, "top") {
        None => DEFAULT_TOP,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if (1..=999).contains(&n) => n,
            _ => {
                return bad_request(
                    &ctx,
                    &format!(
                        "Invalid page size specified: '{text}'. Must be between 1 and 999 inclusive."
                    ),
                );
            }
        },
    };
    let page_size = if manager_fields.is_some() {
        top.min(EXPAND_PAGE_CAP)
    } else {
        top
    };
    let (day, position, page) = match option(&pairs, "skiptoken") {
        None => (state.day(), 0, 1),
        Some(token) => match PageToken::decode(token, state.secret) {
            Some(PageToken::Users {
                tenant: t,
                day,
                position,
                page,
            }) if t == tenant => (day, position, page),
            Some(PageToken::Users { .. }) => {
                return bad_request(&ctx, "The $skiptoken was issued for another tenant.");
            }
            _ => return bad_request(&ctx, "Invalid $skiptoken."),
        },
    };

    let world = &state.world;
    let dctx = world.day_ctx(tenant_index, day);
    let end = world.universe(day);
    let mut body = Vec::with_capacity(page_size * 900 + 512);
    let base = base_url(&req);
    body.extend_from_slice(b"{\"@odata.context\":");
    wire::write_str(
        &mut body,
        &context_url(&base, &fields, manager_fields.as_deref()),
    );
    body.extend_from_slice(b",\"value\":[");
    let mut index = position;
    let mut served = 0;
    while index < end && served < page_size {
        let user_state = world.state(&dctx, index);
        if user_state.present {
            // The manager walk costs a few state replays; only pay for it when expanded.
            let manager = match manager_fields {
                Some(_) => world.manager(&dctx, index, &user_state),
                None => None,
            };
            let user = world.user_with(&dctx, index, &user_state, manager);
            if served > 0 {
                body.push(b',');
            }
            body.push(b'{');
            let mut first = true;
            wire::write_user_members(&mut body, &mut first, &user, &fields, Mode::List);
            if let (Some(mfields), Some(m)) = (&manager_fields, manager)
                && let Some((muser, _)) = world.user(&dctx, m)
            {
                body.extend_from_slice(b",\"manager\":{\"@odata.type\":\"#microsoft.graph.user\"");
                let mut mfirst = false;
                wire::write_user_members(&mut body, &mut mfirst, &muser, mfields, Mode::List);
                body.push(b'}');
            }
            body.push(b'}');
            served += 1;
        }
        index += 1;
    }
    // Skip ahead to the next present user so the last page carries no nextLink.
    while index < end && !world.state(&dctx, index).present {
        index += 1;
    }
    body.push(b']');
    if index < end {
        let token = PageToken::Users {
            tenant,
            day,
            position: index,
            page: page + 1,
        }
        .encode(state.secret);
        body.extend_from_slice(b",\"@odata.nextLink\":");
        wire::write_str(&mut body, &next_link(&req, "/v1.0/users", &token));
    }
    body.push(b'}');
    state.count(Some(tenant), |c| c.users_pages += 1);
    serve_page(&state, &ctx, tenant, page, body)
}

// ---------------------------------------------------------------------------------------------
// Graph /users/delta
// ---------------------------------------------------------------------------------------------

fn sync_state_not_found(ctx: &Ctx) -> HttpResponse {
    ctx.error(
        StatusCode::BAD_REQUEST,
        "syncStateNotFound",
        "The sync state generation is not found. Delta tokens expire after 7 days; restart with a full synchronization.",
    )
}

/// `GET /v1.0/users/delta` (reference §5).
async fn users_delta(state: Data, req: HttpRequest) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::Graph);
    let (tenant, tenant_index) = match graph_tenant(&state, &req, &ctx).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let pairs = query_pairs(&req);
    if option(&pairs, "expand").is_some() {
        return ctx.error(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "$expand is not supported on delta queries for users.",
        );
    }
    let parse_fields = |select: Option<&str>| match select {
        Some(list) => wire::parse_select(list).map_err(|p| {
            format!("Could not find a property named '{p}' on type 'microsoft.graph.user'.")
        }),
        None => Ok(DEFAULT_FIELDS.to_vec()),
    };
    let current = state.day();
    // (from day or None for an initial round, to day, select, position, page)
    let (from, to, select, position, page) = if let Some(token) = option(&pairs, "deltatoken") {
        if token.eq_ignore_ascii_case("latest") {
            let fields = match parse_fields(option(&pairs, "select")) {
                Ok(f) => f,
                Err(message) => return bad_request(&ctx, &message),
            };
            let link = PageToken::DeltaLink {
                tenant,
                day: current,
                select: wire::select_text(&fields),
            }
            .encode(state.secret);
            let mut body = Vec::new();
            body.extend_from_slice(b"{\"@odata.context\":");
            wire::write_str(&mut body, &context_url(&base_url(&req), &fields, None));
            body.extend_from_slice(b",\"@odata.deltaLink\":");
            wire::write_str(
                &mut body,
                &format!("{}/v1.0/users/delta?$deltatoken={link}", base_url(&req)),
            );
            body.extend_from_slice(b",\"value\":[]}");
            state.count(Some(tenant), |c| c.delta_pages += 1);
            return ctx.json(body);
        }
        match PageToken::decode(token, state.secret) {
            Some(PageToken::DeltaLink {
                tenant: t,
                day,
                select,
            }) if t == tenant => {
                let expired = lock(&state.faults).has(tenant, &state.customers, |f| {
                    matches!(f, Fault::DeltaTokenExpired)
                });
                if expired {
                    state.count(Some(tenant), |c| c.faults_injected += 1);
                    return sync_state_not_found(&ctx);
                }
                if current.saturating_sub(day) > DELTA_TOKEN_MAX_AGE_DAYS {
                    return sync_state_not_found(&ctx);
                }
                (Some(day), current, select, 0, 1)
            }
            Some(PageToken::DeltaLink { .. }) => {
                return bad_request(&ctx, "The $deltatoken was issued for another tenant.");
            }
            _ => return bad_request(&ctx, "Invalid $deltatoken."),
        }
    } else if let Some(token) = option(&pairs, "skiptoken") {
        match PageToken::decode(token, state.secret) {
            Some(PageToken::Delta {
                tenant: t,
                from,
                to,
                select,
                position,
                page,
            }) if t == tenant => (from, to, select, position, page),
            Some(PageToken::Delta { .. }) => {
                return bad_request(&ctx, "The $skiptoken was issued for another tenant.");
            }
            _ => return bad_request(&ctx, "Invalid $skiptoken."),
        }
    } else {
        match parse_fields(option(&pairs, "select")) {
            Ok(fields) => (None, current, wire::select_text(&fields), 0, 1),
            Err(message) => return bad_request(&ctx, &message),
        }
    };
    let fields = match wire::parse_select(&select) {
        Ok(f) => f,
        Err(_) => return bad_request(&ctx, "Invalid $skiptoken."),
    };
    let with_manager = fields.contains(&Field::Manager);

    let world = &state.world;
    let to_ctx = world.day_ctx(tenant_index, to);
    let from_ctx = from.map(|d| world.day_ctx(tenant_index, d));
    let end = world
        .universe(to)
        .max(from.map_or(0, |d| world.universe(d)));
    let base = base_url(&req);
    let mut body = Vec::with_capacity(state.config.delta_page_size.min(1000) * 900 + 512);
    body.extend_from_slice(b"{\"@odata.context\":");
    wire::write_str(&mut body, &context_url(&base, &fields, None));
    body.extend_from_slice(b",\"value\":[");
    let mut index = position;
    let mut served = 0;
    // Graph chooses delta page sizes itself; here `Prefer: odata.maxpagesize=N` (1 to 999) sets
    // the page size, so a client's large-page strategy can be exercised.
    let preferred = req
        .headers()
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .filter_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
                .find_map(|n| n.trim().parse::<usize>().ok())
        })
        .map(|n| n.clamp(1, 999));
    let page_size = preferred.unwrap_or(state.config.delta_page_size).max(1);
    while index < end && served < page_size {
        let entry = delta_entry(
            world,
            &to_ctx,
            from_ctx.as_ref(),
            index,
            &fields,
            with_manager,
        );
        if let Some(entry) = entry {
            if served > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&entry);
            served += 1;
        }
        index += 1;
    }
    body.push(b']');
    if index < end {
        let token = PageToken::Delta {
            tenant,
            from,
            to,
            select,
            position: index,
            page: page + 1,
        }
        .encode(state.secret);
        body.extend_from_slice(b",\"@odata.nextLink\":");
        wire::write_str(
            &mut body,
            &format!("{base}/v1.0/users/delta?$skiptoken={token}"),
        );
    } else {
        let token = PageToken::DeltaLink {
            tenant,
            day: to,
            select,
        }
        .encode(state.secret);
        body.extend_from_slice(b",\"@odata.deltaLink\":");
        wire::write_str(
            &mut body,
            &format!("{base}/v1.0/users/delta?$deltatoken={token}"),
        );
    }
    body.push(b'}');
    state.count(Some(tenant), |c| c.delta_pages += 1);
    serve_page(&state, &ctx, tenant, page, body)
}

/// One delta entry for a user index, or `None` when there is nothing to report.
fn delta_entry(
    world: &World,
    to_ctx: &DayCtx,
    from_ctx: Option<&DayCtx>,
    index: u32,
    fields: &[Field],
    with_manager: bool,
) -> Option<Vec<u8>> {
    let now = world.state(to_ctx, index);
    let before = from_ctx.map(|ctx| (ctx, world.state(ctx, index)));
    let manager_of = |ctx: &DayCtx, state: &UserState| {
        if with_manager {
            world.manager(ctx, index, state)
        } else {
            None
        }
    };
    let mut out = Vec::with_capacity(900);
    match (before, now.present) {
        // Initial round: everyone present.
        (None, true) => {
            let manager = manager_of(to_ctx, &now);
            let user = world.user_with(to_ctx, index, &now, manager);
            write_delta_user(&mut out, &user, fields, with_manager, false);
        }
        (None, false) => return None,
        (Some((_, then)), false) => {
            if !then.present {
                return None;
            }
            out.extend_from_slice(b"{\"id\":");
            wire::write_str(&mut out, &world.user_id(to_ctx.tenant, index).to_string());
            out.extend_from_slice(b",\"@removed\":{\"reason\":\"changed\"}}");
        }
        (Some((from_ctx, then)), true) => {
            let manager = manager_of(to_ctx, &now);
            let user = world.user_with(to_ctx, index, &now, manager);
            let mut had_manager = false;
            if then.present {
                let old_manager = manager_of(from_ctx, &then);
                // An unchanged event history means unchanged attributes; only the manager
                // (who may have left) can still differ.
                if then == now && old_manager == manager {
                    return None;
                }
                let old = world.user_with(from_ctx, index, &then, old_manager);
                if old_manager == manager && !wire::differs(&old, &user, fields) {
                    return None;
                }
                had_manager = old_manager.is_some();
            }
            write_delta_user(&mut out, &user, fields, with_manager, had_manager);
        }
    }
    Some(out)
}

/// A changed or new user in a delta page; `manager@delta` is `[]` when the manager went away.
fn write_delta_user(
    out: &mut Vec<u8>,
    user: &SimUser,
    fields: &[Field],
    with_manager: bool,
    had_manager: bool,
) {
    out.push(b'{');
    let mut first = true;
    wire::write_user_members(out, &mut first, user, fields, Mode::Delta);
    if with_manager {
        match user.manager_id {
            Some(m) => {
                out.extend_from_slice(
                    b",\"manager@delta\":[{\"@odata.type\":\"#microsoft.graph.user\",\"id\":",
                );
                wire::write_str(out, &m.to_string());
                out.extend_from_slice(b"}]");
            }
            None if had_manager => out.extend_from_slice(b",\"manager@delta\":[]"),
            None => {}
        }
    }
    out.push(b'}');
}

// ---------------------------------------------------------------------------------------------
// Graph /subscribedSkus
// ---------------------------------------------------------------------------------------------

/// `GET /v1.0/subscribedSkus` (reference §6).
async fn subscribed_skus(state: Data, req: HttpRequest) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::Graph);
    let (tenant, tenant_index) = match graph_tenant(&state, &req, &ctx).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let spec = &state.world.tenants[tenant_index];
    let value: Vec<Value> = state
        .skus(tenant_index, state.day())
        .into_iter()
        .map(|sku| {
            json!({
                "accountName": spec.slug,
                "accountId": tenant,
                "appliesTo": sku.applies_to,
                "capabilityStatus": sku.capability_status,
                "consumedUnits": sku.consumed_units,
                "id": format!("{tenant}_{}", sku.sku_id),
                "prepaidUnits": {
                    "enabled": sku.enabled,
                    "lockedOut": sku.locked_out,
                    "suspended": sku.suspended,
                    "warning": sku.warning,
                },
                "servicePlans": sku.service_plans.iter().map(|p| json!({
                    "servicePlanId": p.id,
                    "servicePlanName": p.name,
                    "provisioningStatus": p.provisioning_status,
                    "appliesTo": p.applies_to,
                })).collect::<Vec<_>>(),
                "skuId": sku.sku_id,
                "skuPartNumber": sku.sku_part_number,
                "subscriptionIds": sku.subscription_ids,
            })
        })
        .collect();
    let body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#subscribedSkus", base_url(&req)),
        "value": value,
    });
    state.count(Some(tenant), |c| c.sku_requests += 1);
    ctx.json(body.to_string().into_bytes())
}

// ---------------------------------------------------------------------------------------------
// Partner Center
// ---------------------------------------------------------------------------------------------

fn pc_link(uri: &str, headers: Value) -> Value {
    json!({"uri": uri, "method": "GET", "headers": headers})
}

/// `GET /v1/customers?size=N`, seek-paged with `MS-ContinuationToken` (reference §2.2).
async fn customers(state: Data, req: HttpRequest) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::PartnerCenter);
    let tenant = match admit(&state, &req, &ctx).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    state.count(Some(tenant), |c| c.pc_requests += 1);
    let pairs = query_pairs(&req);
    let size = match option(&pairs, "size") {
        None => DEFAULT_PC_PAGE_SIZE,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(0) => state.customers.len().max(1),
            Ok(n) => n,
            Err(_) => {
                return ctx.error(
                    StatusCode::BAD_REQUEST,
                    "400",
                    &format!("size must be a whole number, got '{text}'."),
                );
            }
        },
    };
    let seek_next = option(&pairs, "seekOperation").is_some_and(|v| v.eq_ignore_ascii_case("next"));
    let offset = if seek_next {
        match header(&req, "MS-ContinuationToken").and_then(|t| PageToken::decode(t, state.secret))
        {
            Some(PageToken::Customers { offset, .. }) => offset,
            _ => {
                return ctx.error(
                    StatusCode::BAD_REQUEST,
                    "400",
                    "The continuation token is missing or invalid: send the MS-ContinuationToken header from links.next.",
                );
            }
        }
    } else {
        0
    };
    let items: Vec<Value> = state
        .world
        .tenants
        .iter()
        .skip(offset)
        .take(size)
        .map(|t| {
            json!({
                "id": t.id,
                "commerceId": t.commerce_id,
                "companyProfile": {
                    "tenantId": t.id,
                    "domain": t.default_domain(),
                    "companyName": t.name,
                    "links": {"self": pc_link(&format!("/customers/{}/profiles/company", t.id), json!([]))},
                    "attributes": {"objectType": "CustomerCompanyProfile"},
                },
                "relationshipToPartner": if t.index % 4 == 3 { "advisor" } else { "reseller" },
                "links": {"self": pc_link(&format!("/customers/{}", t.id), json!([]))},
                "attributes": {"objectType": "Customer"},
            })
        })
        .collect();
    let self_uri = if seek_next {
        format!("/customers?size={size}&seekOperation=Next")
    } else {
        format!("/customers?size={size}")
    };
    let mut body = json!({
        "totalCount": items.len(),
        "items": items,
        "links": {"self": pc_link(&self_uri, json!([]))},
        "attributes": {"objectType": "Collection"},
    });
    let next = offset + size;
    if next < state.customers.len() {
        let token = PageToken::Customers { offset: next, size }.encode(state.secret);
        body["links"]["next"] = pc_link(
            &format!("/customers?size={size}&seekOperation=Next"),
            json!([{"key": "MS-ContinuationToken", "value": token}]),
        );
        body["continuationToken"] = json!(token);
    }
    ctx.json(body.to_string().into_bytes())
}

/// `GET /v1/customers/{id}/subscriptions` (reference §2.3): one per SKU subscription.
async fn subscriptions(state: Data, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::PartnerCenter);
    let tenant = match admit(&state, &req, &ctx).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    state.count(Some(tenant), |c| c.pc_requests += 1);
    let customer = Uuid::parse_str(&path.into_inner()).ok();
    let Some((index, customer)) =
        customer.and_then(|c| state.world.tenant_index(c).map(|i| (i, c)))
    else {
        return ctx.error(
            StatusCode::NOT_FOUND,
            "60003",
            "The customer tenant was not found for this partner.",
        );
    };
    let creation = chrono::DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default();
    let mut items = Vec::new();
    for sku in state.skus(index, 0) {
        for (k, id) in sku.subscription_ids.iter().enumerate() {
            let (quantity, status) = match (k, sku.capability_status.as_str()) {
                (0, "Warning") => (sku.warning, "expired"),
                (0, _) => (sku.enabled, "active"),
                _ => (sku.suspended, "suspended"),
            };
            let free = sku.sku_part_number == "FLOW_FREE";
            let started = creation + chrono::Duration::days(30 * k as i64);
            items.push(json!({
                "id": id,
                "offerId": format!("CFQ7TTC0LF8{}:0001:{}", k, sku.sku_id.simple()),
                "offerName": super::data::World::offer_name(&sku.sku_part_number),
                "friendlyName": super::data::World::offer_name(&sku.sku_part_number),
                "quantity": quantity,
                "unitType": "Licenses",
                "status": status,
                "creationDate": started.to_rfc3339(),
                "effectiveStartDate": started.to_rfc3339(),
                "commitmentEndDate": if free { "9999-12-31T00:00:00Z".to_owned() } else { (started + chrono::Duration::days(365)).to_rfc3339() },
                "autoRenewEnabled": status == "active",
                "billingType": if free { "none" } else { "license" },
                "billingCycle": if free { "none" } else { "monthly" },
                "termDuration": if free { "P1M" } else { "P1Y" },
                "isTrial": free,
                "links": {"self": pc_link(&format!("/customers/{customer}/subscriptions/{id}"), json!([]))},
                "attributes": {"etag": format!("\"{}\"", sku.sku_id.simple()), "objectType": "Subscription"},
            }));
        }
    }
    let body = json!({
        "totalCount": items.len(),
        "items": items,
        "links": {"self": pc_link(&format!("/customers/{customer}/subscriptions"), json!([]))},
        "attributes": {"objectType": "Collection"},
    });
    ctx.json(body.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_whose_manager_left_gets_an_empty_manager_delta() {
        let world = World::new(5, 1, 1000);
        let fields = wire::parse_select("displayName,manager").unwrap();
        let entries: Vec<String> = (1..=4)
            .flat_map(|day| {
                let from = world.day_ctx(0, day - 1);
                let to = world.day_ctx(0, day);
                (0..world.universe(day))
                    .filter_map(|i| delta_entry(&world, &to, Some(&from), i, &fields, true))
                    .map(|e| String::from_utf8(e).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(entries.iter().any(|e| e.contains("\"manager@delta\":[]")));
        for entry in &entries {
            let value: Value = serde_json::from_str(entry).unwrap();
            let keys = value.as_object().unwrap().len();
            assert!(keys >= 2, "{entry}");
        }
    }

    #[test]
    fn unselected_changes_do_not_bring_a_user_back() {
        let world = World::new(5, 1, 1000);
        let ids_only = wire::parse_select("id").unwrap();
        let from = world.day_ctx(0, 0);
        let to = world.day_ctx(0, 1);
        let reported = (0..world.universe(1))
            .filter_map(|i| delta_entry(&world, &to, Some(&from), i, &ids_only, false))
            .count();
        let hires_and_leavers = (0..world.universe(1))
            .filter(|&i| world.state(&from, i).present != world.state(&to, i).present)
            .count();
        assert_eq!(reported, hires_and_leavers);
    }
}
