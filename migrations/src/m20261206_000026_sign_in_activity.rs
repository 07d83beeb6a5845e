//! Sign-in activity, kept apart from user versions (its dates move every day): `user_sign_ins`,
//! one row per tenant and user with Graph's three last sign-in dates as the latest import read
//! them, replaced whole by each import; and `tenant_sign_in_states`, whether the tenant's
//! last import could read sign-in activity at all, with upstream's refusal when it could not.

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
                    .table(UserSignIns::Table)
                    .if_not_exists()
                    .col(uuid(UserSignIns::TenantId))
                    .col(uuid(UserSignIns::UserId))
                    .col(timestamp_with_time_zone_null(UserSignIns::LastSignInAt))
                    .col(timestamp_with_time_zone_null(
                        UserSignIns::LastNonInteractiveSignInAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        UserSignIns::LastSuccessfulSignInAt,
                    ))
                    .col(timestamp_with_time_zone(UserSignIns::ObservedAt))
                    .primary_key(
                        Index::create()
                            .col(UserSignIns::TenantId)
                            .col(UserSignIns::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_sign_ins_tenant")
                            .from(UserSignIns::Table, UserSignIns::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantSignInStates::Table)
                    .if_not_exists()
                    .col(uuid(TenantSignInStates::TenantId).primary_key())
                    .col(boolean(TenantSignInStates::Available))
                    .col(string_null(TenantSignInStates::UpstreamCode))
                    .col(text_null(TenantSignInStates::UpstreamMessage))
                    .col(timestamp_with_time_zone(TenantSignInStates::ObservedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tenant_sign_in_states_tenant")
                            .from(TenantSignInStates::Table, TenantSignInStates::TenantId)
                            .to(Tenants::Table, Tenants::Id)
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
                    .table(TenantSignInStates::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(UserSignIns::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum UserSignIns {
    Table,
    TenantId,
    UserId,
    LastSignInAt,
    LastNonInteractiveSignInAt,
    LastSuccessfulSignInAt,
    ObservedAt,
}

#[derive(DeriveIden)]
enum TenantSignInStates {
    Table,
    TenantId,
    Available,
    UpstreamCode,
    UpstreamMessage,
    ObservedAt,
}
