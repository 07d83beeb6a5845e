//! Relay connections of tenants and users, with a lazily counted `totalCount` (the unfiltered
//! totals of a tenant's and a SKU's users read from the counts kept at commit), and of import
//! runs.

use std::sync::Arc;

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, Object};

use super::{ImportRunObject, TenantObject, UserObject, loaders};
use crate::domain::{
    ImportRun, Page, Tenant, TenantCounts, TenantId, UserFilter, UserSort, UserSummary,
};
use crate::graphql::loaders::PageRelations;

use crate::graphql::error::ApiResult;
use crate::graphql::loaders::UserCountKey;
use crate::graphql::pagination::Cursors;
use crate::store::history::user_versions;
use crate::store::tenants;
use crate::store::users::UserParent;

/// The kept counts of `tenant_id`, through the request's loader (one statement for every tenant
/// of the request); zeros for a tenant never imported.
pub(crate) async fn counts_of(ctx: &Context<'_>, tenant_id: TenantId) -> ApiResult<TenantCounts> {
    Ok(loaders(ctx)?
        .counts
        .load_one(tenant_id)
        .await?
        .unwrap_or_default())
}

/// `totalCount` of a user connection, counted only when asked for.
pub struct UserTotal {
    parent: UserParent,
    filter: Arc<UserFilter>,
    /// Count the tenant's users as they were on this day (`Tenant.users(asOf:)`).
    as_of: Option<chrono::NaiveDate>,
}

impl UserTotal {
    /// The total of `tenant_id`'s users as they were on `on` that pass `filter`.
    pub fn as_of(tenant_id: TenantId, filter: Arc<UserFilter>, on: chrono::NaiveDate) -> Self {
        UserTotal {
            parent: UserParent::Tenant(tenant_id),
            filter,
            as_of: Some(on),
        }
    }
}

#[Object]
impl UserTotal {
    /// Number of users in the whole list (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        if let (Some(on), UserParent::Tenant(tenant_id)) = (self.as_of, self.parent) {
            let store = &loaders(ctx)?.store;
            return Ok(user_versions::count_users_as_of(store, tenant_id, on, &self.filter).await?);
        }
        // The unfiltered totals are kept at commit time; filtered ones are counted.
        let unfiltered = *self.filter == UserFilter::default();
        let with_deleted = *self.filter
            == UserFilter {
                include_deleted: true,
                ..UserFilter::default()
            };
        match self.parent {
            UserParent::Tenant(tenant_id) if unfiltered || with_deleted => {
                let counts = counts_of(ctx, tenant_id).await?;
                return Ok(if unfiltered {
                    counts.users
                } else {
                    counts.all_users()
                });
            }
            UserParent::Sku(tenant_id, sku_id) if unfiltered => {
                return Ok(loaders(ctx)?
                    .sku_holders
                    .load_one((tenant_id, sku_id))
                    .await?
                    .unwrap_or(0));
            }
            _ => {}
        }
        let key = UserCountKey {
            parent: self.parent,
            filter: self.filter.clone(),
        };
        Ok(loaders(ctx)?.user_counts.load_one(key).await?.unwrap_or(0))
    }
}

/// A user's place in a list, sealed into its cursor only when the response shows it (an edge's
/// `cursor`, `pageInfo`'s `startCursor` and `endCursor`): a page that asks for neither seals
/// nothing, where sealing every edge's cursor was a few percent of a page's CPU.
pub struct UserCursor {
    cursors: Arc<Cursors>,
    sort: UserSort,
    user: Arc<UserSummary>,
}

impl UserCursor {
    /// The cursor of `user` in a list ordered by `sort`.
    pub fn new(cursors: Arc<Cursors>, sort: UserSort, user: Arc<UserSummary>) -> Self {
        UserCursor {
            cursors,
            sort,
            user,
        }
    }
}

impl CursorType for UserCursor {
    type Error = &'static str;

    /// Never called: `after` arrives as a string and [`Cursors::page_request`] opens it.
    fn decode_cursor(_: &str) -> Result<Self, Self::Error> {
        Err("user cursors are opened by Cursors::page_request")
    }

    fn encode_cursor(&self) -> String {
        self.cursors.encode(
            self.sort.tag(),
            self.sort.key_of(&self.user),
            self.user.id.uuid(),
        )
    }
}

/// A page of users.
pub type UserConnection = Connection<UserCursor, UserObject, UserTotal>;

/// Builds a user connection from a page.
pub fn user_connection(
    page: Page<Arc<UserSummary>>,
    relations: Arc<PageRelations>,
    parent: UserParent,
    filter: Arc<UserFilter>,
    sort: UserSort,
    has_previous_page: bool,
    cursors: &Arc<Cursors>,
) -> UserConnection {
    let mut connection = Connection::with_additional_fields(
        has_previous_page,
        page.has_next_page,
        UserTotal {
            parent,
            filter,
            as_of: None,
        },
    );
    connection.edges.extend(page.items.into_iter().map(|user| {
        let cursor = UserCursor::new(cursors.clone(), sort, user.clone());
        Edge::new(cursor, UserObject::in_page(user, relations.clone()))
    }));
    connection
}

/// `totalCount` of the tenant list, counted only when asked for.
pub struct TenantTotal {
    search: Option<String>,
}

#[Object]
impl TenantTotal {
    /// Number of tenants in the whole list (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let l = loaders(ctx)?;
        Ok(tenants::count_tenants(&l.store, &l.scope, self.search.as_deref()).await?)
    }
}

/// A page of tenants.
pub type TenantConnection = Connection<String, TenantObject, TenantTotal>;

/// Builds a tenant connection from a page.
pub fn tenant_connection(
    page: Page<Tenant>,
    search: Option<String>,
    has_previous_page: bool,
    cursors: &Cursors,
) -> TenantConnection {
    let mut connection = Connection::with_additional_fields(
        has_previous_page,
        page.has_next_page,
        TenantTotal { search },
    );
    connection
        .edges
        .extend(page.items.into_iter().map(|tenant| {
            let cursor = cursors.encode(
                tenants::TENANT_ORDERING,
                tenants::cursor_key(&tenant),
                tenant.id.uuid(),
            );
            Edge::new(cursor, TenantObject(Arc::new(tenant)))
        }));
    connection
}

/// Ordering tag of import run cursors: start time, newest first.
pub const IMPORT_RUN_ORDERING: &str = "started";

/// The cursor key of a run: its start time in RFC 3339 with every stored digit, so that the
/// key read back is the exact stored instant.
pub fn import_run_cursor_key(run: &ImportRun) -> String {
    run.started_at
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A page of import runs.
pub type ImportRunConnection = Connection<String, ImportRunObject>;

/// Builds an import run connection from a page.
pub fn import_run_connection(
    page: Page<ImportRun>,
    has_previous_page: bool,
    cursors: &Cursors,
) -> ImportRunConnection {
    let mut connection = Connection::new(has_previous_page, page.has_next_page);
    connection.edges.extend(page.items.into_iter().map(|run| {
        let cursor = cursors.encode(
            IMPORT_RUN_ORDERING,
            &import_run_cursor_key(&run),
            run.id.uuid(),
        );
        Edge::new(cursor, ImportRunObject(Arc::new(run)))
    }));
    connection
}
