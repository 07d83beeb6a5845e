//! Sign-in activity and what the optimization reads: each user's last sign-ins as the latest
//! import read them (replaced whole per import, never versioned), whether the tenant's sign-in
//! activity could be read, and a tenant's optimization inputs in a fixed number of statements.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
};

use super::allocation;
use super::connect::Store;
use super::entities::{service_plan, tenant_sign_in_state, user_sign_in};
use super::error::StoreError;
use super::raw_sql::RawSql;
use super::subscriptions;
use crate::domain::allocation::{Price, Share};
use crate::domain::optimization::{
    SignInActivity, SignInAvailability, SignInImport, WasteSku, WasteUser,
};
use crate::domain::{CostGroupId, ServicePlanId, SkuId, TenantId, UserId};

/// Rows per multi-row insert (7 parameters a row stays far below SQLite's limit).
const ROWS_PER_INSERT: usize = 1000;

fn activity_of(m: &user_sign_in::Model) -> SignInActivity {
    SignInActivity {
        last_sign_in: m.last_sign_in_at,
        last_non_interactive_sign_in: m.last_non_interactive_sign_in_at,
        last_successful_sign_in: m.last_successful_sign_in_at,
        observed_at: m.observed_at,
    }
}

fn availability_of(m: Option<tenant_sign_in_state::Model>) -> SignInAvailability {
    match m {
        None => SignInAvailability::Unknown,
        Some(m) if m.available => SignInAvailability::Available {
            observed_at: m.observed_at,
        },
        Some(m) => SignInAvailability::Unavailable {
            code: m.upstream_code.unwrap_or_default(),
            message: m.upstream_message.unwrap_or_default(),
            observed_at: m.observed_at,
        },
    }
}

/// Replaces the tenant's sign-in activity with what an import read, or marks it unavailable
/// with upstream's refusal (dropping the rows of an earlier read, which would only go stale);
/// part of an import's commit.
pub(crate) async fn replace_sign_ins<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    read: &SignInImport,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    user_sign_in::Entity::delete_many()
        .filter(user_sign_in::Column::TenantId.eq(tenant_id.uuid()))
        .exec(db)
        .await?;
    let (available, code, message) = match read {
        SignInImport::Read(rows) => {
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                user_sign_in::Entity::insert_many(chunk.iter().map(|(user_id, a)| {
                    user_sign_in::ActiveModel {
                        tenant_id: Set(tenant_id.uuid()),
                        user_id: Set(user_id.uuid()),
                        last_sign_in_at: Set(a.last_sign_in),
                        last_non_interactive_sign_in_at: Set(a.last_non_interactive_sign_in),
                        last_successful_sign_in_at: Set(a.last_successful_sign_in),
                        observed_at: Set(a.observed_at),
                    }
                }))
                .exec_without_returning(db)
                .await?;
            }
            (true, None, None)
        }
        SignInImport::Refused { code, message } => {
            (false, Some(code.clone()), Some(message.clone()))
        }
    };
    tenant_sign_in_state::Entity::insert(tenant_sign_in_state::ActiveModel {
        tenant_id: Set(tenant_id.uuid()),
        available: Set(available),
        upstream_code: Set(code),
        upstream_message: Set(message),
        observed_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(tenant_sign_in_state::Column::TenantId)
            .update_columns([
                tenant_sign_in_state::Column::Available,
                tenant_sign_in_state::Column::UpstreamCode,
                tenant_sign_in_state::Column::UpstreamMessage,
                tenant_sign_in_state::Column::ObservedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The stored sign-in activity of each of `users` that has one, in one statement. Callers pass
/// users they already found in scope.
pub async fn list_sign_ins_of_users(
    store: &Store,
    users: &[UserId],
) -> Result<Vec<(UserId, SignInActivity)>, StoreError> {
    Ok(user_sign_in::Entity::find()
        .filter(user_sign_in::Column::UserId.is_in(users.iter().map(|u| u.uuid())))
        .all(store.db())
        .await?
        .iter()
        .map(|m| (UserId(m.user_id), activity_of(m)))
        .collect())
}

/// Whether each of `tenants` had its sign-in activity read at its latest import.
pub async fn list_sign_in_availability(
    store: &Store,
    tenants: &[TenantId],
) -> Result<HashMap<TenantId, SignInAvailability>, StoreError> {
    let mut found: HashMap<TenantId, SignInAvailability> = tenant_sign_in_state::Entity::find()
        .filter(tenant_sign_in_state::Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .all(store.db())
        .await?
        .into_iter()
        .map(|m| (TenantId(m.tenant_id), availability_of(Some(m))))
        .collect();
    for t in tenants {
        found.entry(*t).or_insert(SignInAvailability::Unknown);
    }
    Ok(found)
}

/// Everything one tenant's optimization is computed from.
#[derive(Debug, Clone)]
pub struct OptimizationInputs {
    /// Present users, with their licenses, shares and sign-in activity.
    pub users: Vec<WasteUser>,
    /// Subscribed SKUs with their service plans.
    pub skus: Vec<WasteSku>,
    /// The tenant's whole price history.
    pub prices: Vec<Price>,
    /// Whether sign-in activity was read at the latest import.
    pub sign_ins: SignInAvailability,
    /// Each present user's user principal name and display name, for exports; empty unless
    /// asked for.
    pub names: HashMap<UserId, UserName>,
}

/// How an export names a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName {
    /// `userPrincipalName`.
    pub user_principal_name: String,
    /// `displayName`.
    pub display_name: String,
}

/// The optimization inputs of `tenant_id` (the caller checked scope), in a fixed number of
/// statements whatever the number of users; `names` adds each user's UPN and display name (for
/// exports).
pub async fn optimization_inputs(
    store: &Store,
    tenant_id: TenantId,
    names: bool,
) -> Result<OptimizationInputs, StoreError> {
    let db = store.db();
    let tenant = tenant_id.uuid();
    let (users, names) = waste_users(db, tenant_id, names).await?;
    let sign_ins = availability_of(
        tenant_sign_in_state::Entity::find_by_id(tenant)
            .one(db)
            .await?,
    );
    let mut plans: HashMap<SkuId, BTreeSet<ServicePlanId>> = HashMap::new();
    for p in service_plan::Entity::find()
        .filter(service_plan::Column::TenantId.eq(tenant))
        .all(db)
        .await?
    {
        plans
            .entry(SkuId(p.sku_id))
            .or_default()
            .insert(ServicePlanId(p.service_plan_id));
    }
    let skus = subscriptions::list_subscriptions_of_tenants(store, &[tenant_id])
        .await?
        .iter()
        .map(|s| WasteSku::of(s, plans.remove(&s.sku_id).unwrap_or_default()))
        .collect();
    let prices = allocation::list_prices_of_tenants_on(db, &[tenant_id])
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    Ok(OptimizationInputs {
        users,
        skus,
        prices,
        sign_ins,
        names,
    })
}

/// Each present user of `tenant_id` as optimization reads it, with its sign-in activity, the
/// SKUs it holds and its cost group shares, in one statement: one row per user, its licenses
/// and shares aggregated in SQL (handing rows over from the driver one by one was most of the
/// time with a statement per table). With `names`, each user's UPN and display name too.
async fn waste_users<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    names: bool,
) -> Result<(Vec<WasteUser>, HashMap<UserId, UserName>), StoreError> {
    let backend = db.get_database_backend();
    let (sku, group) = match backend {
        DatabaseBackend::Postgres => (
            "string_agg(l.sku_id::text, ',')",
            "string_agg(a.cost_group_id::text || ':' || a.percent, ',')",
        ),
        _ => (
            "group_concat(hex(l.sku_id), ',')",
            "group_concat(hex(a.cost_group_id) || ':' || a.percent, ',')",
        ),
    };
    let mut sql = RawSql::new(backend);
    sql.push(
        "SELECT u.id, u.account_enabled, u.user_type, u.first_seen_at, s.last_sign_in_at, \
         s.last_non_interactive_sign_in_at, s.last_successful_sign_in_at, s.observed_at, ",
    )
    .push(&format!(
        "(SELECT {sku} FROM user_licenses l WHERE l.tenant_id = u.tenant_id \
         AND l.user_id = u.id), (SELECT {group} FROM user_allocations a \
         WHERE a.tenant_id = u.tenant_id AND a.user_id = u.id)"
    ));
    if names {
        sql.push(", u.user_principal_name, u.display_name");
    }
    sql.push(
        " FROM users u LEFT JOIN user_sign_ins s ON s.tenant_id = u.tenant_id \
         AND s.user_id = u.id WHERE u.tenant_id = ",
    )
    .bind(tenant_id.uuid())
    .push(" AND u.deleted_at IS NULL");
    let rows = db.query_all_raw(sql.statement()).await?;
    let mut users = Vec::with_capacity(rows.len());
    let mut found = HashMap::with_capacity(if names { rows.len() } else { 0 });
    for row in &rows {
        let user_id = UserId(row.try_get_by_index::<uuid::Uuid>(0)?);
        let sign_in = row
            .try_get_by_index::<Option<DateTime<Utc>>>(7)?
            .map(|observed_at| -> Result<_, StoreError> {
                Ok(SignInActivity {
                    last_sign_in: row.try_get_by_index(4)?,
                    last_non_interactive_sign_in: row.try_get_by_index(5)?,
                    last_successful_sign_in: row.try_get_by_index(6)?,
                    observed_at,
                })
            })
            .transpose()?;
        let corrupt = |table: &'static str, detail: String| StoreError::Corrupt {
            table,
            detail: format!("user {user_id}: {detail}"),
        };
        let skus = row
            .try_get_by_index::<Option<String>>(8)?
            .unwrap_or_default()
            .split(',')
            .filter(|id| !id.is_empty())
            .map(|id| {
                uuid::Uuid::try_parse(id)
                    .map(SkuId)
                    .map_err(|e| corrupt("user_licenses", format!("SKU id {id}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let shares = row
            .try_get_by_index::<Option<String>>(9)?
            .unwrap_or_default()
            .split(',')
            .filter(|share| !share.is_empty())
            .map(|share| {
                let bad = |e: String| corrupt("user_allocations", format!("share {share}: {e}"));
                let (group, percent) = share.split_once(':').ok_or_else(|| bad("no ':'".into()))?;
                Ok(Share {
                    cost_group: CostGroupId(
                        uuid::Uuid::try_parse(group).map_err(|e| bad(e.to_string()))?,
                    ),
                    percent: percent.parse().map_err(|e| bad(format!("{e}")))?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if names {
            found.insert(
                user_id,
                UserName {
                    user_principal_name: row.try_get_by_index(10)?,
                    display_name: row.try_get_by_index(11)?,
                },
            );
        }
        users.push(WasteUser {
            user_id,
            account_enabled: row.try_get_by_index(1)?,
            user_type: row.try_get_by_index(2)?,
            first_seen_at: row.try_get_by_index(3)?,
            sign_in,
            skus,
            shares,
        });
    }
    Ok((users, found))
}
