//! Allocation changes with effective dates: `allocation_configurations`, one row per tenant and
//! day a configuration (rules and overrides, as JSON) takes effect, so that a backdated change
//! can re-evaluate past days with the configuration of each day and a future one waits for its
//! day (`promoted` says whether the tables read today hold it yet); and
//! `audit_log.effective_from`, the day an audited change takes effect.

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
                    .table(AllocationConfigurations::Table)
                    .if_not_exists()
                    .col(uuid(AllocationConfigurations::TenantId))
                    .col(date(AllocationConfigurations::EffectiveFrom))
                    .col(json(AllocationConfigurations::Configuration))
                    .col(boolean(AllocationConfigurations::Promoted))
                    .primary_key(
                        Index::create()
                            .col(AllocationConfigurations::TenantId)
                            .col(AllocationConfigurations::EffectiveFrom),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_allocation_configurations_tenant")
                            .from(
                                AllocationConfigurations::Table,
                                AllocationConfigurations::TenantId,
                            )
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLog::Table)
                    .add_column(date_null(AuditLog::EffectiveFrom))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLog::Table)
                    .drop_column(AuditLog::EffectiveFrom)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(AllocationConfigurations::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum AllocationConfigurations {
    Table,
    TenantId,
    EffectiveFrom,
    Configuration,
    Promoted,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    EffectiveFrom,
}
