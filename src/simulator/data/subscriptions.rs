//! The subscriptions behind each SKU: the directory subscriptions Graph lists
//! (`/directory/subscriptions`, whose ids are a SKU's `subscriptionIds`) and, for those this
//! partner sold, the Partner Center subscription with its own commerce id (reference §2.3).
//!
//! Per tenant: E3 (annual, the base of the Teams Phone add-on), E5 (monthly, expired: Graph's
//! `Warning`), Teams Phone as a monthly trial add-on plus a suspended annual subscription; the
//! free `FLOW_FREE` and `RMSBASIC` come from Microsoft, no partner; one SKU (the over-assigned
//! `EXCHANGESTANDARD`, or `POWER_BI_PRO`) was bought through another partner, so Graph lists
//! it but this partner's Partner Center does not.

use chrono::{DateTime, Months, NaiveDate, Utc};

use super::skus::{SKU_E3, SKU_E5, SKU_EXSTD, SKU_FLOW, SKU_MCOEV, SKU_RMS, SKUS};
use super::{TAG_COMMERCE_SUBSCRIPTION, TAG_ORDER, TAG_SUBSCRIPTION, World, derived_uuid};
use crate::simulator::{SimCommerceSubscription, SimSubscription};

/// A SKU's prepaid units, which its subscriptions' seats add up to.
#[derive(Debug, Clone, Copy)]
pub(super) struct SeatCounts {
    pub(super) enabled: i64,
    pub(super) warning: i64,
    pub(super) suspended: i64,
}

/// Who sold a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seller {
    ThisPartner,
    OtherPartner,
    /// Free and self-service SKUs: no partner.
    Microsoft,
}

/// A commitment term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Term {
    Monthly,
    Annual,
}

impl Term {
    fn after(self, start: DateTime<Utc>) -> DateTime<Utc> {
        let months = match self {
            Term::Monthly => 1,
            Term::Annual => 12,
        };
        start
            .checked_add_months(Months::new(months))
            .unwrap_or(start)
    }

    fn billing_cycle(self) -> &'static str {
        match self {
            Term::Monthly => "monthly",
            Term::Annual => "annual",
        }
    }

    fn duration(self) -> &'static str {
        match self {
            Term::Monthly => "P1M",
            Term::Annual => "P1Y",
        }
    }
}

/// One subscription of a SKU.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Graph's `status`.
    status: &'static str,
    seats: i64,
    seller: Seller,
    term: Option<Term>,
    trial: bool,
    /// The SKU whose (first) subscription this one is an add-on to.
    add_on_of: Option<usize>,
    /// Days before today (UTC) it started: the commerce calendar follows the real date, so
    /// renewals are always ahead, as on a live Partner Center.
    started_days_ago: i64,
}

/// The subscriptions of a SKU; their seats add up to the SKU's prepaid units.
fn plans(sku: usize, seats: SeatCounts) -> Vec<Plan> {
    let plan = |status, seats, seller, term, start| Plan {
        status,
        seats,
        seller,
        term,
        trial: false,
        add_on_of: None,
        started_days_ago: start,
    };
    match sku {
        SKU_E3 => vec![plan(
            "Enabled",
            seats.enabled,
            Seller::ThisPartner,
            Some(Term::Annual),
            200,
        )],
        // Ended yesterday; in its grace period.
        SKU_E5 => vec![plan(
            "Warning",
            seats.warning,
            Seller::ThisPartner,
            Some(Term::Monthly),
            31,
        )],
        SKU_MCOEV => vec![
            Plan {
                trial: true,
                add_on_of: Some(SKU_E3),
                ..plan(
                    "Enabled",
                    seats.enabled,
                    Seller::ThisPartner,
                    Some(Term::Monthly),
                    10,
                )
            },
            plan(
                "Suspended",
                seats.suspended,
                Seller::ThisPartner,
                Some(Term::Annual),
                300,
            ),
        ],
        SKU_FLOW | SKU_RMS => vec![plan("Enabled", seats.enabled, Seller::Microsoft, None, 400)],
        SKU_EXSTD => vec![plan(
            "Enabled",
            seats.enabled,
            Seller::OtherPartner,
            Some(Term::Annual),
            90,
        )],
        _ => vec![plan(
            "Enabled",
            seats.enabled,
            Seller::OtherPartner,
            Some(Term::Monthly),
            20,
        )],
    }
}

/// Midnight UTC `days_ago` days before today.
fn days_ago(days_ago: i64) -> DateTime<Utc> {
    let today = Utc::now().date_naive();
    (today - chrono::Duration::days(days_ago))
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or_default()
}

fn date((year, month, day): (i32, u32, u32)) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or_default()
}

/// `nextLifecycleDateTime` of subscriptions that never end (free SKUs).
fn far_future() -> DateTime<Utc> {
    date((9999, 12, 31))
}

/// The new-commerce offer id: `<productId>:<skuId>` for monthly terms,
/// `<productId>:<skuId>:<availabilityId>` for annual ones; trials have their own SKU `0002`.
fn offer_id(product: &str, term: Term, trial: bool) -> String {
    let sku = if trial { "0002" } else { "0001" };
    match term {
        Term::Monthly => format!("{product}:{sku}"),
        Term::Annual => {
            let last = product.chars().last().unwrap_or('0');
            format!("{product}:{sku}:CFQ7TTC0K5D{last}")
        }
    }
}

impl World {
    /// A tenant's subscriptions of one SKU.
    pub(super) fn subscriptions(
        &self,
        tenant: usize,
        sku: usize,
        seats: SeatCounts,
    ) -> Vec<SimSubscription> {
        let def = &SKUS[sku];
        let key = |tag: u64, sku: usize, k: usize| {
            derived_uuid(&[self.seed, tag, tenant as u64, sku as u64, k as u64])
        };
        plans(sku, seats)
            .into_iter()
            .enumerate()
            .map(|(k, plan)| {
                let start = days_ago(plan.started_days_ago);
                let end = plan.term.map(|term| term.after(start));
                let next_lifecycle = match (plan.status, end) {
                    // Expired: usable for 30 more days, then suspended.
                    ("Warning", Some(end)) => end + chrono::Duration::days(30),
                    // Suspended: deleted six months after it started.
                    ("Suspended", _) => Term::Annual.after(start) - Months::new(6),
                    (_, Some(end)) => end,
                    (_, None) => far_future(),
                };
                let owner_tenant_id = match plan.seller {
                    Seller::ThisPartner => Some(self.partner_tenant_id),
                    Seller::OtherPartner => Some(self.other_partner_tenant_id()),
                    Seller::Microsoft => None,
                };
                let commerce = match (plan.seller, def.product_id, plan.term, end) {
                    (Seller::ThisPartner, Some(product), Some(term), Some(end)) => {
                        let status = match plan.status {
                            "Enabled" => "active",
                            "Warning" => "expired",
                            _ => "suspended",
                        };
                        Some(SimCommerceSubscription {
                            offer_id: offer_id(product, term, plan.trial),
                            offer_name: def.offer_name.to_owned(),
                            status: status.to_owned(),
                            quantity: plan.seats,
                            billing_cycle: term.billing_cycle().to_owned(),
                            term_duration: term.duration().to_owned(),
                            effective_start: start,
                            commitment_end: end,
                            auto_renew: status == "active",
                            parent_subscription_id: plan
                                .add_on_of
                                .map(|base| key(TAG_COMMERCE_SUBSCRIPTION, base, 0)),
                            order_id: key(TAG_ORDER, sku, k),
                        })
                    }
                    _ => None,
                };
                SimSubscription {
                    id: key(TAG_SUBSCRIPTION, sku, k),
                    commerce_subscription_id: key(TAG_COMMERCE_SUBSCRIPTION, sku, k),
                    owner_tenant_id,
                    status: plan.status.to_owned(),
                    total_licenses: plan.seats,
                    is_trial: plan.trial,
                    created: start,
                    next_lifecycle,
                    commerce,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use uuid::Uuid;

    use super::*;
    use crate::simulator::SimSku;

    #[test]
    fn commerce_ids_differ_from_directory_ids_and_only_this_partner_sells_in_partner_center() {
        let partner = Uuid::from_u128(42);
        let world = World::new(3, 2, 120).sold_by(partner);
        for tenant in 0..2 {
            let skus = world.tenant(tenant, 0).skus;
            let by_part: HashMap<&str, &SimSku> = skus
                .iter()
                .map(|s| (s.sku_part_number.as_str(), s))
                .collect();
            for sku in &skus {
                assert_eq!(sku.subscriptions.len(), sku.subscription_ids.len());
                let seats: i64 = sku.subscriptions.iter().map(|s| s.total_licenses).sum();
                assert_eq!(seats, sku.enabled + sku.warning + sku.suspended);
                for sub in &sku.subscriptions {
                    assert_ne!(sub.id, sub.commerce_subscription_id);
                    assert_eq!(
                        sub.commerce.is_some(),
                        sub.owner_tenant_id == Some(partner),
                        "{}",
                        sku.sku_part_number
                    );
                    if let Some(c) = &sub.commerce {
                        assert_eq!(c.quantity, sub.total_licenses);
                        assert!(c.commitment_end > c.effective_start);
                        assert_eq!(c.auto_renew, c.status == "active");
                    }
                }
            }
            for free in ["FLOW_FREE", "RMSBASIC"] {
                assert_eq!(by_part[free].subscriptions[0].owner_tenant_id, None);
            }
            let other = if tenant == 1 {
                "EXCHANGESTANDARD"
            } else {
                "POWER_BI_PRO"
            };
            assert_eq!(
                by_part[other].subscriptions[0].owner_tenant_id,
                Some(world.other_partner_tenant_id())
            );
            let mcoev = &by_part["MCOEV"].subscriptions;
            let trial = mcoev[0].commerce.as_ref().unwrap();
            assert!(mcoev[0].is_trial);
            assert_eq!(
                trial.parent_subscription_id,
                Some(by_part["SPE_E3"].subscriptions[0].commerce_subscription_id)
            );
            assert_eq!(mcoev[1].status, "Suspended");
            assert_eq!(mcoev[1].commerce.as_ref().unwrap().status, "suspended");
            let e3 = by_part["SPE_E3"].subscriptions[0]
                .commerce
                .as_ref()
                .unwrap();
            assert_eq!(
                (e3.billing_cycle.as_str(), e3.term_duration.as_str()),
                ("annual", "P1Y")
            );
            assert_eq!(e3.offer_id, "CFQ7TTC0LF8Q:0001:CFQ7TTC0K5DQ");
            assert_eq!(trial.offer_id, "CFQ7TTC0LF8S:0002");
        }
    }
}
