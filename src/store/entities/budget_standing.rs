//! Table `budget_standings`: each budgeted cost group's latest evaluation.

use sea_orm::entity::prelude::*;

/// A row of `budget_standings`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "budget_standings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub cost_group_id: Uuid,
    /// `YYYY-MM`.
    pub month: String,
    /// Decimal text.
    pub amount: String,
    /// Decimal text.
    pub actual: String,
    /// Decimal text.
    pub forecast: String,
    pub currency: String,
    /// `UNDER`, `AT_RISK` or `OVER`.
    pub status: String,
    pub evaluated_at: DateTimeUtc,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
