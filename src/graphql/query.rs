//! Root query fields: tenants, one tenant, one user, renewals, a tenant's import runs, one run.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::error::{ApiError, ApiResult};
use super::ids::parse_id;
use super::pagination;
use super::types::commerce::{CommerceSubscriptionConnection, renewal_connection};
use super::types::connection::{IMPORT_RUN_ORDERING, import_run_connection, tenant_connection};
use super::types::{
    ImportRunConnection, ImportRunObject, TenantConnection, TenantObject, UserObject, loaders,
};
use crate::domain::commerce::RenewalKey;
use crate::domain::{ImportRunId, Page, TenantId, UserId};
use crate::store::{commerce, import_runs, tenants};

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
        let cursors = pagination::cursors(ctx)?;
        let page = cursors.page_request(tenants::TENANT_ORDERING, first, after)?;
        let l = loaders(ctx)?;
        let has_previous = page.after.is_some();
        let found = tenants::list_tenants(&l.store, &l.scope, search.as_deref(), &page).await?;
        Ok(tenant_connection(found, search, has_previous, cursors))
    }

    /// The commerce subscriptions whose commitment ends within the next `within` days (0 to
    /// 3,650), soonest first, over every tenant the caller may see, a page at a time.
    async fn renewals(
        &self,
        ctx: &Context<'_>,
        within: i32,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<CommerceSubscriptionConnection> {
        if !(0..=3650).contains(&within) {
            return Err(ApiError::BadUserInput(format!(
                "within must be from 0 to 3650 days, got {within}"
            )));
        }
        let cursors = pagination::cursors(ctx)?;
        let page = cursors.page_request(RenewalKey::ORDERING, first, after)?;
        if let Some(cursor) = &page.after {
            RenewalKey::from_cursor(cursor).map_err(ApiError::BadUserInput)?;
        }
        let l = loaders(ctx)?;
        let now = Utc::now();
        let until = now + chrono::Duration::days(i64::from(within));
        let found = commerce::list_renewals(&l.store, &l.scope, now, until, &page).await?;
        Ok(renewal_connection(found, page.after.is_some(), cursors))
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
        Ok(user
            .filter(|u| u.tenant_id == tenant_id)
            .map(UserObject::summary))
    }
}

/// Root fields for reading import runs.
#[derive(Default)]
pub struct ImportQuery;

#[Object]
impl ImportQuery {
    /// A tenant's import runs, newest first, a page at a time (`first` defaults to 50, at most
    /// 500). Empty when the tenant is unknown.
    async fn import_runs(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<ImportRunConnection> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        let cursors = pagination::cursors(ctx)?;
        let page = cursors.page_request(IMPORT_RUN_ORDERING, first, after)?;
        let has_previous = page.after.is_some();
        let l = loaders(ctx)?;
        if l.tenant.load_one(tenant_id).await?.is_none() {
            return Ok(import_run_connection(Page::empty(), has_previous, cursors));
        }
        let after = match &page.after {
            None => None,
            Some(cursor) => {
                let started = DateTime::parse_from_rfc3339(&cursor.key)
                    .map_err(|_| {
                        ApiError::BadUserInput(
                            "after is not a cursor issued by this API".to_owned(),
                        )
                    })?
                    .with_timezone(&Utc);
                Some((started, ImportRunId(cursor.id)))
            }
        };
        let runs = import_runs::list_runs(&l.store, tenant_id, after, page.fetch_limit())
            .await
            .map_err(ApiError::from)?;
        Ok(import_run_connection(
            Page::from_overfetched(runs, &page),
            has_previous,
            cursors,
        ))
    }

    /// One import run by id; null when unknown or of a tenant out of the caller's scope.
    async fn import_run(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<ImportRunObject>> {
        let id: ImportRunId = parse_id("id", &id)?;
        let l = loaders(ctx)?;
        let Some(run) = import_runs::find_run(&l.store, id)
            .await
            .map_err(ApiError::from)?
        else {
            return Ok(None);
        };
        if l.tenant.load_one(run.tenant_id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(ImportRunObject(Arc::new(run))))
    }
}
