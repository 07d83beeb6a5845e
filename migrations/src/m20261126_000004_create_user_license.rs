//! Creates `user_licenses`: which SKUs each user holds, with the plans disabled for them.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000002_create_subscription::Subscriptions;
use crate::m20261126_000003_create_user::Users;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserLicenses::Table)
                    .if_not_exists()
                    .col(uuid(UserLicenses::UserId))
                    .col(uuid(UserLicenses::SkuId))
                    .col(uuid(UserLicenses::TenantId))
                    .col(json(UserLicenses::DisabledPlans))
                    .primary_key(
                        Index::create()
                            .col(UserLicenses::UserId)
                            .col(UserLicenses::SkuId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_licenses_user")
                            .from(UserLicenses::Table, UserLicenses::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    // Every assigned license points at a SKU the tenant subscribes to, so that
                    // `AssignedLicense.subscription` can be non-null.
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_licenses_subscription")
                            .from_tbl(UserLicenses::Table)
                            .from_col(UserLicenses::TenantId)
                            .from_col(UserLicenses::SkuId)
                            .to_tbl(Subscriptions::Table)
                            .to_col(Subscriptions::TenantId)
                            .to_col(Subscriptions::SkuId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // `LicenseSubscription.assignedUsers` and the `skuId` user filter (both look up by SKU).
        manager
            .create_index(
                Index::create()
                    .name("idx_user_licenses_sku_tenant_user")
                    .table(UserLicenses::Table)
                    .col(UserLicenses::SkuId)
                    .col(UserLicenses::TenantId)
                    .col(UserLicenses::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserLicenses::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UserLicenses {
    Table,
    UserId,
    SkuId,
    TenantId,
    DisabledPlans,
}
