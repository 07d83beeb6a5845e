//! Root query fields: tenants, one tenant, one user.

use async_graphql::{Context, ID, Object};

use super::error::{ApiError, ApiResult};
use super::pagination;
use super::types::connection::tenant_connection;
use super::types::{TenantConnection, TenantObject, UserObject, loaders};
use crate::domain::{TenantId, UserId};
use crate::store::tenants;

/// Parses a GUID argument, naming the argument when it is malformed.
pub(crate) fn parse_id<T>(argument: &str, id: &ID) -> ApiResult<T>
where
    T: std::str::FromStr<Err = crate::domain::DomainError>,
{
    id.parse::<T>()
        .map_err(|e| ApiError::BadUserInput(format!("{argument}: {e}")))
}

/// Root fields for reading tenants and users.
#[derive(Default)]
pub struct RootQuery;

#[Object]
impl RootQuery {
    /// Tenants by name, a page at a time; `search` matches part of the name or default domain.
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> ApiResult<TenantConnection> {
        let page = pagination::page_request(tenants::TENANT_ORDERING, first, after)?;
        let l = loaders(ctx)?;
        let has_previous = page.after.is_some();
        let found = tenants::list_tenants(&l.store, &l.scope, search.as_deref(), &page).await?;
        Ok(tenant_connection(found, search, has_previous))
    }

    /// One tenant by its Entra tenant id; null when unknown.
    async fn tenant(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<TenantObject>> {
        let id: TenantId = parse_id("id", &id)?;
        Ok(loaders(ctx)?.tenant.load_one(id).await?.map(TenantObject))
    }

    /// One user of a tenant by Graph object id; null when unknown or of another tenant.
    async fn user(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        id: ID,
    ) -> ApiResult<Option<UserObject>> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        let id: UserId = parse_id("id", &id)?;
        let user = loaders(ctx)?.user.load_one(id).await?;
        Ok(user.filter(|u| u.tenant_id == tenant_id).map(UserObject))
    }
}
