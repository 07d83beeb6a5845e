//! Rule diagnostics (`AllocationRule.diagnostics`, `Tenant.allocationDiagnostics`,
//! `AllocationPreview.diagnostics`) and a user's allocation explanation
//! (`UserAllocation.explanation`).

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use super::allocation_rule::{AllocationConditionObject, AllocationRuleObject};
use super::loaders;
use crate::domain::allocation::{
    ConditionTrial, Explanation, HINTS_PER_ATTRIBUTE, Hint, RuleDiagnostics, RuleTrial,
};
use crate::domain::{AllocationRuleId, TenantId};
use crate::graphql::error::ApiResult;
use crate::store::allocation::TenantDiagnostics;

/// What a rule does, the first that applies.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::allocation::RuleVerdict")]
pub enum RuleVerdictValue {
    /// It matches nobody.
    Unreachable,
    /// It matches users, but an earlier rule or an override takes every one of them.
    Shadowed,
    /// It places users, and shares some of its users with earlier rules (see `overlaps`).
    Overlapping,
    /// It places users no earlier rule matches.
    Effective,
}

/// How the rule list is given: stored rules by id, or a proposed list by position.
#[derive(Clone)]
enum RuleNames {
    /// Stored rules: `rule` resolves them.
    Stored,
    /// A proposed list (a preview): the ids given to its rules, in the list's order.
    Proposed(Arc<Vec<AllocationRuleId>>),
}

impl RuleNames {
    fn index(&self, rule: AllocationRuleId) -> Option<usize> {
        match self {
            RuleNames::Stored => None,
            RuleNames::Proposed(ids) => ids.iter().position(|r| *r == rule),
        }
    }

    async fn rule(
        &self,
        ctx: &Context<'_>,
        rule: AllocationRuleId,
    ) -> ApiResult<Option<AllocationRuleObject>> {
        match self {
            RuleNames::Proposed(_) => Ok(None),
            RuleNames::Stored => Ok(loaders(ctx)?
                .rule
                .load_one(rule)
                .await?
                .map(AllocationRuleObject)),
        }
    }
}

/// One rule's diagnostics over the tenant's present users, as of the last evaluation (or the
/// preview's).
pub struct RuleDiagnosticsObject {
    diagnostics: RuleDiagnostics,
    names: RuleNames,
}

#[Object(name = "RuleDiagnostics")]
impl RuleDiagnosticsObject {
    /// The rule's id (in a preview, the id given to the proposed rule for this answer only).
    async fn rule_id(&self) -> ID {
        ID(self.diagnostics.rule.to_string())
    }

    /// The rule; null in a preview (proposed rules are not stored; see `ruleIndex`).
    async fn rule(&self, ctx: &Context<'_>) -> ApiResult<Option<AllocationRuleObject>> {
        self.names.rule(ctx, self.diagnostics.rule).await
    }

    /// In a preview, the rule's position in the proposed list; null for stored rules.
    async fn rule_index(&self) -> Option<usize> {
        self.names.index(self.diagnostics.rule)
    }

    /// The verdict.
    async fn verdict(&self) -> RuleVerdictValue {
        self.diagnostics.verdict.into()
    }

    /// Present users all the rule's conditions hold for, overridden ones included.
    async fn matched_users(&self) -> u64 {
        self.diagnostics.matched
    }

    /// Present users the rule places: those it matches that no override and no earlier rule
    /// takes.
    async fn placed_users(&self) -> u64 {
        self.diagnostics.placed
    }

    /// Earlier rules that match some of the same users, with how many, in evaluation order.
    async fn overlaps(&self) -> Vec<RuleOverlapObject> {
        self.diagnostics
            .overlaps
            .iter()
            .map(|&(rule, users)| RuleOverlapObject {
                rule,
                users,
                names: self.names.clone(),
            })
            .collect()
    }
}

/// An earlier rule sharing users with a later one.
pub struct RuleOverlapObject {
    rule: AllocationRuleId,
    users: u64,
    names: RuleNames,
}

#[Object(name = "RuleOverlap")]
impl RuleOverlapObject {
    /// The earlier rule's id.
    async fn rule_id(&self) -> ID {
        ID(self.rule.to_string())
    }

    /// The earlier rule; null in a preview (see `ruleIndex`).
    async fn rule(&self, ctx: &Context<'_>) -> ApiResult<Option<AllocationRuleObject>> {
        self.names.rule(ctx, self.rule).await
    }

    /// In a preview, the earlier rule's position in the proposed list; null for stored rules.
    async fn rule_index(&self) -> Option<usize> {
        self.names.index(self.rule)
    }

    /// Present users both rules match.
    async fn users(&self) -> u64 {
        self.users
    }
}

/// A tenant's rule diagnostics and what its unallocated users have in common.
pub struct AllocationDiagnosticsObject {
    diagnostics: Arc<TenantDiagnostics>,
    names: RuleNames,
}

impl AllocationDiagnosticsObject {
    /// The diagnostics of a tenant's stored rules.
    pub(crate) fn stored(diagnostics: Arc<TenantDiagnostics>) -> Self {
        AllocationDiagnosticsObject {
            diagnostics,
            names: RuleNames::Stored,
        }
    }

    /// The diagnostics of a proposed rule list whose rules got `ids`, in the list's order.
    pub(crate) fn proposed(diagnostics: TenantDiagnostics, ids: Vec<AllocationRuleId>) -> Self {
        AllocationDiagnosticsObject {
            diagnostics: Arc::new(diagnostics),
            names: RuleNames::Proposed(Arc::new(ids)),
        }
    }
}

#[Object(name = "AllocationDiagnostics")]
impl AllocationDiagnosticsObject {
    /// Every rule evaluated (enabled, targeting an existing cost group), in evaluation order.
    /// Disabled rules are not evaluated and not listed.
    async fn rules(&self) -> Vec<RuleDiagnosticsObject> {
        let d = &self.diagnostics;
        d.tally
            .diagnose(&d.rules)
            .into_iter()
            .map(|diagnostics| RuleDiagnosticsObject {
                diagnostics,
                names: self.names.clone(),
            })
            .collect()
    }

    /// Present users no override and no rule places.
    async fn unallocated_users(&self) -> u64 {
        self.diagnostics.tally.unallocated_users
    }

    /// The most common values among unallocated users of department, company, office, UPN
    /// domain, country, city and job title: up to 5 each, most users first, attributes without
    /// values left out. A value shared by many is a rule waiting to be written.
    async fn hints(&self) -> ApiResult<Vec<AllocationHintObject>> {
        self.diagnostics
            .tally
            .hints(HINTS_PER_ATTRIBUTE)
            .into_iter()
            .map(AllocationHintObject::of)
            .collect()
    }
}

/// The most common values of one attribute among unallocated users.
#[derive(SimpleObject)]
#[graphql(name = "AllocationHint")]
pub struct AllocationHintObject {
    /// The attribute, as rule conditions name it.
    attribute: super::allocation_rule::AllocationAttribute,
    /// Its values, most users first.
    values: Vec<HintValueObject>,
}

impl AllocationHintObject {
    fn of(hint: Hint) -> ApiResult<Self> {
        Ok(AllocationHintObject {
            attribute: super::allocation_rule::AllocationAttribute::from_domain(hint.attribute)?,
            values: hint
                .values
                .into_iter()
                .map(|(value, users)| HintValueObject { value, users })
                .collect(),
        })
    }
}

/// One value and how many unallocated users have it.
#[derive(SimpleObject)]
#[graphql(name = "HintValue")]
pub struct HintValueObject {
    /// The value, as stored.
    value: String,
    /// Unallocated users with this value.
    users: u64,
}

/// The diagnostics of `tenant`'s stored rules through the request's loader; `None` for a
/// tenant unknown or out of scope.
pub(crate) async fn tenant_diagnostics(
    ctx: &Context<'_>,
    tenant: TenantId,
) -> ApiResult<Option<Arc<TenantDiagnostics>>> {
    Ok(loaders(ctx)?.diagnostics.load_one(tenant).await?)
}

/// The diagnostics of stored rule `rule` of `tenant`; `None` when it is not evaluated (disabled,
/// or its tenant unknown).
pub(crate) async fn rule_diagnostics(
    ctx: &Context<'_>,
    tenant: TenantId,
    rule: AllocationRuleId,
) -> ApiResult<Option<RuleDiagnosticsObject>> {
    let Some(d) = tenant_diagnostics(ctx, tenant).await? else {
        return Ok(None);
    };
    if !d.rules.contains(&rule) {
        return Ok(None);
    }
    Ok(d.tally
        .diagnose(&d.rules)
        .into_iter()
        .find(|r| r.rule == rule)
        .map(|diagnostics| RuleDiagnosticsObject {
            diagnostics,
            names: RuleNames::Stored,
        }))
}

/// Why a user is allocated as they are.
pub struct AllocationExplanationObject(pub Explanation);

#[Object(name = "AllocationExplanation")]
impl AllocationExplanationObject {
    /// An override places the user (see `UserAllocation.shares`); no rule is tried.
    async fn overridden(&self) -> bool {
        self.0.overridden
    }

    /// The rules tried, in evaluation order, up to the first whose conditions all hold (the
    /// winner, last); every evaluated rule when none does. Empty when overridden.
    async fn rules(&self) -> Vec<RuleTrialObject> {
        self.0.rules.iter().cloned().map(RuleTrialObject).collect()
    }
}

/// One rule tried for a user.
pub struct RuleTrialObject(RuleTrial);

#[Object(name = "RuleTrial")]
impl RuleTrialObject {
    /// The rule's id.
    async fn rule_id(&self) -> ID {
        ID(self.0.rule.to_string())
    }

    /// The rule.
    async fn rule(&self, ctx: &Context<'_>) -> ApiResult<Option<AllocationRuleObject>> {
        RuleNames::Stored.rule(ctx, self.0.rule).await
    }

    /// Whether all its conditions hold (then it placed the user).
    async fn matched(&self) -> bool {
        self.0.matched
    }

    /// Each condition with the user's value and the result, in the rule's order.
    async fn conditions(&self) -> ApiResult<Vec<ConditionTrialObject>> {
        self.0
            .conditions
            .iter()
            .map(ConditionTrialObject::of)
            .collect()
    }
}

/// One condition tested on a user.
#[derive(SimpleObject)]
#[graphql(name = "ConditionTrial")]
pub struct ConditionTrialObject {
    /// The condition: attribute, operator, values.
    condition: AllocationConditionObject,
    /// The user's own values it read: the attribute's value (none when missing or empty), the
    /// SKU ids the user holds (`HAS_LICENSE_OF_SKU`), the rules' managers the user reports to
    /// (`REPORTS_TO`), or the direct manager's user id (`MANAGER`).
    user_values: Vec<String>,
    /// Whether the condition holds.
    holds: bool,
}

impl ConditionTrialObject {
    fn of(trial: &ConditionTrial) -> ApiResult<Self> {
        Ok(ConditionTrialObject {
            condition: AllocationConditionObject::of(&trial.condition)?,
            user_values: trial.user_values.clone(),
            holds: trial.holds,
        })
    }
}
