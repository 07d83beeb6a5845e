//! Builds the schema once at start and exports its federation SDL.

use async_graphql::{MergedObject, MergedSubscription, SDLExportOptions, Schema, SchemaBuilder};

use super::entities::EntityQuery;
use super::mutation::{
    AllocationMutation, AllocationRuleMutation, BudgetMutation, BulkMutation, ChargebackMutation,
    CostGroupMutation, MutationRoot, WebhookMutation,
};
use super::operation_span::OperationSpans;
use super::query::{ImportQuery, RootQuery};
use super::subscription::SubscriptionRoot;
use super::types::audit::AuditQuery;
use super::types::preview::PreviewQuery;
use crate::config::api::ApiSettings;

/// The query root: reading fields plus federation entity lookups.
#[derive(MergedObject, Default)]
pub struct Query(
    RootQuery,
    ImportQuery,
    AuditQuery,
    PreviewQuery,
    EntityQuery,
);

/// The mutation root; each area adds its object here.
#[derive(MergedObject, Default)]
pub struct Mutation(
    MutationRoot,
    CostGroupMutation,
    AllocationRuleMutation,
    AllocationMutation,
    BulkMutation,
    ChargebackMutation,
    BudgetMutation,
    WebhookMutation,
);

/// The subscription root; each area adds its object here.
#[derive(MergedSubscription, Default)]
pub struct Subscription(SubscriptionRoot);

/// tenantgraph's GraphQL schema.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema with federation enabled and introspection on, as `tenantgraph schema`
/// prints it. Per-request data (loaders, the importer) is added by
/// [`ApiExecutor`](super::ApiExecutor).
pub fn build() -> AppSchema {
    builder().finish()
}

/// Builds the schema the server runs: introspection and field suggestions as `api` says, and a
/// span per operation while spans are exported. Depth, complexity and the other limits are
/// checked before execution by [`OperationGuard`](super::limits::OperationGuard), which gives
/// them an error code.
pub fn build_for(api: &ApiSettings) -> AppSchema {
    let mut builder = builder();
    // An extension costs a hook per resolved field, so none is registered when nothing is
    // exported.
    if crate::telemetry::exporting() {
        builder = builder.extension(OperationSpans);
    }
    if !api.limits.introspection {
        builder = builder.disable_introspection();
    }
    if !api.suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .enable_federation()
    // A backstop only: the guard's depth limit refuses deeper documents first.
    .limit_recursive_depth(64)
}

/// The federation SDL, as `tenantgraph schema` prints it and `schema.graphql` holds it.
pub fn federation_sdl(schema: &AppSchema) -> String {
    schema.sdl_with_options(SDLExportOptions::new().federation())
}
