//! Many allocation changes in one call, for tooling: `setUserAllocations` and
//! `createCostGroups`, with a dry run. They answer what the CSV uploads answer.

use async_graphql::{Context, ID, InputObject, Object};
use rust_decimal::Decimal;

use super::{Target, actor, authorize};
use crate::domain::allocation::bulk::{
    CostGroupRow, GroupRef, MAX_BULK_ROWS, OverrideRow, UserRef,
};
use crate::domain::{Action, CostGroupId, TenantId, UserId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::ids::parse_id;
use crate::graphql::types::bulk::{CreateCostGroupsResult, SetUserAllocationsResult};
use crate::graphql::types::{Date, loaders};
use crate::store;
use crate::store::allocation::BulkRequest;

/// One share of an item of `setUserAllocations`: a cost group by id or by code.
#[derive(InputObject)]
pub struct BulkShareInput {
    /// The cost group (GUID); or give `costGroupCode`.
    pub cost_group_id: Option<ID>,
    /// The cost group's code (ignoring case); or give `costGroupId`.
    pub cost_group_code: Option<String>,
    /// Percentage: above 0, at most 2 decimal places, a user's shares summing to exactly 100;
    /// may be omitted for a user's only share (100).
    pub percent: Option<Decimal>,
}

/// One user's override in `setUserAllocations`.
#[derive(InputObject)]
pub struct UserAllocationItemInput {
    /// The user (GUID); or give `userPrincipalName`.
    pub user_id: Option<ID>,
    /// The user's UPN (ignoring case); or give `userId`.
    pub user_principal_name: Option<String>,
    /// The shares; an empty list removes the user's override, so rules place them again.
    pub shares: Vec<BulkShareInput>,
}

/// One cost group in `createCostGroups`, by its code.
#[derive(InputObject)]
pub struct CostGroupItemInput {
    /// The code: a group of the tenant with it (ignoring case) is updated, else one is created.
    pub code: String,
    /// Name, 1 to 100 characters after trimming, unique among siblings (ignoring case).
    pub name: String,
    /// The parent's code, a group of the tenant or of the list; omitted for a root.
    pub parent_code: Option<String>,
    /// Optional free text, at most 1000 characters.
    pub description: Option<String>,
}

fn check_size(len: usize) -> ApiResult<()> {
    if len > MAX_BULK_ROWS {
        return Err(ApiError::BadUserInput(format!(
            "items must hold at most {MAX_BULK_ROWS} entries, got {len}"
        )));
    }
    Ok(())
}

/// The rows of `items`: one per share (one clearing row for an empty list), each on the item's
/// position from 1. `BAD_USER_INPUT` naming the item whose user or group is named neither or
/// both ways.
fn override_rows(items: Vec<UserAllocationItemInput>) -> ApiResult<Vec<OverrideRow>> {
    let mut rows = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let user = match (item.user_id, item.user_principal_name) {
            (Some(id), None) => {
                UserRef::Id(parse_id::<UserId>(&format!("items[{i}].userId"), &id)?)
            }
            (None, Some(upn)) => UserRef::Upn(upn),
            _ => {
                return Err(ApiError::BadUserInput(format!(
                    "items[{i}]: give exactly one of userId and userPrincipalName"
                )));
            }
        };
        if item.shares.is_empty() {
            rows.push(OverrideRow {
                line: i + 1,
                user: user.clone(),
                group: GroupRef::Clear,
                percent: String::new(),
            });
        }
        for (j, share) in item.shares.into_iter().enumerate() {
            let group = match (share.cost_group_id, share.cost_group_code) {
                (Some(id), None) => GroupRef::Id(parse_id::<CostGroupId>(
                    &format!("items[{i}].shares[{j}].costGroupId"),
                    &id,
                )?),
                (None, Some(code)) => GroupRef::Code(code),
                _ => {
                    return Err(ApiError::BadUserInput(format!(
                        "items[{i}].shares[{j}]: give exactly one of costGroupId and \
                         costGroupCode"
                    )));
                }
            };
            rows.push(OverrideRow {
                line: i + 1,
                user: user.clone(),
                group,
                percent: share.percent.map(|p| p.to_string()).unwrap_or_default(),
            });
        }
    }
    Ok(rows)
}

/// The change as the store takes it: by the caller, a dry run only when asked for.
fn bulk_request(
    ctx: &Context<'_>,
    tenant_id: TenantId,
    dry_run: Option<bool>,
    effective_from: Option<Date>,
) -> BulkRequest {
    BulkRequest {
        tenant_id,
        actor: actor(ctx),
        effective_from: effective_from.map(|d| d.0),
        dry_run: dry_run.unwrap_or(false),
    }
}

/// Bulk mutations of overrides and cost groups.
#[derive(Default)]
pub struct BulkMutation;

#[Object]
impl BulkMutation {
    /// Sets (or, with an empty share list, removes) the overrides of many users at once,
    /// as `setUserAllocation` does for one. Every item is checked first; when one is rejected
    /// (an unknown user or group, shares not summing to 100, …) nothing is written and each
    /// rejected item is listed with its position from 1 and the reason; otherwise all apply in
    /// one transaction, audited as one `setUserAllocations` change with its count. With
    /// `dryRun: true` (false when omitted or null) nothing is written: the answer says what would change. At most 50,000
    /// entries; needs `allocator` or `partner_admin`. `effectiveFrom` as for
    /// `setUserAllocation`.
    async fn set_user_allocations(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        items: Vec<UserAllocationItemInput>,
        dry_run: Option<bool>,
        effective_from: Option<Date>,
    ) -> ApiResult<SetUserAllocationsResult> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        check_size(items.len())?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant_id)).await?;
        let rows = override_rows(items)?;
        check_size(rows.len())?;
        let l = loaders(ctx)?;
        let request = bulk_request(ctx, tenant_id, dry_run, effective_from);
        let outcome = store::allocation::set_overrides(&l.store, &l.scope, request, &rows).await?;
        Ok(SetUserAllocationsResult::of(
            &outcome,
            dry_run.unwrap_or(false),
        ))
    }

    /// Creates cost groups, or updates those whose code the tenant has, many at once; a parent
    /// is named by code and may be a group of the same list. Checked, applied all or none,
    /// audited as one `createCostGroups` change and dry-run as `setUserAllocations` is.
    async fn create_cost_groups(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        items: Vec<CostGroupItemInput>,
        dry_run: Option<bool>,
        effective_from: Option<Date>,
    ) -> ApiResult<CreateCostGroupsResult> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        check_size(items.len())?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant_id)).await?;
        let rows: Vec<CostGroupRow> = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| CostGroupRow {
                line: i + 1,
                code: item.code,
                name: item.name,
                parent_code: item.parent_code.unwrap_or_default(),
                description: item.description.unwrap_or_default(),
            })
            .collect();
        let l = loaders(ctx)?;
        let request = bulk_request(ctx, tenant_id, dry_run, effective_from);
        let outcome =
            store::allocation::set_cost_groups(&l.store, &l.scope, request, &rows).await?;
        Ok(CreateCostGroupsResult::of(
            &outcome,
            dry_run.unwrap_or(false),
        ))
    }
}
