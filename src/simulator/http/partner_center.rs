//! Partner Center: the partner's customers (seek-paged with `MS-ContinuationToken`) and each
//! customer's subscriptions (reference §2).

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};
use uuid::Uuid;

use super::request::{Api, Ctx, admit};
use super::{Data, header, option, query_pairs};
use crate::simulator::data::World;
use crate::simulator::wire::PageToken;

const DEFAULT_PC_PAGE_SIZE: usize = 40;

fn pc_link(uri: &str, headers: Value) -> Value {
    json!({"uri": uri, "method": "GET", "headers": headers})
}

/// `GET /v1/customers?size=N`, seek-paged with `MS-ContinuationToken` (reference §2.2).
pub(super) async fn customers(state: Data, req: HttpRequest) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::PartnerCenter);
    let tenant = match admit(&state, &req, &ctx).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    state.count(Some(tenant), |c| c.pc_requests += 1);
    let pairs = query_pairs(&req);
    let size = match option(&pairs, "size") {
        None => DEFAULT_PC_PAGE_SIZE,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(0) => state.customers.len().max(1),
            Ok(n) => n,
            Err(_) => {
                return ctx.error(
                    StatusCode::BAD_REQUEST,
                    "400",
                    &format!("size must be a whole number, got '{text}'."),
                );
            }
        },
    };
    let seek_next = option(&pairs, "seekOperation").is_some_and(|v| v.eq_ignore_ascii_case("next"));
    let offset = if seek_next {
        match header(&req, "MS-ContinuationToken").and_then(|t| PageToken::decode(t, state.secret))
        {
            Some(PageToken::Customers { offset, .. }) => offset,
            _ => {
                return ctx.error(
                    StatusCode::BAD_REQUEST,
                    "400",
                    "The continuation token is missing or invalid: send the MS-ContinuationToken header from links.next.",
                );
            }
        }
    } else {
        0
    };
    let items: Vec<Value> = state
        .world
        .tenants
        .iter()
        .skip(offset)
        .take(size)
        .map(|t| {
            json!({
                "id": t.id,
                "commerceId": t.commerce_id,
                "companyProfile": {
                    "tenantId": t.id,
                    "domain": t.default_domain(),
                    "companyName": t.name,
                    "links": {"self": pc_link(&format!("/customers/{}/profiles/company", t.id), json!([]))},
                    "attributes": {"objectType": "CustomerCompanyProfile"},
                },
                "relationshipToPartner": if t.index % 4 == 3 { "advisor" } else { "reseller" },
                "links": {"self": pc_link(&format!("/customers/{}", t.id), json!([]))},
                "attributes": {"objectType": "Customer"},
            })
        })
        .collect();
    let self_uri = if seek_next {
        format!("/customers?size={size}&seekOperation=Next")
    } else {
        format!("/customers?size={size}")
    };
    let mut body = json!({
        "totalCount": items.len(),
        "items": items,
        "links": {"self": pc_link(&self_uri, json!([]))},
        "attributes": {"objectType": "Collection"},
    });
    let next = offset + size;
    if next < state.customers.len() {
        let token = PageToken::Customers { offset: next, size }.encode(state.secret);
        body["links"]["next"] = pc_link(
            &format!("/customers?size={size}&seekOperation=Next"),
            json!([{"key": "MS-ContinuationToken", "value": token}]),
        );
        body["continuationToken"] = json!(token);
    }
    ctx.json(body.to_string().into_bytes())
}

/// `GET /v1/customers/{id}/subscriptions` (reference §2.3): one per SKU subscription.
pub(super) async fn subscriptions(
    state: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::PartnerCenter);
    let tenant = match admit(&state, &req, &ctx).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    state.count(Some(tenant), |c| c.pc_requests += 1);
    let customer = Uuid::parse_str(&path.into_inner()).ok();
    let Some((index, customer)) =
        customer.and_then(|c| state.world.tenant_index(c).map(|i| (i, c)))
    else {
        return ctx.error(
            StatusCode::NOT_FOUND,
            "60003",
            "The customer tenant was not found for this partner.",
        );
    };
    let creation = chrono::DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default();
    let mut items = Vec::new();
    for sku in state.skus(index, 0) {
        for (k, id) in sku.subscription_ids.iter().enumerate() {
            let (quantity, status) = match (k, sku.capability_status.as_str()) {
                (0, "Warning") => (sku.warning, "expired"),
                (0, _) => (sku.enabled, "active"),
                _ => (sku.suspended, "suspended"),
            };
            let free = sku.sku_part_number == "FLOW_FREE";
            let started = creation + chrono::Duration::days(30 * k as i64);
            items.push(json!({
                "id": id,
                "offerId": format!("CFQ7TTC0LF8{}:0001:{}", k, sku.sku_id.simple()),
                "offerName": World::offer_name(&sku.sku_part_number),
                "friendlyName": World::offer_name(&sku.sku_part_number),
                "quantity": quantity,
                "unitType": "Licenses",
                "status": status,
                "creationDate": started.to_rfc3339(),
                "effectiveStartDate": started.to_rfc3339(),
                "commitmentEndDate": if free { "9999-12-31T00:00:00Z".to_owned() } else { (started + chrono::Duration::days(365)).to_rfc3339() },
                "autoRenewEnabled": status == "active",
                "billingType": if free { "none" } else { "license" },
                "billingCycle": if free { "none" } else { "monthly" },
                "termDuration": if free { "P1M" } else { "P1Y" },
                "isTrial": free,
                "links": {"self": pc_link(&format!("/customers/{customer}/subscriptions/{id}"), json!([]))},
                "attributes": {"etag": format!("\"{}\"", sku.sku_id.simple()), "objectType": "Subscription"},
            }));
        }
    }
    let body = json!({
        "totalCount": items.len(),
        "items": items,
        "links": {"self": pc_link(&format!("/customers/{customer}/subscriptions"), json!([]))},
        "attributes": {"objectType": "Collection"},
    });
    ctx.json(body.to_string().into_bytes())
}
