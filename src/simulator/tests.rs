//! HTTP tests of the simulator: a real server on port 0, driven with reqwest.

use std::collections::HashSet;

use serde_json::Value;

use super::*;

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
const PC_SCOPE: &str = "https://api.partnercenter.microsoft.com/user_impersonation";
const FULL_SELECT: &str = "id,displayName,givenName,surname,userPrincipalName,mail,userType,\
    accountEnabled,jobTitle,department,companyName,officeLocation,streetAddress,city,state,\
    postalCode,country,preferredLanguage,usageLocation,assignedLicenses,\
    onPremisesExtensionAttributes";

async fn sim(config: SimulatorConfig) -> RunningSimulator {
    start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

/// Posts a refresh-token redemption; returns status and JSON body.
async fn redeem(
    sim: &RunningSimulator,
    tenant: Uuid,
    refresh_token: &str,
    scope: &str,
) -> (u16, Value) {
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("client_id", &sim.config().client_id),
        ("client_secret", &sim.config().client_secret),
        ("refresh_token", refresh_token),
        ("scope", scope),
    ]);
    let response = client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn graph_token(sim: &RunningSimulator, tenant: Uuid) -> String {
    let (status, body) = redeem(sim, tenant, &sim.config().refresh_token, GRAPH_SCOPE).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn get(url: &str, token: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = client()
        .get(url)
        .bearer_auth(token)
        .header("client-request-id", "c0ffee00-0000-4000-8000-000000000001")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn get_json(url: &str, token: &str) -> (u16, Value) {
    let (status, _, text) = get(url, token).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Follows nextLinks from `url`; returns every item and the page count.
async fn all_pages(url: &str, token: &str) -> (Vec<Value>, usize, Value) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut next = Some(url.to_owned());
    let mut last = Value::Null;
    while let Some(url) = next {
        let (status, body) = get_json(&url, token).await;
        assert_eq!(status, 200, "{body}");
        items.extend(body["value"].as_array().unwrap().iter().cloned());
        pages += 1;
        next = body["@odata.nextLink"].as_str().map(str::to_owned);
        last = body;
    }
    (items, pages, last)
}

#[tokio::test]
async fn token_success_rotates_the_refresh_token_and_old_ones_stay_valid() {
    let sim = sim(SimulatorConfig::default()).await;
    let tenant = sim.tenant_ids()[0];
    let (status, first) = redeem(&sim, tenant, "sim-initial-refresh-token", GRAPH_SCOPE).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 3600);
    assert_eq!(first["ext_expires_in"], 3600);
    assert!(first["scope"].as_str().unwrap().contains("User.Read.All"));
    let rotated = first["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, "sim-initial-refresh-token");
    let (status, second) = redeem(&sim, tenant, rotated, GRAPH_SCOPE).await;
    assert_eq!(status, 200);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    let (status, _) = redeem(&sim, tenant, "sim-initial-refresh-token", GRAPH_SCOPE).await;
    assert_eq!(status, 200, "the initial refresh token stays valid");
    let (status, pc) = redeem(&sim, sim.config().partner_tenant_id, rotated, PC_SCOPE).await;
    assert_eq!(status, 200, "{pc}");
    assert_eq!(sim.stats().total.tokens_issued, 4);
    sim.stop().await;
}

#[tokio::test]
async fn token_errors_carry_their_aadsts_codes() {
    let sim = sim(SimulatorConfig::default()).await;
    let tenant = sim.tenant_ids()[0];
    let partner = sim.config().partner_tenant_id;

    let response = client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url()))
        .body(form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "tenantgraph-sim-client"),
            ("client_secret", "wrong"),
            ("refresh_token", "sim-initial-refresh-token"),
            ("scope", GRAPH_SCOPE),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"][0], 7000215);
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with("AADSTS7000215: "));
    for part in ["Trace ID: ", "Correlation ID: ", "Timestamp: "] {
        assert!(description.contains(part), "{description}");
    }
    for key in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(body[key].is_string(), "{key} in {body}");
    }

    let (status, body) = redeem(&sim, tenant, "unknown-refresh-token", GRAPH_SCOPE).await;
    assert_eq!(
        (status, body["error_codes"][0].clone()),
        (400, 70008.into())
    );
    let mixed = format!("{GRAPH_SCOPE} {PC_SCOPE}");
    let (status, body) = redeem(&sim, partner, "sim-initial-refresh-token", &mixed).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, "invalid_scope".into())
    );
    assert_eq!(body["error_codes"][0], 70011);
    let (status, body) = redeem(
        &sim,
        Uuid::new_v4(),
        "sim-initial-refresh-token",
        GRAPH_SCOPE,
    )
    .await;
    assert_eq!(
        (status, body["error_codes"][0].clone()),
        (400, 90002.into())
    );
    let (status, body) = redeem(&sim, partner, "sim-initial-refresh-token", GRAPH_SCOPE).await;
    assert_eq!(
        (status, body["error_codes"][0].clone()),
        (400, 90002.into())
    );

    let cases = [
        (Fault::ConditionalAccess, "invalid_grant", 53003),
        (Fault::MfaRequired, "interaction_required", 50076),
        (Fault::RefreshTokenExpired, "invalid_grant", 700082),
        (Fault::ConsentMissing, "invalid_grant", 65001),
        (Fault::TenantNotFound, "invalid_request", 90002),
    ];
    for (fault, error, code) in cases {
        sim.set_faults(vec![(TenantSelector::Index(1), fault.clone())]);
        let (status, body) = redeem(
            &sim,
            sim.tenant_ids()[1],
            "sim-initial-refresh-token",
            GRAPH_SCOPE,
        )
        .await;
        assert_eq!(status, 400, "{fault:?}");
        assert_eq!(body["error"], error, "{fault:?}");
        assert_eq!(body["error_codes"][0], code, "{fault:?}");
        if fault == Fault::ConditionalAccess {
            let claims: Value = serde_json::from_str(body["claims"].as_str().unwrap()).unwrap();
            assert!(claims["access_token"]["capolids"]["values"][0].is_string());
        }
        if fault == Fault::ConsentMissing {
            assert_eq!(body["suberror"], "consent_required");
        }
        let (status, _) = redeem(&sim, tenant, "sim-initial-refresh-token", GRAPH_SCOPE).await;
        assert_eq!(status, 200, "other tenants are unaffected by {fault:?}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn graph_requires_a_graph_token_of_the_right_tenant() {
    let sim = sim(SimulatorConfig::default()).await;
    let [a, b] = [sim.tenant_ids()[0], sim.tenant_ids()[1]];
    let url = format!("{}/v1.0/users?$top=10", sim.base_url());
    let (status, headers, text) = get(&url, "nonsense").await;
    assert_eq!(status, 401);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(
        body["error"]["innerError"]["client-request-id"],
        "c0ffee00-0000-4000-8000-000000000001"
    );
    assert!(headers.contains_key("request-id"));

    let (_, pc) = redeem(
        &sim,
        sim.config().partner_tenant_id,
        "sim-initial-refresh-token",
        PC_SCOPE,
    )
    .await;
    let pc_token = pc["access_token"].as_str().unwrap();
    assert_eq!(
        get(&url, pc_token).await.0,
        401,
        "a Partner Center token cannot read Graph"
    );

    let token_a = graph_token(&sim, a).await;
    let token_b = graph_token(&sim, b).await;
    let customers = format!("{}/v1/customers", sim.base_url());
    assert_eq!(
        get(&customers, &token_a).await.0,
        401,
        "a Graph token cannot read Partner Center"
    );

    let (status, headers, text) = get(&url, &token_b).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false"
    );
    assert_eq!(
        headers["client-request-id"],
        "c0ffee00-0000-4000-8000-000000000001"
    );
    let page_b: Value = serde_json::from_str(&text).unwrap();
    let next_b = page_b["@odata.nextLink"].as_str().unwrap();
    let (status, body) = get_json(next_b, &token_a).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["code"].is_string());
    assert_eq!(get_json(next_b, &token_b).await.0, 200);

    let tampered = format!("{}x", next_b);
    assert_eq!(get_json(&tampered, &token_b).await.0, 400);
    sim.stop().await;
}

#[tokio::test]
async fn users_pages_honour_select_expand_and_top_and_list_everyone_once() {
    let sim = sim(SimulatorConfig {
        users_per_tenant: 250,
        ..SimulatorConfig::default()
    })
    .await;
    let tenant = sim.tenant_ids()[1];
    let token = graph_token(&sim, tenant).await;
    let snapshot = sim.snapshot(tenant).unwrap();

    let expand = "manager($select=id,displayName,userPrincipalName,mail)";
    let url = format!(
        "{}/v1.0/users?%24select={FULL_SELECT}&%24expand={expand}&%24top=999",
        sim.base_url()
    );
    let (users, pages, _) = all_pages(&url, &token).await;
    assert_eq!(
        pages,
        snapshot.users.len().div_ceil(100),
        "expand caps pages at 100"
    );
    assert_eq!(sim.stats().pages_for(tenant), pages as u64);
    assert_eq!(sim.stats().tenant(tenant).users_pages, pages as u64);
    sim.reset_stats();
    assert_eq!(sim.stats(), SimStats::default());
    let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "every user exactly once");
    let expected: HashSet<String> = snapshot.users.iter().map(|u| u.id.to_string()).collect();
    assert_eq!(unique, expected.iter().map(String::as_str).collect());
    let first = &users[0];
    assert_eq!(
        first.as_object().unwrap().len(),
        21,
        "only the selected properties: {first}"
    );
    assert_eq!(
        first["onPremisesExtensionAttributes"]
            .as_object()
            .unwrap()
            .len(),
        15
    );
    for (user, sim_user) in users.iter().zip(&snapshot.users) {
        assert_eq!(user["id"], sim_user.id.to_string());
        assert_eq!(
            user["displayName"].as_str(),
            sim_user.display_name.as_deref()
        );
        assert_eq!(user["department"].as_str(), sim_user.department.as_deref());
        assert_eq!(
            user["assignedLicenses"].as_array().unwrap().len(),
            sim_user.licenses.len()
        );
        match (sim_user.manager_id, &sim_user.manager_contact) {
            (Some(manager), _) => {
                assert_eq!(user["manager"]["id"], manager.to_string());
                assert_eq!(user["manager"]["@odata.type"], "#microsoft.graph.user");
                assert!(user["manager"].get("userPrincipalName").is_some());
                assert!(user["manager"].get("jobTitle").is_none());
            }
            (None, Some(contact)) => {
                let manager = &user["manager"];
                assert_eq!(manager["@odata.type"], "#microsoft.graph.orgContact");
                assert_eq!(manager["id"], contact.id.to_string());
                assert_eq!(manager["displayName"], contact.display_name.as_str());
                assert_eq!(manager["mail"], contact.mail.as_str());
                assert!(manager.get("userPrincipalName").is_none(), "{manager}");
            }
            (None, None) => assert!(user.get("manager").is_none(), "{user}"),
        }
    }
    assert!(
        users.iter().any(|u| u["mail"].is_null()),
        "unset properties are null"
    );
    assert!(
        snapshot.users.iter().any(|u| u.manager_contact.is_some()),
        "some users report to an organizational contact"
    );

    let url = format!(
        "{}/v1.0/users?$select=id,displayName&$top=999",
        sim.base_url()
    );
    let (status, page) = get_json(&url, &token).await;
    assert_eq!(status, 200);
    assert!(page.get("@odata.nextLink").is_none());
    assert_eq!(
        page["value"].as_array().unwrap().len(),
        snapshot.users.len()
    );
    assert!(
        page["@odata.context"]
            .as_str()
            .unwrap()
            .contains("$metadata#users")
    );
    assert_eq!(page["value"][0].as_object().unwrap().len(), 2);

    let url = format!(
        "{}/v1.0/users?$select=id,displayName&$top=7",
        sim.base_url()
    );
    let (users, pages, _) = all_pages(&url, &token).await;
    assert_eq!(users.len(), snapshot.users.len());
    assert_eq!(pages, snapshot.users.len().div_ceil(7));

    let (_, default_page) = get_json(&format!("{}/v1.0/users", sim.base_url()), &token).await;
    assert_eq!(default_page["value"].as_array().unwrap().len(), 100);
    let keys: HashSet<&str> = default_page["value"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(keys.contains("businessPhones") && !keys.contains("department"));

    for bad in [
        "$select=id,aboutMe",
        "$top=0",
        "$top=1000",
        "$expand=directReports",
    ] {
        let (status, body) =
            get_json(&format!("{}/v1.0/users?{bad}", sim.base_url()), &token).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"]["code"], "Request_BadRequest", "{bad}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn delta_rounds_report_changes_removals_and_expire_after_seven_days() {
    let sim = sim(SimulatorConfig {
        users_per_tenant: 300,
        delta_page_size: 120,
        ..SimulatorConfig::default()
    })
    .await;
    let tenant = sim.tenant_ids()[0];
    let token = graph_token(&sim, tenant).await;
    let url = format!(
        "{}/v1.0/users/delta?$select={FULL_SELECT},manager",
        sim.base_url()
    );
    let (initial, pages, last) = all_pages(&url, &token).await;
    let day0 = sim.snapshot(tenant).unwrap();
    assert_eq!(initial.len(), day0.users.len());
    assert_eq!(pages, day0.users.len().div_ceil(120));
    let delta_link = last["@odata.deltaLink"].as_str().unwrap().to_owned();
    assert!(delta_link.contains("$deltatoken="));
    assert!(
        initial.iter().all(|u| u.get("mail") != Some(&Value::Null)),
        "never-set omitted"
    );
    assert!(initial.iter().any(|u| u.get("mail").is_none()));
    let with_manager = initial
        .iter()
        .filter(|u| u.get("manager@delta").is_some())
        .count();
    let managed = day0
        .users
        .iter()
        .filter(|u| u.manager_id.is_some() || u.manager_contact.is_some())
        .count();
    assert_eq!(with_manager, managed);
    let contact_managed = day0
        .users
        .iter()
        .find(|u| u.manager_contact.is_some())
        .unwrap();
    let entry = initial
        .iter()
        .find(|u| u["id"] == contact_managed.id.to_string())
        .unwrap();
    assert_eq!(
        entry["manager@delta"],
        serde_json::json!([{
            "@odata.type": "#microsoft.graph.orgContact",
            "id": contact_managed.manager_contact.as_ref().unwrap().id.to_string(),
        }]),
        "ids only"
    );
    assert_eq!(
        initial
            .iter()
            .find(|u| u.get("manager@delta").is_some())
            .unwrap()["manager@delta"][0]["@odata.type"],
        "#microsoft.graph.user"
    );

    sim.set_day(1);
    let day1 = sim.snapshot(tenant).unwrap();
    let (changes, _, last) = all_pages(&delta_link, &token).await;
    assert!(last["@odata.deltaLink"].is_string());
    let removed: HashSet<&str> = changes
        .iter()
        .filter(|c| c.get("@removed").is_some())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let before: HashSet<String> = day0.users.iter().map(|u| u.id.to_string()).collect();
    let after: HashSet<String> = day1.users.iter().map(|u| u.id.to_string()).collect();
    let gone: HashSet<&str> = before.difference(&after).map(String::as_str).collect();
    assert!(!gone.is_empty());
    assert_eq!(removed, gone);
    for change in changes.iter().filter(|c| c.get("@removed").is_some()) {
        assert_eq!(change["@removed"]["reason"], "changed");
        assert_eq!(change.as_object().unwrap().len(), 2);
    }
    let updated: Vec<&Value> = changes
        .iter()
        .filter(|c| c.get("@removed").is_none())
        .collect();
    let hires = after.difference(&before).count();
    assert!(updated.len() > hires, "hires plus changed users");
    assert!(
        changes.len() < day1.users.len() / 3,
        "only changes, not everyone"
    );
    for user in &updated {
        let sim_user = day1
            .users
            .iter()
            .find(|u| u.id.to_string() == user["id"])
            .unwrap();
        assert_eq!(
            user["displayName"].as_str(),
            sim_user.display_name.as_deref()
        );
        if sim_user.manager_id.is_none() && sim_user.manager_contact.is_none() {
            let manager = user.get("manager@delta");
            assert!(manager.is_none() || manager == Some(&serde_json::json!([])));
        }
    }

    let (status, body) = get_json(
        &format!("{}/v1.0/users/delta?$deltatoken=latest", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["value"].as_array().unwrap().len(), 0);
    assert!(body["@odata.deltaLink"].is_string());

    sim.set_day(7);
    let (status, body) = get_json(&delta_link, &token).await;
    assert_eq!(status, 200, "7 days old is still valid: {body}");
    sim.set_day(8);
    let (status, body) = get_json(&delta_link, &token).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "syncStateNotFound");

    sim.set_day(1);
    sim.set_faults(vec![(TenantSelector::All, Fault::DeltaTokenExpired)]);
    let (status, body) = get_json(&delta_link, &token).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, "syncStateNotFound".into())
    );
    let (status, _) = get_json(
        &format!("{}/v1.0/users/delta?$expand=manager", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(status, 400);
    sim.stop().await;
}

#[tokio::test]
async fn subscribed_skus_count_the_assigned_licenses() {
    let sim = sim(SimulatorConfig::default()).await;
    let tenant = sim.tenant_ids()[1];
    let token = graph_token(&sim, tenant).await;
    let (users, _, _) = all_pages(
        &format!(
            "{}/v1.0/users?$select=id,assignedLicenses&$top=999",
            sim.base_url()
        ),
        &token,
    )
    .await;
    let (status, skus) = get_json(&format!("{}/v1.0/subscribedSkus", sim.base_url()), &token).await;
    assert_eq!(status, 200);
    let skus = skus["value"].as_array().unwrap();
    assert!(skus.len() >= 6);
    for sku in skus {
        let sku_id = sku["skuId"].as_str().unwrap();
        assert_eq!(sku["id"], format!("{tenant}_{sku_id}"));
        assert_eq!(sku["accountId"], tenant.to_string());
        let holders = users
            .iter()
            .filter(|u| {
                u["assignedLicenses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["skuId"] == sku_id)
            })
            .count();
        assert_eq!(sku["consumedUnits"], holders, "{}", sku["skuPartNumber"]);
        assert!(sku["prepaidUnits"]["enabled"].is_i64());
        assert!(sku["servicePlans"][0]["servicePlanId"].is_string());
    }
    assert!(skus.iter().any(|s| {
        s["consumedUnits"].as_i64().unwrap()
            > s["prepaidUnits"]["enabled"].as_i64().unwrap()
                + s["prepaidUnits"]["warning"].as_i64().unwrap()
    }));
    sim.stop().await;
}

#[tokio::test]
async fn transient_faults_answer_then_clear() {
    let sim = sim(SimulatorConfig::default()).await;
    let tenant = sim.tenant_ids()[0];
    let token = graph_token(&sim, tenant).await;
    sim.set_faults(vec![
        (
            TenantSelector::Id(tenant),
            Fault::Throttle {
                count: 2,
                retry_after_secs: 0,
            },
        ),
        (TenantSelector::Index(0), Fault::Unavailable { count: 1 }),
        (TenantSelector::Index(0), Fault::GatewayTimeout { count: 1 }),
    ]);
    let url = format!("{}/v1.0/subscribedSkus", sim.base_url());
    for _ in 0..2 {
        let (status, headers, text) = get(&url, &token).await;
        assert_eq!(status, 429);
        assert_eq!(headers["retry-after"], "0");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["code"], "TooManyRequests");
    }
    let (status, body) = get_json(&url, &token).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (503, "serviceNotAvailable".into())
    );
    assert_eq!(get_json(&url, &token).await.0, 504);
    assert_eq!(get_json(&url, &token).await.0, 200);
    assert_eq!(sim.stats().tenant(tenant).faults_injected, 4);

    sim.set_faults(vec![(TenantSelector::All, Fault::NoDelegatedAccess)]);
    let (status, body) = get_json(&url, &token).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, "Authorization_RequestDenied".into())
    );

    let partner = sim.config().partner_tenant_id;
    sim.set_faults(vec![(
        TenantSelector::Id(partner),
        Fault::Throttle {
            count: 1,
            retry_after_secs: 3,
        },
    )]);
    let (_, pc) = redeem(&sim, partner, "sim-initial-refresh-token", PC_SCOPE).await;
    let pc_token = pc["access_token"].as_str().unwrap();
    let (status, headers, text) = get(&format!("{}/v1/customers", sim.base_url()), pc_token).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "3");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["statusCode"], 429);
    assert_eq!(
        get(&format!("{}/v1/customers", sim.base_url()), pc_token)
            .await
            .0,
        200
    );
    sim.stop().await;
}

#[tokio::test]
async fn malformed_and_dropped_pages_fail_the_client_then_recover() {
    let sim = sim(SimulatorConfig::default()).await;
    let tenant = sim.tenant_ids()[2];
    let token = graph_token(&sim, tenant).await;
    sim.set_faults(vec![
        (TenantSelector::Index(2), Fault::MalformedPage { page: 2 }),
        (
            TenantSelector::Index(2),
            Fault::DropConnection { page: 1, count: 1 },
        ),
    ]);
    let url = format!(
        "{}/v1.0/users?$select=id,displayName&$top=10",
        sim.base_url()
    );
    let response = client().get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.bytes().await.is_err(), "the body is cut off");

    let (status, _, text) = get(&url, &token).await;
    assert_eq!(status, 200);
    let page: Value = serde_json::from_str(&text).unwrap();
    let next = page["@odata.nextLink"].as_str().unwrap();
    for _ in 0..2 {
        let (status, _, text) = get(next, &token).await;
        assert_eq!(status, 200);
        assert!(
            serde_json::from_str::<Value>(&text).is_err(),
            "page 2 stays malformed"
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn partner_center_pages_with_the_continuation_header() {
    let sim = sim(SimulatorConfig {
        tenants: 5,
        users_per_tenant: 5,
        ..SimulatorConfig::default()
    })
    .await;
    let partner = sim.config().partner_tenant_id;
    let (_, pc) = redeem(&sim, partner, "sim-initial-refresh-token", PC_SCOPE).await;
    let token = pc["access_token"].as_str().unwrap();
    let client = client();
    let first = client
        .get(format!("{}/v1/customers?size=2", sim.base_url()))
        .bearer_auth(token)
        .header("MS-RequestId", "11111111-1111-4111-8111-111111111111")
        .header("MS-CorrelationId", "22222222-2222-4222-8222-222222222222")
        .send()
        .await
        .unwrap();
    assert_eq!(
        first.headers()["ms-requestid"],
        "11111111-1111-4111-8111-111111111111"
    );
    assert_eq!(
        first.headers()["ms-correlationid"],
        "22222222-2222-4222-8222-222222222222"
    );
    let mut page: Value = first.json().await.unwrap();
    let mut ids = Vec::new();
    loop {
        assert_eq!(page["attributes"]["objectType"], "Collection");
        let items = page["items"].as_array().unwrap();
        assert_eq!(page["totalCount"], items.len());
        for item in items {
            assert_eq!(item["id"], item["companyProfile"]["tenantId"]);
            assert!(
                item["companyProfile"]["domain"]
                    .as_str()
                    .unwrap()
                    .ends_with(".onmicrosoft.com")
            );
            ids.push(item["id"].as_str().unwrap().to_owned());
        }
        let Some(next) = page["links"].get("next") else {
            break;
        };
        let uri = next["uri"].as_str().unwrap();
        assert!(uri.starts_with("/customers?"), "{uri}");
        let header = &next["headers"][0];
        assert_eq!(header["key"], "MS-ContinuationToken");
        let response = client
            .get(format!("{}/v1{uri}", sim.base_url()))
            .bearer_auth(token)
            .header("MS-ContinuationToken", header["value"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        page = response.json().await.unwrap();
    }
    let expected: Vec<String> = sim.tenant_ids().iter().map(Uuid::to_string).collect();
    assert_eq!(ids, expected);

    let (status, body) = get_json(
        &format!("{}/v1/customers?size=2&seekOperation=Next", sim.base_url()),
        token,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["description"].is_string());

    let subscriptions = format!(
        "{}/v1/customers/{}/subscriptions",
        sim.base_url(),
        expected[0]
    );
    let (status, body) = get_json(&subscriptions, token).await;
    assert_eq!(status, 200, "{body}");
    let snapshot = sim.snapshot(sim.tenant_ids()[0]).unwrap();
    let e3 = snapshot
        .skus
        .iter()
        .find(|s| s.sku_part_number == "SPE_E3")
        .unwrap();
    let sub = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == e3.subscriptions[0].commerce_subscription_id.to_string())
        .unwrap();
    assert_ne!(sub["id"], e3.subscription_ids[0].to_string());
    assert_eq!(sub["quantity"], e3.enabled);
    assert_eq!(sub["status"], "active");
    assert!(sub["termDuration"].is_string() && sub["billingCycle"].is_string());
    assert_eq!(sim.stats().tenant(partner).pc_requests, 5);
    sim.stop().await;
}

#[tokio::test]
async fn the_same_seed_serves_the_same_data() {
    let config = SimulatorConfig {
        seed: 42,
        day: 2,
        ..SimulatorConfig::default()
    };
    let a = sim(config.clone()).await;
    let b = sim(config).await;
    assert_eq!(a.tenant_ids(), b.tenant_ids());
    let tenant = a.tenant_ids()[0];
    assert_eq!(a.snapshot(tenant), b.snapshot(tenant));
    let url_a = format!("{}/v1.0/users?$select={FULL_SELECT}&$top=999", a.base_url());
    let url_b = format!("{}/v1.0/users?$select={FULL_SELECT}&$top=999", b.base_url());
    let (_, page_a) = get_json(&url_a, &graph_token(&a, tenant).await).await;
    let (_, page_b) = get_json(&url_b, &graph_token(&b, tenant).await).await;
    assert_eq!(page_a["value"], page_b["value"]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn expired_access_tokens_and_foreign_delta_links_are_refused() {
    let sim = sim(SimulatorConfig {
        access_token_lifetime: std::time::Duration::ZERO,
        ..SimulatorConfig::default()
    })
    .await;
    let [a, b] = [sim.tenant_ids()[0], sim.tenant_ids()[1]];
    let expired = graph_token(&sim, a).await;
    let (status, body) = get_json(&format!("{}/v1.0/users", sim.base_url()), &expired).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, "InvalidAuthenticationToken".into())
    );
    sim.stop().await;

    let sim = super::start(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let token_a = graph_token(&sim, a).await;
    let token_b = graph_token(&sim, b).await;
    let latest = format!("{}/v1.0/users/delta?$deltatoken=latest", sim.base_url());
    let (_, body) = get_json(&latest, &token_b).await;
    let link_b = body["@odata.deltaLink"].as_str().unwrap();
    assert_eq!(get_json(link_b, &token_a).await.0, 400);
    assert_eq!(get_json(link_b, &token_b).await.0, 200);
    sim.stop().await;
}

#[tokio::test]
async fn latency_faults_delay_only_the_selected_tenant() {
    let sim = sim(SimulatorConfig::default()).await;
    let [slow, fast] = [sim.tenant_ids()[0], sim.tenant_ids()[1]];
    let slow_token = graph_token(&sim, slow).await;
    let fast_token = graph_token(&sim, fast).await;
    sim.set_faults(vec![(
        TenantSelector::Id(slow),
        Fault::Latency(std::time::Duration::from_millis(150)),
    )]);
    let url = format!("{}/v1.0/subscribedSkus", sim.base_url());
    let started = std::time::Instant::now();
    assert_eq!(get_json(&url, &slow_token).await.0, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    assert_eq!(get_json(&url, &fast_token).await.0, 200);
    assert_eq!(sim.stats().tenant(fast).sku_requests, 1);
    sim.stop().await;
}

mod contacts;
mod licensing;
mod subscriptions;
mod unknown_skus;

fn client() -> reqwest::Client {
    crate::install_tls_provider();
    reqwest::Client::new()
}
