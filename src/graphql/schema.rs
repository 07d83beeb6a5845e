//! Builds the schema once at start and exports its federation SDL.

use async_graphql::{MergedObject, MergedSubscription, SDLExportOptions, Schema};

use super::entities::EntityQuery;
use super::mutation::{
    AllocationMutation, AllocationRuleMutation, CostGroupMutation, MutationRoot,
};
use super::query::{ImportQuery, RootQuery};
use super::subscription::SubscriptionRoot;
use super::types::audit::AuditQuery;
use super::types::preview::PreviewQuery;

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
);

/// The subscription root; each area adds its object here.
#[derive(MergedSubscription, Default)]
pub struct Subscription(SubscriptionRoot);

/// tenantgraph's GraphQL schema.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Depth limit of an operation (fields nested inside fields).
pub const MAX_DEPTH: usize = 12;

/// Builds the schema with federation enabled. Per-request data (loaders, the importer) is
/// added by [`ApiExecutor`](super::ApiExecutor).
pub fn build() -> AppSchema {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .enable_federation()
    .limit_depth(MAX_DEPTH)
    .limit_recursive_depth(32)
    .finish()
}

/// The federation SDL, as `tenantgraph schema` prints it and `schema.graphql` holds it.
pub fn federation_sdl(schema: &AppSchema) -> String {
    schema.sdl_with_options(SDLExportOptions::new().federation())
}
