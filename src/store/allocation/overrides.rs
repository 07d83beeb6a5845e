//! The writes behind the override mutations: users placed in cost groups by hand, with their
//! shares. Each checks the user and the cost groups inside its [`TenantWrite`], which
//! re-evaluates the one user, audits and commits. Overrides are read back through `reads`.
//! Each takes an effective day (today when `None`): see [`TenantWrite::effective_from`].

use std::collections::HashSet;

use chrono::NaiveDate;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::reads::list_overrides_of_users_on;
use super::write::TenantWrite;
use crate::domain::allocation::Override;
use crate::domain::audit::AuditChange;
use crate::domain::{TenantId, TenantScope, UserId};
use crate::store::connect::Store;
use crate::store::entities::allocation_override_share::{ActiveModel, Column, Entity};
use crate::store::entities::{allocation_override, cost_group, user};
use crate::store::error::StoreError;
use crate::store::transaction::stored_now;

/// The audit log's view of an override: its shares, in the order given.
pub(super) fn audit_json(o: &Override) -> serde_json::Value {
    let shares: Vec<serde_json::Value> = o
        .shares()
        .iter()
        .map(|s| {
            serde_json::json!({
                "costGroupId": s.cost_group.to_string(),
                "percent": s.percent.normalize().to_string(),
            })
        })
        .collect();
    serde_json::json!({ "shares": shares })
}

/// Who changed which user's override, and how.
struct OverrideChange {
    tenant_id: TenantId,
    actor: String,
    action: &'static str,
    user_id: UserId,
}

/// Records an override change in the audit log, re-evaluates its user and commits.
async fn commit_change(
    mut write: TenantWrite,
    change: OverrideChange,
    before: Option<&Override>,
    after: Option<&Override>,
) -> Result<(), StoreError> {
    write.audit(AuditChange {
        tenant_id: change.tenant_id,
        actor: change.actor,
        action: change.action.to_owned(),
        subject_type: "override".to_owned(),
        subject_id: change.user_id.to_string(),
        before: before.map(audit_json),
        after: after.map(audit_json),
        effective_from: None,
    });
    // An override moves only its own user.
    write.moves_users(&[change.user_id]);
    write.commit().await
}

/// Fails with `NotFound` unless `user_id` is a user of `tenant_id` (and, with `present_only`,
/// not deleted upstream), inside `txn`.
async fn check_user(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    user_id: UserId,
    present_only: bool,
) -> Result<(), StoreError> {
    let mut query = user::Entity::find_by_id(user_id.uuid())
        .filter(user::Column::TenantId.eq(tenant_id.uuid()));
    if present_only {
        query = query.filter(user::Column::DeletedAt.is_null());
    }
    match query.one(txn).await? {
        Some(_) => Ok(()),
        None if present_only => Err(StoreError::NotFound(format!(
            "userId: user {user_id} among the present users of tenant {tenant_id}"
        ))),
        None => Err(StoreError::NotFound(format!(
            "userId: user {user_id} of tenant {tenant_id}"
        ))),
    }
}

/// Fails with `NotFound` naming the first share whose cost group is not a group of `tenant_id`.
async fn check_groups(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    o: &Override,
) -> Result<(), StoreError> {
    let found: HashSet<Uuid> = cost_group::Entity::find()
        .select_only()
        .column(cost_group::Column::Id)
        .filter(cost_group::Column::TenantId.eq(tenant_id.uuid()))
        .filter(cost_group::Column::Id.is_in(o.shares().iter().map(|s| s.cost_group.uuid())))
        .into_tuple::<Uuid>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    match o
        .shares()
        .iter()
        .position(|s| !found.contains(&s.cost_group.uuid()))
    {
        Some(i) => Err(StoreError::NotFound(format!(
            "shares[{i}].costGroupId: cost group {} in tenant {tenant_id}",
            o.shares()[i].cost_group
        ))),
        None => Ok(()),
    }
}

/// Removes the override of `user_id`, if any, and its shares, inside `txn`.
async fn delete_override(txn: &DatabaseTransaction, user_id: UserId) -> Result<(), StoreError> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id.uuid()))
        .exec(txn)
        .await?;
    allocation_override::Entity::delete_many()
        .filter(allocation_override::Column::UserId.eq(user_id.uuid()))
        .exec(txn)
        .await?;
    Ok(())
}

/// Sets the override of a present user of `tenant_id`, replacing any earlier one, in one write
/// transaction that also records the change in the audit log as `actor` and re-evaluates the
/// user. `NotFound` when the tenant is unknown or out of `scope`, the user is not a present
/// user of the tenant, or a share's cost group is not a group of the tenant.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, user_id = %new.user_id()))]
pub async fn set_override(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    actor: String,
    new: Override,
    effective_from: Option<NaiveDate>,
) -> Result<(), StoreError> {
    use sea_orm::ActiveValue::Set;
    let user_id = new.user_id();
    let mut write = TenantWrite::begin(store, scope, tenant_id).await?;
    check_user(write.txn(), tenant_id, user_id, true).await?;
    write.effective_from(effective_from).await?;
    let txn = write.txn();
    check_groups(txn, tenant_id, &new).await?;
    let before = list_overrides_of_users_on(txn, &[user_id]).await?;

    let now = stored_now();
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id.uuid()))
        .exec(txn)
        .await?;
    allocation_override::Entity::insert(allocation_override::ActiveModel {
        user_id: Set(user_id.uuid()),
        tenant_id: Set(tenant_id.uuid()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(allocation_override::Column::UserId)
            .update_column(allocation_override::Column::UpdatedAt)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Entity::insert_many(new.shares().iter().map(|s| ActiveModel {
        user_id: Set(user_id.uuid()),
        cost_group_id: Set(s.cost_group.uuid()),
        tenant_id: Set(tenant_id.uuid()),
        percent: Set(s.percent.normalize().to_string()),
    }))
    .exec_without_returning(txn)
    .await?;

    let change = OverrideChange {
        tenant_id,
        actor,
        action: "setUserAllocation",
        user_id,
    };
    commit_change(write, change, before.first(), Some(&new)).await?;
    Ok(())
}

/// Removes the override of a user of `tenant_id` (present or deleted upstream) in one write
/// transaction that records the change as `actor` and re-evaluates the user. Returns whether
/// there was one; removing none writes nothing, not even an audit entry. `NotFound` when the
/// tenant is unknown or out of `scope`, or the user is not a user of the tenant.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, user_id = %user_id))]
pub async fn clear_override(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    actor: String,
    user_id: UserId,
    effective_from: Option<NaiveDate>,
) -> Result<bool, StoreError> {
    let mut write = TenantWrite::begin(store, scope, tenant_id).await?;
    check_user(write.txn(), tenant_id, user_id, false).await?;
    write.effective_from(effective_from).await?;
    let txn = write.txn();
    let Some(before) = list_overrides_of_users_on(txn, &[user_id])
        .await?
        .into_iter()
        .next()
    else {
        return Ok(false);
    };
    delete_override(txn, user_id).await?;
    let change = OverrideChange {
        tenant_id,
        actor,
        action: "clearUserAllocation",
        user_id,
    };
    commit_change(write, change, Some(&before), None).await?;
    Ok(true)
}
