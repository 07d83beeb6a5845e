//! The principal of an HTTP request from its `Authorization` header, or the 401/403/429
//! response that refuses it. Shared by `/graphql` and the CSV exports.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::forwarded::client_address;
use crate::auth::{AuthError, Authenticator};
use crate::domain::{Action, Principal};
use crate::rate_limit::{Caller, Limited, RateLimiter};

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

/// The response refusing a caller whose bucket is empty: HTTP 429 with `Retry-After`, and a
/// GraphQL error `RATE_LIMITED` carrying the same wait in `extensions.retryAfter` (seconds).
pub fn too_many_requests(limited: &Limited) -> HttpResponse {
    let secs = limited.retry_after_secs();
    HttpResponse::build(StatusCode::TOO_MANY_REQUESTS)
        .insert_header((header::RETRY_AFTER, secs.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "errors": [{
            "message": limited.message(),
            "extensions": { "code": "RATE_LIMITED", "retryAfter": secs }
        }] }))
}

/// The caller of `req`, allowed to read and within its rate limit; or the response refusing
/// it. A request without a valid token is counted against its client address.
pub async fn reader(
    req: &HttpRequest,
    auth: &Authenticator,
    limits: &RateLimiter,
) -> Result<Principal, HttpResponse> {
    let address = client_address(req);
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    let principal = match auth.authenticate(header).await {
        Ok(principal) => principal,
        Err(error) => {
            limits
                .check_unauthenticated(address)
                .map_err(|l| too_many_requests(&l))?;
            return Err(unauthenticated(&error));
        }
    };
    limits
        .check(&Caller::of(&principal, address))
        .map_err(|l| too_many_requests(&l))?;
    if !principal.may(Action::Read) {
        return Err(without_role());
    }
    Ok(principal)
}
