//! `commerce_quantity_history`: each commerce subscription's quantity and status over intervals
//! of days, written when an import replaces the tenant's commerce subscriptions.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{IntervalColumns, end_intervals};
use crate::domain::history::interval_changes;
use crate::domain::{CommerceSubscription, TenantId};
use crate::store::StoreError;
use crate::store::entities::commerce_quantity_history;

/// Makes `list` (the tenant's commerce subscriptions as just imported) the intervals in force
/// from `on`, on `db` (the import's transaction).
pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    list: &[CommerceSubscription],
    on: NaiveDate,
) -> Result<(), StoreError> {
    let current: BTreeMap<String, (i64, String)> = list
        .iter()
        .map(|s| (s.id.clone(), (s.quantity, s.status.clone())))
        .collect();
    let open: BTreeMap<String, (NaiveDate, (i64, String))> =
        commerce_quantity_history::Entity::find()
            .filter(commerce_quantity_history::Column::TenantId.eq(tenant_id.uuid()))
            .filter(commerce_quantity_history::Column::ValidTo.is_null())
            .all(db)
            .await?
            .into_iter()
            .map(|h| (h.subscription_id, (h.valid_from, (h.quantity, h.status))))
            .collect();
    let changes = interval_changes(&open, &current, on);
    let columns = IntervalColumns {
        tenant: commerce_quantity_history::Column::TenantId,
        key: commerce_quantity_history::Column::SubscriptionId,
        from: commerce_quantity_history::Column::ValidFrom,
        to: commerce_quantity_history::Column::ValidTo,
    };
    end_intervals::<commerce_quantity_history::Entity, _, _>(
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
        let rows = changes.open.into_iter().map(|(id, (quantity, status))| {
            commerce_quantity_history::ActiveModel {
                tenant_id: Set(tenant_id.uuid()),
                subscription_id: Set(id),
                valid_from: Set(on),
                valid_to: Set(None),
                quantity: Set(quantity),
                status: Set(status),
            }
        });
        commerce_quantity_history::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
