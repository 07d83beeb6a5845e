//! `AllocationRule`, its conditions and inputs, and `UserAllocation`: where a user's license cost
//! goes and why.

use std::sync::Arc;

use async_graphql::resolver_utils::EnumType;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{CostGroupObject, loaders};
use crate::domain::allocation::{
    AllocationRule, AllocationRuleEntry, AllocationSource, Attribute, CompiledRule, Condition,
    Share, UserAllocation, validate_conditions,
};
use crate::domain::{AllocationRuleId, CostGroupId, TenantId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::ids::parse_id;

/// The user attribute a condition reads.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AllocationAttribute {
    /// `department`.
    Department,
    /// `companyName`.
    CompanyName,
    /// `jobTitle`.
    JobTitle,
    /// `officeLocation`.
    OfficeLocation,
    /// `city`.
    City,
    /// `state`.
    State,
    /// `country`.
    Country,
    /// `postalCode`.
    PostalCode,
    /// `usageLocation`.
    UsageLocation,
    /// `preferredLanguage`.
    PreferredLanguage,
    /// `userType` (`Member`, `Guest`).
    UserType,
    /// The part of `userPrincipalName` after its last `@`.
    UpnDomain,
    /// `mail`.
    Mail,
    /// `extensionAttribute1`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_1")]
    ExtensionAttribute1,
    /// `extensionAttribute2`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_2")]
    ExtensionAttribute2,
    /// `extensionAttribute3`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_3")]
    ExtensionAttribute3,
    /// `extensionAttribute4`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_4")]
    ExtensionAttribute4,
    /// `extensionAttribute5`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_5")]
    ExtensionAttribute5,
    /// `extensionAttribute6`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_6")]
    ExtensionAttribute6,
    /// `extensionAttribute7`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_7")]
    ExtensionAttribute7,
    /// `extensionAttribute8`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_8")]
    ExtensionAttribute8,
    /// `extensionAttribute9`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_9")]
    ExtensionAttribute9,
    /// `extensionAttribute10`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_10")]
    ExtensionAttribute10,
    /// `extensionAttribute11`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_11")]
    ExtensionAttribute11,
    /// `extensionAttribute12`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_12")]
    ExtensionAttribute12,
    /// `extensionAttribute13`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_13")]
    ExtensionAttribute13,
    /// `extensionAttribute14`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_14")]
    ExtensionAttribute14,
    /// `extensionAttribute15`.
    #[graphql(name = "EXTENSION_ATTRIBUTE_15")]
    ExtensionAttribute15,
    /// Whether the user holds a license of the SKU whose GUID is the value (`EQUALS`,
    /// `NOT_EQUALS`, `IN`, `NOT_IN` only).
    HasLicenseOfSku,
    /// Whether the user whose GUID is the value is the user's manager, directly or through a
    /// chain of managers (`EQUALS`, `NOT_EQUALS`, `IN`, `NOT_IN` only).
    ReportsTo,
    /// `accountEnabled`: the values are `true` or `false` (any case); missing when Microsoft
    /// Graph did not say (`EQUALS`, `NOT_EQUALS`, `IN`, `NOT_IN`, `IS_EMPTY` only).
    AccountEnabled,
    /// The user id (GUID) of the user's direct manager, a user of the same tenant; missing when
    /// the user has none (`EQUALS`, `NOT_EQUALS`, `IN`, `NOT_IN`, `IS_EMPTY` only).
    Manager,
}

impl AllocationAttribute {
    fn to_domain(self) -> Attribute {
        use AllocationAttribute as A;
        match self {
            A::Department => Attribute::Department,
            A::CompanyName => Attribute::CompanyName,
            A::JobTitle => Attribute::JobTitle,
            A::OfficeLocation => Attribute::OfficeLocation,
            A::City => Attribute::City,
            A::State => Attribute::State,
            A::Country => Attribute::Country,
            A::PostalCode => Attribute::PostalCode,
            A::UsageLocation => Attribute::UsageLocation,
            A::PreferredLanguage => Attribute::PreferredLanguage,
            A::UserType => Attribute::UserType,
            A::UpnDomain => Attribute::UpnDomain,
            A::Mail => Attribute::Mail,
            A::ExtensionAttribute1 => Attribute::ExtensionAttribute(1),
            A::ExtensionAttribute2 => Attribute::ExtensionAttribute(2),
            A::ExtensionAttribute3 => Attribute::ExtensionAttribute(3),
            A::ExtensionAttribute4 => Attribute::ExtensionAttribute(4),
            A::ExtensionAttribute5 => Attribute::ExtensionAttribute(5),
            A::ExtensionAttribute6 => Attribute::ExtensionAttribute(6),
            A::ExtensionAttribute7 => Attribute::ExtensionAttribute(7),
            A::ExtensionAttribute8 => Attribute::ExtensionAttribute(8),
            A::ExtensionAttribute9 => Attribute::ExtensionAttribute(9),
            A::ExtensionAttribute10 => Attribute::ExtensionAttribute(10),
            A::ExtensionAttribute11 => Attribute::ExtensionAttribute(11),
            A::ExtensionAttribute12 => Attribute::ExtensionAttribute(12),
            A::ExtensionAttribute13 => Attribute::ExtensionAttribute(13),
            A::ExtensionAttribute14 => Attribute::ExtensionAttribute(14),
            A::ExtensionAttribute15 => Attribute::ExtensionAttribute(15),
            A::HasLicenseOfSku => Attribute::HasLicenseOfSku,
            A::ReportsTo => Attribute::ReportsTo,
            A::AccountEnabled => Attribute::AccountEnabled,
            A::Manager => Attribute::Manager,
        }
    }

    /// The GraphQL value of a domain attribute, found through [`Self::to_domain`] so the
    /// mapping is written once; `Internal` for an attribute no GraphQL value stands for (a
    /// stored rule the domain never validated).
    pub(crate) fn from_domain(attribute: Attribute) -> ApiResult<Self> {
        Self::items()
            .iter()
            .map(|item| item.value)
            .find(|item| item.to_domain() == attribute)
            .ok_or_else(|| ApiError::Internal(format!("no GraphQL value for {attribute}")))
    }
}

/// How a condition compares the attribute with its values. A missing attribute reads as the
/// empty string.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::allocation::Operator")]
pub enum ConditionOperator {
    /// The whole value equals the one value given.
    Equals,
    /// The whole value differs from the one value given.
    NotEquals,
    /// The value contains the one value given.
    Contains,
    /// The value starts with the one value given.
    StartsWith,
    /// The value ends with the one value given.
    EndsWith,
    /// The value equals any of one or more values given.
    In,
    /// The value equals none of one or more values given.
    NotIn,
    /// The one regex given matches somewhere in the value (anchor it with `^…$`).
    Matches,
    /// The value is missing or empty; takes no values.
    IsEmpty,
}

/// Where a user's allocation comes from.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "AllocationSource")]
pub enum AllocationSourceValue {
    /// Set by hand; overrides win over rules.
    Override,
    /// The first enabled rule, by priority, whose conditions all hold.
    Rule,
    /// No override and no matching rule.
    Unallocated,
}

/// One test on a user attribute.
#[derive(SimpleObject)]
#[graphql(name = "AllocationCondition")]
pub struct AllocationConditionObject {
    /// The attribute read.
    pub attribute: AllocationAttribute,
    /// The comparison.
    pub operator: ConditionOperator,
    /// The values compared with: none for `IS_EMPTY`, one or more for `IN`, exactly one
    /// otherwise.
    pub values: Vec<String>,
    /// Whether the comparison is case-sensitive.
    pub case_sensitive: bool,
}

impl AllocationConditionObject {
    pub(crate) fn of(c: &Condition) -> ApiResult<Self> {
        Ok(AllocationConditionObject {
            attribute: AllocationAttribute::from_domain(c.attribute)?,
            operator: c.operator.into(),
            values: c.values.clone(),
            case_sensitive: c.case_sensitive,
        })
    }
}

/// "Users matching all these conditions go to that cost group": one of a tenant's ordered rules.
pub struct AllocationRuleObject(pub Arc<AllocationRuleEntry>);

#[Object(name = "AllocationRule")]
impl AllocationRuleObject {
    /// Rule id (GUID).
    async fn id(&self) -> ID {
        ID(self.0.rule.id.to_string())
    }

    /// The tenant.
    async fn tenant_id(&self) -> ID {
        ID(self.0.rule.tenant_id.to_string())
    }

    /// The cost group matching users go to: the only one of a single-target rule (100 %); for a
    /// split rule, its first target as listed in `targets` (which gives every group with its
    /// percentage).
    async fn cost_group(&self, ctx: &Context<'_>) -> ApiResult<CostGroupObject> {
        let first =
            self.0.rule.first_target().ok_or_else(|| {
                ApiError::Internal(format!("rule {} has no target", self.0.rule.id))
            })?;
        cost_group(ctx, first).await
    }

    /// The cost groups matching users go to, each with its percentage, in the order given:
    /// one target of 100 for a single-target rule, several summing to 100 for a split rule.
    async fn targets(&self) -> Vec<AllocationRuleTargetObject> {
        self.0
            .rule
            .targets
            .iter()
            .cloned()
            .map(AllocationRuleTargetObject)
            .collect()
    }

    /// Whether the rule splits its users across several cost groups.
    async fn split(&self) -> bool {
        self.0.rule.is_split()
    }

    /// Lower runs first; the first enabled rule whose conditions all hold wins.
    async fn priority(&self) -> i32 {
        self.0.rule.priority
    }

    /// Disabled rules are kept but never match.
    async fn enabled(&self) -> bool {
        self.0.rule.enabled
    }

    /// All must hold; at least one.
    async fn conditions(&self) -> ApiResult<Vec<AllocationConditionObject>> {
        self.0
            .rule
            .conditions
            .iter()
            .map(AllocationConditionObject::of)
            .collect()
    }

    /// What the rule does over the tenant's present users, as of the last evaluation: users
    /// matched and placed, its verdict and the earlier rules it shares users with. Null for a
    /// rule not evaluated (disabled, or its cost group gone). Reading it for every rule of a
    /// tenant costs one statement.
    async fn diagnostics(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<super::diagnostics::RuleDiagnosticsObject>> {
        let rule = &self.0.rule;
        super::diagnostics::rule_diagnostics(ctx, rule.tenant_id, rule.id).await
    }

    /// When the rule was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the rule last changed, its priority included.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Cost group `id` through the request's loader; `Internal` when it is missing (rules and
/// allocations only name existing groups).
async fn cost_group(ctx: &Context<'_>, id: CostGroupId) -> ApiResult<CostGroupObject> {
    loaders(ctx)?
        .cost_group
        .load_one(id)
        .await?
        .map(CostGroupObject)
        .ok_or_else(|| ApiError::Internal(format!("cost group {id} missing")))
}

/// One cost group a rule places its users in, with the percentage of their cost it takes.
pub struct AllocationRuleTargetObject(Share);

#[Object(name = "AllocationRuleTarget")]
impl AllocationRuleTargetObject {
    /// The cost group's id (GUID).
    async fn cost_group_id(&self) -> ID {
        ID(self.0.cost_group.to_string())
    }

    /// The cost group.
    async fn cost_group(&self, ctx: &Context<'_>) -> ApiResult<CostGroupObject> {
        cost_group(ctx, self.0.cost_group).await
    }

    /// Percent of each placed user's cost: above 0, at most 2 decimal places; a rule's targets
    /// sum to 100.
    async fn percent(&self) -> Decimal {
        self.0.percent
    }
}

/// The part of a user's license cost that goes to one cost group.
pub struct AllocationShareObject(Share);

#[Object(name = "AllocationShare")]
impl AllocationShareObject {
    /// The cost group.
    async fn cost_group(&self, ctx: &Context<'_>) -> ApiResult<CostGroupObject> {
        cost_group(ctx, self.0.cost_group).await
    }

    /// Percent of the user's cost, greater than 0 and at most 100.
    async fn percent(&self) -> Decimal {
        self.0.percent
    }
}

/// Where one user's license cost goes, and why: as stored, or under a preview's proposed rules.
pub struct UserAllocationObject(pub Arc<UserAllocation>, pub AllocationBasis);

/// The rules an allocation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocationBasis {
    /// The tenant's stored rules and overrides.
    Stored,
    /// A preview's proposed rules (not stored).
    Proposed,
}

#[Object(name = "UserAllocation")]
impl UserAllocationObject {
    /// Why the user is where they are.
    async fn source(&self) -> AllocationSourceValue {
        self.0.source.into()
    }

    /// The winning rule when the source is `RULE`; null otherwise.
    async fn rule(&self, ctx: &Context<'_>) -> ApiResult<Option<AllocationRuleObject>> {
        let AllocationSource::Rule(id) = self.0.source else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .rule
            .load_one(id)
            .await?
            .map(AllocationRuleObject))
    }

    /// The cost groups and percentages, largest first, summing to 100; empty when unallocated.
    async fn shares(&self) -> Vec<AllocationShareObject> {
        self.0
            .shares
            .iter()
            .cloned()
            .map(AllocationShareObject)
            .collect()
    }

    /// An override kept for a user deleted upstream: reported, not costed.
    async fn stale(&self) -> bool {
        self.0.stale
    }

    /// Why the user is allocated as they are, from the tenant's current rules and overrides
    /// and the user's own values: the override when one applies, otherwise each rule tried in
    /// order with each condition's result, up to the winner (every rule for an unallocated
    /// user). Computed when asked, for this user alone; null for a user deleted upstream (or
    /// in a preview's `after`, where proposed rules are not stored).
    async fn explanation(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<super::diagnostics::AllocationExplanationObject>> {
        if self.0.stale || self.1 == AllocationBasis::Proposed {
            return Ok(None);
        }
        let l = loaders(ctx)?;
        let found =
            crate::store::allocation::explain_allocation(&l.store, &l.scope, self.0.user_id)
                .await
                .map_err(ApiError::from)?;
        Ok(found.map(super::diagnostics::AllocationExplanationObject))
    }
}

/// One condition of a rule.
#[derive(InputObject)]
pub struct AllocationConditionInput {
    /// The attribute read.
    pub attribute: AllocationAttribute,
    /// The comparison.
    pub operator: ConditionOperator,
    /// None for `IS_EMPTY`, one or more for `IN`, exactly one otherwise; no empty strings. Null
    /// counts as none.
    #[graphql(default_with = "Some(Vec::new())")]
    pub values: Option<Vec<String>>,
    /// Compare case-sensitively; by default (or null) case is folded.
    #[graphql(default_with = "Some(false)")]
    pub case_sensitive: Option<bool>,
}

impl AllocationConditionInput {
    fn into_domain(self) -> Condition {
        Condition {
            attribute: self.attribute.to_domain(),
            operator: self.operator.into(),
            values: self.values.unwrap_or_default(),
            case_sensitive: self.case_sensitive.unwrap_or(false),
        }
    }
}

/// One cost group a split rule places its users in, with its percentage.
#[derive(InputObject)]
pub struct AllocationRuleTargetInput {
    /// The cost group, of the rule's tenant (GUID).
    pub cost_group_id: ID,
    /// Percentage: above 0, at most 2 decimal places; a rule's targets sum to exactly 100.
    pub percent: Decimal,
}

/// A rule of a tenant, not yet stored (e.g. for a preview).
#[derive(InputObject)]
pub struct AllocationRuleInput {
    /// The one cost group matching users go to, of the same tenant; or give `targets`.
    pub cost_group_id: Option<ID>,
    /// The cost groups matching users are split across, with percentages summing to 100 (no
    /// group twice); or give `costGroupId`.
    pub targets: Option<Vec<AllocationRuleTargetInput>>,
    /// All must hold; at least one.
    pub conditions: Vec<AllocationConditionInput>,
    /// Disabled rules never match; null counts as the default.
    #[graphql(default_with = "Some(true)")]
    pub enabled: Option<bool>,
}

/// A new rule, placed after the tenant's other rules.
#[derive(InputObject)]
pub struct CreateAllocationRuleInput {
    /// The tenant (GUID).
    pub tenant_id: ID,
    /// The one cost group matching users go to, of the same tenant; or give `targets`.
    pub cost_group_id: Option<ID>,
    /// The cost groups matching users are split across, with percentages summing to 100 (no
    /// group twice), of the same tenant; or give `costGroupId`.
    pub targets: Option<Vec<AllocationRuleTargetInput>>,
    /// All must hold; at least one.
    pub conditions: Vec<AllocationConditionInput>,
    /// Disabled rules are kept but never match; null counts as the default.
    #[graphql(default_with = "Some(true)")]
    pub enabled: Option<bool>,
    /// The day the change takes effect (UTC); today when omitted. An earlier day re-evaluates
    /// the allocation of the days from it on (refused with `CONFLICT` naming a closed month
    /// among them); a later day schedules the change (`Tenant.scheduledAllocationChanges`).
    pub effective_from: Option<super::Date>,
}

/// Changes to a rule; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateAllocationRuleInput {
    /// A new single target, a cost group of the rule's tenant (a split rule stops splitting);
    /// not with `targets`.
    pub cost_group_id: Option<ID>,
    /// New targets, replacing all of them: cost groups of the rule's tenant with percentages
    /// summing to 100; not with `costGroupId`.
    pub targets: Option<Vec<AllocationRuleTargetInput>>,
    /// New conditions, replacing all of them; at least one.
    pub conditions: Option<Vec<AllocationConditionInput>>,
    /// Enables or disables the rule.
    pub enabled: Option<bool>,
    /// The day the change takes effect (UTC); today when omitted. An earlier day re-evaluates
    /// the allocation of the days from it on (refused with `CONFLICT` naming a closed month
    /// among them); a later day schedules the change (`Tenant.scheduledAllocationChanges`).
    pub effective_from: Option<super::Date>,
}

/// The targets given as input field `{prefix}.costGroupId` (one cost group, 100 %) or
/// `{prefix}.targets` (a split); `None` when neither is given. `BAD_USER_INPUT` when both are,
/// or an id is not a GUID; the split itself is checked with the rule.
pub(crate) fn parse_targets(
    prefix: &str,
    cost_group_id: Option<ID>,
    targets: Option<Vec<AllocationRuleTargetInput>>,
) -> ApiResult<Option<Vec<Share>>> {
    match (cost_group_id, targets) {
        (Some(_), Some(_)) => Err(ApiError::BadUserInput(format!(
            "{prefix}.targets: give either costGroupId (one cost group) or targets (a split), \
             not both"
        ))),
        (Some(id), None) => Ok(Some(vec![Share::whole(parse_id(
            &format!("{prefix}.costGroupId"),
            &id,
        )?)])),
        (None, Some(targets)) => targets
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                Ok(Share {
                    cost_group: parse_id(
                        &format!("{prefix}.targets[{i}].costGroupId"),
                        &t.cost_group_id,
                    )?,
                    percent: t.percent,
                })
            })
            .collect::<ApiResult<Vec<Share>>>()
            .map(Some),
        (None, None) => Ok(None),
    }
}

/// Checked conditions of input field `{prefix}.conditions`; `BAD_USER_INPUT` naming the field
/// at fault otherwise.
pub(crate) fn parse_conditions(
    prefix: &str,
    inputs: Vec<AllocationConditionInput>,
) -> ApiResult<Vec<Condition>> {
    let conditions: Vec<Condition> = inputs
        .into_iter()
        .map(AllocationConditionInput::into_domain)
        .collect();
    validate_conditions(&conditions).map_err(|e| ApiError::rule_input(prefix, &e))?;
    Ok(conditions)
}

/// A checked rule of `tenant` from input field `prefix` (`input`, `rules[2]`), with a new id and
/// priority 0 (callers ordering several rules set it). `BAD_USER_INPUT` naming the field at
/// fault; whether the cost groups belong to the tenant is for the store to check.
pub(crate) fn parse_rule_input(
    prefix: &str,
    tenant: TenantId,
    input: AllocationRuleInput,
) -> ApiResult<AllocationRule> {
    Ok(compile_rule_input(prefix, tenant, 0, input)?.rule().clone())
}

/// A rule of `tenant` from input field `prefix`, at `priority`, compiled (regexes built) in the
/// same pass that checks it, ready to evaluate. Errors as [`parse_rule_input`].
pub(crate) fn compile_rule_input(
    prefix: &str,
    tenant: TenantId,
    priority: i32,
    input: AllocationRuleInput,
) -> ApiResult<CompiledRule> {
    let targets = parse_targets(prefix, input.cost_group_id, input.targets)?.ok_or_else(|| {
        ApiError::BadUserInput(format!(
            "{prefix}.costGroupId: give costGroupId (one cost group) or targets (a split)"
        ))
    })?;
    AllocationRule {
        id: AllocationRuleId(Uuid::new_v4()),
        tenant_id: tenant,
        targets,
        priority,
        enabled: input.enabled.unwrap_or(true),
        conditions: input
            .conditions
            .into_iter()
            .map(AllocationConditionInput::into_domain)
            .collect(),
    }
    .compile()
    .map_err(|e| ApiError::rule_input(prefix, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::allocation::Operator;

    #[test]
    fn every_attribute_and_operator_maps_both_ways() {
        for item in AllocationAttribute::items() {
            let domain = item.value.to_domain();
            assert_eq!(
                AllocationAttribute::from_domain(domain).ok(),
                Some(item.value)
            );
            // Every attribute a client can name has a stored name that reads back.
            assert_eq!(Attribute::from_name(&domain.to_string()), Some(domain));
        }
        for item in ConditionOperator::items() {
            assert_eq!(item.name, Operator::from(item.value).to_string());
        }
        let names: Vec<&str> = AllocationAttribute::items()
            .iter()
            .map(|i| i.name)
            .collect();
        assert!(names.contains(&"EXTENSION_ATTRIBUTE_15"), "{names:?}");
        assert!(names.contains(&"UPN_DOMAIN"), "{names:?}");
        assert!(names.contains(&"HAS_LICENSE_OF_SKU"), "{names:?}");
        assert!(AllocationAttribute::from_domain(Attribute::ExtensionAttribute(16)).is_err());
    }
}
