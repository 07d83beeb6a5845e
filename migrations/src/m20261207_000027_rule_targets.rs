//! Split rules: `allocation_rule_targets`, the cost groups a rule places its users in with each
//! one's percentage (one row of 100 for a single-target rule), in the order given. Every rule
//! stored before is carried over as one target of 100, its `cost_group_id`. That column stays,
//! holding the rule's first target, so a replica still reading it survives the deploy.

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
                    .table(AllocationRuleTargets::Table)
                    .if_not_exists()
                    .col(uuid(AllocationRuleTargets::RuleId))
                    .col(uuid(AllocationRuleTargets::CostGroupId))
                    .col(uuid(AllocationRuleTargets::TenantId))
                    // A decimal percentage with at most two places, as text: exact on both backends.
                    .col(string_len(AllocationRuleTargets::Percent, 16))
                    // The target's place in the rule's list; the first answers `costGroup`.
                    .col(integer(AllocationRuleTargets::Position))
                    .primary_key(
                        Index::create()
                            .col(AllocationRuleTargets::RuleId)
                            .col(AllocationRuleTargets::CostGroupId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_allocation_rule_targets_rule")
                            .from(AllocationRuleTargets::Table, AllocationRuleTargets::RuleId)
                            .to(AllocationRules::Table, AllocationRules::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    // Deleting a cost group a rule still targets is refused: the store reassigns
                    // or refuses first.
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_allocation_rule_targets_cost_group")
                            .from(
                                AllocationRuleTargets::Table,
                                AllocationRuleTargets::CostGroupId,
                            )
                            .to(CostGroups::Table, CostGroups::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_allocation_rule_targets_tenant")
                            .from(
                                AllocationRuleTargets::Table,
                                AllocationRuleTargets::TenantId,
                            )
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // `CostGroup.rules` and the checks before a cost group is deleted.
        manager
            .create_index(
                Index::create()
                    .name("idx_allocation_rule_targets_cost_group")
                    .table(AllocationRuleTargets::Table)
                    .col(AllocationRuleTargets::CostGroupId)
                    .to_owned(),
            )
            .await?;
        // Every rule so far had one target: its cost group, 100 %.
        let carried = Query::insert()
            .into_table(AllocationRuleTargets::Table)
            .columns([
                AllocationRuleTargets::RuleId,
                AllocationRuleTargets::CostGroupId,
                AllocationRuleTargets::TenantId,
                AllocationRuleTargets::Percent,
                AllocationRuleTargets::Position,
            ])
            .select_from(
                Query::select()
                    .column(AllocationRules::Id)
                    .column(AllocationRules::CostGroupId)
                    .column(AllocationRules::TenantId)
                    .expr(Expr::val("100"))
                    .expr(Expr::val(0))
                    .from(AllocationRules::Table)
                    .to_owned(),
            )
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        manager.exec_stmt(carried).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(AllocationRuleTargets::Table)
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
enum AllocationRuleTargets {
    Table,
    RuleId,
    CostGroupId,
    TenantId,
    Percent,
    Position,
}

#[derive(DeriveIden)]
enum AllocationRules {
    Table,
    Id,
    CostGroupId,
    TenantId,
}
