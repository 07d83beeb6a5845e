//! A tenant's subscribed SKU (Graph `subscribedSku`), its service plans and the license totals.

use chrono::{DateTime, Utc};

use super::commerce::SkuBilling;
use super::ids::{ServicePlanId, SkuId, TenantId};

/// The state of a subscribed SKU (`capabilityStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapabilityStatus {
    /// Active.
    Enabled,
    /// Expired, in its grace period, still usable.
    Warning,
    /// Suspended or cancelled; can be reactivated.
    Suspended,
    /// Deleted.
    Deleted,
    /// The customer cancelled; locked out.
    LockedOut,
    /// A value Microsoft added after this code was written.
    Unknown,
}

impl CapabilityStatus {
    /// Reads Graph's spelling; unknown values are kept as `Unknown` rather than refused.
    pub fn from_graph(value: &str) -> Self {
        match value {
            "Enabled" => Self::Enabled,
            "Warning" => Self::Warning,
            "Suspended" => Self::Suspended,
            "Deleted" => Self::Deleted,
            "LockedOut" => Self::LockedOut,
            _ => Self::Unknown,
        }
    }
}

/// Prepaid license units of a SKU, by state (`prepaidUnits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrepaidUnits {
    /// Units of active subscriptions.
    pub enabled: i64,
    /// Units in the grace period after expiry, still assignable.
    pub warning: i64,
    /// Units of suspended subscriptions, not assignable.
    pub suspended: i64,
    /// Units of cancelled subscriptions, not assignable.
    pub locked_out: i64,
}

/// One subscribed SKU of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The tenant that subscribes.
    pub tenant_id: TenantId,
    /// The SKU.
    pub sku_id: SkuId,
    /// Microsoft's part number, e.g. `SPE_E3`.
    pub sku_part_number: String,
    /// `capabilityStatus` as Graph spelled it.
    pub capability_status: String,
    /// `User` (assignable to users) or `Company` (tenant-level).
    pub applies_to: String,
    /// Prepaid units by state.
    pub prepaid: PrepaidUnits,
    /// Licenses assigned to users (`consumedUnits`, direct and group-based).
    pub consumed_units: i64,
    /// Directory subscription ids this SKU aggregates.
    pub subscription_ids: Vec<String>,
    /// How it is paid for (a staff override applied).
    pub billing: SkuBilling,
    /// A placeholder: users hold licenses of the SKU but no `subscribedSkus` answer listed it
    /// (bought between two reads and still missing, or orphaned). Its counts are 0.
    pub unknown: bool,
    /// When this row was last written.
    pub updated_at: DateTime<Utc>,
}

/// The part number of a placeholder for a SKU never listed by `subscribedSkus` (a placeholder
/// of a SKU listed by an earlier import keeps the part number it had).
pub const UNKNOWN_SKU_PART_NUMBER: &str = "UNKNOWN";

impl Subscription {
    /// A placeholder for `sku_id`, which users of `tenant_id` hold licenses of but which
    /// `subscribedSkus` does not list: no counts (nothing is known to be purchased or
    /// assigned), no directory subscriptions, capability status unknown, billed `OTHER` as any
    /// SKU that no commerce subscription of this partner backs.
    pub fn placeholder(tenant_id: TenantId, sku_id: SkuId, seen_at: DateTime<Utc>) -> Self {
        Subscription {
            tenant_id,
            sku_id,
            sku_part_number: UNKNOWN_SKU_PART_NUMBER.to_owned(),
            capability_status: String::new(),
            applies_to: "User".to_owned(),
            prepaid: PrepaidUnits::default(),
            consumed_units: 0,
            subscription_ids: Vec::new(),
            billing: SkuBilling::Other,
            unknown: true,
            updated_at: seen_at,
        }
    }

    /// Graph's id of the SKU in this tenant: `<tenantId>_<skuId>`.
    pub fn graph_id(&self) -> String {
        format!("{}_{}", self.tenant_id, self.sku_id)
    }

    /// Licenses paid for and assignable: enabled plus warning (Partner Center's definition).
    pub fn purchased(&self) -> i64 {
        self.prepaid.enabled + self.prepaid.warning
    }

    /// Licenses assigned to users.
    pub fn assigned(&self) -> i64 {
        self.consumed_units
    }

    /// Purchased minus assigned; negative when more are assigned than purchased.
    pub fn unassigned(&self) -> i64 {
        self.purchased() - self.assigned()
    }

    /// The parsed capability status.
    pub fn status(&self) -> CapabilityStatus {
        CapabilityStatus::from_graph(&self.capability_status)
    }

    /// Whether the SKU is assigned to users (as opposed to a tenant-level `Company` SKU).
    pub fn is_user_assignable(&self) -> bool {
        self.applies_to.eq_ignore_ascii_case("User")
    }
}

/// A service plan within a subscribed SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The SKU the plan belongs to.
    pub sku_id: SkuId,
    /// The plan.
    pub service_plan_id: ServicePlanId,
    /// e.g. `EXCHANGE_S_ENTERPRISE`.
    pub name: String,
    /// `Success`, `Disabled`, `PendingInput`, ...
    pub provisioning_status: String,
    /// `User` or `Company`.
    pub applies_to: String,
}

/// License totals over a tenant's user-assignable SKUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Consumption {
    /// Sum of purchased licenses.
    pub purchased: i64,
    /// Sum of assigned licenses.
    pub assigned: i64,
    /// Sum of unassigned licenses (purchased minus assigned, per SKU, may be negative).
    pub unassigned: i64,
    /// SKUs where more licenses are assigned than purchased.
    pub over_assigned_skus: i64,
}

impl Consumption {
    /// Totals over the user-assignable SKUs among `subscriptions`; `Company` SKUs have nothing
    /// to assign and are left out.
    pub fn of<'a>(subscriptions: impl IntoIterator<Item = &'a Subscription>) -> Self {
        subscriptions
            .into_iter()
            .filter(|s| s.is_user_assignable())
            .fold(Consumption::default(), |total, s| Consumption {
                purchased: total.purchased + s.purchased(),
                assigned: total.assigned + s.assigned(),
                unassigned: total.unassigned + s.unassigned(),
                over_assigned_skus: total.over_assigned_skus + i64::from(s.unassigned() < 0),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn sku(enabled: i64, warning: i64, consumed: i64, applies_to: &str) -> Subscription {
        Subscription {
            tenant_id: TenantId(Uuid::from_u128(1)),
            sku_id: SkuId(Uuid::from_u128(2)),
            sku_part_number: "SPE_E3".into(),
            capability_status: "Enabled".into(),
            applies_to: applies_to.into(),
            prepaid: PrepaidUnits {
                enabled,
                warning,
                suspended: 3,
                locked_out: 4,
            },
            consumed_units: consumed,
            subscription_ids: vec![],
            billing: SkuBilling::Partner,
            unknown: false,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn purchased_counts_enabled_and_warning_but_not_suspended() {
        let s = sku(10, 2, 5, "User");
        assert_eq!(s.purchased(), 12);
        assert_eq!(s.unassigned(), 7);
    }

    #[test]
    fn over_assignment_shows_as_negative_unassigned() {
        let s = sku(5, 0, 8, "User");
        assert_eq!(s.unassigned(), -3);
    }

    #[test]
    fn consumption_sums_user_skus_and_counts_over_assigned_ones() {
        let subs = [
            sku(10, 0, 4, "User"),
            sku(5, 0, 8, "User"),
            sku(1, 0, 0, "Company"),
        ];
        let c = Consumption::of(&subs);
        assert_eq!(
            c,
            Consumption {
                purchased: 15,
                assigned: 12,
                unassigned: 3,
                over_assigned_skus: 1
            }
        );
    }

    #[test]
    fn a_placeholder_counts_nothing_and_its_status_is_unknown() {
        let s = Subscription::placeholder(
            TenantId(Uuid::from_u128(1)),
            SkuId(Uuid::from_u128(9)),
            DateTime::<Utc>::UNIX_EPOCH,
        );
        assert!(s.unknown);
        assert_eq!((s.purchased(), s.assigned(), s.unassigned()), (0, 0, 0));
        assert_eq!(s.status(), CapabilityStatus::Unknown);
        assert_eq!(Consumption::of([&s, &sku(10, 0, 4, "User")]).purchased, 10);
    }

    #[test]
    fn graph_id_joins_tenant_and_sku() {
        let s = sku(1, 0, 0, "User");
        assert_eq!(
            s.graph_id(),
            "00000000-0000-0000-0000-000000000001_00000000-0000-0000-0000-000000000002"
        );
    }

    #[test]
    fn unknown_capability_status_is_kept_as_unknown() {
        assert_eq!(
            CapabilityStatus::from_graph("Frozen"),
            CapabilityStatus::Unknown
        );
        assert_eq!(
            CapabilityStatus::from_graph("LockedOut"),
            CapabilityStatus::LockedOut
        );
    }
}
