//! Routes that are not GraphQL: health, readiness, metrics, the client address, CSV exports and the GraphiQL page.

pub mod authn;
pub mod export;
pub mod forwarded;
pub mod graphiql;
pub mod health;
pub mod metrics;
