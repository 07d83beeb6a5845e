//! What a successful import worked around: `import_runs.warnings` (a JSON list of
//! `{code, message}`), and `tenant_import_states.initial_delta_next`, set when
//! `$deltatoken=latest` was refused so that the next run starts with an initial delta round.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ImportRuns::Table)
                    .add_column(text_null(ImportRuns::Warnings))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(TenantImportStates::Table)
                    .add_column(boolean(TenantImportStates::InitialDeltaNext).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TenantImportStates::Table)
                    .drop_column(TenantImportStates::InitialDeltaNext)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportRuns::Table)
                    .drop_column(ImportRuns::Warnings)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ImportRuns {
    Table,
    Warnings,
}

#[derive(DeriveIden)]
enum TenantImportStates {
    Table,
    InitialDeltaNext,
}
