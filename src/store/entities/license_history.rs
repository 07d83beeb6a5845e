//! Table `license_history`: license holdings an import removed or changed, each with the days
//! `[valid_from, valid_to)` it was held (`valid_from` null: since before history began). The
//! holdings in force are those of `user_licenses`.

use sea_orm::entity::prelude::*;

/// A row of `license_history`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub sku_id: Uuid,
    pub disabled_plans: Json,
    pub valid_from: Option<Date>,
    pub valid_to: Date,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
