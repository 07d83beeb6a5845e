//! Schema migrations of tenantgraph's store, written with SeaORM's schema builder so that the same
//! files run on SQLite and PostgreSQL. Depends on nothing of the `tenantgraph` package.
#![expect(
    elided_lifetimes_in_paths,
    reason = "MigrationTrait (async_trait) declares `&SchemaManager` with its lifetime elided"
)]

pub use sea_orm_migration::prelude::*;

mod indexes;
mod m20261126_000001_create_tenant;
mod m20261126_000002_create_subscription;
mod m20261126_000003_create_user;
mod m20261126_000004_create_user_license;
mod m20261126_000005_create_cost_group;
mod m20261127_000006_create_import_run;
mod m20261127_000007_create_import_state;
mod m20261127_000008_index_user_licenses_by_tenant;
mod m20261127_000009_create_allocation;
mod m20261128_000010_index_audit_log_at;
mod m20261128_000011_encrypt_partner_credentials;
mod m20261202_000012_import_warnings;
mod m20261202_000013_commerce_subscriptions;
mod m20261202_000014_license_assignments;
mod m20261202_000015_unknown_skus_manager_contacts;
mod m20261202_000016_import_observed_dates;
mod m20261202_000017_sku_and_allocation_history;
mod m20261202_000018_license_history;
mod m20261203_000019_license_assignments_by_tenant;
mod m20261203_000020_user_versions;
mod m20261203_000021_chargeback;
mod m20261204_000022_allocation_configurations;
mod m20261205_000023_history_read_indexes;
mod m20261206_000024_rule_diagnostics;
mod m20261206_000025_tenant_aggregates;
mod m20261206_000026_sign_in_activity;
mod m20261207_000027_rule_targets;
mod m20261207_000028_cost_group_budgets;
mod m20261208_000029_alerts;
mod m20261209_000030_license_deltas;

/// Every migration of the store, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_tenant::Migration),
            Box::new(m20261126_000002_create_subscription::Migration),
            Box::new(m20261126_000003_create_user::Migration),
            Box::new(m20261126_000004_create_user_license::Migration),
            Box::new(m20261126_000005_create_cost_group::Migration),
            Box::new(m20261127_000006_create_import_run::Migration),
            Box::new(m20261127_000007_create_import_state::Migration),
            Box::new(m20261127_000008_index_user_licenses_by_tenant::Migration),
            Box::new(m20261127_000009_create_allocation::Migration),
            Box::new(m20261128_000010_index_audit_log_at::Migration),
            Box::new(m20261128_000011_encrypt_partner_credentials::Migration),
            Box::new(m20261202_000012_import_warnings::Migration),
            Box::new(m20261202_000013_commerce_subscriptions::Migration),
            Box::new(m20261202_000014_license_assignments::Migration),
            Box::new(m20261202_000015_unknown_skus_manager_contacts::Migration),
            Box::new(m20261202_000016_import_observed_dates::Migration),
            Box::new(m20261202_000017_sku_and_allocation_history::Migration),
            Box::new(m20261202_000018_license_history::Migration),
            Box::new(m20261203_000019_license_assignments_by_tenant::Migration),
            Box::new(m20261203_000020_user_versions::Migration),
            Box::new(m20261203_000021_chargeback::Migration),
            Box::new(m20261204_000022_allocation_configurations::Migration),
            Box::new(m20261205_000023_history_read_indexes::Migration),
            Box::new(m20261206_000024_rule_diagnostics::Migration),
            Box::new(m20261206_000025_tenant_aggregates::Migration),
            Box::new(m20261206_000026_sign_in_activity::Migration),
            Box::new(m20261207_000027_rule_targets::Migration),
            Box::new(m20261207_000028_cost_group_budgets::Migration),
            Box::new(m20261208_000029_alerts::Migration),
            Box::new(m20261209_000030_license_deltas::Migration),
        ]
    }
}
