//! Creates `tenants`: one row per CSP customer tenant.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .if_not_exists()
                    .col(uuid(Tenants::Id).primary_key())
                    .col(string_null(Tenants::CustomerId))
                    .col(string(Tenants::Name))
                    .col(string_null(Tenants::DefaultDomain))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .col(timestamp_with_time_zone(Tenants::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Tenants::LastImportAt))
                    .to_owned(),
            )
            .await?;
        // `tenants(search)` lists by name, then id (keyset pagination).
        manager
            .create_index(
                Index::create()
                    .name("idx_tenants_name_id")
                    .table(Tenants::Table)
                    .col(Tenants::Name)
                    .col(Tenants::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tenants::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Tenants {
    Table,
    Id,
    CustomerId,
    Name,
    DefaultDomain,
    CreatedAt,
    UpdatedAt,
    LastImportAt,
}
