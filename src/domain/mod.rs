//! The project's own vocabulary: ids, tenants, users, subscriptions, cost groups, paging.
//! Pure values and rules; must not import SeaORM, async-graphql, actix or reqwest.

pub mod alert;
pub mod allocation;
pub mod audit;
pub mod budget;
pub mod chargeback;
pub mod commerce;
pub mod cost_group;
pub mod error;
pub mod history;
pub mod ids;
pub mod import_plan;
pub mod import_run;
pub mod imported_user;
pub mod license_assignment;
pub mod license_change;
pub mod optimization;
pub mod paging;
pub mod principal;
pub mod scope;
pub mod subscription;
pub mod tenant;
pub mod user;
pub mod user_version;

pub use commerce::{BillingSet, CommerceSubscription, DirectorySubscription, SkuBilling};
pub use cost_group::{CostGroup, CostGroupError};
pub use error::DomainError;
pub use ids::{
    AllocationRuleId, ContactId, CostGroupId, GroupId, ImportRunId, ServicePlanId, SkuId, TenantId,
    UserId,
};
pub use import_run::{
    FailureReason, ImportCounts, ImportMode, ImportRun, ImportTrigger, ImportWarning,
    ImportWarningCode, RemediationContext, RunStatus,
};
pub use imported_user::{FieldSet, ImportedUser, ImportedUserError, UserChange, UserField};
pub use license_assignment::{AssignedBy, LicenseAssignment, LicenseAssignmentState};
pub use paging::{Cursor, Page, PageRequest};
pub use principal::{Action, Principal, Role};
pub use scope::TenantScope;
pub use subscription::{
    CapabilityStatus, Consumption, PrepaidUnits, ServicePlan, Subscription, UNKNOWN_SKU_PART_NUMBER,
};
pub use tenant::{Tenant, TenantCounts};
pub use user::{
    AssignedLicense, EXTENSION_ATTRIBUTES, ManagerContact, User, UserDetails, UserFilter, UserSort,
    UserSortField, UserSummary,
};
