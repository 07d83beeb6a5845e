//! HTTP tests of the subscription routes: Partner Center's customer subscriptions and Graph's
//! `/directory/subscriptions`, and how their ids join to `subscribedSkus`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Months};
use serde_json::Value;

use super::*;

async fn pc_token(sim: &RunningSimulator) -> String {
    let partner = sim.config().partner_tenant_id;
    let (status, body) = redeem(sim, partner, &sim.config().refresh_token, PC_SCOPE).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// GETs a Partner Center URL with an optional continuation header.
async fn pc_get(url: &str, token: &str, continuation: Option<&str>) -> (u16, Value) {
    let mut request = client().get(url).bearer_auth(token);
    if let Some(value) = continuation {
        request = request.header("MS-ContinuationToken", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Follows `links.next` (with its headers) from `url`; every item and the page count.
async fn pc_all_pages(sim: &RunningSimulator, url: &str, token: &str) -> (Vec<Value>, usize) {
    let (status, mut page) = pc_get(url, token, None).await;
    assert_eq!(status, 200, "{page}");
    let mut items = Vec::new();
    let mut pages = 1;
    loop {
        let got = page["items"].as_array().unwrap();
        assert_eq!(page["totalCount"], got.len());
        items.extend(got.iter().cloned());
        let Some(next) = page["links"].get("next") else {
            break;
        };
        let uri = next["uri"].as_str().unwrap();
        assert!(uri.starts_with("/customers/"), "{uri}");
        assert_eq!(next["headers"][0]["key"], "MS-ContinuationToken");
        let header = next["headers"][0]["value"].as_str().unwrap();
        let (status, body) =
            pc_get(&format!("{}/v1{uri}", sim.base_url()), token, Some(header)).await;
        assert_eq!(status, 200, "{body}");
        page = body;
        pages += 1;
    }
    (items, pages)
}

fn ids(items: &[Value], key: &str) -> HashSet<String> {
    items
        .iter()
        .map(|i| i[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn partner_center_subscriptions_page_and_carry_new_commerce_terms() {
    let sim = sim(SimulatorConfig {
        subscriptions_page_size: 3,
        ..SimulatorConfig::default()
    })
    .await;
    let token = pc_token(&sim).await;
    let tenant = sim.tenant_ids()[0];
    let url = format!("{}/v1/customers/{tenant}/subscriptions", sim.base_url());
    let (paged, pages) = pc_all_pages(&sim, &url, &token).await;
    assert_eq!(pages, paged.len().div_ceil(3));
    assert!(pages >= 2);
    let (status, one) = pc_get(&format!("{url}?size=100"), &token, None).await;
    assert_eq!(status, 200);
    assert!(one["links"].get("next").is_none());
    assert_eq!(one["items"].as_array().unwrap(), &paged);
    assert_eq!(
        sim.stats()
            .tenant(sim.config().partner_tenant_id)
            .subscription_requests,
        pages as u64 + 1
    );

    let snapshot = sim.snapshot(tenant).unwrap();
    let directory_ids: HashSet<String> = snapshot
        .skus
        .iter()
        .flat_map(|s| &s.subscription_ids)
        .map(Uuid::to_string)
        .collect();
    let commerce_ids = ids(&paged, "id");
    assert!(
        commerce_ids.is_disjoint(&directory_ids),
        "commerce ids are not directory ids"
    );
    for item in &paged {
        let offer = item["offerId"].as_str().unwrap();
        let parts: Vec<&str> = offer.split(':').collect();
        assert!(matches!(parts.len(), 2 | 3), "{offer}");
        assert_eq!(parts[0].len(), 12, "{offer}");
        assert_eq!(item["billingType"], "license");
        let start =
            DateTime::parse_from_rfc3339(item["effectiveStartDate"].as_str().unwrap()).unwrap();
        let end =
            DateTime::parse_from_rfc3339(item["commitmentEndDate"].as_str().unwrap()).unwrap();
        let months = match (item["billingCycle"].as_str(), item["termDuration"].as_str()) {
            (Some("monthly"), Some("P1M")) => 1,
            (Some("annual"), Some("P1Y")) => 12,
            other => panic!("unexpected term {other:?}"),
        };
        assert_eq!(start.checked_add_months(Months::new(months)), Some(end));
        assert_eq!(
            item["autoRenewEnabled"],
            item["status"] == "active",
            "{item}"
        );
        assert_eq!(item["attributes"]["objectType"], "Subscription");
    }
    let cycles: HashSet<&str> = paged
        .iter()
        .map(|i| i["billingCycle"].as_str().unwrap())
        .collect();
    assert_eq!(cycles, HashSet::from(["monthly", "annual"]));
    assert!(
        paged
            .iter()
            .any(|i| i["offerId"].as_str().unwrap().split(':').count() == 2)
    );
    assert!(
        paged
            .iter()
            .any(|i| i["offerId"].as_str().unwrap().split(':').count() == 3)
    );
    let trials: Vec<&Value> = paged.iter().filter(|i| i["isTrial"] == true).collect();
    assert_eq!(trials.len(), 1);
    let suspended: Vec<&Value> = paged
        .iter()
        .filter(|i| i["status"] == "suspended")
        .collect();
    assert_eq!(suspended.len(), 1);
    assert!(suspended[0]["suspensionReasons"][0].is_string());
    let add_on = paged
        .iter()
        .find(|i| i.get("parentSubscriptionId").is_some())
        .unwrap();
    let parent = paged
        .iter()
        .find(|i| i["id"] == add_on["parentSubscriptionId"])
        .unwrap();
    assert_eq!(parent["offerName"], "Microsoft 365 E3");
    assert_eq!(add_on["offerName"], "Microsoft Teams Phone Standard");

    let (status, body) = pc_get(&format!("{url}?seekOperation=Next"), &token, Some("bogus")).await;
    assert_eq!(status, 400, "{body}");
    let (status, first) = pc_get(&url, &token, None).await;
    assert_eq!(status, 200);
    let header = first["links"]["next"]["headers"][0]["value"]
        .as_str()
        .unwrap();
    let other = format!(
        "{}/v1/customers/{}/subscriptions?size=3&seekOperation=Next",
        sim.base_url(),
        sim.tenant_ids()[1]
    );
    assert_eq!(
        pc_get(&other, &token, Some(header)).await.0,
        400,
        "a token of another customer"
    );
    let unknown = format!(
        "{}/v1/customers/{}/subscriptions",
        sim.base_url(),
        Uuid::new_v4()
    );
    let (status, body) = pc_get(&unknown, &token, None).await;
    assert_eq!((status, body["code"].clone()), (404, 60003.into()));
    sim.stop().await;
}

#[tokio::test]
async fn directory_subscriptions_join_partner_center_ids_to_subscribed_skus() {
    let sim = sim(SimulatorConfig::default()).await;
    let partner = sim.config().partner_tenant_id.to_string();
    let pc = pc_token(&sim).await;
    let mut other_partner_skus = HashSet::new();
    for (index, tenant) in sim.tenant_ids().into_iter().enumerate() {
        let token = graph_token(&sim, tenant).await;
        let (sold, _) = pc_all_pages(
            &sim,
            &format!("{}/v1/customers/{tenant}/subscriptions", sim.base_url()),
            &pc,
        )
        .await;
        let (status, skus) =
            get_json(&format!("{}/v1.0/subscribedSkus", sim.base_url()), &token).await;
        assert_eq!(status, 200);
        let skus = skus["value"].as_array().unwrap().clone();
        let (directory, pages, last) = all_pages(
            &format!("{}/v1.0/directory/subscriptions", sim.base_url()),
            &token,
        )
        .await;
        assert_eq!(pages, 1, "one page by default");
        assert!(
            last["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("$metadata#directory/subscriptions")
        );
        let by_commerce: HashMap<&str, &Value> = directory
            .iter()
            .map(|d| (d["commerceSubscriptionId"].as_str().unwrap(), d))
            .collect();
        let sku_of_subscription: HashMap<&str, &Value> = skus
            .iter()
            .flat_map(|s| {
                s["subscriptionIds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |id| (id.as_str().unwrap(), s))
            })
            .collect();
        let listed: HashSet<&str> = directory
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(listed, sku_of_subscription.keys().copied().collect());
        for item in &sold {
            let company = by_commerce[item["id"].as_str().unwrap()];
            let sku = sku_of_subscription[company["id"].as_str().unwrap()];
            assert_eq!(company["skuId"], sku["skuId"]);
            assert_eq!(company["ownerTenantId"], partner.as_str());
            assert_eq!(company["totalLicenses"], item["quantity"]);
            assert_eq!(company["isTrial"], item["isTrial"]);
            assert_ne!(company["id"], item["id"]);
        }
        let sold_ids = ids(&sold, "id");
        for company in &directory {
            let sku = sku_of_subscription[company["id"].as_str().unwrap()];
            assert_eq!(company["skuPartNumber"], sku["skuPartNumber"]);
            assert_eq!(company["ownerId"], Value::Null);
            assert_eq!(company["ownerType"], Value::Null);
            assert!(company["serviceStatus"][0]["servicePlanName"].is_string());
            let status = company["status"].as_str().unwrap();
            assert!(["Enabled", "Warning", "Suspended", "LockedOut", "Deleted"].contains(&status));
            let commerce = company["commerceSubscriptionId"].as_str().unwrap();
            let part = sku["skuPartNumber"].as_str().unwrap();
            match company["ownerTenantId"].as_str() {
                Some(owner) if owner == partner => assert!(sold_ids.contains(commerce)),
                Some(_) => {
                    assert!(!sold_ids.contains(commerce), "another partner's {part}");
                    other_partner_skus.insert((index, part.to_owned()));
                }
                None => {
                    assert!(["FLOW_FREE", "RMSBASIC"].contains(&part), "{part}");
                    assert!(!sold_ids.contains(commerce));
                }
            }
        }
        for sku in &skus {
            let subs: Vec<&Value> = directory
                .iter()
                .filter(|d| d["skuId"] == sku["skuId"])
                .collect();
            let seats = |status: &str| {
                subs.iter()
                    .filter(|d| d["status"] == status)
                    .map(|d| d["totalLicenses"].as_i64().unwrap())
                    .sum::<i64>()
            };
            assert_eq!(
                seats("Enabled"),
                sku["prepaidUnits"]["enabled"],
                "{}",
                sku["skuPartNumber"]
            );
            assert_eq!(seats("Warning"), sku["prepaidUnits"]["warning"]);
            assert_eq!(seats("Suspended"), sku["prepaidUnits"]["suspended"]);
            assert_eq!(subs[0]["status"], sku["capabilityStatus"]);
        }
        let flow = skus
            .iter()
            .find(|s| s["skuPartNumber"] == "FLOW_FREE")
            .unwrap();
        assert_eq!(flow["prepaidUnits"]["enabled"], 10_000);
        assert_eq!(sim.stats().tenant(tenant).directory_requests, 1);
    }
    let expected: HashSet<(usize, String)> = [
        (0, "POWER_BI_PRO"),
        (1, "EXCHANGESTANDARD"),
        (2, "POWER_BI_PRO"),
    ]
    .into_iter()
    .map(|(i, p)| (i, p.to_owned()))
    .collect();
    assert_eq!(
        other_partner_skus, expected,
        "one SKU per tenant from another partner"
    );
    sim.stop().await;
}

#[tokio::test]
async fn directory_subscriptions_honour_select_and_page_with_a_skiptoken() {
    let sim = sim(SimulatorConfig {
        directory_page_size: 2,
        ..SimulatorConfig::default()
    })
    .await;
    let tenant = sim.tenant_ids()[1];
    let token = graph_token(&sim, tenant).await;
    let url = format!(
        "{}/v1.0/directory/subscriptions?$select=skuId,commerceSubscriptionId",
        sim.base_url()
    );
    let (status, first) = get_json(&url, &token).await;
    assert_eq!(status, 200);
    let next = first["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("$skiptoken=") && next.contains("select=skuId,commerceSubscriptionId"),
        "{next}"
    );
    assert!(
        first["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#directory/subscriptions(id,skuId,commerceSubscriptionId)")
    );
    let (paged, pages, _) = all_pages(&url, &token).await;
    let total: usize = sim
        .snapshot(tenant)
        .unwrap()
        .skus
        .iter()
        .map(|s| s.subscriptions.len())
        .sum();
    assert_eq!(paged.len(), total);
    assert_eq!(pages, total.div_ceil(2));
    assert_eq!(
        sim.stats().tenant(tenant).directory_requests,
        pages as u64 + 1
    );
    for item in &paged {
        let keys: HashSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            HashSet::from(["id", "skuId", "commerceSubscriptionId"])
        );
    }
    let (status, body) = get_json(
        &format!(
            "{}/v1.0/directory/subscriptions?$select=id,owner",
            sim.base_url()
        ),
        &token,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, "Request_BadRequest".into())
    );
    let other = graph_token(&sim, sim.tenant_ids()[0]).await;
    assert_eq!(
        get_json(next, &other).await.0,
        400,
        "a skiptoken of another tenant"
    );
    sim.stop().await;
}

#[tokio::test]
async fn refused_directory_subscriptions_answer_403_for_the_selected_tenant_only() {
    let sim = sim(SimulatorConfig {
        faults: vec![(
            TenantSelector::Index(1),
            Fault::DirectorySubscriptionsRefused,
        )],
        ..SimulatorConfig::default()
    })
    .await;
    let [open, refused] = [sim.tenant_ids()[0], sim.tenant_ids()[1]];
    let url = format!("{}/v1.0/directory/subscriptions", sim.base_url());
    let (_, granted) = redeem(&sim, refused, &sim.config().refresh_token, GRAPH_SCOPE).await;
    assert!(
        !granted["scope"]
            .as_str()
            .unwrap()
            .contains("Organization.Read.All")
    );
    let token = granted["access_token"].as_str().unwrap();
    let (status, headers, text) = get(&url, token).await;
    assert_eq!(status, 403);
    assert!(headers.contains_key("request-id"));
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(
        body["error"]["innerError"]["client-request-id"],
        "c0ffee00-0000-4000-8000-000000000001"
    );
    let users = format!("{}/v1.0/users?$select=id", sim.base_url());
    assert_eq!(
        get_json(&users, token).await.0,
        200,
        "other routes still answer"
    );
    let skus = format!("{}/v1.0/subscribedSkus", sim.base_url());
    assert_eq!(get_json(&skus, token).await.0, 200);
    assert_eq!(sim.stats().tenant(refused).directory_requests, 0);
    assert_eq!(sim.stats().tenant(refused).faults_injected, 1);

    let (_, granted) = redeem(&sim, open, &sim.config().refresh_token, GRAPH_SCOPE).await;
    assert!(
        granted["scope"]
            .as_str()
            .unwrap()
            .contains("Organization.Read.All")
    );
    let token = granted["access_token"].as_str().unwrap();
    assert_eq!(get_json(&url, token).await.0, 200);

    sim.set_faults(vec![(TenantSelector::All, Fault::NoDelegatedAccess)]);
    let (status, body) = get_json(&url, token).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, "Authorization_RequestDenied".into())
    );
    sim.stop().await;
}

/// The keys of an object and, one level down, of its object members.
fn shape(value: &Value) -> HashSet<String> {
    let mut keys = HashSet::new();
    for (key, member) in value.as_object().unwrap() {
        keys.insert(key.clone());
        if let Some(inner) = member.as_object() {
            keys.extend(inner.keys().map(|k| format!("{key}.{k}")));
        }
    }
    keys
}

#[tokio::test]
async fn subscription_answers_have_the_fixtures_shape() {
    let pc_fixture: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/microsoft/partner-center/subscriptions.json"
    ))
    .unwrap();
    let graph_fixture: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/microsoft/graph/directory-subscriptions.json"
    ))
    .unwrap();
    let sim = sim(SimulatorConfig::default()).await;
    let tenant = sim.tenant_ids()[0];
    let pc = pc_token(&sim).await;
    let url = format!("{}/v1/customers/{tenant}/subscriptions", sim.base_url());
    let (_, sold) = pc_get(&url, &pc, None).await;
    assert_eq!(shape(&sold), shape(&pc_fixture));
    // Optional members (an add-on's parent, a suspension's reasons) occur in both.
    let all_keys = |v: &Value| -> HashSet<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(shape)
            .collect()
    };
    assert_eq!(all_keys(&sold), all_keys(&pc_fixture));
    let token = graph_token(&sim, tenant).await;
    let (_, listed) = get_json(
        &format!("{}/v1.0/directory/subscriptions", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(shape(&listed), shape(&graph_fixture));
    let expected = shape(&graph_fixture["value"][0]);
    for served in listed["value"].as_array().unwrap() {
        assert_eq!(shape(served), expected);
        assert_eq!(
            shape(&served["serviceStatus"][0]),
            shape(&graph_fixture["value"][0]["serviceStatus"][0])
        );
    }
    sim.stop().await;
}
