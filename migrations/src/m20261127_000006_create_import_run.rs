//! Creates `import_runs`: one row per import of one tenant, with its outcome and counts.

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
                    .table(ImportRuns::Table)
                    .if_not_exists()
                    .col(uuid(ImportRuns::Id).primary_key())
                    .col(uuid(ImportRuns::TenantId))
                    .col(string_len(ImportRuns::Trigger, 16))
                    .col(string_len_null(ImportRuns::Mode, 16))
                    .col(string_len(ImportRuns::Status, 16))
                    .col(string_len_null(ImportRuns::Reason, 40))
                    .col(string_len_null(ImportRuns::UpstreamCode, 120))
                    .col(text_null(ImportRuns::UpstreamMessage))
                    .col(text_null(ImportRuns::Remediation))
                    .col(timestamp_with_time_zone_null(ImportRuns::ScheduledFor))
                    .col(string_len(ImportRuns::Holder, 120))
                    .col(timestamp_with_time_zone(ImportRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(ImportRuns::FinishedAt))
                    .col(big_integer_null(ImportRuns::DurationMs))
                    .col(big_integer(ImportRuns::UsersAdded).default(0))
                    .col(big_integer(ImportRuns::UsersUpdated).default(0))
                    .col(big_integer(ImportRuns::UsersRemoved).default(0))
                    .col(big_integer(ImportRuns::UsersRestored).default(0))
                    .col(big_integer(ImportRuns::Licenses).default(0))
                    .col(big_integer(ImportRuns::Skus).default(0))
                    .col(big_integer(ImportRuns::Pages).default(0))
                    .col(big_integer(ImportRuns::Retries).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_import_runs_tenant")
                            .from(ImportRuns::Table, ImportRuns::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // `Query.importRuns(tenantId)` and `Tenant.importStatus`: newest runs of a tenant first.
        manager
            .create_index(
                Index::create()
                    .name("idx_import_runs_tenant_started")
                    .table(ImportRuns::Table)
                    .col(ImportRuns::TenantId)
                    .col(ImportRuns::StartedAt)
                    .col(ImportRuns::Id)
                    .to_owned(),
            )
            .await?;
        // A scheduled slot imports each tenant once, whichever replica gets there first.
        // Manual and CLI runs leave `scheduled_for` NULL, which a unique index doesn't compare.
        manager
            .create_index(
                Index::create()
                    .name("idx_import_runs_tenant_slot")
                    .table(ImportRuns::Table)
                    .col(ImportRuns::TenantId)
                    .col(ImportRuns::ScheduledFor)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Finding runs left RUNNING by a process that died.
        manager
            .create_index(
                Index::create()
                    .name("idx_import_runs_status")
                    .table(ImportRuns::Table)
                    .col(ImportRuns::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportRuns::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum ImportRuns {
    Table,
    Id,
    TenantId,
    Trigger,
    Mode,
    Status,
    Reason,
    UpstreamCode,
    UpstreamMessage,
    Remediation,
    ScheduledFor,
    Holder,
    StartedAt,
    FinishedAt,
    DurationMs,
    UsersAdded,
    UsersUpdated,
    UsersRemoved,
    UsersRestored,
    Licenses,
    Skus,
    Pages,
    Retries,
}
