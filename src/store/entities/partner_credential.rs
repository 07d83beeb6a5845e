//! Table `partner_credentials`: the newest refresh token of the importer's app, per client id.

use sea_orm::entity::prelude::*;

/// A row of `partner_credentials`. `refresh_token` is a secret: never log a model.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_credentials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    pub refresh_token: String,
    pub configured_fingerprint: String,
    pub rotated_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("partner_credential::Model")
            .field("client_id", &self.client_id)
            .field("refresh_token", &"[redacted]")
            .field("rotated_at", &self.rotated_at)
            .finish()
    }
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
