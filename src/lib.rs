//! tenantgraph: a daily copy of every CSP customer's Microsoft 365 tenant (users, licenses,
//! subscribed SKUs), served as a federated GraphQL API.
//!
//! Layers, outermost first: `cli` → `server` (actix) → `graphql` → `store` (SeaORM) → `domain`.
//! `config` and `metrics` import nothing of ours.

pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod import_report;
pub mod importer;
pub mod metrics;
pub mod rate_limit;
pub mod server;
pub mod simulator;
pub mod store;
pub mod telemetry;
pub mod webhooks;

/// Installs the process-wide TLS crypto provider (ring) that HTTP clients need; a second call
/// does nothing. Call before building a `reqwest::Client`.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
