//! Creates `tenant_aggregates` (one row per tenant: its user and license counts) and
//! `tenant_sku_aggregates` (per tenant and SKU: the present users holding a license of it),
//! kept by every import commit in its own transaction, so that the tenant list reads a few
//! rows per tenant instead of counting every user. Backfills both from the rows already stored.

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_tenant::Tenants;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// Every tenant's counts, as `store::aggregates` keeps them: present users (not soft-deleted),
/// the members, guests and enabled accounts among them, soft-deleted users, and the licenses
/// the present users hold. Tenants without users get zeros.
const BACKFILL_TENANTS: &str = "\
INSERT INTO tenant_aggregates (tenant_id, users, members, guests, enabled, deleted, licenses) \
SELECT t.id, \
  COALESCE(SUM(CASE WHEN u.id IS NOT NULL AND u.deleted_at IS NULL THEN 1 ELSE 0 END), 0), \
  COALESCE(SUM(CASE WHEN u.deleted_at IS NULL AND u.user_type = 'Member' THEN 1 ELSE 0 END), 0), \
  COALESCE(SUM(CASE WHEN u.deleted_at IS NULL AND u.user_type = 'Guest' THEN 1 ELSE 0 END), 0), \
  COALESCE(SUM(CASE WHEN u.deleted_at IS NULL AND u.account_enabled = TRUE THEN 1 ELSE 0 END), 0), \
  COALESCE(SUM(CASE WHEN u.deleted_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
  (SELECT COUNT(*) FROM user_licenses l JOIN users h ON h.id = l.user_id \
   WHERE l.tenant_id = t.id AND h.deleted_at IS NULL) \
FROM tenants t LEFT JOIN users u ON u.tenant_id = t.id \
GROUP BY t.id";

/// Per tenant and SKU, the present users holding a license of it.
const BACKFILL_SKUS: &str = "\
INSERT INTO tenant_sku_aggregates (tenant_id, sku_id, holders) \
SELECT l.tenant_id, l.sku_id, COUNT(*) \
FROM user_licenses l JOIN users u ON u.id = l.user_id \
WHERE u.deleted_at IS NULL \
GROUP BY l.tenant_id, l.sku_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// The tables and their backfill in one transaction: no import commits in between, so the
    /// rows are exact when the migration ends.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantAggregates::Table)
                    .col(uuid(TenantAggregates::TenantId).primary_key())
                    .col(big_integer(TenantAggregates::Users))
                    .col(big_integer(TenantAggregates::Members))
                    .col(big_integer(TenantAggregates::Guests))
                    .col(big_integer(TenantAggregates::Enabled))
                    .col(big_integer(TenantAggregates::Deleted))
                    .col(big_integer(TenantAggregates::Licenses))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantAggregates::Table, TenantAggregates::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantSkuAggregates::Table)
                    .col(uuid(TenantSkuAggregates::TenantId))
                    .col(uuid(TenantSkuAggregates::SkuId))
                    .col(big_integer(TenantSkuAggregates::Holders))
                    .primary_key(
                        Index::create()
                            .col(TenantSkuAggregates::TenantId)
                            .col(TenantSkuAggregates::SkuId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantSkuAggregates::Table, TenantSkuAggregates::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(BACKFILL_TENANTS).await?;
        db.execute_unprepared(BACKFILL_SKUS).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TenantSkuAggregates::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TenantAggregates::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TenantAggregates {
    Table,
    TenantId,
    Users,
    Members,
    Guests,
    Enabled,
    Deleted,
    Licenses,
}

#[derive(DeriveIden)]
enum TenantSkuAggregates {
    Table,
    TenantId,
    SkuId,
    Holders,
}
