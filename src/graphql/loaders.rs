//! DataLoaders, created per request: each relation is fetched in one SQL statement per request,
//! whatever the page size. A query operation's loaders also take tenants, their counts and
//! subscriptions, user list counts and pages of users from the reads kept across requests at
//! the store's data version ([`SharedReads`], [`crate::graphql::read_cache`]); nothing else is
//! shared between callers.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use chrono::{DateTime, NaiveDate, Utc};
use tracing::Instrument;

use crate::domain::allocation::{AllocationRuleEntry, CostReport, UserAllocation};
use crate::domain::budget::Budget;
use crate::domain::chargeback::Month;
use crate::domain::history::LicenseHolding;
use crate::domain::optimization::{
    Optimization, SignInActivity, SignInAvailability, WasteSettings, optimize,
};
use crate::domain::user_version::UserVersion;
use crate::domain::{
    AllocationRuleId, AssignedLicense, BillingSet, CommerceSubscription, CostGroup, CostGroupId,
    LicenseAssignment, Page, PageRequest, ServicePlan, SkuId, Subscription, Tenant, TenantCounts,
    TenantId, TenantScope, UserDetails, UserFilter, UserId, UserSummary,
};
use crate::graphql::error::ApiError;
use crate::graphql::read_cache::{RequestVersion, Versioned};
use crate::metrics::Metrics;
use crate::store::allocation::{self, PriceEntry};
use crate::store::chargeback::{self, MonthCharge};
use crate::store::history;
use crate::store::history::sku_counts::{self, SkuHistory};
use crate::store::import_queries::{self, TenantRuns};
use crate::store::members::{self, CostGroupMember};
use crate::store::users::{UserListQuery, UserParent};
use crate::store::{
    Store, StoreError, aggregates, commerce, license_assignments, licenses, sign_ins,
    subscriptions, tenants, users,
};

/// Errors are shared between every caller waiting on a batch.
pub type LoadError = Arc<StoreError>;

/// What every loader of one request holds.
#[derive(Clone)]
pub struct Source {
    store: Store,
    scope: TenantScope,
    metrics: Arc<Metrics>,
    reads: Option<Arc<RequestReads>>,
}

impl Source {
    /// Records a batch of `keys` of `loader`, about to read the store. A query operation reads
    /// the store's data version first, once, so that every row its loaders hold was read after
    /// the version its kept reads are kept under.
    async fn batch(&self, loader: &'static str, keys: usize) {
        self.metrics.record_batch(loader, keys);
        if let Some(reads) = &self.reads {
            reads.version.get().await;
        }
    }

    /// The values of `keys`: from the reads kept across requests that `pick` chooses (named
    /// `read` in the metrics) where this request may use them and they are kept at its
    /// version, the others from `load`, which are then kept (about `weigh(key, value)` bytes
    /// each).
    async fn through<K, V, Fut>(
        &self,
        pick: fn(&SharedReads) -> &Versioned<K, V>,
        read: &'static str,
        weigh: fn(&K, &V) -> u64,
        keys: &[K],
        load: impl FnOnce(Vec<K>) -> Fut,
    ) -> Result<HashMap<K, V>, LoadError>
    where
        K: Eq + std::hash::Hash + Clone,
        V: Clone,
        Fut: std::future::Future<Output = Result<HashMap<K, V>, LoadError>>,
    {
        let Some(reads) = &self.reads else {
            return load(keys.to_vec()).await;
        };
        let Some(version) = reads.version.get().await else {
            return load(keys.to_vec()).await;
        };
        let kept = pick(&reads.shared);
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        for key in keys {
            let value = kept.get(key, version);
            self.metrics.record_read_cache(read, value.is_some());
            match value {
                Some(value) => {
                    found.insert(key.clone(), value);
                }
                None => missing.push(key.clone()),
            }
        }
        if !missing.is_empty() {
            for (key, value) in load(missing).await? {
                let bytes = weigh(&key, &value);
                kept.insert(key.clone(), version.clone(), value.clone(), bytes);
                found.insert(key, value);
            }
        }
        Ok(found)
    }
}

fn index_by<K, V>(values: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, Arc<V>>
where
    K: std::hash::Hash + Eq,
{
    values.into_iter().map(|v| (key(&v), Arc::new(v))).collect()
}

fn group_by<K, V>(keys: &[K], values: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, Vec<Arc<V>>>
where
    K: std::hash::Hash + Eq + Clone,
{
    let mut groups: HashMap<K, Vec<Arc<V>>> =
        keys.iter().map(|k| (k.clone(), Vec::new())).collect();
    for value in values {
        groups.entry(key(&value)).or_default().push(Arc::new(value));
    }
    groups
}

macro_rules! loader {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name(Source);
    };
}

loader!(
    /// Tenants by id, within the request's scope.
    TenantById
);
impl Loader<TenantId> for TenantById {
    type Value = Arc<Tenant>;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, Arc<Tenant>>, LoadError> {
        self.0.batch("tenant_by_id", keys.len()).await;
        let load = |keys: Vec<TenantId>| async move {
            let rows = tenants::find_tenants(&self.0.store, &self.0.scope, &keys).await?;
            Ok(index_by(rows, |t| t.id))
        };
        // Out of scope is unknown, before anything kept is looked at.
        let keys: Vec<TenantId> = keys
            .iter()
            .copied()
            .filter(|&id| self.0.scope.allows(id))
            .collect();
        self.0
            .through(|s| &s.tenants, "tenant", |_, _| 1_024, &keys, load)
            .await
    }
}

loader!(
    /// User summaries by id, within the request's scope.
    UserById
);
impl Loader<UserId> for UserById {
    type Value = Arc<UserSummary>;
    type Error = LoadError;
    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Arc<UserSummary>>, LoadError> {
        self.0.batch("user_by_id", keys.len()).await;
        let rows = users::find_user_summaries(&self.0.store, &self.0.scope, keys).await?;
        Ok(index_by(rows, |u| u.id))
    }
}

loader!(
    /// The columns beyond a [`UserSummary`] of users by id, within the request's scope: for the
    /// fields a summary lacks.
    UserDetailsById
);
impl Loader<UserId> for UserDetailsById {
    type Value = Arc<UserDetails>;
    type Error = LoadError;
    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Arc<UserDetails>>, LoadError> {
        self.0.batch("user_details_by_id", keys.len()).await;
        let rows = users::find_user_details(&self.0.store, &self.0.scope, keys).await?;
        Ok(index_by(rows, |u| u.id))
    }
}

loader!(
    /// Assigned licenses of each user.
    LicensesOfUser
);
impl Loader<UserId> for LicensesOfUser {
    type Value = Vec<Arc<AssignedLicense>>;
    type Error = LoadError;
    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Self::Value>, LoadError> {
        self.0.batch("licenses_of_user", keys.len()).await;
        let rows = licenses::list_licenses_of_users(&self.0.store, keys).await?;
        Ok(group_by(keys, rows, |l| l.user_id))
    }
}

loader!(
    /// How each user's licenses are assigned, failed assignments included, in upstream order.
    LicenseAssignmentsOfUser
);
impl Loader<UserId> for LicenseAssignmentsOfUser {
    type Value = Vec<Arc<LicenseAssignment>>;
    type Error = LoadError;
    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Self::Value>, LoadError> {
        self.0
            .batch("license_assignments_of_user", keys.len())
            .await;
        let rows =
            license_assignments::list_license_assignments_of_users(&self.0.store, keys).await?;
        Ok(group_by(keys, rows, |a| a.user_id))
    }
}

loader!(
    /// Every license each user held, now and before, by SKU then first day.
    LicenseHistoryOfUser
);
impl Loader<UserId> for LicenseHistoryOfUser {
    type Value = Vec<Arc<LicenseHolding>>;
    type Error = LoadError;
    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Self::Value>, LoadError> {
        self.0.batch("license_history_of_user", keys.len()).await;
        let rows = history::licenses::list_license_history(&self.0.store, keys).await?;
        Ok(group_by(keys, rows, |h| h.user_id))
    }
}

loader!(
    /// Every version of each user, newest first, within the request's scope.
    UserVersionsOfUser
);
impl Loader<UserId> for UserVersionsOfUser {
    type Value = Vec<Arc<UserVersion>>;
    type Error = LoadError;
    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Self::Value>, LoadError> {
        self.0.batch("user_versions_of_user", keys.len()).await;
        let rows =
            history::user_versions::list_user_versions(&self.0.store, &self.0.scope, keys).await?;
        Ok(group_by(keys, rows, |v| v.user.id))
    }
}

loader!(
    /// Subscribed SKUs by (tenant, SKU), within the request's scope.
    SubscriptionByKey
);
impl Loader<(TenantId, SkuId)> for SubscriptionByKey {
    type Value = Arc<Subscription>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[(TenantId, SkuId)],
    ) -> Result<HashMap<(TenantId, SkuId), Arc<Subscription>>, LoadError> {
        self.0.batch("subscription_by_key", keys.len()).await;
        let rows = subscriptions::find_subscriptions(&self.0.store, &self.0.scope, keys).await?;
        Ok(index_by(rows, |s| (s.tenant_id, s.sku_id)))
    }
}

loader!(
    /// Subscribed SKUs of each tenant.
    SubscriptionsOfTenant
);
impl Loader<TenantId> for SubscriptionsOfTenant {
    type Value = Vec<Arc<Subscription>>;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, Self::Value>, LoadError> {
        self.0.batch("subscriptions_of_tenant", keys.len()).await;
        let load = |keys: Vec<TenantId>| async move {
            let rows = subscriptions::list_subscriptions_of_tenants(&self.0.store, &keys).await?;
            Ok(group_by(&keys, rows, |s| s.tenant_id))
        };
        let weigh = |_: &TenantId, subs: &Self::Value| 512 * subs.len() as u64;
        self.0
            .through(|s| &s.subscriptions, "subscriptions", weigh, keys, load)
            .await
    }
}

loader!(
    /// Each tenant's user and license counts, as its last import commit kept them (zeros for a
    /// tenant never imported): one row per tenant, whatever its users.
    CountsOfTenant
);
impl Loader<TenantId> for CountsOfTenant {
    type Value = TenantCounts;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, TenantCounts>, LoadError> {
        self.0.batch("counts_of_tenant", keys.len()).await;
        let load = |keys: Vec<TenantId>| async move {
            let mut found = aggregates::find_tenant_counts(&self.0.store, &keys).await?;
            Ok(keys
                .iter()
                .map(|k| (*k, found.remove(k).unwrap_or_default()))
                .collect())
        };
        self.0
            .through(|s| &s.counts, "counts", |_, _| 128, keys, load)
            .await
    }
}

loader!(
    /// How many present users hold each SKU (tenant and SKU), as the last import commit kept it.
    HoldersOfSku
);
impl Loader<(TenantId, SkuId)> for HoldersOfSku {
    type Value = u64;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[(TenantId, SkuId)],
    ) -> Result<HashMap<(TenantId, SkuId), u64>, LoadError> {
        self.0.batch("holders_of_sku", keys.len()).await;
        let load = |keys: Vec<(TenantId, SkuId)>| async move {
            let mut found = aggregates::find_sku_holders(&self.0.store, &keys).await?;
            Ok(keys
                .iter()
                .map(|k| (*k, found.remove(k).unwrap_or(0)))
                .collect())
        };
        self.0
            .through(|s| &s.sku_holders, "sku_holders", |_, _| 0, keys, load)
            .await
    }
}

loader!(
    /// Commerce subscriptions of each tenant.
    CommerceOfTenant
);
impl Loader<TenantId> for CommerceOfTenant {
    type Value = Vec<Arc<CommerceSubscription>>;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, Self::Value>, LoadError> {
        self.0.batch("commerce_of_tenant", keys.len()).await;
        let rows = commerce::list_commerce_subscriptions_of_tenants(&self.0.store, keys).await?;
        Ok(group_by(keys, rows, |s| s.tenant_id))
    }
}

loader!(
    /// Commerce subscriptions by Partner Center id, within the request's scope.
    CommerceById
);
impl Loader<String> for CommerceById {
    type Value = Arc<CommerceSubscription>;
    type Error = LoadError;
    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, LoadError> {
        self.0.batch("commerce_by_id", keys.len()).await;
        let rows =
            commerce::find_commerce_subscriptions(&self.0.store, &self.0.scope, keys).await?;
        Ok(index_by(rows, |s| s.id.clone()))
    }
}

loader!(
    /// Service plans of each subscribed SKU.
    PlansOfSubscription
);
impl Loader<(TenantId, SkuId)> for PlansOfSubscription {
    type Value = Vec<Arc<ServicePlan>>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[(TenantId, SkuId)],
    ) -> Result<HashMap<(TenantId, SkuId), Self::Value>, LoadError> {
        self.0.batch("plans_of_subscription", keys.len()).await;
        let rows = subscriptions::list_service_plans(&self.0.store, keys).await?;
        Ok(group_by(keys, rows, |p| (p.tenant_id, p.sku_id)))
    }
}

loader!(
    /// Cost groups by id, within the request's scope.
    CostGroupById
);
impl Loader<CostGroupId> for CostGroupById {
    type Value = Arc<CostGroup>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[CostGroupId],
    ) -> Result<HashMap<CostGroupId, Arc<CostGroup>>, LoadError> {
        self.0.batch("cost_group_by_id", keys.len()).await;
        let rows = allocation::find_cost_groups(&self.0.store, &self.0.scope, keys).await?;
        Ok(index_by(rows, |g| g.id))
    }
}

loader!(
    /// Cost groups of each tenant.
    CostGroupsOfTenant
);
impl Loader<TenantId> for CostGroupsOfTenant {
    type Value = Vec<Arc<CostGroup>>;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, Self::Value>, LoadError> {
        self.0.batch("cost_groups_of_tenant", keys.len()).await;
        let rows = allocation::list_cost_groups_of_tenants(&self.0.store, keys).await?;
        Ok(group_by(keys, rows, |g| g.tenant_id))
    }
}

loader!(
    /// Child cost groups of each cost group.
    ChildrenOfCostGroup
);
impl Loader<CostGroupId> for ChildrenOfCostGroup {
    type Value = Vec<Arc<CostGroup>>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[CostGroupId],
    ) -> Result<HashMap<CostGroupId, Self::Value>, LoadError> {
        self.0.batch("children_of_cost_group", keys.len()).await;
        let rows = allocation::list_children_of_cost_groups(&self.0.store, keys).await?;
        let mut groups: HashMap<CostGroupId, Vec<Arc<CostGroup>>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            if let Some(parent) = row.parent_id {
                groups.entry(parent).or_default().push(Arc::new(row));
            }
        }
        Ok(groups)
    }
}

loader!(
    /// Allocation rules by id, within the request's scope.
    RuleById
);
impl Loader<AllocationRuleId> for RuleById {
    type Value = Arc<AllocationRuleEntry>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[AllocationRuleId],
    ) -> Result<HashMap<AllocationRuleId, Self::Value>, LoadError> {
        self.0.batch("rule_by_id", keys.len()).await;
        let rows = allocation::find_rules(&self.0.store, &self.0.scope, keys).await?;
        Ok(index_by(rows, |r| r.rule.id))
    }
}

loader!(
    /// Allocation rules of each tenant, in priority order.
    RulesOfTenant
);
impl Loader<TenantId> for RulesOfTenant {
    type Value = Vec<Arc<AllocationRuleEntry>>;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, Self::Value>, LoadError> {
        self.0.batch("rules_of_tenant", keys.len()).await;
        let rows = allocation::list_rules_of_tenants(&self.0.store, keys).await?;
        Ok(group_by(keys, rows, |r| r.rule.tenant_id))
    }
}

loader!(
    /// The audited changes of each tenant that take effect after today (UTC), by effective day.
    ScheduledChangesOfTenant
);
impl Loader<TenantId> for ScheduledChangesOfTenant {
    type Value = Vec<Arc<crate::domain::audit::AuditEntry>>;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, Self::Value>, LoadError> {
        self.0
            .batch("scheduled_changes_of_tenant", keys.len())
            .await;
        let rows =
            allocation::list_scheduled_changes(&self.0.store, keys, history::today()).await?;
        Ok(group_by(keys, rows, |e| e.change.tenant_id))
    }
}

loader!(
    /// Allocation rules targeting each cost group (split rules under each of their groups), in
    /// priority order.
    RulesOfCostGroup
);
impl Loader<CostGroupId> for RulesOfCostGroup {
    type Value = Vec<Arc<AllocationRuleEntry>>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[CostGroupId],
    ) -> Result<HashMap<CostGroupId, Self::Value>, LoadError> {
        self.0.batch("rules_of_cost_group", keys.len()).await;
        let rows = allocation::list_rules_of_cost_groups(&self.0.store, keys).await?;
        // A split rule belongs to each of its groups asked for.
        let mut groups: HashMap<CostGroupId, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for rule in rows.into_iter().map(Arc::new) {
            for target in &rule.rule.targets {
                if let Some(list) = groups.get_mut(&target.cost_group) {
                    list.push(Arc::clone(&rule));
                }
            }
        }
        Ok(groups)
    }
}

loader!(
    /// The stored allocation of each user; `UNALLOCATED` for a user the evaluation places nowhere
    /// (answered too, so the request's cache holds it and a second load asks nothing).
    AllocationOfUser
);
impl Loader<UserId> for AllocationOfUser {
    type Value = Arc<UserAllocation>;
    type Error = LoadError;
    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Self::Value>, LoadError> {
        self.0.batch("allocation_of_user", keys.len()).await;
        let rows = allocation::list_allocations_of_users(&self.0.store, keys).await?;
        let mut found = index_by(rows, |a| a.user_id);
        for &key in keys {
            found
                .entry(key)
                .or_insert_with(|| Arc::new(UserAllocation::unallocated(key)));
        }
        Ok(found)
    }
}

loader!(
    /// The stored rule diagnostics of each tenant, within the request's scope: one statement
    /// whatever the number of rules read.
    DiagnosticsOfTenant
);
impl Loader<TenantId> for DiagnosticsOfTenant {
    type Value = Arc<allocation::TenantDiagnostics>;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, Self::Value>, LoadError> {
        self.0.batch("diagnostics_of_tenant", keys.len()).await;
        let found =
            allocation::list_diagnostics_of_tenants(&self.0.store, &self.0.scope, keys).await?;
        Ok(found.into_iter().map(|(t, d)| (t, Arc::new(d))).collect())
    }
}

loader!(
    /// The newest run and newest successful run of each tenant.
    ImportStatusOfTenant
);
impl Loader<TenantId> for ImportStatusOfTenant {
    type Value = Arc<TenantRuns>;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, Self::Value>, LoadError> {
        self.0.batch("import_status_of_tenant", keys.len()).await;
        let runs = import_queries::latest_runs_of_tenants(&self.0.store, keys).await?;
        Ok(runs.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

/// A page of a user list: the list's owner and the page wanted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserPageKey {
    /// Whose users.
    pub parent: UserParent,
    /// Filter, order and page.
    pub query: Arc<UserListQuery>,
}

/// A page of a user list as loaded: its users, and their managers when the query asked for them.
#[derive(Clone, Default)]
pub struct LoadedUserPage {
    /// The users.
    pub page: Page<Arc<UserSummary>>,
    /// The distinct managers of the page's users by id (see [`UserListQuery::with_managers`]).
    pub managers: HashMap<UserId, Arc<UserSummary>>,
}

/// The relations a selection asks of a page of users, read for the whole page before its users
/// resolve. A user's field then finds its value here instead of asking a DataLoader once per
/// user. `None` means the selection did not ask for that relation: the field loads it itself.
#[derive(Default)]
pub struct PageRelations {
    /// The managers found, by id.
    pub managers: Option<HashMap<UserId, Arc<UserSummary>>>,
    /// The licenses of each user.
    pub licenses: Option<HashMap<UserId, Vec<Arc<AssignedLicense>>>>,
    /// How each user's licenses are assigned.
    pub assignments: Option<HashMap<UserId, Vec<Arc<LicenseAssignment>>>>,
    /// The subscriptions the licenses are drawn from.
    pub subscriptions: Option<HashMap<(TenantId, SkuId), Arc<Subscription>>>,
    /// The columns beyond the summary of the page's users.
    pub details: Option<HashMap<UserId, Arc<UserDetails>>>,
    /// The stored allocation of each user (users without one are unallocated).
    pub allocations: Option<HashMap<UserId, Arc<UserAllocation>>>,
}

/// Which relations of a page's users a selection asks for: what [`PageRelations`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReadAhead {
    /// The columns beyond the summary.
    pub details: bool,
    /// The managers.
    pub managers: bool,
    /// The licenses.
    pub licenses: bool,
    /// The subscriptions of the licenses.
    pub subscriptions: bool,
    /// The license assignments.
    pub assignments: bool,
    /// The stored allocations.
    pub allocations: bool,
}

/// A page of a user list with what its selection read ahead, as kept across requests.
#[derive(Clone)]
pub struct KeptUserPage {
    /// The page as loaded.
    pub loaded: LoadedUserPage,
    /// What the selection read ahead for its users.
    pub relations: Arc<PageRelations>,
}

impl KeptUserPage {
    /// Roughly the bytes the page holds: what the read cache weighs it by.
    pub fn estimated_bytes(&self) -> u64 {
        const SUMMARY: usize = 640;
        const DETAILS: usize = 1_024;
        const LICENSE: usize = 160;
        const SUBSCRIPTION: usize = 512;
        let r = &self.relations;
        let count = |n: Option<usize>| n.unwrap_or(0);
        let licenses = count(r.licenses.as_ref().map(|l| l.values().map(Vec::len).sum()));
        let assignments = count(
            r.assignments
                .as_ref()
                .map(|a| a.values().map(Vec::len).sum()),
        );
        let bytes = (self.loaded.page.items.len() + self.loaded.managers.len()) * SUMMARY
            + count(r.details.as_ref().map(HashMap::len)) * DETAILS
            + (licenses + assignments) * LICENSE
            + count(r.subscriptions.as_ref().map(HashMap::len)) * SUBSCRIPTION
            + count(r.allocations.as_ref().map(HashMap::len)) * LICENSE;
        bytes as u64
    }
}

/// Reads kept across the query operations of this process (see
/// [`crate::graphql::read_cache`]).
pub struct SharedReads {
    tenants: Versioned<TenantId, Arc<Tenant>>,
    counts: Versioned<TenantId, TenantCounts>,
    subscriptions: Versioned<TenantId, Vec<Arc<Subscription>>>,
    sku_holders: Versioned<(TenantId, SkuId), u64>,
    user_counts: Versioned<UserCountKey, u64>,
    user_pages: Versioned<(UserPageKey, ReadAhead), KeptUserPage>,
}

impl SharedReads {
    /// Empty, for about `bytes` of reads: a sixteenth each for tenants and their subscriptions,
    /// a sixty-fourth each for the counts, the rest for pages of users.
    pub fn new(bytes: u64) -> Self {
        let (sixteenth, sixty_fourth) = (bytes / 16, bytes / 64);
        SharedReads {
            tenants: Versioned::new(sixteenth),
            counts: Versioned::new(sixty_fourth),
            subscriptions: Versioned::new(sixteenth),
            sku_holders: Versioned::new(sixty_fourth),
            user_counts: Versioned::new(sixty_fourth),
            user_pages: Versioned::new(bytes - 2 * sixteenth - 3 * sixty_fourth),
        }
    }
}

/// What one query operation takes from, and gives to, the [`SharedReads`]: all at the version
/// of the store's data it read before its loaders' first statement.
pub struct RequestReads {
    shared: Arc<SharedReads>,
    version: RequestVersion,
    metrics: Arc<Metrics>,
}

impl RequestReads {
    /// The page `key` with `ahead` read, if it is kept at this request's version.
    pub async fn user_page(&self, key: &UserPageKey, ahead: ReadAhead) -> Option<KeptUserPage> {
        let version = self.version.get().await?;
        let kept = self.shared.user_pages.get(&(key.clone(), ahead), version);
        self.metrics.record_read_cache("user_page", kept.is_some());
        kept
    }

    /// Keeps `page`, read by this request, for later requests at this request's version.
    pub async fn keep_user_page(&self, key: UserPageKey, ahead: ReadAhead, page: KeptUserPage) {
        if let Some(version) = self.version.get().await {
            let bytes = page.estimated_bytes() + filter_bytes(&key.query.filter);
            self.shared
                .user_pages
                .insert((key, ahead), version.clone(), page, bytes);
        }
    }
}

/// Roughly the bytes of `filter` beyond its fixed size, for weighing the reads it keys.
fn filter_bytes(filter: &UserFilter) -> u64 {
    let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
    let ids = filter.user_ids.as_ref().map_or(0, Vec::len) * 16;
    (text(&filter.search) + text(&filter.department) + text(&filter.user_type) + ids) as u64
}

loader!(
    /// Pages of user lists; keys asking the same page of parents of one kind share a statement.
    UserPages
);
impl Loader<UserPageKey> for UserPages {
    type Value = LoadedUserPage;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[UserPageKey],
    ) -> Result<HashMap<UserPageKey, LoadedUserPage>, LoadError> {
        self.0.batch("user_pages", keys.len()).await;
        let mut groups: HashMap<(u8, Arc<UserListQuery>), Vec<UserParent>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.parent.kind(), key.query.clone()))
                .or_default()
                .push(key.parent);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for ((_, query), parents) in groups {
            let pages = users::list_user_pages(&self.0.store, &parents, &query).await?;
            for (parent, found) in pages {
                let page = LoadedUserPage {
                    page: Page {
                        items: found.page.items.into_iter().map(Arc::new).collect(),
                        has_next_page: found.page.has_next_page,
                    },
                    managers: found
                        .managers
                        .into_iter()
                        .map(|(id, m)| (id, Arc::new(m)))
                        .collect(),
                };
                out.insert(
                    UserPageKey {
                        parent,
                        query: query.clone(),
                    },
                    page,
                );
            }
        }
        Ok(out)
    }
}

/// The size of a user list: its owner and filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserCountKey {
    /// Whose users.
    pub parent: UserParent,
    /// Which users.
    pub filter: Arc<UserFilter>,
}

loader!(
    /// Sizes of user lists; keys with the same filter and kind of parent share a statement.
    UserCounts
);
impl Loader<UserCountKey> for UserCounts {
    type Value = u64;
    type Error = LoadError;
    async fn load(&self, keys: &[UserCountKey]) -> Result<HashMap<UserCountKey, u64>, LoadError> {
        self.0.batch("user_counts", keys.len()).await;
        let load = |keys: Vec<UserCountKey>| async move {
            let mut groups: HashMap<(u8, Arc<UserFilter>), Vec<UserParent>> = HashMap::new();
            for key in keys {
                groups
                    .entry((key.parent.kind(), key.filter.clone()))
                    .or_default()
                    .push(key.parent);
            }
            let mut out = HashMap::new();
            for ((_, filter), parents) in groups {
                let counts = users::count_user_lists(&self.0.store, &parents, &filter).await?;
                for (parent, n) in counts {
                    out.insert(
                        UserCountKey {
                            parent,
                            filter: filter.clone(),
                        },
                        n,
                    );
                }
            }
            Ok(out)
        };
        self.0
            .through(
                |s| &s.user_counts,
                "user_counts",
                |k, _| filter_bytes(&k.filter),
                keys,
                load,
            )
            .await
    }
}

/// A tenant's report on one date and when its allocation was evaluated.
#[derive(Debug)]
pub struct DatedReport {
    /// The report.
    pub report: CostReport,
    /// When the evaluation it reads was stored.
    pub evaluated_at: DateTime<Utc>,
}

loader!(
    /// Each tenant's SKU history over a range of days, within the request's scope: one
    /// statement per range asked for.
    SkuHistoryOfTenant
);
impl Loader<(TenantId, NaiveDate, NaiveDate)> for SkuHistoryOfTenant {
    type Value = Arc<Vec<SkuHistory>>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[(TenantId, NaiveDate, NaiveDate)],
    ) -> Result<HashMap<(TenantId, NaiveDate, NaiveDate), Self::Value>, LoadError> {
        self.0.batch("sku_history_of_tenant", keys.len()).await;
        let mut ranges: HashMap<(NaiveDate, NaiveDate), Vec<TenantId>> = HashMap::new();
        for &(tenant, from, to) in keys {
            ranges.entry((from, to)).or_default().push(tenant);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for ((from, to), tenants) in ranges {
            let mut found =
                sku_counts::list_sku_history(&self.0.store, &self.0.scope, &tenants, from, to)
                    .await?;
            for tenant in tenants {
                let list = found.remove(&tenant).unwrap_or_default();
                out.insert((tenant, from, to), Arc::new(list));
            }
        }
        Ok(out)
    }
}

/// Which report of a tenant: its date, and the billing of the SKUs whose idle seats
/// `Unassigned` counts.
pub type CostReportKey = (TenantId, NaiveDate, BillingSet);

loader!(
    /// Cost reports by (tenant, date, idle-seat billing), within the request's scope; the inputs
    /// of every tenant asked for are read in one batch.
    CostReportOfTenant
);
impl Loader<CostReportKey> for CostReportOfTenant {
    type Value = Arc<DatedReport>;
    // A report can fail on its stored inputs (prices in several currencies), not only on the
    // store: the error the API answers with.
    type Error = ApiError;
    async fn load(
        &self,
        keys: &[CostReportKey],
    ) -> Result<HashMap<CostReportKey, Self::Value>, ApiError> {
        self.0.batch("cost_report_of_tenant", keys.len()).await;
        let tenants: Vec<TenantId> = keys.iter().map(|(t, _, _)| *t).collect();
        let inputs = allocation::list_report_inputs(&self.0.store, &self.0.scope, &tenants).await?;
        let mut out = HashMap::with_capacity(keys.len());
        for &(tenant, as_of, unassigned) in keys {
            let Some(i) = inputs.get(&tenant) else {
                continue;
            };
            let report = i.report_on(as_of, unassigned).map_err(ApiError::from)?;
            out.insert(
                (tenant, as_of, unassigned),
                Arc::new(DatedReport {
                    report,
                    evaluated_at: i.evaluated_at,
                }),
            );
        }
        Ok(out)
    }
}

/// Which optimization of a tenant: its date and the inactivity window in days.
pub type OptimizationKey = (TenantId, NaiveDate, u32);

/// A tenant's optimization on one date, with whether its sign-in activity could be read.
#[derive(Debug)]
pub struct TenantOptimization {
    /// The findings and totals.
    pub optimization: Optimization,
    /// Whether `INACTIVE` could be judged, and upstream's refusal when not.
    pub sign_ins: SignInAvailability,
    /// The inactivity window used, in days.
    pub inactive_days: u32,
}

loader!(
    /// Optimizations by (tenant, date, inactivity window), within the request's scope: eight
    /// statements per tenant, whatever its number of users.
    OptimizationOfTenant
);
impl Loader<OptimizationKey> for OptimizationOfTenant {
    type Value = Arc<TenantOptimization>;
    // Prices in several currencies fail the optimization, as they fail a cost report.
    type Error = ApiError;
    async fn load(
        &self,
        keys: &[OptimizationKey],
    ) -> Result<HashMap<OptimizationKey, Self::Value>, ApiError> {
        self.0.batch("optimization_of_tenant", keys.len()).await;
        let mut inputs = HashMap::new();
        let mut out = HashMap::with_capacity(keys.len());
        for &(tenant, as_of, inactive_days) in keys {
            if !self.0.scope.allows(tenant) {
                continue;
            }
            let i = match inputs.entry(tenant) {
                std::collections::hash_map::Entry::Occupied(read) => read.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(sign_ins::optimization_inputs(&self.0.store, tenant, false).await?)
                }
            };
            let settings = WasteSettings {
                as_of,
                inactive_days,
                sign_ins_available: matches!(i.sign_ins, SignInAvailability::Available { .. }),
            };
            let optimization = optimize(&i.users, &i.skus, &i.prices, &settings)?;
            out.insert(
                (tenant, as_of, inactive_days),
                Arc::new(TenantOptimization {
                    optimization,
                    sign_ins: i.sign_ins.clone(),
                    inactive_days,
                }),
            );
        }
        Ok(out)
    }
}

loader!(
    /// Each user's sign-in activity as the latest import read it (users are found in scope
    /// before their activity is asked for).
    SignInOfUser
);
impl Loader<UserId> for SignInOfUser {
    type Value = Arc<SignInActivity>;
    type Error = LoadError;
    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, Self::Value>, LoadError> {
        self.0.batch("sign_in_of_user", keys.len()).await;
        let rows = sign_ins::list_sign_ins_of_users(&self.0.store, keys).await?;
        Ok(rows.into_iter().map(|(u, a)| (u, Arc::new(a))).collect())
    }
}

loader!(
    /// Every price of each tenant, the whole history, by SKU then date.
    PricesOfTenant
);
impl Loader<TenantId> for PricesOfTenant {
    type Value = Vec<Arc<PriceEntry>>;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, Self::Value>, LoadError> {
        self.0.batch("prices_of_tenant", keys.len()).await;
        let rows = allocation::list_price_entries_of_tenants(&self.0.store, keys).await?;
        Ok(group_by(keys, rows, |p| p.tenant_id))
    }
}

loader!(
    /// Every budget of each tenant (tenants are found in scope before their groups are).
    BudgetsOfTenant
);
impl Loader<TenantId> for BudgetsOfTenant {
    type Value = Arc<Vec<Budget>>;
    type Error = LoadError;
    async fn load(&self, keys: &[TenantId]) -> Result<HashMap<TenantId, Self::Value>, LoadError> {
        self.0.batch("budgets_of_tenant", keys.len()).await;
        let found = allocation::list_budgets_of_tenants(&self.0.store, keys).await?;
        Ok(found.into_iter().map(|(t, b)| (t, Arc::new(b))).collect())
    }
}

loader!(
    /// A tenant's chargeback of a month so far (closed months as stored), within the request's
    /// scope: read once per request for every budget of the month.
    ChargebackOfMonth
);
impl Loader<(TenantId, Month)> for ChargebackOfMonth {
    type Value = Arc<MonthCharge>;
    type Error = ApiError;
    async fn load(
        &self,
        keys: &[(TenantId, Month)],
    ) -> Result<HashMap<(TenantId, Month), Self::Value>, ApiError> {
        self.0.batch("chargeback_of_month", keys.len()).await;
        let today = chrono::Utc::now().date_naive();
        let mut out = HashMap::with_capacity(keys.len());
        for &(tenant, month) in keys {
            if let Some(found) =
                chargeback::find_chargeback(&self.0.store, &self.0.scope, tenant, month, today)
                    .await?
            {
                out.insert((tenant, month), Arc::new(found));
            }
        }
        Ok(out)
    }
}

/// A page of a cost group's members.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberPageKey {
    /// The cost group.
    pub group: CostGroupId,
    /// Which slice, by user id.
    pub page: Arc<PageRequest>,
}

loader!(
    /// Pages of cost group members; keys asking the same page share a statement.
    MemberPages
);
impl Loader<MemberPageKey> for MemberPages {
    type Value = Page<Arc<CostGroupMember>>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[MemberPageKey],
    ) -> Result<HashMap<MemberPageKey, Self::Value>, LoadError> {
        self.0.batch("member_pages", keys.len()).await;
        let mut groups: HashMap<Arc<PageRequest>, Vec<CostGroupId>> = HashMap::new();
        for key in keys {
            groups.entry(key.page.clone()).or_default().push(key.group);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (page, ids) in groups {
            for (group, found) in members::list_member_pages(&self.0.store, &ids, &page).await? {
                let found = Page {
                    items: found.items.into_iter().map(Arc::new).collect(),
                    has_next_page: found.has_next_page,
                };
                out.insert(
                    MemberPageKey {
                        group,
                        page: page.clone(),
                    },
                    found,
                );
            }
        }
        Ok(out)
    }
}

loader!(
    /// Number of members of each cost group.
    MemberCounts
);
impl Loader<CostGroupId> for MemberCounts {
    type Value = u64;
    type Error = LoadError;
    async fn load(&self, keys: &[CostGroupId]) -> Result<HashMap<CostGroupId, u64>, LoadError> {
        self.0.batch("member_counts", keys.len()).await;
        Ok(members::count_members(&self.0.store, keys).await?)
    }
}

/// A loader with a per-request cache. Its keys are ids the request names or the store returned;
/// foldhash (seeded per process) hashes them several times faster than SipHash, and every
/// relation field of every row looks its key up.
type Cached<L> = DataLoader<Traced<L>, HashMapCache<foldhash::fast::RandomState>>;

/// A loader whose batches are spans while spans are exported: `dataloader.name` (the loader's
/// type, `UserById`) and `dataloader.keys` (how many keys the batch loads).
pub struct Traced<L>(L);

impl<K, L> Loader<K> for Traced<L>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    L: Loader<K>,
{
    type Value = L::Value;
    type Error = L::Error;

    async fn load(&self, keys: &[K]) -> Result<HashMap<K, Self::Value>, Self::Error> {
        if !crate::telemetry::exporting() {
            return self.0.load(keys).await;
        }
        let type_name = std::any::type_name::<L>();
        let name = type_name.rsplit("::").next().unwrap_or(type_name);
        let span = tracing::info_span!(
            "DataLoader batch",
            otel.name = %format_args!("DataLoader {name}"),
            dataloader.name = name,
            dataloader.keys = keys.len(),
        );
        self.0.load(keys).instrument(span).await
    }
}

/// Every loader of one request, plus the request's scope and store.
pub struct Loaders {
    /// The store, for root fields that page or count directly.
    pub store: Store,
    /// Reads kept across requests, for a query operation when the cache is on.
    pub reads: Option<Arc<RequestReads>>,
    /// Tenants the request may see.
    pub scope: TenantScope,
    /// See [`TenantById`].
    pub tenant: Cached<TenantById>,
    /// See [`UserById`].
    pub user: Cached<UserById>,
    /// See [`UserDetailsById`].
    pub user_details: Cached<UserDetailsById>,
    /// See [`LicensesOfUser`].
    pub licenses: Cached<LicensesOfUser>,
    /// See [`LicenseHistoryOfUser`].
    pub license_history: Cached<LicenseHistoryOfUser>,
    /// See [`UserVersionsOfUser`].
    pub user_versions: Cached<UserVersionsOfUser>,
    /// See [`LicenseAssignmentsOfUser`].
    pub license_assignments: Cached<LicenseAssignmentsOfUser>,
    /// See [`SubscriptionByKey`].
    pub subscription: Cached<SubscriptionByKey>,
    /// See [`SubscriptionsOfTenant`].
    pub subscriptions: Cached<SubscriptionsOfTenant>,
    /// See [`PlansOfSubscription`].
    pub plans: Cached<PlansOfSubscription>,
    /// See [`CountsOfTenant`].
    pub counts: Cached<CountsOfTenant>,
    /// See [`HoldersOfSku`].
    pub sku_holders: Cached<HoldersOfSku>,
    /// See [`CommerceOfTenant`].
    pub commerce: Cached<CommerceOfTenant>,
    /// See [`CommerceById`].
    pub commerce_by_id: Cached<CommerceById>,
    /// See [`CostGroupById`].
    pub cost_group: Cached<CostGroupById>,
    /// See [`CostGroupsOfTenant`].
    pub cost_groups: Cached<CostGroupsOfTenant>,
    /// See [`ChildrenOfCostGroup`].
    pub children: Cached<ChildrenOfCostGroup>,
    /// See [`UserPages`].
    pub user_pages: Cached<UserPages>,
    /// See [`UserCounts`].
    pub user_counts: Cached<UserCounts>,
    /// See [`ImportStatusOfTenant`].
    pub import_status: Cached<ImportStatusOfTenant>,
    /// See [`PricesOfTenant`].
    pub prices: Cached<PricesOfTenant>,
    /// See [`BudgetsOfTenant`].
    pub budgets: Cached<BudgetsOfTenant>,
    /// See [`ChargebackOfMonth`].
    pub chargebacks: Cached<ChargebackOfMonth>,
    /// See [`MemberPages`].
    pub member_pages: Cached<MemberPages>,
    /// See [`MemberCounts`].
    pub member_counts: Cached<MemberCounts>,
    /// See [`CostReportOfTenant`].
    pub cost_report: Cached<CostReportOfTenant>,
    /// See [`OptimizationOfTenant`].
    pub optimization: Cached<OptimizationOfTenant>,
    /// See [`SignInOfUser`].
    pub sign_in: Cached<SignInOfUser>,
    /// See [`SkuHistoryOfTenant`].
    pub sku_history: Cached<SkuHistoryOfTenant>,
    /// See [`RuleById`].
    pub rule: Cached<RuleById>,
    /// See [`RulesOfTenant`].
    pub rules_of_tenant: Cached<RulesOfTenant>,
    /// See [`RulesOfCostGroup`].
    pub rules_of_cost_group: Cached<RulesOfCostGroup>,
    /// See [`ScheduledChangesOfTenant`].
    pub scheduled_changes: Cached<ScheduledChangesOfTenant>,
    /// See [`AllocationOfUser`].
    pub allocation: Cached<AllocationOfUser>,
    /// See [`DiagnosticsOfTenant`].
    pub diagnostics: Cached<DiagnosticsOfTenant>,
}

/// Keys per statement: each key is a bind parameter (or two) of an `IN (…)` list.
const MAX_BATCH: usize = 500;

/// Scheduler turns a batch waits before it runs. async-graphql resolves long lists through
/// `FuturesUnordered`, which hands control back to the executor every 32 items; on an actix
/// worker (one thread) each turn lets the request enqueue 32 more keys. 64 turns cover
/// 2,048 items, so a 500-item page becomes one batch however slow the build is, where a timer
/// (the default 1 ms delay) would split it whenever resolving took longer than the timer.
const BATCH_WAIT_TURNS: usize = 64;

/// Runs a batch after [`BATCH_WAIT_TURNS`] turns. Each turn puts the task straight back at the
/// end of the run queue (futures-lite's `yield_now`). tokio's own `yield_now` defers the wake
/// until the scheduler next polls for I/O, which made every turn an `epoll_wait` system call:
/// hundreds per request.
///
/// While spans are exported, the batch runs in the span of the resolver that started it (the
/// operation's), which a spawned task would otherwise lose.
fn spawn_batch(batch: futures_util::future::BoxFuture<'static, ()>) {
    let parent = if crate::telemetry::exporting() {
        tracing::Span::current()
    } else {
        tracing::Span::none()
    };
    tokio::spawn(
        async move {
            for _ in 0..BATCH_WAIT_TURNS {
                futures_lite::future::yield_now().await;
            }
            batch.await;
        }
        .instrument(parent),
    );
}

fn cached<L: Loader<K>, K>(loader: L) -> Cached<L>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
{
    DataLoader::with_cache(Traced(loader), spawn_batch, HashMapCache::new())
        .delay(std::time::Duration::ZERO)
        .max_batch_size(MAX_BATCH)
}

impl Loaders {
    /// Fresh loaders for one request that sees `scope`; with `shared`, a query operation's,
    /// which takes what it can from the reads kept across requests at the store's data version
    /// (read before its loaders' first statement) and keeps what it reads under that version.
    pub fn new(
        store: Store,
        scope: TenantScope,
        metrics: Arc<Metrics>,
        shared: Option<Arc<SharedReads>>,
    ) -> Loaders {
        let reads = shared.map(|shared| {
            Arc::new(RequestReads {
                shared,
                version: RequestVersion::new(store.clone()),
                metrics: metrics.clone(),
            })
        });
        let source = Source {
            store: store.clone(),
            scope: scope.clone(),
            metrics,
            reads: reads.clone(),
        };
        Loaders {
            store,
            reads,
            scope,
            tenant: cached(TenantById(source.clone())),
            user: cached(UserById(source.clone())),
            user_details: cached(UserDetailsById(source.clone())),
            licenses: cached(LicensesOfUser(source.clone())),
            license_assignments: cached(LicenseAssignmentsOfUser(source.clone())),
            license_history: cached(LicenseHistoryOfUser(source.clone())),
            user_versions: cached(UserVersionsOfUser(source.clone())),
            subscription: cached(SubscriptionByKey(source.clone())),
            subscriptions: cached(SubscriptionsOfTenant(source.clone())),
            plans: cached(PlansOfSubscription(source.clone())),
            counts: cached(CountsOfTenant(source.clone())),
            sku_holders: cached(HoldersOfSku(source.clone())),
            commerce: cached(CommerceOfTenant(source.clone())),
            commerce_by_id: cached(CommerceById(source.clone())),
            cost_group: cached(CostGroupById(source.clone())),
            cost_groups: cached(CostGroupsOfTenant(source.clone())),
            children: cached(ChildrenOfCostGroup(source.clone())),
            user_pages: cached(UserPages(source.clone())),
            user_counts: cached(UserCounts(source.clone())),
            import_status: cached(ImportStatusOfTenant(source.clone())),
            prices: cached(PricesOfTenant(source.clone())),
            budgets: cached(BudgetsOfTenant(source.clone())),
            chargebacks: cached(ChargebackOfMonth(source.clone())),
            member_pages: cached(MemberPages(source.clone())),
            member_counts: cached(MemberCounts(source.clone())),
            cost_report: cached(CostReportOfTenant(source.clone())),
            optimization: cached(OptimizationOfTenant(source.clone())),
            sign_in: cached(SignInOfUser(source.clone())),
            sku_history: cached(SkuHistoryOfTenant(source.clone())),
            rule: cached(RuleById(source.clone())),
            rules_of_tenant: cached(RulesOfTenant(source.clone())),
            rules_of_cost_group: cached(RulesOfCostGroup(source.clone())),
            scheduled_changes: cached(ScheduledChangesOfTenant(source.clone())),
            allocation: cached(AllocationOfUser(source.clone())),
            diagnostics: cached(DiagnosticsOfTenant(source)),
        }
    }
}
