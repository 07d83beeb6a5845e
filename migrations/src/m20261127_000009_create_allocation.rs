//! Creates the cost-allocation tables: `allocation_rules`, `allocation_overrides` with their
//! `allocation_override_shares`, `license_prices`, the stored evaluation (`user_allocations` and
//! `allocation_evaluations`) and `audit_log`.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_tenant::Tenants;
use crate::m20261126_000003_create_user::Users;
use crate::m20261126_000005_create_cost_group::CostGroups;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

fn tenant_fk(
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
    name: &str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn cost_group_fk(
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
    name: &str,
) -> ForeignKeyCreateStatement {
    // Deleting a cost group that rules, overrides or allocations still name is refused: the
    // store reassigns or refuses first.
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(CostGroups::Table, CostGroups::Id)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

fn index(
    name: &str,
    table: impl IntoIden + 'static,
    columns: Vec<DynIden>,
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AllocationRules::Table)
                    .if_not_exists()
                    .col(uuid(AllocationRules::Id).primary_key())
                    .col(uuid(AllocationRules::TenantId))
                    .col(uuid(AllocationRules::CostGroupId))
                    .col(integer(AllocationRules::Priority))
                    .col(boolean(AllocationRules::Enabled))
                    .col(json(AllocationRules::Conditions))
                    .col(timestamp_with_time_zone(AllocationRules::CreatedAt))
                    .col(timestamp_with_time_zone(AllocationRules::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        AllocationRules::Table,
                        AllocationRules::TenantId,
                        "fk_allocation_rules_tenant",
                    ))
                    .foreign_key(&mut cost_group_fk(
                        AllocationRules::Table,
                        AllocationRules::CostGroupId,
                        "fk_allocation_rules_cost_group",
                    ))
                    .to_owned(),
            )
            .await?;
        // `Tenant.allocationRules` in priority order; `CostGroup.rules`.
        manager
            .create_index(index(
                "idx_allocation_rules_tenant_priority",
                AllocationRules::Table,
                vec![
                    AllocationRules::TenantId.into_iden(),
                    AllocationRules::Priority.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_allocation_rules_cost_group",
                AllocationRules::Table,
                vec![AllocationRules::CostGroupId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AllocationOverrides::Table)
                    .if_not_exists()
                    .col(uuid(AllocationOverrides::UserId).primary_key())
                    .col(uuid(AllocationOverrides::TenantId))
                    .col(timestamp_with_time_zone(AllocationOverrides::CreatedAt))
                    .col(timestamp_with_time_zone(AllocationOverrides::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        AllocationOverrides::Table,
                        AllocationOverrides::TenantId,
                        "fk_allocation_overrides_tenant",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_allocation_overrides_user")
                            .from(AllocationOverrides::Table, AllocationOverrides::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_allocation_overrides_tenant",
                AllocationOverrides::Table,
                vec![AllocationOverrides::TenantId.into_iden()],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AllocationOverrideShares::Table)
                    .if_not_exists()
                    .col(uuid(AllocationOverrideShares::UserId))
                    .col(uuid(AllocationOverrideShares::CostGroupId))
                    .col(uuid(AllocationOverrideShares::TenantId))
                    // A decimal percentage with at most two places, as text: exact on both backends.
                    .col(string_len(AllocationOverrideShares::Percent, 16))
                    .primary_key(
                        Index::create()
                            .col(AllocationOverrideShares::UserId)
                            .col(AllocationOverrideShares::CostGroupId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_allocation_override_shares_override")
                            .from(
                                AllocationOverrideShares::Table,
                                AllocationOverrideShares::UserId,
                            )
                            .to(AllocationOverrides::Table, AllocationOverrides::UserId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut cost_group_fk(
                        AllocationOverrideShares::Table,
                        AllocationOverrideShares::CostGroupId,
                        "fk_allocation_override_shares_cost_group",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_allocation_override_shares_cost_group",
                AllocationOverrideShares::Table,
                vec![AllocationOverrideShares::CostGroupId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LicensePrices::Table)
                    .if_not_exists()
                    .col(uuid(LicensePrices::Id).primary_key())
                    .col(uuid(LicensePrices::TenantId))
                    .col(uuid(LicensePrices::SkuId))
                    .col(date(LicensePrices::EffectiveFrom))
                    // A decimal amount as text: exact on both backends.
                    .col(string_len(LicensePrices::MonthlyUnitPrice, 40))
                    .col(string_len(LicensePrices::Currency, 3))
                    .col(timestamp_with_time_zone(LicensePrices::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        LicensePrices::Table,
                        LicensePrices::TenantId,
                        "fk_license_prices_tenant",
                    ))
                    .to_owned(),
            )
            .await?;
        // One price per SKU and day; the history is the rows of other days.
        manager
            .create_index(
                index(
                    "idx_license_prices_tenant_sku_from",
                    LicensePrices::Table,
                    vec![
                        LicensePrices::TenantId.into_iden(),
                        LicensePrices::SkuId.into_iden(),
                        LicensePrices::EffectiveFrom.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserAllocations::Table)
                    .if_not_exists()
                    .col(uuid(UserAllocations::UserId))
                    .col(uuid(UserAllocations::CostGroupId))
                    .col(uuid(UserAllocations::TenantId))
                    .col(string_len(UserAllocations::Percent, 16))
                    .col(string_len(UserAllocations::Source, 16))
                    .col(uuid_null(UserAllocations::RuleId))
                    .primary_key(
                        Index::create()
                            .col(UserAllocations::UserId)
                            .col(UserAllocations::CostGroupId),
                    )
                    .foreign_key(&mut tenant_fk(
                        UserAllocations::Table,
                        UserAllocations::TenantId,
                        "fk_user_allocations_tenant",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_allocations_user")
                            .from(UserAllocations::Table, UserAllocations::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut cost_group_fk(
                        UserAllocations::Table,
                        UserAllocations::CostGroupId,
                        "fk_user_allocations_cost_group",
                    ))
                    .to_owned(),
            )
            .await?;
        // `CostGroup.members` (keyset by user id) and `users(filter: {costGroupId})`.
        manager
            .create_index(index(
                "idx_user_allocations_group_user",
                UserAllocations::Table,
                vec![
                    UserAllocations::CostGroupId.into_iden(),
                    UserAllocations::UserId.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_user_allocations_tenant",
                UserAllocations::Table,
                vec![UserAllocations::TenantId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AllocationEvaluations::Table)
                    .if_not_exists()
                    .col(uuid(AllocationEvaluations::TenantId).primary_key())
                    .col(timestamp_with_time_zone(AllocationEvaluations::EvaluatedAt))
                    // Licenses per cost group and SKU, users per cost group: all a cost report
                    // needs of the evaluation, so that reading one does not touch every user.
                    .col(json(AllocationEvaluations::Tally))
                    .foreign_key(&mut tenant_fk(
                        AllocationEvaluations::Table,
                        AllocationEvaluations::TenantId,
                        "fk_allocation_evaluations_tenant",
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(big_integer(AuditLog::Id).auto_increment().primary_key())
                    .col(uuid(AuditLog::TenantId))
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .col(string_len(AuditLog::Actor, 200))
                    .col(string_len(AuditLog::Action, 64))
                    .col(string_len(AuditLog::SubjectType, 32))
                    .col(string_len(AuditLog::SubjectId, 64))
                    .col(json_null(AuditLog::Before))
                    .col(json_null(AuditLog::After))
                    .foreign_key(&mut tenant_fk(
                        AuditLog::Table,
                        AuditLog::TenantId,
                        "fk_audit_log_tenant",
                    ))
                    .to_owned(),
            )
            .await?;
        // `Query.auditLog`, newest first.
        manager
            .create_index(index(
                "idx_audit_log_tenant_id",
                AuditLog::Table,
                vec![AuditLog::TenantId.into_iden(), AuditLog::Id.into_iden()],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            AllocationEvaluations::Table.into_iden(),
            UserAllocations::Table.into_iden(),
            LicensePrices::Table.into_iden(),
            AllocationOverrideShares::Table.into_iden(),
            AllocationOverrides::Table.into_iden(),
            AllocationRules::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AllocationRules {
    Table,
    Id,
    TenantId,
    CostGroupId,
    Priority,
    Enabled,
    Conditions,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AllocationOverrides {
    Table,
    UserId,
    TenantId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AllocationOverrideShares {
    Table,
    UserId,
    CostGroupId,
    TenantId,
    Percent,
}

#[derive(DeriveIden)]
enum LicensePrices {
    Table,
    Id,
    TenantId,
    SkuId,
    EffectiveFrom,
    MonthlyUnitPrice,
    Currency,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UserAllocations {
    Table,
    UserId,
    CostGroupId,
    TenantId,
    Percent,
    Source,
    RuleId,
}

#[derive(DeriveIden)]
enum AllocationEvaluations {
    Table,
    TenantId,
    EvaluatedAt,
    Tally,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    TenantId,
    At,
    Actor,
    Action,
    SubjectType,
    SubjectId,
    Before,
    After,
}
