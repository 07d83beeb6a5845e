//! User versions: the version in force is the `users` row, stamped `valid_from`; each import
//! commit copies the rows it is about to change, soft-delete or restore into `user_versions`
//! (set-based, in its transaction) with the day they ended. Reads: a user's versions, and a
//! tenant's users as they were on a day.

use chrono::NaiveDate;
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Order, Query, SelectStatement, UnionType,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement, Value};
use uuid::Uuid;

use crate::domain::user_version::{UserVersion, newest_first};
use crate::domain::{Page, TenantId, TenantScope, UserFilter, UserId};
use crate::store::entities::{user, user_version};
use crate::store::import_runs::observed_span;
use crate::store::keyset;
use crate::store::raw_sql::placeholder;
use crate::store::users::{self, UserListQuery};
use crate::store::{Store, StoreError};

/// Users per statement: each id is a bind parameter of an `IN (…)` list.
const IDS_PER_STATEMENT: usize = 1000;

/// The columns of `users`, in the model's order.
static USER_COLUMNS: [&str; users::COLUMNS.len()] = users::COLUMNS;

/// The columns a version copies from `users` as they are: all but the id (its `user_id`) and
/// `valid_from`.
fn copied_columns() -> &'static [&'static str] {
    &USER_COLUMNS[1..USER_COLUMNS.len() - 1]
}

/// Copies the stored rows of `ids` (users of `tenant_id` an import observed on `on` is about to
/// change, soft-delete or restore) into `user_versions`, ended on `on`: one
/// `INSERT … SELECT` per 1,000 users. A row that took effect on `on` itself is not copied (it
/// lasted no day; the new values replace it).
pub(crate) async fn archive<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    ids: &[Uuid],
    on: NaiveDate,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let columns = copied_columns().join(", ");
    // When the version was last seen: by the tenant's last import, for a present user.
    let values_of = copied_columns()
        .iter()
        .map(|c| match *c {
            "last_seen_at" => users::LAST_SEEN_SQL,
            c => c,
        })
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() + 3);
        let mut bind = |value: Value| {
            values.push(value);
            placeholder(backend, values.len())
        };
        let valid_to = bind(on.into());
        let tenant = bind(tenant_id.uuid().into());
        let list: Vec<String> = chunk.iter().map(|id| bind((*id).into())).collect();
        let before = bind(on.into());
        let sql = format!(
            "INSERT INTO user_versions (user_id, {columns}, valid_from, valid_to, deleted) \
             SELECT id, {values_of}, valid_from, {valid_to}, deleted_at IS NOT NULL FROM users \
             WHERE tenant_id = {tenant} AND id IN ({}) \
             AND (valid_from IS NULL OR valid_from < {before})",
            list.join(", ")
        );
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Stamps `valid_from = on` on the rows of `ids`: their new values took effect on `on`.
pub(crate) async fn stamp<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
    on: NaiveDate,
) -> Result<(), StoreError> {
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        user::Entity::update_many()
            .col_expr(user::Column::ValidFrom, Expr::value(on))
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// A stored version as a domain value.
pub(crate) fn version_of(m: user_version::Model) -> Result<UserVersion, StoreError> {
    let row = user::Model {
        id: m.user_id,
        tenant_id: m.tenant_id,
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
        extension_attributes: m.extension_attributes,
        manager_id: m.manager_id,
        manager_contact_id: m.manager_contact_id,
        manager_contact_name: m.manager_contact_name,
        manager_contact_mail: m.manager_contact_mail,
        first_seen_at: m.first_seen_at,
        last_seen_at: m.last_seen_at,
        deleted_at: m.deleted_at,
        valid_from: None,
    };
    Ok(UserVersion {
        user: users::to_domain(row)?,
        from: m.valid_from,
        to: Some(m.valid_to),
    })
}

/// Every version of the users among `ids` in a tenant of `scope`, each user's newest first:
/// two statements whatever the number of users.
pub async fn list_user_versions(
    store: &Store,
    scope: &TenantScope,
    ids: &[UserId],
) -> Result<Vec<UserVersion>, StoreError> {
    let current = users::find_dated_users(store, scope, ids).await?;
    let mut past = user_version::Entity::find()
        .filter(user_version::Column::UserId.is_in(ids.iter().map(|u| u.uuid())));
    if let TenantScope::Only(tenants) = scope {
        past = past.filter(user_version::Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())));
    }
    let mut out: Vec<UserVersion> = current
        .into_iter()
        .map(|(user, from)| UserVersion {
            user,
            from,
            to: None,
        })
        .collect();
    for row in past.all(store.db()).await? {
        out.push(version_of(row)?);
    }
    out.sort_by_key(|v| v.user.id);
    let mut sorted = Vec::with_capacity(out.len());
    for chunk in out.chunk_by_mut(|a, b| a.user.id == b.user.id) {
        newest_first(chunk);
        sorted.extend(chunk.iter().cloned());
    }
    Ok(sorted)
}

/// `tenant_id`'s users as they were on `on`, as a derived table named `users` with the columns
/// of `users`: each user's version in force that day (rows older than history count as in
/// force since before it began).
fn users_on(tenant_id: TenantId, on: NaiveDate) -> SelectStatement {
    use user_version::{Column as V, Entity as Versions};
    let mut current = Query::select();
    for column in users::COLUMNS {
        if column == "last_seen_at" {
            current.expr_as(Expr::cust(users::LAST_SEEN_SQL), Alias::new(column));
        } else {
            current.column((user::Entity, Alias::new(column)));
        }
    }
    let from = Expr::col((user::Entity, user::Column::ValidFrom));
    current
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::TenantId)).eq(tenant_id.uuid()))
        .and_where(from.clone().is_null().or(from.lte(on)));
    let mut past = Query::select();
    past.expr_as(Expr::col((Versions, V::UserId)), Alias::new("id"));
    for column in copied_columns() {
        past.column((Versions, Alias::new(*column)));
    }
    let from = Expr::col((Versions, V::ValidFrom));
    past.column((Versions, V::ValidFrom))
        .from(Versions)
        .and_where(Expr::col((Versions, V::TenantId)).eq(tenant_id.uuid()))
        .and_where(Expr::col((Versions, V::ValidTo)).gt(on))
        .and_where(from.clone().is_null().or(from.lte(on)));
    current.union(UnionType::All, past);
    current
}

/// One page of `tenant_id`'s users as they were on `on` (see [`users_on`]), filtered, sorted
/// and paged as `Tenant.users` is (filters on today's relations, such as licenses, are refused
/// by the caller): two statements. Empty before the tenant's first import.
pub async fn list_users_as_of(
    store: &Store,
    tenant_id: TenantId,
    on: NaiveDate,
    query: &UserListQuery,
) -> Result<Page<crate::domain::User>, StoreError> {
    if observed_span(store.db(), tenant_id)
        .await?
        .is_none_or(|(first, _)| on < first)
    {
        return Ok(Page::empty());
    }
    let sort = users::sort_column(&query.sort);
    let order = if query.sort.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut select = Query::select();
    for column in users::COLUMNS {
        select.column((user::Entity, Alias::new(column)));
    }
    select
        .from_subquery(users_on(tenant_id, on), user::Entity)
        .cond_where(users::filtered(&query.filter, store.backend()));
    if let Some(cursor) = &query.page.after {
        select.and_where(keyset::after(
            (user::Entity, sort),
            (user::Entity, user::Column::Id),
            &cursor.key,
            cursor.id,
            query.sort.descending,
        ));
    }
    select
        .order_by((user::Entity, sort), order.clone())
        .order_by((user::Entity, user::Column::Id), order)
        .limit(query.page.fetch_limit());
    let rows = users::select_dated_on(store.db(), &select).await?;
    Ok(Page::from_overfetched(
        rows.into_iter().map(|(user, _)| user).collect(),
        &query.page,
    ))
}

/// How many of `tenant_id`'s users as they were on `on` pass `filter` (all pages of
/// [`list_users_as_of`]).
pub async fn count_users_as_of(
    store: &Store,
    tenant_id: TenantId,
    on: NaiveDate,
    filter: &UserFilter,
) -> Result<u64, StoreError> {
    if observed_span(store.db(), tenant_id)
        .await?
        .is_none_or(|(first, _)| on < first)
    {
        return Ok(0);
    }
    let select = Query::select()
        .expr_as(Expr::col(Asterisk).count(), Alias::new("n"))
        .from_subquery(users_on(tenant_id, on), user::Entity)
        .cond_where(users::filtered(filter, store.backend()))
        .to_owned();
    let n: i64 = match store.db().query_one(&select).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
