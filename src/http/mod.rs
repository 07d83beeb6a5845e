//! Routes that are not GraphQL: health, readiness, metrics and the GraphiQL page.

pub mod graphiql;
pub mod health;
pub mod metrics;
