//! Adds the encrypted form of the rotated refresh token to `partner_credentials`: the AES-256-GCM
//! ciphertext with its tag, its nonce and the id of the key it was sealed with. Additive: the
//! plaintext column stays (SQLite can't drop its NOT NULL) but is only ever written empty now,
//! and a row still holding plaintext is encrypted by the first read that has a key.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER TABLE: SQLite takes no more.
        for column in [
            binary_null(PartnerCredentials::TokenCiphertext),
            binary_null(PartnerCredentials::TokenNonce),
            string_len_null(PartnerCredentials::KeyId, 16),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PartnerCredentials::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            PartnerCredentials::KeyId,
            PartnerCredentials::TokenNonce,
            PartnerCredentials::TokenCiphertext,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PartnerCredentials::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum PartnerCredentials {
    Table,
    TokenCiphertext,
    TokenNonce,
    KeyId,
}
