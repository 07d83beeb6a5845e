//! Root mutation fields. Each area has its own object, merged into the schema's `Mutation`.

mod allocation;
mod budget;
mod bulk;
mod chargeback;
mod webhook;

pub use allocation::{AllocationMutation, AllocationShareInput, SetLicensePriceInput};
pub use budget::BudgetMutation;
pub use bulk::{BulkMutation, BulkShareInput, CostGroupItemInput, UserAllocationItemInput};
pub use chargeback::ChargebackMutation;
pub use webhook::{WebhookKeys, WebhookMutation};

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};

use super::error::{ApiError, ApiResult};
use super::ids::parse_id;
use super::types::allocation_rule::{
    AllocationRuleInput, CreateAllocationRuleInput, UpdateAllocationRuleInput, parse_conditions,
    parse_rule_input, parse_targets,
};
use super::types::{AllocationRuleObject, CostGroupObject, Date, ImportRunObject, loaders};
use crate::domain::allocation::check_targets;
use crate::domain::audit::ANONYMOUS;
use crate::domain::cost_group::{parse_code, parse_description, parse_name};
use crate::domain::{Action, AllocationRuleId, CostGroupId, ImportTrigger, Principal, TenantId};
use crate::importer::Importer;
use crate::store;
use crate::store::allocation::{AllocationRuleChanges, CostGroupChanges, NewCostGroup};

/// The importer of this process, when imports are configured; request data of every operation.
pub type ImporterHandle = Option<Arc<Importer>>;

/// The request's importer, or `None` when imports are not configured.
pub(crate) fn importer(ctx: &Context<'_>) -> Option<Arc<Importer>> {
    ctx.data_opt::<ImporterHandle>().cloned().flatten()
}

/// Who the audit log records for the request's changes: the principal's name (the token's
/// `oid`, else `sub`), or `anonymous` while authentication is off.
pub(crate) fn actor(ctx: &Context<'_>) -> String {
    ctx.data_opt::<Principal>()
        .map_or_else(|| ANONYMOUS.to_owned(), |p| p.name.clone())
}

/// What a mutation names, looked up in the caller's scope before its role is checked.
pub(crate) enum Target {
    /// A tenant.
    Tenant(TenantId),
    /// A cost group.
    CostGroup(CostGroupId),
    /// An allocation rule.
    Rule(AllocationRuleId),
}

/// Lets the mutation go on when the caller's roles allow `action`; the store then confines it
/// to the caller's scope. Otherwise `NOT_FOUND` when `target` is out of scope (so a caller can't
/// learn that another tenant's ids exist), and `FORBIDDEN` only for a target it may see.
pub(crate) async fn authorize(ctx: &Context<'_>, action: Action, target: Target) -> ApiResult<()> {
    let principal = ctx
        .data_opt::<Principal>()
        .ok_or_else(|| ApiError::Internal("request carries no principal".to_owned()))?;
    if principal.may(action) {
        return Ok(());
    }
    let l = loaders(ctx)?;
    let visible = match target {
        Target::Tenant(id) => l.tenant.load_one(id).await?.is_some(),
        Target::CostGroup(id) => l.cost_group.load_one(id).await?.is_some(),
        Target::Rule(id) => l.rule.load_one(id).await?.is_some(),
    };
    if !visible {
        return Err(ApiError::NotFound(match target {
            Target::Tenant(id) => format!("tenant {id} not found"),
            Target::CostGroup(id) => format!("cost group {id} not found"),
            Target::Rule(id) => format!("allocation rule {id} not found"),
        }));
    }
    let roles: Vec<&str> = action.roles().iter().map(|r| r.as_str()).collect();
    Err(ApiError::Forbidden(format!(
        "this change needs the role {}",
        roles.join(" or ")
    )))
}

/// Mutations of imports.
#[derive(Default)]
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Starts an import of one tenant now and returns the run (`RUNNING`); follow it with the
    /// `importProgress` subscription. `NOT_FOUND` when the tenant is unknown, `CONFLICT` when
    /// a run of the tenant is in progress or imports are not configured.
    async fn trigger_import(&self, ctx: &Context<'_>, tenant_id: ID) -> ApiResult<ImportRunObject> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        if loaders(ctx)?.tenant.load_one(tenant_id).await?.is_none() {
            return Err(ApiError::NotFound(format!("tenant {tenant_id} not found")));
        }
        authorize(ctx, Action::Import, Target::Tenant(tenant_id)).await?;
        let importer = importer(ctx)
            .ok_or_else(|| ApiError::from(crate::importer::TriggerError::NotConfigured))?;
        let run = importer
            .trigger(tenant_id, ImportTrigger::Manual)
            .await
            .map_err(ApiError::from)?;
        Ok(ImportRunObject(Arc::new(run)))
    }
}

/// A new cost group.
#[derive(InputObject)]
pub struct CreateCostGroupInput {
    /// The tenant (GUID).
    pub tenant_id: ID,
    /// Name, 1 to 100 characters after trimming, unique among siblings (ignoring case).
    pub name: String,
    /// Optional code, 1 to 32 characters of `[A-Za-z0-9_.-]`, unique in the tenant.
    pub code: Option<String>,
    /// Optional free text, at most 1000 characters.
    pub description: Option<String>,
    /// The parent group, of the same tenant; omitted for a root.
    pub parent_id: Option<ID>,
    /// The day the group comes into the tree (UTC); today when omitted. An earlier day puts it
    /// in the tree of the days from it on (refused with `CONFLICT` naming a closed month among
    /// them); a later day schedules it (`Tenant.scheduledAllocationChanges`): it is in no
    /// list, and can't be a rule's target, before its day.
    pub effective_from: Option<Date>,
}

/// Changes to a cost group; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateCostGroupInput {
    /// A new name.
    pub name: Option<String>,
    /// A new code; null removes it.
    pub code: MaybeUndefined<String>,
    /// A new description; null removes it.
    pub description: MaybeUndefined<String>,
    /// Moves the group under this group of the same tenant.
    pub parent_id: Option<ID>,
    /// Moves the group to the top of the tree; not together with `parentId`.
    pub move_to_root: Option<bool>,
    /// The day the change takes effect (UTC); today when omitted. An earlier day changes the
    /// tree of the days from it on, so the chargeback of their months rolls up by it (refused
    /// with `CONFLICT` naming a closed month among them); a later day schedules the change
    /// (`Tenant.scheduledAllocationChanges`).
    pub effective_from: Option<Date>,
}

/// Mutations of cost groups.
#[derive(Default)]
pub struct CostGroupMutation;

#[Object]
impl CostGroupMutation {
    /// Creates a cost group. `NOT_FOUND` when the tenant or parent is unknown (or the parent is of
    /// another tenant), `BAD_USER_INPUT` for invalid values, `CONFLICT` for a sibling name or code
    /// already taken, or a tree deeper than 8.
    async fn create_cost_group(
        &self,
        ctx: &Context<'_>,
        input: CreateCostGroupInput,
    ) -> ApiResult<CostGroupObject> {
        let tenant_id: TenantId = parse_id("input.tenantId", &input.tenant_id)?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant_id)).await?;
        let new = NewCostGroup {
            tenant_id,
            parent_id: input
                .parent_id
                .map(|p| parse_id::<CostGroupId>("input.parentId", &p))
                .transpose()?,
            name: parse_name(&input.name)?,
            code: input.code.as_deref().map(parse_code).transpose()?,
            description: match input.description.as_deref() {
                Some(d) => parse_description(d)?,
                None => None,
            },
        };
        let l = loaders(ctx)?;
        let group = store::allocation::create_cost_group(
            &l.store,
            &l.scope,
            &actor(ctx),
            new,
            input.effective_from.map(|d| d.0),
        )
        .await?;
        Ok(CostGroupObject(Arc::new(group)))
    }

    /// Renames, re-codes, re-describes or moves a cost group. Errors as for `createCostGroup`,
    /// plus `CONFLICT` for a move under the group itself or one of its descendants.
    async fn update_cost_group(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCostGroupInput,
    ) -> ApiResult<CostGroupObject> {
        let id: CostGroupId = parse_id("id", &id)?;
        authorize(ctx, Action::Allocate, Target::CostGroup(id)).await?;
        let parent_id = match (input.parent_id, input.move_to_root.unwrap_or(false)) {
            (Some(_), true) => {
                return Err(ApiError::BadUserInput(
                    "input.parentId and input.moveToRoot can't be used together".to_owned(),
                ));
            }
            (Some(p), false) => Some(Some(parse_id::<CostGroupId>("input.parentId", &p)?)),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let changes = CostGroupChanges {
            name: input.name.as_deref().map(parse_name).transpose()?,
            code: match input.code {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(c) => Some(Some(parse_code(&c)?)),
            },
            description: match input.description {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(d) => Some(parse_description(&d)?),
            },
            parent_id,
        };
        let l = loaders(ctx)?;
        let group = store::allocation::update_cost_group(
            &l.store,
            &l.scope,
            &actor(ctx),
            id,
            changes,
            input.effective_from.map(|d| d.0),
        )
        .await?;
        Ok(CostGroupObject(Arc::new(group)))
    }

    /// Deletes a cost group and returns its id. `CONFLICT` while children, members or allocation
    /// rules point at it, unless `reassignTo` names another group of the same tenant to move them
    /// to (`NOT_FOUND` when that group is unknown or of another tenant); overrides' shares of
    /// the group then go to that group. The group leaves the tree from `effectiveFrom` on (today
    /// when omitted; an earlier day re-evaluates the days since, a later one schedules the
    /// delete); its days before still bill to it.
    async fn delete_cost_group(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reassign_to: Option<ID>,
        effective_from: Option<Date>,
    ) -> ApiResult<ID> {
        let id: CostGroupId = parse_id("id", &id)?;
        authorize(ctx, Action::Allocate, Target::CostGroup(id)).await?;
        let reassign_to = reassign_to
            .map(|r| parse_id::<CostGroupId>("reassignTo", &r))
            .transpose()?;
        let l = loaders(ctx)?;
        let deleted = store::allocation::delete_cost_group(
            &l.store,
            &l.scope,
            &actor(ctx),
            id,
            reassign_to,
            effective_from.map(|d| d.0),
        )
        .await?;
        Ok(ID(deleted.to_string()))
    }
}

/// Mutations of allocation rules. Each re-evaluates the tenant's allocation and writes one audit
/// log entry in the same transaction; a refused one writes nothing.
#[derive(Default)]
pub struct AllocationRuleMutation;

#[Object]
impl AllocationRuleMutation {
    /// Creates a rule after the tenant's other rules. `BAD_USER_INPUT` naming the field at fault
    /// (`input.conditions[1].values: …`), `NOT_FOUND` when the tenant or cost group is unknown
    /// (a cost group of another tenant is unknown too).
    async fn create_allocation_rule(
        &self,
        ctx: &Context<'_>,
        input: CreateAllocationRuleInput,
    ) -> ApiResult<AllocationRuleObject> {
        let tenant: TenantId = parse_id("input.tenantId", &input.tenant_id)?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant)).await?;
        let rule = parse_rule_input(
            "input",
            tenant,
            AllocationRuleInput {
                cost_group_id: input.cost_group_id,
                targets: input.targets,
                conditions: input.conditions,
                enabled: input.enabled,
            },
        )?;
        let l = loaders(ctx)?;
        let entry = store::allocation::create_rule(
            &l.store,
            &l.scope,
            &actor(ctx),
            rule,
            input.effective_from.map(|d| d.0),
        )
        .await?;
        Ok(AllocationRuleObject(Arc::new(entry)))
    }

    /// Changes a rule's cost group (or split targets), conditions or enabled flag. Errors as for
    /// `createAllocationRule`; `NOT_FOUND` when the rule is unknown.
    async fn update_allocation_rule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateAllocationRuleInput,
    ) -> ApiResult<AllocationRuleObject> {
        let id: AllocationRuleId = parse_id("id", &id)?;
        authorize(ctx, Action::Allocate, Target::Rule(id)).await?;
        let changes = AllocationRuleChanges {
            targets: parse_targets("input", input.cost_group_id, input.targets)?
                .map(|targets| {
                    check_targets(&targets).map_err(|e| ApiError::rule_input("input", &e))?;
                    Ok::<_, ApiError>(targets)
                })
                .transpose()?,
            conditions: input
                .conditions
                .map(|c| parse_conditions("input", c))
                .transpose()?,
            enabled: input.enabled,
        };
        let l = loaders(ctx)?;
        let entry = store::allocation::update_rule(
            &l.store,
            &l.scope,
            &actor(ctx),
            id,
            changes,
            input.effective_from.map(|d| d.0),
        )
        .await?;
        Ok(AllocationRuleObject(Arc::new(entry)))
    }

    /// Deletes a rule and returns its id, from `effectiveFrom` on (today when omitted; see
    /// `CreateAllocationRuleInput.effectiveFrom`). `NOT_FOUND` when the rule is unknown.
    async fn delete_allocation_rule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        effective_from: Option<Date>,
    ) -> ApiResult<ID> {
        let id: AllocationRuleId = parse_id("id", &id)?;
        authorize(ctx, Action::Allocate, Target::Rule(id)).await?;
        let l = loaders(ctx)?;
        let deleted = store::allocation::delete_rule(
            &l.store,
            &l.scope,
            &actor(ctx),
            id,
            effective_from.map(|d| d.0),
        )
        .await?;
        Ok(ID(deleted.to_string()))
    }

    /// Orders the tenant's rules as `ruleIds` lists them (first = highest priority) and returns
    /// them in that order. `ruleIds` must list each of the tenant's rules exactly once, else
    /// `BAD_USER_INPUT` naming the ids missing, unknown or duplicated; `NOT_FOUND` when the
    /// tenant is unknown. The order holds from `effectiveFrom` on (today when omitted; see
    /// `CreateAllocationRuleInput.effectiveFrom`).
    async fn reorder_allocation_rules(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        rule_ids: Vec<ID>,
        effective_from: Option<Date>,
    ) -> ApiResult<Vec<AllocationRuleObject>> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant_id)).await?;
        let order = rule_ids
            .iter()
            .enumerate()
            .map(|(i, id)| parse_id::<AllocationRuleId>(&format!("ruleIds[{i}]"), id))
            .collect::<ApiResult<Vec<_>>>()?;
        let l = loaders(ctx)?;
        let rules = store::allocation::reorder_rules(
            &l.store,
            &l.scope,
            &actor(ctx),
            tenant_id,
            &order,
            effective_from.map(|d| d.0),
        )
        .await?;
        Ok(rules
            .into_iter()
            .map(|r| AllocationRuleObject(Arc::new(r)))
            .collect())
    }
}
