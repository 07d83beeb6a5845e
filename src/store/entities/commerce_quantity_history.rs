//! Table `commerce_quantity_history`: a commerce subscription's quantity and status over
//! intervals of days `[valid_from, valid_to)`; `valid_to` null while in force.

use sea_orm::entity::prelude::*;

/// A row of `commerce_quantity_history`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commerce_quantity_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub subscription_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub valid_from: Date,
    pub valid_to: Option<Date>,
    pub quantity: i64,
    pub status: String,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
