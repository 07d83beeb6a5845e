//! Table `license_prices`: monthly unit prices per tenant and SKU, each in force from a date.

use sea_orm::entity::prelude::*;

/// A row of `license_prices`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_prices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub sku_id: Uuid,
    pub effective_from: Date,
    pub monthly_unit_price: String,
    pub currency: String,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through SeaORM; finders join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
