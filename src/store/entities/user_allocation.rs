//! Table `user_allocations`: the stored evaluation, one row per user and cost group placed in.

use sea_orm::entity::prelude::*;

/// A row of `user_allocations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_allocations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub cost_group_id: Uuid,
    pub tenant_id: Uuid,
    pub percent: String,
    pub source: String,
    pub rule_id: Option<Uuid>,
    /// The day the row took effect; null for rows older than history.
    pub allocated_from: Option<Date>,
}

/// No relations are navigated through SeaORM; finders join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
