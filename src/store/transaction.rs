//! Helpers of every write transaction on a tenant: the tenant's lock and the time stored.
//! Imports no other store module.

use chrono::Utc;
use sea_orm::{DatabaseBackend, DatabaseTransaction, EntityTrait, QuerySelect};

use super::entities::tenant;
use super::error::StoreError;
use crate::domain::{TenantId, TenantScope};

/// Fails with `NotFound` unless `tenant_id` exists and is in `scope`. On PostgreSQL the
/// tenant row is locked for the rest of the transaction, so writers to one tenant's allocation
/// data take turns (SQLite's write transactions already do).
pub(crate) async fn lock_tenant(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
    scope: &TenantScope,
    tenant_id: TenantId,
) -> Result<(), StoreError> {
    let not_found = || StoreError::NotFound(format!("tenant {tenant_id}"));
    if !scope.allows(tenant_id) {
        return Err(not_found());
    }
    let mut query = tenant::Entity::find_by_id(tenant_id.uuid());
    if backend == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(txn).await?.map(|_| ()).ok_or_else(not_found)
}

/// The current time at the precision both backends store (PostgreSQL keeps microseconds), so a
/// mutation returns exactly what a later read shows.
pub(crate) fn stored_now() -> chrono::DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}
