//! HTTP tests of the faults that leave a SKU out of `subscribedSkus`: a license of a SKU it
//! never lists (`unknown-sku`), and a SKU missing from its first answer only
//! (`sku-bought-late`).

use super::*;

/// The SKU ids of a `subscribedSkus` answer.
async fn listed_skus(sim: &RunningSimulator, token: &str) -> Vec<String> {
    let (status, body) = get_json(&format!("{}/v1.0/subscribedSkus", sim.base_url()), token).await;
    assert_eq!(status, 200, "{body}");
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["skuId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_first_user_holds_a_sku_subscribed_skus_never_lists() {
    let sim = sim(SimulatorConfig::default()).await;
    let tenant = sim.tenant_ids()[0];
    sim.set_faults(vec![(TenantSelector::Index(0), Fault::UnknownSku)]);
    let token = graph_token(&sim, tenant).await;
    let orphaned = ORPHANED_SKU_ID.to_string();
    let holders = |users: &[serde_json::Value]| -> Vec<String> {
        users
            .iter()
            .filter(|u| {
                u["assignedLicenses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["skuId"] == orphaned.as_str())
            })
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = sim.snapshot(tenant).unwrap().users[0].id.to_string();
    let url = format!(
        "{}/v1.0/users?$select=id,assignedLicenses&$top=999",
        sim.base_url()
    );
    let (users, _, _) = all_pages(&url, &token).await;
    assert_eq!(holders(&users), std::slice::from_ref(&first));
    let url = format!(
        "{}/v1.0/users/delta?$select=id,assignedLicenses",
        sim.base_url()
    );
    let (users, _, _) = all_pages(&url, &token).await;
    assert_eq!(holders(&users), [first]);
    for _ in 0..2 {
        assert!(!listed_skus(&sim, &token).await.contains(&orphaned));
    }
    sim.stop().await;
}

#[tokio::test]
async fn a_sku_bought_late_is_missing_from_the_first_answer_only() {
    let sim = sim(SimulatorConfig::default()).await;
    let tenant = sim.tenant_ids()[1];
    let token = graph_token(&sim, tenant).await;
    let all = listed_skus(&sim, &token).await;
    sim.set_faults(vec![(TenantSelector::Id(tenant), Fault::SkuBoughtLate)]);
    let first = listed_skus(&sim, &token).await;
    assert_eq!(first.len() + 1, all.len());
    let late: Vec<&String> = all.iter().filter(|s| !first.contains(s)).collect();
    let held = sim
        .snapshot(tenant)
        .unwrap()
        .users
        .iter()
        .any(|u| u.licenses.iter().any(|l| l.sku_id.to_string() == *late[0]));
    assert!(held, "users hold the SKU bought late");
    assert_eq!(listed_skus(&sim, &token).await, all);
    assert_eq!(listed_skus(&sim, &token).await, all);
    sim.stop().await;
}
