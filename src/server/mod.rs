//! Composition root: the actix application with its routes, bound and started.

pub mod alert_retention;
pub mod audit_retention;
pub mod cors;
pub mod graphql_endpoint;
pub mod history_retention;
pub mod scheduled_allocations;
pub mod websocket;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage, HttpServer, guard, web};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder, TracingLogger};

use crate::auth::Authenticator;
use crate::config::alerts::AlertSettings;
use crate::config::api::ApiSettings;
use crate::config::auth::{AuthMode, AuthSettings};
use crate::graphql;
use crate::http::forwarded::{self, TrustedProxies};
use crate::http::{
    bulk_upload, chargeback_export, export, graphiql, health, metrics as metrics_route,
    optimization_export,
};
use crate::importer::Importer;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::store::Store;
use crate::telemetry;
use graphql_endpoint::GraphqlState;

/// What the server needs besides its settings.
pub struct ServerParts {
    /// The store, opened and migrated.
    pub store: Store,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// Serve GraphiQL at `/` and its files under `/graphiql/`.
    pub graphiql: bool,
    /// The importer behind `triggerImport` and `importProgress`; `None` when imports are not
    /// configured.
    pub importer: Option<Arc<Importer>>,
    /// Operation limits, CORS origins and body size of the API.
    pub api: ApiSettings,
    /// How requests are authenticated.
    pub auth: AuthSettings,
    /// Where `/metrics` is served, apart from the API; `None`: nowhere.
    pub metrics_bind: Option<SocketAddr>,
    /// How long audit log entries are kept; `None` keeps them forever (no pruning task).
    pub audit_retention: Option<std::time::Duration>,
    /// Days history intervals are kept after their last day; `None` keeps them forever (no
    /// pruning task).
    pub history_retention_days: Option<u32>,
    /// Webhook endpoints, retries and what raises an alert; `None` runs no dispatcher and no
    /// sweep (alerts are still raised and wait in the store).
    pub alerts: Option<AlertSettings>,
}

/// A server bound to its address and running on the current actix system.
pub struct RunningServer {
    /// The address it listens on (the real port when asked for port 0).
    pub addr: SocketAddr,
    /// The server; await it to run until stopped through its handle.
    pub server: Server,
    /// The address of the metrics listener (the real port when asked for port 0), if any.
    pub metrics_addr: Option<SocketAddr>,
    /// Stops the metrics listener, which runs on its own task; stop it with the server.
    pub metrics_handle: Option<ServerHandle>,
}

/// Binds `bind` and starts serving, with the rate limiter swept by a task of the current tokio
/// runtime, the audit log, the history and the alerts pruned past their retention by others,
/// and `/metrics` served on its own listener (`metrics_bind`) by a third. The same function
/// serves `tenantgraph serve` and the tests. Authentication mode `none` on an address other
/// than loopback is refused.
pub fn start(bind: SocketAddr, parts: ServerParts) -> std::io::Result<RunningServer> {
    if matches!(parts.auth.mode, AuthMode::None) && !bind.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "authentication mode none is only allowed on a loopback address, not {bind}; \
                 set TENANTGRAPH_AUTH_MODE=jwks or hs256"
            ),
        ));
    }
    let listener = TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let (metrics_addr, metrics_handle) = match parts.metrics_bind {
        Some(metrics_bind) => {
            let (metrics_addr, metrics_server) =
                metrics_listener(metrics_bind, parts.metrics.clone(), parts.store.clone())?;
            let handle = metrics_server.handle();
            tokio::spawn(metrics_server);
            (Some(metrics_addr), Some(handle))
        }
        None => (None, None),
    };
    if let Some(importer) = &parts.importer {
        importer.record_into(parts.metrics.clone());
    }
    if let Some(manifest) = &parts.api.trusted_documents {
        parts
            .metrics
            .trust_operation_names(graphql::persisted::operation_names(manifest));
    }
    let proxies = web::Data::new(TrustedProxies::new(parts.api.trusted_proxies.clone()));
    let auth = Arc::new(Authenticator::new(parts.auth));
    let limits = Arc::new(RateLimiter::new(parts.api.rate_limits));
    RateLimiter::sweep_in_background(&limits);
    if let Some(retention) = parts.audit_retention {
        audit_retention::prune_in_background(parts.store.clone(), retention);
    }
    if let Some(days) = parts.history_retention_days {
        history_retention::prune_in_background(parts.store.clone(), days);
    }
    if let Some(days) = parts.alerts.as_ref().and_then(|a| a.retention_days) {
        alert_retention::prune_in_background(parts.store.clone(), days);
    }
    scheduled_allocations::promote_in_background(parts.store.clone());
    let webhook_keys = webhook_keyring(&parts.api)?;
    let allow_private = parts.alerts.as_ref().is_some_and(|a| a.allow_private);
    if let Some(settings) = parts.alerts {
        crate::webhooks::Alerting::new(
            parts.store.clone(),
            settings,
            webhook_keys.clone(),
            parts.metrics.clone(),
            parts.api.inactive_days,
        )
        .start(
            parts
                .importer
                .as_ref()
                .map(|importer| importer.progress().subscribe_all()),
        );
    }
    let graphql_state = web::Data::new(GraphqlState {
        executor: graphql::ApiExecutor::new(
            graphql::build_for(&parts.api),
            parts.store.clone(),
            parts.metrics.clone(),
            parts.importer,
            &parts.api,
        )
        .map_err(std::io::Error::other)?
        .with_webhook_keys(webhook_keys, allow_private),
        metrics: parts.metrics.clone(),
        max_body_bytes: parts.api.max_body_bytes,
        max_batch: parts.api.max_batch,
        auth: auth.clone(),
        limits: limits.clone(),
        ws_init_timeout: parts.api.ws_init_timeout,
    });
    let auth = web::Data::from(auth);
    let limits = web::Data::from(limits);
    let cors = web::Data::new(cors::CorsPolicy::new(parts.api.cors_origins.clone()));
    let max_body_bytes = parts.api.max_body_bytes;
    let upload_limit = web::Data::new(bulk_upload::UploadLimit(parts.api.max_upload_bytes));
    let inactive_days = web::Data::new(optimization_export::InactiveDays(parts.api.inactive_days));
    let store = web::Data::new(parts.store);
    let metrics = web::Data::new(parts.metrics);
    let graphiql_enabled = parts.graphiql;
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .wrap(actix_web::middleware::from_fn(cors::cors))
            .wrap(actix_web::middleware::from_fn(request_id_header))
            .wrap(TracingLogger::<RequestSpan>::new())
            .app_data(web::PayloadConfig::new(max_body_bytes))
            .app_data(cors.clone())
            .app_data(graphql_state.clone())
            .app_data(store.clone())
            .app_data(metrics.clone())
            .app_data(auth.clone())
            .app_data(limits.clone())
            .app_data(proxies.clone())
            .app_data(upload_limit.clone())
            .app_data(inactive_days.clone())
            .route("/graphql", web::post().to(graphql_endpoint::post))
            .route(
                "/graphql",
                web::get()
                    .guard(guard::Header("upgrade", "websocket"))
                    .to(websocket::websocket),
            )
            .route("/graphql", web::get().to(graphql_endpoint::get))
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz))
            .route(
                "/export/tenants/{tenant_id}/cost-report.csv",
                web::get().to(export::cost_report_csv),
            )
            .route(
                "/export/tenants/{tenant_id}/users.csv",
                web::get().to(export::users_csv),
            )
            .route(
                "/export/tenants/{tenant_id}/chargeback.csv",
                web::get().to(chargeback_export::chargeback_csv),
            )
            .route(
                "/export/tenants/{tenant_id}/focus.csv",
                web::get().to(chargeback_export::focus_csv),
            )
            .route(
                "/export/tenants/{tenant_id}/optimization.csv",
                web::get().to(optimization_export::optimization_csv),
            )
            .route(
                "/import/tenants/{tenant_id}/{file}",
                web::post().to(bulk_upload::upload_csv),
            );
        if graphiql_enabled {
            app = app
                .route("/", web::get().to(graphiql::graphiql))
                .route(graphiql::ASSET_ROUTE, web::get().to(graphiql::asset));
        }
        app
    })
    .listen(listener)?
    // Signals are handled by the caller (`cli`), which installs its handlers before it reports
    // that the server is up; actix's own handlers would only arm once the server is polled.
    .disable_signals()
    .shutdown_timeout(10)
    .run();
    Ok(RunningServer {
        addr,
        server,
        metrics_addr,
        metrics_handle,
    })
}

/// `/metrics` alone on `bind`: kept off the API's listener, since operation names and load
/// are nobody's business but the operator's, and Prometheus expects a port of its own.
fn metrics_listener(
    bind: SocketAddr,
    metrics: Arc<Metrics>,
    store: Store,
) -> std::io::Result<(SocketAddr, Server)> {
    let listener = TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let metrics = web::Data::new(metrics);
    let store = web::Data::new(store);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .app_data(store.clone())
            .route("/metrics", web::get().to(metrics_route::metrics))
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .run();
    Ok((addr, server))
}

/// The span around each request, whose fields every log line of the request carries, and the
/// server span exported over OTLP, in the caller's trace when the request carries W3C
/// `traceparent`/`tracestate`. Field names follow OpenTelemetry's HTTP semantic conventions.
/// Like tracing-actix-web's default, but with the path alone as `url.path`: the query string
/// of `GET /graphql` holds the operation and its variables (names and mail addresses searched
/// for), which must not reach the logs or the spans; headers (`Authorization`) are never
/// recorded.
struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let span = tracing::info_span!(
            "HTTP request",
            otel.name = tracing::field::Empty,
            otel.kind = tracing::field::Empty,
            http.request.method = %request.method(),
            http.route = %route,
            url.path = %request.path(),
            // Forwarding headers count only from a trusted proxy, as for rate limits.
            client.address = %forwarded::client_address(request.request()),
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
        );
        if telemetry::exporting() {
            // Only for the exported span: the log lines do without them.
            span.record("otel.name", format!("{} {route}", request.method()));
            span.record("otel.kind", "server");
            let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
            telemetry::continue_callers_trace(&span, header("traceparent"), header("tracestate"));
        }
        span
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(response) => response.response().status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("http.response.status_code", status.as_u16());
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Echoes the request id (the one in every log line of the request) as `x-request-id`.
async fn request_id_header(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut res = next.call(req).await?;
    if let Some(id) = id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// The keyring tenants' webhook secrets are sealed with: the configured secret keys, if any.
fn webhook_keyring(
    api: &ApiSettings,
) -> std::io::Result<Option<Arc<crate::store::secrets::Keyring>>> {
    use secrecy::ExposeSecret;
    let Some(keys) = api.cursor_keys.as_ref() else {
        return Ok(None);
    };
    crate::store::secrets::Keyring::new(
        keys.current.expose_secret(),
        keys.previous.as_ref().map(|k| k.expose_secret()),
    )
    .map(|k| Some(Arc::new(k)))
    .map_err(|e| std::io::Error::other(format!("TENANTGRAPH_SECRET_KEY: {e}")))
}
