//! The span of each GraphQL operation, exported over OTLP: `graphql.operation.name` and
//! `graphql.operation.type` as OpenTelemetry's GraphQL semantic conventions name them. One
//! span per query or mutation, none per field: a users page resolves thousands of fields. A
//! subscription's span lasts as long as its stream, with a child span per event that holds
//! the event's resolver work. Made only while spans are exported. Imports nothing of ours but
//! `telemetry`.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerResult, Variables};
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use tracing::{Instrument, Span};

/// Makes one [`OperationSpan`] per operation.
pub struct OperationSpans;

impl ExtensionFactory for OperationSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationSpan {
            operations: Mutex::default(),
        })
    }
}

/// An operation of a document: its name (`None` for an anonymous one) and type.
type Operation = (Option<String>, OperationType);

/// One operation's span, made when the parsed and validated operation starts executing, inside
/// the request's span: the exporter names a span when it starts, so the operation's name and
/// type must be known by then. A subscription executes once per event: each is an event span,
/// inside the subscription's span (see [`subscription_span`]).
struct OperationSpan {
    /// The operations the parsed document holds.
    operations: Mutex<Vec<Operation>>,
}

/// The type as the semantic conventions write it.
fn type_name(operation: OperationType) -> &'static str {
    match operation {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// The operations `document` holds.
fn operations_of(document: &ExecutableDocument) -> Vec<Operation> {
    match &document.operations {
        DocumentOperations::Single(op) => vec![(None, op.node.ty)],
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .map(|(name, op)| (Some(name.to_string()), op.node.ty))
            .collect(),
    }
}

/// The operation of `operations` that runs for the request's `operation_name`, as GraphQL
/// chooses it; `None` when none does (the schema then answers why).
fn chosen(operations: &[Operation], operation_name: Option<&str>) -> Option<Operation> {
    match operation_name {
        Some(wanted) => operations
            .iter()
            .find(|(name, _)| name.as_deref() == Some(wanted))
            .cloned(),
        None if operations.len() == 1 => operations.first().cloned(),
        None => None,
    }
}

/// The span name the semantic conventions give an operation: `{type} {name}`, or the type
/// alone for an anonymous operation.
fn span_name(name: Option<&str>, ty: &str) -> String {
    name.map_or_else(|| ty.to_owned(), |name| format!("{ty} {name}"))
}

/// The span of a subscription admitted over the WebSocket, made in the current span (the
/// connection's upgrade request): named and attributed as an operation span, it is to be
/// held by the subscription's stream (see [`within`]) and ends when the stream ends or the
/// client stops it. A disabled span unless spans are exported.
pub fn subscription_span(request: &mut Request) -> Span {
    if !crate::telemetry::exporting() {
        return Span::none();
    }
    let operation_name = request.operation_name.clone();
    let name = request
        .parsed_query()
        .ok()
        .and_then(|document| chosen(&operations_of(document), operation_name.as_deref()))
        .and_then(|(name, _)| name)
        .or(operation_name);
    let ty = type_name(OperationType::Subscription);
    tracing::info_span!(
        "GraphQL operation",
        otel.name = %span_name(name.as_deref(), ty),
        graphql.operation.name = name.as_deref(),
        graphql.operation.type = ty,
    )
}

/// `stream` with every poll inside `span`, which lives as long as the stream: what the stream
/// does between its items (reading the store, waiting for the next one) and each item's
/// resolver work become the span's children.
pub fn within<S>(stream: S, span: Span) -> BoxStream<'static, S::Item>
where
    S: Stream + Send + 'static,
{
    if span.is_disabled() {
        return stream.boxed();
    }
    stream::unfold((stream.boxed(), span), |(mut stream, span)| async move {
        let item = stream.next().instrument(span.clone()).await?;
        Some((item, (stream, span)))
    })
    .boxed()
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
        if let Ok(mut noted) = self.operations.lock() {
            *noted = operations_of(&document);
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let operation = self
            .operations
            .lock()
            .ok()
            .and_then(|operations| chosen(&operations, operation_name));
        let (name, ty) =
            operation.unwrap_or((operation_name.map(str::to_owned), OperationType::Query));
        let span = if ty == OperationType::Subscription {
            // One event of a subscription, inside the subscription's span.
            tracing::info_span!(
                "GraphQL subscription event",
                otel.name = %format!("{} event", span_name(name.as_deref(), type_name(ty))),
            )
        } else {
            let ty = type_name(ty);
            tracing::info_span!(
                "GraphQL operation",
                otel.name = %span_name(name.as_deref(), ty),
                graphql.operation.name = name.as_deref(),
                graphql.operation.type = ty,
            )
        };
        next.run(ctx, operation_name).instrument(span).await
    }
}
