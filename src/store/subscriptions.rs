//! Finders for subscribed SKUs and their service plans.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::connect::Store;
use super::entities::{service_plan, subscription};
use super::error::StoreError;
use super::id_lists::uuid_among;
use crate::domain::{
    PrepaidUnits, ServicePlan, ServicePlanId, SkuId, Subscription, TenantId, TenantScope,
};

pub(crate) fn to_domain(m: subscription::Model) -> Result<Subscription, StoreError> {
    let subscription_ids: Vec<String> =
        serde_json::from_value(m.subscription_ids).map_err(|e| StoreError::Corrupt {
            table: "subscriptions",
            detail: format!("subscription_ids of SKU {}: {e}", m.sku_id),
        })?;
    Ok(Subscription {
        tenant_id: TenantId(m.tenant_id),
        sku_id: SkuId(m.sku_id),
        sku_part_number: m.sku_part_number,
        capability_status: m.capability_status,
        applies_to: m.applies_to,
        prepaid: PrepaidUnits {
            enabled: m.prepaid_enabled,
            warning: m.prepaid_warning,
            suspended: m.prepaid_suspended,
            locked_out: m.prepaid_locked_out,
        },
        consumed_units: m.consumed_units,
        subscription_ids,
        billing: m.billing.parse().map_err(|detail| StoreError::Corrupt {
            table: "subscriptions",
            detail,
        })?,
        unknown: m.unknown,
        updated_at: m.updated_at,
    })
}

pub(crate) fn to_active(s: &Subscription) -> subscription::ActiveModel {
    use sea_orm::ActiveValue::Set;
    subscription::ActiveModel {
        tenant_id: Set(s.tenant_id.uuid()),
        sku_id: Set(s.sku_id.uuid()),
        sku_part_number: Set(s.sku_part_number.clone()),
        capability_status: Set(s.capability_status.clone()),
        applies_to: Set(s.applies_to.clone()),
        prepaid_enabled: Set(s.prepaid.enabled),
        prepaid_warning: Set(s.prepaid.warning),
        prepaid_suspended: Set(s.prepaid.suspended),
        prepaid_locked_out: Set(s.prepaid.locked_out),
        consumed_units: Set(s.consumed_units),
        subscription_ids: Set(serde_json::json!(s.subscription_ids)),
        billing_detected: Set(s.billing.as_str().to_owned()),
        billing: Set(s.billing.as_str().to_owned()),
        unknown: Set(s.unknown),
        updated_at: Set(s.updated_at),
    }
}

pub(crate) fn plan_to_active(p: &ServicePlan) -> service_plan::ActiveModel {
    use sea_orm::ActiveValue::Set;
    service_plan::ActiveModel {
        tenant_id: Set(p.tenant_id.uuid()),
        sku_id: Set(p.sku_id.uuid()),
        service_plan_id: Set(p.service_plan_id.uuid()),
        name: Set(p.name.clone()),
        provisioning_status: Set(p.provisioning_status.clone()),
        applies_to: Set(p.applies_to.clone()),
    }
}

/// Rows whose (tenant, SKU) pair is one of `keys`. The statement matches the cross product of
/// the tenants and SKUs, which is small; extra rows are dropped here.
fn pair_condition(
    backend: DatabaseBackend,
    tenant_col: impl ColumnTrait,
    sku_col: impl ColumnTrait,
    keys: &[(TenantId, SkuId)],
) -> Condition {
    let tenants: BTreeSet<Uuid> = keys.iter().map(|(t, _)| t.uuid()).collect();
    let skus: BTreeSet<Uuid> = keys.iter().map(|(_, s)| s.uuid()).collect();
    Condition::all()
        .add(uuid_among(backend, tenant_col, tenants))
        .add(uuid_among(backend, sku_col, skus))
}

/// The subscribed SKUs of each of `tenants`, by part number.
pub async fn list_subscriptions_of_tenants(
    store: &Store,
    tenants: &[TenantId],
) -> Result<Vec<Subscription>, StoreError> {
    subscription::Entity::find()
        .filter(subscription::Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .order_by_asc(subscription::Column::SkuPartNumber)
        .order_by_asc(subscription::Column::SkuId)
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Inserts `subs` or updates them where (tenant, SKU) exists, keeping the rows (and what
/// refers to them). Part of a caller's write transaction.
pub(crate) async fn upsert_subscriptions<C: sea_orm::ConnectionTrait>(
    db: &C,
    subs: &[Subscription],
) -> Result<(), StoreError> {
    use sea_orm::Iterable;
    use sea_orm::sea_query::OnConflict;
    // 15 columns a row: 300 rows stay under every backend's bind-parameter limit.
    const ROWS: usize = 300;
    let updates: Vec<_> = subscription::Column::iter()
        .filter(|c| {
            !matches!(
                c,
                subscription::Column::TenantId | subscription::Column::SkuId
            )
        })
        .collect();
    for chunk in subs.chunks(ROWS) {
        subscription::Entity::insert_many(chunk.iter().map(to_active))
            .on_conflict(
                OnConflict::columns([subscription::Column::TenantId, subscription::Column::SkuId])
                    .update_columns(updates.clone())
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Inserts a placeholder subscription (see [`Subscription::placeholder`]) for each of `skus`
/// that the tenant has no row of; existing rows are left for [`mark_unknown`]. Part of an
/// import's commit, before the licenses that point at them are written.
pub(crate) async fn insert_placeholders<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    skus: &[SkuId],
    seen_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::OnConflict;
    for chunk in skus.chunks(300) {
        let rows = chunk
            .iter()
            .map(|sku| to_active(&Subscription::placeholder(tenant_id, *sku, seen_at)));
        subscription::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([subscription::Column::TenantId, subscription::Column::SkuId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Marks the tenant's subscriptions to `skus` as unknown placeholders: nothing is known to be
/// purchased or assigned, no directory subscription backs them and their status is unknown.
/// The part number, `appliesTo` and billing an earlier import stored stay. Part of an
/// import's commit.
pub(crate) async fn mark_unknown<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    skus: &[SkuId],
    seen_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    for chunk in skus.chunks(1000) {
        let mut update = subscription::Entity::update_many()
            .col_expr(subscription::Column::Unknown, Expr::value(true))
            .col_expr(subscription::Column::CapabilityStatus, Expr::value(""))
            .col_expr(
                subscription::Column::SubscriptionIds,
                Expr::value(serde_json::json!([])),
            )
            .col_expr(subscription::Column::UpdatedAt, Expr::value(seen_at));
        for count in [
            subscription::Column::PrepaidEnabled,
            subscription::Column::PrepaidWarning,
            subscription::Column::PrepaidSuspended,
            subscription::Column::PrepaidLockedOut,
            subscription::Column::ConsumedUnits,
        ] {
            update = update.col_expr(count, Expr::value(0i64));
        }
        update
            .filter(subscription::Column::TenantId.eq(tenant_id.uuid()))
            .filter(subscription::Column::SkuId.is_in(chunk.iter().map(|s| s.uuid())))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The subscriptions named by `keys` that exist in a tenant of `scope`.
pub async fn find_subscriptions(
    store: &Store,
    scope: &TenantScope,
    keys: &[(TenantId, SkuId)],
) -> Result<Vec<Subscription>, StoreError> {
    let rows = subscription::Entity::find()
        .filter(pair_condition(
            store.backend(),
            subscription::Column::TenantId,
            subscription::Column::SkuId,
            keys,
        ))
        .all(store.db())
        .await?;
    let mut found = Vec::with_capacity(keys.len());
    for row in rows {
        let sub = to_domain(row)?;
        if scope.allows(sub.tenant_id) && keys.contains(&(sub.tenant_id, sub.sku_id)) {
            found.push(sub);
        }
    }
    Ok(found)
}

/// The service plans of the subscriptions named by `keys`, by name.
pub async fn list_service_plans(
    store: &Store,
    keys: &[(TenantId, SkuId)],
) -> Result<Vec<ServicePlan>, StoreError> {
    let rows = service_plan::Entity::find()
        .filter(pair_condition(
            store.backend(),
            service_plan::Column::TenantId,
            service_plan::Column::SkuId,
            keys,
        ))
        .order_by_asc(service_plan::Column::Name)
        .all(store.db())
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| ServicePlan {
            tenant_id: TenantId(m.tenant_id),
            sku_id: SkuId(m.sku_id),
            service_plan_id: ServicePlanId(m.service_plan_id),
            name: m.name,
            provisioning_status: m.provisioning_status,
            applies_to: m.applies_to,
        })
        .filter(|p| keys.contains(&(p.tenant_id, p.sku_id)))
        .collect())
}
