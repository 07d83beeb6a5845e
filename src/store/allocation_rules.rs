//! Allocation rules: their stored form (conditions as JSON) and finders. Writes live beside
//! their GraphQL mutations' needs further down this module.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use super::connect::Store;
use super::entities::allocation_rule::{self, Column, Entity, Model};
use super::error::StoreError;
use crate::domain::allocation::{AllocationRule, Attribute, Condition, Operator};
use crate::domain::{AllocationRuleId, CostGroupId, TenantId, TenantScope};

/// One condition as stored in `allocation_rules.conditions`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredCondition {
    attribute: String,
    operator: String,
    values: Vec<String>,
    case_sensitive: bool,
}

/// The stored JSON of a rule's conditions.
pub(crate) fn conditions_json(conditions: &[Condition]) -> serde_json::Value {
    let stored: Vec<StoredCondition> = conditions
        .iter()
        .map(|c| StoredCondition {
            attribute: c.attribute.to_string(),
            operator: c.operator.to_string(),
            values: c.values.clone(),
            case_sensitive: c.case_sensitive,
        })
        .collect();
    serde_json::json!(stored)
}

pub(crate) fn to_domain(m: Model) -> Result<AllocationRule, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "allocation_rules",
        detail: format!("conditions of rule {}: {detail}", m.id),
    };
    let stored: Vec<StoredCondition> =
        serde_json::from_value(m.conditions.clone()).map_err(|e| corrupt(e.to_string()))?;
    let conditions = stored
        .into_iter()
        .map(|c| {
            Ok(Condition {
                attribute: Attribute::from_name(&c.attribute)
                    .ok_or_else(|| corrupt(format!("unknown attribute {:?}", c.attribute)))?,
                operator: Operator::from_name(&c.operator)
                    .ok_or_else(|| corrupt(format!("unknown operator {:?}", c.operator)))?,
                values: c.values,
                case_sensitive: c.case_sensitive,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(AllocationRule {
        id: AllocationRuleId(m.id),
        tenant_id: TenantId(m.tenant_id),
        target: CostGroupId(m.cost_group_id),
        priority: m.priority,
        enabled: m.enabled,
        conditions,
    })
}

/// Every rule of one tenant in priority order, on `conn` (the store or a transaction).
pub(crate) async fn list_rules_of_tenant_on(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<AllocationRule>, StoreError> {
    Entity::find()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .order_by_asc(Column::Priority)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Every rule of each of `tenants`, by tenant, then priority order.
pub async fn list_rules_of_tenants(
    store: &Store,
    tenants: &[TenantId],
) -> Result<Vec<AllocationRule>, StoreError> {
    Entity::find()
        .filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .order_by_asc(Column::TenantId)
        .order_by_asc(Column::Priority)
        .order_by_asc(Column::Id)
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// The rules targeting each of `groups`, in priority order.
pub async fn list_rules_of_cost_groups(
    store: &Store,
    groups: &[CostGroupId],
) -> Result<Vec<AllocationRule>, StoreError> {
    Entity::find()
        .filter(Column::CostGroupId.is_in(groups.iter().map(|g| g.uuid())))
        .order_by_asc(Column::Priority)
        .order_by_asc(Column::Id)
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// The rules among `ids` that exist in a tenant of `scope`.
pub async fn find_rules(
    store: &Store,
    scope: &TenantScope,
    ids: &[AllocationRuleId],
) -> Result<Vec<AllocationRule>, StoreError> {
    let mut query = Entity::find().filter(Column::Id.is_in(ids.iter().map(|id| id.uuid())));
    if let TenantScope::Only(tenants) = scope {
        query = query.filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())));
    }
    query
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// The stored form of a rule, for inserts and updates.
pub(crate) fn to_active(
    rule: &AllocationRule,
    now: chrono::DateTime<chrono::Utc>,
) -> allocation_rule::ActiveModel {
    use sea_orm::ActiveValue::Set;
    allocation_rule::ActiveModel {
        id: Set(rule.id.uuid()),
        tenant_id: Set(rule.tenant_id.uuid()),
        cost_group_id: Set(rule.target.uuid()),
        priority: Set(rule.priority),
        enabled: Set(rule.enabled),
        conditions: Set(conditions_json(&rule.conditions)),
        created_at: Set(now),
        updated_at: Set(now),
    }
}
