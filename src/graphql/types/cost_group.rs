//! `CostGroup`: a business unit of a tenant, in a tree.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::allocation::{CostGroupMemberConnection, member_list};
use super::cost_report::{CostLineObject, LinePick, report_of};
use super::{AllocationRuleObject, TenantObject, loaders};
use crate::domain::{BillingSet, CostGroup};
use crate::graphql::error::{ApiError, ApiResult};

/// A business unit that license costs are allocated to.
pub struct CostGroupObject(pub Arc<CostGroup>);

#[Object(name = "CostGroup")]
impl CostGroupObject {
    /// Cost group id (GUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The tenant.
    async fn tenant_id(&self) -> ID {
        ID(self.0.tenant_id.to_string())
    }

    /// Name, unique among siblings.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Optional code, unique in the tenant.
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// Free text.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// When the group was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the group last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The group's budget for `month` (`YYYY-MM`) against the month's chargeback of the group
    /// and its descendants so far, with a forecast to month end and a status; a group without
    /// a budget of its own rolls up its children's. Null when no group of its subtree has a
    /// budget for the month. `CONFLICT` when the budget is in another currency than the
    /// month's prices.
    async fn budget(
        &self,
        ctx: &Context<'_>,
        month: String,
    ) -> ApiResult<Option<super::budget::BudgetObject>> {
        super::budget::budget_of(ctx, &self.0, &month).await
    }

    /// Users, licenses per SKU and monthly cost on `asOf` (default: today, UTC) of the users
    /// placed in this group, or in it and its descendants, in the tenant's currency.
    async fn cost(
        &self,
        ctx: &Context<'_>,
        as_of: Option<super::Date>,
        #[graphql(default)] include_descendants: bool,
    ) -> ApiResult<CostLineObject> {
        let dated = report_of(ctx, self.0.tenant_id, as_of.map(|d| d.0), BillingSet::PAID).await?;
        let index = dated
            .report
            .groups
            .iter()
            .position(|g| g.group_id == self.0.id)
            .ok_or_else(|| ApiError::NotFound(format!("cost group {}", self.0.id)))?;
        Ok(CostLineObject {
            tenant_id: self.0.tenant_id,
            dated,
            pick: LinePick::Group {
                index,
                subtree: include_descendants,
            },
        })
    }

    /// The parent group; null at the top of the tree.
    async fn parent(&self, ctx: &Context<'_>) -> ApiResult<Option<CostGroupObject>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .cost_group
            .load_one(parent)
            .await?
            .map(CostGroupObject))
    }

    /// Direct children, by name.
    async fn children(&self, ctx: &Context<'_>) -> ApiResult<Vec<CostGroupObject>> {
        let children = loaders(ctx)?
            .children
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(children.into_iter().map(CostGroupObject).collect())
    }

    /// Present users placed (wholly or partly) in this group by an override or a rule, by user
    /// id, a page at a time (`first` defaults to 50, at most 500).
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<CostGroupMemberConnection> {
        member_list(ctx, self.0.id, first, after).await
    }

    /// The allocation rules placing users in this group, in priority order.
    async fn rules(&self, ctx: &Context<'_>) -> ApiResult<Vec<AllocationRuleObject>> {
        let rules = loaders(ctx)?
            .rules_of_cost_group
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(rules.into_iter().map(AllocationRuleObject).collect())
    }

    /// The tenant.
    async fn tenant(&self, ctx: &Context<'_>) -> ApiResult<TenantObject> {
        loaders(ctx)?
            .tenant
            .load_one(self.0.tenant_id)
            .await?
            .map(TenantObject)
            .ok_or_else(|| {
                ApiError::Internal(format!("tenant of cost group {} missing", self.0.id))
            })
    }
}
