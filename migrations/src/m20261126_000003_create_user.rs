//! Creates `users`: a tenant's Entra users, soft-deleted when gone upstream.

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
                    .table(Users::Table)
                    .if_not_exists()
                    .col(uuid(Users::Id).primary_key())
                    .col(uuid(Users::TenantId))
                    .col(string(Users::DisplayName))
                    .col(string_null(Users::GivenName))
                    .col(string_null(Users::Surname))
                    .col(string(Users::UserPrincipalName))
                    .col(string_null(Users::Mail))
                    .col(string_null(Users::UserType))
                    .col(boolean_null(Users::AccountEnabled))
                    .col(string_null(Users::JobTitle))
                    .col(string_null(Users::Department))
                    .col(string_null(Users::CompanyName))
                    .col(string_null(Users::OfficeLocation))
                    .col(text_null(Users::StreetAddress))
                    .col(string_null(Users::City))
                    .col(string_null(Users::State))
                    .col(string_null(Users::PostalCode))
                    .col(string_null(Users::Country))
                    .col(string_null(Users::PreferredLanguage))
                    .col(string_null(Users::UsageLocation))
                    // onPremisesExtensionAttributes: an object of the attributes that are set.
                    .col(json(Users::ExtensionAttributes))
                    .col(uuid_null(Users::ManagerId))
                    .col(timestamp_with_time_zone(Users::FirstSeenAt))
                    .col(timestamp_with_time_zone(Users::LastSeenAt))
                    .col(timestamp_with_time_zone_null(Users::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_tenant")
                            .from(Users::Table, Users::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One index per sort order of `Tenant.users` (keyset pagination on value, then id), one
        // for the department filter, and one for `User.directReports` (looked up by manager).
        let indexes: [(&str, &[Users]); 4] = [
            (
                "idx_users_tenant_display_name",
                &[Users::TenantId, Users::DisplayName, Users::Id],
            ),
            (
                "idx_users_tenant_upn",
                &[Users::TenantId, Users::UserPrincipalName, Users::Id],
            ),
            (
                "idx_users_tenant_department",
                &[Users::TenantId, Users::Department, Users::Id],
            ),
            (
                "idx_users_manager",
                &[Users::ManagerId, Users::DisplayName, Users::Id],
            ),
        ];
        for (name, columns) in indexes {
            let mut index = Index::create();
            index.name(name).table(Users::Table);
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Users {
    Table,
    Id,
    TenantId,
    DisplayName,
    GivenName,
    Surname,
    UserPrincipalName,
    Mail,
    UserType,
    AccountEnabled,
    JobTitle,
    Department,
    CompanyName,
    OfficeLocation,
    StreetAddress,
    City,
    State,
    PostalCode,
    Country,
    PreferredLanguage,
    UsageLocation,
    ExtensionAttributes,
    ManagerId,
    FirstSeenAt,
    LastSeenAt,
    DeletedAt,
}
