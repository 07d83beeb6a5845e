//! Finders and writes for tenants.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};

use super::connect::Store;
use super::entities::tenant::{Column, Entity, Model};
use super::error::StoreError;
use super::id_lists::uuid_among;
use super::keyset;
use super::raw_sql;
use crate::domain::{Page, PageRequest, Tenant, TenantId, TenantScope};

/// Ordering tag of tenant cursors.
pub const TENANT_ORDERING: &str = "name";

fn to_domain(m: Model) -> Tenant {
    Tenant {
        id: TenantId(m.id),
        customer_id: m.customer_id,
        name: m.name,
        default_domain: m.default_domain,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_import_at: m.last_import_at,
    }
}

fn scoped(scope: &TenantScope) -> Condition {
    match scope {
        TenantScope::All => Condition::all(),
        TenantScope::Only(ids) => {
            Condition::all().add(Column::Id.is_in(ids.iter().map(|id| id.uuid())))
        }
    }
}

fn searched(search: Option<&str>) -> Condition {
    match search.map(str::trim).filter(|s| !s.is_empty()) {
        None => Condition::all(),
        Some(text) => {
            let pattern = keyset::contains_pattern(text);
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(Column::Name)))
                        .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(
                    Expr::expr(Func::lower(Expr::col(Column::DefaultDomain)))
                        .like(LikeExpr::new(pattern).escape('\\')),
                )
        }
    }
}

/// Tenants in `scope` whose name or default domain contains `search`, by name then id.
pub async fn list_tenants(
    store: &Store,
    scope: &TenantScope,
    search: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Tenant>, StoreError> {
    let mut query = Entity::find()
        .filter(scoped(scope))
        .filter(searched(search));
    if let Some(cursor) = &page.after {
        query = query.filter(keyset::after(
            Column::Name,
            Column::Id,
            &cursor.key,
            cursor.id,
            false,
        ));
    }
    let query = query
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id)
        .into_query();
    let rows = Entity::find()
        .from_raw_sql(raw_sql::limited(
            store.backend(),
            &query,
            page.fetch_limit(),
        ))
        .all(store.db())
        .await?;
    Ok(Page::from_overfetched(
        rows.into_iter().map(to_domain).collect(),
        page,
    ))
}

/// Every tenant's id, for the tasks that visit each tenant.
pub async fn list_tenant_ids(store: &Store) -> Result<Vec<TenantId>, StoreError> {
    Ok(Entity::find()
        .select_only()
        .column(Column::Id)
        .into_tuple::<uuid::Uuid>()
        .all(store.db())
        .await?
        .into_iter()
        .map(TenantId)
        .collect())
}

/// How many tenants [`list_tenants`] would return over all pages.
pub async fn count_tenants(
    store: &Store,
    scope: &TenantScope,
    search: Option<&str>,
) -> Result<u64, StoreError> {
    Ok(Entity::find()
        .filter(scoped(scope))
        .filter(searched(search))
        .count(store.db())
        .await?)
}

/// The tenants among `ids` that exist and are in `scope`, in no particular order.
pub async fn find_tenants(
    store: &Store,
    scope: &TenantScope,
    ids: &[TenantId],
) -> Result<Vec<Tenant>, StoreError> {
    let rows = Entity::find()
        .filter(scoped(scope))
        .filter(uuid_among(
            store.backend(),
            Column::Id,
            ids.iter().map(|id| id.uuid()),
        ))
        .all(store.db())
        .await?;
    Ok(rows.into_iter().map(to_domain).collect())
}

/// The cursor key of `tenant` in the default order.
pub fn cursor_key(tenant: &Tenant) -> &str {
    &tenant.name
}

pub(crate) fn to_active(t: &Tenant) -> super::entities::tenant::ActiveModel {
    use sea_orm::ActiveValue::Set;
    super::entities::tenant::ActiveModel {
        id: Set(t.id.uuid()),
        customer_id: Set(t.customer_id.clone()),
        name: Set(t.name.clone()),
        default_domain: Set(t.default_domain.clone()),
        created_at: Set(t.created_at),
        updated_at: Set(t.updated_at),
        last_import_at: Set(t.last_import_at),
    }
}
