//! The license day counts the monthly chargeback is billed from: per tenant and day, how many
//! licenses of a SKU began minus how many ended (`held_license_deltas`), and how many licenses
//! of a SKU began minus ended being shared with one cost group at one percent
//! (`allocated_license_deltas`: a license's days with its user's share). A month is the sum of
//! these changes up to each of its days: a few rows per day, whatever the tenant's size,
//! instead of every license joined to its user's shares.
//!
//! Every commit that writes license or allocation history calls [`refresh`] in its own
//! transaction with a day no later than the first day it changed: the import (its observed
//! day), an allocation change that can move anyone (today) and a re-evaluation of past days
//! (their first). The changes from that day on are counted again from the history tables,
//! reading only the licenses and shares that begin or end from that day on. A change that moves
//! a few users today (an override) instead adds what their shares count after it less what
//! they counted before ([`shares_of_users`], [`replace_shares`]). History written before the
//! counts existed, or straight into the tables, is counted by [`rebuild`].

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

use crate::domain::chargeback::{AllocatedDays, HeldDays, running_counts};
use crate::domain::{CostGroupId, SkuId, TenantId, TenantScope, UserId};
use crate::store::connect::Store;
use crate::store::error::StoreError;
use crate::store::raw_sql::RawSql;
use crate::store::transaction::lock_tenant;

/// The day a change is counted on when the license or share began before history began
/// (no first day).
fn before_history() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
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
    /// `alias.from >= since`, with a bound on the end the (tenant, end) index can seek by (a
    /// span ends after it begins).
    fn begins_since(&self, sql: &mut RawSql, alias: &str, since: NaiveDate) {
        sql.push(&format!(" AND {alias}.{} >= ", self.from))
            .bind(since);
        if let Some(to) = self.to {
            sql.push(&format!(" AND {alias}.{to} > ")).bind(since);
        }
    }
}

/// A license's days with one share: the later of the two first days and the earlier of the
/// two ends (`NULL`: none).
fn pair_days(h: &Spans, s: &Spans) -> (String, Option<String>) {
    let start = format!(
        "CASE WHEN h.{hf} IS NULL OR h.{hf} < s.{sf} THEN s.{sf} ELSE h.{hf} END",
        hf = h.from,
        sf = s.from
    );
    let end = match (h.to, s.to) {
        (Some(ht), Some(st)) => Some(format!(
            "CASE WHEN h.{ht} > s.{st} THEN s.{st} ELSE h.{ht} END"
        )),
        (Some(t), None) => Some(format!("h.{t}")),
        (None, Some(t)) => Some(format!("s.{t}")),
        (None, None) => None,
    };
    (start, end)
}

/// Which way a pair's statement reads: from the license (then its user's shares) or from the
/// share (then its user's licenses).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Drive {
    License,
    Share,
}

/// Appends one `SELECT cost_group_id, sku_id, percent, day, n` over the licenses of `h` paired
/// with the shares of `s` of the same user that overlap them, `day` being `day_expr` and `n`
/// `sign`; `filter` adds the conditions on `h` and `s`. `CROSS JOIN` keeps SQLite's join order,
/// from the side `drive` names through the other's (tenant, user) index.
fn pair_select(
    sql: &mut RawSql,
    (h, s): (&Spans, &Spans),
    (tenant_id, users): (TenantId, Option<&[Uuid]>),
    day_expr: &str,
    sign: i32,
    drive: Drive,
    filter: impl FnOnce(&mut RawSql),
) {
    let (first, second) = match drive {
        Drive::License => (format!("{} h", h.table), format!("{} s", s.table)),
        Drive::Share => (format!("{} s", s.table), format!("{} h", h.table)),
    };
    let (lead, other) = match drive {
        Drive::License => ("h", "s"),
        Drive::Share => ("s", "h"),
    };
    sql.push(&format!(
        "SELECT s.cost_group_id, h.sku_id, s.percent, {day_expr} AS d, {sign} AS n \
         FROM {first} CROSS JOIN {second} \
         WHERE {lead}.tenant_id = "
    ))
    .bind(tenant_id.uuid())
    .push(&format!(
        " AND {other}.tenant_id = {lead}.tenant_id AND {other}.user_id = {lead}.user_id"
    ));
    of_users(sql, lead, users);
    // Each begins before the other ends.
    if let Some(st) = s.to {
        sql.push(&format!(
            " AND (h.{f} IS NULL OR h.{f} < s.{st})",
            f = h.from
        ));
    }
    if let Some(ht) = h.to {
        sql.push(&format!(
            " AND (s.{f} IS NULL OR s.{f} < h.{ht})",
            f = s.from
        ));
    }
    filter(sql);
}

/// ` AND alias.user_id IN (…)` when `users` are named.
fn of_users(sql: &mut RawSql, alias: &str, users: Option<&[Uuid]>) {
    let Some(users) = users else { return };
    sql.push(&format!(" AND {alias}.user_id IN ("));
    for (i, user) in users.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(*user);
    }
    sql.push(")");
}

/// The changes of the licenses' shares from `since` on (`None`: all), one `SELECT` of
/// (cost group, SKU, percent, day, +1 or -1) rows per kind of pair and way to read it; of
/// `users` only when named.
fn allocated_changes(
    sql: &mut RawSql,
    tenant: (TenantId, Option<&[Uuid]>),
    since: Option<NaiveDate>,
) {
    let mut first = true;
    let mut union = |sql: &mut RawSql| {
        if !std::mem::take(&mut first) {
            sql.push(" UNION ALL ");
        }
    };
    let begin = before_history();
    for h in &HOLDINGS {
        for s in &SHARES {
            let (start, end) = pair_days(h, s);
            let start = format!("COALESCE({start}, '{begin}')");
            let pair = (h, s);
            match since {
                None => {
                    union(sql);
                    pair_select(sql, pair, tenant, &start, 1, Drive::License, |_| {});
                }
                Some(day) => {
                    // Begun from `day` on: the license did, or only the share did.
                    union(sql);
                    pair_select(sql, pair, tenant, &start, 1, Drive::License, |sql| {
                        h.begins_since(sql, "h", day);
                    });
                    union(sql);
                    pair_select(sql, pair, tenant, &start, 1, Drive::Share, |sql| {
                        s.begins_since(sql, "s", day);
                        sql.push(&format!(" AND (h.{f} IS NULL OR h.{f} < ", f = h.from))
                            .bind(day)
                            .push(")");
                    });
                }
            }
            let Some(end) = end else { continue };
            // Ended from `day` on: read from the license when it ended, else from the share.
            let drive = if h.to.is_some() {
                Drive::License
            } else {
                Drive::Share
            };
            union(sql);
            pair_select(sql, pair, tenant, &end, -1, drive, |sql| {
                let Some(day) = since else { return };
                for (alias, spans) in [("h", h), ("s", s)] {
                    if let Some(to) = spans.to {
                        sql.push(&format!(" AND {alias}.{to} >= ")).bind(day);
                    }
                }
            });
        }
    }
}

/// The changes of the licenses held from `since` on (`None`: all): (SKU, day, +1 or -1) rows.
fn held_changes(sql: &mut RawSql, tenant_id: TenantId, since: Option<NaiveDate>) {
    let begin = before_history();
    for (i, h) in HOLDINGS.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push(&format!(
            "SELECT h.sku_id, COALESCE(h.{}, '{begin}') AS d, 1 AS n FROM {} h WHERE h.tenant_id = ",
            h.from, h.table
        ))
        .bind(tenant_id.uuid());
        if let Some(day) = since {
            h.begins_since(sql, "h", day);
        }
        if let Some(to) = h.to {
            sql.push(&format!(
                " UNION ALL SELECT h.sku_id, h.{to} AS d, -1 AS n FROM {} h WHERE h.tenant_id = ",
                h.table
            ))
            .bind(tenant_id.uuid());
            if let Some(day) = since {
                sql.push(&format!(" AND h.{to} >= ")).bind(day);
            }
        }
    }
}

/// Counts the tenant's license changes again from `since` on (`None`: all of them), inside
/// `db`, the transaction that changed history: the rows from that day on are replaced by
/// what the history tables now hold. Four statements.
pub(crate) async fn refresh<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    since: Option<NaiveDate>,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    for table in ["held_license_deltas", "allocated_license_deltas"] {
        let mut sql = RawSql::new(backend);
        sql.push(&format!("DELETE FROM {table} WHERE tenant_id = "))
            .bind(tenant_id.uuid());
        if let Some(day) = since {
            sql.push(" AND day >= ").bind(day);
        }
        db.execute_raw(sql.statement()).await?;
    }
    let mut sql = RawSql::new(backend);
    sql.push("INSERT INTO held_license_deltas (tenant_id, day, sku_id, delta) SELECT ")
        .bind(tenant_id.uuid())
        .push(", d, sku_id, SUM(n) FROM (");
    held_changes(&mut sql, tenant_id, since);
    sql.push(") c GROUP BY d, sku_id HAVING SUM(n) <> 0");
    db.execute_raw(sql.statement()).await?;
    let mut sql = RawSql::new(backend);
    sql.push(
        "INSERT INTO allocated_license_deltas \
         (tenant_id, day, cost_group_id, sku_id, percent, delta) SELECT ",
    )
    .bind(tenant_id.uuid())
    .push(", d, cost_group_id, sku_id, percent, SUM(n) FROM (");
    allocated_changes(&mut sql, (tenant_id, None), since);
    sql.push(") c GROUP BY d, cost_group_id, sku_id, percent HAVING SUM(n) <> 0");
    db.execute_raw(sql.statement()).await?;
    Ok(())
}

/// Users per statement of [`shares_of_users`].
const USERS_PER_STATEMENT: usize = 500;

/// The changes of the licenses' shares of `users` from `since` on, summed by (day, cost group,
/// SKU, percent): what they add to `allocated_license_deltas`. A statement per
/// [`USERS_PER_STATEMENT`] users.
pub(crate) async fn shares_of_users<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    users: &[UserId],
    since: NaiveDate,
) -> Result<SharedDays, StoreError> {
    let ids: Vec<Uuid> = users.iter().map(|u| u.uuid()).collect();
    let mut out = SharedDays::new();
    for chunk in ids.chunks(USERS_PER_STATEMENT) {
        let mut sql = RawSql::new(db.get_database_backend());
        sql.push("SELECT d, cost_group_id, sku_id, percent, CAST(SUM(n) AS BIGINT) FROM (");
        allocated_changes(&mut sql, (tenant_id, Some(chunk)), Some(since));
        sql.push(") c GROUP BY d, cost_group_id, sku_id, percent");
        for row in db.query_all_raw(sql.statement()).await? {
            let key = (
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
                row.try_get_by_index(3)?,
            );
            *out.entry(key).or_default() += row.try_get_by_index::<i64>(4)?;
        }
    }
    Ok(out)
}

/// Changes of license days with a share, by (day, cost group, SKU, percent).
pub(crate) type SharedDays = std::collections::BTreeMap<(NaiveDate, Uuid, Uuid, String), i64>;

/// Adds to the tenant's counts what a change of some users' shares made of theirs: `after`
/// less `before` ([`shares_of_users`] before and after the change, from the same day).
pub(crate) async fn replace_shares<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    before: &SharedDays,
    after: &SharedDays,
) -> Result<(), StoreError> {
    let mut change = after.clone();
    for (key, n) in before {
        *change.entry(key.clone()).or_default() -= n;
    }
    change.retain(|_, n| *n != 0);
    if change.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let first_day = change.keys().next().map(|k| k.0);
    let rows: Vec<_> = change.into_iter().collect();
    for chunk in rows.chunks(ROWS_PER_UPSERT) {
        let mut sql = RawSql::new(backend);
        sql.push(
            "INSERT INTO allocated_license_deltas \
             (tenant_id, day, cost_group_id, sku_id, percent, delta) VALUES ",
        );
        for (i, ((day, group, sku, percent), n)) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" })
                .bind(tenant_id.uuid())
                .push(", ")
                .bind(*day)
                .push(", ")
                .bind(*group)
                .push(", ")
                .bind(*sku)
                .push(", ")
                .bind(percent.clone())
                .push(", ")
                .bind(*n)
                .push(")");
        }
        sql.push(
            " ON CONFLICT (tenant_id, day, cost_group_id, sku_id, percent) DO UPDATE \
             SET delta = allocated_license_deltas.delta + excluded.delta",
        );
        db.execute_raw(sql.statement()).await?;
    }
    let mut sql = RawSql::new(backend);
    sql.push("DELETE FROM allocated_license_deltas WHERE tenant_id = ")
        .bind(tenant_id.uuid())
        .push(" AND day >= ")
        .bind(first_day)
        .push(" AND delta = 0");
    db.execute_raw(sql.statement()).await?;
    Ok(())
}

/// Rows per upsert of [`replace_shares`] (6 values each).
const ROWS_PER_UPSERT: usize = 1000;

/// Counts all of `tenant_id`'s license history again, in a write transaction of its own that
/// also takes the tenant off `license_delta_rebuilds`: for history written before the counts
/// existed or straight into the tables. `NotFound` for an unknown tenant.
pub async fn rebuild(store: &Store, tenant_id: TenantId) -> Result<(), StoreError> {
    let txn = store.begin_write().await?;
    lock_tenant(&txn, store.backend(), &TenantScope::All, tenant_id).await?;
    refresh(&txn, tenant_id, None).await?;
    let mut sql = RawSql::new(store.backend());
    sql.push("DELETE FROM license_delta_rebuilds WHERE tenant_id = ")
        .bind(tenant_id.uuid());
    txn.execute_raw(sql.statement()).await?;
    txn.commit().await?;
    Ok(())
}

/// Rebuilds the counts of every tenant listed in `license_delta_rebuilds` (a store migrated
/// from before they existed), each in a transaction of its own. Returns how many.
pub(crate) async fn rebuild_listed(store: &Store) -> Result<usize, StoreError> {
    let listed = store
        .db()
        .query_all_raw(Statement::from_string(
            store.backend(),
            "SELECT tenant_id FROM license_delta_rebuilds",
        ))
        .await?;
    let tenants: Vec<Uuid> = listed
        .iter()
        .map(|row| row.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    for tenant in &tenants {
        rebuild(store, TenantId(*tenant)).await?;
    }
    Ok(tenants.len())
}

/// Sums `table`'s changes of `tenant_id` before `to` by `keys` and day, the days before `from`
/// as one (`NULL`), and turns each key's sums into spans of a constant count.
async fn counted<C: ConnectionTrait, K: Ord + Clone + std::fmt::Debug>(
    db: &C,
    table: &'static str,
    keys: &str,
    tenant_id: TenantId,
    (from, to): (NaiveDate, NaiveDate),
    key_of: impl Fn(&sea_orm::QueryResult) -> Result<K, StoreError>,
) -> Result<Vec<(K, Option<NaiveDate>, Option<NaiveDate>, u64)>, StoreError> {
    let n = keys.split(',').count();
    let mut sql = RawSql::new(db.get_database_backend());
    sql.push(&format!("SELECT {keys}, CASE WHEN day < "))
        .bind(from)
        .push(&format!(
            " THEN NULL ELSE day END AS d, CAST(SUM(delta) AS BIGINT) FROM {table} \
             WHERE tenant_id = "
        ))
        .bind(tenant_id.uuid())
        .push(" AND day < ")
        .bind(to)
        .push(&format!(" GROUP BY {keys}, {}", n + 1));
    let rows = db.query_all_raw(sql.statement()).await?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        let day: Option<NaiveDate> = row.try_get_by_index(n)?;
        let sum: i64 = row.try_get_by_index(n + 1)?;
        changes.push((key_of(row)?, day, sum));
    }
    running_counts(changes).map_err(|(key, day)| StoreError::Corrupt {
        table,
        detail: format!(
            "tenant {tenant_id}: fewer than no licenses of {key:?} from {}",
            day.map_or("the first billed day".to_owned(), |d| d.to_string())
        ),
    })
}

/// The licenses the tenant held on some of the days `[from, to)`, counted by SKU and days.
/// One statement, reading a few rows per day whatever the tenant's size.
pub(crate) async fn held_days<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<HeldDays>, StoreError> {
    let spans = counted(
        db,
        "held_license_deltas",
        "sku_id",
        tenant_id,
        (from, to),
        |row| Ok(SkuId(row.try_get_by_index(0)?)),
    )
    .await?;
    Ok(spans
        .into_iter()
        .map(|(sku_id, from, to, count)| HeldDays {
            sku_id,
            from,
            to,
            count,
        })
        .collect())
}

/// The days of `[from, to)` on which the tenant's licenses were held and their users had a
/// cost group share, counted by cost group, SKU, percent and days. One statement, as
/// [`held_days`].
pub(crate) async fn allocated_days<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AllocatedDays>, StoreError> {
    let spans = counted(
        db,
        "allocated_license_deltas",
        "cost_group_id, sku_id, percent",
        tenant_id,
        (from, to),
        |row| {
            let group: Uuid = row.try_get_by_index(0)?;
            let sku: Uuid = row.try_get_by_index(1)?;
            let percent: String = row.try_get_by_index(2)?;
            let percent: rust_decimal::Decimal =
                percent.parse().map_err(|e| StoreError::Corrupt {
                    table: "allocated_license_deltas",
                    detail: format!("percent of cost group {group}: {e}"),
                })?;
            Ok((CostGroupId(group), SkuId(sku), percent))
        },
    )
    .await?;
    Ok(spans
        .into_iter()
        .map(
            |((cost_group, sku_id, percent), from, to, count)| AllocatedDays {
                cost_group,
                sku_id,
                percent,
                from,
                to,
                count,
            },
        )
        .collect())
}
