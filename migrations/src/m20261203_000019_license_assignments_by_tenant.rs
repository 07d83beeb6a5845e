//! Re-creates `user_license_assignments` keyed by tenant first: `(tenant_id, user_id, position)`
//! instead of `(user_id, position)`, and replaces its two secondary indexes by one partial index
//! of the rows in error. With random user ids leading every index, each tenant's import commit
//! wrote into pages spread over the whole table (benches/README.md: the 100 × 1,000-user import
//! lost a third of its throughput, most of it here); keyed by tenant, a tenant's rows are
//! neighbours. On SQLite the table is `WITHOUT ROWID`. The rows are copied as they are.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000003_create_user::Users;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on every backend: the copy, the drop and the rename are seen by one
    /// connection (on SQLite, one of a pool's connections could still see the old table under
    /// the new name) and a failure leaves the table as it was.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, Key::TenantFirst).await?;
        // The `licenseError` filter reads the few rows in error of one tenant.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX idx_user_license_assignments_tenant_in_error \
                 ON {TABLE} (tenant_id, user_id) WHERE in_error = TRUE"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, Key::UserFirst).await?;
        for (name, columns) in [
            (
                "idx_user_license_assignments_in_error_user",
                "in_error, user_id",
            ),
            (
                "idx_user_license_assignments_user_sku_group",
                "user_id, sku_id, assigned_by_group",
            ),
        ] {
            manager
                .get_connection()
                .execute_unprepared(&format!("CREATE INDEX {name} ON {TABLE} ({columns})"))
                .await?;
        }
        Ok(())
    }
}

/// The primary key of the table: migration 14's, or this migration's.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    UserFirst,
    TenantFirst,
}

/// Copies the table into a new one keyed by `key` (its indexes go with the old table), then
/// puts the copy in its place.
async fn rebuild(manager: &SchemaManager<'_>, key: Key) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    let mut create = table(Alias::new(NEW), key);
    if backend == DbBackend::Sqlite && key == Key::TenantFirst {
        // The rows live in the primary key's b-tree: one insert per row, not two (a rowid
        // table and the key's index).
        create.extra("WITHOUT ROWID");
    }
    manager.create_table(create).await?;
    let columns = COLUMNS.join(", ");
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "INSERT INTO {NEW} ({columns}) SELECT {columns} FROM {TABLE}"
    ))
    .await?;
    manager
        .drop_table(Table::drop().table(Alias::new(TABLE)).to_owned())
        .await?;
    manager
        .rename_table(
            Table::rename()
                .table(Alias::new(NEW), Alias::new(TABLE))
                .to_owned(),
        )
        .await?;
    if backend == DbBackend::Postgres {
        db.execute_unprepared(&format!("ALTER INDEX {NEW}_pkey RENAME TO {TABLE}_pkey"))
            .await?;
    }
    Ok(())
}

const TABLE: &str = "user_license_assignments";
const NEW: &str = "user_license_assignments_by_tenant";
const COLUMNS: [&str; 10] = [
    "user_id",
    "position",
    "tenant_id",
    "sku_id",
    "assigned_by_group",
    "state",
    "error",
    "in_error",
    "disabled_plans",
    "last_updated",
];

/// The table as migration 14 made it, keyed by `key`.
fn table(name: Alias, key: Key) -> TableCreateStatement {
    let mut primary_key = Index::create();
    if key == Key::TenantFirst {
        primary_key.col(Assignments::TenantId);
    }
    primary_key
        .col(Assignments::UserId)
        .col(Assignments::Position);
    Table::create()
        .table(name.clone())
        .col(uuid(Assignments::UserId))
        .col(integer(Assignments::Position))
        .col(uuid(Assignments::TenantId))
        .col(uuid(Assignments::SkuId))
        .col(uuid_null(Assignments::AssignedByGroup))
        .col(string(Assignments::State))
        .col(string_null(Assignments::Error))
        .col(boolean(Assignments::InError))
        .col(json(Assignments::DisabledPlans))
        .col(timestamp_with_time_zone_null(Assignments::LastUpdated))
        .primary_key(&mut primary_key)
        .foreign_key(
            ForeignKey::create()
                .name("fk_user_license_assignments_user")
                .from(name, Assignments::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum Assignments {
    UserId,
    Position,
    TenantId,
    SkuId,
    AssignedByGroup,
    State,
    Error,
    InError,
    DisabledPlans,
    LastUpdated,
}
