//! Creates `subscriptions` (a tenant's subscribed SKUs) and `service_plans` (their plans).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_tenant::Tenants;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Subscriptions::Table)
                    .if_not_exists()
                    .col(uuid(Subscriptions::TenantId))
                    .col(uuid(Subscriptions::SkuId))
                    .col(string(Subscriptions::SkuPartNumber))
                    .col(string(Subscriptions::CapabilityStatus))
                    .col(string(Subscriptions::AppliesTo))
                    .col(big_integer(Subscriptions::PrepaidEnabled))
                    .col(big_integer(Subscriptions::PrepaidWarning))
                    .col(big_integer(Subscriptions::PrepaidSuspended))
                    .col(big_integer(Subscriptions::PrepaidLockedOut))
                    .col(big_integer(Subscriptions::ConsumedUnits))
                    .col(json(Subscriptions::SubscriptionIds))
                    .col(timestamp_with_time_zone(Subscriptions::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(Subscriptions::TenantId)
                            .col(Subscriptions::SkuId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_subscriptions_tenant")
                            .from(Subscriptions::Table, Subscriptions::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServicePlans::Table)
                    .if_not_exists()
                    .col(uuid(ServicePlans::TenantId))
                    .col(uuid(ServicePlans::SkuId))
                    .col(uuid(ServicePlans::ServicePlanId))
                    .col(string(ServicePlans::Name))
                    .col(string(ServicePlans::ProvisioningStatus))
                    .col(string(ServicePlans::AppliesTo))
                    .primary_key(
                        Index::create()
                            .col(ServicePlans::TenantId)
                            .col(ServicePlans::SkuId)
                            .col(ServicePlans::ServicePlanId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_service_plans_subscription")
                            .from_tbl(ServicePlans::Table)
                            .from_col(ServicePlans::TenantId)
                            .from_col(ServicePlans::SkuId)
                            .to_tbl(Subscriptions::Table)
                            .to_col(Subscriptions::TenantId)
                            .to_col(Subscriptions::SkuId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServicePlans::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Subscriptions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Subscriptions {
    Table,
    TenantId,
    SkuId,
    SkuPartNumber,
    CapabilityStatus,
    AppliesTo,
    PrepaidEnabled,
    PrepaidWarning,
    PrepaidSuspended,
    PrepaidLockedOut,
    ConsumedUnits,
    SubscriptionIds,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ServicePlans {
    Table,
    TenantId,
    SkuId,
    ServicePlanId,
    Name,
    ProvisioningStatus,
    AppliesTo,
}
