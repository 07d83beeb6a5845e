//! Table `tenant_sku_aggregates`: per tenant and SKU, the present users holding a license of it,
//! kept by the import commit.

use sea_orm::entity::prelude::*;

/// A row of `tenant_sku_aggregates`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_sku_aggregates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sku_id: Uuid,
    pub holders: i64,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
