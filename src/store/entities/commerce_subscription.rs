//! Table `commerce_subscriptions`: a customer's Partner Center subscriptions.

use sea_orm::entity::prelude::*;

/// A row of `commerce_subscriptions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commerce_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub offer_id: String,
    pub offer_name: String,
    pub friendly_name: Option<String>,
    pub quantity: i64,
    pub unit_type: Option<String>,
    pub status: String,
    pub billing_cycle: Option<String>,
    pub term_duration: Option<String>,
    pub start_date: Option<DateTimeUtc>,
    pub commitment_end_date: Option<DateTimeUtc>,
    pub auto_renew: bool,
    pub is_trial: bool,
    pub billing_type: Option<String>,
    pub parent_subscription_id: Option<String>,
    pub sku_id: Option<Uuid>,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
