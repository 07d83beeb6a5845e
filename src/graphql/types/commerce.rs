//! `CommerceSubscription`: what the partner sells a customer (Partner Center), linked to the
//! SKU it backs; `SkuBilling`; and the renewals list.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use super::{SubscriptionObject, loaders};
use crate::domain::commerce::RenewalKey;
use crate::domain::{CommerceSubscription, Page};
use crate::graphql::error::ApiResult;
use crate::graphql::pagination::Cursors;

/// How a SKU of a tenant is paid for.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::SkuBilling")]
pub enum SkuBilling {
    /// Backed by at least one paid commerce subscription of this partner.
    Partner,
    /// A free, self-service or viral SKU (e.g. FLOW_FREE) without a commerce subscription of
    /// this partner. The known part numbers are listed in one place (`src/domain/commerce.rs`)
    /// and extended by `TENANTGRAPH_FREE_SKUS`.
    Free,
    /// Only trial subscriptions back it.
    Trial,
    /// Paid through someone else: direct, an enterprise agreement, another partner.
    Other,
}

/// One commerce subscription of a customer, as Partner Center lists it. Purchased seats are
/// its `quantity`; assigned and unassigned licenses exist per SKU only (on the linked
/// `licenseSubscription`), since Microsoft does not split assignments by subscription.
pub struct CommerceSubscriptionObject(pub Arc<CommerceSubscription>);

#[Object(name = "CommerceSubscription")]
impl CommerceSubscriptionObject {
    /// Partner Center's subscription id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The customer tenant.
    async fn tenant_id(&self) -> ID {
        ID(self.0.tenant_id.to_string())
    }

    /// The offer; new-commerce ids are composite: `<productId>:<skuId>[:<availabilityId>]`.
    async fn offer_id(&self) -> &str {
        &self.0.offer_id
    }

    /// The offer's name.
    async fn offer_name(&self) -> &str {
        &self.0.offer_name
    }

    /// The name the partner gave the subscription.
    async fn friendly_name(&self) -> Option<&str> {
        self.0.friendly_name.as_deref()
    }

    /// Seats bought: the subscription's purchased licenses.
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }

    /// The unit of `quantity`, as Partner Center names it.
    async fn unit_type(&self) -> Option<&str> {
        self.0.unit_type.as_deref()
    }

    /// `active`, `pending`, `suspended`, `deleted`, `expired`, ... as Partner Center spells it.
    async fn status(&self) -> &str {
        &self.0.status
    }

    /// `monthly`, `annual`, `triennial`, ...
    async fn billing_cycle(&self) -> Option<&str> {
        self.0.billing_cycle.as_deref()
    }

    /// The term, ISO 8601: `P1M`, `P1Y`, `P3Y`.
    async fn term_duration(&self) -> Option<&str> {
        self.0.term_duration.as_deref()
    }

    /// When the subscription took effect (`effectiveStartDate`).
    async fn start_date(&self) -> Option<DateTime<Utc>> {
        self.0.start_date
    }

    /// When the commitment ends (it renews then when `autoRenew`).
    async fn commitment_end_date(&self) -> Option<DateTime<Utc>> {
        self.0.commitment_end_date
    }

    /// Whether it renews at the end of its commitment.
    async fn auto_renew(&self) -> bool {
        self.0.auto_renew
    }

    /// Whether it is a trial.
    async fn is_trial(&self) -> bool {
        self.0.is_trial
    }

    /// `license`, `usage` or `none`.
    async fn billing_type(&self) -> Option<&str> {
        self.0.billing_type.as_deref()
    }

    /// The base subscription of an add-on.
    async fn parent_subscription_id(&self) -> Option<ID> {
        self.0.parent_subscription_id.clone().map(ID)
    }

    /// The SKU this subscription backs, linked through Graph's directory subscriptions; null
    /// when it cannot be linked (the run's warnings say why).
    async fn license_subscription(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<SubscriptionObject>> {
        let Some(sku) = self.0.sku_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .subscription
            .load_one((self.0.tenant_id, sku))
            .await?
            .map(SubscriptionObject))
    }
}

/// A page of commerce subscriptions.
pub type CommerceSubscriptionConnection = Connection<String, CommerceSubscriptionObject>;

/// Builds the renewals connection from a page.
pub fn renewal_connection(
    page: Page<CommerceSubscription>,
    has_previous_page: bool,
    cursors: &Cursors,
) -> CommerceSubscriptionConnection {
    let mut connection = Connection::new(has_previous_page, page.has_next_page);
    connection
        .edges
        .extend(page.items.into_iter().filter_map(|s| {
            let key = RenewalKey::of(&s)?;
            let cursor = key.to_cursor();
            let text = cursors.encode(&cursor.ordering, &cursor.key, cursor.id);
            Some(Edge::new(text, CommerceSubscriptionObject(Arc::new(s))))
        }));
    connection
}
