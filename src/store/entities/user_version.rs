//! Table `user_versions`: versions of users an import superseded, each with the days
//! `[valid_from, valid_to)` it was in force (`valid_from` null: since before history began). The
//! version in force is the `users` row.

use sea_orm::entity::prelude::*;

/// A row of `user_versions`: the columns of `users` as they were, but the id (`user_id`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
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
    pub extension_attributes: Json,
    pub manager_id: Option<Uuid>,
    pub manager_contact_id: Option<Uuid>,
    pub manager_contact_name: Option<String>,
    pub manager_contact_mail: Option<String>,
    pub first_seen_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub valid_from: Option<Date>,
    pub valid_to: Date,
    /// Whether the user was gone upstream in this version.
    pub deleted: bool,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
