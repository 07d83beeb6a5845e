//! Table `user_license_assignments`: how each license of a user is assigned (directly or by a
//! group), failed assignments included.

use sea_orm::entity::prelude::*;

/// A row of `user_license_assignments`, keyed by tenant, user and position (a tenant's rows are
/// neighbours in every index).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_license_assignments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// The entry's place in the user's `licenseAssignmentStates`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i32,
    pub sku_id: Uuid,
    /// Null: assigned directly.
    pub assigned_by_group: Option<Uuid>,
    pub state: String,
    pub error: Option<String>,
    pub in_error: bool,
    pub disabled_plans: Json,
    pub last_updated: Option<DateTimeUtc>,
}

/// No relations are navigated through SeaORM; finders join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
