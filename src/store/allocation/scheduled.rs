//! Allocation changes scheduled for a later day: listed (their audit entries) and cancelled a
//! day at a time. Uses `write`, `configurations` and the store's `audit`; no other module here
//! uses it.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::configurations;
use super::write::TenantWrite;
use crate::domain::audit::{AuditChange, AuditEntry};
use crate::domain::{TenantId, TenantScope};
use crate::store::connect::Store;
use crate::store::entities::{allocation_configuration, license_price};
use crate::store::error::StoreError;
use crate::store::{audit, history};

/// The audit action of a cancellation.
const CANCEL: &str = "cancelScheduledAllocationChanges";

/// The changes of `tenants` scheduled for a day after `today` and still waiting: by tenant,
/// effective day, then as made. A change of rules, overrides or cost groups waits while its
/// day's configuration is not promoted; a price while its row is there. Changes made for a
/// day before it was cancelled are left out, and so are the cancellations. Two statements.
pub async fn list_scheduled_changes(
    store: &Store,
    tenants: &[TenantId],
    today: NaiveDate,
) -> Result<Vec<AuditEntry>, StoreError> {
    let waiting = configurations::list_scheduled_days(store, tenants).await?;
    let entries = audit::list_scheduled_changes(store, tenants, today).await?;
    // The last cancellation of each tenant and day: what was made before it is gone.
    let mut cancelled: HashMap<(TenantId, NaiveDate), i64> = HashMap::new();
    for e in entries.iter().filter(|e| e.change.action == CANCEL) {
        if let Some(day) = e.change.effective_from {
            let last = cancelled.entry((e.change.tenant_id, day)).or_default();
            *last = (*last).max(e.id);
        }
    }
    Ok(entries
        .into_iter()
        .filter(|e| e.change.action != CANCEL)
        .filter(|e| {
            let Some(day) = e.change.effective_from else {
                return false;
            };
            let key = (e.change.tenant_id, day);
            cancelled.get(&key).is_none_or(|last| e.id > *last)
                // Prices take effect by being read on their day; the other changes wait in a
                // configuration until it is promoted.
                && (e.change.subject_type == "licensePrice" || waiting.contains(&key))
        })
        .collect())
}

/// Cancels every allocation change of `tenant_id` scheduled for `day` (rules, overrides, cost
/// groups and prices) and returns their audit entries; a change made for a later day stays,
/// and so does what a later day's change changed again. Audited as
/// `cancelScheduledAllocationChanges`, in one write transaction. `Conflict` when `day` is
/// today or earlier (in force already); `NotFound` when the tenant is unknown or out of
/// `scope`, or nothing is scheduled for `day`.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, %day))]
pub async fn cancel_scheduled_changes(
    store: &Store,
    scope: &TenantScope,
    actor: &str,
    tenant_id: TenantId,
    day: NaiveDate,
) -> Result<Vec<AuditEntry>, StoreError> {
    let today = history::today();
    if day <= today {
        return Err(StoreError::Conflict(format!(
            "effectiveFrom: the changes of {day} are in force already (today is {today}, UTC)"
        )));
    }
    // Read before the write begins: SQLite's writer holds its connection.
    let cancelled_entries: Vec<AuditEntry> = if scope.allows(tenant_id) {
        list_scheduled_changes(store, &[tenant_id], today)
            .await?
            .into_iter()
            .filter(|e| e.change.effective_from == Some(day))
            .collect()
    } else {
        Vec::new()
    };
    let write = TenantWrite::begin(store, scope, tenant_id).await?;
    let txn = write.txn();
    let mut versions = configurations::list_versions(txn, tenant_id).await?;
    let index = versions
        .iter()
        .position(|v| v.effective_from == day && !v.promoted);
    let prices = license_price::Entity::delete_many()
        .filter(license_price::Column::TenantId.eq(tenant_id.uuid()))
        .filter(license_price::Column::EffectiveFrom.eq(day))
        .exec(txn)
        .await?
        .rows_affected;
    let Some(index) = index.filter(|i| *i > 0) else {
        if prices == 0 {
            return Err(StoreError::NotFound(format!(
                "no allocation change of tenant {tenant_id} is scheduled for {day}"
            )));
        }
        return finish(write, actor, tenant_id, day, cancelled_entries).await;
    };
    let cancelled = versions.remove(index);
    let previous = versions[index - 1].configuration.clone();
    for later in versions.iter_mut().skip(index) {
        later
            .configuration
            .revert(&cancelled.configuration, &previous);
        configurations::save_version(txn, tenant_id, later).await?;
    }
    allocation_configuration::Entity::delete_many()
        .filter(allocation_configuration::Column::TenantId.eq(tenant_id.uuid()))
        .filter(allocation_configuration::Column::EffectiveFrom.eq(day))
        .exec(txn)
        .await?;
    finish(write, actor, tenant_id, day, cancelled_entries).await
}

/// Audits the cancellation of `entries` and commits.
async fn finish(
    mut write: TenantWrite,
    actor: &str,
    tenant_id: TenantId,
    day: NaiveDate,
    entries: Vec<AuditEntry>,
) -> Result<Vec<AuditEntry>, StoreError> {
    let ids: HashSet<i64> = entries.iter().map(|e| e.id).collect();
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    write.audit(AuditChange {
        tenant_id,
        actor: actor.to_owned(),
        action: CANCEL.to_owned(),
        subject_type: "scheduledAllocationChanges".to_owned(),
        subject_id: day.to_string(),
        before: Some(serde_json::json!({ "auditEntryIds": ids })),
        after: None,
        effective_from: Some(day),
    });
    write.commit().await?;
    Ok(entries)
}
