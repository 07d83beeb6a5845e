//! `Tenant`: a customer tenant with its users, SKUs, license totals and cost groups.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Lookahead, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::connection::{UserConnection, counts_of, user_connection};
use super::cost_report::{CostReportObject, report_of};
use super::user::DETAIL_FIELDS;
use super::{
    AllocationRuleObject, CommerceSubscriptionObject, CostGroupObject, ImportStatusObject,
    LicensePriceObject, SkuBilling, SubscriptionObject, loaders,
};
use std::collections::{HashMap, HashSet};

use crate::domain::{
    BillingSet, Consumption, CostGroupId, SkuId, Tenant, TenantCounts, TenantId, UserFilter,
    UserId, UserSort, UserSortField, UserSummary,
};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::ids::parse_id;
use crate::graphql::loaders::{
    KeptUserPage, LoadedUserPage, PageRelations, ReadAhead, UserPageKey,
};
use crate::graphql::pagination;
use crate::store::users::{UserListQuery, UserParent};

/// Which users `Tenant.users` returns. Text matches ignore case.
#[derive(InputObject, Default)]
pub struct UserFilterInput {
    /// Part of the display name, user principal name or mail.
    pub search: Option<String>,
    /// Exact department.
    pub department: Option<String>,
    /// Exact user type: `Member` or `Guest`.
    pub user_type: Option<String>,
    /// Only users holding a license of this SKU (GUID).
    pub sku_id: Option<ID>,
    /// Only users placed (wholly or partly) in this cost group (GUID) by an override or a rule.
    pub cost_group_id: Option<ID>,
    /// `true`: only users placed in no cost group; `false`: only users placed in one or more.
    pub unallocated: Option<bool>,
    /// `true`: only users with a license assignment in error (state `Error` or
    /// `ActiveWithError`, or an `error` such as `CountViolation`), including failed group
    /// assignments of SKUs they do not hold; `false`: only users without one.
    pub license_error: Option<bool>,
    /// `true`: only users holding a license only through groups (assigned by a group, not
    /// directly): of `skuId` when given, else of any SKU; `false`: the other users.
    pub only_through_group: Option<bool>,
    /// Only users license optimization finds today (UTC) for any of these kinds (see
    /// `Tenant.optimization`); `User.waste` gives each one's monthly saving. An empty list
    /// matches nobody. Refused with `asOf`.
    pub waste: Option<Vec<super::optimization::WasteKind>>,
    /// Include users deleted upstream (soft-deleted). Default false.
    #[graphql(default)]
    pub include_deleted: bool,
}

impl UserFilterInput {
    fn into_domain(self) -> ApiResult<UserFilter> {
        let sku_id = self
            .sku_id
            .map(|id| id.parse::<SkuId>())
            .transpose()
            .map_err(|e| ApiError::BadUserInput(format!("filter.skuId: {e}")))?;
        let cost_group_id = self
            .cost_group_id
            .map(|id| parse_id::<CostGroupId>("filter.costGroupId", &id))
            .transpose()?;
        Ok(UserFilter {
            search: self.search,
            department: self.department,
            user_type: self.user_type,
            sku_id,
            cost_group_id,
            unallocated: self.unallocated,
            license_error: self.license_error,
            only_through_group: self.only_through_group,
            user_ids: None,
            include_deleted: self.include_deleted,
        })
    }
}

/// Column a user list is sorted by; ties are broken by id.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum UserOrderField {
    /// Display name.
    #[default]
    DisplayName,
    /// User principal name.
    UserPrincipalName,
}

/// Sort direction.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum OrderDirection {
    /// Ascending.
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// The order of a user list.
#[derive(InputObject, Default)]
pub struct UserOrder {
    /// Sort column.
    #[graphql(default)]
    pub field: UserOrderField,
    /// Direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl UserOrder {
    fn into_domain(self) -> UserSort {
        UserSort {
            field: match self.field {
                UserOrderField::DisplayName => UserSortField::DisplayName,
                UserOrderField::UserPrincipalName => UserSortField::UserPrincipalName,
            },
            descending: self.direction == OrderDirection::Desc,
        }
    }
}

/// License totals over a tenant's user-assignable SKUs (tenant-level `Company` SKUs excluded).
#[derive(SimpleObject)]
pub struct ConsumptionObject {
    /// Purchased licenses: prepaid enabled plus warning units.
    pub purchased: i64,
    /// Assigned licenses.
    pub assigned: i64,
    /// Purchased minus assigned, summed per SKU; negative when over-assigned.
    pub unassigned: i64,
    /// SKUs with more licenses assigned than purchased.
    pub over_assigned_skus: i64,
}

impl From<Consumption> for ConsumptionObject {
    fn from(c: Consumption) -> Self {
        ConsumptionObject {
            purchased: c.purchased,
            assigned: c.assigned,
            unassigned: c.unassigned,
            over_assigned_skus: c.over_assigned_skus,
        }
    }
}

/// A tenant's user and license counts, as its last import commit kept them.
#[derive(SimpleObject)]
#[graphql(name = "TenantCounts")]
pub struct TenantCountsObject {
    /// Users present upstream (soft-deleted users not counted); the same as `Tenant.userCount`.
    pub users: u64,
    /// Present users of user type `Member`.
    pub members: u64,
    /// Present users of user type `Guest`.
    pub guests: u64,
    /// Present users whose account is enabled (`accountEnabled` true).
    pub enabled_users: u64,
    /// Users deleted upstream (soft-deleted, still stored).
    pub deleted_users: u64,
    /// Every stored user: present and deleted (`users(filter: { includeDeleted: true })`).
    pub all_users: u64,
    /// Licenses held by present users (one per user and SKU held).
    pub licenses: u64,
}

impl From<TenantCounts> for TenantCountsObject {
    fn from(c: TenantCounts) -> Self {
        TenantCountsObject {
            users: c.users,
            members: c.members,
            guests: c.guests,
            enabled_users: c.enabled,
            deleted_users: c.deleted,
            all_users: c.all_users(),
            licenses: c.licenses,
        }
    }
}

/// Loads one page of a user list and wraps it as a connection.
pub(crate) async fn user_list(
    ctx: &Context<'_>,
    parent: UserParent,
    filter: UserFilter,
    sort: UserSort,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<UserConnection> {
    let cursors = pagination::cursor_keys(ctx)?;
    let page = cursors.page_request(sort.tag(), first, after)?;
    let has_previous = page.after.is_some();
    let filter = Arc::new(filter);
    let look = ctx.look_ahead();
    let key = UserPageKey {
        parent,
        query: Arc::new(UserListQuery {
            filter: (*filter).clone(),
            sort,
            page,
            with_managers: node_selects(&look, &["manager"]),
        }),
    };
    // A selection of `totalCount` alone reads no page (the tenant list's SKU holders).
    let wants_page = ["edges", "nodes", "pageInfo"]
        .iter()
        .any(|field| look.field(field).exists());
    let l = loaders(ctx)?;
    let ahead = read_ahead(&look);
    let shared = l.reads.as_ref().filter(|_| wants_page);
    let found = match shared {
        Some(reads) => reads.user_page(&key, ahead).await,
        None => None,
    };
    let kept = match found {
        Some(kept) => kept,
        None => {
            let loaded = if wants_page {
                l.user_pages
                    .load_one(key.clone())
                    .await?
                    .unwrap_or_default()
            } else {
                LoadedUserPage::default()
            };
            let managers = key.query.with_managers.then_some(&loaded.managers);
            let relations = read_page_relations(ctx, &loaded.page.items, managers, ahead).await?;
            let read = KeptUserPage { loaded, relations };
            if let Some(reads) = shared {
                reads.keep_user_page(key, ahead, read.clone()).await;
            }
            read
        }
    };
    Ok(user_connection(
        kept.loaded.page,
        kept.relations,
        parent,
        filter,
        sort,
        has_previous,
        cursors,
    ))
}

/// Whether the selection asks for `path` of each user of a connection (under `edges.node` or
/// `nodes`).
fn node_selects(look: &Lookahead<'_>, path: &[&str]) -> bool {
    [look.field("edges").field("node"), look.field("nodes")]
        .iter()
        .any(|node| {
            let mut selection = node.field(path[0]);
            for name in &path[1..] {
                selection = selection.field(name);
            }
            selection.exists()
        })
}

/// Which relations of each user of a connection the selection asks for.
fn read_ahead(look: &Lookahead<'_>) -> ReadAhead {
    let selects = |path: &[&str]| node_selects(look, path);
    ReadAhead {
        details: DETAIL_FIELDS.iter().any(|field| selects(&[field])),
        managers: selects(&["manager"]),
        licenses: selects(&["licenses"]),
        subscriptions: selects(&["licenses", "subscription"]),
        assignments: selects(&["licenseAssignments"]) || selects(&["licenses", "assignedBy"]),
        allocations: selects(&["allocation"]),
    }
}

/// Reads what the selection asks of every user on a page (manager, licenses, their SKUs, license
/// assignments, allocation) with one `load_many` per relation, so that each user's field then
/// finds its value in [`PageRelations`] instead of waiting on a batch of its own or asking a
/// loader per user. The statements are the same ones the per-user fields would batch into, and
/// go through the request's loaders, so the rest of the request shares their rows. `managers`
/// are the page's managers when its statement read them: they are handed to the user loader
/// instead of being read again.
async fn read_page_relations(
    ctx: &Context<'_>,
    users: &[Arc<UserSummary>],
    managers: Option<&HashMap<UserId, Arc<UserSummary>>>,
    ahead: ReadAhead,
) -> ApiResult<Arc<PageRelations>> {
    if users.is_empty() {
        return Ok(Arc::default());
    }
    let l = loaders(ctx)?;
    let details = async {
        if !ahead.details {
            return Ok(None);
        }
        Ok::<_, ApiError>(Some(
            l.user_details.load_many(users.iter().map(|u| u.id)).await?,
        ))
    };
    let managers = async {
        if !ahead.managers {
            return Ok(None);
        }
        if let Some(found) = managers {
            l.user
                .feed_many(found.iter().map(|(id, m)| (*id, m.clone())))
                .await;
            return Ok(Some(found.clone()));
        }
        let ids: HashSet<UserId> = users.iter().filter_map(|u| u.manager_id).collect();
        Ok::<_, ApiError>(Some(l.user.load_many(ids).await?))
    };
    let licenses = async {
        if !ahead.licenses {
            return Ok((None, None));
        }
        let found = l.licenses.load_many(users.iter().map(|u| u.id)).await?;
        let mut subscriptions = None;
        if ahead.subscriptions {
            let skus: HashSet<(TenantId, SkuId)> = found
                .values()
                .flatten()
                .map(|license| (license.tenant_id, license.sku_id))
                .collect();
            subscriptions = Some(l.subscription.load_many(skus).await?);
        }
        Ok::<_, ApiError>((Some(found), subscriptions))
    };
    let assignments = async {
        if !ahead.assignments {
            return Ok(None);
        }
        Ok::<_, ApiError>(Some(
            l.license_assignments
                .load_many(users.iter().map(|u| u.id))
                .await?,
        ))
    };
    let allocations = async {
        if !ahead.allocations {
            return Ok(None);
        }
        Ok::<_, ApiError>(Some(
            l.allocation.load_many(users.iter().map(|u| u.id)).await?,
        ))
    };
    let (details, managers, (licenses, subscriptions), assignments, allocations) =
        futures_util::try_join!(details, managers, licenses, assignments, allocations)?;
    Ok(Arc::new(PageRelations {
        details,
        managers,
        licenses,
        subscriptions,
        assignments,
        allocations,
    }))
}

/// A CSP customer's Microsoft 365 tenant.
pub struct TenantObject(pub Arc<Tenant>);

#[Object(name = "Tenant")]
impl TenantObject {
    /// Entra tenant id (GUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Partner Center customer id.
    async fn customer_id(&self) -> Option<&str> {
        self.0.customer_id.as_deref()
    }

    /// Company name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Default domain, e.g. `contoso.onmicrosoft.com`.
    async fn default_domain(&self) -> Option<&str> {
        self.0.default_domain.as_deref()
    }

    /// When the tenant was first stored.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the tenant's row last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// End of the last successful import.
    async fn last_import_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_import_at
    }

    /// The tenant's users, a page at a time (`first` defaults to 50, at most 500). With `asOf`,
    /// the users as they were on that day, each in the version then in force (none before the
    /// tenant's first import); the filters on licenses, license assignments and allocation are
    /// refused with it, and the users' relations (`licenses`, `allocation`, `manager`'s fields)
    /// are today's.
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<UserFilterInput>,
        order_by: Option<UserOrder>,
        as_of: Option<super::Date>,
    ) -> ApiResult<UserConnection> {
        let mut filter_input = filter.unwrap_or_default();
        let waste = filter_input.waste.take();
        let mut filter = filter_input.into_domain()?;
        let sort = order_by.unwrap_or_default().into_domain();
        if let Some(kinds) = waste {
            if as_of.is_some() {
                return Err(ApiError::BadUserInput(
                    "filter.waste lists today's findings and cannot be combined with asOf"
                        .to_owned(),
                ));
            }
            filter.user_ids =
                Some(super::optimization::users_with_waste(ctx, self.0.id, &kinds).await?);
        }
        if let Some(day) = as_of {
            return super::user_history::users_as_of(
                ctx, self.0.id, day.0, filter, sort, first, after,
            )
            .await;
        }
        user_list(
            ctx,
            UserParent::Tenant(self.0.id),
            filter,
            sort,
            first,
            after,
        )
        .await
    }

    /// Number of users present upstream (soft-deleted users not counted). Kept at each import
    /// commit, as `counts`.
    async fn user_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(counts_of(ctx, self.0.id).await?.users)
    }

    /// The tenant's user and license counts, kept at each import commit in its transaction
    /// (reading them costs the same whatever the tenant's size); zeros before the first import.
    async fn counts(&self, ctx: &Context<'_>) -> ApiResult<TenantCountsObject> {
        Ok(counts_of(ctx, self.0.id).await?.into())
    }

    /// The tenant's subscribed SKUs, by part number.
    async fn subscriptions(&self, ctx: &Context<'_>) -> ApiResult<Vec<SubscriptionObject>> {
        let subs = loaders(ctx)?
            .subscriptions
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(subs.into_iter().map(SubscriptionObject).collect())
    }

    /// Purchased, assigned and unassigned licenses over the tenant's user SKUs that are billed
    /// as one of `billing` (by default `PARTNER` and `OTHER`: seats someone pays for, so a free
    /// SKU's 10,000 units do not count as unassigned licenses).
    async fn consumption(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "vec![SkuBilling::Partner, SkuBilling::Other]")] billing: Vec<
            SkuBilling,
        >,
    ) -> ApiResult<ConsumptionObject> {
        let subs = loaders(ctx)?
            .subscriptions
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        let wanted: BillingSet = billing.into_iter().map(Into::into).collect();
        Ok(Consumption::of(
            subs.iter()
                .map(|s| s.as_ref())
                .filter(|s| wanted.contains(s.billing)),
        )
        .into())
    }

    /// Each SKU's purchased, assigned, unassigned and suspended licenses as the imports observed
    /// them, day by day (or month by month) over `from..=to` (at most 400 days by day, 120
    /// months by month; days after today are left out). Only SKUs billed as in `billing` (their
    /// billing at the end of the range; `PARTNER` and `OTHER` by default), as for `consumption`.
    async fn consumption_history(
        &self,
        ctx: &Context<'_>,
        from: super::Date,
        to: super::Date,
        #[graphql(default_with = "super::history::HistoryGranularity::Day")]
        granularity: super::history::HistoryGranularity,
        #[graphql(default_with = "vec![SkuBilling::Partner, SkuBilling::Other]")] billing: Vec<
            SkuBilling,
        >,
    ) -> ApiResult<Vec<super::history::SkuConsumptionHistoryObject>> {
        let billing: BillingSet = billing.into_iter().map(Into::into).collect();
        super::history::consumption_history(ctx, self.0.id, from, to, granularity, billing).await
    }

    /// What the imports saw happen to the tenant's users and licenses over `from..=to` (at most
    /// 400 days): licenses assigned and removed, users added, removed, restored and changed,
    /// each with its date and the import run that saw it; by date, user, kind, then SKU.
    async fn license_changes(
        &self,
        ctx: &Context<'_>,
        from: super::Date,
        to: super::Date,
        filter: Option<super::license_change::LicenseChangeFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<super::license_change::LicenseChangeConnection> {
        super::license_change::license_changes(ctx, self.0.id, from, to, filter, first, after).await
    }

    /// The customer's commerce subscriptions from Partner Center, by offer name.
    async fn commerce_subscriptions(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<CommerceSubscriptionObject>> {
        Ok(loaders(ctx)?
            .commerce
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(CommerceSubscriptionObject)
            .collect())
    }

    /// The tenant's cost groups (all levels), by name.
    async fn cost_groups(&self, ctx: &Context<'_>) -> ApiResult<Vec<CostGroupObject>> {
        let groups = loaders(ctx)?
            .cost_groups
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(groups.into_iter().map(CostGroupObject).collect())
    }

    /// The tenant's license prices, the whole history, by SKU then `effectiveFrom`; only those
    /// of `skuId` when given.
    async fn license_prices(
        &self,
        ctx: &Context<'_>,
        sku_id: Option<ID>,
    ) -> ApiResult<Vec<LicensePriceObject>> {
        let sku_id = sku_id
            .map(|id| parse_id::<SkuId>("skuId", &id))
            .transpose()?;
        let prices = loaders(ctx)?
            .prices
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(prices
            .into_iter()
            .filter(|p| sku_id.is_none_or(|sku| p.price.sku_id() == sku))
            .map(LicensePriceObject)
            .collect())
    }

    /// The monthly license cost on `asOf` (default: today, UTC) per cost group, plus
    /// `unallocated` and `unassigned`, from the stored allocation. `unassigned` counts the idle
    /// seats of SKUs billed as in `unassignedBilling`: by default `PARTNER` and `OTHER`, since
    /// idle seats of free and trial SKUs cost nothing.
    async fn cost_report(
        &self,
        ctx: &Context<'_>,
        as_of: Option<super::Date>,
        #[graphql(default_with = "vec![SkuBilling::Partner, SkuBilling::Other]")]
        unassigned_billing: Vec<SkuBilling>,
    ) -> ApiResult<CostReportObject> {
        let unassigned = unassigned_billing.into_iter().map(Into::into).collect();
        Ok(CostReportObject {
            tenant_id: self.0.id,
            dated: report_of(ctx, self.0.id, as_of.map(|d| d.0), unassigned).await?,
        })
    }

    /// The licenses the tenant pays for and could stop paying for on `asOf` (today, UTC, by
    /// default): disabled accounts, inactive users, guests and redundant SKUs holding paid
    /// licenses, and idle seats, each priced per month with the prices in force on `asOf`,
    /// with totals by kind and by cost group. `CONFLICT` when those prices are in more than one
    /// currency.
    async fn optimization(
        &self,
        ctx: &Context<'_>,
        as_of: Option<super::Date>,
    ) -> ApiResult<super::optimization::OptimizationObject> {
        Ok(super::optimization::OptimizationObject {
            tenant_id: self.0.id,
            data: super::optimization::optimization_of(ctx, self.0.id, as_of.map(|d| d.0)).await?,
        })
    }

    /// The tenant's own webhook endpoint, if one is set (`setTenantWebhook`).
    async fn webhook(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<super::alert::TenantWebhookObject>> {
        let l = loaders(ctx)?;
        Ok(
            crate::store::alerts::find_tenant_webhooks(&l.store, &[self.0.id])
                .await?
                .remove(&self.0.id)
                .map(super::alert::TenantWebhookObject),
        )
    }

    /// Webhook deliveries of the tenant's alerts, newest alert first, each with every attempt:
    /// at most `first` (1 to 500), of alerts numbered below `beforeSequence` when given (the
    /// last one's `alert.sequence` pages on), with `status` when given. Read for one tenant at a
    /// time.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        status: Option<super::alert::WebhookDeliveryStatus>,
        #[graphql(default = 50)] first: i32,
        before_sequence: Option<i64>,
    ) -> ApiResult<Vec<super::alert::WebhookDeliveryObject>> {
        if !(1..=500).contains(&first) {
            return Err(ApiError::BadUserInput(format!(
                "first must be 1 to 500, got {first}"
            )));
        }
        let l = loaders(ctx)?;
        Ok(crate::store::alerts::list_deliveries(
            &l.store,
            self.0.id,
            status.map(Into::into),
            before_sequence,
            first as u64,
        )
        .await?
        .into_iter()
        .map(super::alert::WebhookDeliveryObject)
        .collect())
    }

    /// The monthly chargeback of `month` (`YYYY-MM`), prorated by day: each license's days,
    /// priced by the price in force each day, to the cost groups its user was in each day; as
    /// stored while the month is closed. Days before the tenant's first import and after today
    /// (UTC) are not billed (`firstDay`/`lastDay` null when none is). `BAD_USER_INPUT` for a
    /// month not written `YYYY-MM`; `CONFLICT` when the month's prices are in more than one
    /// currency.
    async fn chargeback(
        &self,
        ctx: &Context<'_>,
        month: String,
    ) -> ApiResult<super::chargeback::ChargebackObject> {
        super::chargeback::chargeback_of(ctx, self.0.id, &month)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("tenant {} not found", self.0.id)))
    }

    /// The allocation changes made for a day after today (UTC), not in force yet: audit entries
    /// by `effectiveFrom`, then as made. Each takes effect at the tenant's first evaluation on
    /// or after its day (an import, an allocation change, or the hourly check).
    async fn scheduled_allocation_changes(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<super::audit::AuditEntryObject>> {
        let entries = loaders(ctx)?
            .scheduled_changes
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(entries
            .into_iter()
            .map(|e| super::audit::AuditEntryObject(Arc::unwrap_or_clone(e)))
            .collect())
    }

    /// The tenant's allocation rules in priority order: the first enabled rule whose conditions
    /// all hold places a user.
    async fn allocation_rules(&self, ctx: &Context<'_>) -> ApiResult<Vec<AllocationRuleObject>> {
        let rules = loaders(ctx)?
            .rules_of_tenant
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(rules.into_iter().map(AllocationRuleObject).collect())
    }

    /// What each of the tenant's rules does (users matched and placed, unreachable, shadowed or
    /// overlapping rules) and the most common attribute values of its unallocated users, as of
    /// the last evaluation (kept up to date by every import and allocation change).
    async fn allocation_diagnostics(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<super::diagnostics::AllocationDiagnosticsObject> {
        let found = super::diagnostics::tenant_diagnostics(ctx, self.0.id).await?;
        Ok(super::diagnostics::AllocationDiagnosticsObject::stored(
            found.unwrap_or_default(),
        ))
    }

    /// How the tenant's imports stand: last run, its failure reason and remediation, and the
    /// last successful run.
    async fn import_status(&self, ctx: &Context<'_>) -> ApiResult<ImportStatusObject> {
        let runs = loaders(ctx)?
            .import_status
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(ImportStatusObject(runs))
    }
}
