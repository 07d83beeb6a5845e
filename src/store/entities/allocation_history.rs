//! Table `allocation_history`: allocation rows a re-evaluation replaced, each with the days
//! `[valid_from, valid_to)` it was in force (`valid_from` null: since before history began).
//! The rows in force are those of `user_allocations`.

use sea_orm::entity::prelude::*;

/// A row of `allocation_history`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "allocation_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub cost_group_id: Uuid,
    pub valid_from: Option<Date>,
    pub valid_to: Date,
    pub percent: String,
    pub source: String,
    pub rule_id: Option<Uuid>,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
