//! `User`: an Entra user with their manager, direct reports and licenses.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::allocation_rule::AllocationBasis;
use super::subscription::ServicePlanObject;
use super::tenant::user_list;
use super::{
    LicenseAssignmentObject, SubscriptionObject, TenantObject, UserAllocationObject,
    UserConnection, loaders,
};
use crate::domain::allocation::UserAllocation;
use crate::domain::user::EXTENSION_ATTRIBUTES;
use crate::domain::{
    AssignedLicense, LicenseAssignment, ManagerContact, Subscription, User, UserDetails,
    UserFilter, UserSort, UserSummary,
};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::loaders::PageRelations;
use crate::store::users::UserParent;

/// A user of a tenant, as the API returns it: a selection of plain values becomes the response
/// in one pass ([`super::user_values`]), any other resolves field by field ([`UserFields`]).
pub struct UserObject(pub(super) UserFields);

/// A user of a tenant: the summary every list and lookup reads, and the other columns when they
/// are already at hand. The fields a summary lacks load the other columns of every user of the
/// request that asks for them in one statement.
pub struct UserFields {
    pub(super) summary: Arc<UserSummary>,
    details: Option<Arc<UserDetails>>,
    pub(super) relations: Option<Arc<PageRelations>>,
}

impl UserObject {
    /// A user read as a summary.
    pub fn summary(summary: Arc<UserSummary>) -> UserObject {
        UserObject(UserFields {
            summary,
            details: None,
            relations: None,
        })
    }

    /// A user of a page whose relations were read ahead.
    pub fn in_page(summary: Arc<UserSummary>, relations: Arc<PageRelations>) -> UserObject {
        UserObject(UserFields {
            summary,
            details: None,
            relations: Some(relations),
        })
    }

    /// A user whose columns are all at hand.
    pub fn full(user: &User) -> UserObject {
        UserObject(UserFields {
            summary: Arc::new(user.summary()),
            details: Some(Arc::new(user.details())),
            relations: None,
        })
    }
}

impl UserFields {
    /// The relation `pick` selects from the page's relations, when it was read ahead.
    fn read_ahead<'a, T>(&'a self, pick: impl FnOnce(&'a PageRelations) -> Option<T>) -> Option<T> {
        self.relations.as_deref().and_then(pick)
    }

    /// The user's license assignments: read ahead with the page, else loaded.
    async fn assignments(&self, ctx: &Context<'_>) -> ApiResult<Vec<Arc<LicenseAssignment>>> {
        let id = self.summary.id;
        Ok(
            match self.read_ahead(|r| r.assignments.as_ref().map(|a| a.get(&id).cloned())) {
                Some(found) => found,
                None => loaders(ctx)?.license_assignments.load_one(id).await?,
            }
            .unwrap_or_default(),
        )
    }

    /// The columns beyond the summary: those at hand, else loaded.
    async fn details(&self, ctx: &Context<'_>) -> ApiResult<Arc<UserDetails>> {
        if let Some(details) = &self.details {
            return Ok(details.clone());
        }
        let id = self.summary.id;
        let found = match self.read_ahead(|r| r.details.as_ref().map(|d| d.get(&id).cloned())) {
            Some(found) => found,
            None => loaders(ctx)?.user_details.load_one(id).await?,
        };
        found.ok_or_else(|| {
            ApiError::Internal(format!("user {id} was removed while the request read it"))
        })
    }
}

/// The 15 on-premises extension attributes of a user.
pub struct ExtensionAttributesObject([Option<String>; EXTENSION_ATTRIBUTES]);

#[Object(name = "ExtensionAttributes")]
impl ExtensionAttributesObject {
    /// `extensionAttribute1`.
    async fn extension_attribute1(&self) -> Option<&str> {
        self.0[0].as_deref()
    }

    /// `extensionAttribute2`.
    async fn extension_attribute2(&self) -> Option<&str> {
        self.0[1].as_deref()
    }

    /// `extensionAttribute3`.
    async fn extension_attribute3(&self) -> Option<&str> {
        self.0[2].as_deref()
    }

    /// `extensionAttribute4`.
    async fn extension_attribute4(&self) -> Option<&str> {
        self.0[3].as_deref()
    }

    /// `extensionAttribute5`.
    async fn extension_attribute5(&self) -> Option<&str> {
        self.0[4].as_deref()
    }

    /// `extensionAttribute6`.
    async fn extension_attribute6(&self) -> Option<&str> {
        self.0[5].as_deref()
    }

    /// `extensionAttribute7`.
    async fn extension_attribute7(&self) -> Option<&str> {
        self.0[6].as_deref()
    }

    /// `extensionAttribute8`.
    async fn extension_attribute8(&self) -> Option<&str> {
        self.0[7].as_deref()
    }

    /// `extensionAttribute9`.
    async fn extension_attribute9(&self) -> Option<&str> {
        self.0[8].as_deref()
    }

    /// `extensionAttribute10`.
    async fn extension_attribute10(&self) -> Option<&str> {
        self.0[9].as_deref()
    }

    /// `extensionAttribute11`.
    async fn extension_attribute11(&self) -> Option<&str> {
        self.0[10].as_deref()
    }

    /// `extensionAttribute12`.
    async fn extension_attribute12(&self) -> Option<&str> {
        self.0[11].as_deref()
    }

    /// `extensionAttribute13`.
    async fn extension_attribute13(&self) -> Option<&str> {
        self.0[12].as_deref()
    }

    /// `extensionAttribute14`.
    async fn extension_attribute14(&self) -> Option<&str> {
        self.0[13].as_deref()
    }

    /// `extensionAttribute15`.
    async fn extension_attribute15(&self) -> Option<&str> {
        self.0[14].as_deref()
    }
}

/// The `User` object, with its optional text fields in two lists: those of the summary and
/// those loaded with the other columns.
macro_rules! text_fields {
    (
        summary: $($(#[$sdoc:meta])* $summary:ident),* ;
        details: $($(#[$ddoc:meta])* $detail:ident = $graphql_name:literal),* $(,)?
    ) => {
        /// The `User` fields that need more than a [`UserSummary`]: a page that asks for one
        /// reads the other columns of its users ahead, in one statement.
        pub const DETAIL_FIELDS: &[&str] = &[
            $($graphql_name,)*
            "extensionAttributes",
            "firstSeenAt",
            "lastSeenAt",
        ];

        #[Object(name = "User")]
        impl UserFields {
            /// Graph object id (GUID).
            async fn id(&self) -> ID {
                ID(self.summary.id.to_string())
            }

            /// The user's tenant id.
            async fn tenant_id(&self) -> ID {
                ID(self.summary.tenant_id.to_string())
            }

            /// Display name.
            async fn display_name(&self) -> &str {
                &self.summary.display_name
            }

            /// User principal name (sign-in name).
            async fn user_principal_name(&self) -> &str {
                &self.summary.user_principal_name
            }

            $(
                $(#[$sdoc])*
                async fn $summary(&self) -> Option<&str> {
                    self.summary.$summary.as_deref()
                }
            )*

            $(
                $(#[$ddoc])*
                async fn $detail(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
                    Ok(self.details(ctx).await?.$detail.clone())
                }
            )*

            /// Whether sign-in is enabled.
            async fn account_enabled(&self) -> Option<bool> {
                self.summary.account_enabled
            }

            /// `onPremisesExtensionAttributes`.
            async fn extension_attributes(
                &self,
                ctx: &Context<'_>,
            ) -> ApiResult<ExtensionAttributesObject> {
                Ok(ExtensionAttributesObject(
                    self.details(ctx).await?.extension_attributes.clone(),
                ))
            }

            /// When an import first saw the user.
            async fn first_seen_at(&self, ctx: &Context<'_>) -> ApiResult<DateTime<Utc>> {
                Ok(self.details(ctx).await?.first_seen_at)
            }

            /// When an import last saw the user.
            async fn last_seen_at(&self, ctx: &Context<'_>) -> ApiResult<DateTime<Utc>> {
                Ok(self.details(ctx).await?.last_seen_at)
            }

            /// When the user disappeared upstream; null while present.
            async fn deleted_at(&self) -> Option<DateTime<Utc>> {
                self.summary.deleted_at
            }

            /// The user's tenant.
            async fn tenant(&self, ctx: &Context<'_>) -> ApiResult<TenantObject> {
                loaders(ctx)?
                    .tenant
                    .load_one(self.summary.tenant_id)
                    .await?
                    .map(TenantObject)
                    .ok_or_else(|| ApiError::Internal(format!("tenant of user {} missing", self.summary.id)))
            }

            /// Object id of the user's manager when the manager is a user; null when none is set
            /// or the manager is an organizational contact (see `managerContact`).
            async fn manager_id(&self) -> Option<ID> {
                self.summary.manager_id.map(|id| ID(id.to_string()))
            }

            /// The user's manager when it is an organizational contact, someone outside the
            /// tenant's users such as an external interim manager; null when none is set or the
            /// manager is a user (see `manager`). Never set together with `manager`.
            async fn manager_contact(&self) -> Option<ManagerContactObject> {
                self.summary.manager_contact.clone().map(ManagerContactObject)
            }

            /// The user's manager; null when none is set or the manager is an organizational
            /// contact (see `managerContact`).
            async fn manager(&self, ctx: &Context<'_>) -> ApiResult<Option<UserObject>> {
                let Some(manager) = self.summary.manager_id else {
                    return Ok(None);
                };
                if let Some(found) =
                    self.read_ahead(|r| r.managers.as_ref().map(|m| m.get(&manager).cloned()))
                {
                    return Ok(found.map(UserObject::summary));
                }
                Ok(loaders(ctx)?
                    .user
                    .load_one(manager)
                    .await?
                    .map(UserObject::summary))
            }

            /// Users whose manager this user is, a page at a time (deleted users left out).
            async fn direct_reports(
                &self,
                ctx: &Context<'_>,
                first: Option<i32>,
                after: Option<String>,
            ) -> ApiResult<UserConnection> {
                user_list(
                    ctx,
                    UserParent::Manager(self.summary.id),
                    UserFilter::default(),
                    UserSort::default(),
                    first,
                    after,
                )
                .await
            }

            /// Where the user's license cost goes and why, as last evaluated (after every import
            /// and allocation change).
            async fn allocation(&self, ctx: &Context<'_>) -> ApiResult<UserAllocationObject> {
                let id = self.summary.id;
                let found = match self
                    .read_ahead(|r| r.allocations.as_ref().map(|a| a.get(&id).cloned()))
                {
                    Some(found) => found,
                    None => loaders(ctx)?.allocation.load_one(id).await?,
                };
                let found = found
                    .unwrap_or_else(|| Arc::new(UserAllocation::unallocated(self.summary.id)));
                Ok(UserAllocationObject(found, AllocationBasis::Stored))
            }

            /// The user's last sign-ins as the tenant's latest import read them (Graph's
            /// `signInActivity`); null when none was read: the tenant has no Entra ID P1/P2
            /// (see `Tenant.optimization.signInActivity`) or no import has read it yet.
            async fn sign_in_activity(
                &self,
                ctx: &Context<'_>,
            ) -> ApiResult<Option<super::optimization::SignInActivityObject>> {
                Ok(loaders(ctx)?
                    .sign_in
                    .load_one(self.summary.id)
                    .await?
                    .map(super::optimization::SignInActivityObject))
            }

            /// What license optimization finds for the user on `asOf` (today, UTC, by default),
            /// with the monthly saving; null when nothing. Computed over the user's tenant
            /// once per request and date, whatever the number of users asked.
            async fn waste(
                &self,
                ctx: &Context<'_>,
                as_of: Option<super::Date>,
            ) -> ApiResult<Option<super::optimization::UserWasteObject>> {
                super::optimization::UserWasteObject::of(
                    ctx,
                    self.summary.tenant_id,
                    self.summary.id,
                    as_of.map(|d| d.0),
                )
                .await
            }

            /// Every license the user held since history began, by SKU then first day: held now
            /// (`validTo` null) and ended, each with the days between the imports that saw it
            /// start and end.
            async fn license_history(
                &self,
                ctx: &Context<'_>,
            ) -> ApiResult<Vec<super::history::LicenseHoldingObject>> {
                Ok(loaders(ctx)?
                    .license_history
                    .load_one(self.summary.id)
                    .await?
                    .unwrap_or_default()
                    .into_iter()
                    .map(super::history::LicenseHoldingObject)
                    .collect())
            }

            /// The user's versions, newest first: each import that saw the user's fields change,
            /// the user gone or back kept the version it replaced, with the days it was in force.
            async fn history(
                &self,
                ctx: &Context<'_>,
                first: Option<i32>,
                after: Option<String>,
            ) -> ApiResult<super::user_history::UserVersionConnection> {
                super::user_history::user_history(ctx, self.summary.id, first, after).await
            }

            /// Licenses assigned to the user, by SKU id.
            async fn licenses(&self, ctx: &Context<'_>) -> ApiResult<Vec<AssignedLicenseObject>> {
                let id = self.summary.id;
                let licenses = match self
                    .read_ahead(|r| r.licenses.as_ref().map(|l| l.get(&id).cloned()))
                {
                    Some(found) => found,
                    None => loaders(ctx)?.licenses.load_one(id).await?,
                }
                .unwrap_or_default();
                let subscriptions = self.read_ahead(|r| r.subscriptions.as_ref());
                let assignments = self
                    .read_ahead(|r| r.assignments.as_ref())
                    .map(|a| a.get(&id).cloned().unwrap_or_default());
                Ok(licenses
                    .into_iter()
                    .map(|license| AssignedLicenseObject {
                        subscription: subscriptions
                            .and_then(|s| s.get(&(license.tenant_id, license.sku_id)).cloned()),
                        assignments: assignments.clone(),
                        license,
                    })
                    .collect())
            }

            /// Every license assignment of the user, in Graph's order: direct ones and those
            /// inherited from groups, failed ones included. A group assignment that failed
            /// (`CountViolation` when no license is left) grants nothing, so its SKU is here but
            /// not among `licenses`. Empty until an import has read the user's
            /// `licenseAssignmentStates`.
            async fn license_assignments(
                &self,
                ctx: &Context<'_>,
            ) -> ApiResult<Vec<LicenseAssignmentObject>> {
                Ok(self
                    .assignments(ctx)
                    .await?
                    .into_iter()
                    .map(LicenseAssignmentObject)
                    .collect())
            }
        }
    };
}

text_fields!(
    summary:
    /// Primary SMTP address.
    mail,
    /// `Member` or `Guest`.
    user_type,
    /// Job title.
    job_title,
    /// Department.
    department;
    details:
    /// Given name.
    given_name = "givenName",
    /// Surname.
    surname = "surname",
    /// Company name.
    company_name = "companyName",
    /// Office location.
    office_location = "officeLocation",
    /// Street address.
    street_address = "streetAddress",
    /// City.
    city = "city",
    /// State or province.
    state = "state",
    /// Postal code.
    postal_code = "postalCode",
    /// Country, as entered upstream.
    country = "country",
    /// Preferred language tag, e.g. `en-US`.
    preferred_language = "preferredLanguage",
    /// ISO 3166 alpha-2 usage location.
    usage_location = "usageLocation",
);

/// A user's manager that is an organizational contact.
pub struct ManagerContactObject(ManagerContact);

#[Object(name = "ManagerContact")]
impl ManagerContactObject {
    /// The contact's object id (GUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The contact's display name, as the last listing of the users gave it. Null until a
    /// listing names the contact (a delta query sends its id only), or when the service user
    /// may not read contacts ("limited information").
    async fn display_name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }

    /// The contact's mail address, as the last listing of the users gave it; null when unknown.
    async fn mail(&self) -> Option<&str> {
        self.0.mail.as_deref()
    }
}

/// A license of one SKU assigned to a user.
pub struct AssignedLicenseObject {
    license: Arc<AssignedLicense>,
    /// The subscription, when it was read ahead with the page.
    subscription: Option<Arc<Subscription>>,
    /// All license assignments of the user, when they were read ahead with the page.
    assignments: Option<Vec<Arc<LicenseAssignment>>>,
}

#[Object(name = "AssignedLicense")]
impl AssignedLicenseObject {
    /// The SKU id.
    async fn sku_id(&self) -> ID {
        ID(self.license.sku_id.to_string())
    }

    /// The tenant's subscribed SKU this license is drawn from.
    async fn subscription(&self, ctx: &Context<'_>) -> ApiResult<SubscriptionObject> {
        if let Some(found) = &self.subscription {
            return Ok(SubscriptionObject(found.clone()));
        }
        loaders(ctx)?
            .subscription
            .load_one((self.license.tenant_id, self.license.sku_id))
            .await?
            .map(SubscriptionObject)
            .ok_or_else(|| {
                ApiError::Internal(format!(
                    "SKU {} of a license is not stored",
                    self.license.sku_id
                ))
            })
    }

    /// How the user is assigned this SKU: directly (`assignedBy: "DIRECT"`), by one or more
    /// groups (`assignedBy` the group id), or both; in Graph's order. Failed assignments of the
    /// SKU are included. Empty until an import has read the user's `licenseAssignmentStates`.
    async fn assigned_by(&self, ctx: &Context<'_>) -> ApiResult<Vec<LicenseAssignmentObject>> {
        let all = match &self.assignments {
            Some(found) => found.clone(),
            None => loaders(ctx)?
                .license_assignments
                .load_one(self.license.user_id)
                .await?
                .unwrap_or_default(),
        };
        Ok(all
            .into_iter()
            .filter(|a| a.detail.sku_id == self.license.sku_id)
            .map(LicenseAssignmentObject)
            .collect())
    }

    /// Ids of the SKU's service plans switched off for this user.
    async fn disabled_service_plan_ids(&self) -> Vec<ID> {
        self.license
            .disabled_plans
            .iter()
            .map(|p| ID(p.to_string()))
            .collect()
    }

    /// The SKU's service plans switched off for this user (plans the SKU no longer lists are
    /// left out; their ids stay in `disabledServicePlanIds`).
    async fn disabled_service_plans(&self, ctx: &Context<'_>) -> ApiResult<Vec<ServicePlanObject>> {
        if self.license.disabled_plans.is_empty() {
            return Ok(Vec::new());
        }
        let plans = loaders(ctx)?
            .plans
            .load_one((self.license.tenant_id, self.license.sku_id))
            .await?
            .unwrap_or_default();
        Ok(plans
            .into_iter()
            .filter(|p| self.license.disabled_plans.contains(&p.service_plan_id))
            .map(ServicePlanObject)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::DETAIL_FIELDS;

    #[test]
    fn every_detail_field_is_a_field_of_user() {
        let sdl = crate::graphql::schema::build().sdl();
        let user = sdl
            .split("\ntype User ")
            .nth(1)
            .and_then(|rest| rest.split("\n}").next())
            .expect("the schema has a User type");
        let fields: Vec<&str> = user
            .lines()
            .filter_map(|line| line.trim().split(['(', ':']).next())
            .collect();
        for name in DETAIL_FIELDS {
            assert!(fields.contains(name), "User has no field {name}");
        }
        assert!(!DETAIL_FIELDS.contains(&"displayName"));
    }
}
