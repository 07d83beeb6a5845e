//! `allocation_history`: the allocation rows a re-evaluation replaced, with the days they were in
//! force. The rows in force stay in `user_allocations`, stamped `allocated_from`.

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::store::StoreError;
use crate::store::entities::{allocation_history, user_allocation};

/// Rows per multi-row INSERT (7 columns).
const ROWS_PER_INSERT: usize = 1000;

/// The day a user's new allocation takes effect when evaluated on `on`: `on`, or the day their
/// rows in force took effect when that is later (a change dated later was already recorded;
/// dates only move forward).
pub(crate) fn effective_from(
    stored: Option<&Vec<user_allocation::Model>>,
    on: NaiveDate,
) -> NaiveDate {
    stored
        .into_iter()
        .flatten()
        .filter_map(|r| r.allocated_from)
        .fold(on, NaiveDate::max)
}

/// Moves `replaced` (rows about to be deleted) to history, ending on `on`; rows that took effect
/// on `on` or later lasted no day and are dropped.
pub(crate) async fn archive<C: ConnectionTrait>(
    db: &C,
    replaced: &[&user_allocation::Model],
    on: NaiveDate,
) -> Result<(), StoreError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    let rows: Vec<allocation_history::ActiveModel> = replaced
        .iter()
        .filter(|r| r.allocated_from.is_none_or(|from| from < on))
        .map(|r| allocation_history::ActiveModel {
            id: NotSet,
            tenant_id: Set(r.tenant_id),
            user_id: Set(r.user_id),
            cost_group_id: Set(r.cost_group_id),
            valid_from: Set(r.allocated_from),
            valid_to: Set(on),
            percent: Set(r.percent.clone()),
            source: Set(r.source.clone()),
            rule_id: Set(r.rule_id),
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        allocation_history::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
