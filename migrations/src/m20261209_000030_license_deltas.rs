//! Creates the license day counts the monthly chargeback reads instead of joining every license
//! to its user's shares: `held_license_deltas` (per tenant, day and SKU, how many licenses
//! began minus how many ended that day) and `allocated_license_deltas` (the same for a
//! license's days with one cost group share, per cost group, SKU and percent). Every commit
//! that changes license or allocation history keeps them in its own transaction.
//!
//! Stores made before hold history without counts: every tenant is listed in
//! `license_delta_rebuilds`, and the store rebuilds the counts of each tenant listed there when
//! it opens (`store::history::license_deltas`), removing it from the list in the same
//! transaction. Also indexes `user_allocations` by the day each share took effect, and
//! `user_licenses` by user with the columns the counts read, which the counts of a day are read
//! by.

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

use crate::indexes::{IndexSpec, create, drop};
use crate::m20261126_000001_create_tenant::Tenants;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// (index, table, columns) created: the shares by the day they took effect, and the licenses
/// by user holding what the counts read of them (without it SQLite prefers the covering
/// (tenant, held_from, …) index and reads every license of the tenant for each share).
const INDEXES: [IndexSpec; 2] = [
    (
        "idx_user_allocations_tenant_allocated_from",
        "user_allocations",
        &["tenant_id", "allocated_from", "user_id"],
    ),
    (
        "idx_user_licenses_tenant_user_held",
        "user_licenses",
        &["tenant_id", "user_id", "held_from", "sku_id"],
    ),
];

/// The index the second of [`INDEXES`] replaces.
const REPLACED: IndexSpec = (
    "idx_user_licenses_tenant_user",
    "user_licenses",
    &["tenant_id", "user_id"],
);

/// A foreign key from `table.column` to the tenant, removed with it.
fn tenant_key<T: IntoIden + Copy + 'static>(table: T, column: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AllocatedLicenseDeltas as A;
        use HeldLicenseDeltas as H;
        manager
            .create_table(
                Table::create()
                    .table(H::Table)
                    .col(uuid(H::TenantId))
                    .col(date(H::Day))
                    .col(uuid(H::SkuId))
                    .col(big_integer(H::Delta))
                    .primary_key(Index::create().col(H::TenantId).col(H::Day).col(H::SkuId))
                    .foreign_key(&mut tenant_key(H::Table, H::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(uuid(A::TenantId))
                    .col(date(A::Day))
                    .col(uuid(A::CostGroupId))
                    .col(uuid(A::SkuId))
                    .col(string_len(A::Percent, 16))
                    .col(big_integer(A::Delta))
                    .primary_key(
                        Index::create()
                            .col(A::TenantId)
                            .col(A::Day)
                            .col(A::CostGroupId)
                            .col(A::SkuId)
                            .col(A::Percent),
                    )
                    .foreign_key(&mut tenant_key(A::Table, A::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LicenseDeltaRebuilds::Table)
                    .col(uuid(LicenseDeltaRebuilds::TenantId).primary_key())
                    .foreign_key(&mut tenant_key(
                        LicenseDeltaRebuilds::Table,
                        LicenseDeltaRebuilds::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        for index in INDEXES {
            create(manager, index).await?;
        }
        drop(manager, REPLACED).await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO license_delta_rebuilds (tenant_id) SELECT id FROM tenants",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, REPLACED).await?;
        for index in INDEXES {
            drop(manager, index).await?;
        }
        for table in [
            LicenseDeltaRebuilds::Table.into_iden(),
            AllocatedLicenseDeltas::Table.into_iden(),
            HeldLicenseDeltas::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum HeldLicenseDeltas {
    Table,
    TenantId,
    Day,
    SkuId,
    Delta,
}

#[derive(DeriveIden, Clone, Copy)]
enum AllocatedLicenseDeltas {
    Table,
    TenantId,
    Day,
    CostGroupId,
    SkuId,
    Percent,
    Delta,
}

#[derive(DeriveIden, Clone, Copy)]
enum LicenseDeltaRebuilds {
    Table,
    TenantId,
}
