//! Graph: `/users` (paged with `$skiptoken`, `$select`, `$expand=manager`), `/users/delta`
//! (delta rounds and tokens) and `/subscribedSkus` (reference §3–§6).

use std::time::Duration;

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::{Value, json};
use uuid::Uuid;

use super::request::{Api, Ctx, GRAPH_CONTENT_TYPE, admit};
use super::{Data, base_url, option, query_pairs};
use crate::simulator::data::{DayCtx, ManagerRef, SimSignIns, UserState, World};
use crate::simulator::faults::{Fault, ORPHANED_SKU_ID, PageFault};
use crate::simulator::wire::{self, DEFAULT_FIELDS, Field, Mode, PageToken};
use crate::simulator::{Shared, lock};
use crate::simulator::{SimLicense, SimUser};

/// Delta tokens for directory objects last 7 days (reference §5).
const DELTA_TOKEN_MAX_AGE_DAYS: u32 = 7;
/// `$expand` caps a users page at 100 (reference §4.3).
const EXPAND_PAGE_CAP: usize = 100;
const DEFAULT_TOP: usize = 100;
/// `$select=signInActivity` caps a users page at 500 (docs/importer.md, "Sign-in activity").
const SIGN_IN_PAGE_CAP: usize = 500;

/// How the tenant's faults change the users served.
#[derive(Debug, Clone, Copy, Default)]
struct Served {
    /// `unknown-sku`: the tenant's first user holds a license of [`ORPHANED_SKU_ID`].
    orphaned_license: bool,
    /// `contacts-limited`: contacts expanded as managers come without their names.
    limited_contacts: bool,
}

impl Served {
    fn of(state: &Shared, tenant: Uuid) -> Served {
        let faults = lock(&state.faults);
        let has = |kind: fn(&Fault) -> bool| faults.has(tenant, &state.customers, kind);
        Served {
            orphaned_license: has(|f| matches!(f, Fault::UnknownSku)),
            limited_contacts: has(|f| matches!(f, Fault::ContactsLimited)),
        }
    }

    /// Adds to the user with `index` what the faults add.
    fn adjust(self, index: u32, user: &mut SimUser) {
        if self.orphaned_license && index == 0 {
            user.licenses.push(SimLicense {
                sku_id: ORPHANED_SKU_ID,
                disabled_plans: Vec::new(),
            });
        }
    }
}

/// Graph's 403 for a tenant under the `NoDelegatedAccess` fault.
fn denied(state: &Shared, ctx: &Ctx, tenant: Uuid) -> Option<HttpResponse> {
    let denied = lock(&state.faults).has(tenant, &state.customers, |f| {
        matches!(f, Fault::NoDelegatedAccess)
    });
    denied.then(|| {
        state.count(Some(tenant), |c| c.faults_injected += 1);
        ctx.error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    })
}

/// Graph's 403 for `signInActivity` of a tenant under the `SignInActivityRefused` fault: the
/// answer of a tenant without Entra ID P1/P2.
fn sign_ins_refused(state: &Shared, ctx: &Ctx, tenant: Uuid) -> Option<HttpResponse> {
    let refused = lock(&state.faults).has(tenant, &state.customers, |f| {
        matches!(f, Fault::SignInActivityRefused)
    });
    refused.then(|| {
        state.count(Some(tenant), |c| c.faults_injected += 1);
        ctx.error(
            StatusCode::FORBIDDEN,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        )
    })
}

/// `,"signInActivity":{...}` (after the user's other members), `null` for a user who never
/// signed in.
fn write_sign_ins(body: &mut Vec<u8>, activity: Option<SimSignIns>) {
    body.extend_from_slice(b",\"signInActivity\":");
    let Some(a) = activity else {
        body.extend_from_slice(b"null");
        return;
    };
    let text = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "null".to_owned(),
            |t| format!("\"{}\"", t.format("%Y-%m-%dT%H:%M:%SZ")),
        )
    };
    body.extend_from_slice(
        format!(
            "{{\"lastSignInDateTime\":{},\"lastSignInRequestId\":null,\
             \"lastNonInteractiveSignInDateTime\":{},\"lastNonInteractiveSignInRequestId\":null,\
             \"lastSuccessfulSignInDateTime\":{},\"lastSuccessfulSignInRequestId\":null}}",
            text(a.last_sign_in),
            text(a.last_non_interactive_sign_in),
            text(a.last_successful_sign_in),
        )
        .as_bytes(),
    );
}

pub(super) fn bad_request(ctx: &Ctx, message: &str) -> HttpResponse {
    ctx.error(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

/// `$top` (1 to 999), `default` without it; or the message of the 400 to send.
pub(super) fn top(pairs: &[(String, String)], default: usize) -> Result<usize, String> {
    match option(pairs, "top") {
        None => Ok(default),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if (1..=999).contains(&n) => Ok(n),
            _ => Err(format!(
                "Invalid page size specified: '{text}'. Must be between 1 and 999 inclusive."
            )),
        },
    }
}

/// Serves a users or delta page, spoiled when a page fault applies.
fn serve_page(state: &Shared, ctx: &Ctx, tenant: Uuid, page: u32, body: Vec<u8>) -> HttpResponse {
    let fault = lock(&state.faults).take_page_fault(tenant, &state.customers, page);
    match fault {
        None => ctx.json(body),
        Some(PageFault::Malformed) => {
            state.count(Some(tenant), |c| c.faults_injected += 1);
            let mut cut = body.len() / 2;
            while cut > 0 && (body[cut] & 0xC0) == 0x80 {
                cut -= 1;
            }
            ctx.json(body[..cut].to_vec())
        }
        Some(PageFault::ExpiredToken) => {
            state.count(Some(tenant), |c| c.faults_injected += 1);
            ctx.error(
                StatusCode::BAD_REQUEST,
                "Directory_ExpiredPageToken",
                "The specified page token value has expired and can no longer be included in your request.",
            )
        }
        Some(PageFault::Drop) => {
            state.count(Some(tenant), |c| c.faults_injected += 1);
            let full = body.len() as u64;
            let head = Bytes::from(body[..body.len() / 2].to_vec());
            // Send the first half with the full Content-Length, pause so it reaches the
            // client, then fail the stream: actix aborts the connection mid-body.
            let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(head)]).chain(
                futures_util::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "simulated connection drop",
                    ))
                }),
            );
            ctx.builder(StatusCode::OK)
                .insert_header((CONTENT_TYPE, GRAPH_CONTENT_TYPE))
                .body(SizedStream::new(full, stream))
        }
    }
}

/// Parses `$expand=manager[($select=...)]` into the manager's properties (the default set
/// without a nested `$select`); the error is the message for a 400.
fn parse_expand(value: &str) -> Result<Vec<Field>, String> {
    let value = value.trim();
    let (name, inner) = match value.split_once('(') {
        Some((name, rest)) => (
            name.trim(),
            Some(rest.strip_suffix(')').ok_or("unbalanced parentheses")?),
        ),
        None => (value, None),
    };
    if !name.eq_ignore_ascii_case("manager") {
        return Err(format!(
            "Could not find a navigation property named '{name}' on type 'microsoft.graph.user'."
        ));
    }
    match inner {
        None => Ok(DEFAULT_FIELDS.to_vec()),
        Some(inner) => {
            let select = inner
                .split(';')
                .find_map(|part| {
                    let (k, v) = part.split_once('=')?;
                    let k = k.trim();
                    k.trim_start_matches('$')
                        .eq_ignore_ascii_case("select")
                        .then_some(v)
                })
                .ok_or_else(|| format!("Unsupported nested query option in '{value}'."))?;
            wire::parse_select(select).map_err(|p| {
                format!("Could not find a property named '{p}' on type 'microsoft.graph.user'.")
            })
        }
    }
}

fn context_url(base: &str, fields: &[Field], manager: Option<&[Field]>) -> String {
    let mut text = format!("{base}/v1.0/$metadata#users({}", wire::select_text(fields));
    if let Some(m) = manager {
        text.push_str(&format!(",manager({})", wire::select_text(m)));
    }
    text.push(')');
    text
}

/// The request's query without its `$skiptoken`, plus a new one.
pub(super) fn next_link(req: &HttpRequest, path: &str, token: &str) -> String {
    let mut parts: Vec<&str> = req
        .query_string()
        .split('&')
        .filter(|part| {
            let key = part.split('=').next().unwrap_or_default();
            let key = key.replace("%24", "$");
            !part.is_empty()
                && !key
                    .trim_start_matches('$')
                    .eq_ignore_ascii_case("skiptoken")
        })
        .collect();
    let skip = format!("$skiptoken={token}");
    parts.push(&skip);
    format!("{}{path}?{}", base_url(req), parts.join("&"))
}

/// The common start of every Graph route: authenticate and apply faults, refuse a tenant
/// without delegated access, and find the token's tenant; or the response to send instead.
pub(super) async fn graph_tenant(
    state: &Shared,
    req: &HttpRequest,
    ctx: &Ctx,
) -> Result<(Uuid, usize), HttpResponse> {
    let tenant = admit(state, req, ctx).await?;
    if let Some(response) = denied(state, ctx, tenant) {
        return Err(response);
    }
    match state.world.tenant_index(tenant) {
        Some(index) => Ok((tenant, index)),
        None => Err(bad_request(
            ctx,
            "The token's tenant has no directory here.",
        )),
    }
}

/// `GET /v1.0/users` (reference §4).
pub(super) async fn users(state: Data, req: HttpRequest) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::Graph);
    let (tenant, tenant_index) = match graph_tenant(&state, &req, &ctx).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let pairs = query_pairs(&req);
    let fields = match option(&pairs, "select") {
        Some(list) => match wire::parse_select(list) {
            Ok(f) => f,
            Err(p) => {
                return bad_request(
                    &ctx,
                    &format!(
                        "Could not find a property named '{p}' on type 'microsoft.graph.user'."
                    ),
                );
            }
        },
        None => DEFAULT_FIELDS.to_vec(),
    };
    let manager_fields = match option(&pairs, "expand") {
        Some(value) => match parse_expand(value) {
            Ok(f) => Some(f),
            Err(message) => return bad_request(&ctx, &message),
        },
        None => None,
    };
    let top = match top(&pairs, DEFAULT_TOP) {
        Ok(top) => top,
        Err(message) => return bad_request(&ctx, &message),
    };
    let sign_ins = fields.contains(&Field::SignInActivity);
    if sign_ins && let Some(response) = sign_ins_refused(&state, &ctx, tenant) {
        return response;
    }
    let mut page_size = if manager_fields.is_some() {
        top.min(EXPAND_PAGE_CAP)
    } else {
        top
    };
    if sign_ins {
        page_size = page_size.min(SIGN_IN_PAGE_CAP);
    }
    let now = chrono::Utc::now();
    let (day, position, page) = match option(&pairs, "skiptoken") {
        None => (state.day(), 0, 1),
        Some(token) => match PageToken::decode(token, state.secret) {
            Some(PageToken::Users {
                tenant: t,
                day,
                position,
                page,
            }) if t == tenant => (day, position, page),
            Some(PageToken::Users { .. }) => {
                return bad_request(&ctx, "The $skiptoken was issued for another tenant.");
            }
            _ => return bad_request(&ctx, "Invalid $skiptoken."),
        },
    };

    let world = &state.world;
    let served = Served::of(&state, tenant);
    let dctx = world.day_ctx(tenant_index, day);
    let end = world.universe(day);
    let mut body = Vec::with_capacity(page_size * 900 + 512);
    let base = base_url(&req);
    body.extend_from_slice(b"{\"@odata.context\":");
    wire::write_str(
        &mut body,
        &context_url(&base, &fields, manager_fields.as_deref()),
    );
    body.extend_from_slice(b",\"value\":[");
    let mut index = position;
    let mut listed = 0;
    while index < end && listed < page_size {
        let user_state = world.state(&dctx, index);
        if user_state.present {
            // The manager walk costs a few state replays; only pay for it when expanded.
            let manager = match manager_fields {
                Some(_) => world.manager(&dctx, index, &user_state),
                None => None,
            };
            let mut user = world.user_with(&dctx, index, &user_state, manager);
            served.adjust(index, &mut user);
            if listed > 0 {
                body.push(b',');
            }
            body.push(b'{');
            let mut first = true;
            wire::write_user_members(&mut body, &mut first, &user, &fields, Mode::List);
            if sign_ins {
                write_sign_ins(&mut body, world.sign_ins(tenant_index, index, now));
            }
            match (&manager_fields, manager, &user.manager_contact) {
                (Some(mfields), Some(ManagerRef::User(m)), _) => {
                    if let Some((muser, _)) = world.user(&dctx, m) {
                        body.extend_from_slice(
                            b",\"manager\":{\"@odata.type\":\"#microsoft.graph.user\"",
                        );
                        let mut mfirst = false;
                        wire::write_user_members(
                            &mut body,
                            &mut mfirst,
                            &muser,
                            mfields,
                            Mode::List,
                        );
                        body.push(b'}');
                    }
                }
                (Some(mfields), Some(ManagerRef::Contact(_)), Some(contact)) => {
                    body.extend_from_slice(b",\"manager\":");
                    wire::write_contact(&mut body, contact, mfields, served.limited_contacts);
                }
                _ => {}
            }
            body.push(b'}');
            listed += 1;
        }
        index += 1;
    }
    // Skip ahead to the next present user so the last page carries no nextLink.
    while index < end && !world.state(&dctx, index).present {
        index += 1;
    }
    body.push(b']');
    if index < end {
        let token = PageToken::Users {
            tenant,
            day,
            position: index,
            page: page + 1,
        }
        .encode(state.secret);
        body.extend_from_slice(b",\"@odata.nextLink\":");
        wire::write_str(&mut body, &next_link(&req, "/v1.0/users", &token));
    }
    body.push(b'}');
    if sign_ins {
        state.count(Some(tenant), |c| c.sign_in_pages += 1);
    } else {
        state.count(Some(tenant), |c| c.users_pages += 1);
    }
    serve_page(&state, &ctx, tenant, page, body)
}

// ---------------------------------------------------------------------------------------------
// Graph /users/delta
// ---------------------------------------------------------------------------------------------

fn sync_state_not_found(ctx: &Ctx) -> HttpResponse {
    ctx.error(
        StatusCode::BAD_REQUEST,
        "syncStateNotFound",
        "The sync state generation is not found. Delta tokens expire after 7 days; restart with a full synchronization.",
    )
}

/// A stored delta link refused with `status` (the `delta-link-refused` fault).
fn delta_link_refused(ctx: &Ctx, status: u32) -> HttpResponse {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_REQUEST);
    let code = match status.as_u16() {
        404 => "ResourceNotFound",
        409 => "Conflict",
        _ => "Request_BadRequest",
    };
    ctx.error(
        status,
        code,
        "The delta token is not valid for this request.",
    )
}

/// `GET /v1.0/users/delta` (reference §5).
pub(super) async fn users_delta(state: Data, req: HttpRequest) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::Graph);
    let (tenant, tenant_index) = match graph_tenant(&state, &req, &ctx).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let pairs = query_pairs(&req);
    if option(&pairs, "expand").is_some() {
        return ctx.error(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "$expand is not supported on delta queries for users.",
        );
    }
    let parse_fields = |select: Option<&str>| match select {
        Some(list) => match wire::parse_select(list) {
            // Delta queries do not track sign-in activity (docs/importer.md).
            Ok(fields) if fields.contains(&Field::SignInActivity) => Err(
                "Property 'signInActivity' is not supported for delta queries on users.".to_owned(),
            ),
            Ok(fields) => Ok(fields),
            Err(p) => Err(format!(
                "Could not find a property named '{p}' on type 'microsoft.graph.user'."
            )),
        },
        None => Ok(DEFAULT_FIELDS.to_vec()),
    };
    let current = state.day();
    // (from day or None for an initial round, to day, select, position, page)
    let (from, to, select, position, page) = if let Some(token) = option(&pairs, "deltatoken") {
        if token.eq_ignore_ascii_case("latest") {
            let refused = lock(&state.faults).has(tenant, &state.customers, |f| {
                matches!(f, Fault::DeltaLatestRefused)
            });
            if refused {
                state.count(Some(tenant), |c| c.faults_injected += 1);
                return ctx.error(
                    StatusCode::BAD_REQUEST,
                    "Request_UnsupportedQuery",
                    "The value 'latest' is not supported for $deltatoken on this resource.",
                );
            }
            let fields = match parse_fields(option(&pairs, "select")) {
                Ok(f) => f,
                Err(message) => return bad_request(&ctx, &message),
            };
            let link = PageToken::DeltaLink {
                tenant,
                day: current,
                select: wire::select_text(&fields),
            }
            .encode(state.secret);
            let mut body = Vec::new();
            body.extend_from_slice(b"{\"@odata.context\":");
            wire::write_str(&mut body, &context_url(&base_url(&req), &fields, None));
            body.extend_from_slice(b",\"@odata.deltaLink\":");
            wire::write_str(
                &mut body,
                &format!("{}/v1.0/users/delta?$deltatoken={link}", base_url(&req)),
            );
            body.extend_from_slice(b",\"value\":[]}");
            state.count(Some(tenant), |c| c.delta_pages += 1);
            return ctx.json(body);
        }
        match PageToken::decode(token, state.secret) {
            Some(PageToken::DeltaLink {
                tenant: t,
                day,
                select,
            }) if t == tenant => {
                let (expired, refused) = {
                    let faults = lock(&state.faults);
                    let expired = faults.has(tenant, &state.customers, |f| {
                        matches!(f, Fault::DeltaTokenExpired)
                    });
                    let refused = faults.first(tenant, &state.customers, |f| match f {
                        Fault::DeltaLinkRefused { status } => Some(*status),
                        _ => None,
                    });
                    (expired, refused)
                };
                if expired {
                    state.count(Some(tenant), |c| c.faults_injected += 1);
                    return sync_state_not_found(&ctx);
                }
                if let Some(status) = refused {
                    state.count(Some(tenant), |c| c.faults_injected += 1);
                    return delta_link_refused(&ctx, status);
                }
                if current.saturating_sub(day) > DELTA_TOKEN_MAX_AGE_DAYS {
                    return sync_state_not_found(&ctx);
                }
                (Some(day), current, select, 0, 1)
            }
            Some(PageToken::DeltaLink { .. }) => {
                return bad_request(&ctx, "The $deltatoken was issued for another tenant.");
            }
            _ => return bad_request(&ctx, "Invalid $deltatoken."),
        }
    } else if let Some(token) = option(&pairs, "skiptoken") {
        match PageToken::decode(token, state.secret) {
            Some(PageToken::Delta {
                tenant: t,
                from,
                to,
                select,
                position,
                page,
            }) if t == tenant => (from, to, select, position, page),
            Some(PageToken::Delta { .. }) => {
                return bad_request(&ctx, "The $skiptoken was issued for another tenant.");
            }
            _ => return bad_request(&ctx, "Invalid $skiptoken."),
        }
    } else {
        match parse_fields(option(&pairs, "select")) {
            Ok(fields) => (None, current, wire::select_text(&fields), 0, 1),
            Err(message) => return bad_request(&ctx, &message),
        }
    };
    let fields = match wire::parse_select(&select) {
        Ok(f) => f,
        Err(_) => return bad_request(&ctx, "Invalid $skiptoken."),
    };
    let with_manager = fields.contains(&Field::Manager);

    let world = &state.world;
    let adjust = Served::of(&state, tenant);
    let to_ctx = world.day_ctx(tenant_index, to);
    let from_ctx = from.map(|d| world.day_ctx(tenant_index, d));
    let end = world
        .universe(to)
        .max(from.map_or(0, |d| world.universe(d)));
    let base = base_url(&req);
    let mut body = Vec::with_capacity(state.config.delta_page_size.min(1000) * 900 + 512);
    body.extend_from_slice(b"{\"@odata.context\":");
    wire::write_str(&mut body, &context_url(&base, &fields, None));
    body.extend_from_slice(b",\"value\":[");
    let mut index = position;
    let mut served = 0;
    // Graph chooses delta page sizes itself; here `Prefer: odata.maxpagesize=N` (1 to 999) sets
    // the page size, so a client's large-page strategy can be exercised.
    let preferred = req
        .headers()
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .filter_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
                .find_map(|n| n.trim().parse::<usize>().ok())
        })
        .map(|n| n.clamp(1, 999));
    let page_size = preferred.unwrap_or(state.config.delta_page_size).max(1);
    while index < end && served < page_size {
        let entry = delta_entry(
            world,
            &to_ctx,
            from_ctx.as_ref(),
            index,
            &fields,
            with_manager,
            adjust,
        );
        if let Some(entry) = entry {
            if served > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&entry);
            served += 1;
        }
        index += 1;
    }
    body.push(b']');
    if index < end {
        let token = PageToken::Delta {
            tenant,
            from,
            to,
            select,
            position: index,
            page: page + 1,
        }
        .encode(state.secret);
        body.extend_from_slice(b",\"@odata.nextLink\":");
        wire::write_str(
            &mut body,
            &format!("{base}/v1.0/users/delta?$skiptoken={token}"),
        );
    } else {
        let token = PageToken::DeltaLink {
            tenant,
            day: to,
            select,
        }
        .encode(state.secret);
        body.extend_from_slice(b",\"@odata.deltaLink\":");
        wire::write_str(
            &mut body,
            &format!("{base}/v1.0/users/delta?$deltatoken={token}"),
        );
    }
    body.push(b'}');
    state.count(Some(tenant), |c| c.delta_pages += 1);
    serve_page(&state, &ctx, tenant, page, body)
}

/// One delta entry for a user index, or `None` when there is nothing to report.
fn delta_entry(
    world: &World,
    to_ctx: &DayCtx,
    from_ctx: Option<&DayCtx>,
    index: u32,
    fields: &[Field],
    with_manager: bool,
    served: Served,
) -> Option<Vec<u8>> {
    let now = world.state(to_ctx, index);
    let before = from_ctx.map(|ctx| (ctx, world.state(ctx, index)));
    let manager_of = |ctx: &DayCtx, state: &UserState| {
        if with_manager {
            world.manager(ctx, index, state)
        } else {
            None
        }
    };
    let mut out = Vec::with_capacity(900);
    match (before, now.present) {
        // Initial round: everyone present.
        (None, true) => {
            let manager = manager_of(to_ctx, &now);
            let mut user = world.user_with(to_ctx, index, &now, manager);
            served.adjust(index, &mut user);
            write_delta_user(&mut out, &user, fields, with_manager, false);
        }
        (None, false) => return None,
        (Some((_, then)), false) => {
            if !then.present {
                return None;
            }
            out.extend_from_slice(b"{\"id\":");
            wire::write_str(&mut out, &world.user_id(to_ctx.tenant, index).to_string());
            out.extend_from_slice(b",\"@removed\":{\"reason\":\"changed\"}}");
        }
        (Some((from_ctx, then)), true) => {
            let manager = manager_of(to_ctx, &now);
            let mut user = world.user_with(to_ctx, index, &now, manager);
            served.adjust(index, &mut user);
            let mut had_manager = false;
            if then.present {
                let old_manager = manager_of(from_ctx, &then);
                // An unchanged event history means unchanged attributes; only the manager
                // (who may have left) can still differ.
                if then == now && old_manager == manager {
                    return None;
                }
                let mut old = world.user_with(from_ctx, index, &then, old_manager);
                served.adjust(index, &mut old);
                if old_manager == manager && !wire::differs(&old, &user, fields) {
                    return None;
                }
                had_manager = old_manager.is_some();
            }
            write_delta_user(&mut out, &user, fields, with_manager, had_manager);
        }
    }
    Some(out)
}

/// A changed or new user in a delta page; `manager@delta` is `[]` when the manager went away,
/// and names a user or an organizational contact by id only.
fn write_delta_user(
    out: &mut Vec<u8>,
    user: &SimUser,
    fields: &[Field],
    with_manager: bool,
    had_manager: bool,
) {
    out.push(b'{');
    let mut first = true;
    wire::write_user_members(out, &mut first, user, fields, Mode::Delta);
    if with_manager {
        // Ids only (reference §5).
        let manager = match (user.manager_id, &user.manager_contact) {
            (Some(m), _) => Some(("#microsoft.graph.user", m)),
            (None, Some(contact)) => Some(("#microsoft.graph.orgContact", contact.id)),
            (None, None) => None,
        };
        match manager {
            Some((kind, id)) => {
                out.extend_from_slice(b",\"manager@delta\":[{\"@odata.type\":");
                wire::write_str(out, kind);
                out.extend_from_slice(b",\"id\":");
                wire::write_str(out, &id.to_string());
                out.extend_from_slice(b"}]");
            }
            None if had_manager => out.extend_from_slice(b",\"manager@delta\":[]"),
            None => {}
        }
    }
    out.push(b'}');
}

/// `GET /v1.0/subscribedSkus` (reference §6).
pub(super) async fn subscribed_skus(state: Data, req: HttpRequest) -> HttpResponse {
    let ctx = Ctx::new(&req, Api::Graph);
    let (tenant, tenant_index) = match graph_tenant(&state, &req, &ctx).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let spec = &state.world.tenants[tenant_index];
    let mut skus = state.skus(tenant_index, state.day());
    if lock(&state.faults).take_sku_bought_late(tenant, &state.customers)
        && let Some(bought) = skus.iter().position(|s| s.consumed_units > 0)
    {
        skus.remove(bought);
        state.count(Some(tenant), |c| c.faults_injected += 1);
    }
    let value: Vec<Value> = skus
        .into_iter()
        .map(|sku| {
            json!({
                "accountName": spec.slug,
                "accountId": tenant,
                "appliesTo": sku.applies_to,
                "capabilityStatus": sku.capability_status,
                "consumedUnits": sku.consumed_units,
                "id": format!("{tenant}_{}", sku.sku_id),
                "prepaidUnits": {
                    "enabled": sku.enabled,
                    "lockedOut": sku.locked_out,
                    "suspended": sku.suspended,
                    "warning": sku.warning,
                },
                "servicePlans": sku.service_plans.iter().map(|p| json!({
                    "servicePlanId": p.id,
                    "servicePlanName": p.name,
                    "provisioningStatus": p.provisioning_status,
                    "appliesTo": p.applies_to,
                })).collect::<Vec<_>>(),
                "skuId": sku.sku_id,
                "skuPartNumber": sku.sku_part_number,
                "subscriptionIds": sku.subscription_ids,
            })
        })
        .collect();
    let body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#subscribedSkus", base_url(&req)),
        "value": value,
    });
    state.count(Some(tenant), |c| c.sku_requests += 1);
    ctx.json(body.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_whose_manager_left_gets_an_empty_manager_delta() {
        let world = World::new(5, 1, 1000);
        let fields = wire::parse_select("displayName,manager").unwrap();
        let entries: Vec<String> = (1..=4)
            .flat_map(|day| {
                let from = world.day_ctx(0, day - 1);
                let to = world.day_ctx(0, day);
                (0..world.universe(day))
                    .filter_map(|i| {
                        delta_entry(
                            &world,
                            &to,
                            Some(&from),
                            i,
                            &fields,
                            true,
                            Served::default(),
                        )
                    })
                    .map(|e| String::from_utf8(e).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(entries.iter().any(|e| e.contains("\"manager@delta\":[]")));
        for entry in &entries {
            let value: Value = serde_json::from_str(entry).unwrap();
            let keys = value.as_object().unwrap().len();
            assert!(keys >= 2, "{entry}");
        }
    }

    #[test]
    fn unselected_changes_do_not_bring_a_user_back() {
        let world = World::new(5, 1, 1000);
        let ids_only = wire::parse_select("id").unwrap();
        let from = world.day_ctx(0, 0);
        let to = world.day_ctx(0, 1);
        let reported = (0..world.universe(1))
            .filter_map(|i| {
                delta_entry(
                    &world,
                    &to,
                    Some(&from),
                    i,
                    &ids_only,
                    false,
                    Served::default(),
                )
            })
            .count();
        let hires_and_leavers = (0..world.universe(1))
            .filter(|&i| world.state(&from, i).present != world.state(&to, i).present)
            .count();
        assert_eq!(reported, hires_and_leavers);
    }
}
