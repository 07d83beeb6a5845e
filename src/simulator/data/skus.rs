//! The SKU catalogue, the licenses a user holds in each license epoch, and a tenant's subscribed
//! SKUs with their seat counts.

use uuid::Uuid;

use super::timeline::DayCtx;
use super::{TAG_LICENSE, TAG_SUBSCRIPTION, TenantSpec, World, derived_uuid, hash};
use crate::simulator::{SimServicePlan, SimSku};

/// One service plan of the catalogue: (id, name, appliesTo).
type PlanDef = (&'static str, &'static str, &'static str);

/// One SKU of the catalogue.
pub(super) struct SkuDef {
    pub(super) sku_id: &'static str,
    pub(super) part_number: &'static str,
    pub(super) offer_name: &'static str,
    pub(super) applies_to: &'static str,
    pub(super) plans: &'static [PlanDef],
}

const E3_PLANS: &[PlanDef] = &[
    (
        "2f57f1aa-ca2a-4e28-b3c0-38b903b9d677",
        "EXCHANGE_S_ENTERPRISE",
        "User",
    ),
    (
        "51d8c676-b28c-4ac8-aa5c-05eae32d85ae",
        "SHAREPOINTENTERPRISE",
        "User",
    ),
    ("5de389d6-252d-40a6-a70c-b9c16aa9f074", "TEAMS1", "User"),
    (
        "12330445-5c06-453d-9667-b219c03056d9",
        "OFFICESUBSCRIPTION",
        "User",
    ),
    (
        "6700cb93-8a9d-413c-b82c-0920b0e744fb",
        "YAMMER_ENTERPRISE",
        "User",
    ),
    ("a81524a0-cdce-43de-9f16-dcb8f24ed3cb", "INTUNE_A", "User"),
];

/// The SKUs every simulated tenant may have; the index is used in counts.
pub(super) const SKUS: &[SkuDef] = &[
    SkuDef {
        sku_id: "d4f3fbb2-8f9a-4ec1-926e-c39f92f5c14e",
        part_number: "SPE_E3",
        offer_name: "Microsoft 365 E3",
        applies_to: "User",
        plans: E3_PLANS,
    },
    SkuDef {
        sku_id: "c6fd0541-8cc8-4a50-be43-e7269e465024",
        part_number: "SPE_E5",
        offer_name: "Microsoft 365 E5",
        applies_to: "User",
        plans: &[
            (
                "2f57f1aa-ca2a-4e28-b3c0-38b903b9d677",
                "EXCHANGE_S_ENTERPRISE",
                "User",
            ),
            ("5de389d6-252d-40a6-a70c-b9c16aa9f074", "TEAMS1", "User"),
            ("b32df5b0-9fac-46d9-9724-815377b99d55", "MCOEV", "User"),
            (
                "46b75373-2481-41ae-9ecb-2b62ee5e6db4",
                "ATP_ENTERPRISE",
                "User",
            ),
        ],
    },
    SkuDef {
        sku_id: "366525d5-3f66-496c-8d3d-2deec26c85ed",
        part_number: "MCOEV",
        offer_name: "Microsoft Teams Phone Standard",
        applies_to: "User",
        plans: &[("b32df5b0-9fac-46d9-9724-815377b99d55", "MCOEV", "User")],
    },
    SkuDef {
        sku_id: "d09159ae-e52a-4e83-a9a6-dfbdeb9c7868",
        part_number: "FLOW_FREE",
        offer_name: "Microsoft Power Automate Free",
        applies_to: "User",
        plans: &[
            (
                "887bd92f-b9fd-4310-9940-58a3cf15f01b",
                "FLOW_P2_VIRAL",
                "User",
            ),
            (
                "cf8014b4-e5c5-4c43-8e99-6c372efaf8ce",
                "EXCHANGE_S_FOUNDATION",
                "Company",
            ),
        ],
    },
    SkuDef {
        sku_id: "0c2b5ef4-7f1d-4d6e-9a3b-6f0b6c1d2e33",
        part_number: "RMSBASIC",
        offer_name: "Rights Management Service Basic Content Protection",
        applies_to: "Company",
        plans: &[(
            "9a1e5c44-3f6b-4a0e-8d4e-2b7c1f0a9e51",
            "RMS_S_BASIC",
            "Company",
        )],
    },
    SkuDef {
        sku_id: "4b9405b0-7788-4568-add1-99614e613b69",
        part_number: "EXCHANGESTANDARD",
        offer_name: "Exchange Online (Plan 1)",
        applies_to: "User",
        plans: &[(
            "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
            "EXCHANGE_S_STANDARD",
            "User",
        )],
    },
];

const SKU_E3: usize = 0;
const SKU_E5: usize = 1;
const SKU_MCOEV: usize = 2;
const SKU_FLOW: usize = 3;
const SKU_RMS: usize = 4;
const SKU_EXSTD: usize = 5;

/// Number of SKUs in [`SKUS`].
pub(crate) const SKU_COUNT: usize = 6;

/// Parses a catalogue GUID; the catalogue is a compile-time constant, so a bad one is a bug
/// that every test would hit at once.
pub(super) fn catalogue_uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap_or_default()
}
impl TenantSpec {
    /// Whether this tenant has the over-assigned `EXCHANGESTANDARD` SKU.
    pub(crate) fn has_over_assigned_sku(&self) -> bool {
        self.index % 2 == 1
    }

    /// Indices into [`SKUS`] this tenant subscribes to.
    pub(crate) fn sku_indices(&self) -> Vec<usize> {
        let mut skus = vec![SKU_E3, SKU_E5, SKU_MCOEV, SKU_FLOW, SKU_RMS];
        if self.has_over_assigned_sku() {
            skus.push(SKU_EXSTD);
        }
        skus
    }
}

impl World {
    /// Licenses of a member for a license epoch.
    pub(super) fn licenses(
        &self,
        tenant: usize,
        index: u32,
        epoch: u32,
    ) -> Vec<(usize, Vec<Uuid>)> {
        if self.is_guest(tenant, index) || self.is_shared_mailbox(tenant, index) {
            return Vec::new();
        }
        let r = hash(&[
            self.seed,
            TAG_LICENSE,
            tenant as u64,
            u64::from(index),
            u64::from(epoch),
        ]);
        let has_exstd = self.tenants[tenant].has_over_assigned_sku();
        let primary = match r % 100 {
            0..8 => None,
            8..20 => Some(SKU_E5),
            20..30 if has_exstd => Some(SKU_EXSTD),
            _ => Some(SKU_E3),
        };
        let mut licenses = Vec::new();
        if let Some(sku) = primary {
            let mut disabled = Vec::new();
            if sku == SKU_E3 && (r >> 8) % 100 < 15 {
                let plans = SKUS[SKU_E3].plans;
                let first = ((r >> 16) % plans.len() as u64) as usize;
                disabled.push(catalogue_uuid(plans[first].0));
                if (r >> 24).is_multiple_of(2) {
                    let second =
                        (first + 1 + ((r >> 32) % (plans.len() as u64 - 1)) as usize) % plans.len();
                    disabled.push(catalogue_uuid(plans[second].0));
                }
            }
            licenses.push((sku, disabled));
            if matches!(sku, SKU_E3 | SKU_E5) && (r >> 40) % 100 < 15 {
                licenses.push((SKU_MCOEV, Vec::new()));
            }
        }
        if (r >> 48) % 100 < 10 {
            licenses.push((SKU_FLOW, Vec::new()));
        }
        licenses
    }

    /// Adds the licenses of every present user on `ctx.day` to per-SKU counts.
    pub(crate) fn consumed_units(&self, ctx: &DayCtx) -> [i64; SKU_COUNT] {
        let mut counts = [0i64; SKU_COUNT];
        for index in 0..self.universe(ctx.day) {
            let state = self.state(ctx, index);
            if state.present {
                for (sku, _) in self.licenses(ctx.tenant, index, state.license_epoch) {
                    counts[sku] += 1;
                }
            }
        }
        counts
    }

    /// The tenant's SKUs on a day; prepaid units are fixed from the day-0 counts.
    pub(crate) fn skus(
        &self,
        tenant: usize,
        consumed: &[i64; SKU_COUNT],
        day0: &[i64; SKU_COUNT],
    ) -> Vec<SimSku> {
        let spec = &self.tenants[tenant];
        spec.sku_indices()
            .into_iter()
            .map(|sku| {
                let def = &SKUS[sku];
                let c0 = day0[sku];
                let (enabled, warning, suspended, status, subscriptions) = match sku {
                    SKU_E3 => (c0 + c0 / 10 + 5, 0, 0, "Enabled", 1),
                    SKU_E5 => (0, c0 + c0 / 10 + 2, 0, "Warning", 1),
                    SKU_MCOEV => (c0 + c0 / 10 + 3, 0, 2, "Enabled", 2),
                    SKU_FLOW => (10_000, 0, 0, "Enabled", 1),
                    SKU_RMS => (1, 0, 0, "Enabled", 1),
                    // Over-assigned: a seat reduction left fewer seats than assignments.
                    _ => (c0 * 2 / 3, 0, 0, "Enabled", 1),
                };
                SimSku {
                    sku_id: catalogue_uuid(def.sku_id),
                    sku_part_number: def.part_number.to_owned(),
                    applies_to: def.applies_to.to_owned(),
                    capability_status: status.to_owned(),
                    consumed_units: consumed[sku],
                    enabled,
                    warning,
                    suspended,
                    locked_out: 0,
                    subscription_ids: (0..subscriptions)
                        .map(|k| {
                            derived_uuid(&[
                                self.seed,
                                TAG_SUBSCRIPTION,
                                tenant as u64,
                                sku as u64,
                                k,
                            ])
                        })
                        .collect(),
                    service_plans: def
                        .plans
                        .iter()
                        .map(|(id, name, applies_to)| SimServicePlan {
                            id: catalogue_uuid(id),
                            name: (*name).to_owned(),
                            provisioning_status: if *name == "INTUNE_A" {
                                "PendingActivation".to_owned()
                            } else {
                                "Success".to_owned()
                            },
                            applies_to: (*applies_to).to_owned(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Offer name of a SKU part number, for Partner Center subscriptions.
    pub(crate) fn offer_name(part_number: &str) -> &'static str {
        SKUS.iter()
            .find(|s| s.part_number == part_number)
            .map_or("Microsoft 365", |s| s.offer_name)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn consumed_units_count_the_current_assignments() {
        let world = World::new(2, 3, 300);
        let tenant = world.tenant(1, 2);
        for sku in &tenant.skus {
            let holders = tenant
                .users
                .iter()
                .filter(|u| u.licenses.iter().any(|l| l.sku_id == sku.sku_id))
                .count() as i64;
            assert_eq!(sku.consumed_units, holders, "{}", sku.sku_part_number);
        }
        let by_part: HashMap<&str, &SimSku> = tenant
            .skus
            .iter()
            .map(|s| (s.sku_part_number.as_str(), s))
            .collect();
        assert_eq!(by_part["SPE_E5"].capability_status, "Warning");
        assert_eq!(by_part["SPE_E5"].enabled, 0);
        assert!(by_part["SPE_E5"].warning > 0);
        assert_eq!(by_part["MCOEV"].subscription_ids.len(), 2);
        assert!(by_part["MCOEV"].suspended > 0);
        assert_eq!(by_part["FLOW_FREE"].enabled, 10_000);
        assert_eq!(by_part["RMSBASIC"].applies_to, "Company");
        assert_eq!(by_part["RMSBASIC"].consumed_units, 0);
        let over = by_part["EXCHANGESTANDARD"];
        assert!(over.consumed_units > over.enabled + over.warning);
        assert!(
            !world
                .tenant(0, 0)
                .skus
                .iter()
                .any(|s| s.sku_part_number == "EXCHANGESTANDARD")
        );
    }
}
