//! Table `sku_count_history`: a tenant SKU's counts and billing over intervals of days
//! `[valid_from, valid_to)`; `valid_to` null while in force.

use sea_orm::entity::prelude::*;

/// A row of `sku_count_history`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sku_count_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sku_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub valid_from: Date,
    pub valid_to: Option<Date>,
    pub sku_part_number: String,
    pub applies_to: String,
    pub prepaid_enabled: i64,
    pub prepaid_warning: i64,
    pub prepaid_suspended: i64,
    pub prepaid_locked_out: i64,
    pub consumed_units: i64,
    pub billing: String,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
