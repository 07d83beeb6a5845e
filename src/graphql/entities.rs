//! Federation entity resolvers (`_entities`). async-graphql calls them once per representation,
//! so each goes through a DataLoader to keep `_entities` at one statement per type.

use async_graphql::{Context, ID, Object};

use super::error::{ApiError, ApiResult};
use super::ids::parse_id;
use super::types::{
    CommerceSubscriptionObject, CostGroupObject, SubscriptionObject, TenantObject, UserObject,
    loaders,
};
use crate::domain::{CostGroupId, SkuId, TenantId, UserId};

/// Entity lookups by `@key(fields: "id")`; unknown keys resolve to null.
#[derive(Default)]
pub struct EntityQuery;

#[Object]
impl EntityQuery {
    #[graphql(entity)]
    async fn find_tenant_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<TenantObject>> {
        let id: TenantId = parse_id("Tenant.id", &id)?;
        Ok(loaders(ctx)?.tenant.load_one(id).await?.map(TenantObject))
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<UserObject>> {
        let id: UserId = parse_id("User.id", &id)?;
        Ok(loaders(ctx)?
            .user
            .load_one(id)
            .await?
            .map(UserObject::summary))
    }

    #[graphql(entity)]
    async fn find_license_subscription_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<SubscriptionObject>> {
        let malformed = || {
            ApiError::BadUserInput(format!(
                "LicenseSubscription.id must be <tenantId>_<skuId>, got {:?}",
                id.chars().take(80).collect::<String>()
            ))
        };
        let (tenant, sku) = id.split_once('_').ok_or_else(malformed)?;
        let tenant: TenantId = tenant.parse().map_err(|_| malformed())?;
        let sku: SkuId = sku.parse().map_err(|_| malformed())?;
        Ok(loaders(ctx)?
            .subscription
            .load_one((tenant, sku))
            .await?
            .map(SubscriptionObject))
    }

    #[graphql(entity)]
    async fn find_commerce_subscription_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<CommerceSubscriptionObject>> {
        if id.is_empty() || id.len() > 64 {
            return Err(ApiError::BadUserInput(
                "CommerceSubscription.id must be 1 to 64 characters".to_owned(),
            ));
        }
        Ok(loaders(ctx)?
            .commerce_by_id
            .load_one(id.0)
            .await?
            .map(CommerceSubscriptionObject))
    }

    #[graphql(entity)]
    async fn find_cost_group_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<Option<CostGroupObject>> {
        let id: CostGroupId = parse_id("CostGroup.id", &id)?;
        Ok(loaders(ctx)?
            .cost_group
            .load_one(id)
            .await?
            .map(CostGroupObject))
    }
}
