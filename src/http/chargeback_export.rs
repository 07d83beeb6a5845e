//! A month's chargeback as CSV: `GET /export/tenants/{tenantId}/chargeback.csv?month=YYYY-MM`
//! (every cost group's own line per SKU, `UNALLOCATED`, `UNASSIGNED` and `TOTAL`) and
//! `GET /export/tenants/{tenantId}/focus.csv?month=YYYY-MM`, the same charges in the FinOps
//! FOCUS 1.1 format. Same guards as the other exports.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::authn;
use super::csv_format::CsvFormat;
use super::export::{
    Labels, Priced, cell, finish, internal, labels, not_found, parse_tenant, text,
};
use super::refusal::Refusal;
use crate::auth::Authenticator;
use crate::domain::chargeback::{Chargeback, ChargebackLine, Month};
use crate::domain::{CostGroupId, Tenant, TenantId};
use crate::rate_limit::RateLimiter;
use crate::store::chargeback::{MonthCharge, find_chargeback};
use crate::store::{Store, tenants};
use actix_web::http::StatusCode;

/// `month` of the chargeback exports.
#[derive(Debug, Deserialize)]
pub struct MonthParams {
    month: Option<String>,
}

/// What both exports read: the tenant, its month, its groups' paths and codes, SKU names, and
/// the format asked for.
struct Export {
    format: CsvFormat,
    tenant: Tenant,
    month: MonthCharge,
    labels: Labels,
}

/// Authenticates, checks the path and `month`, and reads the month; the response to send
/// instead when any of that fails.
async fn read(
    req: &HttpRequest,
    auth: &Authenticator,
    limits: &RateLimiter,
    store: &Store,
    path: &str,
    params: &MonthParams,
) -> Result<Export, HttpResponse> {
    let scope = match authn::reader(req, auth, limits).await {
        Ok(principal) => principal.scope,
        Err(refused) => return Err(Refusal::from(refused).error_response()),
    };
    let tenant_id: TenantId =
        parse_tenant(path).map_err(|message| text(StatusCode::BAD_REQUEST, message))?;
    let format = CsvFormat::of(req).map_err(|message| text(StatusCode::BAD_REQUEST, message))?;
    let month = params
        .month
        .as_deref()
        .ok_or_else(|| "month is required, written YYYY-MM, e.g. 2026-11".to_owned())
        .and_then(|m| Month::parse(m).map_err(|e| e.to_string()))
        .map_err(|message| text(StatusCode::BAD_REQUEST, message))?;
    let today = Utc::now().date_naive();
    let month = match find_chargeback(store, &scope, tenant_id, month, today).await {
        Ok(Some(m)) => m,
        Ok(None) => return Err(not_found(tenant_id)),
        Err(crate::store::StoreError::Conflict(detail)) => {
            return Err(text(StatusCode::CONFLICT, detail));
        }
        Err(e) => return Err(internal(&e)),
    };
    let tenant = match tenants::find_tenants(store, &scope, &[tenant_id]).await {
        Ok(mut t) => t.pop().ok_or_else(|| not_found(tenant_id))?,
        Err(e) => return Err(internal(&e)),
    };
    let labels = labels(store, tenant_id).await?;
    Ok(Export {
        format,
        tenant,
        month,
        labels,
    })
}

/// Minor units of the chargeback's currency as a decimal amount.
fn amount(c: &Chargeback, minor: i64) -> Decimal {
    c.currency
        .map_or(Decimal::new(minor, 2), |cur| cur.from_minor(minor))
}

/// The lines of a chargeback as the exports list them: section, cost group, line.
fn sections(c: &Chargeback) -> Vec<(&'static str, Option<CostGroupId>, &ChargebackLine)> {
    c.groups
        .iter()
        .map(|g| ("COST_GROUP", Some(g.group_id), &g.own))
        .chain([
            ("UNALLOCATED", None, &c.unallocated),
            ("UNASSIGNED", None, &c.unassigned),
        ])
        .collect()
}

fn day_text(day: Option<NaiveDate>) -> String {
    day.map(|d| d.to_string()).unwrap_or_default()
}

/// `GET /export/tenants/{tenantId}/chargeback.csv?month=YYYY-MM`: one row per cost group (own
/// line) and SKU with the group's total after its SKUs, then `UNALLOCATED`, `UNASSIGNED` and
/// `TOTAL` likewise. Needs a principal allowed to read; a tenant out of its scope is not found.
pub async fn chargeback_csv(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    limits: web::Data<RateLimiter>,
    store: web::Data<Store>,
    path: web::Path<String>,
    params: web::Query<MonthParams>,
) -> HttpResponse {
    let e = match read(&req, &auth, &limits, &store, &path, &params).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let c = &e.month.chargeback;
    let currency = c.currency.map_or("", |c| c.code());
    let closed = e.month.closed.is_some().to_string();
    let month = c.month.to_string();
    let (first, last) = (day_text(c.days.map(|d| d.0)), day_text(c.days.map(|d| d.1)));
    let f = e.format;
    let mut out = f.writer(true);
    let mut written = out.write_record([
        "section",
        "cost_group_id",
        "cost_group_code",
        "cost_group_path",
        "sku_id",
        "sku_part_number",
        "license_days",
        "unpriced_license_days",
        "priced",
        "amount",
        "exact_amount",
        "currency",
        "month",
        "first_day",
        "last_day",
        "closed",
    ]);
    let mut lines = sections(c);
    lines.push(("TOTAL", None, &c.total));
    for (section, group, line) in lines {
        let (id, code, path) = match group {
            Some(g) => (
                g.to_string(),
                cell(e.labels.codes.get(&g).map_or("", String::as_str)),
                cell(e.labels.paths.get(&g).map_or("", String::as_str)),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        let skus = line.skus.iter().map(|s| {
            (
                s.sku_id.to_string(),
                cell(
                    e.labels
                        .part_numbers
                        .get(&s.sku_id)
                        .map_or("", String::as_str),
                ),
                s.license_days,
                s.unpriced_license_days,
                s.amount_minor,
                s.amount,
            )
        });
        let total = (
            String::new(),
            String::new(),
            line.license_days(),
            line.skus
                .iter()
                .map(|s| s.unpriced_license_days)
                .sum::<Decimal>(),
            line.amount_minor(),
            line.amount(),
        );
        for (sku, part, days, unpriced, minor, exact) in skus.chain([total]) {
            // Days without a price add nothing known: no amount when no day had one.
            let priced = Priced::of_days(days, unpriced);
            let (shown, exact) = if priced == Priced::None {
                (String::new(), String::new())
            } else {
                (f.decimal(amount(c, minor)), f.decimal(exact.normalize()))
            };
            if written.is_ok() {
                written = out.write_record([
                    section,
                    &id,
                    &code,
                    &path,
                    &sku,
                    &part,
                    &f.decimal(days.normalize()),
                    &f.decimal(unpriced.normalize()),
                    priced.text(),
                    &shown,
                    &exact,
                    currency,
                    &month,
                    &first,
                    &last,
                    &closed,
                ]);
            }
        }
    }
    let file = format!("chargeback-{}-{month}.csv", e.tenant.id);
    finish(out, written, file)
}

/// The columns of `focus.csv`, FOCUS 1.1 column ids in the specification's order.
const FOCUS_COLUMNS: [&str; 31] = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
];

/// A FOCUS date-time: midnight UTC of `day`.
fn focus_time(day: NaiveDate) -> String {
    format!("{day}T00:00:00Z")
}

/// `GET /export/tenants/{tenantId}/focus.csv?month=YYYY-MM`: the chargeback's charges in the
/// FinOps FOCUS 1.1 format, one row per cost group (own line, `Unallocated` or `Unassigned`)
/// and SKU. Needs a principal allowed to read; a tenant out of its scope is not found.
pub async fn focus_csv(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    limits: web::Data<RateLimiter>,
    store: web::Data<Store>,
    path: web::Path<String>,
    params: web::Query<MonthParams>,
) -> HttpResponse {
    let e = match read(&req, &auth, &limits, &store, &path, &params).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let c = &e.month.chargeback;
    let f = e.format;
    let mut out = f.writer(true);
    let mut written = out.write_record(FOCUS_COLUMNS);
    let tenant_id = e.tenant.id.to_string();
    let tenant_name = cell(&e.tenant.name);
    let currency = c.currency.map_or("", |c| c.code());
    let billing_start = focus_time(c.month.first_day());
    let billing_end = focus_time(c.month.end());
    // No day billed (a month before the first import or not begun): a header alone.
    let (charge_start, charge_end) = match c.days {
        Some((first, last)) => (
            focus_time(first),
            focus_time(last.succ_opt().unwrap_or(last)),
        ),
        None => (String::new(), String::new()),
    };
    for (section, group, line) in sections(c) {
        let (resource_id, resource_name, tags) = match group {
            Some(g) => {
                let path = e.labels.paths.get(&g).map_or("", String::as_str);
                let mut tags =
                    serde_json::json!({ "costGroupId": g.to_string(), "costGroup": path });
                if let Some(code) = e.labels.codes.get(&g) {
                    tags["costGroupCode"] = serde_json::json!(code);
                }
                (g.to_string(), cell(path), tags)
            }
            None => {
                let name = if section == "UNALLOCATED" {
                    "Unallocated"
                } else {
                    "Unassigned"
                };
                (
                    section.to_lowercase(),
                    name.to_owned(),
                    serde_json::json!({ "costGroup": name }),
                )
            }
        };
        let (what, unit) = if section == "UNASSIGNED" {
            ("idle seats", "Seat-Days")
        } else {
            ("licenses", "License-Days")
        };
        for s in &line.skus {
            let cost = f.decimal(amount(c, s.amount_minor));
            let days = f.decimal(s.license_days.normalize());
            // FOCUS wants an amount in every row; days without a price are named in the tags.
            let mut tags = tags.clone();
            if !s.unpriced_license_days.is_zero() {
                tags["unpricedLicenseDays"] =
                    serde_json::json!(s.unpriced_license_days.normalize().to_string());
            }
            let part = e
                .labels
                .part_numbers
                .get(&s.sku_id)
                .map_or("", String::as_str);
            let description = cell(&format!(
                "{part} {what}, {month} prorated by day: {resource_name}",
                month = c.month,
            ));
            if written.is_ok() {
                written = out.write_record([
                    cost.as_str(),
                    &tenant_id,
                    &tenant_name,
                    currency,
                    &billing_end,
                    &billing_start,
                    "Purchase",
                    "",
                    &description,
                    "Recurring",
                    &charge_end,
                    &charge_start,
                    &days,
                    unit,
                    &cost,
                    &cost,
                    "CSP partner",
                    &cost,
                    &days,
                    unit,
                    "Microsoft",
                    "Microsoft",
                    &resource_id,
                    &resource_name,
                    "Cost group",
                    "Business Applications",
                    "Microsoft 365",
                    &s.sku_id.to_string(),
                    &tenant_id,
                    &tenant_name,
                    &tags.to_string(),
                ]);
            }
        }
    }
    let file = format!("focus-{}-{}.csv", e.tenant.id, c.month);
    finish(out, written, file)
}
