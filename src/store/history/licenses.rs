//! `license_history`: the license holdings an import removed or changed. The holdings in force
//! stay in `user_licenses`, stamped `held_from`; a holding whose SKU and disabled plans are
//! unchanged keeps its day.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::domain::history::LicenseHolding;
use crate::domain::import_plan::ChunkPlan;
use crate::domain::{AssignedLicense, SkuId, TenantId, UserId};
use crate::store::entities::{license_history, user_license};
use crate::store::{Store, StoreError};

/// Rows per multi-row INSERT (7 columns).
const ROWS_PER_INSERT: usize = 1000;

/// The day each stored holding took effect, by user and SKU (`None`: before history began).
pub(crate) type HeldFrom = HashMap<(UserId, SkuId), Option<NaiveDate>>;

/// What a chunk's license rows mean for history.
#[derive(Debug, Default)]
pub(crate) struct LicenseChanges {
    /// `held_from` of each row of the plan's `insert_licenses`, in order.
    pub held_from: Vec<Option<NaiveDate>>,
    /// Holdings the chunk ends, for `license_history`.
    pub ended: Vec<license_history::ActiveModel>,
}

fn same_holding(a: &AssignedLicense, b: &AssignedLicense) -> bool {
    let mut left = a.disabled_plans.clone();
    let mut right = b.disabled_plans.clone();
    left.sort();
    right.sort();
    a.sku_id == b.sku_id && left == right
}

/// Compares the stored holdings of the users `plan` rewrites with the rows it inserts, observed
/// on `on`: an unchanged holding keeps its day, a new or changed one starts on `on`, and one
/// that is gone or changed ends on `on` (kept in history unless it began on `on`).
pub(crate) fn license_changes(
    stored: &HashMap<UserId, Vec<AssignedLicense>>,
    held: &HeldFrom,
    plan: &ChunkPlan,
    on: NaiveDate,
) -> LicenseChanges {
    let mut inserted: HashMap<UserId, Vec<&AssignedLicense>> = HashMap::new();
    for l in &plan.insert_licenses {
        inserted.entry(l.user_id).or_default().push(l);
    }
    let held_from = plan
        .insert_licenses
        .iter()
        .map(|l| {
            let kept = stored
                .get(&l.user_id)
                .is_some_and(|before| before.iter().any(|s| same_holding(s, l)));
            if kept {
                held.get(&(l.user_id, l.sku_id)).copied().flatten()
            } else {
                Some(on)
            }
        })
        .collect();
    let mut ended = Vec::new();
    for user in &plan.clear_licenses {
        let after = inserted.get(user).map_or(&[][..], Vec::as_slice);
        for s in stored.get(user).into_iter().flatten() {
            let from = held.get(&(s.user_id, s.sku_id)).copied().flatten();
            if after.iter().any(|a| same_holding(s, a)) || from.is_some_and(|f| f >= on) {
                continue;
            }
            use sea_orm::ActiveValue::{NotSet, Set};
            let plans: Vec<uuid::Uuid> = s.disabled_plans.iter().map(|p| p.uuid()).collect();
            ended.push(license_history::ActiveModel {
                id: NotSet,
                tenant_id: Set(s.tenant_id.uuid()),
                user_id: Set(s.user_id.uuid()),
                sku_id: Set(s.sku_id.uuid()),
                disabled_plans: Set(serde_json::json!(plans)),
                valid_from: Set(from),
                valid_to: Set(on),
            });
        }
    }
    LicenseChanges { held_from, ended }
}

/// The license holdings of `users`, held now and ended, by SKU then first day: two
/// statements whatever the number of users.
pub async fn list_license_history(
    store: &Store,
    users: &[UserId],
) -> Result<Vec<LicenseHolding>, StoreError> {
    let ids = || users.iter().map(|u| u.uuid());
    let mut out: Vec<LicenseHolding> = Vec::new();
    for row in user_license::Entity::find()
        .filter(user_license::Column::UserId.is_in(ids()))
        .all(store.db())
        .await?
    {
        let from = row.held_from;
        let license = crate::store::licenses::to_domain(row)?;
        out.push(LicenseHolding {
            user_id: license.user_id,
            tenant_id: license.tenant_id,
            sku_id: license.sku_id,
            disabled_plans: license.disabled_plans,
            from,
            to: None,
        });
    }
    for row in license_history::Entity::find()
        .filter(license_history::Column::UserId.is_in(ids()))
        .all(store.db())
        .await?
    {
        out.push(LicenseHolding {
            user_id: UserId(row.user_id),
            tenant_id: TenantId(row.tenant_id),
            sku_id: SkuId(row.sku_id),
            disabled_plans: crate::store::licenses::disabled_plans_of(
                "license_history",
                row.user_id,
                row.disabled_plans,
            )?,
            from: row.valid_from,
            to: Some(row.valid_to),
        });
    }
    out.sort_by_key(|h| (h.user_id, h.sku_id, h.from, h.to.is_none(), h.to));
    Ok(out)
}

/// Ends on `on` every holding of `users` (gone upstream), before their rows are deleted.
pub(crate) async fn end_holdings_of<C: ConnectionTrait>(
    db: &C,
    users: &[uuid::Uuid],
    on: NaiveDate,
) -> Result<(), StoreError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    let ended = user_license::Entity::find()
        .filter(user_license::Column::UserId.is_in(users.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .filter(|r| r.held_from.is_none_or(|from| from < on))
        .map(|r| license_history::ActiveModel {
            id: NotSet,
            tenant_id: Set(r.tenant_id),
            user_id: Set(r.user_id),
            sku_id: Set(r.sku_id),
            disabled_plans: Set(r.disabled_plans),
            valid_from: Set(r.held_from),
            valid_to: Set(on),
        })
        .collect();
    archive(db, ended).await
}

/// Writes the ended holdings to history.
pub(crate) async fn archive<C: ConnectionTrait>(
    db: &C,
    ended: Vec<license_history::ActiveModel>,
) -> Result<(), StoreError> {
    let mut rows = ended.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_INSERT).collect();
        license_history::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
