//! Distributed tracing: the real binary with `TENANTGRAPH_OTLP_ENDPOINT` pointed at an OTLP/HTTP
//! receiver on loopback (protobuf bodies decoded with opentelemetry-proto's types), on each
//! store. An import through the CLI exports its upstream calls; a query carrying the caller's
//! `traceparent` exports its request, GraphQL operation, DataLoader batches and SQL statements
//! in the caller's trace; a subscription over a WebSocket opened with the caller's
//! `traceparent` exports its span under the upgrade request, with a span per event holding the
//! event's resolver work. Both processes export what is still queued when they end, so the
//! spans are read once the process has exited: nothing waits on a timer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use serde_json::{Value, json};
use tenantgraph::simulator::{self, SimulatorConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite;

use crate::logs::{CLIENT_BEARER, Served, tenantgraph};
use crate::support::{Backend, backends, client, database, read_json, ws_open_with_headers};

/// The caller's trace and span, as a router would send them.
const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN_ID: &str = "b7ad6b7169203331";
/// The trace of the router that opens the WebSocket.
const SUBSCRIPTION_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The subscription followed over the WebSocket: each report reads the run from the store
/// (`run`, no cache) and its tenant through a DataLoader.
const PROGRESS: &str = "subscription Progress($run: ID!) { importProgress(runId: $run) { \
    phase status run { status tenant { name } } } }";

/// What an OTLP/HTTP receiver on loopback was sent.
#[derive(Default)]
struct Received {
    /// Request lines (`POST /v1/traces HTTP/1.1`).
    requests: Vec<String>,
    /// `service.name` of each batch.
    services: Vec<String>,
    spans: Vec<Span>,
}

/// An OTLP/HTTP receiver: answers every request with 200 and keeps what it decoded.
struct Receiver {
    url: String,
    received: Arc<Mutex<Received>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received: Arc<Mutex<Received>> = Arc::default();
        let keep = received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve_connection(socket, keep.clone()));
            }
        });
        Receiver { url, received }
    }

    /// Every span received so far, and checks that each batch came to `/v1/traces` as the
    /// service `tenantgraph`.
    fn spans(&self) -> Vec<Span> {
        let received = self.received.lock().unwrap();
        assert!(!received.requests.is_empty(), "no export arrived");
        for line in &received.requests {
            assert!(line.starts_with("POST /v1/traces "), "{line}");
        }
        for service in &received.services {
            assert_eq!(service, "tenantgraph");
        }
        received.spans.clone()
    }
}

/// HTTP/1.1 requests with a `Content-Length` body, one after another on a kept-alive
/// connection.
async fn serve_connection(socket: tokio::net::TcpStream, received: Arc<Mutex<Received>>) {
    let mut reader = BufReader::new(socket);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await.unwrap();
        let export = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        {
            let mut received = received.lock().unwrap();
            received.requests.push(request_line.trim_end().to_owned());
            for resource_spans in export.resource_spans {
                let service = resource_spans
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .find(|kv| kv.key == "service.name")
                    .and_then(|kv| kv.value.as_ref()?.value.as_ref())
                    .map(text)
                    .unwrap_or_default();
                received.services.push(service);
                for scope_spans in resource_spans.scope_spans {
                    received.spans.extend(scope_spans.spans);
                }
            }
        }
        reader
            .get_mut()
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
            )
            .await
            .unwrap();
    }
}

fn text(value: &AnyValue) -> String {
    match value {
        AnyValue::StringValue(s) => s.clone(),
        AnyValue::IntValue(i) => i.to_string(),
        AnyValue::BoolValue(b) => b.to_string(),
        AnyValue::DoubleValue(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// A span's attribute as text, if it has it.
fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(text)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `span` is `ancestor` or below it, following parent ids through `spans`.
fn descends_from(span: &Span, ancestor: &Span, spans: &[Span]) -> bool {
    let by_id: HashMap<&[u8], &Span> = spans.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let mut current = span;
    for _ in 0..spans.len() {
        if current.span_id == ancestor.span_id {
            return true;
        }
        match by_id.get(current.parent_span_id.as_slice()) {
            Some(parent) => current = parent,
            None => return false,
        }
    }
    false
}

/// Fails when an attribute value of any span holds one of `secrets`.
fn assert_no_attribute_holds(spans: &[Span], secrets: &[&str]) {
    for span in spans {
        for kv in &span.attributes {
            let value = kv
                .value
                .as_ref()
                .and_then(|v| v.value.as_ref())
                .map(text)
                .unwrap_or_default();
            for secret in secrets {
                assert!(
                    !value.contains(secret),
                    "span {:?} attribute {} holds a secret",
                    span.name,
                    kv.key
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_a_query_and_a_subscription_export_their_spans_in_one_trace_each() {
    for backend in backends() {
        let db = database(backend).await;
        let system = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        };
        exports_spans(&db.url, system).await;
    }
}

/// The scenario on the store at `db`, whose statements name `system` as `db.system`.
async fn exports_spans(db: &str, system: &str) {
    let sim = simulator::start(
        SimulatorConfig {
            tenants: 2,
            users_per_tenant: 12,
            seed: 17,
            ..SimulatorConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let receiver = Receiver::start().await;

    // An import through the CLI: each upstream call is a client span under its tenant's run.
    let output = tokio::task::spawn_blocking({
        let mut command = tenantgraph(&sim, db);
        command.env("TENANTGRAPH_OTLP_ENDPOINT", &receiver.url);
        move || command.arg("import").output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let spans = receiver.spans();
    let upstream: Vec<&Span> = spans
        .iter()
        .filter(|s| attr(s, "url.full").is_some())
        .collect();
    assert!(
        upstream.len() >= 4,
        "token, customers and users calls: {upstream:?}"
    );
    for call in &upstream {
        assert_eq!(call.kind, SpanKind::Client as i32, "{call:?}");
        assert_eq!(attr(call, "server.address").as_deref(), Some("127.0.0.1"));
        assert!(attr(call, "http.request.method").is_some(), "{call:?}");
        assert_eq!(
            attr(call, "http.response.status_code").as_deref(),
            Some("200")
        );
        let url = attr(call, "url.full").unwrap();
        assert!(!url.contains('?'), "the query string is left out: {url}");
        assert!(
            !call.parent_span_id.is_empty()
                && spans.iter().any(|s| s.span_id == call.parent_span_id),
            "an upstream call is a child of the import's spans: {call:?}"
        );
    }
    let config = sim.config();
    assert_no_attribute_holds(
        &spans,
        &[
            config.client_secret.as_str(),
            config.refresh_token.as_str(),
            "Bearer",
        ],
    );
    assert!(
        spans.iter().any(|s| attr(s, "db.system").is_some()),
        "the import's statements are exported"
    );

    // A query from a router that started the trace.
    let served = Served::start({
        let mut command = tenantgraph(&sim, db);
        command.env("TENANTGRAPH_OTLP_ENDPOINT", &receiver.url);
        command
    });
    let tenant = sim.tenant_ids()[0];
    let body: Value = client()
        .post(served.url("/graphql"))
        .header("Authorization", CLIENT_BEARER.as_str())
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01"))
        .header("tracestate", "router=1")
        .json(&json!({
            "query": "query Traced($t: ID!) { tenant(id: $t) { name users(first: 5) { edges { node { displayName licenses { subscription { skuPartNumber } } } } } } }",
            "operationName": "Traced",
            "variables": { "t": tenant },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    let events = follow_an_import(&served, &tenant.to_string()).await;
    served.stop();

    let spans: Vec<Span> = receiver
        .spans()
        .into_iter()
        .filter(|s| hex(&s.trace_id) == TRACE_ID)
        .collect();
    let requests: Vec<&Span> = spans
        .iter()
        .filter(|s| attr(s, "http.route").as_deref() == Some("/graphql"))
        .collect();
    assert_eq!(requests.len(), 1, "one request span in the caller's trace");
    let request = requests[0];
    assert_eq!(hex(&request.parent_span_id), CALLER_SPAN_ID);
    assert_eq!(request.kind, SpanKind::Server as i32);
    assert_eq!(request.name, "POST /graphql");
    assert_eq!(
        attr(request, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(attr(request, "url.path").as_deref(), Some("/graphql"));
    assert_eq!(
        attr(request, "http.response.status_code").as_deref(),
        Some("200")
    );

    let operation = spans
        .iter()
        .find(|s| attr(s, "graphql.operation.name").is_some())
        .expect("a GraphQL operation span");
    assert_eq!(operation.name, "query Traced");
    assert_eq!(
        attr(operation, "graphql.operation.type").as_deref(),
        Some("query")
    );
    assert!(descends_from(operation, request, &spans));

    let batches: Vec<&Span> = spans
        .iter()
        .filter(|s| attr(s, "dataloader.name").is_some())
        .collect();
    assert!(
        batches.iter().any(
            |b| attr(b, "dataloader.name").as_deref() == Some("LicensesOfUser")
                && attr(b, "dataloader.keys").is_some()
        ),
        "{batches:?}"
    );
    for batch in &batches {
        assert!(descends_from(batch, operation, &spans), "{batch:?}");
    }

    let statements: Vec<&Span> = spans
        .iter()
        .filter(|s| attr(s, "db.query.text").is_some())
        .collect();
    assert!(
        !statements.is_empty(),
        "the query's statements are exported"
    );
    for statement in &statements {
        assert_eq!(attr(statement, "db.system").as_deref(), Some(system));
        assert_eq!(statement.kind, SpanKind::Client as i32);
        assert!(descends_from(statement, request, &spans), "{statement:?}");
    }
    assert!(
        statements
            .iter()
            .any(|s| batches.iter().any(|b| descends_from(s, b, &spans))),
        "a batch's statement is its child"
    );
    assert!(
        !statements.iter().any(|s| attr(s, "db.query.text")
            .unwrap()
            .contains(&tenant.to_string())),
        "statements carry placeholders, not the tenant id bound to them"
    );
    assert_no_attribute_holds(&spans, &[CLIENT_BEARER.as_str(), "Bearer"]);

    subscription_spans(&receiver.spans(), events, system);
}

/// Starts an import of `tenant` over HTTP and follows it with the `Progress` subscription over
/// a WebSocket opened with the router's `traceparent`, until the run's last report; closes the
/// socket and returns the number of reports.
async fn follow_an_import(served: &Served, tenant: &str) -> usize {
    let started: Value = client()
        .post(served.url("/graphql"))
        .header("Authorization", CLIENT_BEARER.as_str())
        .json(&json!({
            "query": "mutation Start($t: ID!) { triggerImport(tenantId: $t) { id } }",
            "variables": { "t": tenant },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = started["data"]["triggerImport"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    let traceparent = format!("00-{SUBSCRIPTION_TRACE_ID}-{CALLER_SPAN_ID}-01");
    let mut socket = ws_open_with_headers(&served.addr, &[("traceparent", &traceparent)])
        .await
        .unwrap();
    let init = json!({ "type": "connection_init", "payload": { "Authorization": *CLIENT_BEARER } });
    socket
        .send(tungstenite::Message::text(init.to_string()))
        .await
        .unwrap();
    assert_eq!(read_json(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": PROGRESS, "operationName": "Progress", "variables": { "run": run } } });
    socket
        .send(tungstenite::Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let mut reports = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), read_json(&mut socket))
            .await
            .expect("importProgress ends within a minute");
        match message["type"].as_str() {
            Some("next") => reports.push(message["payload"].clone()),
            Some("complete") => break,
            _ => panic!("unexpected message: {message}"),
        }
    }
    let last = &reports.last().expect("at least one report")["data"]["importProgress"];
    assert_eq!(last["phase"], "FINISHED", "{reports:?}");
    assert_eq!(last["run"]["status"], "SUCCEEDED", "{reports:?}");
    assert!(last["run"]["tenant"]["name"].is_string(), "{reports:?}");
    // The server ends the connection, and with it the upgrade request's span, before it is
    // stopped.
    socket.close(None).await.unwrap();
    while socket.next().await.is_some() {}
    reports.len()
}

/// Checks the spans of the `Progress` subscription, which sent `events` reports, in the
/// router's trace.
fn subscription_spans(spans: &[Span], events: usize, system: &str) {
    let spans: Vec<Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == SUBSCRIPTION_TRACE_ID)
        .cloned()
        .collect();
    let upgrades: Vec<&Span> = spans
        .iter()
        .filter(|s| attr(s, "http.route").as_deref() == Some("/graphql"))
        .collect();
    assert_eq!(upgrades.len(), 1, "one upgrade request: {spans:?}");
    let upgrade = upgrades[0];
    assert_eq!(hex(&upgrade.parent_span_id), CALLER_SPAN_ID);
    assert_eq!(upgrade.name, "GET /graphql");
    assert_eq!(
        attr(upgrade, "http.response.status_code").as_deref(),
        Some("101")
    );

    let subscriptions: Vec<&Span> = spans
        .iter()
        .filter(|s| attr(s, "graphql.operation.name").is_some())
        .collect();
    assert_eq!(
        subscriptions.len(),
        1,
        "one span for the subscription: {subscriptions:?}"
    );
    let subscription = subscriptions[0];
    assert_eq!(subscription.name, "subscription Progress");
    assert_eq!(
        attr(subscription, "graphql.operation.name").as_deref(),
        Some("Progress")
    );
    assert_eq!(
        attr(subscription, "graphql.operation.type").as_deref(),
        Some("subscription")
    );
    assert_eq!(subscription.parent_span_id, upgrade.span_id);
    assert!(
        subscription.end_time_unix_nano >= subscription.start_time_unix_nano,
        "{subscription:?}"
    );

    let reports: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "subscription Progress event")
        .collect();
    assert_eq!(reports.len(), events, "one span per report: {reports:?}");
    let statements: Vec<&Span> = spans
        .iter()
        .filter(|s| attr(s, "db.query.text").is_some())
        .collect();
    for report in &reports {
        assert_eq!(report.parent_span_id, subscription.span_id, "{report:?}");
        assert!(
            statements.iter().any(|s| descends_from(s, report, &spans)
                && attr(s, "db.system").as_deref() == Some(system)),
            "the report's run is read inside its span: {report:?}"
        );
    }
    assert!(
        spans.iter().any(|s| {
            attr(s, "dataloader.name").is_some()
                && reports.iter().any(|r| descends_from(s, r, &spans))
        }),
        "a report's tenant is loaded by a batch inside its span"
    );
    for statement in &statements {
        assert!(
            descends_from(statement, subscription, &spans),
            "{statement:?}"
        );
    }
}
