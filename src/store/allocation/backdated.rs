//! Re-evaluation of past days: after a change that takes effect on a day before the one it is
//! made on (or a scheduled configuration promoted late), each user's allocation over the days
//! `[from, to)` is evaluated again with the configuration version in force each day and the
//! user's version of that day, and the tenant's allocation intervals (`allocation_history` and
//! `user_allocations.allocated_from`) are rewritten from `from` on. Uses `configurations` and
//! `reads`; `evaluation` uses it, never the other way round.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use sea_orm::QuerySelect;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::configurations::{self, Version};
use crate::domain::allocation::{
    AllocationSource, CompiledRule, Evaluator, Override, UserAllocation,
};
use crate::domain::{AssignedLicense, CostGroupId, SkuId, TenantId, User, UserId};
use crate::store::entities::user_version;
use crate::store::entities::{
    allocation_history, cost_group, license_history, user, user_allocation, user_license,
};
use crate::store::error::StoreError;
use crate::store::history::user_versions::version_of;
use crate::store::{licenses, users};

/// Rows per multi-row INSERT.
const ROWS_PER_INSERT: usize = 1000;

/// One stored row of an allocation: (cost group, percent, source, rule).
pub(super) type Row = (Uuid, String, &'static str, Option<Uuid>);

/// The rows an allocation is stored as, sorted.
pub(super) fn rows_of(a: &UserAllocation) -> Vec<Row> {
    let (source, rule) = match a.source {
        AllocationSource::Override => ("OVERRIDE", None),
        AllocationSource::Rule(r) => ("RULE", Some(r.uuid())),
        AllocationSource::Unallocated => return Vec::new(),
    };
    let mut rows: Vec<Row> = a
        .shares
        .iter()
        .map(|s| {
            (
                s.cost_group.uuid(),
                s.percent.normalize().to_string(),
                source,
                rule,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The source of a stored row, as [`Row`] holds it.
pub(super) fn source_of(stored: &str) -> &'static str {
    if stored == "OVERRIDE" {
        "OVERRIDE"
    } else {
        "RULE"
    }
}

/// The ids of the tenant's cost groups.
pub(super) async fn group_ids(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<CostGroupId>, StoreError> {
    Ok(cost_group::Entity::find()
        .select_only()
        .column(cost_group::Column::Id)
        .filter(cost_group::Column::TenantId.eq(tenant_id.uuid()))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?
        .into_iter()
        .map(CostGroupId)
        .collect())
}

/// An evaluator of `rules` and `overrides` for `tenant_id`, with the tenant's manager chains
/// (as stored today) when a rule follows them.
pub(super) async fn evaluator_for<'a>(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    rules: &'a [CompiledRule],
    overrides: &'a [Override],
    groups: &[CostGroupId],
) -> Result<Evaluator<'a>, StoreError> {
    let mut evaluator = Evaluator::new(rules, overrides, groups);
    if evaluator.follows_managers() {
        let links: Vec<(UserId, Option<UserId>)> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::ManagerId)
            .filter(user::Column::TenantId.eq(tenant_id.uuid()))
            .into_tuple::<(Uuid, Option<Uuid>)>()
            .all(conn)
            .await?
            .into_iter()
            .map(|(id, manager)| (UserId(id), manager.map(UserId)))
            .collect();
        evaluator.set_managers(&links);
    }
    Ok(evaluator)
}

/// The rules of a version, compiled.
pub(super) fn compile(
    rules: &[crate::domain::allocation::AllocationRule],
) -> Result<Vec<CompiledRule>, StoreError> {
    rules
        .iter()
        .map(|r| {
            r.compile().map_err(|e| StoreError::Corrupt {
                table: "allocation_rules",
                detail: format!("rule {}: {e}", r.id),
            })
        })
        .collect()
}

/// Days `[from, to)`; `None` bounds are open (since before history began, in force still).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    rows: Vec<Row>,
}

/// Every version of the tenant's users in force on a day of `[from, to)`, with its days.
async fn user_versions_between(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(User, Option<NaiveDate>, Option<NaiveDate>)>, StoreError> {
    let mut out = Vec::new();
    let old = user_version::Entity::find()
        .filter(user_version::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user_version::Column::ValidTo.gt(from))
        .filter(
            sea_orm::Condition::any()
                .add(user_version::Column::ValidFrom.is_null())
                .add(user_version::Column::ValidFrom.lt(to)),
        )
        .all(txn)
        .await?;
    for m in old {
        let v = version_of(m)?;
        out.push((v.user, v.from, v.to));
    }
    let select = sea_orm::QueryTrait::into_query(
        user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant_id.uuid()))
            .filter(
                sea_orm::Condition::any()
                    .add(user::Column::ValidFrom.is_null())
                    .add(user::Column::ValidFrom.lt(to)),
            ),
    );
    for (u, valid_from) in users::select_dated_on(txn, &select).await? {
        out.push((u, valid_from, None));
    }
    Ok(out)
}

/// Re-evaluates the allocation of every user of `tenant_id` over the days `[from, to)` with the
/// configuration version in force each day, inside `txn`, and rewrites the tenant's allocation
/// intervals from `from` on: the days before `from` and from `to` on keep what was stored
/// (the rows in force must already be those of `to`). Each day is evaluated with that day's
/// facts: the users' versions, the licenses they held (`license_history`, for
/// `hasLicenseOfSku`) and, with a `reportsTo` rule, the manager chains of their versions.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, %from, %to))]
pub(super) async fn reevaluate_days(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(), StoreError> {
    if from >= to {
        return Ok(());
    }
    let mut versions = configurations::list_versions(txn, tenant_id).await?;
    if versions.is_empty() {
        versions.push(Version {
            effective_from: configurations::beginning(),
            configuration: configurations::read_tables(txn, tenant_id).await?,
            promoted: true,
        });
    }
    let groups = group_ids(txn, tenant_id).await?;
    let people = user_versions_between(txn, tenant_id, from, to).await?;
    let held = holdings_between(txn, tenant_id, from, to).await?;

    // The new pieces over [from, to), per user.
    let mut fresh: BTreeMap<Uuid, Vec<Piece>> = BTreeMap::new();
    for (start, end, version) in spans(&versions, from, to) {
        let rules: Vec<_> = version
            .configuration
            .rules
            .iter()
            .map(|e| e.rule.clone())
            .collect();
        let rules = compile(&rules)?;
        // A rule or override may name a group created after its day (made today, backdated):
        // it places users there all the same.
        let mut known = groups.clone();
        known.extend(version.configuration.groups.iter().map(|g| g.id));
        let overrides = &version.configuration.overrides;
        let follows = Evaluator::new(&rules, overrides, &known).follows_managers();
        // With a `reportsTo` rule, each day's manager chains: a span per set of versions.
        let mut cuts: Vec<NaiveDate> = Vec::new();
        if follows {
            cuts.extend(
                people
                    .iter()
                    .flat_map(|(_, f, t)| [*f, *t])
                    .flatten()
                    .filter(|d| *d > start && *d < end),
            );
        }
        for (a, b) in pieces_of(start, end, cuts) {
            let mut evaluator = Evaluator::new(&rules, overrides, &known);
            if follows {
                let links: Vec<(UserId, Option<UserId>)> = people
                    .iter()
                    .filter(|(_, f, t)| covers(*f, *t, a))
                    .map(|(u, _, _)| (u.id, u.manager_id))
                    .collect();
                evaluator.set_managers(&links);
            }
            for (u, valid_from, valid_to) in &people {
                let a = valid_from.map_or(a, |f| f.max(a));
                let b = valid_to.map_or(b, |t| t.min(b));
                if a >= b || u.deleted_at.is_some() {
                    continue;
                }
                let own = held.get(&u.id).map_or(&[][..], Vec::as_slice);
                // Each set of licenses the user held over [a, b) evaluated on its own.
                let cuts = own
                    .iter()
                    .flat_map(|(_, f, t)| [*f, *t])
                    .flatten()
                    .collect();
                for (x, y) in pieces_of(a, b, cuts) {
                    let licenses: Vec<AssignedLicense> = own
                        .iter()
                        .filter(|(_, f, t)| covers(*f, *t, x))
                        .map(|(l, _, _)| l.clone())
                        .collect();
                    let rows = evaluator
                        .allocate(std::slice::from_ref(u), &licenses)
                        .first()
                        .filter(|a| !a.stale)
                        .map(rows_of)
                        .unwrap_or_default();
                    fresh.entry(u.id.uuid()).or_default().push(Piece {
                        from: Some(x),
                        to: Some(y),
                        rows,
                    });
                }
            }
        }
    }

    // What is stored from `from` on: ended intervals reaching past it, and the rows in force.
    let ended = allocation_history::Entity::find()
        .filter(allocation_history::Column::TenantId.eq(tenant_id.uuid()))
        .filter(allocation_history::Column::ValidTo.gt(from))
        .all(txn)
        .await?;
    let current = user_allocation::Entity::find()
        .filter(user_allocation::Column::TenantId.eq(tenant_id.uuid()))
        .all(txn)
        .await?;
    let mut stored: BTreeMap<(Uuid, Option<NaiveDate>, Option<NaiveDate>), Vec<Row>> =
        BTreeMap::new();
    for r in &ended {
        stored
            .entry((r.user_id, r.valid_from, Some(r.valid_to)))
            .or_default()
            .push((
                r.cost_group_id,
                r.percent.clone(),
                source_of(&r.source),
                r.rule_id,
            ));
    }
    for r in &current {
        stored
            .entry((r.user_id, r.allocated_from, None))
            .or_default()
            .push((
                r.cost_group_id,
                r.percent.clone(),
                source_of(&r.source),
                r.rule_id,
            ));
    }
    let mut timelines: BTreeMap<Uuid, Vec<Piece>> = fresh;
    for ((user, start, end), mut rows) in stored {
        rows.sort();
        let kept = timelines.entry(user).or_default();
        // The part before `from`, and the part from `to` on, stay as stored.
        if start.is_none_or(|s| s < from) {
            kept.push(Piece {
                from: start,
                to: Some(end.map_or(from, |e| e.min(from))),
                rows: rows.clone(),
            });
        }
        if end.is_none_or(|e| e > to) {
            kept.push(Piece {
                from: Some(start.map_or(to, |s| s.max(to))),
                to: end,
                rows,
            });
        }
    }

    let mut history_rows: Vec<allocation_history::ActiveModel> = Vec::new();
    let mut current_rows: Vec<user_allocation::ActiveModel> = Vec::new();
    for (user, mut pieces) in timelines {
        pieces.retain(|p| !p.rows.is_empty() && p.from.is_none_or(|f| p.to.is_none_or(|t| f < t)));
        pieces.sort_by_key(|p| p.from);
        let mut merged: Vec<Piece> = Vec::with_capacity(pieces.len());
        for p in pieces {
            match merged.last_mut() {
                Some(last) if last.to == p.from && last.rows == p.rows => last.to = p.to,
                _ => merged.push(p),
            }
        }
        for p in merged {
            use sea_orm::ActiveValue::{NotSet, Set};
            for (group, percent, source, rule) in p.rows {
                match p.to {
                    Some(end) => history_rows.push(allocation_history::ActiveModel {
                        id: NotSet,
                        tenant_id: Set(tenant_id.uuid()),
                        user_id: Set(user),
                        cost_group_id: Set(group),
                        valid_from: Set(p.from),
                        valid_to: Set(end),
                        percent: Set(percent),
                        source: Set(source.to_owned()),
                        rule_id: Set(rule),
                    }),
                    None => current_rows.push(user_allocation::ActiveModel {
                        user_id: Set(user),
                        cost_group_id: Set(group),
                        tenant_id: Set(tenant_id.uuid()),
                        percent: Set(percent),
                        source: Set(source.to_owned()),
                        rule_id: Set(rule),
                        allocated_from: Set(p.from),
                    }),
                }
            }
        }
    }
    allocation_history::Entity::delete_many()
        .filter(allocation_history::Column::TenantId.eq(tenant_id.uuid()))
        .filter(allocation_history::Column::ValidTo.gt(from))
        .exec(txn)
        .await?;
    user_allocation::Entity::delete_many()
        .filter(user_allocation::Column::TenantId.eq(tenant_id.uuid()))
        .exec(txn)
        .await?;
    for chunk in history_rows.chunks(ROWS_PER_INSERT) {
        allocation_history::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    for chunk in current_rows.chunks(ROWS_PER_INSERT) {
        user_allocation::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    crate::store::history::license_deltas::refresh(txn, tenant_id, Some(from)).await
}

/// Whether a span `[from, to)` (open bounds: `None`) holds `day`.
fn covers(from: Option<NaiveDate>, to: Option<NaiveDate>, day: NaiveDate) -> bool {
    from.is_none_or(|f| f <= day) && to.is_none_or(|t| day < t)
}

/// `[from, to)` cut at the days of `cuts` inside it, in order.
fn pieces_of(
    from: NaiveDate,
    to: NaiveDate,
    mut cuts: Vec<NaiveDate>,
) -> Vec<(NaiveDate, NaiveDate)> {
    cuts.retain(|d| *d > from && *d < to);
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut at = from;
    for cut in cuts {
        out.push((at, cut));
        at = cut;
    }
    out.push((at, to));
    out
}

/// The licenses each user of `tenant_id` held on a day of `[from, to)`, with the days
/// `[from, to)` each was held (open bounds: `None`): the holdings in force (`user_licenses`)
/// and the ended ones (`license_history`). Two statements.
async fn holdings_between(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Holdings, StoreError> {
    let mut held: Holdings = HashMap::new();
    for l in user_license::Entity::find()
        .filter(user_license::Column::TenantId.eq(tenant_id.uuid()))
        .filter(
            sea_orm::Condition::any()
                .add(user_license::Column::HeldFrom.is_null())
                .add(user_license::Column::HeldFrom.lt(to)),
        )
        .all(txn)
        .await?
    {
        let since = l.held_from;
        let l = licenses::to_domain(l)?;
        held.entry(l.user_id).or_default().push((l, since, None));
    }
    for h in license_history::Entity::find()
        .filter(license_history::Column::TenantId.eq(tenant_id.uuid()))
        .filter(license_history::Column::ValidTo.gt(from))
        .filter(
            sea_orm::Condition::any()
                .add(license_history::Column::ValidFrom.is_null())
                .add(license_history::Column::ValidFrom.lt(to)),
        )
        .all(txn)
        .await?
    {
        let license = AssignedLicense {
            user_id: UserId(h.user_id),
            tenant_id,
            sku_id: SkuId(h.sku_id),
            disabled_plans: licenses::disabled_plans_of(
                "license_history",
                h.user_id,
                h.disabled_plans,
            )?,
        };
        held.entry(license.user_id)
            .or_default()
            .push((license, h.valid_from, Some(h.valid_to)));
    }
    Ok(held)
}

/// Licenses per user, each with the days `[from, to)` it was held.
type Holdings = HashMap<UserId, Vec<(AssignedLicense, Option<NaiveDate>, Option<NaiveDate>)>>;

/// The spans of `[from, to)` each version is in force over, with the version; days before the
/// first version get the first.
fn spans(
    versions: &[Version],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<(NaiveDate, NaiveDate, &Version)> {
    let mut out = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let start = if i == 0 {
            from
        } else {
            v.effective_from.max(from)
        };
        let end = versions
            .get(i + 1)
            .map_or(to, |next| next.effective_from.min(to));
        if start < end {
            out.push((start, end, v));
        }
    }
    out
}
