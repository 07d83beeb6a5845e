//! Table `import_runs`: one import of one tenant.

use sea_orm::entity::prelude::*;

/// A row of `import_runs`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub trigger: String,
    pub mode: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub upstream_code: Option<String>,
    pub upstream_message: Option<String>,
    pub remediation: Option<String>,
    pub scheduled_for: Option<DateTimeUtc>,
    pub holder: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub duration_ms: Option<i64>,
    pub users_added: i64,
    pub users_updated: i64,
    pub users_removed: i64,
    pub users_restored: i64,
    pub licenses: i64,
    pub skus: i64,
    pub pages: i64,
    pub retries: i64,
    pub warnings: Option<String>,
    pub observed_on: Option<Date>,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
