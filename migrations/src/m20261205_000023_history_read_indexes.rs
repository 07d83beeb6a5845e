//! Indexes for history reads whose cost does not grow with the data:
//! - `Tenant.licenseChanges` reads each source of events (user versions in force and
//!   superseded, licenses held and ended) in (tenant, day, user, SKU) order and takes at most a
//!   page from each, instead of sorting the tenant's whole range;
//! - `Tenant.chargeback` reads licenses and allocations, current and past, a range of the
//!   tenant's user ids at a time, by (tenant, user): before, each range read the tenant's whole
//!   index (SQLite) or every tenant's users in the range.
//!
//! Indexes on (tenant) and (tenant, valid_to) become the longer ones below, which serve what
//! they did.

use sea_orm_migration::prelude::*;

use crate::indexes::{IndexSpec, create, drop};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// (index, table, columns) created by this migration.
const INDEXES: [IndexSpec; 9] = [
    (
        "idx_users_tenant_valid_from",
        "users",
        &["tenant_id", "valid_from", "id"],
    ),
    (
        "idx_user_versions_tenant_valid_from",
        "user_versions",
        &["tenant_id", "valid_from", "user_id"],
    ),
    (
        "idx_user_licenses_tenant_held_from",
        "user_licenses",
        &["tenant_id", "held_from", "user_id", "sku_id"],
    ),
    (
        "idx_license_history_tenant_valid_from",
        "license_history",
        &["tenant_id", "valid_from", "user_id", "sku_id"],
    ),
    (
        "idx_license_history_tenant_valid_to_user",
        "license_history",
        &["tenant_id", "valid_to", "user_id", "sku_id"],
    ),
    (
        "idx_user_licenses_tenant_user",
        "user_licenses",
        &["tenant_id", "user_id"],
    ),
    (
        "idx_license_history_tenant_user",
        "license_history",
        &["tenant_id", "user_id", "valid_to"],
    ),
    (
        "idx_user_allocations_tenant_user",
        "user_allocations",
        &["tenant_id", "user_id"],
    ),
    (
        "idx_allocation_history_tenant_user",
        "allocation_history",
        &["tenant_id", "user_id", "valid_to"],
    ),
];

/// The indexes this migration replaces, and their columns.
const REPLACED: [IndexSpec; 2] = [
    (
        "idx_license_history_tenant_valid_to",
        "license_history",
        &["tenant_id", "valid_to"],
    ),
    (
        "idx_user_allocations_tenant",
        "user_allocations",
        &["tenant_id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in INDEXES {
            create(manager, index).await?;
        }
        for index in REPLACED {
            drop(manager, index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in REPLACED {
            create(manager, index).await?;
        }
        for index in INDEXES {
            drop(manager, index).await?;
        }
        Ok(())
    }
}
