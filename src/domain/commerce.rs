//! What the partner sells: Partner Center's commerce subscriptions, how they join Graph's SKUs
//! (through the directory subscriptions, reference §2.3), and how each SKU is billed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::ids::{SkuId, TenantId};
use super::paging::Cursor;
use super::subscription::Subscription;

/// One commerce subscription of a customer, as Partner Center lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommerceSubscription {
    /// The customer tenant.
    pub tenant_id: TenantId,
    /// Partner Center's subscription id.
    pub id: String,
    /// The offer (new commerce: `<productId>:<skuId>[:<availabilityId>]`).
    pub offer_id: String,
    /// The offer's name.
    pub offer_name: String,
    /// The name the partner gave it.
    pub friendly_name: Option<String>,
    /// Seats bought.
    pub quantity: i64,
    /// The unit of `quantity`.
    pub unit_type: Option<String>,
    /// `active`, `pending`, `suspended`, `deleted`, `expired`, ...
    pub status: String,
    /// `monthly`, `annual`, ...
    pub billing_cycle: Option<String>,
    /// ISO 8601 term: `P1M`, `P1Y`, `P3Y`.
    pub term_duration: Option<String>,
    /// `effectiveStartDate`.
    pub start_date: Option<DateTime<Utc>>,
    /// When the commitment ends (renews, when `auto_renew`).
    pub commitment_end_date: Option<DateTime<Utc>>,
    /// `autoRenewEnabled`.
    pub auto_renew: bool,
    /// `isTrial`.
    pub is_trial: bool,
    /// `license`, `usage`, `none`.
    pub billing_type: Option<String>,
    /// The base subscription of an add-on.
    pub parent_subscription_id: Option<String>,
    /// The SKU it backs, when the directory subscriptions link it.
    pub sku_id: Option<SkuId>,
}

/// One directory subscription of a tenant (Graph `companySubscription`): what joins a
/// commerce subscription to a SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySubscription {
    /// The directory subscription id, listed in `subscribedSku.subscriptionIds`.
    pub id: String,
    /// The commerce subscription behind it (this partner's or anyone else's).
    pub commerce_subscription_id: Option<String>,
    /// Whether it is a trial.
    pub is_trial: bool,
}

/// How a SKU of a tenant is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkuBilling {
    /// Backed by at least one paid commerce subscription of this partner.
    Partner,
    /// A free, self-service or viral SKU without a commerce subscription of this partner.
    Free,
    /// Only trial subscriptions back it.
    Trial,
    /// Paid through someone else: direct, an enterprise agreement, another partner.
    Other,
}

impl SkuBilling {
    /// Every value.
    pub const ALL: [SkuBilling; 4] = [
        SkuBilling::Partner,
        SkuBilling::Free,
        SkuBilling::Trial,
        SkuBilling::Other,
    ];

    /// The stored and served name.
    pub fn as_str(self) -> &'static str {
        match self {
            SkuBilling::Partner => "PARTNER",
            SkuBilling::Free => "FREE",
            SkuBilling::Trial => "TRIAL",
            SkuBilling::Other => "OTHER",
        }
    }

    /// Whether its seats cost someone money, so that consumption and idle-seat costs count
    /// them by default (`PARTNER` and `OTHER`).
    pub fn is_paid(self) -> bool {
        BillingSet::PAID.contains(self)
    }
}

/// A set of [`SkuBilling`] values: which SKUs a count or an idle-seat cost takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BillingSet(u8);

impl BillingSet {
    /// `PARTNER` and `OTHER`: the SKUs whose seats cost someone money, counted by default.
    pub const PAID: BillingSet =
        BillingSet(1 << SkuBilling::Partner as u8 | 1 << SkuBilling::Other as u8);

    /// Whether `billing` is in the set.
    pub fn contains(self, billing: SkuBilling) -> bool {
        self.0 & (1 << billing as u8) != 0
    }
}

impl Default for BillingSet {
    fn default() -> Self {
        BillingSet::PAID
    }
}

impl FromIterator<SkuBilling> for BillingSet {
    fn from_iter<I: IntoIterator<Item = SkuBilling>>(values: I) -> Self {
        BillingSet(values.into_iter().fold(0, |set, b| set | 1 << b as u8))
    }
}

impl fmt::Display for SkuBilling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SkuBilling {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        SkuBilling::ALL
            .into_iter()
            .find(|b| b.as_str() == value)
            .ok_or_else(|| format!("unknown SKU billing {value:?}"))
    }
}

/// Where a page of renewals ends: its commitment end date, tenant and subscription id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalKey {
    /// The commitment end date.
    pub end: DateTime<Utc>,
    /// The tenant.
    pub tenant: TenantId,
    /// The commerce subscription id.
    pub id: String,
}

impl RenewalKey {
    /// The ordering name of renewal cursors.
    pub const ORDERING: &'static str = "renewals";

    /// The key after `s` (which has a commitment end date, being in the list).
    pub fn of(s: &CommerceSubscription) -> Option<RenewalKey> {
        Some(RenewalKey {
            end: s.commitment_end_date?,
            tenant: s.tenant_id,
            id: s.id.clone(),
        })
    }

    /// As a cursor.
    pub fn to_cursor(&self) -> Cursor {
        Cursor {
            ordering: Self::ORDERING.to_owned(),
            key: format!("{}|{}", self.end.to_rfc3339(), self.id),
            id: self.tenant.uuid(),
        }
    }

    /// From a cursor; the error says what was wrong.
    pub fn from_cursor(cursor: &Cursor) -> Result<RenewalKey, String> {
        if cursor.ordering != Self::ORDERING {
            return Err(format!(
                "the cursor belongs to the ordering {:?}, not to renewals",
                cursor.ordering
            ));
        }
        let (end, id) = cursor
            .key
            .split_once('|')
            .ok_or("the cursor has no renewal position")?;
        let end = DateTime::parse_from_rfc3339(end)
            .map_err(|e| format!("the cursor's date is not a date: {e}"))?
            .with_timezone(&Utc);
        Ok(RenewalKey {
            end,
            tenant: TenantId(cursor.id),
            id: id.to_owned(),
        })
    }
}

/// Part numbers of SKUs Microsoft gives away (free, self-service sign-up, viral trials,
/// developer and tenant-level freebies). A SKU among them is `FREE` unless a commerce
/// subscription of this partner backs it. `TENANTGRAPH_FREE_SKUS` adds to the list.
pub const FREE_SKU_PART_NUMBERS: &[&str] = &[
    "FLOW_FREE",
    "POWER_BI_STANDARD",
    "POWERAPPS_VIRAL",
    "POWERAPPS_DEV",
    "POWERAPPS_INDIVIDUAL_USER",
    "POWER_PAGES_VTRIAL_FOR_MAKERS",
    "TEAMS_EXPLORATORY",
    "TEAMS_FREE",
    "STREAM",
    "WINDOWS_STORE",
    "RMSBASIC",
    "MICROSOFT_BUSINESS_CENTER",
    "FORMS_PRO",
    "CCIBOTS_PRIVPREV_VIRAL",
    "DEVELOPERPACK_E5",
    "MCOPSTNC",
];

/// Links each commerce subscription to the SKU it backs: commerce id →
/// `companySubscription.commerceSubscriptionId` → `companySubscription.id` ∈
/// `subscribedSku.subscriptionIds`. Ids compare case-insensitively (both are GUIDs).
pub fn link_commerce_to_skus(
    commerce: &mut [CommerceSubscription],
    directory: &[DirectorySubscription],
    skus: &[Subscription],
) {
    for subscription in commerce.iter_mut() {
        subscription.sku_id = directory
            .iter()
            .filter(|d| {
                d.commerce_subscription_id
                    .as_deref()
                    .is_some_and(|c| c.eq_ignore_ascii_case(&subscription.id))
            })
            .find_map(|d| {
                skus.iter()
                    .find(|sku| {
                        sku.subscription_ids
                            .iter()
                            .any(|id| id.eq_ignore_ascii_case(&d.id))
                    })
                    .map(|sku| sku.sku_id)
            });
    }
}

/// How `sku` is billed, from the commerce subscriptions linked to it, the directory
/// subscriptions behind it (`None` when Graph refused to list them) and the free list.
pub fn classify_sku(
    sku: &Subscription,
    commerce: &[CommerceSubscription],
    directory: Option<&[DirectorySubscription]>,
    free_part_numbers: &[String],
) -> SkuBilling {
    let ours: Vec<&CommerceSubscription> = commerce
        .iter()
        .filter(|c| c.sku_id == Some(sku.sku_id))
        .collect();
    if !ours.is_empty() {
        return if ours.iter().all(|c| c.is_trial) {
            SkuBilling::Trial
        } else {
            SkuBilling::Partner
        };
    }
    let part = sku.sku_part_number.as_str();
    let free = FREE_SKU_PART_NUMBERS
        .iter()
        .any(|p| p.eq_ignore_ascii_case(part))
        || free_part_numbers
            .iter()
            .any(|p| p.eq_ignore_ascii_case(part));
    if free {
        return SkuBilling::Free;
    }
    let behind: Vec<&DirectorySubscription> = directory
        .unwrap_or_default()
        .iter()
        .filter(|d| {
            sku.subscription_ids
                .iter()
                .any(|id| id.eq_ignore_ascii_case(&d.id))
        })
        .collect();
    if !behind.is_empty() && behind.iter().all(|d| d.is_trial) {
        SkuBilling::Trial
    } else {
        SkuBilling::Other
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::domain::PrepaidUnits;

    fn sku(n: u128, part: &str, subscription_ids: &[&str]) -> Subscription {
        Subscription {
            tenant_id: TenantId(Uuid::from_u128(1)),
            sku_id: SkuId(Uuid::from_u128(n)),
            sku_part_number: part.into(),
            capability_status: "Enabled".into(),
            applies_to: "User".into(),
            prepaid: PrepaidUnits::default(),
            consumed_units: 0,
            subscription_ids: subscription_ids.iter().map(|s| (*s).to_owned()).collect(),
            billing: SkuBilling::Other,
            unknown: false,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn commerce(id: &str, trial: bool) -> CommerceSubscription {
        CommerceSubscription {
            tenant_id: TenantId(Uuid::from_u128(1)),
            id: id.into(),
            offer_id: "CFQ7TTC0LF8Q:0001".into(),
            offer_name: "Microsoft 365 E3".into(),
            friendly_name: None,
            quantity: 10,
            unit_type: None,
            status: "active".into(),
            billing_cycle: Some("monthly".into()),
            term_duration: Some("P1Y".into()),
            start_date: None,
            commitment_end_date: None,
            auto_renew: true,
            is_trial: trial,
            billing_type: Some("license".into()),
            parent_subscription_id: None,
            sku_id: None,
        }
    }

    fn directory(id: &str, commerce: Option<&str>, trial: bool) -> DirectorySubscription {
        DirectorySubscription {
            id: id.into(),
            commerce_subscription_id: commerce.map(str::to_owned),
            is_trial: trial,
        }
    }

    #[test]
    fn commerce_subscriptions_link_through_directory_subscriptions_and_skus_are_classified() {
        let skus = [
            sku(10, "SPE_E3", &["D-E3"]),
            sku(11, "MCOEV", &["D-PHONE"]),
            sku(12, "FLOW_FREE", &["D-FLOW"]),
            sku(13, "EXCHANGESTANDARD", &["D-EXO"]),
            sku(14, "VISIOCLIENT", &["D-VISIO"]),
            sku(15, "PROJECTPREMIUM", &["D-PROJ"]),
        ];
        let mut ours = vec![
            commerce("c-e3", false),
            commerce("C-PHONE", true),
            commerce("c-unlinked", false),
        ];
        let dirs = [
            directory("d-e3", Some("C-E3"), false),
            directory("D-PHONE", Some("c-phone"), true),
            directory("D-FLOW", None, false),
            directory("D-EXO", Some("someone-elses"), false),
            directory("D-VISIO", Some("self-service-trial"), true),
        ];
        link_commerce_to_skus(&mut ours, &dirs, &skus);
        assert_eq!(ours[0].sku_id, Some(skus[0].sku_id));
        assert_eq!(ours[1].sku_id, Some(skus[1].sku_id));
        assert_eq!(ours[2].sku_id, None, "no directory subscription names it");
        let classes: Vec<SkuBilling> = skus
            .iter()
            .map(|s| classify_sku(s, &ours, Some(&dirs), &[]))
            .collect();
        assert_eq!(
            classes,
            [
                SkuBilling::Partner,
                SkuBilling::Trial,
                SkuBilling::Free,
                SkuBilling::Other,
                SkuBilling::Trial,
                SkuBilling::Other,
            ]
        );
        // The free list can be extended; a partner subscription wins over it.
        assert_eq!(
            classify_sku(&skus[5], &ours, Some(&dirs), &["projectpremium".into()]),
            SkuBilling::Free
        );
        let mut free_but_sold = vec![commerce("c-flow", false)];
        link_commerce_to_skus(
            &mut free_but_sold,
            &[directory("D-FLOW", Some("c-flow"), false)],
            &skus,
        );
        assert_eq!(
            classify_sku(&skus[2], &free_but_sold, None, &[]),
            SkuBilling::Partner
        );
    }

    #[test]
    fn billing_names_round_trip_and_only_partner_and_other_are_paid() {
        for billing in SkuBilling::ALL {
            assert_eq!(billing.as_str().parse::<SkuBilling>(), Ok(billing));
        }
        let paid: Vec<_> = SkuBilling::ALL
            .into_iter()
            .filter(|b| b.is_paid())
            .collect();
        assert_eq!(paid, [SkuBilling::Partner, SkuBilling::Other]);
    }
}
