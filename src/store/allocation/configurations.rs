//! The tenant's allocation configuration (rules and overrides) versioned by the day it takes
//! effect, in `allocation_configurations`: what a change with an effective date writes, what a
//! backdated re-evaluation reads for each past day, and what a scheduled change waits in until
//! its day comes (then it is promoted: written to the rule and override tables read today).
//! Uses `reads` only.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::reads::{
    conditions_json, list_overrides_of_tenant_on, list_rule_entries_of_tenant_on, rule_entry_of_row,
};
use crate::domain::allocation::{AllocationRuleEntry, Configuration, Override, Share};
use crate::domain::{CostGroupId, TenantId, UserId};
use crate::store::entities::{
    allocation_configuration, allocation_override, allocation_override_share, allocation_rule,
    cost_group, user,
};
use crate::store::error::StoreError;
use crate::store::transaction::stored_now;

/// The day the first version of a tenant's configuration stands for: the configuration in
/// force before any change with an effective date was made (since before history began).
pub(super) fn beginning() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// One version of a tenant's configuration.
#[derive(Debug, Clone)]
pub(super) struct Version {
    /// First day in force.
    pub(super) effective_from: NaiveDate,
    /// The rules and overrides.
    pub(super) configuration: Configuration,
    /// Whether the tables read today hold it (or a later version).
    pub(super) promoted: bool,
}

/// The stored form of a configuration.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredConfiguration {
    rules: Vec<StoredRule>,
    overrides: Vec<StoredOverride>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRule {
    id: Uuid,
    cost_group_id: Uuid,
    priority: i32,
    enabled: bool,
    conditions: serde_json::Value,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredOverride {
    user_id: Uuid,
    shares: Vec<(Uuid, String)>,
}

/// A rule as its table stores it.
pub(super) fn rule_row(entry: &AllocationRuleEntry) -> allocation_rule::ActiveModel {
    use sea_orm::ActiveValue::Set;
    let rule = &entry.rule;
    allocation_rule::ActiveModel {
        id: Set(rule.id.uuid()),
        tenant_id: Set(rule.tenant_id.uuid()),
        cost_group_id: Set(rule.target.uuid()),
        priority: Set(rule.priority),
        enabled: Set(rule.enabled),
        conditions: Set(conditions_json(&rule.conditions)),
        created_at: Set(entry.created_at),
        updated_at: Set(entry.updated_at),
    }
}

fn to_json(c: &Configuration) -> serde_json::Value {
    let stored = StoredConfiguration {
        rules: c
            .rules
            .iter()
            .map(|e| StoredRule {
                id: e.rule.id.uuid(),
                cost_group_id: e.rule.target.uuid(),
                priority: e.rule.priority,
                enabled: e.rule.enabled,
                conditions: conditions_json(&e.rule.conditions),
                created_at: e.created_at,
                updated_at: e.updated_at,
            })
            .collect(),
        overrides: c
            .overrides
            .iter()
            .map(|o| StoredOverride {
                user_id: o.user_id().uuid(),
                shares: o
                    .shares()
                    .iter()
                    .map(|s| (s.cost_group.uuid(), s.percent.normalize().to_string()))
                    .collect(),
            })
            .collect(),
    };
    serde_json::json!(stored)
}

fn of_json(m: allocation_configuration::Model) -> Result<Version, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "allocation_configurations",
        detail: format!(
            "configuration of tenant {} from {}: {detail}",
            m.tenant_id, m.effective_from
        ),
    };
    let stored: StoredConfiguration =
        serde_json::from_value(m.configuration.clone()).map_err(|e| corrupt(e.to_string()))?;
    let rules = stored
        .rules
        .into_iter()
        .map(|r| {
            rule_entry_of_row(allocation_rule::Model {
                id: r.id,
                tenant_id: m.tenant_id,
                cost_group_id: r.cost_group_id,
                priority: r.priority,
                enabled: r.enabled,
                conditions: r.conditions,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let overrides = stored
        .overrides
        .into_iter()
        .map(|o| {
            let shares = o
                .shares
                .into_iter()
                .map(|(group, percent)| {
                    Ok(Share {
                        cost_group: CostGroupId(group),
                        percent: Decimal::from_str(&percent).map_err(|e| corrupt(e.to_string()))?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Override::new(UserId(o.user_id), shares).map_err(|e| corrupt(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Version {
        effective_from: m.effective_from,
        configuration: Configuration { rules, overrides },
        promoted: m.promoted,
    })
}

/// The rules and overrides of `tenant_id` in the tables read today, on `conn`.
pub(super) async fn read_tables(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Configuration, StoreError> {
    Ok(Configuration {
        rules: list_rule_entries_of_tenant_on(conn, tenant_id).await?,
        overrides: list_overrides_of_tenant_on(conn, tenant_id).await?,
    })
}

/// Replaces the rules and overrides of `tenant_id` in the tables read today with
/// `configuration`'s, leaving out what points at a cost group or user the tenant no longer has
/// (deleted since the configuration was written).
pub(super) async fn write_tables(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    configuration: &Configuration,
) -> Result<(), StoreError> {
    use sea_orm::ActiveValue::Set;
    let groups: HashSet<Uuid> = cost_group::Entity::find()
        .select_only()
        .column(cost_group::Column::Id)
        .filter(cost_group::Column::TenantId.eq(tenant_id.uuid()))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let users: HashSet<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user::Column::Id.is_in(configuration.overrides.iter().map(|o| o.user_id().uuid())))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    allocation_override_share::Entity::delete_many()
        .filter(allocation_override_share::Column::TenantId.eq(tenant_id.uuid()))
        .exec(conn)
        .await?;
    allocation_override::Entity::delete_many()
        .filter(allocation_override::Column::TenantId.eq(tenant_id.uuid()))
        .exec(conn)
        .await?;
    allocation_rule::Entity::delete_many()
        .filter(allocation_rule::Column::TenantId.eq(tenant_id.uuid()))
        .exec(conn)
        .await?;
    let rules: Vec<allocation_rule::ActiveModel> = configuration
        .rules
        .iter()
        .filter(|e| groups.contains(&e.rule.target.uuid()))
        .map(rule_row)
        .collect();
    if !rules.is_empty() {
        allocation_rule::Entity::insert_many(rules)
            .exec_without_returning(conn)
            .await?;
    }
    let now = stored_now();
    for o in configuration.overrides.iter().filter(|o| {
        users.contains(&o.user_id().uuid())
            && o.shares()
                .iter()
                .all(|s| groups.contains(&s.cost_group.uuid()))
    }) {
        allocation_override::Entity::insert(allocation_override::ActiveModel {
            user_id: Set(o.user_id().uuid()),
            tenant_id: Set(tenant_id.uuid()),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(conn)
        .await?;
        allocation_override_share::Entity::insert_many(o.shares().iter().map(|s| {
            allocation_override_share::ActiveModel {
                user_id: Set(o.user_id().uuid()),
                cost_group_id: Set(s.cost_group.uuid()),
                tenant_id: Set(tenant_id.uuid()),
                percent: Set(s.percent.normalize().to_string()),
            }
        }))
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

/// Every version of the configuration of `tenant_id`, oldest first.
pub(super) async fn list_versions(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<Version>, StoreError> {
    allocation_configuration::Entity::find()
        .filter(allocation_configuration::Column::TenantId.eq(tenant_id.uuid()))
        .order_by_asc(allocation_configuration::Column::EffectiveFrom)
        .all(conn)
        .await?
        .into_iter()
        .map(of_json)
        .collect()
}

/// Writes `version` of `tenant_id`, replacing the one of its day.
pub(super) async fn save_version(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    version: &Version,
) -> Result<(), StoreError> {
    use allocation_configuration::Column;
    use sea_orm::ActiveValue::Set;
    allocation_configuration::Entity::insert(allocation_configuration::ActiveModel {
        tenant_id: Set(tenant_id.uuid()),
        effective_from: Set(version.effective_from),
        configuration: Set(to_json(&version.configuration)),
        promoted: Set(version.promoted),
    })
    .on_conflict(
        OnConflict::columns([Column::TenantId, Column::EffectiveFrom])
            .update_columns([Column::Configuration, Column::Promoted])
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The index of the version in force on `day` among `versions` (oldest first).
pub(super) fn in_force(versions: &[Version], day: NaiveDate) -> Option<usize> {
    versions.iter().rposition(|v| v.effective_from <= day)
}

/// Promotes the configuration of `tenant_id` scheduled for a day up to `on`: the version in
/// force on `on` is written to the tables read today, and every version up to `on` is marked
/// promoted. Returns the earliest day promoted (the days from it on need re-evaluating), or
/// `None` when nothing was due.
pub(super) async fn promote_due(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    on: NaiveDate,
) -> Result<Option<NaiveDate>, StoreError> {
    use allocation_configuration::Column;
    let due: Option<NaiveDate> = allocation_configuration::Entity::find()
        .select_only()
        .column(Column::EffectiveFrom)
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .filter(Column::Promoted.eq(false))
        .filter(Column::EffectiveFrom.lte(on))
        .order_by_asc(Column::EffectiveFrom)
        .into_tuple::<NaiveDate>()
        .one(conn)
        .await?;
    let Some(first) = due else {
        return Ok(None);
    };
    let versions = list_versions(conn, tenant_id).await?;
    if let Some(current) = in_force(&versions, on) {
        write_tables(conn, tenant_id, &versions[current].configuration).await?;
    }
    allocation_configuration::Entity::update_many()
        .col_expr(Column::Promoted, sea_orm::sea_query::Expr::value(true))
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .filter(Column::EffectiveFrom.lte(on))
        .exec(conn)
        .await?;
    Ok(Some(first))
}

/// The tenants with a configuration scheduled for a day up to `on` and not yet promoted.
pub(super) async fn list_tenants_due(
    conn: &impl ConnectionTrait,
    on: NaiveDate,
) -> Result<Vec<TenantId>, StoreError> {
    use allocation_configuration::Column;
    let mut tenants: Vec<Uuid> = allocation_configuration::Entity::find()
        .select_only()
        .column(Column::TenantId)
        .filter(Column::Promoted.eq(false))
        .filter(Column::EffectiveFrom.lte(on))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    tenants.sort();
    tenants.dedup();
    Ok(tenants.into_iter().map(TenantId).collect())
}

/// The days of `tenants`' configurations scheduled and not yet promoted: (tenant, day).
pub async fn list_scheduled_days(
    store: &crate::store::Store,
    tenants: &[TenantId],
) -> Result<HashSet<(TenantId, NaiveDate)>, StoreError> {
    use allocation_configuration::Column;
    Ok(allocation_configuration::Entity::find()
        .select_only()
        .column(Column::TenantId)
        .column(Column::EffectiveFrom)
        .filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .filter(Column::Promoted.eq(false))
        .into_tuple::<(Uuid, NaiveDate)>()
        .all(store.db())
        .await?
        .into_iter()
        .map(|(t, day)| (TenantId(t), day))
        .collect())
}
