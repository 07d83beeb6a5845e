//! Table `service_plans`: the plans of each subscribed SKU.

use sea_orm::entity::prelude::*;

/// A row of `service_plans`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sku_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub service_plan_id: Uuid,
    pub name: String,
    pub provisioning_status: String,
    pub applies_to: String,
}

/// No relations are navigated through SeaORM; finders join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
