//! HTTP tests of managers that are organizational contacts: expanded on `/users`, by id in
//! `manager@delta`, for an interim period, and with "limited information" under the
//! `contacts-limited` fault.

use serde_json::Value;

use super::*;

const EXPAND: &str = "manager($select=id,displayName,userPrincipalName,mail)";

/// Every user of the tenant listed with managers expanded, by id.
async fn listed(sim: &RunningSimulator, token: &str) -> Vec<Value> {
    let url = format!(
        "{}/v1.0/users?$select=id,displayName&$expand={EXPAND}&$top=999",
        sim.base_url()
    );
    all_pages(&url, token).await.0
}

#[tokio::test]
async fn contact_managers_come_with_names_unless_the_caller_may_not_read_contacts() {
    let sim = sim(SimulatorConfig {
        users_per_tenant: 300,
        ..SimulatorConfig::default()
    })
    .await;
    let tenant = sim.tenant_ids()[0];
    let token = graph_token(&sim, tenant).await;
    let snapshot = sim.snapshot(tenant).unwrap();
    let managed: Vec<&SimUser> = snapshot
        .users
        .iter()
        .filter(|u| u.manager_contact.is_some())
        .collect();
    assert!(!managed.is_empty());
    for user in &managed {
        assert_eq!(user.manager_id, None, "a user or a contact, never both");
        assert_eq!(user.user_type.as_deref(), Some("Member"));
    }
    let users = listed(&sim, &token).await;
    let first = users
        .iter()
        .find(|u| u["id"] == managed[0].id.to_string())
        .unwrap();
    assert!(first["manager"]["displayName"].is_string(), "{first}");

    sim.set_faults(vec![(TenantSelector::Index(0), Fault::ContactsLimited)]);
    let users = listed(&sim, &token).await;
    let limited = users
        .iter()
        .find(|u| u["id"] == managed[0].id.to_string())
        .unwrap();
    let contact = managed[0].manager_contact.as_ref().unwrap();
    assert_eq!(
        limited["manager"],
        serde_json::json!({
            "@odata.type": "#microsoft.graph.orgContact",
            "id": contact.id.to_string(),
            "displayName": null,
            "mail": null,
        })
    );
    let user_managed = users
        .iter()
        .find(|u| u["manager"]["@odata.type"] == "#microsoft.graph.user")
        .unwrap();
    assert!(
        user_managed["manager"]["displayName"].is_string(),
        "users are not limited"
    );
    sim.stop().await;
}

#[tokio::test]
async fn interim_periods_start_and_end_and_a_delta_reports_both() {
    let sim = sim(SimulatorConfig {
        users_per_tenant: 300,
        ..SimulatorConfig::default()
    })
    .await;
    let tenant = sim.tenant_ids()[0];
    let token = graph_token(&sim, tenant).await;
    let url = format!("{}/v1.0/users/delta?$select=id,manager", sim.base_url());
    let (_, _, last) = all_pages(&url, &token).await;
    let mut link = last["@odata.deltaLink"].as_str().unwrap().to_owned();
    let (mut ended, mut started) = (0, 0);
    for day in 1..=6 {
        let before = sim.snapshot(tenant).unwrap();
        sim.set_day(day);
        let after = sim.snapshot(tenant).unwrap();
        let (changes, _, last) = all_pages(&link, &token).await;
        link = last["@odata.deltaLink"].as_str().unwrap().to_owned();
        for user in &after.users {
            let Some(old) = before.users.iter().find(|u| u.id == user.id) else {
                continue;
            };
            if old.manager_contact == user.manager_contact {
                continue;
            }
            let entry = changes
                .iter()
                .find(|c| c["id"] == user.id.to_string())
                .unwrap_or_else(|| panic!("day {day}: {} is in the delta", user.id));
            let kind = &entry["manager@delta"][0]["@odata.type"];
            match (&old.manager_contact, &user.manager_contact) {
                (Some(_), None) if user.manager_id.is_some() => {
                    assert_eq!(kind, "#microsoft.graph.user");
                    ended += 1;
                }
                (None, Some(contact)) => {
                    assert_eq!(kind, "#microsoft.graph.orgContact");
                    assert_eq!(entry["manager@delta"][0]["id"], contact.id.to_string());
                    started += 1;
                }
                _ => {}
            }
        }
    }
    assert!(ended > 0 && started > 0, "ended {ended}, started {started}");
    sim.stop().await;
}
