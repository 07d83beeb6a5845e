//! Composition root: the actix application with its routes, bound and started.

pub mod audit_retention;
pub mod cors;
pub mod graphql_endpoint;
pub mod websocket;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage, HttpServer, guard, web};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder, TracingLogger};

use crate::auth::Authenticator;
use crate::config::{ApiSettings, AuthMode, AuthSettings};
use crate::graphql;
use crate::http::{export, graphiql, health, metrics as metrics_route};
use crate::importer::Importer;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::store::Store;
use graphql_endpoint::GraphqlState;

/// What the server needs besides its settings.
pub struct ServerParts {
    /// The store, opened and migrated.
    pub store: Store,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// Serve GraphiQL at `/`.
    pub graphiql: bool,
    /// The importer behind `triggerImport` and `importProgress`; `None` when imports are not
    /// configured.
    pub importer: Option<Arc<Importer>>,
    /// Operation limits, CORS origins and body size of the API.
    pub api: ApiSettings,
    /// How requests are authenticated.
    pub auth: AuthSettings,
}

/// A server bound to its address and running on the current actix system.
pub struct RunningServer {
    /// The address it listens on (the real port when asked for port 0).
    pub addr: SocketAddr,
    /// The server; await it to run until stopped through its handle.
    pub server: Server,
}

/// Binds `bind` and starts serving, with the rate limiter swept by a task of the current tokio
/// runtime. The same function serves `tenantgraph serve` and the tests. Authentication mode
/// `none` on an address other than loopback is refused.
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
    let auth = Arc::new(Authenticator::new(parts.auth));
    let limits = Arc::new(RateLimiter::new(parts.api.rate_limits));
    RateLimiter::sweep_in_background(&limits);
    let graphql_state = web::Data::new(GraphqlState {
        executor: graphql::ApiExecutor::new(
            graphql::build_for(&parts.api),
            parts.store.clone(),
            parts.metrics.clone(),
            parts.importer,
            &parts.api,
        ),
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
            .route("/metrics", web::get().to(metrics_route::metrics))
            .route(
                "/export/tenants/{tenant_id}/cost-report.csv",
                web::get().to(export::cost_report_csv),
            )
            .route(
                "/export/tenants/{tenant_id}/users.csv",
                web::get().to(export::users_csv),
            );
        if graphiql_enabled {
            app = app.route("/", web::get().to(graphiql::graphiql));
        }
        app
    })
    .listen(listener)?
    // Signals are handled by the caller (`cli`), which installs its handlers before it reports
    // that the server is up; actix's own handlers would only arm once the server is polled.
    .disable_signals()
    .shutdown_timeout(10)
    .run();
    Ok(RunningServer { addr, server })
}

/// The span around each request, whose fields every log line of the request carries: like
/// tracing-actix-web's default, but with the path alone as `http.target`. The query string of
/// `GET /graphql` holds the operation and its variables (names and mail addresses searched
/// for), which must not reach the logs; headers (`Authorization`) are never recorded.
struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            http.client_ip = %request.connection_info().realip_remote_addr().unwrap_or(""),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
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
