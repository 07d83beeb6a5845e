//! `AuditEntry` and `Query.auditLog`: who changed what in a tenant's cost allocation.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Json, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::loaders;
use crate::domain::audit::AuditEntry;
use crate::domain::{Page, TenantId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::ids::parse_id;
use crate::graphql::pagination;
use crate::store::audit;

/// Cursor tag of the audit log (newest first).
const AUDIT_ORDERING: &str = "audit";

/// One recorded change.
pub struct AuditEntryObject(pub(crate) AuditEntry);

#[Object(name = "AuditEntry")]
impl AuditEntryObject {
    /// When the change was made.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The day the change takes effect (UTC): the `effectiveFrom` of a cost group, rule,
    /// override or price change (or of the scheduled changes cancelled), which may be before
    /// `at` (backdated) or after it (scheduled). Null for changes without one (billing, closing
    /// months) and entries recorded before effective dates existed.
    async fn effective_from(&self) -> Option<super::Date> {
        self.0.change.effective_from.map(super::Date)
    }

    /// Who made it: the principal, or `anonymous` when authentication is off.
    async fn actor(&self) -> &str {
        &self.0.change.actor
    }

    /// The mutation, e.g. `setUserAllocation`.
    async fn action(&self) -> &str {
        &self.0.change.action
    }

    /// What kind of thing changed: `costGroup`, `allocationRule`, `override` or `licensePrice`.
    async fn subject_type(&self) -> &str {
        &self.0.change.subject_type
    }

    /// Its id (for a price, `skuId@effectiveFrom`).
    async fn subject_id(&self) -> &str {
        &self.0.change.subject_id
    }

    /// Its values before the change; null when it was created.
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.change.before.clone().map(Json)
    }

    /// Its values after the change; null when it was deleted.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.change.after.clone().map(Json)
    }
}

/// A page of audit entries.
pub type AuditEntryConnection = Connection<String, AuditEntryObject>;

/// Root field of the audit log.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// A tenant's allocation changes, newest first, a page at a time (`first` defaults to 50, at
    /// most 500). Empty when the tenant is unknown.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<AuditEntryConnection> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        let cursors = pagination::cursors(ctx)?;
        let page = cursors.page_request(AUDIT_ORDERING, first, after)?;
        let before_id = page
            .after
            .as_ref()
            .map(|c| {
                c.key.parse::<i64>().map_err(|_| {
                    ApiError::BadUserInput("after is not a cursor issued by this API".to_owned())
                })
            })
            .transpose()?;
        let l = loaders(ctx)?;
        let rows =
            audit::list_audit_entries(&l.store, &l.scope, tenant_id, before_id, page.fetch_limit())
                .await?;
        let page_rows = Page::from_overfetched(rows, &page);
        let mut connection = Connection::new(before_id.is_some(), page_rows.has_next_page);
        connection
            .edges
            .extend(page_rows.items.into_iter().map(|e| {
                let cursor = cursors.encode(AUDIT_ORDERING, &e.id.to_string(), Uuid::nil());
                Edge::new(cursor, AuditEntryObject(e))
            }));
        Ok(connection)
    }
}
