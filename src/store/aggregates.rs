//! Counts kept at commit time: each tenant's users and licenses (`tenant_aggregates`) and each
//! SKU's holders (`tenant_sku_aggregates`). [`refresh`] recounts one tenant inside the
//! transaction that changed its rows, so readers see the counts and the rows of the same
//! commit; the readers then read one row per tenant (or SKU) whatever the users per tenant.
//!
//! Writers of the counted tables (`users`, `user_licenses`): the import commit only
//! ([`super::import_commit`]); allocation changes, prices and commerce subscriptions write
//! neither.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::connect::Store;
use super::entities::{tenant_aggregate, tenant_sku_aggregate};
use super::error::StoreError;
use super::raw_sql::RawSql;
use crate::domain::{SkuId, TenantCounts, TenantId};

/// Recounts `tenant_id`'s aggregates from its rows, on `db` (the transaction of the change):
/// four statements, each reading only the tenant's rows.
pub(crate) async fn refresh<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
) -> Result<(), StoreError> {
    // Each statement binds the tenant once per `{t}` in its text.
    let run = async |template: &str| {
        let mut sql = RawSql::new(db.get_database_backend());
        for (i, part) in template.split("{t}").enumerate() {
            if i > 0 {
                sql.bind(tenant_id.uuid());
            }
            sql.push(part);
        }
        db.execute_raw(sql.statement()).await
    };
    run("DELETE FROM tenant_aggregates WHERE tenant_id = {t}").await?;
    // One row even for a tenant without users (an aggregate without GROUP BY).
    run("INSERT INTO tenant_aggregates \
           (tenant_id, users, members, guests, enabled, deleted, licenses) \
         SELECT {t}, \
           COALESCE(SUM(CASE WHEN deleted_at IS NULL THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN deleted_at IS NULL AND user_type = 'Member' \
             THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN deleted_at IS NULL AND user_type = 'Guest' \
             THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN deleted_at IS NULL AND account_enabled = TRUE \
             THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN deleted_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
           (SELECT COUNT(*) FROM user_licenses l JOIN users h ON h.id = l.user_id \
            WHERE l.tenant_id = {t} AND h.deleted_at IS NULL) \
         FROM users WHERE tenant_id = {t}")
    .await?;
    run("DELETE FROM tenant_sku_aggregates WHERE tenant_id = {t}").await?;
    run(
        "INSERT INTO tenant_sku_aggregates (tenant_id, sku_id, holders) \
         SELECT l.tenant_id, l.sku_id, COUNT(*) \
         FROM user_licenses l JOIN users u ON u.id = l.user_id \
         WHERE l.tenant_id = {t} AND u.deleted_at IS NULL \
         GROUP BY l.tenant_id, l.sku_id",
    )
    .await?;
    Ok(())
}

/// The kept counts of each of `tenants` (callers pass tenants already found in their scope),
/// in one statement; tenants never imported are left out (their counts are zeros).
pub async fn find_tenant_counts(
    store: &Store,
    tenants: &[TenantId],
) -> Result<HashMap<TenantId, TenantCounts>, StoreError> {
    let rows = tenant_aggregate::Entity::find()
        .filter(tenant_aggregate::Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .all(store.db())
        .await?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(rows
        .into_iter()
        .map(|m| {
            (
                TenantId(m.tenant_id),
                TenantCounts {
                    users: count(m.users),
                    members: count(m.members),
                    guests: count(m.guests),
                    enabled: count(m.enabled),
                    deleted: count(m.deleted),
                    licenses: count(m.licenses),
                },
            )
        })
        .collect())
}

/// How many present users hold a license of each of `skus` (tenant and SKU), in one statement;
/// SKUs nobody holds are left out.
pub async fn find_sku_holders(
    store: &Store,
    skus: &[(TenantId, SkuId)],
) -> Result<HashMap<(TenantId, SkuId), u64>, StoreError> {
    let tenants: Vec<_> = skus.iter().map(|(t, _)| t.uuid()).collect();
    let ids: Vec<_> = skus.iter().map(|(_, s)| s.uuid()).collect();
    let rows = tenant_sku_aggregate::Entity::find()
        .filter(tenant_sku_aggregate::Column::TenantId.is_in(tenants))
        .filter(tenant_sku_aggregate::Column::SkuId.is_in(ids))
        .all(store.db())
        .await?;
    let wanted: std::collections::HashSet<_> = skus.iter().copied().collect();
    Ok(rows
        .into_iter()
        .map(|m| {
            (
                (TenantId(m.tenant_id), SkuId(m.sku_id)),
                u64::try_from(m.holders).unwrap_or(0),
            )
        })
        .filter(|(key, _)| wanted.contains(key))
        .collect())
}
