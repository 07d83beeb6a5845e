//! Budgets per cost group: `cost_group_budgets`, one row per group and period, a period being
//! one month (`single_month`) or a month and every later one (`from_month`, `YYYY-MM`). The
//! amount and the thresholds (a JSON array of percentages) keep the scale they were given.
//! A budget goes with its group and its tenant.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_tenant::Tenants;
use crate::m20261126_000005_create_cost_group::CostGroups;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CostGroupBudgets::Table)
                    .if_not_exists()
                    .col(uuid(CostGroupBudgets::TenantId))
                    .col(uuid(CostGroupBudgets::CostGroupId))
                    .col(string_len(CostGroupBudgets::FromMonth, 7))
                    .col(boolean(CostGroupBudgets::SingleMonth))
                    .col(string(CostGroupBudgets::Amount))
                    .col(string_len(CostGroupBudgets::Currency, 3))
                    .col(text(CostGroupBudgets::Thresholds))
                    .col(string(CostGroupBudgets::SetBy))
                    .col(timestamp_with_time_zone(CostGroupBudgets::SetAt))
                    .primary_key(
                        Index::create()
                            .col(CostGroupBudgets::TenantId)
                            .col(CostGroupBudgets::CostGroupId)
                            .col(CostGroupBudgets::FromMonth)
                            .col(CostGroupBudgets::SingleMonth),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_group_budgets_tenant")
                            .from(CostGroupBudgets::Table, CostGroupBudgets::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_group_budgets_cost_group")
                            .from(CostGroupBudgets::Table, CostGroupBudgets::CostGroupId)
                            .to(CostGroups::Table, CostGroups::Id)
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
                    .table(CostGroupBudgets::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum CostGroupBudgets {
    Table,
    TenantId,
    CostGroupId,
    FromMonth,
    SingleMonth,
    Amount,
    Currency,
    Thresholds,
    SetBy,
    SetAt,
}
