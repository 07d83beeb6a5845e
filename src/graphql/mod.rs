//! The GraphQL API: schema, types, DataLoaders, federation entities and error codes.
//! Uses `domain` and `store`; knows nothing of actix.

pub mod entities;
pub mod error;
pub mod loaders;
pub mod pagination;
pub mod query;
pub mod schema;
pub mod types;

use std::panic::AssertUnwindSafe;

use async_graphql::{Executor, Request, Response, ServerError, Value};
use futures_util::FutureExt;

pub use loaders::Loaders;
pub use schema::{AppSchema, build, federation_sdl};

/// Runs one request. A panic inside the request becomes an `INTERNAL_SERVER_ERROR` for that
/// request only; internal errors get the request id so support can find the log lines.
pub async fn execute<E: Executor>(executor: &E, request: Request, request_id: &str) -> Response {
    let mut response = match AssertUnwindSafe(executor.execute(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %detail, "panic while executing a GraphQL request");
            let mut error = ServerError::new("internal error", None);
            error.extensions = Some({
                let mut ext = async_graphql::ErrorExtensionValues::default();
                ext.set("code", error::INTERNAL_SERVER_ERROR);
                ext
            });
            Response::from_errors(vec![error])
        }
    };
    for error in &mut response.errors {
        let is_internal = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .is_some_and(|code| *code == Value::from(error::INTERNAL_SERVER_ERROR));
        if is_internal && let Some(ext) = error.extensions.as_mut() {
            ext.set("requestId", request_id);
        }
    }
    response
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
        let response = execute(&schema, Request::new("{ boom }"), "req-1").await;
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json["errors"][0]["extensions"]["code"],
            "INTERNAL_SERVER_ERROR"
        );
        assert_eq!(json["errors"][0]["extensions"]["requestId"], "req-1");
        let again = execute(&schema, Request::new("{ fine }"), "req-2").await;
        assert!(again.errors.is_empty());
    }
}
