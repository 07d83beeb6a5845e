//! Table `users`: Entra users of each tenant, soft-deleted when gone upstream.

use sea_orm::entity::prelude::*;

/// A row of `users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub user_principal_name: String,
    pub mail: Option<String>,
    pub user_type: Option<String>,
    pub account_enabled: Option<bool>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub company_name: Option<String>,
    pub office_location: Option<String>,
    pub street_address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub preferred_language: Option<String>,
    pub usage_location: Option<String>,
    /// `{"extensionAttribute1": "…", …}` with the attributes that are set.
    pub extension_attributes: Json,
    pub manager_id: Option<Uuid>,
    /// The manager when it is an organizational contact (never set with `manager_id`).
    pub manager_contact_id: Option<Uuid>,
    pub manager_contact_name: Option<String>,
    pub manager_contact_mail: Option<String>,
    pub first_seen_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    /// The day this version took effect; null for rows stored before history began.
    pub valid_from: Option<Date>,
}

/// No relations are navigated through SeaORM; finders join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
