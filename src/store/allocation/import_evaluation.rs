//! The allocation an import keeps up to date while it writes: each chunk's users that change
//! are taken out of the stored tally and rule diagnostics as they were counted, evaluated from
//! what the import already holds and counted again, so the tenant is not read back after it is
//! written. A
//! user's allocation depends on that user alone unless a rule follows manager chains; then, and
//! for a tenant that has users but was never evaluated (or not since diagnostics were kept) or
//! whose scheduled configuration takes effect with this import, the whole tenant is evaluated
//! once the users are written.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::{DatabaseTransaction, EntityTrait};

use super::backdated::{self, group_ids};
use super::evaluation::{
    compiled_rules, reevaluate, save_tally, stored_allocations, tally_of_json, write_allocations,
};
use super::stored_diagnostics::{TenantDiagnostics, diagnostics_of_json};
use super::{configurations, reads};
use crate::domain::allocation::report::{Tally, tally};
use crate::domain::allocation::{
    AllocationSource, CompiledRule, DiagnosticsTally, Evaluator, Override, UserAllocation,
};
use crate::domain::{AssignedLicense, CostGroupId, TenantId, User, UserId};
use crate::store::entities::allocation_evaluation;
use crate::store::error::StoreError;

/// How an import keeps its tenant's allocation: chunk by chunk, or the whole tenant at the end.
pub(crate) enum ImportEvaluation {
    /// Every user is evaluated after the import's users are written; then, when a scheduled
    /// configuration took effect (from the day given), the days since it are evaluated again.
    WholeTenant(Option<NaiveDate>),
    /// The users each chunk changes are evaluated as it is written.
    ByChunk(Box<ByChunk>),
}

/// What evaluating chunk by chunk needs: the tenant's rules, overrides and cost groups (an
/// import changes none of them) and the tally and rule diagnostics kept so far.
pub(crate) struct ByChunk {
    rules: Vec<CompiledRule>,
    overrides: Vec<Override>,
    groups: Vec<CostGroupId>,
    totals: Tally,
    diagnostics: TenantDiagnostics,
}

impl ImportEvaluation {
    /// Chooses how the import of `tenant_id` observed `on` evaluates, after putting in force a
    /// configuration scheduled for a day up to `on`: chunk by chunk unless such a configuration
    /// took effect, a rule follows manager chains, or the tenant has users (`had_users`) but no
    /// stored tally and diagnostics.
    pub(crate) async fn begin(
        txn: &DatabaseTransaction,
        tenant_id: TenantId,
        had_users: bool,
        on: NaiveDate,
    ) -> Result<Self, StoreError> {
        if let Some(from) = configurations::promote_due(txn, tenant_id, on).await? {
            return Ok(ImportEvaluation::WholeTenant(Some(from)));
        }
        let rules = compiled_rules(txn, tenant_id).await?;
        if rules.iter().any(|r| r.managers().next().is_some()) {
            return Ok(ImportEvaluation::WholeTenant(None));
        }
        let stored = allocation_evaluation::Entity::find_by_id(tenant_id.uuid())
            .one(txn)
            .await?;
        let overrides = reads::list_overrides_of_tenant_on(txn, tenant_id).await?;
        let groups = group_ids(txn, tenant_id).await?;
        let (totals, diagnostics) = match stored {
            Some(allocation_evaluation::Model {
                tenant_id: id,
                tally,
                diagnostics: Some(diagnostics),
                ..
            }) => (
                tally_of_json(id, tally)?,
                diagnostics_of_json(id, diagnostics)?,
            ),
            None if !had_users => (
                Tally::default(),
                TenantDiagnostics {
                    rules: Evaluator::new(&rules, &overrides, &groups).rule_order(),
                    tally: DiagnosticsTally::default(),
                },
            ),
            _ => return Ok(ImportEvaluation::WholeTenant(None)),
        };
        Ok(ImportEvaluation::ByChunk(Box::new(ByChunk {
            rules,
            overrides,
            groups,
            totals,
            diagnostics,
        })))
    }

    /// Whether the users an import changes are evaluated as they are written (what the
    /// import passes to [`Self::before_change`] and [`Self::after_change`] is used).
    pub(crate) fn by_chunk(&self) -> bool {
        matches!(self, ImportEvaluation::ByChunk(_))
    }

    /// Before users are changed: takes `present` (stored users present before the change, as
    /// stored) out of the tally and rule diagnostics as they were counted, with `licenses`, their
    /// stored licenses.
    pub(crate) async fn before_change(
        &mut self,
        txn: &DatabaseTransaction,
        present: &[User],
        licenses: &[AssignedLicense],
    ) -> Result<(), StoreError> {
        let ImportEvaluation::ByChunk(state) = self else {
            return Ok(());
        };
        if present.is_empty() {
            return Ok(());
        }
        // Rules, overrides and groups are as when these users were last counted: evaluating
        // them as stored gives the counts to take out.
        let evaluator = Evaluator::new(&state.rules, &state.overrides, &state.groups);
        let mut counted = DiagnosticsTally::default();
        evaluator.allocate_diagnosed(present, licenses, &mut counted);
        state.diagnostics.tally.subtract(&counted);
        let present: Vec<UserId> = present.iter().map(|u| u.id).collect();
        let present = present.as_slice();
        let mut stored: HashMap<UserId, UserAllocation> = stored_allocations(txn, present)
            .await?
            .into_iter()
            .map(|a| (a.user_id, a))
            .collect();
        let before: Vec<UserAllocation> = present
            .iter()
            .map(|u| {
                stored.remove(u).unwrap_or(UserAllocation {
                    user_id: *u,
                    shares: Vec::new(),
                    source: AllocationSource::Unallocated,
                    stale: false,
                })
            })
            .collect();
        state.totals.subtract(&tally(&before, licenses));
        Ok(())
    }

    /// After users are changed: evaluates `users` (as written, deleted ones included) holding
    /// `licenses`, rewrites their rows effective `on` and counts them in the tally.
    pub(crate) async fn after_change(
        &mut self,
        txn: &DatabaseTransaction,
        tenant_id: TenantId,
        users: &[User],
        licenses: &[AssignedLicense],
        on: NaiveDate,
    ) -> Result<(), StoreError> {
        let ImportEvaluation::ByChunk(state) = self else {
            return Ok(());
        };
        if users.is_empty() {
            return Ok(());
        }
        let evaluator = Evaluator::new(&state.rules, &state.overrides, &state.groups);
        let allocations =
            evaluator.allocate_diagnosed(users, licenses, &mut state.diagnostics.tally);
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        write_allocations(txn, tenant_id, &allocations, Some(&ids), on).await?;
        state.totals.add(&tally(&allocations, licenses));
        Ok(())
    }

    /// After the last change: stores the tally kept, or evaluates the whole tenant.
    pub(crate) async fn finish(
        self,
        txn: &DatabaseTransaction,
        tenant_id: TenantId,
        on: NaiveDate,
    ) -> Result<(), StoreError> {
        match self {
            ImportEvaluation::WholeTenant(promoted) => {
                reevaluate(txn, tenant_id, on).await?;
                if let Some(from) = promoted {
                    backdated::reevaluate_days(txn, tenant_id, from, on).await?;
                }
            }
            ImportEvaluation::ByChunk(state) => {
                save_tally(txn, tenant_id, &state.totals, &state.diagnostics).await?;
            }
        }
        Ok(())
    }
}
