//! Table `tenant_aggregates`: each tenant's user and license counts, kept by the import commit.

use sea_orm::entity::prelude::*;

/// A row of `tenant_aggregates`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_aggregates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub users: i64,
    pub members: i64,
    pub guests: i64,
    pub enabled: i64,
    pub deleted: i64,
    pub licenses: i64,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
