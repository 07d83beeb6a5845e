//! Table `partner_credentials`: the newest refresh token of the importer's app, per client id,
//! encrypted (see `store::secrets`).

use sea_orm::entity::prelude::*;

/// A row of `partner_credentials`. The token is sealed with the client id as associated data.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_credentials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// The plaintext token of rows written before encryption; written empty since.
    pub refresh_token: String,
    pub configured_fingerprint: String,
    pub rotated_at: DateTimeUtc,
    /// AES-256-GCM ciphertext of the token, tag appended.
    pub token_ciphertext: Option<Vec<u8>>,
    /// The nonce of `token_ciphertext`.
    pub token_nonce: Option<Vec<u8>>,
    /// Id of the key that sealed `token_ciphertext`.
    pub key_id: Option<String>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("partner_credential::Model")
            .field("client_id", &self.client_id)
            .field("refresh_token", &"[redacted]")
            .field("rotated_at", &self.rotated_at)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
