//! Table `user_licenses`: SKUs assigned to users.

use sea_orm::entity::prelude::*;

/// A row of `user_licenses`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_licenses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sku_id: Uuid,
    pub tenant_id: Uuid,
    pub disabled_plans: Json,
    /// The day the holding (with these plans) took effect; null for rows older than history.
    pub held_from: Option<Date>,
}

/// The license's user, for joins from users to their licenses.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl ActiveModelBehavior for ActiveModel {}
