//! Alert retention: alerts whose webhook deliveries have all ended are removed with their
//! deliveries and attempts (the foreign keys cascade) once past their retention, a batch per
//! statement.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::alerts::DeliveryStatus;
use super::connect::Store;
use super::entities::{alert, webhook_delivery};
use super::error::StoreError;

/// What one pruning of the alerts removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertPrune {
    /// Alerts removed, across every tenant (their deliveries and attempts with them).
    pub removed: u64,
    /// `DELETE` statements run, each its own short transaction.
    pub batches: u32,
}

/// Removes the alerts raised before `cutoff` that were fanned out and have no delivery still
/// waiting for an attempt, with their deliveries and attempts, of every tenant, at most `batch`
/// alerts per statement (the oldest first); stops after a statement that removed fewer than
/// `batch`.
#[tracing::instrument(skip_all, fields(%cutoff, batch))]
pub async fn prune_alerts(
    store: &Store,
    cutoff: DateTime<Utc>,
    batch: u64,
) -> Result<AlertPrune, StoreError> {
    let batch = Ord::max(batch, 1);
    let mut prune = AlertPrune::default();
    loop {
        let waiting = Query::select()
            .expr(Expr::val(1))
            .from(webhook_delivery::Entity)
            .and_where(
                Expr::col((webhook_delivery::Entity, webhook_delivery::Column::AlertSeq))
                    .equals((alert::Entity, alert::Column::Seq)),
            )
            .and_where(
                Expr::col((webhook_delivery::Entity, webhook_delivery::Column::Status))
                    .eq(DeliveryStatus::Pending.code()),
            )
            .to_owned();
        let ended = Query::select()
            .column((alert::Entity, alert::Column::Seq))
            .from(alert::Entity)
            .and_where(Expr::col((alert::Entity, alert::Column::RaisedAt)).lt(cutoff))
            .and_where(Expr::col((alert::Entity, alert::Column::FannedOut)).eq(true))
            .and_where(Expr::exists(waiting).not())
            .order_by(alert::Column::Seq, Order::Asc)
            .limit(batch)
            .to_owned();
        let removed = alert::Entity::delete_many()
            .filter(alert::Column::Seq.in_subquery(ended))
            .exec(store.db())
            .await?
            .rows_affected;
        prune.removed += removed;
        prune.batches += 1;
        if removed < batch {
            return Ok(prune);
        }
    }
}
