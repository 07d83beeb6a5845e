//! User versions in the API: `User.history` (a user's versions, newest first, with what changed
//! from the version before) and `Tenant.users(asOf:)` (a tenant's users as they were on a day).

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, Object};
use chrono::NaiveDate;

use super::connection::{UserConnection, UserCursor, UserTotal};
use super::{Date, UserObject, loaders};
use crate::domain::user_version::{self, FieldChange, UserVersion};
use crate::domain::{Page, TenantId, UserFilter, UserId, UserSort};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::pagination;
use crate::store::history::user_versions;
use crate::store::users::UserListQuery;

/// Ordering tag of version cursors: first day, newest first.
const VERSION_ORDERING: &str = "versions";

/// How a version of a user differs from the one before it.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::user_version::VersionChange")]
pub enum UserVersionChange {
    /// The user's first version: an import saw the user for the first time (or, when
    /// `validFrom` is null, the user was stored before history began).
    Added,
    /// The user was gone upstream (soft-deleted).
    Removed,
    /// The user was listed again after being gone.
    Restored,
    /// Fields changed (see `changes`).
    Changed,
}

/// One field of `User` whose value differs between two versions.
pub struct FieldChangeObject(pub FieldChange);

#[Object(name = "UserFieldChange")]
impl FieldChangeObject {
    /// The `User` field, e.g. `department`, `managerId`,
    /// `extensionAttributes.extensionAttribute3` (`managerContact`: the contact's id).
    async fn field(&self) -> &str {
        &self.0.field
    }

    /// The value before, as text; null when unset.
    async fn before(&self) -> Option<&str> {
        self.0.before.as_deref()
    }

    /// The value after, as text; null when unset.
    async fn after(&self) -> Option<&str> {
        self.0.after.as_deref()
    }
}

/// One version of a user: every field as the imports stored it over `[validFrom, validTo)`.
pub struct UserVersionObject {
    version: Arc<UserVersion>,
    previous: Option<Arc<UserVersion>>,
}

#[Object(name = "UserVersion")]
impl UserVersionObject {
    /// The first day of the version, as the import that saw it observed; null when stored
    /// before history began.
    async fn valid_from(&self) -> Option<Date> {
        self.version.from.map(Date)
    }

    /// The day an import saw the next version (the first day this one no longer held); null
    /// for the version in force.
    async fn valid_to(&self) -> Option<Date> {
        self.version.to.map(Date)
    }

    /// How this version differs from the one before it.
    async fn change(&self) -> UserVersionChange {
        user_version::change_of(self.previous.as_ref().map(|p| &p.user), &self.version.user).into()
    }

    /// The fields that differ from the version before (none for the first version).
    async fn changes(&self) -> Vec<FieldChangeObject> {
        self.previous
            .as_ref()
            .map(|p| user_version::field_changes(&p.user, &self.version.user))
            .unwrap_or_default()
            .into_iter()
            .map(FieldChangeObject)
            .collect()
    }

    /// The user's fields in this version. Its relations (`licenses`, `allocation`,
    /// `manager`'s own fields, `directReports`) are today's: see `licenseHistory` for past
    /// licenses.
    async fn user(&self) -> UserObject {
        UserObject::full(&self.version.user)
    }
}

/// A page of a user's versions.
pub type UserVersionConnection = Connection<String, UserVersionObject>;

/// The cursor key of a version: its first day, empty before history began (sorts last).
fn version_key(version: &UserVersion) -> String {
    version.from.map(|d| d.to_string()).unwrap_or_default()
}

/// One page of `user`'s versions, newest first.
pub(crate) async fn user_history(
    ctx: &Context<'_>,
    user: UserId,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<UserVersionConnection> {
    let cursors = pagination::cursors(ctx)?;
    let page = cursors.page_request(VERSION_ORDERING, first, after)?;
    let versions = loaders(ctx)?
        .user_versions
        .load_one(user)
        .await?
        .unwrap_or_default();
    // Versions are newest first, so their keys decrease: the page starts at the first one
    // older than the cursor's.
    let start = match &page.after {
        None => 0,
        Some(cursor) => versions
            .iter()
            .position(|v| version_key(v) < cursor.key)
            .unwrap_or(versions.len()),
    };
    let end = versions.len().min(start + page.first as usize);
    let mut connection = Connection::new(page.after.is_some(), end < versions.len());
    connection.edges.extend((start..end).map(|i| {
        let version = versions[i].clone();
        let cursor = cursors.encode(VERSION_ORDERING, &version_key(&version), user.uuid());
        Edge::new(
            cursor,
            UserVersionObject {
                previous: versions.get(i + 1).cloned(),
                version,
            },
        )
    }));
    Ok(connection)
}

/// Refuses the filters `Tenant.users(asOf:)` cannot answer as of a past day: they read today's
/// licenses, license assignments and allocation, whose past is not kept per user version.
fn check_as_of_filter(filter: &UserFilter) -> ApiResult<()> {
    let refused = [
        ("skuId", filter.sku_id.is_some()),
        ("costGroupId", filter.cost_group_id.is_some()),
        ("unallocated", filter.unallocated.is_some()),
        ("licenseError", filter.license_error.is_some()),
        ("onlyThroughGroup", filter.only_through_group.is_some()),
    ];
    match refused.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(ApiError::BadUserInput(format!(
            "filter.{name} cannot be answered as of a past date (it reads today's licenses or \
             allocation); with asOf, filter on search, department, userType and includeDeleted"
        ))),
        None => Ok(()),
    }
}

/// One page of `tenant_id`'s users as they were on `as_of`, filtered, sorted and paged as
/// `Tenant.users` is.
pub(crate) async fn users_as_of(
    ctx: &Context<'_>,
    tenant_id: TenantId,
    as_of: NaiveDate,
    filter: UserFilter,
    sort: UserSort,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<UserConnection> {
    check_as_of_filter(&filter)?;
    let cursors = pagination::cursors(ctx)?;
    let page = cursors.page_request(sort.tag(), first, after)?;
    let has_previous = page.after.is_some();
    let store = &loaders(ctx)?.store;
    let query = UserListQuery {
        filter: filter.clone(),
        sort,
        page,
        with_managers: false,
    };
    let found: Page<crate::domain::User> =
        user_versions::list_users_as_of(store, tenant_id, as_of, &query).await?;
    let mut connection = Connection::with_additional_fields(
        has_previous,
        found.has_next_page,
        UserTotal::as_of(tenant_id, Arc::new(filter), as_of),
    );
    let cursors = pagination::cursor_keys(ctx)?;
    connection.edges.extend(found.items.iter().map(|user| {
        let cursor = UserCursor::new(cursors.clone(), sort, Arc::new(user.summary()));
        Edge::new(cursor, UserObject::full(user))
    }));
    Ok(connection)
}
