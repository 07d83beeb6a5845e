//! Table `tenant_import_states`: a tenant's delta link, who holds its import lease, and the
//! newest date an import of it observed.

use sea_orm::entity::prelude::*;

/// A row of `tenant_import_states`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_import_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub delta_link: Option<String>,
    pub delta_link_at: Option<DateTimeUtc>,
    pub lease_holder: Option<String>,
    pub lease_run_id: Option<Uuid>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    pub initial_delta_next: bool,
    pub last_observed_on: Option<Date>,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
