//! Mutations of chargeback months: `closeChargeback` and `reopenChargeback`.

use async_graphql::{Context, ID, Object};
use chrono::Utc;

use super::{Target, actor, authorize};
use crate::domain::chargeback::Month;
use crate::domain::{Action, TenantId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::ids::parse_id;
use crate::graphql::types::chargeback::{ChargebackObject, chargeback_of};
use crate::graphql::types::loaders;
use crate::store::chargeback::{close_month, reopen_month};

/// Longest reason for reopening a month, in characters.
const MAX_REASON_CHARS: usize = 1000;

/// The month of a chargeback mutation; `BAD_USER_INPUT` naming the argument.
fn parse_month(month: &str) -> ApiResult<Month> {
    Month::parse(month).map_err(|e| ApiError::BadUserInput(e.to_string()))
}

/// Mutations of chargeback months.
#[derive(Default)]
pub struct ChargebackMutation;

#[Object]
impl ChargebackMutation {
    /// Closes a month that has ended: its chargeback is computed and stored, and served as
    /// stored from then on, whatever changes later; a price that would take effect in it is
    /// refused with `CONFLICT`. Audited; needs `allocator` or `partner_admin`.
    /// `BAD_USER_INPUT` for a month not written `YYYY-MM` or one that has not ended (UTC);
    /// `CONFLICT` when it is closed already; `NOT_FOUND` for an unknown tenant.
    async fn close_chargeback(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        month: String,
    ) -> ApiResult<ChargebackObject> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        let month = parse_month(&month)?;
        let today = Utc::now().date_naive();
        if month.end() > today {
            return Err(ApiError::BadUserInput(format!(
                "month {month} has not ended; only a month that has ended can be closed"
            )));
        }
        authorize(ctx, Action::Allocate, Target::Tenant(tenant_id)).await?;
        let l = loaders(ctx)?;
        let closed = close_month(&l.store, &l.scope, tenant_id, month, today, actor(ctx)).await?;
        Ok(ChargebackObject::new(tenant_id, closed))
    }

    /// Reopens a closed month: its stored lines are dropped and it is computed from history
    /// again. Audited with `reason`; needs `partner_admin`. `BAD_USER_INPUT` for a month not
    /// written `YYYY-MM` or an empty or too long reason; `NOT_FOUND` for an unknown tenant or
    /// a month that is not closed.
    async fn reopen_chargeback(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        month: String,
        reason: String,
    ) -> ApiResult<ChargebackObject> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        let parsed = parse_month(&month)?;
        let reason = reason.trim().to_owned();
        let chars = reason.chars().count();
        if chars == 0 || chars > MAX_REASON_CHARS {
            return Err(ApiError::BadUserInput(format!(
                "reason must be 1 to {MAX_REASON_CHARS} characters, got {chars}"
            )));
        }
        authorize(ctx, Action::ReopenPeriod, Target::Tenant(tenant_id)).await?;
        let l = loaders(ctx)?;
        reopen_month(&l.store, &l.scope, tenant_id, parsed, actor(ctx), reason).await?;
        chargeback_of(ctx, tenant_id, &month)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("tenant {tenant_id} not found")))
    }
}
