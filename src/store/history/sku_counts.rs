//! `sku_count_history`: each SKU's counts and billing over intervals of days, written after an
//! import's SKUs (or a billing change) and read for `Tenant.consumptionHistory`.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{IntervalColumns, end_intervals};
use crate::domain::history::{SkuCounts, SkuInterval, interval_changes};
use crate::domain::{SkuBilling, SkuId, TenantId, TenantScope};
use crate::store::entities::{sku_count_history, subscription};
use crate::store::{Store, StoreError};

/// What one interval holds besides its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    part_number: String,
    applies_to: String,
    counts: SkuCounts,
    billing: String,
}

/// Makes the tenant's stored SKUs (after the import or change being committed) the intervals in
/// force from `on`, on `db` (the change's transaction).
pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    on: NaiveDate,
) -> Result<(), StoreError> {
    let current: BTreeMap<Uuid, Stored> = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant_id.uuid()))
        .all(db)
        .await?
        .into_iter()
        .map(|s| {
            let stored = Stored {
                part_number: s.sku_part_number,
                applies_to: s.applies_to,
                counts: SkuCounts {
                    enabled: s.prepaid_enabled,
                    warning: s.prepaid_warning,
                    suspended: s.prepaid_suspended,
                    locked_out: s.prepaid_locked_out,
                    consumed: s.consumed_units,
                },
                billing: s.billing,
            };
            (s.sku_id, stored)
        })
        .collect();
    let open: BTreeMap<Uuid, (NaiveDate, Stored)> = sku_count_history::Entity::find()
        .filter(sku_count_history::Column::TenantId.eq(tenant_id.uuid()))
        .filter(sku_count_history::Column::ValidTo.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.sku_id, (h.valid_from, stored_of(h))))
        .collect();
    let changes = interval_changes(&open, &current, on);
    let columns = IntervalColumns {
        tenant: sku_count_history::Column::TenantId,
        key: sku_count_history::Column::SkuId,
        from: sku_count_history::Column::ValidFrom,
        to: sku_count_history::Column::ValidTo,
    };
    end_intervals::<sku_count_history::Entity, _, _>(
        db,
        &columns,
        tenant_id,
        on,
        changes.close,
        changes.remove,
    )
    .await?;
    if !changes.open.is_empty() {
        use sea_orm::ActiveValue::Set;
        let rows = changes
            .open
            .into_iter()
            .map(|(sku, s)| sku_count_history::ActiveModel {
                tenant_id: Set(tenant_id.uuid()),
                sku_id: Set(sku),
                valid_from: Set(on),
                valid_to: Set(None),
                sku_part_number: Set(s.part_number),
                applies_to: Set(s.applies_to),
                prepaid_enabled: Set(s.counts.enabled),
                prepaid_warning: Set(s.counts.warning),
                prepaid_suspended: Set(s.counts.suspended),
                prepaid_locked_out: Set(s.counts.locked_out),
                consumed_units: Set(s.counts.consumed),
                billing: Set(s.billing),
            });
        sku_count_history::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn stored_of(h: sku_count_history::Model) -> Stored {
    Stored {
        part_number: h.sku_part_number,
        applies_to: h.applies_to,
        counts: SkuCounts {
            enabled: h.prepaid_enabled,
            warning: h.prepaid_warning,
            suspended: h.prepaid_suspended,
            locked_out: h.prepaid_locked_out,
            consumed: h.consumed_units,
        },
        billing: h.billing,
    }
}

/// One SKU's history over a range of days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuHistory {
    /// The SKU.
    pub sku_id: SkuId,
    /// Its part number in the latest interval of the range.
    pub part_number: String,
    /// `User` or `Company`, as in the latest interval.
    pub applies_to: String,
    /// Its billing in the latest interval of the range.
    pub billing: SkuBilling,
    /// The intervals that overlap the range.
    pub intervals: Vec<SkuInterval>,
}

/// The SKU intervals of each of `tenants` in `scope` (others are left out) that overlap the
/// days `from..=to`, by SKU in part number order, in one statement.
pub async fn list_sku_history(
    store: &Store,
    scope: &TenantScope,
    tenants: &[TenantId],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<TenantId, Vec<SkuHistory>>, StoreError> {
    let tenants: Vec<Uuid> = tenants
        .iter()
        .filter(|t| scope.allows(**t))
        .map(|t| t.uuid())
        .collect();
    if tenants.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sku_count_history::Entity::find()
        .filter(sku_count_history::Column::TenantId.is_in(tenants))
        .filter(sku_count_history::Column::ValidFrom.lte(to))
        .filter(
            Condition::any()
                .add(sku_count_history::Column::ValidTo.is_null())
                .add(sku_count_history::Column::ValidTo.gt(from)),
        )
        .order_by_asc(sku_count_history::Column::TenantId)
        .order_by_asc(sku_count_history::Column::SkuId)
        .order_by_asc(sku_count_history::Column::ValidFrom)
        .all(store.db())
        .await?;
    let mut by_sku: BTreeMap<(Uuid, Uuid), SkuHistory> = BTreeMap::new();
    for row in rows {
        let billing = row.billing.parse().map_err(|e| StoreError::Corrupt {
            table: "sku_count_history",
            detail: format!("billing of SKU {}: {e}", row.sku_id),
        })?;
        let interval = SkuInterval {
            from: row.valid_from,
            to: row.valid_to,
            counts: stored_of(row.clone()).counts,
        };
        let entry = by_sku
            .entry((row.tenant_id, row.sku_id))
            .or_insert_with(|| SkuHistory {
                sku_id: SkuId(row.sku_id),
                part_number: String::new(),
                applies_to: String::new(),
                billing,
                intervals: Vec::new(),
            });
        // Rows come oldest first: the last one names the SKU.
        entry.part_number = row.sku_part_number;
        entry.applies_to = row.applies_to;
        entry.billing = billing;
        entry.intervals.push(interval);
    }
    let mut out: HashMap<TenantId, Vec<SkuHistory>> = HashMap::new();
    for ((tenant, _), history) in by_sku {
        out.entry(TenantId(tenant)).or_default().push(history);
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| {
            a.part_number
                .cmp(&b.part_number)
                .then(a.sku_id.cmp(&b.sku_id))
        });
    }
    Ok(out)
}
