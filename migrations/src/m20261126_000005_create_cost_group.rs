//! Creates `cost_groups`: a tenant's business units, a tree through `parent_id`.

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
                    .table(CostGroups::Table)
                    .if_not_exists()
                    .col(uuid(CostGroups::Id).primary_key())
                    .col(uuid(CostGroups::TenantId))
                    .col(uuid_null(CostGroups::ParentId))
                    .col(string(CostGroups::Name))
                    .col(string_null(CostGroups::Code))
                    .col(text_null(CostGroups::Description))
                    .col(timestamp_with_time_zone(CostGroups::CreatedAt))
                    .col(timestamp_with_time_zone(CostGroups::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_groups_tenant")
                            .from(CostGroups::Table, CostGroups::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cost_groups_parent")
                            .from(CostGroups::Table, CostGroups::ParentId)
                            .to(CostGroups::Table, CostGroups::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // `Tenant.costGroups`.
        manager
            .create_index(
                Index::create()
                    .name("idx_cost_groups_tenant_name")
                    .table(CostGroups::Table)
                    .col(CostGroups::TenantId)
                    .col(CostGroups::Name)
                    .to_owned(),
            )
            .await?;
        // `CostGroup.children`.
        manager
            .create_index(
                Index::create()
                    .name("idx_cost_groups_parent")
                    .table(CostGroups::Table)
                    .col(CostGroups::ParentId)
                    .to_owned(),
            )
            .await?;
        // A code, when given, names one group of the tenant (NULLs are distinct on both backends).
        manager
            .create_index(
                Index::create()
                    .name("idx_cost_groups_tenant_code")
                    .table(CostGroups::Table)
                    .col(CostGroups::TenantId)
                    .col(CostGroups::Code)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CostGroups::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum CostGroups {
    Table,
    Id,
    TenantId,
    ParentId,
    Name,
    Code,
    Description,
    CreatedAt,
    UpdatedAt,
}
