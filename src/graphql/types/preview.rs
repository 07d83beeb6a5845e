//! `Query.previewAllocation`: what a proposed rule list would do, computed without writing.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};

use super::allocation_rule::{
    AllocationBasis, AllocationRuleInput, UserAllocationObject, compile_rule_input,
};
use super::cost_report::CostReportObject;
use super::{UserObject, loaders};
use crate::domain::allocation::{
    AllocationSource, CompiledRule, Condition, UserAllocation, check_managers,
};
use crate::domain::{AllocationRuleId, Principal, TenantId};
use crate::graphql::error::{ApiError, ApiResult, Limit};
use crate::graphql::heavy::HeavyWork;
use crate::graphql::ids::parse_id;
use crate::graphql::limits::OperationGuard;
use crate::graphql::loaders::DatedReport;
use crate::store::allocation::{self, Preview};

/// Rules compiled between two chances for a timed-out preview to stop.
const RULES_PER_YIELD: usize = 25;

/// Most users `changes` lists at once.
const MAX_CHANGES: i32 = 500;

/// The result of evaluating a proposed rule list against a tenant's current data.
pub struct AllocationPreviewObject {
    tenant_id: TenantId,
    preview: Preview,
    report: Arc<DatedReport>,
    /// Ids given to the proposed rules, in their order.
    rule_ids: Vec<AllocationRuleId>,
}

#[Object(name = "AllocationPreview")]
impl AllocationPreviewObject {
    /// The cost report the proposed rules would give (prices in force on `asOf`).
    async fn report(&self) -> CostReportObject {
        CostReportObject {
            tenant_id: self.tenant_id,
            dated: self.report.clone(),
        }
    }

    /// What each proposed rule would do (users matched and placed, unreachable, shadowed or
    /// overlapping rules, by `ruleIndex`) and what the users left unallocated have in common.
    async fn diagnostics(&self) -> super::diagnostics::AllocationDiagnosticsObject {
        super::diagnostics::AllocationDiagnosticsObject::proposed(
            self.preview.diagnostics.clone(),
            self.rule_ids.clone(),
        )
    }

    /// How many users' cost groups or shares would change.
    async fn changed_users(&self) -> usize {
        self.preview.changes.len()
    }

    /// The users whose cost groups or shares would change, by user id: the first `first`
    /// (default 100, at most 500).
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100)] first: i32,
    ) -> ApiResult<Vec<AllocationChangeObject>> {
        if !(0..=MAX_CHANGES).contains(&first) {
            return Err(ApiError::BadUserInput(format!(
                "first must be between 0 and {MAX_CHANGES}, got {first}"
            )));
        }
        let changes = &self.preview.changes[..self.preview.changes.len().min(first as usize)];
        let ids: Vec<_> = changes.iter().map(|(b, _)| b.user_id).collect();
        let users = loaders(ctx)?.user.load_many(ids).await?;
        Ok(changes
            .iter()
            .filter_map(|(before, after)| {
                users.get(&before.user_id).map(|u| AllocationChangeObject {
                    user: UserObject::summary(u.clone()),
                    before: Arc::new(before.clone()),
                    after: Arc::new(after.clone()),
                    rule_index: match after.source {
                        AllocationSource::Rule(id) => self.rule_ids.iter().position(|r| *r == id),
                        _ => None,
                    },
                })
            })
            .collect())
    }
}

/// One user who would move.
pub struct AllocationChangeObject {
    user: UserObject,
    before: Arc<UserAllocation>,
    after: Arc<UserAllocation>,
    rule_index: Option<usize>,
}

#[Object(name = "AllocationChange")]
impl AllocationChangeObject {
    /// The user.
    async fn user(&self) -> &UserObject {
        &self.user
    }

    /// The stored allocation.
    async fn before(&self) -> UserAllocationObject {
        UserAllocationObject(self.before.clone(), AllocationBasis::Stored)
    }

    /// The allocation under the proposed rules (its `rule` is null: proposed rules are not
    /// stored; see `afterRuleIndex`).
    async fn after(&self) -> UserAllocationObject {
        UserAllocationObject(self.after.clone(), AllocationBasis::Proposed)
    }

    /// Position in the proposed list of the rule that would place the user; null when an
    /// override places them or they would be unallocated.
    async fn after_rule_index(&self) -> Option<usize> {
        self.rule_index
    }
}

/// Root field of the allocation preview.
#[derive(Default)]
pub struct PreviewQuery;

#[Object]
impl PreviewQuery {
    /// Evaluates `rules` (the whole proposed list, first match wins in this order) against the
    /// tenant's current users, licenses, overrides, cost groups and prices on `asOf` (default:
    /// today, UTC) and returns the report and the users who would move. Nothing is written.
    /// `NOT_FOUND` for an unknown tenant or a cost group not of the tenant; `BAD_USER_INPUT`
    /// naming the rule and field at fault.
    async fn preview_allocation(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        rules: Vec<AllocationRuleInput>,
        as_of: Option<super::Date>,
    ) -> ApiResult<AllocationPreviewObject> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        // The operation guard counted the rules already; this covers rules it could not see.
        let max_rules = ctx
            .data::<Arc<OperationGuard>>()
            .map_or(usize::MAX, |g| g.limits().max_preview_rules);
        if rules.len() > max_rules {
            return Err(ApiError::OperationLimit(Limit::new(
                "rules of one allocation preview",
                rules.len(),
                max_rules as u64,
            )));
        }
        let heavy = ctx
            .data::<Arc<HeavyWork>>()
            .map_err(|_| ApiError::Internal("request carries no heavy work runner".to_owned()))?;
        let principal = ctx
            .data::<Principal>()
            .map_err(|_| ApiError::Internal("request carries no principal".to_owned()))?;
        // Checking and compiling the rules' regexes and evaluating every user is CPU work: it
        // runs off the HTTP workers, and is given up between slices once the operation times
        // out.
        let compiled = heavy
            .run(&principal.name, async move {
                let mut compiled = Vec::with_capacity(rules.len());
                for (i, input) in rules.into_iter().enumerate() {
                    let priority = i32::try_from(i).unwrap_or(i32::MAX);
                    compiled.push(compile_rule_input(
                        &format!("rules[{i}]"),
                        tenant_id,
                        priority,
                        input,
                    )?);
                    if i % RULES_PER_YIELD == RULES_PER_YIELD - 1 {
                        tokio::task::yield_now().await;
                    }
                }
                Ok(compiled)
            })
            .await?;
        let l = loaders(ctx)?;
        let not_found = || ApiError::NotFound(format!("tenant {tenant_id} not found"));
        let groups = l.cost_groups.load_one(tenant_id).await?.unwrap_or_default();
        if l.tenant.load_one(tenant_id).await?.is_none() {
            return Err(not_found());
        }
        for (i, rule) in compiled.iter().map(CompiledRule::rule).enumerate() {
            let missing = rule
                .targets
                .iter()
                .position(|t| !groups.iter().any(|g| g.id == t.cost_group));
            if let Some(k) = missing {
                let field = if rule.is_split() {
                    format!("rules[{i}].targets[{k}].costGroupId")
                } else {
                    format!("rules[{i}].costGroupId")
                };
                return Err(ApiError::NotFound(format!(
                    "{field}: cost group {} not found",
                    rule.targets[k].cost_group
                )));
            }
        }
        let conditions: Vec<Condition> = compiled
            .iter()
            .flat_map(|c| c.rule().conditions.iter().cloned())
            .collect();
        let known = allocation::present_managers_of_tenant(&l.store, tenant_id, &conditions)
            .await
            .map_err(ApiError::from)?;
        for (i, rule) in compiled.iter().map(CompiledRule::rule).enumerate() {
            check_managers(&rule.conditions, |m| known.contains(&m))
                .map_err(|e| ApiError::rule_input(&format!("rules[{i}]"), &e))?;
        }
        let rule_ids = compiled.iter().map(|c| c.rule().id).collect();
        let (store, scope) = (l.store.clone(), l.scope.clone());
        let preview = heavy
            .run(&principal.name, async move {
                Ok(allocation::preview_allocation(&store, &scope, tenant_id, &compiled).await?)
            })
            .await?
            .ok_or_else(not_found)?;
        let as_of = as_of.map_or_else(|| chrono::Utc::now().date_naive(), |d| d.0);
        let i = &preview.inputs;
        // Unassigned as `costReport` shows it by default: idle seats of paid SKUs.
        let report = i
            .report_on(as_of, crate::domain::BillingSet::PAID)
            .map_err(ApiError::from)?;
        Ok(AllocationPreviewObject {
            tenant_id,
            report: Arc::new(DatedReport {
                report,
                evaluated_at: i.evaluated_at,
            }),
            rule_ids,
            preview,
        })
    }
}
