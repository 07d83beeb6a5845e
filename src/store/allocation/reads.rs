//! The allocation data as read back from its tables (rules, cost groups, overrides, prices) into
//! domain values: every finder callers use, and the reads the evaluation and the writers share.
//! Imports no other allocation module, so the writers and the evaluation both can use it.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::allocation::{
    AllocationRule, AllocationRuleEntry, Attribute, Condition, Currency, Operator, Override, Price,
    Share, check_targets,
};
use crate::domain::{
    AllocationRuleId, CostGroup, CostGroupId, SkuId, TenantId, TenantScope, UserId,
};
use crate::store::connect::Store;
use crate::store::entities::{
    allocation_override_share, allocation_rule, allocation_rule_target, cost_group, license_price,
};
use crate::store::error::StoreError;

/// One condition as stored in `allocation_rules.conditions`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredCondition {
    attribute: String,
    operator: String,
    values: Vec<String>,
    case_sensitive: bool,
}

/// The stored JSON of a rule's conditions (read back by [`rule_entries_of_rows`]).
pub(super) fn conditions_json(conditions: &[Condition]) -> serde_json::Value {
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

/// The targets of rule `rule` from its target rows, in their order; `Corrupt` when a percent
/// can't be read. Empty when there are no rows.
pub(super) fn targets_of_rows(
    rule: Uuid,
    mut rows: Vec<allocation_rule_target::Model>,
) -> Result<Vec<Share>, StoreError> {
    rows.sort_by_key(|t| t.position);
    rows.into_iter()
        .map(|t| {
            Ok(Share {
                cost_group: CostGroupId(t.cost_group_id),
                percent: Decimal::from_str(&t.percent).map_err(|e| StoreError::Corrupt {
                    table: "allocation_rule_targets",
                    detail: format!("target {} of rule {rule}: {e}", t.cost_group_id),
                })?,
            })
        })
        .collect()
}

/// A rule row with its `targets` as a domain value; `Corrupt` when its stored conditions can't
/// be read or its targets don't split a whole. A rule without targets (written before split
/// rules, or by a replica that predates them) targets its `cost_group_id` whole.
pub(super) fn rule_entry_of_row(
    m: allocation_rule::Model,
    targets: Vec<Share>,
) -> Result<AllocationRuleEntry, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "allocation_rules",
        detail: format!("rule {}: {detail}", m.id),
    };
    let stored: Vec<StoredCondition> = serde_json::from_value(m.conditions.clone())
        .map_err(|e| corrupt(format!("conditions: {e}")))?;
    let conditions = stored
        .into_iter()
        .map(|c| {
            Ok(Condition {
                attribute: Attribute::from_name(&c.attribute).ok_or_else(|| {
                    corrupt(format!("conditions: unknown attribute {:?}", c.attribute))
                })?,
                operator: Operator::from_name(&c.operator).ok_or_else(|| {
                    corrupt(format!("conditions: unknown operator {:?}", c.operator))
                })?,
                values: c.values,
                case_sensitive: c.case_sensitive,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let targets = if targets.is_empty() {
        vec![Share::whole(CostGroupId(m.cost_group_id))]
    } else {
        targets
    };
    check_targets(&targets).map_err(|e| corrupt(e.to_string()))?;
    Ok(AllocationRuleEntry {
        rule: AllocationRule {
            id: AllocationRuleId(m.id),
            tenant_id: TenantId(m.tenant_id),
            targets,
            priority: m.priority,
            enabled: m.enabled,
            conditions,
        },
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// Rule rows with their target rows as domain values.
fn rule_entries_of_rows(
    rows: Vec<(allocation_rule::Model, Vec<allocation_rule_target::Model>)>,
) -> Result<Vec<AllocationRuleEntry>, StoreError> {
    rows.into_iter()
        .map(|(m, targets)| {
            let targets = targets_of_rows(m.id, targets)?;
            rule_entry_of_row(m, targets)
        })
        .collect()
}

/// The target rows of `rule`, to insert with it (after its row).
pub(super) fn target_rows(rule: &AllocationRule) -> Vec<allocation_rule_target::ActiveModel> {
    use sea_orm::ActiveValue::Set;
    (0..)
        .zip(&rule.targets)
        .map(|(position, s)| allocation_rule_target::ActiveModel {
            rule_id: Set(rule.id.uuid()),
            cost_group_id: Set(s.cost_group.uuid()),
            tenant_id: Set(rule.tenant_id.uuid()),
            percent: Set(s.percent.normalize().to_string()),
            position: Set(position),
        })
        .collect()
}

/// Every rule of one tenant in priority order, on `conn` (the store or a transaction).
pub(super) async fn list_rules_of_tenant_on(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<AllocationRule>, StoreError> {
    Ok(list_rule_entries_of_tenant_on(conn, tenant_id)
        .await?
        .into_iter()
        .map(|e| e.rule)
        .collect())
}

/// Every rule of one tenant in priority order, with when each was created and updated.
pub(super) async fn list_rule_entries_of_tenant_on(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<AllocationRuleEntry>, StoreError> {
    use allocation_rule::{Column, Entity};
    let rows = Entity::find()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .order_by_asc(Column::Priority)
        .order_by_asc(Column::Id)
        .find_with_related(allocation_rule_target::Entity)
        .all(conn)
        .await?;
    rule_entries_of_rows(rows)
}

/// Every rule of each of `tenants`, by tenant, then priority order.
pub async fn list_rules_of_tenants(
    store: &Store,
    tenants: &[TenantId],
) -> Result<Vec<AllocationRuleEntry>, StoreError> {
    use allocation_rule::{Column, Entity};
    let rows = Entity::find()
        .filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .order_by_asc(Column::TenantId)
        .order_by_asc(Column::Priority)
        .order_by_asc(Column::Id)
        .find_with_related(allocation_rule_target::Entity)
        .all(store.db())
        .await?;
    rule_entries_of_rows(rows)
}

/// The rules with a target among `groups` (split rules included), in priority order, each with
/// all its targets; one statement.
pub async fn list_rules_of_cost_groups(
    store: &Store,
    groups: &[CostGroupId],
) -> Result<Vec<AllocationRuleEntry>, StoreError> {
    use allocation_rule::{Column, Entity};
    use sea_orm::{QuerySelect, QueryTrait};
    let targeting = allocation_rule_target::Entity::find()
        .select_only()
        .column(allocation_rule_target::Column::RuleId)
        .filter(allocation_rule_target::Column::CostGroupId.is_in(groups.iter().map(|g| g.uuid())))
        .as_query()
        .to_owned();
    let rows = Entity::find()
        .filter(Column::Id.in_subquery(targeting))
        .order_by_asc(Column::Priority)
        .order_by_asc(Column::Id)
        .find_with_related(allocation_rule_target::Entity)
        .all(store.db())
        .await?;
    rule_entries_of_rows(rows)
}

/// The rules among `ids` that exist in a tenant of `scope`.
pub async fn find_rules(
    store: &Store,
    scope: &TenantScope,
    ids: &[AllocationRuleId],
) -> Result<Vec<AllocationRuleEntry>, StoreError> {
    rule_entries_of_rows(
        scoped_rules(scope, ids)
            .find_with_related(allocation_rule_target::Entity)
            .all(store.db())
            .await?,
    )
}

/// Rule rows of `ids` in a tenant of `scope`.
pub(super) fn scoped_rules(
    scope: &TenantScope,
    ids: &[AllocationRuleId],
) -> sea_orm::Select<allocation_rule::Entity> {
    use allocation_rule::{Column, Entity};
    let mut query = Entity::find().filter(Column::Id.is_in(ids.iter().map(|id| id.uuid())));
    if let TenantScope::Only(tenants) = scope {
        query = query.filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())));
    }
    query
}

/// A cost group row as a domain value.
pub(super) fn cost_group_of_row(m: cost_group::Model) -> CostGroup {
    CostGroup {
        id: CostGroupId(m.id),
        tenant_id: TenantId(m.tenant_id),
        parent_id: m.parent_id.map(CostGroupId),
        name: m.name,
        code: m.code,
        description: m.description,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Every cost group of each of `tenants`, by name.
pub async fn list_cost_groups_of_tenants(
    store: &Store,
    tenants: &[TenantId],
) -> Result<Vec<CostGroup>, StoreError> {
    list_cost_groups_on(store.db(), tenants).await
}

/// Every cost group of each of `tenants`, by name, on `conn`.
pub(crate) async fn list_cost_groups_on(
    conn: &impl ConnectionTrait,
    tenants: &[TenantId],
) -> Result<Vec<CostGroup>, StoreError> {
    use cost_group::{Column, Entity};
    let rows = Entity::find()
        .filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(cost_group_of_row).collect())
}

/// The cost groups among `ids` that exist in a tenant of `scope`.
pub async fn find_cost_groups(
    store: &Store,
    scope: &TenantScope,
    ids: &[CostGroupId],
) -> Result<Vec<CostGroup>, StoreError> {
    use cost_group::{Column, Entity};
    let mut query = Entity::find().filter(Column::Id.is_in(ids.iter().map(|id| id.uuid())));
    if let TenantScope::Only(tenants) = scope {
        query = query.filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())));
    }
    Ok(query
        .all(store.db())
        .await?
        .into_iter()
        .map(cost_group_of_row)
        .collect())
}

/// The children of each of `parents`, by name.
pub async fn list_children_of_cost_groups(
    store: &Store,
    parents: &[CostGroupId],
) -> Result<Vec<CostGroup>, StoreError> {
    use cost_group::{Column, Entity};
    let rows = Entity::find()
        .filter(Column::ParentId.is_in(parents.iter().map(|id| id.uuid())))
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id)
        .all(store.db())
        .await?;
    Ok(rows.into_iter().map(cost_group_of_row).collect())
}

/// Groups override share rows (ordered by user) into overrides.
fn overrides_of_rows(
    rows: Vec<allocation_override_share::Model>,
) -> Result<Vec<Override>, StoreError> {
    let corrupt = |user: Uuid, detail: String| StoreError::Corrupt {
        table: "allocation_override_shares",
        detail: format!("override of user {user}: {detail}"),
    };
    let mut by_user: BTreeMap<Uuid, Vec<Share>> = BTreeMap::new();
    for row in rows {
        let percent =
            Decimal::from_str(&row.percent).map_err(|e| corrupt(row.user_id, e.to_string()))?;
        by_user.entry(row.user_id).or_default().push(Share {
            cost_group: CostGroupId(row.cost_group_id),
            percent,
        });
    }
    by_user
        .into_iter()
        .map(|(user, shares)| {
            Override::new(UserId(user), shares).map_err(|e| corrupt(user, e.to_string()))
        })
        .collect()
}

/// Every override of one tenant, by user, on `conn` (the store or a transaction).
pub(super) async fn list_overrides_of_tenant_on(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<Override>, StoreError> {
    use allocation_override_share::{Column, Entity};
    let rows = Entity::find()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .order_by_asc(Column::UserId)
        .order_by_asc(Column::CostGroupId)
        .all(conn)
        .await?;
    overrides_of_rows(rows)
}

/// Ids (or other values) bound in one `IN (…)` list: far below SQLite's bind-parameter limit
/// (32,766 since 3.32) and PostgreSQL's (65,535), so a statement's other values always fit.
pub(super) const IDS_PER_STATEMENT: usize = 1000;

/// The overrides of those of `users` that have one, by user, on `conn`: a statement per
/// [`IDS_PER_STATEMENT`] users, none for no users.
pub(super) async fn list_overrides_of_users_on(
    conn: &impl ConnectionTrait,
    users: &[UserId],
) -> Result<Vec<Override>, StoreError> {
    use allocation_override_share::{Column, Entity};
    let mut rows = Vec::new();
    for chunk in users.chunks(IDS_PER_STATEMENT) {
        rows.extend(
            Entity::find()
                .filter(Column::UserId.is_in(chunk.iter().map(|u| u.uuid())))
                .order_by_asc(Column::UserId)
                .order_by_asc(Column::CostGroupId)
                .all(conn)
                .await?,
        );
    }
    // Grouped by user whatever the chunks: `overrides_of_rows` keys its map by user.
    overrides_of_rows(rows)
}

/// A stored price of one tenant, with when it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceEntry {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The price.
    pub price: Price,
    /// When this entry was set (replacing an entry of the same SKU and day sets it anew).
    pub created_at: DateTime<Utc>,
}

/// A price row as a domain value; `Corrupt` when its amount or currency can't be read.
pub(super) fn price_entry_of_row(m: license_price::Model) -> Result<PriceEntry, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "license_prices",
        detail: format!("price {}: {detail}", m.id),
    };
    let amount = Decimal::from_str(&m.monthly_unit_price).map_err(|e| corrupt(e.to_string()))?;
    let currency = Currency::parse(&m.currency).map_err(|e| corrupt(e.to_string()))?;
    let price = Price::new(SkuId(m.sku_id), amount, currency, m.effective_from)
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(PriceEntry {
        tenant_id: TenantId(m.tenant_id),
        created_at: m.created_at,
        price,
    })
}

/// Every price of each of `tenants`, the whole history, by tenant, SKU and date, on `conn`.
async fn list_price_entries_on(
    conn: &impl ConnectionTrait,
    tenants: &[TenantId],
) -> Result<Vec<PriceEntry>, StoreError> {
    use license_price::{Column, Entity};
    Entity::find()
        .filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .order_by_asc(Column::TenantId)
        .order_by_asc(Column::SkuId)
        .order_by_asc(Column::EffectiveFrom)
        .all(conn)
        .await?
        .into_iter()
        .map(price_entry_of_row)
        .collect()
}

/// Every price of each of `tenants`, the whole history, by tenant, SKU and date, on `conn`.
pub(crate) async fn list_prices_of_tenants_on(
    conn: &impl ConnectionTrait,
    tenants: &[TenantId],
) -> Result<Vec<(TenantId, Price)>, StoreError> {
    Ok(list_price_entries_on(conn, tenants)
        .await?
        .into_iter()
        .map(|e| (e.tenant_id, e.price))
        .collect())
}

/// Every price of each of `tenants`, with when each was set, by tenant, SKU and date.
pub async fn list_price_entries_of_tenants(
    store: &Store,
    tenants: &[TenantId],
) -> Result<Vec<PriceEntry>, StoreError> {
    list_price_entries_on(store.db(), tenants).await
}
