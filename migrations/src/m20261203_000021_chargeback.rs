//! Closed chargeback months: `chargeback_months`, one row per tenant and month closed, holding
//! the month's lines as they were when it was closed (JSON), its currency, the days billed and
//! who closed it when. Reopening a month deletes its row.

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
                    .table(ChargebackMonths::Table)
                    .if_not_exists()
                    .col(uuid(ChargebackMonths::TenantId))
                    .col(string_len(ChargebackMonths::Month, 7))
                    .col(string_len_null(ChargebackMonths::Currency, 3))
                    .col(date_null(ChargebackMonths::FirstDay))
                    .col(date_null(ChargebackMonths::LastDay))
                    .col(json(ChargebackMonths::Lines))
                    .col(timestamp_with_time_zone(ChargebackMonths::ClosedAt))
                    .col(string(ChargebackMonths::ClosedBy))
                    .primary_key(
                        Index::create()
                            .col(ChargebackMonths::TenantId)
                            .col(ChargebackMonths::Month),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_chargeback_months_tenant")
                            .from(ChargebackMonths::Table, ChargebackMonths::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ChargebackMonths::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ChargebackMonths {
    Table,
    TenantId,
    Month,
    Currency,
    FirstDay,
    LastDay,
    Lines,
    ClosedAt,
    ClosedBy,
}
