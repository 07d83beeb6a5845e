//! The date each import observed: `import_runs.observed_on` (`tenantgraph import --as-of`, else
//! the run's UTC start date) and `tenant_import_states.last_observed_on`, the newest date a
//! tenant's import committed with, which a later import may not go back before. Existing runs
//! get their start date, and each tenant the newest date of its successful runs.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
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
                    .add_column(date_null(ImportRuns::ObservedOn))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(TenantImportStates::Table)
                    .add_column(date_null(TenantImportStates::LastObservedOn))
                    .to_owned(),
            )
            .await?;
        let start_date = match manager.get_database_backend() {
            DbBackend::Postgres => "(started_at AT TIME ZONE 'UTC')::date",
            _ => "date(started_at)",
        };
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "UPDATE import_runs SET observed_on = {start_date}"
        ))
        .await?;
        db.execute_unprepared(
            "UPDATE tenant_import_states SET last_observed_on = (SELECT max(r.observed_on) \
             FROM import_runs r WHERE r.tenant_id = tenant_import_states.tenant_id \
             AND r.status = 'SUCCEEDED')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TenantImportStates::Table)
                    .drop_column(TenantImportStates::LastObservedOn)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportRuns::Table)
                    .drop_column(ImportRuns::ObservedOn)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ImportRuns {
    Table,
    ObservedOn,
}

#[derive(DeriveIden)]
enum TenantImportStates {
    Table,
    LastObservedOn,
}
