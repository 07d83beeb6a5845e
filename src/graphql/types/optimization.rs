//! License optimization: `Tenant.optimization`, `User.signInActivity`, `User.waste`, and the
//! `WasteKind` values `Tenant.users(filter: { waste })` takes.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{CostGroupObject, SubscriptionObject, loaders};
use crate::domain::allocation::Currency;
use crate::domain::optimization::{self, Finding, SignInActivity, SignInAvailability};
use crate::domain::{SkuId, TenantId, UserId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::loaders::TenantOptimization;

/// Days without a sign-in after which a user is `INACTIVE` (`TENANTGRAPH_INACTIVE_DAYS`), as
/// request data.
#[derive(Debug, Clone, Copy)]
pub struct InactiveDays(pub u32);

/// What makes a license a candidate for saving.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "WasteKind")]
pub enum WasteKind {
    /// A disabled account holding paid licenses.
    DisabledLicensed,
    /// An enabled account holding paid licenses with no sign-in (interactive, non-interactive
    /// or successful) for `TENANTGRAPH_INACTIVE_DAYS` days; never signed in counts from the
    /// user's first import. Needs the tenant's sign-in activity (Entra ID P1/P2).
    Inactive,
    /// A guest holding paid licenses.
    GuestLicensed,
    /// A license whose service plans another SKU of the same user includes (E3 beside E5);
    /// saving priced at the cheaper of the two.
    RedundantLicense,
    /// Purchased seats of a paid SKU nobody is assigned.
    UnassignedSeats,
}

impl From<WasteKind> for optimization::WasteKind {
    fn from(k: WasteKind) -> Self {
        match k {
            WasteKind::DisabledLicensed => optimization::WasteKind::DisabledLicensed,
            WasteKind::Inactive => optimization::WasteKind::Inactive,
            WasteKind::GuestLicensed => optimization::WasteKind::GuestLicensed,
            WasteKind::RedundantLicense => optimization::WasteKind::RedundantLicense,
            WasteKind::UnassignedSeats => optimization::WasteKind::UnassignedSeats,
        }
    }
}

impl From<optimization::WasteKind> for WasteKind {
    fn from(k: optimization::WasteKind) -> Self {
        match k {
            optimization::WasteKind::DisabledLicensed => WasteKind::DisabledLicensed,
            optimization::WasteKind::Inactive => WasteKind::Inactive,
            optimization::WasteKind::GuestLicensed => WasteKind::GuestLicensed,
            optimization::WasteKind::RedundantLicense => WasteKind::RedundantLicense,
            optimization::WasteKind::UnassignedSeats => WasteKind::UnassignedSeats,
        }
    }
}

/// The tenant's optimization on `as_of` (today, UTC, when `None`), through the request's
/// loader; `NOT_FOUND` for a tenant out of scope.
pub(crate) async fn optimization_of(
    ctx: &Context<'_>,
    tenant_id: TenantId,
    as_of: Option<NaiveDate>,
) -> ApiResult<Arc<TenantOptimization>> {
    let as_of = as_of.unwrap_or_else(|| Utc::now().date_naive());
    let days = ctx
        .data::<InactiveDays>()
        .map(|d| d.0)
        .unwrap_or(crate::config::optimization::DEFAULT_INACTIVE_DAYS);
    loaders(ctx)?
        .optimization
        .load_one((tenant_id, as_of, days))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("tenant {tenant_id}")))
}

/// The ids of the users `kinds` find, sorted: what `users(filter: { waste })` lists.
pub(crate) async fn users_with_waste(
    ctx: &Context<'_>,
    tenant_id: TenantId,
    kinds: &[WasteKind],
) -> ApiResult<Vec<UserId>> {
    let found = optimization_of(ctx, tenant_id, None).await?;
    let kinds: Vec<optimization::WasteKind> = kinds.iter().map(|&k| k.into()).collect();
    Ok(found
        .optimization
        .users
        .iter()
        .filter(|u| u.findings.iter().any(|f| kinds.contains(&f.kind)))
        .map(|u| u.user_id)
        .collect())
}

fn show(currency: Option<Currency>, amount: Decimal) -> Decimal {
    Currency::show_in(currency, amount)
}

/// A tenant's licenses it could stop paying for, priced per month with the prices in force on
/// `asOf`, per kind and per cost group.
pub struct OptimizationObject {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The computed optimization.
    pub data: Arc<TenantOptimization>,
}

#[Object(name = "Optimization")]
impl OptimizationObject {
    /// The date whose prices were used and from which inactivity is counted.
    async fn as_of(&self) -> super::Date {
        super::Date(self.data.optimization.as_of)
    }

    /// ISO 4217 code of the prices used; null when no finding is priced.
    async fn currency(&self) -> Option<&'static str> {
        self.data.optimization.currency.map(|c| c.code())
    }

    /// Days without a sign-in after which a user is `INACTIVE` (`TENANTGRAPH_INACTIVE_DAYS`).
    async fn inactive_days(&self) -> u32 {
        self.data.inactive_days
    }

    /// Whether the tenant's last import could read sign-in activity, and why not.
    async fn sign_in_activity(&self) -> SignInActivityStatus {
        SignInActivityStatus::from(&self.data.sign_ins)
    }

    /// Monthly saving if every license found went, each license counted once whatever the
    /// kinds that found it, plus the idle seats. Unpriced licenses are not in it.
    async fn monthly_saving(&self) -> Decimal {
        let o = &self.data.optimization;
        show(o.currency, o.saving)
    }

    /// Licenses and seats found whose SKU has no price in force on `asOf`, each once: not
    /// costed (never as 0), so `monthlySaving` leaves them out.
    async fn unpriced_licenses(&self) -> i64 {
        self.data.optimization.unpriced_licenses
    }

    /// One total per kind, every kind listed. Kinds overlap (a disabled guest is both), so
    /// their savings may add up to more than `monthlySaving`.
    async fn by_kind(&self) -> Vec<WasteKindTotal> {
        let o = &self.data.optimization;
        o.kinds
            .iter()
            .map(|k| WasteKindTotal {
                kind: k.kind.into(),
                available: k.available,
                users: k.users,
                licenses: k.licenses,
                monthly_saving: show(o.currency, k.saving),
                unpriced_licenses: k.unpriced_licenses,
            })
            .collect()
    }

    /// Savings of users' licenses per cost group, by each user's current allocation shares
    /// (a user split 60/40 brings 60 % of the saving to one group), cost groups with findings
    /// by id, then `Unallocated` (`costGroup` null) for users no rule or override places. Idle
    /// seats belong to no group and are in `byKind` only.
    async fn by_cost_group(&self) -> Vec<CostGroupWasteObject> {
        (0..self.data.optimization.groups.len())
            .map(|index| CostGroupWasteObject {
                data: self.data.clone(),
                index,
            })
            .collect()
    }

    /// Idle seats of paid SKUs, by SKU id.
    async fn unassigned_seats(&self) -> Vec<WasteFindingObject> {
        self.data
            .optimization
            .idle_seats
            .iter()
            .map(|f| WasteFindingObject::new(self.tenant_id, &self.data, f))
            .collect()
    }
}

/// Whether sign-in activity could be read.
#[derive(SimpleObject)]
pub struct SignInActivityStatus {
    /// `true` when the last import read it; `false` when upstream refused it or no import has
    /// asked yet (`INACTIVE` is then not judged).
    pub available: bool,
    /// Upstream's error code when refused, e.g.
    /// `Authentication_RequestFromNonPremiumTenantOrB2CTenant` (no Entra ID P1/P2) or
    /// `Authorization_RequestDenied` (`AuditLog.Read.All` not consented).
    pub upstream_code: Option<String>,
    /// Upstream's message when refused.
    pub upstream_message: Option<String>,
    /// When the last import read or was refused it; null before any import asked.
    pub observed_at: Option<DateTime<Utc>>,
}

impl From<&SignInAvailability> for SignInActivityStatus {
    fn from(a: &SignInAvailability) -> Self {
        match a {
            SignInAvailability::Available { observed_at } => SignInActivityStatus {
                available: true,
                upstream_code: None,
                upstream_message: None,
                observed_at: Some(*observed_at),
            },
            SignInAvailability::Unavailable {
                code,
                message,
                observed_at,
            } => SignInActivityStatus {
                available: false,
                upstream_code: Some(code.clone()),
                upstream_message: Some(message.clone()),
                observed_at: Some(*observed_at),
            },
            SignInAvailability::Unknown => SignInActivityStatus {
                available: false,
                upstream_code: None,
                upstream_message: None,
                observed_at: None,
            },
        }
    }
}

/// The total of one kind.
#[derive(SimpleObject)]
pub struct WasteKindTotal {
    /// The kind.
    pub kind: WasteKind,
    /// Whether it could be judged (`INACTIVE` needs sign-in activity).
    pub available: bool,
    /// Users with a finding of this kind (0 for `UNASSIGNED_SEATS`).
    pub users: u64,
    /// Licenses (or idle seats) found.
    pub licenses: i64,
    /// Monthly saving of the priced ones.
    pub monthly_saving: Decimal,
    /// Licenses found whose SKU has no price in force.
    pub unpriced_licenses: i64,
}

/// The saving of one kind.
#[derive(SimpleObject)]
pub struct WasteKindSaving {
    /// The kind.
    pub kind: WasteKind,
    /// Monthly saving.
    pub monthly_saving: Decimal,
}

/// One cost group's share of the savings.
pub struct CostGroupWasteObject {
    data: Arc<TenantOptimization>,
    index: usize,
}

#[Object(name = "CostGroupWaste")]
impl CostGroupWasteObject {
    /// The cost group; null for `Unallocated`.
    async fn cost_group(&self, ctx: &Context<'_>) -> ApiResult<Option<CostGroupObject>> {
        let Some(id) = self.data.optimization.groups[self.index].cost_group else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .cost_group
            .load_one(id)
            .await?
            .map(CostGroupObject))
    }

    /// Users with findings and a share here.
    async fn users(&self) -> u64 {
        self.data.optimization.groups[self.index].users
    }

    /// Monthly saving by the users' shares, each license counted once.
    async fn monthly_saving(&self) -> Decimal {
        let o = &self.data.optimization;
        show(o.currency, o.groups[self.index].saving)
    }

    /// Saving per kind found here (kinds overlap).
    async fn by_kind(&self) -> Vec<WasteKindSaving> {
        let o = &self.data.optimization;
        o.groups[self.index]
            .by_kind
            .iter()
            .map(|(&kind, &saving)| WasteKindSaving {
                kind: kind.into(),
                monthly_saving: show(o.currency, saving),
            })
            .collect()
    }
}

/// One priced finding: a user's license, or a SKU's idle seats.
pub struct WasteFindingObject {
    tenant_id: TenantId,
    currency: Option<Currency>,
    kind: optimization::WasteKind,
    sku_id: SkuId,
    licenses: i64,
    unit_price: Option<Decimal>,
    saving: Option<Decimal>,
}

impl WasteFindingObject {
    fn new(tenant_id: TenantId, data: &TenantOptimization, f: &Finding) -> Self {
        WasteFindingObject {
            tenant_id,
            currency: data.optimization.currency,
            kind: f.kind,
            sku_id: f.sku_id,
            licenses: f.licenses,
            unit_price: f.unit_price,
            saving: f.saving,
        }
    }
}

#[Object(name = "WasteFinding")]
impl WasteFindingObject {
    /// Why.
    async fn kind(&self) -> WasteKind {
        self.kind.into()
    }

    /// The SKU id (GUID).
    async fn sku_id(&self) -> ID {
        ID(self.sku_id.to_string())
    }

    /// The SKU.
    async fn subscription(&self, ctx: &Context<'_>) -> ApiResult<Option<SubscriptionObject>> {
        Ok(loaders(ctx)?
            .subscription
            .load_one((self.tenant_id, self.sku_id))
            .await?
            .map(SubscriptionObject))
    }

    /// Licenses, or idle seats (1 for a user's license).
    async fn licenses(&self) -> i64 {
        self.licenses
    }

    /// Monthly unit price used; null when the SKU has no price in force (unpriced). For
    /// `REDUNDANT_LICENSE`, the cheaper of the two SKUs.
    async fn unit_price(&self) -> Option<Decimal> {
        self.unit_price.map(|p| show(self.currency, p))
    }

    /// Monthly saving; null when unpriced.
    async fn monthly_saving(&self) -> Option<Decimal> {
        self.saving.map(|s| show(self.currency, s))
    }
}

/// One user's findings.
pub struct UserWasteObject {
    tenant_id: TenantId,
    data: Arc<TenantOptimization>,
    index: usize,
}

impl UserWasteObject {
    /// The findings of `user_id` in its tenant's optimization on `as_of`; `None` when none.
    pub(crate) async fn of(
        ctx: &Context<'_>,
        tenant_id: TenantId,
        user_id: UserId,
        as_of: Option<NaiveDate>,
    ) -> ApiResult<Option<Self>> {
        let data = optimization_of(ctx, tenant_id, as_of).await?;
        let index = data
            .optimization
            .users
            .binary_search_by_key(&user_id, |u| u.user_id)
            .ok();
        Ok(index.map(|index| UserWasteObject {
            tenant_id,
            data,
            index,
        }))
    }
}

#[Object(name = "UserWaste")]
impl UserWasteObject {
    /// The kinds found, each once.
    async fn kinds(&self) -> Vec<WasteKind> {
        self.data.optimization.users[self.index]
            .kinds()
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// Monthly saving if every license found went, each license once.
    async fn monthly_saving(&self) -> Decimal {
        let o = &self.data.optimization;
        show(o.currency, o.users[self.index].saving)
    }

    /// Licenses found whose SKU has no price in force.
    async fn unpriced_licenses(&self) -> i64 {
        self.data.optimization.users[self.index].unpriced_licenses
    }

    /// Every finding, by kind then SKU (a license may be found by several kinds).
    async fn findings(&self) -> Vec<WasteFindingObject> {
        self.data.optimization.users[self.index]
            .findings
            .iter()
            .map(|f| WasteFindingObject::new(self.tenant_id, &self.data, f))
            .collect()
    }
}

/// A user's last sign-ins, as the tenant's latest import read them from Graph's
/// `signInActivity`.
pub struct SignInActivityObject(pub Arc<SignInActivity>);

#[Object(name = "SignInActivity")]
impl SignInActivityObject {
    /// Last interactive sign-in attempt, successful or not (`lastSignInDateTime`).
    async fn last_sign_in_date_time(&self) -> Option<DateTime<Utc>> {
        self.0.last_sign_in
    }

    /// Last non-interactive sign-in attempt: a client on the user's behalf
    /// (`lastNonInteractiveSignInDateTime`).
    async fn last_non_interactive_sign_in_date_time(&self) -> Option<DateTime<Utc>> {
        self.0.last_non_interactive_sign_in
    }

    /// Last successful sign-in of either kind (`lastSuccessfulSignInDateTime`; Microsoft records
    /// it since December 2023).
    async fn last_successful_sign_in_date_time(&self) -> Option<DateTime<Utc>> {
        self.0.last_successful_sign_in
    }

    /// The latest of the three; null when the user never signed in.
    async fn last_activity(&self) -> Option<DateTime<Utc>> {
        self.0.last_activity()
    }

    /// When the import read it.
    async fn observed_at(&self) -> DateTime<Utc> {
        self.0.observed_at
    }
}
