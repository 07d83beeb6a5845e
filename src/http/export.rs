//! CSV downloads: `GET /export/tenants/{tenantId}/cost-report.csv[?asOf=YYYY-MM-DD]` (every line
//! of the cost report, per SKU, with line totals) and `GET /export/tenants/{tenantId}/users.csv`
//! (present users with their licenses and allocation, one row per cost group share).

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::authn;
use super::refusal::Refusal;
use crate::auth::Authenticator;
use crate::domain::allocation::{AllocationSource, CostLine, Currency};
use crate::domain::{
    BillingSet, CostGroup, CostGroupId, SkuBilling, SkuId, TenantId, TenantScope, User,
};
use crate::rate_limit::RateLimiter;
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

    let mut out = csv::Writer::from_writer(Vec::new());
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
        "cost",
        "currency",
        "as_of",
    ];
    let mut rows: Vec<[String; 12]> = Vec::new();
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
            rows.push([
                section.to_owned(),
                id.clone(),
                code.clone(),
                path.clone(),
                sku.sku_id.to_string(),
                cell(part_numbers.get(&sku.sku_id).copied().unwrap_or("")),
                String::new(),
                sku.licenses.normalize().to_string(),
                sku.unit_price.map(|p| p.to_string()).unwrap_or_default(),
                amount(sku.cost_minor, report.currency).to_string(),
                currency.to_owned(),
                as_of.to_string(),
            ]);
        }
        rows.push([
            section.to_owned(),
            id,
            code,
            path,
            String::new(),
            String::new(),
            line.users.to_string(),
            line.skus
                .iter()
                .map(|s| s.licenses)
                .sum::<Decimal>()
                .normalize()
                .to_string(),
            String::new(),
            amount(line.cost_minor, report.currency).to_string(),
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
    match written
        .map_err(|e| e.to_string())
        .and_then(|()| out.into_inner().map_err(|e| e.to_string()))
    {
        Ok(body) => csv_response(format!("cost-report-{tenant}-{as_of}.csv")).body(body),
        Err(e) => internal(&e),
    }
}

/// What streaming `users.csv` needs between chunks.
struct UserStream {
    store: Store,
    scope: TenantScope,
    tenant: TenantId,
    after: Option<crate::domain::UserId>,
    paths: Arc<HashMap<CostGroupId, String>>,
    part_numbers: Arc<HashMap<SkuId, String>>,
    header: bool,
    done: bool,
}

/// A column of `users.csv` read from the user: its name and the text it holds.
type UserColumn = (&'static str, fn(&User) -> &str);

/// The columns of `users.csv` read from the user, after `user_id`.
const USER_COLUMNS: [UserColumn; 9] = [
    ("display_name", |u| &u.display_name),
    ("user_principal_name", |u| &u.user_principal_name),
    ("mail", |u| or_empty(&u.mail)),
    ("department", |u| or_empty(&u.department)),
    ("company_name", |u| or_empty(&u.company_name)),
    ("job_title", |u| or_empty(&u.job_title)),
    ("office_location", |u| or_empty(&u.office_location)),
    ("country", |u| or_empty(&u.country)),
    ("user_type", |u| or_empty(&u.user_type)),
];

/// An optional attribute's text; a missing one is an empty cell.
fn or_empty(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

/// The columns of `users.csv` after the user's licenses: one cost group share.
const SHARE_COLUMNS: [&str; 4] = ["source", "rule_id", "cost_group_path", "percent"];

/// Every column of `users.csv`, in order.
fn user_header() -> impl Iterator<Item = &'static str> {
    std::iter::once("user_id")
        .chain(USER_COLUMNS.iter().map(|(name, _)| *name))
        .chain(["licenses"])
        .chain(SHARE_COLUMNS)
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
        let mut out = csv::Writer::from_writer(Vec::new());
        let mut result = Ok(());
        if std::mem::take(&mut self.header) {
            result = out.write_record(user_header());
        }
        for e in &users {
            let u = &e.user;
            let mut licenses: Vec<String> = e
                .licenses
                .iter()
                .map(|l| {
                    self.part_numbers
                        .get(&l.sku_id)
                        .cloned()
                        .unwrap_or_else(|| l.sku_id.to_string())
                })
                .collect();
            licenses.sort();
            let base: Vec<String> = std::iter::once(u.id.to_string())
                .chain(USER_COLUMNS.iter().map(|(_, read)| cell(read(u))))
                .chain([cell(&licenses.join(";"))])
                .collect();
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
                                s.percent.normalize().to_string(),
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

/// `GET /export/tenants/{tenantId}/users.csv`, streamed a chunk of users at a time.
/// Needs a principal allowed to read; a tenant out of its scope is not found.
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
        let header: Vec<&str> = user_header().collect();
        assert_eq!(
            header.join(","),
            "user_id,display_name,user_principal_name,mail,department,company_name,job_title,\
             office_location,country,user_type,licenses,source,rule_id,cost_group_path,percent"
        );
    }
}
