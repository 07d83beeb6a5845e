//! The GraphQL API: schema, types, DataLoaders, federation entities and error codes.
//! Uses `domain` and `store`; knows nothing of actix.

pub mod entities;
pub mod error;
pub mod loaders;
pub mod mutation;
pub mod pagination;
pub mod query;
pub mod schema;
pub mod subscription;
pub mod types;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_graphql::futures_util::stream::BoxStream;
use async_graphql::{Data, Executor, Request, Response, ServerError, Value};
use futures_util::{FutureExt, StreamExt};

pub use loaders::Loaders;
pub use mutation::ImporterHandle;
pub use schema::{AppSchema, build, federation_sdl};

use crate::domain::TenantScope;
use crate::metrics::Metrics;
use crate::store::Store;

/// The schema with what every operation needs: fresh DataLoaders per operation and the
/// importer, on HTTP and on WebSocket alike, and panics turned into errors.
#[derive(Clone)]
pub struct ApiExecutor {
    schema: AppSchema,
    store: Store,
    metrics: Arc<Metrics>,
    importer: ImporterHandle,
}

impl ApiExecutor {
    /// Wraps `schema`; operations read `store`, record into `metrics` and start imports with
    /// `importer` (`None` when imports are not configured).
    pub fn new(
        schema: AppSchema,
        store: Store,
        metrics: Arc<Metrics>,
        importer: ImporterHandle,
    ) -> Self {
        ApiExecutor {
            schema,
            store,
            metrics,
            importer,
        }
    }

    fn with_loaders(&self, request: Request) -> Request {
        request
            .data(Loaders::new(
                self.store.clone(),
                TenantScope::All,
                self.metrics.clone(),
            ))
            .data(self.importer.clone())
    }
}

impl Executor for ApiExecutor {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        let request = self.with_loaders(request);
        let schema = self.schema.clone();
        async move { execute_catching_panics(&schema, request).await }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let stream =
            Executor::execute_stream(&self.schema, self.with_loaders(request), session_data);
        Box::pin(
            AssertUnwindSafe(stream)
                .catch_unwind()
                .map(|item| item.unwrap_or_else(panic_response)),
        )
    }
}

/// Adds the request id to the response's internal errors, so support can find the log lines,
/// and gives errors async-graphql raised without a code (a document that does not parse or
/// validate, a variable of the wrong type, a scalar such as `Decimal` or `Date` that does not
/// parse) the code `BAD_USER_INPUT`: they are all the request's fault.
pub fn tag_internal_errors(response: &mut Response, request_id: &str) {
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "BAD_USER_INPUT");
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
    tracing::error!(panic = %detail, "panic while executing a GraphQL request");
    let mut error = ServerError::new("internal error", None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", error::INTERNAL_SERVER_ERROR);
    error.extensions = Some(ext);
    Response::from_errors(vec![error])
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
