//! `GET /graphql` with `Upgrade: websocket`: GraphQL over WebSocket (`graphql-transport-ws`, and
//! the older `graphql-ws`). Browsers apply no CORS to WebSockets, so the `Origin` is checked
//! here; a connection must authenticate in `connection_init` within its time and is closed when
//! its token expires; each of its operations counts against the principal's rate limit like an
//! HTTP request, and no message, whole or in fragments, may be larger than a request body.

use std::net::IpAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor, Request, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::time::Instant;
use tracing::Instrument;

use super::cors::CorsPolicy;
use super::graphql_endpoint::GraphqlState;
use crate::domain::Action;
use crate::graphql::error::ApiError;
use crate::graphql::{self, ApiExecutor};
use crate::http::forwarded;
use crate::http::refusal::Refusal;
use crate::rate_limit::{Caller, RateLimiter};

/// How often the server pings a quiet client.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a client may stay silent (no message, no pong) before it is taken for gone.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
/// graphql-transport-ws' close code for a connection refused its authorisation. Clients (such
/// as graphql-ws) reconnect after it, calling for a fresh token.
const CLOSE_FORBIDDEN: u16 = 4403;
/// graphql-transport-ws' close code for a missing `connection_init`.
const CLOSE_INIT_TIMEOUT: u16 = 4408;

/// The API's executor with every operation of one connection counted against its principal's
/// bucket.
#[derive(Clone)]
struct LimitedExecutor {
    inner: ApiExecutor,
    limits: Arc<RateLimiter>,
    address: IpAddr,
}

impl LimitedExecutor {
    /// The answer refusing the operation when the connection's principal has expired or is
    /// over its rate. The session closes at expiry; this covers an operation that arrives in
    /// the same instant.
    fn refusal(&self, data: Option<&Data>) -> Option<Response> {
        let principal = data.and_then(graphql::principal_in)?;
        if principal.expired_at(Utc::now()) {
            return Some(graphql::unauthenticated("token expired"));
        }
        let limited = self
            .limits
            .check(&Caller::of(principal, self.address))
            .err()?;
        Some(Response::from_errors(vec![
            ApiError::from(&limited).into_server_error(),
        ]))
    }
}

impl Executor for LimitedExecutor {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        let refused = self.refusal(Some(&request.data));
        let inner = self.inner.clone();
        async move {
            match refused {
                Some(response) => response,
                None => inner.execute(request).await,
            }
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        match self.refusal(session_data.as_deref()) {
            Some(response) => Box::pin(futures_util::stream::once(async move { response })),
            None => self.inner.execute_stream(request, session_data),
        }
    }
}

/// Opens a GraphQL WebSocket. An `Origin` other than the server's own or a configured CORS
/// origin gets 403. The `connection_init` payload's `Authorization` (`Bearer <JWT>`)
/// authenticates the connection, which is closed when the check fails, the caller is over its
/// rate, no `connection_init` arrives within the configured time, or the token expires (`exp`
/// plus the leeway: close code 4403, running operations cancelled). Each operation gets its own
/// loaders, confined to the connection's principal, as on HTTP.
pub async fn websocket(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<GraphqlState>,
    cors: web::Data<CorsPolicy>,
) -> actix_web::Result<HttpResponse> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        if !cors.allows_websocket(origin, host) {
            return Err(Refusal::from(ApiError::Forbidden(format!(
                "WebSocket connections from origin {:?} are not allowed (see TENANTGRAPH_HTTP_CORS_ORIGINS)",
                origin.chars().take(200).collect::<String>()
            )))
            .into());
        }
    }
    let Some(protocol) = offered_protocol(&req) else {
        return Err(Refusal::from(ApiError::BadUserInput(
            "Sec-WebSocket-Protocol must offer graphql-transport-ws or graphql-ws".to_owned(),
        ))
        .into());
    };
    let (response, session, messages) =
        actix_ws::handle_with_protocols(&req, payload, &[protocol.sec_websocket_protocol()])?;
    let messages = messages
        .max_frame_size(state.max_body_bytes)
        .aggregate_continuations()
        .max_continuation_size(state.max_body_bytes);
    let address = forwarded::client_address(&req);
    let connection = Connection {
        executor: LimitedExecutor {
            inner: state.executor.clone(),
            limits: state.limits.clone(),
            address,
        },
        auth: state.auth.clone(),
        protocol,
        init_timeout: state.ws_init_timeout,
        max_bytes: state.max_body_bytes,
    };
    // The session outlives this handler; its log lines keep the upgrade request's span (request
    // id, client address).
    actix_web::rt::spawn(
        connection
            .serve(session, messages)
            .instrument(tracing::Span::current()),
    );
    Ok(response)
}

/// The first protocol the client offers that we speak.
fn offered_protocol(req: &HttpRequest) -> Option<WebSocketProtocols> {
    req.headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().parse().ok())
}

/// One accepted WebSocket and what its session needs.
struct Connection {
    executor: LimitedExecutor,
    auth: Arc<crate::auth::Authenticator>,
    protocol: WebSocketProtocols,
    init_timeout: Duration,
    max_bytes: usize,
}

/// What `connection_init` tells the session: that it arrived, and until when the connection's
/// principal is valid once accepted.
#[derive(Default)]
struct InitState {
    received: AtomicBool,
    valid_until: Mutex<Option<DateTime<Utc>>>,
}

impl InitState {
    fn valid_until(&self) -> Option<DateTime<Utc>> {
        self.valid_until.lock().ok().and_then(|v| *v)
    }
}

impl Connection {
    /// Runs the connection until the client leaves or one of the server's deadlines closes it.
    /// Returning drops the GraphQL session and with it every running operation.
    async fn serve(self, mut session: Session, messages: AggregatedMessageStream) {
        let state = Arc::new(InitState::default());
        let last_heard = Arc::new(Mutex::new(Instant::now()));
        let ended_by_client: Arc<Mutex<Option<CloseReason>>> = Arc::default();
        let input = client_messages(
            messages,
            session.clone(),
            last_heard.clone(),
            ended_by_client.clone(),
            self.max_bytes,
        );
        let init = on_connection_init(
            self.auth.clone(),
            self.executor.limits.clone(),
            self.executor.address,
            state.clone(),
        );
        let mut graphql = pin!(
            WebSocket::new(self.executor.clone(), input, self.protocol).on_connection_init(init)
        );
        let init_deadline = Instant::now() + self.init_timeout;
        let mut heartbeat = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
        let close = loop {
            let expiry = state.valid_until().map(instant_of);
            tokio::select! {
                out = graphql.next() => match out {
                    Some(WsMessage::Text(text)) => {
                        if session.text(text).await.is_err() {
                            return;
                        }
                    }
                    Some(WsMessage::Close(code, reason)) => {
                        break Some(CloseReason { code: code.into(), description: Some(reason) });
                    }
                    None => break ended_by_client.lock().ok().and_then(|mut r| r.take()),
                },
                () = tokio::time::sleep_until(init_deadline), if !state.received.load(Ordering::Acquire) => {
                    tracing::info!(
                        timeout_secs = self.init_timeout.as_secs(),
                        "WebSocket closed: no connection_init in time"
                    );
                    break Some(reason(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout"));
                }
                () = sleep_until_some(expiry) => {
                    tracing::info!("WebSocket closed: its token expired");
                    break Some(reason(
                        CLOSE_FORBIDDEN,
                        "Forbidden: the token expired; reconnect with a fresh token",
                    ));
                }
                _ = heartbeat.tick() => {
                    let silent = last_heard.lock().map(|t| t.elapsed()).unwrap_or_default();
                    if silent > CLIENT_TIMEOUT {
                        break None;
                    }
                    if session.ping(b"").await.is_err() {
                        return;
                    }
                }
            }
        };
        let _ = session.close(close).await;
    }
}

fn reason(code: u16, text: &str) -> CloseReason {
    CloseReason {
        code: CloseCode::Other(code),
        description: Some(text.to_owned()),
    }
}

/// The tokio instant of a wall-clock time (now when it is past).
fn instant_of(at: DateTime<Utc>) -> Instant {
    Instant::now() + (at - Utc::now()).to_std().unwrap_or_default()
}

/// Resolves at `deadline`; never without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The client's GraphQL messages (text and binary), answering its pings and noting when it was
/// last heard. Ends when the client closes (its reason kept in `ended`, to echo it) or breaks
/// the protocol, for example with a message (whole or in fragments) over `max_bytes`.
fn client_messages(
    messages: AggregatedMessageStream,
    session: Session,
    last_heard: Arc<Mutex<Instant>>,
    ended: Arc<Mutex<Option<CloseReason>>>,
    max_bytes: usize,
) -> impl futures_util::Stream<Item = Bytes> {
    messages
        .take_while(move |message| {
            let go_on = match message {
                Ok(AggregatedMessage::Close(reason)) => {
                    if let Ok(mut ended) = ended.lock() {
                        *ended = reason.clone();
                    }
                    false
                }
                Ok(_) => true,
                Err(error) => {
                    tracing::info!(
                        max_bytes,
                        error = %error,
                        "WebSocket closed: the client broke the protocol or sent a message past its limit"
                    );
                    if let Ok(mut ended) = ended.lock() {
                        *ended = Some(CloseReason {
                            code: CloseCode::Size,
                            description: Some(format!(
                                "messages are limited to {max_bytes} bytes (TENANTGRAPH_HTTP_MAX_BODY_BYTES)"
                            )),
                        });
                    }
                    false
                }
            };
            std::future::ready(go_on)
        })
        .filter_map(move |message| {
            let mut session = session.clone();
            let last_heard = last_heard.clone();
            async move {
                if let Ok(mut at) = last_heard.lock() {
                    *at = Instant::now();
                }
                match message {
                    Ok(AggregatedMessage::Text(text)) => Some(text.into_bytes()),
                    Ok(AggregatedMessage::Binary(bytes)) => Some(bytes),
                    Ok(AggregatedMessage::Ping(bytes)) => {
                        let _ = session.pong(&bytes).await;
                        None
                    }
                    _ => None,
                }
            }
        })
}

/// The `connection_init` check: the payload's `Authorization` must hold a valid token whose
/// principal may read and is within its rate. Records in `state` that the message arrived and,
/// once accepted, until when the principal is valid.
fn on_connection_init(
    auth: Arc<crate::auth::Authenticator>,
    limits: Arc<RateLimiter>,
    address: IpAddr,
    state: Arc<InitState>,
) -> impl FnOnce(
    serde_json::Value,
) -> futures_util::future::BoxFuture<'static, async_graphql::Result<Data>>
+ Send
+ 'static {
    move |payload: serde_json::Value| {
        Box::pin(async move {
            state.received.store(true, Ordering::Release);
            let authorization = payload
                .get("Authorization")
                .or_else(|| payload.get("authorization"))
                .and_then(serde_json::Value::as_str);
            let principal = match auth.authenticate(authorization).await {
                Ok(principal) => principal,
                Err(error) => {
                    let refusal = match limits.check_unauthenticated(address) {
                        Ok(()) => ApiError::unauthenticated(error),
                        Err(limited) => ApiError::from(&limited),
                    };
                    return Err(async_graphql::Error::new(refusal.message()));
                }
            };
            if let Err(limited) = limits.check(&Caller::of(&principal, address)) {
                return Err(async_graphql::Error::new(limited.message()));
            }
            if !principal.may(Action::Read) {
                return Err(async_graphql::Error::new(
                    ApiError::without_role().message(),
                ));
            }
            if let Ok(mut until) = state.valid_until.lock() {
                *until = principal.valid_until;
            }
            let mut data = Data::default();
            data.insert(principal);
            Ok(data)
        })
    }
}
