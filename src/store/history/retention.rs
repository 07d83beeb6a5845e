//! History retention (`TENANTGRAPH_HISTORY_RETENTION_DAYS`): intervals that ended before a
//! cutoff date are removed, a batch per statement. Intervals still in force are never removed,
//! whatever their age, and neither are closed months' stored lines (they are not history rows).
//! The allocation configuration versions (`allocation_configurations`) that took effect before
//! the cutoff go too, but for the one in force on the cutoff day, and none a closed month
//! needs: a tenant keeps the version in force on the first day of its earliest closed month.
//! A tenant whose license or allocation intervals go has its license day counts counted again
//! from what stays (the days before the cutoff lose what was removed, as every read of them).

use chrono::NaiveDate;
use sea_orm::sea_query::{Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;

use crate::domain::chargeback::Month;
use crate::store::entities::{allocation_configuration, chargeback_month};
use crate::store::raw_sql::placeholder;
use crate::store::retention::Pruned;
use crate::store::{Store, StoreError};

/// The history tables and the columns that identify one of their rows.
const TABLES: [(&str, &str); 5] = [
    ("user_versions", "id"),
    ("license_history", "id"),
    ("allocation_history", "id"),
    ("sku_count_history", "tenant_id, sku_id, valid_from"),
    (
        "commerce_quantity_history",
        "tenant_id, subscription_id, valid_from",
    ),
];

/// Removes the history intervals whose last day is before `cutoff` (`valid_to <= cutoff`), of
/// every tenant and history table, at most `batch` per statement; a table is done after a
/// statement that removed fewer than `batch`.
#[tracing::instrument(skip_all, fields(%cutoff, batch))]
pub async fn prune_history(
    store: &Store,
    cutoff: NaiveDate,
    batch: u64,
) -> Result<Pruned, StoreError> {
    let batch = batch.max(1);
    let backend = store.backend();
    let param = placeholder(backend, 1);
    let mut pruned = Pruned::default();
    // Their license day counts are counted again once their intervals are gone, so that a
    // later change counted from a day before the cutoff finds what the counts were made of.
    let recount: Vec<Uuid> = store
        .db()
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT tenant_id FROM license_history WHERE valid_to <= {param} \
                 UNION SELECT tenant_id FROM allocation_history WHERE valid_to <= {}",
                placeholder(backend, 2)
            ),
            [cutoff.into(), cutoff.into()],
        ))
        .await?
        .iter()
        .map(|row| row.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    for (table, key) in TABLES {
        let sql = format!(
            "DELETE FROM {table} WHERE ({key}) IN \
             (SELECT {key} FROM {table} WHERE valid_to <= {param} LIMIT {batch})"
        );
        let sql = sql.as_str();
        pruned
            .in_batches(batch, || async move {
                let delete = Statement::from_sql_and_values(backend, sql, [cutoff.into()]);
                Ok(store.db().execute_raw(delete).await?.rows_affected())
            })
            .await?;
    }
    prune_configurations(store, cutoff, batch, &mut pruned).await?;
    for tenant in recount {
        super::license_deltas::rebuild(store, crate::domain::TenantId(tenant)).await?;
    }
    Ok(pruned)
}

/// Removes the configuration versions that took effect before `cutoff`, keeping for each tenant
/// the one in force on `cutoff`, or on the first day of its earliest closed month when that is
/// earlier (a reopened month is billed again from its versions). At most `batch` versions per
/// statement, the oldest first.
async fn prune_configurations(
    store: &Store,
    cutoff: NaiveDate,
    batch: u64,
    pruned: &mut Pruned,
) -> Result<(), StoreError> {
    use allocation_configuration::{Column, Entity};
    let mut tenants: Vec<Uuid> = Entity::find()
        .select_only()
        .column(Column::TenantId)
        .filter(Column::EffectiveFrom.lt(cutoff))
        .into_tuple()
        .all(store.db())
        .await?;
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        let closed: Option<String> = chargeback_month::Entity::find()
            .select_only()
            .column(chargeback_month::Column::Month)
            .filter(chargeback_month::Column::TenantId.eq(tenant))
            .order_by_asc(chargeback_month::Column::Month)
            .into_tuple()
            .one(store.db())
            .await?;
        let keep_on = closed
            .and_then(|m| Month::parse(&m).ok())
            .map_or(cutoff, |m| m.first_day().min(cutoff));
        // The version in force on `keep_on` stays; those before it go.
        let in_force: Option<NaiveDate> = Entity::find()
            .select_only()
            .column(Column::EffectiveFrom)
            .filter(Column::TenantId.eq(tenant))
            .filter(Column::EffectiveFrom.lte(keep_on))
            .order_by_desc(Column::EffectiveFrom)
            .into_tuple()
            .one(store.db())
            .await?;
        let Some(in_force) = in_force else {
            continue;
        };
        pruned
            .in_batches(batch, || async move {
                let oldest = Query::select()
                    .column(Column::EffectiveFrom)
                    .from(Entity)
                    .and_where(Column::TenantId.eq(tenant))
                    .and_where(Column::EffectiveFrom.lt(in_force))
                    .order_by(Column::EffectiveFrom, Order::Asc)
                    .limit(batch)
                    .to_owned();
                Ok(Entity::delete_many()
                    .filter(Column::TenantId.eq(tenant))
                    .filter(Column::EffectiveFrom.in_subquery(oldest))
                    .exec(store.db())
                    .await?
                    .rows_affected)
            })
            .await?;
    }
    Ok(())
}
