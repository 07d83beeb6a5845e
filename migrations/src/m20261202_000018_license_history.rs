//! License holdings over time: `user_licenses.held_from` (the day a holding, with its disabled
//! plans, took effect; null for rows older than history) and `license_history`, the holdings an
//! import removed or changed, with the days `[valid_from, valid_to)` they were held.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_tenant::Tenants;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(UserLicenses::Table)
                    .add_column(date_null(UserLicenses::HeldFrom))
                    .to_owned(),
            )
            .await?;
        // No foreign key to users or subscriptions: history outlives both.
        manager
            .create_table(
                Table::create()
                    .table(LicenseHistory::Table)
                    .if_not_exists()
                    .col(big_pk_auto(LicenseHistory::Id))
                    .col(uuid(LicenseHistory::TenantId))
                    .col(uuid(LicenseHistory::UserId))
                    .col(uuid(LicenseHistory::SkuId))
                    .col(json(LicenseHistory::DisabledPlans))
                    .col(date_null(LicenseHistory::ValidFrom))
                    .col(date(LicenseHistory::ValidTo))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_license_history_tenant")
                            .from(LicenseHistory::Table, LicenseHistory::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, first) in [
            (
                "idx_license_history_tenant_valid_to",
                LicenseHistory::TenantId,
            ),
            ("idx_license_history_user_valid_to", LicenseHistory::UserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(LicenseHistory::Table)
                        .col(first)
                        .col(LicenseHistory::ValidTo)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(LicenseHistory::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(UserLicenses::Table)
                    .drop_column(UserLicenses::HeldFrom)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum UserLicenses {
    Table,
    HeldFrom,
}

#[derive(DeriveIden, Clone, Copy)]
enum LicenseHistory {
    Table,
    Id,
    TenantId,
    UserId,
    SkuId,
    DisabledPlans,
    ValidFrom,
    ValidTo,
}
