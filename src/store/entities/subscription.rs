//! Table `subscriptions`: a tenant's subscribed SKUs.

use sea_orm::entity::prelude::*;

/// A row of `subscriptions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sku_id: Uuid,
    pub sku_part_number: String,
    pub capability_status: String,
    pub applies_to: String,
    pub prepaid_enabled: i64,
    pub prepaid_warning: i64,
    pub prepaid_suspended: i64,
    pub prepaid_locked_out: i64,
    pub consumed_units: i64,
    pub subscription_ids: Json,
    pub updated_at: DateTimeUtc,
    /// How the importer classified it.
    pub billing_detected: String,
    /// How it is billed: `billing_detected` unless staff overrode it.
    pub billing: String,
    /// A placeholder for a SKU users hold but `subscribedSkus` did not list.
    pub unknown: bool,
}

/// No relations are navigated through SeaORM; finders join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
