//! Graph's `GET /v1.0/directory/subscriptions`: the tenant's directory subscriptions
//! (`companySubscription`), which join Partner Center's commerce ids to the directory ids of
//! `subscribedSku.subscriptionIds` (reference §2.3). Supports `$select` and `$top`, pages with
//! `$skiptoken`; needs `Organization.Read.All`, which the `directory-subscriptions-refused`
//! fault takes away.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::graph::{bad_request, graph_tenant, next_link, top};
use super::request::{Api, Ctx};
use super::{Data, base_url, option, query_pairs};
use crate::simulator::faults::Fault;
use crate::simulator::wire::PageToken;
use crate::simulator::{SimSku, SimSubscription, lock};

/// The properties of `companySubscription` (Graph's v1.0 resource page).
const PROPERTIES: &[&str] = &[
    "commerceSubscriptionId",
    "createdDateTime",
    "id",
    "isTrial",
    "nextLifecycleDateTime",
    "ownerId",
    "ownerTenantId",
    "ownerType",
    "serviceStatus",
    "skuId",
    "skuPartNumber",
    "status",
    "totalLicenses",
];

/// Parses `$select` into property names as the resource spells them, `id` first; the unknown
/// name on failure.
fn parse_select(list: &str) -> Result<Vec<&'static str>, String> {
    let mut names = vec!["id"];
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let known = PROPERTIES
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
            .ok_or_else(|| name.to_owned())?;
        if !names.contains(known) {
            names.push(known);
        }
    }
    Ok(names)
}

fn graph_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One `companySubscription`, with every property.
fn company_subscription(sku: &SimSku, sub: &SimSubscription) -> Map<String, Value> {
    let value = json!({
        "id": sub.id,
        "commerceSubscriptionId": sub.commerce_subscription_id,
        "createdDateTime": graph_time(sub.created),
        "isTrial": sub.is_trial,
        "nextLifecycleDateTime": graph_time(sub.next_lifecycle),
        // The docs' example names a user here; subscriptions a partner created carry none.
        "ownerId": null,
        "ownerTenantId": sub.owner_tenant_id,
        "ownerType": null,
        "serviceStatus": sku.service_plans.iter().map(|p| json!({
            "appliesTo": p.applies_to,
            "provisioningStatus": p.provisioning_status,
            "servicePlanId": p.id,
            "servicePlanName": p.name,
        })).collect::<Vec<_>>(),
        "skuId": sku.sku_id,
        "skuPartNumber": sku.sku_part_number,
        "status": sub.status,
        "totalLicenses": sub.total_licenses,
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `GET /v1.0/directory/subscriptions`.
pub(super) async fn subscriptions(state: Data, req: HttpRequest) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::Graph);
    let (tenant, tenant_index) = match graph_tenant(&state, &req, &ctx).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let refused = lock(&state.faults).has(tenant, &state.customers, |f| {
        matches!(f, Fault::DirectorySubscriptionsRefused)
    });
    if refused {
        state.count(Some(tenant), |c| c.faults_injected += 1);
        return ctx.error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let pairs = query_pairs(&req);
    let select = match option(&pairs, "select").map(parse_select) {
        None => None,
        Some(Ok(names)) => Some(names),
        Some(Err(name)) => {
            return bad_request(
                &ctx,
                &format!(
                    "Could not find a property named '{name}' on type 'microsoft.graph.companySubscription'."
                ),
            );
        }
    };
    let page_size = match top(&pairs, state.config.directory_page_size.max(1)) {
        Ok(size) => size,
        Err(message) => return bad_request(&ctx, &message),
    };
    let position = match option(&pairs, "skiptoken") {
        None => 0,
        Some(token) => match PageToken::decode(token, state.secret) {
            Some(PageToken::DirectorySubscriptions {
                tenant: t,
                position,
            }) if t == tenant => position,
            Some(PageToken::DirectorySubscriptions { .. }) => {
                return bad_request(&ctx, "The $skiptoken was issued for another tenant.");
            }
            _ => return bad_request(&ctx, "Invalid $skiptoken."),
        },
    };
    let skus = state.skus(tenant_index, state.day());
    let all: Vec<(&SimSku, &SimSubscription)> = skus
        .iter()
        .flat_map(|sku| sku.subscriptions.iter().map(move |sub| (sku, sub)))
        .collect();
    let value: Vec<Value> = all
        .iter()
        .skip(position)
        .take(page_size)
        .map(|(sku, sub)| {
            let mut map = company_subscription(sku, sub);
            if let Some(names) = &select {
                map.retain(|key, _| names.contains(&key.as_str()));
            }
            Value::Object(map)
        })
        .collect();
    let base = base_url(&req);
    let context = match &select {
        Some(names) => format!(
            "{base}/v1.0/$metadata#directory/subscriptions({})",
            names.join(",")
        ),
        None => format!("{base}/v1.0/$metadata#directory/subscriptions"),
    };
    let mut body = json!({"@odata.context": context, "value": value});
    let next = position + page_size;
    if next < all.len() {
        let token = PageToken::DirectorySubscriptions {
            tenant,
            position: next,
        }
        .encode(state.secret);
        body["@odata.nextLink"] = json!(next_link(&req, "/v1.0/directory/subscriptions", &token));
    }
    state.count(Some(tenant), |c| c.directory_requests += 1);
    ctx.json(body.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_names_known_properties_in_the_resource_spelling() {
        assert_eq!(
            parse_select("SKUID, commerceSubscriptionId,skuId"),
            Ok(vec!["id", "skuId", "commerceSubscriptionId"])
        );
        assert_eq!(parse_select("id,owner"), Err("owner".to_owned()));
    }
}
