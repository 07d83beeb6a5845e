//! Table `cost_group_budgets`: a cost group's budget for one month or from a month on.

use sea_orm::entity::prelude::*;

/// A row of `cost_group_budgets`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cost_group_budgets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub cost_group_id: Uuid,
    /// `YYYY-MM`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_month: String,
    /// For `from_month` only, rather than from it on.
    #[sea_orm(primary_key, auto_increment = false)]
    pub single_month: bool,
    /// Decimal text, as given.
    pub amount: String,
    pub currency: String,
    /// JSON array of percentages as decimal text.
    pub thresholds: String,
    pub set_by: String,
    pub set_at: DateTimeUtc,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
