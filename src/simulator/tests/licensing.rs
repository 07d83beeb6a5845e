//! HTTP tests of group-based licensing: `licenseAssignmentStates` on `/users` and
//! `/users/delta`, against `assignedLicenses` and `subscribedSkus.consumedUnits`.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::*;

fn sku_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|l| l["skuId"].as_str().unwrap().to_owned())
        .collect()
}

fn plans(entry: &Value) -> HashSet<String> {
    entry["disabledPlans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn license_states_agree_with_assigned_licenses_and_consumed_units() {
    let sim = sim(SimulatorConfig::default()).await;
    let mut count_violations = 0;
    for (index, tenant) in sim.tenant_ids().into_iter().enumerate() {
        let token = graph_token(&sim, tenant).await;
        let url = format!(
            "{}/v1.0/users?$select=id,assignedLicenses,licenseAssignmentStates&$top=999",
            sim.base_url()
        );
        let (users, _, _) = all_pages(&url, &token).await;
        let (_, skus) = get_json(&format!("{}/v1.0/subscribedSkus", sim.base_url()), &token).await;
        let snapshot = sim.snapshot(tenant).unwrap();
        let by_id: HashMap<String, &SimUser> = snapshot
            .users
            .iter()
            .map(|u| (u.id.to_string(), u))
            .collect();
        let mut holders: HashMap<String, i64> = HashMap::new();
        let mut e3_groups = HashSet::new();
        let (mut group_only, mut both) = (0, 0);
        let e3 = "d4f3fbb2-8f9a-4ec1-926e-c39f92f5c14e";
        for user in &users {
            let assigned = &user["assignedLicenses"];
            let states = user["licenseAssignmentStates"].as_array().unwrap();
            let held: HashSet<String> = sku_ids(assigned).into_iter().collect();
            assert_eq!(
                held.len(),
                sku_ids(assigned).len(),
                "one entry per SKU: {user}"
            );
            let active: HashSet<String> = states
                .iter()
                .filter(|s| s["state"] == "Active")
                .map(|s| s["skuId"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(held, active, "{user}");
            for state in states {
                assert!(
                    state["lastUpdatedDateTime"]
                        .as_str()
                        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
                );
                match state["state"].as_str().unwrap() {
                    "Active" => assert_eq!(state["error"], "None"),
                    "Error" => {
                        assert_eq!(state["error"], "CountViolation");
                        assert!(state["assignedByGroup"].is_string());
                        assert_eq!(state["skuId"], "4b9405b0-7788-4568-add1-99614e613b69");
                        assert!(!held.contains(state["skuId"].as_str().unwrap()));
                        assert_eq!(index % 2, 1, "only the over-assigned tenants");
                        count_violations += 1;
                    }
                    other => panic!("unexpected state {other}"),
                }
            }
            // A plan stays disabled only when every active assignment disables it.
            for license in assigned.as_array().unwrap() {
                let sku = &license["skuId"];
                let mut expected: Option<HashSet<String>> = None;
                for state in states
                    .iter()
                    .filter(|s| s["skuId"] == *sku && s["state"] == "Active")
                {
                    let p = plans(state);
                    expected = Some(match expected {
                        None => p,
                        Some(e) => e.intersection(&p).cloned().collect(),
                    });
                }
                assert_eq!(Some(plans(license)), expected, "{user}");
            }
            let e3_states: Vec<&Value> = states.iter().filter(|s| s["skuId"] == e3).collect();
            for state in &e3_states {
                if let Some(group) = state["assignedByGroup"].as_str() {
                    e3_groups.insert(group.to_owned());
                }
            }
            match e3_states.len() {
                2 => both += 1,
                1 if e3_states[0]["assignedByGroup"].is_string() => group_only += 1,
                _ => {}
            }
            for sku in held {
                *holders.entry(sku).or_default() += 1;
            }
            let sim_user = by_id[user["id"].as_str().unwrap()];
            assert_eq!(states.len(), sim_user.license_states.len());
        }
        assert_eq!(e3_groups.len(), 1, "one E3 licensing group per tenant");
        assert!(
            group_only > 0 && both > 0,
            "tenant {index}: {group_only} {both}"
        );
        for sku in skus["value"].as_array().unwrap() {
            let id = sku["skuId"].as_str().unwrap();
            assert_eq!(
                sku["consumedUnits"],
                holders.get(id).copied().unwrap_or(0),
                "{}",
                sku["skuPartNumber"]
            );
        }
        let (_, plain) = get_json(
            &format!("{}/v1.0/users?$select=id,assignedLicenses", sim.base_url()),
            &token,
        )
        .await;
        assert!(plain["value"][0].get("licenseAssignmentStates").is_none());
    }
    assert!(
        count_violations > 0,
        "a group assignment fails with CountViolation"
    );
    sim.stop().await;
}

#[tokio::test]
async fn delta_sends_license_states_when_selected_but_does_not_track_their_changes() {
    let sim = sim(SimulatorConfig {
        users_per_tenant: 1000,
        ..SimulatorConfig::default()
    })
    .await;
    let tenant = sim.tenant_ids()[1];
    let token = graph_token(&sim, tenant).await;
    let states_only = format!(
        "{}/v1.0/users/delta?$select=displayName,licenseAssignmentStates",
        sim.base_url()
    );
    let with_licenses = format!(
        "{}/v1.0/users/delta?$select=assignedLicenses,licenseAssignmentStates",
        sim.base_url()
    );
    let (initial, _, last) = all_pages(&states_only, &token).await;
    let states_link = last["@odata.deltaLink"].as_str().unwrap().to_owned();
    let (_, _, last) = all_pages(&with_licenses, &token).await;
    let licenses_link = last["@odata.deltaLink"].as_str().unwrap().to_owned();
    let day0 = sim.snapshot(tenant).unwrap();
    assert_eq!(initial.len(), day0.users.len());
    assert!(
        initial
            .iter()
            .all(|u| u["licenseAssignmentStates"].is_array())
    );
    assert!(
        initial
            .iter()
            .any(|u| u["licenseAssignmentStates"].as_array().unwrap().len() > 1)
    );

    sim.set_day(2);
    let later = sim.snapshot(tenant).unwrap();
    let before: HashMap<Uuid, &SimUser> = day0.users.iter().map(|u| (u.id, u)).collect();
    let states_changed: HashSet<String> = later
        .users
        .iter()
        .filter(|u| {
            before
                .get(&u.id)
                .is_some_and(|b| b.license_states != u.license_states)
        })
        .map(|u| u.id.to_string())
        .collect();
    assert!(!states_changed.is_empty(), "license changes by day 2");
    let (changes, _, _) = all_pages(&states_link, &token).await;
    let reported = ids_of(&changes);
    assert!(
        reported.is_disjoint(&states_changed),
        "a change of the states alone brings no one back"
    );
    let hires: Vec<&Value> = changes
        .iter()
        .filter(|c| !before.contains_key(&Uuid::parse_str(c["id"].as_str().unwrap()).unwrap()))
        .collect();
    assert!(!hires.is_empty());
    assert!(
        hires
            .iter()
            .all(|h| h["licenseAssignmentStates"].is_array())
    );

    let (changes, _, _) = all_pages(&licenses_link, &token).await;
    let licenses_changed: HashSet<String> = later
        .users
        .iter()
        .filter(|u| before.get(&u.id).is_some_and(|b| b.licenses != u.licenses))
        .map(|u| u.id.to_string())
        .collect();
    assert!(!licenses_changed.is_empty());
    assert!(licenses_changed.is_subset(&ids_of(&changes)));
    for change in changes.iter().filter(|c| c.get("@removed").is_none()) {
        let user = later
            .users
            .iter()
            .find(|u| u.id.to_string() == change["id"])
            .unwrap();
        assert_eq!(
            change["licenseAssignmentStates"].as_array().unwrap().len(),
            user.license_states.len()
        );
    }
    sim.stop().await;
}

fn ids_of(items: &[Value]) -> HashSet<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}
