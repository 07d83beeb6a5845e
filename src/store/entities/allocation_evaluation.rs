//! Table `allocation_evaluations`: when each tenant was last evaluated, the tally its cost reports read
//! and the counts behind its rule diagnostics.

use sea_orm::entity::prelude::*;

/// A row of `allocation_evaluations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "allocation_evaluations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub evaluated_at: DateTimeUtc,
    pub tally: Json,
    /// The rule diagnostics' counts; null for a tenant not evaluated since they were added.
    pub diagnostics: Option<Json>,
}

/// No relations are navigated through SeaORM; finders join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
