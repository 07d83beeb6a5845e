//! The writes behind bulk changes (`setUserAllocations`, `createCostGroups` and their CSV
//! uploads): the rows planned by [`crate::domain::allocation::bulk`] against the tenant as it
//! stands inside one [`TenantWrite`], then, unless it is a dry run or a row is rejected, all of
//! them written, audited as one change and committed; otherwise nothing is written.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict, SimpleExpr};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::cost_groups::{audit_json as group_json, to_active};
use super::overrides::audit_json as override_json;
use super::reads::{IDS_PER_STATEMENT, list_cost_groups_on, list_overrides_of_users_on};
use super::write::TenantWrite;
use crate::domain::allocation::bulk::{
    CostGroupPlan, CostGroupRow, OverridePlan, OverrideRow, RejectedRow, UserDirectory, UserRef,
    plan_cost_groups, plan_overrides,
};
use crate::domain::audit::AuditChange;
use crate::domain::{CostGroup, CostGroupId, TenantId, TenantScope, UserId};
use crate::store::connect::Store;
use crate::store::entities::{allocation_override, allocation_override_share, user};
use crate::store::error::StoreError;
use crate::store::transaction::stored_now;

/// Rows per `INSERT`, as many as ids per `IN (…)` list (4 values a row).
const ROWS_PER_STATEMENT: usize = IDS_PER_STATEMENT;

/// A bulk change planned and, when it could be, applied.
#[derive(Debug, Clone)]
pub struct BulkOutcome<P> {
    /// What the rows do.
    pub plan: P,
    /// Whether it was written: not for a dry run, nor when a row is rejected.
    pub applied: bool,
    /// The code of each cost group the plan names that has one, for answers naming groups by
    /// code.
    pub codes: HashMap<CostGroupId, String>,
}

/// Codes of `groups` by id.
fn codes_of<'g>(groups: impl IntoIterator<Item = &'g CostGroup>) -> HashMap<CostGroupId, String> {
    groups
        .into_iter()
        .filter_map(|g| g.code.clone().map(|c| (g.id, c)))
        .collect()
}

/// How a bulk change is made: by whom, from when, and whether only to see what it would do.
#[derive(Debug, Clone)]
pub struct BulkRequest {
    /// The tenant changed.
    pub tenant_id: TenantId,
    /// Who makes the change, for the audit log.
    pub actor: String,
    /// The day it takes effect (today when `None`), as for the single mutations.
    pub effective_from: Option<NaiveDate>,
    /// Plan only; write nothing.
    pub dry_run: bool,
}

/// `Some(applied)` when nothing is to be written: a dry run or a rejected row (not applied), or
/// rows that change nothing (applied, with no audit entry either); `None` to write.
fn unwritten(request: &BulkRequest, rejected: &[RejectedRow], no_changes: bool) -> Option<bool> {
    let applied = !request.dry_run && rejected.is_empty();
    (!applied || no_changes).then_some(applied)
}

/// The present users of `tenant_id` that `rows` name (by id or UPN), inside `write`: a
/// statement per [`IDS_PER_STATEMENT`] ids or UPNs, never the tenant's other users. UPNs are
/// looked up as written and in lower case, on the `(tenant, UPN)` index; those still unfound
/// (stored in another case, or unknown) once more by their lower case, which the database
/// answers from the tenant's rows without that index (Entra UPNs are ASCII, which SQLite's
/// `lower` folds as Rust does).
async fn named_users(
    write: &TenantWrite,
    tenant_id: TenantId,
    rows: &[OverrideRow],
) -> Result<UserDirectory, StoreError> {
    let mut ids: Vec<Uuid> = Vec::new();
    let mut written: Vec<String> = Vec::new();
    for row in rows {
        match &row.user {
            UserRef::Id(id) => ids.push(id.uuid()),
            UserRef::Upn(upn) => written.extend([upn.clone(), upn.to_lowercase()]),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    written.sort_unstable();
    written.dedup();
    let by_id = ids
        .chunks(IDS_PER_STATEMENT)
        .map(|c| user::Column::Id.is_in(c.iter().copied()));
    let by_upn = written
        .chunks(IDS_PER_STATEMENT)
        .map(|c| user::Column::UserPrincipalName.is_in(c.iter().cloned()));
    let mut found: Vec<(Uuid, String)> = Vec::new();
    for condition in by_id.chain(by_upn) {
        found.extend(present_users_where(write, tenant_id, condition).await?);
    }
    let known: HashSet<String> = found.iter().map(|(_, upn)| upn.to_lowercase()).collect();
    let mut unfound: Vec<String> = written
        .iter()
        .map(|upn| upn.to_lowercase())
        .filter(|upn| !known.contains(upn))
        .collect();
    unfound.sort_unstable();
    unfound.dedup();
    let upn = Expr::col((user::Entity, user::Column::UserPrincipalName));
    for chunk in unfound.chunks(IDS_PER_STATEMENT) {
        let by_lower = Expr::expr(Func::lower(upn.clone())).is_in(chunk.iter().cloned());
        found.extend(present_users_where(write, tenant_id, by_lower).await?);
    }
    let mut directory = UserDirectory::default();
    for (id, upn) in found {
        directory.by_upn.insert(upn.to_lowercase(), UserId(id));
        directory.upn_of.insert(UserId(id), upn);
    }
    Ok(directory)
}

/// The id and UPN of the present users of `tenant_id` that `condition` holds for.
async fn present_users_where(
    write: &TenantWrite,
    tenant_id: TenantId,
    condition: SimpleExpr,
) -> Result<Vec<(Uuid, String)>, StoreError> {
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::UserPrincipalName)
        .filter(user::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user::Column::DeletedAt.is_null())
        .filter(condition)
        .into_tuple()
        .all(write.txn())
        .await?)
}

/// Plans `rows` of overrides against `request.tenant_id` as it stands and, unless it is a dry
/// run or a row is rejected, replaces the named users' overrides (a row without a cost group
/// removes one) in one write transaction, audited as one `setUserAllocations` change with its
/// row count, re-evaluating the users changed. `NotFound` for a tenant unknown or out of
/// `scope`; `Conflict` for an effective day in a closed month.
#[tracing::instrument(skip_all, fields(tenant_id = %request.tenant_id, rows = rows.len()))]
pub async fn set_overrides(
    store: &Store,
    scope: &TenantScope,
    request: BulkRequest,
    rows: &[OverrideRow],
) -> Result<BulkOutcome<OverridePlan>, StoreError> {
    let tenant_id = request.tenant_id;
    let mut write = TenantWrite::begin(store, scope, tenant_id).await?;
    let day = write.check_effective_from(request.effective_from).await?;
    let users = named_users(&write, tenant_id, rows).await?;
    let groups = list_cost_groups_on(write.txn(), &[tenant_id]).await?;
    let named: Vec<UserId> = users.upn_of.keys().copied().collect();
    let current = list_overrides_of_users_on(write.txn(), &named)
        .await?
        .into_iter()
        .map(|o| (o.user_id(), o))
        .collect();
    let plan = plan_overrides(rows, &users, &groups, &current);
    let codes = codes_of(&groups);
    if let Some(applied) = unwritten(&request, &plan.rejected, plan.changes.is_empty()) {
        return Ok(BulkOutcome {
            plan,
            applied,
            codes,
        });
    }
    write.dated_from(day).await?;
    write_overrides(&write, tenant_id, &plan).await?;
    let changed: Vec<UserId> = plan.changes.iter().map(|c| c.user_id).collect();
    let entries = |after: bool| -> serde_json::Map<String, serde_json::Value> {
        plan.changes
            .iter()
            .map(|c| {
                let o = if after { &c.after } else { &c.before };
                let value = o.as_ref().map_or(serde_json::Value::Null, override_json);
                (c.user_id.to_string(), value)
            })
            .collect()
    };
    write.audit(AuditChange {
        tenant_id,
        actor: request.actor,
        action: "setUserAllocations".to_owned(),
        subject_type: "overrides".to_owned(),
        subject_id: tenant_id.to_string(),
        before: Some(serde_json::json!({ "overrides": entries(false) })),
        after: Some(serde_json::json!({
            "rows": plan.rows,
            "changed": plan.changes.len(),
            "unchanged": plan.unchanged,
            "overrides": entries(true),
        })),
        effective_from: None,
    });
    write.moves_users(&changed);
    write.commit().await?;
    Ok(BulkOutcome {
        plan,
        applied: true,
        codes,
    })
}

/// Replaces the overrides of the users `plan` changes, a statement per thousand rows.
async fn write_overrides(
    write: &TenantWrite,
    tenant_id: TenantId,
    plan: &OverridePlan,
) -> Result<(), StoreError> {
    use sea_orm::ActiveValue::Set;
    let txn = write.txn();
    let now = stored_now();
    for chunk in plan.changes.chunks(ROWS_PER_STATEMENT) {
        let ids = chunk.iter().map(|c| c.user_id.uuid());
        allocation_override_share::Entity::delete_many()
            .filter(allocation_override_share::Column::UserId.is_in(ids.clone()))
            .exec(txn)
            .await?;
        let cleared: Vec<Uuid> = chunk
            .iter()
            .filter(|c| c.after.is_none())
            .map(|c| c.user_id.uuid())
            .collect();
        if !cleared.is_empty() {
            allocation_override::Entity::delete_many()
                .filter(allocation_override::Column::UserId.is_in(cleared))
                .exec(txn)
                .await?;
        }
        let set: Vec<_> = chunk.iter().filter_map(|c| c.after.as_ref()).collect();
        if set.is_empty() {
            continue;
        }
        allocation_override::Entity::insert_many(set.iter().map(|o| {
            allocation_override::ActiveModel {
                user_id: Set(o.user_id().uuid()),
                tenant_id: Set(tenant_id.uuid()),
                created_at: Set(now),
                updated_at: Set(now),
            }
        }))
        .on_conflict(
            OnConflict::column(allocation_override::Column::UserId)
                .update_column(allocation_override::Column::UpdatedAt)
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        let shares: Vec<allocation_override_share::ActiveModel> = set
            .iter()
            .flat_map(|o| {
                o.shares()
                    .iter()
                    .map(|s| allocation_override_share::ActiveModel {
                        user_id: Set(o.user_id().uuid()),
                        cost_group_id: Set(s.cost_group.uuid()),
                        tenant_id: Set(tenant_id.uuid()),
                        percent: Set(s.percent.normalize().to_string()),
                    })
            })
            .collect();
        for part in shares.chunks(ROWS_PER_STATEMENT) {
            allocation_override_share::Entity::insert_many(part.to_vec())
                .exec_without_returning(txn)
                .await?;
        }
    }
    Ok(())
}

/// Plans `rows` of cost groups against `request.tenant_id` as it stands and, unless it is a
/// dry run or a row is rejected, creates and updates the groups in one write transaction,
/// audited as one `createCostGroups` change with its row count. Errors as for
/// [`set_overrides`].
#[tracing::instrument(skip_all, fields(tenant_id = %request.tenant_id, rows = rows.len()))]
pub async fn set_cost_groups(
    store: &Store,
    scope: &TenantScope,
    request: BulkRequest,
    rows: &[CostGroupRow],
) -> Result<BulkOutcome<CostGroupPlan>, StoreError> {
    let tenant_id = request.tenant_id;
    let mut write = TenantWrite::begin(store, scope, tenant_id).await?;
    let day = write.check_effective_from(request.effective_from).await?;
    let groups = list_cost_groups_on(write.txn(), &[tenant_id]).await?;
    let plan = plan_cost_groups(
        tenant_id,
        rows,
        &groups,
        || CostGroupId(Uuid::new_v4()),
        stored_now(),
    );
    let codes = codes_of(groups.iter().chain(plan.changes.iter().map(|c| &c.after)));
    if let Some(applied) = unwritten(&request, &plan.rejected, plan.changes.is_empty()) {
        return Ok(BulkOutcome {
            plan,
            applied,
            codes,
        });
    }
    write.dated_from(day).await?;
    // Parents come first: a created group's parent exists when it is inserted.
    for change in &plan.changes {
        let row = to_active(&change.after);
        match change.before {
            None => row.insert(write.txn()).await?,
            Some(_) => row.update(write.txn()).await?,
        };
    }
    let entries = |after: bool| -> serde_json::Map<String, serde_json::Value> {
        plan.changes
            .iter()
            .map(|c| {
                let g = if after {
                    Some(&c.after)
                } else {
                    c.before.as_ref()
                };
                let value = g.map_or(serde_json::Value::Null, group_json);
                (c.after.id.to_string(), value)
            })
            .collect()
    };
    let created = plan.changes.iter().filter(|c| c.before.is_none()).count();
    write.audit(AuditChange {
        tenant_id,
        actor: request.actor,
        action: "createCostGroups".to_owned(),
        subject_type: "costGroups".to_owned(),
        subject_id: tenant_id.to_string(),
        before: Some(serde_json::json!({ "costGroups": entries(false) })),
        after: Some(serde_json::json!({
            "rows": plan.rows,
            "created": created,
            "updated": plan.changes.len() - created,
            "unchanged": plan.unchanged,
            "costGroups": entries(true),
        })),
        effective_from: None,
    });
    write.commit().await?;
    Ok(BulkOutcome {
        plan,
        applied: true,
        codes,
    })
}
