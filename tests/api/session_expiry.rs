//! A WebSocket session ends when its token does: at `exp` plus the clock-skew leeway the server
//! closes the socket (graphql-transport-ws close code 4403, a reason naming the expiry) and
//! accepts nothing more under that principal; a token already inside the leeway gets only what
//! is left of it.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tenantgraph::config::auth::AuthSettings;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{Socket, TestApp, backends, read_json, ws_connect};

const SECRET: &str = "test-only-hs256-secret-for-session-expiry";

fn auth(leeway: Duration) -> AuthSettings {
    AuthSettings {
        leeway,
        ..AuthSettings::hs256(SECRET.to_owned().into())
    }
}

/// A partner administrator's token expiring `exp_in` seconds from now (negative: already past).
fn token(exp_in: i64) -> String {
    let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap();
    encode(
        &Header::new(Algorithm::HS256),
        &json!({ "oid": "admin-1", "roles": ["partner_admin"], "exp": now + exp_in }),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

const CREATE_GROUP: &str = r#"mutation($t: ID!, $n: String!) {
    createCostGroup(input: {tenantId: $t, name: $n}) { id } }"#;

async fn subscribe(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    let message = json!({ "id": id, "type": "subscribe",
        "payload": { "query": query, "variables": variables } });
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// Reads until the server closes `socket` (within 10 s); returns its close code and reason.
async fn close_frame(socket: &mut Socket) -> (CloseCode, String) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (frame.code, frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                    panic!("the socket ended without a close code")
                }
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .expect("the server kept the socket open past the token's expiry")
}

#[tokio::test]
async fn a_websocket_is_closed_when_its_token_expires_and_runs_nothing_after() {
    for backend in backends() {
        // exp in 2 s, no leeway; and exp 1 s ago with a 3 s leeway: both end about 2 s on.
        for (exp_in, leeway) in [(2, 0), (-1, 3)] {
            let app = TestApp::with_auth(backend, auth(Duration::from_secs(leeway)), None).await;
            crate::support::demo::seed(&app.store).await;
            let t = crate::support::demo_data()[0].0.tenant.id.to_string();
            let started = Instant::now();
            let bearer = format!("Bearer {}", token(exp_in));
            let mut socket = ws_connect(app.addr, json!({ "Authorization": bearer })).await;

            // Before the deadline, a mutation runs.
            subscribe(
                &mut socket,
                "1",
                CREATE_GROUP,
                json!({ "t": t, "n": "Before" }),
            )
            .await;
            let answer = read_json(&mut socket).await;
            assert_eq!(answer["type"], "next", "{answer}");
            assert!(answer["payload"]["errors"].is_null(), "{answer}");
            assert_eq!(read_json(&mut socket).await["type"], "complete");

            let (code, reason) = close_frame(&mut socket).await;
            assert_eq!(code, CloseCode::from(4403), "{reason}");
            assert!(reason.contains("token expired"), "{reason}");
            let lived = started.elapsed();
            assert!(
                lived >= Duration::from_millis(900),
                "closed after {lived:?}"
            );

            // Whatever the client still sends is not run.
            let _ = socket
                .send(Message::text(
                    json!({ "id": "2", "type": "subscribe", "payload": {
                        "query": CREATE_GROUP, "variables": { "t": t, "n": "After" } } })
                    .to_string(),
                ))
                .await;
            let names: Vec<String> = tenantgraph::store::allocation::list_cost_groups_of_tenants(
                &app.store,
                &[t.parse().unwrap()],
            )
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect();
            assert!(names.contains(&"Before".to_owned()), "{names:?}");
            assert!(
                !names.contains(&"After".to_owned()),
                "{backend:?}: {names:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_running_subscription_ends_with_its_socket_at_the_token_expiry() {
    let app = TestApp::with_auth(backends()[0], auth(Duration::ZERO), None).await;
    let bearer = format!("Bearer {}", token(2));
    let mut socket = ws_connect(app.addr, json!({ "Authorization": bearer })).await;
    // A run another replica holds: the subscription polls it until it finishes, which it
    // never does here.
    let tenant = crate::imports::tenants(&app.store, 1).await[0];
    let run = crate::imports::start(&app.store, tenant).await;
    subscribe(
        &mut socket,
        "s",
        "subscription($r: ID!) { importProgress(runId: $r) { status } }",
        json!({ "r": run.id.to_string() }),
    )
    .await;
    let first = read_json(&mut socket).await;
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(
        first["payload"]["data"]["importProgress"]["status"],
        "RUNNING"
    );
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, CloseCode::from(4403), "{reason}");
    assert!(reason.contains("token expired"), "{reason}");
}
