//! Table `tenant_sign_in_states`: whether a tenant's latest import could read sign-in activity.

use sea_orm::entity::prelude::*;

/// A row of `tenant_sign_in_states`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_sign_in_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub available: bool,
    pub upstream_code: Option<String>,
    pub upstream_message: Option<String>,
    pub observed_at: DateTimeUtc,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
