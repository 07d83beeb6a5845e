//! The tenant's allocation configuration (cost group tree, rules and overrides) versioned by the
//! day it takes
//! effect, in `allocation_configurations`: what a change with an effective date writes, what a
//! backdated re-evaluation reads for each past day, and what a scheduled change waits in until
//! its day comes (then it is promoted: written to the cost group, rule and override tables read
//! today). Uses `reads` and the store's allocation history only.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::reads::{
    conditions_json, cost_group_of_row, list_overrides_of_tenant_on,
    list_rule_entries_of_tenant_on, rule_entry_of_row, target_rows,
};
use crate::domain::allocation::{AllocationRuleEntry, Configuration, Override, Share};
use crate::domain::{CostGroup, CostGroupId, TenantId, UserId};
use crate::store::entities::{
    allocation_configuration, allocation_override, allocation_override_share, allocation_rule,
    allocation_rule_target, cost_group, user, user_allocation,
};
use crate::store::error::StoreError;
use crate::store::history;
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
    /// Absent in versions written before cost groups were versioned: those take the groups of
    /// the tables (see [`list_versions`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<StoredGroup>>,
    rules: Vec<StoredRule>,
    overrides: Vec<StoredOverride>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredGroup {
    id: Uuid,
    parent_id: Option<Uuid>,
    name: String,
    code: Option<String>,
    description: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRule {
    id: Uuid,
    /// The first target; the only one in versions written before split rules.
    cost_group_id: Uuid,
    /// Every target with its percentage, in order; absent in versions written before split
    /// rules (their one target is `cost_group_id`, whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    targets: Option<Vec<(Uuid, String)>>,
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
        // The first target, for readers of the column (every rule has one).
        cost_group_id: Set(rule
            .first_target()
            .map_or_else(Uuid::nil, CostGroupId::uuid)),
        priority: Set(rule.priority),
        enabled: Set(rule.enabled),
        conditions: Set(conditions_json(&rule.conditions)),
        created_at: Set(entry.created_at),
        updated_at: Set(entry.updated_at),
    }
}

fn to_json(c: &Configuration) -> serde_json::Value {
    let stored = StoredConfiguration {
        groups: Some(
            c.groups
                .iter()
                .map(|g| StoredGroup {
                    id: g.id.uuid(),
                    parent_id: g.parent_id.map(CostGroupId::uuid),
                    name: g.name.clone(),
                    code: g.code.clone(),
                    description: g.description.clone(),
                    created_at: g.created_at,
                    updated_at: g.updated_at,
                })
                .collect(),
        ),
        rules: c
            .rules
            .iter()
            .map(|e| StoredRule {
                id: e.rule.id.uuid(),
                cost_group_id: e
                    .rule
                    .first_target()
                    .map_or_else(Uuid::nil, CostGroupId::uuid),
                targets: Some(
                    e.rule
                        .targets
                        .iter()
                        .map(|t| (t.cost_group.uuid(), t.percent.normalize().to_string()))
                        .collect(),
                ),
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

/// A stored version; `None` groups when it was written before cost groups were versioned.
fn of_json(
    m: allocation_configuration::Model,
) -> Result<(Version, Option<Vec<CostGroup>>), StoreError> {
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
            let targets = r
                .targets
                .unwrap_or_default()
                .into_iter()
                .map(|(group, percent)| {
                    Ok(Share {
                        cost_group: CostGroupId(group),
                        percent: Decimal::from_str(&percent).map_err(|e| corrupt(e.to_string()))?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            rule_entry_of_row(
                allocation_rule::Model {
                    id: r.id,
                    tenant_id: m.tenant_id,
                    cost_group_id: r.cost_group_id,
                    priority: r.priority,
                    enabled: r.enabled,
                    conditions: r.conditions,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                },
                targets,
            )
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
    let tenant_id = TenantId(m.tenant_id);
    let groups = stored.groups.map(|groups| {
        groups
            .into_iter()
            .map(|g| CostGroup {
                id: CostGroupId(g.id),
                tenant_id,
                parent_id: g.parent_id.map(CostGroupId),
                name: g.name,
                code: g.code,
                description: g.description,
                created_at: g.created_at,
                updated_at: g.updated_at,
            })
            .collect()
    });
    Ok((
        Version {
            effective_from: m.effective_from,
            configuration: Configuration {
                groups: Vec::new(),
                rules,
                overrides,
            },
            promoted: m.promoted,
        },
        groups,
    ))
}

/// The cost groups of `tenant_id` in the tables read today, by id.
async fn read_groups(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<CostGroup>, StoreError> {
    Ok(cost_group::Entity::find()
        .filter(cost_group::Column::TenantId.eq(tenant_id.uuid()))
        .order_by_asc(cost_group::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(cost_group_of_row)
        .collect())
}

/// The rules and overrides of `tenant_id` in the tables read today, on `conn`.
pub(super) async fn read_tables(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Configuration, StoreError> {
    Ok(Configuration {
        groups: read_groups(conn, tenant_id).await?,
        rules: list_rule_entries_of_tenant_on(conn, tenant_id).await?,
        overrides: list_overrides_of_tenant_on(conn, tenant_id).await?,
    })
}

/// Replaces the cost groups, rules and overrides of `tenant_id` in the tables read today with
/// `configuration`'s, leaving out the rules and overrides that point at a user the tenant no
/// longer has (deleted since the configuration was written). The allocation rows of a cost
/// group that goes are moved to history, ending today (the caller evaluates the tenant).
pub(super) async fn write_tables(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    configuration: &Configuration,
) -> Result<(), StoreError> {
    use sea_orm::ActiveValue::Set;
    let groups: HashSet<Uuid> = configuration.groups.iter().map(|g| g.id.uuid()).collect();
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
    allocation_rule_target::Entity::delete_many()
        .filter(allocation_rule_target::Column::TenantId.eq(tenant_id.uuid()))
        .exec(conn)
        .await?;
    allocation_rule::Entity::delete_many()
        .filter(allocation_rule::Column::TenantId.eq(tenant_id.uuid()))
        .exec(conn)
        .await?;
    write_groups(conn, tenant_id, &configuration.groups).await?;
    let kept: Vec<&AllocationRuleEntry> = configuration
        .rules
        .iter()
        .filter(|e| {
            e.rule
                .targets
                .iter()
                .all(|t| groups.contains(&t.cost_group.uuid()))
        })
        .collect();
    if !kept.is_empty() {
        allocation_rule::Entity::insert_many(kept.iter().map(|e| rule_row(e)))
            .exec_without_returning(conn)
            .await?;
        allocation_rule_target::Entity::insert_many(kept.iter().flat_map(|e| target_rows(&e.rule)))
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

/// Makes the cost group table of `tenant_id` hold `wanted`, once no rule or override points at
/// the tenant's groups: new groups inserted, changed ones updated (codes cleared first, so two
/// groups can swap theirs), and the groups not wanted deleted with their allocation rows
/// (moved to history, ending today).
async fn write_groups(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    wanted: &[CostGroup],
) -> Result<(), StoreError> {
    use sea_orm::ActiveValue::Set;
    use sea_orm::sea_query::Expr;
    let stored = read_groups(conn, tenant_id).await?;
    let key = |g: &CostGroup| {
        (
            g.parent_id,
            g.name.clone(),
            g.code.clone(),
            g.description.clone(),
        )
    };
    let changed: Vec<&CostGroup> = wanted
        .iter()
        .filter(|w| {
            stored
                .iter()
                .find(|s| s.id == w.id)
                .is_none_or(|s| key(s) != key(w))
        })
        .collect();
    let gone: Vec<Uuid> = stored
        .iter()
        .filter(|s| !wanted.iter().any(|w| w.id == s.id))
        .map(|s| s.id.uuid())
        .collect();
    if changed.is_empty() && gone.is_empty() {
        return Ok(());
    }
    let recoded: Vec<Uuid> = stored
        .iter()
        .filter(|s| {
            s.code.is_some()
                && wanted
                    .iter()
                    .find(|w| w.id == s.id)
                    .is_none_or(|w| w.code != s.code)
        })
        .map(|s| s.id.uuid())
        .collect();
    if !recoded.is_empty() {
        cost_group::Entity::update_many()
            .col_expr(
                cost_group::Column::Code,
                Expr::value(Option::<String>::None),
            )
            .filter(cost_group::Column::Id.is_in(recoded))
            .exec(conn)
            .await?;
    }
    // New groups without their parent first: a parent may be new too.
    for g in changed
        .iter()
        .filter(|w| !stored.iter().any(|s| s.id == w.id))
    {
        cost_group::Entity::insert(cost_group::ActiveModel {
            id: Set(g.id.uuid()),
            tenant_id: Set(tenant_id.uuid()),
            parent_id: Set(None),
            name: Set(g.name.clone()),
            code: Set(None),
            description: Set(g.description.clone()),
            created_at: Set(g.created_at),
            updated_at: Set(g.updated_at),
        })
        .exec_without_returning(conn)
        .await?;
    }
    for g in &changed {
        cost_group::Entity::update_many()
            .col_expr(
                cost_group::Column::ParentId,
                Expr::value(g.parent_id.map(CostGroupId::uuid)),
            )
            .col_expr(cost_group::Column::Name, Expr::value(g.name.clone()))
            .col_expr(cost_group::Column::Code, Expr::value(g.code.clone()))
            .col_expr(
                cost_group::Column::Description,
                Expr::value(g.description.clone()),
            )
            .col_expr(cost_group::Column::UpdatedAt, Expr::value(g.updated_at))
            .filter(cost_group::Column::Id.eq(g.id.uuid()))
            .exec(conn)
            .await?;
    }
    if !gone.is_empty() {
        let placed = user_allocation::Entity::find()
            .filter(user_allocation::Column::TenantId.eq(tenant_id.uuid()))
            .filter(user_allocation::Column::CostGroupId.is_in(gone.iter().copied()))
            .all(conn)
            .await?;
        history::allocations::archive(conn, &placed.iter().collect::<Vec<_>>(), history::today())
            .await?;
        user_allocation::Entity::delete_many()
            .filter(user_allocation::Column::TenantId.eq(tenant_id.uuid()))
            .filter(user_allocation::Column::CostGroupId.is_in(gone.iter().copied()))
            .exec(conn)
            .await?;
        // Unlinked first: the parent key restricts deletes row by row.
        cost_group::Entity::update_many()
            .col_expr(
                cost_group::Column::ParentId,
                Expr::value(Option::<Uuid>::None),
            )
            .filter(cost_group::Column::Id.is_in(gone.iter().copied()))
            .exec(conn)
            .await?;
        cost_group::Entity::delete_many()
            .filter(cost_group::Column::TenantId.eq(tenant_id.uuid()))
            .filter(cost_group::Column::Id.is_in(gone))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Every version of the configuration of `tenant_id`, oldest first. Versions written before
/// cost groups were versioned take the groups of the tables read today.
pub(super) async fn list_versions(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<Version>, StoreError> {
    list_versions_since(conn, tenant_id, None).await
}

/// The versions of the configuration of `tenant_id` a change effective `day` reads and writes:
/// the one in force on `day` and every later one, oldest first (none when the tenant has no
/// version; otherwise the first stands from [`beginning`], so one is in force). The earlier
/// versions, each holding every override of its day, are not read. Two statements.
pub(super) async fn list_versions_from(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    day: NaiveDate,
) -> Result<Vec<Version>, StoreError> {
    use allocation_configuration::Column;
    let in_force: Option<NaiveDate> = allocation_configuration::Entity::find()
        .select_only()
        .column(Column::EffectiveFrom)
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .filter(Column::EffectiveFrom.lte(day))
        .order_by_desc(Column::EffectiveFrom)
        .into_tuple::<NaiveDate>()
        .one(conn)
        .await?;
    list_versions_since(conn, tenant_id, in_force.or(Some(day))).await
}

/// The versions of `tenant_id` from `since` on (all when `None`), oldest first.
async fn list_versions_since(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    since: Option<NaiveDate>,
) -> Result<Vec<Version>, StoreError> {
    let mut select = allocation_configuration::Entity::find()
        .filter(allocation_configuration::Column::TenantId.eq(tenant_id.uuid()));
    if let Some(since) = since {
        select = select.filter(allocation_configuration::Column::EffectiveFrom.gte(since));
    }
    let rows = select
        .order_by_asc(allocation_configuration::Column::EffectiveFrom)
        .all(conn)
        .await?;
    let mut tables: Option<Vec<CostGroup>> = None;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (mut version, groups) = of_json(row)?;
        if groups.is_none() && tables.is_none() {
            tables = Some(read_groups(conn, tenant_id).await?);
        }
        version.configuration.groups = groups.or_else(|| tables.clone()).unwrap_or_default();
        out.push(version);
    }
    Ok(out)
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

/// The cost groups of `tenant_id` in force on `day` (the tree its chargeback rolls up by), by
/// name: those of the configuration version in force that day, or the tables' when the tenant
/// has no version (or its version predates versioned cost groups). One or two statements.
pub(crate) async fn list_cost_groups_of_day(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    day: NaiveDate,
) -> Result<Vec<CostGroup>, StoreError> {
    use allocation_configuration::Column;
    let row = allocation_configuration::Entity::find()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .filter(Column::EffectiveFrom.lte(day))
        .order_by_desc(Column::EffectiveFrom)
        .one(conn)
        .await?;
    let mut groups = match row.map(of_json).transpose()? {
        Some((_, Some(groups))) => groups,
        _ => read_groups(conn, tenant_id).await?,
    };
    groups.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    Ok(groups)
}

/// The index of the version in force on `day` among `versions` (oldest first).
pub(super) fn in_force(versions: &[Version], day: NaiveDate) -> Option<usize> {
    versions.iter().rposition(|v| v.effective_from <= day)
}

/// The first day of a configuration scheduled for a day up to `on` and not yet promoted, if
/// any: what [`promote_due`] would promote.
pub(super) async fn first_due(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
    on: NaiveDate,
) -> Result<Option<NaiveDate>, StoreError> {
    use allocation_configuration::Column;
    Ok(allocation_configuration::Entity::find()
        .select_only()
        .column(Column::EffectiveFrom)
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .filter(Column::Promoted.eq(false))
        .filter(Column::EffectiveFrom.lte(on))
        .order_by_asc(Column::EffectiveFrom)
        .into_tuple::<NaiveDate>()
        .one(conn)
        .await?)
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
    let Some(first) = first_due(conn, tenant_id, on).await? else {
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
pub(super) async fn list_scheduled_days(
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
