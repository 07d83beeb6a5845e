//! Root mutation fields. Each area has its own object, merged into the schema's `Mutation`.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};

use super::error::{ApiError, ApiResult};
use super::query::parse_id;
use super::types::{ImportRunObject, loaders};
use crate::domain::{ImportTrigger, TenantId};
use crate::importer::Importer;

/// The importer of this process, when imports are configured; request data of every operation.
pub type ImporterHandle = Option<Arc<Importer>>;

/// The request's importer, or `None` when imports are not configured.
pub(crate) fn importer(ctx: &Context<'_>) -> Option<Arc<Importer>> {
    ctx.data_opt::<ImporterHandle>().cloned().flatten()
}

/// Mutations of imports.
#[derive(Default)]
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Starts an import of one tenant now and returns the run (`RUNNING`); follow it with the
    /// `importProgress` subscription. `NOT_FOUND` when the tenant is unknown, `CONFLICT` when
    /// a run of the tenant is in progress or imports are not configured.
    async fn trigger_import(&self, ctx: &Context<'_>, tenant_id: ID) -> ApiResult<ImportRunObject> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        if loaders(ctx)?.tenant.load_one(tenant_id).await?.is_none() {
            return Err(ApiError::NotFound(format!("tenant {tenant_id} not found")));
        }
        let importer = importer(ctx)
            .ok_or_else(|| ApiError::from(crate::importer::TriggerError::NotConfigured))?;
        let run = importer
            .trigger(tenant_id, ImportTrigger::Manual)
            .await
            .map_err(ApiError::from)?;
        Ok(ImportRunObject(Arc::new(run)))
    }
}
