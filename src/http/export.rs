//! CSV downloads: `GET /export/tenants/{tenantId}/cost-report.csv[?asOf=YYYY-MM-DD]` (every line
//! of the cost report, per SKU, with line totals) and `GET /export/tenants/{tenantId}/users.csv`
//! (present users with their licenses and allocation, one row per cost group share).

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use chrono::{NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::authn;
use super::csv_format::CsvFormat;
use super::refusal::Refusal;
use crate::auth::Authenticator;
use crate::domain::allocation::{AllocationSource, CostLine, Currency};
use crate::domain::{
    BillingSet, CostGroup, CostGroupId, EXTENSION_ATTRIBUTES, SkuBilling, SkuId, TenantId,
    TenantScope, User,
};
use crate::rate_limit::RateLimiter;
use crate::store::exports::ExportedUser;
use crate::store::{Store, allocation, exports};
use actix_web::ResponseError;

/// Users read per statement while streaming `users.csv`.
const USERS_PER_CHUNK: u64 = 2000;

/// `asOf` and `unassignedBilling` of the cost report export.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportParams {
    as_of: Option<String>,
    unassigned_billing: Option<String>,
}

/// `unassignedBilling`: comma-separated `SkuBilling` names; `PARTNER,OTHER` when absent.
fn unassigned_billing(param: Option<&str>) -> Result<BillingSet, String> {
    let Some(param) = param else {
        return Ok(BillingSet::PAID);
    };
    param
        .split(',')
        .map(|name| {
            name.trim().parse::<SkuBilling>().map_err(|_| {
                format!(
                    "unassignedBilling: {name:?} is not one of PARTNER, FREE, TRIAL, OTHER \
                     (comma-separated)"
                )
            })
        })
        .collect()
}

pub(super) fn text(status: actix_web::http::StatusCode, message: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(message)
}

pub(super) fn internal(cause: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(cause = %cause, "export failed");
    text(
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal error".to_owned(),
    )
}

/// The tenant of the path, or the message of a 400.
pub(super) fn parse_tenant(raw: &str) -> Result<TenantId, String> {
    raw.parse::<TenantId>()
        .map_err(|e| format!("tenantId: {e}"))
}

pub(super) fn not_found(tenant: TenantId) -> HttpResponse {
    text(
        actix_web::http::StatusCode::NOT_FOUND,
        format!("tenant {tenant} not found"),
    )
}

pub(super) fn csv_response(file: String) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::Ok();
    res.insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ));
    res
}

/// Text from tenant data as a spreadsheet will not run it: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return would start a formula, so such values get a leading `'`.
pub(super) fn cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    }
}

/// "Parent / Child" names of every group of the tree.
pub(super) fn paths(groups: &[CostGroup]) -> HashMap<CostGroupId, String> {
    let by_id: HashMap<CostGroupId, &CostGroup> = groups.iter().map(|g| (g.id, g)).collect();
    groups
        .iter()
        .map(|g| {
            let mut names = vec![g.name.as_str()];
            let mut cur = g;
            while let Some(parent) = cur.parent_id.and_then(|p| by_id.get(&p)) {
                if names.len() > groups.len() {
                    break;
                }
                names.push(&parent.name);
                cur = parent;
            }
            names.reverse();
            (g.id, names.join(" / "))
        })
        .collect()
}

/// How the exports name a tenant's cost groups and SKUs.
pub(super) struct Labels {
    /// Each group's path from the top, `Company / Sales`.
    pub paths: HashMap<CostGroupId, String>,
    /// Each group's code, where it has one.
    pub codes: HashMap<CostGroupId, String>,
    /// Each subscribed SKU's part number.
    pub part_numbers: HashMap<SkuId, String>,
}

/// The labels of `tenant_id`'s groups and SKUs (the caller checked scope), in two statements;
/// the response to send instead when the store fails.
pub(super) async fn labels(store: &Store, tenant_id: TenantId) -> Result<Labels, HttpResponse> {
    let groups = crate::store::allocation::list_cost_groups_of_tenants(store, &[tenant_id])
        .await
        .map_err(|e| internal(&e))?;
    let subs = crate::store::subscriptions::list_subscriptions_of_tenants(store, &[tenant_id])
        .await
        .map_err(|e| internal(&e))?;
    Ok(Labels {
        paths: paths(&groups),
        codes: groups
            .iter()
            .filter_map(|g| g.code.clone().map(|c| (g.id, c)))
            .collect(),
        part_numbers: subs
            .into_iter()
            .map(|s| (s.sku_id, s.sku_part_number))
            .collect(),
    })
}

fn amount(minor: i64, currency: Option<Currency>) -> Decimal {
    currency.map_or(Decimal::new(minor, 2), |c| c.from_minor(minor))
}

/// `GET /export/tenants/{tenantId}/cost-report.csv`.
/// Needs a principal allowed to read; a tenant out of its scope is not found.
pub async fn cost_report_csv(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    limits: web::Data<RateLimiter>,
    store: web::Data<Store>,
    path: web::Path<String>,
    params: web::Query<ReportParams>,
) -> HttpResponse {
    let scope = match authn::reader(&req, &auth, &limits).await {
        Ok(principal) => principal.scope,
        Err(refused) => return Refusal::from(refused).error_response(),
    };
    let tenant = match parse_tenant(&path) {
        Ok(t) => t,
        Err(message) => return text(actix_web::http::StatusCode::BAD_REQUEST, message),
    };
    let as_of = match params.as_of.as_deref().map(str::parse::<NaiveDate>) {
        None => Utc::now().date_naive(),
        Some(Ok(d)) => d,
        Some(Err(_)) => {
            return text(
                actix_web::http::StatusCode::BAD_REQUEST,
                "asOf must be a date as YYYY-MM-DD".to_owned(),
            );
        }
    };
    let unassigned = match unassigned_billing(params.unassigned_billing.as_deref()) {
        Ok(set) => set,
        Err(message) => return text(actix_web::http::StatusCode::BAD_REQUEST, message),
    };
    let format = match CsvFormat::of(&req) {
        Ok(f) => f,
        Err(message) => return text(actix_web::http::StatusCode::BAD_REQUEST, message),
    };
    let inputs = match allocation::list_report_inputs(&store, &scope, &[tenant]).await {
        Ok(mut i) => match i.remove(&tenant) {
            Some(i) => i,
            None => return not_found(tenant),
        },
        Err(e) => return internal(&e),
    };
    let report = match inputs.report_on(as_of, unassigned) {
        Ok(r) => r,
        Err(e) => return text(actix_web::http::StatusCode::CONFLICT, e.to_string()),
    };
    let part_numbers: HashMap<SkuId, &str> = inputs
        .subscriptions
        .iter()
        .map(|s| (s.sku_id, s.sku_part_number.as_str()))
        .collect();
    let paths = paths(&inputs.groups);
    let codes: HashMap<CostGroupId, &str> = inputs
        .groups
        .iter()
        .filter_map(|g| g.code.as_deref().map(|c| (g.id, c)))
        .collect();
    let currency = report.currency.map_or("", |c| c.code());
    let money = |minor: i64| format.decimal(amount(minor, report.currency));

    let mut out = format.writer(true);
    let header = [
        "section",
        "cost_group_id",
        "cost_group_code",
        "cost_group_path",
        "sku_id",
        "sku_part_number",
        "users",
        "licenses",
        "unit_price",
        "priced",
        "cost",
        "currency",
        "as_of",
    ];
    let mut rows: Vec<[String; 13]> = Vec::new();
    let mut push_line = |section: &str, group: Option<CostGroupId>, line: &CostLine| {
        let (id, code, path) = match group {
            Some(g) => (
                g.to_string(),
                cell(codes.get(&g).copied().unwrap_or("")),
                cell(paths.get(&g).map_or("", String::as_str)),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        for sku in &line.skus {
            // A SKU without a price in force costs nothing known: no amount, not 0.00.
            let priced = sku.unit_price.is_some();
            rows.push([
                section.to_owned(),
                id.clone(),
                code.clone(),
                path.clone(),
                sku.sku_id.to_string(),
                cell(part_numbers.get(&sku.sku_id).copied().unwrap_or("")),
                String::new(),
                format.decimal(sku.licenses.normalize()),
                sku.unit_price
                    .map(|p| format.decimal(p))
                    .unwrap_or_default(),
                priced.to_string(),
                if priced {
                    money(sku.cost_minor)
                } else {
                    String::new()
                },
                currency.to_owned(),
                as_of.to_string(),
            ]);
        }
        let priced = Priced::of(line.skus.iter().map(|s| s.unit_price.is_some()));
        rows.push([
            section.to_owned(),
            id,
            code,
            path,
            String::new(),
            String::new(),
            line.users.to_string(),
            format.decimal(
                line.skus
                    .iter()
                    .map(|s| s.licenses)
                    .sum::<Decimal>()
                    .normalize(),
            ),
            String::new(),
            priced.text().to_owned(),
            if priced == Priced::None {
                String::new()
            } else {
                money(line.cost_minor)
            },
            currency.to_owned(),
            as_of.to_string(),
        ]);
    };
    for g in &report.groups {
        push_line("COST_GROUP", Some(g.group_id), &g.own);
    }
    push_line("UNALLOCATED", None, &report.unallocated);
    push_line("TOTAL_ASSIGNED", None, &report.assigned);
    push_line("UNASSIGNED", None, &report.unassigned);
    let written = out
        .write_record(header)
        .and_then(|()| rows.iter().try_for_each(|r| out.write_record(r)));
    finish(out, written, format!("cost-report-{tenant}-{as_of}.csv"))
}

/// The response of a CSV export written into `out`, or a 500 when writing failed.
pub(super) fn finish(
    out: csv::Writer<Vec<u8>>,
    written: csv::Result<()>,
    file: String,
) -> HttpResponse {
    match written
        .map_err(|e| e.to_string())
        .and_then(|()| out.into_inner().map_err(|e| e.to_string()))
    {
        Ok(body) => csv_response(file).body(body),
        Err(e) => internal(&e),
    }
}

/// Whether the SKUs of a total row had a price in force: the `priced` cell of a total row,
/// whose amount adds up the priced SKUs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Priced {
    /// Every SKU (an empty line too).
    All,
    /// Some: the amount covers those.
    Partly,
    /// None: the amount is empty.
    None,
}

impl Priced {
    /// Of a line whose SKUs are priced or not.
    pub(super) fn of(skus: impl Iterator<Item = bool>) -> Priced {
        let (mut priced, mut unpriced) = (false, false);
        for p in skus {
            if p {
                priced = true;
            } else {
                unpriced = true;
            }
        }
        match (priced, unpriced) {
            (_, false) => Priced::All,
            (true, true) => Priced::Partly,
            (false, true) => Priced::None,
        }
    }

    /// Of `license_days` of which `unpriced` had no price in force.
    pub(super) fn of_days(license_days: Decimal, unpriced: Decimal) -> Priced {
        if unpriced.is_zero() {
            Priced::All
        } else if unpriced >= license_days {
            Priced::None
        } else {
            Priced::Partly
        }
    }

    /// `true`, `partly` or `false`.
    pub(super) fn text(self) -> &'static str {
        match self {
            Priced::All => "true",
            Priced::Partly => "partly",
            Priced::None => "false",
        }
    }
}

/// What streaming `users.csv` needs between chunks.
struct UserStream {
    store: Store,
    scope: TenantScope,
    tenant: TenantId,
    format: CsvFormat,
    after: Option<crate::domain::UserId>,
    paths: Arc<HashMap<CostGroupId, String>>,
    part_numbers: Arc<HashMap<SkuId, String>>,
    header: bool,
    done: bool,
}

/// A column of `users.csv` read from the user: its name and the text it holds.
type UserColumn = (&'static str, fn(&User) -> &str);

/// The text columns of `users.csv` read from the user, after `user_id`: every field an import
/// stores, in the order of `domain::User`.
const USER_COLUMNS: [UserColumn; 17] = [
    ("display_name", |u| &u.display_name),
    ("given_name", |u| or_empty(&u.given_name)),
    ("surname", |u| or_empty(&u.surname)),
    ("user_principal_name", |u| &u.user_principal_name),
    ("mail", |u| or_empty(&u.mail)),
    ("user_type", |u| or_empty(&u.user_type)),
    ("job_title", |u| or_empty(&u.job_title)),
    ("department", |u| or_empty(&u.department)),
    ("company_name", |u| or_empty(&u.company_name)),
    ("office_location", |u| or_empty(&u.office_location)),
    ("street_address", |u| or_empty(&u.street_address)),
    ("city", |u| or_empty(&u.city)),
    ("state", |u| or_empty(&u.state)),
    ("postal_code", |u| or_empty(&u.postal_code)),
    ("country", |u| or_empty(&u.country)),
    ("preferred_language", |u| or_empty(&u.preferred_language)),
    ("usage_location", |u| or_empty(&u.usage_location)),
];

/// An optional attribute's text; a missing one is an empty cell.
fn or_empty(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

/// The columns of `users.csv` after the text columns and the extension attributes.
const MANAGER_AND_LICENSE_COLUMNS: [&str; 8] = [
    "account_enabled",
    "manager_id",
    "manager_type",
    "manager_name",
    "first_seen_at",
    "last_seen_at",
    "licenses",
    "license_sku_ids",
];

/// The columns of `users.csv` after the user's licenses: one cost group share.
const SHARE_COLUMNS: [&str; 4] = ["source", "rule_id", "cost_group_path", "percent"];

/// Every column of `users.csv`, in order.
fn user_header() -> Vec<String> {
    std::iter::once("user_id".to_owned())
        .chain(USER_COLUMNS.iter().map(|(name, _)| (*name).to_owned()))
        .chain((1..=EXTENSION_ATTRIBUTES).map(|i| format!("extension_attribute_{i}")))
        .chain(MANAGER_AND_LICENSE_COLUMNS.map(str::to_owned))
        .chain(SHARE_COLUMNS.map(str::to_owned))
        .collect()
}

/// The cells of one user before their shares, in the order of [`user_header`].
fn user_cells(e: &ExportedUser, part_numbers: &HashMap<SkuId, String>) -> Vec<String> {
    let u = &e.user;
    let (manager_id, manager_type) = match (&u.manager_id, &u.manager_contact) {
        (Some(id), _) => (id.to_string(), "USER"),
        (None, Some(contact)) => (contact.id.to_string(), "CONTACT"),
        (None, None) => (String::new(), ""),
    };
    let mut licenses: Vec<(String, String)> = e
        .licenses
        .iter()
        .map(|l| {
            let name = part_numbers
                .get(&l.sku_id)
                .cloned()
                .unwrap_or_else(|| l.sku_id.to_string());
            (name, l.sku_id.to_string())
        })
        .collect();
    licenses.sort();
    let (names, ids): (Vec<String>, Vec<String>) = licenses.into_iter().unzip();
    std::iter::once(u.id.to_string())
        .chain(USER_COLUMNS.iter().map(|(_, read)| cell(read(u))))
        .chain(u.extension_attributes.iter().map(|a| cell(or_empty(a))))
        .chain([
            u.account_enabled.map(|b| b.to_string()).unwrap_or_default(),
            manager_id,
            manager_type.to_owned(),
            cell(e.manager_name.as_deref().unwrap_or_default()),
            u.first_seen_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            u.last_seen_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            cell(&names.join(";")),
            ids.join(";"),
        ])
        .collect()
}

impl UserStream {
    /// The next chunk of CSV text; `None` after the last.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.done {
            return None;
        }
        let users = match exports::list_users_for_export(
            &self.store,
            &self.scope,
            self.tenant,
            self.after,
            USERS_PER_CHUNK,
        )
        .await
        {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(cause = %e, "users export failed mid-stream");
                self.done = true;
                return Some(Err(std::io::Error::other("export failed")));
            }
        };
        self.done = (users.len() as u64) < USERS_PER_CHUNK;
        self.after = users.last().map(|u| u.user.id);
        let first = std::mem::take(&mut self.header);
        let mut out = self.format.writer(first);
        let mut result = Ok(());
        if first {
            result = out.write_record(user_header());
        }
        for e in &users {
            let base = user_cells(e, &self.part_numbers);
            let shares: Vec<[String; 4]> = match &e.allocation {
                Some(a) if !a.shares.is_empty() => {
                    let (source, rule) = match a.source {
                        AllocationSource::Rule(r) => ("RULE", r.to_string()),
                        AllocationSource::Override => ("OVERRIDE", String::new()),
                        AllocationSource::Unallocated => ("UNALLOCATED", String::new()),
                    };
                    a.shares
                        .iter()
                        .map(|s| {
                            [
                                source.to_owned(),
                                rule.clone(),
                                cell(self.paths.get(&s.cost_group).map_or("", String::as_str)),
                                self.format.decimal(s.percent.normalize()),
                            ]
                        })
                        .collect()
                }
                _ => vec![[
                    "UNALLOCATED".to_owned(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]],
            };
            for share in shares {
                if result.is_ok() {
                    result = out.write_record(base.iter().chain(share.iter()));
                }
            }
        }
        let body = result
            .map_err(|e| e.to_string())
            .and_then(|()| out.into_inner().map_err(|e| e.to_string()));
        Some(match body {
            Ok(b) => Ok(Bytes::from(b)),
            Err(e) => {
                tracing::error!(cause = %e, "users export failed mid-stream");
                self.done = true;
                Err(std::io::Error::other("export failed"))
            }
        })
    }
}

/// `GET /export/tenants/{tenantId}/users.csv[?format=excel]`, streamed a chunk of users at a
/// time. Needs a principal allowed to read; a tenant out of its scope is not found.
pub async fn users_csv(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    limits: web::Data<RateLimiter>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> HttpResponse {
    let scope = match authn::reader(&req, &auth, &limits).await {
        Ok(principal) => principal.scope,
        Err(refused) => return Refusal::from(refused).error_response(),
    };
    let tenant = match parse_tenant(&path) {
        Ok(t) => t,
        Err(message) => return text(actix_web::http::StatusCode::BAD_REQUEST, message),
    };
    let format = match CsvFormat::of(&req) {
        Ok(f) => f,
        Err(message) => return text(actix_web::http::StatusCode::BAD_REQUEST, message),
    };
    let store = store.get_ref().clone();
    let inputs = match allocation::list_report_inputs(&store, &scope, &[tenant]).await {
        Ok(mut i) => match i.remove(&tenant) {
            Some(i) => i,
            None => return not_found(tenant),
        },
        Err(e) => return internal(&e),
    };
    let state = UserStream {
        store,
        scope,
        tenant,
        format,
        after: None,
        paths: Arc::new(paths(&inputs.groups)),
        part_numbers: Arc::new(
            inputs
                .subscriptions
                .iter()
                .map(|s| (s.sku_id, s.sku_part_number.clone()))
                .collect(),
        ),
        header: true,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        state.next_chunk().await.map(|chunk| (chunk, state))
    });
    csv_response(format!("users-{tenant}.csv")).streaming(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_would_start_a_formula_are_quoted() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("Sales"), "Sales");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn users_csv_columns_are_the_published_ones_in_order() {
        let header = user_header().join(",");
        assert!(
            header.starts_with(
                "user_id,display_name,given_name,surname,user_principal_name,mail,user_type,\
                 job_title,department,company_name,office_location,street_address,city,state,\
                 postal_code,country,preferred_language,usage_location,extension_attribute_1,"
            ),
            "{header}"
        );
        assert!(
            header.ends_with(
                ",extension_attribute_15,account_enabled,manager_id,manager_type,manager_name,\
                 first_seen_at,last_seen_at,licenses,license_sku_ids,source,rule_id,\
                 cost_group_path,percent"
            ),
            "{header}"
        );
    }
}
