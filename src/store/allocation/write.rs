//! The one write path of a tenant's allocation data (cost groups, rules, overrides, prices):
//! the tenant locked, the change written, the allocation re-evaluated as far as the change
//! reaches, the change audited, then committed. Imports `evaluation` and the store's `audit`
//! and `transaction`, never the writers that use it.

use chrono::NaiveDate;
use sea_orm::DatabaseTransaction;

use super::configurations::{self, Version};
use super::{backdated, evaluation};
use crate::domain::allocation::{Configuration, ConfigurationChange};
use crate::domain::audit::AuditChange;
use crate::domain::{CostGroup, TenantId, TenantScope, UserId};
use crate::store::connect::Store;
use crate::store::error::StoreError;
use crate::store::history::license_deltas as deltas;
use crate::store::transaction::lock_tenant;
use crate::store::{audit, history};

/// How much of the tenant's allocation a change can move.
#[derive(Debug, PartialEq, Eq)]
enum Reach {
    /// None (a name, a price): the stored allocation stands.
    Nothing,
    /// These users only (an override).
    Users(Vec<UserId>),
    /// Any user (rules, deleted groups).
    Tenant,
}

/// One write to one tenant, inside a write transaction holding the tenant's lock.
pub(crate) struct TenantWrite {
    txn: DatabaseTransaction,
    tenant_id: TenantId,
    reach: Reach,
    changes: Vec<AuditChange>,
    dated: Option<Dated>,
    /// Whether the change can move an amount a budget is measured by (false for a cost group's
    /// name, code or description).
    moves_amounts: bool,
}

/// A change of cost groups, rules or overrides that takes effect on a day: the day, the
/// configuration as it stood before the change, and, for a change made on the configuration
/// rather than the tables (a scheduled cost group delete), the configuration after it.
struct Dated {
    effective_from: NaiveDate,
    before: Configuration,
    after: Option<Configuration>,
    /// For a change dated after today that sees cost groups created by changes scheduled up to
    /// its day: the tables as they were before those groups were put in them.
    today: Option<Configuration>,
}

impl TenantWrite {
    /// Begins a write transaction and locks `tenant_id`; `NotFound` when the tenant is unknown
    /// or out of `scope`.
    pub(crate) async fn begin(
        store: &Store,
        scope: &TenantScope,
        tenant_id: TenantId,
    ) -> Result<Self, StoreError> {
        let txn = store.begin_write().await?;
        Self::lock(store, txn, scope, tenant_id).await
    }

    /// Locks `tenant_id` inside `txn`, a write transaction that first read which tenant a
    /// change is about (the tenant of a rule or cost group).
    pub(super) async fn lock(
        store: &Store,
        txn: DatabaseTransaction,
        scope: &TenantScope,
        tenant_id: TenantId,
    ) -> Result<Self, StoreError> {
        lock_tenant(&txn, store.backend(), scope, tenant_id).await?;
        Ok(TenantWrite {
            txn,
            tenant_id,
            reach: Reach::Nothing,
            changes: Vec::new(),
            dated: None,
            moves_amounts: true,
        })
    }

    /// The transaction to read and write in.
    pub(crate) fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Records `change` in the audit log when the write commits.
    pub(crate) fn audit(&mut self, change: AuditChange) {
        self.changes.push(change);
    }

    /// The change of rules or overrides about to be written takes effect on `day` (today when
    /// `None`) rather than today: call before writing it. A day in the past re-evaluates the
    /// days from it on; a day in the future keeps the tables read today as they are and
    /// schedules the change. `Conflict` naming the month when a closed month has days from
    /// `day` on.
    pub(super) async fn effective_from(
        &mut self,
        day: Option<NaiveDate>,
    ) -> Result<NaiveDate, StoreError> {
        let day = self.check_effective_from(day).await?;
        self.dated_from(day).await?;
        Ok(day)
    }

    /// `day`, or today when `None`; `Conflict` naming the month when a closed month has days
    /// from `day` on. What [`Self::effective_from`] checks, for a change that may not be
    /// written (a dry run) and so need not read the configuration.
    pub(super) async fn check_effective_from(
        &self,
        day: Option<NaiveDate>,
    ) -> Result<NaiveDate, StoreError> {
        let today = history::today();
        let day = day.unwrap_or(today);
        if day < today {
            crate::store::closed_months::refuse_change_in_closed_month(
                &self.txn,
                self.tenant_id,
                day,
            )
            .await?;
        }
        Ok(day)
    }

    /// The change about to be written takes effect on `day`, checked by
    /// [`Self::check_effective_from`]: reads the configuration as it stands before it.
    /// A change for a later day sees the cost groups that changes scheduled up to that day
    /// create (they are put in the tables until the commit): a rule, an override or a group
    /// made for that day can target them, or be placed under them.
    pub(super) async fn dated_from(&mut self, day: NaiveDate) -> Result<(), StoreError> {
        let mut before = configurations::read_tables(&self.txn, self.tenant_id).await?;
        let mut today = None;
        if day > history::today() {
            let versions = configurations::list_versions(&self.txn, self.tenant_id).await?;
            let scheduled: Vec<_> = configurations::in_force(&versions, day)
                .map(|i| versions[i].configuration.groups.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|g| !before.groups.iter().any(|b| b.id == g.id))
                .collect();
            if !scheduled.is_empty() {
                let mut seen = before.clone();
                // Without a code: one a group gives up by that day may still be taken today.
                seen.groups
                    .extend(scheduled.into_iter().map(|g| CostGroup { code: None, ..g }));
                configurations::write_tables(&self.txn, self.tenant_id, &seen).await?;
                today = Some(std::mem::replace(
                    &mut before,
                    configurations::read_tables(&self.txn, self.tenant_id).await?,
                ));
            }
        }
        self.dated = Some(Dated {
            effective_from: day,
            before,
            after: None,
            today,
        });
        Ok(())
    }

    /// The configuration before the dated change (call after [`Self::effective_from`]).
    pub(super) fn configuration_before(&self) -> Option<&Configuration> {
        self.dated.as_ref().map(|d| &d.before)
    }

    /// The dated change is `after` (the configuration as it is to be from its day), made on the
    /// configuration rather than the tables, which stay as they are: for a change scheduled
    /// for a later day that the tables can't hold in between (a cost group deleted, with what
    /// points at it moved).
    pub(super) fn schedule(&mut self, after: Configuration) {
        if let Some(dated) = self.dated.as_mut() {
            dated.after = Some(after);
        }
    }

    /// The change can move `users` to other cost groups.
    pub(super) fn moves_users(&mut self, users: &[UserId]) {
        match &mut self.reach {
            Reach::Nothing => self.reach = Reach::Users(users.to_vec()),
            Reach::Users(moved) => moved.extend_from_slice(users),
            Reach::Tenant => {}
        }
    }

    /// The change can move any user of the tenant.
    pub(super) fn moves_tenant(&mut self) {
        self.reach = Reach::Tenant;
    }

    /// The change can move no amount a budget is measured by (a cost group renamed, recoded or
    /// described anew): the commit leaves the budgets as last evaluated, and so does not
    /// compute the month's chargeback under the tenant's write lock.
    pub(super) fn moves_no_amount(&mut self) {
        self.moves_amounts = false;
    }

    /// Records a dated change in the configuration versions, re-evaluates what it reaches (the
    /// days from its effective day on, for a backdated one), records its audit entries and
    /// commits.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        let today = history::today();
        let mut backdated_from = None;
        if let Some(dated) = self.dated.take() {
            let day = dated.effective_from;
            let changed = self.record_version(dated).await?;
            for change in &mut self.changes {
                change.effective_from.get_or_insert(day);
            }
            if day > today {
                // Scheduled: today's allocation stands until the day comes.
                self.reach = Reach::Nothing;
            } else if day < today && changed && self.reach != Reach::Nothing {
                backdated_from = Some(day);
            }
        }
        // The license day counts follow the shares: counted again from today after a change
        // that can move anyone, adjusted by the difference for one that moves a few users.
        let mut recount = false;
        match &self.reach {
            Reach::Nothing => {}
            Reach::Users(users) => {
                let narrow = backdated_from.is_none()
                    && configurations::first_due(&self.txn, self.tenant_id, today)
                        .await?
                        .is_none();
                let (txn, tenant) = (&self.txn, self.tenant_id);
                let before = match narrow {
                    true => Some(deltas::shares_of_users(txn, tenant, users, today).await?),
                    false => None,
                };
                evaluation::reevaluate_users(txn, tenant, users, today).await?;
                match before {
                    Some(before) => {
                        let after = deltas::shares_of_users(txn, tenant, users, today).await?;
                        deltas::replace_shares(txn, tenant, &before, &after).await?;
                    }
                    None => recount = true,
                }
            }
            Reach::Tenant => {
                evaluation::reevaluate(&self.txn, self.tenant_id, today).await?;
                recount = true;
            }
        }
        if let Some(from) = backdated_from {
            // Counts again from `from` on itself.
            backdated::reevaluate_days(&self.txn, self.tenant_id, from, today).await?;
        } else if recount {
            deltas::refresh(&self.txn, self.tenant_id, Some(today)).await?;
        }
        for change in self.changes {
            audit::record(&self.txn, change).await?;
        }
        if self.moves_amounts {
            // A budget the change moves across a threshold is an alert of this same commit.
            crate::store::alerts::evaluate_budgets(&self.txn, self.tenant_id, today).await?;
        }
        self.txn.commit().await?;
        Ok(())
    }

    /// Applies the change (the tables now against `dated.before`) to every configuration version
    /// from its day on, adding a version on that day; a change for a future day is taken back
    /// out of the tables read today until it is promoted. Returns whether the rules or
    /// overrides changed.
    async fn record_version(&mut self, mut dated: Dated) -> Result<bool, StoreError> {
        let today = history::today();
        let day = dated.effective_from;
        let in_tables = dated.after.is_none();
        let after = match dated.after.take() {
            Some(after) => after,
            None => configurations::read_tables(&self.txn, self.tenant_id).await?,
        };
        let change = ConfigurationChange::between(&dated.before, &after);
        if change.is_empty() {
            if let Some(tables) = &dated.today {
                configurations::write_tables(&self.txn, self.tenant_id, tables).await?;
            }
            return Ok(false);
        }
        // The version in force on `day` and the later ones: the earlier stay as they are.
        let mut versions =
            configurations::list_versions_from(&self.txn, self.tenant_id, day).await?;
        let first_change = versions.is_empty();
        if first_change {
            versions.push(Version {
                effective_from: configurations::beginning(),
                configuration: dated.before.clone(),
                promoted: true,
            });
        }
        if !versions.iter().any(|v| v.effective_from == day) {
            let base = configurations::in_force(&versions, day)
                .map(|i| versions[i].configuration.clone())
                .unwrap_or_else(|| dated.before.clone());
            let at = versions.partition_point(|v| v.effective_from < day);
            versions.insert(
                at,
                Version {
                    effective_from: day,
                    configuration: base,
                    promoted: day <= today,
                },
            );
        }
        for v in versions.iter_mut().filter(|v| v.effective_from >= day) {
            v.configuration.apply(&change);
        }
        if day <= today {
            // The version in force today is what the tables now hold, exactly.
            if let Some(i) = configurations::in_force(&versions, today) {
                versions[i].configuration = after;
            }
        } else if let Some(tables) = &dated.today {
            // The groups put in for the change go again, with the change.
            configurations::write_tables(&self.txn, self.tenant_id, tables).await?;
        } else if in_tables {
            configurations::write_tables(&self.txn, self.tenant_id, &dated.before).await?;
        }
        if !change.groups_set.is_empty() || !change.groups_removed.is_empty() {
            for v in versions.iter().filter(|v| v.effective_from >= day) {
                check_tree_on(v, &change.groups_removed)?;
            }
        }
        for v in versions
            .iter()
            .filter(|v| v.effective_from >= day || first_change)
        {
            configurations::save_version(&self.txn, self.tenant_id, v).await?;
        }
        Ok(true)
    }
}

/// Fails unless the cost groups of `version` form a tree (see
/// [`crate::domain::cost_group::check_tree`]) whose parents all exist on its day: a change
/// dated before a parent was created (`NotFound`), or one meeting a later change it clashes
/// with (`Conflict`: a group deleted, `removed`, that is a parent then), is refused. The error
/// names the day.
fn check_tree_on(
    version: &Version,
    removed: &[crate::domain::CostGroupId],
) -> Result<(), StoreError> {
    let groups = &version.configuration.groups;
    let on = if version.effective_from == configurations::beginning() {
        "before any dated change".to_owned()
    } else {
        format!("on {}", version.effective_from)
    };
    if let Some((g, parent)) = groups.iter().find_map(|g| {
        g.parent_id
            .filter(|p| !groups.iter().any(|o| o.id == *p))
            .map(|p| (g, p))
    }) {
        if removed.contains(&parent) {
            return Err(StoreError::Conflict(format!(
                "effectiveFrom: cost group {parent} is the parent of {:?} {on}",
                g.name
            )));
        }
        return Err(StoreError::NotFound(format!(
            "parent cost group {parent} of {:?} does not exist {on}",
            g.name
        )));
    }
    crate::domain::cost_group::check_tree(groups)
        .map_err(|e| StoreError::Conflict(format!("effectiveFrom: the cost groups {on}: {e}")))
}

/// Promotes every tenant's configuration scheduled for a day up to today (UTC) and not yet
/// promoted (no import or change of the tenant came since its day), re-evaluating the days
/// from it on, each tenant in a write of its own. Returns the tenants promoted.
pub async fn promote_scheduled_changes(store: &Store) -> Result<usize, StoreError> {
    let tenants = configurations::list_tenants_due(store.db(), history::today()).await?;
    for tenant_id in &tenants {
        let mut write = TenantWrite::begin(store, &TenantScope::All, *tenant_id).await?;
        // The evaluation promotes what is due before it evaluates.
        write.moves_tenant();
        write.commit().await?;
    }
    Ok(tenants.len())
}
