//! The stored evaluation of each tenant's allocation: one `user_allocations` row per user and
//! cost group placed in, and the tally cost reports are built from. Rewritten, inside the
//! writer's transaction, after every import and allocation change. Reads rules, overrides, cost
//! groups and prices through `reads`, never through the writers (they re-evaluate through it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::backdated::{Row, compile, evaluator_for, group_ids, rows_of, source_of};
use super::reads::IDS_PER_STATEMENT;
use super::stored_diagnostics::{TenantDiagnostics, diagnostics_json, diagnostics_of_json};
use super::{backdated, configurations, reads};
use crate::domain::allocation::report::{Tally, tally};
use crate::domain::allocation::{
    AllocationInput, AllocationSource, CompiledRule, DiagnosticsTally, Share, UserAllocation,
    evaluate,
};
use crate::domain::{AllocationRuleId, CostGroupId, SkuId, TenantId, UserId};
use crate::store::connect::Store;
use crate::store::entities::{allocation_evaluation, user, user_allocation, user_license};
use crate::store::error::StoreError;
use crate::store::{history, keyset, licenses, subscriptions, tenants, transaction, users};

/// Rows of one statement when writing allocations (7 values each), as many as ids in an
/// `IN (…)` list.
const CHUNK: usize = IDS_PER_STATEMENT;

/// What one evaluation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvaluationSummary {
    /// Present users evaluated.
    pub users: usize,
    /// Users whose allocation changed (their rows were rewritten).
    pub users_changed: usize,
}

/// The tally as stored in `allocation_evaluations.tally`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredTally {
    cells: Vec<StoredCell>,
    group_users: Vec<(Uuid, u64)>,
    unallocated_users: u64,
    placed_users: u64,
    splits: Vec<Vec<Uuid>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredCell {
    cost_group: Option<Uuid>,
    sku: Uuid,
    licenses: String,
}

fn tally_json(t: &Tally) -> serde_json::Value {
    let stored = StoredTally {
        cells: t
            .cells
            .iter()
            .map(|(&(group, sku), licenses)| StoredCell {
                cost_group: group.map(CostGroupId::uuid),
                sku: sku.uuid(),
                licenses: licenses.to_string(),
            })
            .collect(),
        group_users: t.group_users.iter().map(|(g, n)| (g.uuid(), *n)).collect(),
        unallocated_users: t.unallocated_users,
        placed_users: t.placed_users,
        splits: t
            .splits
            .iter()
            .map(|s| s.iter().map(|g| g.uuid()).collect())
            .collect(),
    };
    serde_json::json!(stored)
}

pub(super) fn tally_of_json(
    tenant_id: Uuid,
    value: serde_json::Value,
) -> Result<Tally, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "allocation_evaluations",
        detail: format!("tally of tenant {tenant_id}: {detail}"),
    };
    let stored: StoredTally = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
    let mut cells = BTreeMap::new();
    for c in stored.cells {
        let licenses = Decimal::from_str(&c.licenses).map_err(|e| corrupt(e.to_string()))?;
        cells.insert((c.cost_group.map(CostGroupId), SkuId(c.sku)), licenses);
    }
    Ok(Tally {
        cells,
        group_users: stored
            .group_users
            .into_iter()
            .map(|(g, n)| (CostGroupId(g), n))
            .collect(),
        unallocated_users: stored.unallocated_users,
        placed_users: stored.placed_users,
        splits: stored
            .splits
            .into_iter()
            .map(|s| s.into_iter().map(CostGroupId).collect())
            .collect(),
    })
}

/// Users an evaluation of a whole tenant reads at a time, with their licenses: its memory is
/// bounded by this, not by the tenant's size.
const USERS_PER_CHUNK: u64 = 5_000;

/// Reads a tenant's users a chunk at a time (present and deleted upstream, in display name then
/// id order, on the `(tenant, display name, id)` index) with the licenses of the present ones.
struct TenantChunks {
    tenant_id: TenantId,
    after: Option<(String, Uuid)>,
    done: bool,
}

/// One chunk of a tenant's users.
struct Chunk {
    users: Vec<crate::domain::User>,
    /// Licenses of the chunk's present users.
    licenses: Vec<crate::domain::AssignedLicense>,
}

impl Chunk {
    fn ids(&self) -> Vec<UserId> {
        self.users.iter().map(|u| u.id).collect()
    }

    fn present(&self) -> usize {
        self.users.iter().filter(|u| u.deleted_at.is_none()).count()
    }
}

impl TenantChunks {
    fn new(tenant_id: TenantId) -> Self {
        TenantChunks {
            tenant_id,
            after: None,
            done: false,
        }
    }

    /// The next chunk, or `None` after the last user.
    async fn next(&mut self, conn: &impl ConnectionTrait) -> Result<Option<Chunk>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let mut select =
            user::Entity::find().filter(user::Column::TenantId.eq(self.tenant_id.uuid()));
        if let Some((name, id)) = &self.after {
            select = select.filter(keyset::after(
                (user::Entity, user::Column::DisplayName),
                (user::Entity, user::Column::Id),
                name,
                *id,
                false,
            ));
        }
        let users = users::select_users_on(
            conn,
            select
                .order_by_asc(user::Column::DisplayName)
                .order_by_asc(user::Column::Id)
                .limit(USERS_PER_CHUNK),
        )
        .await?;
        self.done = (users.len() as u64) < USERS_PER_CHUNK;
        let Some(last) = users.last() else {
            return Ok(None);
        };
        self.after = Some((last.display_name.clone(), last.id.uuid()));
        let present: Vec<UserId> = users
            .iter()
            .filter(|u| u.deleted_at.is_none())
            .map(|u| u.id)
            .collect();
        let licenses = licenses_of_users_on(conn, &present).await?;
        Ok(Some(Chunk { users, licenses }))
    }
}

/// The licenses of `users`, a statement per [`IDS_PER_STATEMENT`] users, none for no users.
async fn licenses_of_users_on(
    conn: &impl ConnectionTrait,
    users: &[UserId],
) -> Result<Vec<crate::domain::AssignedLicense>, StoreError> {
    let mut out = Vec::new();
    for chunk in users.chunks(IDS_PER_STATEMENT) {
        let rows = user_license::Entity::find()
            .filter(user_license::Column::UserId.is_in(chunk.iter().map(|u| u.uuid())))
            .all(conn)
            .await?;
        for row in rows {
            out.push(licenses::to_domain(row)?);
        }
    }
    Ok(out)
}

/// Evaluates `tenant_id` inside `txn` (a write transaction) and stores the result: the rows of
/// users whose allocation changed are rewritten, and the tally replaced. The tenant's users are
/// read, evaluated and written [`USERS_PER_CHUNK`] at a time.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub(crate) async fn reevaluate(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    on: NaiveDate,
) -> Result<EvaluationSummary, StoreError> {
    // A configuration scheduled for a day up to `on` takes effect first, from its day on.
    let promoted = configurations::promote_due(txn, tenant_id, on).await?;
    let rules = compiled_rules(txn, tenant_id).await?;
    let overrides = reads::list_overrides_of_tenant_on(txn, tenant_id).await?;
    let groups = group_ids(txn, tenant_id).await?;
    let evaluator = evaluator_for(txn, tenant_id, &rules, &overrides, &groups).await?;

    let mut totals = Tally::default();
    let mut diagnostics = TenantDiagnostics {
        rules: evaluator.rule_order(),
        tally: DiagnosticsTally::default(),
    };
    let mut summary = EvaluationSummary::default();
    let mut chunks = TenantChunks::new(tenant_id);
    while let Some(chunk) = chunks.next(txn).await? {
        // Overrides of deleted users come back stale: they are neither written nor counted.
        let allocations =
            evaluator.allocate_diagnosed(&chunk.users, &chunk.licenses, &mut diagnostics.tally);
        let written =
            write_allocations(txn, tenant_id, &allocations, Some(&chunk.ids()), on).await?;
        totals.add(&tally(&allocations, &chunk.licenses));
        summary.users += chunk.present();
        summary.users_changed += written.users_changed;
    }
    save_tally(txn, tenant_id, &totals, &diagnostics).await?;
    if let Some(from) = promoted {
        backdated::reevaluate_days(txn, tenant_id, from, on).await?;
    }
    Ok(summary)
}

/// Replaces the stored tally and rule diagnostics of `tenant_id`, stamped now.
pub(super) async fn save_tally(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    tally: &Tally,
    diagnostics: &TenantDiagnostics,
) -> Result<(), StoreError> {
    allocation_evaluation::Entity::insert(allocation_evaluation::ActiveModel {
        tenant_id: sea_orm::ActiveValue::Set(tenant_id.uuid()),
        evaluated_at: sea_orm::ActiveValue::Set(transaction::stored_now()),
        tally: sea_orm::ActiveValue::Set(tally_json(tally)),
        diagnostics: sea_orm::ActiveValue::Set(Some(diagnostics_json(diagnostics))),
    })
    .on_conflict(
        OnConflict::column(allocation_evaluation::Column::TenantId)
            .update_columns([
                allocation_evaluation::Column::EvaluatedAt,
                allocation_evaluation::Column::Tally,
                allocation_evaluation::Column::Diagnostics,
            ])
            .to_owned(),
    )
    .exec(txn)
    .await?;
    Ok(())
}

/// Re-evaluates only `users` of `tenant_id` inside `txn`, after a change that can move no one
/// else (an override set or cleared): their rows are rewritten and the stored tally adjusted by
/// the difference, without reading the other users; so are the rule diagnostics (an override
/// moves placements only: what rules match is unchanged). Falls back to [`reevaluate`] when the
/// tenant has no stored tally or diagnostics or a rule follows manager chains (`reportsTo`).
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, users = users.len()))]
pub(super) async fn reevaluate_users(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    users: &[UserId],
    on: NaiveDate,
) -> Result<EvaluationSummary, StoreError> {
    if let Some(from) = configurations::promote_due(txn, tenant_id, on).await? {
        // A scheduled configuration took effect: it can move anyone, from its day on.
        let summary = reevaluate(txn, tenant_id, on).await?;
        backdated::reevaluate_days(txn, tenant_id, from, on).await?;
        return Ok(summary);
    }
    let rules = compiled_rules(txn, tenant_id).await?;
    let stored = allocation_evaluation::Entity::find_by_id(tenant_id.uuid())
        .one(txn)
        .await?;
    let Some((stored, diagnostics)) = stored
        .filter(|_| rules.iter().all(|r| r.managers().next().is_none()))
        .and_then(|s| s.diagnostics.clone().map(|d| (s, d)))
    else {
        return reevaluate(txn, tenant_id, on).await;
    };
    let mut diagnostics = diagnostics_of_json(stored.tenant_id, diagnostics)?;
    let mut totals = tally_of_json(stored.tenant_id, stored.tally)?;
    let mut found = Vec::with_capacity(users.len());
    for chunk in users.chunks(IDS_PER_STATEMENT) {
        let select = user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant_id.uuid()))
            .filter(user::Column::Id.is_in(chunk.iter().map(|u| u.uuid())));
        found.extend(users::select_users_on(txn, select).await?);
    }
    let present: Vec<UserId> = found
        .iter()
        .filter(|u| u.deleted_at.is_none())
        .map(|u| u.id)
        .collect();
    let own_licenses = licenses_of_users_on(txn, &present).await?;

    // As counted before: the stored rows, or unallocated.
    let mut before: HashMap<UserId, UserAllocation> = stored_allocations(txn, &present)
        .await?
        .into_iter()
        .map(|a| (a.user_id, a))
        .collect();
    let before: Vec<UserAllocation> = present
        .iter()
        .map(|u| {
            before.remove(u).unwrap_or(UserAllocation {
                user_id: *u,
                shares: Vec::new(),
                source: AllocationSource::Unallocated,
                stale: false,
            })
        })
        .collect();
    let overrides = reads::list_overrides_of_users_on(txn, users).await?;
    let groups = group_ids(txn, tenant_id).await?;
    let after = evaluate(&AllocationInput {
        users: &found,
        licenses: &own_licenses,
        rules: &rules,
        overrides: &overrides,
        cost_groups: &groups,
    });
    let summary = write_allocations(txn, tenant_id, &after, Some(users), on).await?;
    totals.subtract(&tally(&before, &own_licenses));
    totals.add(&tally(&after, &own_licenses));
    diagnostics
        .tally
        .subtract(&DiagnosticsTally::of_placements(&found, &before));
    diagnostics
        .tally
        .add(&DiagnosticsTally::of_placements(&found, &after));
    save_tally(txn, tenant_id, &totals, &diagnostics).await?;
    Ok(EvaluationSummary {
        users: present.len(),
        ..summary
    })
}

/// The tenant's rules, compiled.
pub(super) async fn compiled_rules(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
) -> Result<Vec<CompiledRule>, StoreError> {
    compiled_rules_on(txn, tenant_id).await
}

/// The tenant's rules, compiled, read on `conn` (the store or a transaction).
pub(super) async fn compiled_rules_on(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<CompiledRule>, StoreError> {
    compile(&reads::list_rules_of_tenant_on(conn, tenant_id).await?)
}

/// Rewrites the rows of the users whose allocation differs from what is stored, effective `on`:
/// the rows replaced move to history. `only`: the users evaluated, when not the whole tenant.
pub(super) async fn write_allocations(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    allocations: &[UserAllocation],
    only: Option<&[UserId]>,
    on: NaiveDate,
) -> Result<EvaluationSummary, StoreError> {
    let mut stored: HashMap<Uuid, Vec<Row>> = HashMap::new();
    let mut stored_models: HashMap<Uuid, Vec<user_allocation::Model>> = HashMap::new();
    let query = user_allocation::Entity::find()
        .filter(user_allocation::Column::TenantId.eq(tenant_id.uuid()));
    let rows = match only {
        None => query.all(txn).await?,
        Some(users) => {
            let mut rows = Vec::new();
            for chunk in users.chunks(IDS_PER_STATEMENT) {
                let ids = chunk.iter().map(|u| u.uuid());
                let of_chunk = query
                    .clone()
                    .filter(user_allocation::Column::UserId.is_in(ids));
                rows.extend(of_chunk.all(txn).await?);
            }
            rows
        }
    };
    for r in rows {
        let source = source_of(&r.source);
        stored.entry(r.user_id).or_default().push((
            r.cost_group_id,
            r.percent.clone(),
            source,
            r.rule_id,
        ));
        stored_models.entry(r.user_id).or_default().push(r);
    }
    for rows in stored.values_mut() {
        rows.sort();
    }

    let mut changed: Vec<Uuid> = Vec::new();
    let mut inserts: Vec<user_allocation::ActiveModel> = Vec::new();
    let mut seen: HashSet<Uuid> = HashSet::with_capacity(allocations.len());
    for a in allocations.iter().filter(|a| !a.stale) {
        let user = a.user_id.uuid();
        seen.insert(user);
        let rows = rows_of(a);
        let before = stored.get(&user).map_or(&[][..], Vec::as_slice);
        if before == rows.as_slice() {
            continue;
        }
        if !before.is_empty() {
            changed.push(user);
        }
        let from = history::allocations::effective_from(stored_models.get(&user), on);
        inserts.extend(rows.into_iter().map(|(group, percent, source, rule)| {
            use sea_orm::ActiveValue::Set;
            user_allocation::ActiveModel {
                user_id: Set(user),
                cost_group_id: Set(group),
                tenant_id: Set(tenant_id.uuid()),
                percent: Set(percent),
                source: Set(source.to_owned()),
                rule_id: Set(rule),
                allocated_from: Set(Some(from)),
            }
        }));
    }
    // Users evaluated no longer (deleted upstream) or now unallocated lose their rows.
    changed.extend(stored.keys().filter(|u| !seen.contains(u)).copied());
    let users_changed = changed.len()
        + inserts
            .iter()
            .filter(|m| !stored.contains_key(m.user_id.as_ref()))
            .map(|m| *m.user_id.as_ref())
            .collect::<HashSet<_>>()
            .len();

    let replaced: Vec<&user_allocation::Model> = changed
        .iter()
        .filter_map(|u| stored_models.get(u))
        .flatten()
        .collect();
    history::allocations::archive(txn, &replaced, on).await?;
    for ids in changed.chunks(CHUNK) {
        user_allocation::Entity::delete_many()
            .filter(user_allocation::Column::UserId.is_in(ids.iter().copied()))
            .exec(txn)
            .await?;
    }
    let mut inserts = inserts.into_iter().peekable();
    while inserts.peek().is_some() {
        let chunk: Vec<_> = inserts.by_ref().take(CHUNK).collect();
        user_allocation::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(EvaluationSummary {
        users: 0,
        users_changed,
    })
}

/// Evaluates `tenant_id` in a write transaction of its own (for data written without one, such
/// as a snapshot, and for tenants never evaluated).
pub async fn evaluate_tenant(
    store: &Store,
    tenant_id: TenantId,
) -> Result<EvaluationSummary, StoreError> {
    let txn = store.begin_write().await?;
    let today = history::today();
    let summary = reevaluate(&txn, tenant_id, today).await?;
    history::license_deltas::refresh(&txn, tenant_id, Some(today)).await?;
    txn.commit().await?;
    Ok(summary)
}

/// The allocations the stored rows give `users` (users without rows are left out), on `conn`:
/// a statement per [`IDS_PER_STATEMENT`] users.
pub(super) async fn stored_allocations(
    conn: &impl ConnectionTrait,
    users: &[UserId],
) -> Result<Vec<UserAllocation>, StoreError> {
    let mut rows = Vec::new();
    for chunk in users.chunks(IDS_PER_STATEMENT) {
        let ids = chunk.iter().map(|u| u.uuid());
        rows.extend(
            user_allocation::Entity::find()
                .filter(user_allocation::Column::UserId.is_in(ids))
                .all(conn)
                .await?,
        );
    }
    allocations_of_rows(rows)
}

/// Groups stored rows into one allocation per user.
fn allocations_of_rows(
    rows: Vec<user_allocation::Model>,
) -> Result<Vec<UserAllocation>, StoreError> {
    let mut by_user: HashMap<Uuid, UserAllocation> = HashMap::new();
    for r in rows {
        let percent = Decimal::from_str(&r.percent).map_err(|e| StoreError::Corrupt {
            table: "user_allocations",
            detail: format!("percent of user {}: {e}", r.user_id),
        })?;
        let source = match (r.source.as_str(), r.rule_id) {
            ("RULE", Some(rule)) => AllocationSource::Rule(AllocationRuleId(rule)),
            _ => AllocationSource::Override,
        };
        let entry = by_user.entry(r.user_id).or_insert_with(|| UserAllocation {
            user_id: UserId(r.user_id),
            shares: Vec::new(),
            source,
            stale: false,
        });
        entry.shares.push(Share {
            cost_group: CostGroupId(r.cost_group_id),
            percent,
        });
    }
    Ok(by_user.into_values().collect())
}

/// The stored allocation of each of `users` that is placed somewhere or has an override, in the
/// order of `users`. A user with an override and no stored rows (deleted upstream) gets the
/// override, marked stale. Users absent from the answer are unallocated.
pub async fn list_allocations_of_users(
    store: &Store,
    users: &[UserId],
) -> Result<Vec<UserAllocation>, StoreError> {
    let mut by_user: HashMap<Uuid, UserAllocation> = stored_allocations(store.db(), users)
        .await?
        .into_iter()
        .map(|a| (a.user_id.uuid(), a))
        .collect();
    let unplaced: Vec<UserId> = users
        .iter()
        .filter(|u| !by_user.contains_key(&u.uuid()))
        .copied()
        .collect();
    if !unplaced.is_empty() {
        for o in reads::list_overrides_of_users_on(store.db(), &unplaced).await? {
            by_user.insert(
                o.user_id().uuid(),
                UserAllocation {
                    user_id: o.user_id(),
                    shares: o.shares().to_vec(),
                    source: AllocationSource::Override,
                    stale: true,
                },
            );
        }
    }
    let mut out = Vec::with_capacity(by_user.len());
    for u in users {
        if let Some(mut a) = by_user.remove(&u.uuid()) {
            a.shares.sort_by_key(|s| std::cmp::Reverse(s.percent));
            out.push(a);
        }
    }
    Ok(out)
}

/// Everything a tenant's cost report is built from, apart from the date.
#[derive(Debug, Clone)]
pub struct ReportInputs {
    /// When the tally was evaluated.
    pub evaluated_at: DateTime<Utc>,
    /// Licenses and users per cost group.
    pub tally: Tally,
    /// The tenant's subscribed SKUs (for `Unassigned`).
    pub subscriptions: Vec<crate::domain::Subscription>,
    /// The tenant's whole price history.
    pub prices: Vec<crate::domain::allocation::Price>,
    /// The tenant's cost groups.
    pub groups: Vec<crate::domain::CostGroup>,
}

impl ReportInputs {
    /// The tenant's cost report with the prices in force on `as_of`, `Unassigned` counting the
    /// idle seats of SKUs billed as in `unassigned`: the one place a report is built from stored
    /// inputs (GraphQL, the preview and the CSV export all come here).
    pub fn report_on(
        &self,
        as_of: chrono::NaiveDate,
        unassigned: crate::domain::BillingSet,
    ) -> Result<crate::domain::allocation::CostReport, crate::domain::allocation::ReportError> {
        crate::domain::allocation::report_from_tally(
            &self.tally,
            &self.subscriptions,
            &self.prices,
            &self.groups,
            as_of,
            unassigned,
        )
    }
}

/// The report inputs of each of `tenants` in `scope` (others are left out), in four statements
/// whatever the number of tenants; tenants never evaluated are evaluated first.
pub async fn list_report_inputs(
    store: &Store,
    scope: &crate::domain::TenantScope,
    tenants: &[TenantId],
) -> Result<HashMap<TenantId, ReportInputs>, StoreError> {
    let tenants: Vec<TenantId> = tenants
        .iter()
        .copied()
        .filter(|t| scope.allows(*t))
        .collect();
    let mut evaluations = allocation_evaluation::Entity::find()
        .filter(allocation_evaluation::Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .all(store.db())
        .await?;
    let found: HashSet<Uuid> = evaluations.iter().map(|e| e.tenant_id).collect();
    let missing: Vec<TenantId> = tenants
        .iter()
        .filter(|t| !found.contains(&t.uuid()))
        .copied()
        .collect();
    if !missing.is_empty() {
        // Only tenants that exist: a foreign key keeps evaluations to known tenants.
        let known = tenants::find_tenants(store, scope, &missing).await?;
        for t in &known {
            evaluate_tenant(store, t.id).await?;
        }
        evaluations.extend(
            allocation_evaluation::Entity::find()
                .filter(
                    allocation_evaluation::Column::TenantId
                        .is_in(known.iter().map(|t| t.id.uuid())),
                )
                .all(store.db())
                .await?,
        );
    }
    let mut out: HashMap<TenantId, ReportInputs> = HashMap::with_capacity(evaluations.len());
    for e in evaluations {
        out.insert(
            TenantId(e.tenant_id),
            ReportInputs {
                evaluated_at: e.evaluated_at,
                tally: tally_of_json(e.tenant_id, e.tally)?,
                subscriptions: Vec::new(),
                prices: Vec::new(),
                groups: Vec::new(),
            },
        );
    }
    let present: Vec<TenantId> = out.keys().copied().collect();
    for s in subscriptions::list_subscriptions_of_tenants(store, &present).await? {
        if let Some(i) = out.get_mut(&s.tenant_id) {
            i.subscriptions.push(s);
        }
    }
    for (t, p) in reads::list_prices_of_tenants_on(store.db(), &present).await? {
        if let Some(i) = out.get_mut(&t) {
            i.prices.push(p);
        }
    }
    for g in reads::list_cost_groups_of_tenants(store, &present).await? {
        if let Some(i) = out.get_mut(&g.tenant_id) {
            i.groups.push(g);
        }
    }
    Ok(out)
}

/// Users a preview allocates between two chances to be cancelled.
const PREVIEW_SLICE: usize = 250;

/// What a proposed rule list would do to a tenant, computed without writing anything.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The report inputs with the proposed rules' tally in place of the stored one.
    pub inputs: ReportInputs,
    /// Users whose cost groups or shares would change: (stored, proposed), by user id.
    pub changes: Vec<(UserAllocation, UserAllocation)>,
    /// The proposed rules' diagnostics counts.
    pub diagnostics: TenantDiagnostics,
}

/// Evaluates `tenant_id` with `rules` in place of its stored rules (overrides, users, licenses
/// and cost groups as stored) inside a read transaction; `None` for a tenant unknown or out of
/// `scope`. A rule targeting a group that is not the tenant's is ignored by the engine; callers
/// check targets first.
pub async fn preview_allocation(
    store: &Store,
    scope: &crate::domain::TenantScope,
    tenant_id: TenantId,
    rules: &[CompiledRule],
) -> Result<Option<Preview>, StoreError> {
    use sea_orm::TransactionTrait;
    let Some(mut inputs) = list_report_inputs(store, scope, &[tenant_id])
        .await?
        .remove(&tenant_id)
    else {
        return Ok(None);
    };
    let txn = store.db().begin().await?;
    let overrides = reads::list_overrides_of_tenant_on(&txn, tenant_id).await?;
    let groups: Vec<CostGroupId> = inputs.groups.iter().map(|g| g.id).collect();
    let evaluator = evaluator_for(&txn, tenant_id, rules, &overrides, &groups).await?;
    let mut totals = Tally::default();
    let mut diagnostics = TenantDiagnostics {
        rules: evaluator.rule_order(),
        tally: DiagnosticsTally::default(),
    };
    let mut changes = Vec::new();
    let mut chunks = TenantChunks::new(tenant_id);
    while let Some(chunk) = chunks.next(&txn).await? {
        // Users deleted upstream only yield stale allocations, which are left out below. The
        // chunk is allocated in slices with a yield between them, so that a cancelled preview
        // (its operation timed out) stops within one slice.
        let mut proposed = Vec::with_capacity(chunk.users.len());
        for users in chunk.users.chunks(PREVIEW_SLICE) {
            proposed.extend(evaluator.allocate_diagnosed(
                users,
                &chunk.licenses,
                &mut diagnostics.tally,
            ));
            tokio::task::yield_now().await;
        }
        let mut stored: HashMap<UserId, UserAllocation> = stored_allocations(&txn, &chunk.ids())
            .await?
            .into_iter()
            .map(|a| (a.user_id, a))
            .collect();
        for after in proposed.iter().filter(|a| !a.stale) {
            let before = stored
                .remove(&after.user_id)
                .unwrap_or_else(|| UserAllocation::unallocated(after.user_id));
            if before.placement() != after.placement() {
                changes.push((before, after.clone()));
            }
        }
        totals.add(&tally(&proposed, &chunk.licenses));
    }
    txn.commit().await?;
    changes.sort_by_key(|(b, _)| b.user_id);
    inputs.tally = totals;
    inputs.evaluated_at = Utc::now();
    Ok(Some(Preview {
        inputs,
        changes,
        diagnostics,
    }))
}
