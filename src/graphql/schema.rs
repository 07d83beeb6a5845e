//! Builds the schema once at start and exports its federation SDL.

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, SDLExportOptions, Schema};

use super::entities::EntityQuery;
use super::query::RootQuery;

/// The query root: reading fields plus federation entity lookups.
#[derive(MergedObject, Default)]
pub struct Query(RootQuery, EntityQuery);

/// tenantgraph's GraphQL schema.
pub type AppSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Depth limit of an operation (fields nested inside fields).
pub const MAX_DEPTH: usize = 12;

/// Builds the schema with federation enabled. Per-request data (loaders) is added by the
/// HTTP handler.
pub fn build() -> AppSchema {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription)
        .enable_federation()
        .limit_depth(MAX_DEPTH)
        .limit_recursive_depth(32)
        .finish()
}

/// The federation SDL, as `tenantgraph schema` prints it and `schema.graphql` holds it.
pub fn federation_sdl(schema: &AppSchema) -> String {
    schema.sdl_with_options(SDLExportOptions::new().federation())
}
