//! The principal of an HTTP request from its `Authorization` header, or the 401/403 response
//! that refuses it. Shared by `/graphql` and the CSV exports.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use crate::auth::{AuthError, Authenticator};
use crate::domain::{Action, Principal};

/// The response refusing a request that failed authentication: HTTP 401 with a GraphQL error
/// `UNAUTHENTICATED` naming the failed check (never the token).
pub fn unauthenticated(error: &AuthError) -> HttpResponse {
    HttpResponse::build(StatusCode::UNAUTHORIZED)
        .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "errors": [{
            "message": format!("authentication failed: {error}"),
            "extensions": { "code": "UNAUTHENTICATED" }
        }] }))
}

/// The response refusing an authenticated caller without any role: HTTP 403, `FORBIDDEN`.
pub fn without_role() -> HttpResponse {
    HttpResponse::build(StatusCode::FORBIDDEN).json(json!({ "errors": [{
        "message": "the token grants none of the roles reader, allocator, importer, partner_admin",
        "extensions": { "code": "FORBIDDEN" }
    }] }))
}

/// The caller of `req`, allowed to read; or the response refusing it.
pub async fn reader(req: &HttpRequest, auth: &Authenticator) -> Result<Principal, HttpResponse> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    let principal = auth
        .authenticate(header)
        .await
        .map_err(|e| unauthenticated(&e))?;
    if !principal.may(Action::Read) {
        return Err(without_role());
    }
    Ok(principal)
}
