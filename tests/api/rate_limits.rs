//! Rate limits and WebSocket hardening (issue 5, item 8): a token bucket per principal over
//! HTTP, exports and WebSocket operations, one per client address for requests without a
//! valid token, 429 with `Retry-After`; WebSocket origins, the `connection_init` deadline and
//! the operation timeout over WebSocket.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tenantgraph::config::api::ApiSettings;
use tenantgraph::config::auth::AuthSettings;
use tenantgraph::config::rate_limits::{Bucket, RateLimits};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::support::{
    Backend, SLOW_QUERY, Socket, TestApp, read_json, test_api, ws_connect, ws_open,
};

const SECRET: &str = "rate-limit-test-secret-0123456789abcdef";

fn token(oid: &str) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({ "exp": now + 600, "nbf": now - 10, "oid": oid,
        "roles": ["partner_admin"] });
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A server whose principals may send 3 requests at once and 1 a second after that, and whose
/// clients without a valid token may send 2 at once.
async fn limited_app(change: impl FnOnce(&mut ApiSettings)) -> TestApp {
    let mut api = ApiSettings {
        rate_limits: RateLimits {
            principal: Bucket::new(1, 3),
            unauthenticated: Bucket::new(1, 2),
        },
        ..test_api()
    };
    change(&mut api);
    TestApp::with_api_and_auth(
        Backend::Sqlite,
        api,
        AuthSettings::hs256(SECRET.to_owned().into()),
    )
    .await
}

/// GETs `path` (with a preflight header, as `GET /graphql` needs) as `bearer`; returns the
/// status, the `Retry-After` header and the body.
async fn get(app: &TestApp, path: &str, bearer: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = app
        .client
        .get(app.url(path))
        .header("x-requested-with", "test");
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, response.text().await.unwrap())
}

const PING: &str = "/graphql?query=%7B__typename%7D";

#[tokio::test]
async fn a_principal_past_its_burst_gets_429_with_retry_after_until_its_bucket_refills() {
    let app = limited_app(|_| {}).await;
    let alice = token("alice");
    for n in 0..3 {
        let (status, _, body) = get(&app, PING, Some(&alice)).await;
        assert_eq!(status, 200, "request {n}: {body}");
    }
    let (status, retry, body) = get(&app, PING, Some(&alice)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1);
    assert_eq!(
        body["errors"][0]["message"],
        "rate limit exceeded: at most 1 requests per second, 3 at once, per caller; retry after 1 s"
    );
    // The exports draw on the same bucket.
    let export = format!(
        "/export/tenants/{}/users.csv",
        "00000000-0000-0000-0000-000000000001"
    );
    assert_eq!(get(&app, &export, Some(&alice)).await.0, 429);
    // Another principal has a bucket of its own.
    assert_eq!(get(&app, PING, Some(&token("bob"))).await.0, 200);
    // After the wait it was told, alice gets one more request, and only one.
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    assert_eq!(get(&app, PING, Some(&alice)).await.0, 200);
    assert_eq!(get(&app, PING, Some(&alice)).await.0, 429);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_limited_per_address_apart_from_principals() {
    let app = limited_app(|_| {}).await;
    for bearer in [None, Some("not-a-jwt")] {
        let (status, _, body) = get(&app, PING, bearer).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("UNAUTHENTICATED"));
    }
    let (status, retry, body) = get(&app, PING, None).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(body.contains("RATE_LIMITED"));
    // A valid token from the same address is counted against its principal, not the address.
    assert_eq!(get(&app, PING, Some(&token("carol"))).await.0, 200);
}

#[tokio::test]
async fn without_limits_a_caller_is_never_refused() {
    let app = limited_app(|api| api.rate_limits = RateLimits::off()).await;
    let dave = token("dave");
    for _ in 0..50 {
        assert_eq!(get(&app, PING, Some(&dave)).await.0, 200);
    }
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// Sends `{ __typename }` as operation `id` and returns the first message answering it.
async fn typename(socket: &mut Socket, id: &str) -> Value {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": "{ __typename }" } }),
    )
    .await;
    read_json(socket).await
}

#[tokio::test]
async fn websocket_connections_and_their_operations_draw_on_the_principal_bucket() {
    let app = limited_app(|_| {}).await;
    let erin = token("erin");
    // connection_init takes one request from the bucket, each operation one more.
    let mut socket = ws_connect(
        app.addr,
        json!({ "Authorization": format!("Bearer {erin}") }),
    )
    .await;
    for id in ["1", "2"] {
        let answer = typename(&mut socket, id).await;
        assert_eq!(answer["type"], "next", "{answer}");
        assert_eq!(answer["payload"]["data"]["__typename"], "Query");
        assert_eq!(read_json(&mut socket).await["type"], "complete");
    }
    let refused = typename(&mut socket, "3").await;
    assert_eq!(refused["id"], "3");
    assert!(
        refused.to_string().contains("RATE_LIMITED"),
        "expected a rate limit error, got {refused}"
    );
    // A new connection for the same principal is refused in its connection_init.
    let mut second = ws_open(app.addr, None).await.unwrap();
    send(
        &mut second,
        json!({ "type": "connection_init",
            "payload": { "Authorization": format!("Bearer {erin}") } }),
    )
    .await;
    match second.next().await {
        Some(Ok(Message::Close(frame))) => {
            let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
            assert!(reason.contains("rate limit exceeded"), "{reason}");
        }
        other => panic!("expected the connection to close, got {other:?}"),
    }
}

#[tokio::test]
async fn websocket_upgrades_from_foreign_origins_are_refused() {
    let app = limited_app(|api| {
        api.rate_limits = RateLimits::off();
        api.cors_origins = vec!["https://portal.example.com".to_owned()];
    })
    .await;
    match ws_open(app.addr, Some("https://evil.example")).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 403);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("https://evil.example"), "{body}");
        }
        Err(other) => panic!("expected HTTP 403, got {other}"),
        Ok(_) => panic!("a foreign origin opened a WebSocket"),
    }
    let own = format!("http://{}", app.addr);
    for origin in [Some("https://portal.example.com"), Some(own.as_str()), None] {
        assert!(
            ws_open(app.addr, origin).await.is_ok(),
            "origin {origin:?} was refused"
        );
    }
}

/// Whether the server closes `socket` within 4 s: well before its heartbeat would give up on a
/// client that answers no pings (10 s).
async fn closes(socket: &mut Socket) -> bool {
    tokio::time::timeout(Duration::from_secs(4), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(other)) => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_websocket_that_sends_no_connection_init_in_time_is_closed() {
    let app = limited_app(|api| {
        api.rate_limits = RateLimits::off();
        api.ws_init_timeout = Duration::from_millis(300);
    })
    .await;
    let started = Instant::now();
    let mut silent = ws_open(app.addr, None).await.unwrap();
    assert!(
        closes(&mut silent).await,
        "the silent connection stayed open"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A connection that did send connection_init outlives the deadline.
    let mut socket = ws_connect(
        app.addr,
        json!({ "Authorization": format!("Bearer {}", token("frank")) }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(typename(&mut socket, "1").await["type"], "next");
}

#[tokio::test]
async fn queries_over_websocket_are_cancelled_at_the_operation_timeout() {
    let app = limited_app(|api| {
        api.rate_limits = RateLimits::off();
        api.timeout = Duration::ZERO;
    })
    .await;
    crate::support::demo::seed(&app.store).await;
    let mut socket = ws_connect(
        app.addr,
        json!({ "Authorization": format!("Bearer {}", token("grace")) }),
    )
    .await;
    send(
        &mut socket,
        json!({ "id": "q", "type": "subscribe", "payload": { "query": SLOW_QUERY } }),
    )
    .await;
    let answer = read_json(&mut socket).await;
    let text = answer.to_string();
    assert!(text.contains("OPERATION_LIMIT_EXCEEDED"), "{text}");
    assert!(text.contains("run time in milliseconds"), "{text}");
}

/// A raw text frame (`first`) or continuation frame, final or not.
fn fragment(data: &[u8], first: bool, last: bool) -> Message {
    use tungstenite::protocol::frame::Frame;
    use tungstenite::protocol::frame::coding::{Data, OpCode};
    let opcode = OpCode::Data(if first { Data::Text } else { Data::Continue });
    Message::Frame(Frame::message(data.to_vec(), opcode, last))
}

#[tokio::test]
async fn a_message_sent_in_fragments_may_grow_only_to_the_body_limit() {
    let app = limited_app(|api| {
        api.rate_limits = RateLimits::off();
        api.max_body_bytes = 4_096;
    })
    .await;
    // Within the limit, fragments make one message: a connection_init in three pieces.
    let init = json!({ "type": "connection_init",
        "payload": { "Authorization": format!("Bearer {}", token("heidi")) } })
    .to_string();
    let (a, rest) = init.as_bytes().split_at(10);
    let (b, c) = rest.split_at(10);
    let mut socket = ws_open(app.addr, None).await.unwrap();
    for (piece, first, last) in [(a, true, false), (b, false, false), (c, false, true)] {
        socket.send(fragment(piece, first, last)).await.unwrap();
    }
    assert_eq!(read_json(&mut socket).await["type"], "connection_ack");
    // Past it, the connection is closed instead of the server joining fragments forever.
    let chunk = vec![b' '; 1_000];
    socket.send(fragment(&chunk, true, false)).await.unwrap();
    let mut closed = false;
    for _ in 0..20 {
        if socket.send(fragment(&chunk, false, false)).await.is_err() {
            closed = true;
            break;
        }
    }
    if !closed {
        closed = closes(&mut socket).await;
    }
    assert!(closed, "20 kB of fragments were accepted with a 4 kB limit");
}

#[tokio::test]
async fn a_batch_takes_one_request_per_operation_from_the_bucket() {
    let app = limited_app(|api| api.max_batch = Some(3)).await;
    let ivan = token("ivan");
    let batch = |n: usize| {
        json!(
            (0..n)
                .map(|_| json!({ "query": "{ __typename }" }))
                .collect::<Vec<_>>()
        )
    };
    let post = |body: Value| {
        app.client
            .post(app.url("/graphql"))
            .bearer_auth(&ivan)
            .json(&body)
            .send()
    };
    let response = post(batch(3)).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answers: Value = response.json().await.unwrap();
    assert_eq!(answers.as_array().unwrap().len(), 3);
    // The three operations emptied the bucket of three.
    let response = post(json!({ "query": "{ __typename }" })).await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    // A batch over its size limit is refused for that, not for the rate.
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    let response = post(batch(4)).await.unwrap();
    assert_eq!(response.status().as_u16(), 413);
}
