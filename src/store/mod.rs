//! Persistence with SeaORM on SQLite or PostgreSQL. The only module with SQL; its functions take
//! and return domain types. Tenant-owned rows are always looked up with their tenant or a
//! [`TenantScope`](crate::domain::TenantScope).

pub mod allocation_rules;
pub mod audit;
pub mod commerce;
pub mod connect;
pub mod cost_groups;
pub mod entities;
pub mod error;
pub mod evaluation;
pub mod exports;
pub mod import_commit;
pub mod import_queries;
pub mod import_runs;
mod keyset;
pub mod licenses;
pub mod members;
pub mod overrides;
pub mod prices;
pub mod secrets;
pub mod subscriptions;
mod tenant_write;
pub mod tenants;
mod transaction;
pub mod users;

pub use connect::{StatementObserver, Store};
pub use error::StoreError;
