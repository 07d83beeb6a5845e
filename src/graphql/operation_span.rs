//! The span of each GraphQL operation, exported over OTLP: `graphql.operation.name` and
//! `graphql.operation.type` as OpenTelemetry's GraphQL semantic conventions name them. One
//! span per operation, none per field: a users page resolves thousands of fields. Registered
//! only while spans are exported. Imports nothing of ours.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};
use tracing::Instrument;

/// Makes one [`OperationSpan`] per operation.
pub struct OperationSpans;

impl ExtensionFactory for OperationSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationSpan {
            operations: Mutex::default(),
        })
    }
}

/// One operation's span, made when the parsed and validated operation starts executing, inside
/// the request's span: the exporter names a span when it starts, so the operation's name and
/// type must be known by then.
struct OperationSpan {
    /// The operations the parsed document holds: name (`None` for an anonymous one) and type.
    operations: Mutex<Vec<(Option<String>, OperationType)>>,
}

/// The type as the semantic conventions write it.
fn type_name(operation: OperationType) -> &'static str {
    match operation {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationSpan {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let operations = match &document.operations {
            DocumentOperations::Single(op) => vec![(None, op.node.ty)],
            DocumentOperations::Multiple(ops) => ops
                .iter()
                .map(|(name, op)| (Some(name.to_string()), op.node.ty))
                .collect(),
        };
        if let Ok(mut noted) = self.operations.lock() {
            *noted = operations;
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let chosen = self
            .operations
            .lock()
            .ok()
            .and_then(|operations| match operation_name {
                Some(wanted) => operations
                    .iter()
                    .find(|(name, _)| name.as_deref() == Some(wanted))
                    .cloned(),
                None if operations.len() == 1 => operations.first().cloned(),
                None => None,
            });
        let (name, ty) =
            chosen.unwrap_or((operation_name.map(str::to_owned), OperationType::Query));
        let ty = type_name(ty);
        let span = tracing::info_span!(
            "GraphQL operation",
            otel.name = %name.as_deref().map_or_else(|| ty.to_owned(), |name| format!("{ty} {name}")),
            graphql.operation.name = name.as_deref(),
            graphql.operation.type = ty,
        );
        next.run(ctx, operation_name).instrument(span).await
    }
}
