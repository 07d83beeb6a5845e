//! Mutations of a tenant's own webhook endpoint: `setTenantWebhook` and `removeTenantWebhook`.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{Target, actor, authorize};
use crate::domain::{Action, TenantId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::ids::parse_id;
use crate::graphql::types::loaders;
use crate::store::secrets::Keyring;
use crate::webhooks::{public_only, secret_owner, signing};

/// What setting a tenant's webhook needs: the keys its secret is sealed with, and whether its
/// endpoint may be on a non-public address; request data of every operation.
#[derive(Clone, Default)]
pub struct WebhookKeys {
    /// Seal tenants' signing secrets; `None`: `setTenantWebhook` is refused.
    pub keys: Option<Arc<Keyring>>,
    /// `TENANTGRAPH_WEBHOOK_ALLOW_PRIVATE`.
    pub allow_private: bool,
}

/// A tenant's own endpoint for its alerts.
#[derive(InputObject)]
pub(crate) struct SetTenantWebhookInput {
    /// The tenant (GUID).
    pub tenant_id: ID,
    /// An `http` or `https` URL, at most 2,000 characters.
    pub url: String,
}

/// The endpoint as set, with the signing secret the receiver verifies signatures with: shown
/// this once.
#[derive(SimpleObject)]
pub(crate) struct TenantWebhookSecret {
    /// Where the tenant's alerts are posted.
    pub url: String,
    /// `whsec_` and base64 of 32 random bytes (Standard Webhooks); not shown again.
    pub signing_secret: String,
    /// When it was set.
    pub set_at: DateTime<Utc>,
}

/// Mutations of tenants' webhook endpoints.
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Sets the tenant's own webhook endpoint, with a new signing secret (a previous endpoint
    /// and secret are replaced): every alert of the tenant is posted there as well as to the
    /// partner's endpoint. Audited (the URL, never the secret); needs `allocator` or
    /// `partner_admin`. `BAD_USER_INPUT` for a URL that is not http(s) or longer than 2,000
    /// characters, or naming a loopback, private or link-local address (unless
    /// `TENANTGRAPH_WEBHOOK_ALLOW_PRIVATE`); `CONFLICT` when no `TENANTGRAPH_SECRET_KEY` is set to seal the secret with.
    async fn set_tenant_webhook(
        &self,
        ctx: &Context<'_>,
        input: SetTenantWebhookInput,
    ) -> ApiResult<TenantWebhookSecret> {
        let tenant: TenantId = parse_id("input.tenantId", &input.tenant_id)?;
        let url = input.url.trim();
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        let Some(parsed) = parsed.filter(|_| url.len() <= 2000) else {
            return Err(ApiError::BadUserInput(format!(
                "input.url: expected an http(s) URL of at most 2000 characters, got {:?}",
                url.chars().take(100).collect::<String>()
            )));
        };
        let policy = ctx.data_opt::<WebhookKeys>().cloned().unwrap_or_default();
        if !policy.allow_private
            && let Some(why) = public_only::refuse_host(&parsed)
        {
            return Err(ApiError::BadUserInput(format!(
                "input.url: {why}; a tenant's endpoint must be public \
                 (TENANTGRAPH_WEBHOOK_ALLOW_PRIVATE allows others)"
            )));
        }
        authorize(ctx, Action::Allocate, Target::Tenant(tenant)).await?;
        let keys = policy.keys.ok_or_else(|| {
            ApiError::Conflict(
                "a tenant webhook's signing secret is stored encrypted: set \
                     TENANTGRAPH_SECRET_KEY first"
                    .to_owned(),
            )
        })?;
        let secret = signing::new_secret()
            .map_err(|_| ApiError::Internal("no random bytes for the secret".to_owned()))?;
        let sealed = keys
            .seal(&secret, &secret_owner(tenant))
            .map_err(|e| ApiError::Internal(format!("sealing the webhook secret: {e}")))?;
        let l = loaders(ctx)?;
        let set = crate::store::alerts::set_tenant_webhook(
            &l.store,
            &l.scope,
            tenant,
            url,
            sealed,
            &actor(ctx),
        )
        .await?;
        Ok(TenantWebhookSecret {
            url: set.url,
            signing_secret: secret,
            set_at: set.set_at,
        })
    }

    /// Removes the tenant's own webhook endpoint; true when it had one. Deliveries already
    /// made for it are still attempted. Audited; needs `allocator` or `partner_admin`.
    async fn remove_tenant_webhook(&self, ctx: &Context<'_>, tenant_id: ID) -> ApiResult<bool> {
        let tenant: TenantId = parse_id("tenantId", &tenant_id)?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant)).await?;
        let l = loaders(ctx)?;
        Ok(
            crate::store::alerts::remove_tenant_webhook(&l.store, &l.scope, tenant, &actor(ctx))
                .await?,
        )
    }
}
