//! User versions: `users.valid_from` (the day the stored version took effect; null for rows older
//! than history) and `user_versions`, every version an import superseded, with the days
//! `[valid_from, valid_to)` it was in force and whether the user was deleted upstream in it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_tenant::Tenants;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(date_null(Users::ValidFrom))
                    .to_owned(),
            )
            .await?;
        // The columns of `users` (migrations 3 and 15) but the id; no foreign key to users:
        // history outlives them.
        manager
            .create_table(
                Table::create()
                    .table(UserVersions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(UserVersions::Id))
                    .col(uuid(UserVersions::TenantId))
                    .col(uuid(UserVersions::UserId))
                    .col(string(UserVersions::DisplayName))
                    .col(string_null(UserVersions::GivenName))
                    .col(string_null(UserVersions::Surname))
                    .col(string(UserVersions::UserPrincipalName))
                    .col(string_null(UserVersions::Mail))
                    .col(string_null(UserVersions::UserType))
                    .col(boolean_null(UserVersions::AccountEnabled))
                    .col(string_null(UserVersions::JobTitle))
                    .col(string_null(UserVersions::Department))
                    .col(string_null(UserVersions::CompanyName))
                    .col(string_null(UserVersions::OfficeLocation))
                    .col(text_null(UserVersions::StreetAddress))
                    .col(string_null(UserVersions::City))
                    .col(string_null(UserVersions::State))
                    .col(string_null(UserVersions::PostalCode))
                    .col(string_null(UserVersions::Country))
                    .col(string_null(UserVersions::PreferredLanguage))
                    .col(string_null(UserVersions::UsageLocation))
                    .col(json(UserVersions::ExtensionAttributes))
                    .col(uuid_null(UserVersions::ManagerId))
                    .col(uuid_null(UserVersions::ManagerContactId))
                    .col(string_null(UserVersions::ManagerContactName))
                    .col(string_null(UserVersions::ManagerContactMail))
                    .col(timestamp_with_time_zone(UserVersions::FirstSeenAt))
                    .col(timestamp_with_time_zone(UserVersions::LastSeenAt))
                    .col(timestamp_with_time_zone_null(UserVersions::DeletedAt))
                    .col(date_null(UserVersions::ValidFrom))
                    .col(date(UserVersions::ValidTo))
                    .col(boolean(UserVersions::Deleted))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_versions_tenant")
                            .from(UserVersions::Table, UserVersions::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // `User.history` reads a user's versions; `Tenant.users(asOf)` and
        // `Tenant.licenseChanges` a tenant's versions that ended after a date.
        for (name, first) in [
            ("idx_user_versions_user_valid_to", UserVersions::UserId),
            ("idx_user_versions_tenant_valid_to", UserVersions::TenantId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(UserVersions::Table)
                        .col(first)
                        .col(UserVersions::ValidTo)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(UserVersions::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::ValidFrom)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    ValidFrom,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserVersions {
    Table,
    Id,
    TenantId,
    UserId,
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
    ManagerContactId,
    ManagerContactName,
    ManagerContactMail,
    FirstSeenAt,
    LastSeenAt,
    DeletedAt,
    ValidFrom,
    ValidTo,
    Deleted,
}
