//! Commerce subscriptions from Partner Center (`commerce_subscriptions`, replaced with each
//! import commit, linked to the SKU they back when Graph's directory subscriptions allow),
//! how each SKU is billed (`subscriptions.billing_detected` by the importer, `billing` after a
//! staff override) and the overrides themselves (`sku_billing_overrides`).

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
                    .table(CommerceSubscriptions::Table)
                    .if_not_exists()
                    .col(uuid(CommerceSubscriptions::TenantId))
                    .col(string_len(CommerceSubscriptions::Id, 64))
                    .col(string(CommerceSubscriptions::OfferId))
                    .col(string(CommerceSubscriptions::OfferName))
                    .col(string_null(CommerceSubscriptions::FriendlyName))
                    .col(big_integer(CommerceSubscriptions::Quantity))
                    .col(string_null(CommerceSubscriptions::UnitType))
                    .col(string_len(CommerceSubscriptions::Status, 32))
                    .col(string_len_null(CommerceSubscriptions::BillingCycle, 32))
                    .col(string_len_null(CommerceSubscriptions::TermDuration, 32))
                    .col(timestamp_with_time_zone_null(
                        CommerceSubscriptions::StartDate,
                    ))
                    .col(timestamp_with_time_zone_null(
                        CommerceSubscriptions::CommitmentEndDate,
                    ))
                    .col(boolean(CommerceSubscriptions::AutoRenew))
                    .col(boolean(CommerceSubscriptions::IsTrial))
                    .col(string_len_null(CommerceSubscriptions::BillingType, 32))
                    .col(string_len_null(
                        CommerceSubscriptions::ParentSubscriptionId,
                        64,
                    ))
                    .col(uuid_null(CommerceSubscriptions::SkuId))
                    .col(timestamp_with_time_zone(CommerceSubscriptions::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(CommerceSubscriptions::TenantId)
                            .col(CommerceSubscriptions::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_commerce_subscriptions_tenant")
                            .from(
                                CommerceSubscriptions::Table,
                                CommerceSubscriptions::TenantId,
                            )
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_commerce_subscriptions_commitment_end")
                    .table(CommerceSubscriptions::Table)
                    .col(CommerceSubscriptions::CommitmentEndDate)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_commerce_subscriptions_sku")
                    .table(CommerceSubscriptions::Table)
                    .col(CommerceSubscriptions::TenantId)
                    .col(CommerceSubscriptions::SkuId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SkuBillingOverrides::Table)
                    .if_not_exists()
                    .col(uuid(SkuBillingOverrides::TenantId))
                    .col(uuid(SkuBillingOverrides::SkuId))
                    .col(string_len(SkuBillingOverrides::Billing, 16))
                    .col(string(SkuBillingOverrides::SetBy))
                    .col(timestamp_with_time_zone(SkuBillingOverrides::SetAt))
                    .primary_key(
                        Index::create()
                            .col(SkuBillingOverrides::TenantId)
                            .col(SkuBillingOverrides::SkuId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sku_billing_overrides_tenant")
                            .from(SkuBillingOverrides::Table, SkuBillingOverrides::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One column per ALTER TABLE: SQLite takes no more.
        for column in [Subscriptions::BillingDetected, Subscriptions::Billing] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Subscriptions::Table)
                        .add_column(string_len(column, 16).default("OTHER"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Subscriptions::Billing, Subscriptions::BillingDetected] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Subscriptions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(SkuBillingOverrides::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CommerceSubscriptions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CommerceSubscriptions {
    Table,
    TenantId,
    Id,
    OfferId,
    OfferName,
    FriendlyName,
    Quantity,
    UnitType,
    Status,
    BillingCycle,
    TermDuration,
    StartDate,
    CommitmentEndDate,
    AutoRenew,
    IsTrial,
    BillingType,
    ParentSubscriptionId,
    SkuId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SkuBillingOverrides {
    Table,
    TenantId,
    SkuId,
    Billing,
    SetBy,
    SetAt,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    BillingDetected,
    Billing,
}
