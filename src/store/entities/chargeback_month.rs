//! Table `chargeback_months`: the closed months of each tenant, with their stored lines.

use sea_orm::entity::prelude::*;

/// A row of `chargeback_months`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "chargeback_months")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// `YYYY-MM`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    pub currency: Option<String>,
    pub first_day: Option<Date>,
    pub last_day: Option<Date>,
    /// The own lines of every cost group, `unallocated` and `unassigned`.
    pub lines: Json,
    pub closed_at: DateTimeUtc,
    pub closed_by: String,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
