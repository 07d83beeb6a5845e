//! Creates `tenant_import_states` (each tenant's delta link and import lease) and
//! `partner_credentials` (the newest rotated refresh token).

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
                    .table(TenantImportStates::Table)
                    .if_not_exists()
                    .col(uuid(TenantImportStates::TenantId).primary_key())
                    .col(text_null(TenantImportStates::DeltaLink))
                    .col(timestamp_with_time_zone_null(
                        TenantImportStates::DeltaLinkAt,
                    ))
                    .col(string_len_null(TenantImportStates::LeaseHolder, 120))
                    .col(uuid_null(TenantImportStates::LeaseRunId))
                    .col(timestamp_with_time_zone_null(
                        TenantImportStates::LeaseExpiresAt,
                    ))
                    .col(timestamp_with_time_zone(TenantImportStates::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tenant_import_states_tenant")
                            .from(TenantImportStates::Table, TenantImportStates::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PartnerCredentials::Table)
                    .if_not_exists()
                    .col(string_len(PartnerCredentials::ClientId, 120).primary_key())
                    .col(text(PartnerCredentials::RefreshToken))
                    .col(string_len(PartnerCredentials::ConfiguredFingerprint, 64))
                    .col(timestamp_with_time_zone(PartnerCredentials::RotatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PartnerCredentials::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TenantImportStates::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TenantImportStates {
    Table,
    TenantId,
    DeltaLink,
    DeltaLinkAt,
    LeaseHolder,
    LeaseRunId,
    LeaseExpiresAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PartnerCredentials {
    Table,
    ClientId,
    RefreshToken,
    ConfiguredFingerprint,
    RotatedAt,
}
