//! Routes that are not GraphQL: health, readiness, metrics, the client address, CSV exports and uploads and the GraphiQL page; the answer refusing a request.

pub mod authn;
pub mod body;
pub mod bulk_upload;
pub mod chargeback_export;
mod csv_format;
pub mod export;
pub mod forwarded;
pub mod graphiql;
pub mod health;
pub mod metrics;
pub mod optimization_export;
pub mod refusal;
