//! `LicenseAssignment`: one way a user is assigned a SKU, directly or by a licensing group, with
//! the state Graph reports for it.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{SubscriptionObject, loaders};
use crate::domain::LicenseAssignment;
use crate::graphql::error::ApiResult;

/// One assignment of a SKU to a user (an entry of Graph's `licenseAssignmentStates`). A user
/// can be assigned one SKU several times: directly and by any number of groups.
pub struct LicenseAssignmentObject(pub Arc<LicenseAssignment>);

#[Object(name = "LicenseAssignment")]
impl LicenseAssignmentObject {
    /// The SKU id.
    async fn sku_id(&self) -> ID {
        ID(self.0.detail.sku_id.to_string())
    }

    /// Who assigned it: `DIRECT` when assigned to the user directly, otherwise the object id
    /// (GUID) of the group whose membership the user inherits it from.
    async fn assigned_by(&self) -> String {
        self.0.detail.assigned_by.to_string()
    }

    /// The assignment's state as Graph reports it: `Active`, `ActiveWithError`, `Disabled` or
    /// `Error` (values Graph adds later are passed on as sent). An `Error` assignment grants
    /// nothing: its SKU is not among the user's `licenses` unless another assignment grants it.
    async fn state(&self) -> &str {
        &self.0.detail.state
    }

    /// Why the assignment failed: `CountViolation` (no license left), `MutuallyExclusiveViolation`,
    /// `DependencyViolation`, `ProhibitedInUsageLocationViolation`, `UniquenessViolation`,
    /// `Other`, or a value Graph adds later; null when it did not fail.
    async fn error(&self) -> Option<&str> {
        self.0.detail.error.as_deref()
    }

    /// When Graph last processed the assignment (`lastUpdatedDateTime`); null when not reported.
    async fn last_updated(&self) -> Option<DateTime<Utc>> {
        self.0.detail.last_updated
    }

    /// Ids of the SKU's service plans this assignment leaves switched off.
    async fn disabled_service_plan_ids(&self) -> Vec<ID> {
        self.0
            .detail
            .disabled_plans
            .iter()
            .map(|p| ID(p.to_string()))
            .collect()
    }

    /// The tenant's subscribed SKU; null when `subscribedSkus` no longer lists it.
    async fn subscription(&self, ctx: &Context<'_>) -> ApiResult<Option<SubscriptionObject>> {
        Ok(loaders(ctx)?
            .subscription
            .load_one((self.0.tenant_id, self.0.detail.sku_id))
            .await?
            .map(SubscriptionObject))
    }
}
