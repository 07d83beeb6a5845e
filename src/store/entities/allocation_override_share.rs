//! Table `allocation_override_shares`: the percentage of an overridden user going to one cost group.

use sea_orm::entity::prelude::*;

/// A row of `allocation_override_shares`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "allocation_override_shares")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub cost_group_id: Uuid,
    pub tenant_id: Uuid,
    pub percent: String,
}

/// No relations are navigated through SeaORM; finders join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
