//! GraphQL object types, each a thin wrapper around a domain value that resolves its relations
//! through the request's DataLoaders.

pub mod alert;
pub mod allocation;
pub mod allocation_rule;
pub mod audit;
pub mod budget;
pub mod bulk;
pub mod chargeback;
pub mod commerce;
pub mod connection;
pub mod cost_group;
pub mod cost_report;
pub mod date;
pub mod diagnostics;
pub mod history;
pub mod import_run;
pub mod license_assignment;
pub mod license_change;
pub mod optimization;
pub mod preview;
pub mod price;
pub mod subscription;
pub mod tenant;
pub mod user;
pub mod user_history;
mod user_values;

pub use allocation_rule::{AllocationRuleObject, UserAllocationObject};
pub use commerce::{CommerceSubscriptionObject, SkuBilling};
pub use connection::{ImportRunConnection, TenantConnection, UserConnection};
pub use cost_group::CostGroupObject;
pub use cost_report::{CostLineObject, CostReportObject};
pub use date::Date;
pub use import_run::{ImportProgressObject, ImportRunObject, ImportStatusObject};
pub use license_assignment::LicenseAssignmentObject;
pub use price::LicensePriceObject;
pub use subscription::{ServicePlanObject, SubscriptionObject};
pub use tenant::TenantObject;
pub use user::UserObject;

use async_graphql::Context;

use super::error::ApiError;
use super::loaders::Loaders;

/// The request's loaders; every request gets them from the HTTP handler.
pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, ApiError> {
    ctx.data::<Loaders>()
        .map_err(|_| ApiError::Internal("request carries no loaders".to_owned()))
}
