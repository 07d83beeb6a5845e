//! The one write path of a tenant's allocation data (cost groups, rules, overrides, prices):
//! the tenant locked, the change written, the allocation re-evaluated as far as the change
//! reaches, the change audited, then committed. Imports `evaluation` and the store's `audit`
//! and `transaction`, never the writers that use it.

use sea_orm::DatabaseTransaction;

use super::evaluation;
use crate::domain::audit::AuditChange;
use crate::domain::{TenantId, TenantScope, UserId};
use crate::store::connect::Store;
use crate::store::error::StoreError;
use crate::store::transaction::lock_tenant;
use crate::store::{audit, history};

/// How much of the tenant's allocation a change can move.
#[derive(Debug, PartialEq, Eq)]
enum Reach {
    /// None (a name, a price): the stored allocation stands.
    Nothing,
    /// These users only (an override).
    Users(Vec<UserId>),
    /// Any user (rules, deleted groups).
    Tenant,
}

/// One write to one tenant, inside a write transaction holding the tenant's lock.
pub(crate) struct TenantWrite {
    txn: DatabaseTransaction,
    tenant_id: TenantId,
    reach: Reach,
    changes: Vec<AuditChange>,
}

impl TenantWrite {
    /// Begins a write transaction and locks `tenant_id`; `NotFound` when the tenant is unknown
    /// or out of `scope`.
    pub(crate) async fn begin(
        store: &Store,
        scope: &TenantScope,
        tenant_id: TenantId,
    ) -> Result<Self, StoreError> {
        let txn = store.begin_write().await?;
        Self::lock(store, txn, scope, tenant_id).await
    }

    /// Locks `tenant_id` inside `txn`, a write transaction that first read which tenant a
    /// change is about (the tenant of a rule or cost group).
    pub(super) async fn lock(
        store: &Store,
        txn: DatabaseTransaction,
        scope: &TenantScope,
        tenant_id: TenantId,
    ) -> Result<Self, StoreError> {
        lock_tenant(&txn, store.backend(), scope, tenant_id).await?;
        Ok(TenantWrite {
            txn,
            tenant_id,
            reach: Reach::Nothing,
            changes: Vec::new(),
        })
    }

    /// The transaction to read and write in.
    pub(crate) fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Records `change` in the audit log when the write commits.
    pub(crate) fn audit(&mut self, change: AuditChange) {
        self.changes.push(change);
    }

    /// The change can move `users` to other cost groups.
    pub(super) fn moves_users(&mut self, users: &[UserId]) {
        match &mut self.reach {
            Reach::Nothing => self.reach = Reach::Users(users.to_vec()),
            Reach::Users(moved) => moved.extend_from_slice(users),
            Reach::Tenant => {}
        }
    }

    /// The change can move any user of the tenant.
    pub(super) fn moves_tenant(&mut self) {
        self.reach = Reach::Tenant;
    }

    /// Re-evaluates what the change reaches, records its audit entries and commits.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match &self.reach {
            Reach::Nothing => {}
            Reach::Users(users) => {
                evaluation::reevaluate_users(&self.txn, self.tenant_id, users, history::today())
                    .await?;
            }
            Reach::Tenant => {
                evaluation::reevaluate(&self.txn, self.tenant_id, history::today()).await?;
            }
        }
        for change in self.changes {
            audit::record(&self.txn, change).await?;
        }
        self.txn.commit().await?;
        Ok(())
    }
}
