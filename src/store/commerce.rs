//! Commerce subscriptions and SKU billing: replaced with each import commit, read per tenant
//! and per SKU, listed by renewal date; and the staff override of a SKU's billing.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::allocation::TenantWrite;
use super::connect::Store;
use super::entities::{commerce_subscription, sku_billing_override, subscription};
use super::error::StoreError;
use super::subscriptions;
use super::transaction::stored_now;
use crate::domain::audit::AuditChange;
use crate::domain::commerce::RenewalKey;
use crate::domain::{
    CommerceSubscription, Page, PageRequest, SkuBilling, SkuId, Subscription, TenantId, TenantScope,
};

/// 19 columns a row: 500 rows stay under every backend's bind-parameter limit.
const ROWS_PER_INSERT: usize = 500;

fn to_domain(m: commerce_subscription::Model) -> CommerceSubscription {
    CommerceSubscription {
        tenant_id: TenantId(m.tenant_id),
        id: m.id,
        offer_id: m.offer_id,
        offer_name: m.offer_name,
        friendly_name: m.friendly_name,
        quantity: m.quantity,
        unit_type: m.unit_type,
        status: m.status,
        billing_cycle: m.billing_cycle,
        term_duration: m.term_duration,
        start_date: m.start_date,
        commitment_end_date: m.commitment_end_date,
        auto_renew: m.auto_renew,
        is_trial: m.is_trial,
        billing_type: m.billing_type,
        parent_subscription_id: m.parent_subscription_id,
        sku_id: m.sku_id.map(SkuId),
    }
}

fn to_active(s: &CommerceSubscription, now: DateTime<Utc>) -> commerce_subscription::ActiveModel {
    commerce_subscription::ActiveModel {
        tenant_id: Set(s.tenant_id.uuid()),
        id: Set(s.id.clone()),
        offer_id: Set(s.offer_id.clone()),
        offer_name: Set(s.offer_name.clone()),
        friendly_name: Set(s.friendly_name.clone()),
        quantity: Set(s.quantity),
        unit_type: Set(s.unit_type.clone()),
        status: Set(s.status.clone()),
        billing_cycle: Set(s.billing_cycle.clone()),
        term_duration: Set(s.term_duration.clone()),
        start_date: Set(s.start_date),
        commitment_end_date: Set(s.commitment_end_date),
        auto_renew: Set(s.auto_renew),
        is_trial: Set(s.is_trial),
        billing_type: Set(s.billing_type.clone()),
        parent_subscription_id: Set(s.parent_subscription_id.clone()),
        sku_id: Set(s.sku_id.map(|id| id.uuid())),
        updated_at: Set(now),
    }
}

/// Replaces the tenant's commerce subscriptions with `list`; part of an import's commit.
pub(crate) async fn replace_commerce_subscriptions<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    list: &[CommerceSubscription],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    commerce_subscription::Entity::delete_many()
        .filter(commerce_subscription::Column::TenantId.eq(tenant_id.uuid()))
        .exec(db)
        .await?;
    for chunk in list.chunks(ROWS_PER_INSERT) {
        commerce_subscription::Entity::insert_many(chunk.iter().map(|s| to_active(s, now)))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Sets each SKU's billing of the tenant to its override, or else to what the importer
/// detected; part of the transaction that wrote either.
pub(crate) async fn apply_billing_overrides<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
) -> Result<(), StoreError> {
    subscription::Entity::update_many()
        .col_expr(
            subscription::Column::Billing,
            Expr::col(subscription::Column::BillingDetected),
        )
        .filter(subscription::Column::TenantId.eq(tenant_id.uuid()))
        .exec(db)
        .await?;
    let overrides = sku_billing_override::Entity::find()
        .filter(sku_billing_override::Column::TenantId.eq(tenant_id.uuid()))
        .all(db)
        .await?;
    for o in overrides {
        subscription::Entity::update_many()
            .col_expr(subscription::Column::Billing, Expr::value(o.billing))
            .filter(subscription::Column::TenantId.eq(o.tenant_id))
            .filter(subscription::Column::SkuId.eq(o.sku_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Sets (or with `None` removes) the staff override of how a tenant's SKU is billed, in one
/// write transaction audited as `actor`, and returns the SKU as it then reads. `NotFound` when
/// the tenant is unknown or out of `scope`, or has no subscription of the SKU.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, sku_id = %sku_id))]
pub async fn set_sku_billing(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    sku_id: SkuId,
    billing: Option<SkuBilling>,
    actor: String,
) -> Result<Subscription, StoreError> {
    let mut write = TenantWrite::begin(store, scope, tenant_id).await?;
    let txn = write.txn();
    let key = (tenant_id.uuid(), sku_id.uuid());
    let Some(sku) = subscription::Entity::find_by_id(key).one(txn).await? else {
        return Err(StoreError::NotFound(format!(
            "skuId: a subscription of SKU {sku_id} in tenant {tenant_id}"
        )));
    };
    let before = sku_billing_override::Entity::find_by_id(key)
        .one(txn)
        .await?
        .map(|o| o.billing);
    sku_billing_override::Entity::delete_by_id(key)
        .exec(txn)
        .await?;
    if let Some(billing) = billing {
        sku_billing_override::Entity::insert(sku_billing_override::ActiveModel {
            tenant_id: Set(tenant_id.uuid()),
            sku_id: Set(sku_id.uuid()),
            billing: Set(billing.as_str().to_owned()),
            set_by: Set(actor.clone()),
            set_at: Set(stored_now()),
        })
        .exec_without_returning(txn)
        .await?;
    }
    apply_billing_overrides(txn, tenant_id).await?;
    super::history::sku_counts::record(txn, tenant_id, super::history::today()).await?;
    let after = subscription::Entity::find_by_id(key)
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("SKU {sku_id} in tenant {tenant_id}")))?;
    // Billing moves nobody: consumption and reports read it when they are read.
    write.audit(AuditChange {
        tenant_id,
        actor,
        action: "setSkuBilling".to_owned(),
        subject_type: "skuBilling".to_owned(),
        subject_id: sku_id.to_string(),
        before: Some(serde_json::json!({
            "override": before,
            "detected": sku.billing_detected,
        })),
        after: Some(serde_json::json!({
            "override": billing.map(SkuBilling::as_str),
            "billing": after.billing,
        })),
        effective_from: None,
    });
    write.commit().await?;
    subscriptions::to_domain(after)
}

/// The commerce subscriptions of each of `tenants`, by offer name.
pub async fn list_commerce_subscriptions_of_tenants(
    store: &Store,
    tenants: &[TenantId],
) -> Result<Vec<CommerceSubscription>, StoreError> {
    Ok(commerce_subscription::Entity::find()
        .filter(commerce_subscription::Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .order_by_asc(commerce_subscription::Column::OfferName)
        .order_by_asc(commerce_subscription::Column::Id)
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// The commerce subscriptions with one of `ids`, within `scope`.
pub async fn find_commerce_subscriptions(
    store: &Store,
    scope: &TenantScope,
    ids: &[String],
) -> Result<Vec<CommerceSubscription>, StoreError> {
    let mut query = commerce_subscription::Entity::find()
        .filter(commerce_subscription::Column::Id.is_in(ids.iter().cloned()));
    if let TenantScope::Only(tenants) = scope {
        query = query.filter(
            commerce_subscription::Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())),
        );
    }
    Ok(query
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// The commerce subscriptions of `scope`'s tenants whose commitment ends between `from` and
/// `until`, soonest first (ties by tenant and id), a page at a time.
pub async fn list_renewals(
    store: &Store,
    scope: &TenantScope,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    page: &PageRequest,
) -> Result<Page<CommerceSubscription>, StoreError> {
    use commerce_subscription::Column as C;
    let after = page
        .after
        .as_ref()
        .map(RenewalKey::from_cursor)
        .transpose()
        .map_err(|detail| StoreError::Corrupt {
            table: "commerce_subscriptions",
            detail: format!("cursor: {detail}"),
        })?;
    let mut query = commerce_subscription::Entity::find()
        .filter(C::CommitmentEndDate.gte(from))
        .filter(C::CommitmentEndDate.lte(until));
    if let TenantScope::Only(ids) = scope {
        query = query.filter(C::TenantId.is_in(ids.iter().map(|t| t.uuid())));
    }
    if let Some(RenewalKey { end, tenant, id }) = after {
        query = query.filter(
            Condition::any()
                .add(C::CommitmentEndDate.gt(end))
                .add(
                    Condition::all()
                        .add(C::CommitmentEndDate.eq(end))
                        .add(C::TenantId.gt(tenant.uuid())),
                )
                .add(
                    Condition::all()
                        .add(C::CommitmentEndDate.eq(end))
                        .add(C::TenantId.eq(tenant.uuid()))
                        .add(C::Id.gt(id)),
                ),
        );
    }
    let rows = query
        .order_by_asc(C::CommitmentEndDate)
        .order_by_asc(C::TenantId)
        .order_by_asc(C::Id)
        .limit(u64::from(page.first) + 1)
        .all(store.db())
        .await?;
    Ok(Page::from_overfetched(
        rows.into_iter().map(to_domain).collect(),
        page,
    ))
}
