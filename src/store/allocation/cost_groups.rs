//! The writes behind the cost group mutations. Each checks the tree rules of
//! [`crate::domain::cost_group`] inside its [`TenantWrite`]; a delete that reassigns members
//! re-evaluates the tenant. Each takes an effective day (today when `None`): the tree is
//! versioned with the rules and overrides (see [`TenantWrite::effective_from`]). Cost groups
//! are read back through `reads`.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::configurations::rule_row;
use super::reads::{cost_group_of_row, list_rule_entries_of_tenant_on, target_rows};
use super::write::TenantWrite;
use crate::domain::allocation::{Configuration, Override, moved_shares};
use crate::domain::audit::AuditChange;
use crate::domain::cost_group::{CostGroupError, check_tree};
use crate::domain::{CostGroup, CostGroupId, TenantId, TenantScope};
use crate::store::connect::Store;
use crate::store::entities::cost_group::{self, Column, Entity};
use crate::store::entities::{allocation_override_share, allocation_rule_target, user_allocation};
use crate::store::error::StoreError;
use crate::store::history;
use crate::store::transaction::stored_now;

/// The stored form of a cost group, for inserts and updates.
pub(super) fn to_active(g: &CostGroup) -> cost_group::ActiveModel {
    use sea_orm::ActiveValue::Set;
    cost_group::ActiveModel {
        id: Set(g.id.uuid()),
        tenant_id: Set(g.tenant_id.uuid()),
        parent_id: Set(g.parent_id.map(CostGroupId::uuid)),
        name: Set(g.name.clone()),
        code: Set(g.code.clone()),
        description: Set(g.description.clone()),
        created_at: Set(g.created_at),
        updated_at: Set(g.updated_at),
    }
}

/// A cost group to create; its values are already checked by the `parse_*` functions of
/// [`crate::domain::cost_group`].
#[derive(Debug, Clone)]
pub struct NewCostGroup {
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Its parent, a group of the same tenant; `None` for a root.
    pub parent_id: Option<CostGroupId>,
    /// Trimmed name.
    pub name: String,
    /// Trimmed code.
    pub code: Option<String>,
    /// Trimmed description.
    pub description: Option<String>,
}

/// Changes to a cost group; `None` leaves a value as it is. Values are already checked.
#[derive(Debug, Clone, Default)]
pub struct CostGroupChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new code, or `Some(None)` to remove it.
    pub code: Option<Option<String>>,
    /// A new description, or `Some(None)` to remove it.
    pub description: Option<Option<String>>,
    /// A new parent, or `Some(None)` to make the group a root.
    pub parent_id: Option<Option<CostGroupId>>,
}

/// Every cost group of one tenant, inside `txn`.
async fn list_in_txn(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
) -> Result<Vec<CostGroup>, StoreError> {
    let rows = Entity::find()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .order_by_asc(Column::Id)
        .all(txn)
        .await?;
    Ok(rows.into_iter().map(cost_group_of_row).collect())
}

/// The tenant of cost group `id`, when the group exists in a tenant of `scope`.
async fn tenant_of(
    txn: &DatabaseTransaction,
    scope: &TenantScope,
    id: CostGroupId,
) -> Result<TenantId, StoreError> {
    let mut query = Entity::find_by_id(id.uuid());
    if let TenantScope::Only(tenants) = scope {
        query = query.filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())));
    }
    query
        .one(txn)
        .await?
        .map(|m| TenantId(m.tenant_id))
        .ok_or_else(|| StoreError::NotFound(format!("cost group {id}")))
}

/// Begins a write to the tenant of cost group `id` and reads the tenant's groups once no other
/// writer can change them; returns the write, the groups and where `id` is among them.
/// `NotFound` when the group is unknown or out of `scope`.
pub(super) async fn lock_group(
    store: &Store,
    scope: &TenantScope,
    id: CostGroupId,
) -> Result<(TenantWrite, Vec<CostGroup>, usize), StoreError> {
    let txn = store.begin_write().await?;
    let tenant_id = tenant_of(&txn, scope, id).await?;
    let write = TenantWrite::lock(store, txn, scope, tenant_id).await?;
    let groups = list_in_txn(write.txn(), tenant_id).await?;
    let index = groups
        .iter()
        .position(|g| g.id == id)
        .ok_or_else(|| StoreError::NotFound(format!("cost group {id}")))?;
    Ok((write, groups, index))
}

/// Fails with `NotFound` unless `parent` is one of `groups` (the tenant's groups).
fn check_parent(groups: &[CostGroup], parent: Option<CostGroupId>) -> Result<(), StoreError> {
    match parent {
        Some(p) if !groups.iter().any(|g| g.id == p) => {
            Err(StoreError::NotFound(format!("parent cost group {p}")))
        }
        _ => Ok(()),
    }
}

/// Creates a cost group in one write transaction. `NotFound` when the tenant is unknown or out
/// of `scope`, or the parent is not a group of the tenant; `CostGroup` when a tree rule breaks.
#[tracing::instrument(skip_all, fields(tenant_id = %new.tenant_id))]
pub async fn create_cost_group(
    store: &Store,
    scope: &TenantScope,
    actor: &str,
    new: NewCostGroup,
    effective_from: Option<NaiveDate>,
) -> Result<CostGroup, StoreError> {
    let mut write = TenantWrite::begin(store, scope, new.tenant_id).await?;
    write.effective_from(effective_from).await?;
    let txn = write.txn();
    let mut groups = list_in_txn(txn, new.tenant_id).await?;
    check_parent(&groups, new.parent_id)?;
    let now = stored_now();
    let group = CostGroup {
        id: CostGroupId(Uuid::new_v4()),
        tenant_id: new.tenant_id,
        parent_id: new.parent_id,
        name: new.name,
        code: new.code,
        description: new.description,
        created_at: now,
        updated_at: now,
    };
    groups.insert(0, group.clone());
    check_tree(&groups)?;
    to_active(&group).insert(txn).await?;
    write.audit(change_of(
        actor,
        "createCostGroup",
        &group,
        None,
        Some(&group),
    ));
    write.commit().await?;
    Ok(group)
}

/// Changes a cost group in one write transaction. `NotFound` when the group is unknown or out of
/// `scope`, or a new parent is not a group of its tenant; `CostGroup` when a tree rule breaks
/// (a move under itself or a descendant, depth, a clash).
#[tracing::instrument(skip_all, fields(cost_group_id = %id))]
pub async fn update_cost_group(
    store: &Store,
    scope: &TenantScope,
    actor: &str,
    id: CostGroupId,
    changes: CostGroupChanges,
    effective_from: Option<NaiveDate>,
) -> Result<CostGroup, StoreError> {
    let (mut write, mut groups, index) = lock_group(store, scope, id).await?;
    write.effective_from(effective_from).await?;
    if changes
        .parent_id
        .is_none_or(|parent| parent == groups[index].parent_id)
    {
        // The tree stands, so every subtree's amount and budget does.
        write.moves_no_amount();
    }
    let txn = write.txn();
    if let Some(parent) = changes.parent_id {
        // Checked before the group leaves the list: a move under itself is a cycle, not unknown.
        check_parent(&groups, parent)?;
    }
    let mut group = groups.remove(index);
    let before = group.clone();
    if let Some(parent) = changes.parent_id {
        group.parent_id = parent;
    }
    if let Some(name) = changes.name {
        group.name = name;
    }
    if let Some(code) = changes.code {
        group.code = code;
    }
    if let Some(description) = changes.description {
        group.description = description;
    }
    group.updated_at = stored_now();
    groups.insert(0, group.clone());
    check_tree(&groups)?;
    to_active(&group).update(txn).await?;
    write.audit(change_of(
        actor,
        "updateCostGroup",
        &group,
        Some(&before),
        Some(&group),
    ));
    write.commit().await?;
    Ok(group)
}

/// Deletes a cost group in one write transaction and returns its id.
///
/// While children, members (users the stored evaluation or an override places there) or
/// allocation rules point at the group, the delete is refused (`CostGroup(InUse)`) unless
/// `reassign_to` names another group of the same tenant: then children move under that group
/// (the tree rules are checked after the move), rules target it, and override shares go to it
/// (added to a share the user already has there), and the tenant is re-evaluated.
/// `NotFound` when the group or `reassign_to` is unknown or of another tenant. For a later day
/// the tables stay as they are: the group goes, and what points at it moves, on that day.
#[tracing::instrument(skip_all, fields(cost_group_id = %id))]
pub async fn delete_cost_group(
    store: &Store,
    scope: &TenantScope,
    actor: &str,
    id: CostGroupId,
    reassign_to: Option<CostGroupId>,
    effective_from: Option<NaiveDate>,
) -> Result<CostGroupId, StoreError> {
    let (mut write, mut groups, index) = lock_group(store, scope, id).await?;
    // Rules and overrides moved to `reassign_to` move from that day on.
    let day = write.effective_from(effective_from).await?;
    let txn = write.txn();
    let group = groups.remove(index);
    if reassign_to == Some(id) {
        return Err(CostGroupError::ReassignToSelf { name: group.name }.into());
    }
    if let Some(target) = reassign_to
        && !groups.iter().any(|g| g.id == target)
    {
        return Err(StoreError::NotFound(format!(
            "reassignTo cost group {target}"
        )));
    }
    let children = groups.iter().filter(|g| g.parent_id == Some(id)).count();
    let members = members_of(txn, id).await?;
    let rules = allocation_rule_target::Entity::find()
        .filter(allocation_rule_target::Column::CostGroupId.eq(id.uuid()))
        .count(txn)
        .await? as usize;
    let mut change = change_of(actor, "deleteCostGroup", &group, Some(&group), None);
    match reassign_to {
        None if children + members + rules > 0 => {
            return Err(CostGroupError::InUse {
                name: group.name,
                children,
                members,
                rules,
            }
            .into());
        }
        None => {}
        Some(target) if day > history::today() => {
            let overrides = members_of_overrides(write.configuration_before(), id);
            if let Some(serde_json::Value::Object(before)) = change.before.as_mut() {
                before.insert(
                    "reassigned".to_owned(),
                    moved_json(target, children, members, rules, overrides),
                );
            }
        }
        Some(target) => {
            let overrides = reassign(txn, &mut groups, &group, target).await?;
            if let Some(serde_json::Value::Object(before)) = change.before.as_mut() {
                before.insert(
                    "reassigned".to_owned(),
                    moved_json(target, children, members, rules, overrides),
                );
            }
        }
    }
    if day > history::today() {
        let before = write.configuration_before().cloned().unwrap_or_default();
        write.schedule(deleted_from(before, id, reassign_to)?);
    } else {
        // A backdated delete moves the days since too; one of today, what was reassigned.
        if reassign_to.is_some() || day < history::today() {
            write.moves_tenant();
        }
        delete_row(write.txn(), group.tenant_id, id).await?;
    }
    write.audit(change);
    write.commit().await?;
    Ok(id)
}

/// What the audit log records of what a delete moved to `target`.
fn moved_json(
    target: CostGroupId,
    children: usize,
    members: usize,
    rules: usize,
    overrides: usize,
) -> serde_json::Value {
    serde_json::json!({
        "reassignTo": target.to_string(),
        "children": children,
        "members": members,
        "rules": rules,
        "overrides": overrides,
    })
}

/// The overrides of `configuration` with a share of `id`.
fn members_of_overrides(configuration: Option<&Configuration>, id: CostGroupId) -> usize {
    configuration.map_or(0, |c| {
        c.overrides
            .iter()
            .filter(|o| o.shares().iter().any(|s| s.cost_group == id))
            .count()
    })
}

/// `configuration` without cost group `id`: its children, the rules targeting it and the
/// override shares of it moved to `target` (a share added to the user's share of `target`).
fn deleted_from(
    mut configuration: Configuration,
    id: CostGroupId,
    target: Option<CostGroupId>,
) -> Result<Configuration, StoreError> {
    configuration.groups.retain(|g| g.id != id);
    let Some(target) = target else {
        return Ok(configuration);
    };
    let now = stored_now();
    for g in configuration
        .groups
        .iter_mut()
        .filter(|g| g.parent_id == Some(id))
    {
        g.parent_id = Some(target);
        g.updated_at = now;
    }
    for e in configuration
        .rules
        .iter_mut()
        .filter(|e| e.rule.targets_group(id))
    {
        e.rule.targets = moved_shares(&e.rule.targets, id, target);
        e.updated_at = now;
    }
    for o in &mut configuration.overrides {
        if !o.shares().iter().any(|s| s.cost_group == id) {
            continue;
        }
        let shares = moved_shares(o.shares(), id, target);
        let user = o.user_id();
        *o = Override::new(user, shares).map_err(|e| StoreError::Corrupt {
            table: "allocation_configurations",
            detail: format!("override of user {user}: {e}"),
        })?;
    }
    Ok(configuration)
}

/// Moves what points at `from` to `to`, inside `txn`: children (under the tree rules, checked on
/// `groups`, the tenant's other groups), rules and override shares; the stored allocation rows
/// of `from` go (the tenant is re-evaluated). Returns the overrides changed.
async fn reassign(
    txn: &DatabaseTransaction,
    groups: &mut [CostGroup],
    from: &CostGroup,
    to: CostGroupId,
) -> Result<usize, StoreError> {
    let id = from.id;
    if groups.iter().any(|g| g.parent_id == Some(id)) {
        for g in groups.iter_mut() {
            if g.parent_id == Some(id) {
                g.parent_id = Some(to);
            }
        }
        // Moved children first, so an error names one of them.
        groups.sort_by_key(|g| g.parent_id != Some(to));
        check_tree(groups)?;
        Entity::update_many()
            .col_expr(Column::ParentId, Expr::value(Some(to.uuid())))
            .col_expr(Column::UpdatedAt, Expr::value(stored_now()))
            .filter(Column::TenantId.eq(from.tenant_id.uuid()))
            .filter(Column::ParentId.eq(id.uuid()))
            .exec(txn)
            .await?;
    }
    reassign_rule_targets(txn, from.tenant_id, id, to).await?;
    let overrides = reassign_override_shares(txn, id, to).await?;
    let placed = user_allocation::Entity::find()
        .filter(user_allocation::Column::CostGroupId.eq(id.uuid()))
        .all(txn)
        .await?;
    history::allocations::archive(txn, &placed.iter().collect::<Vec<_>>(), history::today())
        .await?;
    user_allocation::Entity::delete_many()
        .filter(user_allocation::Column::CostGroupId.eq(id.uuid()))
        .exec(txn)
        .await?;
    Ok(overrides)
}

/// Moves the targets of `from` of the rules of `tenant_id` to `to` (merged into a target of
/// `to` a split rule already has), inside `txn`.
async fn reassign_rule_targets(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    from: CostGroupId,
    to: CostGroupId,
) -> Result<(), StoreError> {
    let now = stored_now();
    let rules = list_rule_entries_of_tenant_on(txn, tenant_id).await?;
    for mut entry in rules.into_iter().filter(|e| e.rule.targets_group(from)) {
        entry.rule.targets = moved_shares(&entry.rule.targets, from, to);
        entry.updated_at = now;
        allocation_rule_target::Entity::delete_many()
            .filter(allocation_rule_target::Column::RuleId.eq(entry.rule.id.uuid()))
            .exec(txn)
            .await?;
        rule_row(&entry).update(txn).await?;
        allocation_rule_target::Entity::insert_many(target_rows(&entry.rule))
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

async fn delete_row(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    id: CostGroupId,
) -> Result<(), StoreError> {
    Entity::delete_many()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .filter(Column::Id.eq(id.uuid()))
        .exec(txn)
        .await?;
    Ok(())
}

/// Users placed in `id` by the stored evaluation or by an override (of a user deleted upstream,
/// too), each once.
async fn members_of(txn: &DatabaseTransaction, id: CostGroupId) -> Result<usize, StoreError> {
    let mut users: HashSet<Uuid> = user_allocation::Entity::find()
        .select_only()
        .column(user_allocation::Column::UserId)
        .filter(user_allocation::Column::CostGroupId.eq(id.uuid()))
        .into_tuple::<Uuid>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    users.extend(
        allocation_override_share::Entity::find()
            .select_only()
            .column(allocation_override_share::Column::UserId)
            .filter(allocation_override_share::Column::CostGroupId.eq(id.uuid()))
            .into_tuple::<Uuid>()
            .all(txn)
            .await?,
    );
    Ok(users.len())
}

/// Moves every override share of `from` to `to`, adding it to the user's share of `to` when
/// there is one (the user's shares still sum to 100). Returns the overrides changed.
async fn reassign_override_shares(
    txn: &DatabaseTransaction,
    from: CostGroupId,
    to: CostGroupId,
) -> Result<usize, StoreError> {
    use allocation_override_share::{Column as Share, Entity as Shares};
    let moving = Shares::find()
        .filter(Share::CostGroupId.eq(from.uuid()))
        .all(txn)
        .await?;
    if moving.is_empty() {
        return Ok(0);
    }
    let users: Vec<Uuid> = moving.iter().map(|s| s.user_id).collect();
    let existing: HashMap<Uuid, allocation_override_share::Model> = Shares::find()
        .filter(Share::CostGroupId.eq(to.uuid()))
        .filter(Share::UserId.is_in(users.iter().copied()))
        .all(txn)
        .await?
        .into_iter()
        .map(|s| (s.user_id, s))
        .collect();
    Shares::delete_many()
        .filter(Share::CostGroupId.eq(from.uuid()))
        .exec(txn)
        .await?;
    for share in &moving {
        let percent = parse_percent(&share.percent)?;
        match existing.get(&share.user_id) {
            Some(kept) => {
                let sum = parse_percent(&kept.percent)? + percent;
                Shares::update_many()
                    .col_expr(Share::Percent, Expr::value(sum.normalize().to_string()))
                    .filter(Share::UserId.eq(share.user_id))
                    .filter(Share::CostGroupId.eq(to.uuid()))
                    .exec(txn)
                    .await?;
            }
            None => {
                let mut moved: allocation_override_share::ActiveModel = share.clone().into();
                moved.cost_group_id = sea_orm::ActiveValue::Set(to.uuid());
                Shares::insert(moved).exec_without_returning(txn).await?;
            }
        }
    }
    Ok(moving.len())
}

fn parse_percent(text: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(text).map_err(|e| StoreError::Corrupt {
        table: "allocation_override_shares",
        detail: format!("percent {text:?}: {e}"),
    })
}

/// The audit values of a cost group.
pub(super) fn audit_json(g: &CostGroup) -> serde_json::Value {
    serde_json::json!({
        "name": g.name,
        "code": g.code,
        "description": g.description,
        "parentId": g.parent_id.map(|p| p.to_string()),
    })
}

/// The audit record of a change to `group`, with its values before and after.
fn change_of(
    actor: &str,
    action: &str,
    group: &CostGroup,
    before: Option<&CostGroup>,
    after: Option<&CostGroup>,
) -> AuditChange {
    AuditChange {
        tenant_id: group.tenant_id,
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject_type: "costGroup".to_owned(),
        subject_id: group.id.to_string(),
        before: before.map(audit_json),
        after: after.map(audit_json),
        effective_from: None,
    }
}
