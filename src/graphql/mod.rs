//! The GraphQL API: schema, types, DataLoaders, federation entities and error codes.
//! Uses `domain` and `store`; knows nothing of actix.

pub mod entities;
pub mod error;
pub mod heavy;
pub mod ids;
pub mod limits;
pub mod loaders;
#[cfg(test)]
mod module_graph;
pub mod mutation;
pub mod operation_span;
pub mod pagination;
pub mod persisted;
pub mod query;
pub mod read_cache;
pub mod response_order;
pub mod schema;
pub mod subscription;
pub mod types;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use std::time::Duration;

use async_graphql::futures_util::stream::BoxStream;
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response, ServerError, Value};
use futures_util::{FutureExt, StreamExt};

pub use limits::OperationGuard;
pub use loaders::Loaders;
pub use mutation::ImporterHandle;
pub use schema::{AppSchema, build, build_for, federation_sdl};

use crate::config::api::ApiSettings;
use crate::domain::Principal;
use crate::metrics::Metrics;
use crate::store::Store;
use error::ApiError;

/// The schema with what every operation needs: the limits checked before it runs, fresh
/// DataLoaders per operation and the importer, on HTTP and on WebSocket alike, and panics
/// turned into errors.
#[derive(Clone)]
pub struct ApiExecutor {
    schema: AppSchema,
    store: Store,
    metrics: Arc<Metrics>,
    importer: ImporterHandle,
    guard: Arc<OperationGuard>,
    heavy: Arc<heavy::HeavyWork>,
    persisted: Arc<persisted::PersistedDocuments>,
    cursors: Arc<pagination::Cursors>,
    /// Reads kept across query operations; `None` when the read cache is off.
    shared_reads: Option<Arc<loaders::SharedReads>>,
    timeout: Duration,
    inactive_days: types::optimization::InactiveDays,
    webhook_keys: mutation::WebhookKeys,
}

/// An operation refused because of how it arrived rather than what it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportRefusal {
    /// A mutation sent with GET (mutations only run over POST).
    MutationOverGet,
}

impl ApiExecutor {
    /// Wraps `schema` (built with [`build_for`] from the same `api`); operations are checked
    /// against `api`'s limits, read `store`, record into `metrics` and start imports with
    /// `importer` (`None` when imports are not configured). Fails only when the cursor key can't
    /// be made (no random bytes).
    pub fn new(
        schema: AppSchema,
        store: Store,
        metrics: Arc<Metrics>,
        importer: ImporterHandle,
        api: &ApiSettings,
    ) -> Result<Self, pagination::CursorKeyError> {
        let shape = limits::SchemaShape::from_sdl(&schema.sdl());
        let cursors = pagination::Cursors::new(api.cursor_keys.as_ref())?;
        if cursors.is_ephemeral() {
            tracing::info!(
                "cursors are sealed with a key drawn at start: they end with this process and \
                 other replicas refuse them; set TENANTGRAPH_SECRET_KEY to keep them"
            );
        }
        Ok(ApiExecutor {
            schema,
            store,
            metrics,
            importer,
            guard: Arc::new(OperationGuard::new(api.limits.clone(), shape)),
            heavy: Arc::new(heavy::HeavyWork::new(api.limits.max_concurrent_previews)),
            persisted: Arc::new(persisted::PersistedDocuments::new(
                api.apq_cache_size,
                api.trusted_documents.as_ref(),
            )),
            cursors: Arc::new(cursors),
            shared_reads: (api.read_cache_bytes > 0)
                .then(|| Arc::new(loaders::SharedReads::new(api.read_cache_bytes))),
            timeout: api.timeout,
            inactive_days: types::optimization::InactiveDays(api.inactive_days),
            webhook_keys: mutation::WebhookKeys::default(),
        })
    }

    /// Seals tenants' webhook secrets with `keys` (`setTenantWebhook` refuses without), and
    /// lets their endpoints be on non-public addresses when `allow_private`.
    pub fn with_webhook_keys(
        mut self,
        keys: Option<Arc<crate::store::secrets::Keyring>>,
        allow_private: bool,
    ) -> Self {
        self.webhook_keys = mutation::WebhookKeys {
            keys,
            allow_private,
        };
        self
    }

    /// The request with what its resolvers read: the principal, loaders confined to the
    /// principal's tenant scope (with `shared_reads`, a query's, sharing reads across requests),
    /// the importer, the limits and the runner of heavy work.
    fn with_principal(
        &self,
        request: Request,
        principal: Principal,
        shared_reads: Option<Arc<loaders::SharedReads>>,
    ) -> Request {
        request
            .data(Loaders::new(
                self.store.clone(),
                principal.scope.clone(),
                self.metrics.clone(),
                shared_reads,
            ))
            .data(principal)
            .data(self.importer.clone())
            .data(self.guard.clone())
            .data(self.heavy.clone())
            .data(self.cursors.clone())
            .data(self.inactive_days)
            .data(self.webhook_keys.clone())
    }

    /// Finds a persisted document named by hash and checks the request against the limits.
    fn admit(&self, request: &mut Request) -> Result<Option<OperationType>, ServerError> {
        self.persisted.resolve(request)?;
        self.guard.check(request)
    }

    /// Runs one operation received over HTTP for `principal`: its persisted document found, checked against the
    /// limits, cancelled after the timeout, its errors capped. With `read_only` (GET) a mutation
    /// is refused.
    pub async fn execute_http(
        &self,
        mut request: Request,
        principal: Principal,
        read_only: bool,
    ) -> Result<Response, TransportRefusal> {
        let operation = match self.admit(&mut request) {
            Ok(operation) => operation,
            Err(error) => return Ok(Response::from_errors(vec![error])),
        };
        if read_only && operation == Some(OperationType::Mutation) {
            return Err(TransportRefusal::MutationOverGet);
        }
        Ok(self.run(request, principal, operation).await)
    }

    /// Runs one admitted query or mutation for `principal`, cancelled after the timeout, with
    /// panics turned into errors and the errors capped.
    async fn run(
        &self,
        mut request: Request,
        principal: Principal,
        operation: Option<OperationType>,
    ) -> Response {
        let order = response_order::SelectionOrder::of(&mut request);
        // Dropping the future on timeout cancels the resolvers and the statements they await.
        let shared_reads = match operation {
            Some(OperationType::Query) => self.shared_reads.clone(),
            _ => None,
        };
        let request = self.with_principal(request, principal, shared_reads);
        let mut response = match tokio::time::timeout(
            self.timeout,
            execute_catching_panics(&self.schema, request),
        )
        .await
        {
            Ok(response) => response,
            Err(_) => {
                let ms = self.timeout.as_millis();
                tracing::warn!(
                    timeout_ms = ms,
                    "GraphQL operation cancelled at its timeout"
                );
                Response::from_errors(vec![limits::limit_exceeded(
                    "run time in milliseconds",
                    format!("over {ms}"),
                    u64::try_from(ms).unwrap_or(u64::MAX),
                )])
            }
        };
        self.guard.cap_errors(&mut response);
        if let Some(order) = order {
            order.apply(self.guard.shape(), &mut response.data);
        }
        response
    }
}

impl Executor for ApiExecutor {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        let executor = self.clone();
        async move {
            let Some(principal) = principal_in(&request.data).cloned() else {
                return unauthenticated("missing bearer token");
            };
            // Refusals are only for read-only transports, which this is not.
            executor
                .execute_http(request, principal, false)
                .await
                .unwrap_or_default()
        }
    }

    /// Every operation of a WebSocket connection arrives here. Queries and mutations run as
    /// over HTTP, with the same timeout; subscriptions stream until the client stops them.
    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let operation = match self.admit(&mut request) {
            Ok(operation) => operation,
            Err(error) => {
                return Box::pin(futures_util::stream::once(async move {
                    Response::from_errors(vec![error])
                }));
            }
        };
        // WebSocket operations run as the principal of the connection's `connection_init`.
        let principal = session_data
            .as_deref()
            .and_then(principal_in)
            .or_else(|| principal_in(&request.data))
            .cloned();
        let Some(principal) = principal else {
            return Box::pin(futures_util::stream::once(async {
                unauthenticated("missing bearer token")
            }));
        };
        if operation != Some(OperationType::Subscription) {
            let executor = self.clone();
            return Box::pin(futures_util::stream::once(async move {
                executor.run(request, principal, operation).await
            }));
        }
        let guard = self.guard.clone();
        let order = response_order::SelectionOrder::of(&mut request);
        let span = operation_span::subscription_span(&mut request);
        let request = self.with_principal(request, principal, None);
        let stream = Executor::execute_stream(&self.schema, request, session_data);
        let stream = AssertUnwindSafe(stream)
            .catch_unwind()
            .map(|item| item.unwrap_or_else(panic_response))
            .map(move |mut response| {
                guard.cap_errors(&mut response);
                if let Some(order) = &order {
                    order.apply(guard.shape(), &mut response.data);
                }
                response
            });
        operation_span::within(stream, span)
    }
}

/// The principal stored in `data` (a request's, or a WebSocket connection's), if any.
pub fn principal_in(data: &Data) -> Option<&Principal> {
    data.get(&std::any::TypeId::of::<Principal>())
        .and_then(|value| value.downcast_ref::<Principal>())
}

/// The answer refusing an operation that arrived without a valid principal; `reason` names the
/// failed check.
pub fn unauthenticated(reason: &str) -> Response {
    Response::from_errors(vec![ApiError::unauthenticated(reason).into_server_error()])
}

/// Adds the request id to the response's internal errors, so support can find the log lines,
/// and gives errors async-graphql raised without a code (a document that does not parse or
/// validate, a variable of the wrong type, a scalar such as `Decimal` or `Date` that does not
/// parse) the code `BAD_USER_INPUT`: they are all the request's fault.
pub fn tag_internal_errors(response: &mut Response, request_id: &str) {
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", error::BAD_USER_INPUT);
        }
        let is_internal = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .is_some_and(|code| *code == Value::from(error::INTERNAL_SERVER_ERROR));
        if is_internal && let Some(ext) = error.extensions.as_mut() {
            ext.set("requestId", request_id);
        }
    }
}

/// Runs one request; a panic inside it becomes an `INTERNAL_SERVER_ERROR` for that request only.
async fn execute_catching_panics<E: Executor>(executor: &E, request: Request) -> Response {
    match AssertUnwindSafe(executor.execute(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => panic_response(panic),
    }
}

/// Logs a caught panic and answers the client with an internal error.
fn panic_response(panic: Box<dyn std::any::Any + Send>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    // Logged once, with the panic's message, where the internal error is made.
    Response::from_errors(vec![
        ApiError::Internal(format!("panic while executing a GraphQL request: {detail}"))
            .into_server_error(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    struct Panicky;

    #[Object]
    impl Panicky {
        async fn boom(&self, fail: Option<bool>) -> i32 {
            if fail.unwrap_or(true) {
                panic!("resolver bug");
            }
            0
        }
        async fn fine(&self) -> i32 {
            1
        }
    }

    #[tokio::test]
    async fn a_panicking_resolver_becomes_an_internal_error_and_the_schema_keeps_serving() {
        let schema = Schema::new(Panicky, EmptyMutation, EmptySubscription);
        let mut response = execute_catching_panics(&schema, Request::new("{ boom }")).await;
        tag_internal_errors(&mut response, "req-1");
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json["errors"][0]["extensions"]["code"],
            "INTERNAL_SERVER_ERROR"
        );
        assert_eq!(json["errors"][0]["extensions"]["requestId"], "req-1");
        let again = execute_catching_panics(&schema, Request::new("{ fine }")).await;
        assert!(again.errors.is_empty());
    }
}
