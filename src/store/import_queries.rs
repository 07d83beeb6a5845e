//! Read queries over import runs for the API: the newest run and the newest successful run of
//! many tenants in one statement. Writes stay in `import_runs`.

use std::collections::HashMap;

use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Order, OverStatement, Query, WindowStatement,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryTrait,
};

use super::connect::Store;
use super::entities::{import_run, partner_credential, tenant};
use super::error::StoreError;
use super::import_runs::to_domain;
use crate::domain::{ImportRun, RunStatus, TenantId};

/// A tenant's newest run and newest successful run (the same run when the newest succeeded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantRuns {
    /// The newest run, whatever its status.
    pub last_run: Option<ImportRun>,
    /// The newest run that succeeded.
    pub last_success: Option<ImportRun>,
}

/// The newest run and newest successful run of each of `tenant_ids`, in one SQL statement.
///
/// Runs are numbered per tenant (newest first, ties by id) once over all runs and once per
/// tenant and status; the rows kept are each tenant's first run and its first successful run.
/// Every tenant of `tenant_ids` is in the answer, with empty runs when it has none.
pub async fn latest_runs_of_tenants(
    store: &Store,
    tenant_ids: &[TenantId],
) -> Result<HashMap<TenantId, TenantRuns>, StoreError> {
    let mut out: HashMap<TenantId, TenantRuns> = tenant_ids
        .iter()
        .map(|id| (*id, TenantRuns::default()))
        .collect();
    if tenant_ids.is_empty() {
        return Ok(out);
    }
    let newest_first = |partition: &[import_run::Column]| {
        let mut window = WindowStatement::new();
        for col in partition {
            window.add_partition_by(Expr::col((import_run::Entity, *col)));
        }
        window.order_by(
            (import_run::Entity, import_run::Column::StartedAt),
            Order::Desc,
        );
        window.order_by((import_run::Entity, import_run::Column::Id), Order::Desc);
        window
    };
    let mut inner = import_run::Entity::find()
        .filter(import_run::Column::TenantId.is_in(tenant_ids.iter().map(|id| id.uuid())))
        .into_query();
    inner.expr_window_as(
        Expr::cust("ROW_NUMBER()"),
        newest_first(&[import_run::Column::TenantId]),
        Alias::new("newest_of_tenant"),
    );
    inner.expr_window_as(
        Expr::cust("ROW_NUMBER()"),
        newest_first(&[import_run::Column::TenantId, import_run::Column::Status]),
        Alias::new("newest_of_status"),
    );
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("numbered"))
        .cond_where(
            Expr::col(Alias::new("newest_of_tenant"))
                .eq(1)
                .or(Expr::col(Alias::new("newest_of_status"))
                    .eq(1)
                    .and(Expr::col(Alias::new("status")).eq(RunStatus::Succeeded.as_str()))),
        )
        .to_owned();
    for row in store.db().query_all(&outer).await? {
        let newest: i64 = row.try_get("", "newest_of_tenant")?;
        let run = to_domain(import_run::Model::from_query_result(&row, "")?)?;
        let slot = out.entry(run.tenant_id).or_default();
        if run.status == RunStatus::Succeeded {
            slot.last_success = Some(run.clone());
        }
        if newest == 1 {
            slot.last_run = Some(run);
        }
    }
    Ok(out)
}

/// Every tenant's newest run and newest successful run, for the import health metrics.
pub async fn import_health(store: &Store) -> Result<Vec<(TenantId, TenantRuns)>, StoreError> {
    let ids: Vec<TenantId> = tenant::Entity::find()
        .all(store.db())
        .await?
        .into_iter()
        .map(|t| TenantId(t.id))
        .collect();
    let mut runs: Vec<(TenantId, TenantRuns)> = latest_runs_of_tenants(store, &ids)
        .await?
        .into_iter()
        .collect();
    runs.sort_by_key(|(id, _)| id.uuid());
    Ok(runs)
}

/// When each client id's stored refresh token was last rotated (issued to the importer).
pub async fn refresh_tokens_rotated_at(
    store: &Store,
) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>, StoreError> {
    Ok(partner_credential::Entity::find()
        .all(store.db())
        .await?
        .into_iter()
        .map(|row| (row.client_id, row.rotated_at))
        .collect())
}
