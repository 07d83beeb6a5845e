//! Cost group budgets: set and removed through the tenant's write path (locked, audited), read
//! per tenant in one statement.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, ModelTrait, QueryFilter, QueryOrder};

use super::cost_groups::lock_group;
use crate::domain::audit::AuditChange;
use crate::domain::budget::{Budget, BudgetPeriod};
use crate::domain::{CostGroupId, TenantId, TenantScope};
use crate::store::budget_rows::budget_of_row;
use crate::store::connect::Store;
use crate::store::entities::cost_group_budget::{ActiveModel, Column, Entity, Model};
use crate::store::error::StoreError;
use crate::store::transaction::stored_now;

fn period_text(period: BudgetPeriod) -> String {
    match period {
        BudgetPeriod::Month(m) => m.to_string(),
        BudgetPeriod::From(m) => format!("{m}+"),
    }
}

fn audit_json(m: &Model) -> serde_json::Value {
    serde_json::json!({
        "costGroupId": m.cost_group_id.to_string(),
        "month": m.single_month.then(|| m.from_month.clone()),
        "fromMonth": (!m.single_month).then(|| m.from_month.clone()),
        "amount": m.amount,
        "currency": m.currency,
        "thresholds": serde_json::from_str::<serde_json::Value>(&m.thresholds).unwrap_or_default(),
    })
}

fn audit_change(
    tenant_id: TenantId,
    actor: &str,
    action: &str,
    group: CostGroupId,
    period: BudgetPeriod,
    before: Option<&Model>,
    after: Option<&Model>,
) -> AuditChange {
    AuditChange {
        tenant_id,
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject_type: "costGroupBudget".to_owned(),
        subject_id: format!("{group}@{}", period_text(period)),
        before: before.map(audit_json),
        after: after.map(audit_json),
        effective_from: None,
    }
}

/// Sets `budget` for its cost group and period, replacing the one set for the same period, in
/// one write transaction audited as `setCostGroupBudget`. `NotFound` when the group is unknown
/// or out of `scope`. Returns the group's tenant.
#[tracing::instrument(skip_all, fields(cost_group_id = %budget.cost_group))]
pub async fn set_budget(
    store: &Store,
    scope: &TenantScope,
    actor: &str,
    budget: &Budget,
) -> Result<TenantId, StoreError> {
    let (mut write, groups, index) = lock_group(store, scope, budget.cost_group).await?;
    let tenant_id = groups[index].tenant_id;
    let month = budget.period.month().to_string();
    let before = Entity::find_by_id((
        tenant_id.uuid(),
        budget.cost_group.uuid(),
        month.clone(),
        budget.period.single(),
    ))
    .one(write.txn())
    .await?;
    let thresholds: Vec<String> = budget.thresholds.iter().map(Decimal::to_string).collect();
    let row = ActiveModel {
        tenant_id: Set(tenant_id.uuid()),
        cost_group_id: Set(budget.cost_group.uuid()),
        from_month: Set(month),
        single_month: Set(budget.period.single()),
        // Kept with the scale it was given (`1200.50`), which the API shows back.
        amount: Set(budget.amount.to_string()),
        currency: Set(budget.currency.code().to_owned()),
        thresholds: Set(serde_json::Value::from(thresholds).to_string()),
        set_by: Set(actor.to_owned()),
        set_at: Set(stored_now()),
    };
    let after = match before {
        Some(_) => row.update(write.txn()).await?,
        None => row.insert(write.txn()).await?,
    };
    write.audit(audit_change(
        tenant_id,
        actor,
        "setCostGroupBudget",
        budget.cost_group,
        budget.period,
        before.as_ref(),
        Some(&after),
    ));
    write.commit().await?;
    Ok(tenant_id)
}

/// Removes the budget set for `group` and `period`, audited as `removeCostGroupBudget`.
/// `NotFound` when the group is unknown or out of `scope`, or has no budget for that period.
#[tracing::instrument(skip_all, fields(cost_group_id = %group))]
pub async fn remove_budget(
    store: &Store,
    scope: &TenantScope,
    actor: &str,
    group: CostGroupId,
    period: BudgetPeriod,
) -> Result<TenantId, StoreError> {
    let (mut write, groups, index) = lock_group(store, scope, group).await?;
    let tenant_id = groups[index].tenant_id;
    let key = (
        tenant_id.uuid(),
        group.uuid(),
        period.month().to_string(),
        period.single(),
    );
    let Some(before) = Entity::find_by_id(key).one(write.txn()).await? else {
        return Err(StoreError::NotFound(format!(
            "a budget of cost group {group} for {}",
            period_text(period)
        )));
    };
    before.clone().delete(write.txn()).await?;
    write.audit(audit_change(
        tenant_id,
        actor,
        "removeCostGroupBudget",
        group,
        period,
        Some(&before),
        None,
    ));
    write.commit().await?;
    Ok(tenant_id)
}

/// Every budget of each of `tenants` (the caller checked scope), in one statement.
pub async fn list_budgets_of_tenants(
    store: &Store,
    tenants: &[TenantId],
) -> Result<HashMap<TenantId, Vec<Budget>>, StoreError> {
    let mut out: HashMap<TenantId, Vec<Budget>> =
        tenants.iter().map(|t| (*t, Vec::new())).collect();
    let rows = Entity::find()
        .filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .order_by_asc(Column::CostGroupId)
        .order_by_asc(Column::FromMonth)
        .all(store.db())
        .await?;
    for m in &rows {
        out.entry(TenantId(m.tenant_id))
            .or_default()
            .push(budget_of_row(m)?);
    }
    Ok(out)
}
