//! Table `allocation_configurations`: a tenant's allocation rules and overrides (JSON) in force
//! from `effective_from` on; `promoted` once the tables read today hold it (false only for a
//! configuration scheduled for a day not yet reached).

use sea_orm::entity::prelude::*;

/// A row of `allocation_configurations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "allocation_configurations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub effective_from: Date,
    pub configuration: Json,
    pub promoted: bool,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
