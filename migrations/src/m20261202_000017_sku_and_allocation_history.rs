//! History of what changes rarely per tenant, kept as intervals of days `[valid_from, valid_to)`
//! (`valid_to` null: still in force): each SKU's counts and billing (`sku_count_history`) and
//! each commerce subscription's quantity and status (`commerce_quantity_history`), every
//! interval stored; and the allocation results: the current rows stay in `user_allocations`
//! (now with `allocated_from`, null for rows older than history), the ones they replaced move
//! to `allocation_history`, so storage grows with changes, not with days.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_tenant::Tenants;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

fn tenant_fk(table: impl IntoIden + 'static, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, Alias::new("tenant_id"))
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SkuCountHistory::Table)
                    .if_not_exists()
                    .col(uuid(SkuCountHistory::TenantId))
                    .col(uuid(SkuCountHistory::SkuId))
                    .col(date(SkuCountHistory::ValidFrom))
                    .col(date_null(SkuCountHistory::ValidTo))
                    .col(string(SkuCountHistory::SkuPartNumber))
                    .col(string_len(SkuCountHistory::AppliesTo, 32))
                    .col(big_integer(SkuCountHistory::PrepaidEnabled))
                    .col(big_integer(SkuCountHistory::PrepaidWarning))
                    .col(big_integer(SkuCountHistory::PrepaidSuspended))
                    .col(big_integer(SkuCountHistory::PrepaidLockedOut))
                    .col(big_integer(SkuCountHistory::ConsumedUnits))
                    .col(string_len(SkuCountHistory::Billing, 16))
                    .primary_key(
                        Index::create()
                            .col(SkuCountHistory::TenantId)
                            .col(SkuCountHistory::SkuId)
                            .col(SkuCountHistory::ValidFrom),
                    )
                    .foreign_key(&mut tenant_fk(
                        SkuCountHistory::Table,
                        "fk_sku_count_history_tenant",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CommerceQuantityHistory::Table)
                    .if_not_exists()
                    .col(uuid(CommerceQuantityHistory::TenantId))
                    .col(string_len(CommerceQuantityHistory::SubscriptionId, 64))
                    .col(date(CommerceQuantityHistory::ValidFrom))
                    .col(date_null(CommerceQuantityHistory::ValidTo))
                    .col(big_integer(CommerceQuantityHistory::Quantity))
                    .col(string_len(CommerceQuantityHistory::Status, 32))
                    .primary_key(
                        Index::create()
                            .col(CommerceQuantityHistory::TenantId)
                            .col(CommerceQuantityHistory::SubscriptionId)
                            .col(CommerceQuantityHistory::ValidFrom),
                    )
                    .foreign_key(&mut tenant_fk(
                        CommerceQuantityHistory::Table,
                        "fk_commerce_quantity_history_tenant",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(UserAllocations::Table)
                    .add_column(date_null(UserAllocations::AllocatedFrom))
                    .to_owned(),
            )
            .await?;
        // No foreign key to users or cost groups: history outlives both.
        manager
            .create_table(
                Table::create()
                    .table(AllocationHistory::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AllocationHistory::Id))
                    .col(uuid(AllocationHistory::TenantId))
                    .col(uuid(AllocationHistory::UserId))
                    .col(uuid(AllocationHistory::CostGroupId))
                    .col(date_null(AllocationHistory::ValidFrom))
                    .col(date(AllocationHistory::ValidTo))
                    .col(string_len(AllocationHistory::Percent, 16))
                    .col(string_len(AllocationHistory::Source, 16))
                    .col(uuid_null(AllocationHistory::RuleId))
                    .foreign_key(&mut tenant_fk(
                        AllocationHistory::Table,
                        "fk_allocation_history_tenant",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_allocation_history_tenant_valid_to")
                    .table(AllocationHistory::Table)
                    .col(AllocationHistory::TenantId)
                    .col(AllocationHistory::ValidTo)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_allocation_history_user")
                    .table(AllocationHistory::Table)
                    .col(AllocationHistory::UserId)
                    .col(AllocationHistory::ValidTo)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AllocationHistory::Table.into_iden(),
            CommerceQuantityHistory::Table.into_iden(),
            SkuCountHistory::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(UserAllocations::Table)
                    .drop_column(UserAllocations::AllocatedFrom)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum SkuCountHistory {
    Table,
    TenantId,
    SkuId,
    ValidFrom,
    ValidTo,
    SkuPartNumber,
    AppliesTo,
    PrepaidEnabled,
    PrepaidWarning,
    PrepaidSuspended,
    PrepaidLockedOut,
    ConsumedUnits,
    Billing,
}

#[derive(DeriveIden)]
enum CommerceQuantityHistory {
    Table,
    TenantId,
    SubscriptionId,
    ValidFrom,
    ValidTo,
    Quantity,
    Status,
}

#[derive(DeriveIden)]
enum UserAllocations {
    Table,
    AllocatedFrom,
}

#[derive(DeriveIden)]
enum AllocationHistory {
    Table,
    Id,
    TenantId,
    UserId,
    CostGroupId,
    ValidFrom,
    ValidTo,
    Percent,
    Source,
    RuleId,
}
