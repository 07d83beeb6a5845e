//! The monthly chargeback, read from history as licenses and shares that SQL counts by alike
//! days, and closed months (`chargeback_months`): computed, stored when closed, served as stored
//! until reopened. Uses the allocation reads for prices and cost groups; no allocation writer
//! imports it but the price check.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use uuid::Uuid;

use super::allocation::configurations::list_cost_groups_of_day;
use super::allocation::reads::list_prices_of_tenants_on;
use super::entities::{chargeback_month, sku_count_history};
use super::raw_sql::RawSql;
use super::transaction::{lock_tenant, stored_now};
use super::{Store, StoreError, audit};
use crate::domain::allocation::Currency;
use crate::domain::audit::AuditChange;
use crate::domain::chargeback::{
    Accumulator, AllocatedDays, Chargeback, ChargebackLine, GroupCharge, HeldDays, IdleSpan, Month,
};
use crate::domain::{BillingSet, CostGroupId, SkuBilling, SkuId, TenantId, TenantScope};

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
    acc.add_held(&held_days(db, tenant_id, from, to).await?);
    acc.add_allocated(&allocated_days(db, tenant_id, from, to).await?);
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

/// Where history keeps spans of days: a table of spans in force (no end column) or ended.
struct Spans {
    table: &'static str,
    from: &'static str,
    to: Option<&'static str>,
}

/// Licenses held: in force, and ended.
const HOLDINGS: [Spans; 2] = [
    Spans {
        table: "user_licenses",
        from: "held_from",
        to: None,
    },
    Spans {
        table: "license_history",
        from: "valid_from",
        to: Some("valid_to"),
    },
];

/// Cost group shares: in force, and ended.
const SHARES: [Spans; 2] = [
    Spans {
        table: "user_allocations",
        from: "allocated_from",
        to: None,
    },
    Spans {
        table: "allocation_history",
        from: "valid_from",
        to: Some("valid_to"),
    },
];

impl Spans {
    /// `alias`'s spans of `tenant_id` that share a day with `[from, to)`.
    fn overlapping(
        &self,
        sql: &mut RawSql,
        alias: &str,
        tenant_id: TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) {
        sql.push(&format!("{alias}.tenant_id = "))
            .bind(tenant_id.uuid())
            .push(&format!(
                " AND ({alias}.{f} IS NULL OR {alias}.{f} < ",
                f = self.from
            ))
            .bind(to)
            .push(")");
        if let Some(end) = self.to {
            sql.push(&format!(" AND {alias}.{end} > ")).bind(from);
        }
    }
}

/// Appends the grouping of `inner`'s rows (columns `f` and `t` plus `keys`) by `keys` and
/// their days clipped to `[from, to)` (`NULL` for a bound beyond them), with their count.
fn grouped(
    sql: &mut RawSql,
    keys: &str,
    from: NaiveDate,
    to: NaiveDate,
    inner: impl FnOnce(&mut RawSql),
) {
    sql.push(&format!("SELECT {keys}, CASE WHEN f < "))
        .bind(from)
        .push(" THEN NULL ELSE f END AS f, CASE WHEN t >= ")
        .bind(to)
        .push(" THEN NULL ELSE t END AS t, COUNT(*) FROM (");
    inner(sql);
    // `f` and `t` by position: by name they would be the inner, unclipped columns.
    let n = keys.split(',').count();
    sql.push(&format!(") spans GROUP BY {keys}, {}, {}", n + 1, n + 2));
}

/// The licenses of the tenant held on some of the days `[from, to)`, counted by SKU and days:
/// one statement, whatever the tenant's size.
async fn held_days<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<HeldDays>, StoreError> {
    let mut sql = RawSql::new(db.get_database_backend());
    grouped(&mut sql, "sku_id", from, to, |sql| {
        for (i, h) in HOLDINGS.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            let end =
                h.to.map_or("CAST(NULL AS DATE)".to_owned(), |t| format!("h.{t}"));
            sql.push(&format!(
                "SELECT h.sku_id, h.{} AS f, {end} AS t FROM {} h WHERE ",
                h.from, h.table
            ));
            h.overlapping(sql, "h", tenant_id, from, to);
        }
    });
    let rows = db.query_all_raw(sql.statement()).await?;
    rows.iter()
        .map(|row| {
            Ok(HeldDays {
                sku_id: SkuId(row.try_get_by_index(0)?),
                from: row.try_get_by_index(1)?,
                to: row.try_get_by_index(2)?,
                count: count(row.try_get_by_index(3)?)?,
            })
        })
        .collect()
}

/// The days of `[from, to)` on which the tenant's licenses were held and their users had a
/// cost group share, counted by cost group, SKU, percent and days: one statement joining each
/// kind of holding to each kind of share by user, whatever the tenant's size.
async fn allocated_days<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AllocatedDays>, StoreError> {
    let mut sql = RawSql::new(db.get_database_backend());
    grouped(
        &mut sql,
        "cost_group_id, sku_id, percent",
        from,
        to,
        |sql| {
            let pairs = HOLDINGS
                .iter()
                .flat_map(|h| SHARES.iter().map(move |s| (h, s)));
            for (i, (h, s)) in pairs.enumerate() {
                if i > 0 {
                    sql.push(" UNION ALL ");
                }
                // The later start and the earlier end; NULL is no bound.
                let start = format!(
                    "CASE WHEN h.{hf} IS NULL OR h.{hf} < s.{sf} THEN s.{sf} ELSE h.{hf} END",
                    hf = h.from,
                    sf = s.from
                );
                let end = match (h.to, s.to) {
                    (Some(ht), Some(st)) => {
                        format!("CASE WHEN h.{ht} > s.{st} THEN s.{st} ELSE h.{ht} END")
                    }
                    (Some(t), None) => format!("h.{t}"),
                    (None, Some(t)) => format!("s.{t}"),
                    (None, None) => "CAST(NULL AS DATE)".to_owned(),
                };
                // `CROSS JOIN` keeps SQLite's join order: each holding, then its user's shares
                // through their (tenant, user) index. Left to choose, SQLite without statistics
                // read every holding of the tenant for each share. PostgreSQL plans it as any
                // join.
                sql.push(&format!(
                    "SELECT s.cost_group_id, h.sku_id, s.percent, {start} AS f, {end} AS t \
                     FROM {} h CROSS JOIN {} s \
                     WHERE s.tenant_id = h.tenant_id AND s.user_id = h.user_id AND ",
                    h.table, s.table
                ));
                h.overlapping(sql, "h", tenant_id, from, to);
                sql.push(" AND ");
                s.overlapping(sql, "s", tenant_id, from, to);
                // Each starts before the other ends.
                if let Some(st) = s.to {
                    sql.push(&format!(
                        " AND (h.{} IS NULL OR h.{} < s.{st})",
                        h.from, h.from
                    ));
                }
                if let Some(ht) = h.to {
                    sql.push(&format!(
                        " AND (s.{} IS NULL OR s.{} < h.{ht})",
                        s.from, s.from
                    ));
                }
            }
        },
    );
    let rows = db.query_all_raw(sql.statement()).await?;
    rows.iter()
        .map(|row| {
            let group: Uuid = row.try_get_by_index(0)?;
            let percent: String = row.try_get_by_index(2)?;
            Ok(AllocatedDays {
                cost_group: CostGroupId(group),
                sku_id: SkuId(row.try_get_by_index(1)?),
                percent: percent.parse().map_err(|e| StoreError::Corrupt {
                    table: "user_allocations",
                    detail: format!("percent of cost group {group}: {e}"),
                })?,
                from: row.try_get_by_index(3)?,
                to: row.try_get_by_index(4)?,
                count: count(row.try_get_by_index(5)?)?,
            })
        })
        .collect()
}

/// A `COUNT(*)` as a count.
fn count(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt {
        table: "user_licenses",
        detail: format!("a negative count {n}"),
    })
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
