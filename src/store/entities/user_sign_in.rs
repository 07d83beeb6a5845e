//! Table `user_sign_ins`: each user's last sign-in dates as the tenant's latest import read them.

use sea_orm::entity::prelude::*;

/// A row of `user_sign_ins`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_sign_ins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub last_sign_in_at: Option<DateTimeUtc>,
    pub last_non_interactive_sign_in_at: Option<DateTimeUtc>,
    pub last_successful_sign_in_at: Option<DateTimeUtc>,
    pub observed_at: DateTimeUtc,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
