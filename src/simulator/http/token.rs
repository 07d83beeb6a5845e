//! Entra's token endpoint: refresh-token redemption for Graph and Partner Center tokens, and
//! the AADSTS errors of the token faults (reference §1).

use std::collections::HashMap;
use std::time::Instant;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::{self, Bytes};
use serde_json::json;
use uuid::Uuid;

use super::{Data, pause};
use crate::simulator::faults::Fault;
use crate::simulator::{AccessGrant, Resource, lock};

const GRAPH_SCOPE_PREFIX: &str = "https://graph.microsoft.com/";
const GRAPH_GRANTED_SCOPE: &str = "https://graph.microsoft.com/LicenseAssignment.Read.All https://graph.microsoft.com/Organization.Read.All https://graph.microsoft.com/User.Read.All";
/// The granted Graph scopes under the `directory-subscriptions-refused` fault.
const GRAPH_GRANTED_SCOPE_WITHOUT_ORGANIZATION: &str = "https://graph.microsoft.com/LicenseAssignment.Read.All https://graph.microsoft.com/User.Read.All";
const PC_SCOPES: &[&str] = &[
    "https://api.partnercenter.microsoft.com/user_impersonation",
    "https://api.partnercenter.microsoft.com/.default",
];

fn now_stamp() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// An AADSTS error body (reference §1.5).
fn aad_error(
    status: StatusCode,
    error: &str,
    code: u32,
    text: &str,
    suberror: Option<&str>,
    claims: Option<String>,
) -> HttpResponse {
    let trace_id = Uuid::new_v4();
    let correlation_id = Uuid::new_v4();
    let timestamp = now_stamp();
    let mut body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {text} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    if let Some(suberror) = suberror {
        body["suberror"] = json!(suberror);
    }
    if let Some(claims) = claims {
        body["claims"] = json!(claims);
    }
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "application/json; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store, no-cache"))
        .body(body.to_string())
}

fn token_fault_response(fault: &Fault, tenant: Uuid, client_id: &str) -> HttpResponse {
    let bad = StatusCode::BAD_REQUEST;
    match fault {
        Fault::ConditionalAccess => {
            let policy = Uuid::from_u128(tenant.as_u128() ^ 0x5300_3000);
            let claims =
                json!({"access_token": {"capolids": {"essential": true, "values": [policy]}}});
            aad_error(
                bad,
                "invalid_grant",
                53003,
                "Token issuance was refused because a Conditional Access policy blocks this sign-in.",
                Some("message_only"),
                Some(claims.to_string()),
            )
        }
        Fault::MfaRequired => aad_error(
            bad,
            "interaction_required",
            50076,
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access this resource.",
            None,
            None,
        ),
        Fault::RefreshTokenExpired => aad_error(
            bad,
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity. The token was issued on 2024-11-20T08:00:00Z and was inactive for 90.00:00:00.",
            Some("bad_token"),
            None,
        ),
        Fault::ConsentMissing => aad_error(
            bad,
            "invalid_grant",
            65001,
            &format!(
                "The user or administrator has not consented to use the application with ID '{client_id}'. Send an interactive authorization request for this user and resource."
            ),
            Some("consent_required"),
            None,
        ),
        Fault::ServiceAccount { code } => {
            let (error, text) = match code {
                50055 => ("invalid_grant", "The password is expired."),
                50057 => (
                    "invalid_grant",
                    "The user account is disabled. The account has been disabled by an administrator.",
                ),
                50053 => (
                    "invalid_grant",
                    "Your account is locked because you've tried to sign in too many times with an incorrect user ID or password.",
                ),
                _ => (
                    "interaction_required",
                    "Delegated admin access is blocked because the partner user's sign-in was flagged as risky in the home tenant.",
                ),
            };
            aad_error(bad, error, *code, text, None, None)
        }
        _ => tenant_not_found(&tenant.to_string()),
    }
}

/// A transient sign-in failure (the `sign-in-transient` fault): worth retrying.
fn transient_sign_in(code: u32) -> HttpResponse {
    let error = if code == 50033 {
        "invalid_grant"
    } else {
        "temporarily_unavailable"
    };
    aad_error(
        StatusCode::BAD_REQUEST,
        error,
        code,
        "A transient error has occurred. Please try again.",
        None,
        None,
    )
}

fn tenant_not_found(tenant: &str) -> HttpResponse {
    aad_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
        None,
        None,
    )
}

/// `POST /{tenant}/oauth2/v2.0/token`: refresh-token redemption (reference §1.2–1.5).
pub(super) async fn token(state: Data, path: web::Path<String>, body: Bytes) -> HttpResponse {
    pause(state.config.latency).await;
    let tenant_text = path.into_inner();
    let tenant = Uuid::parse_str(&tenant_text).ok();
    state.count(tenant, |c| c.token_requests += 1);
    let Some(tenant) =
        tenant.filter(|t| *t == state.config.partner_tenant_id || state.customers.contains(t))
    else {
        return tenant_not_found(&tenant_text);
    };
    let (latency, fault, transient, organization_refused) = {
        let mut faults = lock(&state.faults);
        (
            faults.latency(tenant, &state.customers),
            faults.token_fault(tenant, &state.customers),
            faults.take_sign_in_transient(tenant, &state.customers),
            faults.has(tenant, &state.customers, |f| {
                matches!(f, Fault::DirectorySubscriptionsRefused)
            }),
        )
    };
    pause(latency).await;
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "refresh_token" {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type: only refresh_token is simulated.",
            None,
            None,
        );
    }
    if field("client_id") != state.config.client_id
        || field("client_secret") != state.config.client_secret
    {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                field("client_id")
            ),
            None,
            None,
        );
    }
    if let Some(code) = transient {
        state.count(Some(tenant), |c| c.faults_injected += 1);
        return transient_sign_in(code);
    }
    if let Some(fault) = fault {
        state.count(Some(tenant), |c| c.faults_injected += 1);
        return token_fault_response(&fault, tenant, &state.config.client_id);
    }
    if !lock(&state.tokens).refresh.contains(field("refresh_token")) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            None,
            None,
        );
    }
    let scopes: Vec<&str> = field("scope")
        .split_whitespace()
        .filter(|s| !matches!(*s, "offline_access" | "openid" | "profile" | "email"))
        .collect();
    let graph = scopes.iter().any(|s| s.starts_with(GRAPH_SCOPE_PREFIX));
    let pc = scopes.iter().any(|s| PC_SCOPES.contains(s));
    let unknown = scopes
        .iter()
        .any(|s| !s.starts_with(GRAPH_SCOPE_PREFIX) && !PC_SCOPES.contains(s));
    let resource = match (graph, pc, unknown) {
        (true, false, false) => Resource::Graph,
        (false, true, false) => Resource::PartnerCenter,
        _ => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                70011,
                &format!(
                    "The provided request must include a 'scope' input parameter naming exactly one resource. The provided value for the input parameter 'scope' is not valid: '{}'.",
                    field("scope")
                ),
                None,
                None,
            );
        }
    };
    let is_partner = tenant == state.config.partner_tenant_id;
    match resource {
        Resource::Graph if !state.customers.contains(&tenant) => {
            return tenant_not_found(&tenant_text);
        }
        Resource::PartnerCenter if !is_partner => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                70011,
                "Partner Center tokens are issued only by the partner tenant.",
                None,
                None,
            );
        }
        _ => {}
    }
    let access_token = format!(
        "sim-at-{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    );
    let refresh_token = format!("sim-rt-{}", Uuid::new_v4().simple());
    let lifetime = state.config.access_token_lifetime;
    {
        let mut tokens = lock(&state.tokens);
        let now = Instant::now();
        // Forget long-expired access tokens so a long benchmark doesn't grow the map forever.
        if tokens.access.len() > 10_000 {
            tokens.access.retain(|_, grant| grant.expires > now);
        }
        tokens.access.insert(
            access_token.clone(),
            AccessGrant {
                tenant,
                resource,
                expires: now + lifetime,
            },
        );
        tokens.refresh.insert(refresh_token.clone());
    }
    state.count(Some(tenant), |c| c.tokens_issued += 1);
    let scope = match resource {
        Resource::Graph if organization_refused => GRAPH_GRANTED_SCOPE_WITHOUT_ORGANIZATION,
        Resource::Graph => GRAPH_GRANTED_SCOPE,
        Resource::PartnerCenter => PC_SCOPES[0],
    };
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store, no-cache"))
        .body(
            json!({
                "token_type": "Bearer",
                "scope": scope,
                "expires_in": lifetime.as_secs(),
                "ext_expires_in": lifetime.as_secs(),
                "access_token": access_token,
                "refresh_token": refresh_token,
            })
            .to_string(),
        )
}
