//! `GET /graphql` with `Upgrade: websocket`: GraphQL over WebSocket (`graphql-transport-ws`, and
//! the older `graphql-ws`). Browsers apply no CORS to WebSockets, so the `Origin` is checked
//! here; a connection must authenticate in `connection_init` within its time, each of its
//! operations counts against the principal's rate limit like an HTTP request, and a message sent
//! in fragments may grow no larger than a request body.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::{Data, Executor, Request, Response, ServerError};
use async_graphql_actix_web::GraphQLSubscription;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::json;

use super::cors::CorsPolicy;
use super::graphql_endpoint::GraphqlState;
use crate::domain::Action;
use crate::graphql::{self, ApiExecutor};
use crate::http::forwarded;
use crate::rate_limit::{Caller, Limited, RateLimiter};

/// The API's executor with every operation of one connection counted against its principal's
/// bucket.
#[derive(Clone)]
struct LimitedExecutor {
    inner: ApiExecutor,
    limits: Arc<RateLimiter>,
    address: IpAddr,
}

impl LimitedExecutor {
    /// The answer refusing the operation when the connection's principal is over its rate.
    fn refusal(&self, data: Option<&Data>) -> Option<Response> {
        let principal = data.and_then(graphql::principal_in)?;
        let limited = self
            .limits
            .check(&Caller::of(principal, self.address))
            .err()?;
        Some(rate_limited(&limited))
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

/// A GraphQL error `RATE_LIMITED` with the wait in `extensions.retryAfter` (seconds).
fn rate_limited(limited: &Limited) -> Response {
    let mut error = ServerError::new(limited.message(), None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", "RATE_LIMITED");
    ext.set("retryAfter", limited.retry_after_secs());
    error.extensions = Some(ext);
    Response::from_errors(vec![error])
}

/// Opens a GraphQL WebSocket. An `Origin` other than the server's own or a configured CORS
/// origin gets 403. The `connection_init` payload's `Authorization` (`Bearer <JWT>`)
/// authenticates the connection, which is closed when the check fails, the caller is over its
/// rate, or no `connection_init` arrives within the configured time. Each operation gets its
/// own loaders, confined to the connection's principal, as on HTTP.
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
            return Ok(HttpResponse::Forbidden().json(json!({ "errors": [{
                "message": format!(
                    "WebSocket connections from origin {:?} are not allowed (see TENANTGRAPH_HTTP_CORS_ORIGINS)",
                    origin.chars().take(200).collect::<String>()
                ),
                "extensions": { "code": "FORBIDDEN" }
            }] })));
        }
    }
    let address = forwarded::client_address(&req);
    let initialised = Arc::new(AtomicBool::new(false));
    let payload = cap_fragmented_messages(payload, state.max_body_bytes)
        .take_until(init_deadline(state.ws_init_timeout, initialised.clone()));
    let executor = LimitedExecutor {
        inner: state.executor.clone(),
        limits: state.limits.clone(),
        address,
    };
    let auth = state.auth.clone();
    let limits = state.limits.clone();
    GraphQLSubscription::new(executor)
        .on_connection_init(move |payload: serde_json::Value| async move {
            initialised.store(true, Ordering::Release);
            let authorization = payload
                .get("Authorization")
                .or_else(|| payload.get("authorization"))
                .and_then(serde_json::Value::as_str);
            let principal = match auth.authenticate(authorization).await {
                Ok(principal) => principal,
                Err(error) => {
                    let message = match limits.check_unauthenticated(address) {
                        Ok(()) => format!("authentication failed: {error}"),
                        Err(limited) => limited.message(),
                    };
                    return Err(async_graphql::Error::new(message));
                }
            };
            if let Err(limited) = limits.check(&Caller::of(&principal, address)) {
                return Err(async_graphql::Error::new(limited.message()));
            }
            if !principal.may(Action::Read) {
                return Err(async_graphql::Error::new(
                    "the token grants none of the roles reader, allocator, importer, partner_admin",
                ));
            }
            let mut data = Data::default();
            data.insert(principal);
            Ok(data)
        })
        .start(&req, payload)
}

/// Resolves when `timeout` has passed without `connection_init` (`initialised` still false);
/// the connection's input then ends and the server closes it.
async fn init_deadline(timeout: Duration, initialised: Arc<AtomicBool>) {
    tokio::time::sleep(timeout).await;
    if initialised.load(Ordering::Acquire) {
        std::future::pending::<()>().await;
    }
    tracing::info!(
        timeout_secs = timeout.as_secs(),
        "WebSocket closed: no connection_init in time"
    );
}

/// Ends the client's input (and so the connection) when a message sent in continuation frames
/// grows past `max` bytes. async-graphql-actix-web joins fragments without any limit, so one
/// client could otherwise fill the server's memory; each single frame is already capped by the
/// socket's decoder.
fn cap_fragmented_messages<S>(
    input: S,
    max: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>>
where
    S: futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>>,
{
    let mut watch = FragmentWatch {
        codec: Codec::new(),
        buffer: BytesMut::new(),
        fragment: 0,
        max,
    };
    input.scan((), move |(), chunk| {
        let within = match &chunk {
            Ok(bytes) => watch.observe(bytes),
            Err(_) => true,
        };
        if !within {
            tracing::info!(
                max_bytes = max,
                "WebSocket closed: a fragmented message grew past its limit"
            );
        }
        std::future::ready(within.then_some(chunk))
    })
}

/// Decodes a copy of the client's frames to measure fragmented messages.
struct FragmentWatch {
    codec: Codec,
    buffer: BytesMut,
    /// Bytes of the message being received in fragments so far.
    fragment: usize,
    max: usize,
}

impl FragmentWatch {
    /// Takes the next bytes from the client; false once a fragmented message is too large.
    fn observe(&mut self, bytes: &Bytes) -> bool {
        self.buffer.extend_from_slice(bytes);
        loop {
            match self.codec.decode(&mut self.buffer) {
                Ok(Some(Frame::Continuation(item))) => {
                    self.fragment = match item {
                        Item::FirstText(b) | Item::FirstBinary(b) => b.len(),
                        Item::Continue(b) | Item::Last(b) => self.fragment + b.len(),
                    };
                    if self.fragment > self.max {
                        return false;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => return true,
                // The socket's own decoder meets the same bytes and closes the connection.
                Err(_) => {
                    self.buffer.clear();
                    return true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_codec::Encoder;
    use actix_http::ws::Message;

    /// The bytes a client sends for `messages` (masked, as clients must), with `codec`
    /// keeping track of the message being fragmented.
    fn encode(codec: &mut Codec, messages: Vec<Message>) -> Bytes {
        let mut out = BytesMut::new();
        for message in messages {
            codec.encode(message, &mut out).unwrap();
        }
        out.freeze()
    }

    fn client_bytes(messages: Vec<Message>) -> Bytes {
        encode(&mut Codec::new().client_mode(), messages)
    }

    fn watch(max: usize) -> FragmentWatch {
        FragmentWatch {
            codec: Codec::new(),
            buffer: BytesMut::new(),
            fragment: 0,
            max,
        }
    }

    #[test]
    fn a_fragmented_message_past_the_limit_is_refused_and_one_within_it_passes() {
        let chunk = Bytes::from(vec![b'x'; 400]);
        let within = client_bytes(vec![
            Message::Continuation(Item::FirstText(chunk.clone())),
            Message::Continuation(Item::Continue(chunk.clone())),
            Message::Continuation(Item::Last(chunk.clone())),
        ]);
        let mut w = watch(1_200);
        // Split at every byte boundary the network might choose.
        for piece in within.chunks(7) {
            assert!(w.observe(&Bytes::copy_from_slice(piece)));
        }
        let mut w = watch(1_000);
        let mut client = Codec::new().client_mode();
        let first = encode(
            &mut client,
            vec![
                Message::Continuation(Item::FirstText(chunk.clone())),
                Message::Continuation(Item::Continue(chunk.clone())),
            ],
        );
        assert!(w.observe(&first), "800 bytes so far");
        let more = encode(
            &mut client,
            vec![Message::Continuation(Item::Continue(chunk))],
        );
        assert!(!w.observe(&more), "1,200 bytes is past 1,000");
    }

    #[test]
    fn whole_messages_and_pings_are_not_counted() {
        let mut w = watch(10);
        let bytes = client_bytes(vec![
            Message::Text("a whole message longer than ten bytes".into()),
            Message::Ping(Bytes::from_static(b"ping")),
            Message::Text("and another one, also long".into()),
        ]);
        assert!(w.observe(&bytes));
    }
}
