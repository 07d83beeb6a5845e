//! The monthly chargeback, read from the license day counts history keeps
//! ([`super::history::license_deltas`]), and closed months (`chargeback_months`): computed, stored when closed, served as stored
//! until reopened. Uses the allocation reads for prices and cost groups; no allocation writer
//! imports it but the price check.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};

use super::allocation::configurations::list_cost_groups_of_day;
use super::allocation::reads::list_prices_of_tenants_on;
use super::entities::{chargeback_month, sku_count_history};
use super::history::license_deltas;
use super::transaction::{lock_tenant, stored_now};
use super::{Store, StoreError, audit};
use crate::domain::allocation::Currency;
use crate::domain::audit::AuditChange;
use crate::domain::chargeback::{
    Accumulator, Chargeback, ChargebackLine, GroupCharge, IdleSpan, Month,
};
use crate::domain::{BillingSet, SkuBilling, SkuId, TenantId, TenantScope};

/// Who closed a month, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// When it was closed.
    pub at: DateTime<Utc>,
    /// The principal who closed it.
    pub by: String,
}

/// A tenant's month: computed from history, or as stored when it was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthCharge {
    /// The chargeback.
    pub chargeback: Chargeback,
    /// Set while the month is closed.
    pub closed: Option<Closing>,
}

/// What a closed month stores besides its currency and days: the own lines.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredLines {
    groups: Vec<GroupCharge>,
    unallocated: ChargebackLine,
    unassigned: ChargebackLine,
}

/// The chargeback of `month` for `tenant_id` (`None` when the tenant is unknown or out of
/// `scope`): as stored when the month is closed, else computed from history with `today` as
/// the last day that can be billed. Read in one transaction, so its statements see one state.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, month = %month))]
pub async fn find_chargeback(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    month: Month,
    today: NaiveDate,
) -> Result<Option<MonthCharge>, StoreError> {
    if !scope.allows(tenant_id) {
        return Ok(None);
    }
    let txn = store.db().begin().await?;
    if super::entities::tenant::Entity::find_by_id(tenant_id.uuid())
        .one(&txn)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let out = match find_closed(&txn, tenant_id, month).await? {
        Some(closed) => closed,
        None => MonthCharge {
            chargeback: compute(&txn, tenant_id, month, today).await?,
            closed: None,
        },
    };
    txn.commit().await?;
    Ok(Some(out))
}

/// The chargeback of `month` as `db` holds it: as stored when the month is closed, else
/// computed from history with `today` as the last day that can be billed.
pub(crate) async fn month_on<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    month: Month,
    today: NaiveDate,
) -> Result<Chargeback, StoreError> {
    Ok(match find_closed(db, tenant_id, month).await? {
        Some(closed) => closed.chargeback,
        None => compute(db, tenant_id, month, today).await?,
    })
}

async fn find_closed<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    month: Month,
) -> Result<Option<MonthCharge>, StoreError> {
    let Some(row) = chargeback_month::Entity::find_by_id((tenant_id.uuid(), month.to_string()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "chargeback_months",
        detail: format!("{month} of tenant {tenant_id}: {detail}"),
    };
    let currency = row
        .currency
        .as_deref()
        .map(Currency::parse)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let lines: StoredLines =
        serde_json::from_value(row.lines).map_err(|e| corrupt(e.to_string()))?;
    let days = row.first_day.zip(row.last_day);
    Ok(Some(MonthCharge {
        chargeback: Chargeback::from_lines(
            month,
            currency,
            days,
            lines.groups,
            lines.unallocated,
            lines.unassigned,
        ),
        closed: Some(Closing {
            at: row.closed_at,
            by: row.closed_by,
        }),
    }))
}

/// Computes the month from history on `db`.
async fn compute<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    month: Month,
    today: NaiveDate,
) -> Result<Chargeback, StoreError> {
    let prices: Vec<_> = list_prices_of_tenants_on(db, &[tenant_id])
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let first = super::import_runs::observed_span(db, tenant_id)
        .await?
        .map(|(first, _)| first);
    let mut acc = Accumulator::new(month, first, today, &prices);
    // The tree the month rolls up by: the one in force on its last billed day.
    let last_day = acc.days().map_or(month.last_day(), |(_, last)| last);
    let groups = list_cost_groups_of_day(db, tenant_id, last_day).await?;
    let Some((from, last)) = acc.days() else {
        return finish(acc, &groups);
    };
    let to = last.succ_opt().unwrap_or(last);
    acc.add_idle(&idle_spans(db, tenant_id, from, to).await?);
    acc.add_held(&license_deltas::held_days(db, tenant_id, from, to).await?);
    acc.add_allocated(&license_deltas::allocated_days(db, tenant_id, from, to).await?);
    finish(acc, &groups)
}

/// The chargeback of `acc`: prices of several currencies in the month are a `Conflict` naming
/// the SKUs; amounts too large to hold exactly are `Corrupt` prices.
fn finish(acc: Accumulator, groups: &[crate::domain::CostGroup]) -> Result<Chargeback, StoreError> {
    use crate::domain::allocation::ReportError;
    use crate::domain::chargeback::ChargebackError;
    acc.finish(groups).map_err(|e| match e {
        ChargebackError::Report(ReportError::Price(p)) => StoreError::Conflict(p.to_string()),
        other => StoreError::Corrupt {
            table: "license_prices",
            detail: other.to_string(),
        },
    })
}

/// The idle seats of the tenant's paid, user-assignable SKUs over the days `[from, to)`.
async fn idle_spans<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<IdleSpan>, StoreError> {
    use sku_count_history::Column;
    let rows = sku_count_history::Entity::find()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .filter(Column::ValidFrom.lt(to))
        .filter(
            Condition::any()
                .add(Column::ValidTo.is_null())
                .add(Column::ValidTo.gt(from)),
        )
        .all(db)
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let billing: SkuBilling = row.billing.parse().map_err(|e| StoreError::Corrupt {
            table: "sku_count_history",
            detail: format!("billing of SKU {}: {e}", row.sku_id),
        })?;
        if row.applies_to != "User" || !BillingSet::PAID.contains(billing) {
            continue;
        }
        out.push(IdleSpan {
            sku_id: SkuId(row.sku_id),
            seats: row.prepaid_enabled + row.prepaid_warning - row.consumed_units,
            from: row.valid_from,
            to: row.valid_to,
        });
    }
    Ok(out)
}

/// Closes `month` of `tenant_id`: computes it with `today` as its last billable day, stores
/// its lines and records the change as `actor`, in one write transaction. `NotFound` for an
/// unknown tenant or one out of `scope`; `Conflict` when the month is closed already.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, month = %month))]
pub async fn close_month(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    month: Month,
    today: NaiveDate,
    actor: String,
) -> Result<MonthCharge, StoreError> {
    use sea_orm::ActiveValue::Set;
    let txn = store.begin_write().await?;
    lock_tenant(&txn, store.backend(), scope, tenant_id).await?;
    if find_closed(&txn, tenant_id, month).await?.is_some() {
        return Err(StoreError::Conflict(format!(
            "month {month} of tenant {tenant_id} is closed already"
        )));
    }
    let chargeback = compute(&txn, tenant_id, month, today).await?;
    let lines = StoredLines {
        groups: chargeback.groups.clone(),
        unallocated: chargeback.unallocated.clone(),
        unassigned: chargeback.unassigned.clone(),
    };
    let lines = serde_json::to_value(&lines).map_err(|e| StoreError::Corrupt {
        table: "chargeback_months",
        detail: e.to_string(),
    })?;
    let at = stored_now();
    chargeback_month::Entity::insert(chargeback_month::ActiveModel {
        tenant_id: Set(tenant_id.uuid()),
        month: Set(month.to_string()),
        currency: Set(chargeback.currency.map(|c| c.code().to_owned())),
        first_day: Set(chargeback.days.map(|d| d.0)),
        last_day: Set(chargeback.days.map(|d| d.1)),
        lines: Set(lines),
        closed_at: Set(at),
        closed_by: Set(actor.clone()),
    })
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        AuditChange {
            tenant_id,
            actor: actor.clone(),
            action: "closeChargeback".to_owned(),
            subject_type: "chargeback".to_owned(),
            subject_id: month.to_string(),
            before: None,
            after: Some(summary(&chargeback)),
            effective_from: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(MonthCharge {
        chargeback,
        closed: Some(Closing { at, by: actor }),
    })
}

/// The audit log's view of a closed month.
fn summary(c: &Chargeback) -> serde_json::Value {
    let total = match c.currency {
        Some(currency) => currency.from_minor(c.total.amount_minor()),
        None => rust_decimal::Decimal::ZERO,
    };
    serde_json::json!({
        "month": c.month.to_string(),
        "currency": c.currency.map(|c| c.code()),
        "total": total.to_string(),
    })
}

/// Reopens `month` of `tenant_id`: its stored lines are removed, so it is computed from
/// history again, recording `reason` as `actor`. `NotFound` for an unknown tenant, one out of
/// `scope`, or a month that is not closed.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, month = %month))]
pub async fn reopen_month(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    month: Month,
    actor: String,
    reason: String,
) -> Result<(), StoreError> {
    let txn = store.begin_write().await?;
    lock_tenant(&txn, store.backend(), scope, tenant_id).await?;
    let Some(closed) = find_closed(&txn, tenant_id, month).await? else {
        return Err(StoreError::NotFound(format!(
            "closed month {month} of tenant {tenant_id}"
        )));
    };
    chargeback_month::Entity::delete_by_id((tenant_id.uuid(), month.to_string()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        AuditChange {
            tenant_id,
            actor,
            action: "reopenChargeback".to_owned(),
            subject_type: "chargeback".to_owned(),
            subject_id: month.to_string(),
            before: Some(summary(&closed.chargeback)),
            after: Some(serde_json::json!({ "reason": reason })),
            effective_from: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
