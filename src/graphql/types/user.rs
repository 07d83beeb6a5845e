//! `User`: an Entra user with their manager, direct reports and licenses.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::subscription::ServicePlanObject;
use super::tenant::user_list;
use super::{SubscriptionObject, TenantObject, UserAllocationObject, UserConnection, loaders};
use crate::domain::allocation::UserAllocation;
use crate::domain::user::EXTENSION_ATTRIBUTES;
use crate::domain::{AssignedLicense, User, UserFilter, UserSort};
use crate::graphql::error::{ApiError, ApiResult};
use crate::store::users::UserParent;

/// A user of a tenant.
pub struct UserObject(pub Arc<User>);

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

macro_rules! text_fields {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        #[Object(name = "User")]
        impl UserObject {
            /// Graph object id (GUID).
            async fn id(&self) -> ID {
                ID(self.0.id.to_string())
            }

            /// The user's tenant id.
            async fn tenant_id(&self) -> ID {
                ID(self.0.tenant_id.to_string())
            }

            /// Display name.
            async fn display_name(&self) -> &str {
                &self.0.display_name
            }

            /// User principal name (sign-in name).
            async fn user_principal_name(&self) -> &str {
                &self.0.user_principal_name
            }

            $(
                $(#[$doc])*
                async fn $name(&self) -> Option<&str> {
                    self.0.$name.as_deref()
                }
            )*

            /// Whether sign-in is enabled.
            async fn account_enabled(&self) -> Option<bool> {
                self.0.account_enabled
            }

            /// `onPremisesExtensionAttributes`.
            async fn extension_attributes(&self) -> ExtensionAttributesObject {
                ExtensionAttributesObject(self.0.extension_attributes.clone())
            }

            /// When an import first saw the user.
            async fn first_seen_at(&self) -> DateTime<Utc> {
                self.0.first_seen_at
            }

            /// When an import last saw the user.
            async fn last_seen_at(&self) -> DateTime<Utc> {
                self.0.last_seen_at
            }

            /// When the user disappeared upstream; null while present.
            async fn deleted_at(&self) -> Option<DateTime<Utc>> {
                self.0.deleted_at
            }

            /// The user's tenant.
            async fn tenant(&self, ctx: &Context<'_>) -> ApiResult<TenantObject> {
                loaders(ctx)?
                    .tenant
                    .load_one(self.0.tenant_id)
                    .await?
                    .map(TenantObject)
                    .ok_or_else(|| ApiError::Internal(format!("tenant of user {} missing", self.0.id)))
            }

            /// Object id of the user's manager as imported, also when the manager is not a stored
            /// user (an organizational contact).
            async fn manager_id(&self) -> Option<ID> {
                self.0.manager_id.map(|id| ID(id.to_string()))
            }

            /// The user's manager; null when none is set or the manager is not a user of the tenant.
            async fn manager(&self, ctx: &Context<'_>) -> ApiResult<Option<UserObject>> {
                let Some(manager) = self.0.manager_id else {
                    return Ok(None);
                };
                Ok(loaders(ctx)?.user.load_one(manager).await?.map(UserObject))
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
                    UserParent::Manager(self.0.id),
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
                let found = loaders(ctx)?.allocation.load_one(self.0.id).await?;
                Ok(UserAllocationObject(found.unwrap_or_else(|| {
                    Arc::new(UserAllocation::unallocated(self.0.id))
                })))
            }

            /// Licenses assigned to the user, by SKU id.
            async fn licenses(&self, ctx: &Context<'_>) -> ApiResult<Vec<AssignedLicenseObject>> {
                let licenses = loaders(ctx)?.licenses.load_one(self.0.id).await?.unwrap_or_default();
                Ok(licenses.into_iter().map(AssignedLicenseObject).collect())
            }
        }
    };
}

text_fields!(
    /// Given name.
    given_name,
    /// Surname.
    surname,
    /// Primary SMTP address.
    mail,
    /// `Member` or `Guest`.
    user_type,
    /// Job title.
    job_title,
    /// Department.
    department,
    /// Company name.
    company_name,
    /// Office location.
    office_location,
    /// Street address.
    street_address,
    /// City.
    city,
    /// State or province.
    state,
    /// Postal code.
    postal_code,
    /// Country, as entered upstream.
    country,
    /// Preferred language tag, e.g. `en-US`.
    preferred_language,
    /// ISO 3166 alpha-2 usage location.
    usage_location,
);

/// A license of one SKU assigned to a user.
pub struct AssignedLicenseObject(pub Arc<AssignedLicense>);

#[Object(name = "AssignedLicense")]
impl AssignedLicenseObject {
    /// The SKU id.
    async fn sku_id(&self) -> ID {
        ID(self.0.sku_id.to_string())
    }

    /// The tenant's subscribed SKU this license is drawn from.
    async fn subscription(&self, ctx: &Context<'_>) -> ApiResult<SubscriptionObject> {
        loaders(ctx)?
            .subscription
            .load_one((self.0.tenant_id, self.0.sku_id))
            .await?
            .map(SubscriptionObject)
            .ok_or_else(|| {
                ApiError::Internal(format!("SKU {} of a license is not stored", self.0.sku_id))
            })
    }

    /// Ids of the SKU's service plans switched off for this user.
    async fn disabled_service_plan_ids(&self) -> Vec<ID> {
        self.0
            .disabled_plans
            .iter()
            .map(|p| ID(p.to_string()))
            .collect()
    }

    /// The SKU's service plans switched off for this user (plans the SKU no longer lists are
    /// left out; their ids stay in `disabledServicePlanIds`).
    async fn disabled_service_plans(&self, ctx: &Context<'_>) -> ApiResult<Vec<ServicePlanObject>> {
        if self.0.disabled_plans.is_empty() {
            return Ok(Vec::new());
        }
        let plans = loaders(ctx)?
            .plans
            .load_one((self.0.tenant_id, self.0.sku_id))
            .await?
            .unwrap_or_default();
        Ok(plans
            .into_iter()
            .filter(|p| self.0.disabled_plans.contains(&p.service_plan_id))
            .map(ServicePlanObject)
            .collect())
    }
}
