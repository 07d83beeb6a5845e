//! License optimization: the licenses a tenant pays for and could stop paying for (disabled
//! accounts, guests, users who stopped signing in, SKUs another SKU of the same user already
//! covers, idle seats), each priced per month with the prices in force and split over the
//! cost groups of its user. Pure: no I/O, no store or GraphQL types.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::allocation::{Currency, Price, PriceError, Share, prices_in_force};
use super::ids::{CostGroupId, ServicePlanId, SkuId, UserId};
use super::subscription::Subscription;

/// What makes a license (or an idle seat) a candidate for saving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WasteKind {
    /// A disabled account holding paid licenses.
    DisabledLicensed,
    /// An enabled account with no sign-in for the configured number of days.
    Inactive,
    /// A guest holding paid licenses.
    GuestLicensed,
    /// A license whose service plans another SKU of the same user includes.
    RedundantLicense,
    /// Purchased seats of a paid SKU nobody is assigned.
    UnassignedSeats,
}

impl WasteKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [WasteKind; 5] = [
        WasteKind::DisabledLicensed,
        WasteKind::Inactive,
        WasteKind::GuestLicensed,
        WasteKind::RedundantLicense,
        WasteKind::UnassignedSeats,
    ];

    /// The served name, e.g. `DISABLED_LICENSED`.
    pub fn as_str(self) -> &'static str {
        match self {
            WasteKind::DisabledLicensed => "DISABLED_LICENSED",
            WasteKind::Inactive => "INACTIVE",
            WasteKind::GuestLicensed => "GUEST_LICENSED",
            WasteKind::RedundantLicense => "REDUNDANT_LICENSE",
            WasteKind::UnassignedSeats => "UNASSIGNED_SEATS",
        }
    }
}

/// A user's last sign-ins as Graph's `signInActivity` reported them at one import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInActivity {
    /// Last interactive sign-in attempt (successful or not).
    pub last_sign_in: Option<DateTime<Utc>>,
    /// Last non-interactive sign-in attempt (a client on the user's behalf).
    pub last_non_interactive_sign_in: Option<DateTime<Utc>>,
    /// Last successful sign-in of either kind (recorded by Microsoft since December 2023).
    pub last_successful_sign_in: Option<DateTime<Utc>>,
    /// When the import read it.
    pub observed_at: DateTime<Utc>,
}

impl SignInActivity {
    /// The latest of the three dates; `None` when the user never signed in.
    pub fn last_activity(&self) -> Option<DateTime<Utc>> {
        [
            self.last_sign_in,
            self.last_non_interactive_sign_in,
            self.last_successful_sign_in,
        ]
        .into_iter()
        .flatten()
        .max()
    }
}

/// Whether sign-in activity could be read for a tenant at its last import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInAvailability {
    /// Read at `observed_at`.
    Available {
        /// When the import read it.
        observed_at: DateTime<Utc>,
    },
    /// Upstream refused it (e.g. a tenant without Entra ID P1/P2): the code and message.
    Unavailable {
        /// Upstream's error code, e.g. `Authentication_RequestFromNonPremiumTenantOrB2CTenant`.
        code: String,
        /// Upstream's message.
        message: String,
        /// When the import was refused.
        observed_at: DateTime<Utc>,
    },
    /// No import has asked yet.
    Unknown,
}

/// What an import read of a tenant's sign-in activity, stored in place of the last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInImport {
    /// Every user's activity, by user (users who never signed in have no dates).
    Read(Vec<(UserId, SignInActivity)>),
    /// Upstream refused it; the run goes on without it.
    Refused {
        /// Upstream's error code.
        code: String,
        /// Upstream's message.
        message: String,
    },
}

/// One present user as the optimization sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasteUser {
    /// The user.
    pub user_id: UserId,
    /// `accountEnabled`; `None` when upstream did not say.
    pub account_enabled: Option<bool>,
    /// `Member` or `Guest`.
    pub user_type: Option<String>,
    /// When an import first saw the user (stands for "created" for a user who never signed in).
    pub first_seen_at: DateTime<Utc>,
    /// The user's sign-in activity; `None` when none was read for the user.
    pub sign_in: Option<SignInActivity>,
    /// The SKUs the user holds a license of.
    pub skus: Vec<SkuId>,
    /// The user's current cost groups and percentages; empty when unallocated.
    pub shares: Vec<Share>,
}

/// One subscribed SKU as the optimization sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasteSku {
    /// The SKU.
    pub sku_id: SkuId,
    /// User-assignable and paid for (`PARTNER` or `OTHER` billing).
    pub paid: bool,
    /// Purchased minus assigned, when above 0.
    pub idle_seats: i64,
    /// The SKU's service plans.
    pub plans: BTreeSet<ServicePlanId>,
}

impl WasteSku {
    /// The SKU of `subscription`, with `plans` its service plans.
    pub fn of(subscription: &Subscription, plans: impl IntoIterator<Item = ServicePlanId>) -> Self {
        WasteSku {
            sku_id: subscription.sku_id,
            paid: subscription.is_user_assignable() && subscription.billing.is_paid(),
            idle_seats: subscription.unassigned().max(0),
            plans: plans.into_iter().collect(),
        }
    }
}

/// What the optimization is computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WasteSettings {
    /// The day whose prices apply and from which inactivity is counted.
    pub as_of: NaiveDate,
    /// Days without a sign-in after which an enabled user is `INACTIVE`.
    pub inactive_days: u32,
    /// Whether the tenant's sign-in activity was read (else `INACTIVE` is not judged).
    pub sign_ins_available: bool,
}

/// One priced finding: a user's license, or a SKU's idle seats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Why.
    pub kind: WasteKind,
    /// The SKU.
    pub sku_id: SkuId,
    /// Licenses or seats (1 for a user's license).
    pub licenses: i64,
    /// Monthly unit price used; `None` when the SKU has no price in force (unpriced).
    pub unit_price: Option<Decimal>,
    /// Monthly saving; `None` when unpriced.
    pub saving: Option<Decimal>,
}

/// One user's findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserWaste {
    /// The user.
    pub user_id: UserId,
    /// Every finding, by kind then SKU (a license may be found by several kinds).
    pub findings: Vec<Finding>,
    /// Monthly saving if every flagged license went, each license counted once.
    pub saving: Decimal,
    /// Flagged licenses whose SKU has no price in force.
    pub unpriced_licenses: i64,
}

impl UserWaste {
    /// The kinds found for this user, each once, in [`WasteKind::ALL`] order.
    pub fn kinds(&self) -> Vec<WasteKind> {
        let set: BTreeSet<WasteKind> = self.findings.iter().map(|f| f.kind).collect();
        set.into_iter().collect()
    }
}

/// The total of one kind. Kinds overlap (a disabled guest is both), so these do not add up
/// to [`Optimization::saving`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindTotal {
    /// The kind.
    pub kind: WasteKind,
    /// Whether the kind could be judged (`INACTIVE` needs sign-in activity).
    pub available: bool,
    /// Users with a finding of this kind (0 for `UNASSIGNED_SEATS`).
    pub users: u64,
    /// Licenses or seats found.
    pub licenses: i64,
    /// Monthly saving of the priced ones.
    pub saving: Decimal,
    /// Licenses or seats found whose SKU has no price in force.
    pub unpriced_licenses: i64,
}

/// Savings attributed to one cost group (by its users' shares), or to `Unallocated` users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTotal {
    /// The cost group; `None` for users no rule or override places.
    pub cost_group: Option<CostGroupId>,
    /// Users with findings and a share here.
    pub users: u64,
    /// Monthly saving, each license counted once, by the user's share.
    pub saving: Decimal,
    /// Saving per kind (kinds overlap, as in [`KindTotal`]).
    pub by_kind: BTreeMap<WasteKind, Decimal>,
}

/// A tenant's optimization on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Optimization {
    /// The day whose prices were used.
    pub as_of: NaiveDate,
    /// The one currency of the prices used; `None` when no finding is priced.
    pub currency: Option<Currency>,
    /// One total per kind, in [`WasteKind::ALL`] order.
    pub kinds: Vec<KindTotal>,
    /// Per cost group with findings, by group id, `Unallocated` last.
    pub groups: Vec<GroupTotal>,
    /// Users with findings, by user id.
    pub users: Vec<UserWaste>,
    /// Idle seats per paid SKU, by SKU id.
    pub idle_seats: Vec<Finding>,
    /// Monthly saving: users' savings plus idle seats, each license counted once.
    pub saving: Decimal,
    /// Licenses and seats found whose SKU has no price in force, each counted once.
    pub unpriced_licenses: i64,
}

/// Finds and prices the waste among `users` and `skus` with `prices` in force on
/// `settings.as_of`.
///
/// A license counts when its SKU is paid (user-assignable, `PARTNER` or `OTHER` billing).
/// `INACTIVE` takes enabled users whose latest sign-in (or, never having signed in, their first
/// import) is more than `inactive_days` before `as_of`; users without sign-in data are not
/// judged. `REDUNDANT_LICENSE` flags the SKU whose service plans another SKU of the same user
/// includes (of two equal ones, the cheaper, then the lower id), priced at the cheaper of the
/// two. A license with no price in force is counted as unpriced, never as 0.
///
/// # Errors
/// [`PriceError::MixedCurrencies`] when the prices in force for the SKUs found are in more
/// than one currency.
pub fn optimize(
    users: &[WasteUser],
    skus: &[WasteSku],
    prices: &[Price],
    settings: &WasteSettings,
) -> Result<Optimization, PriceError> {
    let by_sku: HashMap<SkuId, &WasteSku> = skus.iter().map(|s| (s.sku_id, s)).collect();
    let paid = |sku: SkuId| by_sku.get(&sku).is_some_and(|s| s.paid);
    let cutoff = settings
        .as_of
        .checked_sub_days(Days::new(u64::from(settings.inactive_days)))
        .unwrap_or(NaiveDate::MIN);

    // Which SKUs need a price: every paid SKU a user holds, and those with idle seats.
    let wanted = users
        .iter()
        .flat_map(|u| u.skus.iter().copied())
        .filter(|s| paid(*s))
        .chain(
            skus.iter()
                .filter(|s| s.paid && s.idle_seats > 0)
                .map(|s| s.sku_id),
        );
    let (currency, unit_prices) = prices_in_force(prices, wanted, settings.as_of)?;
    let price = |sku: SkuId| unit_prices.get(&sku).copied();

    let mut out_users = Vec::new();
    for user in users {
        let held: Vec<SkuId> = {
            let mut s: Vec<SkuId> = user.skus.iter().copied().filter(|s| paid(*s)).collect();
            s.sort_unstable();
            s.dedup();
            s
        };
        if held.is_empty() {
            continue;
        }
        let mut findings = Vec::new();
        let whole = |kind: WasteKind, sku: SkuId| Finding {
            kind,
            sku_id: sku,
            licenses: 1,
            unit_price: price(sku),
            saving: price(sku),
        };
        let disabled = user.account_enabled == Some(false);
        if disabled {
            findings.extend(held.iter().map(|&s| whole(WasteKind::DisabledLicensed, s)));
        }
        if !disabled
            && settings.sign_ins_available
            && let Some(activity) = &user.sign_in
        {
            let last = activity.last_activity().unwrap_or(user.first_seen_at);
            if last.date_naive() < cutoff {
                findings.extend(held.iter().map(|&s| whole(WasteKind::Inactive, s)));
            }
        }
        if user
            .user_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("Guest"))
        {
            findings.extend(held.iter().map(|&s| whole(WasteKind::GuestLicensed, s)));
        }
        findings.extend(redundant(&held, &by_sku, &price));
        if findings.is_empty() {
            continue;
        }
        findings.sort_by_key(|f| (f.kind, f.sku_id));
        // Each license once, at the most any kind saves on it.
        let mut per_license: BTreeMap<SkuId, Option<Decimal>> = BTreeMap::new();
        for f in &findings {
            let entry = per_license.entry(f.sku_id).or_insert(f.saving);
            if let (Some(have), Some(new)) = (*entry, f.saving) {
                *entry = Some(have.max(new));
            }
        }
        out_users.push(UserWaste {
            user_id: user.user_id,
            saving: per_license.values().flatten().copied().sum(),
            unpriced_licenses: per_license.values().filter(|p| p.is_none()).count() as i64,
            findings,
        });
    }
    out_users.sort_by_key(|u| u.user_id);

    let idle_seats: Vec<Finding> = {
        let mut idle: Vec<Finding> = skus
            .iter()
            .filter(|s| s.paid && s.idle_seats > 0)
            .map(|s| Finding {
                kind: WasteKind::UnassignedSeats,
                sku_id: s.sku_id,
                licenses: s.idle_seats,
                unit_price: price(s.sku_id),
                saving: price(s.sku_id).map(|p| p * Decimal::from(s.idle_seats)),
            })
            .collect();
        idle.sort_by_key(|f| f.sku_id);
        idle
    };

    let kinds = WasteKind::ALL
        .iter()
        .map(|&kind| {
            let mut total = KindTotal {
                kind,
                available: kind != WasteKind::Inactive || settings.sign_ins_available,
                users: 0,
                licenses: 0,
                saving: Decimal::ZERO,
                unpriced_licenses: 0,
            };
            let mut add = |f: &Finding| {
                total.licenses += f.licenses;
                match f.saving {
                    Some(s) => total.saving += s,
                    None => total.unpriced_licenses += f.licenses,
                }
            };
            for u in &out_users {
                let mut found = false;
                for f in u.findings.iter().filter(|f| f.kind == kind) {
                    found = true;
                    add(f);
                }
                if found {
                    total.users += 1;
                }
            }
            if kind == WasteKind::UnassignedSeats {
                idle_seats.iter().for_each(&mut add);
            }
            total
        })
        .collect();

    let shares_of: HashMap<UserId, &[Share]> = users
        .iter()
        .map(|u| (u.user_id, u.shares.as_slice()))
        .collect();
    let mut groups: BTreeMap<(bool, Option<CostGroupId>), GroupTotal> = BTreeMap::new();
    for u in &out_users {
        let shares = shares_of.get(&u.user_id).copied().unwrap_or_default();
        let split: Vec<(Option<CostGroupId>, Decimal)> = if shares.is_empty() {
            vec![(None, Decimal::ONE)]
        } else {
            shares
                .iter()
                .map(|s| (Some(s.cost_group), s.fraction()))
                .collect()
        };
        for (group, fraction) in split {
            // `Unallocated` sorts after every group.
            let line = groups
                .entry((group.is_none(), group))
                .or_insert_with(|| GroupTotal {
                    cost_group: group,
                    users: 0,
                    saving: Decimal::ZERO,
                    by_kind: BTreeMap::new(),
                });
            line.users += 1;
            line.saving += u.saving * fraction;
            for f in &u.findings {
                if let Some(s) = f.saving {
                    *line.by_kind.entry(f.kind).or_default() += s * fraction;
                }
            }
        }
    }

    let saving = out_users.iter().map(|u| u.saving).sum::<Decimal>()
        + idle_seats.iter().filter_map(|f| f.saving).sum::<Decimal>();
    let unpriced_licenses = out_users.iter().map(|u| u.unpriced_licenses).sum::<i64>()
        + idle_seats
            .iter()
            .filter(|f| f.saving.is_none())
            .map(|f| f.licenses)
            .sum::<i64>();
    Ok(Optimization {
        as_of: settings.as_of,
        currency,
        kinds,
        groups: groups.into_values().collect(),
        users: out_users,
        idle_seats,
        saving,
        unpriced_licenses,
    })
}

/// The `REDUNDANT_LICENSE` findings among one user's paid SKUs `held` (sorted, distinct).
fn redundant(
    held: &[SkuId],
    by_sku: &HashMap<SkuId, &WasteSku>,
    price: &impl Fn(SkuId) -> Option<Decimal>,
) -> Vec<Finding> {
    let mut flagged: BTreeMap<SkuId, Option<Decimal>> = BTreeMap::new();
    for &a in held {
        for &b in held {
            if a == b {
                continue;
            }
            let (Some(pa), Some(pb)) = (by_sku.get(&a), by_sku.get(&b)) else {
                continue;
            };
            if pa.plans.is_empty() || !pa.plans.is_subset(&pb.plans) {
                continue;
            }
            // Of two SKUs with the same plans, keep one: flag the cheaper, then the lower id.
            if pa.plans == pb.plans {
                let cheaper_or_first = match (price(a), price(b)) {
                    (Some(x), Some(y)) if x != y => x < y,
                    _ => a < b,
                };
                if !cheaper_or_first {
                    continue;
                }
            }
            let cheaper = match (price(a), price(b)) {
                (Some(x), Some(y)) => Some(x.min(y)),
                _ => None,
            };
            let entry = flagged.entry(a).or_insert(cheaper);
            if let (Some(have), Some(new)) = (*entry, cheaper) {
                *entry = Some(have.max(new));
            }
        }
    }
    flagged
        .into_iter()
        .map(|(sku, saving)| Finding {
            kind: WasteKind::RedundantLicense,
            sku_id: sku,
            licenses: 1,
            unit_price: saving,
            saving,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::allocation::test_support::guid;
    use rust_decimal_macros::dec;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn at(date: NaiveDate) -> DateTime<Utc> {
        date.and_hms_opt(9, 0, 0).unwrap().and_utc()
    }

    const E3: u128 = 0xE3;
    const E5: u128 = 0xE5;
    const FREE: u128 = 0xF;
    const UNPRICED: u128 = 0x99;

    fn sku(n: u128, paid: bool, idle: i64, plans: &[u128]) -> WasteSku {
        WasteSku {
            sku_id: SkuId(guid(n)),
            paid,
            idle_seats: idle,
            plans: plans.iter().map(|&p| ServicePlanId(guid(p))).collect(),
        }
    }

    fn skus() -> Vec<WasteSku> {
        vec![
            sku(E3, true, 0, &[1, 2]),
            sku(E5, true, 3, &[1, 2, 3]),
            sku(FREE, false, 50, &[9]),
            sku(UNPRICED, true, 2, &[7]),
        ]
    }

    fn prices() -> Vec<Price> {
        let chf = Currency::parse("CHF").unwrap();
        vec![
            Price::new(SkuId(guid(E3)), dec!(30), chf, day(2026, 1, 1)).unwrap(),
            Price::new(SkuId(guid(E5)), dec!(50), chf, day(2026, 1, 1)).unwrap(),
            Price::new(SkuId(guid(E5)), dec!(55), chf, day(2026, 12, 1)).unwrap(),
        ]
    }

    fn user(n: u128, skus: &[u128]) -> WasteUser {
        WasteUser {
            user_id: UserId(guid(n)),
            account_enabled: Some(true),
            user_type: Some("Member".into()),
            first_seen_at: at(day(2025, 1, 1)),
            sign_in: Some(SignInActivity {
                last_sign_in: Some(at(day(2026, 11, 20))),
                last_non_interactive_sign_in: None,
                last_successful_sign_in: None,
                observed_at: at(day(2026, 11, 30)),
            }),
            skus: skus.iter().map(|&s| SkuId(guid(s))).collect(),
            shares: Vec::new(),
        }
    }

    fn settings() -> WasteSettings {
        WasteSettings {
            as_of: day(2026, 11, 30),
            inactive_days: 90,
            sign_ins_available: true,
        }
    }

    fn run(users: &[WasteUser]) -> Optimization {
        optimize(users, &skus(), &prices(), &settings()).unwrap()
    }

    fn kind(o: &Optimization, k: WasteKind) -> &KindTotal {
        o.kinds.iter().find(|t| t.kind == k).unwrap()
    }

    #[test]
    fn an_active_member_with_one_license_wastes_nothing_but_idle_seats_count() {
        let o = run(&[user(1, &[E3])]);
        assert!(o.users.is_empty());
        // 3 idle E5 seats at 50; the 2 unpriced seats are counted, not costed; free SKUs never.
        assert_eq!(o.saving, dec!(150));
        assert_eq!(o.unpriced_licenses, 2);
        let idle = kind(&o, WasteKind::UnassignedSeats);
        assert_eq!(
            (idle.licenses, idle.saving, idle.unpriced_licenses),
            (5, dec!(150), 2)
        );
    }

    #[test]
    fn a_disabled_account_saves_every_paid_license_it_holds() {
        let mut u = user(1, &[E3, FREE]);
        u.account_enabled = Some(false);
        let o = run(&[u]);
        assert_eq!(o.users.len(), 1);
        assert_eq!(o.users[0].kinds(), vec![WasteKind::DisabledLicensed]);
        assert_eq!(o.users[0].saving, dec!(30));
        assert_eq!(kind(&o, WasteKind::DisabledLicensed).users, 1);
    }

    #[test]
    fn inactivity_counts_the_latest_of_the_three_dates() {
        let mut old = user(1, &[E3]);
        old.sign_in.as_mut().unwrap().last_sign_in = Some(at(day(2026, 8, 1)));
        let mut recent_background = old.clone();
        recent_background.user_id = UserId(guid(2));
        recent_background
            .sign_in
            .as_mut()
            .unwrap()
            .last_non_interactive_sign_in = Some(at(day(2026, 11, 1)));
        let o = run(&[old, recent_background]);
        assert_eq!(o.users.len(), 1);
        assert_eq!(o.users[0].user_id, UserId(guid(1)));
        assert_eq!(o.users[0].kinds(), vec![WasteKind::Inactive]);
    }

    #[test]
    fn a_user_who_never_signed_in_is_inactive_once_first_seen_long_enough_ago() {
        let mut never = user(1, &[E3]);
        never.sign_in.as_mut().unwrap().last_sign_in = None;
        let mut new_hire = never.clone();
        new_hire.user_id = UserId(guid(2));
        new_hire.first_seen_at = at(day(2026, 11, 1));
        let o = run(&[never, new_hire]);
        assert_eq!(o.users.len(), 1);
        assert_eq!(o.users[0].user_id, UserId(guid(1)));
    }

    #[test]
    fn without_sign_in_activity_inactivity_is_not_judged_and_marked_unavailable() {
        let mut old = user(1, &[E3]);
        old.sign_in.as_mut().unwrap().last_sign_in = Some(at(day(2020, 1, 1)));
        let s = WasteSettings {
            sign_ins_available: false,
            ..settings()
        };
        let o = optimize(&[old], &skus(), &prices(), &s).unwrap();
        assert!(o.users.is_empty());
        assert!(!kind(&o, WasteKind::Inactive).available);
        assert!(kind(&o, WasteKind::DisabledLicensed).available);
    }

    #[test]
    fn a_guest_with_a_paid_license_is_found() {
        let mut g = user(1, &[E5]);
        g.user_type = Some("Guest".into());
        let o = run(&[g]);
        assert_eq!(o.users[0].kinds(), vec![WasteKind::GuestLicensed]);
        // E5's price in force on 2026-11-30 is 50, not the 55 from December.
        assert_eq!(o.users[0].saving, dec!(50));
    }

    #[test]
    fn the_sku_another_includes_is_redundant_priced_at_the_cheaper() {
        let o = run(&[user(1, &[E3, E5])]);
        let u = &o.users[0];
        assert_eq!(u.kinds(), vec![WasteKind::RedundantLicense]);
        assert_eq!(u.findings.len(), 1);
        assert_eq!(u.findings[0].sku_id, SkuId(guid(E3)));
        assert_eq!(u.saving, dec!(30));
    }

    #[test]
    fn of_two_skus_with_the_same_plans_one_is_redundant() {
        let mut list = skus();
        list.push(sku(0xE4, true, 0, &[1, 2]));
        let o = optimize(&[user(1, &[E3, 0xE4])], &list, &prices(), &settings()).unwrap();
        assert_eq!(o.users[0].findings.len(), 1);
        // 0xE4 has no price: the cheaper of the two cannot be told, so the finding is unpriced.
        assert_eq!(o.users[0].unpriced_licenses, 1);
        assert_eq!(o.users[0].saving, dec!(0));
    }

    #[test]
    fn a_license_found_by_several_kinds_is_saved_once() {
        let mut u = user(1, &[E3, E5]);
        u.account_enabled = Some(false);
        u.user_type = Some("Guest".into());
        let o = run(&[u]);
        let w = &o.users[0];
        assert_eq!(
            w.kinds(),
            vec![
                WasteKind::DisabledLicensed,
                WasteKind::GuestLicensed,
                WasteKind::RedundantLicense
            ]
        );
        assert_eq!(w.saving, dec!(80));
        assert_eq!(o.saving, dec!(80) + dec!(150));
        assert_eq!(kind(&o, WasteKind::GuestLicensed).saving, dec!(80));
        assert_eq!(kind(&o, WasteKind::RedundantLicense).saving, dec!(30));
    }

    #[test]
    fn savings_follow_the_users_shares_and_unplaced_users_are_unallocated() {
        let (sales, ops) = (CostGroupId(guid(0x5A)), CostGroupId(guid(0x0B)));
        let mut split = user(1, &[E5]);
        split.account_enabled = Some(false);
        split.shares = vec![
            Share {
                cost_group: sales,
                percent: dec!(60),
            },
            Share {
                cost_group: ops,
                percent: dec!(40),
            },
        ];
        let mut loose = user(2, &[E3]);
        loose.account_enabled = Some(false);
        let o = run(&[split, loose]);
        let line = |g: Option<CostGroupId>| o.groups.iter().find(|l| l.cost_group == g).unwrap();
        assert_eq!(line(Some(sales)).saving, dec!(30));
        assert_eq!(line(Some(ops)).saving, dec!(20));
        assert_eq!(line(None).saving, dec!(30));
        assert_eq!(o.groups.last().unwrap().cost_group, None);
    }

    #[test]
    fn prices_in_two_currencies_are_refused() {
        let mut p = prices();
        p.push(
            Price::new(
                SkuId(guid(UNPRICED)),
                dec!(5),
                Currency::parse("EUR").unwrap(),
                day(2026, 1, 1),
            )
            .unwrap(),
        );
        let err = optimize(&[user(1, &[E3])], &skus(), &p, &settings()).unwrap_err();
        assert!(matches!(err, PriceError::MixedCurrencies { .. }));
    }
}
