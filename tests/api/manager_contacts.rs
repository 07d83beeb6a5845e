//! Managers that are organizational contacts: kept with their id, with their names when a
//! listing gave them, through delta rounds that name them by id only; a manager is a user or a
//! contact, never both. Against the simulator over real HTTP, whose members report to a
//! contact for some days of every month.

use serde_json::{Value, json};
use tenantgraph::domain::{ImportMode, RunStatus};
use tenantgraph::simulator::{Fault, RunningSimulator, SimContact, SimUser, TenantSelector};
use uuid::Uuid;

use crate::importer::{
    assert_matches_simulator, import_all, importer_for, importer_large_from, simulator,
};
use crate::support::{TestApp, backends};

const MANAGER: &str = r#"query($t: ID!, $id: ID!) { user(tenantId: $t, id: $id) {
  department managerId manager { id } managerContact { id displayName mail } } }"#;

/// The user as GraphQL serves their department and manager.
async fn served(app: &TestApp, tenant: Uuid, user: Uuid) -> Value {
    let vars = json!({ "t": tenant.to_string(), "id": user.to_string() });
    app.data(MANAGER, vars).await["user"].clone()
}

/// `managerContact` as served for `contact`, with its names or without.
fn contact_json(contact: &SimContact, names: bool) -> Value {
    json!({
        "id": contact.id.to_string(),
        "displayName": names.then_some(contact.display_name.as_str()),
        "mail": names.then_some(contact.mail.as_str()),
    })
}

/// The users of `sim`'s first tenant on the current day.
fn users_today(sim: &RunningSimulator) -> Vec<SimUser> {
    sim.snapshot(sim.tenant_ids()[0]).unwrap().users
}

/// The first day from 1 on whose change from the day before `found` finds something in.
fn first_day_with<T>(
    sim: &RunningSimulator,
    found: impl Fn(&[SimUser], &[SimUser]) -> Option<T>,
) -> (u32, T) {
    let mut before = users_today(sim);
    for day in 1..=30 {
        sim.set_day(day);
        let now = users_today(sim);
        if let Some(hit) = found(&before, &now) {
            sim.set_day(0);
            return (day, hit);
        }
        before = now;
    }
    panic!("no such change in 30 days");
}

fn by_id(users: &[SimUser], id: Uuid) -> Option<&SimUser> {
    users.iter().find(|u| u.id == id)
}

#[tokio::test]
async fn a_contact_manager_is_served_with_the_names_the_listing_gave_and_kept_by_id_only_rounds() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 300).await;
        let tenant = sim.tenant_ids()[0];
        // Large from 100 users: once the delta link is refused, the next full import reads an
        // initial delta round, whose `manager@delta` names managers by id only.
        let importer = importer_large_from(&app.store, &sim, 100).await;
        import_all(&importer).await;
        let day0 = users_today(&sim);
        let managed: Vec<&SimUser> = day0
            .iter()
            .filter(|u| u.manager_contact.is_some())
            .collect();
        assert!(!managed.is_empty());
        for user in &managed {
            let got = served(&app, tenant, user.id).await;
            let contact = user.manager_contact.as_ref().unwrap();
            assert_eq!(got["managerContact"], contact_json(contact, true), "{got}");
            assert_eq!(
                (&got["manager"], &got["managerId"]),
                (&Value::Null, &Value::Null)
            );
        }

        sim.set_day(1);
        sim.set_faults(vec![(TenantSelector::Index(0), Fault::DeltaTokenExpired)]);
        sim.reset_stats();
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert_eq!(run.mode, Some(ImportMode::Full));
        let stats = sim.stats().tenant(tenant);
        assert_eq!(stats.users_pages, 0, "an initial delta round: {stats:?}");
        let (mut kept, mut new) = (0, 0);
        for user in users_today(&sim) {
            let Some(contact) = &user.manager_contact else {
                continue;
            };
            let before = by_id(&day0, user.id).and_then(|u| u.manager_contact.as_ref());
            let same = before == Some(contact);
            let got = served(&app, tenant, user.id).await;
            assert_eq!(got["managerContact"], contact_json(contact, same), "{got}");
            if same { kept += 1 } else { new += 1 }
        }
        assert!(kept > 0 && new > 0, "kept {kept}, new {new}");
        assert_matches_simulator(&app.store, &sim, tenant).await;

        // A listing whose caller may not read contacts names them by id only too.
        sim.set_faults(vec![
            (TenantSelector::Index(0), Fault::DeltaTokenExpired),
            (TenantSelector::Index(0), Fault::ContactsLimited),
        ]);
        let listing = importer_for(&app.store, &sim).await;
        sim.reset_stats();
        import_all(&listing).await;
        assert!(sim.stats().tenant(tenant).users_pages > 0, "a listing");
        let user = managed
            .iter()
            .find(|u| {
                let today = users_today(&sim);
                by_id(&today, u.id).and_then(|t| t.manager_contact.as_ref())
                    == u.manager_contact.as_ref()
            })
            .expect("a user keeps a contact from day 0 to day 1");
        let got = served(&app, tenant, user.id).await;
        let contact = user.manager_contact.as_ref().unwrap();
        assert_eq!(got["managerContact"], contact_json(contact, true), "{got}");
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_delta_naming_a_users_contact_by_id_keeps_the_names_and_applies_the_other_changes() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 300).await;
        let tenant = sim.tenant_ids()[0];
        // A user who keeps their contact and changes otherwise: the delta sends them.
        let (day, user) = first_day_with(&sim, |before, now| {
            now.iter()
                .find(|u| {
                    by_id(before, u.id).is_some_and(|old| {
                        let (mut a, mut b) = (old.clone(), (*u).clone());
                        a.license_states.clear();
                        b.license_states.clear();
                        u.manager_contact.is_some()
                            && old.manager_contact == u.manager_contact
                            && a != b
                    })
                })
                .cloned()
        });
        sim.set_day(day - 1);
        let importer = importer_for(&app.store, &sim).await;
        import_all(&importer).await;
        sim.set_day(day);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.mode, Some(ImportMode::Delta), "{run:?}");
        let got = served(&app, tenant, user.id).await;
        let contact = user.manager_contact.as_ref().unwrap();
        assert_eq!(got["managerContact"], contact_json(contact, true), "{got}");
        assert_eq!(got["department"].as_str(), user.department.as_deref());
        assert_matches_simulator(&app.store, &sim, tenant).await;
        sim.stop().await;
    }
}

#[tokio::test]
async fn a_manager_changing_between_a_contact_and_a_user_is_served_as_one_or_the_other() {
    for backend in backends() {
        let app = TestApp::empty(backend).await;
        let sim = simulator(1, 300).await;
        let tenant = sim.tenant_ids()[0];
        // A day when one user's interim period ends and another's starts.
        let (day, (ended, started)) = first_day_with(&sim, |before, now| {
            let ended = now.iter().find(|u| {
                u.manager_id.is_some()
                    && by_id(before, u.id).is_some_and(|o| o.manager_contact.is_some())
            })?;
            let started = now.iter().find(|u| {
                u.manager_contact.is_some()
                    && by_id(before, u.id)
                        .is_some_and(|o| o.manager_contact.is_none() && o.manager_id.is_some())
            })?;
            Some((ended.clone(), started.clone()))
        });
        sim.set_day(day - 1);
        let importer = importer_for(&app.store, &sim).await;
        import_all(&importer).await;
        let got = served(&app, tenant, ended.id).await;
        assert!(
            got["managerContact"].is_object() && got["manager"].is_null(),
            "{got}"
        );
        let got = served(&app, tenant, started.id).await;
        assert!(
            got["manager"].is_object() && got["managerContact"].is_null(),
            "{got}"
        );

        sim.set_day(day);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.mode, Some(ImportMode::Delta), "{run:?}");
        let got = served(&app, tenant, ended.id).await;
        let manager = ended.manager_id.unwrap().to_string();
        assert_eq!(got["manager"], json!({ "id": manager }), "{got}");
        assert_eq!(got["managerId"], manager.as_str());
        assert!(got["managerContact"].is_null(), "{got}");
        // The delta names the new contact by id only: no names until a listing brings them.
        let contact = started.manager_contact.as_ref().unwrap();
        let got = served(&app, tenant, started.id).await;
        assert_eq!(got["managerContact"], contact_json(contact, false), "{got}");
        assert!(
            got["manager"].is_null() && got["managerId"].is_null(),
            "{got}"
        );
        assert_matches_simulator(&app.store, &sim, tenant).await;

        sim.set_faults(vec![(TenantSelector::Index(0), Fault::DeltaTokenExpired)]);
        let run = import_all(&importer).await.remove(0);
        assert_eq!(run.mode, Some(ImportMode::Full), "{run:?}");
        let got = served(&app, tenant, started.id).await;
        assert_eq!(got["managerContact"], contact_json(contact, true), "{got}");
        sim.stop().await;
    }
}
