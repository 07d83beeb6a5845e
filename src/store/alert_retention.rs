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
use super::retention::Pruned;

/// Removes the alerts raised before `cutoff` that were fanned out and have no delivery still
/// waiting for an attempt, with their deliveries and attempts, of every tenant, at most `batch`
/// alerts per statement (the oldest first); stops after a statement that removed fewer than
/// `batch`.
#[tracing::instrument(skip_all, fields(%cutoff, batch))]
pub async fn prune_alerts(
    store: &Store,
    cutoff: DateTime<Utc>,
    batch: u64,
) -> Result<Pruned, StoreError> {
    let batch = Ord::max(batch, 1);
    let mut pruned = Pruned::default();
    pruned
        .in_batches(batch, || async move {
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
            Ok(alert::Entity::delete_many()
                .filter(alert::Column::Seq.in_subquery(ended))
                .exec(store.db())
                .await?
                .rows_affected)
        })
        .await?;
    Ok(pruned)
}
