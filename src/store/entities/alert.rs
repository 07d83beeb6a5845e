//! Table `alerts`: every alert raised, numbered in the order raised.

use sea_orm::entity::prelude::*;

/// A row of `alerts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The webhook message id.
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: String,
    /// JSON: the alert as sent.
    pub payload: String,
    /// Its webhook deliveries were created.
    pub fanned_out: bool,
    pub raised_at: DateTimeUtc,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
