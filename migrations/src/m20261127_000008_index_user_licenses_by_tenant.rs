//! Indexes `user_licenses` by tenant and SKU: an import's commit counts and checks a tenant's
//! licenses, which the existing `(sku_id, tenant_id, user_id)` index can't serve by tenant.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_user_licenses_tenant_sku")
                    .table(UserLicenses::Table)
                    .col(UserLicenses::TenantId)
                    .col(UserLicenses::SkuId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_user_licenses_tenant_sku")
                    .table(UserLicenses::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum UserLicenses {
    Table,
    TenantId,
    SkuId,
}
