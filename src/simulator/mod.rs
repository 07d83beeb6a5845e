//! A stand-in for Microsoft's services (Entra token endpoint, Partner Center, Graph), like
//! Azurite for Azure Storage: one HTTP server speaking the wire formats of
//! shared/reference/microsoft-apis.md over deterministic, day-by-day changing data.
//!
//! Used by `tenantgraph simulate`, `serve --demo` and the importer's tests. It imports no other
//! module of the crate and shares no serde types with the importer's clients.
//!
//! ```text
//! let sim = simulator::start(SimulatorConfig::default(), "127.0.0.1:0".parse()?).await?;
//! // login, Partner Center and Graph base URL are all sim.base_url()
//! sim.set_day(1);                       // hires, leavers, moves, license and manager changes
//! sim.set_faults(vec![(TenantSelector::Index(0), Fault::Throttle { count: 2, retry_after_secs: 0 })]);
//! let expected = sim.snapshot(sim.tenant_ids()[0]);  // what Graph serves today
//! sim.stop().await;
//! ```
//!
//! Data: users are never stored. A user is a pure function of (seed, tenant index, user index,
//! day) ([`user_at`]); each day replays per-user events (about 1 % hires, 0.4 % leavers, 0.7 %
//! department moves, 0.7 % license changes, 0.4 % manager changes, plus one user away for the
//! day and one sure manager change). About 12 % of members report to an organizational contact
//! (an external interim manager) for 3 to 10 days of every 30, and to their manager in the org
//! tree the other days. Only per-(tenant, day) license counts are cached.
//!
//! Licenses come directly or through a tenant's licensing groups (`licenseAssignmentStates`);
//! a group assignment that found no free seat is in state `Error` (`CountViolation`) and
//! counts nowhere else. Each SKU's directory subscriptions (`/directory/subscriptions`) carry
//! commerce ids of their own; Partner Center lists those this partner sold, not the free SKUs
//! nor the one SKU per tenant bought through another partner.
//!
//! Paging tokens (`$skiptoken`, `$deltatoken`, `MS-ContinuationToken`) are base64url text with a
//! check value keyed by the seed: they pin tenant, day and position, and any edit gives a 400.

mod data;
mod faults;
mod http;
mod wire;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer, web};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use data::user_at;
pub use faults::{Fault, FaultSpec, FaultSpecError, ORPHANED_SKU_ID, TenantSelector};

use data::{SKU_COUNT, World};
use faults::FaultTable;

/// The partner tenant id used when none is configured.
pub const DEFAULT_PARTNER_TENANT_ID: Uuid = Uuid::from_u128(0x415f1fc4_a74d_4718_bd84_55532608ad38);

/// What the simulator serves and how it misbehaves.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Number of customer tenants.
    pub tenants: usize,
    /// Users of each tenant on day 0.
    pub users_per_tenant: usize,
    /// Seed of all generated data; the same seed gives byte-identical data.
    pub seed: u64,
    /// The starting day (data changes from day to day).
    pub day: u32,
    /// The partner's own tenant; Partner Center tokens are redeemed there.
    pub partner_tenant_id: Uuid,
    /// The app's client id the token endpoint accepts.
    pub client_id: String,
    /// The app's client secret the token endpoint accepts.
    pub client_secret: String,
    /// The initial refresh token the token endpoint accepts.
    pub refresh_token: String,
    /// Lifetime of issued access tokens.
    pub access_token_lifetime: Duration,
    /// Added to every response.
    pub latency: Duration,
    /// Server-chosen page size of `/users/delta`.
    pub delta_page_size: usize,
    /// Page size of Partner Center's `/v1/customers/{id}/subscriptions` when the request sends
    /// no `size`.
    pub subscriptions_page_size: usize,
    /// Server-chosen page size of Graph's `/directory/subscriptions`.
    pub directory_page_size: usize,
    /// Injected failures, in order (the first matching counted fault fires first).
    pub faults: Vec<(TenantSelector, Fault)>,
    /// Members' user names end in their tenant's verified custom domain (`alpenhof-demo.ch`)
    /// rather than its `onmicrosoft.com` domain.
    pub custom_domains: bool,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            tenants: 3,
            users_per_tenant: 50,
            seed: 1,
            day: 0,
            partner_tenant_id: DEFAULT_PARTNER_TENANT_ID,
            client_id: "tenantgraph-sim-client".to_owned(),
            client_secret: "sim-client-secret".to_owned(),
            refresh_token: "sim-initial-refresh-token".to_owned(),
            access_token_lifetime: Duration::from_secs(3600),
            latency: Duration::ZERO,
            delta_page_size: 500,
            subscriptions_page_size: 100,
            directory_page_size: 100,
            faults: Vec::new(),
            custom_domains: false,
        }
    }
}

/// One customer tenant's data on one day, for field-by-field comparison in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTenant {
    /// Tenant id (also the Partner Center customer id).
    pub id: Uuid,
    /// Company name.
    pub name: String,
    /// The `<slug>.onmicrosoft.com` domain.
    pub default_domain: String,
    /// Every user in the directory that day, by user index.
    pub users: Vec<SimUser>,
    /// The tenant's subscribed SKUs that day.
    pub skus: Vec<SimSku>,
}

/// One directory user as Graph reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    /// Object id.
    pub id: Uuid,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `givenName`.
    pub given_name: Option<String>,
    /// `surname`.
    pub surname: Option<String>,
    /// `userPrincipalName` (ASCII).
    pub user_principal_name: String,
    /// `mail`.
    pub mail: Option<String>,
    /// `userType`: `Member` or `Guest`.
    pub user_type: Option<String>,
    /// `accountEnabled`.
    pub account_enabled: Option<bool>,
    /// `jobTitle`.
    pub job_title: Option<String>,
    /// `department`.
    pub department: Option<String>,
    /// `companyName`.
    pub company_name: Option<String>,
    /// `officeLocation`.
    pub office_location: Option<String>,
    /// `streetAddress`.
    pub street_address: Option<String>,
    /// `city`.
    pub city: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `postalCode`.
    pub postal_code: Option<String>,
    /// `country` (free text or code).
    pub country: Option<String>,
    /// `preferredLanguage`.
    pub preferred_language: Option<String>,
    /// `usageLocation` (ISO alpha-2).
    pub usage_location: Option<String>,
    /// `onPremisesExtensionAttributes.extensionAttribute1..15`.
    pub extension_attributes: [Option<String>; 15],
    /// The manager's id, when the manager is a user: always a current user of the same tenant.
    pub manager_id: Option<Uuid>,
    /// The manager, when it is an organizational contact (never set with `manager_id`).
    pub manager_contact: Option<SimContact>,
    /// `assignedLicenses`: one entry per SKU the user holds, directly or through a group; a
    /// group assignment in error is not among them.
    pub licenses: Vec<SimLicense>,
    /// `licenseAssignmentStates`: one entry per assignment (direct or by one group), errors
    /// included.
    pub license_states: Vec<SimLicenseState>,
}

/// An organizational contact (`orgContact`) that a user reports to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimContact {
    /// Object id.
    pub id: Uuid,
    /// `displayName`.
    pub display_name: String,
    /// `mail`.
    pub mail: String,
}

/// One entry of `assignedLicenses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLicense {
    /// The SKU.
    pub sku_id: Uuid,
    /// Disabled service plans of that SKU.
    pub disabled_plans: Vec<Uuid>,
}

/// One entry of `licenseAssignmentStates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLicenseState {
    /// The SKU.
    pub sku_id: Uuid,
    /// The group the license comes from; `None` for a direct assignment.
    pub assigned_by_group: Option<Uuid>,
    /// Disabled service plans of this assignment.
    pub disabled_plans: Vec<Uuid>,
    /// `state`: `Active` or `Error`.
    pub state: String,
    /// `error`: `None` or `CountViolation`.
    pub error: String,
    /// `lastUpdatedDateTime`.
    pub last_updated: DateTime<Utc>,
}

/// One `subscribedSku`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSku {
    /// `skuId`.
    pub sku_id: Uuid,
    /// `skuPartNumber`.
    pub sku_part_number: String,
    /// `appliesTo`: `User` or `Company`.
    pub applies_to: String,
    /// `capabilityStatus`.
    pub capability_status: String,
    /// `consumedUnits`: the number of current users holding the SKU.
    pub consumed_units: i64,
    /// `prepaidUnits.enabled`.
    pub enabled: i64,
    /// `prepaidUnits.warning`.
    pub warning: i64,
    /// `prepaidUnits.suspended`.
    pub suspended: i64,
    /// `prepaidUnits.lockedOut`.
    pub locked_out: i64,
    /// `subscriptionIds`: the directory subscription ids (`companySubscription.id`), not the
    /// Partner Center ones.
    pub subscription_ids: Vec<Uuid>,
    /// The directory subscriptions behind `subscription_ids`, in the same order.
    pub subscriptions: Vec<SimSubscription>,
    /// `servicePlans`.
    pub service_plans: Vec<SimServicePlan>,
}

/// One directory subscription as `GET /directory/subscriptions` reports it
/// (`companySubscription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSubscription {
    /// `id`: the directory subscription id, one of the SKU's `subscriptionIds`.
    pub id: Uuid,
    /// `commerceSubscriptionId`: the Partner Center subscription id when this partner sold it.
    pub commerce_subscription_id: Uuid,
    /// `ownerTenantId`: the partner that sold it (this partner or another one); `None` for a
    /// free SKU no partner sold.
    pub owner_tenant_id: Option<Uuid>,
    /// `status`: `Enabled`, `Warning` or `Suspended`, matching the SKU's prepaid units.
    pub status: String,
    /// `totalLicenses`.
    pub total_licenses: i64,
    /// `isTrial`.
    pub is_trial: bool,
    /// `createdDateTime`.
    pub created: DateTime<Utc>,
    /// `nextLifecycleDateTime`.
    pub next_lifecycle: DateTime<Utc>,
    /// The Partner Center subscription, when this partner sold it (and only then is it listed
    /// by `/v1/customers/{id}/subscriptions`).
    pub commerce: Option<SimCommerceSubscription>,
}

/// The Partner Center side of a subscription this partner sold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCommerceSubscription {
    /// `offerId`: `<productId>:<skuId>` or `<productId>:<skuId>:<availabilityId>`.
    pub offer_id: String,
    /// `offerName` and `friendlyName`.
    pub offer_name: String,
    /// `status`: `active`, `expired` or `suspended`.
    pub status: String,
    /// `quantity` (equals `totalLicenses`).
    pub quantity: i64,
    /// `billingCycle`: `monthly` or `annual`.
    pub billing_cycle: String,
    /// `termDuration`: `P1M` or `P1Y`.
    pub term_duration: String,
    /// `creationDate` and `effectiveStartDate`.
    pub effective_start: DateTime<Utc>,
    /// `commitmentEndDate`: the effective start plus the term.
    pub commitment_end: DateTime<Utc>,
    /// `autoRenewEnabled`: true for active subscriptions.
    pub auto_renew: bool,
    /// `parentSubscriptionId`: the commerce id of the base subscription of an add-on.
    pub parent_subscription_id: Option<Uuid>,
    /// `orderId`.
    pub order_id: Uuid,
}

/// One entry of `servicePlans`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimServicePlan {
    /// `servicePlanId`.
    pub id: Uuid,
    /// `servicePlanName`.
    pub name: String,
    /// `provisioningStatus`.
    pub provisioning_status: String,
    /// `appliesTo`.
    pub applies_to: String,
}

/// Request counters of one tenant (or of the whole simulator).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// Token endpoint requests.
    pub token_requests: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Partner Center requests (customers and subscriptions).
    pub pc_requests: u64,
    /// Partner Center `/v1/customers/{id}/subscriptions` requests.
    pub subscription_requests: u64,
    /// `/users` pages answered with 200.
    pub users_pages: u64,
    /// `/users/delta` pages answered with 200.
    pub delta_pages: u64,
    /// `/users` pages selecting `signInActivity` answered with 200 (not in `users_pages`).
    pub sign_in_pages: u64,
    /// `/subscribedSkus` requests answered with 200.
    pub sku_requests: u64,
    /// `/directory/subscriptions` pages answered with 200.
    pub directory_requests: u64,
    /// Injected faults (error answers, spoiled pages, dropped connections).
    pub faults_injected: u64,
}

/// Counters since start or the last [`RunningSimulator::reset_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Totals over all tenants.
    pub total: SimCounters,
    /// Per tenant id (customers and the partner tenant).
    pub per_tenant: HashMap<Uuid, SimCounters>,
}

impl SimStats {
    /// Counters of one tenant (zeros when it saw no requests).
    pub fn tenant(&self, tenant: Uuid) -> SimCounters {
        self.per_tenant.get(&tenant).copied().unwrap_or_default()
    }

    /// `/users` plus `/users/delta` pages served for one tenant.
    pub fn pages_for(&self, tenant: Uuid) -> u64 {
        let c = self.tenant(tenant);
        c.users_pages + c.delta_pages
    }
}

/// An issued access token.
#[derive(Debug, Clone, Copy)]
struct AccessGrant {
    tenant: Uuid,
    resource: Resource,
    expires: Instant,
}

/// Which API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Graph,
    PartnerCenter,
}

#[derive(Debug, Default)]
struct Tokens {
    access: HashMap<String, AccessGrant>,
    refresh: std::collections::HashSet<String>,
}

/// State shared by the request handlers.
struct Shared {
    config: SimulatorConfig,
    world: World,
    customers: Vec<Uuid>,
    day: AtomicU32,
    faults: Mutex<FaultTable>,
    tokens: Mutex<Tokens>,
    stats: Mutex<SimStats>,
    /// (tenant index, day) → consumed units per SKU; small, computed once per pair.
    consumed: Mutex<HashMap<(usize, u32), [i64; SKU_COUNT]>>,
    /// Key of the check value in page tokens.
    secret: u64,
}

/// Locks a mutex, carrying on with the data if a handler panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn new(config: SimulatorConfig) -> Shared {
        let mut world = World::new(config.seed, config.tenants, config.users_per_tenant)
            .sold_by(config.partner_tenant_id);
        if config.custom_domains {
            world = world.with_custom_domains();
        }
        let customers = world.tenants.iter().map(|t| t.id).collect();
        let mut tokens = Tokens::default();
        tokens.refresh.insert(config.refresh_token.clone());
        Shared {
            day: AtomicU32::new(config.day),
            faults: Mutex::new(FaultTable::new(config.faults.clone())),
            tokens: Mutex::new(tokens),
            stats: Mutex::new(SimStats::default()),
            consumed: Mutex::new(HashMap::new()),
            secret: data::hash(&[config.seed, 0x5EC2E7]),
            world,
            customers,
            config,
        }
    }

    fn day(&self) -> u32 {
        self.day.load(Ordering::Relaxed)
    }

    /// Counts one event for a tenant and the total.
    fn count(&self, tenant: Option<Uuid>, bump: impl Fn(&mut SimCounters)) {
        let mut stats = lock(&self.stats);
        bump(&mut stats.total);
        if let Some(tenant) = tenant {
            bump(stats.per_tenant.entry(tenant).or_default());
        }
    }

    fn consumed_units(&self, tenant: usize, day: u32) -> [i64; SKU_COUNT] {
        let mut cache = lock(&self.consumed);
        *cache
            .entry((tenant, day))
            .or_insert_with(|| self.world.consumed_units(&self.world.day_ctx(tenant, day)))
    }

    fn skus(&self, tenant: usize, day: u32) -> Vec<SimSku> {
        let consumed = self.consumed_units(tenant, day);
        let day0 = self.consumed_units(tenant, 0);
        self.world.skus(tenant, &consumed, &day0)
    }
}

/// A running simulator; stop it with [`RunningSimulator::stop`].
pub struct RunningSimulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `bind` (port 0 picks a free port) and serves Entra, Partner Center and Graph on it.
pub async fn start(config: SimulatorConfig, bind: SocketAddr) -> std::io::Result<RunningSimulator> {
    let listener = TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(config));
    let data = web::Data::from(shared.clone());
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(http::routes))
        .listen(listener)?
        .workers(2)
        .disable_signals()
        .shutdown_timeout(1)
        .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(RunningSimulator {
        addr,
        shared,
        handle,
        task,
    })
}

impl RunningSimulator {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the login, Partner Center and Graph base URL alike.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The configuration it started with (faults and day may have changed since; see
    /// [`RunningSimulator::day`]).
    pub fn config(&self) -> &SimulatorConfig {
        &self.shared.config
    }

    /// The current day.
    pub fn day(&self) -> u32 {
        self.shared.day()
    }

    /// Customer tenant ids in Partner Center order.
    pub fn tenant_ids(&self) -> Vec<Uuid> {
        self.shared.customers.clone()
    }

    /// Moves the data to `day`; the next request sees it.
    pub fn set_day(&self, day: u32) {
        self.shared.day.store(day, Ordering::Relaxed);
    }

    /// Replaces the faults and resets their counters.
    pub fn set_faults(&self, faults: Vec<(TenantSelector, Fault)>) {
        *lock(&self.shared.faults) = FaultTable::new(faults);
    }

    /// The tenant's data on the current day, or `None` for an unknown tenant.
    pub fn snapshot(&self, tenant: Uuid) -> Option<SimTenant> {
        let index = self.shared.world.tenant_index(tenant)?;
        let day = self.shared.day();
        let mut snapshot = self.shared.world.tenant(index, day);
        snapshot.skus = self.shared.skus(index, day);
        Some(snapshot)
    }

    /// Request counters since start or the last reset.
    pub fn stats(&self) -> SimStats {
        lock(&self.shared.stats).clone()
    }

    /// Zeroes the request counters.
    pub fn reset_stats(&self) {
        *lock(&self.shared.stats) = SimStats::default();
    }

    /// Stops accepting requests and waits (up to 1 s) for in-flight ones.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        // The server task ends once stopped; its result only repeats a bind-time error.
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests;
