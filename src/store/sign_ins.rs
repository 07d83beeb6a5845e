//! Sign-in activity and what the optimization reads: each user's last sign-ins as the latest
//! import read them (replaced whole per import, never versioned), whether the tenant's sign-in
//! activity could be read, and a tenant's optimization inputs in a fixed number of statements.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

use super::allocation;
use super::connect::Store;
use super::entities::{
    service_plan, tenant_sign_in_state, user, user_allocation, user_license, user_sign_in,
};
use super::error::StoreError;
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

/// What optimization reads of a user: id, `accountEnabled`, `userType`, first seen.
type UserRow = (uuid::Uuid, Option<bool>, Option<String>, DateTime<Utc>);

/// A [`UserRow`] with the user principal name and display name, for exports.
type NamedUserRow = (
    uuid::Uuid,
    Option<bool>,
    Option<String>,
    DateTime<Utc>,
    String,
    String,
);

/// The optimization inputs of `tenant_id` (the caller checked scope), in a fixed number of
/// statements whatever the number of users; `names` adds each user's UPN and display name (for
/// exports) to the statement that reads the users.
pub async fn optimization_inputs(
    store: &Store,
    tenant_id: TenantId,
    names: bool,
) -> Result<OptimizationInputs, StoreError> {
    let db = store.db();
    let tenant = tenant_id.uuid();
    // Only the columns optimization reads: a user row holds some forty, and handing 100,000
    // whole rows (and their licenses' plan lists) over from the driver was most of the time.
    let query = user::Entity::find()
        .select_only()
        .columns([
            user::Column::Id,
            user::Column::AccountEnabled,
            user::Column::UserType,
            user::Column::FirstSeenAt,
        ])
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::DeletedAt.is_null());
    let mut user_names = HashMap::new();
    let users: Vec<UserRow> = if names {
        let rows: Vec<NamedUserRow> = query
            .columns([user::Column::UserPrincipalName, user::Column::DisplayName])
            .into_tuple()
            .all(db)
            .await?;
        rows.into_iter()
            .map(
                |(id, enabled, user_type, first_seen_at, upn, display_name)| {
                    let name = UserName {
                        user_principal_name: upn,
                        display_name,
                    };
                    user_names.insert(UserId(id), name);
                    (id, enabled, user_type, first_seen_at)
                },
            )
            .collect()
    } else {
        query.into_tuple().all(db).await?
    };
    let mut licenses: HashMap<uuid::Uuid, Vec<SkuId>> = HashMap::new();
    for (user_id, sku_id) in user_license::Entity::find()
        .select_only()
        .columns([user_license::Column::UserId, user_license::Column::SkuId])
        .filter(user_license::Column::TenantId.eq(tenant))
        .into_tuple::<(uuid::Uuid, uuid::Uuid)>()
        .all(db)
        .await?
    {
        licenses.entry(user_id).or_default().push(SkuId(sku_id));
    }
    let mut shares: HashMap<uuid::Uuid, Vec<Share>> = HashMap::new();
    for (user_id, cost_group_id, percent) in user_allocation::Entity::find()
        .select_only()
        .columns([
            user_allocation::Column::UserId,
            user_allocation::Column::CostGroupId,
            user_allocation::Column::Percent,
        ])
        .filter(user_allocation::Column::TenantId.eq(tenant))
        .into_tuple::<(uuid::Uuid, uuid::Uuid, String)>()
        .all(db)
        .await?
    {
        let percent = percent.parse().map_err(|e| StoreError::Corrupt {
            table: "user_allocations",
            detail: format!("percent of user {user_id}: {e}"),
        })?;
        shares.entry(user_id).or_default().push(Share {
            cost_group: CostGroupId(cost_group_id),
            percent,
        });
    }
    let mut activity: HashMap<uuid::Uuid, SignInActivity> = user_sign_in::Entity::find()
        .filter(user_sign_in::Column::TenantId.eq(tenant))
        .all(db)
        .await?
        .iter()
        .map(|m| (m.user_id, activity_of(m)))
        .collect();
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
    let users = users
        .into_iter()
        .map(|(id, enabled, user_type, first_seen_at)| WasteUser {
            user_id: UserId(id),
            account_enabled: enabled,
            user_type,
            first_seen_at,
            sign_in: activity.remove(&id),
            skus: licenses.remove(&id).unwrap_or_default(),
            shares: shares.remove(&id).unwrap_or_default(),
        })
        .collect();
    Ok(OptimizationInputs {
        users,
        skus,
        prices,
        sign_ins,
        names: user_names,
    })
}
