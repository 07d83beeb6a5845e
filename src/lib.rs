//! tenantgraph: a daily copy of every CSP customer's Microsoft 365 tenant (users, licenses,
//! subscribed SKUs), served as a federated GraphQL API.
//!
//! Layers, outermost first: `cli` → `server` (actix) → `graphql` → `store` (SeaORM) → `domain`.
//! `config` and `metrics` import nothing of ours.

pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod import_report;
pub mod importer;
pub mod metrics;
pub mod server;
pub mod simulator;
pub mod store;
pub mod telemetry;
