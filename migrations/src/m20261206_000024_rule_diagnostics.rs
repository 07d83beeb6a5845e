//! `allocation_evaluations.diagnostics`: the counts behind the rule diagnostics (users each rule
//! matches and places, users shared with earlier rules, unallocated users' common attribute
//! values), kept with the tally by the same evaluation. Null until a tenant is next evaluated.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AllocationEvaluations::Table)
                    .add_column(json_null(AllocationEvaluations::Diagnostics))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AllocationEvaluations::Table)
                    .drop_column(AllocationEvaluations::Diagnostics)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AllocationEvaluations {
    Table,
    Diagnostics,
}
