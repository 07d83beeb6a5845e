//! Partner Center: the partner's customers and each customer's subscriptions, both seek-paged
//! with `MS-ContinuationToken` (reference §2).

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::request::{Api, Ctx, admit};
use super::{Data, header, option, query_pairs};
use crate::simulator::wire::PageToken;
use crate::simulator::{Shared, SimSubscription};

const DEFAULT_PC_PAGE_SIZE: usize = 40;

fn pc_link(uri: &str, headers: Value) -> Value {
    json!({"uri": uri, "method": "GET", "headers": headers})
}

/// What a seek-paged request asks for.
struct Seek {
    size: usize,
    /// `seekOperation=Next`: the decoded `MS-ContinuationToken`, `None` when absent or garbled.
    next: Option<Option<PageToken>>,
}

/// Reads `size` (`default` without it; 0 for all `total` items) and `seekOperation=Next` with
/// its `MS-ContinuationToken`; or the message of the 400 to send.
fn seek(state: &Shared, req: &HttpRequest, default: usize, total: usize) -> Result<Seek, String> {
    let pairs = query_pairs(req);
    let size = match option(&pairs, "size") {
        None => default.max(1),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(0) => total.max(1),
            Ok(n) => n,
            Err(_) => return Err(format!("size must be a whole number, got '{text}'.")),
        },
    };
    let next = option(&pairs, "seekOperation")
        .is_some_and(|v| v.eq_ignore_ascii_case("next"))
        .then(|| {
            header(req, "MS-ContinuationToken").and_then(|t| PageToken::decode(t, state.secret))
        });
    Ok(Seek { size, next })
}

fn bad_continuation(ctx: &Ctx) -> HttpResponse {
    ctx.error(
        StatusCode::BAD_REQUEST,
        "400",
        "The continuation token is missing, invalid or for another list: send the MS-ContinuationToken header from links.next.",
    )
}

/// A collection page of `list` (its URI with `size`), with `links.next` and
/// `continuationToken` when `next` continues it.
fn collection(items: Vec<Value>, list: &str, seek: &Seek, next: Option<String>) -> Value {
    let next_uri = format!("{list}&seekOperation=Next");
    let self_uri = if seek.next.is_some() { &next_uri } else { list };
    let mut body = json!({
        "totalCount": items.len(),
        "items": items,
        "links": {"self": pc_link(self_uri, json!([]))},
        "attributes": {"objectType": "Collection"},
    });
    if let Some(token) = next {
        body["links"]["next"] = pc_link(
            &next_uri,
            json!([{"key": "MS-ContinuationToken", "value": token}]),
        );
        body["continuationToken"] = json!(token);
    }
    body
}

/// `GET /v1/customers?size=N`, seek-paged with `MS-ContinuationToken` (reference §2.2).
pub(super) async fn customers(state: Data, req: HttpRequest) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::PartnerCenter);
    let tenant = match admit(&state, &req, &ctx).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    state.count(Some(tenant), |c| c.pc_requests += 1);
    let seek = match seek(&state, &req, DEFAULT_PC_PAGE_SIZE, state.customers.len()) {
        Ok(seek) => seek,
        Err(message) => return ctx.error(StatusCode::BAD_REQUEST, "400", &message),
    };
    let size = seek.size;
    let offset = match &seek.next {
        None => 0,
        Some(Some(PageToken::Customers { offset, .. })) => *offset,
        Some(_) => return bad_continuation(&ctx),
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
    let next = (offset + size < state.customers.len()).then(|| {
        PageToken::Customers {
            offset: offset + size,
            size,
        }
        .encode(state.secret)
    });
    let body = collection(items, &format!("/customers?size={size}"), &seek, next);
    ctx.json(body.to_string().into_bytes())
}

/// `GET /v1/customers/{id}/subscriptions` (reference §2.3): the subscriptions this partner sold
/// to the customer, each with its commerce id (not the directory id Graph's `subscriptionIds`
/// carry); free SKUs and SKUs bought through another partner are absent. Seek-paged like the
/// customers, `size` per page (the configured page size by default).
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
    state.count(Some(tenant), |c| {
        c.pc_requests += 1;
        c.subscription_requests += 1;
    });
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
    let sold: Vec<SimSubscription> = state
        .skus(index, state.day())
        .into_iter()
        .flat_map(|sku| sku.subscriptions)
        .filter(|sub| sub.commerce.is_some())
        .collect();
    let seek = match seek(
        &state,
        &req,
        state.config.subscriptions_page_size,
        sold.len(),
    ) {
        Ok(seek) => seek,
        Err(message) => return ctx.error(StatusCode::BAD_REQUEST, "400", &message),
    };
    let size = seek.size;
    let offset = match &seek.next {
        None => 0,
        Some(Some(PageToken::Subscriptions {
            customer: c,
            offset,
            ..
        })) if *c == customer => *offset,
        Some(_) => return bad_continuation(&ctx),
    };
    let items: Vec<Value> = sold
        .iter()
        .skip(offset)
        .take(size)
        .filter_map(|sub| commerce_item(customer, sub))
        .collect();
    let next = (offset + size < sold.len()).then(|| {
        PageToken::Subscriptions {
            customer,
            offset: offset + size,
            size,
        }
        .encode(state.secret)
    });
    let list = format!("/customers/{customer}/subscriptions?size={size}");
    let body = collection(items, &list, &seek, next);
    ctx.json(body.to_string().into_bytes())
}

/// Partner Center's date-time format.
fn pc_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One Partner Center subscription, or `None` when this partner didn't sell it.
fn commerce_item(customer: Uuid, sub: &SimSubscription) -> Option<Value> {
    let c = sub.commerce.as_ref()?;
    let id = sub.commerce_subscription_id;
    let self_uri = format!("/customers/{customer}/subscriptions/{id}");
    let mut item = json!({
        "id": id,
        "offerId": c.offer_id,
        "offerName": c.offer_name,
        "friendlyName": c.offer_name,
        "quantity": c.quantity,
        "unitType": "Licenses",
        "hasPurchasableAddons": false,
        "creationDate": pc_time(c.effective_start),
        "effectiveStartDate": pc_time(c.effective_start),
        "commitmentEndDate": pc_time(c.commitment_end),
        "status": c.status,
        "autoRenewEnabled": c.auto_renew,
        "isTrial": sub.is_trial,
        "billingType": "license",
        "billingCycle": c.billing_cycle,
        "termDuration": c.term_duration,
        "isMicrosoftProduct": true,
        "publisherName": "Microsoft Corporation",
        "contractType": "subscription",
        "orderId": c.order_id,
        "links": {
            "offer": pc_link(&format!("/offers/{}", c.offer_id), json!([])),
            "self": pc_link(&self_uri, json!([])),
        },
        "attributes": {"etag": format!("\"{}\"", c.order_id.simple()), "objectType": "Subscription"},
    });
    if let Some(parent) = c.parent_subscription_id {
        item["parentSubscriptionId"] = json!(parent);
        item["links"]["parentSubscription"] = pc_link(
            &format!("/customers/{customer}/subscriptions/{parent}"),
            json!([]),
        );
    }
    if c.status == "suspended" {
        item["suspensionReasons"] = json!(["CustomerCancellation"]);
    }
    Some(item)
}
