//! Two importer edge cases: `subscriptions.unknown` marks a placeholder SKU that users hold
//! licenses of but no `subscribedSkus` answer listed; `users.manager_contact_*` keep a manager
//! that is an organizational contact (its id, and its name and mail when a listing gave them).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .add_column(boolean(Subscriptions::Unknown).default(false))
                    .to_owned(),
            )
            .await?;
        // One column per ALTER TABLE: SQLite takes no more.
        let columns = [
            uuid_null(Users::ManagerContactId),
            string_null(Users::ManagerContactName),
            string_null(Users::ManagerContactMail),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Users::ManagerContactMail,
            Users::ManagerContactName,
            Users::ManagerContactId,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .drop_column(Subscriptions::Unknown)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Unknown,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    ManagerContactId,
    ManagerContactName,
    ManagerContactMail,
}
