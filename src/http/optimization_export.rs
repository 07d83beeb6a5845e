//! The license optimization as CSV: `GET /export/tenants/{tenantId}/optimization.csv` with
//! `?asOf=YYYY-MM-DD` (today by default) and `?kind=INACTIVE,GUEST_LICENSED` (every kind by
//! default). One row per finding and cost group share of its user, so that a spreadsheet's
//! sum of `cost_group_saving` per kind or per cost group gives `Tenant.optimization`'s totals;
//! idle seats are rows of no user and no cost group. Same guards as the other exports.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::authn;
use super::csv_format::CsvFormat;
use super::export::{Labels, cell, finish, internal, labels, not_found, parse_tenant, text};
use super::refusal::Refusal;
use crate::auth::Authenticator;
use crate::domain::allocation::report::split_minor;
use crate::domain::allocation::{Currency, Share};
use crate::domain::optimization::{
    Finding, Optimization, SignInAvailability, WasteKind, WasteSettings, WasteUser, optimize,
};
use crate::domain::{CostGroupId, SkuId, TenantId, UserId};
use crate::rate_limit::RateLimiter;
use crate::store::sign_ins::{OptimizationInputs, UserName, optimization_inputs};
use crate::store::{Store, tenants};

/// Days without a sign-in after which a user is `INACTIVE` (`TENANTGRAPH_INACTIVE_DAYS`).
#[derive(Debug, Clone, Copy)]
pub struct InactiveDays(pub u32);

/// `asOf` and `kind` of the optimization export.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptimizationParams {
    as_of: Option<String>,
    kind: Option<String>,
}

const HEADER: [&str; 20] = [
    "kind",
    "user_id",
    "user_principal_name",
    "display_name",
    "account_enabled",
    "user_type",
    "last_sign_in",
    "sku_id",
    "sku_part_number",
    "licenses",
    "unit_price",
    "priced",
    "monthly_saving",
    "cost_group_id",
    "cost_group_code",
    "cost_group_path",
    "share_percent",
    "cost_group_saving",
    "currency",
    "as_of",
];

/// `kind`: comma-separated `WasteKind` names; every kind when absent.
fn kinds(param: Option<&str>) -> Result<Vec<WasteKind>, String> {
    let Some(param) = param else {
        return Ok(WasteKind::ALL.to_vec());
    };
    param
        .split(',')
        .map(|name| {
            let name = name.trim();
            WasteKind::ALL
                .into_iter()
                .find(|k| k.as_str().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    let all: Vec<&str> = WasteKind::ALL.iter().map(|k| k.as_str()).collect();
                    format!(
                        "kind: {name:?} is not one of {} (comma-separated)",
                        all.join(", ")
                    )
                })
        })
        .collect()
}

/// The names an export gives cost groups and SKUs.
/// The rows of one finding: one per share of its user (one row of no group when unallocated,
/// or for idle seats), the saving split over them by largest remainder in minor units.
struct Rows<'a> {
    format: CsvFormat,
    optimization: &'a Optimization,
    labels: &'a Labels,
    as_of: String,
}

impl Rows<'_> {
    fn money(&self, amount: Decimal) -> String {
        self.format
            .decimal(Currency::show_in(self.optimization.currency, amount))
    }

    fn of(
        &self,
        finding: &Finding,
        user: Option<(&WasteUser, &UserName)>,
        shares: &[Share],
    ) -> Vec<[String; 20]> {
        let mut split: Vec<(Option<CostGroupId>, Decimal)> = if shares.is_empty() {
            vec![(None, Decimal::ONE_HUNDRED)]
        } else {
            shares
                .iter()
                .map(|s| (Some(s.cost_group), s.percent))
                .collect()
        };
        // By path, so that the rows and the cent a split leaves over do not depend on the
        // order the shares were stored in.
        split.sort_by_key(|(g, _)| g.and_then(|g| self.labels.paths.get(&g)).cloned());
        let parts: Option<Vec<Decimal>> = match (finding.saving, self.optimization.currency) {
            (Some(saving), Some(currency)) => {
                let exact: Vec<Decimal> = split
                    .iter()
                    .map(|(_, p)| saving * p / Decimal::ONE_HUNDRED)
                    .collect();
                let scale = Decimal::from(10_i64.pow(currency.minor_units()));
                split_minor(&exact, scale)
                    .ok()
                    .map(|minor| minor.into_iter().map(|m| currency.from_minor(m)).collect())
            }
            _ => None,
        };
        let user_cells = match user {
            Some((u, name)) => [
                u.user_id.to_string(),
                cell(&name.user_principal_name),
                cell(&name.display_name),
                u.account_enabled.map(|e| e.to_string()).unwrap_or_default(),
                cell(u.user_type.as_deref().unwrap_or("")),
                u.sign_in
                    .as_ref()
                    .and_then(|s| s.last_activity())
                    .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
                    .unwrap_or_default(),
            ],
            None => Default::default(),
        };
        split
            .iter()
            .enumerate()
            .map(|(i, (group, percent))| {
                let (id, code, path) = match group {
                    Some(g) => (
                        g.to_string(),
                        cell(self.labels.codes.get(g).map_or("", String::as_str)),
                        cell(self.labels.paths.get(g).map_or("", String::as_str)),
                    ),
                    None => Default::default(),
                };
                let [user_id, upn, display, enabled, user_type, last] = user_cells.clone();
                [
                    finding.kind.as_str().to_owned(),
                    user_id,
                    upn,
                    display,
                    enabled,
                    user_type,
                    last,
                    finding.sku_id.to_string(),
                    cell(
                        self.labels
                            .part_numbers
                            .get(&finding.sku_id)
                            .map_or("", String::as_str),
                    ),
                    finding.licenses.to_string(),
                    finding
                        .unit_price
                        .map(|p| self.format.decimal(p))
                        .unwrap_or_default(),
                    finding.saving.is_some().to_string(),
                    finding.saving.map(|s| self.money(s)).unwrap_or_default(),
                    id,
                    code,
                    path,
                    if user.is_some() {
                        self.format.decimal(percent.normalize())
                    } else {
                        String::new()
                    },
                    parts
                        .as_ref()
                        .map(|p| self.format.decimal(p[i]))
                        .unwrap_or_default(),
                    self.optimization
                        .currency
                        .map_or("", |c| c.code())
                        .to_owned(),
                    self.as_of.clone(),
                ]
            })
            .collect()
    }
}

/// Authenticates, checks the path and parameters, and reads the tenant's inputs and labels;
/// the response to send instead when any of that fails.
async fn read(
    req: &HttpRequest,
    auth: &Authenticator,
    limits: &RateLimiter,
    store: &Store,
    path: &str,
) -> Result<(TenantId, OptimizationInputs, Labels), HttpResponse> {
    let scope = match authn::reader(req, auth, limits).await {
        Ok(principal) => principal.scope,
        Err(refused) => return Err(Refusal::from(refused).error_response()),
    };
    let tenant_id = parse_tenant(path).map_err(|m| text(StatusCode::BAD_REQUEST, m))?;
    match tenants::find_tenants(store, &scope, &[tenant_id]).await {
        Ok(found) if found.is_empty() => return Err(not_found(tenant_id)),
        Ok(_) => {}
        Err(e) => return Err(internal(&e)),
    }
    let inputs = optimization_inputs(store, tenant_id, true)
        .await
        .map_err(|e| internal(&e))?;
    let labels = labels(store, tenant_id).await?;
    Ok((tenant_id, inputs, labels))
}

/// `GET /export/tenants/{tenantId}/optimization.csv`: the findings of `Tenant.optimization`,
/// rows by kind, then user principal name and SKU, idle seats last. Needs a principal allowed
/// to read; a tenant out of its scope is not found; prices in several currencies give 409.
pub async fn optimization_csv(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    limits: web::Data<RateLimiter>,
    store: web::Data<Store>,
    inactive_days: web::Data<InactiveDays>,
    path: web::Path<String>,
    params: web::Query<OptimizationParams>,
) -> HttpResponse {
    let as_of = match params.as_of.as_deref().map(str::parse::<NaiveDate>) {
        None => Utc::now().date_naive(),
        Some(Ok(d)) => d,
        Some(Err(_)) => {
            return text(
                StatusCode::BAD_REQUEST,
                "asOf must be a date as YYYY-MM-DD".to_owned(),
            );
        }
    };
    let wanted = match kinds(params.kind.as_deref()) {
        Ok(k) => k,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let format = match CsvFormat::of(&req) {
        Ok(f) => f,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let (tenant, inputs, labels) = match read(&req, &auth, &limits, &store, &path).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let settings = WasteSettings {
        as_of,
        inactive_days: inactive_days.0,
        sign_ins_available: matches!(inputs.sign_ins, SignInAvailability::Available { .. }),
    };
    let optimization = match optimize(&inputs.users, &inputs.skus, &inputs.prices, &settings) {
        Ok(o) => o,
        Err(e) => return text(StatusCode::CONFLICT, e.to_string()),
    };
    let by_id: HashMap<UserId, &WasteUser> = inputs.users.iter().map(|u| (u.user_id, u)).collect();
    let rows = Rows {
        format,
        optimization: &optimization,
        labels: &labels,
        as_of: as_of.to_string(),
    };
    let mut found: Vec<(WasteKind, &str, SkuId, &Finding, &WasteUser, &UserName)> = Vec::new();
    for waste in &optimization.users {
        let (Some(user), Some(name)) =
            (by_id.get(&waste.user_id), inputs.names.get(&waste.user_id))
        else {
            continue;
        };
        for f in waste.findings.iter().filter(|f| wanted.contains(&f.kind)) {
            found.push((f.kind, &name.user_principal_name, f.sku_id, f, user, name));
        }
    }
    found.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));

    let mut out = format.writer(true);
    let mut written = out.write_record(HEADER);
    for (_, _, _, finding, user, name) in found {
        for row in rows.of(finding, Some((user, name)), &user.shares) {
            written = written.and_then(|()| out.write_record(&row));
        }
    }
    if wanted.contains(&WasteKind::UnassignedSeats) {
        for finding in &optimization.idle_seats {
            for row in rows.of(finding, None, &[]) {
                written = written.and_then(|()| out.write_record(&row));
            }
        }
    }
    finish(out, written, format!("optimization-{tenant}-{as_of}.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_read_by_name_and_an_unknown_one_is_named() {
        assert_eq!(kinds(None).unwrap(), WasteKind::ALL.to_vec());
        assert_eq!(
            kinds(Some("inactive, GUEST_LICENSED")).unwrap(),
            vec![WasteKind::Inactive, WasteKind::GuestLicensed]
        );
        let refused = kinds(Some("INACTIVE,IDLE")).unwrap_err();
        assert!(refused.contains("\"IDLE\""), "{refused}");
        assert!(refused.contains("UNASSIGNED_SEATS"), "{refused}");
    }
}
