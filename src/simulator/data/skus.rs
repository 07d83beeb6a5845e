//! The SKU catalogue and a tenant's subscribed SKUs with their seat counts.

use uuid::Uuid;

use super::subscriptions::SeatCounts;
use super::{TenantSpec, World};
use crate::simulator::{SimServicePlan, SimSku};

/// One service plan of the catalogue: (id, name, appliesTo).
type PlanDef = (&'static str, &'static str, &'static str);

/// One SKU of the catalogue.
pub(super) struct SkuDef {
    pub(super) sku_id: &'static str,
    pub(super) part_number: &'static str,
    pub(super) offer_name: &'static str,
    /// The new-commerce product id of Partner Center offers; `None` for free SKUs.
    pub(super) product_id: Option<&'static str>,
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
        product_id: Some("CFQ7TTC0LF8Q"),
        applies_to: "User",
        plans: E3_PLANS,
    },
    SkuDef {
        sku_id: "c6fd0541-8cc8-4a50-be43-e7269e465024",
        part_number: "SPE_E5",
        offer_name: "Microsoft 365 E5",
        product_id: Some("CFQ7TTC0LF8R"),
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
        product_id: Some("CFQ7TTC0LF8S"),
        applies_to: "User",
        plans: &[("b32df5b0-9fac-46d9-9724-815377b99d55", "MCOEV", "User")],
    },
    SkuDef {
        sku_id: "d09159ae-e52a-4e83-a9a6-dfbdeb9c7868",
        part_number: "FLOW_FREE",
        offer_name: "Microsoft Power Automate Free",
        product_id: None,
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
        product_id: None,
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
        product_id: Some("CFQ7TTC0LF8T"),
        applies_to: "User",
        plans: &[(
            "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
            "EXCHANGE_S_STANDARD",
            "User",
        )],
    },
    SkuDef {
        sku_id: "7b2e4c1d-5f3a-4e8b-9c6d-2a1f0e9d8c7b",
        part_number: "POWER_BI_PRO",
        offer_name: "Power BI Pro",
        product_id: Some("CFQ7TTC0LF8V"),
        applies_to: "User",
        plans: &[(
            "3c9e7f21-8a4b-4d6e-b1f2-0e5d7c9a8b63",
            "BI_AZURE_P2",
            "User",
        )],
    },
];

pub(super) const SKU_E3: usize = 0;
pub(super) const SKU_E5: usize = 1;
pub(super) const SKU_MCOEV: usize = 2;
pub(super) const SKU_FLOW: usize = 3;
pub(super) const SKU_RMS: usize = 4;
pub(super) const SKU_EXSTD: usize = 5;
pub(super) const SKU_PBI: usize = 6;

/// Number of SKUs in [`SKUS`].
pub(crate) const SKU_COUNT: usize = 7;

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

    /// Indices into [`SKUS`] this tenant subscribes to. The last one was bought through
    /// another partner: the over-assigned `EXCHANGESTANDARD`, or else `POWER_BI_PRO`.
    pub(crate) fn sku_indices(&self) -> Vec<usize> {
        let mut skus = vec![SKU_E3, SKU_E5, SKU_MCOEV, SKU_FLOW, SKU_RMS];
        skus.push(self.other_partner_sku());
        skus
    }

    /// The SKU this tenant bought through another partner.
    pub(super) fn other_partner_sku(&self) -> usize {
        if self.has_over_assigned_sku() {
            SKU_EXSTD
        } else {
            SKU_PBI
        }
    }
}

impl World {
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
                let (enabled, warning, suspended, status) = match sku {
                    SKU_E3 => (c0 + c0 / 10 + 5, 0, 0, "Enabled"),
                    SKU_E5 => (0, c0 + c0 / 10 + 2, 0, "Warning"),
                    SKU_MCOEV => (c0 + c0 / 10 + 3, 0, 2, "Enabled"),
                    SKU_FLOW => (10_000, 0, 0, "Enabled"),
                    SKU_RMS => (1, 0, 0, "Enabled"),
                    SKU_PBI => (c0 + 2, 0, 0, "Enabled"),
                    // Over-assigned: a seat reduction left fewer seats than assignments.
                    _ => (c0 * 2 / 3, 0, 0, "Enabled"),
                };
                let subscriptions = self.subscriptions(
                    tenant,
                    sku,
                    SeatCounts {
                        enabled,
                        warning,
                        suspended,
                    },
                );
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
                    subscription_ids: subscriptions.iter().map(|s| s.id).collect(),
                    subscriptions,
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
        assert!(!by_part.contains_key("POWER_BI_PRO"));
        let even: Vec<String> = world
            .tenant(0, 0)
            .skus
            .into_iter()
            .map(|s| s.sku_part_number)
            .collect();
        assert!(!even.contains(&"EXCHANGESTANDARD".to_owned()));
        assert!(even.contains(&"POWER_BI_PRO".to_owned()));
    }
}
