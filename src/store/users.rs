//! Finders and writes for users: single lookups, paged lists under a tenant, a manager or a
//! SKU (several parents in one statement), and counts.

use std::collections::HashMap;

use sea_orm::sea_query::{
    Alias, Asterisk, ColumnRef, Expr, ExprTrait, Func, IntoColumnRef, LikeExpr, Order,
    OverStatement, Query, SelectStatement, WindowStatement,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, JoinType, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, RelationTrait,
};
use uuid::Uuid;

use super::connect::Store;
use super::entities::{user, user_allocation, user_license, user_license_assignment};
use super::error::StoreError;
use super::id_lists::uuid_among;
use super::keyset;
use super::raw_sql;
use crate::domain::user::EXTENSION_ATTRIBUTES;
use crate::domain::{
    ContactId, ManagerContact, Page, PageRequest, SkuId, TenantId, TenantScope, User, UserDetails,
    UserFilter, UserId, UserSort, UserSortField, UserSummary,
};

/// The owner of a user list: a tenant's users, a manager's direct reports, a SKU's assignees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserParent {
    /// All users of a tenant.
    Tenant(TenantId),
    /// Users whose manager is this user.
    Manager(UserId),
    /// Users holding a license of this SKU in this tenant.
    Sku(TenantId, SkuId),
}

impl UserParent {
    /// Which kind of parent this is; lists of one kind can share a statement.
    pub fn kind(&self) -> u8 {
        match self {
            UserParent::Tenant(_) => 0,
            UserParent::Manager(_) => 1,
            UserParent::Sku(..) => 2,
        }
    }
}

/// What a user list returns and in which order (everything but the parent).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserListQuery {
    /// Which users.
    pub filter: UserFilter,
    /// Which order.
    pub sort: UserSort,
    /// Which slice.
    pub page: PageRequest,
    /// Whether the page's statement also reads the managers of its users (by a join), so that
    /// they cost no statement of their own.
    pub with_managers: bool,
}

/// One page of a user list, with the managers of its users when the query asked for them.
#[derive(Debug, Default)]
pub struct UserPage {
    /// The users.
    pub page: Page<UserSummary>,
    /// The distinct managers (users) of the page's users by id, deleted ones included; empty
    /// unless [`UserListQuery::with_managers`].
    pub managers: HashMap<UserId, UserSummary>,
}

/// Key of extension attribute `index` (0-based) in the stored object, as Graph names it.
fn extension_attribute_key(index: usize) -> String {
    format!("extensionAttribute{}", index + 1)
}

pub(crate) fn extension_attributes_json(
    values: &[Option<String>; EXTENSION_ATTRIBUTES],
) -> serde_json::Value {
    let set: serde_json::Map<String, serde_json::Value> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.as_ref()
                .map(|v| (extension_attribute_key(i), v.clone().into()))
        })
        .collect();
    serde_json::Value::Object(set)
}

fn extension_attributes_of(
    user: uuid::Uuid,
    json: &serde_json::Value,
) -> Result<[Option<String>; EXTENSION_ATTRIBUTES], StoreError> {
    let object = json.as_object().ok_or_else(|| StoreError::Corrupt {
        table: "users",
        detail: format!("extension_attributes of user {user} is not an object"),
    })?;
    let mut values: [Option<String>; EXTENSION_ATTRIBUTES] = Default::default();
    // The object holds only the attributes that are set: walk it rather than look up all 15.
    for (key, value) in object {
        if let Some(slot) = extension_attribute_index(key).and_then(|i| values.get_mut(i)) {
            *slot = value.as_str().map(str::to_owned);
        }
    }
    Ok(values)
}

/// The manager contact stored in a row's `manager_contact_*` columns.
fn contact_of(
    id: Option<Uuid>,
    display_name: Option<String>,
    mail: Option<String>,
) -> Option<ManagerContact> {
    id.map(|id| ManagerContact {
        id: ContactId(id),
        display_name,
        mail,
    })
}

/// The `manager_contact_*` columns of `contact`: id, name, mail.
pub(crate) fn contact_columns(
    contact: Option<&ManagerContact>,
) -> (Option<Uuid>, Option<String>, Option<String>) {
    match contact {
        Some(c) => (Some(c.id.uuid()), c.display_name.clone(), c.mail.clone()),
        None => (None, None, None),
    }
}

/// The 0-based index named by a key of [`extension_attribute_key`]'s form.
fn extension_attribute_index(key: &str) -> Option<usize> {
    let number = key.strip_prefix("extensionAttribute")?;
    if number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse::<usize>().ok()?.checked_sub(1)
}

/// When an import last saw a user, as reads give it. An import writes `last_seen_at` on the users
/// it inserts or changes; the present users it leaves as they were were seen by it too, and the
/// tenant's `last_import_at` says when, so no import rewrites every present row (on PostgreSQL
/// that update took 3.6 to 4.4 s of a 13 s daily import of 100,000 users). A user's stored value
/// is the latest for a soft-deleted user, which the import that removes it stamps with this.
pub(crate) const LAST_SEEN_SQL: &str = "CASE WHEN users.deleted_at IS NULL THEN COALESCE(\
     (SELECT t.last_import_at FROM tenants t WHERE t.id = users.tenant_id \
     AND t.last_import_at > users.last_seen_at), users.last_seen_at) \
     ELSE users.last_seen_at END";

/// `select` (of `users`) narrowed to every column in the model's order, `last_seen_at` as
/// [`LAST_SEEN_SQL`] gives it.
pub(crate) fn with_last_seen(
    select: sea_orm::Select<user::Entity>,
) -> sea_orm::Select<user::Entity> {
    use sea_orm::Iterable;
    user::Column::iter().fold(select.select_only(), |select, column| match column {
        user::Column::LastSeenAt => select.column_as(Expr::cust(LAST_SEEN_SQL), "last_seen_at"),
        column => select.column(column),
    })
}

/// The columns of `users` in the model's order: what `user::Entity::find()` selects, the order
/// [`model_from_row`] reads them in and the import binds them in.
pub(crate) const COLUMNS: [&str; 29] = [
    "id",
    "tenant_id",
    "display_name",
    "given_name",
    "surname",
    "user_principal_name",
    "mail",
    "user_type",
    "account_enabled",
    "job_title",
    "department",
    "company_name",
    "office_location",
    "street_address",
    "city",
    "state",
    "postal_code",
    "country",
    "preferred_language",
    "usage_location",
    "extension_attributes",
    "manager_id",
    "manager_contact_id",
    "manager_contact_name",
    "manager_contact_mail",
    "first_seen_at",
    "last_seen_at",
    "deleted_at",
    "valid_from",
];

/// Reads a `users` row whose first columns are the table's, in the model's order (what
/// `user::Entity::find()` selects), by position. SeaORM's derived reader finds every value of
/// every row by a column name it formats and hashes each time.
fn model_from_row(row: &QueryResult) -> Result<user::Model, sea_orm::DbErr> {
    let mut at = 0..;
    let mut next = || at.next().unwrap_or_default();
    Ok(user::Model {
        id: row.try_get_by_index(next())?,
        tenant_id: row.try_get_by_index(next())?,
        display_name: row.try_get_by_index(next())?,
        given_name: row.try_get_by_index(next())?,
        surname: row.try_get_by_index(next())?,
        user_principal_name: row.try_get_by_index(next())?,
        mail: row.try_get_by_index(next())?,
        user_type: row.try_get_by_index(next())?,
        account_enabled: row.try_get_by_index(next())?,
        job_title: row.try_get_by_index(next())?,
        department: row.try_get_by_index(next())?,
        company_name: row.try_get_by_index(next())?,
        office_location: row.try_get_by_index(next())?,
        street_address: row.try_get_by_index(next())?,
        city: row.try_get_by_index(next())?,
        state: row.try_get_by_index(next())?,
        postal_code: row.try_get_by_index(next())?,
        country: row.try_get_by_index(next())?,
        preferred_language: row.try_get_by_index(next())?,
        usage_location: row.try_get_by_index(next())?,
        extension_attributes: row.try_get_by_index(next())?,
        manager_id: row.try_get_by_index(next())?,
        manager_contact_id: row.try_get_by_index(next())?,
        manager_contact_name: row.try_get_by_index(next())?,
        manager_contact_mail: row.try_get_by_index(next())?,
        first_seen_at: row.try_get_by_index(next())?,
        last_seen_at: row.try_get_by_index(next())?,
        deleted_at: row.try_get_by_index(next())?,
        valid_from: row.try_get_by_index(next())?,
    })
}

/// The columns a [`UserSummary`] is read from, in the order [`summary_from_row`] reads them.
const SUMMARY_COLUMNS: [user::Column; 14] = [
    user::Column::Id,
    user::Column::TenantId,
    user::Column::DisplayName,
    user::Column::UserPrincipalName,
    user::Column::Mail,
    user::Column::UserType,
    user::Column::AccountEnabled,
    user::Column::JobTitle,
    user::Column::Department,
    user::Column::ManagerId,
    user::Column::ManagerContactId,
    user::Column::ManagerContactName,
    user::Column::ManagerContactMail,
    user::Column::DeletedAt,
];

/// A select of the [`SUMMARY_COLUMNS`] of `users`, to be narrowed by the caller.
fn summaries() -> sea_orm::Select<user::Entity> {
    user::Entity::find().select_only().columns(SUMMARY_COLUMNS)
}

/// Reads a row whose first columns are the [`SUMMARY_COLUMNS`], by position.
fn summary_from_row(row: &QueryResult) -> Result<UserSummary, sea_orm::DbErr> {
    summary_at(row, 0)
}

/// Reads the [`SUMMARY_COLUMNS`] of a row from position `start` on.
fn summary_at(row: &QueryResult, start: usize) -> Result<UserSummary, sea_orm::DbErr> {
    let mut at = start..;
    let mut next = || at.next().unwrap_or_default();
    Ok(UserSummary {
        id: UserId(row.try_get_by_index(next())?),
        tenant_id: TenantId(row.try_get_by_index(next())?),
        display_name: row.try_get_by_index(next())?,
        user_principal_name: row.try_get_by_index(next())?,
        mail: row.try_get_by_index(next())?,
        user_type: row.try_get_by_index(next())?,
        account_enabled: row.try_get_by_index(next())?,
        job_title: row.try_get_by_index(next())?,
        department: row.try_get_by_index(next())?,
        manager_id: row.try_get_by_index::<Option<Uuid>>(next())?.map(UserId),
        manager_contact: contact_of(
            row.try_get_by_index(next())?,
            row.try_get_by_index(next())?,
            row.try_get_by_index(next())?,
        ),
        deleted_at: row.try_get_by_index(next())?,
    })
}

/// Runs a select built on [`summaries`] and reads the rows.
async fn select_summaries(
    store: &Store,
    select: sea_orm::Select<user::Entity>,
) -> Result<Vec<UserSummary>, StoreError> {
    let rows = store.db().query_all(&select.into_query()).await?;
    Ok(rows
        .iter()
        .map(summary_from_row)
        .collect::<Result<_, _>>()?)
}

/// The columns a [`UserDetails`] is read from, in the order [`details_from_row`] reads them.
const DETAIL_COLUMNS: [user::Column; 14] = [
    user::Column::Id,
    user::Column::GivenName,
    user::Column::Surname,
    user::Column::CompanyName,
    user::Column::OfficeLocation,
    user::Column::StreetAddress,
    user::Column::City,
    user::Column::State,
    user::Column::PostalCode,
    user::Column::Country,
    user::Column::PreferredLanguage,
    user::Column::UsageLocation,
    user::Column::ExtensionAttributes,
    user::Column::FirstSeenAt,
];

/// Reads a row of the [`DETAIL_COLUMNS`] followed by `last_seen_at`, by position.
fn details_from_row(row: &QueryResult) -> Result<UserDetails, StoreError> {
    let mut at = 0..;
    let mut next = || at.next().unwrap_or_default();
    let id: Uuid = row.try_get_by_index(next())?;
    let mut text = || row.try_get_by_index::<Option<String>>(next());
    Ok(UserDetails {
        id: UserId(id),
        given_name: text()?,
        surname: text()?,
        company_name: text()?,
        office_location: text()?,
        street_address: text()?,
        city: text()?,
        state: text()?,
        postal_code: text()?,
        country: text()?,
        preferred_language: text()?,
        usage_location: text()?,
        extension_attributes: extension_attributes_of(
            id,
            &row.try_get_by_index::<serde_json::Value>(next())?,
        )?,
        first_seen_at: row.try_get_by_index(next())?,
        last_seen_at: row.try_get_by_index(next())?,
    })
}

/// Runs `select` (of `users`, as `user::Entity::find()` builds it) on `conn` for all of the
/// columns, and reads the rows by position.
pub(crate) async fn select_users_on(
    conn: &impl ConnectionTrait,
    select: sea_orm::Select<user::Entity>,
) -> Result<Vec<User>, StoreError> {
    let rows = conn.query_all(&with_last_seen(select).into_query()).await?;
    rows.iter()
        .map(|row| to_domain(model_from_row(row)?))
        .collect()
}

/// Runs `select` (of the columns of `users` in the model's order) on `conn`: each user with the
/// day its row took effect (`valid_from`).
pub(crate) async fn select_dated_on(
    conn: &impl ConnectionTrait,
    select: &SelectStatement,
) -> Result<Vec<(User, Option<chrono::NaiveDate>)>, StoreError> {
    let rows = conn.query_all(select).await?;
    rows.iter()
        .map(|row| {
            let model = model_from_row(row)?;
            let from = model.valid_from;
            Ok((to_domain(model)?, from))
        })
        .collect()
}

/// The users among `ids` in a tenant of `scope` (deleted ones included), each with the day its
/// row took effect.
pub(crate) async fn find_dated_users(
    store: &Store,
    scope: &TenantScope,
    ids: &[UserId],
) -> Result<Vec<(User, Option<chrono::NaiveDate>)>, StoreError> {
    let select =
        with_last_seen(among(user::Entity::find(), store.backend(), scope, ids)).into_query();
    select_dated_on(store.db(), &select).await
}

pub(crate) fn to_domain(m: user::Model) -> Result<User, StoreError> {
    let extension_attributes = extension_attributes_of(m.id, &m.extension_attributes)?;
    Ok(User {
        id: UserId(m.id),
        tenant_id: TenantId(m.tenant_id),
        display_name: m.display_name,
        given_name: m.given_name,
        surname: m.surname,
        user_principal_name: m.user_principal_name,
        mail: m.mail,
        user_type: m.user_type,
        account_enabled: m.account_enabled,
        job_title: m.job_title,
        department: m.department,
        company_name: m.company_name,
        office_location: m.office_location,
        street_address: m.street_address,
        city: m.city,
        state: m.state,
        postal_code: m.postal_code,
        country: m.country,
        preferred_language: m.preferred_language,
        usage_location: m.usage_location,
        extension_attributes,
        manager_id: m.manager_id.map(UserId),
        manager_contact: contact_of(
            m.manager_contact_id,
            m.manager_contact_name,
            m.manager_contact_mail,
        ),
        first_seen_at: m.first_seen_at,
        last_seen_at: m.last_seen_at,
        deleted_at: m.deleted_at,
    })
}

pub(crate) fn to_active(u: &User) -> user::ActiveModel {
    use sea_orm::ActiveValue::Set;
    let (contact_id, contact_name, contact_mail) = contact_columns(u.manager_contact.as_ref());
    user::ActiveModel {
        id: Set(u.id.uuid()),
        tenant_id: Set(u.tenant_id.uuid()),
        display_name: Set(u.display_name.clone()),
        given_name: Set(u.given_name.clone()),
        surname: Set(u.surname.clone()),
        user_principal_name: Set(u.user_principal_name.clone()),
        mail: Set(u.mail.clone()),
        user_type: Set(u.user_type.clone()),
        account_enabled: Set(u.account_enabled),
        job_title: Set(u.job_title.clone()),
        department: Set(u.department.clone()),
        company_name: Set(u.company_name.clone()),
        office_location: Set(u.office_location.clone()),
        street_address: Set(u.street_address.clone()),
        city: Set(u.city.clone()),
        state: Set(u.state.clone()),
        postal_code: Set(u.postal_code.clone()),
        country: Set(u.country.clone()),
        preferred_language: Set(u.preferred_language.clone()),
        usage_location: Set(u.usage_location.clone()),
        extension_attributes: Set(extension_attributes_json(&u.extension_attributes)),
        manager_id: Set(u.manager_id.map(UserId::uuid)),
        manager_contact_id: Set(contact_id),
        manager_contact_name: Set(contact_name),
        manager_contact_mail: Set(contact_mail),
        first_seen_at: Set(u.first_seen_at),
        last_seen_at: Set(u.last_seen_at),
        deleted_at: Set(u.deleted_at),
        valid_from: sea_orm::ActiveValue::NotSet,
    }
}

/// Narrows `select` to the users among `ids` in a tenant of `scope`.
fn among(
    select: sea_orm::Select<user::Entity>,
    backend: DatabaseBackend,
    scope: &TenantScope,
    ids: &[UserId],
) -> sea_orm::Select<user::Entity> {
    let select = select.filter(uuid_among(
        backend,
        user::Column::Id,
        ids.iter().map(|id| id.uuid()),
    ));
    match scope {
        TenantScope::Only(tenants) => select.filter(uuid_among(
            backend,
            user::Column::TenantId,
            tenants.iter().map(|t| t.uuid()),
        )),
        TenantScope::All => select,
    }
}

/// The details (the columns beyond the summary) of the users among `ids` that exist in a tenant
/// of `scope` (deleted ones included).
pub async fn find_user_details(
    store: &Store,
    scope: &TenantScope,
    ids: &[UserId],
) -> Result<Vec<UserDetails>, StoreError> {
    let select = among(
        user::Entity::find()
            .select_only()
            .columns(DETAIL_COLUMNS)
            .column_as(Expr::cust(LAST_SEEN_SQL), "last_seen_at"),
        store.backend(),
        scope,
        ids,
    );
    let rows = store.db().query_all(&select.into_query()).await?;
    rows.iter().map(details_from_row).collect()
}

/// The summaries of the users among `ids` that exist in a tenant of `scope` (deleted ones
/// included).
pub async fn find_user_summaries(
    store: &Store,
    scope: &TenantScope,
    ids: &[UserId],
) -> Result<Vec<UserSummary>, StoreError> {
    select_summaries(store, among(summaries(), store.backend(), scope, ids)).await
}

pub(crate) fn sort_column(sort: &UserSort) -> user::Column {
    match sort.field {
        UserSortField::DisplayName => user::Column::DisplayName,
        UserSortField::UserPrincipalName => user::Column::UserPrincipalName,
    }
}

/// `users.id` among `ids`, bound as one JSON array whatever their number: an `IN` list with a
/// parameter per id would pass SQLite's limit of 32,766 parameters on a tenant with that many
/// findings. SQLite stores ids as 16-byte blobs, PostgreSQL as `uuid`.
fn id_among(ids: &[UserId], backend: DatabaseBackend) -> Expr {
    let sql = match backend {
        DatabaseBackend::Postgres => {
            r#""users"."id" IN (SELECT value::uuid FROM json_array_elements_text(CAST($1 AS json)))"#
        }
        _ => r#""users"."id" IN (SELECT unhex(value) FROM json_each(?))"#,
    };
    let list: Vec<String> = ids.iter().map(|u| u.uuid().simple().to_string()).collect();
    let json = serde_json::Value::from(list).to_string();
    Expr::cust_with_values(sql, [json])
}

/// The filter conditions shared by lists and counts, written for `backend`.
pub(crate) fn filtered(filter: &UserFilter, backend: DatabaseBackend) -> Condition {
    let mut cond = Condition::all();
    if !filter.include_deleted {
        cond = cond.add(user::Column::DeletedAt.is_null());
    }
    if let Some(department) = &filter.department {
        cond = cond.add(user::Column::Department.eq(department.clone()));
    }
    if let Some(user_type) = &filter.user_type {
        cond = cond.add(user::Column::UserType.eq(user_type.clone()));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = keyset::contains_pattern(search);
        let like = |column: user::Column| {
            Expr::expr(Func::lower(Expr::col((user::Entity, column))))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        cond = cond.add(
            Condition::any()
                .add(like(user::Column::DisplayName))
                .add(like(user::Column::UserPrincipalName))
                .add(like(user::Column::Mail)),
        );
    }
    if let Some(sku) = filter.sku_id {
        let holders = Query::select()
            .column(user_license::Column::UserId)
            .from(user_license::Entity)
            .and_where(Expr::col(user_license::Column::SkuId).eq(sku.uuid()))
            .to_owned();
        cond = cond.add(Expr::col((user::Entity, user::Column::Id)).in_subquery(holders));
    }
    if let Some(group) = filter.cost_group_id {
        // Served by `idx_user_allocations_group_user`.
        let members = Query::select()
            .column(user_allocation::Column::UserId)
            .from(user_allocation::Entity)
            .and_where(Expr::col(user_allocation::Column::CostGroupId).eq(group.uuid()))
            .to_owned();
        cond = cond.add(Expr::col((user::Entity, user::Column::Id)).in_subquery(members));
    }
    if let Some(unallocated) = filter.unallocated {
        // Correlated on the primary key's first column (user_id, cost_group_id).
        let placed = Query::select()
            .expr(Expr::val(1))
            .from(user_allocation::Entity)
            .and_where(
                Expr::col((user_allocation::Entity, user_allocation::Column::UserId))
                    .equals((user::Entity, user::Column::Id)),
            )
            .to_owned();
        let exists = Expr::exists(placed);
        cond = cond.add(if unallocated { exists.not() } else { exists });
    }
    if let Some(in_error) = filter.license_error {
        // Few users have an assignment in error: served by the partial index
        // `idx_user_license_assignments_tenant_in_error`, whose condition this is.
        let failing = Query::select()
            .column(user_license_assignment::Column::UserId)
            .from(user_license_assignment::Entity)
            .and_where(Expr::col(user_license_assignment::Column::InError).eq(true))
            .to_owned();
        let member = Expr::col((user::Entity, user::Column::Id));
        cond = cond.add(if in_error {
            member.in_subquery(failing)
        } else {
            member.not_in_subquery(failing)
        });
    }
    if let Some(only) = filter.only_through_group {
        let exists = Expr::exists(held_only_through_groups(filter.sku_id));
        cond = cond.add(if only { exists } else { exists.not() });
    }
    if let Some(ids) = &filter.user_ids {
        cond = cond.add(id_among(ids, backend));
    }
    cond
}

/// The licenses (of `sku` when given) of the outer query's user that a group assigns and no
/// direct assignment does: correlated on the user, each lookup on a primary key (the
/// assignments' leads with the tenant, then the user).
fn held_only_through_groups(sku: Option<SkuId>) -> SelectStatement {
    use user_license_assignment::{Column as A, Entity as Assignments};
    let assigned = |by_group: bool| {
        let group = Expr::col((Assignments, A::AssignedByGroup));
        Query::select()
            .expr(Expr::val(1))
            .from(Assignments)
            .and_where(
                Expr::col((Assignments, A::TenantId))
                    .equals((user_license::Entity, user_license::Column::TenantId)),
            )
            .and_where(
                Expr::col((Assignments, A::UserId))
                    .equals((user_license::Entity, user_license::Column::UserId)),
            )
            .and_where(
                Expr::col((Assignments, A::SkuId))
                    .equals((user_license::Entity, user_license::Column::SkuId)),
            )
            .and_where(if by_group {
                group.is_not_null()
            } else {
                group.is_null()
            })
            .to_owned()
    };
    let mut held = Query::select();
    held.expr(Expr::val(1))
        .from(user_license::Entity)
        .and_where(
            Expr::col((user_license::Entity, user_license::Column::UserId))
                .equals((user::Entity, user::Column::Id)),
        )
        .and_where(Expr::exists(assigned(true)))
        .and_where(Expr::exists(assigned(false)).not());
    if let Some(sku) = sku {
        held.and_where(
            Expr::col((user_license::Entity, user_license::Column::SkuId)).eq(sku.uuid()),
        );
    }
    held
}

/// Restricts a select to the parents (all of one kind) and returns the columns that name the
/// parent of each row, to be selected as `p0`, `p1`.
fn with_parents(
    mut select: sea_orm::Select<user::Entity>,
    parents: &[UserParent],
) -> (sea_orm::Select<user::Entity>, Vec<ColumnRef>) {
    match parents.first() {
        Some(UserParent::Manager(_)) => {
            let ids = parents.iter().filter_map(|p| match p {
                UserParent::Manager(id) => Some(id.uuid()),
                _ => None,
            });
            select = select.filter(user::Column::ManagerId.is_in(ids));
            (
                select,
                vec![(user::Entity, user::Column::ManagerId).into_column_ref()],
            )
        }
        Some(UserParent::Sku(..)) => {
            let (tenants, skus): (Vec<Uuid>, Vec<Uuid>) = parents
                .iter()
                .filter_map(|p| match p {
                    UserParent::Sku(t, s) => Some((t.uuid(), s.uuid())),
                    _ => None,
                })
                .unzip();
            select = select
                .join_rev(JoinType::InnerJoin, user_license::Relation::User.def())
                .filter(user_license::Column::SkuId.is_in(skus))
                .filter(user::Column::TenantId.is_in(tenants));
            let cols = vec![
                (user::Entity, user::Column::TenantId).into_column_ref(),
                (user_license::Entity, user_license::Column::SkuId).into_column_ref(),
            ];
            (select, cols)
        }
        _ => {
            let ids = parents.iter().filter_map(|p| match p {
                UserParent::Tenant(id) => Some(id.uuid()),
                _ => None,
            });
            select = select.filter(user::Column::TenantId.is_in(ids));
            (
                select,
                vec![(user::Entity, user::Column::TenantId).into_column_ref()],
            )
        }
    }
}

const PARTITION_ALIASES: [&str; 2] = ["p0", "p1"];

fn select_partition(
    mut select: sea_orm::Select<user::Entity>,
    cols: &[ColumnRef],
) -> sea_orm::Select<user::Entity> {
    for (col, alias) in cols.iter().zip(PARTITION_ALIASES) {
        select = select.column_as(Expr::col(col.clone()), alias);
    }
    select
}

/// Reads the parent of a row from the `p0`, `p1` columns.
fn parent_from_row(kind: &UserParent, row: &QueryResult) -> Result<UserParent, StoreError> {
    let p0: Uuid = row.try_get("", "p0")?;
    Ok(match kind {
        UserParent::Tenant(_) => UserParent::Tenant(TenantId(p0)),
        UserParent::Manager(_) => UserParent::Manager(UserId(p0)),
        UserParent::Sku(..) => UserParent::Sku(TenantId(p0), SkuId(row.try_get("", "p1")?)),
    })
}

/// The alias of the manager's row joined to each user of a page.
const MANAGER: &str = "manager";

/// Selects, right after the user's [`SUMMARY_COLUMNS`], the same columns of the user's manager
/// (a user of the same tenant, deleted ones included; nulls when there is none), by a left join
/// on the primary key.
fn with_manager_columns(
    mut select: sea_orm::Select<user::Entity>,
) -> sea_orm::Select<user::Entity> {
    let manager = Alias::new(MANAGER);
    for (i, column) in SUMMARY_COLUMNS.iter().enumerate() {
        select = select.column_as(Expr::col((manager.clone(), *column)), format!("m{i}"));
    }
    QueryTrait::query(&mut select).join_as(
        JoinType::LeftJoin,
        user::Entity,
        manager.clone(),
        Condition::all()
            .add(
                Expr::col((manager.clone(), user::Column::Id))
                    .equals((user::Entity, user::Column::ManagerId)),
            )
            .add(
                Expr::col((manager, user::Column::TenantId))
                    .equals((user::Entity, user::Column::TenantId)),
            ),
    );
    select
}

/// Reads the manager [`with_manager_columns`] selected, if the row's user has one.
fn manager_from_row(row: &QueryResult) -> Result<Option<UserSummary>, sea_orm::DbErr> {
    let start = SUMMARY_COLUMNS.len();
    match row.try_get_by_index::<Option<Uuid>>(start)? {
        Some(_) => Ok(Some(summary_at(row, start)?)),
        None => Ok(None),
    }
}

/// The rows of one parent's page, as read.
#[derive(Default)]
struct PageRows {
    users: Vec<UserSummary>,
    managers: HashMap<UserId, UserSummary>,
}

impl PageRows {
    fn push(&mut self, row: &QueryResult, with_managers: bool) -> Result<(), sea_orm::DbErr> {
        self.users.push(summary_from_row(row)?);
        if with_managers && let Some(manager) = manager_from_row(row)? {
            self.managers.entry(manager.id).or_insert(manager);
        }
        Ok(())
    }
}

/// One page of users for each parent (all parents of one kind), in one SQL statement, with the
/// users' managers in the same statement when the query asks for them.
///
/// One parent is a plain ordered, limited select that an index serves; several parents are
/// numbered per parent with `ROW_NUMBER()` and cut at the page size.
pub async fn list_user_pages(
    store: &Store,
    parents: &[UserParent],
    query: &UserListQuery,
) -> Result<HashMap<UserParent, UserPage>, StoreError> {
    let Some(first_parent) = parents.first() else {
        return Ok(HashMap::new());
    };
    debug_assert!(parents.iter().all(|p| p.kind() == first_parent.kind()));
    let sort = sort_column(&query.sort);
    let order = if query.sort.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut select = summaries();
    if query.with_managers {
        select = with_manager_columns(select);
    }
    let mut select = select.filter(filtered(&query.filter, store.backend()));
    if let Some(cursor) = &query.page.after {
        select = select.filter(keyset::after(
            (user::Entity, sort),
            (user::Entity, user::Column::Id),
            &cursor.key,
            cursor.id,
            query.sort.descending,
        ));
    }
    let (select, partition_cols) = with_parents(select, parents);
    let limit = query.page.fetch_limit();

    let mut pages: HashMap<UserParent, PageRows> = HashMap::new();
    if parents.len() == 1 {
        let select = select
            .order_by(sort, order.clone())
            .order_by(user::Column::Id, order);
        let statement = raw_sql::limited(store.backend(), &select.into_query(), limit);
        let rows = store.db().query_all_raw(statement).await?;
        let page = pages.entry(*first_parent).or_default();
        for row in &rows {
            page.push(row, query.with_managers)?;
        }
    } else {
        let mut window = WindowStatement::new();
        for col in &partition_cols {
            window.add_partition_by(Expr::col(col.clone()));
        }
        window.order_by((user::Entity, sort), order.clone());
        window.order_by((user::Entity, user::Column::Id), order);
        let mut inner: SelectStatement = select_partition(select, &partition_cols).into_query();
        inner.expr_window_as(
            Expr::cust("ROW_NUMBER()"),
            window,
            Alias::new("row_in_parent"),
        );
        let outer = Query::select()
            .column(Asterisk)
            .from_subquery(inner, Alias::new("numbered"))
            .and_where(Expr::col(Alias::new("row_in_parent")).lte(limit))
            .order_by(Alias::new("row_in_parent"), Order::Asc)
            .to_owned();
        for row in store.db().query_all(&outer).await? {
            let parent = parent_from_row(first_parent, &row)?;
            pages
                .entry(parent)
                .or_default()
                .push(&row, query.with_managers)?;
        }
    }
    Ok(parents
        .iter()
        .map(|parent| {
            let rows = pages.remove(parent).unwrap_or_default();
            let page = UserPage {
                page: Page::from_overfetched(rows.users, &query.page),
                managers: rows.managers,
            };
            (*parent, page)
        })
        .collect())
}

/// For each parent (all of one kind), how many users [`list_user_pages`] would return over all
/// pages, in one SQL statement.
pub async fn count_user_lists(
    store: &Store,
    parents: &[UserParent],
    filter: &UserFilter,
) -> Result<HashMap<UserParent, u64>, StoreError> {
    let Some(first_parent) = parents.first() else {
        return Ok(HashMap::new());
    };
    let select = user::Entity::find().filter(filtered(filter, store.backend()));
    let (select, partition_cols) = with_parents(select, parents);
    let mut select = select_partition(select.select_only(), &partition_cols)
        .column_as(Expr::col((user::Entity, user::Column::Id)).count(), "n");
    for col in &partition_cols {
        select = select.group_by(Expr::col(col.clone()));
    }
    let mut counts: HashMap<UserParent, u64> = parents.iter().map(|p| (*p, 0)).collect();
    let stmt = select.into_query();
    for row in store.db().query_all(&stmt).await? {
        let n: i64 = row.try_get("", "n")?;
        if let Some(slot) = counts.get_mut(&parent_from_row(first_parent, &row)?) {
            *slot = u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic, Iterable};

    use super::*;

    #[test]
    fn rows_are_read_in_the_order_the_entity_selects_its_columns() {
        let selected: Vec<&str> = user::Column::iter().map(|c| c.as_str()).collect();
        assert_eq!(
            selected, COLUMNS,
            "model_from_row reads the columns by position in this order"
        );
    }

    #[test]
    fn extension_attribute_keys_round_trip_and_others_are_ignored() {
        let mut values: [Option<String>; EXTENSION_ATTRIBUTES] = Default::default();
        values[0] = Some("a".to_owned());
        values[14] = Some("o".to_owned());
        let json = extension_attributes_json(&values);
        assert_eq!(extension_attributes_of(Uuid::nil(), &json).unwrap(), values);
        for key in [
            "extensionAttribute0",
            "extensionAttribute01",
            "extensionAttribute+1",
            "extensionAttribute",
            "other",
        ] {
            assert_eq!(extension_attribute_index(key), None, "{key}");
        }
        assert_eq!(extension_attribute_index("extensionAttribute15"), Some(14));
        let beyond = serde_json::json!({ "extensionAttribute16": "p", "extensionAttribute2": "b" });
        let read = extension_attributes_of(Uuid::nil(), &beyond).unwrap();
        assert_eq!(read[1].as_deref(), Some("b"));
        assert_eq!(read.iter().flatten().count(), 1);
    }
}
