//! The writes behind the allocation rule mutations. Every write checks its input, then goes
//! through [`TenantWrite`]: the tenant locked, the rule written, the tenant re-evaluated (a rule
//! can move any user), the change audited, committed. Rules are read back through `reads`.
//! Each takes an effective day (today when `None`): see [`TenantWrite::effective_from`].

use std::collections::HashSet;

use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};

use super::configurations::rule_row;
use super::reads::{
    conditions_json, list_rule_entries_of_tenant_on, rule_entry_of_row, scoped_rules, target_rows,
    targets_of_rows,
};
use super::write::TenantWrite;
use crate::domain::allocation::{
    AllocationRule, AllocationRuleEntry, Condition, Share, check_managers, check_rule_order,
    check_targets, named_managers, validate_conditions,
};
use crate::domain::audit::AuditChange;
use crate::domain::{AllocationRuleId, TenantId, TenantScope, UserId};
use crate::store::connect::Store;
use crate::store::entities::allocation_rule::{Column, Entity};
use crate::store::entities::{allocation_rule_target, cost_group, user};
use crate::store::error::StoreError;
use crate::store::transaction::stored_now;

/// A rule as the audit log records it.
fn audit_json(rule: &AllocationRule) -> serde_json::Value {
    serde_json::json!({
        "id": rule.id.to_string(),
        "costGroupId": rule.first_target().map(|g| g.to_string()),
        "targets": rule
            .targets
            .iter()
            .map(|t| serde_json::json!({
                "costGroupId": t.cost_group.to_string(),
                "percent": t.percent.normalize().to_string(),
            }))
            .collect::<Vec<_>>(),
        "priority": rule.priority,
        "enabled": rule.enabled,
        "conditions": conditions_json(&rule.conditions),
    })
}

/// The rule `id` inside `txn`, when it exists in a tenant of `scope`.
async fn get_rule_on(
    txn: &DatabaseTransaction,
    scope: &TenantScope,
    id: AllocationRuleId,
) -> Result<AllocationRuleEntry, StoreError> {
    let (row, targets) = scoped_rules(scope, &[id])
        .find_with_related(allocation_rule_target::Entity)
        .all(txn)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::NotFound(format!("allocation rule {id}")))?;
    let targets = targets_of_rows(row.id, targets)?;
    rule_entry_of_row(row, targets)
}

/// Begins a write to the tenant of rule `id`, and reads the rule as it stands once no other
/// writer can change it. `NotFound` when the rule is unknown or out of `scope`.
async fn lock_rule(
    store: &Store,
    scope: &TenantScope,
    id: AllocationRuleId,
) -> Result<(TenantWrite, AllocationRuleEntry), StoreError> {
    let txn = store.begin_write().await?;
    let tenant_id = get_rule_on(&txn, scope, id).await?.rule.tenant_id;
    let write = TenantWrite::lock(store, txn, scope, tenant_id).await?;
    // Read again under the lock: another writer may have changed it in between.
    let rule = get_rule_on(write.txn(), scope, id).await?;
    Ok((write, rule))
}

/// Fails with `NotFound` unless every target of `rule` is a cost group of its tenant, naming
/// the first that is not (`input.costGroupId` for a single-target rule, `input.targets[i]`
/// for a split one); a group of another tenant reads as unknown. One statement.
async fn check_targets_exist(
    txn: &DatabaseTransaction,
    rule: &AllocationRule,
) -> Result<(), StoreError> {
    let found: HashSet<uuid::Uuid> = cost_group::Entity::find()
        .select_only()
        .column(cost_group::Column::Id)
        .filter(cost_group::Column::TenantId.eq(rule.tenant_id.uuid()))
        .filter(cost_group::Column::Id.is_in(rule.targets.iter().map(|t| t.cost_group.uuid())))
        .into_tuple()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    match rule
        .targets
        .iter()
        .position(|t| !found.contains(&t.cost_group.uuid()))
    {
        None => Ok(()),
        Some(i) => {
            let field = if rule.is_split() {
                format!("input.targets[{i}].costGroupId")
            } else {
                "input.costGroupId".to_owned()
            };
            Err(StoreError::NotFound(format!(
                "{field}: cost group {}",
                rule.targets[i].cost_group
            )))
        }
    }
}

/// Writes the target rows of `rule`, replacing any it had, inside `txn`.
async fn write_targets(txn: &DatabaseTransaction, rule: &AllocationRule) -> Result<(), StoreError> {
    allocation_rule_target::Entity::delete_many()
        .filter(allocation_rule_target::Column::RuleId.eq(rule.id.uuid()))
        .exec(txn)
        .await?;
    allocation_rule_target::Entity::insert_many(target_rows(rule))
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The users of `ids` that are present users of `tenant_id`, on `conn`; one statement, none
/// when `ids` is empty.
pub(super) async fn present_users_among(
    conn: &impl sea_orm::ConnectionTrait,
    tenant_id: TenantId,
    ids: &[UserId],
) -> Result<HashSet<UserId>, StoreError> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let found: Vec<uuid::Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::Id.is_in(ids.iter().map(|u| u.uuid())))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(found.into_iter().map(UserId).collect())
}

/// The users named by `manager` conditions of `conditions` that are present users of
/// `tenant_id`: what a preview checks its proposed rules against. One statement.
pub async fn present_managers_of_tenant(
    store: &Store,
    tenant_id: TenantId,
    conditions: &[Condition],
) -> Result<HashSet<UserId>, StoreError> {
    present_users_among(store.db(), tenant_id, &named_managers(conditions)).await
}

/// Fails with `Rule` naming the condition when a `manager` value of `conditions` is not a
/// present user of `tenant_id`.
async fn check_named_managers(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    conditions: &[Condition],
) -> Result<(), StoreError> {
    let known = present_users_among(txn, tenant_id, &named_managers(conditions)).await?;
    check_managers(conditions, |m| known.contains(&m))?;
    Ok(())
}

/// Records `change`, re-evaluates the whole tenant (a rule can move any user) and commits.
async fn commit_change(mut write: TenantWrite, change: AuditChange) -> Result<(), StoreError> {
    write.audit(change);
    write.moves_tenant();
    write.commit().await
}

/// The audit record of a change to `rule`, with its values before and after.
fn rule_change(
    actor: &str,
    action: &str,
    rule: &AllocationRule,
    before: Option<&AllocationRule>,
    after: Option<&AllocationRule>,
) -> AuditChange {
    AuditChange {
        tenant_id: rule.tenant_id,
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject_type: "allocationRule".to_owned(),
        subject_id: rule.id.to_string(),
        before: before.map(audit_json),
        after: after.map(audit_json),
        effective_from: None,
    }
}

/// Creates `rule` as the last of its tenant's rules (its `priority` is replaced by one more than
/// the highest) and re-evaluates the tenant, in one write transaction. `Rule` when the rule is
/// invalid or a `manager` value is not a present user of the tenant; `NotFound` when the tenant
/// is unknown or out of `scope`, or the target is not a cost group of the tenant.
#[tracing::instrument(skip_all, fields(tenant_id = %rule.tenant_id))]
pub async fn create_rule(
    store: &Store,
    scope: &TenantScope,
    actor: &str,
    mut rule: AllocationRule,
    effective_from: Option<NaiveDate>,
) -> Result<AllocationRuleEntry, StoreError> {
    rule.validate()?;
    let mut write = TenantWrite::begin(store, scope, rule.tenant_id).await?;
    write.effective_from(effective_from).await?;
    let txn = write.txn();
    check_targets_exist(txn, &rule).await?;
    check_named_managers(txn, rule.tenant_id, &rule.conditions).await?;
    let last: Option<i32> = Entity::find()
        .select_only()
        .expr(Column::Priority.max())
        .filter(Column::TenantId.eq(rule.tenant_id.uuid()))
        .into_tuple::<Option<i32>>()
        .one(txn)
        .await?
        .flatten();
    rule.priority = last.map_or(0, |p| p.saturating_add(1));
    let now = stored_now();
    let entry = AllocationRuleEntry {
        rule,
        created_at: now,
        updated_at: now,
    };
    rule_row(&entry).insert(txn).await?;
    write_targets(txn, &entry.rule).await?;
    let change = rule_change(
        actor,
        "createAllocationRule",
        &entry.rule,
        None,
        Some(&entry.rule),
    );
    commit_change(write, change).await?;
    Ok(entry)
}

/// Changes to a rule; `None` leaves a value as it is.
#[derive(Debug, Clone, Default)]
pub struct AllocationRuleChanges {
    /// New targets, cost groups of the rule's tenant: one share of 100, or a split checked as
    /// [`check_targets`] does.
    pub targets: Option<Vec<Share>>,
    /// New conditions, replacing all of them.
    pub conditions: Option<Vec<Condition>>,
    /// Enables or disables the rule.
    pub enabled: Option<bool>,
}

/// Changes rule `id` and re-evaluates its tenant, in one write transaction. `Rule` when the new
/// conditions are invalid or name a manager who is not a present user of the tenant; `NotFound` when the rule is unknown or out of `scope`, or the new
/// target is not a cost group of the rule's tenant.
#[tracing::instrument(skip_all, fields(rule_id = %id))]
pub async fn update_rule(
    store: &Store,
    scope: &TenantScope,
    actor: &str,
    id: AllocationRuleId,
    changes: AllocationRuleChanges,
    effective_from: Option<NaiveDate>,
) -> Result<AllocationRuleEntry, StoreError> {
    if let Some(conditions) = &changes.conditions {
        validate_conditions(conditions)?;
    }
    if let Some(targets) = &changes.targets {
        check_targets(targets)?;
    }
    let (mut write, before) = lock_rule(store, scope, id).await?;
    write.effective_from(effective_from).await?;
    let txn = write.txn();
    let mut after = before.clone();
    if let Some(targets) = changes.targets {
        after.rule.targets = targets;
        check_targets_exist(txn, &after.rule).await?;
    }
    if let Some(conditions) = changes.conditions {
        check_named_managers(txn, before.rule.tenant_id, &conditions).await?;
        after.rule.conditions = conditions;
    }
    if let Some(enabled) = changes.enabled {
        after.rule.enabled = enabled;
    }
    after.updated_at = stored_now();
    rule_row(&after).update(txn).await?;
    if after.rule.targets != before.rule.targets {
        write_targets(txn, &after.rule).await?;
    }
    let change = rule_change(
        actor,
        "updateAllocationRule",
        &after.rule,
        Some(&before.rule),
        Some(&after.rule),
    );
    commit_change(write, change).await?;
    Ok(after)
}

/// Deletes rule `id` and re-evaluates its tenant, in one write transaction; returns the id.
/// `NotFound` when the rule is unknown or out of `scope`.
#[tracing::instrument(skip_all, fields(rule_id = %id))]
pub async fn delete_rule(
    store: &Store,
    scope: &TenantScope,
    actor: &str,
    id: AllocationRuleId,
    effective_from: Option<NaiveDate>,
) -> Result<AllocationRuleId, StoreError> {
    let (mut write, before) = lock_rule(store, scope, id).await?;
    write.effective_from(effective_from).await?;
    allocation_rule_target::Entity::delete_many()
        .filter(allocation_rule_target::Column::RuleId.eq(id.uuid()))
        .exec(write.txn())
        .await?;
    Entity::delete_many()
        .filter(Column::TenantId.eq(before.rule.tenant_id.uuid()))
        .filter(Column::Id.eq(id.uuid()))
        .exec(write.txn())
        .await?;
    let change = rule_change(
        actor,
        "deleteAllocationRule",
        &before.rule,
        Some(&before.rule),
        None,
    );
    commit_change(write, change).await?;
    Ok(id)
}

/// Gives the rules of `tenant_id` the priorities 0, 1, … in the order of `order`, which must list
/// each of them once, and re-evaluates the tenant, in one write transaction. Returns the rules in
/// their new order. `RuleOrder` naming missing, unknown and duplicated ids; `NotFound` when the
/// tenant is unknown or out of `scope`.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn reorder_rules(
    store: &Store,
    scope: &TenantScope,
    actor: &str,
    tenant_id: TenantId,
    order: &[AllocationRuleId],
    effective_from: Option<NaiveDate>,
) -> Result<Vec<AllocationRuleEntry>, StoreError> {
    let mut write = TenantWrite::begin(store, scope, tenant_id).await?;
    write.effective_from(effective_from).await?;
    let txn = write.txn();
    let before = list_rule_entries_of_tenant_on(txn, tenant_id).await?;
    let ids: Vec<AllocationRuleId> = before.iter().map(|e| e.rule.id).collect();
    check_rule_order(&ids, order)?;
    let now = stored_now();
    let mut after = Vec::with_capacity(order.len());
    for (priority, id) in (0..).zip(order) {
        // check_rule_order vouched that every id of `order` is one of `before`.
        let Some(mut entry) = before.iter().find(|e| e.rule.id == *id).cloned() else {
            continue;
        };
        if entry.rule.priority != priority {
            entry.rule.priority = priority;
            entry.updated_at = now;
            Entity::update_many()
                .col_expr(Column::Priority, Expr::value(priority))
                .col_expr(Column::UpdatedAt, Expr::value(now))
                .filter(Column::TenantId.eq(tenant_id.uuid()))
                .filter(Column::Id.eq(id.uuid()))
                .exec(txn)
                .await?;
        }
        after.push(entry);
    }
    let list = |entries: &[AllocationRuleEntry]| {
        serde_json::Value::Array(entries.iter().map(|e| audit_json(&e.rule)).collect())
    };
    let change = AuditChange {
        tenant_id,
        actor: actor.to_owned(),
        action: "reorderAllocationRules".to_owned(),
        subject_type: "allocationRules".to_owned(),
        subject_id: tenant_id.to_string(),
        before: Some(list(&before)),
        after: Some(list(&after)),
        effective_from: None,
    };
    commit_change(write, change).await?;
    Ok(after)
}
