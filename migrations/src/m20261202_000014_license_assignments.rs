//! Creates `user_license_assignments`: how each license of a user is assigned (Graph's
//! `licenseAssignmentStates`), directly or by a group, failed assignments included. Drops the
//! stored delta links: they were taken with a `$select` that lacks `licenseAssignmentStates`,
//! so each tenant's next run lists its users in full and takes a link that carries it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000003_create_user::Users;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserLicenseAssignments::Table)
                    .if_not_exists()
                    .col(uuid(UserLicenseAssignments::UserId))
                    // The entry's place in the user's `licenseAssignmentStates`: a user can be
                    // assigned one SKU directly and by several groups, so neither the SKU nor
                    // the (nullable) group is a key.
                    .col(integer(UserLicenseAssignments::Position))
                    .col(uuid(UserLicenseAssignments::TenantId))
                    .col(uuid(UserLicenseAssignments::SkuId))
                    // Null: assigned directly.
                    .col(uuid_null(UserLicenseAssignments::AssignedByGroup))
                    .col(string(UserLicenseAssignments::State))
                    // Null when Graph said `None`.
                    .col(string_null(UserLicenseAssignments::Error))
                    // State `Error` or `ActiveWithError`, or an error named (the `licenseError`
                    // filter); decided by the domain when the row is written.
                    .col(boolean(UserLicenseAssignments::InError))
                    .col(json(UserLicenseAssignments::DisabledPlans))
                    .col(timestamp_with_time_zone_null(
                        UserLicenseAssignments::LastUpdated,
                    ))
                    .primary_key(
                        Index::create()
                            .col(UserLicenseAssignments::UserId)
                            .col(UserLicenseAssignments::Position),
                    )
                    // No foreign key to `subscriptions`: a failed assignment can name a SKU the
                    // tenant no longer subscribes to, and it is still worth showing.
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_license_assignments_user")
                            .from(
                                UserLicenseAssignments::Table,
                                UserLicenseAssignments::UserId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The `licenseError` user filter: the few users with an assignment in error, by user.
        manager
            .create_index(
                Index::create()
                    .name("idx_user_license_assignments_in_error_user")
                    .table(UserLicenseAssignments::Table)
                    .col(UserLicenseAssignments::InError)
                    .col(UserLicenseAssignments::UserId)
                    .to_owned(),
            )
            .await?;
        // The `onlyThroughGroup` user filter looks a user's assignments of one SKU up, direct
        // (group null) or not.
        manager
            .create_index(
                Index::create()
                    .name("idx_user_license_assignments_user_sku_group")
                    .table(UserLicenseAssignments::Table)
                    .col(UserLicenseAssignments::UserId)
                    .col(UserLicenseAssignments::SkuId)
                    .col(UserLicenseAssignments::AssignedByGroup)
                    .to_owned(),
            )
            .await?;
        let forget_links = Query::update()
            .table(TenantImportStates::Table)
            .value(TenantImportStates::DeltaLink, Expr::null())
            .value(TenantImportStates::DeltaLinkAt, Expr::null())
            .to_owned();
        manager.exec_stmt(forget_links).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(UserLicenseAssignments::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum UserLicenseAssignments {
    Table,
    UserId,
    Position,
    TenantId,
    SkuId,
    AssignedByGroup,
    State,
    Error,
    InError,
    DisabledPlans,
    LastUpdated,
}

#[derive(DeriveIden)]
enum TenantImportStates {
    Table,
    DeltaLink,
    DeltaLinkAt,
}
