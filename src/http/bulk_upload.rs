//! CSV uploads of many allocation changes at once:
//! `POST /import/tenants/{tenantId}/overrides.csv` and `POST /import/tenants/{tenantId}/cost-groups.csv`
//! (`?dryRun=true`, `?effectiveFrom=YYYY-MM-DD`). The body is `text/csv` (a type a browser
//! sends cross-site only after a CORS preflight, as `/graphql` requires JSON); comma,
//! semicolon or tab separated, as the header line shows; a UTF-8 byte order mark is skipped.
//! The answer is the JSON of `setUserAllocations` / `createCostGroups`: 200 when applied or
//! for a dry run, 422 when a row is rejected (nothing written).

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::authn;
use super::body::{BodyError, read_body};
use super::refusal::Refusal;
use crate::auth::Authenticator;
use crate::domain::allocation::bulk::{
    CostGroupRow, GroupRef, MAX_BULK_ROWS, OverrideRow, UserRef,
};
use crate::domain::{Action, CostGroupId, Principal, TenantId};
use crate::graphql::error::{ApiError, Limit};
use crate::graphql::types::bulk::{CreateCostGroupsResult, SetUserAllocationsResult};
use crate::rate_limit::RateLimiter;
use crate::store::Store;
use crate::store::allocation::{self, BulkRequest};

/// The largest upload, in bytes (`TENANTGRAPH_HTTP_MAX_UPLOAD_BYTES`).
#[derive(Debug, Clone, Copy)]
pub struct UploadLimit(pub usize);

/// `dryRun` and `effectiveFrom` of an upload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadParams {
    dry_run: Option<String>,
    effective_from: Option<String>,
}

/// What every upload needs before its rows are read.
struct Upload {
    tenant_id: TenantId,
    request: BulkRequest,
    principal: Principal,
    body: bytes::Bytes,
}

/// Checks the caller, the path, the parameters, the content type and the size, and reads the
/// body.
async fn accept(
    req: &HttpRequest,
    auth: &Authenticator,
    limits: &RateLimiter,
    upload_limit: UploadLimit,
    path: &str,
    params: &UploadParams,
    payload: web::Payload,
) -> Result<Upload, ApiError> {
    let principal = authn::reader(req, auth, limits).await?;
    let tenant_id: TenantId = path
        .parse()
        .map_err(|e| ApiError::BadUserInput(format!("tenantId: {e}")))?;
    if !principal.may(Action::Allocate) {
        if !principal.scope.allows(tenant_id) {
            return Err(ApiError::NotFound(format!("tenant {tenant_id} not found")));
        }
        let roles: Vec<&str> = Action::Allocate
            .roles()
            .iter()
            .map(|r| r.as_str())
            .collect();
        return Err(ApiError::Forbidden(format!(
            "this change needs the role {}",
            roles.join(" or ")
        )));
    }
    let dry_run = match params.dry_run.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::BadUserInput(format!(
                "dryRun must be true or false, got {other:?}"
            )));
        }
    };
    let effective_from = params
        .effective_from
        .as_deref()
        .map(|d| {
            d.parse::<NaiveDate>().map_err(|_| {
                ApiError::BadUserInput(format!(
                    "effectiveFrom must be a date as YYYY-MM-DD, got {d:?}"
                ))
            })
        })
        .transpose()?;
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "text/csv" {
        return Err(ApiError::BadUserInput(format!(
            "Content-Type must be text/csv, got {:?} (other types are refused as cross-site \
             request forgery protection)",
            content_type.chars().take(80).collect::<String>()
        )));
    }
    let body = match read_body(req, payload, upload_limit.0).await {
        Ok(body) => body,
        Err(BodyError::TooLarge(size)) => {
            return Err(ApiError::PayloadTooLarge(Limit::new(
                "upload size in bytes",
                size,
                upload_limit.0 as u64,
            )));
        }
        Err(BodyError::Read(e)) => {
            return Err(ApiError::BadUserInput(format!(
                "the body could not be read: {e}"
            )));
        }
    };
    let request = BulkRequest {
        tenant_id,
        actor: principal.name.clone(),
        effective_from,
        dry_run,
    };
    Ok(Upload {
        tenant_id,
        request,
        principal,
        body,
    })
}

/// A CSV file's header (column names lower-cased, without `_`, `-` and spaces) and records
/// with their lines; blank records are skipped.
struct Table {
    columns: Vec<String>,
    records: Vec<(usize, csv::StringRecord)>,
}

impl Table {
    fn read(body: &[u8]) -> Result<Table, ApiError> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let first_line = body.split(|b| *b == b'\n').next().unwrap_or_default();
        let count = |c: u8| first_line.iter().filter(|b| **b == c).count();
        let delimiter = [b',', b';', b'\t']
            .into_iter()
            .max_by_key(|c| count(*c))
            .filter(|c| count(*c) > 0)
            .unwrap_or(b',');
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(body);
        let columns = reader
            .headers()
            .map_err(|e| ApiError::BadUserInput(format!("the header line can't be read: {e}")))?
            .iter()
            .map(|h| {
                h.chars()
                    .filter(|c| !matches!(c, '_' | '-' | ' '))
                    .flat_map(char::to_lowercase)
                    .collect()
            })
            .collect();
        // Lines counted from the bytes: after a CRLF the reader places a record at the LF
        // (and counts one line short), so line ends at the position are skipped. Records come
        // in byte order: each counts only the bytes since the last.
        let (mut scanned, mut newlines) = (0, 0);
        let mut line_at = |byte: u64| {
            let mut end = usize::try_from(byte).unwrap_or(usize::MAX).min(body.len());
            while matches!(body.get(end), Some(b'\r' | b'\n')) {
                end += 1;
            }
            if end > scanned {
                newlines += body[scanned..end].iter().filter(|b| **b == b'\n').count();
                scanned = end;
            }
            newlines + 1
        };
        let mut records = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| line_at(p.byte()));
                ApiError::BadUserInput(format!("line {line} can't be read as CSV: {e}"))
            })?;
            if record.iter().all(|cell| cell.trim().is_empty()) {
                continue;
            }
            let line = record.position().map_or(0, |p| line_at(p.byte()));
            records.push((line, record));
        }
        if records.is_empty() {
            return Err(ApiError::BadUserInput(
                "the file has a header but no rows".to_owned(),
            ));
        }
        if records.len() > MAX_BULK_ROWS {
            return Err(ApiError::BadUserInput(format!(
                "the file must have at most {MAX_BULK_ROWS} rows, got {}",
                records.len()
            )));
        }
        Ok(Table { columns, records })
    }

    /// The first of `names` (normalized) that is a column; `BAD_USER_INPUT` naming them when
    /// the column is `required` and missing.
    fn column(&self, names: &[&str], required: bool) -> Result<Option<usize>, ApiError> {
        let found = names
            .iter()
            .find_map(|n| self.columns.iter().position(|c| c == n));
        if found.is_none() && required {
            return Err(ApiError::BadUserInput(format!(
                "the header must have a column {} (got {})",
                names.join(" or "),
                self.columns.join(", ")
            )));
        }
        Ok(found)
    }
}

fn cell(record: &csv::StringRecord, column: Option<usize>) -> String {
    column
        .and_then(|i| record.get(i))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The rows of an overrides file: `user` (UPN or id), `cost_group_code` (a code, or a cost
/// group id; empty removes the override) and `percent` (optional for a user's only row).
fn override_rows(table: &Table) -> Result<Vec<OverrideRow>, ApiError> {
    let user = table.column(&["userid", "userprincipalname", "user", "upn"], true)?;
    let group = table.column(&["costgroupcode", "costgroupid", "costgroup", "code"], true)?;
    let percent = table.column(&["percent"], false)?;
    Ok(table
        .records
        .iter()
        .map(|(line, record)| {
            let raw_group = cell(record, group);
            OverrideRow {
                line: *line,
                user: UserRef::parse(&cell(record, user)),
                group: if raw_group.is_empty() {
                    GroupRef::Clear
                } else {
                    raw_group
                        .parse::<CostGroupId>()
                        .map_or(GroupRef::Code(raw_group), GroupRef::Id)
                },
                percent: cell(record, percent),
            }
        })
        .collect())
}

/// The rows of a cost groups file: `code`, `name`, `parent_code` and `description`.
fn cost_group_rows(table: &Table) -> Result<Vec<CostGroupRow>, ApiError> {
    let code = table.column(&["code", "costgroupcode"], true)?;
    let name = table.column(&["name"], true)?;
    let parent = table.column(&["parentcode"], false)?;
    let description = table.column(&["description"], false)?;
    Ok(table
        .records
        .iter()
        .map(|(line, record)| CostGroupRow {
            line: *line,
            code: cell(record, code),
            name: cell(record, name),
            parent_code: cell(record, parent),
            description: cell(record, description),
        })
        .collect())
}

/// The JSON answer: 422 when rows were rejected and it was not a dry run.
fn answer(result: &impl Serialize, rejected: bool, dry_run: bool) -> HttpResponse {
    let status = if rejected && !dry_run {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(result)
}

/// `POST /import/tenants/{tenantId}/{file}`, `file` being `overrides.csv` or
/// `cost-groups.csv`; any other file is not found.
#[allow(clippy::too_many_arguments)]
pub async fn upload_csv(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    limits: web::Data<RateLimiter>,
    upload_limit: web::Data<UploadLimit>,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
    params: web::Query<UploadParams>,
    payload: web::Payload,
) -> HttpResponse {
    let (tenant, file) = path.into_inner();
    let result = async {
        if !matches!(file.as_str(), "overrides.csv" | "cost-groups.csv") {
            return Err(ApiError::NotFound(format!(
                "upload {file:?}: uploads are overrides.csv and cost-groups.csv"
            )));
        }
        let upload = accept(
            &req,
            &auth,
            &limits,
            **upload_limit,
            &tenant,
            &params,
            payload,
        )
        .await?;
        let table = Table::read(&upload.body)?;
        let dry_run = upload.request.dry_run;
        tracing::info!(tenant_id = %upload.tenant_id, rows = table.records.len(), dry_run, file, "upload");
        let scope = &upload.principal.scope;
        let (result, rejected) = if file == "overrides.csv" {
            let rows = override_rows(&table)?;
            let outcome = allocation::set_overrides(&store, scope, upload.request, &rows).await?;
            let result = SetUserAllocationsResult::of(&outcome, dry_run);
            let rejected = !result.rejected.is_empty();
            (serde_json::to_value(result), rejected)
        } else {
            let rows = cost_group_rows(&table)?;
            let outcome = allocation::set_cost_groups(&store, scope, upload.request, &rows).await?;
            let result = CreateCostGroupsResult::of(&outcome, dry_run);
            let rejected = !result.rejected.is_empty();
            (serde_json::to_value(result), rejected)
        };
        let result = result.map_err(|e| ApiError::Internal(format!("upload answer: {e}")))?;
        Ok(answer(&result, rejected, dry_run))
    }
    .await;
    result.unwrap_or_else(|e| Refusal::from(e).error_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_semicolon_file_with_a_bom_and_spreadsheet_headers_gives_its_rows_and_lines() {
        let body = "\u{feff}User Principal Name;Cost_Group_Code;Percent\r\n\
                    ann@contoso.ch;SALES;60\r\n\
                    ;;\r\n\
                    ann@contoso.ch;FIN;40,5\r\n";
        let table = Table::read(body.as_bytes()).unwrap();
        let rows = override_rows(&table).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].user, UserRef::Upn("ann@contoso.ch".into()));
        assert_eq!(rows[1].group, GroupRef::Code("FIN".into()));
        assert_eq!(rows[1].percent, "40,5");
    }

    #[test]
    fn a_file_without_the_needed_columns_or_rows_is_refused_naming_them() {
        let table = Table::read(b"email,group\nann@contoso.ch,S\n").unwrap();
        let err = override_rows(&table).unwrap_err();
        assert!(
            err.message().contains("userid or userprincipalname"),
            "{}",
            err.message()
        );
        let err = Table::read(b"code,name\n").err().unwrap();
        assert!(err.message().contains("no rows"), "{}", err.message());
    }
}
