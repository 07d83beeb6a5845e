//! Persistence with SeaORM on SQLite or PostgreSQL. The only module with SQL; its functions take
//! and return domain types. Tenant-owned rows are always looked up with their tenant or a
//! [`TenantScope`](crate::domain::TenantScope).

pub mod aggregates;
pub mod alert_retention;
pub mod alerts;
pub mod allocation;
pub mod audit;
mod budget_rows;
pub mod chargeback;
pub(crate) mod closed_months;
pub mod commerce;
pub mod connect;
pub mod data_version;
pub mod entities;
pub mod error;
pub mod exports;
pub mod history;
mod id_lists;
pub mod import_commit;
pub mod import_queries;
pub mod import_runs;
mod keyset;
pub mod license_assignments;
pub mod licenses;
pub mod members;
#[cfg(test)]
mod module_graph;
pub(crate) mod raw_sql;
pub mod retention;
pub mod secrets;
pub mod sign_ins;
pub mod subscriptions;
pub mod tenants;
mod transaction;
pub mod users;

pub use connect::{StatementObserver, Store};
pub use data_version::DataVersion;
pub use error::StoreError;

/// Applies every pending migration to `store`, then counts the license history of the tenants
/// a migration listed for it (`license_delta_rebuilds`, a store made before the counts existed).
pub async fn migrate(store: &Store) -> Result<(), StoreError> {
    store.apply_migrations().await?;
    history::license_deltas::rebuild_listed(store).await?;
    Ok(())
}
