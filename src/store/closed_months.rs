//! Closed chargeback months as a guard: what a change may not alter once a month is closed.
//! Kept apart from [`super::chargeback`], which reads prices and cost groups, so that the price
//! writes can ask it without importing the chargeback.

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::StoreError;
use super::entities::chargeback_month;
use crate::domain::chargeback::Month;
use crate::domain::{SkuId, TenantId};

/// Fails with `Conflict` naming the month when a price of `sku` from `from` (in force until
/// `until`, the SKU's next price, if any) would change a closed month of `tenant_id`.
pub(crate) async fn refuse_price_in_closed_month<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    sku: SkuId,
    from: NaiveDate,
    until: Option<NaiveDate>,
) -> Result<(), StoreError> {
    for month in closed_months(db, tenant_id).await? {
        if from < month.end() && until.is_none_or(|u| u > month.first_day()) {
            return Err(StoreError::Conflict(format!(
                "input.effectiveFrom: month {month} is closed, and a price of SKU {sku} from \
                 {from} would change it; reopen the month first"
            )));
        }
    }
    Ok(())
}

/// Fails with `Conflict` naming the month when a change of rules or overrides taking effect on
/// `from` (a day before today) would change a closed month of `tenant_id`: one that has days
/// from `from` on.
pub(crate) async fn refuse_change_in_closed_month<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    from: NaiveDate,
) -> Result<(), StoreError> {
    for month in closed_months(db, tenant_id).await? {
        if from < month.end() {
            return Err(StoreError::Conflict(format!(
                "effectiveFrom: month {month} is closed, and a change from {from} would change \
                 it; reopen the month first"
            )));
        }
    }
    Ok(())
}

/// The closed months of `tenant_id`, oldest first.
async fn closed_months<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
) -> Result<Vec<Month>, StoreError> {
    let months: Vec<String> = chargeback_month::Entity::find()
        .select_only()
        .column(chargeback_month::Column::Month)
        .filter(chargeback_month::Column::TenantId.eq(tenant_id.uuid()))
        .order_by_asc(chargeback_month::Column::Month)
        .into_tuple()
        .all(db)
        .await?;
    Ok(months
        .iter()
        .filter_map(|text| Month::parse(text).ok())
        .collect())
}
