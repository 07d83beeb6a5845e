//! History, kept as intervals of days at every commit that changes what it covers: SKU counts
//! ([`sku_counts`]), commerce subscription quantities ([`commerce_quantities`]), license
//! holdings ([`licenses`]), allocation results ([`allocations`]) and user versions
//! ([`user_versions`]; read as events by [`license_changes`]), and the license day counts the
//! chargeback is billed from ([`license_deltas`]). Each write runs inside the
//! transaction of the change it records; [`retention`] removes what ended long ago.

pub mod allocations;
pub mod commerce_quantities;
pub mod license_changes;
pub mod license_deltas;
pub mod licenses;
pub mod retention;
pub mod sku_counts;
pub mod user_versions;

tokio::task_local! {
    /// The date staff changes made inside [`dated`] take effect on.
    static STAFF_CHANGES_ON: chrono::NaiveDate;
}

/// The UTC date a staff change takes effect on (allocation and billing changes are dated by
/// when they commit, or by [`dated`]; imports by the date they observed).
pub(crate) fn today() -> chrono::NaiveDate {
    STAFF_CHANGES_ON
        .try_with(|day| *day)
        .unwrap_or_else(|_| super::transaction::stored_now().date_naive())
}

/// Runs `writes` (staff changes: cost groups, rules, overrides, prices) with their effect dated
/// `day` rather than today, for data set up as of a past import, such as `serve --demo`'s
/// sample allocation on its first import day. The audit log still records when they were made.
pub async fn dated<F: std::future::Future>(day: chrono::NaiveDate, writes: F) -> F::Output {
    STAFF_CHANGES_ON.scope(day, writes).await
}

/// The columns of a history table kept as intervals per tenant and key.
pub(crate) struct IntervalColumns<C> {
    /// The tenant.
    pub tenant: C,
    /// What the intervals are of (a SKU, a subscription).
    pub key: C,
    /// First day.
    pub from: C,
    /// Day after the last; null while in force.
    pub to: C,
}

/// Ends the intervals in force of `close` on `on`, and deletes those of `remove` that began on
/// `on` (they lasted no day), in `E`'s table of `tenant_id`.
pub(crate) async fn end_intervals<E, K, D>(
    db: &D,
    columns: &IntervalColumns<E::Column>,
    tenant_id: crate::domain::TenantId,
    on: chrono::NaiveDate,
    close: Vec<K>,
    remove: Vec<K>,
) -> Result<(), super::StoreError>
where
    E: sea_orm::EntityTrait,
    K: Into<sea_orm::Value>,
    D: sea_orm::ConnectionTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
    if !close.is_empty() {
        E::update_many()
            .col_expr(columns.to, Expr::value(on))
            .filter(columns.tenant.eq(tenant_id.uuid()))
            .filter(columns.to.is_null())
            .filter(columns.key.is_in(close))
            .exec(db)
            .await?;
    }
    if !remove.is_empty() {
        E::delete_many()
            .filter(columns.tenant.eq(tenant_id.uuid()))
            .filter(columns.from.eq(on))
            .filter(columns.key.is_in(remove))
            .exec(db)
            .await?;
    }
    Ok(())
}
