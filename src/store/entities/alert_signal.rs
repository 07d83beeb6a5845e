//! Table `alert_signals`: per tenant, whether each signal an evaluation watches was last seen
//! raised (and, for the waste total, the baseline growth is measured from).

use sea_orm::entity::prelude::*;

/// A row of `alert_signals`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_signals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// What is watched, e.g. `budget:<group>:<month>:forecast:80`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub signal: String,
    pub raised: bool,
    /// Decimal text: the waste total growth is measured from.
    pub baseline: Option<String>,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
