//! Reads for the CSV exports: a tenant's present users in id order, a chunk at a time, with their
//! licenses and stored allocation.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::allocation;
use super::connect::Store;
use super::entities::user;
use super::error::StoreError;
use super::{licenses, users};
use crate::domain::allocation::UserAllocation;
use crate::domain::{AssignedLicense, TenantId, TenantScope, User, UserId};

/// One user of an export chunk.
#[derive(Debug, Clone)]
pub struct ExportedUser {
    /// The user.
    pub user: User,
    /// Their assigned licenses.
    pub licenses: Vec<AssignedLicense>,
    /// Their stored allocation; `None` when unallocated.
    pub allocation: Option<UserAllocation>,
    /// Their manager's display name: the manager user's (deleted ones included), or the
    /// manager contact's as last listed; `None` without a manager or a known name.
    pub manager_name: Option<String>,
}

/// Up to `limit` present users of `tenant_id` with ids after `after`, in id order, in four
/// statements (users, licenses, allocations, managers' names). Empty for a tenant out of `scope`.
pub async fn list_users_for_export(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    after: Option<UserId>,
    limit: u64,
) -> Result<Vec<ExportedUser>, StoreError> {
    if !scope.allows(tenant_id) {
        return Ok(Vec::new());
    }
    let mut query = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user::Column::DeletedAt.is_null())
        .order_by_asc(user::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(user::Column::Id.gt(after.uuid()));
    }
    let found = users::select_users_on(store.db(), query).await?;
    let ids: Vec<UserId> = found.iter().map(|u| u.id).collect();
    let mut licenses_of: HashMap<UserId, Vec<AssignedLicense>> = HashMap::new();
    for l in licenses::list_licenses_of_users(store, &ids).await? {
        licenses_of.entry(l.user_id).or_default().push(l);
    }
    let mut allocation_of: HashMap<UserId, UserAllocation> =
        allocation::list_allocations_of_users(store, &ids)
            .await?
            .into_iter()
            .map(|a| (a.user_id, a))
            .collect();
    let mut manager_ids: Vec<UserId> = found.iter().filter_map(|u| u.manager_id).collect();
    manager_ids.sort_unstable();
    manager_ids.dedup();
    let manager_names: HashMap<UserId, String> = if manager_ids.is_empty() {
        HashMap::new()
    } else {
        users::find_user_summaries(store, scope, &manager_ids)
            .await?
            .into_iter()
            .map(|m| (m.id, m.display_name))
            .collect()
    };
    let out = found
        .into_iter()
        .map(|user| ExportedUser {
            licenses: licenses_of.remove(&user.id).unwrap_or_default(),
            allocation: allocation_of.remove(&user.id),
            manager_name: match (&user.manager_id, &user.manager_contact) {
                (Some(id), _) => manager_names.get(id).cloned(),
                (None, Some(contact)) => contact.display_name.clone(),
                (None, None) => None,
            },
            user,
        })
        .collect();
    Ok(out)
}
